"""Score (Lagrange multiplier) tests for releasing equality constraints, as lavaan's
``lavTestScore``.

An equality constraint in lcsem is a set of parameter-table rows sharing one free number:
``group_equal`` equalities across groups, a label written once for several rows
(``a*x1 + a*x2``, or ``a*x2`` in a multi-group model) and ``c(a, a)*x2``. lavaan writes such
a class of rows ``r_1, ..., r_m`` (table order) as the ``m - 1`` constraints
``r_1 == r_j`` (``j = 2..m``), ordered as ``lavaanify`` does: classes by the position of
their second row, then ``j``. Releasing a constraint gives row ``r_j`` its own parameter.

The test works in the *unconstrained* parameterisation ``phi`` (every free row its own
parameter), where the constraints are ``R phi = 0``. At the constrained estimate, with the
score ``s = -1/2 dF/dphi`` of the ML discrepancy ``F = sum_g (N_g/N) F_g`` (lavaan's
``gradient.logl`` per case) and the expected unit information ``I`` of ``phi``:

- total test (releasing every constraint): ``X2 = N s' I^+ s`` with ``df`` the number of
  constraints (``I^+``: the Moore-Penrose inverse, as lavaan's ``MASS::ginv``; ``I`` is
  singular when the model without constraints is not identified, e.g. free latent means
  with free intercepts);
- univariate test of constraint ``r`` (1 df): ``X2_r = N s' P_r s``, ``P_r`` the top-left
  block of the inverse of ``[[I, R_(-r)'], [R_(-r), 0]]`` (every other constraint kept);
- cumulative tests: constraints ordered by decreasing univariate ``X2``, released one more at
  a time (``df = 1, 2, ...``).

ML only (lavaan's default ``information = "expected"``). The (co)variances of exogenous
observed covariates (lavaan's ``fixed.x``) are estimated by lcsem; their score is zero and
they are information-orthogonal to the rest, so they do not change the statistics, and
constraints tying them are not listed (lavaan has no such parameters).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from .._warnings import warn
from ..engine import GroupStructure, gradient, information
from ..estimation.robust_fit import ROBUST_ESTIMATORS
from ..exceptions import ArgumentError, ConvergenceWarning, NotSupportedError, ScaledTestWarning
from ..results.fit_result import FitResult
from ..spec.groups import fixed_x_free
from ..spec.partable import ParRow
from .group_stats import result_group_stats

__all__ = ["score_tests", "equality_constraints", "SCORE_TEST_KINDS"]

SCORE_TEST_KINDS = ("univariate", "total", "cumulative")
_GINV_TOL = float(np.sqrt(np.finfo(float).eps))    # MASS::ginv's tolerance


def equality_constraints(rows: tuple[ParRow, ...], exclude: frozenset[int] = frozenset()
                         ) -> list[tuple[int, int]]:
    """The equality constraints of a parameter table as pairs ``(i, j)`` of positions in the
    table's non-``:=`` rows (``row_i == row_j``), in lavaan's order.

    Parameters
    ----------
    rows
        The parameter table (``:=`` rows are skipped; positions count the others).
    exclude
        Free numbers whose rows are not listed (e.g. the covariates' ``fixed.x`` moments).
    """
    table = [r for r in rows if r.op != ":="]
    members: dict[int, list[int]] = {}
    for pos, r in enumerate(table):
        if r.free and r.free not in exclude:
            members.setdefault(r.free, []).append(pos)
    classes = sorted((m for m in members.values() if len(m) > 1), key=lambda m: m[1])
    return [(m[0], j) for m in classes for j in m[1:]]


def score_tests(res: FitResult, kind: Literal["univariate", "total", "cumulative"] = "univariate"
                ) -> pd.DataFrame:
    """Score tests for releasing the equality constraints of a fitted model (lavaan's
    ``lavTestScore``).

    Parameters
    ----------
    res
        A :class:`~lcsem.FitResult` estimated by ML (or MLM/MLR, whose estimates are ML's: the
        ordinary score tests, with a :class:`~lcsem.ScaledTestWarning`): a multi-group fit with
        ``group_equal`` / shared labels / ``c(a, a)`` equalities, or a single-group fit with
        shared labels (``f =~ a*x1 + a*x2``).
    kind
        ``"univariate"`` (default): one 1-df test per constraint, lavaan's ``$uni``;
        ``"total"``: one test releasing every constraint, lavaan's ``$test``;
        ``"cumulative"``: constraints released one more at a time in decreasing order of
        their univariate statistic, lavaan's ``$cumulative``.

    Returns
    -------
    pandas.DataFrame
        For ``"univariate"`` and ``"cumulative"``: one row per constraint ``A == B`` (lavaan's
        ``.p2. == .p38.``), named readably: ``lhs op rhs`` the parameter of row A, ``group_a``
        its group label, ``param_b`` the parameter of row B (``"visual =~ x2"``; the same
        parameter as A for equalities across groups), ``group_b`` its group label (the group
        columns only for multi-group fits), ``label`` the shared label (empty for
        ``group_equal`` equalities), then ``x2 df pvalue``. Releasing the constraint gives
        row B its own parameter. Rows follow lavaan's order. For ``"total"``: one row,
        ``test x2 df pvalue``. A model without equality constraints gives a table with
        these columns and no rows (not an error).

    Raises
    ------
    ArgumentError
        For an unknown ``kind`` or a result that is not a FitResult.
    NotSupportedError
        For non-ML fits, and for multi-group results saved without their data (the group
        sizes are needed).

    Notes
    -----
    Formulas: :mod:`lcsem.analysis.score_tests`. A large univariate statistic marks an
    equality that the data contradict (e.g. a non-invariant intercept); release one at a
    time and refit, since the statistics change once another constraint is released.
    """
    if not isinstance(res, FitResult):
        raise ArgumentError(f"res: expected an lcsem.FitResult (from lcsem.fit), got {type(res).__name__}")
    if kind not in SCORE_TEST_KINDS:
        raise ArgumentError(f"kind: {kind!r} is not one of {SCORE_TEST_KINDS}")
    if res.estimator not in ("ML", *ROBUST_ESTIMATORS):
        raise NotSupportedError(f"score tests are implemented for ML and its robust variants (MLM, MLMV, "
                                f"MLMVS, MLR) only; this result used estimator={res.estimator!r}: refit with "
                                f"estimator='ML'")
    if res.estimator != "ML":
        warn(f"score tests of a {res.estimator} fit are the ordinary (normal-theory) score tests of its ML "
             f"estimates, as lavaan's lavTestScore (which falls back to them with a warning); a robust score "
             f"test is not implemented", ScaledTestWarning, stacklevel=2)
    multi = bool(res.group_labels)
    table = [r for r in res.rows if r.op != ":="]
    pairs = equality_constraints(tuple(table), fixed_x_free(res.model, res.rows))
    if kind == "total":
        empty = pd.DataFrame({"test": pd.Series(dtype=object), "x2": pd.Series(dtype=float),
                              "df": pd.Series(dtype=int), "pvalue": pd.Series(dtype=float)})
    else:
        empty = _named(table, [], res.group_labels, multi).assign(
            x2=pd.Series(dtype=float), df=pd.Series(dtype=int), pvalue=pd.Series(dtype=float))
    if not pairs:
        return empty
    if not res.converged:
        warn("the model did not converge; score tests are not reliable", ConvergenceWarning, stacklevel=2)
    score, info, n = _score_information(res, table)
    column = {pos: c for c, pos in enumerate(pos for pos, r in enumerate(table) if r.free)}
    R = np.zeros((len(pairs), len(column)))
    for c, (i, j) in enumerate(pairs):
        R[c, column[i]], R[c, column[j]] = 1.0, -1.0
    if kind == "total":
        x2 = float(n * score @ _ginv(info) @ score)
        return pd.DataFrame({"test": ["score"], "x2": [x2], "df": [len(pairs)],
                             "pvalue": [float(sps.chi2.sf(x2, len(pairs)))]})
    release = _Release(score, info, R, n)
    uni = np.array([release.statistic([c]) for c in range(len(pairs))])
    if kind == "univariate":
        order, x2, df = np.arange(len(pairs)), uni, np.ones(len(pairs), dtype=int)
    else:
        order = np.argsort(-uni, kind="stable")
        x2 = np.array([release.statistic(list(order[: r + 1])) for r in range(len(pairs))])
        df = np.arange(1, len(pairs) + 1)
    out = _named(table, [pairs[c] for c in order], res.group_labels, multi)
    return out.assign(x2=x2, df=df, pvalue=sps.chi2.sf(x2, df))


def _named(table: list[ParRow], pairs: list[tuple[int, int]], labels: tuple[str, ...], multi: bool
           ) -> pd.DataFrame:
    a = [table[i] for i, _ in pairs]
    b = [table[j] for _, j in pairs]
    frame = {"lhs": [r.lhs for r in a], "op": [r.op for r in a], "rhs": [r.rhs for r in a]}
    if multi:
        frame["group_a"] = [labels[r.group - 1] for r in a]
    frame["param_b"] = [f"{r.lhs} {r.op} {r.rhs}".rstrip() for r in b]
    if multi:
        frame["group_b"] = [labels[r.group - 1] for r in b]
    frame["label"] = [ra.label if ra.label == rb.label else "" for ra, rb in zip(a, b)]
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in frame.items()})


def _score_information(res: FitResult, table: list[ParRow]) -> tuple[np.ndarray, np.ndarray, float]:
    """Score ``-1/2 dF/dphi``, unit expected information of the unconstrained
    parameterisation (one parameter per free row, in table order) at the estimates, and N."""
    free_rows = [pos for pos, r in enumerate(table) if r.free]
    number = {pos: k + 1 for k, pos in enumerate(free_rows)}
    unconstrained = [replace(r, free=number.get(pos, 0)) for pos, r in enumerate(table)]
    theta = np.asarray(res.theta, dtype=float)
    phi = np.array([theta[table[pos].free - 1] for pos in free_rows])[None]
    model = res.model
    struct = GroupStructure(unconstrained, model.observed, model.latent, n_groups=res.n_groups,
                            meanstructure=res.meanstructure)
    stats = result_group_stats(res, "score tests")
    n = float(np.sum(stats.n))
    score = -0.5 * gradient(struct, phi, stats)[0]
    info = 0.5 * information(struct, phi, stats)[0]     # unit information: vcov = inv(I) / N
    return score, info, n


def _ginv(a: np.ndarray) -> np.ndarray:
    """Moore-Penrose inverse of a symmetric matrix with MASS::ginv's rule (keep the singular
    values, here ``|eigenvalues|``, above ``tol`` times the largest)."""
    lam, vec = np.linalg.eigh(a)
    size = np.abs(lam)
    keep = size > _GINV_TOL * size.max() if size.size else size.astype(bool)
    return (vec[:, keep] / lam[keep]) @ vec[:, keep].T


class _Release:
    """``N s' P_S s`` for sets ``S`` of released constraints, ``P_S`` the information block
    of ``[[I, R_(-S)'], [R_(-S), 0]]^+`` (lavaan's ``Z1.plus1``).

    The augmented matrix with every constraint, ``Z``, is inverted once (``H``); deleting the
    rows and columns of ``S`` from ``Z`` gives ``H_(-S,-S) - H_(-S,S) H_(S,S)^-1 H_(S,-S)``
    as its inverse (the block-inverse identity), so each set costs a small solve. Where
    ``Z`` or ``H_(S,S)`` is (nearly) singular the generalised inverse of the reduced matrix
    is computed directly, as lavaan does."""

    def __init__(self, score: np.ndarray, info: np.ndarray, R: np.ndarray, n: float):
        self.score, self.info, self.R, self.n = score, info, R, n
        k, m = info.shape[0], R.shape[0]
        self.k = k
        Z = np.block([[info, R.T], [R, np.zeros((m, m))]])
        lam, vec = np.linalg.eigh(Z)
        size = np.abs(lam)
        self.invertible = bool(size.min() > _GINV_TOL * size.max())
        if self.invertible:
            H = (vec / lam) @ vec.T
            self.base = float(score @ H[:k, :k] @ score)
            self.h = H[k:, :k] @ score            # H_(r, 1:k) s for every constraint r
            self.H_rr = H[k:, k:]

    def statistic(self, released: list[int]) -> float:
        if self.invertible:
            H_SS = self.H_rr[np.ix_(released, released)]
            lam = np.linalg.eigvalsh(H_SS)
            if np.abs(lam).min() > 1e-8 * np.abs(lam).max():
                h = self.h[released]
                return float(self.n * (self.base - h @ np.linalg.solve(H_SS, h)))
        R1 = np.delete(self.R, released, axis=0)
        m = R1.shape[0]
        Z = np.block([[self.info, R1.T], [R1, np.zeros((m, m))]])
        P = _ginv(Z)[: self.k, : self.k]
        return float(self.n * self.score @ P @ self.score)
