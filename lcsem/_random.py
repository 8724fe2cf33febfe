"""One normalisation of ``seed=`` arguments for every random procedure in lcsem."""

from __future__ import annotations

import numbers

import numpy as np

from .exceptions import ArgumentError


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """Normalise ``seed`` (None, int, list of ints, Generator or SeedSequence) to a SeedSequence."""
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence([int(x) for x in seed.integers(0, 2**63 - 1, size=4)])
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    if (isinstance(seed, (list, tuple)) and seed
            and all(isinstance(x, numbers.Integral) and not isinstance(x, bool) and x >= 0 for x in seed)):
        return np.random.SeedSequence([int(x) for x in seed])   # entropy, as in result.seed
    raise ArgumentError(f"seed: expected None, a non-negative int (or a list of them), a numpy Generator "
                        f"or a SeedSequence, got {seed!r}; pass e.g. seed=42")
