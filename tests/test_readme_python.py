"""README's "Python" section runs as written: each ```python block, in order, in one fresh
process whose data directory and working directory are empty temporary folders."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_blocks() -> list[str]:
    section = (ROOT / "README.md").read_text().split("\n## Python\n")[1].split("\n## ")[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_python_examples_run(tmp_path):
    blocks = python_blocks()
    assert len(blocks) >= 2
    env = {k: v for k, v in os.environ.items() if k != "FORECAST_DATA_DIR"}
    env |= {"FORECAST_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "VaR 95%" in done.stdout and "own model" in done.stdout
    assert (tmp_path / "aapl.npz").is_file()
    assert (tmp_path / "data" / "models" / "AAPL.json").is_file()
