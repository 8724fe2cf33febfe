"""The one batched solver: Newton with the exact Hessian where known, Fisher-scoring fallback,
line search, per-replicate stopping, and the retry ladder.

:func:`solve` minimises an :class:`~lcsem.engine.objective.Objective` for all its replicates at
once. Each iteration asks the objective for :class:`~lcsem.engine.objective.Steps` of the
active replicates (a Newton step where the Hessian is positive definite and descends, a
scoring step elsewhere), halves the step until the discrepancy falls enough, and stops each
replicate on its own. Two stopping rules (:class:`Rules`):

* :data:`NEWTON` (warm starts close to the minimum: bootstrap, jackknife, simulations):
  Newton from the first step; sufficient decrease (Armijo, ``1e-4``); a replicate stops when
  its Newton decrement (the predicted decrease of F) is below ``tol * max(1, F)`` at a
  positive definite Hessian, or after a full Newton step whose decrement was below
  ``quick_tol`` (quadratic convergence: the next one would be of order ``quick_tol^2``);
  stationary points without a positive definite Hessian fail (saddles go to the retries);
  a Newton step the line search refuses is replaced by scoring steps until a step is
  accepted; a full scoring step that lowers F by more than twice what its quadratic model
  predicts (negative curvature: the replicate is leaving a saddle region) is extended, the
  lowest acceptable of 2, 4, ..., 2^EXTRAPOLATE times it taken (one full step at a time
  crawls out in tens of iterations).
* :data:`SCORING` (``fit()`` from rough starts): the first step is a scoring step, then Newton
  where the objective has an exact Hessian; a step is accepted when F does not increase; a
  replicate stops when its step or its largest gradient is below ``tol`` (or a full Newton
  step below ``sqrt(tol) / 10``), and a replicate whose step cannot be taken at all has
  converged when its largest gradient is below 1e-6 and failed otherwise.

:func:`retry_ladder` refits replicates that did not converge from several starts in one
batch with a bounded budget and keeps, per replicate, the best converged solution unless a
lower discrepancy was reached elsewhere (a local optimum above a diverging path is not the
ML estimate).

Nothing mixes replicates: a replicate's numbers do not depend on the batch it is in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .objective import Objective

__all__ = ["Rules", "NEWTON", "SCORING", "Solution", "Resume", "solve", "retry_ladder"]


@dataclass
class Solution:
    """Result of a batched minimisation."""

    theta: np.ndarray       # (R, k)
    fmin: np.ndarray        # (R,) discrepancy at theta (ML: F_ML, GLS: 1/2 tr[...]^2, ULS: sum_vech e^2)
    converged: np.ndarray   # (R,) bool
    iterations: np.ndarray  # (R,) int
    max_gradient: np.ndarray  # (R,)
    parked: np.ndarray | None = None   # (R,) bool: stopped early by ``park`` (neither converged nor failed)
    state: "Resume | None" = None      # where parked replicates stand (for ``solve(resume=...)``)


@dataclass
class Resume:
    """The solver's state of some replicates, to continue them later in another batch
    exactly as if they had not stopped (:data:`NEWTON` rules): the iterations (passes)
    already used and whether the next step must be a scoring step."""

    passes: np.ndarray         # (R,) int
    use_scoring: np.ndarray    # (R,) bool
    fmin: np.ndarray           # (R,) discrepancy at the point reached

    def take(self, rows: np.ndarray) -> "Resume":
        return Resume(self.passes[rows], self.use_scoring[rows], self.fmin[rows])

    @staticmethod
    def concat(parts: list["Resume"]) -> "Resume":
        return Resume(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("passes", "use_scoring", "fmin")))


@dataclass(frozen=True)
class Rules:
    """How :func:`solve` accepts steps and stops replicates (module text)."""

    stop: str                  # "decrement" or "step"
    first_step_scoring: bool   # the first iteration takes scoring steps
    armijo: float              # sufficient-decrease constant (0: F must not increase)
    slack: float               # relative slack of the acceptance test
    quick_tol: float = 1e-7    # "decrement" rule: stop after a full Newton step below this


NEWTON = Rules(stop="decrement", first_step_scoring=False, armijo=1e-4, slack=1e-14)
SCORING = Rules(stop="step", first_step_scoring=True, armijo=0.0, slack=1e-12)


def solve(objective: Objective, theta0: np.ndarray, *, rules: Rules = SCORING, exact: bool = False,
          max_iter: int = 500, tol: float = 1e-10, max_halvings: int = 40, park: int = 0,
          resume: Resume | None = None) -> Solution:
    """Minimise ``objective`` for every replicate from ``theta0`` ((k,) or (R, k)).

    Parameters
    ----------
    objective
        The discrepancy and its derivatives (:class:`~lcsem.engine.objective.Objective`).
    theta0
        Start, one for all replicates or one per replicate.
    rules
        :data:`NEWTON` or :data:`SCORING` (module text).
    exact
        Newton steps with the objective's exact Hessian (scoring steps only when False).
    max_iter, tol, max_halvings
        Iterations, stopping tolerance and step-halvings per iteration.
    park
        (:data:`NEWTON` rules) Stop early when at most ``park`` replicates, and at most an
        eighth of the batch, are still iterating: they are returned ``parked`` with their
        ``state``, to be continued together with other batches' stragglers (a few
        replicates iterating alone cost per call, not per replicate).
    resume
        Continue parked replicates (``theta0`` is where they stand): the same steps and
        result as without the stop.
    """
    R, k = objective.n_replicates, objective.k
    theta = np.array(np.broadcast_to(theta0, (R, k)), dtype=float)
    theta, fmin = objective.prepare(theta)
    fmin = np.array(fmin if resume is None else resume.fmin, dtype=float)
    converged = np.zeros(R, dtype=bool)
    failed = ~np.isfinite(fmin)
    iterations = np.zeros(R, dtype=int)
    max_grad = np.full(R, np.inf)
    if k == 0:
        return Solution(theta, fmin, ~failed, iterations, np.zeros(R))
    decrement_rule = rules.stop == "decrement"
    if (park or resume is not None) and not decrement_rule:
        raise ValueError("solve: park and resume need the NEWTON rules")
    use_scoring = np.zeros(R, dtype=bool) if resume is None else np.array(resume.use_scoring)
    passes = np.zeros(R, dtype=int) if resume is None else np.array(resume.passes)
    parked = None
    for it in range(max_iter):
        active = np.flatnonzero(~converged & ~failed & (passes < max_iter))
        if active.size == 0:
            break
        if park and it and active.size <= park and 8 * active.size <= R:
            parked = np.zeros(R, dtype=bool)
            parked[active] = True
            break
        passes[active] += 1
        th = theta[active]
        newton_now = exact and not (rules.first_step_scoring and it == 0)
        d = objective.steps(th, active, exact=newton_now,
                            scoring_only=use_scoring[active] if decrement_rule else None)
        grad, step = d.grad, d.step
        max_grad[active] = np.max(np.abs(grad), axis=1)
        f_old = fmin[active]
        if decrement_rule:
            with np.errstate(invalid="ignore", over="ignore"):
                slope = np.einsum("rk,rk->r", grad, step)
            pd = np.ones(active.size, dtype=bool) if d.pd is None else d.pd
            bad = ~d.ok | ~np.all(np.isfinite(step), axis=1) | ~(slope <= 0)
            decrement = -slope
            small = ~bad & ((np.abs(decrement) <= tol * np.maximum(1.0, f_old)) | (max_grad[active] <= 1e-12))
            # a stationary point is a minimum only where the Hessian is positive definite
            done = small & pd
            converged[active[done]] = True
            failed[active[bad | (small & ~pd)]] = True
            go = np.flatnonzero(~done & ~bad)
            if go.size == 0:
                continue
        else:
            slope = None
            go = np.arange(active.size)
        rows = active[go]
        iterations[rows] += 1
        th_go, step_go, f_go = th[go], step[go], f_old[go]
        slope_go = None if slope is None else slope[go]
        alpha, f_new, accepted = _line_search(objective, rows, th_go, step_go, f_go, slope_go, rules, max_halvings)
        newton = d.newton[go]
        if decrement_rule:
            # a full scoring step that gained more than twice what its quadratic model
            # predicts crosses a region of negative curvature (escaping a saddle): longer
            # steps along it are tried at once and the lowest acceptable one is taken
            grow = np.flatnonzero(accepted & ~newton & (alpha == 1.0) & (f_go - f_new >= decrement[go]))
            if grow.size:
                a, f = _extrapolate(objective, rows[grow], th_go[grow], step_go[grow], f_new[grow],
                                    f_go[grow], slope_go[grow], rules)
                alpha[grow], f_new[grow] = a, f
        new_theta = th_go + alpha[:, None] * step_go
        theta[rows[accepted]] = new_theta[accepted]
        fmin[rows[accepted]] = f_new[accepted]
        if decrement_rule:
            quick = accepted & newton & (alpha == 1.0) & (decrement[go] <= rules.quick_tol * np.maximum(1.0, f_go))
            converged[rows[quick]] = True
            stuck = rows[~accepted]
            # a Newton direction that cannot be followed: scoring next time; if a scoring
            # step cannot decrease F either, the replicate sits at a numerical optimum (tiny
            # decrement) or has failed (it goes to the retries)
            use_scoring[rows[accepted]] = False
            was_newton = newton[~accepted]
            use_scoring[stuck[was_newton]] = True
            flat = (~was_newton & pd[go][~accepted]
                    & (decrement[go][~accepted] <= 1e-9 * np.maximum(1.0, f_go[~accepted])))
            converged[stuck[~was_newton & flat]] = True
            failed[stuck[~was_newton & ~flat]] = True
        else:
            size = 1.0 + np.max(np.abs(th_go), axis=1, initial=0.0)
            small_step = np.max(np.abs(alpha[:, None] * step_go), axis=1, initial=0.0) <= tol * size
            small_grad = max_grad[rows] <= tol
            done = accepted & (small_step | small_grad)
            # a full Newton step of relative size s leaves an error of order s^2: a step
            # below sqrt(tol) / 10 ends at the minimum to within tol
            quadratic = newton & (alpha == 1.0) & (np.max(np.abs(step_go), axis=1, initial=0.0)
                                                   <= 0.1 * np.sqrt(tol) * size)
            done |= accepted & quadratic
            stuck = ~accepted
            converged[rows[done | (stuck & (max_grad[rows] <= 1e-6))]] = True
            failed[rows[stuck & (max_grad[rows] > 1e-6)]] = True
    state = None if parked is None else Resume(passes, use_scoring, fmin)
    return Solution(theta, fmin, converged, iterations, max_grad, parked, state)


#: at most this many replicates still halving: their remaining step lengths are tried in
#: rounds of :data:`ROUND` in one call (objectives with ``batched_line_search``)
FEW = 16
ROUND = 8


def _line_search(objective: Objective, rows: np.ndarray, th: np.ndarray, step: np.ndarray, f_old: np.ndarray,
                 slope: np.ndarray | None, rules: Rules, max_halvings: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step lengths (1, 1/2, 1/4, ...), the discrepancy at the accepted points and which
    replicates accepted one; the accepted point is the last one evaluated for its replicate.

    When few replicates are still halving and the objective's evaluations are cheap
    (``batched_line_search``), their next :data:`ROUND` step lengths are evaluated in one
    call and each replicate takes the longest acceptable one: the same step lengths, values
    and decisions as one halving at a time (each replicate's numbers do not depend on its
    batch), in fewer calls (small batches cost per call, not per replicate)."""
    n = rows.size
    alpha = np.ones(n)
    f_new = np.full(n, np.inf)
    accepted = np.zeros(n, dtype=bool)
    pending = np.arange(n)
    batched = getattr(objective, "batched_line_search", False)
    h = 0
    while h < max_halvings and pending.size:
        if batched and h > 0 and pending.size <= FEW:
            b = min(ROUND, max_halvings - h)
            scale = 0.5 ** np.arange(b)                                    # exact powers of 2
            a = alpha[pending][None, :] * scale[:, None]                    # (b, n_pending)
            trial = th[pending][None] + a[..., None] * step[pending][None]
            k = th.shape[1]
            f_try = objective.trial_values(trial.reshape(-1, k), np.tile(rows[pending], b)).reshape(b, -1)
            fo = f_old[pending][None, :]
            ok = f_try <= _bound(fo, a, None if slope is None else slope[pending][None, :], rules)
            hit = ok.any(axis=0)
            first = np.argmax(ok, axis=0)
            take = pending[hit]
            cols = np.flatnonzero(hit)
            alpha[take] = a[first[hit], cols]
            f_new[take] = f_try[first[hit], cols]
            accepted[take] = True
            if take.size:       # the accepted point is the one the objective keeps
                objective.keep_trial(first[hit] * pending.size + cols)
            pending = pending[~hit]
            alpha[pending] *= 0.5 ** b
            h += b
            continue
        trial = th[pending] + alpha[pending, None] * step[pending]
        f_try = objective.value(trial, rows[pending])
        ok = f_try <= _bound(f_old[pending], alpha[pending], None if slope is None else slope[pending], rules)
        take = pending[ok]
        f_new[take] = f_try[ok]
        accepted[take] = True
        pending = pending[~ok]
        h += 1
        if pending.size == 0:
            break
        alpha[pending] *= 0.5
    return alpha, f_new, accepted


#: longest extrapolated step: 2^EXTRAPOLATE times a scoring step
EXTRAPOLATE = 6


def _extrapolate(objective: Objective, rows: np.ndarray, th: np.ndarray, step: np.ndarray, f_one: np.ndarray,
                 f_old: np.ndarray, slope: np.ndarray, rules: Rules) -> tuple[np.ndarray, np.ndarray]:
    """Step lengths 2, 4, ..., 2^EXTRAPOLATE after an accepted full step: each replicate
    takes the one with the lowest acceptable discrepancy below the full step's (or stays
    at 1), and the objective keeps that point. Objectives with ``batched_line_search``
    evaluate all lengths in one call; the others one length at a time (the same numbers)."""
    n, k = th.shape
    a = (2.0 ** np.arange(1, EXTRAPOLATE + 1))[:, None] * np.ones(n)[None, :]
    trial = th[None] + a[..., None] * step[None]
    batched = getattr(objective, "batched_line_search", False)
    if batched:
        f_try = objective.trial_values(trial.reshape(-1, k), np.tile(rows, EXTRAPOLATE)).reshape(EXTRAPOLATE, n)
    else:
        f_try = np.stack([objective.value(trial[j], rows) for j in range(EXTRAPOLATE)])
    ok = f_try <= _bound(f_old[None, :], a, slope[None, :], rules)
    f_ok = np.where(ok & (f_try < f_one[None, :]), f_try, np.inf)
    best = np.argmin(f_ok, axis=0)
    better = np.isfinite(f_ok[best, np.arange(n)])
    alpha = np.ones(n)
    f = np.array(f_one)
    cols = np.flatnonzero(better)
    alpha[cols] = a[best[cols], cols]
    f[cols] = f_try[best[cols], cols]
    if batched:
        if cols.size:
            objective.keep_trial(best[cols] * n + cols)
    else:                   # the kept point is the last one evaluated
        objective.value(th + alpha[:, None] * step, rows)
    return alpha, f


def _bound(fo: np.ndarray, alpha: np.ndarray, slope: np.ndarray | None, rules: Rules) -> np.ndarray:
    """The largest acceptable discrepancy after a step of length ``alpha``."""
    if rules.armijo:
        return fo + rules.armijo * alpha * slope + rules.slack * (1.0 + np.abs(fo))
    return fo + rules.slack * (1.0 + np.abs(fo))


def retry_ladder(make_objective: Callable[[int], Objective], starts: list[np.ndarray], f_reached: np.ndarray, *,
                 rules: Rules = NEWTON, exact: bool = True, max_iter: int = 40, max_halvings: int = 8,
                 tol: float = 1e-12) -> tuple[np.ndarray, Solution, np.ndarray, Objective]:
    """Refit ``n`` replicates from ``len(starts)`` starts each, all in one batch.

    Parameters
    ----------
    make_objective
        ``make_objective(m)``: the objective of the ``n`` replicates repeated ``m`` times
        (start-major: replicate ``r`` of start ``s`` is row ``s * n + r``).
    starts
        One (n, k) array per start.
    f_reached
        The lowest discrepancy already reached per replicate (inf where none).

    Returns
    -------
    keep, solution, pick, objective
        Which replicates got a solution; the batch's :class:`Solution`; the row of the
        batch holding each kept replicate's solution; the batch's objective.
    """
    m, n = len(starts), starts[0].shape[0]
    objective = make_objective(m)
    sol = solve(objective, np.concatenate(starts), rules=rules, exact=exact, max_iter=max_iter, tol=tol,
                max_halvings=max_halvings)
    f_new = np.where(np.isfinite(sol.fmin), sol.fmin, np.inf).reshape(m, n)
    f_ok = np.where(sol.converged.reshape(m, n), f_new, np.inf)
    best = np.argmin(f_ok, axis=0)                 # the first start on ties
    f_best = f_ok[best, np.arange(n)]
    # the lowest discrepancy reached anywhere (before, and every retry's end point)
    lowest = np.minimum(np.where(np.isfinite(f_reached), f_reached, np.inf), f_new.min(axis=0))
    keep = np.isfinite(f_best) & (f_best <= lowest + 1e-9 * (1.0 + np.abs(f_best)))
    pick = best[keep] * n + np.flatnonzero(keep)
    return keep, sol, pick, objective
