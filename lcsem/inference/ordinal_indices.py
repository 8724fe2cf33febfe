"""lavaan's ``fitMeasures`` of least-squares fits to ordinal statistics (names with
underscores).

Standard indices use the standard statistic ``T`` and the baseline ``T0`` (independence:
thresholds free, correlations 0); ``*_scaled`` the corrected statistics of both; the
``*_robust`` CFI/TLI/RMSEA are lavaan 0.6.14's for categorical data (Savalei 2021,
``lav_fit_catml_dwls``): the normal-theory ML discrepancy of the polychoric matrix at the
estimates ("catML") and its baseline ``-log|R|``, with correction factors
``c = tr(U' V U Gamma) / df`` (``V`` the ML weight of correlations, ``U = I - D E^-1 D' W``)
and ``c0 = tr(Gamma) / df0``; lavaan gives them only when every variable is ordered and
every polychoric matrix is positive definite (NaN otherwise). Residual-based indices
(``rmr``, ``srmr``, ``crmr``, with and without the threshold part) follow lavaan's
categorical definitions; ``wrmr = sqrt(T / n_stats)``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.special import chdtri, chndtr

from .fit_indices import rmsea_close, rmsea_interval
from .robust import _cfi, _chisq_sf, _rmsea, _tli, block_diag

__all__ = ["ordinal_fit_measures", "catml_corrections"]


def _safe(fun, *args, **kw) -> float:
    with np.errstate(all="ignore"):
        try:
            return float(fun(*args, **kw))
        except (ZeroDivisionError, ValueError, FloatingPointError):
            return float("nan")


def _notclose(x2, df, n, G, c=1.0, h0=0.08) -> float:
    if not (df > 0 and np.isfinite(x2) and np.isfinite(c)):
        return float("nan")
    return float(chndtr(x2, df, n * df * h0 ** 2 / c / G))


def _relative(x2, df, x20, df0) -> dict[str, float]:
    """nnfi rfi nfi pnfi ifi rni (lavaan's formulas, with its NA rules)."""
    nan = float("nan")
    out = {"nnfi": _tli(x2, df, x20, df0)}
    if not np.isfinite([x2, df, x20, df0]).all():
        return {**out, **dict.fromkeys(("rfi", "nfi", "pnfi", "ifi", "rni"), nan)}
    if df > df0:
        out["rfi"] = nan
    elif df > 0 and df0 > 0:
        t1, t2 = x20 / df0 - x2 / df, x20 / df0
        out["rfi"] = 1.0 if (t1 < 0 or t2 < 0) else t1 / t2
    else:
        out["rfi"] = 1.0
    out["nfi"] = nan if (df > df0 or np.isclose(x20, 0)) else ((x20 - x2) / x20 if df > 0 else 1.0)
    out["pnfi"] = (df / df0) * (x20 - x2) / x20 if (df0 > 0 and x20 > 0) else nan
    t2 = x20 - df
    out["ifi"] = 1.0 if t2 < 0 else (nan if np.isclose(t2, 0) else (x20 - x2) / t2)
    t2 = x20 - df0
    out["rni"] = nan if np.isclose(t2, 0) else 1 - (x2 - df) / t2
    return out


def catml_corrections(S: Sequence[np.ndarray], P: Sequence[np.ndarray], n: np.ndarray, Delta: Sequence[np.ndarray],
                      W: Sequence[np.ndarray], Gamma: Sequence[np.ndarray], E_inv: np.ndarray, n_th: int,
                      df3: float, df3_null: float) -> dict[str, float]:
    """lavaan's ``lav_fit_catml_dwls``: ``XX3``, ``c_hat3``, ``XX3_scaled``, ``XX3_null``,
    ``c_hat3_null`` from the polychoric matrices ``S``, the implied correlations ``P`` at the
    DWLS/ULS estimates, the model's Jacobian/weights/Gamma and its inverse information."""
    n = np.asarray(n, float)
    f = n / n.sum()
    XX3 = XX3_null = 0.0
    blocks_v, blocks_w, blocks_g, rows_d = [], [], [], []
    for g, (Sg, Pg) in enumerate(zip(S, P)):
        p = Sg.shape[0]
        sign_s, logdet_s = np.linalg.slogdet(Sg)
        sign_p, logdet_p = np.linalg.slogdet(Pg)
        if sign_s <= 0 or sign_p <= 0:
            return dict.fromkeys(("XX3", "df3", "c_hat3", "XX3_scaled", "XX3_null", "c_hat3_null"), float("nan"))
        Pinv = np.linalg.inv(Pg)
        F = logdet_p + np.trace(Sg @ Pinv) - logdet_s - p
        XX3 += n[g] * F
        XX3_null += n[g] * (-logdet_s)
        i, j = np.triu_indices(p, 1)
        # ML weight of the correlations (expected information at P): 1/2 D'(P^-1 (x) P^-1) D
        V = Pinv[i[:, None], i[None, :]] * Pinv[j[:, None], j[None, :]] + \
            Pinv[i[:, None], j[None, :]] * Pinv[j[:, None], i[None, :]]
        cut = Delta[g].shape[0] - i.size
        Wg = W[g]
        Wc = np.diag(Wg[cut:]) if Wg.ndim == 1 else Wg[cut:, cut:]
        blocks_v.append(f[g] * V)
        blocks_w.append(f[g] * Wc)
        blocks_g.append(Gamma[g][cut:, cut:] / f[g])
        rows_d.append(Delta[g][cut:])
    V_all, W_all, G_all = block_diag(blocks_v), block_diag(blocks_w), block_diag(blocks_g)
    D_all = np.concatenate(rows_d, axis=0)
    WiU = np.eye(W_all.shape[0]) - D_all @ E_inv @ D_all.T @ W_all
    ks = float(np.trace(WiU.T @ V_all @ WiU @ G_all))
    c_hat3 = ks / df3 if df3 > 0 else float("nan")
    return {"XX3": float(XX3), "df3": float(df3), "c_hat3": c_hat3, "XX3_scaled": float(XX3) / c_hat3,
            "XX3_null": float(XX3_null), "c_hat3_null": float(np.trace(G_all)) / df3_null}


def ordinal_fit_measures(*, chisq: float, df: float, chisq0: float, df0: float, n_total: float, n_groups: int,
                         n_params: int, n_stats: int, scaled: dict | None, scaled0: dict | None, kind: str,
                         catml: dict | None, residuals: dict[str, float], gfi: float,
                         unweighted: bool = False) -> dict[str, float]:
    """Every index lavaan's ``fitMeasures`` gives for an ordinal least-squares fit."""
    G = int(n_groups)
    # lavaan's fmin is T / (2 N); its RMSEA, MFI and Hoelter's N use N - G for these estimators
    N = float(n_total) - G
    nan = float("nan")
    # ULS: lavaan gives no p-value for the standard statistic (not chi-square distributed)
    chi2_p = not unweighted
    out: dict[str, float] = {"npar": float(n_params), "fmin": chisq / (2 * float(n_total)), "chisq": chisq,
                             "df": float(df), "pvalue": _chisq_sf(chisq, df) if df > 0 and chi2_p else nan}
    if scaled is not None:
        out.update({"chisq_scaled": scaled["stat"], "df_scaled": scaled["df"], "pvalue_scaled": scaled["pvalue"],
                    "chisq_scaling_factor": scaled["scaling_factor"]})
        if kind == "scaled.shifted":
            out["chisq_shift_parameter"] = scaled["shift"]
    out.update({"baseline_chisq": chisq0, "baseline_df": float(df0), "baseline_pvalue": _chisq_sf(chisq0, df0) if chi2_p else nan})
    if scaled0 is not None:
        out.update({"baseline_chisq_scaled": scaled0["stat"], "baseline_df_scaled": scaled0["df"],
                    "baseline_pvalue_scaled": scaled0["pvalue"],
                    "baseline_chisq_scaling_factor": scaled0["scaling_factor"]})
    out["cfi"] = _cfi(chisq, df, chisq0, df0)
    out["tli"] = _tli(chisq, df, chisq0, df0)
    robust = scaled is not None and kind == "scaled.shifted"
    if scaled is not None:
        out["cfi_scaled"] = _cfi(scaled["stat"], scaled["df"], scaled0["stat"], scaled0["df"])
        out["tli_scaled"] = _tli(scaled["stat"], scaled["df"], scaled0["stat"], scaled0["df"])
    cat = catml or {}
    x3, c3, x30, c30 = (cat.get(key, nan) for key in ("XX3", "c_hat3", "XX3_null", "c_hat3_null"))
    if robust or (scaled is not None and kind == "satorra.bentler"):
        out["cfi_robust"] = _cfi(x3, df, x30, df0, c3, c30)
        out["tli_robust"] = _tli(x3, df, x30, df0, c3, c30)
    out.update(_relative(chisq, df, chisq0, df0))
    if scaled is not None:
        rel = _relative(scaled["stat"], scaled["df"], scaled0["stat"], scaled0["df"])
        out.update({f"{k}_scaled": v for k, v in rel.items()})
        out["nnfi_robust"] = out["tli_robust"]
        out["rni_robust"] = (1 - (x3 - c3 * df) / (x30 - c30 * df0)
                             if np.isfinite([x3, c3, x30, c30]).all() else nan)
    # RMSEA
    out["rmsea"] = _rmsea(chisq, df, N, G)
    out["rmsea_ci_lower"], out["rmsea_ci_upper"] = rmsea_interval(chisq, df, N, groups=G)
    out["rmsea_ci_level"] = 0.90
    out["rmsea_pvalue"] = rmsea_close(chisq, df, N, groups=G)
    out["rmsea_close_h0"] = 0.05
    out["rmsea_notclose_pvalue"] = _notclose(chisq, df, N, G)
    out["rmsea_notclose_h0"] = 0.08
    if scaled is not None:
        if kind == "scaled.shifted":
            x2s, df2 = scaled["stat"], df
        else:
            x2s, df2 = chisq, scaled["scaling_factor"] * df if df > 0 else nan   # tr(U Gamma)
        out["rmsea_scaled"] = _rmsea(x2s, df2, N, G)
        out["rmsea_ci_lower_scaled"], out["rmsea_ci_upper_scaled"] = rmsea_interval(x2s, df2, N, groups=G)
        out["rmsea_pvalue_scaled"] = rmsea_close(x2s, df2, N, groups=G)
        out["rmsea_notclose_pvalue_scaled"] = _notclose(x2s, df2, N, G)
        x3s = cat.get("XX3_scaled", nan)
        df3 = cat.get("df3", nan)
        out["rmsea_robust"] = _rmsea(x3, df3, N, G, c3) if np.isfinite(x3) else nan
        if np.isfinite(x3s):
            out["rmsea_ci_lower_robust"], out["rmsea_ci_upper_robust"] = rmsea_interval(x3s, df3, N, groups=G, c=c3)
            out["rmsea_pvalue_robust"] = rmsea_close(x3s, df3, N, groups=G, c=c3)
            out["rmsea_notclose_pvalue_robust"] = _notclose(x3s, df3, N, G, c3)
        else:
            for key in ("rmsea_ci_lower_robust", "rmsea_ci_upper_robust", "rmsea_pvalue_robust",
                        "rmsea_notclose_pvalue_robust"):
                out[key] = nan
    out.update(residuals)
    # Hoelter's critical N (lavaan: N - 1 for these estimators), GFI family, McDonald, WRMR
    for name, alpha in (("cn_05", 0.05), ("cn_01", 0.01)):
        out[name] = (float(chdtri(df, alpha)) / (chisq / N) + 1) if df > 0 and chisq > 0 else nan
    out["gfi"] = gfi
    out["agfi"] = 1 - (n_stats / df) * (1 - gfi) if df > 0 else nan
    out["pgfi"] = (df / n_stats) * gfi
    out["mfi"] = float(np.exp(-0.5 * (chisq - df) / N))
    out["wrmr"] = float(np.sqrt(chisq / (n_stats / G)))     # lavaan: the first group's count
    out["n_obs"] = float(n_total)
    out["n_params"] = float(n_params)
    return out
