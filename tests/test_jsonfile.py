"""forecast.jsonfile: JSON from disk is parsed bounded and checked against a schema."""

import math
import os

import pytest

from forecast.jsonfile import (
    DATE,
    MAX_DEPTH,
    Any,
    Dict,
    Float,
    Int,
    InvalidJSON,
    Json,
    List,
    Null,
    Str,
    check,
    parse,
    read_object,
)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nests deeper than 16 levels"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nests deeper than 16 levels"),
        ('{"n": ' + "9" * 5000 + "}", "holds an integer with 5000 digits"),
        ('{"n": 1', "is not readable JSON"),
        (b'{"s": "\xff"}', "not UTF-8 text"),
    ],
)
def test_parse_refuses_in_one_line(text, message):
    data = text if isinstance(text, bytes) else text.encode()
    with pytest.raises(InvalidJSON, match=message) as e:
        parse(data, "f.json")
    assert "\n" not in str(e.value) and str(e.value).startswith("f.json")


def test_parse_keeps_what_our_files_hold():
    text = '{"a": [1, 2.5, null, true, "x[{"], "b": NaN, "c": {"d": [[[1]]]}}'
    value = parse(text.encode(), "f.json")
    assert value["a"] == [1, 2.5, None, True, "x[{"] and math.isnan(value["b"])
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse(nested.encode(), "f.json") is not None


SCHEMA = Dict(
    {
        "window": Int(2, 1000),
        "lr": Float(0, 1),
        "day": DATE,
        "names": List(Str(5), 3),
        "maybe": Any(Null(), Int()),
        "free": Json(),
    },
    optional=("maybe", "free"),
)
GOOD = {"window": 60, "lr": 0.01, "day": "2024-01-02", "names": ["a"], "maybe": None}


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"window": 60.5}, "window is 60.5, not an integer"),
        ({"window": True}, "window is True, not an integer"),
        ({"window": 1}, "window is 1, outside [2, 1000]"),
        ({"lr": float("nan")}, "lr is nan, not a finite number"),
        ({"lr": "0.1"}, "lr is '0.1', not a number"),
        ({"day": "2024-1-2"}, "day is '2024-1-2', not in the expected form"),
        ({"names": ["a", "b", "c", "d"]}, "names has 4 items"),
        ({"names": [1]}, "names[0] is 1, not a string"),
        ({"names": ["toolong"]}, "names[0] is longer than 5 characters"),
        ({"maybe": "x"}, "maybe is 'x', not null"),
        ({"other": 1}, "other is not a known field"),
    ],
)
def test_check_names_the_field(edit, message):
    check(GOOD | {"free": [{"anything": 1}]}, SCHEMA, "f.json")
    with pytest.raises(InvalidJSON, match="f.json: " + message.replace("[", r"\[")):
        check(GOOD | edit, SCHEMA, "f.json")


def test_check_a_missing_field():
    with pytest.raises(InvalidJSON, match="f.json: the top level lacks window, lr"):
        check({"day": "2024-01-02", "names": []}, SCHEMA, "f.json")


def test_read_object_refuses_what_is_not_a_small_regular_file(tmp_path):
    with pytest.raises(InvalidJSON, match="is not a regular file"):
        read_object(tmp_path)
    big = tmp_path / "big.json"
    big.write_text("{}" + " " * 100)
    with pytest.raises(InvalidJSON, match="102 bytes, more than 50"):
        read_object(big, max_bytes=50)
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(InvalidJSON, match="does not hold a JSON object"):
        read_object(tmp_path / "list.json")
    with pytest.raises(FileNotFoundError):
        read_object(tmp_path / "missing.json")
    if os.path.exists("/dev/zero"):
        with pytest.raises(InvalidJSON, match="is not a regular file"):
            read_object("/dev/zero")
