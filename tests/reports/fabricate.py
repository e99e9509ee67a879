"""Fabricated run stores for report tests and benchmarks: real store files, made-up model outputs.

``make_run`` writes ``manifest.json``, ``attempts.jsonl`` and ``grades.jsonl`` exactly as the runner does
(the same ``Attempt`` / ``Grade`` records), for N samples x k repeats at one effort, with scores either
given as a matrix (for exact tests) or drawn from an accuracy, and token counts / latencies chosen.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evals.store import ATTEMPTS, GRADES, RunStore
from evals.types import Attempt, Grade, attempt_key

T0 = 1_750_000_000.0  # a fixed "now" so fabricated stores are byte-identical between runs


def score_matrix(n_samples: int, repeats: int, accuracy: float, seed: int = 0) -> np.ndarray:
    """0/1 scores with (close to) the given accuracy: per-sample difficulty varies, like real problems."""
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(2, 2, n_samples) + (accuracy - 0.5), 0.0, 1.0)
    return (rng.random((n_samples, repeats)) < p[:, None]).astype(float)


def exact_matrix(n_samples: int, repeats: int, correct: int) -> np.ndarray:
    """Exactly ``correct`` of the n x k attempts are right, filled attempt by attempt in a fixed order."""
    flat = np.zeros(n_samples * repeats)
    flat[:correct] = 1.0
    return flat.reshape(repeats, n_samples).T.copy()


def make_run(root: str | Path, *, suite: str = "aime2025", effort: str = "medium", model: str = "gpt-oss-120b",
             scores: np.ndarray | Sequence[Sequence[float]] | None = None, n_samples: int = 30,
             repeats: int = 4, accuracy: float = 0.7, median_tokens: float = 2000.0, latency_s: float = 20.0,
             transport: str = "chat", card_key: str | None = None, tensor_parallel_size: int = 1,
             wall_s: float | None = 3600.0, gpu: str | None = None, peers: dict[str, Any] | None = None,
             vllm_version: str = "0.32.0", text_chars: int = 300, tool_calls: bool = False,
             seed: int = 0, sample_prefix: str = "p",
             grade_details: Callable[[int, int], dict[str, Any]] | None = None) -> Path:
    """Write one run directory (one suite x effort) and return it.

    ``grade_details(sample_index, repeat)`` adds suite-specific grade details (e.g. a Codeforces rating)."""
    run_dir = Path(root) / model / suite / effort
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1000)
    s = np.asarray(scores, dtype=float) if scores is not None else score_matrix(n_samples, repeats, accuracy, seed)
    n_samples, repeats = s.shape
    total = n_samples * repeats
    tokens = np.maximum(1, rng.lognormal(np.log(median_tokens), 0.4, total)).astype(int)
    lat = np.maximum(0.05, rng.lognormal(np.log(latency_s), 0.3, total))
    span = wall_s if wall_s else float(lat.sum())
    starts = T0 + np.sort(rng.random(total)) * max(span - lat.max(), 1.0)
    filler = ("Let me think about this step by step. " * (1 + text_chars // 38))[:text_chars]
    shash = f"h{seed:04d}"
    run_id = f"{model}/{suite}/{effort}/{shash}"
    attempts_lines, grade_lines = [], []
    i = 0
    for r in range(repeats):
        for j in range(n_samples):
            sid = f"{sample_prefix}{j}"
            key = attempt_key(sid, r)
            score = float(s[j, r])
            answer = str(j) if score >= 0.5 else str(j + 1)
            truncated = score < 0.5 and (j + r) % 17 == 0
            status = "truncated" if truncated else "ok"
            final = None if truncated else f"The answer is \\boxed{{{answer}}}."
            calls = [{"id": f"call_{i}", "name": "python", "arguments": json.dumps({"code": f"print({j}*{r})"})}] \
                if tool_calls else []
            transcript: list[dict[str, Any]] = [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": f"Problem {sid}: what is the answer to question {j}?"},
            ]
            if calls:
                transcript += [{"role": "assistant", "content": "", "reasoning": "I will compute it.",
                                "tool_calls": calls},
                               {"role": "tool", "content": f"{j * r}", "tool_call_id": calls[0]["id"],
                                "name": "python"}]
            transcript.append({"role": "assistant", "content": final or "", "reasoning": filler})
            usage = {"prompt_tokens": 120, "completion_tokens": int(tokens[i]),
                     "reasoning_tokens": int(tokens[i] * 0.8)}
            output = {"analysis": filler, "final": final, "commentary": "", "tool_calls": calls,
                      "finish_reason": "length" if truncated else "stop", "usage": usage,
                      "latency_s": float(lat[i]), "ttft_s": 0.2, "transport": transport, "parse_error": None}
            a = Attempt(key=key, run_id=run_id, suite=suite, sample_id=sid, repeat=r, seed=seed * 100000 + i,
                        effort=effort, model=model, transport=transport, settings_hash=shash, status=status,
                        output=output, transcript=transcript, usage=usage, n_calls=1 + bool(calls),
                        started_at=float(starts[i]), ended_at=float(starts[i] + lat[i]),
                        latency_s=float(lat[i]), ttft_s=0.2, error=None, info={})
            g = Grade(key=key, score=score, answer=answer if final else None,
                      reason="matches the reference" if score >= 0.5 else
                      ("no final answer (truncated)" if truncated else f"{answer} != reference {j}"),
                      details={"reference": str(j), **(grade_details(j, r) if grade_details else {})})
            attempts_lines.append(json.dumps(a.to_dict(), ensure_ascii=False))
            grade_lines.append(json.dumps(g.to_dict(), ensure_ascii=False))
            i += 1
    (run_dir / ATTEMPTS).write_text("\n".join(attempts_lines) + "\n")
    (run_dir / GRADES).write_text("\n".join(grade_lines) + "\n")
    sampling = {"temperature": 1.0, "top_p": 1.0, "max_tokens": None}
    settings = {"task": {"name": suite}, "model": model, "served_name": f"openai/{model}", "effort": effort,
                "transport": transport, "sampling": sampling, "seed": seed, "system_start_date": "2026-01-01",
                "peers": peers or {}}
    sessions = []
    if wall_s:
        sessions.append({"started_at": T0, "ended_at": T0 + wall_s, "status": "finished"})
    manifest: dict[str, Any] = {
        "run_id": run_id, "suite": suite, "model": model, "model_path": f"openai/{model}", "card": model,
        "card_key": card_key if card_key is not None else suite, "effort": effort, "transport": transport,
        "settings_hash": shash, "settings": settings, "repeats": repeats, "n_samples": n_samples,
        "versions": {"openai-harmony": "0.0.8", "vllm_server": vllm_version},
        "server": {"mode": "spawn", "server_version": vllm_version, "base_url": "http://127.0.0.1:8000/v1"},
        "config": {"model": {"name": model, "tensor_parallel_size": tensor_parallel_size},
                   "sampling": sampling, "effort": {"name": effort}},
        "sessions": sessions,
    }
    if gpu:
        manifest["server"]["gpu"] = gpu
    RunStore(run_dir).write_manifest(manifest)
    return run_dir
