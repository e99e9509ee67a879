"""Benchmark of the full report over a big store (a script, not a pytest test).

    python tests/bench/bench_report.py [--attempts 100000] [--runs 10] [--text-chars 400] [--repeats 3]
                                       [--store DIR] [--keep]

Fabricates (once; reused from --store when it is there) a store of ``--attempts`` attempts spread over
``--runs`` runs (suites x efforts, 20 repeats each), then times the whole report from disk: report.md +
summary.csv + report.html (transcript viewer capped at the default) + the PNG plots, in a fresh process each
time (imports included, as a user running ``gptoss-eval-report DIR --html`` would see it). Prints the median
of ``--repeats`` timings and a breakdown of one in-process run. Target: under 10 s for 100,000 attempts.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.reports.fabricate import make_run  # noqa: E402

SUITES = [("aime2025", "aime2025"), ("aime2024", "aime2024"), ("tau_retail", "tau_retail"),
          ("swebench_verified", "swebench_verified")]
EFFORTS = [("low", 0.5, 1200.0), ("medium", 0.7, 4000.0), ("high", 0.85, 11000.0)]


def build_store(store: Path, attempts: int, runs: int, text_chars: int) -> None:
    repeats = 20
    per_run = attempts // runs
    n_samples = per_run // repeats
    made = 0
    for i in range(runs):
        suite, card_key = SUITES[(i // len(EFFORTS)) % len(SUITES)]
        effort, acc, tokens = EFFORTS[i % len(EFFORTS)]
        samples = n_samples if i < runs - 1 else (attempts - made) // repeats
        make_run(store / f"tag{i // (len(EFFORTS) * len(SUITES))}", suite=suite, card_key=card_key, effort=effort,
                 n_samples=samples, repeats=repeats, accuracy=acc, median_tokens=tokens, latency_s=tokens / 80,
                 wall_s=samples * repeats * tokens / 2500, text_chars=text_chars, tool_calls=suite != "aime2025",
                 seed=i)
        made += samples * repeats
    (store / ".complete").write_text(str(made))


def time_cli(store: Path, out: Path) -> float:
    # The fabricated runs have no suite_metrics.json, as a store from before the file: the console script
    # computes it with each suite's hook first (Tau, SWE-bench), so the timing includes that (the worst case;
    # a run written by this release has the file and skips it). Removed before each timing.
    for path in store.rglob("suite_metrics.json"):
        path.unlink()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "runners.suite_report", str(store), "--out", str(out), "--html"],
                          cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"report failed:\n{proc.stderr}")
    return elapsed


def breakdown(store: Path, out: Path) -> dict[str, float]:
    from reports.html import render_html, report_runs
    from reports.plots import write_plots
    from reports.summary import collect_runs, write_tables

    t = {}
    t0 = time.perf_counter()
    pairs = collect_runs([store])
    t["load + summarize"] = time.perf_counter() - t0
    rows = [row for _, row in pairs]
    t0 = time.perf_counter()
    write_tables(rows, out)
    t["report.md + summary.csv"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    runs = report_runs(pairs)
    plots = write_plots(rows, [r.run.frame for r in runs], out)
    t["plots (5 PNG)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    (out / "report.html").write_text(render_html(runs, plots), encoding="utf-8")
    t["report.html (cost, viewer, template)"] = time.perf_counter() - t0
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attempts", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--text-chars", type=int, default=400, help="analysis text per attempt (store size)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--store", type=Path, default=None, help="where the fabricated store lives (reused)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary store and reports")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_report_"))
    store = args.store or tmp / "store"
    if not (store / ".complete").exists():
        t0 = time.perf_counter()
        build_store(store, args.attempts, args.runs, args.text_chars)
        print(f"fabricated {args.attempts:,} attempts in {args.runs} runs in {time.perf_counter() - t0:.1f} s")
    size = sum(p.stat().st_size for p in store.rglob("*.jsonl")) / 1e6
    n = int((store / ".complete").read_text())
    print(f"store: {store} ({n:,} attempts, {size:.0f} MB of JSONL)")
    times = []
    for i in range(args.repeats):
        out = tmp / f"out{i}"
        times.append(time_cli(store, out))
        print(f"  run {i + 1}: {times[-1]:.2f} s (gptoss-eval-report --html, fresh process)")
    html = (tmp / "out0" / "report.html").stat().st_size / 1e6
    print(f"full report (md + csv + html + plots): median {statistics.median(times):.2f} s over {len(times)} runs; "
          f"report.html {html:.1f} MB")
    print("breakdown of one in-process run:")
    for step, secs in breakdown(store, tmp / "breakdown").items():
        print(f"  {step:<40} {secs:6.2f} s")
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
