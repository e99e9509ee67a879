"""The tools checkpoint's training data must be what the harness renders today (else: re-capture)."""

from __future__ import annotations

import json
import shutil

import pytest

from runners.tiny_model.tools_recipe import CASES_FILE, load_cases
from tests.conftest import needs_bwrap
from tests.support import tiny_tool_cases as cases


def test_cases_file_covers_every_case_with_whole_turns():
    stored = load_cases()
    assert list(stored) == [c.name for c in cases.CASES]
    for name, turns in stored.items():
        # codeforces: two problems; swebench: container.exec, apply_patch, answer; doctor: its tool probe's call
        # (whole and streamed probes send one prompt); the others: tool call, answer
        assert len(turns) == {"swebench": 3, "doctor": 1}.get(name, 2), name
        for turn in turns:
            # a completion ends where the model stops: <|return|> (answer) or <|call|> (tool call)
            assert turn["completion"][-1] in (200002, 200012), name


@needs_bwrap
def test_captured_prompts_are_what_the_harness_renders_now(capsys):
    if not (cases.TAU_DATA / "tasks_test.json").is_file():
        pytest.skip(f"Tau-Bench retail data not found at {cases.TAU_DATA}")
    pytest.importorskip("swebench", reason="swebench is not installed")
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    code = cases.main(["--check"])
    assert code == 0, f"{CASES_FILE.name} is stale: run `python -m tests.support.tiny_tool_cases` and rebuild"


def test_the_doctor_case_answers_the_doctors_own_tool_probe_with_its_call():
    """What the doctor asks (runners/doctor.py) is what the checkpoint learnt: its question and tool in the
    prompt, a call of that tool with JSON object arguments as the completion."""
    from evals import harmony
    from runners.doctor import tool_case

    messages, tools, tool = tool_case()
    (turn,) = load_cases()["doctor"]
    prompt = harmony.encoding().decode(turn["prompt"])
    assert messages[0]["content"] in prompt and f"type {tool} = " in prompt and "Reasoning: low" in prompt
    call = harmony.parse_completion_tokens(turn["completion"])
    assert [c.name for c in call.tool_calls] == [tool] and call.final is None
    assert isinstance(json.loads(call.tool_calls[0].arguments), dict)
