"""Features, the chronological split and windows: alignment, the gap, and no look-ahead."""

import numpy as np
import pandas as pd
import pytest
from synthetic import prices_from_returns

from forecast.errors import ForecastError
from forecast.model.features import build_dataset, daily_features, split_days, windows


def test_daily_features_match_their_formulas():
    prices = prices_from_returns(np.array([0.01, -0.02, 0.03]))
    prices["Volume"] = [100, 200, 0, 50]
    F = daily_features(prices, ("return", "range", "volume"))
    adj = prices["Adj Close"].to_numpy()
    np.testing.assert_allclose(F["return"], np.log(adj[1:] / adj[:-1]))
    np.testing.assert_allclose(F["range"], np.log(1.01 / 0.99))
    np.testing.assert_allclose(F["volume"], np.log([201 / 101, 1 / 201, 51 / 1]))
    assert list(F.index) == list(prices.index[1:])


def test_window_steps_are_aligned_with_next_day_targets():
    X = np.arange(10.0)[:, None]
    z = np.arange(10.0) + 100  # z_k stands for r_{k+1}
    xs, zs = windows(X, z, T=3, first=2, last=6)
    assert xs.shape == (3, 3, 1) and zs.shape == (3, 3)
    np.testing.assert_array_equal(xs[:, :, 0], [[2, 3, 4], [3, 4, 5], [4, 5, 6]])
    np.testing.assert_array_equal(zs, xs[:, :, 0] + 100)
    assert xs.flags.c_contiguous and zs.flags.c_contiguous


def test_split_leaves_a_gap_of_T_days():
    s = split_days(1000, T=20, val_fraction=0.2)
    assert s.val_first - s.cut == 20
    assert s.n_days - s.val_first == 200


def test_no_training_target_or_scaler_input_after_the_cut():
    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.01, 600)
    ds = build_dataset(prices_from_returns(r), ("return",), T=10, loss="gaussian", val_fraction=0.2)
    cut = ds.split.cut
    # training targets are scaled returns of days <= cut-1: find each target's day
    z_days = {round(v, 12): k + 1 for k, v in enumerate(ds.z[:-1])}
    last_target_day = max(z_days[round(v, 12)] for v in ds.train[1].ravel())
    assert last_target_day == cut - 1
    assert ds.scaler.mean[0] == pytest.approx(ds.returns[:cut].mean())
    # validation inputs start after the gap
    assert ds.val[0][0, 0, 0] == pytest.approx(ds.X[ds.split.val_first, 0])


def test_direction_targets_are_up_or_down():
    r = np.array([0.01, -0.01, 0.02, -0.03] * 40)
    ds = build_dataset(prices_from_returns(r), ("return",), T=5, loss="direction", val_fraction=0.2)
    assert set(np.unique(ds.train[1])) == {0.0, 1.0}
    np.testing.assert_array_equal(ds.z[:-1], (ds.returns[1:] > 0).astype(float))


def test_window_longer_than_history_is_a_clear_error():
    with pytest.raises(ForecastError, match="--window 60 needs at least"):
        build_dataset(prices_from_returns(np.zeros(100) + 0.001), ("return",), 60, "mse", 0.2)


@pytest.mark.parametrize("T", [2, 5, 10, 20, 60])
@pytest.mark.parametrize("vf", [0.05, 0.2, 0.25, 0.5])
def test_min_prices_is_the_first_length_split_days_accepts(T, vf):
    from forecast.model.features import min_prices

    need = min_prices(T, vf)
    split_days(need - 1, T, vf)  # need prices -> need - 1 feature days: accepted
    with pytest.raises(ForecastError, match=f"needs at least {need} days"):
        split_days(need - 2, T, vf)
    for n in range(need - 1, need + 40):  # and every longer history too (cut never shrinks)
        split_days(n, T, vf)


def test_range_and_volume_need_the_columns_they_read():
    from forecast.model.features import check_features

    prices = prices_from_returns(np.random.default_rng(0).normal(0, 0.01, 300))
    check_features(prices, ("return", "range", "volume"))  # synthetic data has both
    flat = prices.assign(High=prices["Close"], Low=prices["Close"])  # a Date,Close CSV import
    with pytest.raises(ForecastError, match="--features range needs daily High and Low"):
        daily_features(flat, ("return", "range"))
    with pytest.raises(ForecastError, match="--features volume needs traded volumes"):
        daily_features(prices.assign(Volume=0.0), ("return", "volume"))
    daily_features(flat.assign(Volume=0.0), ("return",))  # return alone needs neither


def test_vol_inputs_match_their_formulas():
    from forecast.model.features import VolScaler, vol_inputs

    r = np.array([0.01, -0.03, 0.0, 0.5])
    hl = np.array([0.02, 0.04, 0.0, 0.1])
    sc = VolScaler(sd=0.02, m_hl=0.03, kp=0.7)
    dates = pd.bdate_range("2024-01-02", periods=4)
    inp = vol_inputs(dates, r, hl, sc, ("return", "abs", "ewma", "range", "parkinson"))
    z = r / 0.02
    v, vp, pk = [], [], hl**2 / (4 * np.log(2)) / 0.02**2
    a, b = 1.0, 0.7
    for k in range(4):
        a, b = 0.94 * a + 0.06 * z[k] ** 2, 0.94 * b + 0.06 * pk[k]
        v.append(a)
        vp.append(b)
    np.testing.assert_allclose(inp.X[:, 0], np.clip(z, -8, 8))  # 0.5/0.02 = 25 is clipped
    np.testing.assert_allclose(inp.X[:, 1], np.minimum(np.abs(z), 8) - 0.8)
    np.testing.assert_allclose(inp.X[:, 2], 0.5 * np.log(v), rtol=1e-14)
    np.testing.assert_allclose(inp.X[:, 3], np.log((hl / 0.03 + 0.1) / 1.1))
    np.testing.assert_allclose(inp.X[:, 4], 0.5 * np.log(np.array(vp) + 1e-4), rtol=1e-14)
    np.testing.assert_allclose(inp.e, 0.5 * np.log(v), rtol=1e-14)


def test_burn_windows_score_each_target_once_and_never_before_first():
    from forecast.model.features import burn_windows

    X = np.arange(100.0)[:, None]
    z = np.arange(100.0) + 1000
    xs, zs = burn_windows(X, z, T=10, burn=4, first=30, last=97)
    scored = np.sort(xs[:, :, 0][~np.isnan(zs)])
    np.testing.assert_array_equal(scored, np.arange(98 - 6 * len(xs), 98))  # tiles to `last`
    assert scored.min() >= 30 and xs[:, 0, 0].min() >= 0
    assert np.isnan(zs[:, :4]).all() and not np.isnan(zs[:, 4:]).any()
    np.testing.assert_array_equal(zs[:, 4:], xs[:, 4:, 0] + 1000)  # day k's target is z_k


def test_vol_dataset_uses_nothing_after_the_cut():
    """Changing returns after the cut leaves the statistics and the training windows alone;
    validation windows score only targets from the cut on."""
    from forecast.model.features import vol_dataset

    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.01, 800)
    a = vol_dataset(prices_from_returns(r), ("return", "abs", "ewma"), 30, 10, 0.2)
    r2 = r.copy()
    r2[a.split.cut :] *= 5
    b = vol_dataset(prices_from_returns(r2), ("return", "abs", "ewma"), 30, 10, 0.2)
    assert a.scaler == b.scaler
    for x, y in zip(a.train, b.train, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.val[1], b.val[1], equal_nan=True)


def test_vol_head_drops_range_inputs_on_close_only_prices_other_heads_refuse():
    from forecast.config import DEFAULT_FEATURES
    from forecast.errors import ForecastError
    from forecast.model.features import check_features, usable_features

    prices = prices_from_returns(np.array([0.01, -0.02, 0.03]))
    prices["High"] = prices["Low"] = prices["Close"]
    feats = DEFAULT_FEATURES["vol"]
    kept, note = usable_features(prices, feats, "vol")
    assert kept == ("return", "abs", "ewma", "season") and "range,parkinson" in note
    check_features(prices, feats, "vol")  # no error: dropped
    with pytest.raises(ForecastError, match="--features parkinson needs daily High and Low"):
        check_features(prices, ("return", "parkinson"), "vol")  # chosen, not the default
    with pytest.raises(ForecastError, match="High and Low"):
        check_features(prices, ("return", "range"), "gaussian")


def test_vol_range_inputs_without_high_low_are_their_expectation_given_ewma_sigma():
    """A model that reads range inputs, handed close-only prices (a replaced cache), uses
    what sampling uses for future days: range at sigma = the EWMA sd of the day before."""
    from forecast.model.features import VolScaler, vol_inputs

    r = np.array([0.01, -0.03, 0.02])
    sc = VolScaler(sd=0.02, m_hl=0.03, kp=0.7)
    inp = vol_inputs(
        pd.bdate_range("2024-01-02", periods=3), r, None, sc, ("return", "range", "parkinson")
    )
    sig = np.exp(np.append(0.0, inp.e[:-1]))
    np.testing.assert_allclose(inp.X[:, 1], np.log((sig + 0.1) / 1.1))
    vp, b = [], 0.7
    for s in sig:
        b = 0.94 * b + 0.06 * 0.7 * s * s
        vp.append(b)
    np.testing.assert_allclose(inp.X[:, 2], 0.5 * np.log(np.array(vp) + 1e-4), rtol=1e-14)


def test_season_reads_moves_13_to_52_weeks_before_the_day_forecast():
    """Day k's season input is the largest excess over 2 EWMA sds of the moves on the
    sessions 13, 26, 39 and 52 weeks before day k + 1, the day it forecasts, and 0 elsewhere;
    it reads nothing after day k."""
    from forecast.model.features import SEASON_LAGS, VolScaler, vol_inputs

    dates = pd.bdate_range("2020-01-06", periods=420)  # weekdays, no holidays
    r = np.full(len(dates), 0.01)  # |r|/sd = 1 every day: v stays 1, no excess
    r[[10, 100, 150]] = [0.06, -0.025, 0.018]  # moves of 6, 2.5 and 1.8 sds
    sc = VolScaler(sd=0.01, m_hl=1.0, kp=1.0)
    inp = vol_inputs(dates, r, None, sc, ("return", "season"))
    season = inp.X[:, 1]
    assert inp.a[10] == pytest.approx(6.0) and inp.a[100] == pytest.approx(2.5, abs=0.02)
    expect = np.zeros(len(dates))
    for big in (10, 100):  # the 1.8-sd day is within 2 sds: it never counts
        for lag in SEASON_LAGS:
            target = dates[big] + pd.Timedelta(days=int(lag))  # the same weekday, lag later
            if target <= dates[-1]:
                k = dates.get_loc(target) - 1  # the day that forecasts it
                expect[k] = max(expect[k], inp.a[big] - 2.0)
    assert np.count_nonzero(expect) == 8  # four lags of each big day, all within the 420 days
    np.testing.assert_allclose(season, expect, atol=1e-12)
    # nothing after day k: bigger moves from day 300 on leave every earlier input alone
    r2 = r.copy()
    r2[300:] *= 7
    inp2 = vol_inputs(dates, r2, None, sc, ("return", "season"))
    np.testing.assert_array_equal(inp2.X[:300, 1], season[:300])


def test_season_reads_weekend_sessions_of_every_day_series_and_skips_gaps():
    from forecast.model.features import season_rows

    daily = pd.date_range("2021-01-01", periods=400, freq="D")  # a crypto series: every day
    rows = season_rows(daily)
    assert rows[200, 0] == 201 - 91  # day 200 forecasts day 201: 91 days before it is day 110
    assert rows[200, 3] == -1  # 52 weeks before day 201: before the series starts
    gap = daily.delete(range(100, 130))  # a month missing
    rows = season_rows(gap)
    k = gap.get_loc(daily[221])  # forecasts day 222: 91 days before it is day 131
    assert gap[rows[k, 0]] == daily[131]
    k = gap.get_loc(daily[205])  # forecasts day 206: day 115 is in the gap, so none
    assert rows[k, 0] == -1


def test_season_ahead_continues_the_lagged_sessions_and_never_reads_past_the_origin():
    from forecast.model.features import VolScaler, vol_inputs

    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2020-01-06", periods=500)
    r = 0.01 * rng.standard_t(3, size=len(dates))
    inp = vol_inputs(dates, r, None, VolScaler(0.01, 1.0, 1.0), ("return", "season"))
    origins = np.array([300, 420])
    ahead = inp.season_ahead(origins, 5)  # (2, 5): the inputs after future days 1..5
    np.testing.assert_array_equal(ahead, inp.X[origins[:, None] + np.arange(1, 6), 1])
    assert ahead.any()
    # 120 days ahead, the 13-week lag reaches past the origin: those sessions read as if
    # nothing had moved after it
    far = inp.season_ahead(np.array([300]), 120)[0]
    r0 = np.where(np.arange(len(r)) > 300, 0.0, r)
    inp0 = vol_inputs(dates, r0, None, VolScaler(0.01, 1.0, 1.0), ("return", "season"))
    np.testing.assert_array_equal(far, inp0.X[301:421, 1])
    assert not np.array_equal(far, inp.X[301:421, 1])
