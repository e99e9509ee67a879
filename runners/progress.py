"""The live progress line of a run: a bar with accuracy so far and output tokens/s."""

from __future__ import annotations

from evals.engine import RunStats


class LiveProgress:
    """A rich progress bar with live accuracy and output tokens/s."""

    def __init__(self, label: str, total: int, done: int, enabled: bool) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("acc {task.fields[acc]}"), TextColumn("{task.fields[tps]} tok/s"),
                                 TimeElapsedColumn(), TimeRemainingColumn(), disable=not enabled, transient=False)
        self.task_id = self.progress.add_task(label, total=total, completed=done, acc="-", tps="-")
        self.enabled = enabled

    def __enter__(self) -> LiveProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def update(self, stats: RunStats) -> None:
        if not self.enabled:  # progress=false: no formatting per attempt for a bar nobody sees
            return
        tps = stats.completion_tokens / stats.elapsed_s if stats.elapsed_s else 0.0
        self.progress.update(self.task_id, completed=stats.done_before + stats.done_now,
                             acc=f"{100 * stats.accuracy:.1f}%", tps=f"{tps:,.0f}")
