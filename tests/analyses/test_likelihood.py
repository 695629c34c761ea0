"""The pooled NB2 and crossover fits converge: statsmodels' own score (an implementation that
shares nothing with federate.analyses.likelihood) is at most 1e-8 at federate's estimates, and
the closed-form derivatives agree with finite differences of the log-likelihood."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.discrete.discrete_model import NegativeBinomial

from federate.analyses import likelihood, stats


def _trial(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    site = rng.integers(0, 3, n)
    x = np.column_stack(
        [np.ones(n), rng.integers(0, 2, n), rng.poisson(3, n), site == 1, site == 2]
    ).astype(float)
    offset = np.log(rng.integers(1, 4, n).astype(float))
    mu = np.exp(x @ [0.4, -0.6, 0.08, 0.3, -0.2] + offset)
    alpha = 0.9
    y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu)).astype(float)
    return y, x, offset


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_nb2_fit_reaches_a_gradient_norm_of_1e_8(seed: int) -> None:
    y, x, offset = _trial(seed)
    fit = stats.fit_nb2(y, x, offset)
    assert fit is not None
    params, at = fit
    as_statsmodels = np.append(params[:-1], np.exp(params[-1]))  # alpha, not log alpha
    model = NegativeBinomial(y, x, loglike_method="nb2", offset=offset)
    optimiser = model.fit(disp=0, maxiter=500)  # (score reads alpha as fit leaves the model)
    assert np.linalg.norm(model.score(optimiser.params)) > 1e-8  # the optimiser alone stops short
    assert np.linalg.norm(model.score(as_statsmodels)) <= 1e-8
    assert np.linalg.norm(at.gradient) <= likelihood.TOLERANCE


@pytest.mark.parametrize("seed", [4, 5])
def test_the_crossover_fit_reaches_a_gradient_norm_of_1e_8(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 120
    direction = np.where(rng.integers(0, 2, n) == 1, 1.0, -1.0)
    offset = np.log(rng.integers(1, 4, n) / rng.integers(1, 4, n))
    y1 = rng.poisson(4, n).astype(float)
    y2 = rng.poisson(4 * np.exp(0.2 + 0.3 * direction)).astype(float)
    keep = (y1 + y2) > 0
    fit = stats.fit_conditional(y2[keep], y1[keep], direction[keep], offset[keep])
    assert fit is not None
    params, _, _ = fit
    x = np.column_stack([np.ones(keep.sum()), direction[keep]])
    model = sm.GLM(
        np.column_stack([y2[keep], y1[keep]]),
        x,
        family=sm.families.Binomial(),
        offset=offset[keep],
    )
    assert np.linalg.norm(model.score(params)) <= 1e-8


def test_the_closed_form_derivatives_are_the_log_likelihoods() -> None:
    y, x, offset = _trial(7, n=80)
    params = np.array([0.1, -0.2, 0.05, 0.1, 0.0, -0.5])
    at = likelihood.derivatives(y, x, offset, params)
    eps = 1e-6
    for i in range(len(params)):
        step = np.zeros(len(params))
        step[i] = eps
        up = likelihood.derivatives(y, x, offset, params + step)
        down = likelihood.derivatives(y, x, offset, params - step)
        assert (up.loglik - down.loglik) / (2 * eps) == pytest.approx(at.gradient[i], rel=1e-6)
        fd = (up.gradient - down.gradient) / (2 * eps)
        np.testing.assert_allclose(fd, at.hessian[i], rtol=1e-5, atol=1e-6)
