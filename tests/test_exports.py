"""--export on predict and backtest: long tables (one row per ticker, date and horizon) for one
ticker or many, as .csv, .parquet or .json by the suffix; anything else is a usage error."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast.cli.app import app

runner = CliRunner()
TINY = ["--window", "10", "--hidden", "4", "--epochs", "1"]
BACKTEST = [*TINY, "--paths", "50", "--test-days", "12", "--refit-every", "12", "--horizon", "2"]


def run(data_dir, *args):
    return runner.invoke(app, ["--data-dir", str(data_dir), *args])


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """AAPL and ^GSPC (the shipped samples), each with a tiny model of its own."""
    d = tmp_path_factory.mktemp("data")
    assert run(d, "fetch", "AAPL", "^GSPC", "--offline").exit_code == 0
    r = run(d, "train", "AAPL", "^GSPC", "--per-ticker", "--jobs", "1", *TINY)
    assert r.exit_code == 0, r.output
    return d


def test_predict_exports_one_ticker_long_with_its_model(two, tmp_path):
    out = tmp_path / "aapl.csv"
    r = run(two, "predict", "AAPL", "--days", "4", "--paths", "100", "--export", str(out))
    assert r.exit_code == 0, r.output
    assert f"wrote 4 forecasts to {out}" in r.stderr
    t = pd.read_csv(out)
    assert list(t.columns[:4]) == ["ticker", "date", "h", "median"]
    assert {"lower_80", "upper_80", "lower_95", "upper_95", "p_up"} <= set(t.columns)
    assert list(t["h"]) == [1, 2, 3, 4] and set(t["ticker"]) == {"AAPL"}
    assert list(t["date"])[0] == "2023-09-22"  # the session after the sample's last day
    assert set(t["model"]) == {"AAPL"} and set(t["model_kind"]) == {"own"}
    assert set(t["trained_through"]) == {"2023-09-21"}


def test_predict_exports_a_universe_in_one_table_and_json(two, tmp_path):
    out = tmp_path / "all.json"
    r = run(two, "predict", "AAPL", "^GSPC", "--days", "3", "--paths", "100", "--export", str(out))
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())
    assert len(rows) == 6 and {row["ticker"] for row in rows} == {"AAPL", "^GSPC"}
    assert all(row["date"].count("-") == 2 and len(row["date"]) == 10 for row in rows)
    j = run(two, "predict", "AAPL", "^GSPC", "--days", "3", "--paths", "100", "--json")
    data = json.loads(j.stdout)  # the universe's JSON has every day, not only the last
    assert [len(d["forecasts"]) for d in data] == [3, 3]


def test_backtest_exports_a_universe_with_a_ticker_column(two, tmp_path):
    out = tmp_path / "bt.csv"
    r = run(two, "backtest", "AAPL", "^GSPC", *BACKTEST, "--export", str(out))
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out)
    assert set(t["ticker"]) == {"AAPL", "^GSPC"} and {"model", "origin", "h"} <= set(t.columns)
    per = t.groupby("ticker").size()
    assert per["AAPL"] == per["^GSPC"] == 6 * (12 + 11)  # six models, 12 origins at h=1, 11 at 2


@pytest.mark.parametrize("name", ["out.xlsx", "out", "out.csv.gz"])
def test_an_unknown_export_suffix_is_a_usage_error(two, tmp_path, name):
    for command in (["predict", "AAPL"], ["backtest", "AAPL"]):
        r = run(two, *command, "--export", str(tmp_path / name))
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith("error: ") and ".csv, .parquet or .json" in r.stderr
        assert r.stderr.count("\n") == 1 and r.stdout == ""
    assert not list(tmp_path.iterdir())


def test_parquet_export(two, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "f.parquet"
    r = run(two, "predict", "AAPL", "--days", "2", "--paths", "100", "--export", str(out))
    assert r.exit_code == 0, r.output
    t = pd.read_parquet(out)
    assert len(t) == 2 and t["ticker"].tolist() == ["AAPL", "AAPL"]


def test_parquet_without_pyarrow_says_how_to_get_it(two, tmp_path):
    """In a fresh process where pyarrow cannot be imported (as when it is not installed)."""
    out = tmp_path / "f.parquet"
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "from forecast.cli.app import app\n"
        f"app(['--data-dir', {str(two)!r}, 'predict', 'AAPL', '--days', '2', '--export', {str(out)!r}])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "needs pyarrow" in r.stderr
    assert r.stderr.count("\n") == 1 and not out.exists()
