"""The tools checkpoint's training data must be what the harness renders today (else: re-capture)."""

from __future__ import annotations

import shutil

import pytest

from runners.tiny_model.tools_recipe import CASES_FILE, load_cases
from tests.conftest import needs_bwrap
from tests.support import tiny_tool_cases as cases


def test_cases_file_covers_every_case_with_whole_turns():
    stored = load_cases()
    assert list(stored) == [c.name for c in cases.CASES]
    for name, turns in stored.items():
        # codeforces: two problems; swebench: container.exec, apply_patch, answer; the others: tool call, answer
        assert len(turns) == (3 if name == "swebench" else 2), name
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
