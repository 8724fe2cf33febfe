"""``import lcsem`` stays light: the heavy optional or slow-to-import packages are loaded
only when a function that needs them is called (time is measured in benchmarks/, not here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: modules that ``import lcsem`` must not import
HEAVY = ("scipy.stats", "scipy.optimize", "semopy", "matplotlib", "joblib", "tqdm", "dask", "sympy")


def _modules_after(code: str) -> set[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def after_import() -> set[str]:
    return _modules_after("import lcsem")


def test_import_uses_this_checkout(after_import: set[str]) -> None:
    code = "import lcsem, pathlib; print(pathlib.Path(lcsem.__file__).resolve().parent)"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         check=True)
    assert Path(out.stdout.strip()) == ROOT / "lcsem"


@pytest.mark.parametrize("module", HEAVY)
def test_import_lcsem_does_not_import(after_import: set[str], module: str) -> None:
    assert "lcsem" in after_import
    assert module not in after_import


def test_lazy_functions_load_scipy_on_first_use() -> None:
    mods = _modules_after("import lcsem._lazy as z\nz.wishart(5, [[1.0]])")
    assert "scipy.stats" in mods


def test_first_fit_and_bootstrap_do_not_import_scipy_stats() -> None:
    # p-values, RMSEA and its CI come from scipy.special (0.35 s CPU saved on the first fit)
    code = ("import lcsem\nd = lcsem.simulate('f =~ a + b + c + d', 200, seed=1)\n"
            "res = lcsem.fit('f =~ a + b + c + d', d)\nlcsem.bootstrap(res, 20, seed=1).ci()\n"
            "assert res.fit_indices['rmsea_ci_upper'] >= 0")
    mods = _modules_after(code)
    assert "scipy.stats" not in mods and "scipy.optimize" not in mods
