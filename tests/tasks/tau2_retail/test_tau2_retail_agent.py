"""The tau2 retail loop, reward and metrics: ``Tau2RetailTask.solve`` with fake model clients behind real
``ModelSession``s, and the console script against the conversation-aware scripted server."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from typing import Any

import pytest

from evals.clients import Sampling
from evals.engine import grade_attempt
from evals.task import DataUnavailable, ModelSession
from evals.types import ModelOutput, Sample, ToolCall
from tasks.tau2_retail.data import Tau2Task, clear_data_cache
from tasks.tau2_retail.task import Tau2RetailTask, tau2_metrics
from tasks.tau2_retail.tools import WRITE_TOOLS
from tests.conftest import run_cli
from tests.tasks.tau2_retail.conftest import DATA_DIR, needs_data
from tests.tasks.tau_retail.test_tau_retail_agent import (
    SECRET,
    FakeClient,
    TauServerProcess,
    cli_script,
    say,
    to_attempt,
)

pytestmark = needs_data

GREETING = "Hi! How can I help you today?"
TRANSFER_LINE = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."
Reply = Callable[[list[dict[str, Any]], Any], ModelOutput]


def calls(*pairs: tuple[str, Any], final: str | None = None) -> ModelOutput:
    return ModelOutput(analysis=SECRET, final=final, finish_reason="tool_calls", tool_calls=[
        ToolCall(id=f"call_{i}", name=n, arguments=a if isinstance(a, str) else json.dumps(a))
        for i, (n, a) in enumerate(pairs)])


def sim_reply(messages, tools) -> ModelOutput:
    assert tools is None
    last = messages[-1]["content"]
    if last == GREETING:
        return say("Hello, I need help with my orders.", analysis="user thinks")
    if "ALL DONE" in last:
        return say("Thanks! ###STOP###", analysis="user thinks")
    if TRANSFER_LINE in last:
        return say("###TRANSFER###", analysis="user thinks")
    return say("Okay, please go ahead.", analysis="user thinks")


def agent_plan(plan: list[ModelOutput]) -> Reply:
    """Agent turn n (assistant messages after the greeting) answers ``plan[n]``; past the end it fails lookups."""

    def reply(messages, tools):
        assert tools is not None and len(tools) == 16
        n = sum(1 for m in messages if m["role"] == "assistant") - 1
        return plan[n] if n < len(plan) else calls(("get_order_details", {"order_id": "#W0"}))

    return reply


def gold_plan(task: Tau2Task, *, say_info: bool = True, parallel: bool = False) -> list[ModelOutput]:
    plan = []
    if task.communicate_info and say_info:
        plan.append(say("Here is what you asked for: " + ", and ".join(task.communicate_info) + "."))
    pairs = [(a.name, a.arguments) for a in task.actions]
    if parallel:
        plan += [calls(*pairs[i:i + 2]) for i in range(0, len(pairs), 2)]
    else:
        plan += [calls(p) for p in pairs]
    if any(a.name == "transfer_to_human_agents" for a in task.actions):
        plan.append(say(TRANSFER_LINE))
    else:
        plan.append(say("Everything is done. ALL DONE."))
    return plan


def session(agent: Reply, sim: Reply = sim_reply, judge: Reply | None = None):
    agent_client, sim_client = FakeClient("agent-model", agent), FakeClient("sim-model", sim)
    peers = {"user_simulator": ModelSession(sim_client, effort="low", sampling=Sampling(temperature=0.0), seed=7)}
    judge_client = None
    if judge is not None:
        judge_client = FakeClient("judge-model", judge)
        peers["judge"] = ModelSession(judge_client, effort="low", sampling=Sampling(temperature=0.0), seed=9)
    model = ModelSession(agent_client, effort="high", sampling=Sampling(), seed=3, peers=peers)
    return model, agent_client, sim_client, judge_client


def run(task: Tau2RetailTask, sample: Sample, agent: Reply, sim: Reply = sim_reply, judge: Reply | None = None):
    model, agent_client, sim_client, judge_client = session(agent, sim, judge)
    episode = asyncio.run(task.solve(sample, model))
    return episode, grade_attempt(task, sample, to_attempt(sample, episode)), agent_client, sim_client, judge_client


@pytest.fixture(scope="module")
def june() -> Tau2RetailTask:
    return Tau2RetailTask(data_dir=str(DATA_DIR), release="2025-06")


@pytest.fixture(scope="module")
def june_samples(june) -> list[Sample]:
    return june.load()


def first(samples: list[Sample], pred) -> Sample:
    return next(s for s in samples if pred(s.input))


# ------------------------------------------------------------------------------------------------


def test_load_splits_releases_and_reward_basis(june, june_samples) -> None:
    assert len(june_samples) == 114 and june_samples[0].id == "task-0"
    assert {tuple(s.input.reward_basis) for s in june_samples} == {("DB", "COMMUNICATE")}
    current = Tau2RetailTask(data_dir=str(DATA_DIR)).load()
    assert {tuple(s.input.reward_basis) for s in current} == {("DB", "NL_ASSERTION"), ("DB",)}
    test = Tau2RetailTask(data_dir=str(DATA_DIR), split="test").load()
    assert len(test) == 40 and len(Tau2RetailTask(data_dir=str(DATA_DIR), split="train").load()) == 74
    assert [s.id for s in Tau2RetailTask(data_dir=str(DATA_DIR), task_ids=[5, "task-17"]).load()] == ["task-5", "task-17"]
    with pytest.raises(DataUnavailable, match="unknown split"):
        Tau2RetailTask(data_dir=str(DATA_DIR), split="dev").load()


def test_gold_agent_scores_one_on_every_base_task_of_the_2025_06_release(june, june_samples) -> None:
    async def episodes():
        out = []
        for s in june_samples:
            model, agent_client, sim_client, _ = session(agent_plan(gold_plan(s.input)))
            out.append((s, await june.solve(s, model), sim_client))
        return out

    failures = []
    for s, episode, sim_client in asyncio.run(episodes()):
        grade = grade_attempt(june, s, to_attempt(s, episode))
        info = episode.info
        if grade.score != 1.0 or episode.status != "ok":
            failures.append((s.id, grade.reason, info["stop_reason"]))
            continue
        assert set(info["reward"]["components"]) <= {"DB", "COMMUNICATE"} and info["stop_reason"] == "user_stop"
        assert info["user_stop_token"] == ("###TRANSFER###" if s.metadata["transfer"] else "###STOP###")
        for req in sim_client.requests:  # the simulator never sees analysis, tool calls or results
            text = json.dumps(req["messages"])
            assert SECRET not in text and "tool_calls" not in text and req["tools"] is None
    assert failures == []


def test_prompts_greeting_and_simulator_view(june, june_samples, data_dir) -> None:
    s = june_samples[0]
    episode, grade, agent_client, sim_client, _ = run(june, s, agent_plan(gold_plan(s.input)))
    prompts = json.loads((data_dir / "prompts.json").read_text())
    policy = (data_dir / "policy.md").read_text()
    system = agent_client.requests[0]["messages"][0]
    assert system == {"role": "system", "content": f"<instructions>\n{prompts['agent_instruction']}\n</instructions>\n"
                                                  f"<policy>\n{policy}\n</policy>"}
    assert agent_client.requests[0]["messages"][1] == {"role": "assistant", "content": GREETING}
    sim_first = sim_client.requests[0]["messages"]
    guidelines = (data_dir / "user_simulation_guidelines.md").read_text()
    assert sim_first[0]["content"].startswith(guidelines + "\n\n<scenario>\nInstructions:\n\tDomain: retail\n"
                                              "\tReason for call:\n\t\tYou received your order #W2378156")
    assert "\tKnown info:\n\t\tYou are Yusuf Rossi in zip code 19122.\n" in sim_first[0]["content"]
    assert sim_first[1:] == [{"role": "user", "content": GREETING}]
    assert grade.score == 1.0 and episode.info["user_simulator"]["model"] == "sim-model"


def test_one_wrong_write_scores_zero(june, june_samples) -> None:
    s = first(june_samples, lambda t: any(a.name in WRITE_TOOLS for a in t.actions) and not t.communicate_info
              and not any(a.name == "transfer_to_human_agents" for a in t.actions))
    plan = gold_plan(s.input)
    wrong = calls(("modify_user_address", {"user_id": "yusuf_rossi_9620", "address1": "1 Wrong St", "address2": "", "city": "X",
                                           "state": "CA", "country": "USA", "zip": "00000"}))
    episode, grade, *_ = run(june, s, agent_plan([*plan[:-1], wrong, plan[-1]]))
    assert episode.status == "ok" and episode.info["stop_reason"] == "user_stop"
    assert grade.score == 0.0 and grade.details["failure"] == "wrong_db" and episode.info["reward"]["components"]["DB"] == 0


def test_missing_communicate_info_scores_zero(june, june_samples) -> None:
    s = first(june_samples, lambda t: bool(t.communicate_info))
    episode, grade, *_ = run(june, s, agent_plan(gold_plan(s.input, say_info=False)))
    assert episode.info["reward"]["db_match"] and grade.score == 0.0
    assert grade.details["failure"] == "missing_communicate"
    assert grade.details["missing_communicate"] == list(s.input.communicate_info)


def test_text_that_comes_with_a_tool_call_counts_for_communicate_but_is_not_delivered(june, june_samples) -> None:
    """tau2's COMMUNICATE check reads every assistant message with text, tool calls or not; the user never
    sees that text (the message goes to the environment)."""
    s = first(june_samples, lambda t: bool(t.communicate_info) and len(t.actions) >= 1)
    info_text = "Here is what you asked for: " + ", and ".join(s.input.communicate_info) + "."
    plan = gold_plan(s.input, say_info=False)
    first_call = plan[0].tool_calls[0]
    plan[0] = calls((first_call.name, json.loads(first_call.arguments)), final=info_text)
    episode, grade, _, sim_client, _ = run(june, s, agent_plan(plan))
    assert grade.score == 1.0 and episode.info["reward"]["components"]["COMMUNICATE"] == 1.0
    assert episode.info["tool_summary"]["undelivered_texts"] == 1
    assert info_text not in json.dumps([r["messages"] for r in sim_client.requests])


def test_parallel_tool_calls_all_run(june, june_samples) -> None:
    s = first(june_samples, lambda t: len(t.actions) >= 4 and any(a.name in WRITE_TOOLS for a in t.actions)
              and not any(a.name == "transfer_to_human_agents" for a in t.actions))
    episode, grade, agent_client, *_ = run(june, s, agent_plan(gold_plan(s.input, parallel=True)))
    assert grade.score == 1.0 and episode.info["tool_summary"]["calls"] == len(s.input.actions)
    turn = next(i for i, m in enumerate(episode.transcript) if len(m.get("tool_calls") or []) == 2)
    ids = [c["id"] for c in episode.transcript[turn]["tool_calls"]]
    results = episode.transcript[turn + 1:turn + 3]
    assert [m["role"] for m in results] == ["tool", "tool"] and [m["tool_call_id"] for m in results] == ids


def test_transfer_is_not_terminal(june, june_samples) -> None:
    s = first(june_samples, lambda t: [a.name for a in t.actions][-1:] == ["transfer_to_human_agents"])
    episode, grade, agent_client, sim_client, _ = run(june, s, agent_plan(gold_plan(s.input)))
    t = episode.transcript
    after = next(i for i, m in enumerate(t) if m.get("name") == "transfer_to_human_agents")
    assert t[after]["content"] == "Transfer successful"
    assert t[after + 1] == {"role": "assistant", "content": TRANSFER_LINE, "reasoning": SECRET}
    assert t[-1] == {"role": "user", "content": "###TRANSFER###"}
    assert episode.info["stop_reason"] == "user_stop" and episode.info["user_stop_token"] == "###TRANSFER###"
    assert grade.score == 1.0


def test_out_of_scope_stop_is_scored(june, june_samples) -> None:
    s = first(june_samples, lambda t: not any(a.name in WRITE_TOOLS for a in t.actions) and not t.communicate_info)

    def sim(messages, tools):
        return say("Hello." if messages[-1]["content"] == GREETING else "###OUT-OF-SCOPE###")

    episode, grade, *_ = run(june, s, agent_plan([say("How can I help?")]), sim)
    assert episode.info["user_stop_token"] == "###OUT-OF-SCOPE###" and episode.info["reward"]["scored"]
    assert grade.score == 1.0  # the DB is untouched, as the gold trajectory leaves it


def test_max_errors_ends_the_episode_with_reward_zero(june, june_samples) -> None:
    s = june_samples[0]
    episode, grade, agent_client, *_ = run(june, s, agent_plan([]))  # fails a lookup every turn
    assert episode.info["stop_reason"] == "too_many_errors" and episode.info["tool_summary"]["errors"] == 10
    assert len(agent_client.requests) == 10 and grade.score == 0.0 and grade.details["failure"] == "too_many_errors"
    two = Tau2RetailTask(data_dir=str(DATA_DIR), release="2025-06", max_errors=2)
    episode, *_ = run(two, s, agent_plan([calls(("nope", {}), ("get_order_details", {"order_id": "#W0"}))]))
    assert episode.info["stop_reason"] == "too_many_errors" and episode.transcript[-2]["content"] == \
        "Error: Tool 'nope' not found."


def test_max_steps_counts_user_agent_and_tool_messages(june_samples) -> None:
    s = june_samples[0]
    short = Tau2RetailTask(data_dir=str(DATA_DIR), release="2025-06", max_steps=5)
    plan = [calls(("find_user_id_by_name_zip", {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}))] * 9
    episode, grade, agent_client, *_ = run(short, s, agent_plan(plan))
    # user (1), agent + tools (3), agent + tools (5): stop
    assert episode.info["steps"] == 5 and len(agent_client.requests) == 2 and episode.info["stop_reason"] == "max_steps"
    assert grade.score == 0.0 and grade.details["failure"] == "step_limit"


def test_nl_assertions_go_to_the_judge_peer(data_dir) -> None:
    current = Tau2RetailTask(data_dir=str(data_dir))
    samples = current.load()
    s = first(samples, lambda t: bool(t.nl_assertions))
    verdicts: list[bool] = []

    def judge(messages, tools):
        assert tools is None and "expectedOutcomes" in messages[-1]["content"]
        assert SECRET not in json.dumps(messages)  # the judge sees texts, tool calls and results, no analysis
        outcomes = json.loads(messages[-1]["content"].rsplit("expectedOutcomes:\n", 1)[1])
        return say("```json\n" + json.dumps({"results": [{"expectedOutcome": o, "reasoning": "r",
                                                          "metExpectation": verdicts[0]} for o in outcomes]}) + "\n```")

    for met, score in ((True, 1.0), (False, 0.0)):
        verdicts[:] = [met]
        episode, grade, _, _, judge_client = run(current, s, agent_plan(gold_plan(s.input)), judge=judge)
        assert len(judge_client.requests) == 1 and episode.info["judge"]["model"] == "judge-model"
        assert grade.score == score and episode.info["reward"]["components"]["NL_ASSERTION"] == score
        assert [c["expectedOutcome"] for c in episode.info["reward"]["nl"]["checks"]] == list(s.input.nl_assertions)
    assert grade.details["failure"] == "nl_assertion"
    plain = first(samples, lambda t: not t.nl_assertions)
    episode, grade, _, _, judge_client = run(current, plain, agent_plan(gold_plan(plain.input)), judge=judge)
    assert judge_client.requests == [] and grade.score == 1.0  # NL scores 1 where a task has none

    def garbled(messages, tools):
        return say("I think it went fine.")

    episode, grade, *_ = run(current, s, agent_plan(gold_plan(s.input)), judge=garbled)
    assert episode.status == "error" and episode.info["error_role"] == "judge" and grade.score == 0.0


def test_tau2_metrics_pass_hat_k(june, june_samples) -> None:
    s = june_samples[0]
    good, *_ = run(june, s, agent_plan(gold_plan(s.input)))
    bad, *_ = run(june, s, agent_plan([]))
    m = tau2_metrics([to_attempt(s, e) for e in (good, good, bad)])
    assert m["pass^1"] == pytest.approx(2 / 3) and m["pass^2"] == pytest.approx(1 / 3) and m["pass^3"] == 0.0
    assert m["failures"]["too_many_errors"] == 1


def test_missing_prompts_file_fails_at_load(data_dir, tmp_path) -> None:
    copy = tmp_path / "tau2"
    shutil.copytree(data_dir, copy)
    (copy / "prompts.json").unlink()
    clear_data_cache()
    try:
        with pytest.raises(DataUnavailable, match=r"prompts\.json.*checkout has the prompts"):
            Tau2RetailTask(data_dir=str(copy)).load()
    finally:
        clear_data_cache()


# ------------------------------------------------------------------------------------------------


def test_cli_runs_tau2_retail_against_a_scripted_server(tmp_path, june_samples) -> None:
    t0, t1 = june_samples[0].input, june_samples[1].input
    gold0 = [(a.name, dict(a.arguments)) for a in t0.actions]
    # task 1 gets task 0's actions: a wrong exchange, reward 0
    script = cli_script([t0.instructions["reason_for_call"], t1.instructions["reason_for_call"]], [gold0, gold0])
    script["rules"].insert(0, {"agent": False, "contains": "ALL DONE", "reply": {"final": "###STOP###"}})
    server = TauServerProcess(script, tmp_path).start()
    try:
        proc = run_cli("server=attach", f"server.base_url={server.base_url}", "suite=tau2_retail",
                       f"suite.data_dir={DATA_DIR}", "suite.release=2025-06", "suite.limit=2", "repeats=1",
                       "suite.models.user_simulator.model=scripted-user", "effort=high", f"paths.root={tmp_path}",
                       "progress=false", "client.retry_wait_s=0.01", "concurrency=2", timeout=240)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "default" / "gpt-oss-120b" / "tau2_retail" / "high"
    attempts = {json.loads(x)["sample_id"]: json.loads(x) for x in (run_dir / "attempts.jsonl").read_text().splitlines()}
    grades = {json.loads(x)["key"]: json.loads(x) for x in (run_dir / "grades.jsonl").read_text().splitlines()}
    a = attempts["task-0"]
    assert a["status"] == "ok" and a["info"]["stop_reason"] == "user_stop"
    assert a["transcript"][1] == {"role": "assistant", "content": GREETING}
    assert a["info"]["user_simulator"]["model"] == "scripted-user"
    assert grades["task-0#0"]["score"] == 1.0
    assert grades["task-1#0"]["score"] == 0.0 and grades["task-1#0"]["details"]["failure"] == "wrong_db"
    report = (run_dir / "report.md").read_text()
    section = report.split("## tau2-bench Retail", 1)[1]
    row = next(line for line in section.splitlines() if line.startswith("| gpt-oss-120b"))
    assert "| 50.0 |" in row and "| scripted-user (chat, effort low) |" in row
    assert "| openai/gpt-oss-120b (chat, effort low) |" in row  # the judge: the served model by default
