"""Suite metrics for the report: the task's ``suite_metrics`` hook, written into each run dir.

Reports read stores only and never import a suite; this module is where a run dir meets its task class
(``manifest.json``: ``task_class``, or for older stores the suite config's ``_target_``). After a run or a
regrade the runner refreshes ``suite_metrics.json``; the report command fills it in for stores written before
the file existed, so every old run still gets its suite's section.

``gptoss-eval-report`` (``main``) is ``reports.cli`` after that step.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evals.store import RunStore, find_runs
from evals.suite_metrics import SUITE_METRICS, write_suite_metrics
from evals.task import Task

log = logging.getLogger(__name__)


def class_path(task_cls: type) -> str:
    return f"{task_cls.__module__}.{task_cls.__qualname__}"


def task_class(manifest: dict[str, Any]) -> type[Task] | None:
    """The run's task class from its manifest; None when it names none or it cannot be imported."""
    target = (manifest.get("task_class") or (((manifest.get("config") or {}).get("suite") or {}).get("_target_"))
              or _conf_target(manifest.get("suite")))
    if not isinstance(target, str) or "." not in target:
        return None
    module, _, name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        log.warning("%s: no suite section (task %s cannot be imported: %s)", manifest.get("run_id"), target, exc)
        return None
    return cls if isinstance(cls, type) and issubclass(cls, Task) else None


def _conf_target(suite: Any) -> str | None:
    """The task class a suite's config names (``conf/suite/<suite>.yaml``), for a manifest that names none."""
    from omegaconf import OmegaConf

    import conf

    path = Path(conf.__file__).parent / "suite" / f"{suite}.yaml"
    if not isinstance(suite, str) or not suite.replace("_", "").replace("-", "").isalnum() or not path.exists():
        return None
    node = OmegaConf.to_container(OmegaConf.load(path))
    target = node.get("_target_")
    if isinstance(target, str):
        return target
    for parent in node.get("defaults") or []:  # e.g. gpqa_diamond is lm_eval with other tasks
        if isinstance(parent, str) and parent != "_self_":
            return _conf_target(parent)
    return None


def refresh_suite_metrics(run_dir: str | Path, task_cls: type[Task] | None = None) -> Path | None:
    """Compute the run's suite sections with its task's hook and write ``suite_metrics.json``."""
    manifest = RunStore(run_dir).read_manifest() or {}
    task_cls = task_cls or task_class(manifest)
    if task_cls is None:
        return None
    return write_suite_metrics(run_dir, str(manifest.get("suite") or ""), task_cls.suite_metrics(Path(run_dir)))


def refresh_report(run_dir: str | Path) -> Path:
    """After a change to a run's grades outside a run (e.g. SWE-bench graded on a Docker host): its suite
    metrics again, then its report.md; returns the report's path."""
    from reports.summary import write_reports

    refresh_suite_metrics(run_dir)
    return write_reports([run_dir], run_dir)["markdown"]


def fill_missing(roots: Iterable[str | Path]) -> list[Path]:
    """Write ``suite_metrics.json`` for every run under ``roots`` that has none (stores from older releases)."""
    written = []
    for run_dir in sorted({p for root in roots for p in find_runs(root)}):
        if not (Path(run_dir) / SUITE_METRICS).exists():
            path = refresh_suite_metrics(run_dir)
            if path is not None:
                written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``gptoss-eval-report``: fill in missing suite metrics, then ``reports.cli``."""
    from reports.cli import main as report_main

    args = sys.argv[1:] if argv is None else argv
    dirs = [a for a in args if not a.startswith("-")]
    try:
        fill_missing([d for d in dirs if Path(d).is_dir()])
    except (OSError, ValueError) as exc:
        print(f"gptoss-eval-report: error: {exc}", file=sys.stderr)
        return 2
    return report_main(argv)


if __name__ == "__main__":
    sys.exit(main())
