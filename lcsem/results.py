"""Result objects: immutable values that summarise, render and serialise themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .engine.ram import RamStructure
from .report.render import FORMATS, format_p, render_table
from .spec.model import Model
from .exceptions import ArgumentError

ESTIMATE_COLUMNS = ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "std_all"]


def parameter_name(lhs: str, op: str, rhs: str) -> str:
    """Name of a parameter as a statistic: ``"kmsuse~culture"``, ``"visual=~x1"``; a
    defined parameter is named by its left-hand side (``"ind"``)."""
    return lhs if op == ":=" else f"{lhs}{op}{rhs}"


def parameter_names(estimates: pd.DataFrame) -> list[str]:
    """:func:`parameter_name` of every row of an estimates table."""
    return [parameter_name(l, o, r) for l, o, r in zip(estimates["lhs"], estimates["op"], estimates["rhs"])]


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=float, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class FitResult:
    """The outcome of :func:`lcsem.fit`.

    Attributes
    ----------
    model
        The fitted :class:`~lcsem.Model`.
    estimator
        ``"ML"``, ``"GLS"`` or ``"ULS"``.
    estimates
        One row per parameter (lavaan's convention): ``lhs op rhs label est se z pvalue
        std_all``. Fixed parameters have NaN ``se``; ``:=`` rows carry delta-method SEs.
    fit_indices
        chisq, df, pvalue, cfi, tli, nfi, rmsea (with 90% CI and p-close), srmr, gfi, agfi,
        loglik, aic, bic, n_obs, n_params, baseline_chisq and baseline_df.
    r2
        R² of every endogenous variable (indicators and structural outcomes).
    converged
        Whether the optimiser reached a tight optimum.
    inadmissible
        Reasons the solution is inadmissible (empty when it is admissible).
    warnings
        Every warning issued while fitting, as text.
    """

    model: Model
    estimator: str
    estimates: pd.DataFrame
    fit_indices: pd.Series
    r2: pd.Series
    converged: bool
    inadmissible: tuple[str, ...]
    warnings: tuple[str, ...]
    n_obs: int
    n_total: int
    missing: str
    theta: np.ndarray
    vcov: np.ndarray
    sample_cov: pd.DataFrame
    implied_cov: pd.DataFrame
    data: pd.DataFrame = field(repr=False)
    iterations: int = 0
    versions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "theta", _readonly(self.theta))
        object.__setattr__(self, "vcov", _readonly(self.vcov))

    # ------------------------------------------------------------------ views
    @property
    def n_dropped(self) -> int:
        """Rows dropped by listwise deletion."""
        return self.n_total - self.n_obs

    @property
    def admissible(self) -> bool:
        """True when no variance is negative, no standardised loading exceeds 1 and
        the latent and residual covariance matrices are positive definite."""
        return not self.inadmissible

    @cached_property
    def structure(self) -> RamStructure:
        """The RAM structure of the model in the data's column order."""
        return RamStructure(self.model.rows, self.model.observed, self.model.latent)

    def residuals(self, kind: str = "cor") -> pd.DataFrame:
        """Residual matrix: ``"cor"`` (standardised residual correlations, as in SRMR) or ``"raw"``."""
        S, Sigma = self.sample_cov.to_numpy(), self.implied_cov.to_numpy()
        if kind == "raw":
            out = S - Sigma
        elif kind == "cor":
            d = np.sqrt(np.diag(S))
            out = (S - Sigma) / np.outer(d, d)
        else:
            raise ArgumentError(f"kind: {kind!r} is not 'cor' or 'raw'")
        return pd.DataFrame(out, index=self.sample_cov.index, columns=self.sample_cov.columns)

    def modindices(self, top: int | None = 10, *, sort: bool = True, min_mi: float | None = None,
                   op: str | list[str] | None = None) -> pd.DataFrame:
        """Modification indices and expected parameter changes (lavaan's ``modindices``);
        see :func:`lcsem.modindices.modification_indices`. ``top=None`` lists every row."""
        from .modindices import modification_indices

        return modification_indices(self, top=top, sort=sort, min_mi=min_mi, op=op)

    # ------------------------------------------------------------------ display
    def summary(self, format: str = "text", digits: int = 3) -> str:
        """A readable summary: header, fit indices, estimates and R²."""
        if format not in FORMATS:
            raise ArgumentError(f"format: {format!r} is not one of {FORMATS}")
        fi = self.fit_indices
        header = [
            f"lcsem {self.versions.get('lcsem', '')} (semopy {self.versions.get('semopy', '')}) "
            f"| estimator {self.estimator} | converged: {'yes' if self.converged else 'NO'}",
            f"N used {self.n_obs} of {self.n_total} (dropped {self.n_dropped}, missing={self.missing!r})",
            f"chi-square({int(fi['df'])}) = {fi['chisq']:.3f}, p = {fi['pvalue']:.3f}; "
            f"CFI = {fi['cfi']:.3f}; TLI = {fi['tli']:.3f}; RMSEA = {fi['rmsea']:.3f} "
            f"[{fi['rmsea_ci_lower']:.3f}, {fi['rmsea_ci_upper']:.3f}]; SRMR = {fi['srmr']:.3f}",
        ]
        if self.inadmissible:
            header.append("INADMISSIBLE SOLUTION: " + "; ".join(self.inadmissible))
        counts = {"df", "n_obs", "n_params", "baseline_df"}
        fit_table = pd.DataFrame({"value": [int(v) if k in counts else v
                                            for k, v in self.fit_indices.items()]},
                                 index=self.fit_indices.index, dtype=object)
        fit_table.index.name = "index"
        est = self.estimates.copy()
        est["pvalue"] = [format_p(p) if np.isfinite(p) else "" for p in est["pvalue"]]
        r2 = self.r2.to_frame("r2")
        r2.index.name = "variable"
        parts = [render_table(fit_table, format, digits=digits, caption="Fit indices"),
                 render_table(est, format, digits=digits, index=False, caption="Parameter estimates"),
                 render_table(r2, format, digits=digits, caption="R-squared")]
        if format == "html":
            head = "".join(f"<p>{h}</p>" for h in header)
            return f'<div class="lcsem-summary">{head}{"".join(parts)}</div>'
        sep = "\n\n"
        if format == "markdown":
            return "  \n".join(header) + sep + sep.join(parts)
        return "\n".join(header) + sep + sep.join(parts)

    def _repr_html_(self) -> str:
        return self.summary("html")

    def report(self, format: str = "markdown", boot: Any = None, **options: Any) -> str:
        """Methods paragraph and APA-style tables (see :func:`lcsem.report.report`)."""
        from .report.report import report

        return report(self, boot=boot, format=format, **options)

    def __repr__(self) -> str:
        fi = self.fit_indices
        return (f"<lcsem.FitResult {self.estimator} N={self.n_obs} chisq({int(fi['df'])})={fi['chisq']:.3f} "
                f"CFI={fi['cfi']:.3f} RMSEA={fi['rmsea']:.3f} SRMR={fi['srmr']:.3f}"
                f"{'' if self.admissible else ' INADMISSIBLE'}{'' if self.converged else ' NOT CONVERGED'}>")

    def to_dict(self, include_data: bool = True) -> dict[str, Any]:
        """A JSON-serialisable dict (see :mod:`lcsem.serialize`); ``include_data=False``
        leaves out the respondents' data."""
        from .serialize import fit_result_to_dict

        return fit_result_to_dict(self, include_data=include_data)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "FitResult":
        """Rebuild a result from :meth:`to_dict`'s output."""
        from .serialize import fit_result_from_dict

        return fit_result_from_dict(payload)
