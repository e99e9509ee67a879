"""``action=retry-errors``: attempts stored as ``error`` are sent again and their new line replaces them; finished
attempts get no request; readers and the report count the latest line of each key once."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.conftest import FIXTURES, run_cli
from tests.runners.test_cli_scripted import EXPECTED, SCRIPT

MINI = str(FIXTURES / "mini_aime.jsonl")
# p2 ("divisors") answered in a shape no client can read, on every try: stored as error, the run goes on
BROKEN_P2 = {**SCRIPT, "rules": [{"match": "divisors", "reply": {"analysis": "x", "final": "\\boxed{9}",
                                                                  "wrong_shapes": ["choices_not_a_list"]}},
                                 *SCRIPT["rules"]]}


def _args(server, tmp_path: Path, *extra: str) -> list[str]:
    return ["server=attach", f"server.base_url={server.base_url}", "suite=aime2025", f"suite.path={MINI}",
            f"paths.root={tmp_path / 'out'}", "progress=false", "client.retry_wait_s=0.01", "client.max_retries=1",
            "effort=low", "repeats=2", *extra]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_errored_attempts_are_sent_again_and_replace_the_error_line(scripted_server, tmp_path) -> None:
    run_dir = tmp_path / "out" / "default" / "gpt-oss-120b" / "aime2025" / "low"
    broken = scripted_server(BROKEN_P2)
    proc = run_cli(*_args(broken, tmp_path))
    assert proc.returncode == 0, proc.stderr
    first = _lines(run_dir / "attempts.jsonl")
    assert sorted(a["key"] for a in first if a["status"] == "error") == ["p2#0", "p2#1"]
    before = (run_dir / "attempts.jsonl").read_bytes()

    healthy = scripted_server(SCRIPT)
    proc = run_cli(*_args(healthy, tmp_path))  # a plain rerun: an error is final
    assert proc.returncode == 0, proc.stderr
    assert healthy.requests() == [] and (run_dir / "attempts.jsonl").read_bytes() == before

    proc = run_cli(*_args(healthy, tmp_path, "action=retry-errors"))
    assert proc.returncode == 0, proc.stderr
    requests = healthy.requests()
    assert len(requests) == 2 and all("divisors" in r["user"] for r in requests)  # nothing else re-requested
    assert len({r["seed"] for r in requests}) == 2
    text = (run_dir / "attempts.jsonl").read_bytes()
    assert text.startswith(before)  # appended: every earlier line kept byte for byte
    lines = _lines(run_dir / "attempts.jsonl")
    assert len(lines) == 12
    retried = lines[10:]
    assert {a["key"] for a in retried} == {"p2#0", "p2#1"} and {a["status"] for a in retried} == {"ok"}
    # the retried attempt keeps its seed: the same sample x repeat, asked again
    old_seeds = {a["key"]: a["seed"] for a in first}
    assert all(a["seed"] == old_seeds[a["key"]] for a in retried)

    grades = {}
    for g in _lines(run_dir / "grades.jsonl"):
        grades[g["key"]] = g["score"]  # the latest line of a key wins
    assert grades == {f"{p}#{r}": s for p, s in EXPECTED.items() for r in range(2)}

    # the report counts each key once: 10 attempts, p2 now right (4 of 5 problems)
    row = next(line for line in (run_dir / "report.md").read_text().splitlines() if line.startswith("| aime2025"))
    assert "| 80.0 (" in row
    summary = next(csv.DictReader((run_dir / "summary.csv").open()))
    assert int(summary["attempts"]) == 10 and int(summary["n"]) == 5 and int(summary["repeats"]) == 2
    assert float(summary["pass@1"]) == 80.0 and float(summary["error_rate"]) == 0.0

    # nothing left to retry: no request
    proc = run_cli(*_args(healthy, tmp_path, "action=retry-errors"))
    assert proc.returncode == 0, proc.stderr
    assert len(healthy.requests()) == 2


def test_a_retried_attempt_whose_grade_was_not_written_is_graded_without_a_request(scripted_server,
                                                                                     tmp_path) -> None:
    """A crash between the attempt's line and its grade's leaves the error's grade as the key's latest: the next
    run grades the stored attempt again (no request) instead of scoring it as the old error."""
    run_dir = tmp_path / "out" / "default" / "gpt-oss-120b" / "aime2025" / "low"
    proc = run_cli(*_args(scripted_server(BROKEN_P2), tmp_path, "repeats=1"))
    assert proc.returncode == 0, proc.stderr
    healthy = scripted_server(SCRIPT)
    proc = run_cli(*_args(healthy, tmp_path, "repeats=1", "action=retry-errors"))
    assert proc.returncode == 0, proc.stderr
    grades_path = run_dir / "grades.jsonl"
    lines = grades_path.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["key"] == "p2#0" and json.loads(lines[-1])["score"] == 1.0
    grades_path.write_text("".join(lines[:-1]))  # as if the run died right after the attempt's line

    proc = run_cli(*_args(healthy, tmp_path, "repeats=1"))
    assert proc.returncode == 0, proc.stderr
    assert len(healthy.requests()) == 1
    latest = {}
    for g in _lines(grades_path):
        latest[g["key"]] = g
    assert latest["p2#0"]["score"] == 1.0 and not latest["p2#0"]["reason"].startswith("error")
    row = next(line for line in (run_dir / "report.md").read_text().splitlines() if line.startswith("| aime2025"))
    assert "| 80.0 (" in row


def test_retry_errors_is_an_action_the_config_accepts() -> None:
    proc = run_cli("action=retry", "server=attach", "server.base_url=http://127.0.0.1:9/v1", timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == ("gptoss-eval: error: action='retry' is not valid: expected run, "
                                                    "retry-errors, regrade, report or doctor")
