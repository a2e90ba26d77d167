"""VaR, ES and variance-forecast backtests against published values and hand computations."""

import math

import numpy as np
import pytest
from scipy import stats

from forecast.evaluation.riskbacktests import (
    acerbi_szekely_z2,
    basel_zone,
    christoffersen,
    kupiec,
    mse_cases,
    non_overlapping,
    qlike_cases,
    transitions,
    z2_test,
)
from forecast.model.valueatrisk import var_es, var_es_log


def hits(x: int, T: int) -> np.ndarray:
    return np.r_[np.ones(x, bool), np.zeros(T - x, bool)]


# --- Kupiec ------------------------------------------------------------------------------------


def test_kupiec_by_hand():
    """T = 250, x = 5, p = 0.01, the formula written out (Kupiec 1995)."""
    T, x, p = 250, 5, 0.01
    expected = -2 * (245 * math.log(0.99) + 5 * math.log(0.01)) + 2 * (
        245 * math.log(0.98) + 5 * math.log(0.02)
    )
    lr, pv = kupiec(hits(x, T), p)
    assert lr == pytest.approx(expected, rel=1e-12)
    assert lr == pytest.approx(1.9568, abs=1e-4)
    assert pv == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-12)
    # no exceedance at all: only the first term, −2 T ln(1 − p)
    assert kupiec(hits(0, 250), 0.01)[0] == pytest.approx(-2 * 250 * math.log(0.99))


# Jorion (2007), Value at Risk, 3rd ed., Table 6-3 (after Kupiec 1995): the numbers N of
# exceptions in T days that the 5% test does not reject, lo < N < hi
JORION = [
    (0.01, 510, 1, 11),
    (0.01, 1000, 4, 17),
    (0.025, 252, 2, 12),
    (0.025, 510, 6, 21),
    (0.025, 1000, 15, 36),
    (0.05, 252, 6, 20),
    (0.05, 510, 16, 36),
    (0.05, 1000, 37, 65),
    (0.075, 252, 11, 28),
    (0.075, 510, 27, 51),
    (0.075, 1000, 59, 92),
    (0.10, 252, 16, 36),
    (0.10, 510, 38, 65),
    (0.10, 1000, 81, 120),
]


@pytest.mark.parametrize("p,T,lo,hi", JORION)
def test_kupiec_non_rejection_regions_match_the_published_table(p, T, lo, hi):
    accepted = [x for x in range(T + 1) if kupiec(hits(x, T), p)[1] >= 0.05]
    assert (min(accepted), max(accepted)) == (lo + 1, hi - 1)


def test_kupiec_at_99_over_252_days_accepts_up_to_6():
    """Jorion's row for p = 0.01, T = 252 reads N < 7 (zero exceptions, LR 5.07, is not
    penalised there, though the LR test alone rejects it)."""
    assert kupiec(hits(6, 252), 0.01)[1] >= 0.05 > kupiec(hits(7, 252), 0.01)[1]


# --- Christoffersen ----------------------------------------------------------------------------


def test_christoffersen_by_hand_and_by_brute_force_likelihood():
    h = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    assert transitions(h) == (10, 3, 3, 3)  # counted by eye: n00, n01, n10, n11
    n00, n01, n10, n11 = 10, 3, 3, 3
    pi01, pi11, pi = 3 / 13, 3 / 6, 6 / 19
    by_hand = -2 * ((n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi)) + 2 * (
        n00 * math.log(1 - pi01) + n01 * math.log(pi01) + n10 * math.log(1 - pi11)
        + n11 * math.log(pi11)
    )  # fmt: skip
    out = christoffersen(h, 0.05)
    assert out["lr_ind"] == pytest.approx(by_hand, rel=1e-12)
    # the second oracle: maximise both likelihoods over a fine grid
    grid = np.linspace(1e-4, 1 - 1e-4, 20001)

    def best(zeros, ones):
        return np.max(zeros * np.log(1 - grid) + ones * np.log(grid))

    brute = 2 * (best(n00, n01) + best(n10, n11) - best(n00 + n10, n01 + n11))
    assert out["lr_ind"] == pytest.approx(brute, abs=1e-5)
    uc = kupiec(h[1:], 0.05)[0]
    assert out["lr_cc"] == pytest.approx(uc + by_hand)
    assert out["p_ind"] == pytest.approx(stats.chi2.sf(by_hand, 1))
    assert out["p_cc"] == pytest.approx(stats.chi2.sf(uc + by_hand, 2))


def test_christoffersen_sees_clusters_that_kupiec_cannot():
    """Five exceedances in 250 days at 99% pass Kupiec wherever they fall, but five in a row
    fail the independence test; spread out, they pass."""
    clustered = np.zeros(250, bool)
    clustered[100:105] = True
    spread = np.zeros(250, bool)
    spread[[20, 70, 120, 170, 220]] = True
    assert kupiec(clustered, 0.01) == kupiec(spread, 0.01)
    assert christoffersen(clustered, 0.01)["p_ind"] < 0.001
    assert christoffersen(spread, 0.01)["p_ind"] > 0.5
    # spread: n00 = 239, n01 = 5, n10 = 5, n11 = 0, so π_01 = 5/244, π_11 = 0, π = 5/249
    assert transitions(spread) == (239, 5, 5, 0)
    assert christoffersen(spread, 0.01)["lr_ind"] == pytest.approx(
        2 * (239 * math.log(239 / 244) + 5 * math.log(5 / 244) + 5 * math.log(1.0))
        - 2 * (244 * math.log(244 / 249) + 5 * math.log(5 / 249)),
        abs=1e-9,
    )


# --- Basel --------------------------------------------------------------------------------------


def test_basel_zones_and_their_cumulative_probabilities():
    """Basel Committee (1996), Table 2: cumulative probability of k exceptions in 250 days at
    99%, and the zones: green 0–4, yellow 5–9, red 10 or more."""
    published = [8.11, 28.58, 54.32, 75.81, 89.22, 95.88, 98.63, 99.60, 99.89, 99.97, 99.99]
    for k, pct in enumerate(published):
        assert 100 * stats.binom.cdf(k, 250, 0.01) == pytest.approx(pct, abs=0.005)
    assert [basel_zone(k) for k in range(13)] == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 3


# --- Expected Shortfall -------------------------------------------------------------------------


def test_z2_by_hand():
    X = np.array([-0.05, 0.01, -0.02, 0.03])
    var = np.full(4, 0.03)
    es = np.full(4, 0.04)
    # only the first case exceeds: Z2 = (−0.05 / 0.04) / (4 · 0.1) + 1
    assert acerbi_szekely_z2(X, var, es, 0.1) == pytest.approx(-1.25 / 0.4 + 1)


def test_z2_five_percent_critical_value_matches_acerbi_szekely():
    """Acerbi & Székely (2014): with T = 250 and ES at 97.5%, 5% of Z2 lie below about −0.70
    when the forecast distribution is right; its mean is 0."""
    a, T = 0.975, 250
    var, es = var_es_log(0.0, 1.0, a)
    rng = np.random.default_rng(0)
    z = [
        acerbi_szekely_z2(rng.standard_normal(T), np.full(T, var), np.full(T, es), 1 - a)
        for _ in range(4000)
    ]
    assert np.quantile(z, 0.05) == pytest.approx(-0.70, abs=0.06)
    assert abs(np.mean(z)) < 0.03


def test_z2_test_rejects_an_understated_risk_and_not_an_honest_one():
    a, T = 0.975, 500
    rng = np.random.default_rng(1)
    X = rng.standard_normal(T) * 0.02
    var, es = var_es_log(0.0, 0.02, a)

    def simulate(sd):
        return lambda g, S: g.standard_normal((S, T)) * sd

    honest = z2_test(X, np.full(T, var), np.full(T, es), 1 - a, simulate(0.02))
    v_low, e_low = var_es_log(0.0, 0.013, a)  # sd understated by a third
    low = z2_test(X, np.full(T, v_low), np.full(T, e_low), 1 - a, simulate(0.013))
    assert honest[1] > 0.05 and low[1] < 0.01 and low[0] < honest[0]


# --- VaR and ES of a Gaussian -------------------------------------------------------------------


def test_gaussian_var_es_reference_values():
    """McNeil, Frey & Embrechts (2015), Example 2.14: VaR_a = z_a σ and ES_a = σ φ(z_a)/(1 − a)
    for N(0, σ²) losses; ES 97.5% = 2.338σ ≈ VaR 99% = 2.326σ (the FRTB equivalence)."""
    assert var_es_log(0.0, 1.0, 0.99)[0] == pytest.approx(2.3263479, abs=1e-6)
    assert var_es_log(0.0, 1.0, 0.99)[1] == pytest.approx(2.6652142, abs=1e-6)
    assert var_es_log(0.0, 1.0, 0.975)[1] == pytest.approx(2.3378027, abs=1e-6)
    assert var_es_log(0.0, 1.0, 0.95) == pytest.approx((1.6448536, 2.0627128), abs=1e-6)


def test_lognormal_var_es_against_monte_carlo():
    """The position's VaR and ES (fractions of its value) from x ~ N(m, σ²), long and short,
    against a million draws of 1 − e^x and e^x − 1."""
    m, sd, a = 0.001, 0.05, 0.975
    x = np.random.default_rng(0).normal(m, sd, 1_000_000)
    for short, loss in ((False, 1 - np.exp(x)), (True, np.exp(x) - 1)):
        var, es = var_es(m, sd, a, short)
        q = np.quantile(loss, a)
        assert var == pytest.approx(q, rel=5e-3)
        assert es == pytest.approx(loss[loss >= q].mean(), rel=5e-3)
    # the long VaR is the edge of N(m, σ²)'s (2a − 1) band read as a loss
    assert var_es(m, sd, a)[0] == pytest.approx(1 - math.exp(m - 1.959963985 * sd))


# --- variance losses ----------------------------------------------------------------------------


def test_qlike_and_mse_by_hand_and_least_at_the_true_variance():
    assert qlike_cases(0.02**2, 0.0004) == pytest.approx(math.log(0.0004) + 1.0)
    assert mse_cases(0.03**2, 0.0004) == pytest.approx((0.0009 - 0.0004) ** 2)
    # Patton (2011): both are robust, their expectation is least at the true variance
    y2 = np.random.default_rng(0).standard_normal(200_000) ** 2 * 1e-4
    hs = np.array([0.5e-4, 0.8e-4, 1e-4, 1.25e-4, 2e-4])
    assert np.argmin([qlike_cases(y2, h).mean() for h in hs]) == 2
    assert np.argmin([mse_cases(y2, h).mean() for h in hs]) == 2


def test_non_overlapping_origins():
    assert non_overlapping(10, 1).tolist() == list(range(10))
    assert non_overlapping(10, 3).tolist() == [0, 3, 6, 9]


def test_var_es_limits_when_sigma_is_huge():
    """A diverged model's sigma overflows E e^x: ES takes its limit (a long position loses at
    most everything: 1; a short one without bound), never NaN, and no warning is raised."""
    import warnings

    from forecast.model.valueatrisk import var_es

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        var, es = var_es(np.array([0.0]), np.array([50.0]), 0.99)
        assert var[0] == pytest.approx(1.0) and es[0] == 1.0
        _, es_short = var_es(np.array([0.0]), np.array([50.0]), 0.99, short=True)
        assert es_short[0] == np.inf
