"""The judge's command line, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CF300 = Path("/work/shared/data/codeforces/codecontests_cf300.jsonl")

GOOD = "n, k = map(int, input().split())\nds = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]\n" \
       "ds = ds + [n // d for d in reversed(ds) if d * d != n]\nprint(ds[k - 1] if k <= len(ds) else -1)\n"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tasks.codeforces.judge", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_help():
    r = cli("--help")
    assert r.returncode == 0
    for word in ("--problems", "--submissions", "--full", "--workers", "--testlib", "NO_CODE", "EXCLUDED",
                 "bubblewrap"):
        assert word in r.stdout


@pytest.mark.usefixtures("needs_sandbox", "cf300")
def test_judges_jsonl(tmp_path):
    subs = tmp_path / "s.jsonl"
    rows = [{"id": "good", "problem_id": "762A", "language": "python", "code": GOOD},
            {"id": "wrong", "problem_id": "762A", "language": "python", "code": "print(1)"},
            {"id": "empty", "problem_id": "762A", "language": "cpp", "code": ""}]
    subs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = cli("--problems", CF300, "--submissions", subs, "--workers", "2")
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["id"] for o in out] == ["good", "wrong", "empty"]
    assert [o["verdict"] for o in out] == ["AC", "WA", "NO_CODE"]
    assert out[0]["tests_passed"] == out[0]["tests_total"] == 10
    assert out[0]["limits_defaulted"] is True and out[0]["time_s"] >= 0 and out[0]["memory_mb"] > 0
    r = cli("--problems", CF300, "--submissions", subs, "--full", "--details")
    assert [json.loads(line)["verdict"] for line in r.stdout.splitlines()] == ["AC", "WA", "NO_CODE"]
    assert len(json.loads(r.stdout.splitlines()[1])["tests"]) == 10


@pytest.mark.usefixtures("cf300")
@pytest.mark.parametrize("content, expected", [
    ("not json\n", "not valid JSON"),
    ('{"id": "x", "problem_id": "762A", "language": "cpp"}\n', "missing field(s) code"),
    ('{"id": "x", "problem_id": "99999Z", "language": "cpp", "code": "x"}\n', "unknown problem_id"),
])
def test_bad_input_is_one_clear_error(tmp_path, content, expected):
    subs = tmp_path / "s.jsonl"
    subs.write_text(content)
    r = cli("--problems", CF300, "--submissions", subs)
    assert r.returncode != 0 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]


def test_missing_files(tmp_path):
    r = cli("--problems", tmp_path / "nope.jsonl", "--submissions", tmp_path / "s.jsonl")
    assert r.returncode != 0 and "no such file" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("--problems", CF300)
    assert r.returncode != 0 and "--submissions" in r.stderr


def test_missing_testlib_file_is_one_clear_error(tmp_path):
    subs = tmp_path / "s.jsonl"
    subs.write_text("")
    r = cli("--problems", subs, "--submissions", subs, "--testlib", tmp_path / "testlib.h")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"error: --testlib {tmp_path / 'testlib.h'}: no such file"]
