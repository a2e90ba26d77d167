"""Split-conformal factors: exact order statistics, the Gaussian fallback, and honest coverage
on held-back cases from a series whose volatility switches regimes."""

import json
import math

import numpy as np
import pytest

from forecast.model.conformal import (
    MIN_CASES,
    Calibration,
    Prior,
    calibrate,
    conformal_factors,
    coverage_of,
    cross_coverage,
    gaussian_factor,
    normalised_scores,
)

LEVELS = (0.8, 0.95)


def test_factor_is_the_finite_sample_order_statistic():
    scores = np.arange(1.0, 100.0)  # n = 99, shuffled so sorting matters
    np.random.default_rng(1).shuffle(scores)
    got = conformal_factors(scores, (0.8, 0.95, 0.55))
    assert got[0.8] == 80.0  # k = ⌈100 · 0.8⌉ = 80 → 80th smallest
    assert got[0.95] == 95.0  # k = ⌈100 · 0.95⌉ = 95
    assert got[0.55] == 55.0  # 100 · 0.55 = 55.00000000000001 in floats; still k = 55


def test_nan_scores_are_ignored():
    scores = np.concatenate([np.arange(1.0, 100.0), [np.nan] * 7])
    assert conformal_factors(scores, (0.8,))[0.8] == 80.0


def test_too_few_cases_fall_back_to_gaussian_and_are_flagged():
    few = np.linspace(0.1, 3.0, MIN_CASES - 1)
    assert conformal_factors(few, LEVELS) == pytest.approx({0.8: 1.2815515655, 0.95: 1.9599639845})
    # n = 25 is enough for 80% (k = 21) but not for 99% (k = ⌈26 · 0.99⌉ = 26 > 25)
    cal = calibrate(np.linspace(0.1, 3.0, 25), (0.8, 0.99))
    assert cal.fallback.tolist() == [[False], [True]]
    assert cal.factors[1, 0] == pytest.approx(gaussian_factor(0.99))


def test_coverage_of():
    assert coverage_of([0.5, 1.0, 1.5, 2.0, np.nan], 1.0) == 0.5  # ≤ is inside
    assert math.isnan(coverage_of([np.nan], 1.0))


def regime_cases(rng, days=200_000, H=5):
    """Non-overlapping H-day windows of a series whose daily σ alternates 0.5% / 2% every 50 days.

    Returns r (N, H) realised log returns from each origin, sd (N, H) their true standard
    deviations (what a model that knows the regime would predict), calm (N,) whether the origin
    sits in a calm block.
    """
    sigma_day = np.where((np.arange(days) // 50) % 2 == 0, 0.005, 0.02)  # (days,)
    x = np.cumsum(rng.normal(0.0, sigma_day))  # log price
    var = np.cumsum(sigma_day**2)
    origins = np.arange(0, days - H, H)  # non-overlapping, so cases are independent
    ahead = origins[:, None] + np.arange(1, H + 1)  # (N, H)
    r = x[ahead] - x[origins, None]  # r_h = log p_{o+h} − log p_o
    sd = np.sqrt(var[ahead] - var[origins, None])  # sqrt(Σ σ² over the window)
    return r, sd, sigma_day[origins] == 0.005


def split(a):
    half = len(a) // 2
    return a[:half], a[half:]  # calibrate on the past, test on the held-back future


def tolerance(level, n_cal, n_test):
    # The calibrated factor is an empirical quantile (coverage error ~ sqrt(L(1−L)/n_cal)) and
    # the held-back hit rate is a binomial proportion (~ sqrt(L(1−L)/n_test)); their errors are
    # independent, so the standard error is sqrt(L(1−L)(1/n_cal + 1/n_test)). 4 of them, not 3:
    # one test makes 10 checks, and at 3 s.e. a correct implementation would then fail about
    # 1 seed in 40 (seen when trying seeds 0–39); at 4 s.e. it is ~1 in 1,500. With 20,000 +
    # 20,000 cases that is ±0.016 at 80% and ±0.0087 at 95%, against the ~0.07 miss of the
    # uncalibrated constant-scale band (z·s covers ~73% for a nominal 80%).
    return 4 * math.sqrt(level * (1 - level) * (1 / n_cal + 1 / n_test))


@pytest.mark.parametrize("model", ["knows regime", "wrong scale", "too narrow", "too wide"])
def test_calibrated_bands_cover_nominal_on_held_back_cases(model):
    rng = np.random.default_rng(0)
    r, sd, calm = regime_cases(rng)
    s = {
        "knows regime": sd,
        "wrong scale": np.broadcast_to(0.01 * np.sqrt(np.arange(1, 6)), sd.shape),
        "too narrow": 0.25 * sd,
        "too wide": 4.0 * sd,
    }[model]
    scores = normalised_scores(r, 0.0, s)  # (N, H); the median is 0 for a driftless walk
    cal_scores, test_scores = split(scores)
    cal = calibrate(cal_scores, LEVELS)
    assert not cal.fallback.any()
    for i, level in enumerate(LEVELS):
        tol = tolerance(level, len(cal_scores), len(test_scores))
        for h in range(1, 6):
            got = coverage_of(test_scores[:, h - 1], cal.factor(level, h))
            assert abs(got - level) < tol, f"{model} L={level} h={h}: coverage {got:.4f}"
            assert cal.coverage[i, h - 1] >= level  # in calibration, ≥ L by construction
    if model == "wrong scale":  # the test has power: the uncalibrated band misses by ~0.07
        assert coverage_of(test_scores[:, 0], gaussian_factor(0.8)) < 0.8 - 0.05


def test_calibration_widens_narrow_bands_and_narrows_wide_ones():
    r, sd, _ = regime_cases(np.random.default_rng(0), days=50_000)
    for level in LEVELS:
        z = gaussian_factor(level)
        honest = calibrate(normalised_scores(r, 0.0, sd), LEVELS)
        narrow = calibrate(normalised_scores(r, 0.0, 0.25 * sd), LEVELS)
        wide = calibrate(normalised_scores(r, 0.0, 4.0 * sd), LEVELS)
        i = LEVELS.index(level)
        # true scale: scores are |N(0, 1)|, so c ≈ z (quantile s.e. ≈ 0.01 at n = 10,000)
        np.testing.assert_allclose(honest.factors[i], z, atol=0.05)
        # a band 4× too narrow needs c ≈ 4z, one 4× too wide c ≈ z/4: same band m ± c·s
        np.testing.assert_allclose(narrow.factors[i], 4 * honest.factors[i], rtol=1e-12)
        np.testing.assert_allclose(wide.factors[i], honest.factors[i] / 4, rtol=1e-12)
        assert np.all(narrow.factors[i] > z) and np.all(wide.factors[i] < z)


def test_a_scale_that_knows_the_regime_is_also_right_within_each_regime():
    # Marginal coverage is guaranteed for any scale; only a scale that tracks volatility
    # gives the right coverage on calm and wild days separately.
    r, sd, calm = regime_cases(np.random.default_rng(0))
    wrong = np.broadcast_to(0.01 * np.sqrt(np.arange(1, 6)), sd.shape)
    _, calm_test = split(calm)
    for s, regime_aware in ((sd, True), (wrong, False)):
        cal_scores, test_scores = split(normalised_scores(r, 0.0, s))
        c = calibrate(cal_scores, (0.8,)).factor(0.8, 1)
        in_calm = coverage_of(test_scores[calm_test, 0], c)
        in_wild = coverage_of(test_scores[~calm_test, 0], c)
        if regime_aware:
            assert abs(in_calm - 0.8) < tolerance(0.8, len(cal_scores), calm_test.sum())
            assert abs(in_wild - 0.8) < tolerance(0.8, len(cal_scores), (~calm_test).sum())
        else:
            # constant σ = 1%: calm days (σ = 0.5%) are almost always inside, wild days
            # (σ = 2%) only ~60% of the time
            assert in_calm > 0.95 and in_wild < 0.7


def test_factor_lookup_and_json_round_trip():
    scores = np.abs(np.random.default_rng(2).normal(size=(200, 3)))
    scores[:150, 2] = np.nan  # horizon 3: only 50 cases
    cal = calibrate(scores, LEVELS)
    assert cal.n.tolist() == [200, 200, 50]
    assert cal.factor(0.8, 2) == cal.factors[0, 1]
    back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict(), allow_nan=False)))
    np.testing.assert_array_equal(back.factors, cal.factors)
    np.testing.assert_array_equal(back.coverage, cal.coverage)
    np.testing.assert_array_equal(back.n, cal.n)
    assert back.levels == LEVELS
    # a level never calibrated, with no scores kept (an old model file): the Gaussian z, flagged
    factors, coverage, fallback = cal.at(0.5)
    assert factors == pytest.approx([0.6744897502] * 3) and fallback.all()
    assert np.isnan(coverage).all()


def test_any_level_is_calibrated_from_the_kept_scores_like_the_stored_ones():
    """A level asked for at forecast time gets exactly the factor and held-out coverage that
    calibrating it with the stored levels would have given, and survives the model file."""
    from dataclasses import replace

    scores = np.abs(np.random.default_rng(3).normal(size=(300, 4)))
    together = calibrate(scores, (0.8, 0.9, 0.95))
    cal = replace(calibrate(scores, LEVELS), scores=scores, held_out="cross")
    factors, coverage, fallback = cal.at(0.9)
    np.testing.assert_array_equal(factors, together.factors[1])
    np.testing.assert_array_equal(coverage, cross_coverage(scores, (0.9,))[0])
    assert not fallback.any()
    assert cal.factor(0.9, 2) == together.factors[1, 1]
    back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict(), allow_nan=False)))
    np.testing.assert_allclose(back.at(0.9)[0], factors, atol=1e-6)  # scores kept to 6 decimals
    half = replace(cal, held_out="half")  # factors from the first half, coverage on the rest
    first = calibrate(scores[:150], (0.9,)).factors[0]
    np.testing.assert_array_equal(half.at(0.9)[0], first)
    assert half.at(0.9)[1][0] == pytest.approx(np.mean(scores[150:, 0] <= first[0]))


def test_empty_horizon_is_json_safe():
    scores = np.full((5, 2), np.nan)
    scores[:, 0] = 1.0
    d = calibrate(scores, LEVELS).to_dict()
    json.dumps(d, allow_nan=False)
    assert d["coverage"][0][1] is None and d["n"] == [5, 0]


def test_cross_coverage_is_measured_on_the_half_that_did_not_set_the_factor():
    """Calm first half, wild second half: each half's factor misjudges the other, and the
    cross-fitted coverage shows it, while in-sample coverage would read nominal."""
    from forecast.model.conformal import calibrate, cross_coverage

    rng = np.random.default_rng(0)
    e = np.abs(np.concatenate([rng.normal(0, 1, 400), rng.normal(0, 2, 400)]))[:, None]
    cov = cross_coverage(e, (0.8,))
    in_sample = calibrate(e, (0.8,)).coverage
    assert in_sample[0, 0] == pytest.approx(0.8, abs=0.01)
    fa = calibrate(e[:400], (0.8,)).factors[0, 0]
    fb = calibrate(e[400:], (0.8,)).factors[0, 0]
    want = 0.5 * (np.mean(e[400:, 0] <= fa) + np.mean(e[:400, 0] <= fb))
    assert cov[0, 0] == pytest.approx(want)
    assert abs(cov[0, 0] - 0.8) > 0.05  # the regime change is visible


def test_min_crps_scale_recovers_the_true_variance_ratio():
    from forecast.model.conformal import crps_gaussian0, min_crps_scale

    rng = np.random.default_rng(1)
    sd = rng.uniform(0.5, 2.0, 20000)
    y = rng.normal(0, 1, 20000) * sd * np.sqrt(1.5)  # true variance 1.5 sd^2
    assert min_crps_scale(y, sd) == pytest.approx(1.5, rel=0.05)
    # CRPS formula: at y = 0 it is sd (2 phi(0) - 1/sqrt(pi)) = sd (sqrt(2) - 1) / sqrt(pi)
    assert crps_gaussian0(np.array([0.0]), np.array([2.0]))[0] == pytest.approx(
        2 * (np.sqrt(2) - 1) / np.sqrt(np.pi)
    )


def test_scores_all_zero_give_the_smallest_positive_factor():
    from forecast.model.conformal import MIN_FACTOR, calibrate

    cal = calibrate(np.zeros((50, 2)))
    assert np.all(cal.factors == MIN_FACTOR) and not cal.fallback.any()


# --- shrinkage toward the model's own scale (Prior) ------------------------------------------


def test_prior_factor_is_the_unit_variance_t_quantile_at_the_models_scale():
    gauss = Prior(scale=1.5, cases=40.0)
    assert gauss.factor(0.95) == pytest.approx(1.5 * 1.9599639845)
    # t(6) of unit variance, from draws: its variance is 1 and its |quantiles| are the factors
    rng = np.random.default_rng(0)
    draws = rng.standard_t(6, 2_000_000) * math.sqrt(4 / 6)
    assert draws.var() == pytest.approx(1.0, abs=0.01)
    t6 = Prior(scale=2.0, cases=40.0, nu=6.0)
    for level in (0.8, 0.95, 0.98):
        assert t6.factor(level) == pytest.approx(2.0 * np.quantile(np.abs(draws), level), rel=5e-3)
    # heavy tails: narrower than the Gaussian at 80%, wider at 98%
    assert t6.factor(0.8) < Prior(2.0, 40.0).factor(0.8)
    assert t6.factor(0.98) > Prior(2.0, 40.0).factor(0.98)


def test_shrunk_factor_weighs_conformal_and_prior_by_the_cases_beyond_the_quantile():
    scores = np.random.default_rng(3).standard_normal((270, 2)) ** 2
    plain = calibrate(scores, LEVELS)
    prior = Prior(scale=1.2, cases=40.0, nu=6.0)
    shrunk = calibrate(scores, LEVELS, prior)
    for i, L in enumerate(LEVELS):
        k = 270 * (1 - L)
        want = (k * plain.factors[i] + 40.0 * prior.factor(L)) / (k + 40.0)
        np.testing.assert_allclose(shrunk.factors[i], want, rtol=1e-12)
    # no prior cases: plain split conformal; overwhelming ones: the prior
    np.testing.assert_array_equal(calibrate(scores, LEVELS, Prior(1.2, 0.0)).factors, plain.factors)
    huge = calibrate(scores, LEVELS, Prior(1.2, 1e12, 6.0))
    np.testing.assert_allclose(huge.factors[1], prior.factor(0.95), rtol=1e-9)


def test_shrinkage_makes_the_95_percent_factor_closer_to_the_truth():
    # 270 validation cases of t(6) errors at a scale the model knows, and a prior that is
    # wrong about their tails (Gaussian): the shrunk 95% factor is still nearer the true
    # quantile than the bare order statistic, over many draws
    rng = np.random.default_rng(7)
    prior = Prior(scale=1.0, cases=40.0)
    truth = Prior(scale=1.0, cases=40.0, nu=6.0).factor(0.95)
    err_plain, err_shrunk = [], []
    for _ in range(400):
        scores = np.abs(rng.standard_t(6, 270) * math.sqrt(4 / 6))
        err_plain.append(conformal_factors(scores, (0.95,))[0.95] - truth)
        err_shrunk.append(calibrate(scores, (0.95,), prior).factors[0, 0] - truth)
    assert np.sqrt(np.mean(np.square(err_shrunk))) < 0.5 * np.sqrt(np.mean(np.square(err_plain)))


def test_prior_is_kept_by_the_json_round_trip_and_by_any_other_level():
    scores = np.random.default_rng(5).standard_normal((120, 3)) ** 2
    prior = Prior(scale=0.9, cases=40.0, nu=6.0)
    cal = calibrate(scores, LEVELS, prior)
    cal = Calibration(
        cal.levels, cal.factors, cal.coverage, cal.n, cal.fallback, scores, "cross", prior
    )
    back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back.prior == prior
    np.testing.assert_allclose(back.at(0.9)[0], calibrate(scores, (0.9,), prior).factors[0])
    np.testing.assert_allclose(back.at(0.9)[1], cross_coverage(scores, (0.9,), prior)[0])
    gauss = Calibration.from_dict({**cal.to_dict(), "prior": Prior(0.9, 40.0).to_dict()})
    assert gauss.prior.nu == math.inf  # JSON null: Gaussian
    for bad in ({"scale": 0.0, "cases": 40.0, "nu": 6.0}, {"scale": 1.0, "cases": 40.0, "nu": 2.0}):
        with pytest.raises(ValueError, match="calibration prior"):
            Calibration.from_dict({**cal.to_dict(), "prior": bad})


# --- recency weights of the scale f ---------------------------------------------------------


def test_recency_weights_halve_every_half_life():
    from forecast.model.conformal import recency_weights

    w = recency_weights(5, 2.0)
    np.testing.assert_allclose(w, [2 ** (-5 / 2), 2 ** (-2), 2 ** (-3 / 2), 0.5, 2 ** (-1 / 2)])


def test_min_crps_scale_with_recency_weights_follows_the_recent_variance():
    from forecast.model.conformal import min_crps_scale

    rng = np.random.default_rng(12)
    sd = np.ones(4000)
    y = rng.normal(0, 1, 4000) * np.where(np.arange(4000) < 3000, 1.0, np.sqrt(1.8))
    plain, recent = min_crps_scale(y, sd), min_crps_scale(y, sd, half_life=100.0)
    assert plain == pytest.approx(1.2, rel=0.1)  # 3/4 of the cases at 1, 1/4 at 1.8
    assert recent == pytest.approx(1.8, rel=0.1)
    assert min_crps_scale(y, sd, half_life=math.inf) == plain  # equal weights: the plain mean


def test_shrunk_bands_do_not_depend_on_the_scale_f():
    """Scores in units of sqrt(f) sd and the prior at the unscaled sd (1/sqrt(f)): the band
    c sqrt(f) sd is the same for every f, so choosing f moves CRPS and sigma, never a band."""
    rng = np.random.default_rng(9)
    sd = rng.uniform(0.5, 2.0, (300, 3))
    y = np.abs(rng.standard_t(6, (300, 3))) * sd
    widths = []
    for f in (0.7, 1.0, 1.3):
        cal = calibrate(y / (math.sqrt(f) * sd), LEVELS, Prior(1 / math.sqrt(f), 40.0, 6.0))
        widths.append(cal.factors * math.sqrt(f))
    np.testing.assert_allclose(widths[0], widths[1], rtol=1e-12)
    np.testing.assert_allclose(widths[2], widths[1], rtol=1e-12)
