"""SWE-Bench Verified: data, environments (Docker / local), the gpt-oss agent, predictions and grading."""

from __future__ import annotations

from typing import Any

__all__ = ["SweBenchTask"]


def __getattr__(name: str) -> Any:
    # Lazy, so ``python -m tasks.swebench.grading`` does not import its own module twice (through task.py).
    if name == "SweBenchTask":
        from tasks.swebench.task import SweBenchTask

        return SweBenchTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
