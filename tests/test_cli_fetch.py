"""`forecast fetch` and `forecast list` driven through the real CLI, Yahoo faked at Ticker()."""

import hashlib
import subprocess
import sys

import pandas as pd
import pytest
import yfinance
from cli import invoke as run
from test_prices import SAMPLE, aapl, history_frame, minimal_csv, snapshot, write_csv

from forecast import prices
from forecast.config import prices_dir


def assert_fails(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    monkeypatch.setattr(prices.yahoo, "_sleep", lambda seconds: None)


@pytest.fixture
def yahoo(monkeypatch):
    from test_prices import FakeYahoo

    def install(*answers):
        fake = FakeYahoo(*answers)
        monkeypatch.setattr(yfinance, "Ticker", fake)
        return fake

    return install


@pytest.fixture
def cached(data_dir, yahoo):
    """A data dir holding a Yahoo copy of AAPL and an imported X: what failures must not touch."""
    yahoo(history_frame(aapl(0, 60)))
    assert run("fetch", "AAPL").exit_code == 0
    csv = write_csv(data_dir.parent, minimal_csv(40), "x.csv")
    assert run("fetch", "X", "--csv", str(csv)).exit_code == 0
    return snapshot(data_dir)


@pytest.mark.parametrize("command", [[], ["fetch"], ["list"]])
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_help_does_not_import_heavy_modules():
    run_ = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "forecast", "--help"],
        capture_output=True,
        text=True,
    )
    assert run_.returncode == 0
    heavy = [
        line
        for line in run_.stderr.splitlines()
        if any(name in line for name in ("pandas", "numpy", "numba", "yfinance"))
    ]
    assert heavy == []


def test_fetch_prints_a_table(data_dir, yahoo):
    yahoo(history_frame(aapl(0, 60)))
    result = run("fetch", "aapl")
    assert result.exit_code == 0, result.output
    last_close = f"{aapl(59, 60)['Close'].iloc[0]:,.2f}"
    for text in ("AAPL", "60", "2013-01-02", "2013-03-28", last_close, "yahoo"):
        assert text in result.stdout
    assert result.stderr == ""


def test_offline_fetch_uses_packaged_sample_from_any_directory(data_dir, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    sample_hash = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    result = run("fetch", "AAPL", "--offline")
    assert result.exit_code == 0, result.output
    assert "warning: offline; using the shipped sample of AAPL through 2023-09-21" in result.stderr
    assert "2,699" in result.stdout and "2023-09-21" in result.stdout
    assert "sample" in result.stdout
    assert (prices_dir(data_dir) / "AAPL.json").exists()
    assert list(elsewhere.iterdir()) == []
    assert hashlib.sha256(SAMPLE.read_bytes()).hexdigest() == sample_hash


@pytest.mark.parametrize(
    "symbol, message",
    [("", "empty ticker symbol"), (" ", "empty ticker symbol"), ("A B", "contains spaces"),
     ("../x", "invalid ticker '../X'"), ("TOOLONGTICKERNAME1", "longer than 15 characters"),
     ("AB$", "invalid ticker 'AB$'"), ("..", "invalid ticker '..'")],
)  # fmt: skip
def test_invalid_symbols(cached, data_dir, yahoo, symbol, message):
    fake = yahoo(history_frame(aapl(0, 60)))
    assert_fails(run("fetch", symbol), message)
    assert fake.calls == []
    assert snapshot(data_dir) == cached


def test_unknown_ticker(cached, data_dir, yahoo):
    yahoo(pd.DataFrame())
    assert_fails(run("fetch", "NOPE"), "no price data for NOPE: unknown or delisted ticker?")
    assert snapshot(data_dir) == cached


def test_no_network_and_no_cache(cached, data_dir, yahoo):
    yahoo(OSError("Could not resolve host"))
    assert_fails(
        run("fetch", "MSFT"),
        "cannot reach Yahoo and no cached copy of MSFT; "
        "import a file with `forecast fetch MSFT --csv FILE`",
    )
    assert snapshot(data_dir) == cached


def test_no_network_with_cache_warns_and_keeps_it(cached, data_dir, yahoo):
    yahoo(OSError("Could not resolve host"))
    result = run("fetch", "AAPL")
    assert result.exit_code == 0
    assert "warning: Yahoo unreachable; using cached AAPL through 2013-03-28" in result.stderr
    assert "cache" in result.stdout
    latest = "prices/.latest"  # the fetch worked, so AAPL is now the latest ticker, not X
    assert snapshot(data_dir).keys() == cached.keys()
    assert snapshot(data_dir) | {latest: None} == cached | {latest: None}
    assert prices.latest_ticker(data_dir) == "AAPL"


BAD_CSVS = {
    "missing column": ("Date,Open\n2020-01-02,1\n", "has no Close column"),
    "unparseable dates": (minimal_csv().replace("2020-01-03", "Jan 3rd"), "cannot parse date"),
    "duplicate dates": (minimal_csv().replace("2020-01-03", "2020-01-02"), "more than once"),
    "non-positive prices": (minimal_csv(close=lambda i: 0 if i == 3 else 1), "must be positive"),
    "non-numeric prices": (minimal_csv(close=lambda i: "x" if i == 3 else 1), "not a number"),
    "too few rows": (minimal_csv(n=10), "has only 10 rows; need at least 30 trading days"),
}


@pytest.mark.parametrize("name", BAD_CSVS)
def test_bad_csv_imports(cached, data_dir, name):
    text, message = BAD_CSVS[name]
    csv = write_csv(data_dir.parent, text, "bad.csv")
    assert_fails(run("fetch", "X", "--csv", str(csv)), message)
    assert snapshot(data_dir) == cached


def test_csv_import_errors(cached, data_dir):
    assert_fails(run("fetch", "X", "--csv", str(data_dir / "missing.csv")), "cannot read")
    csv = write_csv(data_dir.parent, minimal_csv(40), "ok.csv")
    for args, message in [
        (["X", "Y", "--csv", str(csv)], "give one TICKER with one --csv FILE"),
        (["X", "--csv", str(csv), "--offline"], "do not apply to --csv"),
    ]:
        result = run("fetch", *args)
        assert result.exit_code == 2 and message in result.stderr, result.output
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert snapshot(data_dir) == cached


def test_csv_import_prints_a_table(data_dir):
    csv = write_csv(data_dir.parent, minimal_csv(40), "ok.csv")
    result = run("fetch", "x", "--csv", str(csv))
    assert result.exit_code == 0, result.output
    assert "X" in result.stdout and "40" in result.stdout and "csv" in result.stdout


@pytest.mark.parametrize(
    "args, message, code",
    [(["--start", "2020-13-01"], "'2020-13-01' is not a date in the form YYYY-MM-DD", 2),
     (["--end", "yesterday"], "'yesterday' is not a date", 2),
     (["--start", "2020-02-01", "--end", "2020-01-01"], "is before --start", 1)],
)  # fmt: skip
def test_bad_dates(cached, data_dir, yahoo, args, message, code):
    fake = yahoo(history_frame(aapl(0, 60)))
    result = run("fetch", "AAPL", *args)
    assert result.exit_code == code and message in result.stderr, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert fake.calls == [] and snapshot(data_dir) == cached


def test_several_tickers_fetch_what_succeeds_and_exit_1(data_dir, yahoo):
    fake = yahoo(history_frame(aapl(0, 60)), pd.DataFrame(), history_frame(aapl(0, 50)))
    result = run("fetch", "AAPL", "NOPE", "MSFT")
    assert result.exit_code == 1
    assert [symbol for symbol, _ in fake.calls] == ["AAPL", "NOPE", "MSFT"]
    assert "AAPL" in result.stdout and "MSFT" in result.stdout
    assert "error: no price data for NOPE" in result.stderr
    assert "error: 1 of 3 tickers failed: NOPE" in result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in prices_dir(data_dir).glob("*.json")) == ["AAPL.json", "MSFT.json"]
    assert prices.latest_ticker(data_dir) == "MSFT"


@pytest.mark.parametrize("bad", ["", "A B", "../x"])
def test_an_invalid_symbol_among_several_is_one_message_and_fetches_nothing(data_dir, bad):
    result = run("fetch", "--offline", "AAPL", bad)
    assert_fails(result, "ticker")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(data_dir.iterdir()) == []


def test_list(data_dir, yahoo):
    result = run("list")
    assert result.exit_code == 0
    assert "no prices in" in result.stderr and "forecast fetch TICKER" in result.stderr
    run("fetch", "AAPL", "--offline")
    result = run("list")
    assert result.exit_code == 0
    for text in ("AAPL", "2013-01-02", "2023-09-21", "2,699", "sample", "stale"):
        assert text in result.stdout


def test_the_latest_ticker_is_the_one_fetched_last_even_offline(data_dir):
    for ticker in ["AAPL", "^GSPC", "AAPL"]:
        assert run("fetch", ticker, "--offline").exit_code == 0
    assert prices.latest_ticker(data_dir) == "AAPL"
    assert ".latest" not in run("list").stdout
