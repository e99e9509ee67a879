"""The tau2 retail episode environment: the DB check of the reward as tau2's evaluator does it, with the
agent's calls answered as tau2 answers them (tau2-bench @ a2c0247, src/tau2/evaluator/evaluator_env.py)."""

from __future__ import annotations

import pytest

from tasks.tau2_retail.env import Tau2Env, gold_state, judge_messages
from tasks.tau2_retail.tools import WRITE_TOOLS

from .conftest import needs_data

pytestmark = needs_data


def replay_with_extra_argument(data, task, index: int) -> Tau2Env:
    """An agent that makes every gold call, the one at ``index`` with one argument too many."""
    env = Tau2Env(data, task)
    for i, action in enumerate(task.actions):
        arguments = dict(action.arguments)
        if i == index:
            arguments["note"] = "extra"
        env.step_tool(action.name, arguments)
    return env


def gold_without(data, task, index: int) -> str:
    """The DB hash of the gold actions with the one at ``index`` left out."""
    env = Tau2Env(data, task)
    for i, action in enumerate(task.actions):
        if i != index:
            env.step_tool(action.name, dict(action.arguments))
    return env.db.hash()


@pytest.mark.parametrize("release,cases,failing", [("current", 176, 172), ("2025-06", 178, 172)])
def test_one_extra_argument_on_one_gold_write_fails_the_db_check(data, release, cases, failing) -> None:
    """The issue's differential case: upstream refuses the call with a TypeError, so the write never happens
    and the DB check fails, except where leaving that write out gives the gold state anyway (the gold write
    is itself refused, or it writes what is already there)."""
    tasks = {t.id: t for t in data.tasks(release)}
    seen = failed = 0
    unaffected = []
    for tid in data.splits["base"]:
        task = tasks[tid]
        for i, action in enumerate(task.actions):
            if action.name not in WRITE_TOOLS:
                continue
            seen += 1
            env = replay_with_extra_argument(data, task, i)
            bad = env.tool_log[i]
            assert bad.error and bad.observation == \
                f"Error: RetailTools.{action.name}() got an unexpected keyword argument 'note'"
            assert env.errors >= 1  # counted toward max_errors
            reward = env.reward([])
            gold_hash = gold_state(data, task)[0]
            assert reward.db_match == (gold_without(data, task, i) == gold_hash), (tid, action.action_id)
            assert reward.components["DB"] == float(reward.db_match)
            if reward.db_match:
                unaffected.append(action.action_id)
            else:
                failed += 1
    assert (seen, failed) == (cases, failing)
    # 22_1 and 111_1 set a user's address to the one on file; 64_6 and 106_0 (and, in 2025-06, 12_4 and 13_4)
    # are gold writes the tools refuse
    expected = {"22_1", "111_1", "64_6", "106_0"} | ({"12_4", "13_4"} if release == "2025-06" else set())
    assert set(unaffected) == expected


def test_a_refused_gold_write_is_compared_all_the_same(data) -> None:
    """tau2 logs a failing gold action and compares the hashes anyway: the DB component is present."""
    task = next(t for t in data.tasks("current") if t.id == "64")
    assert gold_state(data, task)[1]  # its gold exchange is refused
    env = Tau2Env(data, task)
    assert env.reward([]).components["DB"] == 0.0  # the agent did nothing; the gold replay changed the DB
    for action in task.actions:
        env.step_tool(action.name, dict(action.arguments))
    reward = env.reward([], nl={"met": True, "checks": []})
    assert reward.db_match and reward.components["DB"] == 1.0 and reward.gold_write_errors


def test_the_judge_reads_text_that_came_with_tool_calls() -> None:
    transcript = [{"role": "system", "content": "policy"},
                  {"role": "assistant", "content": "", "undelivered_text": "Your refund is 10.5 dollars.",
                   "tool_calls": [{"name": "get_order_details", "arguments": '{"order_id": "#W1"}'}]},
                  {"role": "tool", "content": "{}"}]
    user = judge_messages(transcript, ["refund stated"])[1]["content"]
    assert "assistant: [tool calls] get_order_details" in user and "assistant: Your refund is 10.5 dollars." in user
