"""Benchmark of the tau-bench retail DB hash and gold replays (a script, not a pytest test).

    python tests/bench/bench_tau_hash.py [--data-dir DIR] [--repeats N]

Reports medians over many repetitions of:
  * the DB hash per step: after a read-only step (cached), after a write step (incremental re-render of
    the written entries), and the from-scratch reference hash (spec section 6) for comparison;
  * reset (fresh copy-on-write DB);
  * a full gold replay per task (fresh DB + all ground-truth actions + final hash), per split.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tasks.tau_retail import SPLITS, RetailDB, RetailEnv, canonical_hash, load_data, replay_actions  # noqa: E402
from tasks.tau_retail.data import DB_SECTIONS  # noqa: E402


def _median_us(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6, min(times) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data-dir", default=None, help="data folder (default: $TAU_RETAIL_DATA or the shared copy)"
    )
    ap.add_argument("--repeats", type=int, default=300)
    args = ap.parse_args()
    data_dir = args.data_dir
    if data_dir is None:
        import os

        data_dir = os.environ.get("TAU_RETAIL_DATA", "/work/shared/data/tau_bench/v1_retail")

    t0 = time.perf_counter()
    data = load_data(data_dir)
    print(
        f"first load (parse + verify + pristine canonical render): {(time.perf_counter() - t0) * 1e3:.1f} ms"
    )
    n = args.repeats
    rows: list[tuple[str, float, float]] = []

    env = RetailEnv(data=data)
    env.reset(0)
    rows.append(("hash after a read step (cached)", *_median_us(env.db_hash, n)))

    # a write step followed by the hash: alternate two payment methods on one pending order
    oid = next(
        o for o, v in data.orders.items() if v["status"] == "pending" and len(v["payment_history"]) == 1
    )
    order = data.orders[oid]
    pms = list(data.users[order["user_id"]]["payment_methods"])

    def write_then_hash() -> None:
        db = env.db
        db.order_for_write(oid)["address"] = {"zip": str(time.perf_counter_ns())}
        db.hash()

    rows.append(("hash after a write step (1 order dirty)", *_median_us(write_then_hash, n)))

    def write_many_then_hash() -> None:
        db = env.db
        for o in list(data.orders)[:20]:
            db.order_for_write(o)["address"] = {"zip": str(time.perf_counter_ns())}
        db.hash()

    env.reset(0)
    rows.append(("hash after writes to 20 orders", *_median_us(write_many_then_hash, max(20, n // 5))))

    def full_reference() -> None:
        canonical_hash({s: env.db[s] for s in DB_SECTIONS})

    rows.append(("reference full hash (from scratch)", *_median_us(full_reference, max(5, n // 30))))
    rows.append(("reset (fresh copy-on-write DB)", *_median_us(lambda: env.reset(1), n)))
    del pms

    for split in SPLITS:
        tasks = data.tasks(split)
        per_task = []
        for task in tasks:
            t = time.perf_counter()
            db = RetailDB(data)
            replay_actions(db, task)
            db.hash()
            per_task.append(time.perf_counter() - t)
        per_task.sort()
        rows.append(
            (
                f"gold replay per task [{split}, {len(tasks)} tasks, total {sum(per_task) * 1e3:.0f} ms]",
                statistics.median(per_task) * 1e6,
                per_task[0] * 1e6,
            )
        )
        print(f"  {split}: max {per_task[-1] * 1e3:.2f} ms/task")

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'median':>12}  {'min':>12}")
    for name, med, mn in rows:
        print(f"{name:<{width}}  {med:>9.1f} us  {mn:>9.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
