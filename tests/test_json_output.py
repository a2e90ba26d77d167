"""--json on every command that reports something: stdout is one JSON document whose keys are
the ones README's "JSON output" section documents; messages stay on stderr."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forecast.cli.app import app

runner = CliRunner()
TINY = ["--window", "10", "--hidden", "4", "--epochs", "1"]
README = Path(__file__).resolve().parents[1] / "README.md"


def run(data_dir, *args):
    return runner.invoke(app, ["--data-dir", str(data_dir), *args])


def documented(command: str) -> set[str]:
    """The keys README's JSON section lists for `command` (a `- `forecast CMD --json`: ...` line)."""
    section = README.read_text().split("### JSON output")[1].split("\n## ")[0]
    line = next(x for x in section.splitlines() if x.startswith(f"- `{command} --json`"))
    keys = re.sub(r"\([^)]*\)", "", line.split(":", 1)[1]).split(";")[0]  # top level only
    return set(re.findall(r"`(\w+)`", keys))


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    assert run(d, "fetch", "AAPL", "--offline").exit_code == 0
    return d


def parsed(result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fetch_list_train_models_predict_backtest_json(d):
    fetch = parsed(run(d, "fetch", "AAPL", "--offline", "--json"))
    assert fetch[0]["ticker"] == "AAPL" and documented("fetch") <= set(fetch[0])
    listed = parsed(run(d, "list", "--json"))
    assert listed[0]["ticker"] == "AAPL" and documented("list") <= set(listed[0])
    train = parsed(run(d, "train", "AAPL", *TINY, "--json"))
    assert train["name"] == "AAPL" and train["kind"] == "own"
    assert train["trained_through"] == "2023-09-21" and documented("train") <= set(train)
    models = parsed(run(d, "models", "--json"))
    assert models[0]["name"] == "AAPL" and documented("models") <= set(models[0])
    pred = parsed(run(d, "predict", "AAPL", "--days", "2", "--paths", "50", "--json"))
    assert documented("predict") <= set(pred)
    assert pred["model"]["name"] == "AAPL" and pred["model"]["kind"] == "own"
    assert pred["model"]["through"] == "2023-09-21"
    assert {"forecast_version", "seed", "paths", "days", "exchange"} <= set(pred["run"])
    assert pred["run"]["paths"] == 50 and pred["run"]["seed"] == 0
    bt = run(
        d,
        "backtest",
        "AAPL",
        *TINY,
        "--paths",
        "20",
        "--test-days",
        "8",
        "--horizon",
        "2",
        "--json",
    )
    bt = parsed(bt)
    assert documented("backtest") <= set(bt) and bt["model"] == {"name": "AAPL", "kind": "own"}
    assert bt["options"]["seed"] == 0 and bt["options"]["n_paths"] == 20
    assert models[0]["forecast_version"] == train["forecast_version"]
    rm = parsed(run(d, "rm", "AAPL", "--models", "--yes", "--json"))
    assert documented("rm") <= set(rm) and len(rm["deleted"]) == 2


def test_empty_lists_are_empty_json(tmp_path):
    assert parsed(run(tmp_path, "list", "--json")) == []
    assert parsed(run(tmp_path, "models", "--json")) == []
