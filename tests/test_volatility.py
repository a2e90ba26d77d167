"""Volatility yardsticks: EWMA by hand, GARCH and EGARCH against arch's own forecasts."""

import math

import numpy as np
import pytest
from arch import arch_model
from scipy import integrate, stats

from forecast.evaluation.randomwalk import RandomWalk
from forecast.model import classical as vol


@pytest.fixture(scope="module")
def returns():
    """2,000 daily returns of a GARCH(1,1) with leverage-free normal shocks, seeded."""
    rng = np.random.default_rng(7)
    n, omega, alpha, beta = 2000, 2e-6, 0.08, 0.9
    r, s2 = np.empty(n), omega / (1 - alpha - beta)
    for t in range(n):
        r[t] = math.sqrt(s2) * rng.standard_normal()
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    return r


def test_backcast_is_arch_s():
    r = np.array([0.01, -0.02, 0.015, 0.0, -0.005])
    w = 0.94 ** np.arange(5)
    assert vol.backcast(r) == pytest.approx(np.sum(w * r**2) / w.sum())


def test_ewma_recursion_by_hand():
    r = [0.01, -0.02, 0.03]
    s0 = vol.backcast(np.array(r))
    s1 = 0.94 * s0 + 0.06 * 0.01**2
    s2 = 0.94 * s1 + 0.06 * 0.02**2
    s3 = 0.94 * s2 + 0.06 * 0.03**2
    np.testing.assert_allclose(vol.ewma_variance(r), [s0, s1, s2, s3])
    # forecast after 2 and 3 returns: flat one-step variance, h-day variance h·σ²
    mean, sd = vol.EWMA().fit(r).forecast(r, [2, 3], horizon=3)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_allclose(sd[0], np.sqrt(s2 * np.arange(1, 4)))
    np.testing.assert_allclose(sd[1], np.sqrt(s3 * np.arange(1, 4)))


def test_forecasts_read_no_return_after_their_origin(returns):
    for model in (vol.EWMA(), vol.GARCH(), vol.EGARCH()):
        model.fit(returns[:1500])
        a = model.forecast(returns[:1700], [1500, 1600], 5)
        b = model.forecast(returns[:1600], [1500, 1600], 5)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def fit_arch(r, vol_name, o):
    am = arch_model(100 * r, mean="Zero", vol=vol_name, p=1, o=o, q=1, rescale=False)
    return am, am.fit(disp="off")


def test_garch_forecast_equals_arch_s(returns):
    model = vol.GARCH().fit(returns[:1500])
    am, res = fit_arch(returns[:1500], "GARCH", 0)
    np.testing.assert_allclose(model.params_, res.params.to_numpy())
    assert model.converged_
    ends = np.array([1500, 1550, 1800])
    mean, sd = model.forecast(returns, ends, 5)
    full = arch_model(100 * returns[:1800], mean="Zero", vol="GARCH", p=1, q=1, rescale=False)
    theirs = full.forecast(res.params, horizon=5, start=1499, reindex=False).variance.to_numpy()
    step = theirs[ends - 1500] / 1e4  # rows are origins 1499 .., percent² → return²
    np.testing.assert_allclose(sd**2, np.cumsum(step, axis=1), rtol=1e-10)
    np.testing.assert_array_equal(mean, 0.0)


def test_egarch_one_step_equals_arch_s_and_multi_step_its_simulation(returns):
    model = vol.EGARCH().fit(returns[:1500])
    am, res = fit_arch(returns[:1500], "EGARCH", 1)
    np.testing.assert_allclose(model.params_, res.params.to_numpy())
    ends = np.array([1500, 1700])
    _, sd = model.forecast(returns, ends, 4)
    ours = np.diff(np.concatenate([np.zeros((2, 1)), sd**2], axis=1), axis=1) * 1e4
    full = arch_model(100 * returns[:1700], mean="Zero", vol="EGARCH", p=1, o=1, q=1, rescale=False)
    one = full.forecast(res.params, horizon=1, start=1499, reindex=False).variance.to_numpy()
    np.testing.assert_allclose(ours[:, 0], one[ends - 1500, 0], rtol=1e-10)
    sim = np.vstack(
        [
            arch_model(100 * returns[:e], mean="Zero", vol="EGARCH", p=1, o=1, q=1, rescale=False)
            .forecast(
                res.params,
                horizon=4,
                start=e - 1,  # one origin each: arch simulates every row from start on
                reindex=False,
                method="simulation",
                simulations=100_000,
                rng=np.random.default_rng(0).standard_normal,
            )
            .variance.to_numpy()
            for e in ends
        ]
    )
    np.testing.assert_allclose(ours, sim, rtol=0.01)  # Monte Carlo error ~0.2%


def test_egarch_moment_by_quadrature():
    """E exp(c·g(z)) in closed form equals numerical integration over z ~ N(0, 1)."""
    omega, alpha, gamma, beta = 0.0, 0.15, -0.1, 0.9
    got = vol.egarch_step_variances([0.0], omega, alpha, gamma, beta, 2)[0, 1]  # = M(1)
    g = lambda z: alpha * (abs(z) - math.sqrt(2 / math.pi)) + gamma * z  # noqa: E731
    want, _ = integrate.quad(lambda z: math.exp(g(z)) * stats.norm.pdf(z), -40, 40, points=[0])
    assert got == pytest.approx(want, rel=1e-10)


def test_a_failed_fit_falls_back_to_a_constant_variance():
    r = np.zeros(50)  # no variation: arch cannot fit this
    r[::7] = 1e-3
    for cls in (vol.GARCH, vol.EGARCH):
        m = cls().fit(r)
        _, sd = m.forecast(r, [50], 3)
        assert np.all(np.isfinite(sd) & (sd > 0))


def test_fits_are_quiet(returns, capsys, recwarn):
    vol.GARCH().fit(returns[:300] * 50)  # badly scaled: arch would warn
    vol.EGARCH().fit(returns[:300])
    assert capsys.readouterr() == ("", "")
    assert len(recwarn) == 0


def test_random_walks_by_hand():
    r = np.array([0.01, -0.02, 0.03, 0.0])
    s = np.std(r, ddof=1)
    mean, sd = RandomWalk().fit(r).forecast(r, [4, 4], 3)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_allclose(sd, np.tile(s * np.sqrt([1, 2, 3]), (2, 1)))
    mean, sd = RandomWalk(drift=True).fit(r).forecast(r, [4], 2)
    np.testing.assert_allclose(mean, [[0.005, 0.01]])


def test_h_day_forecast_fits_on_everything(returns):
    mean, sd = vol.h_day_forecast(vol.EWMA(), returns, 5)
    assert mean.shape == sd.shape == (5,)
    assert sd[4] == pytest.approx(math.sqrt(5 * vol.ewma_variance(returns)[-1]))


def test_egarch_windows_are_its_forecasts_from_each_window(returns):
    """step_variances_windows: many windows side by side, each as forecast() reads it alone
    (a short window, left-padded, starts its recursion at its own first return)."""
    model = vol.EGARCH().fit(returns[:1500])
    L, ends = 300, np.array([1500, 1650, 120, 2000])
    R, starts = np.zeros((len(ends), L)), np.zeros(len(ends), dtype=np.int64)
    for i, e in enumerate(ends):
        w = returns[max(0, e - L) : e]
        R[i, L - len(w) :], starts[i] = w, L - len(w)
    step = model.step_variances_windows(R, starts, 5)
    for i, e in enumerate(ends):
        w = returns[max(0, e - L) : e]
        _, sd = model.forecast(w, [len(w)], 5)
        np.testing.assert_allclose(np.cumsum(step[i]), sd[0] ** 2, rtol=1e-12)


def test_a_wild_egarch_fit_forecasts_its_bound_instead_of_raising(returns):
    """β > 1 sends the log variance past float range within a few hundred days (a short first
    fold can fit that): the forecast is clipped to the fit's bounds, not an OverflowError."""
    m = vol.EGARCH().fit(returns[:500])
    m.params_ = np.array([5.0, 0.1, 0.0, 1.2])  # explosive: ln σ² grows ~20% a day
    _, sd = m.forecast(returns, [2000], 3)
    assert np.all(np.isfinite(sd)) and sd[0, 0] == pytest.approx(math.sqrt(m.bounds_[1]) / 100)
    m.params_ = np.array([-5.0, 0.1, 0.0, 1.2])  # the other way: σ² toward 0, then swings
    _, sd = m.forecast(returns, [2000], 3)
    var = (100 * sd[0]) ** 2  # h-day variances in percent², each within h times the bounds
    assert np.all(np.isfinite(sd)) and np.all(var >= m.bounds_[0] * (1 - 1e-9))
    assert np.all(var <= 3 * m.bounds_[1] * (1 + 1e-9))
