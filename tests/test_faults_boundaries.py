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

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from test_prices import aapl
from typer.testing import CliRunner

from forecast.cli.app import app
from forecast.config import models_dir, prices_dir
from forecast.errors import ForecastError
from forecast.files import write_output

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
    for t in ("SPY", "GLD"):  # GLD: its own model, newer than WORLD, which serves it too
        result = run(d, "train", t, *TINY)
        assert result.exit_code == 0, result.output
    return d


@pytest.fixture
def world(world_once, tmp_path):
    d = tmp_path / "world"
    shutil.copytree(world_once, d)
    return d


# --- 9. output files ----------------------------------------------------------------------------

FAST_BACKTEST = [
    *TINY,
    "--test-days",
    "30",
    "--refit-every",
    "30",
    "--horizon",
    "2",
    "--paths",
    "50",
]


def read_fifo_in_thread(fifo: Path) -> dict:
    """Open `fifo` for reading in a thread and collect what is written (got["data"])."""
    got: dict = {}

    def read():
        with open(fifo, "rb") as f:
            got["data"] = f.read()

    got["thread"] = threading.Thread(target=read, daemon=True)
    got["thread"].start()
    return got


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_c9_a_fifo_export_target_is_written_in_place(world, tmp_path):
    fifo = tmp_path / "forecasts.csv"
    os.mkfifo(fifo)
    got = read_fifo_in_thread(fifo)
    result = run(world, "backtest", "AAPL", *FAST_BACKTEST, "--export", fifo)
    assert result.exit_code == 0, result.output
    got["thread"].join(10)
    assert got["data"].startswith(b"model,") and got["data"].count(b"\n") > 10
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO, not a file renamed over it
    assert list(tmp_path.glob(".*.tmp")) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_c9_a_fifo_plot_target_is_written_in_place(world, tmp_path):
    pytest.importorskip("matplotlib")
    fifo = tmp_path / "fan.svg"
    os.mkfifo(fifo)
    got = read_fifo_in_thread(fifo)
    result = run(world, "predict", "GLD", "--days", "2", "--paths", "100", "--plot", fifo)
    assert result.exit_code == 0, result.output
    got["thread"].join(10)
    assert b"<svg" in got["data"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_c9_a_fifo_nobody_reads_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    with pytest.raises(ForecastError, match="no process reads the FIFO"):
        write_output(fifo, b"x\n")  # O_NONBLOCK: refused at once, or this test would hang
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_c9_export_to_stdout(world):
    """The export is then all of stdout: no table printed into the CSV."""
    result = run(world, "backtest", "AAPL", *FAST_BACKTEST, "--export", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("model,") and "forecasts to -" in result.stderr
    lines = result.stdout.splitlines()
    assert len({line.count(",") for line in lines}) == 1  # one CSV, every row its width
    assert int(result.stderr.split("wrote ")[1].split()[0]) == len(lines) - 1


@pytest.mark.parametrize("command", ["predict", "backtest"])
def test_c9_json_and_an_export_to_stdout_are_refused_together(world, command):
    args = FAST_BACKTEST if command == "backtest" else []
    result = run(world, command, "AAPL", *args, "--export", "-", "--json")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "would both write to stdout" in result.stderr


def test_c9_dev_stdout_stays_a_link_and_gets_the_csv(world):
    before = os.readlink("/dev/stdout") if os.path.islink("/dev/stdout") else None
    out = subprocess.run(
        [sys.executable, "-m", "forecast", "--data-dir", world, "backtest", "AAPL",
         *FAST_BACKTEST, "--export", "/dev/stdout"],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(b"model,")
    assert (os.readlink("/dev/stdout") if os.path.islink("/dev/stdout") else None) == before


def test_c9_a_character_device_is_written_in_place(tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
    except (PermissionError, AttributeError, OSError):
        pytest.skip("cannot make a device node here")
    write_output(node, b"x" * 1000)
    assert stat.S_ISCHR(os.lstat(node).st_mode) and os.lstat(node).st_rdev == os.makedev(1, 3)


def test_c9_a_link_to_a_regular_file_stays_a_link(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_output(link, b"new\n")
    assert link.is_symlink() and target.read_bytes() == b"new\n"


def test_c9_a_socket_target_is_refused_before_any_work(world, tmp_path):
    path = tmp_path / "s.csv"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
    except OSError:
        pytest.skip("cannot bind a unix socket here")
    with sock:
        one_line(run(world, "backtest", "AAPL", *FAST_BACKTEST, "--export", path), 1, "a socket")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)


@pytest.mark.parametrize(
    "option, name",
    [("--export", "models/AAPL.json"), ("--export", "new.csv"), ("--plot", "models/x.png")],
)
def test_c9_writing_into_the_data_directory_is_refused(world, option, name):
    before = tree(world)
    result = run(world, "backtest", "AAPL", *FAST_BACKTEST, option, world / name)
    one_line(result, 1, "inside the data directory")
    assert tree(world) == before


# --- 10. network waits ---------------------------------------------------------------------------


@contextmanager
def tcp_server(greeting: bytes = b""):
    """tcp://127.0.0.1:PORT of a server that accepts every connection, sends it `greeting`
    and then never says anything more."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []

    def accept():
        while True:
            try:
                c = server.accept()[0]
            except OSError:  # closed at teardown
                return
            accepted.append(c)
            c.sendall(greeting)

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for c in accepted:
            c.close()


@pytest.fixture
def silent_scheduler():
    """A server that accepts every connection and never answers."""
    with tcp_server() as address:
        yield address


def cli(data_dir, *args, timeout=60):
    env = {k: v for k, v in os.environ.items() if k != "FORECAST_SCHEDULER"}
    return subprocess.run(
        [sys.executable, "-m", "forecast", "--data-dir", str(data_dir), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def test_c10_a_scheduler_that_never_answers_is_one_line_at_its_deadline(
    world, silent_scheduler, monkeypatch
):
    from forecast.universe import jobs

    monkeypatch.delenv("FORECAST_SCHEDULER", raising=False)
    monkeypatch.setattr(jobs, "HANDSHAKE_TIMEOUT", 1.0)
    t0 = time.monotonic()
    result = run(world, "predict", "MSFT", "GLD", "--scheduler", silent_scheduler)
    assert time.monotonic() - t0 < 10  # a hang bound: the 1 s deadline, not the OS's
    one_line(result, 1, silent_scheduler, "no answer within 1 s")


@pytest.mark.slow  # waits out the real 10 s deadline in a fresh process
def test_c10_a_scheduler_that_never_answers_is_one_line_within_15_s(world, silent_scheduler):
    t0 = time.monotonic()
    out = cli(world, "predict", "MSFT", "GLD", "--scheduler", silent_scheduler, timeout=30)
    assert time.monotonic() - t0 < 15  # a hang bound: it waited for good before
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: "), out.stderr
    assert silent_scheduler in out.stderr and "no answer" in out.stderr


@pytest.fixture
def http_server():
    """A server that is not Dask: it greets every connection with HTTP 400 replies, bytes
    Dask's comm reads as a frame header."""
    with tcp_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4) as address:
        yield address


def test_c10_an_http_port_is_not_a_dask_scheduler(world, http_server, monkeypatch):
    """Dask read the HTTP reply as a frame length of exabytes and the line said so; it now
    says what the port is not, and which port was likely meant."""
    monkeypatch.delenv("FORECAST_SCHEDULER", raising=False)
    result = run(world, "predict", "MSFT", "GLD", "--scheduler", http_server)
    one_line(result, 1, http_server, "not a Dask scheduler", "8786")
    assert "allocate" not in result.stderr


MALFORMED = {
    "tcp://127.0.0.1": "not HOST:PORT",
    "garbage": "not HOST:PORT",
    "inproc://x": "only tcp://",
    "http://127.0.0.1:80": "only tcp://",
    "tcp://127.0.0.1:" + "9" * 5000: "port must be in 1..65535",
    "tcp://127.0.0.1:0": "port must be in 1..65535",
    "tcp://:8786": "not HOST:PORT",
}


@pytest.mark.parametrize("address", MALFORMED, ids=lambda a: a[:24])
def test_c10_a_malformed_scheduler_address_fails_with_its_own_message(world, address, monkeypatch):
    monkeypatch.delenv("FORECAST_SCHEDULER", raising=False)
    result = run(world, "predict", "MSFT", "GLD", "--scheduler", address)
    one_line(result, 1, MALFORMED[address])
    assert "within" not in result.stderr


def test_c10_a_malformed_address_exits_at_once_without_a_client_traceback(world):
    t0 = time.monotonic()
    out = cli(world, "predict", "MSFT", "GLD", "--scheduler", "tcp://127.0.0.1")
    assert time.monotonic() - t0 < 8  # 11.4-11.9 s before: a half-made Client's __del__ waited
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr and "TimeoutError" not in out.stderr


def test_c10_a_client_that_fails_half_made_prints_nothing_at_exit():
    code = (
        "import distributed\n"
        "from forecast.universe.jobs import _client\n"
        "try:\n"
        "    _client(distributed, 'inproc://x', 1)\n"  # distributed's own refusal, half made
        "except Exception:\n"
        "    pass\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr  # no __del__ TimeoutError


# --- 11. processes -------------------------------------------------------------------------------

LONG = ["--epochs", "100000", "--patience", "100000", "--hidden", "8", "--window", "20"]


def group_alive(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`, from /proc."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            alive.append(int(entry.name))
    return alive


@pytest.fixture
def per_ticker_run(world):
    """Start `train ... --per-ticker --jobs 2` in its own process group with piped output;
    yield (process, pgid) once both workers run; kill what is left at teardown."""
    env = {k: v for k, v in os.environ.items() if k != "FORECAST_SCHEDULER"}
    procs = []

    def start(*extra):
        p = subprocess.Popen(
            [sys.executable, "-m", "forecast", "--data-dir", str(world), "train",
             "AAPL", "MSFT", "GLD", "SPY", "--per-ticker", "--jobs", "2", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
        )  # fmt: skip
        procs.append(p)
        deadline = time.monotonic() + 60
        while len(group_alive(p.pid)) < 5:  # the command, tracker, forkserver, two workers
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            time.sleep(0.1)
        time.sleep(1.0)  # the workers are training now
        return p

    yield start
    for p in procs:
        for pid in group_alive(p.pid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        p.wait()


def assert_no_helper_output(err: bytes) -> None:
    """Nothing on stderr from the resource tracker or a worker: no traceback, KeyError or
    'leaked semaphore' warning (the tracker printed them once its command was gone)."""
    for noise in (b"Traceback", b"KeyError", b"resource_tracker", b"Warning"):
        assert noise not in err, err.decode(errors="replace")


def wait_for_eof(p, seconds: float) -> tuple[bytes, bytes]:
    """Both pipes read to EOF (every process holding them gone) within `seconds`, else fail."""
    out: dict = {}
    readers = [threading.Thread(target=lambda k=k: out.__setitem__(k, getattr(p, k).read()))
               for k in ("stdout", "stderr")]  # fmt: skip
    for r in readers:
        r.start()
    for r in readers:
        r.join(seconds)
    assert not any(r.is_alive() for r in readers), "a process still holds the output pipe"
    return out["stdout"], out["stderr"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_c11_killing_a_multi_ticker_run_leaves_no_process_and_closes_the_pipe(
    world, per_ticker_run, sig
):
    p = per_ticker_run(*LONG)
    os.kill(p.pid, getattr(signal, sig))
    t0 = time.monotonic()
    _, err = wait_for_eof(p, 10)
    while group_alive(p.pid) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    assert group_alive(p.pid) == [], "a worker or helper outlived its command by 10 s"
    code = p.wait(5)
    if sig == "SIGTERM":  # like Ctrl-C: one line, 143
        assert code == 143, err
        errors = [line for line in err.decode().splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "terminated" in errors[0], err
    assert_no_helper_output(err)
    assert list(models_dir(world).glob(".*.tmp")) == []
    for t in ("SPY", "GLD"):  # the models from before are whole (a save is old or new)
        assert run(world, "predict", t, "--days", "1", "--paths", "100").exit_code == 0


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_c11_a_killed_worker_prints_no_resource_tracker_traceback(world, per_ticker_run):
    p = per_ticker_run("--epochs", "40", "--patience", "40", "--hidden", "8", "--window", "20")
    workers = [q for q in group_alive(p.pid) if q != p.pid and _ppid(q) != p.pid]  # forked
    os.kill(workers[0], signal.SIGKILL)
    _, err = wait_for_eof(p, 120)
    assert p.wait(5) in (0, 1), err
    assert_no_helper_output(err)


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


# --- 12. global-model files ----------------------------------------------------------------------

GLOBAL_EDITS = {  # field: hostile values (None: the field removed)
    "kind": ["local", 5, None],
    "name": [5, "../X", "SPY", None],
    "config": [[], {"window": 60.5}, {"loss": 5}, {"loss": "hinge"}, {"x": 1}, None],
    "cut_date": ["yesterday", 20200101, None],
    "tickers": ["AAPL", [], ["../x"], [5], None],
    "windows": [[1], {"MSFT": 5}, {"MSFT": {"train": -1, "val": 3}}, None],
    "last_dates": [[1], {"MSFT": 1}, {"MSFT": "soon"}],
    "skipped": [[1], {"X": 5}],
    "member_epochs": [5, [[1, 2, 3]], [["a", 1]], [[1, 2], [3, 4], [5, 6]]],
    # what serves WORLD's close-only tickers (MSFT and GLD): WORLD has at most 2 members
    "close_members": [0, 2, "1", 64],
    "close_features": [[], [5], "return"],
    "close_choice": [5, {"first": 1.0, "close": 2.0, "chosen": "both"}, {"first": "x"}],
}
CASES = [(f, v) for f, values in GLOBAL_EDITS.items() for v in values]


def edit_json(path: Path, field: str, value) -> None:
    meta = json.loads(path.read_text())
    if value is None:
        del meta[field]
    else:
        meta[field] = value
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("field, value", CASES, ids=[f"{f}={v!r}"[:40] for f, v in CASES])
def test_c12_a_hostile_global_model_json_is_one_line(world, field, value):
    edit_json(models_dir(world) / "WORLD.json", field, value)
    for args in (["predict", "MSFT", "--model", "WORLD"], ["predict", "MSFT"]):
        result = run(world, *args, "--days", "1", "--paths", "100")
        one_line(result, 1)
        assert "forecast train WORLD`" not in result.stderr  # WORLD is no ticker to train


@pytest.mark.parametrize("field", ["tickers", "config", "cut_date"])
def test_c12_backtest_of_a_global_model_lacking_a_field_is_one_line(world, field):
    edit_json(models_dir(world) / "WORLD.json", field, None)
    result = run(world, "backtest", "GLD", "--model", "WORLD", "--test-days", "30")
    one_line(result, 1, "WORLD", "lacks " + field, "--global WORLD")


@pytest.mark.parametrize("edit", [{"x": 1}, {"loss": "hinge"}, {"features": ["range"]}])
def test_c12_a_global_config_that_is_no_config_is_one_line(world, edit):
    """Fields the schema lets through (unknown keys, names) that TrainConfig refuses."""
    path = models_dir(world) / "WORLD.json"
    meta = json.loads(path.read_text())
    meta["config"] |= edit
    path.write_text(json.dumps(meta))
    for args in (["predict", "GLD", "--model", "WORLD"], ["backtest", "GLD", "--model", "WORLD"]):
        one_line(run(world, *args, "--test-days" if args[0] == "backtest" else "--days", 30),
                 1, "models/WORLD.json holds no valid config", "--global WORLD")  # fmt: skip


def test_c12_models_lists_a_hostile_global_model_as_corrupt(world):
    edit_json(models_dir(world) / "WORLD.json", "member_epochs", 5)
    result = run(world, "models")
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.stdout.splitlines() if "WORLD" in line]
    assert "corrupt" in row and "×" not in row
    assert "WORLD is corrupt" in result.stderr and "member_epochs" in result.stderr


# --- 13. corrupt models --------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["{not json", '{"format_version": 2}', ""])
def test_c13_a_corrupt_global_model_is_replaced_by_training_it(world, content):
    (models_dir(world) / "WORLD.json").write_text(content)
    result = run(world, "predict", "GLD", "--model", "WORLD", "--days", "1")
    one_line(result, 1, "--global WORLD")
    result = run(world, "train", "MSFT", "GLD", "--global", "WORLD", *TINY)
    assert result.exit_code == 0, result.output
    result = run(world, "predict", "GLD", "--model", "WORLD", "--days", "1", "--paths", "100")
    assert result.exit_code == 0, result.output


def test_c13_a_corrupt_own_model_is_replaced_by_a_global_one_of_its_name(world):
    (models_dir(world) / "SPY.json").write_text("{not json")
    result = run(world, "train", "MSFT", "GLD", "--global", "SPY", *TINY)
    assert result.exit_code == 0, result.output
    assert json.loads((models_dir(world) / "SPY.json").read_text())["kind"] == "global"


@pytest.fixture
def no_training(monkeypatch):
    """Any global training fails the test: a refusal must come before it."""
    from forecast.model import globalmodel

    def fail(*args, **kwargs):
        raise AssertionError("trained before checking the model name")

    monkeypatch.setattr(globalmodel, "fit_global", fail)


def test_c13_a_global_name_of_a_tickers_own_model_is_refused_before_training(world, no_training):
    before = tree(world)
    result = run(world, "train", "MSFT", "GLD", "--global", "SPY", *TINY)
    one_line(result, 1, "per-ticker model of SPY", "--global NAME")
    assert tree(world) == before


def test_c13_a_universe_named_like_a_tickers_own_model_is_refused_before_training(
    world, tmp_path, no_training
):
    universe = tmp_path / "spy.txt"
    universe.write_text("MSFT\nGLD\n")
    before = tree(world)
    result = run(world, "train", "--universe", universe, *TINY)
    one_line(result, 1, "per-ticker model of SPY", "--global NAME")
    assert tree(world) == before


def test_c13_a_corrupt_own_model_never_switches_to_a_global_one_silently(world):
    edit_json(models_dir(world) / "GLD.json", "config", {"window": 60.5})
    result = run(world, "predict", "GLD", "--days", "1", "--paths", "100")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "unusable" in line]
    assert len(warnings) == 1 and "warning: the model for GLD is unusable" in warnings[0]
    assert "global model WORLD" in warnings[0] and "forecast train GLD" in warnings[0]
    listed = run(world, "models")
    (row,) = [line for line in listed.stdout.splitlines() if line.split()[:1] == ["GLD"]]
    assert "corrupt" in row and "T=?" not in row
    assert "GLD is corrupt" in listed.stderr


def test_c13_a_screen_says_when_a_global_model_stood_in_for_a_corrupt_own_one(world):
    (models_dir(world) / "GLD.json").write_text("{not json")
    result = run(world, "predict", "GLD", "MSFT", "--jobs", "1", "--days", "1", "--paths", "100")
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.stdout.splitlines() if line.split()[:1] == ["GLD"]]
    assert "own corru" in row  # "own corrupt", cut to fit 80 columns
    assert "warning: the model for GLD is unusable" in result.stderr
    assert "global model WORLD" in result.stderr
    listed = run(world, "predict", "GLD", "MSFT", "--jobs", "1", "--days", "1", "--json")
    rows = {r["ticker"]: r for r in json.loads(listed.stdout)}
    assert "GLD is unusable" in rows["GLD"]["switched"] and "switched" not in rows["MSFT"]


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
