"""Regenerate the bundled example survey: ``python -m lcsem.datasets.make_lc_survey [path]``."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

SEED = 2026
N = 400
N_MISSING = 14


def make_lc_survey() -> pd.DataFrame:
    """Build the example survey deterministically from :func:`lcsem.lc_model`."""
    from .. import lc_model, simulate

    root = np.random.SeedSequence(SEED)
    items_seed, meta_seed = root.spawn(2)
    items = simulate(lc_model(), N, seed=np.random.default_rng(items_seed), likert=7)
    rng = np.random.default_rng(meta_seed)
    sector = np.where(rng.random(N) < 0.45, "public", "private")
    org_size = np.round(np.exp(rng.normal(5.0, 1.2, N))).astype(int) + 5
    # a few skipped questions: one item missing in N_MISSING rows
    rows = rng.choice(N, size=N_MISSING, replace=False)
    cols = rng.integers(0, items.shape[1], size=N_MISSING)
    values = items.to_numpy(copy=True)
    values[rows, cols] = np.nan
    items = pd.DataFrame(values, columns=items.columns).astype("Int64")
    meta = pd.DataFrame({"respondent": np.arange(1, N + 1), "sector": sector, "org_size": org_size})
    return pd.concat([meta, items], axis=1)


def main(argv: list[str] | None = None) -> None:
    from . import path_of

    argv = sys.argv[1:] if argv is None else argv
    target = argv[0] if argv else path_of("lc_survey")
    make_lc_survey().to_csv(target, index=False)


if __name__ == "__main__":
    main()
