"""Many tickers per command through the real CLI: a universe file, parallel workers, failures
kept per ticker, the combined screen, one global model, and Ctrl-C leaving every file whole."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli import run, write_universe

from forecast.config import models_dir
from forecast.model import checkpoint

TICKERS = ["SPY", "GLD", "INTC"]
SMALL = ["--window", "20", "--hidden", "4", "--epochs", "1"]


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """A data directory with three series on 600 common days cached (cli.write_universe: made
    from the shipped samples, so these tests run on a clean clone)."""
    d = tmp_path_factory.mktemp("data")
    for t, csv in write_universe(d).items():
        assert run(d, "fetch", t, "--csv", str(csv)).exit_code == 0
    (d / "watch.txt").write_text("# my list\nSPY\n\ngld  # gold\nSPY\nbad sym\nNOPE\n")
    return d


def test_train_a_universe_file_in_parallel_failures_per_ticker(cached):
    r = run(cached, "train", "INTC", "--universe", str(cached / "watch.txt"), "--jobs", "2", *SMALL)
    assert r.exit_code == 1, r.output
    err = r.stderr.splitlines()
    assert err[0].startswith("error: ") and "line 6" in err[0] and "spaces" in err[0]
    assert "training 4 tickers on 2 local processes" in r.stderr
    for t in ("INTC", "SPY", "GLD"):  # a line as each finishes, a row in the summary each
        assert any(line.split()[:2] == [t, "ok"] for line in err), r.stderr
        assert checkpoint.load_model(cached, t)[1]["ticker"] == t
    assert any(line.split()[:2] == ["NOPE", "failed"] for line in err)
    assert err[-1] == (
        "error: 1 of 4 tickers failed (NOPE) and 1 invalid symbol skipped; see the lines above"
    )
    rows = {
        s[0]: s
        for s in map(str.split, r.stdout.splitlines())
        if s and s[0] in ("INTC", "SPY", "GLD", "NOPE")
    }
    assert rows["NOPE"][1] == "failed" and rows["SPY"][1] == "ok"
    assert len(rows) == 4
    assert not list(models_dir(cached).glob("NOPE*"))


def test_predict_many_is_one_screen_and_json_a_list(cached):
    assert run(cached, "train", *TICKERS, "--jobs", "2", *SMALL).exit_code == 0
    r = run(cached, "predict", *TICKERS, "--days", "3", "--paths", "200", "--jobs", "2")
    assert r.exit_code == 0, r.output
    lines = [
        line.split()
        for line in r.stdout.splitlines()
        if line.split()[:1] in (["SPY"], ["GLD"], ["INTC"])
    ]
    assert len(lines) == 3
    sigmas = [float(line[2].rstrip("%")) for line in lines]
    assert sigmas == sorted(sigmas, reverse=True)  # a screen by risk: highest sigma first
    assert "forecast sd of tomorrow" in r.stderr
    r = run(cached, "predict", *TICKERS, "--days", "3", "--paths", "200", "--sort", "ticker")
    order = [line.split()[0] for line in r.stdout.splitlines() if line.split()[:1] in
             (["SPY"], ["GLD"], ["INTC"])]  # fmt: skip
    assert order == sorted(TICKERS)
    j = run(cached, "predict", *TICKERS, "NOPE", "--days", "3", "--paths", "200", "--json")
    assert j.exit_code == 1
    data = json.loads(j.stdout)
    assert [d["ticker"] for d in data if d["status"] == "ok"] and len(data) == 4
    by = {d["ticker"]: d for d in data}
    assert by["NOPE"]["status"] == "failed" and "forecast fetch NOPE" in by["NOPE"]["error"]
    for t in TICKERS:
        assert {"median_return", "p_up", "band_80", "band_95"} <= set(by[t])
        assert {"sigma", "sigma_ratio", "var_99", "es_97.5"} <= set(by[t])
        assert by[t]["es_97.5"] > 0 and by[t]["var_99"] > 0 and by[t]["sigma_ratio"] > 0
        assert 0 <= by[t]["p_up"] <= 1 and by[t]["band_95"] > by[t]["band_80"] > 0


def test_backtest_many(cached):
    r = run(
        cached,
        "backtest",
        "SPY",
        "GLD",
        "--json",
        "--test-days",
        "30",
        "--refit-every",
        "30",
        "--paths",
        "50",
        "--horizon",
        "2",
        *SMALL,
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [d["status"] for d in data] == ["ok", "ok"]
    assert all(d["origins"] == 30 and "verdict" in d for d in data)
    assert all(d["basel_zone"] in ("green", "yellow", "red") for d in data)
    r = run(cached, "backtest", "SPY", "GLD", "--test-days", "30", "--refit-every", "30",
            "--paths", "50", "--horizon", "2", *SMALL)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "CRPS×" in r.stdout and "Basel" in r.stdout and "rel MAE" not in r.stdout


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_jobs_must_be_positive_a_usage_error(cached, jobs):
    r = run(cached, "train", "SPY", "GLD", "--jobs", jobs)
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and "--jobs" in r.stderr


def test_an_empty_universe_file_is_one_line(cached, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    r = run(cached, "train", "--universe", str(empty))
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        f"error: --universe: {empty} lists no tickers; put one symbol per line (# starts a comment)"
    ]


def test_an_unreachable_scheduler_names_itself(cached):
    t0 = time.monotonic()
    r = run(cached, "train", "SPY", "GLD", "--scheduler", "tcp://127.0.0.1:9", *SMALL)
    assert time.monotonic() - t0 < 10
    assert r.exit_code == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "tcp://127.0.0.1:9" in lines[0] and "dask scheduler" in lines[0]


def test_a_global_model_over_close_only_prices_says_what_serves_them(tmp_path):
    """A `Date,Close` import in the panel: train's summary, --json and the model file say which
    ensemble validation chose to forecast it, and predict serves it."""
    import pandas as pd

    d = tmp_path / "data"
    d.mkdir()
    csv = write_universe(d)
    pd.read_csv(csv["GLD"])[["Date", "Close"]].to_csv(d / "GLDC.csv", index=False)
    for t, path in (("SPY", csv["SPY"]), ("GLDC", d / "GLDC.csv")):
        assert run(d, "fetch", t, "--csv", str(path)).exit_code == 0
    r = run(d, "train", "SPY", "GLDC", "--global", "MIX", *SMALL)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.stdout.splitlines() if "close-only" in line)
    assert "1 ticker without High/Low (GLDC): forecast by" in row
    _, meta = checkpoint.load_model(d, "MIX")
    c = meta["close_choice"]
    assert c["chosen"] == ("close" if c["close"] < c["first"] else "first")
    assert meta.get("close_members", 0) == (5 if c["chosen"] == "close" else 0)
    assert meta["close_only"] == ["GLDC"]
    j = run(d, "train", "SPY", "GLDC", "--global", "MIX", *SMALL, "--json")
    close = json.loads(j.stdout)["close_only"]
    assert close["tickers"] == ["GLDC"] and close["features"] == ["return", "abs", "ewma", "season"]
    assert close["chosen"] == c["chosen"] and close["val_loss"] == pytest.approx(c["close"])
    assert close["first_val_loss"] == pytest.approx(c["first"])  # same seed, same model
    p = run(d, "predict", "GLDC", "--model", "MIX", "--days", "2", "--json")
    assert p.exit_code == 0, p.output
    assert len(json.loads(p.stdout)["forecasts"]) == 2


def test_global_model_trains_once_and_serves_seen_and_unseen_tickers(cached):
    # INTC (the first half of the dates) only trains: the cut falls after it, when SPY and GLD validate
    r = run(cached, "train", "SPY", "INTC", "--global", "PAIR", *SMALL)
    assert r.exit_code == 0, r.output
    assert "PAIR: global vol RNN" in r.stdout and "cut date" in r.stdout
    params, meta = checkpoint.load_model(cached, "PAIR")
    assert meta["kind"] == "global" and meta["tickers"] == ["SPY", "INTC"]
    assert meta["windows"]["INTC"]["val"] == 0 and meta["windows"]["SPY"]["val"] > 0
    for ticker in ("SPY", "GLD"):  # GLD was not in the model
        p = run(cached, "predict", ticker, "--model", "PAIR", "--days", "3", "--json")
        assert p.exit_code == 0, p.output
        out = json.loads(p.stdout)
        assert out["ticker"] == ticker and len(out["forecasts"]) == 3
        assert "PAIR (global" in out["model"]["trained_through"]
    b = run(
        cached,
        "backtest",
        "GLD",
        "--model",
        "PAIR",
        "--test-days",
        "25",
        "--refit-every",
        "25",
        "--paths",
        "50",
        "--horizon",
        "2",
        "--json",
    )
    assert b.exit_code == 0, b.output
    fold = json.loads(b.stdout)["folds"][0]
    assert fold["fit_last_date"] == fold["first_origin"]  # through the origin, no further
    # the latest-model default stays a ticker's own model
    assert run(cached, "predict", "--days", "2", "--json").exit_code == 0


def test_model_must_name_a_global_model(cached):
    assert run(cached, "train", "SPY", *SMALL).exit_code == 0
    r = run(cached, "predict", "GLD", "--model", "SPY")
    assert r.exit_code == 1 and "SPY is a per-ticker model" in r.stderr
    r = run(cached, "predict", "GLD", "--model", "NOSUCH")
    assert r.exit_code == 1 and "no model named NOSUCH" in r.stderr


def _processes_with_env(marker: str) -> list[int]:
    pids = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            if marker.encode() in (p / "environ").read_bytes():
                pids.append(int(p.name))
        except OSError:
            pass
    return pids


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_ctrl_c_stops_the_workers_and_leaves_every_file_whole(cached, tmp_path):
    marker = f"FORECAST_TEST_RUN={tmp_path.name}"
    env = {**os.environ, "FORECAST_TEST_RUN": tmp_path.name, "FORECAST_DATA_DIR": str(cached)}
    args = [sys.executable, "-m", "forecast", "train", *TICKERS, "SPY", "--jobs", "2"]
    # thousands of epochs: the run is still training when Ctrl-C comes, however fast the machine
    args += ["--window", "20", "--hidden", "8", "--epochs", "5000", "--patience", "5000"]
    proc = subprocess.Popen(
        args,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # a shell that ran the tests in the background (`cmd &`) left SIGINT ignored, and the
        # child would inherit that and never see Ctrl-C: give it the default disposition
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_processes_with_env(marker)) < 3:
        time.sleep(0.1)  # the parent and its two workers are up
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("error: interrupted; workers stopped")
    time.sleep(0.5)
    assert _processes_with_env(marker) == []  # no worker outlives the command
    for json_path in models_dir(cached).glob("*.json"):  # every model on disk loads whole
        checkpoint.load_model(cached, json_path.stem)
    assert not [p for p in cached.rglob("*") if p.name.startswith(".") and "tmp" in p.name]


def test_several_tickers_train_one_global_model_by_default(cached):
    """Without --per-ticker (or --jobs, --scheduler) several tickers make one global model:
    named after the --universe file, else GLOBAL; predict then uses it, newest model first."""
    d = cached
    r = run(d, "train", "SPY", "GLD", *SMALL)
    assert r.exit_code == 0, r.output
    assert "GLOBAL: global vol RNN" in r.stdout and "per ticker" in r.stdout
    assert checkpoint.load_model(d, "GLOBAL")[1]["tickers"] == ["SPY", "GLD"]
    listed = run(d, "models").stdout.splitlines()
    assert any(line.startswith("GLOBAL") and "×2" in line for line in listed)
    p = run(d, "predict", "GLD", "--days", "2", "--json")
    assert p.exit_code == 0, p.output
    assert json.loads(p.stdout)["model"]["trained_through"].startswith("GLOBAL (global")
    assert run(d, "train", "GLD", *SMALL).exit_code == 0  # its own model, newer: used now
    p = run(d, "predict", "GLD", "--days", "2", "--json")
    assert "global" not in json.loads(p.stdout)["model"]["trained_through"]
    screen = run(d, "predict", "SPY", "GLD", "--days", "2", "--json")
    models = {row["ticker"]: row["model"] for row in json.loads(screen.stdout)}
    assert models["SPY"].startswith("GLOBAL (global") and "global" not in models["GLD"]
    r = run(d, "train", "--universe", str(d / "watch.txt"), *SMALL)  # NOPE, a bad line: exit 1
    assert r.exit_code == 1 and "WATCH: global vol RNN" in r.stdout
    assert r.stderr.strip().splitlines()[-1].startswith("error: 2 tickers left out of WATCH")
    r = run(d, "train", "SPY", "GLD", "--global", "X", "--per-ticker")
    assert r.exit_code == 1 and "--global trains one model" in r.stderr
