"""--universe files and command-line tickers: comments, blanks, duplicates, bad symbols, empty files."""

import pytest

from forecast.errors import ForecastError
from forecast.universe.tickers import parse_universe, read_universe, resolve


def test_comments_blank_lines_duplicates_and_case():
    text = "# my watchlist\n\nAAPL\nmsft   # inline comment\n  ^GSPC  \nAAPL\n\n# end\nBRK-B\n"
    u = parse_universe(text, "w.txt")
    assert u.tickers == ["AAPL", "MSFT", "^GSPC", "BRK-B"]
    assert u.problems == []


def test_invalid_symbols_are_reported_by_line_and_the_rest_kept():
    u = parse_universe("AAPL\n../etc\nTWO WORDS\nMSFT\nTOOLONGSYMBOL12345\n", "w.txt")
    assert u.tickers == ["AAPL", "MSFT"]
    assert [p.split(":")[0] for p in u.problems] == ["w.txt line 2", "w.txt line 3", "w.txt line 5"]
    assert "invalid ticker '../ETC'" in u.problems[0]
    assert all("\n" not in p for p in u.problems)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   \n# another\n"])
def test_empty_file_is_one_error(tmp_path, text):
    f = tmp_path / "empty.txt"
    f.write_text(text)
    with pytest.raises(ForecastError, match="lists no tickers") as e:
        read_universe(f)
    assert str(f) in str(e.value) and "\n" not in str(e.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ForecastError, match="no file"):
        read_universe(tmp_path / "nope.txt")
    with pytest.raises(ForecastError, match="is a folder"):
        read_universe(tmp_path)


def test_a_byte_order_mark_and_crlf_are_not_part_of_a_ticker(tmp_path):
    f = tmp_path / "w.txt"
    f.write_bytes(b"\xef\xbb\xbfAAPL\r\nMSFT\r\n")
    u = read_universe(f)
    assert u.tickers == ["AAPL", "MSFT"] and u.problems == []


def test_not_text(tmp_path):
    f = tmp_path / "bin.txt"
    f.write_bytes(b"\xff\xfe\x00AAPL")
    with pytest.raises(ForecastError, match="not UTF-8"):
        read_universe(f)


def test_resolve_combines_command_line_first_then_file(tmp_path):
    f = tmp_path / "u.txt"
    f.write_text("MSFT\nAAPL\nGLD\n")
    u = resolve(["aapl", "SPY"], f)
    assert u.tickers == ["AAPL", "SPY", "MSFT", "GLD"]
    assert resolve(["AAPL", "AAPL"], None).tickers == ["AAPL"]


def test_resolve_reports_bad_command_line_symbols_and_runs_the_rest(tmp_path):
    u = resolve(["AAPL", "a b"], None)
    assert u.tickers == ["AAPL"] and len(u.problems) == 1 and "spaces" in u.problems[0]


def test_resolve_with_nothing_valid_is_an_error(tmp_path):
    f = tmp_path / "u.txt"
    f.write_text("../x\n")
    with pytest.raises(ForecastError, match="no valid ticker in --universe"):
        resolve([], f)
