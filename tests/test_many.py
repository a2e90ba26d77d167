"""The per-ticker work of universe commands: what a worker returns is what the one-ticker
commands save and print."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from cli import run
from synthetic import prices_from_returns, regime_returns

from forecast import api, prices
from forecast.config import TrainConfig
from forecast.errors import ForecastError
from forecast.model import checkpoint
from forecast.universe import many

CFG = TrainConfig(window=10, hidden=4, epochs=2, seed=2)


@pytest.fixture
def cached(data_dir, tmp_path):
    r, _ = regime_returns(400, seed=5)
    frame = prices_from_returns(r)
    csv = tmp_path / "SYN.csv"
    frame.to_csv(csv)
    prices.import_csv("SYN", csv, data_dir)
    return data_dir


def test_a_worker_fit_saved_by_the_parent_is_the_one_ticker_model(cached):
    frame = prices.load_prices("SYN", cached)
    fit = many.fit_one("SYN", frame, CFG)
    path = many.save_fit(cached, "SYN", fit)
    params, meta = checkpoint.load_model(cached, "SYN")
    report = api.train("SYN", cached, CFG)  # the one-ticker command, same data and seed
    params2, meta2 = checkpoint.load_model(cached, "SYN")
    assert path == report.path
    for k in params:
        np.testing.assert_array_equal(params[k], params2[k])
    assert meta["fingerprint"] == meta2["fingerprint"] and meta["scaler"] == meta2["scaler"]
    assert fit.values["val_loss"] == pytest.approx(report.model.losses_["val"])
    assert fit.values["random_walk"] == pytest.approx(report.baseline_val_loss)
    assert 0 <= fit.values["coverage_80"] <= 1


def test_a_worker_prediction_is_the_one_ticker_prediction(cached):
    api.train("SYN", cached, CFG)
    today = dt.date(2001, 8, 1)
    # the screen reads VaR 99% and ES 97.5%: the one-ticker command asked for the same
    one = api.predict(
        "SYN", cached, 5, n_paths=300, seed=4, today=today, var_levels=many.SCREEN_VAR_LEVELS
    )
    params, meta = checkpoint.load_model(cached, "SYN")
    frame = prices.load_prices("SYN", cached)
    pred = many.predict_one("SYN", frame, params, meta, 5, 300, 4, today)
    pd.testing.assert_frame_equal(pred.table, one.table)
    assert pred.warnings == one.warnings
    v = many.screen_values(pred)
    last = one.table.iloc[-1]
    assert v["median_return"] == pytest.approx(last["median"] / one.last_close - 1)
    assert v["band_80"] == pytest.approx((last["upper_80"] - last["lower_80"]) / one.last_close)
    assert v["p_up"] == last["p_up"]
    assert v["var_99"] == last["var_99"] and v["es_97.5"] == last["es_97.5"]
    assert v["sigma"] == one.table["sigma_ann"].iloc[0]
    r = np.diff(np.log(frame["Adj Close"].to_numpy()[-253:]))  # the last year's 252 returns
    assert one.sigma_1y == pytest.approx(np.sqrt(np.mean(r**2)), rel=1e-12)
    assert v["sigma_ratio"] == pytest.approx(one.table["sigma"].iloc[0] / one.sigma_1y)


def test_a_crypto_pair_is_annualised_over_every_day_of_its_year(data_dir, tmp_path):
    r, _ = regime_returns(500, seed=5)
    frame = prices_from_returns(r)
    frame.index = pd.date_range("2020-01-01", periods=len(frame), freq="D", name="Date")
    csv = tmp_path / "SYN-USD.csv"  # "-USD": a crypto pair, traded 24/7 (weekends in its dates)
    frame.to_csv(csv)
    prices.import_csv("SYN-USD", csv, data_dir)
    api.train("SYN-USD", data_dir, CFG)
    pred = api.predict("SYN-USD", data_dir, 3, n_paths=200, seed=1, today=dt.date(2021, 6, 1))
    t = pred.table
    assert list(t.index) == list(pd.date_range(frame.index[-1], periods=4, freq="D")[1:])
    np.testing.assert_allclose(t["sigma_ann"], t["sigma"] * np.sqrt(365), rtol=1e-12)
    h = np.arange(1, 4)
    np.testing.assert_allclose(t["sigma_cum_ann"], t["sigma_cum"] * np.sqrt(365 / h), rtol=1e-12)
    y = np.diff(np.log(frame["Adj Close"].to_numpy()[-366:]))  # a year: its last 365 returns
    assert pred.sigma_1y == pytest.approx(np.sqrt(np.mean(y**2)), rel=1e-12)
    shown = run(data_dir, "predict", "SYN-USD", "--days", "2")
    assert shown.exit_code == 0 and "× √365" in shown.output and "√252" not in shown.output


def test_a_worker_backtest_summary(cached):
    frame = prices.load_prices("SYN", cached)
    options = dict(horizon=2, refit_every=30, test_days=40, n_paths=50)
    summary = many.backtest_one("SYN", frame, CFG, options, 0)
    v = many.backtest_values(summary)
    assert v["origins"] == 40  # every test day's close is a 1-day target
    assert v["verdict"] == summary["verdict"]
    assert v["rel_mae"] == summary["models"]["rnn"][0]["rel_mae"]
    rnn = summary["models"]["rnn"][0]
    assert v["crps_vs_best"] == rnn["crps_vs_best"] and v["var_99_rate"] == rnn["var_99_rate"]
    assert v["basel_zone"] == summary["basel"]["rnn"]["zone"] in ("green", "yellow", "red")


def test_too_little_history_is_one_line(cached):
    frame = prices.load_prices("SYN", cached).iloc[:50]
    with pytest.raises(ForecastError, match="needs at least"):
        many.fit_one("SYN", frame, TrainConfig(window=30, hidden=4, epochs=1))


def test_row_json_drops_non_finite_numbers():
    row = many.Row("X", "ok", 1.23456, values={"a": float("nan"), "b": 0.5})
    assert row.to_json() == {"ticker": "X", "status": "ok", "seconds": 1.235, "a": None, "b": 0.5}
    assert many.failed("Y", "boom").to_json()["error"] == "boom"
