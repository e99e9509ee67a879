import json
import math

import pytest

from evals.jsonlines import loads_line


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
