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
from ..engine.ordinal import OrdinalStructure, derived_row
from ..engine.wls import WLSObjective, ordinal_starts, unpack_statistics
from ..exceptions import ConvergenceWarning, IdentificationWarning, NonAdmissibleWarning
from ..inference.ordinal_indices import catml_corrections, ordinal_fit_measures
from ..inference.ordinal_tests import (OrdinalPieces, independence_fit, ordinal_information, robust_vcov,
                                       scaled_test, standard_statistic, standard_vcov, ugamma_traces)
from ..inference.standardized import DefinedParameters, delta_se
from ..inference.wald import add_inference_columns
from ..results.fit_result import FitResult
from ..spec.model import Model
from ..spec.ordinal import ORDINAL_ESTIMATORS
from ..spec.partable import ParRow
from .provenance import versions


@dataclass(frozen=True)
class OrdinalSolution:
    """The fitted ordinal model before it becomes a :class:`FitResult`."""

    struct: OrdinalStructure
    theta: np.ndarray
    vcov: np.ndarray
    fit_indices: dict[str, float]
    converged: bool
    iterations: int
    unidentified: tuple[str, ...] = ()


def _weights(stats: Any, kind: str) -> np.ndarray:
    if kind == "DWLS":
        return np.asarray(stats.wls_v_diag, float)
    if kind == "ULS":
        return np.ones(len(stats.wls_obs))
    gamma = np.asarray(stats.gamma, float)
    if np.linalg.cond(gamma) > 1e12:
        from ..exceptions import EstimationError
        raise EstimationError("estimator: 'WLS' weights by the inverse of Gamma, the asymptotic covariance "
                              "of the thresholds and correlations, which is singular here (too few "
                              "respondents for the number of statistics); use estimator='WLSMV'")
    return np.linalg.inv(gamma)


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
    if struct.n_stats * len(stats) < struct.k:
        from ..exceptions import ModelSpecificationError
        raise ModelSpecificationError(
            f"the model has {struct.k} free parameters but only {struct.n_stats * len(stats)} thresholds and "
            f"correlations to fit (df = {struct.n_stats * len(stats) - struct.k}); it is not identified: fix "
            f"parameters or add indicators")
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
    unidentified = _unidentified(struct, ordinal_information(pieces))
    if unidentified or not (np.isfinite(vcov).all() and (np.diag(vcov) > 0).all()):
        unidentified = unidentified or tuple(_parameter_names(struct))
        warn(f"the information matrix is singular: the model is not identified (parameters involved: "
             f"{', '.join(unidentified[:8])}{', ...' if len(unidentified) > 8 else ''}); standard errors, z, "
             f"p and confidence intervals are NaN: fix parameters or add indicators", IdentificationWarning,
             stacklevel=4)
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
    return OrdinalSolution(struct, theta, vcov, fi, converged, int(sol.iterations[0]), unidentified)


def _parameter_names(struct: OrdinalStructure) -> list[str]:
    """One name per free parameter: its first row, ``lhs op rhs`` (with the group)."""
    names: dict[int, str] = {}
    for r in struct.rows:
        if r.free and r.free not in names:
            group = f" (group {r.group})" if struct.n_groups > 1 else ""
            names[r.free] = f"{r.lhs} {r.op} {r.rhs}".strip() + group
    return [names[f] for f in sorted(names)]


def _unidentified(struct: OrdinalStructure, E: np.ndarray) -> tuple[str, ...]:
    """The parameters in the null space of the information ``E`` (empty when it is
    positive definite to within 1e-10 relative)."""
    if not np.isfinite(E).all() or E.size == 0:
        return () if E.size == 0 else tuple(_parameter_names(struct))
    values, vectors = np.linalg.eigh(E)
    null = values <= 1e-10 * max(values[-1], np.finfo(float).tiny)
    if not null.any():
        return ()
    involved = np.flatnonzero(np.abs(vectors[:, null]).max(axis=1) > 1e-6)
    names = _parameter_names(struct)
    return tuple(names[i] for i in involved)


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
    """lavaan's rmr/srmr/crmr for categorical data (group values weighted by N_g / N): the
    residual correlations (``*_nomean``) and, for the plain names, also the residual
    thresholds of the ordered variables."""
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
        # the threshold part holds the ordered variables' thresholds only (lavaan: continuous
        # variables' means are not part of the "total")
        keep = lay.th_is_ordinal
        th_res = (th_s - th_m)[keep]
        th_std = th_res / sd[lay.th_var[keep]]
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


# ---------------------------------------------------------------------- fit(ordered=...)
def resolve_ordered(model: Model, ordered: object) -> tuple[str, ...]:
    """``ordered=`` checked: True (every observed indicator/outcome) or column names of the
    model; an exogenous observed covariate cannot be ordered."""
    from ..exceptions import ArgumentError, ModelSpecificationError
    exogenous = set(model.roles.exogenous_observed)
    if ordered is True:
        names = tuple(v for v in model.observed if v not in exogenous)
    elif isinstance(ordered, str):
        names = (ordered,)
    elif isinstance(ordered, (list, tuple, set, frozenset, pd.Index)) and all(isinstance(v, str) for v in ordered):
        names = tuple(ordered)
    else:
        raise ArgumentError(f"ordered: expected True (every observed indicator) or a list of column "
                            f"names, got {type(ordered).__name__} {ordered!r}"[:300])
    if not names:
        raise ArgumentError("ordered: no column named; pass True or the ordered indicators' names")
    unknown = [v for v in names if v not in model.observed]
    if unknown:
        latent = [v for v in unknown if v in model.latent]
        if latent:
            raise ArgumentError(f"ordered: {latent[0]!r} is a latent variable of the model; only observed "
                                f"indicators can be ordered")
        raise ArgumentError(f"ordered: {unknown[0]!r} is not an observed variable of the model "
                            f"({', '.join(model.observed[:8])}{', ...' if len(model.observed) > 8 else ''})")
    covariates = [v for v in names if v in exogenous]
    if covariates:
        raise ModelSpecificationError(
            f"ordered: {covariates[0]!r} is an exogenous covariate (only a predictor in the model); an "
            f"ordered covariate is not modelled through thresholds (lavaan refuses it too): leave it out "
            f"of ordered= and treat it as continuous, or code it as dummy variables")
    return tuple(v for v in model.observed if v in names)


def fit_ordinal(model: Model, data: pd.DataFrame, ordered: object, estimator: str, parameterization: str,
                level: float, group: str | None, group_equal: tuple[str, ...],
                group_partial: tuple[str, ...]) -> FitResult:
    """``fit(model, data, ordered=..., estimator=...)``: see :func:`lcsem.fit`."""
    from .._validation import check_level
    from .._warnings import recording
    from ..data.ordinal import ordinal_levels, ordinal_stats
    from ..exceptions import ArgumentError, MissingColumnsError, NotSupportedError
    from ..spec.ordinal import ordinal_table

    if estimator not in ORDINAL_ESTIMATORS:
        hint = (" ML treats the categories as interval data; with ordered items use estimator=\"WLSMV\" "
                "(lavaan's default), or leave ordered= out to fit them as continuous" if estimator in
                ("ML", "MLM", "MLMV", "MLMVS", "MLR", "GLS") else "")
        raise ArgumentError(f"estimator: {estimator!r} is not available with ordered= ; use one of "
                            f"{', '.join(ORDINAL_ESTIMATORS)} (default \"WLSMV\").{hint}")
    if parameterization not in ("delta", "theta"):
        raise ArgumentError(f"parameterization: {parameterization!r} is not 'delta' or 'theta'")
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError("data: ordinal fits (ordered=...) need the respondents' data as a pandas "
                            "DataFrame (thresholds and polychoric correlations come from the raw answers)")
    level = check_level(level)
    names = resolve_ordered(model, ordered)
    if model.roles.exogenous_observed:
        raise NotSupportedError(
            f"ordered=: models with exogenous observed covariates ({', '.join(model.roles.exogenous_observed)}) "
            f"are not supported with ordinal indicators yet (lavaan's conditional.x); drop the covariates "
            f"or fit without ordered=")
    cols = list(model.observed)
    missing_cols = [c for c in cols + ([group] if group else []) if c not in data.columns]
    if missing_cols:
        raise MissingColumnsError(f"data: column {missing_cols[0]!r} of the model is not in the data; "
                                  f"columns: {list(data.columns)[:12]}")
    used = data[cols + ([group] if group else [])].dropna()
    with recording() as caught:
        levels = ordinal_levels(used, names)
        if group is None:
            labels: tuple[str, ...] = ()
            parts = [used]
        else:
            keys = used[group].astype(str)
            labels = tuple(dict.fromkeys(keys))
            parts = [used.loc[keys == label] for label in labels]
        stats = [ordinal_stats(part[cols], cols, levels, label=label)
                 for part, label in zip(parts, labels or ("",))]
        ordered_map = {v: len(levels[v]) - 1 for v in names}
        rows = ordinal_table(model, ordered_map, max(len(parts), 1), group_equal=group_equal,
                             group_partial=group_partial, parameterization=parameterization)
        sol = solve_ordinal(rows, stats, cols, model.latent, names, estimator, parameterization)
        result = _result(model, rows, stats, sol, estimator, parameterization, level, group, labels,
                         group_equal, group_partial, used, len(data), ordered_map)
    from dataclasses import replace
    return replace(result, warnings=tuple(w.message for w in caught))


def _result(model, rows, stats, sol: OrdinalSolution, estimator, parameterization, level, group, labels,
            group_equal, group_partial, used, n_total, ordered_map) -> FitResult:
    from ..inference.ordinal_standardized import ordinal_r2, ordinal_standardized
    from ..inference.wald import standard_errors
    from ..results.ordinal_info import OrdinalInfo

    struct = sol.struct
    theta, vcov = sol.theta, sol.vcov
    multi = bool(labels)
    table_rows = struct.rows
    values = struct.row_values(theta)
    se_free = standard_errors(vcov) if struct.k else np.zeros(0)
    free = np.array([r.free - 1 for r in table_rows], int)
    se = np.where(free >= 0, se_free[np.maximum(free, 0)] if struct.k else np.nan, np.nan)
    std = ordinal_standardized(struct, theta, values)
    table = pd.DataFrame({"lhs": [r.lhs for r in table_rows], "op": [r.op for r in table_rows],
                          "rhs": [r.rhs for r in table_rows], "group": [r.group for r in table_rows],
                          "label": [r.label for r in table_rows], "est": values, "se": se, **std})
    fixed = free < 0
    defined = DefinedParameters(tuple(rows))
    if defined.names:
        # derived rows (delta: y* residual variances) are recomputed only when labelled
        needs_derived = any(r.label and derived_row(r, struct.ordered, struct.parameterization)
                            for r in table_rows)

        def evaluate(th: np.ndarray) -> np.ndarray:
            return defined.evaluate(np.stack([struct.row_values(t, derived=needs_derived)
                                              for t in np.atleast_2d(th)]))
        d_rows = [r for r in rows if r.op == ":="]
        d_std = {kind: defined.evaluate(v[None])[0] for kind, v in std.items()}
        table = pd.concat([table, pd.DataFrame({
            "lhs": [r.lhs for r in d_rows], "op": ":=", "rhs": [r.rhs for r in d_rows], "group": 0,
            "label": [r.lhs for r in d_rows], "est": evaluate(theta)[0], "se": delta_se(evaluate, theta, vcov),
            **d_std})], ignore_index=True)
        fixed = np.concatenate([fixed, np.zeros(len(d_rows), bool)])
    estimates = add_inference_columns(table.drop(columns="group"), fixed, level)
    if multi:
        estimates.insert(3, "group", table["group"].to_numpy())
    endogenous = tuple(v for v in struct.observed + struct.latent if v in model.roles.endogenous)
    r2_groups = ordinal_r2(struct, theta, values, endogenous)
    cols = list(struct.observed)
    implied = [struct.implied_matrices(theta, g) for g in range(struct.n_groups)]

    def frames(mats):
        if not multi:
            return pd.DataFrame(mats[0], index=cols, columns=cols)
        return pd.concat({k: pd.DataFrame(m, index=cols, columns=cols) for k, m in zip(labels, mats)},
                         names=["group", "variable"])

    def series(vecs, index, name):
        if not multi:
            return pd.Series(vecs[0], index=index, name=name)
        return pd.concat({k: pd.Series(v, index=index) for k, v in zip(labels, vecs)},
                         names=["group", "variable"]).rename(name)

    r2 = series([[r[v] for v in endogenous] for r in r2_groups], list(endogenous), "r2")
    th_names = list(struct.th_names)
    info = OrdinalInfo(
        ordered=tuple(ordered_map.items()), parameterization=parameterization, rows=tuple(rows),
        sample_th=series([np.asarray(st.wls_obs)[: struct.n_th] for st in stats], th_names, "th"),
        implied_th=series([m["th"] for m in implied], th_names, "th"),
        estimator_details=tuple(zip(("weights", "se", "test"), ORDINAL_ESTIMATORS[estimator])))
    reasons = tuple(_inadmissible(estimates, struct, multi))
    if reasons:
        warn("inadmissible solution: " + "; ".join(reasons), NonAdmissibleWarning, stacklevel=4)
    fit_indices = pd.Series(sol.fit_indices, name="value", dtype=float)
    return FitResult(
        model=model, estimator=estimator, estimates=estimates, fit_indices=fit_indices, r2=r2,
        converged=sol.converged, inadmissible=reasons, warnings=(), n_obs=int(sum(st.n for st in stats)),
        unidentified=sol.unidentified,
        n_total=int(n_total), missing="listwise", theta=theta, vcov=vcov,
        sample_cov=frames([np.asarray(st.cov, float) for st in stats]),
        implied_cov=frames([m["cov"] for m in implied]), data=used, iterations=sol.iterations,
        versions=versions(), level=level, group=group, group_labels=labels, group_equal=group_equal,
        group_partial=group_partial, meanstructure=True, ordinal=info,
        # lavaan's sampstat means: 0 for ordered variables, continuous variables' means; implied: mu*
        sample_mean=series([np.asarray(st.mean, float) for st in stats], cols, "mean"),
        implied_mean=series([m["mu_star"] for m in implied], cols, "mean"))


def _inadmissible(estimates: pd.DataFrame, struct: OrdinalStructure, multi: bool) -> list[str]:
    """Negative (residual) variances, including the derived residual variances of ``y*``."""
    out = []
    var = estimates[(estimates["op"] == "~~") & (estimates["lhs"] == estimates["rhs"])]
    for _, r in var.iterrows():
        if r["est"] < 0:
            where = f"group {int(r['group'])}: " if multi else ""
            out.append(f"{where}negative variance {r['lhs']} ~~ {r['rhs']} = {r['est']:.4g}")
    return out


def ordinal_pieces(res: FitResult) -> tuple[OrdinalStructure, OrdinalPieces]:
    """The structure and the inference pieces (Jacobians at the estimates, weights, Gamma,
    group sizes) of an ordinal fit, recomputed from its data (for difference tests)."""
    from ..data.ordinal import ordinal_levels, ordinal_stats
    from ..exceptions import ArgumentError

    info = res.ordinal
    if info is None:
        raise ArgumentError("res: not an ordinal fit (fitted without ordered=)")
    if res.data is None:
        raise ArgumentError("res: this ordinal result holds no data; refit it from the data")
    cols = list(res.model.observed)
    names = info.ordered_names
    levels = ordinal_levels(res.data, names)
    parts = res.group_frames()
    stats = [ordinal_stats(part[cols], cols, levels, label=label)
             for part, label in zip(parts, res.group_labels or ("",))]
    kind = ORDINAL_ESTIMATORS[res.estimator][0]
    struct = OrdinalStructure(info.rows, cols, res.model.latent, names, n_groups=len(stats),
                              parameterization=info.parameterization)
    theta = np.asarray(res.theta, float)
    Delta = tuple(struct.jacobian(theta, g) for g in range(len(stats)))
    pieces = OrdinalPieces(Delta, tuple(_weights(st, kind) for st in stats),
                           tuple(np.asarray(st.gamma, float) for st in stats),
                           np.asarray([st.n for st in stats], float))
    return struct, pieces
