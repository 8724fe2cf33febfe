"""The interface the batched solver (:func:`lcsem.engine.solve.solve`) works on.

An objective is a discrepancy over ``R`` data sets (replicates). The solver asks it, for a
subset ``idx`` of the replicates and one parameter vector per entry of ``idx``, for the
discrepancy (:meth:`Objective.value`), its gradient and information
(:meth:`Objective.gradient_information`) and a step (:meth:`Objective.direction`: scoring,
or Newton where the objective has an exact Hessian). :meth:`Objective.steps` bundles the
Newton step, the scoring fallback and the positive-definiteness verdict for the solver;
its default builds them from :meth:`Objective.direction`, and objectives that compute the
gradient, Hessian and information in one pass (:class:`~lcsem.engine.ml.MLObjective`)
override it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import NotSupportedError


def positive_definite(Sigma: np.ndarray) -> np.ndarray:
    """Per replicate: is Sigma positive definite? (a determinant's sign is not enough:
    two negative eigenvalues give a positive determinant)."""
    finite = np.isfinite(Sigma).all(axis=(1, 2))
    out = np.zeros(Sigma.shape[0], dtype=bool)
    if finite.any():
        eig = np.linalg.eigvalsh(Sigma[finite])
        # numerically singular (condition number beyond 1e13) counts as not positive definite
        out[finite] = eig[:, 0] > 1e-13 * np.abs(eig[:, -1])
    return out


@dataclass
class Steps:
    """Directions for a subset of replicates (one row each).

    ``step`` is the Newton step ``-H^-1 g`` where ``newton`` is True (an exact Hessian that
    is positive definite and gives a descent direction), the scoring step
    ``-info^-1 g`` elsewhere; ``pd`` says where the Hessian is positive definite (None when
    the objective has no such verdict: every stationary point counts as a minimum); ``ok``
    is False where the scoring system could not be solved.
    """

    grad: np.ndarray
    step: np.ndarray
    newton: np.ndarray
    pd: np.ndarray | None
    ok: np.ndarray


class Objective:
    """A discrepancy over ``n_replicates`` data sets: its value, gradient and information
    at parameter vectors for a subset ``idx`` of the replicates (one row of ``theta``
    per entry of ``idx``)."""

    n_replicates: int
    k: int
    #: whether :meth:`direction` gives Newton steps with ``exact=True``
    has_hessian: bool = False
    #: whether the solver may evaluate several step lengths of a replicate in one call of
    #: :meth:`trial_values` (cheap evaluations; :meth:`keep_trial` then keeps the accepted ones)
    batched_line_search: bool = False

    def value(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:   # pragma: no cover - interface
        raise NotImplementedError

    def trial_values(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:   # pragma: no cover - interface
        """(objectives with ``batched_line_search``) The discrepancy at trial points
        (``idx`` may repeat a replicate) without changing the point each replicate keeps;
        :meth:`keep_trial` then keeps some of them."""
        raise NotImplementedError

    def keep_trial(self, positions: np.ndarray) -> None:   # pragma: no cover - interface
        """Make rows ``positions`` of the last :meth:`trial_values` call the last evaluated
        points of their replicates (as if each had been evaluated alone)."""
        raise NotImplementedError

    def gradient_information(self, theta: np.ndarray, idx: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray]:     # pragma: no cover - interface
        raise NotImplementedError

    def prepare(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The start of every replicate (R, k), possibly improved, and its discrepancy."""
        return theta, self.value(theta, np.arange(self.n_replicates))

    def direction(self, theta: np.ndarray, idx: np.ndarray, exact: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient, step and whether the step descends, per replicate: the scoring step
        ``-info^-1 grad`` (``exact``: the Newton step, for objectives with a Hessian)."""
        if exact:
            raise NotSupportedError(f"{type(self).__name__} has no exact Hessian; use Fisher scoring")
        grad, info = self.gradient_information(theta, idx)
        step = self.step(info, grad)
        return grad, step, np.ones(step.shape[0], dtype=bool)

    def step(self, info: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The scoring step ``-info^-1 grad`` per replicate (pseudo-inverse when singular)."""
        try:
            return -np.linalg.solve(info, grad[..., None])[..., 0]
        except np.linalg.LinAlgError:
            return -np.einsum("rij,rj->ri", np.linalg.pinv(info), grad)

    def steps(self, theta: np.ndarray, idx: np.ndarray, exact: bool = False,
              scoring_only: np.ndarray | None = None) -> Steps:
        """Newton steps where :meth:`direction` (``exact``) gives a descent direction and
        ``scoring_only`` is False, scoring steps elsewhere."""
        if exact:
            grad, step, descent = self.direction(theta, idx, exact=True)
            if scoring_only is not None:
                descent = descent & ~scoring_only
            if not descent.all():
                step[~descent] = self.direction(theta[~descent], idx[~descent])[1]
        else:
            grad, step, _ = self.direction(theta, idx)
            descent = np.zeros(step.shape[0], dtype=bool)
        return Steps(grad, step, descent, None, np.ones(step.shape[0], dtype=bool))
