"""Every `forecast` command shown in README.md exists, and so does every option it uses."""

import re
import shlex
from pathlib import Path

import pytest
from cli import invoke

from forecast.cli.app import app

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_commands() -> list[list[str]]:
    """`forecast ...` lines inside fenced code blocks, as argument lists (comments dropped).

    In a block that shows a session (`$ ` prompts), only the prompted lines are commands: the
    others are their output (`forecast 0.1.0` is what `forecast --version` prints).
    """
    commands, block = [], None
    for line in README.read_text().splitlines():
        if line.strip().startswith("```"):
            if block is not None:
                session = any(b.startswith("$ ") for b in block)
                for text in block:
                    if session and not text.startswith("$ "):
                        continue
                    text = text.removeprefix("$ ")
                    if text.startswith("forecast ") and not text.startswith("forecast/"):
                        commands.append(shlex.split(text.split(" #")[0])[1:])
            block = [] if block is None else None
            continue
        if block is not None:
            block.append(line.strip())
    return commands


def split_command(args: list[str]) -> tuple[str, list[str]]:
    """(command name, its --options), skipping the global --data-dir option."""
    rest = list(args)
    if rest[:1] == ["--data-dir"]:
        rest = rest[2:]
    if rest[0].startswith("-"):  # forecast --version, forecast -h: options of the program
        return "", [rest[0]]
    return rest[0], [a.split("=")[0] for a in rest[1:] if a.startswith("--")]


def test_readme_shows_commands():
    names = {split_command(c)[0] for c in readme_commands()}
    assert {"fetch", "list", "train", "predict", "backtest", "models", "rm"} <= names


@pytest.mark.parametrize("args", readme_commands(), ids=" ".join)
def test_readme_command_exists_with_its_options(args):
    name, options = split_command(args)
    result = invoke(*([name] if name else []), "--help", terminal_width=200)
    assert result.exit_code == 0, f"`forecast {name}` is not a command: {result.output}"
    for option in options:
        assert option in result.stdout, f"`forecast {name}` has no option {option}"


def test_readme_starts_with_the_two_commands():
    head = README.read_text().split("\n## ")[0]
    assert "make demo" in head and "make test" in head


def test_every_command_is_in_the_readme():
    """The other direction: no command the CLI has is missing from the README."""
    import typer

    commands = set(typer.main.get_command(app).commands)
    shown = {split_command(c)[0] for c in readme_commands()}
    assert commands <= shown, commands - shown


# --- help excerpts: README shows what `forecast ... -h` really prints ----------------------------

HELP_ENV = {"COLUMNS": "100", "XDG_DATA_HOME": "/home/you/.local/share", "TERM": "dumb"}


def real_help(command: str) -> str:
    """What `command` (e.g. 'forecast predict -h') prints, 100 columns wide, for a user whose
    data directory is /home/you/.local/share/forecast; trailing blanks dropped."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("FORECAST_DATA_DIR", "NO_COLOR")}
    env |= HELP_ENV | {"PYTHONPATH": str(README.parent)}
    args = shlex.split(command)[1:]
    out = subprocess.run(
        [sys.executable, "-m", "forecast", *args], env=env, capture_output=True, text=True
    ).stdout
    return tidy(out)


def tidy(text: str) -> str:
    """Lines without trailing blanks, and no blank lines around them."""
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def help_blocks(text: str) -> list[tuple[str, str]]:
    """(command, shown output) of each README block that starts with `$ forecast ... -h`."""
    blocks = re.findall(r"```\n\$ (forecast [^\n]*(?:-h|--help))\n(.*?)\n```", text, re.S)
    return [
        (c, "\n".join(line.rstrip() for line in body.strip("\n").splitlines()))
        for c, body in blocks
    ]


def test_readme_help_excerpts_are_the_real_help():
    blocks = help_blocks(README.read_text())
    assert blocks, "README shows no `$ forecast ... -h` block"
    for command, shown in blocks:
        assert shown == real_help(command), (
            f"README's `{command}` differs from the real help; run `python tests/test_readme.py`"
        )


def write_help_excerpts() -> None:
    """Replace every help excerpt in README.md with the real help."""
    text = README.read_text()
    for command, body in re.findall(
        r"```\n\$ (forecast [^\n]*(?:-h|--help))\n(.*?)\n```", text, re.S
    ):
        text = text.replace(f"$ {command}\n{body}\n```", f"$ {command}\n{real_help(command)}\n```")
    README.write_text(text)


if __name__ == "__main__":
    write_help_excerpts()
