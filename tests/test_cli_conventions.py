"""The CLI behaves like the Click/Typer tools its users know: --version, -h, exit codes 2 vs 1,
a per-user data directory, `models`, `rm`, the latest trained model as the default, plots."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli import invoke, run

from forecast.config import models_dir, prices_dir

SMALL = ["--window", "10", "--hidden", "4", "--epochs", "1"]
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF-"}


def one_line(result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def tree(d: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """AAPL fetched and a tiny model trained on it."""
    d = tmp_path_factory.mktemp("data")
    assert run(d, "fetch", "AAPL", "--offline").exit_code == 0
    result = run(d, "train", "AAPL", *SMALL)
    assert result.exit_code == 0, result.output
    return d


def copy_of(src: Path, dst: Path) -> Path:
    for p, data in tree(src).items():
        q = dst / p.relative_to(src)
        q.parent.mkdir(parents=True, exist_ok=True)
        q.write_bytes(data)
    return dst


# --- conventions of every Click tool ------------------------------------------------------------


def test_version():
    from forecast import __version__

    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"forecast {__version__}"


@pytest.mark.parametrize("command", [[], ["train"], ["predict"], ["backtest"], ["models"], ["rm"]])
def test_dash_h_is_help(command):
    short = invoke(*command, "-h", terminal_width=120)
    long = invoke(*command, "--help", terminal_width=120)
    assert short.exit_code == long.exit_code == 0
    assert short.stdout == long.stdout and "Usage" in short.stdout


def test_help_groups_options_lists_choices_and_offers_completion():
    top = invoke("--help", terminal_width=120).stdout
    assert "--install-completion" in top and "--version" in top
    assert "FORECAST_DATA_DIR" in top  # and where the data lives
    train = invoke("train", "--help", terminal_width=120).stdout
    for panel in ("Model", "Training"):
        assert f"─ {panel} " in train
    assert "gaussian|mse|direction" in train
    assert "2<=x<=1000" in train  # ranges are the parser's
    backtest = invoke("backtest", "--help", terminal_width=120).stdout
    for panel in ("Walk-forward", "Model", "Training", "Output"):
        assert f"─ {panel} " in backtest


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "No such command 'nope'"),
        (["predict", "--bogus"], "No such option: --bogus"),
        (["predict", "--days", "abc"], "'--days'"),
        (["predict", "--days", "61"], "'--days'"),
        (["predict", "--paths", "5"], "'--paths'"),
        (["fetch", "AAPL", "--start", "2020-02-30"], "'--start'"),
        (["train", "--loss", "hinge"], "'hinge' is not one of 'gaussian', 'mse', 'direction'"),
        (["train", "--lr", "0"], "'--lr': 0.0 is not in (0, 1)"),
        (["backtest", "--lr", "nan"], "'--lr'"),
        (["predict", "--plot", "fan.jpg"], ".png, .svg or .pdf"),
    ],
)
def test_usage_errors_exit_2_in_one_line(tmp_path, args, message):
    one_line(run(tmp_path, *args), 2, message)
    assert list(tmp_path.iterdir()) == []


def test_runtime_failures_exit_1(tmp_path):
    one_line(run(tmp_path, "predict", "AAPL"), 1, "run `forecast train AAPL`")


# --- the data directory -------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh user: HOME and XDG_DATA_HOME in tmp, no FORECAST_DATA_DIR, cwd elsewhere."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("FORECAST_DATA_DIR", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def test_the_default_data_dir_is_per_user_not_the_cwd(home, monkeypatch):
    result = invoke("fetch", "AAPL", "--offline")
    assert result.exit_code == 0, result.output
    per_user = home / "xdg" / "forecast"
    assert (prices_dir(per_user) / "AAPL.json").is_file()
    assert list((home / "work").iterdir()) == []
    elsewhere = home / "other"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # another directory, same data
    listed = invoke("list", terminal_width=200)
    assert listed.exit_code == 0 and "AAPL" in listed.stdout
    assert str(per_user) in listed.stdout  # `forecast list` says where
    env = {k: v for k, v in os.environ.items()} | {"COLUMNS": "250"}
    helped = subprocess.run(
        [sys.executable, "-m", "forecast", "--help"], capture_output=True, text=True, env=env
    )
    assert str(per_user) in helped.stdout  # and so does --help, in a fresh process


def test_env_then_option_override_the_default(home, monkeypatch):
    env_dir, opt_dir = home / "env", home / "opt"
    monkeypatch.setenv("FORECAST_DATA_DIR", str(env_dir))
    assert invoke("fetch", "AAPL", "--offline").exit_code == 0
    assert (prices_dir(env_dir) / "AAPL.json").is_file()
    args = ["--data-dir", str(opt_dir), "fetch", "^GSPC", "--offline"]
    assert invoke(*args).exit_code == 0
    assert (prices_dir(opt_dir) / "^GSPC.json").is_file()
    assert not (prices_dir(env_dir) / "^GSPC.json").exists()
    assert not (home / "xdg").exists()


def test_an_empty_env_var_means_unset(home, monkeypatch):
    monkeypatch.setenv("FORECAST_DATA_DIR", "")
    assert invoke("fetch", "AAPL", "--offline").exit_code == 0
    assert (prices_dir(home / "xdg" / "forecast") / "AAPL.json").is_file()
    assert list((home / "work").iterdir()) == []


def test_an_empty_or_file_data_dir_is_refused(home):
    one_line(invoke("--data-dir", "", "fetch", "AAPL", "--offline"), 2, "empty")
    assert list((home / "work").iterdir()) == []  # nothing written into the cwd
    afile = home / "work" / "notes.txt"
    afile.write_text("x")
    for command in (["list"], ["fetch", "AAPL", "--offline"], ["models"]):
        result = invoke("--data-dir", str(afile), *command)
        one_line(result, 2, "is a file, not a directory")
    assert afile.read_text() == "x"


# --- models and rm ------------------------------------------------------------------------------


def test_models_lists_what_was_trained(trained):
    result = run(trained, "models", terminal_width=200)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "AAPL" in line)
    assert "2023-09-21" in row and "vol" in row and "KiB" in row
    assert re.search(r" vol T=\d+ H=\d+  ", row)  # default inputs: nothing after H
    meta = json.loads((models_dir(trained) / "AAPL.json").read_text())
    assert f"{meta['losses']['val']:.4f}" in row and f"{meta['baseline_val_loss']:.4f}" in row
    assert str(trained) in result.stdout


def test_models_in_an_empty_dir(tmp_path):
    result = run(tmp_path, "models")
    assert result.exit_code == 0 and "no models" in result.stderr and result.stdout == ""


def test_rm_says_what_it_deletes_and_asks(trained, tmp_path):
    d = copy_of(trained, tmp_path / "d")
    before = tree(d)
    no = run(d, "rm", "AAPL", input="n\n")
    listed = {Path(line.strip()) for line in no.stderr.splitlines() if line.startswith("  ")}
    files = {p for p in before if p.parent.name in ("prices", "models") and p.name != ".latest"}
    assert no.exit_code == 0 and listed == files
    assert {p.suffix for p in listed} == {".json", ".csv", ".npz"}
    assert tree(d) == before
    yes = run(d, "rm", "AAPL", input="y\n")
    assert yes.exit_code == 0 and "deleted 4 files" in yes.stderr
    left = [p.name for p in tree(d) if p.parent.name in ("prices", "models")]
    assert left == [".latest"]  # only the marker of the last fetch (and .locks/ outside)
    one_line(run(d, "rm", "AAPL", "--yes"), 1, "nothing to delete")


def test_rm_without_an_answer_deletes_nothing(trained, tmp_path):
    d = copy_of(trained, tmp_path / "d")
    before = tree(d)
    result = run(d, "rm", "AAPL")  # no terminal, no --yes: the question cannot be answered
    assert result.exit_code == 1 and "error: no answer, nothing deleted" in result.stderr
    assert tree(d) == before


@pytest.mark.parametrize("flag, kept", [("--models", "prices"), ("--prices", "models")])
def test_rm_only_prices_or_only_models(trained, tmp_path, flag, kept):
    d = copy_of(trained, tmp_path / "d")
    assert run(d, "rm", "AAPL", flag, "--yes").exit_code == 0
    left = {p.parent.name for p in tree(d) if p.name != ".latest" and p.suffix != ".lock"}
    assert left == {kept}


def test_rm_matches_the_ticker_exactly(tmp_path):
    from forecast.store import ticker_files

    m, p = models_dir(tmp_path), prices_dir(tmp_path)
    m.mkdir(parents=True)
    p.mkdir(parents=True)
    for name in ("X.json", "X.0123456789ab.npz", "X.L.json", "X.L.abcdefabcdef.npz", "XY.json"):
        (m / name).write_text("{}")
    for name in (
        "X.json",
        "X.0123456789ab.csv",
        "X.csv",
        "X.L.json",
        "X.L.csv",
        "XY.0123456789ab.csv",
    ):
        (p / name).write_text("{}")
    got = {q.relative_to(tmp_path) for q in ticker_files("X", tmp_path, prices=True, models=True)}
    assert got == {
        Path("models/X.json"),
        Path("models/X.0123456789ab.npz"),
        Path("prices/X.json"),
        Path("prices/X.0123456789ab.csv"),
        Path("prices/X.csv"),  # an older cache layout
    }


# --- defaults: the most recently trained model --------------------------------------------------


def test_predict_and_backtest_default_to_the_latest_trained_model(trained, tmp_path):
    d = copy_of(trained, tmp_path / "d")
    assert run(d, "fetch", "^GSPC", "--offline").exit_code == 0  # fetched last, not trained
    pred = run(d, "predict", "--days", "2", "--paths", "100", "--json")
    assert pred.exit_code == 0, pred.output
    assert json.loads(pred.stdout)["ticker"] == "AAPL"
    fast = [*SMALL, "--paths", "20", "--test-days", "12", "--refit-every", "10", "--horizon", "2"]
    bt = run(d, "backtest", *fast, "--json")
    assert bt.exit_code == 0, bt.output
    assert json.loads(bt.stdout)["ticker"] == "AAPL"
    assert run(d, "train", *SMALL).exit_code == 0  # no ticker: the latest fetched, ^GSPC
    pred = run(d, "predict", "--days", "2", "--paths", "100", "--json")
    assert json.loads(pred.stdout)["ticker"] == "^GSPC"


# --- features the data cannot give --------------------------------------------------------------


def close_only(trained: Path, tmp_path: Path) -> Path:
    """A data directory holding CLOSE: AAPL's last 600 closes imported from a Date,Close file."""
    from forecast.api import load_prices

    frame = load_prices("AAPL", trained)
    csv = tmp_path / "close.csv"
    frame[["Close"]].iloc[-600:].to_csv(csv)
    d = tmp_path / "d"
    assert run(d, "fetch", "CLOSE", "--csv", str(csv)).exit_code == 0
    return d


def test_range_and_volume_on_close_only_data_are_refused(trained, tmp_path):
    d = close_only(trained, tmp_path)
    before = tree(d)
    for command in ("train", "backtest"):
        for loss, feature in (("vol", "range"), ("gaussian", "range"), ("gaussian", "volume")):
            args = (*SMALL, "--loss", loss, "--features", f"return,{feature}")
            one_line(run(d, command, "CLOSE", *args), 1, f"--features {feature} needs")
    assert tree(d) == before


def test_the_default_vol_model_drops_range_inputs_on_close_only_data_with_a_note(trained, tmp_path):
    d = close_only(trained, tmp_path)
    result = run(d, "train", "CLOSE", *SMALL)
    assert result.exit_code == 0, result.output
    assert "no daily High and Low: the model reads return,abs,ewma,season" in result.stderr
    meta = json.loads((models_dir(d) / "CLOSE.json").read_text())
    assert meta["features"] == ["return", "abs", "ewma", "season"]
    listed = run(d, "models", terminal_width=200).stdout.splitlines()
    row = next(line for line in listed if line.startswith("CLOSE"))
    assert "H=4 -range-parkinson " in row  # what differs from the default inputs, only


# --- plots --------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(MAGIC))
def test_predict_plot_in_each_format(trained, tmp_path, suffix):
    path = tmp_path / f"fan{suffix}"
    result = run(
        trained, "predict", "--days", "3", "--paths", "100", "--plot", str(path), "--history", "30"
    )
    assert result.exit_code == 0, result.output
    assert path.read_bytes().startswith(MAGIC[suffix])
    if suffix == ".svg":
        assert "2023-09-21" in path.read_text()  # the title names the as-of date


def test_backtest_plot(trained, tmp_path, monkeypatch):
    import forecast.model.kernels

    monkeypatch.setattr(forecast.model.kernels, "is_cached", lambda: False)  # as on a first run
    path = tmp_path / "bt.svg"
    fast = [*SMALL, "--paths", "20", "--test-days", "12", "--refit-every", "10", "--horizon", "2"]
    result = run(trained, "backtest", "AAPL", *fast, "--plot", str(path))
    assert result.exit_code == 0, result.output
    assert "compiling the Numba kernels" in result.stderr  # the notice reaches backtest too
    svg = path.read_text()
    assert svg.startswith("<?xml") and "coverage by horizon" in svg


def test_help_stays_light():
    """--help must not import numpy and friends: the front door opens fast."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "forecast", "-h"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert not [line for line in out.stderr.splitlines() if "numpy" in line or "pandas" in line]


def test_no_command_shows_help_with_clicks_exit_code():
    result = invoke()
    assert result.exit_code == 2 and "Usage" in result.stdout and "error" not in result.stderr


def test_models_lists_a_corrupt_sidecar_by_name(trained, tmp_path):
    d = copy_of(trained, tmp_path / "d")
    (models_dir(d) / "BAD.json").write_text("[1, 2")  # cut short
    result = run(d, "models", terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "BAD" in result.stdout and "AAPL" in result.stdout
    assert run(d, "predict", "--days", "1", "--paths", "100").exit_code == 0  # AAPL: the latest


def test_backtest_chart_pairs_each_forecast_with_the_close_it_was_for(trained, monkeypatch):
    from forecast import api, plot
    from forecast.config import TrainConfig

    cfg = TrainConfig(window=10, hidden=4, epochs=1)
    report = api.backtest(
        "AAPL", trained, cfg, horizon=3, test_days=12, refit_every=10, n_paths=20, seed=0
    )
    seen = {}
    monkeypatch.setattr(plot, "write_backtest", lambda path, *a, **k: seen.update(a=a, k=k))
    api.plot_backtest(report, Path("x.png"))
    (target,) = seen["a"]
    closes = api.load_prices("AAPL", trained)["Adj Close"]
    assert len(target) >= 5 and target.is_monotonic_increasing
    for day, realised in zip(target, seen["k"]["realised"], strict=True):
        assert realised == closes.loc[day]  # the close on the day the forecast was for
        assert closes.index.get_loc(day) - 3 == closes.index.get_loc(
            report.result.origins[list(target).index(day)]
        )  # three sessions after its origin
    lo95, hi95 = seen["k"]["bands"][0.95]
    lo80, hi80 = seen["k"]["bands"][0.8]
    assert (lo95 <= lo80).all() and (hi80 <= hi95).all()
    # the exceedance panel: each day forecast one session ahead, the long position's return
    # on it, and the RNN's 1-day VaRs (the same numbers the risk backtest scored)
    ex = seen["k"]["exceedances"]
    assert len(ex["dates"]) == 12 and set(ex["var"]) == {0.95, 0.99}
    for day, ret in zip(ex["dates"], ex["returns"], strict=True):
        i = closes.index.get_loc(day)
        assert ret == pytest.approx(closes.iloc[i] / closes.iloc[i - 1] - 1, rel=1e-12)
    hits = int((ex["returns"] < -ex["var"][0.99]).sum())
    assert hits == report.result.metrics["rnn"][0]["var_99_exceed"]


@pytest.mark.parametrize("days, history", [(5, 40), (20, 80), (60, 120)])
def test_the_fan_is_not_a_thin_strip_by_default(trained, monkeypatch, days, history):
    from forecast import plot

    seen = {}
    monkeypatch.setattr(plot, "write_fan", lambda path, **k: seen.update(k) or Path(path))
    args = ["predict", "--days", str(days), "--paths", "100", "--plot", "f.png"]
    assert run(trained, *args).exit_code == 0
    assert seen["history_days"] == history == len(seen["history_closes"])
    assert days / (days + history) >= 0.11
    run(trained, *args, "--history", "250")
    assert len(seen["history_closes"]) == 250


@pytest.mark.parametrize(
    "words, cword, expected",
    [
        ("forecast pre", 1, {"predict"}),
        ("forecast train --loss ", 3, {"gaussian", "mse", "direction"}),
    ],
)
def test_shell_completion_completes_commands_and_choices(words, cword, expected):
    env = dict(
        os.environ, COMP_WORDS=words, COMP_CWORD=str(cword), _FORECAST_COMPLETE="complete_bash"
    )
    out = subprocess.run(
        [sys.executable, "-m", "forecast"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0 and expected <= set(out.stdout.split()), out


HEAVY = ("numpy", "pandas", "numba", "scipy", "arch", "yfinance", "exchange_calendars")


@pytest.mark.parametrize("command", [["list"], ["models"], ["rm", "AAPL", "--yes"]])
def test_everyday_commands_stay_light(trained, tmp_path, command):
    """list, models and rm read sidecars and file names only: none of the numeric stack is
    imported (it cost 1.1 s of their 1.15 s), so they answer in a few tenths of a second."""
    d = copy_of(trained, tmp_path / "d")
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "forecast", "--data-dir", str(d), *command],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in HEAVY}
    assert ("AAPL" in out.stdout) or ("deleted" in out.stderr)
