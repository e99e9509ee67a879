"""Replay the gold actions of every tau2 retail task through our environment and score them as an agent.

    python -m tasks.tau2_retail.selfcheck --data-dir DIR [--release current,2025-06] [--splits base,train,test]

For every task: each gold action's tool must exist and its arguments must validate against the tool's
declared parameters; the gold actions are run as if an agent had made them, and the DB component of the
reward (the agent's WRITE calls replayed on a fresh DB vs every gold action replayed on another) must be 1.
Gold actions whose observation starts with ``Error:`` are counted and listed: they are expected (failed
lookups, refused writes). A refused gold WRITE means the gold state is not the one the task's author
described; tau2 logs it and compares the hashes all the same, and so do we (such tasks are listed).

tau2 publishes no reference DB hashes, so this proves that our tools accept every gold call, that the
replay is deterministic and that the reward machinery gives a gold trajectory full DB credit. It does not
prove our tools equal tau2's byte for byte (the unit tests check the spec's semantics and error strings).

Prints ``matched N / M`` per release x split; exits 1 on any failure, 2 on a data error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from tasks.tau_retail.selfcheck import chosen, comma_list

from .data import RELEASES, Tau2Data, Tau2RetailDataError, load_data
from .env import Tau2Env, gold_state
from .tools import TOOLS, validate_arguments


@dataclass
class SplitResult:
    release: str
    split: str
    matched: int = 0
    total: int = 0
    failures: list[str] = field(default_factory=list)  # "task 7: why"
    error_actions: list[str] = field(default_factory=list)  # "task 7 7_3 get_order_details: Error: ..."
    refused_gold_writes: list[str] = field(default_factory=list)  # tasks whose gold WRITE failed


def check_task(data: Tau2Data, task) -> tuple[bool, list[str], list[str]]:  # noqa: ANN001 - Tau2Task
    """``(db reward 1, problems, Error: observations)`` for one task's gold actions."""
    problems: list[str] = []
    for a in task.actions:
        if a.name not in TOOLS:
            problems.append(f"gold action {a.action_id} names unknown tool {a.name!r}")
            continue
        try:
            validate_arguments(a.name, dict(a.arguments))
        except ValidationError as e:
            problems.append(f"gold action {a.action_id} {a.name}: arguments do not validate: "
                            f"{' '.join(str(e).split())}")
    env = Tau2Env(data, task)
    errors = []
    for a in task.actions:
        obs = env.step_tool(a.name, dict(a.arguments))
        if obs.startswith("Error:"):
            errors.append(f"task {task.id} {a.action_id} {a.name}: {obs.splitlines()[0]}")
    _, gold_errors = gold_state(data, task)
    info = env.reward([])
    db_ok = info.db_match and (info.components.get("DB", 1.0) == 1.0)
    if not db_ok:
        problems.append(f"DB hash {info.agent_hash[:12]} != gold {info.gold_hash[:12]}")
    return not problems, problems, errors


def run(data_dir: str | None, releases: Sequence[str], splits: Sequence[str] | None = None,
        verify: bool = True) -> list[SplitResult]:
    data = load_data(data_dir, verify=verify)
    out = []
    for release in releases:
        tasks = {t.id: t for t in data.tasks(release)}
        for split in splits or sorted(data.splits):
            if split not in data.splits:
                raise Tau2RetailDataError(f"split {split!r} not in split_tasks.json ({sorted(data.splits)})")
            res = SplitResult(release, split)
            for tid in data.splits[split]:
                task = tasks.get(tid)
                res.total += 1
                if task is None:
                    res.failures.append(f"task {tid}: not in {RELEASES[release]}")
                    continue
                ok, problems, errors = check_task(data, task)
                res.matched += ok
                res.failures += [f"task {tid}: {p}" for p in problems]
                res.error_actions += errors
                if gold_state(data, task)[1]:
                    res.refused_gold_writes.append(tid)
            out.append(res)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.tau2_retail.selfcheck", description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help="data folder or tau2-bench checkout (default: $TAU2_RETAIL_DATA)")
    ap.add_argument("--release", default=",".join(RELEASES), help="comma-separated: current, 2025-06 (default: both)")
    ap.add_argument("--splits", default=None, help="comma-separated splits (default: every split of split_tasks.json)")
    ap.add_argument("--no-verify", action="store_true", help="accept files that differ from the pinned versions")
    ap.add_argument("--verbose", action="store_true", help="list every gold action that returns Error:")
    args = ap.parse_args(argv)
    releases = chosen(ap, args.release, RELEASES, "release")
    splits = comma_list(args.splits) if args.splits else None
    try:
        results = run(args.data_dir, releases, splits, verify=not args.no_verify)
    except Tau2RetailDataError as e:
        print(f"data error: {e}", file=sys.stderr)
        return 2
    for r in results:
        print(f"{r.release:<8} {r.split:<6} matched {r.matched} / {r.total}  (gold actions returning Error: "
              f"{len(r.error_actions)}; tasks with a refused gold write: {len(r.refused_gold_writes)}"
              + (f" {r.refused_gold_writes}" if r.refused_gold_writes else "") + ")")
        if args.verbose:
            for e in r.error_actions:
                print(f"    {e}")
    failures = [f"{r.release}/{r.split} {f}" for r in results for f in r.failures]
    for f in failures[:20]:
        print(f"FAIL {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
