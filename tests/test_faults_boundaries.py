"""The fault suite, part 2 (issue 18): nothing outside the data directory is touched, no
command hangs, no worker outlives its command.

One section per class of fault; README's "What is promised under faults" table lists them.
    9  output files          --export/--plot replace only regular files, never the tool's own
    10 network waits         a scheduler that never answers, malformed addresses: one line, fast
    11 processes             kill -9 / SIGTERM of a multi-ticker run leaves no process behind
    12 global-model files    every field validated: one line, never a KeyError or TypeError
    13 corrupt models        a corrupt model never blocks its replacement or is skipped silently
    14 smaller               --jobs bound, --global '', --start form, rm through a linked folder
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_prices import aapl
from typer.testing import CliRunner

from forecast.cli.app import app
from forecast.config import models_dir, prices_dir

runner = CliRunner()
TINY = ["--epochs", "2", "--ensemble", "1", "--hidden", "8", "--window", "20"]


def run(data_dir, *args):
    return runner.invoke(app, ["--data-dir", str(data_dir), *map(str, args)])


def one_line(result, code: int, *words) -> None:
    """Exit `code`, one `error:` line on stderr holding `words`, no traceback, empty stdout."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert result.stdout == ""


def tree(d: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def close_csv(path: Path, seed: int, scale: float) -> Path:
    """A `Date,Close` file on the sample's days: its closes with seeded noise in the returns."""
    frame = aapl(1500)
    rng = np.random.default_rng(seed)
    r = np.diff(np.log(frame["Close"].to_numpy())) + rng.normal(0, 0.004, len(frame) - 1)
    close = scale * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    lines = ["Date,Close"] + [
        f"{d.date()},{c:.4f}" for d, c in zip(frame.index, close, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def world_once(tmp_path_factory):
    """The issue's setup: AAPL's sample, MSFT GLD SPY imported as Date,Close, a global model
    WORLD over AAPL MSFT GLD and SPY's own model."""
    base = tmp_path_factory.mktemp("world")
    d = base / "data"
    assert run(d, "fetch", "AAPL", "--offline").exit_code == 0
    for seed, t in enumerate(["MSFT", "GLD", "SPY"]):
        result = run(d, "fetch", t, "--csv", close_csv(base / f"{t}.csv", seed, 50 + 10 * seed))
        assert result.exit_code == 0, result.output
    result = run(d, "train", "AAPL", "MSFT", "GLD", "--global", "WORLD", *TINY)
    assert result.exit_code == 0, result.output
    result = run(d, "train", "SPY", *TINY)
    assert result.exit_code == 0, result.output
    return d


@pytest.fixture
def world(world_once, tmp_path):
    d = tmp_path / "world"
    shutil.copytree(world_once, d)
    return d


# --- 14. smaller ---------------------------------------------------------------------------------


def test_c14_jobs_has_an_upper_bound(data_dir):
    result = run(data_dir, "train", "AAPL", "MSFT", "--jobs", "2147483648")
    one_line(result, 2, "--jobs")
    assert "OverflowError" not in result.output


def test_c14_an_empty_global_name_is_refused_not_renamed(world):
    before = tree(world)
    result = run(world, "train", "AAPL", "MSFT", "--global", "", *TINY)
    one_line(result, 1, "--global ''")
    assert tree(world) == before and not (models_dir(world) / "GLOBAL.json").exists()


@pytest.mark.parametrize("day", ["2020-1-1", "2020-01-1", "20-01-01", "2020/01/01", "2020-02-30"])
def test_c14_start_and_end_take_only_yyyy_mm_dd(data_dir, day):
    for option in ("--start", "--end"):
        one_line(run(data_dir, "fetch", "AAPL", "--offline", option, day), 2, "YYYY-MM-DD")


def test_c14_rm_never_deletes_through_a_linked_folder(data_dir, tmp_path):
    assert run(data_dir, "fetch", "AAPL", "--offline").exit_code == 0
    outside = tmp_path / "outside"
    shutil.move(prices_dir(data_dir), outside)
    prices_dir(data_dir).symlink_to(outside, target_is_directory=True)
    before = tree(outside)
    one_line(run(data_dir, "rm", "AAPL", "--yes"), 1, "symbolic link")
    assert tree(outside) == before
