"""Output on a real terminal of 60, 80 and 120 columns (a pseudo-terminal with that window
size): no line wider than the terminal, no number cut to '…', and the fan chart drawn whole."""

import os
import pty
import re
import select
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from forecast.cli.app import app

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    runner = CliRunner()
    assert runner.invoke(app, ["--data-dir", str(d), "fetch", "AAPL", "--offline"]).exit_code == 0
    tiny = ["--window", "10", "--hidden", "4", "--epochs", "1"]
    assert runner.invoke(app, ["--data-dir", str(d), "train", "AAPL", *tiny]).exit_code == 0
    return d


def on_terminal(columns: int, *args: str) -> tuple[int, list[str]]:
    """Run `forecast ARGS` with stdout and stderr on a pseudo-terminal `columns` wide; return
    its exit code and its lines as shown (escape sequences removed)."""
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = str(ROOT)
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-m", "forecast", *args], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=60)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return code, [line.rstrip("\r") for line in text.split("\n")]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pseudo-terminals")
@pytest.mark.parametrize("columns", [60, 80, 120])
def test_predict_models_list_fit_the_terminal(trained, columns):
    d = str(trained)
    for args in (["predict", "AAPL", "--days", "5", "--paths", "100"], ["models"], ["list"]):
        code, lines = on_terminal(columns, "--data-dir", d, *args)
        assert code == 0, "\n".join(lines)
        # progress redraws aside, and warnings, which stay one line for grep (soft-wrapped)
        printed = [line for line in lines if "\r" not in line and not line.startswith("warning:")]
        assert all(cell_len(line) <= columns for line in printed), "\n".join(printed)
        assert not [line for line in printed if "…" in line], "\n".join(printed)
        if args[0] == "predict":
            assert any("• close" in line for line in lines)  # the fan chart's legend
            axis = next(line for line in lines if "└" in line)
            assert cell_len(axis) > columns - 12  # the chart uses the width it has
            assert any(line.lstrip().startswith("2023-09-22") for line in lines)
