"""A completion of several messages comes back in the next prompt token for token as the model emitted it.

gpt-oss may write several analysis messages, a commentary preamble, then its call, each message closed by
``<|end|>`` and the next opened by ``<|start|>assistant``. The completions here are built token by token the way
the model emits them (the role, the header, ``<|message|>``, the body, the closing token); the harness parses them as
the harmony client does, builds the transcript with ``assistant_message`` and renders the next prompt, which must be
the previous prompt, then exactly the emitted tokens, then the tool's message.
"""

from __future__ import annotations

import pytest

from evals import harmony
from evals.clients import ChatCompletionsClient, ResponsesClient
from evals.task import assistant_message
from evals.types import ModelOutput

USER = [{"role": "user", "content": "Find the sum of the prime factors of 2024, with multiplicity."}]
LOOKUP = [{"type": "function", "function": {"name": "lookup", "description": "Find a user by name.",
                                            "parameters": {"type": "object",
                                                           "properties": {"q": {"type": "string"}}}}}]


def _enc():
    return harmony.encoding()


def _special(name: str) -> int:
    return _enc().encode(f"<|{name}|>", allowed_special="all")[0]


def _model_emits(*messages: tuple[str, str]) -> list[int]:
    """The tokens of a completion of ``(header, body)`` messages as the model samples them: after the prompt's
    ``<|start|>assistant`` the first header, later ones after their own ``<|start|>`` and role; every message but
    the last closed by ``<|end|>``, the last (the call) by ``<|call|>``."""
    enc = _enc()
    tokens: list[int] = []
    for n, (header, body) in enumerate(messages):
        if n:
            tokens += [_special("start"), *enc.encode("assistant", disallowed_special=())]
        tokens += enc.encode(header, allowed_special="all")
        tokens += [_special("message"), *enc.encode(body, disallowed_special=())]
        tokens.append(_special("call") if n == len(messages) - 1 else _special("end"))
    return tokens


def _tool_message(author: str, channel: str, result: str) -> list[int]:
    """The tool's answer as gpt-oss reads it, then the next ``<|start|>assistant``."""
    return _enc().encode(f"<|start|>{author} to=assistant<|channel|>{channel}<|message|>{result}<|end|>"
                         "<|start|>assistant", allowed_special="all")


def _parsed(emitted: list[int]) -> ModelOutput:
    out = harmony.parse_completion_tokens(emitted[:-1])  # vLLM leaves the stop token out of the completion
    assert out.parse_error is None and len(out.tool_calls) == 1
    return out


def _after_call(messages: list[dict], out: ModelOutput, result: str) -> list[dict]:
    call = out.tool_calls[0]
    return [*messages, assistant_message(out),
            {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": result}]


def _assert_same(got: list[int], want: list[int]) -> None:
    if got != want:
        at = next((k for k, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))
        enc = _enc()
        raise AssertionError(f"first difference at token {at}:\n  rendered {enc.decode(got[at - 20:at + 40])!r}\n"
                             f"  expected {enc.decode(want[at - 20:at + 40])!r}")


PYTHON = ("python", "analysis", "2024 = 2**3 * 11 * 23 -> 40\n")
FUNCTION = ("functions.lookup", "commentary", '{"name": "Ada"}')

CASES = {
    "several-analysis-then-python": ([
        ("<|channel|>analysis", "We need the prime factorisation of 2024."),
        ("<|channel|>analysis", "Let me double-check with sympy rather than by hand."),
        ("<|channel|>analysis", "Compute."),
        ("<|channel|>analysis to=python code", "import sympy as sp\nf = sp.factorint(2024)\nsum(p*e for p, e in f.items())"),
    ], PYTHON),
    "preamble-then-python": ([
        ("<|channel|>analysis", "Factor 2024."),
        ("<|channel|>commentary", "I will check the factorisation with a short computation."),
        ("<|channel|>analysis to=python code", "import sympy as sp\nsp.factorint(2024)"),
    ], PYTHON),
    "analysis-then-function-call": ([
        ("<|channel|>analysis", "The user wants Ada's record; call lookup."),
        ("<|channel|>commentary to=functions.lookup <|constrain|>json", '{"q": "Ada"}'),
    ], FUNCTION),
    "analysis-preamble-then-function-call": ([
        ("<|channel|>analysis", "Need the record."),
        ("<|channel|>analysis", "Plan: look up, then answer."),
        ("<|channel|>commentary", "**Action plan**:\n1. Look up Ada\n---\nStarting now"),
        ("<|channel|>commentary to=functions.lookup<|constrain|>json", '{"q": "Ada"}'),
    ], FUNCTION),
    "preamble-first-then-function-call": ([
        ("<|channel|>commentary", "Looking that up."),
        ("<|channel|>commentary to=functions.lookup <|constrain|>json", '{"q": "Ada"}'),
    ], FUNCTION),
    "recipient-in-role-section-after-two-analysis": ([
        ("<|channel|>analysis", "One."),
        ("<|channel|>analysis", "Two."),
        (" to=python<|channel|>analysis code", "1 + 1"),
    ], PYTHON),
    "newlines-at-the-joins-and-an-empty-message": ([
        ("<|channel|>analysis", "ends in a newline\n"),
        ("<|channel|>analysis", ""),
        ("<|channel|>analysis", "\nstarts with one"),
        ("<|channel|>commentary", "\n"),
        ("<|channel|>analysis to=python code", "print(1)"),
    ], PYTHON),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_prompt_after_a_call_is_the_prompt_then_the_emitted_tokens_then_the_tool_message(name):
    messages, (author, channel, result) = CASES[name]
    render = {"python_tool": True, "tools": LOOKUP}
    prompt = harmony.render_prompt(USER, "high", **render)
    emitted = _model_emits(*messages)
    after = _after_call(USER, _parsed(emitted), result)
    _assert_same(harmony.render_prompt(after, "high", **render),
                 [*prompt, *emitted, *_tool_message(author, channel, result)])


def test_the_parts_say_what_was_written_and_the_text_is_stored_once():
    emitted = _model_emits(*CASES["analysis-preamble-then-function-call"][0])
    out = _parsed(emitted)
    assert out.analysis == "Need the record.\nPlan: look up, then answer."
    assert out.commentary == "**Action plan**:\n1. Look up Ada\n---\nStarting now"
    assert out.parts == [
        {"channel": "analysis", "header": "<|channel|>analysis", "chars": len("Need the record.")},
        {"channel": "analysis", "header": "<|channel|>analysis", "chars": len("Plan: look up, then answer.")},
        {"channel": "commentary", "header": "<|channel|>commentary", "chars": len(out.commentary)},
        {"call": 0},
    ]
    assert out.tool_calls[0].header == "<|channel|>commentary to=functions.lookup<|constrain|>json"
    stored = out.to_dict()
    assert ModelOutput.from_dict(stored) == out
    msg = assistant_message(ModelOutput.from_dict(stored))
    assert msg["commentary"] == out.commentary and msg["parts"] == out.parts


def test_a_long_loop_of_mixed_completions_extends_the_prompt_exactly_each_turn():
    render = {"python_tool": True, "tools": LOOKUP}
    messages = list(USER)
    prompt = harmony.render_prompt(messages, "high", **render)
    for name in ("several-analysis-then-python", "analysis-preamble-then-function-call", "preamble-then-python",
                 "newlines-at-the-joins-and-an-empty-message", "analysis-then-function-call"):
        turns, (author, channel, result) = CASES[name]
        emitted = _model_emits(*turns)
        messages = _after_call(messages, _parsed(emitted), result)
        nxt = harmony.render_prompt(messages, "high", **render)
        _assert_same(nxt, [*prompt, *emitted, *_tool_message(author, channel, result)])
        prompt = nxt


def test_after_a_final_answer_the_earlier_analysis_goes_and_preambles_and_calls_stay_as_written():
    """The drop rule as the renderer applied it before: an assistant turn's analysis is left out once a final
    answer followed it; a preamble is for the user (not chain of thought) and stays, like the function call."""
    render = {"python_tool": True, "tools": LOOKUP}
    turn1 = _model_emits(*CASES["analysis-preamble-then-function-call"][0])
    messages = _after_call(USER, _parsed(turn1), '{"user": "ada_1"}')
    final = _enc().encode("<|channel|>analysis<|message|>FINAL-THOUGHT<|end|><|start|>assistant<|channel|>final"
                          "<|message|>Ada is ada_1.", allowed_special="all")
    answer = harmony.parse_completion_tokens(final)
    assert answer.final == "Ada is ada_1." and answer.parts[1]["channel"] == "final"
    messages += [assistant_message(answer), {"role": "user", "content": "And 2024?"}]
    turn3 = _model_emits(("<|channel|>analysis", "THIRD-THOUGHT"), ("<|channel|>analysis to=python code", "2024"))
    messages = _after_call(messages, _parsed(turn3), "2024\n")
    tokens = harmony.render_prompt(messages, "high", **render)
    text = _enc().decode(tokens)
    for dropped in ("Need the record.", "Plan: look up", "FINAL-THOUGHT"):
        assert dropped not in text
    assert ("<|start|>assistant<|channel|>commentary<|message|>**Action plan**:\n1. Look up Ada\n---\nStarting now"
            "<|end|><|start|>assistant<|channel|>commentary to=functions.lookup<|constrain|>json<|message|>"
            '{"q": "Ada"}<|call|><|start|>functions.lookup to=assistant<|channel|>commentary<|message|>'
            '{"user": "ada_1"}<|end|><|start|>assistant<|channel|>final<|message|>Ada is ada_1.<|end|>'
            "<|start|>user<|message|>And 2024?<|end|><|start|>assistant") in text
    assert tokens[-len(turn3) - len(_tool_message("python", "analysis", "2024\n")):] == [
        *turn3, *_tool_message("python", "analysis", "2024\n")]


def test_the_same_turns_without_parts_render_as_before_and_one_message_turns_are_unchanged():
    """A store written before ``parts`` (or a message without them) renders as it always did; for the usual
    completion (one analysis message, then the call or the final answer) the parts change nothing."""
    def without_parts(messages):
        return [{k: v for k, v in m.items() if k not in ("parts", "commentary")} for m in messages]

    render = {"python_tool": True, "tools": LOOKUP}
    emitted = _model_emits(("<|channel|>analysis", "Compute."), ("<|channel|>analysis to=python code", "2**10 % 7"))
    messages = _after_call(USER, _parsed(emitted), "2\n")
    answer = harmony.parse_completion_tokens(_enc().encode(
        "<|channel|>analysis<|message|>So 2.<|end|><|start|>assistant<|channel|>final<|message|>2", allowed_special="all"))
    messages += [assistant_message(answer), {"role": "user", "content": "Thanks."}]
    assert harmony.render_prompt(messages, "high", **render) == \
        harmony.render_prompt(without_parts(messages), "high", **render)
    several = _after_call(USER, _parsed(_model_emits(*CASES["several-analysis-then-python"][0])), "40\n")
    old = _enc().decode(harmony.render_prompt(without_parts(several), "high", **render))
    assert ("<|channel|>analysis<|message|>We need the prime factorisation of 2024.\nLet me double-check with sympy "
            "rather than by hand.\nCompute.<|end|>") in old  # before: the analysis messages joined into one


@pytest.mark.parametrize("edit", ["reasoning", "commentary", "content", "call-dropped", "parts-garbled"])
def test_a_message_edited_after_parsing_is_rendered_from_its_fields(edit):
    render = {"python_tool": True, "tools": LOOKUP}
    out = _parsed(_model_emits(*CASES["analysis-preamble-then-function-call"][0]))
    msg = assistant_message(out)
    if edit == "reasoning":
        msg["reasoning"] = "A shorter thought."
    elif edit == "commentary":
        msg["commentary"] += " (edited)"
    elif edit == "content":
        msg["content"] = "An answer added by a loop."
    elif edit == "call-dropped":
        msg["tool_calls"] = []
    else:
        msg["parts"] = [{**msg["parts"][0], "chars": "16"}, *msg["parts"][1:]]
    fields = {k: v for k, v in msg.items() if k not in ("parts", "commentary")}
    tail = [{"role": "tool", "tool_call_id": "call_3", "name": "lookup", "content": "{}"}] if msg["tool_calls"] else []
    assert harmony.render_prompt([*USER, msg, *tail], "high", **render) == \
        harmony.render_prompt([*USER, fields, *tail], "high", **render)


def test_stores_without_parts_load_and_other_transports_lines_do_not_change():
    old_line = {"analysis": "think", "final": "4", "commentary": "", "tool_calls": [], "finish_reason": "stop",
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "reasoning_tokens": 1}, "latency_s": 0.1,
                "ttft_s": None, "timing": None, "transport": "harmony", "parse_error": None}
    out = ModelOutput.from_dict(old_line)
    assert out.parts == [] and out.to_dict() == old_line
    assert "parts" not in assistant_message(out) and "commentary" not in assistant_message(out)


def test_the_chat_and_responses_transports_send_the_same_request_with_or_without_parts():
    out = _parsed(_model_emits(*CASES["analysis-preamble-then-function-call"][0]))
    msg = assistant_message(out)
    plain = {k: v for k, v in msg.items() if k not in ("parts", "commentary")}
    tool = {"role": "tool", "tool_call_id": "call_3", "name": "lookup", "content": "{}"}
    assert ChatCompletionsClient._to_chat_messages([*USER, msg, tool]) == \
        ChatCompletionsClient._to_chat_messages([*USER, plain, tool])
    assert ResponsesClient._to_input([*USER, msg, tool]) == ResponsesClient._to_input([*USER, plain, tool])


def test_which_messages_openai_harmony_leaves_out_is_what_the_header_restorer_assumes():
    """openai_harmony's own rule, pinned on raw messages (odd cases included): with a final answer last it drops
    the analysis-channel messages before the FIRST final-channel message only; otherwise it drops nothing."""
    import openai_harmony as oh

    def asst(text, channel, recipient=None):
        m = oh.Message.from_role_and_content(oh.Role.ASSISTANT, text).with_channel(channel)
        return m.with_recipient(recipient) if recipient else m

    user = oh.Message.from_role_and_content(oh.Role.USER, "q")
    tool = oh.Message.from_author_and_content(oh.Author.new(oh.Role.TOOL, "python"), "r").with_channel("analysis") \
        .with_recipient("assistant")
    conversations = [
        [user, asst("A1", "analysis"), asst("c", "analysis", "python"), tool, asst("F1", "final")],
        [user, asst("A1", "analysis"), asst("F1", "final"), user, asst("A2", "analysis"), asst("F2", "final")],
        [user, asst("A1", "analysis"), asst("F1", "final"), user, asst("A2", "analysis"), asst("c", "analysis", "python")],
        [user, asst("P", "commentary"), asst("A1", "analysis"), asst("F1", "final")],
    ]
    enc = _enc()
    for msgs in conversations:
        rendered = enc.render_conversation_for_completion(oh.Conversation.from_messages(msgs), oh.Role.ASSISTANT)
        kept = harmony._kept_by_harmony(msgs)
        expected = [t for k in kept for t in enc.render(msgs[k])]
        assert rendered == [*expected, *enc.encode("<|start|>assistant", allowed_special="all")]
    assert harmony._kept_by_harmony(conversations[1]) == [0, 2, 3, 4, 5]  # A2 stays: it follows the first final
