"""Warnings are recorded per call, also when many threads fit at once."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import lcsem
from lcsem._warnings import quiet, recording, warn
from lcsem.exceptions import OrdinalDataWarning

HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


def _ordinal_copy(data):
    out = data.copy()
    for c in ("x1", "x2", "x3"):
        out[c] = np.digitize(out[c], np.quantile(out[c], [0.25, 0.5, 0.75])) + 1
    return out


def test_result_warnings_are_per_call_under_threads():
    hs = lcsem.datasets.load_holzinger_swineford()
    ordinal = _ordinal_copy(hs)
    jobs = [ordinal if i % 2 else hs for i in range(16)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda d: lcsem.fit(HS_MODEL, d, use_semopy=False), jobs))
    for i, res in enumerate(results):
        ordinal_warned = any("integer categories" in w for w in res.warnings)
        assert ordinal_warned == bool(i % 2), (i, res.warnings)


def test_nested_recorders_and_quiet_blocks():
    with warnings.catch_warnings(record=True) as issued:
        warnings.simplefilter("always")
        with recording() as outer:
            with quiet() as inner:
                warn("inner", OrdinalDataWarning)
            warn("outer", OrdinalDataWarning)
    assert [w.message for w in inner] == ["inner"]
    assert [w.message for w in outer] == ["inner", "outer"]
    assert [str(w.message) for w in issued] == ["outer"]

