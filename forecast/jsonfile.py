"""Validated JSON files: every JSON the program reads goes through read_object and a schema.

A JSON file on disk is input like any other: it may be truncated, edited, hostile or not a file
at all. read_object refuses, with a one-line reason, what json.loads would choke on or turn
into an exception elsewhere (non-regular files, more than `max_bytes`, deeper nesting than
MAX_DEPTH, integers longer than MAX_INT_DIGITS, invalid UTF-8); check() then
holds the object against a schema: types, ranges, lengths.

A schema is a plain value:
    Int(lo, hi), Float(lo, hi), Str(max_len, pattern), Bool(), Null()
    List(item, max_len), Dict({field: schema}, optional=(...), extra=schema or None)
    Any(schema, schema, ...)   one of several; Json() any value at all
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from forecast.files import RefusedFile, read_regular

MAX_BYTES = 4 << 20  # a model sidecar is ~30 kB; a price sidecar and .latest under 1 kB
MAX_DEPTH = 16  # our files nest 4 levels; json's parser raises RecursionError near 1,000
MAX_INT_DIGITS = 20  # int64 has 19 digits; CPython refuses >4,300 with a ValueError of its own


def plain(obj):
    """obj made writable by json.dumps as standard JSON: NaN and infinities become null (JSON
    has no NaN), NumPy scalars become Python numbers, tuples become lists."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, float) or type(obj).__module__ == "numpy" and hasattr(obj, "dtype"):
        if getattr(obj, "dtype", None) is not None and obj.dtype.kind in "iub":
            return obj.item()
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


class InvalidJSON(ValueError):
    """A JSON file that is unreadable as what it should be; str() is one line naming the problem."""


def _depth(value) -> int:
    """Deepest nesting of lists and objects in a parsed value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict | list):
            deepest = max(deepest, d)
            if deepest > MAX_DEPTH:
                break
            items = v.values() if isinstance(v, dict) else v
            stack.extend((x, d + 1) for x in items if x.__class__ in (dict, list))
    return deepest


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise InvalidJSON(f"an integer with {len(digits)} digits")
    return int(digits)


def parse(data: bytes, where: str) -> object:
    """JSON bytes -> Python value, or InvalidJSON naming `where` and the problem."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJSON(f"{where} is not readable JSON (not UTF-8 text)") from None
    too_deep = InvalidJSON(f"{where} nests deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text, parse_int=_int)  # NaN/Infinity pass: json.dumps writes them
    except InvalidJSON as e:
        raise InvalidJSON(f"{where} holds {e}") from None
    except RecursionError:  # the C parser checks its depth against the recursion limit
        raise too_deep from None
    except ValueError as e:  # JSONDecodeError is a ValueError
        reason = " ".join(str(e).split())[:80]
        raise InvalidJSON(f"{where} is not readable JSON ({reason})") from None
    if _depth(value) > MAX_DEPTH:
        raise too_deep
    return value


def read_object(path: Path, schema: Dict | None = None, *, max_bytes: int = MAX_BYTES) -> dict:
    """The JSON object in `path`, checked against `schema` when given.

    Raises FileNotFoundError / PermissionError / other OSError as reading does, and InvalidJSON
    (a ValueError) for everything about the content, including a non-regular or oversized file.
    """
    try:
        data = read_regular(path, max_bytes)
    except RefusedFile as e:
        raise InvalidJSON(str(e)) from None
    value = parse(data, str(path))
    if not isinstance(value, dict):
        raise InvalidJSON(f"{path} does not hold a JSON object")
    if schema is not None:
        check(value, schema, str(path))
    return value


# --- schemas ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Int:
    lo: int = -(2**63)
    hi: int = 2**63 - 1


@dataclass(frozen=True)
class Float:  # accepts ints too (JSON writes 1.0 as 1.0, but hand edits write 1)
    lo: float = -math.inf
    hi: float = math.inf
    finite: bool = True  # False: NaN and +-Infinity pass too (json.dumps writes them)


@dataclass(frozen=True)
class Str:
    max_len: int = 200
    pattern: str | None = None  # fullmatch


@dataclass(frozen=True)
class Bool:
    pass


@dataclass(frozen=True)
class Null:
    pass


@dataclass(frozen=True)
class List:
    item: object
    max_len: int = 10_000
    min_len: int = 0


@dataclass(frozen=True)
class Dict:
    fields: dict = field(default_factory=dict)
    optional: tuple = ()  # fields that may be absent
    extra: object = None  # schema for fields not listed; None: no others allowed
    max_len: int = 1_000


@dataclass(frozen=True)
class Json:
    """Any JSON value: for fields this program stores but never interprets (parse bounds it)."""


@dataclass(frozen=True)
class Any:
    options: tuple

    def __init__(self, *options):
        object.__setattr__(self, "options", options)


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check(value, schema, where: str) -> None:
    """Raise InvalidJSON('<where>: <path> ...') unless `value` fits `schema`."""
    problem = _problem(value, schema, "")
    if problem is not None:
        path, message = problem
        raise InvalidJSON(f"{where}: {path or 'the top level'} {message}")


def _problem(value, schema, path: str) -> tuple[str, str] | None:
    if isinstance(schema, Json):
        return None
    if isinstance(schema, Any):
        found = [_problem(value, option, path) for option in schema.options]
        if any(p is None for p in found):
            return None
        return found[0]
    if isinstance(schema, Bool):
        return None if isinstance(value, bool) else (path, f"is {_show(value)}, not true/false")
    if isinstance(schema, Null):
        return None if value is None else (path, f"is {_show(value)}, not null")
    if isinstance(schema, Int):
        if type(value) is not int:
            return path, f"is {_show(value)}, not an integer"
        if not schema.lo <= value <= schema.hi:
            return path, f"is {value}, outside [{schema.lo}, {schema.hi}]"
        return None
    if isinstance(schema, Float):
        if type(value) not in (int, float):
            return path, f"is {_show(value)}, not a number"
        if not math.isfinite(value):
            return None if not schema.finite else (path, f"is {value}, not a finite number")
        if not schema.lo <= value <= schema.hi:
            return path, f"is {value:g}, outside [{schema.lo:g}, {schema.hi:g}]"
        return None
    if isinstance(schema, Str):
        if not isinstance(value, str):
            return path, f"is {_show(value)}, not a string"
        if len(value) > schema.max_len:
            return path, f"is longer than {schema.max_len} characters"
        if schema.pattern is not None and not re.fullmatch(schema.pattern, value):
            return path, f"is {_show(value)}, not in the expected form"
        return None
    if isinstance(schema, List):
        if not isinstance(value, list):
            return path, f"is {_show(value)}, not a list"
        if not schema.min_len <= len(value) <= schema.max_len:
            return path, f"has {len(value)} items, not {schema.min_len}..{schema.max_len}"
        for i, item in enumerate(value):
            problem = _problem(item, schema.item, f"{path}[{i}]")
            if problem is not None:
                return problem
        return None
    if isinstance(schema, Dict):
        if not isinstance(value, dict):
            return path, f"is {_show(value)}, not an object"
        if len(value) > schema.max_len:
            return path, f"has {len(value)} fields, more than {schema.max_len}"
        missing = [k for k in schema.fields if k not in value and k not in schema.optional]
        if missing:
            return path, f"lacks {', '.join(missing)}"
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            sub = schema.fields.get(key, schema.extra)
            if sub is None:
                return inner[:60], "is not a known field"
            problem = _problem(item, sub, inner)
            if problem is not None:
                return problem
        return None
    raise TypeError(f"not a schema: {schema!r}")  # a programming error, not bad input


DATE = Str(10, r"\d{4}-\d{2}-\d{2}")
SHA256 = Str(64, r"[0-9a-f]{64}")
TIMESTAMP = Str(40, r"\d{4}-\d{2}-\d{2}T[0-9:.+\-Z]+")
