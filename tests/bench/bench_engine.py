"""How close the harness gets to the server's capacity (a script, not a test; figures go into the README).

Against the scripted server at a fixed capacity (``--slots`` concurrent requests, each held ``--latency`` s),
measured side by side:
  raw      a bare aiohttp closed loop sending the same chat request (the ceiling)
  engine   the harness engine in-process (client, Harmony-aware parsing, grading, store) while running
  e2e      the `gptoss-eval` console script end to end (start-up, loading, grading and report included)
Also the harness's CPU time per attempt. Each arm is repeated; medians and ratios are printed.

    .venv/bin/python tests/bench/bench_engine.py [--attempts 2000] [--slots 32] [--latency 0.1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import ScriptedServerProcess  # noqa: E402

SCRIPT = {"default": {"analysis": "Let me think about this carefully. " * 20, "final": "The answer is \\boxed{42}."}}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def raw_loop(base_url: str, n: int, concurrency: int) -> float:
    import aiohttp

    body = {"model": "m", "messages": [{"role": "user", "content": "Compute 6 x 7."}], "reasoning_effort": "low"}
    counter = iter(range(n))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async def worker() -> None:
            for _ in counter:
                async with http.post(base_url + "/chat/completions", json=body) as resp:
                    await resp.json()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - t0)


def problems_file(folder: Path, n_problems: int) -> Path:
    path = folder / "bench_problems.jsonl"
    with open(path, "w") as fh:
        for i in range(n_problems):
            fh.write(json.dumps({"id": f"b{i}", "problem": f"Compute 6 x 7 (variant {i}).", "answer": 42}) + "\n")
    return path


async def engine_run(base_url: str, problems: Path, repeats: int, concurrency: int, out: Path) -> tuple[float, float]:
    from evals.clients import Sampling, make_client
    from evals.engine import RunSpec, run_attempts
    from evals.store import RunStore
    from tasks.aime import AimeTask

    task = AimeTask("bench", 2025, path=str(problems))
    samples = task.load()
    client = make_client("chat", base_url=base_url, model="m", max_connections=concurrency)
    spec = RunSpec(run_id="bench", suite="bench", model="m", effort="low", settings_hash="h", sampling=Sampling(),
                   repeats=repeats, concurrency=concurrency)
    cpu0 = _cpu()
    stats = await run_attempts(task, samples, client, RunStore(out), spec)
    cpu = _cpu() - cpu0
    await client.aclose()
    return stats.done_now / stats.elapsed_s, cpu / stats.done_now


def e2e_run(base_url: str, problems: Path, repeats: int, concurrency: int, root: Path) -> float:
    exe = Path(sys.executable).with_name("gptoss-eval")
    t0 = time.perf_counter()
    subprocess.run([str(exe), "server=attach", f"server.base_url={base_url}", "suite=aime2025",
                    f"suite.path={problems}", f"repeats={repeats}", f"concurrency={concurrency}", "effort=low",
                    f"paths.root={root}", "progress=false"], check=True, cwd=ROOT, capture_output=True)
    wall = time.perf_counter() - t0
    lines = sum(1 for _ in open(root / "default" / "gpt-oss-120b" / "aime2025" / "low" / "attempts.jsonl"))
    return lines / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--slots", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    repeats = 8
    n_problems = args.attempts // repeats
    concurrency = 2 * args.slots  # keep the server's queue full, as a user would
    capacity = args.slots / args.latency
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = ScriptedServerProcess({**SCRIPT, "faults": {"capacity": args.slots, "latency_s": args.latency}},
                                       tmp).start()
        try:
            problems = problems_file(tmp, n_problems)
            asyncio.run(raw_loop(server.base_url, 200, concurrency))  # warm-up
            raw, eng, cpu, e2e = [], [], [], []
            for r in range(args.rounds):
                raw.append(asyncio.run(raw_loop(server.base_url, n_problems * repeats, concurrency)))
                rate, cpu_per = asyncio.run(engine_run(server.base_url, problems, repeats, concurrency,
                                                       tmp / f"engine{r}"))
                eng.append(rate)
                cpu.append(cpu_per)
                e2e.append(e2e_run(server.base_url, problems, repeats, concurrency, tmp / f"e2e{r}"))
        finally:
            server.stop()
    med = statistics.median
    print(f"scripted server: {args.slots} slots x {args.latency} s = {capacity:.0f} req/s capacity; "
          f"{n_problems * repeats} attempts per arm; {args.rounds} rounds (medians)")
    print(f"raw load generator  {med(raw):8.1f} req/s   ({100 * med(raw) / capacity:.1f}% of capacity)")
    print(f"harness (running)   {med(eng):8.1f} att/s   {100 * med(eng) / med(raw):.1f}% of raw")
    print(f"harness (end to end){med(e2e):8.1f} att/s   {100 * med(e2e) / med(raw):.1f}% of raw")
    print(f"harness CPU per attempt {1000 * med(cpu):.2f} ms")


if __name__ == "__main__":
    main()
