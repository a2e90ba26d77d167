"""The calibrated predictive distribution: nested, widening bands; VaR at the band's edge."""

import math

import numpy as np
import pytest

from forecast.errors import UsageError
from forecast.model.conformal import Calibration
from forecast.model.predictive import Predictive, band_level, check_levels
from forecast.model.valueatrisk import sessions_per_year, var_es


def calibration(factors_by_level: dict[float, list[float]]) -> Calibration:
    levels = tuple(sorted(factors_by_level))
    f = np.array([factors_by_level[L] for L in levels], float)
    return Calibration(
        levels, f, np.full(f.shape, np.nan), np.zeros(f.shape[1]), np.zeros(f.shape, bool)
    )


def test_bands_nest_across_levels_and_never_narrow_with_the_horizon():
    """Factors that cross between levels (h = 1) and dip with h (h = 3) still give bands
    where the wider level holds the narrower and no edge comes back in."""
    cal = calibration({0.8: [1.3, 1.3, 0.9, 1.3], 0.95: [1.2, 2.0, 1.5, 2.0]})
    spread = np.array([0.010, 0.014, 0.017, 0.020])
    dist = Predictive(100.0, np.zeros(4), spread, spread, np.full(4, 0.5), cal)
    w = dist.half_widths([0.8, 0.95])
    np.testing.assert_allclose(w[0.8], [0.013, 0.0182, 0.0182, 0.026])  # h3's dip held at h2's
    np.testing.assert_allclose(w[0.95], [0.013, 0.028, 0.028, 0.040])  # h1: at least the 80%'s
    bands = dist.bands([0.8, 0.95])
    (lo80, hi80), (lo95, hi95) = bands[0.8], bands[0.95]
    assert np.all(lo95 <= lo80) and np.all(hi80 <= hi95)
    assert np.all(np.diff(lo95) <= 0) and np.all(np.diff(hi95) >= 0)


def test_a_drifting_centre_moves_both_edges_but_no_band_narrows():
    """The other heads' median drifts: the half-width (what cannot shrink) is non-decreasing
    while the edges follow the centre, so a lower edge may rise (README, "predict")."""
    cal = calibration({0.8: [1.3, 1.2, 1.3], 0.95: [2.0, 1.9, 2.0]})
    spread = np.array([0.010, 0.010, 0.011])
    center = np.array([0.0, 0.03, 0.06])  # a strong upward drift
    dist = Predictive(100.0, center, spread, spread, np.full(3, 0.5), cal)
    for lo, hi in dist.bands([0.8, 0.95]).values():
        half = 0.5 * np.log(hi / lo)
        assert np.all(np.diff(half) >= -1e-15)  # h = 2's dip is held at h = 1's width
        np.testing.assert_allclose(0.5 * np.log(hi * lo / 100.0**2), center, atol=1e-15)
    assert np.all(np.diff(dist.bands([0.95])[0.95][0]) > 0)  # the lower edge rises with it


def test_var_is_the_edge_of_the_two_sided_band_and_es_its_gaussian_tail():
    cal = calibration({0.8: [1.28, 1.3], 0.9: [1.7, 1.66], 0.95: [2.0, 1.9]})
    spread = np.array([0.01, 0.015])
    center = np.array([0.001, 0.002])
    dist = Predictive(50.0, center, spread, spread, np.full(2, 0.5), cal)
    lo90, hi90 = dist.bands([0.9])[0.9]
    ((var_long, es_long),) = dist.risk([0.95]).values()
    ((var_short, es_short),) = dist.risk([0.95], short=True).values()
    np.testing.assert_allclose(var_long, 1 - lo90 / 50.0, rtol=1e-12)
    np.testing.assert_allclose(var_short, hi90 / 50.0 - 1, rtol=1e-12)
    sd_a = np.array([1.7 * 0.01, 1.66 * 0.015]) / 1.6448536269514722  # w / z_0.95
    np.testing.assert_allclose(es_long, var_es(center, sd_a, 0.95)[1], rtol=1e-9)
    assert np.all(es_long > var_long) and np.all(es_short > var_short)
    assert band_level(0.95) == 0.9 and band_level(0.975) == 0.95


def test_the_days_sigma_is_the_increment_of_the_cumulative_variance():
    sd = np.array([0.01, math.sqrt(0.01**2 + 0.02**2), math.sqrt(0.01**2 + 0.02**2 + 0.015**2)])
    dist = Predictive(1.0, np.zeros(3), sd, sd, np.full(3, 0.5), calibration({0.8: [1.0]}))
    s = dist.sigmas()
    np.testing.assert_allclose(s["sigma"], [0.01, 0.02, 0.015])
    np.testing.assert_allclose(s["sigma_ann"], s["sigma"] * math.sqrt(252))
    np.testing.assert_allclose(s["sigma_cum_ann"], sd * np.sqrt(252 / np.arange(1, 4)))
    crypto = dist.sigmas(sessions_per_year("24/7"))  # a market open every day of the year
    np.testing.assert_allclose(crypto["sigma_ann"], s["sigma"] * math.sqrt(365))
    np.testing.assert_allclose(crypto["sigma_cum_ann"], sd * np.sqrt(365 / np.arange(1, 4)))


def test_a_year_has_the_sessions_of_its_market():
    assert sessions_per_year("XNYS") == sessions_per_year("xlon") == 252
    assert sessions_per_year("24/7") == 365 and sessions_per_year("24/5") == 260


def test_levels_in_percent_checked_once():
    assert check_levels([95, 80]) == (0.8, 0.95)
    assert check_levels([97.5]) == (0.975,)
    for bad, message in (([50], "between"), ([99.9], "between"), ([float("nan")], "between"),
                         ([90, 90.0], "twice")):  # fmt: skip
        with pytest.raises(UsageError, match=message):
            check_levels(bad)
