"""The report section for lm-eval runs: lm-eval's own metrics beside our pass@1 (reads only run dirs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tasks.lm_eval_bridge.task import SUMMARY


def _fmt(v: Any, scale: float = 100.0) -> str:
    return "-" if v is None else f"{scale * float(v):.1f}"


def lm_eval_section(run_dirs: Any) -> str:
    """Markdown: one row per lm-eval task x metric x filter for every run under ``run_dirs`` ("" if none).

    Values come from ``lm_eval_summary.json`` (written by ``LmEvalTask.finalize``), shown x100 as lm-eval
    computed them (its default filters score the first repeat of each document only; the main table's pass@1
    averages every repeat of the primary metric).
    """
    from evals.store import RunStore, find_runs

    lines: list[str] = []
    for run_dir in sorted({p for root in run_dirs for p in find_runs(root)}):
        path = Path(run_dir) / SUMMARY
        if not path.exists():
            continue
        manifest = RunStore(run_dir).read_manifest() or {}
        try:
            rows = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if not lines:
            lines = ["## lm-evaluation-harness metrics", "",
                     "| suite | model | effort | lm-eval task | metric | filter | value | stderr | n |",
                     "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {manifest.get('suite')} | {manifest.get('model')} | {manifest.get('effort')} "
                         f"| {r['task']} | {r['metric']} | {r['filter']} | {_fmt(r['value'])} "
                         f"| {_fmt(r['stderr'])} | {r['n'] if r['n'] is not None else '-'} |")
    return "\n".join(lines) + "\n" if lines else ""
