"""Random-walk baselines against values worked out by hand on closes [100, 110, 99, 105]."""

import math

import numpy as np
import pytest

from forecast.evaluation.randomwalk import drift, naive, random_walk_intervals

CLOSES = np.array([100.0, 110.0, 99.0, 105.0])
# daily log returns
R = [math.log(110 / 100), math.log(99 / 110), math.log(105 / 99)]
Z90, Z975 = 1.2815515655446004, 1.959963984540054  # z_{(1+L)/2} for L = 0.8 and 0.95


def sample_std(xs):
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def test_naive_repeats_last_close():
    np.testing.assert_array_equal(naive(CLOSES, 3), [105.0, 105.0, 105.0])


def test_drift_on_log_prices():
    # mean log return = log(105/100)/3, so after 3 days the price has grown by 105/100
    got = drift(CLOSES, 3)
    assert got[2] == pytest.approx(105 * 1.05)
    assert got[0] == pytest.approx(105 * 1.05 ** (1 / 3))
    assert got[1] == pytest.approx(105 * 1.05 ** (2 / 3))


def test_drift_of_flat_series_is_flat():
    np.testing.assert_allclose(drift([50.0, 50.0, 50.0], 4), 50.0)


def test_random_walk_intervals_by_hand():
    iv = random_walk_intervals(CLOSES, 2)
    sigma = sample_std(R)
    assert iv.sigma == pytest.approx(sigma)
    np.testing.assert_array_equal(iv.median, [105.0, 105.0])
    for level, z in ((0.8, Z90), (0.95, Z975)):
        for h in (1, 2):
            assert iv.lower[level][h - 1] == pytest.approx(
                105 * math.exp(-z * sigma * math.sqrt(h))
            )
            assert iv.upper[level][h - 1] == pytest.approx(105 * math.exp(z * sigma * math.sqrt(h)))


def test_window_uses_only_the_last_returns():
    iv = random_walk_intervals(CLOSES, 1, levels=(0.8,), window=2)
    assert iv.sigma == pytest.approx(sample_std(R[-2:]))


def test_bands_nest_and_widen_with_horizon():
    iv = random_walk_intervals(CLOSES, 5)
    assert np.all(iv.lower[0.95] < iv.lower[0.8]) and np.all(iv.upper[0.8] < iv.upper[0.95])
    assert np.all(np.diff(iv.upper[0.95]) > 0) and np.all(np.diff(iv.lower[0.95]) < 0)


@pytest.mark.parametrize("bad", [[100.0], [100.0, -1.0, 3.0], [100.0, np.nan, 101.0]])
def test_invalid_history_is_refused(bad):
    with pytest.raises(ValueError):
        random_walk_intervals(bad, 1)
