"""forecast.prices: yfinance replaced at Ticker() by frames of the exact shapes 1.7 returns."""

import datetime as dt
import hashlib
import json
import subprocess
import sys
import threading
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yfinance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecast import prices
from forecast.config import prices_dir
from forecast.errors import ForecastError
from forecast.prices import COLUMNS, MIN_ROWS, PRICES
from forecast.prices import yahoo as yahoo_client
from forecast.prices.csvfile import csv_bytes, parse_csv

SAMPLE = resources.files("forecast") / "samples" / "AAPL.csv"
YAHOO = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


# --- yfinance 1.7 shapes, built from the shipped AAPL rows --------------------------------------


def aapl(first: int = 0, stop: int | None = None) -> pd.DataFrame:
    """Rows [first, stop) of the shipped sample: flat Yahoo columns, tz-naive Date index."""
    frame = pd.read_csv(SAMPLE, index_col="Date", parse_dates=["Date"])
    return frame.iloc[first:stop]


def history_frame(rows: pd.DataFrame, tz: str = "America/New_York", **actions) -> pd.DataFrame:
    """What Ticker.history(auto_adjust=False, actions=True) returns: tz-aware midnight, seconds."""
    frame = rows[YAHOO].copy()
    frame["Dividends"] = 0.0
    frame["Stock Splits"] = 0.0
    for column, by_day in actions.items():  # dividends={"2013-02-07": 2.65}
        for day, value in by_day.items():
            frame.loc[pd.Timestamp(day), column.replace("_", " ").title()] = value
    index = pd.DatetimeIndex(frame.index).as_unit("s").tz_localize(tz)
    frame.index = pd.DatetimeIndex(index, name="Date")
    return frame


def download_frame(rows: pd.DataFrame, ticker: str = "AAPL", adjusted: bool = True):
    """What yf.download returns: (Price, Ticker) columns, alphabetical, tz-naive index."""
    frame = rows[YAHOO].copy()
    if adjusted:  # auto_adjust=True: OHLC on the Adj Close scale, no Adj Close column
        ratio = frame["Adj Close"] / frame["Close"]
        for c in ("Open", "High", "Low", "Close"):
            frame[c] = frame[c] * ratio
        frame = frame.drop(columns="Adj Close")
    frame = frame[sorted(frame.columns)]
    frame.columns = pd.MultiIndex.from_product([frame.columns, [ticker]], names=["Price", "Ticker"])
    frame.index.name = "Date"
    return frame


class FakeYahoo:
    """Stands in for yfinance.Ticker; answers history() calls from a script, records kwargs."""

    def __init__(self, *answers):
        self.answers = list(answers)  # frame, exception, or callable(kwargs); the last repeats
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, symbol):
        fake = self

        class Ticker:
            def history(self, **kwargs):
                fake.calls.append((symbol, kwargs))
                answer = fake.answers.pop(0) if len(fake.answers) > 1 else fake.answers[0]
                if isinstance(answer, BaseException):
                    raise answer
                if callable(answer):
                    return answer(kwargs)
                return answer.copy()

        return Ticker()


@pytest.fixture(autouse=True)
def no_sleep_no_history(monkeypatch):
    """Backoff sleeps are recorded, not slept; every test starts as a fresh process would."""
    slept: list[float] = []
    monkeypatch.setattr(yahoo_client, "_sleep", slept.append)
    monkeypatch.setattr(yahoo_client, "_cache_location", None)  # yfinance's caches: unbound
    return slept


@pytest.fixture
def yahoo(monkeypatch):
    def install(*answers) -> FakeYahoo:
        fake = FakeYahoo(*answers)
        monkeypatch.setattr(yfinance, "Ticker", fake)
        return fake

    return install


def snapshot(directory: Path) -> dict[str, str]:
    """sha256 of every file under `directory`, to prove a failure changed nothing."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(directory).rglob("*"))
        if p.is_file()
    }


def cache_csv(data_dir: Path, ticker: str) -> Path:
    """The CSV the ticker's sidecar commits: prices/<TICKER>.<sha256[:12]>.csv."""
    meta = json.loads((prices_dir(data_dir) / f"{ticker}.json").read_text())
    return prices_dir(data_dir) / f"{ticker}.{meta['sha256'][:12]}.csv"


def assert_schema(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == COLUMNS
    assert frame.index.name == "Date"
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.tz is None
    assert (frame.index == frame.index.normalize()).all()
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert frame["Volume"].dtype == np.int64
    for c in COLUMNS:
        if c != "Volume":
            assert frame[c].dtype == np.float64, c


# --- symbols -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, clean",
    [("aapl", "AAPL"), (" ^gspc ", "^GSPC"), ("brk-b", "BRK-B"), ("eurusd=x", "EURUSD=X"),
     ("7203.T", "7203.T")],
)  # fmt: skip
def test_validate_symbol_accepts_yahoo_symbols(raw, clean):
    assert prices.validate_symbol(raw) == clean


@pytest.mark.parametrize(
    "raw, message",
    [("", "empty"), ("   ", "empty"), ("A B", "spaces"), ("../x", "invalid"),
     ("TOOLONGTICKERNAME1", "longer than 15"), ("AB$", "invalid"), ("..", "invalid"),
     (".x", "invalid"), ("A/B", "invalid"), ("ÄPL", "invalid")],
)  # fmt: skip
def test_validate_symbol_rejects(raw, message):
    with pytest.raises(ForecastError, match=message):
        prices.validate_symbol(raw)


# --- normalize -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo"])
def test_normalize_history_frame_keeps_exchange_local_dates(tz):
    rows = aapl(0, 50)
    raw = history_frame(rows, tz=tz, dividends={"2013-02-07": 2.65})
    assert str(raw.index.dtype) == f"datetime64[s, {tz}]"
    frame = prices.normalize(raw, "AAPL")
    assert_schema(frame)
    # Tokyo midnight is the previous day in UTC: the date must still be the trading date
    assert list(frame.index) == list(rows.index)
    np.testing.assert_array_equal(frame["Adj Close"], rows["Adj Close"])
    np.testing.assert_array_equal(frame["Close"], rows["Close"])
    assert frame.loc["2013-02-07", "Dividends"] == 2.65
    assert frame["Dividends"].sum() == 2.65 and frame["Stock Splits"].sum() == 0.0


def test_normalize_download_frame_selects_ticker_and_fills_adj_close():
    rows = aapl(0, 40)
    raw = download_frame(rows)
    assert raw.columns.names == ["Price", "Ticker"]
    assert list(raw.columns.get_level_values(0)) == ["Close", "High", "Low", "Open", "Volume"]
    frame = prices.normalize(raw, "AAPL")
    assert_schema(frame)
    np.testing.assert_array_equal(frame["Adj Close"], frame["Close"])  # auto_adjust=True
    np.testing.assert_allclose(frame["Close"], rows["Adj Close"], rtol=1e-12)
    assert (frame[["Dividends", "Stock Splits"]] == 0).all().all()


def test_normalize_two_ticker_download_picks_the_right_one():
    a = download_frame(aapl(0, 30), "AAPL", adjusted=False)
    b = download_frame(aapl(0, 30) * 2, "MSFT", adjusted=False)
    frame = prices.normalize(pd.concat([a, b], axis=1), "MSFT")
    np.testing.assert_array_equal(frame["Close"], aapl(0, 30)["Close"] * 2)


def test_normalize_drops_nan_close_sorts_and_dedups():
    raw = history_frame(aapl(0, 10))
    raw.iloc[3, raw.columns.get_loc("Close")] = np.nan
    raw = pd.concat([raw.iloc[::-1], raw.iloc[[0]]])  # reversed, with a duplicate day
    frame = prices.normalize(raw, "AAPL")
    assert_schema(frame)
    assert len(frame) == 9


def test_normalize_empty_frame_is_unknown_ticker():
    with pytest.raises(ForecastError, match="no price data for XYZ: unknown or delisted ticker"):
        prices.normalize(pd.DataFrame(), "XYZ")


def test_normalize_fills_bad_open_high_low_and_drops_bad_closes():
    """The CSV loader's rules: bad Open/High/Low (and a High below its Low) become Close, rows
    with a bad close go."""
    rows = aapl(0, 40)
    raw = history_frame(rows)
    col = raw.columns.get_loc
    raw.iloc[1, col("Open")] = 0.0
    raw.iloc[2, col("High")] = -1.0
    raw.iloc[3, col("Low")] = np.nan
    raw.iloc[4, col("Open")] = np.inf
    raw.iloc[5, col("Close")] = 0.0
    raw.iloc[6, col("Adj Close")] = -3.0
    raw.iloc[7, col("Adj Close")] = np.nan
    raw.iloc[8, col("Close")] = np.inf
    raw.iloc[9, col("Volume")] = -5
    raw.iloc[10, col("Dividends")] = np.nan
    raw.iloc[11, col("High")] = raw.iloc[11, col("Low")] / 2  # crossed: no range that day
    frame = prices.normalize(raw, "AAPL")
    assert_schema(frame)
    assert list(frame.index) == list(rows.index.delete([5, 6, 7, 8]))
    for i, c in [(1, "Open"), (2, "High"), (3, "Low"), (4, "Open"), (11, "High"), (11, "Low")]:
        assert frame.loc[rows.index[i], c] == rows["Close"].iloc[i], (i, c)
    assert frame.loc[rows.index[9], "Volume"] == 0
    assert frame.loc[rows.index[10], "Dividends"] == 0.0
    values = frame[PRICES].to_numpy()
    assert np.isfinite(values).all() and (values > 0).all()


@pytest.mark.parametrize("column", ["Close", "Adj Close"])
def test_normalize_with_no_valid_close_is_unknown_ticker(column):
    raw = history_frame(aapl(0, 5))
    raw[column] = [0.0, -1.0, np.nan, np.inf, 0.0]
    with pytest.raises(ForecastError, match="no price data for AAPL: unknown or delisted ticker"):
        prices.normalize(raw, "AAPL")


BAD_NUMBERS = st.sampled_from([0.0, -1.0, np.nan, np.inf, -np.inf, 1e300])


@settings(max_examples=100, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 29), st.sampled_from([*YAHOO, *prices.ACTIONS]), BAD_NUMBERS),
        max_size=40,
    )
)
def test_whatever_normalize_returns_the_cache_loader_accepts(edits):
    """The invariant behind the fix: a fetch never caches rows that load_prices refuses."""
    raw = history_frame(aapl(0, 30)).astype("float64")  # Volume as Yahoo sends it with gaps
    for i, c, value in edits:
        raw.iloc[i, raw.columns.get_loc(c)] = value
    try:
        frame = prices.normalize(raw, "AAPL")
    except ForecastError as e:
        assert "no price data for AAPL" in str(e)
        return
    assert_schema(frame)
    reloaded = parse_csv(csv_bytes(frame), "cache", min_rows=1)
    pd.testing.assert_frame_equal(reloaded, frame)


def test_a_fetch_with_a_zero_open_row_can_be_loaded(data_dir, yahoo):
    raw = history_frame(aapl(0, 40))
    raw.iloc[7, raw.columns.get_loc("Open")] = 0.0  # Yahoo does send these
    raw.iloc[8, raw.columns.get_loc("Close")] = 0.0
    yahoo(raw)
    result = prices.fetch("AAPL", data_dir)
    assert len(result.frame) == 39
    pd.testing.assert_frame_equal(prices.load_prices("AAPL", data_dir), result.frame)


# --- fetch from Yahoo ----------------------------------------------------------------------------


def test_fetch_writes_cache_and_sidecar(data_dir, yahoo, user_cache):
    fake = yahoo(history_frame(aapl(0, 100)))
    result = prices.fetch("aapl", data_dir)

    assert fake.calls == [
        (
            "AAPL",
            {"interval": "1d", "auto_adjust": False, "actions": True, "timeout": 10,
             "period": "max"},
        )
    ]  # fmt: skip
    assert (result.ticker, result.source, result.warning, result.new_rows) == (
        "AAPL", "yahoo", None, 100,
    )  # fmt: skip
    assert_schema(result.frame)
    meta = json.loads((prices_dir(data_dir) / "AAPL.json").read_text())
    assert result.path == prices_dir(data_dir) / f"AAPL.{meta['sha256'][:12]}.csv"
    assert meta["sha256"] == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert meta | {"fetched_at": None, "sha256": None} == {
        "ticker": "AAPL", "source": "yahoo", "fetched_at": None, "first": "2013-01-02",
        "last": _day(aapl(99, 100).index[0]), "rows": 100, "sha256": None,
        "yfinance_version": yfinance.__version__, "start": None, "end": None,
    }  # fmt: skip
    fetched = dt.datetime.fromisoformat(meta["fetched_at"])
    assert fetched.utcoffset() == dt.timedelta(0)
    # yfinance's SQLite caches were pointed at the private per-user folder before first use
    assert yfinance.cache._TzDBManager.get_location() == str(user_cache)
    assert (user_cache.stat().st_mode & 0o777) == 0o700
    assert sorted(p.name for p in data_dir.iterdir()) == [".locks", "prices"]  # no yfinance/


def test_load_prices_round_trips_exactly(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 60), dividends={"2013-02-07": 2.65}))
    result = prices.fetch("AAPL", data_dir)
    loaded = prices.load_prices("AAPL", data_dir)
    pd.testing.assert_frame_equal(loaded, result.frame)
    assert prices.fingerprint(loaded) == prices.fingerprint(result.frame)


def test_start_and_end_are_passed_with_end_inclusive(data_dir, yahoo):
    fake = yahoo(history_frame(aapl(0, 40)))
    result = prices.fetch("AAPL", data_dir, start="2013-01-02", end="2013-02-28")
    kwargs = fake.calls[0][1]
    assert (kwargs["start"], kwargs["end"]) == ("2013-01-02", "2013-03-01")  # end is exclusive
    assert "period" not in kwargs
    meta = prices.read_provenance("AAPL", data_dir)
    assert (meta["start"], meta["end"]) == ("2013-01-02", "2013-02-28")
    assert result.source == "yahoo"


@pytest.mark.parametrize(
    "start, end, message",
    [("2020-13-01", None, "--start '2020-13-01' is not a date"),
     (None, "tomorrow", "--end 'tomorrow' is not a date"),
     ("2020-02-01", "2020-01-01", "before --start")],
)  # fmt: skip
def test_bad_dates_are_rejected_before_any_request(data_dir, yahoo, start, end, message):
    fake = yahoo(history_frame(aapl(0, 40)))
    with pytest.raises(ForecastError, match=message):
        prices.fetch("AAPL", data_dir, start=start, end=end)
    assert fake.calls == [] and snapshot(data_dir) == {}


def test_incremental_fetch_requests_only_later_days_and_new_rows_win(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 100)))
    prices.fetch("AAPL", data_dir)
    last = aapl(99, 100).index[0]

    later = history_frame(aapl(100, 120))
    fake = yahoo(later)
    result = prices.fetch("AAPL", data_dir)
    kwargs = fake.calls[0][1]
    assert kwargs["start"] == _day(last + pd.Timedelta(days=1)) and "period" not in kwargs
    assert "end" not in kwargs
    assert (result.source, result.new_rows, len(result.frame)) == ("yahoo", 20, 120)
    pd.testing.assert_frame_equal(prices.load_prices("AAPL", data_dir), result.frame)

    # Yahoo sometimes re-sends the last cached day with a corrected close: the new row wins
    overlap = history_frame(aapl(119, 125))
    overlap.iloc[0, overlap.columns.get_loc("Close")] = 999.0
    yahoo(overlap)
    result = prices.fetch("AAPL", data_dir)
    assert result.frame["Close"].iloc[119] == 999.0
    assert (len(result.frame), result.new_rows) == (125, 5)


def test_new_split_refetches_the_whole_history(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 100)))
    prices.fetch("AAPL", data_dir)
    split_day = _day(aapl(105, 106).index[0])
    full = history_frame(aapl(0, 120), stock_splits={split_day: 7.0})
    fake = yahoo(history_frame(aapl(100, 120), stock_splits={split_day: 7.0}), full)
    result = prices.fetch("AAPL", data_dir)
    assert len(fake.calls) == 2
    assert fake.calls[1][1]["start"] == "2013-01-02"  # the cache's first date
    pd.testing.assert_frame_equal(result.frame, prices.normalize(full, "AAPL"))
    assert result.frame.loc[split_day, "Stock Splits"] == 7.0


def test_one_deadline_covers_a_refetch_too(data_dir, yahoo, monkeypatch):
    """The deadline is per ticker: a split-triggered refetch gets what the first call left."""
    yahoo(history_frame(aapl(0, 100)))
    prices.fetch("AAPL", data_dir)
    split_day = _day(aapl(105, 106).index[0])
    yahoo(
        history_frame(aapl(100, 120), stock_splits={split_day: 7.0}),
        history_frame(aapl(0, 120), stock_splits={split_day: 7.0}),
    )
    now = [100.0]
    monkeypatch.setattr(yahoo_client.time, "monotonic", lambda: now[0])
    timeouts = []

    def call(fn, timeout):  # each call to Yahoo takes 10 s of the clock
        timeouts.append(timeout)
        now[0] += 10.0
        return fn()

    monkeypatch.setattr(yahoo_client, "call_with_deadline", call)
    prices.fetch("AAPL", data_dir, deadline=30.0)
    assert timeouts == [30.0, 20.0]


def test_incremental_up_to_date_cache_needs_no_warning(data_dir, yahoo):
    rows = aapl(0, 40)
    recent = pd.bdate_range(end=pd.Timestamp.today().normalize() - pd.Timedelta(days=2), periods=40)
    yahoo(history_frame(rows.set_axis(recent, axis=0)))
    prices.fetch("AAPL", data_dir)
    before = snapshot(data_dir)
    yahoo(pd.DataFrame())  # nothing new since yesterday
    result = prices.fetch("AAPL", data_dir)
    assert (result.source, result.warning, result.new_rows) == ("cache", None, 0)
    assert snapshot(data_dir) == before


def set_fetched_at(data_dir: Path, ticker: str, stamp: str) -> None:
    path = prices_dir(data_dir) / f"{ticker}.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"fetched_at": stamp}))


def test_a_bar_fetched_on_its_own_day_is_asked_for_again(data_dir, yahoo):
    """A fetch during trading hours caches a partial bar; the next fetch must replace it."""
    rows = aapl(0, 100)
    yahoo(history_frame(rows, dividends={_day(rows.index[-1]): 0.1}))
    prices.fetch("AAPL", data_dir)
    last = _day(rows.index[-1])
    set_fetched_at(data_dir, "AAPL", f"{last}T18:30:00+00:00")  # 14:30 in New York

    final = history_frame(aapl(99, 103), dividends={last: 0.1})
    final.iloc[0, final.columns.get_loc("Close")] = 555.0  # the day's real close
    fake = yahoo(final)
    result = prices.fetch("AAPL", data_dir)
    assert [call[1]["start"] for call in fake.calls] == [last]  # no refetch: dividend was seen
    assert result.frame.loc[last, "Close"] == 555.0
    assert (len(result.frame), result.new_rows) == (103, 3)


# --- failures and fallbacks ----------------------------------------------------------------------


def test_offline_with_cache_keeps_it_byte_identical(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 100)))
    prices.fetch("AAPL", data_dir)
    before = snapshot(prices_dir(data_dir))
    fake = yahoo(OSError("Could not resolve host: query2.finance.yahoo.com"))
    result = prices.fetch("AAPL", data_dir)
    assert len(fake.calls) == 1  # no retries on DNS failure
    assert result.source == "cache" and result.new_rows == 0
    assert result.warning == "Yahoo unreachable; using cached AAPL through 2013-05-24"
    assert snapshot(prices_dir(data_dir)) == before


def test_offline_without_cache_uses_the_shipped_sample(data_dir, yahoo):
    sample_hash = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    yahoo(OSError("DNS"))
    result = prices.fetch("AAPL", data_dir)
    assert (result.source, len(result.frame), result.new_rows) == ("sample", 2699, 2699)
    assert (
        result.warning == "Yahoo unreachable; using the shipped sample of AAPL through 2023-09-21"
    )
    assert_schema(result.frame)
    assert (result.frame[["Dividends", "Stock Splits"]] == 0).all().all()
    meta = prices.read_provenance("AAPL", data_dir)
    assert (meta["source"], meta["rows"], meta["last"]) == ("sample", 2699, "2023-09-21")
    assert meta["yfinance_version"] is None
    assert hashlib.sha256(SAMPLE.read_bytes()).hexdigest() == sample_hash


def test_gspc_sample_maps_caret_symbol(data_dir):
    result = prices.fetch("^gspc", data_dir, offline=True)
    assert (result.source, len(result.frame)) == ("sample", 5031)
    assert result.path == cache_csv(data_dir, "^GSPC")
    np.testing.assert_array_equal(result.frame["Adj Close"], result.frame["Close"])


def test_unreachable_without_any_copy_is_an_error_and_writes_nothing(data_dir, yahoo):
    yahoo(OSError("DNS"))
    with pytest.raises(ForecastError) as e:
        prices.fetch("MSFT", data_dir)
    assert str(e.value) == (
        "cannot reach Yahoo and no cached copy of MSFT; "
        "import a file with `forecast fetch MSFT --csv FILE`"
    )
    assert not prices_dir(data_dir).exists()


def test_empty_frame_without_copy_is_unknown_ticker(data_dir, yahoo):
    yahoo(pd.DataFrame())
    with pytest.raises(ForecastError, match="no price data for ZZZZ: unknown or delisted"):
        prices.fetch("ZZZZ", data_dir)
    assert not prices_dir(data_dir).exists()


def test_empty_frame_with_stale_cache_is_treated_as_unreachable(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 50)))
    prices.fetch("AAPL", data_dir)
    before = snapshot(prices_dir(data_dir))
    yahoo(pd.DataFrame())
    result = prices.fetch("AAPL", data_dir)
    assert result.source == "cache" and "using cached AAPL through 2013-03-14" in result.warning
    assert snapshot(prices_dir(data_dir)) == before


def test_empty_frames_after_a_dns_failure_mean_offline_not_unknown(data_dir, yahoo):
    yahoo(OSError("DNS"), pd.DataFrame())  # what yfinance does after repeated DNS failures
    client = prices.Yahoo()  # one per command: it remembers the failure
    with pytest.raises(ForecastError, match="cannot reach Yahoo"):
        prices.fetch("MSFT", data_dir, client=client)
    with pytest.raises(ForecastError, match="cannot reach Yahoo and no cached copy of IBM"):
        prices.fetch("IBM", data_dir, client=client)


def test_rate_limit_retries_with_backoff_then_falls_back(data_dir, yahoo, no_sleep_no_history):
    fake = yahoo(yfinance.exceptions.YFRateLimitError())
    result = prices.fetch("AAPL", data_dir, retries=3)
    assert len(fake.calls) == 4  # the first try and 3 retries
    assert no_sleep_no_history == [1.0, 2.0, 4.0]
    assert result.source == "sample" and "rate-limiting" in result.warning


def test_rate_limit_then_success(data_dir, yahoo, no_sleep_no_history):
    statuses = []
    fake = yahoo(yfinance.exceptions.YFRateLimitError(), history_frame(aapl(0, 40)))
    result = prices.fetch("MSFT", data_dir, on_status=statuses.append)
    assert len(fake.calls) == 2 and no_sleep_no_history == [1.0]
    assert result.source == "yahoo" and len(result.frame) == 40
    assert any("rate limit" in s for s in statuses)


def test_a_hanging_call_hits_the_deadline(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 50)))
    prices.fetch("AAPL", data_dir)
    before = snapshot(prices_dir(data_dir))
    release = threading.Event()
    yahoo(lambda kwargs: release.wait(5) and pd.DataFrame())
    try:
        result = prices.fetch("AAPL", data_dir, deadline=0.05)
    finally:
        release.set()  # let the abandoned daemon thread finish
    assert result.source == "cache" and "did not answer within 0.05 s" in result.warning
    assert snapshot(prices_dir(data_dir)) == before


def test_offline_flag_never_imports_yfinance(tmp_path):
    code = (
        "import sys; from forecast import prices; "
        f"r = prices.fetch('AAPL', {str(tmp_path)!r}, offline=True); "
        "assert r.source == 'sample', r; assert 'yfinance' not in sys.modules; print(r.warning)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "offline; using the shipped sample of AAPL through 2023-09-21"


def test_offline_with_cache_returns_it(data_dir, yahoo):
    fake = yahoo(history_frame(aapl(0, 50)))
    prices.fetch("AAPL", data_dir)
    result = prices.fetch("AAPL", data_dir, offline=True)
    assert len(fake.calls) == 1
    assert result.warning == "offline; using cached AAPL through 2013-03-14"


# --- CSV import ----------------------------------------------------------------------------------


def write_csv(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def minimal_csv(n: int = 40, close=lambda i: 100.0 + i, date=None, sep=",") -> str:
    days = pd.bdate_range("2020-01-02", periods=n)
    lines = [f"Date{sep}Close"] + [
        f"{date(d) if date else d.date()}{sep}{close(i)}" for i, d in enumerate(days)
    ]
    return "\n".join(lines) + "\n"


def test_read_price_csv_yahoo_export(tmp_path):
    frame = prices.read_price_csv(Path(str(SAMPLE)), "AAPL")
    assert_schema(frame)
    assert len(frame) == 2699
    np.testing.assert_array_equal(frame["Adj Close"], aapl()["Adj Close"])


def test_read_price_csv_minimal_fills_columns_and_sorts(tmp_path):
    text = minimal_csv(40)
    lines = text.splitlines()
    shuffled = "\n".join([lines[0].lower()] + lines[1:][::-1])  # lower-case header, newest first
    frame = prices.read_price_csv(write_csv(tmp_path, shuffled), "X")
    assert_schema(frame)
    for c in ("Open", "High", "Low", "Adj Close"):
        np.testing.assert_array_equal(frame[c], frame["Close"])
    assert (frame["Volume"] == 0).all() and frame["Close"].iloc[0] == 100.0


def test_read_price_csv_accepts_us_dates(tmp_path):
    text = minimal_csv(40, date=lambda d: f"{d.month}/{d.day}/{d.year}")
    frame = prices.read_price_csv(write_csv(tmp_path, text), "X")
    assert frame.index[0] == pd.Timestamp("2020-01-02")


BAD_CSVS = {
    "missing Date": ("Day,Close\n2020-01-02,1\n", "has no Date column"),
    "missing Close": ("Date,Open\n2020-01-02,1\n", "has no Close column"),
    "bad date": (minimal_csv().replace("2020-01-03", "2020-01-32"), "cannot parse date"),
    "duplicate date": (minimal_csv().replace("2020-01-03", "2020-01-02"), "appears more than once"),
    "zero price": (minimal_csv(close=lambda i: 0.0 if i == 5 else 1.0), "must be positive"),
    "negative price": (minimal_csv(close=lambda i: -1.0 if i == 5 else 1.0), "must be positive"),
    "text price": (minimal_csv(close=lambda i: "abc" if i == 5 else 1.0), "is not a number"),
    "blank price": (minimal_csv(close=lambda i: "" if i == 5 else 1.0), "Close is missing"),
    "null price": (
        minimal_csv().replace("Date,Close", "Date,Open,Close").replace(",105.0", ",1,null"),
        "Close is missing",
    ),
    "several tickers": (
        "Price,Close,Close\nTicker,AAPL,MSFT\nDate,,\n" + minimal_csv().split("\n", 1)[1],
        "holds 2 tickers",
    ),
    "dollar text": (minimal_csv(close=lambda i: "$abc" if i == 5 else "$1"), "is not a number"),
    "comma decimal with commas": (minimal_csv(close=lambda i: "1,5"), "more fields than"),
    "two decimal marks": (
        minimal_csv(close=lambda i: "1.5.5" if i == 3 else "1,5", sep=";"),
        "is not a number",
    ),
    "too few rows": (minimal_csv(n=MIN_ROWS - 1), "need at least 30"),
    "high below close, no low": (
        minimal_csv(close=lambda i: f"{1 if i == 5 else 101 + i},{100 + i}").replace(
            "Date,Close", "Date,High,Close"
        ),
        r"High 1 is below Close 105 on 2020-01-09",  # Low is Close where a file has none
    ),
    "a future date": (
        minimal_csv().replace("2020-01-09", "2099-01-09"),
        "date 2099-01-09 is in the future; fix or remove that row",
    ),
    "high below low": (
        minimal_csv(close=lambda i: f"{1 if i == 5 else 101 + i},{99 + i},{100 + i}").replace(
            "Date,Close", "Date,High,Low,Close"
        ),
        r"High 1 is below Low 104 on 2020-01-09; fix that row",
    ),
    "empty file": ("", "not a readable CSV"),
    "binary": ("\x00\x01\x02", "has no Date column"),
}


@pytest.mark.parametrize("name", BAD_CSVS)
def test_read_price_csv_rejects(tmp_path, name):
    text, message = BAD_CSVS[name]
    with pytest.raises(ForecastError, match=message) as e:
        prices.read_price_csv(write_csv(tmp_path, text), "X")
    assert "\n" not in str(e.value)


# --- the formats people have ------------------------------------------------------------------


@pytest.mark.parametrize("adjusted", [True, False], ids=["auto_adjust", "raw"])
@pytest.mark.parametrize("ticker_first", [False, True], ids=["price_first", "group_by_ticker"])
def test_read_price_csv_takes_yfinance_download_to_csv(tmp_path, adjusted, ticker_first):
    raw = download_frame(aapl(0, 40), adjusted=adjusted)
    if ticker_first:  # download(group_by="ticker") puts the Ticker level first
        raw = raw.swaplevel(axis=1)
    text = raw.to_csv()
    assert text.splitlines()[2].startswith("Date,,")  # the three header rows
    frame = prices.read_price_csv(write_csv(tmp_path, text), "AAPL")
    pd.testing.assert_frame_equal(frame, prices.normalize(raw, "AAPL"), rtol=1e-15)


def test_yahoo_null_rows_are_dropped_and_counted(data_dir, tmp_path):
    lines = VALID.splitlines()
    nulls = ["2013-01-05,null,null,null,null,null,null", "2013-01-06,null,null,null,null,null,null"]
    text = "\n".join([lines[0], *lines[1:4], *nulls, *lines[4:]]) + "\n"
    notes: list[str] = []
    frame = prices.read_price_csv(write_csv(tmp_path, text), "AAPL", notes)
    assert len(frame) == len(lines) - 1
    pd.testing.assert_frame_equal(frame, prices.read_price_csv(write_csv(tmp_path, VALID), "A"))
    assert notes == ["dropped 2 rows without prices (null) from prices.csv (AAPL)"]
    result = prices.import_csv("AAPL", write_csv(tmp_path, text), data_dir)
    assert result.warning == notes[0]


def test_semicolons_with_decimal_commas(tmp_path):
    expected = [1000.5 + i for i in range(40)]
    for close in (lambda i: f"{1000 + i},5", lambda i: f"1.{i:03d},5", lambda i: f"{1000 + i}.5"):
        text = minimal_csv(40, close=close, sep=";")
        frame = prices.read_price_csv(write_csv(tmp_path, text), "X")
        assert_schema(frame)
        np.testing.assert_array_equal(frame["Close"], expected)


@pytest.mark.parametrize("column", ["Close", "Adj Close"])
def test_a_file_with_only_date_and_one_close(tmp_path, column):
    text = minimal_csv(40).replace("Date,Close", f"Date,{column}")
    frame = prices.read_price_csv(write_csv(tmp_path, text), "X")
    for c in ("Open", "High", "Low", "Close", "Adj Close"):
        np.testing.assert_array_equal(frame[c], [100.0 + i for i in range(40)])


def test_a_nasdaq_com_export(tmp_path):
    rows = aapl(0, 40)
    lines = ["Date,Close/Last,Volume,Open,High,Low"] + [
        f"{d:%m/%d/%Y},${r.Close:.2f},{r.Volume},${r.Open:.2f},${r.High:.2f},${r.Low:.2f}"
        for d, r in rows.iloc[::-1].iterrows()  # newest first, as Nasdaq.com writes it
    ]
    frame = prices.read_price_csv(write_csv(tmp_path, "\n".join(lines)), "AAPL")
    assert_schema(frame)
    assert list(frame.index) == list(rows.index)
    np.testing.assert_allclose(frame["Close"], rows["Close"].round(2), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(frame["Adj Close"], frame["Close"])
    np.testing.assert_array_equal(frame["Volume"], rows["Volume"])
    big = "Date,Close/Last\n" + "".join(
        f'{d:%m/%d/%Y},"$1,{i:03d}.25"\n' for i, d in enumerate(rows.index)
    )
    frame = prices.read_price_csv(write_csv(tmp_path, big), "BKNG")
    np.testing.assert_array_equal(frame["Close"], [1000.25 + i for i in range(40)])


def test_read_price_csv_missing_file(tmp_path):
    with pytest.raises(ForecastError, match="cannot read .*nope.csv"):
        prices.read_price_csv(tmp_path / "nope.csv", "X")
    with pytest.raises(ForecastError, match="is not a regular file; give a CSV file"):
        prices.read_price_csv(tmp_path, "X")  # a directory


def test_import_csv_is_cached_like_a_fetch(data_dir, tmp_path):
    result = prices.import_csv("x", write_csv(tmp_path, minimal_csv(40)), data_dir)
    assert (result.ticker, result.source, result.new_rows) == ("X", "csv", 40)
    meta = prices.read_provenance("X", data_dir)
    assert meta["source"] == "csv" and meta["imported_from"].endswith("prices.csv")
    pd.testing.assert_frame_equal(prices.load_prices("X", data_dir), result.frame)


def test_failed_import_leaves_cache_byte_identical(data_dir, tmp_path):
    prices.import_csv("X", write_csv(tmp_path, minimal_csv(40)), data_dir)
    before = snapshot(data_dir)
    with pytest.raises(ForecastError):
        prices.import_csv("X", write_csv(tmp_path, minimal_csv(5), "short.csv"), data_dir)
    assert snapshot(data_dir) == before


# --- the property: any bytes give a valid frame or a ForecastError -------------------------------


def check_csv_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        frame = prices.read_price_csv(path, "FUZZ")
    except ForecastError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert_schema(frame)
    assert len(frame) >= MIN_ROWS
    values = frame[PRICES].to_numpy()
    assert np.isfinite(values).all() and (values > 0).all()
    assert (frame["Volume"] >= 0).all()


FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
CELLS = st.one_of(
    st.sampled_from(
        ["", "null", "nan", "1", "0", "-2.5", "1e400", "inf", "2020-01-02", "2020-02-30",
         "1/2/2020", "2020-01-02T00:00:00+05:00", "abc", '"', "Date", "Close", "9" * 30]
    ),
    st.text(max_size=8),
)  # fmt: skip


@FUZZ
@given(data=st.binary(max_size=600))
def test_fuzz_random_bytes(tmp_path, data):
    check_csv_bytes(tmp_path / "fuzz.csv", data)


@FUZZ
@given(
    header=st.lists(
        st.sampled_from(["Date", "Close", "Open", "Adj Close", "Volume", "Dividends", "x", ""]),
        min_size=1,
        max_size=6,
    ),
    rows=st.lists(st.lists(CELLS, min_size=0, max_size=7), max_size=40),
    sep=st.sampled_from([",", ";", "\t"]),
)
def test_fuzz_csv_like_text(tmp_path, header, rows, sep):
    text = "\n".join(sep.join(r) for r in [header, *rows])
    check_csv_bytes(tmp_path / "fuzz.csv", text.encode("utf-8", "surrogatepass"))


VALID = "".join(SAMPLE.read_text().splitlines(keepends=True)[:45])


@FUZZ
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["delete", "insert", "duplicate_line", "swap_lines"]),
            st.integers(0, len(VALID)),
            st.integers(0, 40),
            st.text(max_size=6),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_fuzz_mutated_valid_csv(tmp_path, edits):
    text = VALID
    for kind, at, size, insert in edits:
        lines = text.splitlines(keepends=True)
        if kind == "delete":
            text = text[:at] + text[at + size :]
        elif kind == "insert":
            text = text[:at] + insert + text[at:]
        elif lines:
            i, j = at % len(lines), size % len(lines)
            if kind == "duplicate_line":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    check_csv_bytes(tmp_path / "fuzz.csv", text.encode("utf-8", "surrogatepass"))


# --- provenance, listing, fingerprint ------------------------------------------------------------


def test_load_prices_errors(data_dir, yahoo):
    with pytest.raises(
        ForecastError, match=r"no cached prices for AAPL; run `forecast fetch AAPL`"
    ):
        prices.load_prices("AAPL", data_dir)
    yahoo(history_frame(aapl(0, 40)))
    prices.fetch("AAPL", data_dir)
    cache_csv(data_dir, "AAPL").write_text("Date,Close\n2020-01-02,oops\n")
    with pytest.raises(ForecastError, match="corrupt.*re-fetch with `forecast fetch AAPL`"):
        prices.load_prices("AAPL", data_dir)
    with pytest.raises(ForecastError, match="invalid ticker"):
        prices.load_prices("../etc/passwd", data_dir)


def test_a_cache_an_older_version_wrote_with_crossed_or_future_days_still_loads(data_dir):
    """Older versions cached such days; calling that cache corrupt would replace it (offline:
    with the shipped sample). Its crossed day loads with High = Low = Close, its date stands."""
    from forecast.prices import cache

    frame = aapl(0, 60).copy()
    day5, last = frame.index[5], frame.index[-1]
    frame.loc[day5, "High"] = frame.loc[day5, "Low"] / 2
    frame = frame.rename(index={last: pd.Timestamp("2099-01-02")})
    cache.write("AAPL", data_dir, frame, "yahoo")
    got = prices.load_prices("AAPL", data_dir)
    assert len(got) == 60 and got.index[-1] == pd.Timestamp("2099-01-02")
    assert got.loc[day5, "High"] == got.loc[day5, "Low"] == got.loc[day5, "Close"]
    assert (got["High"] >= got["Low"]).all()


def test_load_prices_refuses_a_cache_truncated_at_a_line_boundary(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 40)))
    prices.fetch("AAPL", data_dir)
    path = cache_csv(data_dir, "AAPL")
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-3]))  # still valid CSV
    with pytest.raises(ForecastError) as e:
        prices.load_prices("AAPL", data_dir)
    assert str(e.value) == (
        f"cached prices for AAPL are corrupt ({path.name} does not match the sha256 in "
        "AAPL.json; was it edited, or a write interrupted?); re-fetch with `forecast fetch AAPL`"
    )


def test_a_crash_between_csv_and_sidecar_keeps_the_old_cache(data_dir, yahoo, monkeypatch):
    yahoo(history_frame(aapl(0, 40)))
    old = prices.fetch("AAPL", data_dir).frame

    def crash(path, obj):
        raise KeyboardInterrupt  # the process dies after the CSV, before its sidecar

    monkeypatch.setattr(prices.cache, "atomic_write_json", crash)
    yahoo(history_frame(aapl(40, 45)))
    with pytest.raises(KeyboardInterrupt):
        prices.fetch("AAPL", data_dir)
    monkeypatch.undo()
    # the JSON is the commit point: the old cache is still the cache, beside an orphan CSV
    pd.testing.assert_frame_equal(prices.load_prices("AAPL", data_dir), old)
    assert len(list(prices_dir(data_dir).glob("AAPL.*.csv"))) == 2

    fake = yahoo(history_frame(aapl(40, 45)))
    result = prices.fetch("AAPL", data_dir)
    assert "period" not in fake.calls[0][1]  # the old cache is extended, not refetched
    pd.testing.assert_frame_equal(prices.load_prices("AAPL", data_dir), result.frame)
    assert list(prices_dir(data_dir).glob("AAPL.*.csv")) == [result.path]  # orphan removed


def test_a_csv_without_its_sidecar_is_not_a_cache(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 40)))
    prices.fetch("AAPL", data_dir)
    (prices_dir(data_dir) / "AAPL.json").unlink()
    with pytest.raises(ForecastError, match=r"no cached prices for AAPL; run `forecast fetch"):
        prices.load_prices("AAPL", data_dir)
    (prices_dir(data_dir) / "AAPL.json").write_text('{"ticker": "AAPL"}')
    with pytest.raises(ForecastError, match=r"AAPL.json: the top level lacks source, .*re-fetch"):
        prices.load_prices("AAPL", data_dir)


def test_a_cache_in_the_layout_before_content_addressing_still_loads(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 40)))
    result = prices.fetch("AAPL", data_dir)
    legacy = prices_dir(data_dir) / "AAPL.csv"
    result.path.rename(legacy)
    pd.testing.assert_frame_equal(prices.load_prices("AAPL", data_dir), result.frame)
    (prices_dir(data_dir) / "AAPL.json").unlink()
    with pytest.raises(ForecastError, match=r"AAPL.json is missing, so AAPL.csv cannot be verif"):
        prices.load_prices("AAPL", data_dir)


def test_corrupt_cache_is_repaired_by_a_fetch(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 40)))
    prices.fetch("AAPL", data_dir)
    cache_csv(data_dir, "AAPL").write_text("garbage")
    fake = yahoo(history_frame(aapl(0, 45)))
    result = prices.fetch("AAPL", data_dir)
    assert fake.calls[0][1]["period"] == "max" and len(result.frame) == 45


def test_read_provenance_errors(data_dir):
    with pytest.raises(ForecastError, match="no cached prices for MSFT"):
        prices.read_provenance("MSFT", data_dir)
    prices_dir(data_dir).mkdir()
    (prices_dir(data_dir) / "MSFT.json").write_text("{not json")
    with pytest.raises(ForecastError, match="corrupt"):
        prices.read_provenance("MSFT", data_dir)


def test_list_cached_and_latest_ticker(data_dir, yahoo, monkeypatch):
    assert prices.list_cached(data_dir) == []
    with pytest.raises(ForecastError, match=r"nothing fetched yet; run `forecast fetch TICKER`"):
        prices.latest_ticker(data_dir)
    yahoo(history_frame(aapl(0, 40)))
    prices.fetch("MSFT", data_dir)
    prices.fetch("AAPL", data_dir, offline=True)
    for name, stamp in [
        ("MSFT", "2024-01-02T00:00:00+00:00"),
        ("AAPL", "2024-01-01T00:00:00+00:00"),
    ]:
        meta_path = prices_dir(data_dir) / f"{name}.json"
        meta = json.loads(meta_path.read_text()) | {"fetched_at": stamp}
        meta_path.write_text(json.dumps(meta))
    assert prices.latest_ticker(data_dir) == "AAPL"  # fetched last, though downloaded earlier

    entries = prices.list_cached(data_dir, today=dt.date(2023, 9, 25))
    assert [(e["ticker"], e["last"], e["stale"]) for e in entries] == [
        ("AAPL", "2023-09-21", False),  # 4 days: a long weekend
        ("MSFT", "2013-02-28", True),
    ]
    assert prices.list_cached(data_dir, today=dt.date(2023, 9, 26))[0]["stale"] is True


def test_latest_ticker_follows_offline_fetches_of_cached_tickers(data_dir):
    stamps = set()
    for ticker in ["AAPL", "^GSPC", "AAPL"]:
        prices.fetch(ticker, data_dir, offline=True)
        assert prices.latest_ticker(data_dir) == ticker
        stamps.add(prices.read_provenance("AAPL", data_dir)["fetched_at"])
    assert len(stamps) == 1  # fetched_at still says when the data was written, not read


def test_latest_ticker_follows_up_to_date_fetches_and_imports(data_dir, yahoo, tmp_path):
    recent = pd.bdate_range(end=pd.Timestamp.today().normalize() - pd.Timedelta(days=2), periods=40)
    yahoo(history_frame(aapl(0, 40).set_axis(recent, axis=0)))
    prices.fetch("AAPL", data_dir)
    prices.fetch("MSFT", data_dir)
    fetched_at = prices.read_provenance("AAPL", data_dir)["fetched_at"]
    yahoo(pd.DataFrame())  # nothing new since yesterday: a no-op that writes no cache
    assert prices.fetch("AAPL", data_dir).source == "cache"
    assert prices.latest_ticker(data_dir) == "AAPL"
    assert prices.read_provenance("AAPL", data_dir)["fetched_at"] == fetched_at
    prices.import_csv("X", write_csv(tmp_path, minimal_csv(40)), data_dir)
    assert prices.latest_ticker(data_dir) == "X"


def test_a_failed_fetch_does_not_change_the_latest_ticker(data_dir, yahoo):
    prices.fetch("AAPL", data_dir, offline=True)
    yahoo(pd.DataFrame())
    with pytest.raises(ForecastError):
        prices.fetch("NOPE", data_dir)
    assert prices.latest_ticker(data_dir) == "AAPL"


@pytest.mark.parametrize(
    "state", ['{"ticker": "GONE", "since": "x"}', '{"ticker": "../x"}', "[1]", "{not json", None]
)
def test_latest_ticker_falls_back_to_fetched_at(data_dir, yahoo, state):
    """A missing or unusable marker, or one naming a ticker no longer cached: newest sidecar."""
    yahoo(history_frame(aapl(0, 40)))
    prices.fetch("MSFT", data_dir)
    prices.fetch("AAPL", data_dir)
    set_fetched_at(data_dir, "MSFT", "2999-01-01T00:00:00+00:00")
    latest = prices_dir(data_dir) / ".latest"
    assert prices.latest_ticker(data_dir) == "AAPL"
    if state is None:
        latest.unlink()
    else:
        latest.write_text(state)
    assert prices.latest_ticker(data_dir) == "MSFT"
    assert [e["ticker"] for e in prices.list_cached(data_dir)] == ["AAPL", "MSFT"]


def test_fingerprint_is_dates_and_adj_close():
    frame = prices.normalize(history_frame(aapl(0, 40)), "AAPL")
    expected = hashlib.sha256(
        frame.index.as_unit("ns").asi8.astype("<i8").tobytes()
        + frame["Adj Close"].to_numpy("<f8").tobytes()
    ).hexdigest()
    assert prices.fingerprint(frame) == expected
    assert prices.fingerprint(frame.assign(Close=1.0)) == expected  # only Adj Close counts
    changed = frame.copy()
    changed.iloc[-1, changed.columns.get_loc("Adj Close")] += 1e-9
    assert prices.fingerprint(changed) != expected


def _day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")
