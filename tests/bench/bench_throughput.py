"""Throughput side by side against the scripted server (a script, not a test; figures go into the README).

Arms, each on the same workload (AIME-shaped chat requests, the reply ~``--tokens`` tokens):
  raw          a bare aiohttp closed loop (the ceiling), unstreamed and streamed
  harness      the engine in-process (client, parsing, grading, store), client.stream false and true
  paced        the harness, unstreamed vs streamed, when tokens come at a decode pace (``--token-delay``)
  replicas     the harness over 1 and 2 scripted replicas at the same per-replica capacity (BalancedClient)
  lm-eval      lm-eval's ``local-chat-completions`` model (if ``import lm_eval`` works), same requests
  gpt_oss      the official ``gpt_oss.evals`` ChatCompletionsSampler driven by its own thread pool
               (``map_with_progress``); its wheel requires Python >= 3.12, so it is fetched with
               ``pip download --python-version 3.12`` and imported from the unpacked wheel (needs ``openai``)
Reported: achieved requests/s (medians over rounds), share of the ceiling, and the CPU time this process
spent per request (the client side: a scripted server is a separate process).

    .venv/bin/python tests/bench/bench_throughput.py [--attempts 800] [--slots 16] [--latency 0.1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_engine import problems_file  # noqa: E402
from tests.conftest import ScriptedServerProcess  # noqa: E402


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def script(tokens: int, slots: int, latency: float, token_delay: float = 0.0) -> dict:
    words = max(1, tokens // 7)
    return {"default": {"analysis": "Let me think about this carefully. " * words,
                        "final": "The answer is \\boxed{42}."},
            "faults": {"capacity": slots, "latency_s": latency, "token_delay_s": token_delay}}


async def raw_loop(base_url: str, n: int, concurrency: int, stream: bool) -> int:
    import aiohttp

    counter = iter(range(n))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async def worker() -> None:
            for i in counter:
                body = {"model": "m", "messages": [{"role": "user", "content": f"Compute 6 x 7 ({i})."}],
                        "reasoning_effort": "low"}
                if stream:
                    body |= {"stream": True, "stream_options": {"include_usage": True}}
                async with http.post(base_url + "/chat/completions", json=body) as resp:
                    if stream:
                        async for _ in resp.content:
                            pass
                    else:
                        await resp.json()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n


async def harness(urls: list[str], problems: Path, repeats: int, concurrency: int, out: Path, stream: bool) -> int:
    from evals.balancer import BalancedClient
    from evals.clients import Sampling
    from evals.engine import RunSpec, run_attempts
    from evals.store import RunStore
    from tasks.aime import AimeTask

    task = AimeTask("bench", 2025, path=str(problems))
    client = BalancedClient.from_urls("chat", urls, model="m", max_connections=concurrency, stream=stream)
    spec = RunSpec(run_id="bench", suite="bench", model="m", effort="low", settings_hash="h", sampling=Sampling(),
                   repeats=repeats, concurrency=concurrency)
    try:
        stats = await run_attempts(task, task.load(), client, RunStore(out), spec)
    finally:
        await client.aclose()
    return stats.done_now


def lm_eval_run(base_url: str, n: int, concurrency: int) -> int:
    from lm_eval.api.instance import Instance
    from lm_eval.models.api_models import JsonChatStr
    from lm_eval.models.openai_completions import LocalChatCompletion

    lm = LocalChatCompletion(model="m", base_url=base_url + "/chat/completions", tokenizer_backend=None,
                             tokenized_requests=False, num_concurrent=concurrency, max_gen_toks=2048)
    reqs = [Instance(request_type="generate_until", doc={}, idx=i, arguments=(
        JsonChatStr(json.dumps([{"role": "user", "content": f"Compute 6 x 7 ({i})."}])),
        {"until": [], "max_gen_toks": 2048, "do_sample": True, "temperature": 1.0})) for i in range(n)]
    out = lm.generate_until(reqs, disable_tqdm=True)
    assert len(out) == n
    return n


def gpt_oss_sampler_path(folder: Path) -> Path | None:
    """The official gpt_oss package, unpacked (its wheel says Python >= 3.12; the sampler runs on 3.11)."""
    try:
        import openai  # noqa: F401
    except ImportError:
        return None
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--python-version", "3.12",
                           "--only-binary=:all:", "-d", str(folder), "gpt-oss"], capture_output=True, text=True)
    wheels = sorted(folder.glob("gpt_oss-*.whl"))
    if proc.returncode != 0 or not wheels:
        return None
    with zipfile.ZipFile(wheels[-1]) as zf:
        zf.extractall(folder / "site")
    return folder / "site"


def gpt_oss_run(base_url: str, n: int, concurrency: int) -> int:
    """The official sampler as gpt_oss.evals drives it: a thread pool of blocking OpenAI-SDK calls."""
    from gpt_oss.evals.chat_completions_sampler import ChatCompletionsSampler
    from gpt_oss.evals.report import map_with_progress

    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")  # the SDK insists on a key; the local server ignores it
    sampler = ChatCompletionsSampler(model="m", reasoning_model=True, reasoning_effort="low", base_url=base_url,
                                     temperature=1.0, max_tokens=2048)
    out = map_with_progress(lambda i: sampler([{"role": "user", "content": f"Compute 6 x 7 ({i})."}]), list(range(n)),
                            num_threads=concurrency, pbar=False)
    assert len(out) == n
    return n


def measure(fn: Callable[[], Awaitable[int] | int]) -> tuple[float, float]:
    """(requests/s, client CPU ms per request) of one call."""
    cpu0, t0 = _cpu(), time.perf_counter()
    result = fn()
    n = asyncio.run(result) if asyncio.iscoroutine(result) else result
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    return n / wall, 1000 * cpu / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=800)
    parser.add_argument("--slots", type=int, default=16, help="concurrent requests one replica serves")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds a request holds its slot")
    parser.add_argument("--tokens", type=int, default=150, help="completion tokens per reply (streamed events)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--token-delay", type=float, default=0.002,
                        help="paced arms: seconds per output token (streamed or not, a reply takes as long)")
    parser.add_argument("--skip-lm-eval", action="store_true")
    parser.add_argument("--skip-gpt-oss", action="store_true", help="skip the official gpt_oss.evals sampler arm")
    args = parser.parse_args()
    repeats = 8
    n = args.attempts - args.attempts % repeats
    conc = 2 * args.slots  # keep the server's queue full, as a user would
    capacity = args.slots / args.latency
    try:
        import lm_eval  # noqa: F401
        have_lm_eval = not args.skip_lm_eval
    except ImportError:
        have_lm_eval = False
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        problems = problems_file(tmp, n // repeats)
        gpt_oss_site = None if args.skip_gpt_oss else gpt_oss_sampler_path(tmp / "gpt_oss")
        if gpt_oss_site:
            sys.path.insert(0, str(gpt_oss_site))
        spec = script(args.tokens, args.slots, args.latency)
        servers = [ScriptedServerProcess(spec, tmp).start() for _ in range(2)]
        paced = ScriptedServerProcess(script(args.tokens, args.slots, args.latency, args.token_delay), tmp).start()
        servers.append(paced)
        urls = [s.base_url for s in servers[:2]]
        n_paced = max(repeats, (n // 4) - (n // 4) % repeats)
        (tmp / "paced").mkdir()
        paced_problems = problems_file(tmp / "paced", n_paced // repeats)
        try:
            for s in servers:  # warm-up (the server's tokenizer loads on first use)
                asyncio.run(raw_loop(s.base_url, 50, conc, False))
                asyncio.run(raw_loop(s.base_url, 20, conc, True))
            dirs = (tmp / f"store{i}" for i in itertools.count())  # a fresh store per harness run
            for _ in range(args.rounds):
                arms: dict[str, Callable[[], Awaitable[int] | int]] = {
                    "raw": lambda: raw_loop(urls[0], n, conc, False),
                    "raw stream": lambda: raw_loop(urls[0], n, conc, True),
                    "harness": lambda: harness(urls[:1], problems, repeats, conc, next(dirs), False),
                    "harness stream": lambda: harness(urls[:1], problems, repeats, conc, next(dirs), True),
                    "raw 2 replicas": lambda: raw_loop_two(urls, n, conc),
                    "harness 2 replicas": lambda: harness(urls, problems, repeats, 2 * conc, next(dirs), False),
                    "harness paced": lambda: harness([paced.base_url], paced_problems, repeats, conc, next(dirs),
                                                     False),
                    "harness paced stream": lambda: harness([paced.base_url], paced_problems, repeats, conc,
                                                            next(dirs), True),
                }
                if have_lm_eval:
                    arms["lm-eval local-chat-completions"] = lambda: lm_eval_run(urls[0], n, conc)
                if gpt_oss_site:
                    arms["gpt_oss.evals sampler"] = lambda: gpt_oss_run(urls[0], n, conc)
                for name, fn in arms.items():
                    results.setdefault(name, []).append(measure(fn))
        finally:
            for s in servers:
                s.stop()
    med = statistics.median
    print(f"scripted server: {args.slots} slots x {args.latency} s = {capacity:.0f} req/s per replica; "
          f"~{args.tokens} completion tokens per reply; {n} requests per arm; {args.rounds} rounds (medians); "
          f"concurrency {conc} per replica")
    raw = med(r for r, _ in results["raw"])
    raw_s = med(r for r, _ in results["raw stream"])
    for name, vals in results.items():
        rate, cpu = med(r for r, _ in vals), med(c for _, c in vals)
        if "paced" in name:
            ref = med(r for r, _ in results["harness paced"])
            print(f"{name:32s} {rate:8.1f} req/s  {100 * rate / ref:5.1f}% of unstreamed  CPU {cpu:6.2f} ms/request")
            continue
        ref = raw_s if "stream" in name else (med(r for r, _ in results["raw 2 replicas"]) if "2 replicas" in name
                                              else raw)
        print(f"{name:32s} {rate:8.1f} req/s  {100 * rate / ref:5.1f}% of raw  CPU {cpu:6.2f} ms/request")
    one = med(r for r, _ in results["harness"])
    two = med(r for r, _ in results["harness 2 replicas"])
    print(f"2 replicas / 1 replica (harness): {two / one:.2f}x   (target >= 1.8x)")
    print(f"streaming cost (harness): {med(r for r, _ in results['harness stream']) / one:.2f}x throughput, "
          f"+{med(c for _, c in results['harness stream']) - med(c for _, c in results['harness']):.2f} ms CPU "
          f"per request (~{args.tokens} events); paced ({args.token_delay * 1000:g} ms a token): "
          f"{med(r for r, _ in results['harness paced stream']) / med(r for r, _ in results['harness paced']):.2f}x")


async def _two(urls: list[str], n: int, conc: int) -> int:
    parts = await asyncio.gather(*(raw_loop(u, n // 2, conc, False) for u in urls))
    return sum(parts)


def raw_loop_two(urls: list[str], n: int, conc: int) -> Awaitable[int]:
    return _two(urls, n, conc)


if __name__ == "__main__":
    main()
