"""Log-likelihoods' gradients and Hessians in closed form (NB2; the conditional binomial of
the crossover), and Newton's method on them.

Shared by the pooled fit (``stats.nb2_rate_ratio`` polishes the optimiser's answer to a
gradient norm of at most ``TOLERANCE``) and the federated fit (each node returns these sums
over its own patients; the analyst adds them and steps: ``federate.federation``).

Parameters: ``beta`` (the linear predictor's coefficients) then ``theta = log(alpha)``, so the
dispersion stays positive. With ``r = 1/alpha`` and ``mu = exp(x.beta + offset)``, one
patient's log-likelihood is

    lgamma(y + r) - lgamma(r) - lgamma(y + 1) + r log r - (r + y) log(r + mu) + y log mu.

The Wald interval of a coefficient of ``beta`` from the inverse of the negative Hessian does
not depend on how alpha is parameterised at the maximum (the gradient is zero there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TOLERANCE = 1e-8  # the largest gradient norm of a fit called converged
MAX_NEWTON = 100


@dataclass(frozen=True)
class Derivatives:
    loglik: float
    gradient: np.ndarray
    hessian: np.ndarray

    def __add__(self, other: Derivatives) -> Derivatives:
        return Derivatives(
            self.loglik + other.loglik, self.gradient + other.gradient, self.hessian + other.hessian
        )


def derivatives(
    y: np.ndarray, x: np.ndarray, offset: np.ndarray, params: np.ndarray
) -> Derivatives:
    """Sums over the rows of (y, x, offset) at ``params`` = (beta..., log alpha)."""
    from scipy.special import gammaln, polygamma, psi

    beta, theta = params[:-1], float(params[-1])
    r = math.exp(-theta)
    mu = np.exp(x @ beta + offset)
    rm = r + mu
    loglik = (
        gammaln(y + r) - gammaln(r) - gammaln(y + 1) + r * math.log(r) - (r + y) * np.log(rm)
    ) + y * np.log(mu)
    d_eta = r * (y - mu) / rm
    d2_eta = -r * mu * (r + y) / rm**2
    d_r = psi(y + r) - psi(r) + math.log(r) + 1 - np.log(rm) - (r + y) / rm
    d2_r = polygamma(1, y + r) - polygamma(1, r) + 1 / r - 1 / rm - (mu - y) / rm**2
    d_r_eta = (y - mu) * mu / rm**2
    k = x.shape[1]
    gradient = np.empty(k + 1)
    gradient[:k] = x.T @ d_eta
    gradient[k] = float(np.sum(-r * d_r))
    hessian = np.empty((k + 1, k + 1))
    hessian[:k, :k] = (x * d2_eta[:, None]).T @ x
    hessian[:k, k] = hessian[k, :k] = x.T @ (-r * d_r_eta)
    hessian[k, k] = float(np.sum(r * r * d2_r + r * d_r))
    return Derivatives(float(np.sum(loglik)), gradient, hessian)


def logit_derivatives(
    y: np.ndarray, n: np.ndarray, x: np.ndarray, offset: np.ndarray, params: np.ndarray
) -> Derivatives:
    """Binomial (logit link) sums: ``y`` events out of ``n`` trials per row."""
    eta = x @ params + offset
    p = 1 / (1 + np.exp(-eta))
    loglik = y * eta - n * np.logaddexp(0, eta)
    w = n * p * (1 - p)
    return Derivatives(float(np.sum(loglik)), x.T @ (y - n * p), -(x * w[:, None]).T @ x)


def newton_step(at: Derivatives) -> np.ndarray | None:
    """The Newton step from ``at``, or None where the Hessian is not negative definite."""
    try:
        np.linalg.cholesky(-at.hessian)
        return np.asarray(np.linalg.solve(-at.hessian, at.gradient))
    except np.linalg.LinAlgError:
        return None


def polish(
    at_params: Callable[[np.ndarray], Derivatives], params: np.ndarray
) -> tuple[np.ndarray, Derivatives] | None:
    """Newton steps (halved while the likelihood falls) from ``params`` until the gradient's
    norm is at most TOLERANCE; None if it cannot get there."""
    at = at_params(params)
    for _ in range(MAX_NEWTON):
        if float(np.linalg.norm(at.gradient)) <= TOLERANCE:
            return params, at
        step = newton_step(at)
        if step is None:
            return None
        for _ in range(30):
            trial = params + step
            moved = at_params(trial)
            if np.isfinite(moved.loglik) and moved.loglik >= at.loglik - 1e-12 * abs(at.loglik):
                break
            step = step / 2
        else:
            return None
        params, at = trial, moved
    return None


def wald(
    params: np.ndarray, at: Derivatives, index: int, scale: float = 1.0
) -> tuple[float, float, float, float]:
    """(estimate, ci_low, ci_high, p) of coefficient ``index``: Wald, normal, 95%."""
    from scipy.stats import norm

    cov = np.linalg.inv(-at.hessian)
    estimate, se = float(params[index]), math.sqrt(scale * float(cov[index, index]))
    z = float(norm.ppf(0.975))
    return estimate, estimate - z * se, estimate + z * se, float(2 * norm.sf(abs(estimate / se)))
