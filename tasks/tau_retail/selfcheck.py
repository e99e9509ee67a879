"""Replay every task's ground-truth actions and compare the final DB hash with ``gt_db_hashes.json``.

    python -m tasks.tau_retail.selfcheck [--data-dir DIR] [--splits test,dev,train]

Prints ``matched N / M`` per split and in total; exits 1 on any mismatch (listing the first few
mismatching task ids), 2 on a data error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from .data import INITIAL_DB_HASH, SPLITS, RetailData, TauRetailDataError, load_data
from .db import RetailDB
from .env import replay_actions


@dataclass
class SplitResult:
    split: str
    matched: int
    total: int
    mismatches: list[str] = field(default_factory=list)  # task ids "split/index"
    seconds: float = 0.0


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A rich progress bar when rich is importable and ``enabled``; otherwise a no-op."""
    try:
        if not enabled:
            raise ImportError
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:
        yield lambda _desc: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as prog:
        bar = prog.add_task("replaying", total=total)

        def advance(desc: str) -> None:
            prog.update(bar, advance=1, description=desc)

        yield advance


def check_split(data: RetailData, split: str, advance: Callable[[str], None] | None = None) -> SplitResult:
    """Replay all tasks of ``split`` on fresh DBs and compare with the stored target hashes."""
    expected = data.gt_db_hashes[split]
    tasks = data.tasks(split)
    if len(expected) != len(tasks):
        raise TauRetailDataError(
            f"gt_db_hashes.json has {len(expected)} hashes for {split!r} but there are {len(tasks)} tasks"
        )
    res = SplitResult(split, 0, len(tasks))
    t0 = time.perf_counter()
    for task, want in zip(tasks, expected, strict=True):
        db = RetailDB(data)
        replay_actions(db, task)
        if db.hash() == want:
            res.matched += 1
        else:
            res.mismatches.append(task.task_id)
        if advance is not None:
            advance(f"{split}")
    res.seconds = time.perf_counter() - t0
    return res


def run(
    data_dir: str | None = None, splits: Sequence[str] = SPLITS, progress: bool = True
) -> list[SplitResult]:
    """Run the selfcheck over ``splits``; returns one result per split."""
    data = load_data(data_dir)
    stored_initial = data.gt_db_hashes.get("initial_db_hash")
    if stored_initial not in (None, INITIAL_DB_HASH) or data.initial_hash != INITIAL_DB_HASH:
        raise TauRetailDataError(
            f"initial DB hash {data.initial_hash} / stored {stored_initial}, expected {INITIAL_DB_HASH}"
        )
    total = sum(len(data.tasks(s)) for s in splits)
    with _progress(total, progress and sys.stderr.isatty()) as advance:
        return [check_split(data, s, advance) for s in splits]


def comma_list(text: str) -> list[str]:
    """``"a, b,"`` -> ``["a", "b"]``."""
    return [s.strip() for s in text.split(",") if s.strip()]


def chosen(ap: argparse.ArgumentParser, text: str, choices: Collection[str], what: str) -> list[str]:
    """The comma-separated values of an option, each one of ``choices``; else a usage error (exit 2)."""
    picked = comma_list(text)
    bad = [c for c in picked if c not in choices]
    if bad or not picked:
        ap.error(f"unknown {what}(s) {bad}; choose from {', '.join(choices)}")
    return picked


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tasks.tau_retail.selfcheck", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--data-dir", default=None, help="data folder (default: $TAU_RETAIL_DATA)")
    ap.add_argument(
        "--splits", default=",".join(SPLITS), help="comma-separated splits (default: test,dev,train)"
    )
    ap.add_argument("--no-progress", action="store_true", help="disable the progress bar")
    args = ap.parse_args(argv)
    splits = chosen(ap, args.splits, SPLITS, "split")
    try:
        results = run(args.data_dir, splits, progress=not args.no_progress)
    except TauRetailDataError as e:
        print(f"data error: {e}", file=sys.stderr)
        return 2
    matched = sum(r.matched for r in results)
    total = sum(r.total for r in results)
    for r in results:
        print(f"{r.split:<6} matched {r.matched} / {r.total}  ({r.seconds:.2f}s)")
    print(f"total  matched {matched} / {total}")
    mismatches = [m for r in results for m in r.mismatches]
    if mismatches:
        shown = ", ".join(mismatches[:10])
        more = f" (+{len(mismatches) - 10} more)" if len(mismatches) > 10 else ""
        print(f"MISMATCH: {shown}{more}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
