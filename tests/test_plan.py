"""api.plan: the run a command makes of its tickers, the same for the CLI and a notebook."""

import pytest

from forecast import api
from forecast.errors import ForecastError


def test_one_ticker_runs_in_process_and_none_means_the_default():
    assert api.plan("train", ["aapl"]).mode == "one"
    p = api.plan("predict", None)
    assert (p.mode, p.ticker) == ("one", None)


def test_several_tickers_train_one_global_model_named_after_the_universe_file(tmp_path):
    p = api.plan("train", ["AAPL", "MSFT"])
    assert (p.mode, p.tickers, p.global_name) == ("global", ["AAPL", "MSFT"], "GLOBAL")
    f = tmp_path / "watchlist.txt"
    f.write_text("SPY\nGLD\n../bad\n")
    p = api.plan("train", None, f)
    assert (p.mode, p.tickers, p.global_name) == ("global", ["SPY", "GLD"], "WATCHLIST")
    assert len(p.problems) == 1 and "'../BAD'" in p.problems[0]


@pytest.mark.parametrize("option", [{"per_ticker": True}, {"jobs": 2}, {"scheduler": "tcp://x:1"}])
def test_workers_or_per_ticker_train_one_model_per_ticker(option):
    assert api.plan("train", ["AAPL", "MSFT"], **option).mode == "many"


def test_a_global_name_with_workers_is_refused():
    with pytest.raises(ForecastError, match="--global trains one model in this process"):
        api.plan("train", ["AAPL", "MSFT"], global_name="W", jobs=2)


def test_several_tickers_forecast_per_ticker_and_refuse_one_ticker_options():
    assert api.plan("predict", ["AAPL", "MSFT"]).mode == "many"
    with pytest.raises(ForecastError, match="--plot draws one ticker's fan chart"):
        api.plan("predict", ["AAPL", "MSFT"], one_ticker_only={"--plot": "fan.png"})
    with pytest.raises(ForecastError, match="--plot and --model NAME backtest one ticker"):
        api.plan("backtest", ["AAPL", "MSFT"], one_ticker_only={"--model": "W"})


def test_a_model_needs_a_ticker_and_workers_need_tickers():
    with pytest.raises(ForecastError, match="--model needs the TICKER to backtest"):
        api.plan("backtest", None, global_name="W")
    p = api.plan("predict", None, jobs=2)
    assert p.mode == "many" and p.tickers == [] and "give the tickers" in str(p.error)


def test_many_error_names_the_failed_tickers_and_counts_invalid_symbols():
    class Row:
        def __init__(self, ticker, ok):
            self.ticker, self.ok = ticker, ok

    assert api.many_error([Row("A", True)], []) is None
    e = api.many_error([Row("A", True), Row("B", False)], ["bad symbol"])
    assert str(e) == "1 of 2 tickers failed (B) and 1 invalid symbol skipped; see the lines above"
