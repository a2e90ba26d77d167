"""fetch --csv with many files, a folder or one long file; --exchange and --currency kept with
the prices and used by every forecast's dates and labels; one bad file fails alone."""

import csv
import json

import pytest
from typer.testing import CliRunner

from forecast.cli.app import app
from forecast.prices.cache import SAMPLES

runner = CliRunner()
TINY = ["--window", "10", "--hidden", "4", "--epochs", "1"]


def run(data_dir, *args):
    return runner.invoke(app, ["--data-dir", str(data_dir), *args])


@pytest.fixture(scope="module")
def rows():
    from importlib import resources

    text = (resources.files("forecast") / "samples" / SAMPLES["AAPL"]).read_text()
    header, *body = list(csv.reader(text.splitlines()))
    return header, body


def write_long(path, header, parts, column="ticker"):
    """A long file: a ticker column, then each (ticker, rows) of parts in order."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([column, *header])
        for ticker, part in parts:
            w.writerows([ticker, *r] for r in part)
    return path


def write(path, header, body, ticker=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow((["ticker"] if ticker else []) + header)
        for r in body:
            w.writerow(([ticker] if ticker else []) + r)
    return path


def test_a_folder_files_and_a_long_file_in_one_command(tmp_path, rows):
    header, body = rows
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "acme.csv", header, body[:600])
    write(folder / "BETA.L.csv", header, body[600:1200])
    (folder / "broken.csv").write_text("not,a price file\n1,2\n")
    long = write_long(
        tmp_path / "long.csv", header, [("LA", body[:500]), ("LB", body[500:1000])], "Symbol"
    )
    d = tmp_path / "d"
    r = run(d, "fetch", "--csv", str(folder), "--csv", str(long), "--json")
    assert r.exit_code == 1, r.output
    got = {x["ticker"]: x for x in json.loads(r.stdout)}
    assert set(got) == {"ACME", "BETA.L", "LA", "LB"}  # the others still imported
    assert got["ACME"]["rows"] == 600 and got["LB"]["rows"] == 500
    assert got["BETA.L"]["exchange"] == "XLON" and got["ACME"]["exchange"] == "XNYS"
    err = r.stderr.strip().splitlines()
    assert any("broken.csv" in line for line in err[:-1])
    assert err[-1].startswith("error: 1 of 5 imports failed (broken.csv")
    listed = {x["ticker"] for x in json.loads(run(d, "list", "--json").stdout)}
    assert listed == {"ACME", "BETA.L", "LA", "LB"}


def test_exchange_and_currency_reach_every_forecast(tmp_path, rows):
    header, body = rows
    until = [r for r in body if r[0] <= "2022-12-23"]  # a Friday before two London holidays
    f = write(tmp_path / "x.csv", header, until)
    d = tmp_path / "d"
    r = run(d, "fetch", "ACME", "--csv", str(f), "--exchange", "xlon", "--currency", "GBp")
    assert r.exit_code == 0, r.output
    assert run(d, "train", "ACME", *TINY).exit_code == 0
    p = json.loads(run(d, "predict", "ACME", "--days", "2", "--paths", "50", "--json").stdout)
    assert [x["date"] for x in p["forecasts"]] == ["2022-12-28", "2022-12-29"]  # XLON sessions
    assert p["currency"] == "GBp" and p["run"]["exchange"] == "XLON"
    table = run(d, "predict", "ACME", "--days", "2", "--paths", "50")
    assert "GBp" in table.stdout
    # the same prices without --exchange follow the New York calendar
    d2 = tmp_path / "d2"
    assert run(d2, "fetch", "ACME", "--csv", str(f)).exit_code == 0
    assert run(d2, "train", "ACME", *TINY).exit_code == 0
    p2 = json.loads(run(d2, "predict", "ACME", "--days", "1", "--paths", "50", "--json").stdout)
    assert p2["forecasts"][0]["date"] == "2022-12-27" and p2["currency"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["--exchange", "XXXX"], "unknown exchange 'XXXX'"),
        (["--currency", "ABC"], "unknown currency 'ABC'"),
    ],
)
def test_unknown_exchange_or_currency_is_a_usage_error(tmp_path, rows, args, message):
    f = write(tmp_path / "acme.csv", *rows)
    r = run(tmp_path / "d", "fetch", "--csv", str(f), *args)
    assert r.exit_code == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: ") and message in r.stderr
    assert not (tmp_path / "d").exists()


def test_market_options_need_csv(tmp_path):
    r = run(tmp_path, "fetch", "AAPL", "--exchange", "XLON")
    assert r.exit_code == 2 and "add --csv" in r.stderr


def test_a_ticker_names_one_file_not_a_folder(tmp_path, rows):
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "acme.csv", *rows)
    r = run(tmp_path / "d", "fetch", "XYZ", "--csv", str(folder))
    assert r.exit_code == 1 and "for a folder or several files leave it out" in r.stderr
    assert r.stderr.count("\n") == 1 and not (tmp_path / "d" / "prices").exists()


def test_a_bulk_import_marks_its_last_source_once(tmp_path, rows, monkeypatch):
    """Threads finish in any order: no import marks itself; the last source is marked once."""
    from forecast.prices import bulk, cache

    header, body = rows
    files = [write(tmp_path / f"{t}.csv", header, body[:300]) for t in ("AA", "BB", "CC")]
    marked = []
    real = cache.mark_latest
    monkeypatch.setattr(cache, "mark_latest", lambda t, d: (marked.append(t), real(t, d)))
    items, failed = bulk.sources(files)
    results, failures = bulk.import_all(items, tmp_path / "d", workers=3)
    assert not failed and not failures and [r.ticker for r in results] == ["AA", "BB", "CC"]
    assert marked == ["CC"]
    assert cache.latest_ticker(tmp_path / "d") == "CC"


def test_a_long_file_groups_rows_by_the_symbol_they_name(tmp_path, rows):
    """aapl and AAPL rows are one ticker's: every row imported, whichever spelling came first
    (grouped by the cell, the two halves raced and the last write won)."""
    header, body = rows
    long = write_long(
        tmp_path / "long.csv", header, [("acme", body[:400]), ("ACME", body[400:1000])]
    )
    r = run(tmp_path / "d", "fetch", "--csv", str(long), "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert [x["ticker"] for x in got] == ["ACME"] and got[0]["rows"] == 1000


def test_a_bad_ticker_in_a_long_file_fails_alone_and_names_its_row(tmp_path, rows):
    header, body = rows
    parts = [("GOOD", body[:500]), ("../bad", body[:40]), ("", body[:40])]
    long = write_long(tmp_path / "long.csv", header, parts)
    r = run(tmp_path / "d", "fetch", "--csv", str(long), "--json")
    assert r.exit_code == 1, r.output
    assert [x["ticker"] for x in json.loads(r.stdout)] == ["GOOD"]  # still imported
    err = r.stderr.strip().splitlines()
    assert any("long.csv (row 501, '../bad')" in line and "invalid ticker" in line for line in err)
    assert any("long.csv (row 541" in line and "empty ticker" in line for line in err)
    assert "Traceback" not in r.output


@pytest.mark.parametrize("names", [("ZZ.csv", "zz.csv"), ("ZZ.csv", "long.csv")])
def test_two_sources_of_one_ticker_are_refused_not_raced(tmp_path, rows, names):
    """Two files (or a file and a long file's rows) for one ticker would overwrite each other:
    that ticker is refused with one line naming both, the others import, nothing of it is written."""
    header, body = rows
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / names[0], header, body[:500])
    if names[1] == "long.csv":
        write(folder / "long.csv", header, body[500:1000], ticker="zz")
    else:
        write(folder / names[1], header, body[500:1000])
    write(folder / "other.csv", header, body[:300])
    d = tmp_path / "d"
    r = run(d, "fetch", "--csv", str(folder), "--json")
    assert r.exit_code == 1, r.output
    assert [x["ticker"] for x in json.loads(r.stdout)] == ["OTHER"]
    line = next(x for x in r.stderr.splitlines() if "ZZ comes from 2 sources" in x)
    assert names[0] in line and names[1] in line and "import one of them" in line
    assert not list((d / "prices").glob("ZZ*"))


def test_a_file_named_twice_imports_once(tmp_path, rows):
    """Itself and its folder, or the same path twice: one source, not two that collide."""
    header, body = rows
    folder = tmp_path / "in"
    folder.mkdir()
    f = write(folder / "zz.csv", header, body[:300])
    for args in (["--csv", str(folder), "--csv", str(f)], ["--csv", str(f), "--csv", str(f)]):
        r = run(tmp_path / "d", "fetch", *args, "--json")
        assert r.exit_code == 0, r.output
        assert [x["ticker"] for x in json.loads(r.stdout)] == ["ZZ"]


def test_a_long_files_header_may_have_spaces(tmp_path, rows):
    """ "Date, ticker, Close": the column is found by its stripped name and read by it too
    (pandas keeps " ticker"; this was a KeyError)."""
    header, body = rows
    i_date, i_close = header.index("Date"), header.index("Close")
    lines = ["Date, ticker, Close"] + [f"{r[i_date]}, LA, {r[i_close]}" for r in body[:300]]
    long = tmp_path / "long.csv"
    long.write_text("\n".join(lines) + "\n")
    r = run(tmp_path / "d", "fetch", "--csv", str(long), "--json")
    assert r.exit_code == 0, r.output
    assert [(x["ticker"], x["rows"]) for x in json.loads(r.stdout)] == [("LA", 300)]
