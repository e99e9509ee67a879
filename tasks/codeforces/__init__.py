"""Codeforces-style evaluation: problems (loading/normalizing), judge (sandboxed compile and run), rating (Elo),
task (prompt, code extraction, grading) and metrics (the report section).

Exports are resolved lazily, so ``python -m tasks.codeforces.judge`` does not import the judge twice.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CodeforcesTask": "tasks.codeforces.task",
    "build_prompt": "tasks.codeforces.task",
    "extract_code": "tasks.codeforces.task",
    "codeforces_metrics": "tasks.codeforces.metrics",
    "codeforces_section": "tasks.codeforces.metrics",
    "is_codeforces_run": "tasks.codeforces.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
