"""`forecast backtest` driven through the real CLI on the shipped AAPL sample, with a tiny RNN."""

import dataclasses
import json

import pytest
import typer
from cli import invoke as run
from test_backtest import KEYS

from forecast.cli.app import app
from forecast.config import TrainConfig

TINY = ["--window", "10", "--hidden", "4", "--epochs", "2", "--paths", "50"]
FAST = [*TINY, "--test-days", "30", "--refit-every", "10", "--horizon", "3"]


def assert_fails(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1  # one line
    assert "Traceback" not in result.output
    assert result.stdout == ""


def assert_usage(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1  # one line
    assert result.stdout == ""


@pytest.fixture
def fetched(data_dir):
    assert run("fetch", "AAPL", "--offline").exit_code == 0
    return data_dir


def test_json_parses_and_has_every_key(fetched, tmp_path):
    out = tmp_path / "forecasts.csv"
    result = run("backtest", "AAPL", *FAST, "--max-train", "500", "--json", "--export", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert data["ticker"] == "AAPL" and data["origins"] == 30
    assert data["options"]["config"]["window"] == 10 and data["options"]["max_train"] == 500
    assert {"verdict", "folds", "models", "options", "wall_time_s", "best_baseline"} <= set(data)
    for model in ("rnn", "naive", "drift", "ewma", "garch", "egarch"):
        assert [r["horizon"] for r in data["models"][model]] == [1, 2, 3]
        assert [r["n"] for r in data["models"][model]] == [30, 29, 28]
        assert all(KEYS <= set(r) for r in data["models"][model])
    assert data["models"]["naive"][0]["rel_mae"] == 1.0
    assert data["models"]["naive"][0]["direction_accuracy"] is None  # NaN → null
    for fold in data["folds"]:
        assert fold["fit_last_date"] == fold["first_origin"]  # through the origin, no further
        assert fold["train_days"] == 501
    # --export: one row per model, origin and scored horizon
    assert f"wrote {6 * (30 + 29 + 28)} forecasts to {out}" in result.stderr
    header, *rows = out.read_text().splitlines()
    assert header.split(",")[:6] == [
        "model",
        "ticker",
        "origin",
        "h",
        "target_date",
        "price_origin",
    ]
    assert len(rows) == 6 * 87 and rows[0].startswith("rnn,AAPL,")


def test_export_to_a_missing_folder_fails_before_any_work(fetched, tmp_path):
    assert_fails(
        run("backtest", "AAPL", *FAST, "--export", str(tmp_path / "nope" / "x.csv")),
        "does not exist; create it first",
    )


def test_tables_and_verdict_default_to_the_latest_ticker(fetched):
    result = run("backtest", *FAST)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "AAPL: walk-forward backtest, 30 origins" in out
    for text in ("point forecasts", "intervals", "egarch", "naive", "drift", "NLL", "CRPS"):
        assert text in out
    lines = out.splitlines()
    # the verdict first: risk, then skill; then the risk tables before the point forecasts
    assert lines[1].startswith("RNN risk: 1-day VaR 95% exceeded on ")
    assert lines[2].startswith("RNN: ")
    assert (
        out.index("VaR and ES backtests")
        < out.index("variance forecasts: QLIKE against")
        < out.index("point forecasts")
    )
    # zero-mean models forecast the last close: one group of rows, names down the horizons
    assert [line.split()[0] for line in lines if line.startswith(" rnn,")] == ["rnn,"]


def test_any_levels_and_var_levels_reach_the_scores_and_the_export(fetched, tmp_path):
    out = tmp_path / "f.csv"
    result = run(
        "backtest", *FAST, "--level", "90", "--level", "99", "--var", "97.5", "--json",
        "--export", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    row = data["models"]["rnn"][0]
    assert {"coverage_90", "coverage_99", "interval_score_99", "var_97.5_rate"} <= set(row)
    assert "coverage_80" not in row and "var_95_rate" not in row
    assert data["basel"]["rnn"]["days"] == 30  # the Basel 99% VaR is always backtested
    import pandas as pd

    table = pd.read_csv(out)
    assert {"lower_90", "upper_99", "sigma", "var_97.5", "es_97.5"} <= set(table.columns)
    assert (table["es_97.5"] >= table["var_97.5"]).all()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--level", "120"], "between 50 and 99.9"),
        (["--level", "50"], "between 50 and 99.9"),
        (["--var", "99.9"], "between 50 and 99.9"),
        (["--level", "90", "--level", "90"], "given twice"),
        (["--var", "99", "--loss", "direction"], "no distribution"),
    ],
)
def test_bad_levels_are_usage_errors(fetched, args, message):
    assert_usage(run("backtest", "AAPL", *TINY, *args), message)


def test_options_that_do_not_fit_the_data_fail_in_one_line(fetched):
    assert_fails(
        run("backtest", "AAPL", *TINY, "--test-days", "5000"),
        "--test-days 5000 leaves 0 of 2699 days to train the first fold",
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--horizon", "0"], "'--horizon'"),
        (["--horizon", "61"], "'--horizon'"),
        (["--refit-every", "0"], "'--refit-every'"),
        (["--window", "1"], "'--window'"),
        (["--loss", "huber"], "'huber' is not one of"),
    ],
)
def test_out_of_range_options_are_usage_errors(fetched, args, message):
    assert_usage(run("backtest", "AAPL", *TINY, *args), message)


def test_no_cached_prices_fail_in_one_line(data_dir):
    assert_fails(run("backtest"), "nothing fetched yet; run `forecast fetch TICKER`")
    assert_fails(run("backtest", "MSFT"), "no cached prices for MSFT; run `forecast fetch MSFT`")


def test_help_names_every_option():
    result = run("backtest", "--help")
    assert result.exit_code == 0
    for option in (
        "--horizon",
        "--refit-every",
        "--test-days",
        "--max-train",
        "--export",
        "--json",
    ):
        assert option in result.stdout
    assert "Maximum epochs per refit" in result.stdout


def test_model_option_defaults_are_train_configs():
    """The CLI repeats TrainConfig's defaults, --epochs too (the vol ensemble stops early);
    keep them in step."""
    command = typer.main.get_command(app).commands["backtest"]
    defaults = {p.name: p.default for p in command.params}
    cfg = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        if field.name in defaults:
            want = getattr(cfg, field.name)
            got = defaults[field.name]
            assert got == (",".join(want) if field.name == "features" else want), field.name
