"""forecast.api as a notebook uses it: data_dir as str, Path or left out; models saved to and
loaded from one file; forecasts indexed by trading dates."""

import numpy as np
import pytest

import forecast.api as fc
from forecast.config import TrainConfig

TINY = TrainConfig(window=10, hidden=4, epochs=1)


def test_data_dir_is_a_str_a_path_or_the_users(data_dir, tmp_path):
    other = tmp_path / "other"
    fc.fetch("AAPL", str(other), offline=True)  # a str
    assert fc.latest_fetched(other) == "AAPL"  # a Path
    with pytest.raises(fc.ForecastError, match="nothing fetched"):
        fc.latest_fetched()  # left out: $FORECAST_DATA_DIR (the empty data_dir fixture)
    fc.fetch("AAPL", offline=True)
    assert len(fc.load_prices("AAPL")) == len(fc.load_prices("AAPL", str(other)))
    assert [e["ticker"] for e in fc.cached()] == ["AAPL"]


def test_save_and_load_one_file(tmp_path):
    fc.fetch("AAPL", tmp_path / "d", offline=True)
    prices = fc.load_prices("AAPL", tmp_path / "d")
    model = fc.fit(prices, TINY)
    path = model.save(str(tmp_path / "m.npz"))
    again = fc.RNNForecaster.load(path)
    a, b = model.forecast(prices, 3, n_paths=100), again.forecast(prices, 3, n_paths=100)
    assert a.equals(b) and str(a.index[0].date()) == "2023-09-22"
    assert a.index.name == "Date"
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(fc.ForecastError, match="not a model written by RNNForecaster.save"):
        fc.RNNForecaster.load(tmp_path / "other.npz")


def test_forecast_follows_the_exchange_calendar(tmp_path):
    fc.fetch("AAPL", tmp_path / "d", offline=True)
    prices = fc.load_prices("AAPL", tmp_path / "d").loc[:"2022-12-23"]  # a Friday
    model = fc.fit(prices, TINY)
    new_york = model.forecast(prices, 1, n_paths=50)  # XNYS: Monday the 26th is a holiday
    london = model.forecast(prices, 1, n_paths=50, exchange="XLON")  # so is Tuesday there
    assert str(new_york.index[0].date()) == "2022-12-27"
    assert str(london.index[0].date()) == "2022-12-28"
