"""The first five minutes: `make demo`, then README's quick-start block, exactly as written.

The demo's commands (from the Makefile) and then the quick-start block run in one bash
session, in a fresh directory whose `.venv/bin/activate` puts a `forecast` on PATH that runs
this checkout; the per-user data directory is a temporary XDG_DATA_HOME, as on a new machine.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def demo_commands() -> list[str]:
    """The `forecast` lines of the Makefile's demo recipe, as a shell would run them."""
    recipe = (ROOT / "Makefile").read_text().split("\ndemo:")[1].split("\n\n")[0]
    return [
        line.strip().replace("$(BIN)/forecast", ".venv/bin/forecast")
        for line in recipe.splitlines()
        if line.strip().startswith("$(BIN)/forecast")
    ]


def demo_next_steps() -> list[str]:
    """What the demo prints as the next commands (its `@echo "  ..."` lines)."""
    recipe = (ROOT / "Makefile").read_text().split("\ndemo:")[1].split("\n\n")[0]
    return re.findall(r'@echo "  (.+)"', recipe)


def quick_start() -> list[str]:
    """The lines of README's quick-start block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- quick-start -->")[1].split("<!-- /quick-start -->")[0]
    return [line for line in block.strip().splitlines() if not line.startswith("```")]


def test_the_demo_prints_readmes_quick_start():
    assert demo_next_steps() == quick_start()


def test_the_demo_uses_the_data_directory_every_command_uses():
    assert demo_commands() and all("--data-dir" not in c for c in demo_commands())


def test_readme_quick_start_runs_after_the_demo(tmp_path):
    clone = tmp_path / "clone"
    venv_bin = clone / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    exe = venv_bin / "forecast"
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} -m forecast "$@"\n')
    exe.chmod(0o755)
    (venv_bin / "activate").write_text(f'export PATH="{venv_bin}:$PATH"\n')
    script = "set -euo pipefail\n" + "\n".join(demo_commands() + quick_start()) + "\n"
    env = {k: v for k, v in os.environ.items() if k != "FORECAST_DATA_DIR"}
    env |= {
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "PYTHONPATH": str(ROOT),  # the `forecast` of this checkout
        "COLUMNS": "100",
        "PATH": "/usr/bin:/bin",  # no other forecast on PATH: only activate puts one there
    }
    done = subprocess.run(
        ["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (tmp_path / "xdg" / "forecast" / "models" / "AAPL.json").is_file()
    assert "AAPL" in done.stdout and "error" not in done.stderr
