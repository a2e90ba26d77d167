"""forecast.files: atomic writes leave whole files with the umask's mode, and sync the rename."""

import os
import stat
import subprocess
import sys

import pytest

from forecast import files


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(
    "umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)], ids=["022", "077", "002"]
)
def test_new_files_get_the_mode_the_umask_allows(tmp_path, umask, expected):
    """mkstemp makes 0600 files whatever the umask; the result must look like open() made it."""
    target = tmp_path / "sub" / "out.bin"
    # a fresh process: the umask is read once, when forecast.files is imported
    code = (
        f"import os; os.umask({umask:#o}); from forecast.files import atomic_write_bytes; "
        f"atomic_write_bytes({str(target)!r}, b'data')"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert target.read_bytes() == b"data"
    assert mode(target) == expected, oct(mode(target))
    assert [p.name for p in target.parent.iterdir()] == ["out.bin"]  # no temporary left


def test_mode_matches_a_plain_open_in_this_process(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    files.atomic_write_json(tmp_path / "atomic.json", {"a": 1})
    assert mode(tmp_path / "atomic.json") == mode(plain)
    assert (tmp_path / "atomic.json").read_text() == '{\n  "a": 1\n}\n'


def test_replacing_a_file_syncs_the_file_then_its_directory(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old")
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    files.atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert synced == ["file", "dir"]  # the dir entry is durable only after the rename is synced


def test_a_directory_that_cannot_be_synced_is_not_an_error(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(22, "Invalid argument")  # some file systems refuse fsync on a dir
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    files.atomic_write_bytes(tmp_path / "out.bin", b"x")
    assert (tmp_path / "out.bin").read_bytes() == b"x"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        files.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_json_text_puts_each_array_of_numbers_on_one_line_and_reads_back_the_same():
    import json
    import math

    obj = {
        "scores": [[0.110180, 4e-05, None], [1.5, float("nan"), -2.25e-07]],
        "levels": [0.8, 0.95],
        "empty": [],
        "mixed": [1, "x"],
        "text": "a [1,\n 2] and [3, 4]",  # brackets inside a string stay as they are
        "inf": [float("inf"), -float("inf")],
    }
    text = files.json_text(obj)
    lines = text.splitlines()
    assert "    [0.11018, 4e-05, null]," in lines and '  "levels": [0.8, 0.95],' in lines
    assert '  "inf": [Infinity, -Infinity],' in lines
    assert '    "x"' in lines  # an array holding a string keeps json.dumps's layout
    back = json.loads(text)
    assert back["text"] == obj["text"] and back["mixed"] == [1, "x"] and back["empty"] == []
    assert back["scores"][0] == [0.11018, 4e-05, None] and math.isnan(back["scores"][1][1])
    assert text.endswith("}\n")
