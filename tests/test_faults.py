"""The fault suite (issue 10): nothing on disk can hurt you or be lost.

One section per class of fault; README's "What is promised under faults" table lists them.
    1 code execution        yfinance's pickled cookie is never read
    2 concurrent saves      two saves of one ticker never delete each other's files
    3 kills                 kill -9 at every file-system step of a save: old or new state
    4 hostile JSON          every JSON read is size/depth/type checked: one line, no traceback
    5 names from files      a ticker read from a file is validated like one typed
    6 terminal escapes      nothing from a file reaches the terminal as a control character
    7 unbounded reads       non-regular files and oversized arrays are refused before reading
    8 smaller               read-only data dir, failed fetch, temp files, warnings, bad symbols
The long loops (many concurrent CLI runs) are marked slow.
"""

import datetime as dt
import errno
import hashlib
import io
import json
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli import run
from test_checkpoint import META, make_params
from test_prices import aapl, history_frame, minimal_csv, snapshot, write_csv

from forecast import prices
from forecast.config import models_dir, prices_dir
from forecast.errors import ForecastError
from forecast.model import checkpoint
from forecast.model.checkpoint import load_model, save_model
from forecast.prices import cache as price_cache
from forecast.prices import csvfile
from forecast.prices import yahoo as yahoo_client

SMALL = ["--window", "20", "--hidden", "8", "--epochs", "2"]
ROOT = Path(__file__).resolve().parents[1]


def assert_clean_failure(result, *words):
    """Exit 1, one line on stderr starting with "error:", no traceback, nothing on stdout."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert result.stdout == ""


def assert_no_traceback(result):
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


# One audit hook for the whole module (hooks cannot be removed): off unless a test arms it.
AUDIT: dict = {"kill_at": None, "count": 0, "opened": None, "read_only": None}
_STEPS = {"open", "os.rename", "os.remove", "os.chmod", "os.mkdir", "os.rmdir", "fcntl.flock"}
_WRITES = {"os.rename", "os.remove", "os.chmod", "os.mkdir", "os.rmdir", "os.truncate"}


def _audit(event, args):
    if AUDIT["kill_at"] is not None and event in _STEPS:
        AUDIT["count"] += 1
        if AUDIT["count"] == AUDIT["kill_at"]:
            os.kill(os.getpid(), signal.SIGKILL)
    if AUDIT["opened"] is not None and event == "open" and isinstance(args[0], str | Path):
        AUDIT["opened"].append(str(args[0]))
    read_only = AUDIT["read_only"]
    if read_only is not None and args and isinstance(args[0], str | Path | bytes):
        path = os.fsdecode(args[0])
        writes = event in _WRITES or (
            event == "open"
            and (
                (isinstance(args[1], str) and set(args[1]) & set("wax+"))
                or (isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            )
        )
        if writes and os.path.abspath(path).startswith(read_only):
            raise OSError(errno.EROFS, "Read-only file system", path)


sys.addaudithook(_audit)


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    d = tmp_path_factory.mktemp("trained") / "data"
    assert run(d, "fetch", "AAPL", "--offline").exit_code == 0
    result = run(d, "train", "AAPL", *SMALL)
    assert result.exit_code == 0, result.output
    return d


@pytest.fixture
def trained(trained_once, tmp_path):
    """A private copy of a data dir holding the AAPL sample and a small model trained on it."""
    d = tmp_path / "trained"
    shutil.copytree(trained_once, d)
    return d


# --- 1. code execution: yfinance's pickled cookie ------------------------------------------------


class Boom:
    """Unpickling this creates the directory `marker`: proof that the pickle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def plant_cookie(directory: Path, marker: Path) -> None:
    """yfinance 1.7's cookies.db (peewee table _cookieschema) holding a pickle payload."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with sqlite3.connect(directory / "cookies.db") as db:
        db.execute(
            'CREATE TABLE IF NOT EXISTS "_cookieschema" ("strategy" VARCHAR(255) NOT NULL '
            'PRIMARY KEY, "fetch_date" DATETIME NOT NULL, "cookie_bytes" BLOB NOT NULL) '
            "WITHOUT ROWID"
        )
        db.execute(
            'INSERT OR REPLACE INTO "_cookieschema" VALUES (?, ?, ?)',
            ("curlCffi", dt.datetime.now().isoformat(), pickle.dumps(Boom(marker))),
        )


# A fresh process running `forecast fetch`, with curl_cffi's network calls failing as without
# DNS: yfinance reads its cookie cache before its first request, so a payload would run.
NO_NETWORK_FETCH = textwrap.dedent(
    """
    import sys
    import curl_cffi.requests as requests

    def no_network(self, method, url, *args, **kwargs):
        raise OSError("Could not resolve host: " + url)

    requests.Session.request = no_network
    from forecast.cli.app import app

    sys.argv = ["forecast", "--data-dir", sys.argv[1], "fetch", *sys.argv[2:]]
    app()
    """
)


def fetch_without_network(tmp_path, data_dir, *tickers):
    env = os.environ | {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, "-c", NO_NETWORK_FETCH, str(data_dir), *tickers],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_c1_a_planted_cookie_pickle_never_runs_on_fetch(tmp_path):
    data_dir = tmp_path / "data"
    marker = tmp_path / "PWNED"
    plant_cookie(data_dir / "yfinance", marker)  # where forecast used to keep yfinance's caches
    plant_cookie(tmp_path / "xdg" / "forecast" / "yfinance", marker)  # and where it keeps them now
    (tmp_path / "xdg" / "forecast").chmod(0o700)
    run_ = fetch_without_network(tmp_path, data_dir, "MSFT")
    assert not marker.exists(), "the pickled cookie was unpickled"
    assert run_.returncode == 1, run_.stderr
    assert run_.stderr.startswith("error: cannot reach Yahoo and no cached copy of MSFT")
    assert "Traceback" not in run_.stderr


@pytest.mark.parametrize("unsafe", ["world-writable", "group-writable", "symlink"])
def test_c1_an_unsafe_yfinance_cache_folder_is_not_used(tmp_path, unsafe, user_cache):
    user_cache.parent.mkdir(parents=True, mode=0o700)
    if unsafe == "symlink":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        user_cache.symlink_to(tmp_path / "elsewhere")
    else:
        user_cache.mkdir(mode=0o700)
        user_cache.chmod(0o777 if unsafe == "world-writable" else 0o770)
    chosen = yahoo_client.private_cache_dir()
    assert chosen != user_cache and chosen.is_dir()
    assert (chosen.stat().st_mode & 0o777) == 0o700


def test_c1_the_cache_folder_is_created_private(user_cache):
    assert yahoo_client.private_cache_dir() == user_cache
    assert (user_cache.stat().st_mode & 0o777) == 0o700
    assert (user_cache.parent.stat().st_mode & 0o077) == 0


# --- 2. concurrent saves of one ticker -----------------------------------------------------------


def interleaved(module, first, second) -> None:
    """Run first() in a thread up to its commit (module.atomic_write_json), then second() in
    another; first commits 0.3 s later. Without a lock, second would run whole meanwhile."""
    inside, go, errors = threading.Event(), threading.Event(), []
    real = module.atomic_write_json

    def commit(path, obj):
        if threading.current_thread().name == "first" and not inside.is_set():
            inside.set()
            go.wait(10)
        real(path, obj)

    def guarded(fn):
        def body():
            try:
                fn()
            except BaseException as e:  # handed to the test below
                errors.append(e)

        return body

    module.atomic_write_json = commit
    try:
        a = threading.Thread(target=guarded(first), name="first")
        b = threading.Thread(target=guarded(second), name="second")
        a.start()
        assert inside.wait(10)
        b.start()
        time.sleep(0.3)
        go.set()
        a.join(20)
        b.join(20)
    finally:
        module.atomic_write_json = real
    assert errors == []


def test_c2_two_saves_of_one_model_at_once_leave_a_usable_model(data_dir):
    first, second = make_params(np.random.default_rng(1)), make_params(np.random.default_rng(2))
    interleaved(
        checkpoint,
        lambda: save_model(data_dir, "AAPL", first, META),
        lambda: save_model(data_dir, "AAPL", second, META),
    )
    params, _ = load_model(data_dir, "AAPL")  # without the lock: "AAPL.<first>.npz is missing"
    np.testing.assert_array_equal(params["Whh"], second["Whh"])  # the later save won, whole
    assert len(list(models_dir(data_dir).glob("AAPL.*.npz"))) == 1


def test_c2_two_price_writes_at_once_leave_a_usable_cache(data_dir, tmp_path):
    one = write_csv(tmp_path, minimal_csv(40), "one.csv")
    two = write_csv(tmp_path, minimal_csv(45), "two.csv")
    interleaved(
        price_cache,
        lambda: prices.import_csv("X", one, data_dir),
        lambda: prices.import_csv("X", two, data_dir),
    )
    assert len(prices.load_prices("X", data_dir)) == 45
    assert len(list(prices_dir(data_dir).glob("X.*.csv"))) == 1


CONCURRENT_SAVES = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from forecast.model.checkpoint import PARAM_SHAPES, save_model
    from forecast.prices import import_csv

    data_dir, kind, worker, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    for i in range(rounds):
        if kind == "model":
            rng = np.random.default_rng(1000 * worker + i)
            params = {k: rng.standard_normal(s) for k, s in PARAM_SHAPES(2, 3, 2).items()}
            save_model(data_dir, "AAPL", params, {"round": i})
        else:
            import_csv("AAPL", sys.argv[5 + (worker + i) % 2], data_dir)
    """
)


def concurrently(n, data_dir, kind, rounds, *extra):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_SAVES, str(data_dir), kind, str(w), str(rounds)]
            + [str(x) for x in extra],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(n)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err


def test_c2_processes_saving_one_model_at_once_leave_one_usable_model(data_dir):
    concurrently(4, data_dir, "model", 15)
    load_model(data_dir, "AAPL")
    assert len(list(models_dir(data_dir).glob("AAPL.*.npz"))) == 1


def test_c2_processes_importing_one_ticker_at_once_leave_one_usable_cache(data_dir, tmp_path):
    csvs = [write_csv(tmp_path, minimal_csv(n), f"{n}.csv") for n in (40, 45)]
    concurrently(3, data_dir, "prices", 6, *csvs)
    assert len(prices.load_prices("AAPL", data_dir)) in (40, 45)
    assert len(list(prices_dir(data_dir).glob("AAPL.*.csv"))) == 1


# --- 3. kill -9 at every step of a save ----------------------------------------------------------


def kill_at_every_step(save, check) -> int:
    """Fork; in the child arm the audit hook to SIGKILL the process at its k-th file-system call
    (open, rename, remove, chmod, mkdir, flock) during save(); check() the state after each
    kill; k = 1, 2, ... until a save completes. Returns the number of steps of a save."""
    for k in range(1, 500):
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 3
            try:
                AUDIT["kill_at"], AUDIT["count"] = k, 0
                save()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        check()
        if os.WIFEXITED(status):
            assert os.WEXITSTATUS(status) == 0, f"save failed at step {k}"
            return k - 1
        assert os.WTERMSIG(status) == signal.SIGKILL
    raise AssertionError("a save never completed")


def age_temp_files(directory: Path) -> list[Path]:
    temps = list(directory.glob(".*.tmp"))
    old = time.time() - 3600
    for p in temps:
        os.utime(p, (old, old))
    return temps


fork_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@fork_only
def test_c3_kill_at_every_step_of_a_model_save_leaves_old_or_new(data_dir):
    old, new = make_params(np.random.default_rng(1)), make_params(np.random.default_rng(2))
    save_model(data_dir, "AAPL", old, META)
    seen = set()

    def check():
        params, _ = load_model(data_dir, "AAPL")  # never raises: old or new, whole
        for name, p in (("old", old), ("new", new)):
            if all(np.array_equal(params[k], p[k]) for k in p):
                seen.add(name)
                return
        raise AssertionError("neither the old nor the new model")

    steps = kill_at_every_step(lambda: save_model(data_dir, "AAPL", new, META), check)
    print(f"model save: killed at each of {steps} steps")
    assert steps >= 8 and seen == {"old", "new"}
    # leftovers of the killed saves: the next save removes unnamed weights and old temp files
    age_temp_files(models_dir(data_dir))
    save_model(data_dir, "AAPL", old, META)
    assert sorted(p.name for p in models_dir(data_dir).iterdir()) == [
        f"AAPL.{json.loads((models_dir(data_dir) / 'AAPL.json').read_text())['weights_sha256'][:12]}.npz",
        "AAPL.json",
    ]


@fork_only
def test_c3_kill_at_every_step_of_a_csv_import_leaves_old_or_new(data_dir, tmp_path):
    old_csv = write_csv(tmp_path, minimal_csv(40), "old.csv")
    new_csv = write_csv(tmp_path, minimal_csv(45, close=lambda i: 7.0 + i), "new.csv")
    old = prices.import_csv("X", old_csv, data_dir).frame
    new = prices.read_price_csv(new_csv, "X")
    seen = set()

    def check():
        frame = prices.load_prices("X", data_dir)  # never raises
        assert prices.latest_ticker(data_dir) == "X"
        for name, f in (("old", old), ("new", new)):
            if frame.equals(f):
                seen.add(name)
                return
        raise AssertionError("neither the old nor the new prices")

    steps = kill_at_every_step(lambda: prices.import_csv("X", new_csv, data_dir), check)
    print(f"csv import: killed at each of {steps} steps")
    assert steps >= 8 and seen == {"old", "new"}
    age_temp_files(prices_dir(data_dir))
    prices.import_csv("X", old_csv, data_dir)
    names = sorted(p.name for p in prices_dir(data_dir).iterdir())
    sha = prices.read_provenance("X", data_dir)["sha256"]
    assert [n for n in names if n.startswith("X.")] == [f"X.{sha[:12]}.csv", "X.json"]
    assert [n for n in names if n.endswith(".tmp")] == []


# --- 4. hostile JSON -----------------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = '{"rows": ' + "9" * 5000 + "}"
HOSTILE = {
    "deep nesting": DEEP,
    "deep in an object": '{"ticker": ' + "[" * 5000 + "]" * 5000 + "}",
    "5000-digit integer": HUGE_INT,
    "not utf-8": b'{"ticker": "\xff"}',
    "not an object": "[1, 2, 3]",
    "empty": "",
    "truncated": '{"ticker": "AAPL", ',
}


def write_hostile(path: Path, content) -> None:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


@pytest.mark.parametrize("case", HOSTILE)
def test_c4_a_hostile_price_sidecar(trained, case):
    write_hostile(prices_dir(trained) / "AAPL.json", HOSTILE[case])
    result = run(trained, "list")
    assert result.exit_code == 0 and "corrupt" in result.stdout
    assert_no_traceback(result)
    assert_clean_failure(run(trained, "predict", "AAPL"), "cached prices for AAPL are corrupt")
    assert_clean_failure(run(trained, "train", "AAPL", *SMALL), "re-fetch with `forecast fetch")


@pytest.mark.parametrize("case", HOSTILE)
def test_c4_a_hostile_latest_marker(trained, case):
    write_hostile(prices_dir(trained) / ".latest", HOSTILE[case])
    result = run(trained, "predict", "--days", "1", "--paths", "100")
    assert result.exit_code == 0, result.output  # falls back to the newest valid sidecar
    assert_no_traceback(result)


MODEL_EDITS = {
    "deep nesting": ("raw", DEEP),
    "5000-digit integer": ("raw", HUGE_INT),
    "deep calibration": ("field", {"calibration": json.loads("[" * 15 + "]" * 15)}),
    "window 60.5": ("config", {"window": 60.5}),
    "hidden 32.0": ("config", {"hidden": 32.0}),
    "seed 1.5": ("config", {"seed": 1.5}),
    "lr -1": ("config", {"lr": -1}),
    "features a string": ("config", {"features": "return"}),
    "config a list": ("field", {"config": [1, 2]}),
    "dates [1]": ("field", {"dates": [1]}),
    "dates bad day": ("field", {"dates": {"train_last": "yesterday"}}),
    "last_fit_date 1": ("field", {"last_fit_date": 1}),
    "scaler strings": ("field", {"scaler": {"mean": ["a"], "std": ["b"]}}),
    "scaler negative std": ("field", {"scaler": {"mean": [0.0], "std": [-1.0]}}),
    "n_windows list": ("field", {"n_windows": [1, 2]}),
    "resid_std NaN": ("field", {"resid_std": float("nan")}),
    "quantiles nested": ("field", {"abs_return_quantiles": [[1.0]]}),
    "shapes huge": ("field", {"shapes": {"D": 1, "H": 30000, "O": 2}}),
    "ticker elsewhere": ("field", {"ticker": "MSFT"}),
    "huge string": ("field", {"exchange": "x" * 100_000}),
}


@pytest.mark.parametrize("case", MODEL_EDITS)
def test_c4_a_hostile_model_json(trained, case):
    path = models_dir(trained) / "AAPL.json"
    kind, edit = MODEL_EDITS[case]
    if kind == "raw":
        path.write_text(edit)
    else:
        meta = json.loads(path.read_text())
        if kind == "config":
            meta["config"] |= edit
        else:
            meta |= edit
        path.write_text(json.dumps(meta))
    assert_clean_failure(run(trained, "predict", "AAPL", "--days", "1"), "model for AAPL")


# Values in range of type but not of meaning: each refused in one line that names the field,
# where they printed "cov -100%", overflowed, or blamed the learning rate.
CALIBRATION_EDITS = {
    "coverage -1": (("calibration", "coverage", 0, 0), -1, "calibration.coverage[0][0]"),
    "coverage 1e308": (("calibration", "coverage", 1, 0), 1e308, "calibration.coverage[1][0]"),
    "n 1e308": (("calibration", "n", 0), 1e308, "calibration.n[0]"),
    "held_out x": (("calibration", "held_out"), "x", "calibration.held_out"),
    "held_out a list": (("calibration", "held_out"), [], "calibration.held_out"),
    "score -1": (("calibration", "scores", 0, 0), -1, "calibration.scores[0][0]"),
    "factor 1e308": (("calibration", "factors", 0, 0), 1e308, "calibration.factors[0][0]"),
    "prior scale 1e308": (("calibration", "prior", "scale"), 1e308, "calibration.prior.scale"),
    "prior nu 2": (("calibration", "prior", "nu"), 2, "calibration.prior.nu"),
    "level 1": (("calibration", "levels", 1), 1.0, "calibration.levels[1]"),
    "vol sd 1e308": (("vol", "sd"), 1e308, "vol.sd"),
    "vol scale 1e308": (("vol", "scale"), 1e308, "vol.scale"),
}


@pytest.mark.parametrize("case", CALIBRATION_EDITS)
def test_c4_out_of_range_calibration_and_vol_fields_name_the_field(trained, case):
    path = models_dir(trained) / "AAPL.json"
    keys, value, field = CALIBRATION_EDITS[case]
    meta = json.loads(path.read_text())
    inner = meta
    for k in keys[:-1]:
        inner = inner[k]
    inner[keys[-1]] = value
    path.write_text(json.dumps(meta))
    assert_clean_failure(run(trained, "predict", "AAPL", "--days", "1"), "model for AAPL", field)


def test_c4_a_calibration_without_its_factors_is_refused_cleanly(trained):
    path = models_dir(trained) / "AAPL.json"
    meta = json.loads(path.read_text())
    del meta["calibration"]["factors"]
    path.write_text(json.dumps(meta))
    result = run(trained, "predict", "AAPL", "--days", "1")
    assert_clean_failure(result, "model file for AAPL", "factors", "forecast train AAPL")


# --- 5. names read from files --------------------------------------------------------------------


def test_c5_a_sidecar_ticker_never_becomes_a_path(trained, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    for p in models_dir(trained).iterdir():  # a model someone wants loaded from elsewhere
        shutil.copy(p, outside / p.name)
    meta = json.loads((prices_dir(trained) / "AAPL.json").read_text())
    evil = meta | {"ticker": "../../outside/AAPL", "fetched_at": "2999-01-01T00:00:00+00:00"}
    (prices_dir(trained) / "EVIL.json").write_text(json.dumps(evil))
    (prices_dir(trained) / ".latest").write_text('{"ticker": "../../outside/AAPL", "since": "x"}')
    AUDIT["opened"] = []
    try:
        result = run(trained, "predict", "--days", "1", "--paths", "100")
    finally:
        opened, AUDIT["opened"] = AUDIT["opened"], None
    assert_no_traceback(result)
    assert [p for p in opened if "outside" in p] == []
    assert result.exit_code == 0 and "AAPL" in result.stdout  # the valid cache was used
    listed = prices.list_cached(trained)
    assert {e["ticker"]: e["source"] for e in listed} == {"AAPL": "sample", "EVIL": "corrupt"}


@pytest.mark.parametrize("name", ["..", "a b", "X" * 40, "évil"])
def test_c5_sidecars_with_names_no_symbol_has_are_listed_as_corrupt(data_dir, name):
    prices_dir(data_dir).mkdir()
    (prices_dir(data_dir) / f"{name}.json").write_text("{}")
    (entry,) = prices.list_cached(data_dir)
    assert entry["source"] == "corrupt"
    with pytest.raises(ForecastError, match="nothing fetched yet"):
        prices.latest_ticker(data_dir)


# --- 6. terminal escapes -------------------------------------------------------------------------

ESCAPES = "\x1b]0;owned\x07\x1b[2J\r\x08\u202e"


def assert_no_control_characters(text: str) -> None:
    assert not any(c in text for c in "\x1b\x07\r\x08\u202e"), repr(text)


def test_c6_escapes_in_a_sidecar_never_reach_the_terminal(trained):
    path = prices_dir(trained) / "AAPL.json"
    meta = json.loads(path.read_text())
    for field in ("source", "first", "last", "fetched_at", "yfinance_version"):
        path.write_text(json.dumps(meta | {field: ESCAPES}))
        result = run(trained, "list")
        assert_no_traceback(result)
        assert_no_control_characters(result.output)
    path.write_text(json.dumps(meta | {"imported_from": ESCAPES}))  # a path: kept, but printable
    assert_no_control_characters(json.dumps(prices.read_provenance("AAPL", trained)))
    assert "\\x1b" in prices.read_provenance("AAPL", trained)["imported_from"]


def test_c6_escapes_in_a_csv_name_or_cell_never_reach_the_terminal(data_dir, tmp_path):
    bad_name = write_csv(tmp_path, "Date,Close\n2020-01-02,1\n", f"x{ESCAPES}.csv")
    result = run(data_dir, "fetch", "X", "--csv", bad_name)
    assert_clean_failure(result, "need at least 30")
    assert_no_control_characters(result.output)
    in_cell = ESCAPES.replace("\r", "")  # a CR would end the CSV row
    cell = write_csv(tmp_path, minimal_csv(close=lambda i: in_cell if i == 3 else 1.0), "c.csv")
    result = run(data_dir, "fetch", "X", "--csv", cell)
    assert_clean_failure(result, "is not a number")
    assert_no_control_characters(result.output)


# --- 7. unbounded reads --------------------------------------------------------------------------

needs_dev_zero = pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")


def cli_in_subprocess(data_dir, *args, timeout=60):
    """The CLI in a fresh process with a time limit, so a read that never ends fails the test."""
    return subprocess.run(
        [sys.executable, "-m", "forecast", "--data-dir", str(data_dir), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@needs_dev_zero
def test_c7_csv_from_dev_zero_is_refused_at_once(data_dir):
    run_ = cli_in_subprocess(data_dir, "fetch", "X", "--csv", "/dev/zero")
    assert run_.returncode == 1 and run_.stderr.count("\n") == 1
    assert run_.stderr.startswith("error: /dev/zero is not a regular file")


@needs_dev_zero
def test_c7_a_universe_file_from_dev_zero_is_refused_at_once():
    from forecast.universe.tickers import read_universe

    with pytest.raises(ForecastError, match="/dev/zero is not a regular file"):
        read_universe(Path("/dev/zero"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_c7_csv_from_a_fifo_is_refused_without_waiting(data_dir, tmp_path):
    fifo = tmp_path / "prices.csv"
    os.mkfifo(fifo)
    run_ = cli_in_subprocess(data_dir, "fetch", "X", "--csv", fifo)
    assert run_.returncode == 1 and "is not a regular file" in run_.stderr


def test_c7_an_oversized_csv_is_refused_before_reading(data_dir, tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(csvfile.MAX_CSV_BYTES + 1)  # sparse: no disk used
    assert_clean_failure(run(data_dir, "fetch", "X", "--csv", big), "bytes, more than")


@needs_dev_zero
@pytest.mark.parametrize("target", ["prices/AAPL.json", "prices/.latest", "models/AAPL.json"])
def test_c7_a_json_file_linked_to_dev_zero_is_refused(trained, target):
    path = trained / target
    path.unlink()
    path.symlink_to("/dev/zero")
    run_ = cli_in_subprocess(trained, "predict", "AAPL", "--days", "1", "--paths", "100")
    assert "Traceback" not in run_.stderr
    if target == "prices/.latest":
        assert run_.returncode == 0
    else:
        assert run_.returncode == 1 and "is not a regular file" in run_.stderr


def npz_declaring(arrays: dict, lie: dict) -> bytes:
    """An npz whose .npy headers declare `lie[name]` shapes, with only the true data behind."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, a in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                member, {"descr": "<f8", "fortran_order": False, "shape": lie.get(name, a.shape)}
            )
            member.write(np.ascontiguousarray(a).tobytes())
            zf.writestr(f"{name}.npy", member.getvalue())
    return buf.getvalue()


def test_c7_an_npz_declaring_huge_arrays_is_refused_before_loading(data_dir, monkeypatch):
    params = make_params(np.random.default_rng(0))
    json_path = save_model(data_dir, "AAPL", params, META)
    data = npz_declaring(params, {"Whh": (30000, 30000)})
    sha = hashlib.sha256(data).hexdigest()
    (models_dir(data_dir) / f"AAPL.{sha[:12]}.npz").write_bytes(data)
    meta = json.loads(json_path.read_text()) | {
        "weights_sha256": sha,
        "weights_file": f"AAPL.{sha[:12]}.npz",
    }
    json_path.write_text(json.dumps(meta))

    def never(data):
        raise AssertionError("an array was loaded before its declared shape was checked")

    monkeypatch.setattr(checkpoint, "_read_npz", never)
    with pytest.raises(ForecastError, match=r"Whh in .* is declared float64 \(30000, 30000\)"):
        load_model(data_dir, "AAPL")


def test_c7_an_npz_larger_than_its_shapes_is_refused_before_reading(data_dir):
    params = make_params(np.random.default_rng(0))
    json_path = save_model(data_dir, "AAPL", params, META)
    npz = models_dir(data_dir) / json.loads(json_path.read_text())["weights_file"]
    with open(npz, "ab") as f:
        f.truncate(200 << 20)  # sparse
    with pytest.raises(ForecastError, match="bytes, more than"):
        load_model(data_dir, "AAPL")


# --- 8. smaller ones -----------------------------------------------------------------------------


@pytest.fixture
def read_only(monkeypatch):
    """Make every write under a directory fail with EROFS, as on a read-only mount (even as root)."""

    def make(directory: Path):
        AUDIT["read_only"] = os.path.abspath(directory)

    yield make
    AUDIT["read_only"] = None


@pytest.fixture
def yahoo(monkeypatch):
    import yfinance
    from test_prices import FakeYahoo

    monkeypatch.setattr(yahoo_client, "_sleep", lambda seconds: None)

    def install(*answers):
        fake = FakeYahoo(*answers)
        monkeypatch.setattr(yfinance, "Ticker", fake)
        return fake

    return install


def test_c8_a_read_only_data_dir_keeps_the_cache_fallback(data_dir, yahoo, read_only):
    yahoo(history_frame(aapl(0, 60)))
    assert run(data_dir, "fetch", "AAPL").exit_code == 0
    shutil.rmtree(data_dir / "yfinance", ignore_errors=True)  # as if copied from elsewhere
    before = snapshot(data_dir)
    read_only(data_dir)
    yahoo(OSError("Could not resolve host"))
    result = run(data_dir, "fetch", "AAPL")
    assert result.exit_code == 0 and "Yahoo unreachable; using cached AAPL" in result.stderr
    result = run(data_dir, "fetch", "AAPL", "--offline")
    assert result.exit_code == 0 and "offline; using cached AAPL" in result.stderr
    yahoo(history_frame(aapl(0, 80)))  # new data that cannot be stored: one line, cache kept
    assert_clean_failure(run(data_dir, "fetch", "AAPL"), "Read-only file system")
    assert snapshot(data_dir) == before


def test_c8_a_read_only_data_dir_still_serves_the_shipped_sample(data_dir, read_only):
    read_only(data_dir)
    result = run(data_dir, "fetch", "AAPL", "--offline")
    assert result.exit_code == 0, result.output
    assert "using the shipped sample of AAPL" in result.stderr and "not cached" in result.stderr
    assert list(data_dir.iterdir()) == []


def test_c8_a_failed_online_fetch_leaves_nothing_in_the_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    run_ = fetch_without_network(tmp_path, data_dir, "MSFT")
    assert run_.returncode == 1 and "cannot reach Yahoo" in run_.stderr
    assert list(data_dir.iterdir()) == []


def test_c8_temp_files_of_killed_saves_are_removed_by_the_next_save(data_dir, tmp_path):
    save_model(data_dir, "AAPL", make_params(np.random.default_rng(0)), META)
    prices.import_csv("X", write_csv(tmp_path, minimal_csv(40)), data_dir)
    leftovers = []
    for d, stem in ((models_dir(data_dir), "AAPL.json"), (prices_dir(data_dir), "X.json")):
        for age in (3600, 0):  # one from a save killed an hour ago, one maybe still running
            p = d / f".{stem}.{age}.tmp"
            p.write_bytes(b"half")
            os.utime(p, (time.time() - age, time.time() - age))
            leftovers.append(p)
    save_model(data_dir, "AAPL", make_params(np.random.default_rng(1)), META)
    prices.import_csv("X", write_csv(tmp_path, minimal_csv(41)), data_dir)
    assert [p.exists() for p in leftovers] == [False, True, False, True]


def test_c8_backtest_on_constant_prices_prints_no_numpy_warnings(data_dir, tmp_path):
    days = pd.bdate_range("2020-01-01", periods=300)
    csv = write_csv(tmp_path, "Date,Close\n" + "".join(f"{d.date()},100\n" for d in days))
    assert run(data_dir, "fetch", "FLAT", "--csv", csv).exit_code == 0
    run_ = cli_in_subprocess(
        data_dir, "backtest", "FLAT", "--epochs", "1", "--window", "10", "--hidden", "4",
        "--test-days", "30", "--refit-every", "30", "--paths", "100", "--horizon", "2",
        timeout=300,
    )  # fmt: skip
    assert run_.returncode == 0, run_.stderr
    assert "Warning" not in run_.stderr and "Traceback" not in run_.stderr


def test_c8_an_empty_symbol_among_others_is_one_message(data_dir):
    result = run(data_dir, "fetch", "--offline", "AAPL", "")
    assert_clean_failure(result, "empty ticker symbol")
    assert list(data_dir.iterdir()) == []


# --- slow: many concurrent CLI runs on one ticker ------------------------------------------------


def cli_process(data_dir, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "forecast", "--data-dir", str(data_dir), *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("mix", ["train", "fetch --csv", "mixed"])
def test_c2_slow_n_concurrent_commands_always_leave_a_usable_model_and_cache(
    trained, tmp_path, mix
):
    csvs = [write_csv(tmp_path, minimal_csv(300, close=lambda i, k=k: 50 + k + i % 7), f"{k}.csv")
            for k in range(2)]  # fmt: skip
    for round_ in range(4):
        procs = []
        for w in range(4):
            kind = mix if mix != "mixed" else ("train" if w % 2 else "fetch --csv")
            if kind == "train":
                procs.append(cli_process(trained, "train", "AAPL", *SMALL, "--seed", w))
            else:
                procs.append(cli_process(trained, "fetch", "AAPL", "--csv", csvs[(w + round_) % 2]))
        for p in procs:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err
            assert "Traceback" not in err
        load_model(trained, "AAPL")
        prices.load_prices("AAPL", trained)
        assert len(list(models_dir(trained).glob("AAPL.*.npz"))) == 1
        assert len(list(prices_dir(trained).glob("AAPL.*.csv"))) == 1
        result = run(trained, "predict", "AAPL", "--days", "1", "--paths", "100")
        assert result.exit_code == 0, result.output
