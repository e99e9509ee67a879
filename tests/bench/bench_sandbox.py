"""Sandbox and judge throughput on this machine (a script, not a pytest test).

    python tests/bench/bench_sandbox.py [--runs 200] [--rounds 5] [--tests 200]

Prints, for a trivial C++ program (read two numbers, print the sum), medians of N interleaved runs:
- per-test cost in the judge's path, a long-lived sandbox lane (:class:`evals.sandbox.SandboxLane`, one bwrap
  start-up amortized over the runs), against a bare ``subprocess.run`` of the same binary, side by side: the ratio
  is the README figure (target <= 1.5x);
- a one-shot sandbox per run (:func:`evals.sandbox.run_sandboxed`, still used for compiles) and bare
  ``bwrap --unshare-all true``, for reference;
then judged tests per second with 1 and all workers, and C++ compile time with and without the precompiled header.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from evals.sandbox import SandboxLane, run_sandboxed  # noqa: E402
from tasks.codeforces import judge as J  # noqa: E402
from tasks.codeforces.problems import Problem  # noqa: E402

TRIVIAL = "#include <cstdio>\nint main(){ int a, b; if (scanf(\"%d %d\", &a, &b) == 2) printf(\"%d\\n\", a + b); }\n"
SOLUTION = r"""#include <bits/stdc++.h>
using namespace std;
int main(){ long long a, b; cin >> a >> b; long long s = 0; for (int i = 0; i < 1000; ++i) s += i % 7;
            cout << a + b + s - s << "\n"; }
"""


def median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def bench_overhead(runs: int) -> dict[str, float]:
    limits = dict(cpu_seconds=2, wall_seconds=5, memory_bytes=256 << 20, max_processes=1, max_output_bytes=1 << 20)
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        os.chmod(d, 0o755)
        (d / "t.cpp").write_text(TRIVIAL)
        subprocess.run(["g++", "-O2", "-o", str(d / "t"), str(d / "t.cpp")], check=True)
        os.chmod(d / "t", 0o755)
        (d / "in.txt").write_text("3 4\n")
        os.chmod(d / "in.txt", 0o644)
        binds = [(str(d / "t"), "/prog/t")]
        bare, lane_runs, one_shot, floor = [], [], [], []
        with SandboxLane(ro_binds=binds, tmpfs_bytes=16 << 20) as lane:
            for _ in range(3):  # warm-up (and the lane's one start-up, outside the timing)
                assert lane.run(["/prog/t"], stdin_path=d / "in.txt", **limits).stdout == b"7\n"
                run_sandboxed(["/prog/t"], workdir=None, stdin_path=d / "in.txt", ro_binds=binds, mount_proc=False,
                              **limits)
            for i in range(runs):
                with open(d / "in.txt", "rb") as f:
                    t = time.perf_counter()
                    p = subprocess.run([str(d / "t")], stdin=f, capture_output=True)
                    bare.append(time.perf_counter() - t)
                assert p.stdout == b"7\n"
                t = time.perf_counter()
                r = lane.run(["/prog/t"], stdin_path=d / "in.txt", **limits)
                lane_runs.append(time.perf_counter() - t)
                assert r.stdout == b"7\n", r
                if i % 4 == 0:  # the slow references, on every 4th round
                    t = time.perf_counter()
                    r = run_sandboxed(["/prog/t"], workdir=None, stdin_path=d / "in.txt", ro_binds=binds,
                                      mount_proc=False, **limits)
                    one_shot.append(time.perf_counter() - t)
                    assert r.stdout == b"7\n", r
                    t = time.perf_counter()
                    subprocess.run(["bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib64",
                                    "/lib64", "--symlink", "usr/lib", "/lib", "/usr/bin/true"], check=True)
                    floor.append(time.perf_counter() - t)
            starts = lane.stats.starts
    b, ln, o = median_ms(bare), median_ms(lane_runs), median_ms(one_shot)
    return {"bare_ms": b, "lane_ms": ln, "ratio": ln / b, "one_shot_ms": o, "one_shot_ratio": o / b,
            "bwrap_floor_ms": median_ms(floor), "lane_starts": starts, "n_one_shot": len(one_shot)}


def bench_throughput(n_tests: int, workers: int) -> dict[str, float]:
    tests = [{"input": f"{i} {2 * i}\n", "output": f"{3 * i}\n"} for i in range(n_tests)]
    p = Problem(id="B1", contest=None, rating=None, statement="", time_limit_s=2.0, memory_mb=256, tests=tests)
    t = time.perf_counter()
    r = J.judge(p, {"language": "cpp", "code": SOLUTION}, full=True, workers=workers)
    total = time.perf_counter() - t
    assert r.verdict == "AC", r
    run_s = total - r.compile_seconds
    return {"tests": n_tests, "workers": workers, "seconds": run_s, "tests_per_s": n_tests / run_s}


def bench_compile(reps: int) -> dict[str, float]:
    J.precompiled_header_dir()  # build outside the timing
    with_pch, without = [], []
    orig = J.precompiled_header_dir
    for i in range(reps):
        for use_pch, out in ((True, with_pch), (False, without)):
            J.precompiled_header_dir = orig if use_pch else (lambda: None)  # type: ignore[assignment]
            try:
                with tempfile.TemporaryDirectory() as td:
                    os.chmod(td, 0o755)
                    t = time.perf_counter()
                    prog, log, _ = J._build("cpp", SOLUTION + f"// {i}\n", Path(td), uid=65534, tag="sol")
                    out.append(time.perf_counter() - t)
                    assert prog is not None, log
            finally:
                J.precompiled_header_dir = orig  # type: ignore[assignment]
    return {"with_pch_s": statistics.median(with_pch), "without_pch_s": statistics.median(without)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5, help="repeat the overhead measurement; the median is reported")
    ap.add_argument("--tests", type=int, default=200)
    ap.add_argument("--compile-reps", type=int, default=3)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    print(f"cores {cores}, load average {os.getloadavg()[0]:.2f} (other work on the machine skews the figures)")
    rounds = [bench_overhead(args.runs) for _ in range(args.rounds)]
    for k, o in enumerate(rounds, 1):
        print(f"round {k}: trivial C++ program, per test, median of {args.runs} interleaved runs: bare subprocess "
              f"{o['bare_ms']:.2f} ms, sandbox lane {o['lane_ms']:.2f} ms: ratio {o['ratio']:.2f}x "
              f"({o['lane_starts']} sandbox start-up for all runs); one-shot sandbox per run {o['one_shot_ms']:.2f} ms "
              f"({o['one_shot_ratio']:.2f}x); bare `bwrap --unshare-all true` {o['bwrap_floor_ms']:.2f} ms")
    med = {k: statistics.median(o[k] for o in rounds) for k in ("bare_ms", "lane_ms", "ratio", "one_shot_ms",
                                                                "one_shot_ratio", "bwrap_floor_ms")}
    print(f"median of {args.rounds} rounds: sandbox lane / bare = {med['ratio']:.2f}x ({med['lane_ms']:.2f} vs "
          f"{med['bare_ms']:.2f} ms per test); one-shot sandbox / bare = {med['one_shot_ratio']:.1f}x "
          f"({med['one_shot_ms']:.1f} ms); bwrap alone {med['bwrap_floor_ms']:.1f} ms")
    for w in sorted({1, cores}):
        t = bench_throughput(args.tests, w)
        print(f"judge throughput: {t['tests']} tests, {w} worker(s): {t['seconds']:.2f} s, "
              f"{t['tests_per_s']:.1f} tests/s")
    c = bench_compile(args.compile_reps)
    print(f"C++ compile (bits/stdc++.h, -O2), median of {args.compile_reps}: with PCH {c['with_pch_s']:.2f} s, "
          f"without {c['without_pch_s']:.2f} s")


if __name__ == "__main__":
    main()
