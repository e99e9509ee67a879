"""The actions that read a store and send nothing: ``action=regrade`` (score stored outputs again) and
``action=report``; and what every run or regrade ends with (suite-level scoring, suite metrics, the report)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from evals.engine import regrade
from evals.store import RunStore
from evals.task import Task
from evals.types import Sample
from runners.errors import UserError

log = logging.getLogger("gptoss_eval")


def finish(task: Task, run_dir: Path) -> dict[str, Any]:
    """Suite-level scoring that needs every attempt (lm-eval's own metrics), then the run's report."""
    from reports.summary import write_reports
    from runners.suite_report import refresh_suite_metrics

    task.finalize(run_dir)
    refresh_suite_metrics(run_dir, type(task))  # the suite's own tables, as data the report renders
    return write_reports([run_dir], run_dir)


def check_regradable(store: RunStore) -> None:
    if not store.attempts_path.exists():
        raise UserError(f"nothing to regrade: {store.attempts_path} does not exist")


def regrade_run(task: Task, samples: list[Sample], store: RunStore) -> dict[str, Any]:
    """Grade every stored attempt again (no request is sent), then finish the run as a run would."""
    graded, changed = regrade(task, samples, store)
    log.info("regraded %d attempts in %s (%d scores changed); no request sent", graded, store.root, changed)
    return finish(task, store.root)


def report_run(run_dir: Path) -> dict[str, Any]:
    """``action=report``: the run's report from its store alone (suite metrics filled in for an older store)."""
    from reports.summary import write_reports
    from runners.suite_report import fill_missing

    fill_missing([run_dir])  # a store from before suite_metrics.json
    return write_reports([run_dir], run_dir)
