"""Grading SWE-Bench attempts with swebench's own functions, and why-unresolved categories.

Two paths, same verdicts:

- without Docker: the task ran the instance's ``eval_script`` in a fresh environment with the model patch
  applied (see :func:`run_eval_script`) and stored the log; :func:`report_from_log` feeds it to swebench's
  ``make_test_spec`` / ``get_logs_eval`` / ``get_eval_report``;
- with Docker: ``swebench.harness.run_evaluation`` on a predictions file (:func:`run_harness`), then
  :func:`grades_from_harness` turns its ``report.json`` files into grades.

Functions only; the command line (``python -m tasks.swebench.grading``) is ``__main__.py`` beside this file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
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
        reason = _tests_failed_reason(report)
    return Grade(key=key, score=0.0, answer="unresolved", reason=reason, details=details)


# ---------------------------------------------------------------------------------------------------------
# Docker: the official harness
# ---------------------------------------------------------------------------------------------------------

NO_DOCKER_HINT = ("grade without Docker from saved harness logs (--from-logs) or stored eval-script logs "
                  "(--stored)")


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

    DockerEnvironment("none", "none").check_engine(NO_DOCKER_HINT)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(harness_argv(predictions_path, run_id, report_dir=workdir, **kwargs), cwd=workdir)
    if proc.returncode != 0:
        raise RuntimeError(f"swebench.harness.run_evaluation exited with {proc.returncode}; see {workdir}/logs")
    return workdir / "logs" / "run_evaluation" / run_id


def harness_reports(log_root: str | Path) -> dict[str, dict[str, Any]]:
    """instance_id -> report entry, from every ``report.json`` under a harness run's log dir."""
    out: dict[str, dict[str, Any]] = {}
    for path in Path(log_root).rglob(_HARNESS_REPORT):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        for iid, rep in data.items():
            if isinstance(rep, dict):
                out[iid] = rep
    return out


# What the harness leaves per instance in logs/run_evaluation/<run_id>/<model_name_or_path>/<instance_id>/:
# report.json (only when the tests ran to the end), test_output.txt (the eval script's output, with
# "Timeout error: N seconds exceeded." appended on a timeout) and run_instance.log (">>>>> Patch Apply
# Failed" when no git apply / patch variant took). Names as swebench 5.0.2 writes them.
_HARNESS_REPORT, _HARNESS_TEST_OUTPUT, _HARNESS_INSTANCE_LOG = "report.json", "test_output.txt", "run_instance.log"
_HARNESS_TIMEOUT = re.compile(r"Timeout error: \d+ seconds exceeded")


def _tests_failed_reason(report: Mapping[str, Any]) -> str:
    st = report.get("tests_status", {})
    f2p = st.get("FAIL_TO_PASS", {}).get("failure", [])
    p2p = st.get("PASS_TO_PASS", {}).get("failure", [])
    reason = f"tests failed: {len(f2p)} FAIL_TO_PASS and {len(p2p)} PASS_TO_PASS tests not passing"
    if f2p or p2p:
        reason += f" (e.g. {(f2p or p2p)[0]})"
    return reason


def grade_from_harness(key: str, patch: str, report: Mapping[str, Any] | None, *,
                       instance_log: str = "", test_output: str = "", source: str = "swebench harness") -> Grade:
    """The grade of one attempt from what the Docker harness left for its instance.

    ``report``: the instance's entry of ``report.json`` (None when the harness wrote none);
    ``instance_log`` / ``test_output``: the texts of ``run_instance.log`` / ``test_output.txt`` ("" if absent).
    """
    if not patch.strip():
        return Grade(key=key, score=0.0, answer="", reason="no patch: the agent left the repository unchanged",
                     details={"category": NO_PATCH})
    c = _constants()
    base = {"source": source}
    if c.APPLY_PATCH_FAIL in instance_log:
        return Grade(key=key, score=0.0, answer="unresolved", reason="patch did not apply (swebench harness)",
                     details={**base, "category": NOT_APPLIED})
    if _HARNESS_TIMEOUT.search(test_output):  # the harness gives a timed-out run no report: unresolved
        return Grade(key=key, score=0.0, answer="unresolved", reason="tests timed out (the harness's --timeout)",
                     details={**base, "category": TESTS_FAILED})
    if report is None:
        from swebench.harness.infra_failure import classify_text

        found = classify_text(f"{test_output}\n{instance_log}")
        why = f" ({found[0]})" if found else ""
        return Grade(key=key, score=0.0, reason=f"infrastructure error: the harness wrote no report{why}",
                     details={**base, "category": INFRA})
    details = {**base, "report": dict(report)}
    if report.get("resolved"):
        return Grade(key=key, score=1.0, answer="resolved", reason=f"resolved ({source})",
                     details={**details, "category": RESOLVED})
    if report.get("infra_failure"):
        cat, reason = INFRA, f"infrastructure error: {report.get('infra_failure_reason', '')}"
    elif not report.get("patch_successfully_applied"):
        cat, reason = TESTS_FAILED, "no test results could be parsed from the log (tests did not run)"
    else:
        cat, reason = TESTS_FAILED, _tests_failed_reason(report)
    return Grade(key=key, score=0.0, answer="unresolved", reason=reason, details={**details, "category": cat})


def _not_run_grade(attempt: Attempt) -> Grade:
    """An attempt without an episode (the environment or the model request failed): the engine's reason."""
    return Grade(key=attempt.key, score=0.0, reason=f"{attempt.status}: {attempt.error or ''}".strip(": "),
                 details={"category": INFRA if attempt.status == "error" else NO_PATCH})


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _instance_dir(log_root: Path, model_name: str, instance_id: str) -> Path | None:
    """The instance's log dir: under the predictions' model name, else the only model dir that has it."""
    d = log_root / model_name.replace("/", "__") / instance_id
    if d.is_dir():
        return d
    found = [p for p in log_root.glob(f"*/{instance_id}") if p.is_dir()]
    return found[0] if len(found) == 1 else None


def grade_attempt_from_harness(attempt: Attempt, log_root: str | Path, *, model_name: str | None = None,
                               row: Mapping[str, Any] | None = None) -> Grade:
    """One stored attempt graded from a harness run's logs.

    With ``row`` (the instance's dataset row) the saved ``test_output.txt`` is re-graded through swebench's
    own ``make_test_spec`` / ``get_eval_report`` (no Docker); without it, the harness's ``report.json`` is read.
    """
    if attempt.status != "ok":
        return _not_run_grade(attempt)
    patch = str(attempt.info.get("patch") or attempt.output.get("patch") or "")
    name = model_name or f"{attempt.model}__{attempt.effort}"  # what predictions.py writes
    d = _instance_dir(Path(log_root), name, attempt.sample_id) if patch.strip() else None
    if d is None:
        return grade_from_harness(attempt.key, patch, None)
    test_output = _read(d / _HARNESS_TEST_OUTPUT)
    report = None
    source = "swebench harness"
    if row is not None and test_output and not _HARNESS_TIMEOUT.search(test_output):
        report = report_from_log(row, patch, test_output, name)
        source = "swebench get_eval_report on the harness's test_output.txt"
    elif (d / _HARNESS_REPORT).is_file():
        try:
            report = json.loads(_read(d / _HARNESS_REPORT)).get(attempt.sample_id)
        except (json.JSONDecodeError, AttributeError):
            report = None
    return grade_from_harness(attempt.key, patch, report, instance_log=_read(d / _HARNESS_INSTANCE_LOG),
                              test_output=test_output, source=source)


def grades_from_harness(attempts: Iterable[Attempt], log_root: str | Path, *, model_name: str | None = None,
                        rows: Mapping[str, Mapping[str, Any]] | None = None) -> list[Grade]:
    """Grades for stored attempts from a harness run (write them with ``RunStore.rewrite_grades``).

    ``rows`` (instance_id -> dataset row): re-grade the saved test logs instead of reading ``report.json``.
    """
    return [grade_attempt_from_harness(a, log_root, model_name=model_name,
                                       row=(rows or {}).get(a.sample_id) if rows is not None else None)
            for a in attempts]


# ---------------------------------------------------------------------------------------------------------
# A stored run graded after the fact (the user-facing path: ``python -m tasks.swebench.grading RUN_DIR ...``)
# ---------------------------------------------------------------------------------------------------------

HARNESS_WORKDIR = "swebench_harness"  # under the run dir: predictions, logs/run_evaluation/<run_id>/, reports


def default_run_id(manifest: Mapping[str, Any]) -> str:
    """A harness run id from the run's manifest (swebench puts it into container names: keep it name-safe)."""
    raw = ".".join(str(manifest.get(k) or "") for k in ("model", "suite", "effort", "settings_hash"))
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"gptoss.{raw}").strip(".-")


def repeat_run_id(run_id: str, repeat: int, repeats: list[int]) -> str:
    """swebench keys predictions by instance id: every repeat is a harness run of its own."""
    return run_id if repeats == [0] else f"{run_id}.r{repeat}"


def dataset_of(manifest: Mapping[str, Any], dataset: str | None = None,
               split: str | None = None) -> tuple[str, str]:
    """(dataset, split) the run used: ``dataset`` if given, else the run's ``suite.path`` or hub id."""
    suite = (manifest.get("config") or {}).get("suite") or {}
    return (str(dataset or suite.get("path") or suite.get("hf_id") or "SWE-bench/SWE-bench_Verified"),
            str(split or suite.get("split") or "test"))


def rows_of(manifest: Mapping[str, Any], ids: Iterable[str], dataset: str | None = None,
            split: str | None = None) -> dict[str, dict[str, Any]]:
    """instance_id -> dataset row for ``ids`` (what re-grading a log with swebench's functions needs)."""
    from tasks.swebench.data import load_instances

    name, split = dataset_of(manifest, dataset, split)
    local = Path(name).expanduser().is_file() or name.endswith((".jsonl", ".json", ".parquet"))
    rows = load_instances(name if local else None, name, split, ids=sorted(set(ids)))
    return {r["instance_id"]: r for r in rows}


def _open_run(run_dir: str | Path) -> tuple[Any, dict[str, Any], list[Attempt]]:
    from evals.store import RunStore

    store = RunStore(run_dir)
    manifest = store.read_manifest()
    if manifest is None:
        raise FileNotFoundError(f"{run_dir} is not a run directory (no manifest.json)")
    attempts = list(store.attempts().values())
    if not attempts:
        raise FileNotFoundError(f"{run_dir} holds no attempts (attempts.jsonl is missing or empty)")
    return store, manifest, attempts


def _write_back(store: Any, manifest: dict[str, Any], attempts: list[Attempt], new: dict[str, Grade],
                record: dict[str, Any]) -> dict[str, Any]:
    """Replace the grades of ``attempts`` that ``new`` covers (others keep theirs), note how in the manifest."""
    old = store.grades()
    grades = [new.get(a.key) or old.get(a.key) for a in attempts]
    store.rewrite_grades([g for g in grades if g is not None])
    from importlib import metadata

    try:
        record["swebench"] = metadata.version("swebench")
    except metadata.PackageNotFoundError:
        pass
    manifest["swebench_grading"] = {**record, "graded_at": time.time()}
    store.write_manifest(manifest)
    resolved = sum(1 for g in new.values() if g.score >= 1.0)
    changed = sum(1 for k, g in new.items() if k not in old or old[k].score != g.score)
    return {"graded": len(new), "resolved": resolved, "changed": changed, **record}


def grade_run_docker(run_dir: str | Path, *, run_id: str | None = None, dataset: str | None = None,
                     split: str | None = None, max_workers: int = 4, timeout: int = 1800,
                     workdir: str | Path | None = None, dry_run: bool = False,
                     harness: Callable[..., Path] | None = None) -> dict[str, Any]:
    """Predictions -> ``swebench.harness.run_evaluation`` (Docker) -> the run's grades, rewritten in its store.

    One harness run per repeat (``<run_id>.r<N>`` when there are several). ``dry_run``: write the predictions
    and return the command lines without running anything. Rerunning resumes: the harness skips instances
    that already have a report. Raises :class:`~tasks.swebench.environments.EnvironmentUnavailable` before
    anything is written when no Docker engine answers.
    """
    from tasks.swebench.environments import DockerEnvironment
    from tasks.swebench.predictions import write_predictions

    store, manifest, attempts = _open_run(run_dir)
    if harness is None and not dry_run:
        DockerEnvironment("none", "none").check_engine(NO_DOCKER_HINT)
    run_id = run_id or default_run_id(manifest)
    name, split = dataset_of(manifest, dataset, split)
    workdir = Path(workdir or Path(run_dir) / HARNESS_WORKDIR).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    repeats = sorted({a.repeat for a in attempts})
    argvs: list[list[str]] = []
    new: dict[str, Grade] = {}
    run_ids = []
    for r in repeats:
        rid = repeat_run_id(run_id, r, repeats)
        run_ids.append(rid)
        preds = workdir / f"predictions.{rid}.jsonl"
        write_predictions(run_dir, preds, repeat=r)
        ids = sorted({a.sample_id for a in attempts if a.repeat == r})
        kwargs = {"dataset": name, "split": split, "max_workers": max_workers, "timeout": timeout,
                  "instance_ids": ids}
        argvs.append(harness_argv(preds, rid, report_dir=workdir, **kwargs))
        if dry_run:
            continue
        log_root = (harness or run_harness)(preds, rid, workdir, **kwargs)
        for g in grades_from_harness([a for a in attempts if a.repeat == r], log_root):
            new[g.key] = g
    record = {"method": "swebench.harness.run_evaluation (Docker)", "run_ids": run_ids, "dataset": name,
              "split": split, "max_workers": max_workers, "timeout": timeout, "workdir": str(workdir)}
    if dry_run:
        return {"graded": 0, "argv": argvs, **record}
    return _write_back(store, manifest, attempts, new, record) | {"argv": argvs}


def grade_run_from_logs(run_dir: str | Path, *, log_dir: str | Path | None = None, run_id: str | None = None,
                        dataset: str | None = None, split: str | None = None,
                        use_reports: bool = False) -> dict[str, Any]:
    """No Docker: grade a run from a finished harness run's saved logs and rewrite its grades.

    The saved ``test_output.txt`` of every instance is re-graded through swebench's own ``make_test_spec`` /
    ``get_eval_report`` (needs the dataset rows); ``use_reports``: read the harness's ``report.json``
    instead. ``log_dir``: the harness's ``logs/run_evaluation/<run_id>`` (default: the one
    ``grade_run_docker`` used for this run dir); one per repeat, as ``<run_id>.r<N>``, when there are several.
    """
    store, manifest, attempts = _open_run(run_dir)
    run_id = run_id or default_run_id(manifest)
    repeats = sorted({a.repeat for a in attempts})
    rows = None if use_reports else rows_of(manifest, {a.sample_id for a in attempts}, dataset, split)
    new: dict[str, Grade] = {}
    roots = []
    for r in repeats:
        rid = repeat_run_id(run_id, r, repeats)
        if log_dir is not None:
            root = Path(log_dir) if repeats == [0] else Path(log_dir).parent / rid
        else:
            root = Path(run_dir) / HARNESS_WORKDIR / "logs" / "run_evaluation" / rid
        if not root.is_dir():
            raise FileNotFoundError(f"no harness logs at {root} (pass the harness's logs/run_evaluation/<run_id> "
                                    f"directory)")
        roots.append(str(root))
        for g in grades_from_harness([a for a in attempts if a.repeat == r], root, rows=rows):
            new[g.key] = g
    name, split = dataset_of(manifest, dataset, split)
    record = {"method": "swebench harness reports" if use_reports else
              "swebench get_eval_report on saved harness test logs (no Docker)",
              "run_ids": [repeat_run_id(run_id, r, repeats) for r in repeats], "log_dirs": roots,
              "dataset": name, "split": split}
    return _write_back(store, manifest, attempts, new, record)


def grade_run_stored(run_dir: str | Path, *, dataset: str | None = None,
                     split: str | None = None) -> dict[str, Any]:
    """No Docker: re-grade the eval-script logs a local-environment run stored in its attempts
    (swebench's ``get_eval_report`` again; the same as ``gptoss-eval ... action=regrade``)."""
    store, manifest, attempts = _open_run(run_dir)
    rows = rows_of(manifest, {a.sample_id for a in attempts}, dataset, split)
    new: dict[str, Grade] = {}
    for a in attempts:
        if a.status != "ok":
            new[a.key] = _not_run_grade(a)
            continue
        patch = str(a.info.get("patch") or a.output.get("patch") or "")
        new[a.key] = grade_from_eval(a.key, rows[a.sample_id], patch, a.info.get("eval"), a.model)
    name, split = dataset_of(manifest, dataset, split)
    return _write_back(store, manifest, attempts, new, {"method": "swebench get_eval_report on the stored "
                                                                  "eval-script logs (no Docker)",
                                                        "dataset": name, "split": split})


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
