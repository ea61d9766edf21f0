"""JSON from the browser (socket frames, HTTP bodies), bounded and cleaned before use.

Python's parser recurses once per nesting level, so a deeply nested document raises
``RecursionError`` (not ``ValueError``) and takes the socket down with it; a parsed
string may hold NUL, which PostgreSQL text cannot store (``DataError``), or an
unpaired surrogate such as ``"\\ud800"``, which no database, log or socket can encode
as UTF-8. All three are decided here, the same way on every database: the size and
depth are checked before parsing, NUL is dropped (it is invisible and never meant) and
a string with an unpaired surrogate is refused with a reason the learner can read.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Deeper than any frame or body the app reads (they are flat objects), far shallower
# than the parser's recursion limit.
MAX_JSON_DEPTH = 16

# A JSON string (with its escapes), or one bracket outside strings.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset("[{")
# A surrogate code point left in a parsed str: one that was not part of a pair.
_UNPAIRED_SURROGATE = re.compile("[\ud800-\udfff]")


class UntrustedJSONError(ValueError):
    """Why a document was refused; ``message`` is safe to show as it is."""

    def __init__(self, message: str, *, too_large: bool = False):
        super().__init__(message)
        self.message = message
        self.too_large = too_large


def byte_length(text: str | bytes) -> int:
    return len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text``, without parsing it."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif len(token) == 1:
            depth -= 1
    return deepest


def clean_text(text: str) -> str:
    """``text`` without NUL; :class:`UntrustedJSONError` if it holds an unpaired surrogate."""
    if _UNPAIRED_SURROGATE.search(text):
        raise UntrustedJSONError(
            "The text holds a character that is not valid Unicode (an unpaired surrogate); "
            "remove it and send again."
        )
    return text.replace("\x00", "")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): _clean(item) for key, item in value.items()}
    return value


def loads(text: str | bytes, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse untrusted JSON, or raise :class:`UntrustedJSONError` saying why not.

    Every string in the result (keys too) is clean text: no NUL, no unpaired surrogate.
    """
    if byte_length(text) > max_bytes:
        raise UntrustedJSONError(f"At most {max_bytes:,} bytes, please.", too_large=True)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise UntrustedJSONError("That was not UTF-8 text.") from None
    if nesting_depth(text) > max_depth:
        raise UntrustedJSONError(f"That JSON nests deeper than {max_depth} levels.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise UntrustedJSONError("That was not valid JSON.") from None
    return _clean(data)
