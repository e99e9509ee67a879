"""Sandbox and judge throughput on this machine (a script, not a pytest test).

    python tests/bench/bench_sandbox.py [--runs 50] [--tests 200]

Prints: sandbox overhead against a bare subprocess for a trivial C++ program (median over N runs, ratio),
judged tests per second with all cores, and C++ compile time with and without the precompiled header.
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

from evals.sandbox import run_sandboxed  # noqa: E402
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


def bench_overhead(runs: int, mount_proc: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        os.chmod(d, 0o755)
        (d / "t.cpp").write_text(TRIVIAL)
        subprocess.run(["g++", "-O2", "-o", str(d / "t"), str(d / "t.cpp")], check=True)
        os.chmod(d / "t", 0o755)
        (d / "in.txt").write_text("3 4\n")
        bare, boxed = [], []
        for _ in range(3):  # warm-up
            run_sandboxed(["/prog/t"], workdir=None, stdin_path=d / "in.txt", cpu_seconds=2, wall_seconds=5,
                          memory_bytes=256 << 20, max_processes=1, max_output_bytes=1 << 20,
                          ro_binds=[(str(d / "t"), "/prog/t")], mount_proc=mount_proc)
        floor = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(["bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib64", "/lib64",
                            "--symlink", "usr/lib", "/lib", "/usr/bin/true"], check=True)
            floor.append(time.perf_counter() - t)
            with open(d / "in.txt", "rb") as f:
                t = time.perf_counter()
                p = subprocess.run([str(d / "t")], stdin=f, capture_output=True)
                bare.append(time.perf_counter() - t)
            assert p.stdout == b"7\n"
            t = time.perf_counter()
            r = run_sandboxed(["/prog/t"], workdir=None, stdin_path=d / "in.txt", cpu_seconds=2, wall_seconds=5,
                              memory_bytes=256 << 20, max_processes=1, max_output_bytes=1 << 20,
                              ro_binds=[(str(d / "t"), "/prog/t")], mount_proc=mount_proc)
            boxed.append(time.perf_counter() - t)
            assert r.stdout == b"7\n", r
    b, s = median_ms(bare), median_ms(boxed)
    return {"bare_ms": b, "sandbox_ms": s, "ratio": s / b, "overhead_ms": s - b, "bare_min_ms": min(bare) * 1000,
            "sandbox_min_ms": min(boxed) * 1000, "bwrap_floor_ms": median_ms(floor)}


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
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--tests", type=int, default=200)
    ap.add_argument("--compile-reps", type=int, default=3)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    print(f"cores {cores}, load average {os.getloadavg()[0]:.2f} (other work on the machine skews the figures)")
    for proc in (False, True):
        o = bench_overhead(args.runs, mount_proc=proc)
        print(f"trivial C++ run{' (with /proc)' if proc else ''}, median of {args.runs}: bare {o['bare_ms']:.2f} ms, "
              f"sandbox {o['sandbox_ms']:.2f} ms, ratio {o['ratio']:.2f}x (+{o['overhead_ms']:.2f} ms per run; "
              f"min {o['bare_min_ms']:.2f} vs {o['sandbox_min_ms']:.2f} ms; "
              f"bare `bwrap --unshare-all true` {o['bwrap_floor_ms']:.2f} ms)")
    for w in sorted({1, cores}):
        t = bench_throughput(args.tests, w)
        print(f"judge throughput: {t['tests']} tests, {w} worker(s): {t['seconds']:.2f} s, "
              f"{t['tests_per_s']:.1f} tests/s")
    c = bench_compile(args.compile_reps)
    print(f"C++ compile (bits/stdc++.h, -O2), median of {args.compile_reps}: with PCH {c['with_pch_s']:.2f} s, "
          f"without {c['without_pch_s']:.2f} s")


if __name__ == "__main__":
    main()
