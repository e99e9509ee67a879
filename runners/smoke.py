"""The GPU smoke's verdict: one PASS / FAIL line with the report's path after ``experiment=gpu_smoke``.

PASS means the whole main-job path worked on this machine: the server started from its own venv and passed the
doctor's checks (``doctor: true`` in the preset; a failed check stops the run before sampling), every attempt
came back with an answer on the final channel (none errored, truncated or malformed), every answer was graded,
and the report was written. The score itself does not decide: 5 problems x 1 repeat cannot tell a good model
from a slightly worse one (the CI workflow's compare step gates the score). A FAIL exits 1.
"""

from __future__ import annotations

import atexit
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from evals.store import RunStore, StoreError

LABEL = "gpu_smoke"


def verdict(run_dir: Path, report: str | None) -> tuple[bool, str]:
    """(passed, the line to print) for the finished run stored in ``run_dir``."""
    store = RunStore(run_dir)
    try:
        manifest = store.read_manifest() or {}
        attempts = store.attempts(strict=False)
        grades = store.grades(strict=False)
    except StoreError as exc:
        return False, f"{LABEL}: FAIL: the run's store cannot be read ({exc}); run dir: {run_dir}"
    expected = int(manifest.get("n_samples") or 0) * int(manifest.get("repeats") or 0)
    statuses = Counter(a.status for a in attempts.values())
    answered = statuses.get("ok", 0)
    graded = [grades[k] for k in attempts if k in grades and grades[k].score is not None]
    correct = sum(1 for g in graded if g.score and g.score > 0)
    vllm = (manifest.get("versions") or {}).get("vllm_server") or "unknown"
    checks = Counter(str(c.get("status")) for c in manifest.get("doctor") or [])
    doctor = f", server checks {checks['PASS']} passed / {checks['WARN']} warned" if checks else ""
    where = f"report: {report}" if report else f"run dir: {run_dir} (no report)"
    problems = []
    if expected == 0 or len(attempts) < expected:
        problems.append(f"{len(attempts)} of {expected or '?'} attempts stored")
    if answered < len(attempts):
        others = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()) if status != "ok")
        problems.append(f"{len(attempts) - answered} without a final answer ({others})")
    if len(graded) < len(attempts):
        problems.append(f"{len(attempts) - len(graded)} not graded")
    if not report:
        problems.append("no report written")
    if problems:
        return False, f"{LABEL}: FAIL: {'; '.join(problems)}; {where}"
    return True, (f"{LABEL}: PASS: {answered}/{expected} attempts answered on the final channel and graded "
                  f"({correct} correct), vLLM {vllm}{doctor}; {where}")


class SmokeVerdict(Callback):
    """Prints the verdict when the job ends; if the run stops before that (a one-line error, exit 2), FAIL."""

    def __init__(self) -> None:
        self._run_dir: Path | None = None
        self._printed = False
        # from the start: a server check may stop the run before the job (and on_job_start) begins
        atexit.register(self._stopped_early)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._run_dir = Path(config.hydra.runtime.output_dir)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        run_dir = self._run_dir or Path(config.hydra.runtime.output_dir)
        if job_return.status == JobStatus.COMPLETED:
            report = run_dir / "report.md"  # the run's own report (a sweep's would be one level up)
            passed, line = verdict(run_dir, str(report) if report.exists() else None)
        else:
            error = job_return._return_value  # the exception; reading return_value would raise it
            passed, line = False, f"{LABEL}: FAIL: the run failed ({type(error).__name__}: {error}); run dir: {run_dir}"
        self._say(line)
        if not passed:
            raise SystemExit(1)  # Hydra turns a callback's exceptions into warnings; SystemExit still ends the run

    def _stopped_early(self) -> None:
        if not self._printed:
            where = f"; run dir: {self._run_dir}" if self._run_dir else ""
            self._say(f"{LABEL}: FAIL: the run stopped before its report (the error above){where}")

    def _say(self, line: str) -> None:
        self._printed = True
        print(line, file=sys.stdout, flush=True)
