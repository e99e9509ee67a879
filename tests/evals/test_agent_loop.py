"""The shared agent loop (evals.agent_loop) on its own: turns, the order of parallel calls, every limit, tool and
model failures, peers. A scripted client stands behind a real ModelSession, so the loop sees what a suite sees."""

from __future__ import annotations

import ast
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from evals.agent_loop import (
    AgentLoop,
    EpisodeFailure,
    Limits,
    ToolResult,
    ToolRun,
    fail_on_rejection,
    peer_reply,
)
from evals.clients import RequestRejected, Sampling
from evals.task import ModelSession
from evals.types import ModelOutput, ToolCall


class Scripted:
    """Answers the n-th request with ``replies[n]`` (an output, an exception to raise, or seconds to hang);
    records a copy of every transcript it is sent."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies = list(replies)
        self.sent: list[list[dict[str, Any]]] = []

    async def generate(self, messages, *, effort, sampling, seed=None, tools=None) -> ModelOutput:
        self.sent.append(json.loads(json.dumps(messages)))
        reply = self.replies[len(self.sent) - 1]
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, float):
            await asyncio.sleep(reply)
            return answer("late")
        return reply


def session(replies: list[Any], peers: dict[str, ModelSession] | None = None) -> tuple[ModelSession, Scripted]:
    client = Scripted(replies)
    return ModelSession(client, effort="low", sampling=Sampling(), seed=1, peers=peers), client


def calls(*names: str, ids: list[str] | None = None, final: str | None = None) -> ModelOutput:
    return ModelOutput(final=final, finish_reason="tool_calls", tool_calls=[
        ToolCall(id=(ids[i] if ids else f"c{i}"), name=n, arguments=json.dumps({"n": i})) for i, n in enumerate(names)])


def answer(text: str) -> ModelOutput:
    return ModelOutput(final=text, finish_reason="stop")


def echo(log: list[str]):
    async def handler(call: ToolCall) -> str:
        log.append(f"{call.name}{json.loads(call.arguments)['n']}")
        return f"{call.name} ran"

    return handler


def run(loop: AgentLoop) -> str:
    return asyncio.run(loop.run())


def test_parallel_calls_run_in_the_order_written_each_answered_right_after_the_turn():
    model, client = session([calls("a", "b", "a"), calls("b"), answer("42")])
    ran: list[str] = []
    loop = AgentLoop(model, [{"role": "user", "content": "q"}], handlers={"a": echo(ran), "b": echo(ran)})
    assert run(loop) == "final"
    assert ran == ["a0", "b1", "a2", "b0"]
    roles = [(m["role"], m.get("tool_call_id")) for m in loop.transcript]
    assert roles == [("user", None), ("assistant", None), ("tool", "c0"), ("tool", "c1"), ("tool", "c2"),
                     ("assistant", None), ("tool", "c0"), ("assistant", None)]
    assert [m["content"] for m in loop.transcript if m["role"] == "tool"] == ["a ran", "b ran", "a ran", "b ran"]
    # the second call sees the first turn and all its results; the transcript is extended in place
    assert client.sent[1] == loop.transcript[:5]
    assert (loop.turns, loop.steps, loop.requests, loop.tool_calls, loop.tool_errors) == (3, 3, 3, 4, 0)
    assert [r.step for r in loop.runs] == [1, 1, 1, 2] and loop.last.final == "42"


def test_first_call_only_with_episode_unique_ids():
    model, _ = session([calls("a", "b", ids=["x", "y"]), calls("a", ids=["x"]), calls("a", ids=[""]),
                        answer("done")])
    ran: list[str] = []
    seen: list[list[ToolCall]] = []

    def message(out: ModelOutput, run_calls: list[ToolCall]) -> dict[str, Any]:
        seen.append(run_calls)
        return {"role": "assistant", "content": out.final or "", "tool_calls": [c.id for c in run_calls]}

    loop = AgentLoop(model, [], handlers={"a": echo(ran), "b": echo(ran)}, calls_per_turn="first",
                     rename_call=lambda call, i, step: f"{call.id or 'call'}_s{step}", message=message)
    assert run(loop) == "final"
    assert ran == ["a0", "a0", "a0"]  # b, the second call of turn 1, never ran
    assert [m["tool_call_id"] for m in loop.transcript if m["role"] == "tool"] == ["x", "x_s2", "call_s3"]
    assert [[c.id for c in cs] for cs in seen] == [["x"], ["x_s2"], ["call_s3"], []]


def test_a_turn_that_would_pass_the_call_limit_runs_none_of_its_calls():
    model, _ = session([calls("a", "a"), calls("a", "a"), answer("never")])
    ran: list[str] = []
    loop = AgentLoop(model, [], handlers={"a": echo(ran)}, limits=Limits(max_tool_calls=3))
    assert run(loop) == "tool_limit"
    assert ran == ["a0", "a1"] and loop.tool_calls == 2
    assert loop.transcript[-1]["role"] == "assistant"  # the turn is recorded, its calls unanswered


def test_step_limit_is_checked_before_each_model_call_under_the_suites_name():
    model, client = session([calls("a")] * 5)
    loop = AgentLoop(model, [], handlers={"a": echo([])}, limits=Limits(max_steps=3, steps_reason="step_limit"))
    assert run(loop) == "step_limit"
    assert len(client.sent) == 3 and loop.steps == 3


def test_hooks_may_count_steps_too():
    """tau2 counts each batch of tool results as a step: the limit then comes after fewer model calls."""
    model, client = session([calls("a")] * 5)
    loop = AgentLoop(model, [], handlers={"a": echo([])}, limits=Limits(max_steps=4))
    loop.after_tools = lambda out: setattr(loop, "steps", loop.steps + 1)
    assert run(loop) == "max_steps" and len(client.sent) == 2


def test_tool_errors_end_the_episode_after_the_batch_that_reaches_the_limit():
    async def flaky(call: ToolCall) -> ToolResult:
        return ToolResult("Error: no", error=True)

    model, client = session([calls("a", "a"), calls("a", "a", "a"), answer("never")])
    loop = AgentLoop(model, [], handlers={"a": flaky}, limits=Limits(max_tool_errors=3))
    assert run(loop) == "too_many_errors"
    assert loop.tool_errors == 5 and loop.tool_calls == 5 and len(client.sent) == 2  # the whole batch ran


def test_a_raising_tool_is_the_models_information_and_fatal_errors_propagate():
    class Infrastructure(Exception):
        pass

    async def broken(call: ToolCall) -> str:
        raise ValueError("bad input")

    async def dead(call: ToolCall) -> str:
        raise Infrastructure("sandbox gone")

    model, _ = session([calls("broken", "nosuch"), answer("ok")])
    loop = AgentLoop(model, [], handlers={"broken": broken, "dead": dead}, tool_exceptions=(Exception,),
                     fatal=(Infrastructure,))
    assert run(loop) == "final"
    assert [m["content"] for m in loop.transcript if m["role"] == "tool"] == [
        "[The broken tool failed: ValueError: bad input]",
        "[There is no tool named 'nosuch'; available: broken, dead.]"]
    assert loop.tool_errors == 2

    model, _ = session([calls("dead"), answer("ok")])
    with pytest.raises(Infrastructure):
        run(AgentLoop(model, [], handlers={"dead": dead}, tool_exceptions=(Exception,), fatal=(Infrastructure,)))
    model, _ = session([calls("broken"), answer("ok")])
    with pytest.raises(ValueError):  # not listed as a tool exception: the suite's bug, not the model's news
        run(AgentLoop(model, [], handlers={"broken": broken}))


def test_a_fallback_handler_takes_every_name_and_describe_exception_words_the_failure():
    async def env(call: ToolCall) -> str:
        if call.name == "boom":
            raise OSError("disk")
        return f"env ran {call.name}"

    model, _ = session([calls("anything", "boom"), answer("ok")])
    loop = AgentLoop(model, [], fallback=env, tool_exceptions=(OSError,),
                     describe_exception=lambda call, exc: f"error: the environment failed: {exc}")
    run(loop)
    assert [m["content"] for m in loop.transcript if m["role"] == "tool"] == [
        "env ran anything", "error: the environment failed: disk"]


def test_after_call_ends_the_turn_and_the_later_calls_do_not_run_but_after_tools_is_asked():
    ran: list[str] = []
    asked: list[int] = []
    model, client = session([calls("a", "stop", "a"), answer("never")])

    def after_call(run: ToolRun) -> str | None:
        return "aborted" if run.call.name == "stop" else None

    loop = AgentLoop(model, [], handlers={"a": echo(ran), "stop": echo(ran)}, after_call=after_call,
                     after_tools=lambda out: asked.append(len(out.tool_calls)))
    assert run(loop) == "aborted"
    assert ran == ["a0", "stop1"] and asked == [3] and len(client.sent) == 1


def test_wall_time_cancels_a_model_call_still_running_at_the_limit():
    model, client = session([calls("a"), 30.0])
    loop = AgentLoop(model, [], handlers={"a": echo([])}, limits=Limits(max_seconds=0.5))
    assert run(loop) == "time_limit"
    assert loop.limit_detail == "a model call was still running at the 0.5 s limit and was cancelled"
    assert loop.requests == 2 and loop.turns == 1 and model.calls == [loop.last]


def test_wall_time_met_while_tools_ran_or_before_a_call():
    async def slow(call: ToolCall) -> str:
        await asyncio.sleep(0.3)
        return "slow"

    model, client = session([calls("slow"), answer("never")])
    loop = AgentLoop(model, [], handlers={"slow": slow}, limits=Limits(max_seconds=0.2))
    assert run(loop) == "time_limit" and loop.limit_detail == "reached while tools ran"
    assert len(client.sent) == 1 and loop.transcript[-1]["content"] == "slow"

    model, client = session([answer("never")])
    loop = AgentLoop(model, [], limits=Limits(max_seconds=10), started=time.monotonic() - 60)  # started long ago
    assert run(loop) == "time_limit" and loop.limit_detail == "reached before a model call" and client.sent == []


def test_a_rejected_request_propagates_unless_the_suite_names_the_stop():
    model, _ = session([RequestRejected("400: prompt is too long")])
    with pytest.raises(RequestRejected):
        run(AgentLoop(model, []))
    model, _ = session([RequestRejected("400: prompt is too long")])
    loop = AgentLoop(model, [], on_rejected=lambda exc: "context_overflow")
    assert run(loop) == "context_overflow" and loop.requests == 1 and loop.turns == 0

    model, _ = session([RequestRejected("400: bad")])
    loop = AgentLoop(model, [], on_rejected=fail_on_rejection("agent"))
    assert run(loop) == "model_error"
    assert (loop.failure.role, loop.failure.status, str(loop.failure)) == (
        "agent", "error", "agent request rejected: 400: bad")


def test_other_model_errors_propagate():
    model, _ = session([ConnectionError("server gone")])
    with pytest.raises(ConnectionError):
        run(AgentLoop(model, [], on_rejected=lambda exc: "model_error"))


def test_output_stop_comes_before_the_calls_run():
    ran: list[str] = []
    bad = calls("a")
    bad.parse_error = "unparseable"
    model, _ = session([bad])
    loop = AgentLoop(model, [], handlers={"a": echo(ran)},
                     on_output=lambda out: "model_error" if out.parse_error else None)
    assert run(loop) == "model_error" and ran == [] and loop.transcript[-1]["role"] == "assistant"


def test_the_default_answer_names_why_an_output_without_calls_ends_the_loop():
    for out, stop in [(answer("x"), "final"), (ModelOutput(finish_reason="length"), "truncated"),
                      (ModelOutput(finish_reason="stop"), "no_final")]:
        model, _ = session([out])
        assert run(AgentLoop(model, [])) == stop


def test_a_user_simulator_peer_speaks_first_and_answers_every_respond():
    sim, sim_client = session([answer("hi, I need help"), answer("thanks"), answer("bye ###STOP###")])
    model, client = session([answer("how can I help?"), calls("lookup"), answer("done")],
                            peers={"user_simulator": sim})
    transcript: list[dict[str, Any]] = [{"role": "system", "content": "policy"}]
    history: list[dict[str, Any]] = [{"role": "system", "content": "you are a user"}]

    async def opening() -> None:
        transcript.append({"role": "user", "content": await peer_reply(sim, history, "user_simulator")})

    async def respond(out: ModelOutput) -> str | None:
        history.append({"role": "user", "content": out.final})
        reply = await peer_reply(sim, history, "user_simulator")
        transcript.append({"role": "user", "content": reply})
        return "user_stop" if "###STOP###" in reply else None

    closed: list[str] = []

    async def closing(stop: str) -> None:
        closed.append(stop)

    loop = AgentLoop(model, transcript, handlers={"lookup": echo([])}, opening=opening, on_answer=respond,
                     closing=closing)
    assert run(loop) == "user_stop" and closed == ["user_stop"]
    assert [m["role"] for m in transcript] == ["system", "user", "assistant", "user", "assistant", "tool",
                                              "assistant", "user"]
    # the simulator's own history: its replies as assistant turns, the agent's texts as user turns
    assert [(m["role"], m["content"]) for m in history[1:]] == [
        ("assistant", "hi, I need help"), ("user", "how can I help?"), ("assistant", "thanks"), ("user", "done"),
        ("assistant", "bye ###STOP###")]
    assert all(m["role"] != "tool" for sent in sim_client.sent for m in sent)


def test_a_peer_that_fails_ends_the_episode_as_its_failure():
    sim, _ = session([ModelOutput(finish_reason="length", analysis="...")])
    model, client = session([answer("never")], peers={"user_simulator": sim})

    async def opening() -> None:
        await peer_reply(sim, [], "user_simulator")

    loop = AgentLoop(model, [], opening=opening, failure_reason="model_error")
    assert run(loop) == "model_error" and client.sent == []
    assert loop.failure.role == "user_simulator"
    assert str(loop.failure) == "user simulator produced no final message (finish_reason=length)"

    sim, _ = session([RequestRejected("413")])
    loop = AgentLoop(session([])[0], [], opening=opening)
    assert run(loop) == "model_error" and str(loop.failure) == "user simulator request rejected: 413"


def test_a_hook_failure_after_the_last_turn_is_the_episodes_failure():
    model, _ = session([answer("x")])

    async def judge(stop: str) -> None:
        raise EpisodeFailure("judge", "error", "unreadable judge reply")

    loop = AgentLoop(model, [], closing=judge)
    assert run(loop) == "model_error" and loop.failure.role == "judge" and loop.stop == "model_error"


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="calls_per_turn"):
        AgentLoop(session([])[0], [], calls_per_turn="some")  # type: ignore[arg-type]


# -- one loop in the tree --------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("evals", "tasks", "runners", "reports")
# The suites that run agents, each configuring the loop (AIME and Codeforces with tools go through tool_loop).
LOOP_USERS = ("evals/tool_loop.py", "tasks/tau_retail/task.py", "tasks/tau2_retail/task.py", "tasks/swebench/task.py")


def _is_tool_message(node: ast.AST) -> bool:
    return isinstance(node, ast.Dict) and any(
        isinstance(k, ast.Constant) and k.value == "role" and isinstance(v, ast.Constant) and v.value == "tool"
        for k, v in zip(node.keys, node.values, strict=True))


def tool_loop_lines(source: str) -> list[int]:
    """Where ``source`` runs tools for a model itself: it reads an output's ``.tool_calls`` and answers them with
    ``{"role": "tool"}`` messages (the lines of those messages; empty when it does not do both)."""
    nodes = list(ast.walk(ast.parse(source)))
    if not any(isinstance(n, ast.Attribute) and n.attr == "tool_calls" for n in nodes):
        return []
    return [n.lineno for n in nodes if _is_tool_message(n)]


HAND_WRITTEN = '''
async def solve(model, transcript, env):
    while True:
        out = await model.generate(transcript)
        if not out.tool_calls:
            return out
        for call in out.tool_calls:
            transcript.append({"role": "tool", "content": env.step(call)})
'''


def test_the_detector_finds_a_hand_written_turn_loop_and_the_shared_one():
    assert tool_loop_lines(HAND_WRITTEN) == [8]
    assert tool_loop_lines(HAND_WRITTEN.replace("out.tool_calls", "out.calls")) == []  # answers nothing it read
    assert tool_loop_lines((ROOT / "evals" / "agent_loop.py").read_text(encoding="utf-8"))


def test_no_module_but_the_agent_loop_runs_tools_for_a_model():
    found = {str(path.relative_to(ROOT)): lines for pkg in PACKAGES for path in sorted((ROOT / pkg).rglob("*.py"))
             if (lines := tool_loop_lines(path.read_text(encoding="utf-8")))}
    assert set(found) == {"evals/agent_loop.py"}, found


@pytest.mark.parametrize("module", LOOP_USERS)
def test_each_agent_suite_configures_the_shared_loop(module):
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    built = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id == "AgentLoop"]
    assert built, f"{module} does not build an AgentLoop"
