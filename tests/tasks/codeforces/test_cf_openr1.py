"""open-r1/codeforces rows and their ``generated_checker``, judged as open-r1's own runner judges them.

The contract pinned here is open-r1's Codeforces scorer (src/open_r1/utils/competitive_programming/cf_scoring.py:
a test passes when the run exits 0 and its stdout, stripped, is "1") and the piston package it runs
(guipenedo/piston, packages/codeforces/1.0.0/run): after the program ran cleanly, ``timeout 10 python3 checker.py
<input> correct_output.txt <program output>``, its stdout with all whitespace removed compared with "1" or "100",
the script exiting with the checker's exit code. The checkers below are written for these tests in that style.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.codeforces import judge as judge_mod
from tasks.codeforces.judge import (
    AC,
    EXCLUDED,
    WA,
    checker_exclusion,
    judge,
    openr1_files,
    openr1_outputs_match,
    outputs_match,
    sandbox_python,
)
from tasks.codeforces.metrics import codeforces_metrics, codeforces_section
from tasks.codeforces.problems import (
    OPENR1,
    TESTLIB,
    ProblemDataError,
    load_openr1_jsonl,
    load_problems,
    normalize_record,
)
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[3]

# --- checkers in open-r1's style: paths in argv (input, correct output, contestant output), print 1 or 0 ---------

DIVISOR_CHECKER = """
import sys

def main():
    input_path, correct_path, output_path = sys.argv[1], sys.argv[2], sys.argv[3]
    n = int(open(input_path).read().split()[0])
    tokens = open(output_path).read().split()
    if len(tokens) != 1:
        print(0)
        return
    d = int(tokens[0])  # a non-number crashes the checker, as careless generated checkers do
    print(1 if 1 < d <= n and n % d == 0 else 0)

main()
"""

SQRT_CHECKER = """
import math
import sys

with open(sys.argv[2]) as f:
    expected = float(f.read().split()[0])
with open(sys.argv[3]) as f:
    got = f.read().split()
try:
    value = float(got[0]) if len(got) == 1 else None
except ValueError:
    value = None
ok = value is not None and math.isfinite(value) and abs(value - expected) <= 1e-6 * max(1.0, abs(expected))
print("1" if ok else "0")
"""

YES_NO_CHECKER = """
import sys
expected = open(sys.argv[2]).read().strip().lower()
got = open(sys.argv[3]).read().strip().lower()
sys.stdout.write("1\\n" if got == expected else "0\\n")
"""

STUBBORN_CHECKER = "print(0)\n"  # rejects everything, the expected answer included, and exits 0
SYNTAX_ERROR_CHECKER = "import sys\ndef main(:\n    print(1)\n"
CRASHING_CHECKER = "import sys\nraise RuntimeError('cannot parse ' + sys.argv[1])\n"


def row(pid: str, description: str, tests: list[tuple[str, str]], checker: str | None, **kw) -> dict:
    """A row with the hub's columns (open-r1/codeforces default config)."""
    contest, index = pid.split("/")
    out = {"id": pid, "aliases": None, "contest_id": contest, "contest_name": "Checker Round",
           "contest_type": "CF", "contest_start": 1700000000, "contest_start_year": 2023, "index": index,
           "time_limit": 1.0, "memory_limit": 256.0, "title": f"Problem {index}", "description": description,
           "input_format": "One integer n.", "output_format": "See the statement.", "interaction_format": None,
           "note": None, "examples": [{"input": tests[0][0], "output": tests[0][1]}], "editorial": None,
           "rating": 800 + 100 * (ord(index) - ord("A")), "tags": ["math"], "testset_size": len(tests),
           "official_tests": [{"input": i, "output": o} for i, o in tests], "official_tests_complete": True,
           "input_mode": "stdio", "generated_checker": checker, "executable": True, "generated_tests": 0}
    out.update(kw)
    return out


ROWS = [
    row("9000/A", "Print any divisor d of n with 1 < d <= n.", [("12\n", "2\n"), ("35\n", "5\n"), ("49\n", "7\n")],
        DIVISOR_CHECKER),
    row("9000/B", "Print the square root of n.", [("2\n", "1.4142135624\n"), ("10\n", "3.1622776602\n")],
        SQRT_CHECKER),
    row("9000/C", "Print YES if n is even, else NO.", [("4\n", "YES\n"), ("7\n", "NO\n")], YES_NO_CHECKER),
    row("9000/D", "Print n.", [("3\n", "3\n")], STUBBORN_CHECKER),
    row("9000/E", "Print n twice.", [("3\n", "3 3\n")], SYNTAX_ERROR_CHECKER),
    row("9000/F", "Print n thrice.", [("3\n", "3 3 3\n")], CRASHING_CHECKER),
    row("9000/G", "Guess n.", [("3\n", "3\n")], None, interaction_format="Ask queries."),
    row("9000/H", "Print n + 1.", [("3\n", "4\n")], None),
]

SPF = "n = int(input())\nprint(next(d for d in range(2, n + 1) if n % d == 0))\n"  # smallest prime factor


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    return load_problems(write_rows(tmp_path_factory.mktemp("openr1") / "rows.jsonl", ROWS)).by_id()


def verdict(problem, code: str) -> str:
    return judge(problem, {"language": "python", "code": code}).verdict


# --- loading -----------------------------------------------------------------------------------------------------

def test_local_openr1_rows_are_told_apart_by_their_columns(tmp_path):
    ps = load_problems(write_rows(tmp_path / "rows.jsonl", ROWS))
    by = ps.by_id()
    assert set(by) == {"9000/A", "9000/B", "9000/C", "9000/D", "9000/E", "9000/F", "9000/H"}
    assert ps.skipped_interactive == ["9000/G"]
    a = by["9000/A"]
    assert (a.checker_kind, a.checker_contract, a.source) == (OPENR1, OPENR1, "open-r1/codeforces")
    assert (a.contest, a.index, a.rating, a.time_limit_s, a.memory_mb) == (9000, "A", 800, 1.0, 256)
    assert [t["output"] for t in a.tests] == ["2\n", "5\n", "7\n"] and "Input\n\nOne integer n." in a.statement
    assert by["9000/H"].checker is None and by["9000/H"].checker_contract is None
    assert {p.comparison for p in by.values()} == {OPENR1}  # open-r1's rule also where there is no checker
    # the same rows through the hub loader's rules: incomplete tests and file input are left out, with reasons
    more = [row("9001/A", "x", [("1\n", "1\n")], None, official_tests_complete=False),
            row("9001/B", "x", [("1\n", "1\n")], None, input_mode="file")]
    ps = load_openr1_jsonl(write_rows(tmp_path / "more.jsonl", more))
    assert ps.excluded == {"9001/A": "official tests incomplete", "9001/B": "input mode 'file' (only stdin/stdout "
                                                                                      "is supported)"}


def test_local_rows_take_generated_tests_from_a_local_copy(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    copy = tmp_path / "copy" / "generated_tests"
    copy.mkdir(parents=True)
    pq.write_table(pa.table({"problem_id": ["9000/A", "9000/A"], "test_i": [1, 0], "input": ["91\n", "15\n"],
                             "output": ["7\n", "3\n"]}), copy / "test_cases_9000.parquet")
    rows = write_rows(tmp_path / "rows.jsonl", [{**ROWS[0], "generated_tests": 2}])
    assert load_problems(rows).generated_missing == ["9000/A"]
    ps = load_problems(rows, generated_tests_dir=tmp_path / "copy")
    assert [t["input"] for t in ps.by_id()["9000/A"].tests] == ["12\n", "35\n", "49\n", "15\n", "91\n"]
    assert ps.generated_missing == []


def test_checker_kind_of_each_shape_and_unknown_kinds_are_excluded(tmp_path):
    base = {"statement": "s", "tests": [{"input": "1\n", "output": "1\n"}]}
    rows = [{**base, "id": "1A", "checker": "print(1)"},  # no kind named: testlib, as before kinds existed
            {**base, "id": "1B", "checker": "print(1)", "checker_kind": "openr1"},
            {**base, "id": "1C", "checker": "print(1)", "checker_kind": "polygon"},
            {**base, "id": "1D"}]
    ps = load_problems(write_rows(tmp_path / "n.jsonl", rows))
    assert {p.id: p.checker_contract for p in ps} == {"1A": TESTLIB, "1B": OPENR1, "1D": None}
    assert ps.excluded == {"1C": "checker of unknown kind 'polygon' (known: testlib, openr1)"}


@pytest.mark.parametrize("change, message", [
    ({"official_tests": None}, "field 'official_tests' must be a list of {input, output}, got NoneType"),
    ({"official_tests": [{"input": "1\n"}]}, "field 'official_tests' item 1 needs string 'input' and 'output'"),
    ({"time_limit": "two"}, "field 'time_limit' must be a positive number of seconds, got 'two'"),
    ({"memory_limit": -1}, "field 'memory_limit' must be a positive number of megabytes, got -1"),
    ({"rating": "hard"}, "field 'rating' must be an integer or null, got 'hard'"),
    ({"generated_checker": 7}, "field 'generated_checker' must be a string or null, got int"),
    ({"official_tests_complete": "yes"}, "field 'official_tests_complete' must be true, false or null"),
    ({"id": None, "index": None}, "missing field 'id' (or both 'contest_id' and 'index')"),
])
def test_malformed_row_names_file_line_and_field(tmp_path, change, message):
    path = write_rows(tmp_path / "rows.jsonl", [ROWS[0], {**ROWS[1], **change}])
    with pytest.raises(ProblemDataError) as err:
        load_problems(path)
    assert str(err.value).startswith(f"{path}:2: ") and message in str(err.value)


def test_missing_official_tests_on_a_later_line(tmp_path):
    bad = {k: v for k, v in ROWS[1].items() if k not in ("official_tests", "generated_checker")}
    path = write_rows(tmp_path / "rows.jsonl", [ROWS[0], bad])
    with pytest.raises(ProblemDataError, match=r"rows.jsonl:2: missing field 'official_tests'"):
        load_problems(path)


# --- the files and the reading rule of open-r1's runner ------------------------------------------------------------

def test_files_are_prepared_as_open_r1s_runner_prepares_them():
    files = openr1_files("3 4\r\n5\r\n", "YES\r\n\r\nNO\n\n\n", "\nYES\n\nNO  \n")
    assert list(files) == ["input.txt", "correct_output.txt", "solution_output.txt"]  # the argv order
    assert files["input.txt"] == b"3 4\n5\n"  # sed 's/\r$//'
    assert files["correct_output.txt"] == b"YES\nNO\n"  # echo "$(cat)", \r and empty lines removed
    assert files["solution_output.txt"] == b"YES\nNO  \n"  # only empty lines removed
    assert openr1_files("", "", "")["correct_output.txt"] == b""
    assert openr1_files("", "1", "7")["solution_output.txt"] == b"7"  # no newline added to the program's output


PUPPET_CHECKER = """
import json, sys
order = json.loads(open(sys.argv[3]).read())  # the contestant's output says what the checker does
sys.stdout.write(order["stdout"])
sys.exit(order["exit"])
"""


@pytest.mark.usefixtures("needs_sandbox")
@pytest.mark.parametrize("stdout, exit_code, expected", [
    ("1", 0, AC), ("1\n", 0, AC), ("  1 \n\n", 0, AC), ("100", 0, AC),  # whitespace removed, then "1" or "100"
    ("0", 0, WA), ("", 0, WA), ("1 1", 0, WA), ("yes", 0, WA), ("1.0", 0, WA),
    ("1", 1, WA), ("1", 3, WA),  # printed 1 but did not exit 0: rejected, never a judge failure
])
def test_accepted_iff_exit_0_and_stdout_is_1(problems, stdout, exit_code, expected):
    answer = json.dumps({"stdout": "1", "exit": 0})
    p = dataclasses.replace(problems["9000/D"], checker=PUPPET_CHECKER, tests=[{"input": "3\n", "output": answer}])
    code = f"print({json.dumps(json.dumps({'stdout': stdout, 'exit': exit_code}))})"
    assert verdict(p, code) == expected


@pytest.mark.usefixtures("needs_sandbox")
def test_a_checker_that_runs_past_10_seconds_rejects(problems, monkeypatch):
    assert judge_mod.OPENR1_CHECKER_LIMITS["wall_seconds"] == 10.0  # open-r1's `timeout 10`
    monkeypatch.setitem(judge_mod.OPENR1_CHECKER_LIMITS, "wall_seconds", 1.0)  # the same rule, quicker
    slow = ("import sys, time\nif open(sys.argv[3]).read().strip() == 'slow':\n    time.sleep(30)\nprint(1)\n")
    p = dataclasses.replace(problems["9000/D"], checker=slow)
    r = judge(p, {"language": "python", "code": "print('slow')"})
    assert r.verdict == WA and r.message.startswith("checker timed out")
    assert verdict(p, "print(3)") == AC


# --- rows without a checker: open-r1's diff rule -------------------------------------------------------------------

@pytest.mark.parametrize("got, expected, same", [
    (b"yes\n", "YES\n", True), (b"Yes No\n", "YES NO", True), (b"yEs!\n", "YES!", True),  # whole words, any case
    (b"yesno", "YESNO", False), (b"Yess", "YESS", False),  # not the words yes / no: exact
    (b"1  2\r\n\n3\n", "1 2 3", True),  # whitespace of any kind and amount
    (b"0.50", "0.5", False), (b"1e0", "1", False),  # no float tolerance
    (b"abc", "ABC", False), (b"", "", True), (b"1 2", "1 2 3", False),
])
def test_without_a_checker_outputs_compare_as_open_r1_compares_them(got, expected, same):
    assert openr1_outputs_match(got, expected) is same


@pytest.mark.usefixtures("needs_sandbox")
def test_rows_without_a_checker_are_judged_by_open_r1s_rule(problems):
    yes_no = dataclasses.replace(problems["9000/H"], tests=[{"input": "4\n", "output": "YES\n"}])
    assert verdict(yes_no, "print('yes')") == AC and verdict(yes_no, "print('no')") == WA
    assert not outputs_match(b"yes", "YES")  # the other shapes stay exact
    assert verdict(dataclasses.replace(yes_no, comparison="tokens"), "print('yes')") == WA
    half = dataclasses.replace(problems["9000/H"], tests=[{"input": "2\n", "output": "0.5\n"}])
    assert verdict(half, "print('0.5')") == AC and verdict(half, "print('0.50')") == WA


# --- checkers in open-r1's style: other valid answers AC, wrong ones WA -------------------------------------------

@pytest.mark.usefixtures("needs_sandbox")
def test_several_valid_answers(problems):
    p = problems["9000/A"]
    assert verdict(p, "print(int(input()))") == AC  # n itself: valid, never the expected answer
    assert verdict(p, SPF) == AC
    assert verdict(p, "print(2)") == WA  # wrong on 35
    assert verdict(p, "print(1)") == WA and verdict(p, "print(int(input()) + 1)") == WA
    assert verdict(p, "n = int(input())\nprint(n, n)") == WA
    r = judge(p, {"language": "python", "code": "print('many')"})  # the checker crashes on a non-number: rejected
    assert r.verdict == WA and r.failed_test == 1 and r.message.startswith("checker exit 1") and "ValueError" in r.message
    # the bug this contract fixes: called in testlib order, the checker validates the expected answer instead
    as_testlib = dataclasses.replace(p, checker_kind=TESTLIB)
    assert verdict(as_testlib, "print(int(input()) + 1)") == AC


@pytest.mark.usefixtures("needs_sandbox")
def test_float_tolerance(problems):
    p = problems["9000/B"]
    assert verdict(p, "print('%.9f' % (int(input()) ** 0.5))") == AC
    assert verdict(p, "print(int(input()) ** 0.5 + 5e-7)") == AC
    assert verdict(p, "print('%.3f' % (int(input()) ** 0.5))") == WA
    assert verdict(p, "print('nan')") == WA and verdict(p, "print('about 1.41')") == WA


@pytest.mark.usefixtures("needs_sandbox")
def test_case_insensitive_yes_no(problems):
    p = problems["9000/C"]
    for spelling in ("YES/NO", "yes/no", "Yes/No", "yEs/nO"):
        yes, no = spelling.split("/")
        assert verdict(p, f"print('{yes}' if int(input()) % 2 == 0 else '{no}')") == AC
    assert verdict(p, "print('YES')") == WA and verdict(p, "print('YES NO')") == WA


@pytest.mark.usefixtures("needs_sandbox")
def test_a_checker_that_prints_0_and_exits_0_rejects_even_the_answer(problems):
    p = problems["9000/D"]
    assert checker_exclusion(p) is None  # it gives a verdict, so it judges: nothing is ever accepted
    r = judge(p, {"language": "python", "code": "print(input())"})
    assert r.verdict == WA and r.message.startswith("checker printed '0'")


@pytest.mark.usefixtures("needs_sandbox")
def test_a_runtime_error_never_reaches_the_checker(problems):
    r = judge(problems["9000/A"], {"language": "python", "code": "raise SystemExit(1)"})
    assert r.verdict == "RE"


# --- bad checkers: excluded with the reason, never AC, never WA --------------------------------------------------

@pytest.mark.usefixtures("needs_sandbox")
@pytest.mark.parametrize("pid, reason", [
    ("9000/E", "checker does not compile: "),
    ("9000/F", "checker fails on every test (1 tried, each given its expected answer): checker exit 1"),
])
def test_broken_checkers_exclude_the_problem(problems, pid, reason):
    p = problems[pid]
    for code in ("print(input())", "print(1)", ""):
        r = judge(p, {"language": "python", "code": code})
        assert (r.verdict, r.tests_passed) == ((EXCLUDED, 0) if code else ("NO_CODE", 0))
        if code:
            assert r.message.startswith(reason)
    assert checker_exclusion(p).startswith(reason)
    assert judge_mod.exclusion_label(checker_exclusion(p)) == reason.split(":")[0].split(" (")[0]


@pytest.mark.usefixtures("needs_sandbox")
def test_unknown_kind_given_to_the_judge_is_excluded():
    p = normalize_record({"id": "1A", "tests": [{"input": "1\n", "output": "1\n"}], "checker": "print(1)",
                          "checker_kind": "polygon"})
    r = judge(p, {"language": "python", "code": "print(1)"})
    assert r.verdict == EXCLUDED and r.message == "checker of unknown kind 'polygon' (known: testlib, openr1)"
    assert judge_mod.exclusion_label(r.message) == "checker of unknown kind"


def test_the_sandbox_has_a_python_for_python_checkers():
    py = sandbox_python()
    assert py is not None, judge_mod.NO_PYTHON
    assert py.startswith(judge_mod.SANDBOX_SYSTEM_DIRS) and Path(py).exists()


# --- the judge's command line ------------------------------------------------------------------------------------

def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tasks.codeforces.judge", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.usefixtures("needs_sandbox")
def test_cli_judges_open_r1_rows(tmp_path):
    rows = write_rows(tmp_path / "rows.jsonl", ROWS)
    subs = [("a-n", "9000/A", "print(int(input()))"), ("a-spf", "9000/A", SPF), ("a-wrong", "9000/A", "print(2)"),
            ("a-text", "9000/A", "print('many')"),
            ("b-ok", "9000/B", "print(int(input()) ** 0.5)"), ("b-wrong", "9000/B", "print(1.5)"),
            ("c-lower", "9000/C", "print('yes' if int(input()) % 2 == 0 else 'no')"),
            ("c-wrong", "9000/C", "print('no')"), ("d", "9000/D", "print(input())"),
            ("e", "9000/E", "print(input())"), ("f", "9000/F", "print(input())"), ("g", "9000/G", "print(3)"),
            ("h", "9000/H", "print(int(input()) + 1)")]
    sub_file = tmp_path / "s.jsonl"
    sub_file.write_text("".join(json.dumps({"id": i, "problem_id": p, "language": "python", "code": c}) + "\n"
                                for i, p, c in subs))
    r = cli("--problems", rows, "--submissions", sub_file, "--workers", "2")
    assert r.returncode == 0, r.stderr
    out = {o["id"]: o for o in map(json.loads, r.stdout.splitlines())}
    assert {i: o["verdict"] for i, o in out.items()} == {
        "a-n": AC, "a-spf": AC, "a-wrong": WA, "a-text": WA, "b-ok": AC, "b-wrong": WA, "c-lower": AC,
        "c-wrong": WA, "d": WA, "e": EXCLUDED, "f": EXCLUDED, "g": EXCLUDED, "h": AC}
    assert out["a-n"]["checker"] == OPENR1 and "checker" not in out["h"]
    assert out["a-n"]["tests_passed"] == out["a-n"]["tests_total"] == 3
    assert out["e"]["excluded"] == "checker does not compile" and "SyntaxError" in out["e"]["message"]
    assert out["f"]["excluded"] == "checker fails on every test" and "RuntimeError" in out["f"]["message"]
    assert out["g"]["excluded"] == out["g"]["message"] == "interactive (not supported)"


@pytest.mark.parametrize("change, field", [
    ({"time_limit": "abc"}, "time_limit"),
    ({"official_tests": [{"input": "1"}]}, "official_tests"),
    ({"generated_checker": ["print(1)"]}, "generated_checker"),
])
def test_cli_malformed_row_is_one_error_line(tmp_path, change, field):
    rows = write_rows(tmp_path / "rows.jsonl", [ROWS[0], ROWS[1], {**ROWS[2], **change}])
    subs = tmp_path / "s.jsonl"
    subs.write_text(json.dumps({"id": "x", "problem_id": "9000/A", "language": "python", "code": "print(2)"}) + "\n")
    r = cli("--problems", rows, "--submissions", subs)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {rows}:3: field '{field}'")


# --- the suite end to end through the console script --------------------------------------------------------------

def fenced(code: str) -> dict:
    return {"analysis": "thinking", "final": f"Here is my program.\n```python\n{code}```"}


@pytest.mark.usefixtures("needs_sandbox")
def test_suite_end_to_end_on_open_r1_rows(scripted_server, tmp_path):
    data = write_rows(tmp_path / "rows.jsonl", ROWS)
    server = scripted_server({"rules": [
        {"match": "Print any divisor d of n", "reply": fenced("print(int(input()))\n")},  # another valid answer
        {"match": "Print the square root of n", "reply": fenced("print(1.5)\n")},  # wrong
        {"match": "Print YES if n is even", "reply": fenced("print('yes' if int(input()) % 2 == 0 else 'no')\n")},
        {"match": "Print n.", "reply": fenced("print(input())\n")},  # the answer, rejected by its checker
        {"match": "Print n + 1", "reply": fenced("print(int(input()) + 1)\n")},
    ], "default": fenced("print(input())\n")})
    root = tmp_path / "out"
    proc = run_cli("server=attach", f"server.base_url={server.base_url}", "suite=codeforces", f"suite.path={data}",
                   "suite.language=python", f"paths.root={root}", "progress=false", "client.retry_wait_s=0.01",
                   "effort=low", "repeats=1", "suite.workers=2")
    assert proc.returncode == 0, proc.stderr
    run_dir = root / "default" / "gpt-oss-120b" / "codeforces" / "low"
    grades = {g["key"]: g for g in map(json.loads, (run_dir / "grades.jsonl").read_text().splitlines())}
    assert {k: g["answer"] for k, g in grades.items()} == {
        "9000/A#0": AC, "9000/B#0": WA, "9000/C#0": AC, "9000/D#0": WA, "9000/E#0": EXCLUDED,
        "9000/F#0": EXCLUDED, "9000/H#0": AC}
    assert grades["9000/A#0"]["details"]["checker"] == OPENR1 and grades["9000/H#0"]["details"]["checker"] is None
    assert grades["9000/E#0"]["score"] is None and grades["9000/F#0"]["details"]["excluded"] == \
        "checker fails on every test"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["settings"]["task"]["data"]["checkers"] == {OPENR1: 6}

    m = codeforces_metrics(run_dir)
    assert m["judged_problems"] == 5 and m["checkers"] == {"judged_by_checker": 4, "by_kind": {OPENR1: 4},
                                                           "unknown": 0}
    assert m["data"]["excluded_reasons"] == {"checker does not compile": 1, "checker fails on every test": 1}
    section = codeforces_section([root])
    assert "- checkers: 4 of 5 judged problems judged by a checker (openr1 4); the others by comparing tokens" \
        in section
    assert "checker does not compile: 1, checker fails on every test: 1" in section
    assert "1 interactive skipped" in section
