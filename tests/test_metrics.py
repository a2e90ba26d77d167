"""Every accuracy score against numbers worked out by hand on tiny arrays."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from forecast.evaluation.metrics import (
    coverage,
    crps_gaussian,
    crps_gaussian_cases,
    diebold_mariano,
    diebold_mariano_losses,
    direction_accuracy,
    direction_vs_base_rate,
    interval_score,
    mae,
    mase,
    naive_scale,
    nll_gaussian,
    nll_gaussian_cases,
    relative_mae,
    rmse,
)

Y = np.array([1.0, 2.0, 3.0, 4.0])
YHAT = np.array([2.0, 2.0, 1.0, 5.0])  # errors y − ŷ = [−1, 0, 2, −1]


def test_mae_and_rmse():
    assert mae(Y, YHAT) == pytest.approx((1 + 0 + 2 + 1) / 4)
    assert rmse(Y, YHAT) == pytest.approx(math.sqrt((1 + 0 + 4 + 1) / 4))


def test_relative_mae():
    naive = np.zeros(4)  # |y − 0| = [1, 2, 3, 4], MAE 2.5
    assert relative_mae(Y, YHAT, naive) == pytest.approx(1.0 / 2.5)


def test_relative_mae_of_naive_is_exactly_one(rng):
    y = rng.normal(100, 5, size=50)
    naive = np.full(50, 101.3)
    assert relative_mae(y, naive, naive) == 1.0


def test_relative_mae_is_nan_when_naive_is_perfect():
    assert math.isnan(relative_mae(Y, YHAT, Y))


def test_naive_scale_and_mase():
    assert naive_scale([10.0, 12.0, 11.0, 15.0]) == pytest.approx((2 + 1 + 4) / 3)
    assert mase(Y, YHAT, 0.5) == pytest.approx(1.0 / 0.5)
    # per-case scales: |e|/s = [1/1, 0/2, 2/4, 1/0.5] = [1, 0, 0.5, 2]
    assert mase(Y, YHAT, [1.0, 2.0, 4.0, 0.5]) == pytest.approx(3.5 / 4)


def test_naive_scale_needs_two_prices():
    with pytest.raises(ValueError):
        naive_scale([10.0])


def test_direction_accuracy_excludes_no_call_and_no_move():
    y_ref = np.full(6, 10.0)
    yhat = np.array([11.0, 9.0, 12.0, 10.0, 11.0, 8.0])  # up, down, up, none, up, down
    y = np.array([12.0, 8.0, 9.0, 11.0, 10.0, 7.0])  # up, down, down, up, none, down
    acc, n, p = direction_accuracy(y, yhat, y_ref)
    # counted: cases 0, 1, 2, 5 → hits 0, 1, 5
    assert n == 4
    assert acc == pytest.approx(3 / 4)
    # two-sided exact binomial, n = 4, k = 3: P(X ≥ 3) + P(X ≤ 1) = 5/16 + 5/16
    assert p == pytest.approx(10 / 16)


def test_direction_accuracy_of_naive_is_undefined():
    y_ref = np.array([10.0, 20.0])
    acc, n, p = direction_accuracy(np.array([11.0, 19.0]), y_ref.copy(), y_ref)
    assert n == 0 and math.isnan(acc) and math.isnan(p)


def test_coverage_counts_the_closed_interval():
    lower = np.array([0.0, 2.0, 3.5, 0.0])
    upper = np.array([2.0, 3.0, 4.0, 3.9])
    # 1 ∈ [0, 2], 2 ∈ [2, 3] (on the edge), 3 ∉ [3.5, 4], 4 ∉ [0, 3.9]
    assert coverage(Y, lower, upper) == 0.5


def test_interval_score():
    lower = np.array([0.0, 2.0, 3.5, 0.0])
    upper = np.array([2.0, 3.0, 4.0, 3.9])
    # widths 2 + 1 + 0.5 + 3.9; misses 2/0.2·(3.5 − 3) = 5 and 2/0.2·(4 − 3.9) = 1
    assert interval_score(Y, lower, upper, alpha=0.2) == pytest.approx((7.4 + 5 + 1) / 4)


def test_crps_gaussian_by_hand():
    # z = 0: σ·(2φ(0) − 1/√π) = σ·(√2 − 1)/√π
    assert crps_gaussian([3.0], [3.0], [2.0]) == pytest.approx(
        2 * (math.sqrt(2) - 1) / math.sqrt(math.pi)
    )
    # z = 1, σ = 1: (2Φ(1) − 1) + 2φ(1) − 1/√π with Φ(1) = 0.841344746…, φ(1) = 0.241970724…
    want = (2 * 0.8413447460685429 - 1) + 2 * 0.24197072451914337 - 1 / math.sqrt(math.pi)
    assert crps_gaussian([1.0], [0.0], [1.0]) == pytest.approx(want, rel=1e-12)


def test_crps_gaussian_matches_its_definition():
    # CRPS = ∫ (F(x) − 1[x ≥ y])² dx, integrated numerically as an independent oracle.
    mu, sigma, y = 0.3, 1.7, -1.1
    F = stats.norm(mu, sigma).cdf
    below, _ = integrate.quad(lambda x: F(x) ** 2, -np.inf, y)
    above, _ = integrate.quad(lambda x: (1 - F(x)) ** 2, y, np.inf)
    assert crps_gaussian([y], [mu], [sigma]) == pytest.approx(below + above, rel=1e-7)


# Diebold–Mariano: |e_model| = 4 + d with d = [−3, −2, −1, 0, 1, −1] against |e_naive| = 4.
# d̄ = −1, d − d̄ = [−2, −1, 0, 1, 2, 0]; γ_0 = 10/6, γ_1 = (2 + 0 + 0 + 2 + 0)/6 = 4/6.
DM_MODEL = np.array([1.0, -2.0, 3.0, -4.0, 5.0, -3.0])
DM_NAIVE = np.array([4.0, -4.0, 4.0, 4.0, -4.0, 4.0])


def test_diebold_mariano_by_hand_h1():
    # V = γ_0/6 = 10/36, DM = −1/√V = −6/√10; HLN: k² = (6 + 1 − 2)/6 = 5/6
    stat, p = diebold_mariano(DM_MODEL, DM_NAIVE, h=1)
    want = -6 / math.sqrt(10) * math.sqrt(5 / 6)
    assert stat == pytest.approx(want, rel=1e-12)
    assert p == pytest.approx(2 * stats.t.sf(abs(want), df=5), rel=1e-12)


def test_diebold_mariano_by_hand_h2_uses_the_lag_one_autocovariance():
    # V = (γ_0 + 2γ_1)/6 = (10/6 + 8/6)/6 = 1/2, DM = −√2; k² = (6 + 1 − 4 + 2/6)/6 = 5/9
    stat, p = diebold_mariano(DM_MODEL, DM_NAIVE, h=2)
    want = -math.sqrt(10) / 3
    assert stat == pytest.approx(want, rel=1e-12)
    assert p == pytest.approx(2 * stats.t.sf(math.sqrt(10) / 3, df=5), rel=1e-12)


def test_diebold_mariano_negative_hac_variance_falls_back_to_h1():
    # d = [−1, 0, −2, 1]: γ_0 = 5/4, γ_1 = −13/16, so γ_0 + 2γ_1 < 0 → V = γ_0/4 = 5/16
    # DM = −0.5/√(5/16) → DM² = 0.8; k² at h = 2 is (4 + 1 − 4 + 2/4)/4 = 3/8
    stat, _ = diebold_mariano([1.0, 2.0, 0.0, 3.0], [2.0, 2.0, 2.0, 2.0], h=2)
    assert stat == pytest.approx(-math.sqrt(0.8 * 3 / 8), rel=1e-12)


def test_diebold_mariano_is_symmetric_and_flat_for_identical_forecasts(rng):
    e1, e2 = rng.normal(size=40), rng.normal(size=40)
    s12, p12 = diebold_mariano(e1, e2, h=3)
    s21, p21 = diebold_mariano(e2, e1, h=3)
    assert s12 == pytest.approx(-s21) and p12 == pytest.approx(p21)
    assert diebold_mariano(e1, e1.copy(), h=3) == (0.0, 1.0)


# --- added with the volatility yardsticks ------------------------------------------------------


def test_crps_cases_by_numerical_integration():
    """CRPS(F, y) = ∫ (F(x) − 1[x ≥ y])² dx for each case, against the closed form."""
    y, mu, sigma = (
        np.array([0.01, -0.03, 0.0]),
        np.array([0.0, 0.01, 0.002]),
        np.array([0.02, 0.015, 0.01]),
    )
    want = [
        integrate.quad(
            lambda x, v=v, m=m, s=s: (stats.norm.cdf(x, m, s) - (x >= v)) ** 2,
            m - 12 * s,
            m + 12 * s,
            points=[v],
        )[0]
        for v, m, s in zip(y, mu, sigma, strict=True)
    ]
    np.testing.assert_allclose(crps_gaussian_cases(y, mu, sigma), want, rtol=1e-6)
    assert crps_gaussian(y, mu, sigma) == pytest.approx(np.mean(want), rel=1e-6)


def test_nll_is_scipy_s_negative_logpdf():
    y, mu, sigma = np.array([0.01, -0.03]), np.array([0.0, 0.01]), np.array([0.02, 0.015])
    want = -stats.norm.logpdf(y, mu, sigma)
    np.testing.assert_allclose(nll_gaussian_cases(y, mu, sigma), want)
    assert nll_gaussian(y, mu, sigma) == pytest.approx(want.mean())
    # by hand for one case: ½ log(2π·0.02²) + 0.01²/(2·0.02²)
    assert nll_gaussian_cases([0.01], [0.0], [0.02])[0] == pytest.approx(
        0.5 * math.log(2 * math.pi * 0.0004) + 0.0001 / 0.0008
    )


def test_direction_against_the_better_constant_call():
    y_ref = np.full(8, 10.0)
    y = np.array([11, 12, 9, 11, 12, 13, 8, 11.0])  # 6 up, 2 down: always "up" scores 75%
    yhat = np.array([11, 11, 9, 11, 11, 11, 11, 9.0])  # hits: 1,1,1,1,1,1,0,0 → 6 of 8
    acc, n, q, p = direction_vs_base_rate(y, yhat, y_ref)
    assert (acc, n, q) == (0.75, 8, 0.75)
    assert p == pytest.approx(stats.binomtest(6, 8, 0.75, alternative="greater").pvalue)
    # mostly down days: the better constant call is "down", at 1 − q
    acc, n, q, p = direction_vs_base_rate(20 - y, 20 - yhat, y_ref)
    assert q == 0.25 and p == pytest.approx(
        stats.binomtest(6, 8, 0.75, alternative="greater").pvalue
    )
    assert direction_vs_base_rate(y, y_ref, y_ref)[1] == 0  # no calls


def test_diebold_mariano_on_losses_matches_the_error_version(rng):
    e1, e2 = rng.normal(size=80), rng.normal(size=80) * 1.3
    assert diebold_mariano_losses(np.abs(e1), np.abs(e2), 3) == diebold_mariano(e1, e2, 3)
    # on CRPS: a sharper correct forecast beats a vague one
    y = rng.normal(size=300)
    sharp = crps_gaussian_cases(y, np.zeros(300), np.ones(300))
    vague = crps_gaussian_cases(y, np.zeros(300), np.full(300, 3.0))
    stat, p = diebold_mariano_losses(sharp, vague, 1)
    assert stat < 0 and p < 1e-6
