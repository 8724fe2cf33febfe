"""Full-information ML (lavaan's ``missing = "ml"``): the casewise normal likelihood summed
over missing-data patterns, as an :class:`~lcsem.engine.optimize.Objective`.

For group ``g`` and pattern ``j`` (``n_j`` rows observing the variables ``o``; their mean
``m_j`` and covariance ``S_j`` with denominator ``n_j``) the log-likelihood is

    l_j = -n_j / 2 [p_j log 2 pi + log|Sigma_oo| + tr(Sigma_oo^-1 T_j)],
    T_j = S_j + (m_j - mu_o)(m_j - mu_o)'.

The objective is ``F = -2 l / N - (sum_j n_j p_j / N) log 2 pi`` (``l`` summed over groups
and patterns, ``N`` all rows used), in the units of the complete-data ML discrepancy: its
expected information (``sum_j (n_j / N) [tr(W_j D_a W_j D_b) + 2 J_a' W_j J_b]`` with
``W_j`` the inverse of the observed block embedded in zeros, lavaan's "structured"
expected information) gives ``vcov = 2 / N inv(info)`` and the likelihood-ratio statistic
against the saturated model is ``N (F - F_h1)``. Per pattern the observed block of
Sigma is inverted by embedding it in the identity (one batched inverse for all patterns).

Moment-level derivatives (``G_Sigma = sum_j c_j (W_j - W_j T_j W_j)``,
``g_mu = -2 sum_j c_j W_j d_j``, ``c_j = n_j / N``) are mapped to the parameters by the
RAM Jacobians of :class:`~lcsem.engine.structure.GroupStructure`. The observed
information (lavaan's default for FIML) is the Hessian of ``F``, by lavaan's
four-point central differences of the analytic gradient. :meth:`FIMLObjective.casewise_scores`
gives every row's gradient of its log-likelihood (the seam for MLR's sandwich).
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from ..exceptions import ArgumentError
from .objective import Objective
from .optimize import Solution, fisher_scoring
from .ram import gram_terms
from .structure import GroupStructure

__all__ = ["PatternData", "FIMLObjective", "pattern_loglik", "casewise_loglik", "fit_fiml", "LOG_2PI",
           "without_fixed_x"]

LOG_2PI = float(np.log(2.0 * np.pi))


def without_fixed_x(cov: np.ndarray, mean: np.ndarray, exogenous: Sequence[int]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Copies of ``cov``/``mean`` ((..., p, p)/(..., p)) with the covariances among the fixed.x
    covariates ``exogenous`` and their means set to 0: moments the model does not fit, which
    get no weight in GFI (lavaan's ``fixed.x``, as for complete data)."""
    cov, mean = np.array(cov, dtype=float), np.array(mean, dtype=float)
    if len(exogenous):
        x = np.asarray(exogenous)
        cov[..., x[:, None], x[None, :]] = 0.0
        mean[..., x] = 0.0
    return cov, mean


class PatternData(Protocol):
    """What the objective needs of one group's data (:class:`lcsem.data.missing.MissingPatterns`)."""

    observed: np.ndarray     # (J, p) bool
    counts: np.ndarray       # (J,)
    means: np.ndarray        # (J, p), 0 where not observed
    covs: np.ndarray         # (J, p, p), denominator n_j, 0 where not observed
    values: np.ndarray       # (n, p) rows, NaN where missing
    case_pattern: np.ndarray  # (n,)


def _pattern_blocks(Sigma: np.ndarray, mask2: np.ndarray, logdet: bool = True
                    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """For (R, p, p) ``Sigma`` and (J, p, p) observed-pair masks: the inverse of every
    pattern's observed block embedded in zeros (R, J, p, p), its log-determinant (R, J) and
    whether every block of a replicate is positive definite (R,) (without ``logdet``: the
    inverse only, for derivatives at points known to be admissible)."""
    R, p = Sigma.shape[0], Sigma.shape[-1]
    J = mask2.shape[0]
    blocks = np.where(mask2[None], Sigma[:, None], np.eye(p))
    if not logdet:
        return np.where(mask2[None], np.linalg.inv(blocks), 0.0), None, None
    ok = np.isfinite(Sigma).all(axis=(1, 2))
    safe = np.where(ok[:, None, None, None], blocks, np.eye(p))
    try:
        L = np.linalg.cholesky(safe)
    except np.linalg.LinAlgError:
        eig = np.linalg.eigvalsh(safe.reshape(R * J, p, p)).reshape(R, J, p)
        good = (eig[..., 0] > 1e-13 * np.abs(eig[..., -1])).all(axis=1)
        ok &= good
        safe = np.where(ok[:, None, None, None], safe, np.eye(p))
        L = np.linalg.cholesky(safe)
    log_det = 2.0 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(axis=-1)
    inv = np.linalg.inv(safe)
    return np.where(mask2[None], inv, 0.0), log_det, ok


def pattern_loglik(data: PatternData, mu: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    """Log-likelihood of one group's rows under N(mu, Sigma) (R replicates: mu (R, p),
    Sigma (R, p, p), or one (p,), (p, p)): (R,) or a float; -inf where Sigma is not
    positive definite on some pattern."""
    single = np.ndim(mu) == 1
    mu, Sigma = np.atleast_2d(mu), np.asarray(Sigma, float).reshape(-1, *np.shape(Sigma)[-2:])
    obs = np.asarray(data.observed, bool)
    mask2 = obs[:, :, None] & obs[:, None, :]
    W, logdet, ok = _pattern_blocks(Sigma, mask2)
    d = np.where(obs[None], data.means[None] - mu[:, None, :], 0.0)
    T = data.covs[None] + d[..., :, None] * d[..., None, :]
    f = logdet + np.einsum("rjab,rjba->rj", W, T) + obs.sum(axis=1)[None] * LOG_2PI
    ll = -0.5 * (f @ np.asarray(data.counts, float))
    ll = np.where(ok, ll, -np.inf)
    return float(ll[0]) if single else ll


class FIMLObjective(Objective):
    """``F = -2 loglik / N`` (without the 2 pi constant) over groups and missing-data
    patterns, for ``n_replicates`` parameter vectors on the same data (e.g. several starts).

    Parameters
    ----------
    struct
        The model (with a mean structure).
    groups
        One :class:`PatternData` per group, in the structure's group order.
    n_replicates
        Rows of ``theta`` the solver works on at once (all on the same data).
    """

    def __init__(self, struct: GroupStructure, groups: Sequence[PatternData], n_replicates: int = 1):
        if not struct.meanstructure:
            raise ArgumentError("struct: full-information ML models the means; build the GroupStructure "
                                "with meanstructure=True")
        if len(groups) != struct.n_groups:
            raise ArgumentError(f"groups: {len(groups)} pattern sets for a model of {struct.n_groups} groups")
        self.struct = struct
        self.groups = tuple(groups)
        self.k = struct.k
        self.n_replicates = int(n_replicates)
        self.n = np.array([float(np.sum(g.counts)) for g in self.groups])
        self.N = float(self.n.sum())
        self._obs = [np.asarray(g.observed, bool) for g in self.groups]
        self._mask2 = [o[:, :, None] & o[:, None, :] for o in self._obs]
        self._c = [np.asarray(g.counts, float) / self.N for g in self.groups]
        #: sum_j n_j p_j log(2 pi) / N: F + this = -2 loglik / N
        self.constant = float(sum(np.dot(g.counts, o.sum(axis=1)) for g, o in zip(self.groups, self._obs))
                              * LOG_2PI / self.N)

    # ------------------------------------------------------------------ moment level
    def _group_terms(self, Sigma, mu, g, derivatives: bool):
        """Group ``g``'s share of ``F`` (R,) or, with ``derivatives``, ``(None, (W, G_sigma,
        g_mu))``: the embedded pattern inverses and the gradient in Sigma and mu."""
        W, logdet, ok = _pattern_blocks(Sigma, self._mask2[g], logdet=not derivatives)
        data, obs, c = self.groups[g], self._obs[g], self._c[g]
        d = np.where(obs[None], data.means[None] - mu[:, None, :], 0.0)          # (R, J, p)
        T = data.covs[None] + d[..., :, None] * d[..., None, :]
        if not derivatives:
            f = (logdet + np.einsum("rjab,rjba->rj", W, T)) @ c
            return np.where(ok & np.isfinite(f), f, np.inf), None
        G_sigma = np.einsum("j,rjab->rab", c, W - W @ T @ W)
        g_mu = -2.0 * np.einsum("j,rjab,rjb->ra", c, W, d)
        return None, (W, G_sigma, g_mu)

    def value(self, theta, idx):
        theta = np.atleast_2d(theta)
        Sigma, mu = self.struct.implied(theta)
        total = np.zeros(theta.shape[0])
        with np.errstate(over="ignore", invalid="ignore"):
            for g in range(self.struct.n_groups):
                total = total + self._group_terms(Sigma[:, g], mu[:, g], g, False)[0]
        return np.where(np.isfinite(total), total, np.inf)

    def gradient_information(self, theta, idx):
        """Gradient of ``F`` and its expected information (lavaan's structured one): (R, k), (R, k, k)."""
        return self._derivatives(np.atleast_2d(theta), information=True)

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """Analytic gradient of ``F`` at each row of ``theta``: (R, k)."""
        return self._derivatives(np.atleast_2d(theta), information=False)[0]

    def _derivatives(self, theta, information: bool):
        struct = self.struct
        R, k = theta.shape[0], self.k
        grad = np.zeros((R, k))
        info = np.zeros((R, k, k)) if information else None
        for g in range(struct.n_groups):
            gs = struct.groups[g]
            Sigma, mu, B, C, Bnu = struct.group_moments(theta, g)
            _, (W, G_sigma, g_mu) = self._group_terms(Sigma, mu, g, True)
            U, V, cc = gs.jacobian_vectors(B, C)
            grad_e = 2.0 * cc[None, :] * np.einsum("rep,rpq,req->re", U, G_sigma, V)
            dmu = struct.mean_jacobian(g, B, Bnu, U)                              # (R, p, k)
            grad += grad_e @ gs.free_map + np.einsum("rpk,rp->rk", dmu, g_mu)
            if information:
                J = W.shape[1]
                E, p = U.shape[1], U.shape[2]
                Ub = np.broadcast_to(U[:, None], (R, J, E, p)).reshape(R * J, E, p)
                Vb = np.broadcast_to(V[:, None], (R, J, E, p)).reshape(R * J, E, p)
                gram = gram_terms(Ub, Vb, W.reshape(R * J, p, p), cc).reshape(R, J, E, E)
                info_e = np.einsum("j,rjab->rab", self._c[g], gram)
                Wbar = 2.0 * np.einsum("j,rjab->rab", self._c[g], W)
                info += (gs.free_map.T @ info_e @ gs.free_map
                         + np.swapaxes(dmu, 1, 2) @ Wbar @ dmu)
        return grad, info

    # ------------------------------------------------------------------ inference
    def loglik(self, theta: np.ndarray) -> np.ndarray:
        """Log-likelihood at each row of ``theta`` (R,) (``-N/2 (F + constant)``)."""
        theta = np.atleast_2d(theta)
        return -0.5 * self.N * (self.value(theta, np.arange(theta.shape[0])) + self.constant)

    def expected_information(self, theta: np.ndarray) -> np.ndarray:
        """Expected information of ``F`` at one ``theta`` (k,): (k, k)."""
        return self._derivatives(np.atleast_2d(theta), information=True)[1][0]

    def observed_information(self, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
        """Hessian of ``F`` at one ``theta`` (k,): (k, k); ``vcov = 2 / N inv(H)`` is the inverse
        of the observed information of the log-likelihood (lavaan's default for FIML).

        ``H = Delta' H_m Delta + sum_m g_m d2 m / d theta2``: the first part analytic from the
        moment-level Hessian per pattern (``W = Sigma_oo^-1`` embedded, ``M = W T W``):
        ``-tr(W A W B) + tr(A W B M) + tr(A M B W)`` for two covariance directions,
        ``2 u' W B W d`` between a mean and a covariance direction, ``2 u' W v`` for two
        mean directions; the second (the curvature of the RAM model's moments, weighted by
        the moment gradient ``g``) by lavaan's four-point central differences (step ``h``)
        of ``theta -> Delta(theta)' g`` with ``g`` held fixed, which needs no pattern work.
        """
        theta = np.asarray(theta, float).reshape(1, -1)
        k = self.k
        struct = self.struct
        H = np.zeros((k, k))
        moment_grads = []
        for g in range(struct.n_groups):
            gs = struct.groups[g]
            Sigma, mu, B, C, Bnu = struct.group_moments(theta, g)
            _, (W, G_sigma, g_mu) = self._group_terms(Sigma, mu, g, True)
            moment_grads.append((G_sigma, g_mu))
            W, c = W[0], self._c[g]
            data, obs = self.groups[g], self._obs[g]
            d = np.where(obs, data.means - mu[0][None], 0.0)                        # (J, p)
            M = W @ (data.covs + d[:, :, None] * d[:, None, :]) @ W
            U, V, cc = gs.jacobian_vectors(B, C)
            D = cc[None, :, None, None] * (U[..., :, None] * V[..., None, :] + V[..., :, None] * U[..., None, :])
            D = np.einsum("epq,ek->kpq", D[0], gs.free_map)                          # (k, p, p)
            J_mu = struct.mean_jacobian(g, B, Bnu, U)[0]                              # (p, k)
            X = W[:, None] @ D[None]                                                  # W D_a
            Y = M[:, None] @ D[None]                                                  # M D_a
            P = X.shape[0]
            # tr(E F) = <E', F> (Frobenius): tr(W D_a W D_b) = <X_a', X_b>,
            # tr(D_a W D_b M) = <X_a', Y_b>, tr(D_a M D_b W) = <Y_a', X_b>
            Xt = np.swapaxes(X, -1, -2).reshape(P, k, -1)
            Yt = np.swapaxes(Y, -1, -2).reshape(P, k, -1)
            Xf = np.swapaxes(X.reshape(P, k, -1), 1, 2)
            cov_part = -Xt @ Xf + Xt @ np.swapaxes(Y.reshape(P, k, -1), 1, 2) + Yt @ Xf
            H += np.einsum("j,jab->ab", c, cov_part)
            z = (X @ (W @ d[:, :, None])[:, None])[..., 0]                           # W D_b W d
            cross = 2.0 * np.einsum("j,pa,jbp->ab", c, J_mu, z)
            H += cross + cross.T
            H += J_mu.T @ (2.0 * np.einsum("j,jab->ab", c, W)) @ J_mu
        steps = np.array([-2.0, -1.0, 1.0, 2.0]) * h
        trial = theta[0][None, None, :] + steps[:, None, None] * np.eye(k)[None]
        chain = self._chain(trial.reshape(4 * k, k), moment_grads).reshape(4, k, k)
        H += (chain[0] - 8.0 * chain[1] + 8.0 * chain[2] - chain[3]) / (12.0 * h)
        return 0.5 * (H + H.T)

    def _chain(self, theta: np.ndarray, moment_grads) -> np.ndarray:
        """``Delta(theta)' g`` for fixed moment gradients ``g`` (one ``(G_sigma, g_mu)`` per
        group, each (1, p, p), (1, p)): (R, k)."""
        struct = self.struct
        out = np.zeros((theta.shape[0], self.k))
        for g, (G_sigma, g_mu) in enumerate(moment_grads):
            gs = struct.groups[g]
            _, _, B, C, Bnu = struct.group_moments(theta, g)
            U, V, cc = gs.jacobian_vectors(B, C)
            grad_e = 2.0 * cc[None, :] * np.einsum("rep,pq,req->re", U, G_sigma[0], V)
            out += grad_e @ gs.free_map + np.einsum("rpk,p->rk", struct.mean_jacobian(g, B, Bnu, U), g_mu[0])
        return out

    def numeric_observed_information(self, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
        """The Hessian of ``F`` by four-point central differences of the analytic gradient
        (lavaan's ``lav_model_hessian``), symmetrised: a check of :meth:`observed_information`."""
        theta = np.asarray(theta, float)
        k = theta.size
        steps = np.array([-2.0, -1.0, 1.0, 2.0]) * h
        trial = theta[None, None, :] + steps[:, None, None] * np.eye(k)[None]    # (4, k, k)
        g = self.gradient(trial.reshape(4 * k, k)).reshape(4, k, k)
        H = (g[0] - 8.0 * g[1] + 8.0 * g[2] - g[3]) / (12.0 * h)                # row a: d grad / d theta_a
        return 0.5 * (H + H.T)

    def casewise_loglik(self, theta: np.ndarray) -> list[np.ndarray]:
        """Per group, every row's log-likelihood at one ``theta`` (k,): a list of (n_g,)
        arrays in the order of the group's ``values``."""
        Sigma, mu = self.struct.implied(np.atleast_2d(np.asarray(theta, float)))
        return [casewise_loglik(data, mu[0, g], Sigma[0, g]) for g, data in enumerate(self.groups)]

    def casewise_scores(self, theta: np.ndarray) -> list[np.ndarray]:
        """Per group, every row's gradient of its own log-likelihood with respect to theta:
        a list of (n_g, k) arrays, rows in the order of the group's ``values`` (the sum
        over rows and groups is ``-N/2`` times the gradient of ``F``). The meat of a
        sandwich (MLR) is ``sum_i s_i s_i'``."""
        theta = np.atleast_2d(np.asarray(theta, float))
        struct = self.struct
        out = []
        for g in range(struct.n_groups):
            gs = struct.groups[g]
            data = self.groups[g]
            Sigma, mu, B, C, Bnu = struct.group_moments(theta, g)
            W, _, _ = _pattern_blocks(Sigma, self._mask2[g], logdet=False)
            Wi = W[0][np.asarray(data.case_pattern)]                               # (n, p, p)
            x = np.where(np.isnan(data.values), 0.0, data.values - mu[0][None])
            Wx = np.einsum("nab,nb->na", Wi, x)
            # d l_i / d Sigma = 1/2 (W x x' W - W); d l_i / d mu = W x
            G = 0.5 * (Wx[:, :, None] * Wx[:, None, :] - Wi)
            U, V, cc = gs.jacobian_vectors(B, C)
            # u_e' G_i v_e for every row and entry: one (n, p^2) x (p^2, E) product
            UV = (U[0][:, :, None] * V[0][:, None, :]).reshape(U.shape[1], -1)
            s_e = 2.0 * cc[None, :] * (G.reshape(G.shape[0], -1) @ UV.T)
            dmu = struct.mean_jacobian(g, B, Bnu, U)[0]
            out.append(s_e @ gs.free_map + Wx @ dmu)
        return out


def casewise_loglik(data: PatternData, mu: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    """Every row's log-likelihood under N(mu, Sigma) from its observed values (n,) (lavaan's
    ``lavInspect(fit, "loglik.casewise")``)."""
    obs = np.asarray(data.observed, bool)
    W, logdet, _ = _pattern_blocks(np.asarray(Sigma, float)[None], obs[:, :, None] & obs[:, None, :])
    pattern = np.asarray(data.case_pattern)
    x = np.where(np.isnan(data.values), 0.0, data.values - mu)
    quad = np.einsum("na,nab,nb->n", x, W[0][pattern], x)
    return -0.5 * (obs.sum(axis=1)[pattern] * LOG_2PI + logdet[0][pattern] + quad)


def fit_fiml(objective: FIMLObjective, starts: np.ndarray, max_iter: int = 500, tol: float = 1e-10
             ) -> Solution:
    """Fisher scoring (expected information, step halving) from each start (R, k) on the
    same data; :class:`~lcsem.engine.optimize.Solution` per start (``fmin`` is ``F``)."""
    starts = np.atleast_2d(np.asarray(starts, float))
    objective.n_replicates = starts.shape[0]
    return fisher_scoring(objective, starts, max_iter=max_iter, tol=tol)
