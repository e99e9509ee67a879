"""``gptoss-harmony``: an lm-eval model backed by our gpt-oss clients and our run store.

What it does with lm-eval's ``generate_until`` requests:

- sends each one through our transports (``harmony`` token-level by default, or ``chat`` / ``responses``)
  with the reasoning effort set in the request;
- gives every request its own seed: ``derive_seed(seed, "<task>/<doc_id>", repeat)``, the engine's rule, where
  ``repeat`` counts the copies lm-eval makes of one request (lm-eval itself sends one seed to all of them);
- never sends lm-eval's ``until`` stop strings: they are applied to the FINAL channel after generation, so
  they cannot cut the reasoning short;
- returns the final channel to lm-eval and keeps everything else (analysis, usage, latency, finish reason) as
  one :class:`~evals.types.Attempt` per request in a :class:`~evals.store.RunStore` (``run_dir=...``), which
  our reports read. A rerun over the same ``run_dir`` resumes: stored attempts are answered from the store
  without a request;
- runs the whole batch lm-eval hands over concurrently (``concurrency=`` requests in flight).

``loglikelihood`` and ``loglikelihood_rolling`` raise: gpt-oss behind a chat server has no prompt logprobs
worth scoring, so only generative tasks are supported.

Use from Python (lm-eval's CLI does not import our package; ``python -m tasks.lm_eval_bridge`` does)::

    import lm_eval, tasks.lm_eval_bridge.model
    lm_eval.simple_evaluate(model="gptoss-harmony", apply_chat_template=True,
                            model_args={"base_url": "http://gpu:8000/v1", "model": "openai/gpt-oss-120b",
                                        "effort": "high", "run_dir": "outputs/lm_eval/gpqa_high"},
                            tasks=["gpqa_diamond_cot_zeroshot"])
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from evals.clients import ModelClient, Sampling, make_client
from evals.engine import derive_seed, run_episode
from evals.secrets import NOT_A_KEY, MissingKey, key_from_env
from evals.store import RunStore
from evals.task import Episode, ModelSession, assistant_message
from evals.types import EFFORTS, attempt_key
from tasks.lm_eval_bridge.common import (
    BridgeError,
    HarmonyChatTemplate,
    context_digest,
    context_to_messages,
    request_info,
    response_for_lm_eval,
    sample_id,
    stop_strings,
)

log = logging.getLogger(__name__)

MODEL_NAME = "gptoss-harmony"
SUITE = "lm_eval"


def _opt_int(v: Any) -> int | None:
    return None if v in (None, "", "None", "null") else int(v)


def _bool(v: Any) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")


@register_model(MODEL_NAME)
class GptOssHarmonyLM(HarmonyChatTemplate, LM):
    """lm-eval ``LM`` over our :class:`~evals.clients.ModelClient` (see the module docstring)."""

    def __init__(self, base_url: str | None = None, model: str | None = None, *, transport: str = "harmony",
                 effort: str = "medium", run_dir: str | None = None, seed: int = 0, concurrency: int = 16,
                 temperature: float = 1.0, top_p: float = 1.0, max_tokens: int | None = None,
                 max_model_len: int | None = None, timeout_s: float = 3600.0, max_retries: int = 5,
                 retry_wait_s: float = 1.0, api_key: str = "EMPTY", api_key_env: str | None = None,
                 start_date: str | None = None,
                 model_name: str | None = None, suite: str = SUITE, replay_only: bool = False,
                 client: ModelClient | None = None, store: RunStore | None = None, run_id: str | None = None,
                 settings_hash: str | None = None, **unused: Any) -> None:
        super().__init__()
        # lm-eval passes batch_size / max_batch_size / device to every model; batching is ours (concurrency).
        unknown = {k: v for k, v in unused.items() if k not in ("batch_size", "max_batch_size", "device")}
        if unknown:
            raise BridgeError(f"{MODEL_NAME}: unknown model_args {sorted(unknown)}")
        if effort not in EFFORTS:
            raise BridgeError(f"{MODEL_NAME}: effort must be one of {EFFORTS}, got {effort!r}")
        if str(api_key) not in NOT_A_KEY:  # lm-eval writes model_args into its results and logs
            raise BridgeError(f"{MODEL_NAME}: model_args api_key would be written into lm-eval's results; put the "
                              f"key in an environment variable and pass api_key_env=<its name> instead")
        self.effort = effort
        self.seed = int(seed)
        self.concurrency = max(1, int(concurrency))
        self.sampling = Sampling(temperature=float(temperature), top_p=float(top_p),
                                 max_tokens=_opt_int(max_tokens))
        self.replay_only = _bool(replay_only)
        self.model_name = model_name or model or "gpt-oss"
        self.suite = suite
        self.client = client
        if self.client is None and not self.replay_only:
            if not base_url or not model:
                raise BridgeError(f"{MODEL_NAME}: model_args need base_url=... and model=... (the served name)")
            try:
                key = key_from_env(api_key_env, f"{MODEL_NAME} model_args api_key_env", str(base_url))
            except MissingKey as exc:
                raise BridgeError(str(exc)) from None
            kwargs: dict[str, Any] = {"base_url": str(base_url), "model": str(model),
                                      "max_model_len": _opt_int(max_model_len), "api_key": key,
                                      "timeout_s": float(timeout_s), "max_retries": int(max_retries),
                                      "retry_wait_s": float(retry_wait_s), "max_connections": self.concurrency}
            if start_date:
                kwargs["start_date"] = str(start_date)
            if transport == "harmony" and kwargs["max_model_len"] is None and self.sampling.max_tokens is None:
                raise BridgeError(f"{MODEL_NAME}: the harmony transport needs max_model_len=... (the server's "
                                  f"context window) or max_tokens=...")
            self.client = make_client(str(transport), **kwargs)
        self.transport = self.client.transport if self.client is not None else str(transport)
        settings = {"lm_eval_model": MODEL_NAME, "model": self.model_name, "transport": self.transport,
                    "effort": effort, "sampling": self.sampling.__dict__, "seed": self.seed,
                    "start_date": start_date}
        self.settings_hash = settings_hash or hashlib.sha256(
            json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self.run_id = run_id or f"{self.model_name}/{suite}/{effort}/{self.settings_hash}"
        self.store = store
        self._manifest: dict[str, Any] | None = None
        if self.store is None and run_dir:
            # Standalone use: this model owns the store (and its manifest, so reports find the run).
            self.store = RunStore(Path(run_dir))
            self._manifest = self.store.begin({
                "run_id": self.run_id, "suite": suite, "model": self.model_name, "effort": effort,
                "transport": self.transport, "settings_hash": self.settings_hash, "settings": settings,
                "driver": "lm_eval.simple_evaluate"})
            self.store.end(self._manifest, "idle")
        self.requests_sent = 0

    # -- lm-eval API ------------------------------------------------------------------------------
    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        raise NotImplementedError(
            f"{MODEL_NAME} supports generative lm-eval tasks only (output_type: generate_until): gpt-oss served "
            f"through chat/Harmony endpoints gives no prompt log-likelihoods to score multiple-choice or "
            f"perplexity tasks. Use a generative variant (e.g. gpqa_diamond_cot_zeroshot instead of "
            f"gpqa_diamond_zeroshot).")

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        return self.loglikelihood(requests)  # type: ignore[return-value]

    def get_model_info(self) -> dict[str, Any]:
        return {"gptoss_model": self.model_name, "transport": self.transport, "effort": self.effort,
                "seed": self.seed, "sampling": dict(self.sampling.__dict__), "run_id": self.run_id,
                "run_dir": str(self.store.root) if self.store else None}

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        plan: list[tuple[Any, str, int]] = []
        seen: dict[str, int] = {}
        for req in requests:
            sid = sample_id(req.task_name, req.doc_id, req.idx)
            repeat = seen.get(sid, 0)  # lm-eval repeats a request by listing the same Instance again
            seen[sid] = repeat + 1
            plan.append((req, sid, repeat))
        stored = self.store.attempts() if self.store is not None else {}
        results: list[str | None] = [None] * len(plan)
        todo: list[int] = []
        for i, (req, sid, repeat) in enumerate(plan):
            context, gen_kwargs = req.args[0], req.args[1]
            att = stored.get(attempt_key(sid, repeat))
            if att is None:
                todo.append(i)
                continue
            stored_sha = (att.info.get("lm_eval") or {}).get("context_sha")
            if stored_sha is not None and stored_sha != context_digest(context):
                raise BridgeError(
                    f"{sid}: lm-eval built a different prompt than the one stored in {self.store.root} "
                    f"(context hash {context_digest(context)} != {stored_sha}); the task or its settings changed. "
                    f"Use another run directory.")
            results[i] = response_for_lm_eval(att.status, att.final_text, stop_strings(gen_kwargs))
        if todo:
            if self.replay_only or self.client is None:
                keys = [attempt_key(plan[i][1], plan[i][2]) for i in todo]
                raise BridgeError(
                    f"{len(keys)} lm-eval requests have no stored attempt in "
                    f"{self.store.root if self.store else '(no store)'} (e.g. {keys[0]}); run the suite first "
                    f"(the same repeats), then score")
            for i, text in asyncio.run(self._generate_missing([(i, *plan[i]) for i in todo])):
                results[i] = text
        if self._manifest is not None:
            self.store.end(self._manifest, "finished", requests=len(requests), generated=len(todo))
        return [r if r is not None else "" for r in results]

    # -- generation -----------------------------------------------------------------------------
    async def _generate_missing(self, items: list[tuple[int, Any, str, int]]) -> list[tuple[int, str]]:
        gate = asyncio.Semaphore(self.concurrency)
        if self.store is not None:
            self.store.open_for_append()

        async def one(slot: int, req: Any, sid: str, repeat: int) -> tuple[int, str]:
            async with gate:
                return slot, await self._one(req, sid, repeat)

        try:
            return list(await asyncio.gather(*(one(*item) for item in items)))
        finally:
            if self.store is not None:
                self.store.close()
            await self.client.aclose()

    async def _one(self, req: Any, sid: str, repeat: int) -> str:
        context, gen_kwargs = req.args[0], req.args[1]
        messages, prefill = context_to_messages(context)
        session = ModelSession(self.client, effort=self.effort, sampling=self.sampling,
                               seed=derive_seed(self.seed, sid, repeat))

        async def solve(model: ModelSession) -> Episode:  # one request: lm-eval's prompt, one answer
            out = await model.generate(messages)
            return Episode(transcript=[*messages, assistant_message(out)], output=out)

        self.requests_sent += 1
        # The engine's own path from episode to attempt: the same statuses (a truncated, malformed, rejected or
        # unreadable reply) whether the suite runs through the CLI or lm-eval drives this model.
        attempt = await run_episode(solve, session, sample_id=sid, repeat=repeat, run_id=self.run_id,
                                    suite=self.suite, model=self.model_name, transport=self.transport,
                                    settings_hash=self.settings_hash)
        response = response_for_lm_eval(attempt.status, attempt.final_text, stop_strings(gen_kwargs))
        if self.store is not None:
            attempt.info["lm_eval"] = request_info(req.task_name, req.doc_id, req.idx, context, gen_kwargs, prefill)
            attempt.info["response"] = response
            self.store.append(attempt, None)
        return response
