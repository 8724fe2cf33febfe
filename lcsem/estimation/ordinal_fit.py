"""``fit(..., ordered=...)``: least-squares SEM of ordinal (and mixed) data, as lavaan.

Two steps as lavaan's: per group the thresholds, polychoric/polyserial correlations and
their asymptotic covariance (``lcsem.data.ordinal``), then the model is fitted to them by
WLS, DWLS or ULS (:mod:`lcsem.engine.wls`) with robust standard errors and corrected tests
(:mod:`lcsem.inference.ordinal_tests`) and lavaan's fit measures
(:mod:`lcsem.inference.ordinal_indices`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .._warnings import warn
from ..engine.optimize import fisher_scoring
from ..engine.ordinal import OrdinalStructure
from ..engine.wls import WLSObjective, ordinal_starts, unpack_statistics
from ..exceptions import ConvergenceWarning, IdentificationWarning, NonAdmissibleWarning
from ..inference.ordinal_indices import catml_corrections, ordinal_fit_measures
from ..inference.ordinal_tests import (OrdinalPieces, independence_fit, ordinal_information, robust_vcov,
                                       scaled_test, standard_statistic, standard_vcov, ugamma_traces)
from ..inference.standardized import DefinedParameters, delta_se
from ..inference.wald import add_inference_columns
from ..results.fit_result import FitResult
from ..spec.model import Model
from ..spec.partable import ParRow
from .provenance import versions

#: estimator -> (weights, standard errors, test) as lavaan resolves them
ORDINAL_ESTIMATORS = {
    "WLSMV": ("DWLS", "robust.sem", "scaled.shifted"),
    "WLSM": ("DWLS", "robust.sem", "satorra.bentler"),
    "DWLS": ("DWLS", "standard", "standard"),
    "WLS": ("WLS", "standard", "standard"),
    "ULSMV": ("ULS", "robust.sem", "scaled.shifted"),
    "ULSM": ("ULS", "robust.sem", "satorra.bentler"),
    "ULS": ("ULS", "standard", "standard"),
}


@dataclass(frozen=True)
class OrdinalSolution:
    """The fitted ordinal model before it becomes a :class:`FitResult`."""

    struct: OrdinalStructure
    theta: np.ndarray
    vcov: np.ndarray
    fit_indices: dict[str, float]
    converged: bool
    iterations: int


def _weights(stats: Any, kind: str) -> np.ndarray:
    if kind == "DWLS":
        return np.asarray(stats.wls_v_diag, float)
    if kind == "ULS":
        return np.ones(len(stats.wls_obs))
    return np.linalg.inv(np.asarray(stats.gamma, float))


def solve_ordinal(rows: Sequence[ParRow], stats: Sequence[Any], observed: Sequence[str], latent: Sequence[str],
                  ordered: Sequence[str], estimator: str = "WLSMV", parameterization: str = "delta"
                  ) -> OrdinalSolution:
    """Fit the ordinal table ``rows`` to per-group sample statistics ``stats`` (objects with
    ``n wls_obs gamma wls_v_diag cov``, lavaan's order) and compute SEs and fit measures."""
    kind, se_kind, test_kind = ORDINAL_ESTIMATORS[estimator]
    struct = OrdinalStructure(rows, observed, latent, ordered, n_groups=len(stats),
                              parameterization=parameterization)
    s = [np.asarray(st.wls_obs, float) for st in stats]
    n = np.asarray([st.n for st in stats], float)
    W = [_weights(st, kind) for st in stats]
    objective = WLSObjective(struct, s, W, n)
    start = ordinal_starts(struct, s, n)
    sol = fisher_scoring(objective, start[None])
    theta = sol.theta[0]
    converged = bool(sol.converged[0])
    if not converged:
        warn(f"the {estimator} estimation did not converge in {int(sol.iterations[0])} iterations (largest "
             f"gradient {sol.max_gradient[0]:.2g}); estimates and fit are unreliable", ConvergenceWarning,
             stacklevel=4)
    Delta = tuple(struct.jacobian(theta, g) for g in range(len(stats)))
    gamma = tuple(np.asarray(st.gamma, float) for st in stats) if stats[0].gamma is not None else None
    pieces = OrdinalPieces(Delta, tuple(W), gamma, n)
    vcov = robust_vcov(pieces) if se_kind == "robust.sem" else standard_vcov(pieces)
    if not (np.isfinite(vcov).all() and (np.diag(vcov) > 0).all()):
        warn("the information matrix cannot be inverted: the model is probably not identified; standard "
             "errors are NaN", IdentificationWarning, stacklevel=4)
        vcov = np.full((struct.k, struct.k), np.nan)
    residuals = [si - struct.implied(theta, g) for g, si in enumerate(s)]
    chisq, _ = standard_statistic(residuals, W, n)
    n_stats = struct.n_stats * len(stats)
    df = n_stats - struct.k
    n_free0 = struct.n_th + struct.n_var
    chisq0, Delta0 = independence_fit(s, W, n, n_free0)
    df0 = n_stats - n_free0 * len(stats)
    scaled = scaled0 = catml = None
    if test_kind != "standard":
        tr, tr2 = ugamma_traces(pieces)
        scaled = scaled_test(chisq, df, tr, tr2, test_kind)
        tr0, tr20 = ugamma_traces(OrdinalPieces(Delta0, tuple(W), gamma, n))
        scaled0 = scaled_test(chisq0, df0, tr0, tr20, test_kind)
        if struct.is_ordinal.all() and not _thresholds_constrained(struct):
            catml = _catml(struct, theta, stats, pieces, df, df0)
    fi = ordinal_fit_measures(chisq=chisq, df=df, chisq0=chisq0, df0=df0, n_total=n.sum(), n_groups=len(stats),
                              n_params=_n_params(rows), n_stats=n_stats, scaled=scaled, scaled0=scaled0,
                              kind=test_kind, catml=catml, residuals=_residual_indices(struct, theta, stats, n),
                              gfi=_gfi(s, residuals, W, n), unweighted=kind == "ULS")
    return OrdinalSolution(struct, theta, vcov, fi, converged, int(sol.iterations[0]))


def _thresholds_constrained(struct: OrdinalStructure) -> bool:
    """Whether a threshold or intercept parameter is shared by several rows (an equality
    constraint). lavaan 0.6.14 drops the ``|`` and ``~1`` rows to build its catML model, so
    the constraints on them fail and it reports the robust indices as NA: so do we."""
    uses: dict[int, int] = {}
    for r in struct.rows:
        if r.free:
            uses[r.free] = uses.get(r.free, 0) + 1
    return any(uses[r.free] > 1 for r in struct.rows if r.free and r.op in ("|", "~1"))


def _n_params(rows: Sequence[ParRow]) -> int:
    """lavaan's ``npar``: free parameters, equal ones counted once (lcsem shares numbers)."""
    return len({r.free for r in rows if r.free and r.op not in (":=", "==")})


def _catml(struct, theta, stats, pieces, df, df0) -> dict[str, float] | None:
    S = [np.asarray(st.cov, float) for st in stats]
    for Sg in S:
        if np.linalg.eigvalsh(Sg)[0] < np.sqrt(np.finfo(float).eps):
            return None          # lavaan: no robust indices when a polychoric matrix is not PD
    P = [struct.implied_matrices(theta, g)["cov"] for g in range(len(stats))]
    try:
        E_inv = np.linalg.inv(ordinal_information(pieces))
    except np.linalg.LinAlgError:
        return None
    p = struct.p
    n_cor = len(stats) * p * (p - 1) // 2
    k_cat = len({r.free for r in struct.rows if r.free and r.op not in ("|", "~1")})
    return catml_corrections(S, P, pieces.n, pieces.Delta, pieces.W, pieces.Gamma, E_inv, struct.n_th,
                             n_cor - k_cat, n_cor)


def _residual_indices(struct: OrdinalStructure, theta: np.ndarray, stats, n) -> dict[str, float]:
    """lavaan's rmr/srmr/crmr for categorical data (group values weighted by N_g / N)."""
    f = np.asarray(n, float) / np.sum(n)
    acc: dict[str, float] = {k: 0.0 for k in ("rmr", "rmr_nomean", "srmr_bentler", "srmr_bentler_nomean",
                                                "crmr", "crmr_nomean")}
    p = struct.p
    for g, st in enumerate(stats):
        th_s, S = unpack_statistics(struct, np.asarray(st.wls_obs, float))
        imp = struct.implied(theta, g)
        th_m, Sig = unpack_statistics(struct, imp)
        sd = np.sqrt(np.diag(S))
        lay = struct.layouts[g]
        res = S - Sig
        iu = np.triu_indices(p)
        io = np.triu_indices(p, 1)
        th_res = th_s - th_m
        th_std = th_res / sd[lay.th_var]
        std = res / np.outer(sd, sd)
        parts = {
            "rmr": (np.sum(res[iu] ** 2) + np.sum(th_res ** 2), iu[0].size + th_res.size),
            "rmr_nomean": (np.sum(res[iu] ** 2), iu[0].size),
            "srmr_bentler": (np.sum(std[iu] ** 2) + np.sum(th_std ** 2), iu[0].size + th_res.size),
            "srmr_bentler_nomean": (np.sum(std[iu] ** 2), iu[0].size),
            "crmr": (np.sum(std[io] ** 2) + np.sum(th_std ** 2), io[0].size + th_res.size),
            "crmr_nomean": (np.sum(std[io] ** 2), io[0].size),
        }
        for key, (ss, count) in parts.items():
            acc[key] += f[g] * float(np.sqrt(ss / count))
    acc["srmr"] = acc["srmr_bentler_nomean"]
    order = ("rmr", "rmr_nomean", "srmr", "srmr_bentler", "srmr_bentler_nomean", "crmr", "crmr_nomean")
    return {k: acc[k] for k in order}


def _gfi(s, residuals, W, n) -> float:
    """lavaan's GFI of least-squares fits: ``1 - e'We / s'Ws`` per group, weighted by N_g / N."""
    f = np.asarray(n, float) / np.sum(n)
    out = 0.0
    for fg, sg, e, Wg in zip(f, s, residuals, W):
        quad = (lambda x: float(x @ (Wg * x))) if Wg.ndim == 1 else (lambda x: float(x @ Wg @ x))
        out += fg * (1 - quad(e) / quad(sg))
    return out
