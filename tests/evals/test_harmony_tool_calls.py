"""A tool call comes back in the next prompt token for token as the model emitted it (header, channel, content type).

The model's completion follows the prompt's ``<|start|>assistant``; the prompt for the next turn must be that
prompt, then exactly the completion's tokens (and the ``<|call|>`` it stopped on), then the tool's answer.
"""

from __future__ import annotations

import pytest

from evals import harmony
from evals.task import assistant_message
from evals.types import ModelOutput, ToolCall

USER = [{"role": "user", "content": "What is 2^10 mod 7?"}]


def _emit(text: str) -> list[int]:
    return harmony.encoding().encode(text, allowed_special="all")


def _harmony_rendered_call(recipient: str, channel: str, content_type: str | None, body: str) -> list[int]:
    """openai_harmony's own rendering of the call message, without the prompt's ``<|start|>assistant``."""
    import openai_harmony as oh

    msg = oh.Message.from_role_and_content(oh.Role.ASSISTANT, body).with_channel(channel).with_recipient(recipient)
    if content_type:
        msg = msg.with_content_type(content_type)
    tokens = list(harmony.encoding().render(msg))
    head = _emit("<|start|>assistant")
    assert tokens[:len(head)] == head
    return tokens[len(head):]


def _next_turn(messages: list[dict], emitted: list[int], result: str, **render: object) -> tuple[list[int], list[int]]:
    """(prompt the model answered, prompt after its call and the tool's result), through the harness's own path:
    parse the completion as the harmony client does (vLLM leaves the stop token out), build the transcript as
    the tool loop does, render again."""
    prompt = harmony.render_prompt(messages, "high", **render)
    out = harmony.parse_completion_tokens(emitted[:-1])
    assert out.parse_error is None and len(out.tool_calls) == 1
    call = out.tool_calls[0]
    after = [*messages, assistant_message(out),
             {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": result}]
    return prompt, harmony.render_prompt(after, "high", **render)


def _assert_continues(prompt: list[int], nxt: list[int], emitted: list[int]) -> None:
    enc = harmony.encoding()
    assert nxt[:len(prompt)] == prompt
    got = nxt[len(prompt):len(prompt) + len(emitted)]
    assert got == emitted, f"re-rendered {enc.decode(got)!r}\n      emitted {enc.decode(emitted)!r}"


def test_a_python_call_rendered_by_openai_harmony_comes_back_token_for_token():
    emitted = _harmony_rendered_call("python", "analysis", "code", "import sympy as sp\nsp.factorint(2024)")
    assert harmony.encoding().decode(emitted).startswith(" to=python<|channel|>analysis code<|message|>")
    prompt, nxt = _next_turn(USER, emitted, "{2: 3, 11: 1, 23: 1}\n", python_tool=True)
    _assert_continues(prompt, nxt, emitted)
    tail = harmony.encoding().decode(nxt[len(prompt) + len(emitted):])
    assert tail == ("<|start|>python to=assistant<|channel|>analysis<|message|>{2: 3, 11: 1, 23: 1}\n<|end|>"
                    "<|start|>assistant")


@pytest.mark.parametrize("completion", [
    # what gpt-oss writes: the recipient after the channel, then the content type
    "<|channel|>analysis to=python code<|message|>print(2**10 % 7)<|call|>",
    "<|channel|>analysis<|message|>Use python.<|end|><|start|>assistant<|channel|>analysis to=python code<|message|>"
    "x = 2**10\nx % 7<|call|>",
    # the recipient in the role section, and a call written without a content type
    "<|channel|>analysis<|message|>Check.<|end|><|start|>assistant to=python<|channel|>analysis code<|message|>1+1<|call|>",
    "<|channel|>analysis to=python<|message|>print(1)<|call|>",
], ids=["after-channel", "after-analysis", "role-section", "no-content-type"])
def test_python_calls_as_gpt_oss_writes_them_come_back_token_for_token(completion):
    emitted = _emit(completion)
    prompt, nxt = _next_turn(USER, emitted, "2\n", python_tool=True)
    _assert_continues(prompt, nxt, emitted)


def test_function_calls_keep_their_commentary_channel_and_json_constraint():
    tools = [{"type": "function", "function": {"name": "lookup", "description": "Find a user.",
                                               "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]
    for completion in ('<|channel|>analysis<|message|>Look up.<|end|><|start|>assistant<|channel|>commentary '
                       'to=functions.lookup <|constrain|>json<|message|>{"q": "x"}<|call|>',
                       _harmony_rendered_call("functions.lookup", "commentary", "<|constrain|>json", '{"q": "x"}')):
        emitted = _emit(completion) if isinstance(completion, str) else completion
        prompt, nxt = _next_turn(USER, emitted, '"user_1"', tools=tools)
        _assert_continues(prompt, nxt, emitted)


def test_every_earlier_call_of_a_long_loop_stays_as_emitted():
    enc = harmony.encoding()
    messages = list(USER)
    prompt = harmony.render_prompt(messages, "high", python_tool=True)
    transcript_tokens = list(prompt)  # what the model has seen and said so far, in order
    for i in range(4):
        emitted = _emit(f"<|channel|>analysis<|message|>Step {i}.<|end|><|start|>assistant<|channel|>analysis "
                        f"to=python code<|message|>x{i} = {i} ** 2\nx{i}<|call|>")
        out = harmony.parse_completion_tokens(emitted[:-1])
        messages += [assistant_message(out), {"role": "tool", "tool_call_id": out.tool_calls[0].id, "name": "python",
                                              "content": f"{i * i}\n"}]
        prompt = harmony.render_prompt(messages, "high", python_tool=True)
        transcript_tokens += emitted
        assert prompt[:len(transcript_tokens)] == transcript_tokens, enc.decode(prompt[-200:])
        transcript_tokens = list(prompt)


def test_what_the_parser_keeps_of_a_call_and_that_the_store_keeps_it():
    out = harmony.parse_completion_tokens(_emit("<|channel|>analysis to=python code<|message|>1+1"))
    [call] = out.tool_calls
    assert (call.name, call.arguments, call.channel, call.content_type) == ("python", "1+1", "analysis", "code")
    assert call.header == "<|channel|>analysis to=python code"
    assert ModelOutput.from_dict(out.to_dict()).tool_calls == [call]
    # another transport's call has none of it, and its stored line is what it was
    assert ToolCall(id="c", name="f", arguments="{}").to_dict() == {"id": "c", "name": "f", "arguments": "{}"}


def test_a_python_call_known_only_by_name_is_rendered_as_gpt_oss_writes_it():
    """A transcript without headers (a stored or hand-made one): python on analysis with the ``code`` type."""
    messages = [*USER, {"role": "assistant", "reasoning": "Compute.", "content": "",
                        "tool_calls": [{"id": "c1", "name": "python", "arguments": "2**10 % 7"}]},
                {"role": "tool", "tool_call_id": "c1", "name": "python", "content": "2\n"}]
    text = harmony.encoding().decode(harmony.render_prompt(messages, "high", python_tool=True))
    assert "<|start|>assistant to=python<|channel|>analysis code<|message|>2**10 % 7<|call|>" in text



def test_after_a_final_answer_harmony_drops_the_python_calls_and_the_rest_keep_their_headers():
    """openai_harmony drops analysis-channel messages (python calls, results) before the last final answer; a
    function call (commentary) of the same turn stays, with the header the model wrote."""
    tools = [{"type": "function", "function": {"name": "lookup", "description": "Find.", "parameters": {}}}]
    python = harmony.parse_completion_tokens(_emit("<|channel|>analysis to=python code<|message|>1+1"))
    lookup = harmony.parse_completion_tokens(
        _emit('<|channel|>commentary to=functions.lookup <|constrain|>json<|message|>{"q": 1}'))
    turn = assistant_message(python)
    turn["tool_calls"] += [c.to_dict() for c in lookup.tool_calls]
    turn["tool_calls"][1]["id"] = "call_1"
    messages = [*USER, turn, {"role": "tool", "tool_call_id": "call_0", "name": "python", "content": "2\n"},
                {"role": "tool", "tool_call_id": "call_1", "name": "lookup", "content": "found"},
                {"role": "assistant", "content": "It is 2."}, {"role": "user", "content": "Thanks."}]
    text = harmony.encoding().decode(harmony.render_prompt(messages, "high", tools=tools, python_tool=True))
    assert "1+1" not in text
    assert ('<|start|>assistant<|channel|>commentary to=functions.lookup <|constrain|>json<|message|>{"q": 1}<|call|>'
            '<|start|>functions.lookup to=assistant<|channel|>commentary<|message|>found<|end|>') in text
