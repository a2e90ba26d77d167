"""Terminal craft: help without type noise, with env vars, examples and every choice; -q keeps
only results and errors; --debug adds the traceback a bug report needs."""

import re

import pytest
import typer
from typer.testing import CliRunner

from forecast import api, config
from forecast.cli.app import app

runner = CliRunner()
COMMANDS = sorted(typer.main.get_command(app).commands)
TINY = ["--window", "10", "--hidden", "4", "--epochs", "1"]


def help_of(*args: str) -> str:
    result = runner.invoke(app, [*args, "-h"], terminal_width=300)
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.replace("│", " ").split())  # one line: no wrapping in words


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_has_no_type_noise(command):
    text = help_of(*([command] if command else []))
    assert not re.findall(r"<(bool|str|int|float|path|list\[[^\]]*\]|int range|float range)>", text)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_shows_an_example(command):
    text = help_of(command)
    assert "Examples:" in text and f"forecast {command}" in text.split("Examples:")[1]


def test_env_vars_are_shown():
    assert "[env var: FORECAST_DATA_DIR]" in help_of()
    assert "[env var: FORECAST_SCHEDULER]" in help_of("predict")


def test_every_loss_and_feature_is_in_the_help():
    for command in ("train", "backtest"):
        text = help_of(command)
        options = text.split("--loss", 1)[1]
        assert all(loss.value in options.split("--features")[0] for loss in config.Loss)
        features = options.split("--features", 1)[1].split("╰")[0]
        assert all(f in features for f in config.FEATURES), features


@pytest.fixture
def trained(data_dir):
    assert runner.invoke(app, ["fetch", "AAPL", "--offline"]).exit_code == 0
    assert runner.invoke(app, ["train", "AAPL", *TINY]).exit_code == 0
    return data_dir


def test_quiet_prints_results_and_errors_only(trained):
    loud = runner.invoke(app, ["predict", "AAPL", "--days", "2", "--paths", "50"])
    assert loud.exit_code == 0 and "warning:" in loud.stderr  # the sample is old
    quiet = runner.invoke(app, ["-q", "predict", "AAPL", "--days", "2", "--paths", "50"])
    assert quiet.exit_code == 0 and quiet.stderr == "" and "2023-09-22" in quiet.stdout
    trained_quietly = runner.invoke(app, ["-q", "train", "AAPL", *TINY])
    assert trained_quietly.exit_code == 0 and trained_quietly.stderr == ""
    failed = runner.invoke(app, ["-q", "predict", "NOPE"])
    assert failed.exit_code == 1 and failed.stderr.startswith("error: ")
    assert failed.stderr.count("\n") == 1


def test_debug_shows_the_traceback_of_an_error(trained):
    plain = runner.invoke(app, ["predict", "NOPE"])
    assert plain.exit_code == 1 and "Traceback" not in plain.stderr
    debug = runner.invoke(app, ["--debug", "predict", "NOPE"])
    assert debug.exit_code == 1 and "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("error: ")


def test_a_bug_is_one_line_that_asks_for_debug(trained, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(api, "predict", broken)
    result = runner.invoke(app, ["predict", "AAPL"])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "unexpected ZeroDivisionError" in result.stderr and "--debug" in result.stderr
    debug = runner.invoke(app, ["--debug", "predict", "AAPL"])
    assert isinstance(debug.exception, ZeroDivisionError)  # raised, so Python prints it
