"""Parsing one store line: orjson where it can (a 100,000-attempt report is mostly JSON parsing, and orjson does
it about 3x faster), the standard library where orjson refuses what ``json.dumps`` may have written (NaN,
Infinity, integers beyond 64 bits), so both read exactly the same records."""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads_line(raw: bytes | str) -> Any:
    """The JSON value of one line; ValueError (as ``json.loads``) when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
