from __future__ import annotations

import pytest

from tasks.lm_eval_bridge.common import (
    apply_until,
    context_to_messages,
    render_chat,
    response_for_lm_eval,
    sample_id,
    stop_strings,
)


def test_until_cuts_the_final_at_the_first_stop_string():
    assert apply_until("Answer: 12\n\nAnswer: 99", ["\n\n", "Question:"]) == "Answer: 12"
    assert apply_until("a Question: b\n\nc", ["\n\n", "Question:"]) == "a "
    assert apply_until("no stops", ["</s>"]) == "no stops"
    assert apply_until(None, ["x"]) == ""
    assert stop_strings({"until": "</s>"}) == ["</s>"]
    assert stop_strings({"until": ["", "\n"]}) == ["\n"]
    assert stop_strings({}) == []


def test_unusable_attempts_reach_lm_eval_as_empty_answers():
    assert response_for_lm_eval("ok", "Answer: 1\n\nmore", ["\n\n"]) == "Answer: 1"
    assert response_for_lm_eval("truncated", "Answer: 1", ["\n\n"]) == ""


def test_contexts_become_messages():
    assert context_to_messages("plain prompt") == ([{"role": "user", "content": "plain prompt"}], None)
    chat = render_chat([{"role": "system", "content": "S"}, {"role": "user", "content": "Q?"}])
    assert context_to_messages(chat) == ([{"role": "system", "content": "S"}, {"role": "user", "content": "Q?"}], None)
    prefilled = render_chat([{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "Answer:"}],
                            add_generation_prompt=False)
    assert context_to_messages(prefilled) == ([{"role": "user", "content": "Q?\n\nAnswer:"}], "Answer:")


@pytest.mark.parametrize(("task", "doc", "idx", "expected"), [("gpqa", 3, 0, "gpqa/3"), ("t", 0, 2, "t/0/2")])
def test_sample_ids(task, doc, idx, expected):
    assert sample_id(task, doc, idx) == expected
