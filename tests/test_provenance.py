"""Which model made a forecast is never hidden, and `train` never silently replaces a model
built over another set of tickers."""

import json

import pytest
from typer.testing import CliRunner

from forecast.cli.app import app
from forecast.config import models_dir

runner = CliRunner()
TINY = ["--window", "10", "--hidden", "4", "--epochs", "1"]
FAST = ["--days", "2", "--paths", "50"]


def run(data_dir, *args):
    return runner.invoke(app, ["--data-dir", str(data_dir), *args])


@pytest.fixture
def d(tmp_path):
    d = tmp_path / "data"
    assert run(d, "fetch", "AAPL", "^GSPC", "--offline").exit_code == 0
    assert run(d, "train", "AAPL", *TINY).exit_code == 0  # AAPL's own model, then
    r = run(d, "train", "AAPL", "^GSPC", *TINY)  # a global model trained on it later
    assert r.exit_code == 0, r.output
    return d


def test_predict_says_which_model_and_own_forces_the_tickers_own(d):
    newest = run(d, "predict", "AAPL", *FAST)
    assert newest.exit_code == 0, newest.output
    assert "GLOBAL (global model)" in newest.stderr and "--model own" in newest.stderr
    assert "model: GLOBAL (global model)" in newest.stdout
    own = run(d, "predict", "AAPL", *FAST, "--model", "own")
    assert own.exit_code == 0 and "model: AAPL (own model), trained through 2023-09-21" in (
        " ".join(own.stdout.split())
    )
    j = json.loads(run(d, "predict", "AAPL", *FAST, "--model", "own", "--json").stdout)
    assert j["model"]["name"] == "AAPL" and j["model"]["kind"] == "own"
    j = json.loads(run(d, "predict", "AAPL", *FAST, "--json").stdout)
    assert j["model"]["name"] == "GLOBAL" and j["model"]["kind"] == "global"
    screen = json.loads(
        run(d, "predict", "AAPL", "^GSPC", *FAST, "--model", "own", "--json").stdout
    )
    assert {r["ticker"]: r["status"] for r in screen} == {"AAPL": "ok", "^GSPC": "failed"}
    aapl = next(r for r in screen if r["ticker"] == "AAPL")
    assert aapl["model_name"] == "AAPL" and aapl["model_kind"] == "own"


def test_train_refuses_to_replace_a_global_model_of_other_tickers(d):
    before = (models_dir(d) / "GLOBAL.json").read_bytes()
    r = run(d, "train", "AAPL", "--global", "GLOBAL", *TINY)
    assert r.exit_code == 1 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "GLOBAL is the global model GLOBAL of AAPL, ^GSPC" in r.stderr and "--force" in r.stderr
    assert (models_dir(d) / "GLOBAL.json").read_bytes() == before
    same = run(d, "train", "^GSPC", "AAPL", *TINY)  # the same set again: a retrain
    assert same.exit_code == 0, same.output
    forced = run(d, "train", "AAPL", "--global", "GLOBAL", "--force", *TINY, "--json")
    assert forced.exit_code == 0 and json.loads(forced.stdout)["tickers"] == ["AAPL"]


def test_a_tickers_own_model_does_not_replace_a_global_model_of_its_name(tmp_path):
    d = tmp_path / "data"
    assert run(d, "fetch", "AAPL", "^GSPC", "--offline").exit_code == 0
    assert run(d, "train", "AAPL", "^GSPC", "--global", "AAPL", *TINY).exit_code == 0
    r = run(d, "train", "AAPL", *TINY)
    assert r.exit_code == 1 and "AAPL is the global model AAPL of AAPL, ^GSPC" in r.stderr


def test_own_is_not_a_global_name(d):
    r = run(d, "train", "AAPL", "^GSPC", "--global", "own", *TINY)
    assert r.exit_code == 1 and "choose another --global name" in r.stderr
