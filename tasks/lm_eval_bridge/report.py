"""The report section for lm-eval runs: lm-eval's own metrics beside our pass@1 (reads only run dirs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SUMMARY = "lm_eval_summary.json"  # lm-eval's metrics of a run, written by LmEvalTask.finalize


def _fmt(v: Any, scale: float = 100.0) -> str:
    return "-" if v is None else f"{scale * float(v):.1f}"


def lm_eval_sections(run_dir: str | Path) -> list[dict[str, Any]]:
    """The run's rows of the lm-eval metrics table: one per lm-eval task x metric x filter ([] without
    ``lm_eval_summary.json``, written by ``LmEvalTask.finalize``).

    Values are shown x100 as lm-eval computed them (its default filters score the first repeat of each document
    only; the main table's pass@1 averages every repeat of the primary metric).
    """
    from evals.store import RunStore
    from evals.suite_metrics import section, table

    path = Path(run_dir) / SUMMARY
    if not path.exists():
        return []
    manifest = RunStore(run_dir).read_manifest() or {}
    try:
        rows = json.loads(path.read_text())
    except json.JSONDecodeError:
        return []
    cells = [[manifest.get("suite"), manifest.get("model"), manifest.get("effort"), r["task"], r["metric"],
              r["filter"], _fmt(r["value"]), _fmt(r["stderr"]), r["n"] if r["n"] is not None else "-"] for r in rows]
    return [section("lm-evaluation-harness metrics", tables=[table(
        ["suite", "model", "effort", "lm-eval task", "metric", "filter", "value", "stderr", "n"], cells)])]


def lm_eval_section(run_dirs: Any) -> str:
    """Markdown of :func:`lm_eval_sections` for every run under ``run_dirs`` ("" if none), as the report shows it."""
    from evals.store import find_runs
    from evals.suite_metrics import merge_sections, to_markdown

    return to_markdown(merge_sections(lm_eval_sections(d) for d in sorted({p for root in run_dirs
                                                                          for p in find_runs(root)})))
