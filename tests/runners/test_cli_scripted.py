"""The console script end to end against the scripted server: transports, resume, faults, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, run_cli

MINI = str(FIXTURES / "mini_aime.jsonl")

# mini_aime answers: p1 21, p2 9, p3 24, p4 42, p5 99
SCRIPT = {
    "rules": [
        {"match": "3 \\times 7", "effort": "low", "reply": {"analysis": "3 sevens", "final": "\\boxed{21}"}},
        {"match": "3 \\times 7", "reply": {"analysis": "Three times seven: 7, 14, 21. " * 4,
                                            "final": "**Answer: 21**\n\nBecause 3 groups of 7 make 21."}},
        {"match": "divisors", "reply": {"analysis": "36 = 2^2 3^2 so (2+1)(2+1)", "final": "\\boxed{\\text{9}}"}},
        {"match": "2^{10}", "reply": {"analysis": "1024 mod 1000 is", "final": "The answer is 100. Correction: "
                                                                                "the answer is 24."}},
        {"match": "12+30", "reply": {"analysis": "12 plus 30", "final": "\\boxed{43}"}},
    ],
    "default": {"analysis": "99", "final": "\\boxed{099}"},
}
EXPECTED = {"p1": 1.0, "p2": 1.0, "p3": 1.0, "p4": 0.0, "p5": 1.0}


def _args(server, root: Path, *extra: str) -> list[str]:
    effort = [] if any(e.startswith("effort=") for e in extra) else ["effort=low"]
    return ["server=attach", f"server.base_url={server.base_url}", "suite=aime2025", f"suite.path={MINI}",
            f"paths.root={root}", "progress=false", "client.retry_wait_s=0.01", *effort, *extra]


def _run_dir(root: Path, effort: str = "low", tag: str = "default") -> Path:
    return root / tag / "gpt-oss-120b" / "aime2025" / effort


def _grades(run_dir: Path) -> dict[str, float]:
    return {json.loads(line)["key"]: json.loads(line)["score"]
            for line in (run_dir / "grades.jsonl").read_text().splitlines()}


def _keys(run_dir: Path) -> list[str]:
    return [json.loads(line)["key"] for line in (run_dir / "attempts.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("transport", ["chat", "responses", "harmony"])
def test_every_transport_gives_the_same_grades_and_sends_effort_and_seeds(scripted_server, tmp_path, transport):
    server = scripted_server(SCRIPT)
    proc = run_cli(*_args(server, tmp_path, f"client={transport}", "effort=high", "repeats=2"))
    assert proc.returncode == 0, proc.stderr
    run_dir = _run_dir(tmp_path, "high")
    grades = _grades(run_dir)
    assert grades == {f"{p}#{r}": s for p, s in EXPECTED.items() for r in range(2)}
    requests = server.requests()
    assert len(requests) == 10
    assert {r["effort"] for r in requests} == {"high"}
    assert {r["temperature"] for r in requests} == {1.0}
    assert len({r["seed"] for r in requests}) == 10  # every sample x repeat has its own seed
    row = next(line for line in (run_dir / "report.md").read_text().splitlines() if line.startswith("| aime2025"))
    assert f"| {transport} |" in row and "| 80.0 (" in row and "| 92.5 |" in row  # ours, then the card's
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["transport"] == transport
    assert manifest["versions"]["openai-harmony"] == "0.0.8"
    assert manifest["versions"]["vllm_server"] == "scripted-0"


def test_killed_run_resumes_without_losing_or_repeating_attempts(scripted_server, tmp_path):
    server = scripted_server({**SCRIPT, "faults": {"latency_s": 0.25}})
    args = _args(server, tmp_path, "repeats=4", "concurrency=2")
    exe = Path(sys.executable).with_name("gptoss-eval")
    proc = subprocess.Popen([str(exe), *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    attempts = _run_dir(tmp_path) / "attempts.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not attempts.exists() or len(attempts.read_text().splitlines()) < 6):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = [json.loads(line) for line in attempts.read_text().splitlines() if line.endswith("}")]
    assert 6 <= len(stored) < 20
    first_requests = len(server.requests())

    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    keys = _keys(_run_dir(tmp_path))
    assert len(keys) == len(set(keys)) == 20  # nothing lost, nothing duplicated
    new_seeds = {r["seed"] for r in server.requests()[first_requests:]}
    assert not new_seeds & {a["seed"] for a in stored}  # no request for a finished attempt
    assert len(server.requests()) - first_requests == 20 - len(stored)

    # a third run has nothing to do and sends nothing
    before = len(server.requests())
    assert run_cli(*args).returncode == 0
    assert len(server.requests()) == before


def test_server_errors_are_retried_until_every_attempt_is_stored(scripted_server, tmp_path):
    server = scripted_server({**SCRIPT, "faults": {"error_rate": 0.3, "error_status": 503, "seed": 3}})
    proc = run_cli(*_args(server, tmp_path, "repeats=4", "client.max_retries=8"))
    assert proc.returncode == 0, proc.stderr
    grades = _grades(_run_dir(tmp_path))
    assert len(grades) == 20 and sum(grades.values()) == 16
    assert len(server.requests()) > 20


def test_truncated_and_malformed_outputs_are_recorded_scored_zero_and_not_resampled(scripted_server, tmp_path):
    script = {"rules": [
        {"match": "3 \\times 7", "reply": {"analysis": "thinking " * 30, "finish_reason": "length"}},
        {"match": "divisors", "reply": {"raw_text": "The answer is 9 <|end|> no channel"}},
        {"match": "2^{10}", "reply": {"analysis": "done thinking", "final": None}},
    ], "default": {"analysis": "x", "final": "\\boxed{99}"}}
    server = scripted_server(script)
    proc = run_cli(*_args(server, tmp_path, "client=harmony", "repeats=1"))
    assert proc.returncode == 0, proc.stderr
    run_dir = _run_dir(tmp_path)
    attempts = {json.loads(line)["sample_id"]: json.loads(line)
                for line in (run_dir / "attempts.jsonl").read_text().splitlines()}
    assert attempts["p1"]["status"] == "truncated"
    assert attempts["p2"]["status"] == "malformed" and attempts["p2"]["error"]
    assert attempts["p3"]["status"] == "malformed" and "no final" in attempts["p3"]["error"]
    grades = {k.split("#")[0]: v for k, v in _grades(run_dir).items()}
    assert grades == {"p1": 0.0, "p2": 0.0, "p3": 0.0, "p4": 0.0, "p5": 1.0}
    assert len(server.requests()) == 5  # nothing re-sampled
    row = next(line for line in (run_dir / "report.md").read_text().splitlines() if line.startswith("| aime2025"))
    assert "| 20.0 |" in row  # truncation rate 1 of 5


def test_server_death_stops_the_run_with_a_clear_error_and_a_rerun_resumes(scripted_server, tmp_path):
    dying = scripted_server({**SCRIPT, "faults": {"die_after": 4}})
    proc = run_cli(*_args(dying, tmp_path, "repeats=2", "concurrency=1", "client.max_retries=2"))
    assert proc.returncode == 3
    assert "stopped answering" in proc.stderr and "rerun the same command to resume" in proc.stderr
    stored = _keys(_run_dir(tmp_path))
    assert len(stored) == 4
    healthy = scripted_server(SCRIPT)
    again = run_cli(*_args(healthy, tmp_path, "repeats=2", "concurrency=1"))
    assert again.returncode == 0, again.stderr
    assert sorted(_keys(_run_dir(tmp_path))) == sorted(f"p{i}#{r}" for i in range(1, 6) for r in range(2))
    assert len(healthy.requests()) == 6


def test_regrade_rescores_without_any_request(scripted_server, tmp_path):
    server = scripted_server(SCRIPT)
    assert run_cli(*_args(server, tmp_path, "repeats=1")).returncode == 0
    run_dir = _run_dir(tmp_path)
    (run_dir / "grades.jsonl").write_text("")  # e.g. grades from an older grader, thrown away
    server.stop()
    proc = run_cli(*_args(server, tmp_path, "repeats=1", "action=regrade"))
    assert proc.returncode == 0, proc.stderr
    assert {k.split("#")[0]: v for k, v in _grades(run_dir).items()} == EXPECTED


def test_effort_sweep_shares_the_run_and_checks_that_tokens_rise(scripted_server, tmp_path):
    script = {"rules": [
        {"match": "", "effort": "low", "reply": {"analysis": "short", "final": "\\boxed{1}"}},
        {"match": "", "effort": "medium", "reply": {"analysis": "longer thinking " * 10, "final": "\\boxed{1}"}},
        {"match": "", "effort": "high", "reply": {"analysis": "much longer thinking " * 40, "final": "\\boxed{1}"}},
    ]}
    server = scripted_server(script)
    proc = run_cli("-m", *_args(server, tmp_path, "effort=low,medium,high", "repeats=1"))
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "default" / "gpt-oss-120b" / "report.md").read_text()
    assert "OK gpt-oss-120b aime2025 (chat): median completion tokens rise with effort" in report
    assert report.count("| aime2025 |") == 3

    ignoring = scripted_server({"default": {"analysis": "same length always", "final": "\\boxed{1}"}})
    proc = run_cli("-m", *_args(ignoring, tmp_path, "effort=low,high", "repeats=1", "tag=ignored"))
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "ignored" / "gpt-oss-120b" / "report.md").read_text()
    assert "WARNING gpt-oss-120b aime2025 (chat): median completion tokens do not rise" in report


@pytest.mark.parametrize("override,message", [
    ("suite=aime2026", "Available options in 'suite'"),
    ("effort=ultra", "Available options in 'effort'"),
    ("client=grpc", "Available options in 'client'"),
])
def test_unknown_choices_list_the_valid_ones(override, message, tmp_path):
    proc = run_cli(override, f"paths.root={tmp_path}")
    assert proc.returncode != 0
    assert message in proc.stderr


def test_unreachable_hub_names_the_local_path_option(tmp_path):
    proc = run_cli("server=attach", "server.base_url=http://127.0.0.1:9/v1", "suite=aime2024",
                   f"paths.root={tmp_path}", env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "suite.path=" in lines[0] and "HuggingFaceH4/aime_2024" in lines[0]


def test_changed_settings_in_an_existing_run_dir_are_refused(scripted_server, tmp_path):
    server = scripted_server(SCRIPT)
    assert run_cli(*_args(server, tmp_path, "repeats=1")).returncode == 0
    proc = run_cli(*_args(server, tmp_path, "repeats=1", "sampling.temperature=0.5"))
    assert proc.returncode == 2 and "other settings" in proc.stderr
    assert len(_keys(_run_dir(tmp_path))) == 5  # nothing overwritten


@pytest.mark.parametrize("override,message", [
    ("concurrency=abc", "concurrency='abc' is not valid: expected an integer >= 1"),
    ("sampling.temperature=hot", "sampling.temperature='hot' is not valid"),
    ("repeats=0", "repeats=0 is not valid"),
    ("client.max_retries=-1", "client.max_retries=-1 is not valid"),
])
def test_bad_values_are_one_line_errors_before_any_request(scripted_server, tmp_path, override, message):
    server = scripted_server(SCRIPT)
    proc = run_cli(*_args(server, tmp_path, override))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gptoss-eval: error: ") and message in lines[0]
    assert server.requests() == []


def test_attaching_to_nothing_fails_fast_with_the_url(tmp_path):
    from runners.vllm_server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    proc = run_cli("server=attach", f"server.base_url={url}", "suite=aime2025", f"suite.path={MINI}",
                   f"paths.root={tmp_path}", "progress=false", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (f"gptoss-eval: error: no server answers at {url} "
                                                    "(server=attach); start it or fix server.base_url")
