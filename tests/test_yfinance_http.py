"""forecast.prices.fetch through yfinance 1.7's real parsing, with Yahoo's HTTP answers canned.

test_prices.py replaces yfinance.Ticker with ready-made frames. Here the real Ticker.history runs
(time zone lookup, chart parsing, events merge, tz-aware index) and only the HTTP layer is fake:
`YfData.get` / `YfData.cache_get`, which every Yahoo request of a history() call goes through,
answer from a v8 chart JSON built from the shipped AAPL rows, as curl_cffi Response objects.
Below that layer (cookie, crumb, consent, 4xx strategy toggle in `YfData._make_request`) is not
exercised. Any other URL, and any real curl_cffi request, is recorded and fails the test.
"""

import json
import sqlite3
import time
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest
import yfinance
import yfinance.base
import yfinance.cache
from curl_cffi import requests as curl_requests
from test_prices import _day, aapl, assert_schema
from yfinance.data import YfData

from forecast import prices
from forecast.errors import ForecastError

NY = "America/New_York"
CHART = "https://query2.finance.yahoo.com/v8/finance/chart/"
QUOTE_SUMMARY = "https://query2.finance.yahoo.com/v10/finance/quoteSummary/"
QUOTE = "https://query1.finance.yahoo.com/v7/finance/quote"
TIMESERIES = "https://query1.finance.yahoo.com/ws/fundamentals-timeseries/v1/finance/timeseries/"
DIVIDEND = ("2013-02-07", 2.65)  # (day, amount) inside the first 40 sample rows
SPLIT = ("2013-02-21", 4, 1)  # (day, numerator, denominator): a made-up 4:1 split
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
DELISTED = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}


def epoch(day, stamp: str = "midnight") -> int:
    """A trading day as Yahoo stamps a daily bar: midnight, or the 09:30 open, in New York."""
    local = pd.Timestamp(day).tz_localize(NY)
    if stamp == "open":
        local += pd.Timedelta(hours=9, minutes=30)
    return int(local.timestamp())


def response(url: str, params: dict | None, status: int, body) -> curl_requests.Response:
    """A curl_cffi Response as a finished request leaves it (no network handle)."""
    r = curl_requests.Response()
    r.url = url + ("?" + urlencode(params) if params else "")
    r.status_code, r.ok = status, status < 400
    r.reason = {200: "OK", 404: "Not Found"}.get(status, "")
    r.headers["content-type"] = "application/json;charset=utf-8"
    r.content = json.dumps(body).encode()
    return r


class YahooStub:
    """Answers yfinance's GETs like query2.finance.yahoo.com would, and records every one.

    `rows` (sample rows, tz-naive dates) are what Yahoo has; a chart request with
    period1/period2 gets the bars and events whose timestamps fall in [period1, period2), a
    range=1d request (yfinance's time zone lookup) the last bar. `missing` lists the chart
    requests ("tz", "history") answered with Yahoo's 404 "symbol may be delisted" instead.
    """

    def __init__(self, symbol: str, rows: pd.DataFrame, *, stamp: str = "midnight"):
        self.symbol = symbol
        self.rows = rows
        self.stamp = stamp
        self.dividends: dict[str, float] = {}
        self.splits: dict[str, tuple[int, int]] = {}
        self.missing: set[str] = set()
        self.requests: list[tuple[str, dict]] = []
        self.unexpected: list[str] = []

    def charts(self, kind: str) -> list[dict]:
        """Params of the chart requests of one kind: "tz" (range=1d) or "history" (period1)."""
        key = "range" if kind == "tz" else "period1"
        return [p for url, p in self.requests if url.startswith(CHART) and key in p]

    def get(self, url: str, params=None, timeout=30) -> curl_requests.Response:
        params = dict(params or {})
        self.requests.append((url, params))
        if url == CHART + self.symbol:
            kind = "tz" if params.get("range") == "1d" else "history"
            if kind in self.missing:
                return response(url, params, 404, DELISTED)
            if kind == "tz":
                return response(url, params, 200, self.chart(self.rows.iloc[-1:], params))
            window = (params["period1"], params["period2"])
            return response(url, params, 200, self.chart(self.rows, params, window))
        # With no time zone from the chart, yfinance asks for .info, at most twice a process
        if url == QUOTE_SUMMARY + self.symbol:
            error = {"code": "Not Found", "description": f"Quote not found for symbol: {url}"}
            return response(url, params, 404, {"quoteSummary": {"result": None, "error": error}})
        if url.startswith(QUOTE) and params.get("symbols") == self.symbol:
            return response(url, params, 200, {"quoteResponse": {"result": [], "error": None}})
        if url.startswith(TIMESERIES + f"{self.symbol}?"):
            return response(url, params, 200, {"timeseries": {"result": [], "error": None}})
        self.unexpected.append(url)
        raise AssertionError(f"unexpected Yahoo request {url} {params}")

    def chart(self, rows: pd.DataFrame, params: dict, window: tuple[int, int] | None = None):
        stamps = [epoch(day, self.stamp) for day in rows.index]
        keep = [window is None or window[0] <= t < window[1] for t in stamps]
        rows, stamps = rows[keep], [t for t, k in zip(stamps, keep, strict=True) if k]

        def inside(day) -> bool:
            t = epoch(day, self.stamp)
            return window is None or window[0] <= t < window[1]

        events = {
            "dividends": {
                str(epoch(d, self.stamp)): {"amount": a, "date": epoch(d, self.stamp)}
                for d, a in self.dividends.items()
                if inside(d)
            },
            "splits": {
                str(epoch(d, self.stamp)): {
                    "date": epoch(d, self.stamp),
                    "numerator": float(n),
                    "denominator": float(m),
                    "splitRatio": f"{n}:{m}",
                }
                for d, (n, m) in self.splits.items()
                if inside(d)
            },
        }
        last = stamps[-1] if stamps else int(time.time())
        offset = int(pd.Timestamp(last, unit="s", tz=NY).utcoffset().total_seconds())
        zone = "EDT" if offset == -4 * 3600 else "EST"

        def period(start: int, end: int) -> dict:
            return {"timezone": zone, "start": start, "end": end, "gmtoffset": offset}

        meta = {
            "currency": "USD",
            "symbol": self.symbol,
            "exchangeName": "NMS",
            "fullExchangeName": "NasdaqGS",
            "instrumentType": "EQUITY",
            "firstTradeDate": 345479400,
            "regularMarketTime": last + 6 * 3600,
            "hasPrePostMarketData": True,
            "gmtoffset": offset,
            "timezone": zone,
            "exchangeTimezoneName": NY,
            "regularMarketPrice": float(rows["Close"].iloc[-1]) if len(rows) else None,
            "priceHint": 2,
            "currentTradingPeriod": {
                "pre": period(last - 5 * 3600, last),
                "regular": period(last, last + 23400),
                "post": period(last + 23400, last + 37800),
            },
            "dataGranularity": "1d",
            "range": params.get("range", ""),
            "validRanges": VALID_RANGES,
        }
        result = {"meta": meta}
        if len(rows):  # Yahoo leaves out timestamp and indicators when no bar is in range
            result |= {
                "timestamp": stamps,
                "events": {k: v for k, v in events.items() if v},
                "indicators": {
                    "quote": [
                        {
                            "open": rows["Open"].tolist(),
                            "high": rows["High"].tolist(),
                            "low": rows["Low"].tolist(),
                            "close": rows["Close"].tolist(),
                            "volume": rows["Volume"].astype(int).tolist(),
                        }
                    ],
                    "adjclose": [{"adjclose": rows["Adj Close"].tolist()}],
                },
            }
        else:
            result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return {"chart": {"result": [result], "error": None}}


@pytest.fixture
def yahoo_http(monkeypatch):
    """Install a YahooStub under yfinance's HTTP layer; each test gets fresh yfinance caches."""
    monkeypatch.setattr(prices.yahoo, "_sleep", lambda seconds: None)
    # yfinance keeps its SQLite caches in process-wide singletons bound to the first location
    # used; start each test unbound, so prices.fetch binds them to this test's data directory.
    monkeypatch.setattr(prices.yahoo, "_cache_location", None)
    caches = yfinance.cache
    databases = [caches._TzDBManager, caches._CookieDBManager, caches._ISINDBManager]
    proxies = [caches.tz_db_proxy, caches.Cookie_db_proxy, caches.isin_db_proxy]
    bound = [proxy.obj for proxy in proxies]
    for manager, attribute in [
        (caches._TzCacheManager, "_tz_cache"),
        (caches._CookieCacheManager, "_Cookie_cache"),
        (caches._ISINCacheManager, "_isin_cache"),
    ]:
        monkeypatch.setattr(manager, attribute, None)
    for manager in databases:
        monkeypatch.setattr(manager, "_db", None)
        monkeypatch.setattr(manager, "_cache_dir", manager._cache_dir)
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", 0)  # a fresh process's count
    monkeypatch.setitem(yfinance.config.debug.data, "hide_exceptions", True)  # the default
    stubs: list[YahooStub] = []
    network: list[str] = []

    def no_network(session, method, url, *args, **kwargs):
        network.append(url)
        raise AssertionError(f"real HTTP request {method} {url}")

    monkeypatch.setattr(curl_requests.Session, "request", no_network)

    def get(data, url, params=None, timeout=30):
        return stubs[-1].get(url, params=params, timeout=timeout)

    def post(data, url, *args, **kwargs):
        network.append(url)
        raise AssertionError(f"unexpected POST {url}")

    monkeypatch.setattr(YfData, "get", get)
    monkeypatch.setattr(YfData, "cache_get", get)  # the real one is an lru_cache across tests
    monkeypatch.setattr(YfData, "post", post)

    def install(symbol: str, rows: pd.DataFrame, **kwargs) -> YahooStub:
        stubs.append(YahooStub(symbol, rows, **kwargs))
        return stubs[-1]

    yield install
    for manager in databases:
        manager.close_db()
    for proxy, obj in zip(proxies, bound, strict=True):
        proxy.initialize(obj)
    assert network == [], network
    assert [url for stub in stubs for url in stub.unexpected] == []


def with_events(stub: YahooStub) -> YahooStub:
    stub.dividends[DIVIDEND[0]] = DIVIDEND[1]
    stub.splits[SPLIT[0]] = SPLIT[1:]
    return stub


def cached_tz(user_cache) -> dict[str, str]:
    path = user_cache / "tkr-tz.db"
    with sqlite3.connect(path) as db:
        return dict(db.execute("select key, value from _tz_kv").fetchall())


@pytest.mark.parametrize("stamp", ["midnight", "open"])
def test_fetch_parses_a_v8_chart_into_the_schema(data_dir, yahoo_http, stamp, user_cache):
    rows = aapl(0, 40)
    stub = with_events(yahoo_http("AAPL", rows, stamp=stamp))
    before = time.time()
    result = prices.fetch("AAPL", data_dir)

    # yfinance asked for the time zone, then the whole history in one chart request
    assert [p["range"] for p in stub.charts("tz")] == ["1d"]
    (history,) = stub.charts("history")
    assert history | {"period1": None, "period2": None} == {
        "period1": None, "period2": None, "interval": "1d", "includePrePost": False,
        "events": "div,splits,capitalGains",
    }  # fmt: skip
    assert history["period1"] < epoch("1930-01-01")  # period="max" is 99 years back from now
    assert before - 5 <= history["period2"] <= time.time() + 5

    assert (result.source, result.warning, result.new_rows) == ("yahoo", None, 40)
    frame = prices.load_prices("AAPL", data_dir)
    pd.testing.assert_frame_equal(frame, result.frame)
    assert_schema(frame)
    assert list(frame.index) == list(rows.index)  # exchange-local trading dates, tz-naive
    for column in ["Open", "High", "Low", "Close", "Adj Close", "Volume"]:
        np.testing.assert_array_equal(frame[column], rows[column], err_msg=column)
    assert (frame["Adj Close"] < frame["Close"]).all()  # the adjclose array, not a Close copy
    dividends = frame["Dividends"][frame["Dividends"] != 0]
    splits = frame["Stock Splits"][frame["Stock Splits"] != 0]
    assert dividends.to_dict() == {pd.Timestamp(DIVIDEND[0]): DIVIDEND[1]}
    assert splits.to_dict() == {pd.Timestamp(SPLIT[0]): 4.0}

    meta = prices.read_provenance("AAPL", data_dir)
    assert (meta["source"], meta["yfinance_version"]) == ("yahoo", yfinance.__version__)
    assert yfinance.__version__.startswith("1.7.")
    assert (meta["first"], meta["last"], meta["rows"]) == ("2013-01-02", _day(rows.index[-1]), 40)
    assert (meta["start"], meta["end"]) == (None, None)
    # yfinance's own time zone cache went to the private per-user folder, not the data dir
    assert cached_tz(user_cache) == {"AAPL": NY}
    assert sorted(p.name for p in data_dir.iterdir()) == [".locks", "prices"]  # no yfinance/


def test_incremental_fetch_asks_after_the_cached_last_date_and_merges(data_dir, yahoo_http):
    stub = with_events(yahoo_http("AAPL", aapl(0, 40), stamp="open"))
    first = prices.fetch("AAPL", data_dir)
    last = first.frame.index[-1]

    stub.rows = aapl(0, 45)  # five more trading days at Yahoo
    stub.requests.clear()
    result = prices.fetch("AAPL", data_dir)

    assert stub.charts("tz") == []  # the time zone came from yfinance's cache in the data dir
    (history,) = stub.charts("history")
    assert history["period1"] == epoch(last + pd.Timedelta(days=1))  # midnight NY after last
    assert history["period1"] > epoch(last, "open")
    assert (result.source, result.warning, result.new_rows) == ("yahoo", None, 5)
    assert_schema(result.frame)
    assert list(result.frame.index) == list(aapl(0, 45).index)
    np.testing.assert_array_equal(result.frame["Adj Close"], aapl(0, 45)["Adj Close"])
    assert result.frame.loc[DIVIDEND[0], "Dividends"] == DIVIDEND[1]  # kept from the cache
    assert result.frame.loc[SPLIT[0], "Stock Splits"] == 4.0
    assert result.frame.iloc[40:][["Dividends", "Stock Splits"]].eq(0).all().all()
    pd.testing.assert_frame_equal(prices.load_prices("AAPL", data_dir), result.frame)
    meta = prices.read_provenance("AAPL", data_dir)
    assert (meta["source"], meta["rows"], meta["last"]) == (
        "yahoo",
        45,
        _day(aapl(44, 45).index[0]),
    )


def test_a_new_dividend_in_the_later_rows_refetches_everything(data_dir, yahoo_http):
    stub = yahoo_http("AAPL", aapl(0, 40))
    prices.fetch("AAPL", data_dir)

    stub.rows = aapl(0, 45)
    new_day = _day(aapl(42, 43).index[0])
    stub.dividends[new_day] = 0.47
    stub.requests.clear()
    result = prices.fetch("AAPL", data_dir)

    starts = [p["period1"] for p in stub.charts("history")]
    assert starts == [epoch(aapl(40, 41).index[0]), epoch("2013-01-02")]
    assert (len(result.frame), result.new_rows) == (45, 5)
    assert result.frame["Dividends"][result.frame["Dividends"] != 0].to_dict() == {
        pd.Timestamp(new_day): 0.47
    }


@pytest.mark.parametrize(
    "missing, hide_exceptions",
    [({"tz", "history"}, True), ({"history"}, True), ({"history"}, False)],
    ids=["unknown-symbol", "delisted-tz-known", "delisted-tz-known-raising"],
)
def test_chart_404_is_unknown_ticker_and_writes_nothing(
    data_dir, yahoo_http, monkeypatch, missing, hide_exceptions, user_cache
):
    stub = yahoo_http("ZZZZ", aapl(0, 40))
    stub.missing = missing
    monkeypatch.setitem(yfinance.config.debug.data, "hide_exceptions", hide_exceptions)
    with pytest.raises(ForecastError) as e:
        prices.fetch("ZZZZ", data_dir)
    assert str(e.value) == (
        "no price data for ZZZZ: unknown or delisted ticker? check the symbol on finance.yahoo.com"
    )
    assert list(data_dir.iterdir()) == []  # a failed fetch leaves nothing in the data dir
    assert stub.charts("tz"), "yfinance never asked the stub"
    if missing == {"history"}:
        assert len(stub.charts("history")) == 1
    else:  # no time zone: yfinance gives up before asking for prices
        assert stub.charts("history") == []
        assert any(url.startswith(QUOTE_SUMMARY) for url, _ in stub.requests)
        assert "ZZZZ" not in cached_tz(user_cache)
