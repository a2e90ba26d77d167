"""Global-model data: one calendar cut for series of different calendars, scalers fitted only
before it, pooled windows equal to the series' own."""

import numpy as np
import pandas as pd
import pytest
from synthetic import prices_from_returns

from forecast.config import TrainConfig
from forecast.errors import ForecastError
from forecast.model.features import build_dataset, windows
from forecast.model.panel import Windows, build_panel, default_cut, series_dataset
from forecast.model.train import fit_theta

T = 10


def frame_on(dates: pd.DatetimeIndex, seed: int, sigma=0.01) -> pd.DataFrame:
    r = np.random.default_rng(seed).normal(0.0, sigma, len(dates) - 1)
    f = prices_from_returns(r)
    f.index = pd.DatetimeIndex(dates, name="Date")
    return f


@pytest.fixture
def calendars():
    """Three calendars: US business days from 2000; the same but listed 300 days later;
    a six-day week (an exchange open on Saturdays) with a two-week closure."""
    us = pd.bdate_range("2000-01-03", periods=900)
    late = us[300:]
    six = pd.date_range("2000-01-03", periods=1100, freq="D")
    six = six[six.day_of_week != 6]
    six = six[(six < "2001-06-01") | (six > "2001-06-14")]
    return {
        "US": frame_on(us, 1),
        "LATE": frame_on(late, 2),
        "SIX": frame_on(six, 3, sigma=0.03),
    }


def test_every_series_is_cut_at_the_calendar_date_not_a_row_index(calendars):
    cut = pd.Timestamp("2002-06-03")
    for name, prices in calendars.items():
        ds = series_dataset(prices, ("return",), T, "gaussian", cut)
        dates = ds.dates
        k = ds.split.cut
        assert dates[k - 1] < cut <= dates[k], name
        # the last training window's last target (day i + T) is before the cut date
        n_train = len(ds.train[0])
        assert n_train == k - T and dates[n_train - 1 + T] < cut
        assert dates[ds.split.val_first] >= cut
    # the same date is a different row in each calendar: a row-index cut would differ
    rows = {
        n: series_dataset(p, ("return",), T, "gaussian", cut).split.cut
        for n, p in calendars.items()
    }
    assert rows["US"] - rows["LATE"] == 300 and rows["SIX"] != rows["US"]


def test_scalers_and_training_windows_see_nothing_on_or_after_the_cut(calendars):
    cut = pd.Timestamp("2002-06-03")
    panel = build_panel(calendars.items(), ("return",), T, "gaussian", 0.2, cut=cut)
    changed = {}
    for name, prices in calendars.items():
        p = prices.copy()
        after = p.index >= cut
        p.loc[after, "Adj Close"] = p.loc[after, "Adj Close"] * np.linspace(1, 5, after.sum())
        changed[name] = p
    again = build_panel(changed.items(), ("return",), T, "gaussian", 0.2, cut=cut)
    for name in calendars:
        np.testing.assert_array_equal(panel.scalers[name].mean, again.scalers[name].mean)
        np.testing.assert_array_equal(panel.scalers[name].std, again.scalers[name].std)
    np.testing.assert_array_equal(np.asarray(panel.train[0]), np.asarray(again.train[0]))
    np.testing.assert_array_equal(np.asarray(panel.train[1]), np.asarray(again.train[1]))
    assert not np.array_equal(panel.val[1], again.val[1])  # the future is only validation's


def test_each_series_is_scaled_by_its_own_statistics(calendars):
    cut = pd.Timestamp("2002-06-03")
    panel = build_panel(calendars.items(), ("return",), T, "gaussian", 0.2, cut=cut)
    for name, prices in calendars.items():
        r = np.diff(np.log(prices["Adj Close"].to_numpy()))
        before = r[prices.index[1:] < cut]
        assert panel.scalers[name].mean[0] == pytest.approx(before.mean(), rel=1e-12)
        assert panel.scalers[name].std[0] == pytest.approx(before.std(), rel=1e-12)
    assert panel.scalers["SIX"].std[0] > 2 * panel.scalers["US"].std[0]


def test_pooled_windows_are_the_series_windows_concatenated(calendars):
    cut = pd.Timestamp("2002-06-03")
    panel = build_panel(calendars.items(), ("return", "range"), T, "gaussian", 0.2, cut=cut)
    parts = [series_dataset(p, ("return", "range"), T, "gaussian", cut) for p in calendars.values()]
    xs = np.concatenate([d.train[0] for d in parts])
    zs = np.concatenate([d.train[1] for d in parts])
    assert panel.train[0].shape == xs.shape and len(panel.train[1]) == len(zs)
    np.testing.assert_array_equal(np.asarray(panel.train[0]), xs)
    np.testing.assert_array_equal(panel.train[1][np.array([0, 5, len(zs) - 1])], zs[[0, 5, -1]])
    np.testing.assert_array_equal(panel.val[0], np.concatenate([d.val[0] for d in parts]))
    assert panel.counts == {
        n: (len(d.train[0]), len(d.val[0])) for n, d in zip(calendars, parts, strict=True)
    }
    assert not np.isnan(zs).any()


def test_one_series_default_cut_is_the_one_series_split(calendars):
    prices = calendars["US"]
    panel = build_panel([("US", prices)], ("return",), T, "gaussian", 0.2)
    ds = build_dataset(prices, ("return",), T, "gaussian", 0.2)
    np.testing.assert_array_equal(np.asarray(panel.train[0]), ds.train[0])
    np.testing.assert_array_equal(panel.val[0], ds.val[0])
    np.testing.assert_array_equal(panel.scalers["US"].mean, ds.scaler.mean)


def test_default_cut_leaves_val_fraction_of_the_observations_after_it(calendars):
    dates = [f.index[1:] for f in calendars.values()]
    cut = default_cut(dates, T, 0.2)
    every = np.concatenate([d.values for d in dates])
    union = np.unique(every)
    k = int(np.searchsorted(union, cut.to_datetime64()))
    first_val = union[k + T]  # validation starts T trading days after the cut
    after = (every >= first_val).sum()
    assert after >= round(0.2 * len(every)) > (every >= union[k + T + 1]).sum()


def test_a_series_that_ended_long_ago_does_not_pull_the_cut_back(calendars):
    """An old series (a delisted stock) holds no observations near the end: the cut stays
    where the live series alone put it, up to the old series' share of the observations."""
    live = [f.index[1:] for f in calendars.values()]
    old = pd.bdate_range("1980-01-01", periods=900)
    alone, with_old = default_cut(live, T, 0.2), default_cut([*live, old], T, 0.2)
    assert with_old < alone and (alone - with_old).days < 120  # ~a quarter of 20% of 900 days
    union_cut = np.unique(np.concatenate([d.values for d in [*live, old]]))
    assert with_old > pd.Timestamp(union_cut[int(0.8 * len(union_cut)) - T])  # the old rule


def test_series_short_before_the_cut_are_skipped_and_reported(calendars):
    cut = pd.Timestamp("2000-03-01")  # LATE starts after it
    panel = build_panel(calendars.items(), ("return",), T, "gaussian", 0.2, cut=cut)
    assert "LATE" in panel.skipped and "LATE" not in panel.tickers
    assert "days before the cut date 2000-03-01" in panel.skipped["LATE"]
    with pytest.raises(ForecastError, match="no series has enough history"):
        build_panel([("LATE", calendars["LATE"])], ("return",), T, "gaussian", 0.2, cut=cut)


def test_training_on_gathered_windows_is_bit_identical_to_arrays(calendars):
    cut = pd.Timestamp("2002-06-03")
    panel = build_panel(calendars.items(), ("return",), T, "gaussian", 0.2, cut=cut)
    cfg = TrainConfig(window=T, hidden=4, epochs=2, batch_size=32, seed=3)
    lazy = fit_theta(panel.train, panel.val, cfg)
    arrays = (np.asarray(panel.train[0]), np.asarray(panel.train[1]))
    eager = fit_theta(arrays, panel.val, cfg)
    np.testing.assert_array_equal(lazy.theta, eager.theta)


def test_windows_gather_like_features_windows():
    X = np.arange(40.0).reshape(20, 2)
    xs, _ = windows(X, np.zeros(20), 4, 0, 19)
    w = Windows(X, np.arange(17), 4)
    idx = np.array([0, 3, 16])
    np.testing.assert_array_equal(w[idx], xs[idx])
    assert w.shape == (17, 4, 2) and w[idx].flags.c_contiguous
