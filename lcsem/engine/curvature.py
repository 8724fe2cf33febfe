"""Is a stationary point a minimum? Leaving saddle points.

Fisher scoring stops wherever the gradient vanishes. Besides minima that includes saddle
points, e.g. every loading of a factor at 0 when its marker is uncorrelated with the
other indicators: the gradient is 0 there, but the discrepancy still falls as the other
loadings grow. Reporting such a point as a converged solution would be a silent wrong
answer (with singular information: SE 0, p 0). The check uses the Hessian of the
discrepancy by central differences of its analytic gradient (2k gradient evaluations,
batched), once per fit; for a :class:`~lcsem.engine.structure.GroupStructure` (ML) the
exact Hessian.

Every function takes the structure and its statistics as :func:`~lcsem.engine.optimize.minimize`
does, for ONE data set: a covariance matrix (p, p) with a :class:`RamStructure`, or
:class:`~lcsem.engine.structure.GroupStats` with one replicate with a ``GroupStructure``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import NotSupportedError

from .optimize import GroupMLObjective, _gradient_information, _weight, gradient, information, minimize
from .ram import RamStructure
from .structure import GroupStats, GroupStructure

# smallest Hessian eigenvalue, relative to the largest, that still counts as a minimum
# (flat directions of an unidentified model have eigenvalues ~ 0, not negative)
NEGATIVE_CURVATURE_TOL = 1e-7


def _information_scale(struct: RamStructure | GroupStructure, theta: np.ndarray, S: np.ndarray | GroupStats,
                        estimator: str) -> np.ndarray:
    """Square roots of the diagonal of the Fisher / Gauss-Newton information at ``theta``:
    each parameter's natural unit, so that steps and curvature do not depend on units."""
    with np.errstate(all="ignore"):
        if isinstance(struct, GroupStructure):
            info = information(struct, theta[None], S)[0]
        else:
            info = _gradient_information(struct, theta[None], S[None], estimator, _weight(S[None], estimator))[1][0]
    d = np.sqrt(np.abs(np.diag(info)))
    fallback = 1.0 / np.maximum(1.0, np.abs(theta))        # unit steps of 1e-5 * max(1, |theta|)
    return np.where(np.isfinite(d) & (d > 0), d, fallback)


def hessian(struct: RamStructure | GroupStructure, theta: np.ndarray, S: np.ndarray | GroupStats, estimator: str,
            scale: np.ndarray | None = None) -> np.ndarray:
    """Hessian of the discrepancy at ``theta`` (k,) by central differences: (k, k). Step
    ``i`` is ``1e-5 min(1 / scale_i, max(1, |theta_i|))`` (default ``scale``:
    :func:`_information_scale`)."""
    k = struct.k
    if isinstance(struct, GroupStructure):
        _check_ml(estimator)
        with np.errstate(all="ignore"):
            H = GroupMLObjective(struct, S).derivatives(theta[None], np.array([0]))[1][0]
        return 0.5 * (H + H.T)
    if scale is None:
        scale = _information_scale(struct, theta, S, estimator)
    # a relative step in the parameter's own size, never larger than its information unit
    # (tiny parameters of a badly scaled model) nor than 1e-5 max(1, |theta|)
    h = 1e-5 * np.minimum(1.0 / scale, np.maximum(1.0, np.abs(theta)))
    steps = np.diag(h)
    points = np.concatenate([theta + steps, theta - steps])
    # in chunks: a batch of 2k points holds (2k, E, p) Jacobian factors (GBs for p = 120)
    chunk = max(1, min(2 * k, 2_000_000 // max(1, struct.k * struct.p * struct.p)))
    with np.errstate(all="ignore"):
        g = np.concatenate([gradient(struct, points[i:i + chunk],
                                     np.broadcast_to(S, (len(points[i:i + chunk]),) + S.shape), estimator)
                            for i in range(0, 2 * k, chunk)])
    H = (g[:k] - g[k:]) / (2.0 * h[:, None])
    return 0.5 * (H + H.T)


def descent_direction(struct: RamStructure | GroupStructure, theta: np.ndarray, S: np.ndarray | GroupStats,
                      estimator: str) -> np.ndarray | None:
    """A direction of negative curvature at the stationary point ``theta`` (unit vector),
    or None when ``theta`` is a (possibly flat) minimum or the check is not possible."""
    if struct.k == 0:
        return None
    scale = _information_scale(struct, theta, S, estimator)
    H = hessian(struct, theta, S, estimator, scale)
    if not np.isfinite(H).all():
        return None
    # curvature in each parameter's information unit (scale-free); back to theta's units
    values, vectors = np.linalg.eigh(H / np.outer(scale, scale))
    if values[0] < -NEGATIVE_CURVATURE_TOL * max(1.0, float(np.max(np.abs(values)))):
        direction = vectors[:, 0] / scale
        return direction / np.linalg.norm(direction)
    return None


@dataclass(frozen=True)
class Escape:
    """Outcome of leaving a saddle point: the best point found from there."""

    theta: np.ndarray
    fmin: float
    converged: bool
    iterations: int
    max_gradient: float


def leave_saddle(struct: RamStructure | GroupStructure, S: np.ndarray | GroupStats, theta: np.ndarray,
                 estimator: str) -> Escape | None:
    """None when the converged ``theta`` is a minimum. Otherwise restart the optimiser
    from both sides of the saddle along the direction of negative curvature and return
    the better end point; it counts as converged only if it is a minimum itself (when the
    discrepancy has no minimum — estimates running off to infinity — it is not)."""
    direction = descent_direction(struct, theta, S, estimator)
    if direction is None:
        return None
    scale = 0.1 * max(1.0, float(np.max(np.abs(theta))))
    starts = np.stack([theta + scale * direction, theta - scale * direction])
    sol = minimize(struct, _twice(S), starts, estimator)
    fmin = np.where(np.isfinite(sol.fmin), sol.fmin, np.inf)
    best = int(np.lexsort((fmin, ~sol.converged))[0])
    converged = bool(sol.converged[best]) and descent_direction(struct, sol.theta[best], S, estimator) is None
    return Escape(sol.theta[best], float(sol.fmin[best]), converged, int(sol.iterations[best]),
                  float(sol.max_gradient[best]))


def _twice(S: np.ndarray | GroupStats) -> np.ndarray | GroupStats:
    """The statistics of one data set as two replicates."""
    if isinstance(S, GroupStats):
        return S.repeat(2)
    return np.stack([S, S])


def _check_ml(estimator: str) -> None:
    if estimator != "ML":
        raise NotSupportedError(f"estimator: {estimator} with a GroupStructure is not available "
                                f"(ML only for now); use estimator='ML'")
