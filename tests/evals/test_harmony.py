from __future__ import annotations

import pytest

from evals import harmony


def test_vocabulary_loads_offline_from_the_wheel(tmp_path, monkeypatch):
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE", raising=False)
    monkeypatch.setenv("GPTOSS_EVAL_CACHE", str(tmp_path))
    folder = harmony.ensure_offline_vocab()
    assert folder == tmp_path / "tiktoken"
    assert (folder / harmony.O200K_FILE).stat().st_size > 1_000_000


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_effort_is_rendered_into_the_system_message(effort):
    enc = harmony.encoding()
    text = enc.decode(harmony.render_prompt([{"role": "user", "content": "Find x."}], effort))
    system = text.split("<|end|>")[0]
    assert system.startswith("<|start|>system<|message|>")
    assert f"Reasoning: {effort}" in system
    assert "Current date: 2026-01-01" in system
    assert text.endswith("<|start|>user<|message|>Find x.<|end|><|start|>assistant")


def test_instructions_and_tools_go_to_the_developer_message():
    tools = [{"type": "function", "function": {"name": "get_order", "description": "Look up an order",
                                               "parameters": {"type": "object",
                                                              "properties": {"id": {"type": "string"}}}}}]
    text = harmony.encoding().decode(harmony.render_prompt(
        [{"role": "system", "content": "Follow the policy."}, {"role": "user", "content": "hi"}], "high",
        tools=tools))
    developer = text.split("<|start|>developer<|message|>")[1].split("<|end|>")[0]
    assert "# Instructions\n\nFollow the policy." in developer
    assert "type get_order" in developer


def _completion(text: str) -> list[int]:
    return harmony.encoding().encode(text, allowed_special="all")


def test_channels_are_parsed_apart():
    out = harmony.parse_completion_tokens(_completion(
        "<|channel|>analysis<|message|>2+2 is 4<|end|><|start|>assistant<|channel|>final<|message|>\\boxed{4}<|return|>"))
    assert out.analysis == "2+2 is 4"
    assert out.final == "\\boxed{4}"
    assert out.parse_error is None and not out.tool_calls


def test_function_call_is_parsed_with_raw_arguments():
    out = harmony.parse_completion_tokens(_completion(
        "<|channel|>analysis<|message|>look it up<|end|><|start|>assistant<|channel|>commentary "
        "to=functions.get_order <|constrain|>json<|message|>{\"id\": \"#W1\"}<|call|>"))
    assert out.final is None
    assert [(c.name, c.arguments) for c in out.tool_calls] == [("get_order", '{"id": "#W1"}')]


def test_cut_off_analysis_has_no_final():
    out = harmony.parse_completion_tokens(_completion("<|channel|>analysis<|message|>still thinking about"))
    assert out.final is None and out.analysis == "still thinking about"


@pytest.mark.parametrize("garbage", ["plain text <|start|> <|end|>", "<|end|><|end|>", "<|message|>x<|return|>"])
def test_malformed_completion_never_raises(garbage):
    out = harmony.parse_completion_tokens(_completion(garbage))
    assert out.final is None
    assert out.parse_error


def test_earlier_analysis_is_dropped_after_a_final_but_kept_during_tool_calls():
    call = {"id": "c1", "name": "lookup", "arguments": "{}"}
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "reasoning": "OLD-THOUGHT", "content": "first answer"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "reasoning": "TOOL-THOUGHT", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "result"},
    ]
    text = harmony.encoding().decode(harmony.render_prompt(messages, "medium"))
    assert "OLD-THOUGHT" not in text
    assert "TOOL-THOUGHT" in text
    assert "<|start|>functions.lookup to=assistant<|channel|>commentary<|message|>result" in text


def test_reasoning_tokens_are_counted_when_the_server_does_not_say():
    usage = harmony.usage_with_reasoning({"prompt_tokens": 10, "completion_tokens": 20}, "one two three")
    assert usage.reasoning_tokens == harmony.count_tokens("one two three") > 0
    reported = harmony.usage_with_reasoning({"completion_tokens": 20,
                                             "completion_tokens_details": {"reasoning_tokens": 7}}, "x")
    assert reported.reasoning_tokens == 7
