"""Harmony transcripts of the scripted behaviour, as text with inline special tokens.

Pure python (no torch, no openai_harmony import): every function returns strings such as
``"<|start|>system<|message|>...<|end|>"``; encode them with an ``openai_harmony`` encoding
(``enc.encode(text, allowed_special="all")``). The test suite checks these strings against
what openai_harmony renders (harness venv) and the builder checks the server-side variants
against vLLM's own Harmony renderer (vLLM venv), so drift is caught on both sides.

Prompt variants exist because the two Harmony packages differ in how they render earlier
tool calls and tool results:

* openai-harmony 0.0.8 (harness venv):
  ``<|start|>assistant to=functions.f<|channel|>commentary json<|message|>`` and
  ``<|start|>functions.f to=assistant<|channel|>commentary<|message|>``.
* oss-harmony 0.0.11 (vLLM venv): ``<|start|>assistant<|channel|>commentary to=functions.f
  <|constrain|>json<|message|>`` and ``<|start|>functions.f<|channel|>commentary
  to=assistant<|message|>``; vLLM 0.32 rewrites the assistant header back to the first form.

The model always *generates* the tool call as
``<|channel|>commentary to=functions.f <|constrain|>json<|message|>{args}<|call|>``.
"""

from __future__ import annotations

from typing import Any

from runners.tiny_model import script as S

START, END, MESSAGE, CHANNEL = "<|start|>", "<|end|>", "<|message|>", "<|channel|>"
CONSTRAIN, RETURN, CALL = "<|constrain|>", "<|return|>", "<|call|>"

MODEL_IDENTITY = "You are ChatGPT, a large language model trained by OpenAI."
KNOWLEDGE_CUTOFF = "2024-06"
FUNCTIONS_LINE = "Calls to these tools must go to the commentary channel: 'functions'."

#: How an earlier assistant tool call is rendered in a follow-up prompt.
CALL_HEADER_STYLES = ("legacy_json", "legacy_constrain", "modern")
#: How a tool result is rendered in a follow-up prompt.
TOOL_RESULT_STYLES = ("legacy", "modern")
#: Follow-up renderings trained on: vLLM 0.32 chat completions (legacy header, modern
#: tool result) and openai-harmony 0.0.8 with either content type the harness may keep.
TURN2_VARIANTS = (("legacy_json", "modern"), ("legacy_json", "legacy"), ("legacy_constrain", "legacy"))


def system_text(effort: str, *, with_functions: bool = False) -> str:
    lines = [
        MODEL_IDENTITY,
        f"Knowledge cutoff: {KNOWLEDGE_CUTOFF}",
        f"Current date: {S.CONVERSATION_START_DATE}",
        "",
        f"Reasoning: {effort}",
        "",
        "# Valid channels: analysis, commentary, final. Channel must be included for every message.",
    ]
    if with_functions:
        lines.append(FUNCTIONS_LINE)
    return "\n".join(lines)


def _ts_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "string":
        return "string"
    if kind in ("number", "integer"):
        return "number"
    if kind == "boolean":
        return "boolean"
    raise ValueError(f"unsupported schema type in scripted tool: {kind!r}")


def developer_tools_text(tools: list[dict[str, Any]]) -> str:
    """The developer message body for function tools (TypeScript-like namespace)."""
    parts = ["# Tools", "", "## functions", "", "namespace functions {", ""]
    for tool in tools:
        fn = tool["function"]
        parts.append(f"// {fn['description']}")
        params = fn.get("parameters") or {}
        props = params.get("properties") or {}
        required = set(params.get("required") or [])
        parts.append(f"type {fn['name']} = (_: {{")
        for name, prop in props.items():
            if prop.get("description"):
                parts.append(f"// {prop['description']}")
            opt = "" if name in required else "?"
            parts.append(f"{name}{opt}: {_ts_type(prop)},")
        parts.append("}) => any;")
        parts.append("")
    parts.append("} // namespace functions")
    return "\n".join(parts)


def message(role_header: str, body: str, *, end: str = END) -> str:
    return f"{START}{role_header}{MESSAGE}{body}{end}"


def assistant_msg(channel: str, body: str, *, end: str = END) -> str:
    return message(f"assistant{CHANNEL}{channel}", body, end=end)


def aime_prompt(effort: str, problem_id: str) -> str:
    """System + user, ready for the assistant to write (ends with ``<|start|>assistant``)."""
    problem = S.problem_by_id(problem_id)["problem"]
    return (
        message("system", system_text(effort))
        + message("user", S.user_message(problem))
        + f"{START}assistant"
    )


def aime_completion(effort: str, problem_id: str) -> str:
    """What the model generates after ``<|start|>assistant`` (ends with ``<|return|>``)."""
    item = S.SCRIPT[effort][problem_id]
    return (
        f"{CHANNEL}analysis{MESSAGE}{item['analysis']}{END}"
        + assistant_msg("final", item["final"], end=RETURN)
    )


def _tool_prefix(effort: str) -> str:
    tc = S.TOOL_CASE
    return (
        message("system", system_text(effort, with_functions=True))
        + message("developer", developer_tools_text(tc["tools"]))
        + message("user", tc["user"])
    )


def tool_call_header(style: str) -> str:
    rcpt, ctype = S.TOOL_CASE["recipient"], S.TOOL_CASE["content_type"]
    if style == "legacy_json":
        return f"{START}assistant to={rcpt}{CHANNEL}commentary {ctype}{MESSAGE}"
    if style == "legacy_constrain":
        return f"{START}assistant to={rcpt}{CHANNEL}commentary {CONSTRAIN}{ctype}{MESSAGE}"
    if style == "modern":
        return f"{START}assistant{CHANNEL}commentary to={rcpt} {CONSTRAIN}{ctype}{MESSAGE}"
    raise ValueError(style)


def tool_result_msg(style: str) -> str:
    rcpt, result = S.TOOL_CASE["recipient"], S.TOOL_CASE["tool_result"]
    if style == "legacy":
        return message(f"{rcpt} to=assistant{CHANNEL}commentary", result)
    if style == "modern":
        return message(f"{rcpt}{CHANNEL}commentary to=assistant", result)
    raise ValueError(style)


def tool_turn1_prompt(effort: str) -> str:
    return _tool_prefix(effort) + f"{START}assistant"


def tool_turn1_completion() -> str:
    tc = S.TOOL_CASE
    return (
        f"{CHANNEL}analysis{MESSAGE}{tc['analysis']}{END}"
        + f"{START}assistant{CHANNEL}commentary to={tc['recipient']} {CONSTRAIN}{tc['content_type']}"
        + f"{MESSAGE}{tc['arguments']}{CALL}"
    )


def tool_turn2_prompt(effort: str, *, keep_analysis: bool, call_style: str, result_style: str) -> str:
    tc = S.TOOL_CASE
    text = _tool_prefix(effort)
    if keep_analysis:
        text += assistant_msg("analysis", tc["analysis"])
    text += tool_call_header(call_style) + tc["arguments"] + CALL
    text += tool_result_msg(result_style)
    return text + f"{START}assistant"


def tool_turn2_completion() -> str:
    tc = S.TOOL_CASE
    return (
        f"{CHANNEL}analysis{MESSAGE}{tc['final_analysis']}{END}"
        + assistant_msg("final", tc["final"], end=RETURN)
    )


def training_pairs() -> list[tuple[str, str, str]]:
    """All (name, prompt_text, completion_text) pairs the model is trained on."""
    pairs: list[tuple[str, str, str]] = []
    for effort in S.EFFORTS:
        for pid in S.PROBLEM_IDS:
            pairs.append((f"aime/{effort}/{pid}", aime_prompt(effort, pid), aime_completion(effort, pid)))
    for effort in S.EFFORTS:
        pairs.append((f"tool1/{effort}", tool_turn1_prompt(effort), tool_turn1_completion()))
        for keep in (True, False):
            for cs, rs in TURN2_VARIANTS:
                name = f"tool2/{effort}/{'ana' if keep else 'noana'}/{cs}/{rs}"
                prompt = tool_turn2_prompt(effort, keep_analysis=keep, call_style=cs, result_style=rs)
                pairs.append((name, prompt, tool_turn2_completion()))
    return pairs
