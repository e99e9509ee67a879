"""Grading a stored run after the fact: the Docker harness's command line, its saved output written back
into the store (and report.md), and re-grading its saved test logs with swebench's functions, no Docker."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evals.clients import Sampling
from evals.engine import RunSpec, run_attempts
from evals.store import RunStore
from tasks.swebench import grading
from tasks.swebench.task import SweBenchTask
from tests.conftest import ROOT
from tests.tasks.swebench import harness_logs as hl
from tests.tasks.swebench.conftest import (
    PROBLEM,
    RIGHT_PATCH,
    VENV_BIN,
    WRONG_PATCH,
    ScriptedClient,
    build_toy,
    call,
    final,
    needs_swebench,
)
from tests.tasks.swebench.test_swe_agent import sample_of

pytestmark = needs_swebench

NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # a Docker client that reaches no engine
# instance -> (what the agent submits, what happens to it in the harness, the category it must get)
CASES = {
    "toy__calc-1": (RIGHT_PATCH, hl.RUN_TESTS, "resolved"),
    "toy__calc-2": (WRONG_PATCH, hl.RUN_TESTS, "tests_failed"),
    "toy__calc-3": (None, None, "no_patch"),
    "toy__calc-4": (WRONG_PATCH, hl.APPLY_FAILS, "patch_not_applied"),
    "toy__calc-5": (RIGHT_PATCH, hl.TIMES_OUT, "tests_failed"),
    "toy__calc-6": (RIGHT_PATCH, hl.DOCKER_FAILS, "infrastructure_error"),
}


def _grading_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tasks.swebench.grading", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict:
    """A Docker-style run (no local eval) of six toy instances through the real engine, plus the logs the
    harness would leave for it. Tests copy it."""
    root = tmp_path_factory.mktemp("harness")
    toy = build_toy(root)
    rows = [{**toy.row, "instance_id": iid, "problem_statement": f"{PROBLEM}\n\n(case {iid})"} for iid in CASES]
    data = root / "toy.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def reply(messages):
        if any(m["role"] == "tool" for m in messages):
            return final()
        patch = next(CASES[iid][0] for iid in CASES if f"(case {iid})" in messages[1]["content"])
        return call("apply_patch", {"patch": patch}) if patch else final("No change needed.")

    run = root / "run"
    store = RunStore(run)
    manifest = store.begin({"run_id": "r", "suite": "swebench_verified", "model": "gpt-oss-120b",
                            "card": "gpt-oss-120b", "card_key": "swebench_verified", "effort": "high",
                            "transport": "chat", "settings_hash": "0123abcd",
                            "config": {"suite": {"path": str(data), "hf_id": "SWE-bench/SWE-bench_Verified",
                                                 "split": "test"}}})
    task = SweBenchTask(environment={"kind": "local", "sandbox": False, "path": [VENV_BIN]}, run_eval=False)
    spec = RunSpec(run_id="r", suite="swebench_verified", model="gpt-oss-120b", effort="high",
                   settings_hash="0123abcd", sampling=Sampling(), repeats=1, concurrency=2)
    asyncio.run(run_attempts(task, [sample_of(r) for r in rows], ScriptedClient([reply], repeat_last=True),
                             store, spec))
    store.end(manifest, "finished")
    run_id = grading.default_run_id(manifest)
    work = run / grading.HARNESS_WORKDIR
    attempts = store.attempts()
    preds = [{"instance_id": a.sample_id, "model_name_or_path": "gpt-oss-120b__high",
              "model_patch": a.info["patch"]} for a in attempts.values()]
    by_id = {r["instance_id"]: r for r in rows}
    for p in preds:
        fate = CASES[p["instance_id"]][1]
        if fate:
            hl.write_instance(work, run_id, p["model_name_or_path"], by_id[p["instance_id"]], p["model_patch"], fate)
    summary = hl.run_report(work, run_id, preds, rows)
    return {"root": root, "run": run, "run_id": run_id, "summary": summary, "rows": rows}


@pytest.fixture
def run(template, tmp_path) -> Path:
    dest = tmp_path / "run"
    shutil.copytree(template["run"], dest)
    return dest


def _categories(run: Path) -> dict[str, str]:
    return {g.key.split("#")[0]: g.details.get("category") for g in RunStore(run).grades().values()}


def test_the_run_awaits_the_harness_before_grading(run):
    # a Docker-style run stores its patches ungraded; the report says how to grade it
    cats = _categories(run)
    assert cats["toy__calc-3"] == "no_patch" and {cats[i] for i in cats if i != "toy__calc-3"} == {"not_evaluated"}


def test_harness_reports_are_written_back_into_the_store_and_report(run, template):
    proc = _grading_cli(str(run), "--from-logs", "--use-reports")
    assert proc.returncode == 0, proc.stderr
    assert "graded 6 attempts" in proc.stdout and "1 resolved" in proc.stdout
    assert _categories(run) == {iid: c[2] for iid, c in CASES.items()}
    grades = RunStore(run).grades()
    assert grades["toy__calc-1#0"].score == 1.0 and sum(g.score for g in grades.values()) == 1.0
    assert "timed out" in grades["toy__calc-5#0"].reason
    assert grades["toy__calc-1#0"].details["report"]["tests_status"]["FAIL_TO_PASS"]["success"] == [
        "tests/test_ops.py::test_add"]
    # the same verdicts as swebench's own run summary over the same logs
    s = template["summary"]
    ours = _categories(run)
    assert s["resolved_ids"] == [i for i, c in ours.items() if c == "resolved"]
    assert s["empty_patch_ids"] == [i for i, c in ours.items() if c == "no_patch"]
    assert s["unresolved_ids"] == ["toy__calc-2"]
    assert s["error_ids"] == ["toy__calc-4", "toy__calc-5", "toy__calc-6"]
    # the manifest says how the grades were made, and report.md shows them
    assert RunStore(run).read_manifest()["swebench_grading"]["method"] == "swebench harness reports"
    md = (run / "report.md").read_text()
    section = md[md.index("## SWE-Bench Verified"):]
    z, n, p = 1.959964, 6, 1 / 6  # the Wilson score interval of 1 in 6
    mid, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (
        1 + z * z / n)
    assert (f"| gpt-oss-120b | high | 6 | 1 | 1 | 16.7 ({100 * (mid - half):.1f}-{100 * (mid + half):.1f}) | 62.4 | "
            f"{100 * p - 62.4:.1f} |") in section
    assert "Wilson score interval" in section
    assert "| gpt-oss-120b | high | 6 | 1 (16.7) | 1 (16.7) | 2 (33.3) | 1 (16.7) | 0 (0.0) |" in section


def test_saved_test_logs_are_regraded_by_swebench_without_docker(run, template):
    """--from-logs re-reads every test_output.txt through make_test_spec / get_eval_report: a report.json
    that says otherwise does not count."""
    log_root = run / grading.HARNESS_WORKDIR / "logs" / "run_evaluation" / template["run_id"] / "gpt-oss-120b__high"
    report = log_root / "toy__calc-1" / "report.json"
    data = json.loads(report.read_text())
    data["toy__calc-1"]["resolved"] = False
    report.write_text(json.dumps(data))
    assert _grading_cli(str(run), "--from-logs", "--use-reports").returncode == 0
    assert _categories(run)["toy__calc-1"] == "tests_failed"
    proc = _grading_cli(str(run), "--from-logs")
    assert proc.returncode == 0, proc.stderr
    assert _categories(run) == {iid: c[2] for iid, c in CASES.items()}
    g = RunStore(run).grades()["toy__calc-1#0"]
    assert g.score == 1.0 and "get_eval_report" in g.details["source"]
    # an explicit log dir (e.g. a harness run made elsewhere) works the same
    proc = _grading_cli(str(run), "--from-logs", str(log_root.parent), "--run-id", template["run_id"])
    assert proc.returncode == 0, proc.stderr


def test_stored_eval_logs_regrade_from_the_same_command(toy, tmp_path):
    """--stored: a local-environment run's own eval-script logs, re-graded by swebench, no Docker."""
    rows = [toy.row]
    data = tmp_path / "toy.jsonl"
    data.write_text(json.dumps(toy.row) + "\n")
    store = RunStore(tmp_path / "run")
    manifest = store.begin({"suite": "swebench_verified", "card_key": "swebench_verified", "model": "gpt-oss-120b",
                            "effort": "low", "settings_hash": "h", "config": {"suite": {"path": str(data)}}})
    task = SweBenchTask(environment={"kind": "local", "sandbox": False, "path": [VENV_BIN]})
    client = ScriptedClient([call("apply_patch", {"patch": RIGHT_PATCH}), final()])
    spec = RunSpec(run_id="r", suite="swebench_verified", model="gpt-oss-120b", effort="low", settings_hash="h",
                   sampling=Sampling(), repeats=1)
    asyncio.run(run_attempts(task, [sample_of(r) for r in rows], client, store, spec))
    store.end(manifest, "finished")
    store.rewrite_grades([])  # lose the grades: the stored log is enough to get them back
    proc = _grading_cli(str(tmp_path / "run"), "--stored")
    assert proc.returncode == 0, proc.stderr
    (g,) = store.grades().values()
    assert g.score == 1.0 and g.details["category"] == "resolved"
    assert "stored eval-script logs" in (tmp_path / "run" / "report.md").read_text()


def test_docker_command_line_passes_workers_timeout_and_run_id(run, template):
    """--dry-run writes the predictions and prints the harness command; swebench's own CLI accepts it and
    reads our predictions and dataset (it stops only where it needs the Docker engine)."""
    proc = _grading_cli(str(run), "--docker", "--workers", "3", "--timeout", "600", "--run-id", "ci-42",
                        "--dry-run")
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.strip().splitlines()
    argv = shlex.split(line)
    assert argv[1:3] == ["-m", "swebench.harness.run_evaluation"]
    flags = dict(zip(argv[3::2], argv[4::2], strict=False))
    work = run / grading.HARNESS_WORKDIR
    preds = work / "predictions.ci-42.jsonl"
    assert flags["--max_workers"] == "3" and flags["--timeout"] == "600" and flags["--run_id"] == "ci-42"
    assert flags["--predictions_path"] == str(preds) and flags["--dataset_name"].endswith("toy.jsonl")
    assert argv[argv.index("--instance_ids") + 1:] == sorted(CASES)
    lines = [json.loads(x) for x in preds.read_text().splitlines()]
    assert [p["instance_id"] for p in lines] == sorted(CASES)
    assert "+    return a + b" in lines[0]["model_patch"] and lines[2]["model_patch"] == ""
    assert RunStore(run).grades() == RunStore(template["run"]).grades()  # a dry run grades nothing
    harness = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=300,
                             env={**os.environ, **NO_DOCKER})
    assert harness.returncode != 0 and "usage:" not in harness.stderr
    assert "DockerException" in harness.stderr, harness.stderr[-2000:]
    from swebench.harness.constants import LOG_RUN_METADATA, RUN_EVALUATION_LOG_DIR

    meta = json.loads((work / RUN_EVALUATION_LOG_DIR / "ci-42" / LOG_RUN_METADATA).read_text())
    assert meta["dataset"] == flags["--dataset_name"] and meta["split"] == "test"


def test_docker_without_an_engine_is_one_line_and_changes_nothing(run):
    before = (run / "grades.jsonl").read_bytes()
    proc = _grading_cli(str(run), "--docker", env=NO_DOCKER)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("grading: error:") and "no Docker engine answers" in line
    assert (run / "grades.jsonl").read_bytes() == before
    assert not list((run / grading.HARNESS_WORKDIR).glob("predictions.*"))  # stopped before writing anything


def test_docker_flow_hands_its_settings_to_the_harness_and_grades_every_repeat(run, template, tmp_path):
    """grade_run_docker around a harness double that leaves the logs the real one would (the Docker run is
    the one part not run here)."""
    src = run / grading.HARNESS_WORKDIR / "logs"
    calls = []

    def harness(preds, run_id, workdir, **kw):
        calls.append({"preds": Path(preds), "run_id": run_id, "workdir": Path(workdir), **kw})
        dest = Path(workdir) / "logs" / "run_evaluation" / run_id
        shutil.copytree(src / "run_evaluation" / template["run_id"], dest, dirs_exist_ok=True)
        return dest

    result = grading.grade_run_docker(run, run_id="nightly", max_workers=8, timeout=900, harness=harness,
                                      workdir=tmp_path / "work")
    (c,) = calls
    assert c["run_id"] == "nightly" and c["max_workers"] == 8 and c["timeout"] == 900
    assert c["instance_ids"] == sorted(CASES) and c["preds"].is_file() and c["split"] == "test"
    assert result["graded"] == 6 and result["resolved"] == 1 and result["run_ids"] == ["nightly"]
    assert _categories(run) == {iid: v[2] for iid, v in CASES.items()}
    assert RunStore(run).read_manifest()["swebench_grading"]["max_workers"] == 8
    assert grading.repeat_run_id("nightly", 1, [0, 1]) == "nightly.r1"


@pytest.mark.parametrize("args, message", [
    (["--docker", "--workers", "0"], "--workers and --timeout must be positive"),
    (["--from-logs", "/nonexistent/logs"], "no harness logs at /nonexistent/logs"),
])
def test_bad_grading_input_is_one_line(run, args, message):
    proc = _grading_cli(str(run), *args, env=NO_DOCKER)
    (line,) = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and line.startswith(f"grading: error: {message}"), proc.stderr
