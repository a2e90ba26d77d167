"""Text that came from a file or the network, made safe to print on a terminal."""

import re

# C0 and C1 control characters and DEL: ESC starts terminal escape sequences (colours, titles,
# cursor moves, OSC 52 clipboard writes), CR and BS overwrite what was printed; bidi overrides
# reorder it. Tab and newline are kept only where a caller asks for them.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_ONE_LINE = re.compile(_UNSAFE.pattern[:-1] + r"\t\n]")


def printable(text: object, *, one_line: bool = True) -> str:
    """str(text) with every control character shown as a visible escape like \\x1b."""
    pattern = _UNSAFE_ONE_LINE if one_line else _UNSAFE
    return pattern.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))
