"""A universe of tickers: the symbols given on the command line plus those of a `--universe FILE`.

The file holds one symbol per line; `#` starts a comment (a whole line or the rest of one),
blank lines are skipped, symbols are upper-cased like `forecast fetch` does, and a symbol seen
before (in the file or on the command line) is dropped, keeping the first. An invalid symbol
does not stop the others: it is returned as a problem naming its line, and the rest run.
"""

from dataclasses import dataclass, field
from pathlib import Path

from forecast.errors import ForecastError
from forecast.files import RefusedFile, read_regular
from forecast.symbols import validate_symbol


@dataclass
class Universe:
    tickers: list[str]  # valid, upper-cased, unique, in the order first given
    problems: list[str] = field(default_factory=list)  # one line per invalid symbol


def parse_universe(text: str, source: str) -> Universe:
    """Symbols of a universe file's text; `source` names the file in problem lines."""
    tickers: list[str] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        symbol = line.split("#", 1)[0].strip()
        if not symbol:
            continue
        try:
            tickers.append(validate_symbol(symbol))
        except ForecastError as e:
            problems.append(f"{source} line {number}: {e}")
    return Universe(list(dict.fromkeys(tickers)), problems)


MAX_UNIVERSE_BYTES = 1 << 20  # 60,000 tickers of 15 characters; more is not a universe file


def read_universe(path: Path) -> Universe:
    """parse_universe of a file; a missing, unreadable or empty one is a ForecastError."""
    path = Path(path)
    try:  # a regular file of bounded size only: never /dev/zero or a FIFO
        # utf-8-sig: a byte-order mark (Notepad's "UTF-8 with BOM") is not part of a ticker
        text = read_regular(path, MAX_UNIVERSE_BYTES).decode("utf-8-sig")
    except RefusedFile as e:
        if path.is_dir():
            raise ForecastError(
                f"--universe: {path} is a folder; give a file with one ticker per line"
            ) from None
        raise ForecastError(f"--universe: {e}; give a file with one ticker per line") from None
    except FileNotFoundError:
        raise ForecastError(
            f"--universe: no file {path}; give a file with one ticker per line"
        ) from None
    except IsADirectoryError:
        raise ForecastError(
            f"--universe: {path} is a folder; give a file with one ticker per line"
        ) from None
    except UnicodeDecodeError:
        raise ForecastError(
            f"--universe: {path} is not UTF-8 text; give one ticker per line"
        ) from None
    except OSError as e:
        raise ForecastError(
            f"--universe: cannot read {path} ({e.strerror or e}); check the path"
        ) from None
    universe = parse_universe(text, str(path))
    if not universe.tickers and not universe.problems:
        raise ForecastError(
            f"--universe: {path} lists no tickers; put one symbol per line (# starts a comment)"
        )
    return universe


def resolve(tickers: list[str] | None, universe_file: Path | None) -> Universe:
    """The command line's symbols, then the file's; duplicates dropped, invalid ones reported.

    Raises ForecastError when nothing valid is left to run.
    """
    problems: list[str] = []
    valid: list[str] = []
    for symbol in tickers or []:
        try:
            valid.append(validate_symbol(symbol))
        except ForecastError as e:
            problems.append(str(e))
    if universe_file is not None:
        from_file = read_universe(universe_file)
        valid += from_file.tickers
        problems += from_file.problems
    universe = Universe(list(dict.fromkeys(valid)), problems)
    if not universe.tickers and problems:
        what = f"--universe {universe_file}" if universe_file is not None else "the command line"
        raise ForecastError(f"no valid ticker in {what}: {problems[0]}")
    return universe
