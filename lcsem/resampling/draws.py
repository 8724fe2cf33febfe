"""Case-resampling draws made where they are used: per chunk, from the seed, in tiles.

Every replicate's resampled rows come from the block seeds of
:mod:`lcsem.resampling.resample`: block ``b`` (replicates ``100 b .. 100 b + 99``) draws
group ``g``'s rows from ``SeedSequence(entropy, spawn_key=(b,))`` (one group) or
``(b, g)`` (several), ``n_g`` integers per replicate, replicate after replicate. numpy's
``Generator.integers`` fills its output one number after the other, so drawing a block's
replicates a few at a time gives exactly the numbers of drawing them all at once (the
draws of lcsem <= 0.1 before the per-chunk drawing, which drew every replicate up front).

:class:`CaseDraws` (picklable, a few numbers and the groups' row positions) therefore
lets a worker draw only the replicates of its chunk, a :data:`TILE` of replicates at a
time, so memory is bounded by the chunk whatever ``n_resamples`` and ``N``, and
:class:`ResampleIndices` gives ``BootstrapResult.indices`` without keeping them: any row
is drawn again from the seed when asked for.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .._random import as_seed_sequence

__all__ = ["BLOCK", "TILE", "CaseDraws", "ResampleIndices", "fit_positions", "indices_of"]

#: Replicates per seed block.
BLOCK = 100
#: Replicates drawn (and whose moments are computed) together; divides :data:`BLOCK`.
TILE = 25


def index_dtype(n: int) -> type:
    """The integer type of row positions among ``n`` rows."""
    return np.int64 if n > 2**31 - 1 else np.int32


class CaseDraws:
    """How every replicate of a case bootstrap resamples the rows, drawn on demand.

    Parameters
    ----------
    entropy, spawn_key
        The run's root ``SeedSequence``.
    positions
        ``positions[g]``: the rows (of the stored data) of group ``g``; one group: all rows.
    """

    def __init__(self, entropy, spawn_key: tuple, positions: tuple[np.ndarray, ...]):
        self.entropy = entropy
        self.spawn_key = tuple(int(k) for k in spawn_key)
        self.positions = tuple(np.asarray(pos, dtype=np.int64) for pos in positions)
        self.sizes = tuple(int(pos.size) for pos in self.positions)
        self.n_obs = int(sum(self.sizes))

    def _seed(self, block: int, group: int) -> np.random.SeedSequence:
        key = (block,) if len(self.sizes) == 1 else (block, group)
        return np.random.SeedSequence(self.entropy, spawn_key=self.spawn_key + key)

    def tiles(self, replicates: np.ndarray) -> Iterator[tuple[int, np.ndarray, list[np.ndarray]]]:
        """For each tile of :data:`TILE` replicates holding some of ``replicates``
        (ascending): ``(first, wanted, draws)`` -- the tile's first replicate number, the
        offsets of the wanted replicates in it, and per group the ``(k, n_g)`` draws
        (positions within the group) of the tile's first ``k`` replicates, ``k`` reaching
        the last wanted one. Replicates are drawn in order within their block; those
        before a chunk's first are drawn and dropped, a tile at a time."""
        replicates = np.asarray(replicates, dtype=np.int64)
        if replicates.size and np.any(np.diff(replicates) <= 0):
            raise ValueError("replicates must be ascending and distinct")
        tile_of = replicates // TILE
        block, rngs, next_row = -1, [], 0
        for t in np.unique(tile_of):
            wanted = replicates[tile_of == t] - t * TILE
            b, offset = divmod(int(t) * TILE, BLOCK)
            if b != block:
                block, next_row = b, 0
                rngs = [np.random.default_rng(self._seed(b, g)) for g in range(len(self.sizes))]
            while next_row < offset:                      # earlier replicates of the block
                k = min(TILE, offset - next_row)
                for rng, n_g in zip(rngs, self.sizes):
                    rng.integers(0, n_g, size=(k, n_g), dtype=index_dtype(n_g))
                next_row += k
            k = int(wanted[-1]) + 1
            draws = [rng.integers(0, n_g, size=(k, n_g), dtype=index_dtype(n_g))
                     for rng, n_g in zip(rngs, self.sizes)]
            next_row += k
            yield int(t) * TILE, wanted, draws

    def rows(self, replicates) -> np.ndarray:
        """Resampled row positions (of the stored data) of ``replicates``: an
        ``(len(replicates), N)`` array laid out group after group."""
        replicates = np.atleast_1d(np.asarray(replicates, dtype=np.int64))
        order = np.argsort(replicates, kind="stable")
        unique, inverse = np.unique(replicates[order], return_inverse=True)
        out = np.empty((unique.size, self.n_obs), dtype=index_dtype(self.n_obs))
        offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        done = 0
        for _, wanted, draws in self.tiles(unique):
            for g, (pos, d) in enumerate(zip(self.positions, draws)):
                out[done:done + wanted.size, offsets[g]:offsets[g + 1]] = pos[d[wanted]]
            done += wanted.size
        result = np.empty((replicates.size, self.n_obs), dtype=out.dtype)
        result[order] = out[np.ravel(inverse)]
        return result


class ResampleIndices:
    """``BootstrapResult.indices`` without keeping them: the ``(n_resamples, N)`` resampled
    row positions of a case bootstrap, drawn again from the seed when read.

    Reading one replicate (``indices[r]``) or a list of them (``indices[[3, 7]]``) draws
    only their blocks' replicates up to the last one read; any other selection (``indices[:, 10:20]``, ``np.asarray(indices)``) draws the whole
    array. ``lcsem.bootstrap(..., keep_indices=True)`` keeps the array itself instead.
    The numbers are those the run resampled (the same seed, blocks and groups).
    """

    def __init__(self, draws: CaseDraws, n_resamples: int):
        self.draws = draws
        self.n_resamples = int(n_resamples)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_resamples, self.draws.n_obs)

    @property
    def ndim(self) -> int:
        return 2

    @property
    def size(self) -> int:
        return self.n_resamples * self.draws.n_obs

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(index_dtype(self.draws.n_obs))

    def __len__(self) -> int:
        return self.n_resamples

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if copy is False:
            raise ValueError("ResampleIndices draws the indices anew when read: an array without a copy "
                             "does not exist; use np.asarray(indices)")
        out = self.draws.rows(np.arange(self.n_resamples))
        return out if dtype is None else out.astype(dtype)

    def __iter__(self):
        for r in range(self.n_resamples):
            yield self[r]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            r = int(key) + (self.n_resamples if key < 0 else 0)
            if not 0 <= r < self.n_resamples:
                raise IndexError(f"replicate {int(key)} is out of range for {self.n_resamples} replicates")
            return self.draws.rows([r])[0]
        if isinstance(key, (list, np.ndarray)) and np.asarray(key).dtype.kind in "iu" and np.ndim(key) == 1:
            rows = np.asarray(key, dtype=np.int64)
            rows = np.where(rows < 0, rows + self.n_resamples, rows)
            if rows.size and (rows.min() < 0 or rows.max() >= self.n_resamples):
                raise IndexError(f"replicates out of range for {self.n_resamples} replicates")
            return self.draws.rows(rows)                      # only these replicates' blocks
        return np.asarray(self)[key]

    def __eq__(self, other):
        """Another view: whether both describe the same draws (seed, groups, replicates);
        anything else: element by element, as an array."""
        if isinstance(other, ResampleIndices):
            a, b = self.draws, other.draws
            return (self.n_resamples == other.n_resamples and str(a.entropy) == str(b.entropy)
                    and a.spawn_key == b.spawn_key and len(a.positions) == len(b.positions)
                    and all(np.array_equal(x, y) for x, y in zip(a.positions, b.positions)))
        return np.asarray(self) == other

    __hash__ = None

    def __repr__(self) -> str:
        return (f"<lcsem ResampleIndices: {self.n_resamples} replicates x {self.draws.n_obs} rows, drawn "
                f"from the seed when read>")


def fit_positions(res) -> tuple[np.ndarray, ...]:
    """Each group's rows of a fit's stored data (``res.data``): one array per group label,
    or all rows for a single-group fit."""
    if res.group_labels:
        column = res.data[res.group].astype(str).to_numpy()
        return tuple(np.flatnonzero(column == label) for label in res.group_labels)
    return (np.arange(res.data.shape[0]),)


def indices_of(res, seed, n_resamples: int) -> ResampleIndices:
    """The resampled rows of a case bootstrap of ``res`` run with ``seed`` (a result's
    ``seed``: entropy or SeedSequence), as :class:`ResampleIndices`."""
    root = as_seed_sequence(seed)
    return ResampleIndices(CaseDraws(root.entropy, root.spawn_key, fit_positions(res)), n_resamples)
