"""One store line, read and written: orjson where it can (a 100,000-attempt report is mostly JSON parsing, which
orjson does about 3x faster; writing an attempt line takes it ~4 us instead of ~50), the standard library where
orjson refuses what ``json.dumps`` may have written (NaN, Infinity, integers beyond 64 bits), so both read exactly
the same records."""

from __future__ import annotations

import json
from typing import Any

import orjson

# An integer beyond 64 bits (2**64 has 20 digits) is 20 digits in a row: translating every digit to "1" and
# everything else to "0" finds one with a C search (~1 us a KB), where a regex scan costs ~20x more.
_DIGIT_MAP = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))
_TWENTY_DIGITS = b"1" * 20


def loads_line(raw: bytes) -> Any:
    """The JSON value of one line; ValueError (as ``json.loads``) when it is not JSON."""
    if _TWENTY_DIGITS in raw.translate(_DIGIT_MAP):  # orjson would read an integer beyond 64 bits as a float
        return json.loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def dumps_line(record: Any) -> str:
    """``record`` as one line of JSON text (no newline), non-ASCII kept as is, anything else as ``str()``.

    JSON has no NaN or Infinity and orjson writes them as null, so a line holding a null is read back and, if it
    does not give the record again (a NaN became None, or a value went through ``str()``), written by the standard
    library instead, which keeps them as ``json.dumps`` always did here; ``loads_line`` reads both.
    """
    try:
        out = orjson.dumps(record, default=str)
    except TypeError:  # keys that are not strings, integers beyond 64 bits
        return json.dumps(record, ensure_ascii=False, default=str)
    if b"null" in out and orjson.loads(out) != record:  # the comparison runs in C: a few us for an attempt
        return json.dumps(record, ensure_ascii=False, default=str)
    return out.decode()
