"""Bootstrap speed: lcsem vs a semopy refit-per-replicate loop (and lavaan when present).

Run from the repository root::

    /work/venv/bin/python benchmarks/bootstrap.py            # about a minute
    /work/venv/bin/python benchmarks/bootstrap.py --full     # semopy on all 1,000 resamples
    /work/venv/bin/python benchmarks/bootstrap.py --fragile  # only the fragile-model table

Every comparison uses the same resamples (lcsem's ``result.indices``). lcsem times are
the median of repeated runs with default settings after one warm-up run (imports, first
BLAS calls). The semopy loop (``semopy.Model(text).fit(resample)`` then
``semopy.calc_stats`` for the fit indices and ``inspect()`` for the parameters) runs with
BLAS capped at one thread, its fastest setting on this machine; by default it is timed on
the first 100 resamples and reported per 1,000 (``--full`` times all of them). lavaan's
``bootstrapLavaan(fit, R, FUN = fitMeasures)`` is timed with Rscript when lavaan is
installed (``--no-lavaan`` skips it).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

import lcsem
from lcsem.engine.semopy_backend import semopy_names, semopy_syntax
from lcsem.exceptions import BootstrapFailureWarning
from _models import HS_MODEL

LAVAAN_INDICES = ["chisq", "pvalue", "cfi", "tli", "nfi", "rmsea", "srmr", "gfi", "agfi", "logl", "aic", "bic"]


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def timed(fn, repeat: int = 3) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeat`` calls (after the caller's warm-up)."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def boot(res, n, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        return lcsem.bootstrap(res, n, progress=False, **kw)


def semopy_loop(text: str, data: pd.DataFrame, indices: np.ndarray) -> float:
    """Seconds per replicate of a plain semopy refit loop (fit + fit indices + parameters)."""
    import semopy

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        for idx in indices:
            m = semopy.Model(text)
            m.fit(data.iloc[idx])
            semopy.calc_stats(m)
            m.inspect()
        return (time.perf_counter() - t0) / len(indices)


def lavaan_seconds(model_text: str, data: pd.DataFrame, replicates: int) -> tuple[float, float] | None:
    """Wall and CPU seconds per replicate of lavaan's bootstrapLavaan(FUN = fitMeasures), or
    None (CPU: R's ``proc.time()`` user + system, comparable with lcsem's CPU seconds on a
    loaded machine)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        data.to_csv(csv, index=False)
        script = Path(tmp) / "boot.R"
        measures = ", ".join(f'"{m}"' for m in LAVAAN_INDICES)
        script.write_text(
            "suppressMessages(library(lavaan))\n"
            f"d <- read.csv('{csv}')\n"
            f"fit <- sem('{model_text.strip()}', data = d)\n"
            "t0 <- Sys.time(); p0 <- proc.time()\n"
            f"b <- bootstrapLavaan(fit, R = {replicates}, FUN = function(x) c(coef(x), fitMeasures(x, c({measures}))), iseed = 1)\n"
            "p1 <- proc.time() - p0\n"
            "cat(as.numeric(difftime(Sys.time(), t0, units = 'secs')), p1[['user.self']] + p1[['sys.self']])\n")
        try:
            out = subprocess.run([rscript, str(script)], capture_output=True, text=True, timeout=900,
                                 env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        except (OSError, subprocess.TimeoutExpired):
            return None
        if out.returncode != 0:
            return None
        wall, cpu = (float(x) for x in out.stdout.strip().split()[-2:])
        return wall / replicates, cpu / replicates


def compare(name: str, res, text_semopy: str, text_lavaan: str | None, args) -> dict:
    boot(res, 200, seed=0)                                   # warm-up
    wall, cpu, b = timed(lambda: boot(res, 1000, seed=1), repeat=args.repeat)
    n_sem = 1000 if args.full else args.semopy_n
    # semopy_syntax writes generated variable names: the data columns must carry them too
    data = res.data if text_semopy == HS_MODEL else res.data.rename(columns=semopy_names(res.model.rows))
    sem = semopy_loop(text_semopy, data, b.indices[:n_sem]) * 1000
    lav = lav_cpu = None
    if text_lavaan is not None and not args.no_lavaan:
        per = lavaan_seconds(text_lavaan, res.data, args.lavaan_n)
        if per is not None:
            lav, lav_cpu = per[0] * 1000, per[1] * 1000
    row = {"model": name, "N": res.n_obs, "free parameters": res.structure.k,
           "lcsem wall s": wall, "lcsem CPU s": cpu, f"semopy loop s (from {n_sem})": sem,
           "semopy / lcsem": sem / wall,
           f"lavaan s (from {args.lavaan_n})": lav, "lavaan / lcsem": None if lav is None else lav / wall,
           "lavaan CPU s": lav_cpu, "lavaan / lcsem (CPU)": None if lav_cpu is None else lav_cpu / cpu,
           "failed": b.n_failed, "inadmissible": b.n_inadmissible}
    return row


def scaling(res, args) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for n in (250, 500, 1000, 2000, 4000):
        wall, cpu, _ = timed(lambda: boot(res, n, seed=2), repeat=args.repeat)
        rows.append({"replicates": n, "wall s": wall, "CPU s": cpu, "wall s per 1,000": 1000 * wall / n})
    reps = pd.DataFrame(rows)
    rng = np.random.default_rng(0)
    Sigma = res.implied_cov.to_numpy()
    rows = []
    for N in (150, 301, 1000, 3000):
        data = pd.DataFrame(rng.multivariate_normal(np.zeros(len(Sigma)), Sigma, size=N), columns=res.implied_cov.columns)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = lcsem.fit(res.model, data)
        boot(r, 100, seed=0)
        wall, cpu, _ = timed(lambda: boot(r, 1000, seed=3), repeat=args.repeat)
        rows.append({"N": N, "wall s (1,000 replicates)": wall, "CPU s": cpu})
    return reps, pd.DataFrame(rows)


def extras(res, args) -> pd.DataFrame:
    rows = []
    boot(res, 100, kind="bollen-stine", seed=0)
    for kind in ("bollen-stine", "parametric"):
        wall, cpu, _ = timed(lambda: boot(res, 1000, kind=kind, seed=1), repeat=args.repeat)
        rows.append({"what": f"{kind}, 1,000 replicates", "wall s": wall, "CPU s": cpu})
    b = boot(res, 1000, seed=1)
    w0 = time.perf_counter()
    b.ci(method="bca")
    rows.append({"what": f"BCa intervals incl. jackknife (N = {res.n_obs} leave-one-out fits)",
                 "wall s": time.perf_counter() - w0, "CPU s": float("nan")})
    boot(res, 200, seed=0, n_jobs=2)                          # start the worker processes
    wall, cpu, _ = timed(lambda: boot(res, 4000, seed=1, n_jobs=2), repeat=args.repeat)
    rows.append({"what": "4,000 replicates, n_jobs=2 (warm loky workers)", "wall s": wall, "CPU s": cpu})
    wall, cpu, _ = timed(lambda: boot(res, 4000, seed=1), repeat=args.repeat)
    rows.append({"what": "4,000 replicates, n_jobs=1", "wall s": wall, "CPU s": cpu})
    return pd.DataFrame(rows)


FRAGILE_MODEL = "f1 =~ y1 + y2 + y3\nf2 =~ y4 + y5 + y6"


def fragile_data(n: int, loading: float, seed: int = 1) -> pd.DataFrame:
    """Two-factor CFA data (3 indicators each, factor correlation .5) whose first loading
    per factor is ``loading`` (standardised): .98 gives near-Heywood data."""
    rng = np.random.default_rng(seed)
    lam = np.array([[loading, 0.6, 0.5, 0, 0, 0], [0, 0, 0, loading - 0.01, 0.55, 0.45]]).T
    phi = np.array([[1.0, 0.5], [0.5, 1.0]])
    Sigma = lam @ phi @ lam.T
    Sigma += np.diag(1.0 - np.diag(Sigma))
    X = rng.multivariate_normal(np.zeros(6), Sigma, size=n)
    return pd.DataFrame(X, columns=[f"y{i}" for i in range(1, 7)])


def fragile(args, hs_cpu: float | None = None) -> pd.DataFrame:
    """A fragile model (N = 40, near-Heywood: many replicates are inadmissible or have no
    finite ML solution) against the same model on healthy data (N = 400, loadings .7)."""
    rows = []
    for label, n, loading in (("healthy: N = 400, loadings .7", 400, 0.7),
                              ("fragile: N = 40, loadings .98 (near-Heywood)", 40, 0.98),
                              ("fragile: N = 40, loadings .7", 40, 0.7)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = lcsem.fit(FRAGILE_MODEL, fragile_data(n, loading))
        boot(res, 50, seed=0)
        wall, cpu, b = timed(lambda: boot(res, 1000, seed=1), repeat=args.repeat)
        rows.append({"data": label, "wall s": wall, "CPU s": cpu, "failed": b.n_failed,
                     "inadmissible": b.n_inadmissible})
    out = pd.DataFrame(rows)
    out["CPU / healthy"] = out["CPU s"] / out["CPU s"].iloc[0]
    if hs_cpu:
        out["CPU / HS CFA"] = out["CPU s"] / hs_cpu
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="semopy on all 1,000 resamples")
    parser.add_argument("--semopy-n", type=int, default=100, help="resamples timed for semopy (default 100)")
    parser.add_argument("--lavaan-n", type=int, default=200, help="replicates timed for lavaan (default 200)")
    parser.add_argument("--no-lavaan", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip the scaling and extra tables")
    parser.add_argument("--fragile", action="store_true", help="only the fragile-model table (seconds)")
    args = parser.parse_args(argv)

    print(f"# lcsem bootstrap benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"machine: {machine()}; load average at start: {load()}")
    from lcsem.estimation.estimate import versions

    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    print()
    if args.fragile:
        print("## Fragile model: 1,000 nonparametric replicates of a two-factor CFA")
        print(fragile(args).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"load average at end: {load()}")
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hs = lcsem.fit(HS_MODEL, lcsem.datasets.load_holzinger_swineford())
        lc = lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())
    rows = [compare("Holzinger-Swineford CFA", hs, HS_MODEL, HS_MODEL, args),
            compare("canonical LC model", lc, semopy_syntax(lc.model.rows), lc.model.to_syntax(), args)]
    table = pd.DataFrame(rows).set_index("model")
    print("## 1,000 nonparametric replicates: all fit indices, parameters, std.all, defined")
    counts = {"N", "free parameters", "failed", "inadmissible"}
    shown = table.T.astype(object)
    for label in shown.index:
        shown.loc[label] = ["n/a" if v is None or v != v else f"{v:.0f}" if label in counts
                            else f"{v:.1f}x" if "/" in label else f"{v:.3f}" for v in table.T.loc[label]]
    print(shown.to_string())
    print()
    print("## Fragile model: 1,000 nonparametric replicates of a two-factor CFA")
    print(fragile(args, hs_cpu=table.loc["Holzinger-Swineford CFA", "lcsem CPU s"]).to_string(
        index=False, float_format=lambda x: f"{x:.3f}"))
    print()
    if not args.quick:
        reps, sizes = scaling(hs, args)
        print("## Cost vs replicates (Holzinger-Swineford CFA, N = 301)")
        print(reps.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print()
        print("## Cost vs sample size (HS CFA, normal data from its fitted covariance)")
        print(sizes.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print()
        print("## Other runs (Holzinger-Swineford CFA)")
        print(extras(hs, args).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print()
    print(f"load average at end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
