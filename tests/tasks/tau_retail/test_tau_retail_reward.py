"""Reward (spec section 5): a scripted gold agent scores 1; wrong writes or missing outputs score 0."""

from __future__ import annotations

import json

import pytest

from tasks.tau_retail import RetailEnv, RetailTask
from tasks.tau_retail.tools import WRITE_TOOLS


def _play_gold(env: RetailEnv, task: RetailTask, *, as_json: bool = True) -> list[str]:
    """Scripted agent: every gold action as a tool call (JSON text arguments), then says the outputs."""
    for a in task.actions:
        env.step_tool(a.name, json.dumps(a.kwargs) if as_json else dict(a.kwargs))
    messages = ["Hello, how can I help?"]
    if task.outputs:
        messages.append("Here is what you asked for: " + " and ".join(task.outputs) + ".")
    return messages


def test_gold_agent_scores_one_on_every_test_task(data) -> None:
    env = RetailEnv(data=data)
    assert len(env.tasks) == 115
    failures = []
    for i in range(len(env.tasks)):
        task = env.reset(i)
        messages = _play_gold(env, task)
        info = env.reward(messages)
        if info.reward != 1.0 or not info.success:
            failures.append((i, info))
        has_transfer = any(a.name == "transfer_to_human_agents" for a in task.actions)
        assert env.done == has_transfer, i
        if has_transfer:
            assert env.done_reason == "transfer"
    assert failures == []


def test_transfer_tasks_and_stop(env: RetailEnv) -> None:
    task = env.reset(10)
    assert any(a.name == "transfer_to_human_agents" for a in task.actions)
    assert env.step_tool("transfer_to_human_agents", {"summary": "x"}) == "Transfer successful"
    assert env.done and env.done_reason == "transfer"
    env.reset(0)
    assert not env.done
    assert env.observe_user_message("thanks! ###STOP###") is True
    assert env.done and env.done_reason == "stop"


def _first_write_task(env: RetailEnv, *, outputs: bool | None = None) -> int:
    for i, t in enumerate(env.tasks):
        if any(a.name in WRITE_TOOLS for a in t.actions) and (outputs is None or bool(t.outputs) == outputs):
            return i
    raise AssertionError("no such task")


def test_extra_wrong_write_scores_zero(env: RetailEnv) -> None:
    i = _first_write_task(env, outputs=False)
    task = env.reset(i)
    msgs = _play_gold(env, task)
    assert env.reward(msgs).reward == 1.0
    # one additional write on an unrelated pending order
    pending = next(
        oid for oid, o in env.db.orders.items() if o["status"] == "pending" and o["user_id"] != task.user_id
    )
    obs = env.step_tool(
        "modify_pending_order_address",
        {
            "order_id": pending,
            "address1": "1 Main St",
            "address2": "",
            "city": "Austin",
            "state": "TX",
            "country": "USA",
            "zip": "78701",
        },
    )
    assert not obs.startswith("Error")
    info = env.reward(msgs)
    assert info.reward == 0.0 and not info.db_match and info.agent_hash != info.gt_hash


def test_single_wrong_argument_in_gold_write_scores_zero(env: RetailEnv) -> None:
    task = env.reset(0)  # exchange of two items in #W2378156
    for a in task.actions:
        kwargs = dict(a.kwargs)
        if a.name == "exchange_delivered_order_items":
            kwargs["new_item_ids"] = list(reversed(kwargs["new_item_ids"]))  # swapped -> invalid/other items
        env.step_tool(a.name, kwargs)
    assert env.reward([]).reward == 0.0


def test_no_write_at_all_scores_zero_for_write_task(env: RetailEnv) -> None:
    env.reset(_first_write_task(env))
    info = env.reward(["I did nothing"])
    assert info.reward == 0.0 and not info.db_match


def test_missing_output_scores_zero(env: RetailEnv) -> None:
    i = next(i for i, t in enumerate(env.tasks) if len(t.outputs) >= 2)
    task = env.reset(i)
    _play_gold(env, task)
    full = env.reward(["values: " + " ".join(task.outputs)])
    assert full.reward == 1.0 and full.missing_outputs == []
    partial = env.reward(["values: " + " ".join(task.outputs[:-1])])
    assert partial.reward == 0.0 and partial.db_match
    assert partial.missing_outputs == [task.outputs[-1]] or task.outputs[-1] in partial.missing_outputs


def test_outputs_only_count_in_respond_messages(env: RetailEnv) -> None:
    i = next(i for i, t in enumerate(env.tasks) if t.outputs)
    task = env.reset(i)
    _play_gold(env, task)
    text = "answer " + " ".join(task.outputs)
    # the output appears only in a tool-call turn / tool message: does not count
    msgs = [
        {"role": "assistant", "content": text, "tool_calls": [{"id": "1"}]},
        {"role": "tool", "content": text},
        {"role": "user", "content": text},
    ]
    assert env.reward(msgs).reward == 0.0
    assert env.reward([*msgs, {"role": "assistant", "content": text}]).reward == 1.0


def test_output_comma_and_case_rules(env: RetailEnv) -> None:
    i = next(i for i, t in enumerate(env.tasks) if "1093.34" in t.outputs)
    task = env.reset(i)
    _play_gold(env, task)
    others = [o for o in task.outputs if o != "1093.34"]
    base = " ".join(others)
    assert env.reward([base + " total $1,093.34"]).reward == 1.0  # commas stripped from the message
    assert env.reward([base + " total 1 093.34"]).reward == 0.0
    j = next(i for i, t in enumerate(env.tasks) if "polyester" in t.outputs)
    task = env.reset(j)
    _play_gold(env, task)
    rest = " ".join(o for o in task.outputs if o != "polyester")
    assert env.reward([rest + " POLYESTER"]).reward == 1.0  # case-insensitive


def test_read_only_task_unchanged_db(env: RetailEnv) -> None:
    i = next(i for i, t in enumerate(env.tasks) if not any(a.name in WRITE_TOOLS for a in t.actions))
    task = env.reset(i)
    assert env.gold_hash() == env.db_hash()
    assert env.reward([" ".join(task.outputs)]).reward == 1.0


def test_malformed_json_aborts_with_zero(env: RetailEnv) -> None:
    task = env.reset(0)
    _play_gold(env, task)
    assert env.reward([]).reward == 1.0
    obs = env.step_tool("get_order_details", '{"order_id": "#W2378156"')
    assert obs.startswith("Error: malformed tool arguments")
    assert env.done and env.done_reason == "aborted" and env.abort_reason
    rec = env.tool_log[-1]
    assert rec.status == "malformed_arguments" and "invalid JSON" in (rec.detail or "")
    info = env.reward([])
    assert info.reward == 0.0 and info.aborted and info.db_match  # DB is right, but the trial aborted


@pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "null", "", None, 5])
def test_non_object_arguments_are_malformed(env: RetailEnv, raw) -> None:
    env.reset(0)
    env.step_tool("list_all_product_types", raw)
    assert env.tool_log[-1].status == "malformed_arguments"
    assert env.done and env.abort_reason


def test_malformed_error_mode_continues(data) -> None:
    env = RetailEnv(data=data, malformed_args="error")
    task = env.reset(0)
    obs = env.step_tool("get_order_details", "{not json")
    assert obs.startswith("Error: malformed tool arguments for get_order_details: invalid JSON")
    assert not env.done and env.abort_reason is None
    _play_gold(env, task)
    assert env.reward([]).reward == 1.0
