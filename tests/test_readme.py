"""Every `forecast` command shown in README.md exists, and so does every option it uses."""

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
