"""Issue 14: resamples drawn per chunk from the seed (the same numbers as drawing them all
up front), memory bounded by the chunk, indices kept only on request."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.resampling.draws import TILE, CaseDraws, ResampleIndices
from lcsem.resampling.resample import case_moments

TWO_FACTOR = "f =~ y1 + y2 + y3\ng =~ y4 + y5 + y6"


def _old_group_resample_indices(root, n_resamples, positions):
    """lcsem's drawing before issue 14 (every replicate up front, block after block),
    copied verbatim as the reference."""
    sizes = [int(pos.size) for pos in positions]
    N = int(sum(sizes))
    out = np.empty((n_resamples, N), dtype=np.int64 if N > 2**31 - 1 else np.int32)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for b, start in enumerate(range(0, n_resamples, 100)):
        count = min(100, n_resamples - start)
        for g, pos in enumerate(positions):
            key = (b,) if len(positions) == 1 else (b, g)
            rng = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + key))
            draws = rng.integers(0, sizes[g], size=(count, sizes[g]))
            out[start:start + count, offsets[g]:offsets[g + 1]] = np.asarray(pos)[draws]
    return out


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lcsem.BootstrapFailureWarning)
        return lcsem.bootstrap(*args, progress=False, **kwargs)


def _two_factor_data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((n, 2)) @ np.array([[1.0, 0.4], [0.0, 0.9]])
    load = np.array([[0.8, 0], [0.7, 0], [0.6, 0], [0, 0.8], [0, 0.7], [0, 0.6]])
    y = f @ load.T + 0.6 * rng.standard_normal((n, 6))
    return pd.DataFrame(y, columns=[f"y{i}" for i in range(1, 7)])


@pytest.mark.parametrize("positions", [
    (np.arange(40),),
    (np.arange(7, 30), np.array([0, 3, 5, 31, 33]), np.arange(40, 52)),
])
@pytest.mark.parametrize("root", [np.random.SeedSequence(11), np.random.SeedSequence(4, spawn_key=(2, 1))])
def test_draws_per_chunk_are_the_old_up_front_draws(positions, root):
    old = _old_group_resample_indices(root, 230, positions)
    draws = CaseDraws(root.entropy, root.spawn_key, positions)
    # chunks cutting tiles and blocks anywhere, and a chunk with holes (a resumed checkpoint)
    for chunk in (np.arange(0, 37), np.arange(37, 130), np.arange(130, 230), np.array([3, 99, 100, 101, 226]),
                  np.array([229]), np.array([76])):
        np.testing.assert_array_equal(draws.rows(chunk), old[chunk])
    np.testing.assert_array_equal(draws.rows(np.arange(230)), old)


def test_moments_are_those_of_the_drawn_rows_and_do_not_depend_on_the_chunk():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 4)) @ rng.standard_normal((4, 4))
    positions = (np.arange(0, 500, 2), np.arange(1, 500, 2))
    groups = [X[pos] - X[pos].mean(axis=0) for pos in positions]
    draws = CaseDraws(8, (), positions)
    reps = np.arange(0, 260)
    means, covs = case_moments(groups, draws, reps)
    rows = draws.rows(reps)
    for r in (0, 24, 25, 131, 259):
        for g, pos in enumerate(positions):
            local = rows[r, g * 250:(g + 1) * 250] // 2          # rows of group g, within the group
            np.testing.assert_allclose(covs[r, g], np.cov(groups[g][local].T, bias=True), rtol=0, atol=1e-12)
            np.testing.assert_allclose(means[r, g], groups[g][local].mean(axis=0), rtol=0, atol=1e-14)
    # bit-identical whatever the replicates computed together
    for chunk in (np.arange(13, 58), np.array([0, 26, 100, 201, 259]), np.arange(99, 126)):
        m2, c2 = case_moments(groups, draws, chunk)
        np.testing.assert_array_equal(m2, means[chunk])
        np.testing.assert_array_equal(c2, covs[chunk])


@pytest.fixture(scope="module")
def two_factor():
    return lcsem.fit(TWO_FACTOR, _two_factor_data(300, seed=1))


def test_indices_are_kept_only_on_request_and_drawn_again_otherwise(two_factor):
    lazy = _quiet(two_factor, 130, seed=21)
    kept = _quiet(two_factor, 130, seed=21, keep_indices=True)
    pd.testing.assert_frame_equal(lazy.distribution, kept.distribution)
    assert isinstance(lazy.indices, ResampleIndices) and isinstance(kept.indices, np.ndarray)
    assert lazy.indices.shape == kept.indices.shape == (130, 300)
    np.testing.assert_array_equal(np.asarray(lazy.indices), kept.indices)
    np.testing.assert_array_equal(lazy.indices[57], kept.indices[57])
    np.testing.assert_array_equal(lazy.indices[-1], kept.indices[-1])
    np.testing.assert_array_equal(lazy.indices[10:12, :5], kept.indices[10:12, :5])
    np.testing.assert_array_equal(lazy.indices[[120, 3, 3, -2]], kept.indices[[120, 3, 3, -2]])
    root = np.random.SeedSequence(21)
    np.testing.assert_array_equal(kept.indices, _old_group_resample_indices(root, 130, (np.arange(300),)))
    with pytest.raises(IndexError):
        lazy.indices[130]
    # a pickled or JSON-stored result draws the same indices again
    again = pickle.loads(pickle.dumps(lazy))
    np.testing.assert_array_equal(np.asarray(again.indices), kept.indices)
    back = lcsem.BootstrapResult.from_dict(lazy.to_dict(include_jackknife=False))
    np.testing.assert_array_equal(np.asarray(back.indices), kept.indices)
    with pytest.raises(lcsem.ArgumentError, match="keep_indices"):
        _quiet(two_factor, 10, keep_indices="yes")


def test_same_numbers_whatever_batch_size_workers_or_backend(two_factor):
    import joblib

    ref = _quiet(two_factor, 160, seed=5, batch_size=200)
    for kwargs in ({"batch_size": 7}, {"batch_size": 60}, {"n_jobs": 2, "batch_size": 33}):
        pd.testing.assert_frame_equal(_quiet(two_factor, 160, seed=5, **kwargs).distribution, ref.distribution)
    with joblib.parallel_backend("threading"):
        pd.testing.assert_frame_equal(_quiet(two_factor, 160, seed=5, n_jobs=2, batch_size=45).distribution,
                                      ref.distribution)
    # the first replicates of a longer run are those of a shorter one
    longer = _quiet(two_factor, 260, seed=5, batch_size=90)
    pd.testing.assert_frame_equal(longer.distribution.iloc[:160], ref.distribution)


def test_grouped_numbers_do_not_depend_on_batch_size():
    data = _two_factor_data(400, seed=4)
    data["grp"] = np.where(np.arange(400) % 3 == 0, "a", "b")
    res = lcsem.fit(TWO_FACTOR, data, group="grp")
    a = _quiet(res, 120, seed=3, batch_size=120)
    b = _quiet(res, 120, seed=3, batch_size=13)
    pd.testing.assert_frame_equal(a.distribution, b.distribution)
    stored = res.data["grp"].astype(str).to_numpy()
    positions = tuple(np.flatnonzero(stored == label) for label in res.group_labels)
    np.testing.assert_array_equal(np.asarray(a.indices),
                                  _old_group_resample_indices(np.random.SeedSequence(3), 120, positions))


def _peak_bytes(res, n_resamples: int) -> int:
    tracemalloc.start()
    try:
        _quiet(res, n_resamples, seed=2, batch_size=100)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_the_chunk_not_by_replicates_times_n():
    """At N = 50,000, 800 replicates peak at about the memory of 200: each more replicate
    costs far less than keeping its draws would (N int32 = 200 kB), and the whole run
    stays well below 800 replicates' draws (160 MB)."""
    n = 50_000
    res = lcsem.fit(TWO_FACTOR, _two_factor_data(n, seed=2))
    small = _peak_bytes(res, 200)
    large = _peak_bytes(res, 800)
    assert (large - small) / 600 < 0.05 * n * 4, (small, large)
    assert large < 0.35 * 800 * n * 4, (small, large)
    assert TILE * n * 8 < small          # a tile's counts are there: the measure sees arrays


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's dynamic mmap threshold")
def test_warm_dynamic_threshold_stops_page_faults_of_repeated_temporaries():
    # 300 allocations of 2 MB temporaries (the grouped engine's (batch, E, E) arrays):
    # without the warm-up each is a fresh zero-filled mapping; after it they reuse the heap
    code = textwrap.dedent("""
        import resource, numpy as np
        from lcsem.resampling.allocator import warm_dynamic_threshold
        import sys
        if sys.argv[1] == "warm":
            warm_dynamic_threshold()
        a = np.ones((50, 70, 70))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(300):
            b = a * 2.0
            c = b @ a
            del b, c
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """)
    faults = {}
    # glibc's own thresholds (a dask cluster started by another test leaves MALLOC_* behind)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    for mode in ("cold", "warm"):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True,
                             env=dict(env, PYTHONPATH=str(Path(__file__).resolve().parent.parent),
                                      OPENBLAS_NUM_THREADS="1"))
        faults[mode] = int(out.stdout.split()[-1])
    assert faults["warm"] * 10 < faults["cold"], faults
