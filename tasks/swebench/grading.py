"""Grading SWE-Bench attempts with swebench's own functions, and why-unresolved categories.

Two paths, same verdicts:

- without Docker: the task ran the instance's ``eval_script`` in a fresh environment with the model patch
  applied (see :func:`run_eval_script`) and stored the log; :func:`report_from_log` feeds it to swebench's
  ``make_test_spec`` / ``get_logs_eval`` / ``get_eval_report``;
- with Docker: ``swebench.harness.run_evaluation`` on a predictions file (:func:`run_harness`), then
  :func:`grades_from_harness` turns its ``report.json`` files into grades.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from evals.types import Attempt, Grade

RESOLVED = "resolved"
NO_PATCH = "no_patch"
NOT_APPLIED = "patch_not_applied"
TESTS_FAILED = "tests_failed"
INFRA = "infrastructure_error"
NOT_EVALUATED = "not_evaluated"
CATEGORIES = (RESOLVED, NO_PATCH, NOT_APPLIED, TESTS_FAILED, INFRA, NOT_EVALUATED)

MAX_LOG_CHARS = 2_000_000


def _constants() -> Any:
    from swebench.harness import constants

    return constants


def keep_log(log: str, limit: int = MAX_LOG_CHARS) -> str:
    """A log small enough to store, keeping the test-output section swebench parses."""
    if len(log) <= limit:
        return log
    c = _constants()
    start = log.find(c.START_TEST_OUTPUT)
    end = log.rfind(c.END_TEST_OUTPUT)
    if 0 <= start < end:
        head = log[:start][-20_000:]
        body = log[start:end + len(c.END_TEST_OUTPUT)]
        if len(body) > limit - 40_000:
            half = (limit - 40_000) // 2
            body = body[:half] + "\n[... truncated ...]\n" + body[-half:]
        return head + body + log[end + len(c.END_TEST_OUTPUT):][:20_000]
    return log[: limit // 2] + "\n[... truncated ...]\n" + log[-limit // 2:]


def run_eval_script(make_env: Callable[[], Any], row: Mapping[str, Any], patch: str,
                    timeout: float) -> dict[str, Any]:
    """Apply ``patch`` to a fresh environment at base_commit and run the row's eval script, as the harness does.

    Returns ``{"log", "applied", "timed_out", "infra_error"}``; the log carries swebench's markers
    (``>>>>> Applied Patch`` / ``>>>>> Patch Apply Failed`` / ``>>>>> Tests Timed Out``) so
    ``get_logs_eval`` reads it like a harness log.
    """
    c = _constants()
    env = make_env()
    try:
        try:
            env.start()
        except Exception as exc:
            return {"log": "", "applied": False, "timed_out": False,
                    "infra_error": f"could not start the evaluation environment: {type(exc).__name__}: {exc}"}
        ok, apply_log = env.apply_diff(patch)
        if not ok:
            return {"log": f"{apply_log}\n{c.APPLY_PATCH_FAIL}\n", "applied": False, "timed_out": False,
                    "infra_error": None}
        code, log, timed_out = env.run_script(row["eval_script"], timeout)
        log = f"{apply_log}\n{c.APPLY_PATCH_PASS}\n{log}"
        if timed_out:
            log += f"\n{c.TESTS_TIMEOUT} after {timeout:g} s\n"
        return {"log": keep_log(log), "applied": True, "timed_out": timed_out, "infra_error": None,
                "exit_code": code}
    finally:
        env.close()


def report_from_log(row: Mapping[str, Any], patch: str | None, log: str,
                    model_name: str = "gpt-oss") -> dict[str, Any]:
    """swebench's own verdict for one instance from a test log (``get_eval_report`` with test statuses)."""
    from swebench.harness.grading import get_eval_report
    from swebench.harness.utils import make_test_spec

    spec = make_test_spec(dict(row))
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False, encoding="utf-8") as fh:
        fh.write(log)
        path = fh.name
    try:
        pred = {"instance_id": row["instance_id"], "model_name_or_path": model_name, "model_patch": patch}
        return get_eval_report(spec, pred, path, include_tests_status=True)[row["instance_id"]]
    finally:
        os.unlink(path)


def grade_from_eval(key: str, row: Mapping[str, Any], patch: str, ev: Mapping[str, Any] | None,
                    model_name: str = "gpt-oss") -> Grade:
    """The grade of one attempt from its stored patch and eval-script run (None: not evaluated here)."""
    if not patch.strip():
        return Grade(key=key, score=0.0, answer="", reason="no patch: the agent left the repository unchanged",
                     details={"category": NO_PATCH})
    if ev is None:
        return Grade(key=key, score=0.0, answer=None,
                     reason="not evaluated: no eval-script run stored; grade with Docker (write predictions with "
                            "python -m tasks.swebench.predictions, then swebench.harness.run_evaluation)",
                     details={"category": NOT_EVALUATED})
    if ev.get("infra_error"):
        return Grade(key=key, score=0.0, reason=f"infrastructure error: {ev['infra_error']}",
                     details={"category": INFRA})
    c = _constants()
    log = ev.get("log") or ""
    report = report_from_log(row, patch, log, model_name)
    details: dict[str, Any] = {"report": report}
    if report.get("resolved"):
        details["category"] = RESOLVED
        return Grade(key=key, score=1.0, answer="resolved", reason="resolved: FAIL_TO_PASS and PASS_TO_PASS pass",
                     details=details)
    if c.APPLY_PATCH_FAIL in log or not ev.get("applied", True):
        details["category"] = NOT_APPLIED
        reason = "patch did not apply to a clean checkout of base_commit"
    elif report.get("infra_failure"):
        details["category"] = INFRA
        reason = f"infrastructure error while testing: {report.get('infra_failure_reason', '')}"
    elif ev.get("timed_out") or c.TESTS_TIMEOUT in log:
        details["category"] = TESTS_FAILED
        reason = "tests timed out"
    elif not report.get("patch_successfully_applied"):
        details["category"] = TESTS_FAILED
        reason = "no test results could be parsed from the log (tests did not run)"
    else:
        details["category"] = TESTS_FAILED
        st = report.get("tests_status", {})
        f2p = st.get("FAIL_TO_PASS", {}).get("failure", [])
        p2p = st.get("PASS_TO_PASS", {}).get("failure", [])
        reason = f"tests failed: {len(f2p)} FAIL_TO_PASS and {len(p2p)} PASS_TO_PASS tests not passing"
        if f2p or p2p:
            reason += f" (e.g. {(f2p or p2p)[0]})"
    return Grade(key=key, score=0.0, answer="unresolved", reason=reason, details=details)


# ---------------------------------------------------------------------------------------------------------
# Docker: the official harness
# ---------------------------------------------------------------------------------------------------------

def harness_argv(predictions_path: str | Path, run_id: str, *, dataset: str = "SWE-bench/SWE-bench_Verified",
                 split: str = "test", max_workers: int = 4, timeout: int = 1800,
                 instance_ids: Iterable[str] | None = None, report_dir: str | Path = ".",
                 python: str = sys.executable) -> list[str]:
    """The ``swebench.harness.run_evaluation`` command line (swebench 5.x flags; ``--modal`` is not used)."""
    argv = [python, "-m", "swebench.harness.run_evaluation", "--dataset_name", str(dataset), "--split", split,
            "--predictions_path", str(predictions_path), "--max_workers", str(max_workers),
            "--timeout", str(timeout), "--run_id", run_id, "--report_dir", str(report_dir)]
    ids = list(instance_ids or [])
    if ids:
        argv += ["--instance_ids", *ids]
    return argv


def run_harness(predictions_path: str | Path, run_id: str, workdir: str | Path, **kwargs: Any) -> Path:
    """Run the official Docker harness in ``workdir`` (it writes ``logs/run_evaluation/<run_id>/...`` there).

    Raises :class:`~tasks.swebench.environments.EnvironmentUnavailable` when no Docker engine answers.
    """
    from tasks.swebench.environments import DockerEnvironment

    DockerEnvironment("none", "none").check_engine()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(harness_argv(predictions_path, run_id, report_dir=workdir, **kwargs), cwd=workdir)
    if proc.returncode != 0:
        raise RuntimeError(f"swebench.harness.run_evaluation exited with {proc.returncode}; see {workdir}/logs")
    return workdir / "logs" / "run_evaluation" / run_id


def harness_reports(log_root: str | Path) -> dict[str, dict[str, Any]]:
    """instance_id -> report entry, from every ``report.json`` under a harness run's log dir."""
    out: dict[str, dict[str, Any]] = {}
    for path in Path(log_root).rglob("report.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        for iid, rep in data.items():
            if isinstance(rep, dict):
                out[iid] = rep
    return out


def grade_from_harness(key: str, patch: str, report: Mapping[str, Any] | None) -> Grade:
    if not patch.strip():
        return Grade(key=key, score=0.0, answer="", reason="no patch: the agent left the repository unchanged",
                     details={"category": NO_PATCH})
    if report is None:
        return Grade(key=key, score=0.0, reason="infrastructure error: the harness wrote no report",
                     details={"category": INFRA})
    if report.get("resolved"):
        return Grade(key=key, score=1.0, answer="resolved", reason="resolved (swebench harness)",
                     details={"category": RESOLVED, "report": dict(report)})
    if report.get("infra_failure"):
        cat, reason = INFRA, f"infrastructure error: {report.get('infra_failure_reason', '')}"
    elif not report.get("patch_successfully_applied"):
        cat, reason = NOT_APPLIED, "patch did not apply (or tests produced no parseable output)"
    else:
        cat, reason = TESTS_FAILED, "tests failed (swebench harness)"
    return Grade(key=key, score=0.0, answer="unresolved", reason=reason, details={"category": cat,
                                                                                    "report": dict(report)})


def grades_from_harness(attempts: Iterable[Attempt], log_root: str | Path) -> list[Grade]:
    """Grades for stored attempts from a harness run (write them with ``RunStore.rewrite_grades``)."""
    reports = harness_reports(log_root)
    return [grade_from_harness(a.key, str(a.info.get("patch") or ""), reports.get(a.sample_id))
            for a in attempts]


# ---------------------------------------------------------------------------------------------------------
# Why unresolved
# ---------------------------------------------------------------------------------------------------------

def category(attempt: Attempt, grade: Grade | None) -> str:
    """One of :data:`CATEGORIES` for a stored attempt and its grade."""
    if grade is not None and grade.details.get("category") in CATEGORIES:
        return grade.details["category"]
    if attempt.status == "error" or attempt.info.get("stop_reason") == "env_error":
        return INFRA
    if not str(attempt.info.get("patch") or "").strip():
        return NO_PATCH
    if grade is not None and grade.score >= 1.0:
        return RESOLVED
    if grade is None:
        return NOT_EVALUATED
    return TESTS_FAILED


def breakdown(attempts: Iterable[Attempt], grades: Mapping[str, Grade]) -> dict[str, dict[str, Any]]:
    """Per effort: attempts, resolved rate (mean score = pass@1 over repeats) and why-unresolved counts."""
    out: dict[str, dict[str, Any]] = {}
    for a in attempts:
        g = grades.get(a.key)
        row = out.setdefault(a.effort, {"attempts": 0, "resolved": 0, "resolved_rate": 0.0,
                                        "categories": {c: 0 for c in CATEGORIES}, "stop_reasons": {}})
        row["attempts"] += 1
        cat = category(a, g)
        row["categories"][cat] += 1
        row["resolved"] += int(cat == RESOLVED)
        sr = str(a.info.get("stop_reason") or a.status)
        row["stop_reasons"][sr] = row["stop_reasons"].get(sr, 0) + 1
    for row in out.values():
        row["resolved_rate"] = row["resolved"] / row["attempts"] if row["attempts"] else 0.0
    return out


def breakdown_from_runs(run_dirs: Iterable[str | Path]) -> dict[str, dict[str, Any]]:
    """:func:`breakdown` over the stores of one or more run directories (e.g. one per effort)."""
    from evals.store import RunStore

    merged: dict[str, dict[str, Any]] = {}
    for d in run_dirs:
        store = RunStore(d)
        for effort, row in breakdown(store.attempts().values(), store.grades()).items():
            acc = merged.setdefault(effort, {"attempts": 0, "resolved": 0, "resolved_rate": 0.0,
                                             "categories": {c: 0 for c in CATEGORIES}, "stop_reasons": {}})
            acc["attempts"] += row["attempts"]
            acc["resolved"] += row["resolved"]
            for c, n in row["categories"].items():
                acc["categories"][c] += n
            for r, n in row["stop_reasons"].items():
                acc["stop_reasons"][r] = acc["stop_reasons"].get(r, 0) + n
    for row in merged.values():
        row["resolved_rate"] = row["resolved"] / row["attempts"] if row["attempts"] else 0.0
    return merged


def main(argv: list[str] | None = None) -> int:
    """``python -m tasks.swebench.grading RUN_DIR...``: resolved rate and why-unresolved counts per effort."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("run_dirs", nargs="+")
    args = ap.parse_args(argv)
    print(json.dumps(breakdown_from_runs(args.run_dirs), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
