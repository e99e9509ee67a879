"""Pieces both bridge paths share (no lm-eval import): request ids, prompts, stop strings, store records."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from evals.task import TaskError

# lm-eval hands the model a string context. With ``apply_chat_template`` it asks the model to render the chat
# first; we "render" it as this marker + JSON so the messages reach our transports intact (Harmony rendering
# is the transport's job, never a string template's).
CHAT_MARKER = "<|gptoss-harmony-chat|>"
TOKENIZER_NAME = "gptoss-harmony"


class BridgeError(TaskError):
    """The lm-eval bridge cannot go on; the message says why and what to do."""


def lm_eval_missing_message() -> str:
    return ("lm-eval is not installed in this environment; install the extra: pip install 'gptoss-eval[lm-eval]' "
            "(lm-eval==0.4.13)")


def sample_id(task_name: str | None, doc_id: int | None, idx: int = 0) -> str:
    """Our sample id for one lm-eval request: ``<task>/<doc_id>`` (``/<idx>`` for a doc's later requests)."""
    base = f"{task_name}/{doc_id}"
    return base if not idx else f"{base}/{idx}"


def render_chat(history: list[dict[str, Any]], add_generation_prompt: bool = True) -> str:
    payload = {"messages": [{"role": m["role"], "content": m["content"]} for m in history],
               "add_generation_prompt": bool(add_generation_prompt)}
    return CHAT_MARKER + json.dumps(payload, ensure_ascii=False)


class HarmonyChatTemplate:
    """The chat-template part of lm-eval's LM API: our transport renders Harmony, so messages pass through."""

    def apply_chat_template(self, chat_history: list[dict[str, Any]], add_generation_prompt: bool = True) -> str:
        return render_chat(chat_history, add_generation_prompt)

    @property
    def tokenizer_name(self) -> str:
        return TOKENIZER_NAME

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return "harmony (rendered by the transport)" if chat_template else None


def context_to_messages(context: str) -> tuple[list[dict[str, Any]], str | None]:
    """Our neutral messages for an lm-eval context, and the assistant prefill folded into the prompt (if any).

    A plain-text context (no chat template) becomes one user message. A chat context keeps its roles; lm-eval's
    ``system`` becomes our instructions. An assistant prefill (``gen_prefix``) cannot be continued through a chat
    server without parsing it into Harmony channels, so it is appended to the last user message instead and
    returned so the attempt records it.
    """
    if not isinstance(context, str):
        raise BridgeError(f"lm-eval context is {type(context).__name__}, expected a string (multimodal or "
                          f"multiple-input tasks are not supported)")
    if not context.startswith(CHAT_MARKER):
        return [{"role": "user", "content": context}], None
    payload = json.loads(context[len(CHAT_MARKER):])
    messages = [{"role": m["role"], "content": m["content"]} for m in payload["messages"]]
    prefill = None
    if messages and messages[-1]["role"] == "assistant" and not payload.get("add_generation_prompt", True):
        prefill = messages.pop()["content"]
        users = [i for i, m in enumerate(messages) if m["role"] == "user"]
        if users:
            last = messages[users[-1]]
            last["content"] = f"{last['content'].rstrip()}\n\n{prefill}"
        else:
            messages.append({"role": "user", "content": prefill})
    return messages, prefill


def context_digest(context: str) -> str:
    return hashlib.sha256(context.encode("utf-8")).hexdigest()[:16]


def stop_strings(gen_kwargs: Any) -> list[str]:
    until = (gen_kwargs or {}).get("until") if isinstance(gen_kwargs, dict) else None
    if until is None:
        return []
    if isinstance(until, str):
        until = [until]
    return [s for s in until if isinstance(s, str) and s]


def apply_until(text: str | None, until: list[str]) -> str:
    """lm-eval's stop sequences applied to the FINAL channel after generation: cut at the first stop string.

    They are never sent to the server: a stop string inside the reasoning would end the episode before the
    answer is written (lm-eval's known weakness with reasoning models).
    """
    if not text:
        return ""
    cut = len(text)
    for stop in until:
        i = text.find(stop)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


def response_for_lm_eval(status: str, final: str | None, until: list[str]) -> str:
    """What lm-eval scores: the final channel cut at ``until``; nothing for truncated/malformed/error attempts
    (the same zero our engine gives them)."""
    return apply_until(final, until) if status == "ok" else ""


def request_info(task_name: str | None, doc_id: int | None, idx: int, context: str, gen_kwargs: Any,
                 prefill: str | None) -> dict[str, Any]:
    """The lm-eval facts kept in ``Attempt.info["lm_eval"]`` (what was asked; what of it we did not send)."""
    gk = dict(gen_kwargs) if isinstance(gen_kwargs, dict) else {}
    return {"task": task_name, "doc_id": doc_id, "idx": idx, "context_sha": context_digest(context),
            "until": stop_strings(gk),
            # The task's own decoding settings (often greedy, short max_gen_toks) are recorded, not sent: gpt-oss
            # is sampled as its card was (temperature 1.0, long budgets) from our config.
            "task_gen_kwargs": {k: v for k, v in gk.items() if k != "until"},
            **({"prefill_folded": prefill} if prefill else {})}

