import json
import math
from pathlib import Path

import pytest

from evals.jsonlines import dumps_line, loads_line


@pytest.mark.parametrize("value", [
    {"key": "a", "usage": {"completion_tokens": 12}, "text": "naïve ∑ \u2028 line"},
    {"key": "b", "score": float("nan"), "big": 2**70, "inf": float("inf")},  # json.dumps writes these
    [1, 2.5, None, True, "x"],
])
def test_reads_what_json_dumps_wrote(value):
    line = json.dumps(value, ensure_ascii=False) + "\n"
    got = loads_line(line.encode())
    want = json.loads(line)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
    if isinstance(value, dict) and "score" in value:
        assert math.isnan(got["score"]) and got["big"] == 2**70


@pytest.mark.parametrize("raw", [b'{"key": "a"', b"\x00\x00", b"", b'{"key": "\xff"}'])
def test_damaged_lines_raise_value_error_like_json(raw):
    with pytest.raises(ValueError):
        json.loads(raw)
    with pytest.raises(ValueError):
        loads_line(raw)


@pytest.mark.parametrize("value", [
    {"key": "a", "usage": {"completion_tokens": 12}, "ttft_s": None, "text": "naïve ∑ \u2028 line"},
    {"key": "b", "score": float("nan"), "inf": [float("-inf")], "none": None},  # JSON has neither: kept as NaN
    {"key": "c", "big": 2**70, "n": None},  # beyond orjson's 64 bits
    {"key": "d", 1: "not a string key"},
    {"key": "e", "where": Path("/x/y"), "n": None},  # not JSON: its str()
])
def test_a_written_line_reads_back_as_json_dumps_would_write_it(value):
    line = dumps_line(value)
    assert "\n" not in line
    want = json.loads(json.dumps(value, ensure_ascii=False, default=str))
    got = loads_line(line.encode())
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
    if "score" in value:
        assert math.isnan(got["score"]) and got["inf"] == [float("-inf")]


def test_non_ascii_is_written_as_is():
    assert "naïve" in dumps_line({"t": "naïve"})


def test_an_integer_beyond_64_bits_reads_back_as_that_integer():
    # orjson alone would read it as a float: two different large answers would compare equal
    for value in (2**64, -(2**70) - 1, 10**25 + 1):
        line = json.dumps({"answer": value, "note": None}).encode()
        assert loads_line(line) == {"answer": value, "note": None}
        assert type(loads_line(line)["answer"]) is int
    assert loads_line(b'{"text": "12345678901234567890 digits in a string"}')["text"].startswith("1234")
