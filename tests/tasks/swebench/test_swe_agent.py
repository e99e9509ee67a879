"""The agent loop end to end on the toy instance with scripted model replies, graded by swebench's own functions."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from evals.clients import RequestRejected, Sampling
from evals.engine import RunSpec, run_attempts
from evals.store import RunStore
from evals.task import ModelSession
from evals.types import Attempt, ModelOutput, Sample, Usage
from tasks.swebench import grading
from tasks.swebench.predictions import predictions_from_run
from tasks.swebench.report import run_metrics
from tasks.swebench.task import SweBenchTask
from tests.conftest import ROOT
from tests.tasks.swebench.conftest import (
    MALFORMED_PATCH,
    MISMATCH_PATCH,
    RIGHT_PATCH,
    VENV_BIN,
    WRONG_PATCH,
    ScriptedClient,
    call,
    final,
    needs_bwrap,
    needs_swebench,
    session,
    tool_messages,
)

pytestmark = needs_swebench


def make_task(sandbox: bool = False, **kw) -> SweBenchTask:
    return SweBenchTask(environment={"kind": "local", "sandbox": sandbox, "path": [VENV_BIN]}, **kw)


def sample_of(row: dict) -> Sample:
    return Sample(id=row["instance_id"], input=row["problem_statement"], reference=row)


def attempt_of(ep, sample: Sample) -> Attempt:
    a = Attempt(key=f"{sample.id}#0", run_id="r", suite="swebench_verified", sample_id=sample.id, repeat=0, seed=0,
                effort="low", model="gpt-oss-120b", transport="scripted", settings_hash="h",
                status=ep.status or "ok", output=ep.output.to_dict(), transcript=ep.transcript, usage={},
                n_calls=0, started_at=0.0, ended_at=0.0, latency_s=0.0, error=ep.error, info=ep.info)
    return Attempt.from_dict(json.loads(json.dumps(a.to_dict())))  # as it comes back from the store


def run(task: SweBenchTask, row: dict, replies: list, **kw):
    model, client = session(replies, **kw)
    sample = sample_of(row)
    ep = asyncio.run(task.solve(sample, model))
    att = attempt_of(ep, sample)
    grade = task.grade(sample, att) if att.status == "ok" else None
    return ep, att, grade, client


@pytest.mark.parametrize("sandbox", [False, pytest.param(True, marks=needs_bwrap)], ids=["plain", "bwrap"])
def test_right_patch_resolves(toy, sandbox):
    task = make_task(sandbox)
    ep, att, grade, client = run(task, toy.row, [
        call("exec", {"cmd": ["bash", "-lc", "cat calc/ops.py"]}),
        call("apply_patch", {"patch": RIGHT_PATCH}),
        call("exec", {"cmd": ["python", "-c", "from calc.ops import add; print(add(2, 3))"]}),
        final()])
    assert ep.info["stop_reason"] == "submitted" and ep.info["steps"] == 4
    outs = tool_messages(ep.transcript)
    assert "return a - b" in outs[0] and outs[1].startswith("Done!") and outs[2].strip() == "5"
    assert "+    return a + b" in att.info["patch"] and att.output["patch"] == att.info["patch"]
    assert grade.score == 1.0 and grade.details["category"] == "resolved", grade.reason
    assert grade.details["report"]["tests_status"]["FAIL_TO_PASS"]["success"] == ["tests/test_ops.py::test_add"]
    # the tools went to the model as function schemas, and the prompt names where the repo is
    req = client.requests[0]
    assert [t["function"]["name"] for t in req["tools"]] == ["exec", "apply_patch"]
    assert req["messages"][0]["role"] == "developer" and "calc.ops.add subtracts" in req["messages"][1]["content"]


def test_wrong_patch_does_not_resolve(toy):
    ep, att, grade, _ = run(make_task(), toy.row, [call("apply_patch", {"patch": WRONG_PATCH}), final()])
    assert ep.info["stop_reason"] == "submitted"
    assert grade.score == 0.0 and grade.details["category"] == "tests_failed"
    assert "tests/test_ops.py::test_add" in grade.reason


def test_malformed_and_mismatched_patches_are_reported_to_the_model(toy):
    ep, att, grade, client = run(make_task(), toy.row, [
        call("apply_patch", {"patch": MALFORMED_PATCH}, 0),
        call("apply_patch", {"patch": MISMATCH_PATCH}, 1),
        call("apply_patch", "not json and no patch", 2),
        final("I could not fix it.")])
    outs = tool_messages(ep.transcript)
    assert outs[0].startswith("error: the patch was not applied") and "every hunk line must start" in outs[0]
    assert "were not found" in outs[1] and "x = compute(a, b)" in outs[1]
    assert outs[2].startswith("error: apply_patch arguments are not valid JSON")
    # the model saw each error in the next request
    assert client.requests[1]["messages"][-1]["content"] == outs[0]
    assert ep.info["stop_reason"] == "submitted" and ep.info["tool_errors"] == 3
    assert att.info["patch"] == "" and grade.details["category"] == "no_patch" and grade.score == 0.0


def test_empty_patch_ends_with_no_patch_and_no_eval(toy):
    ep, att, grade, _ = run(make_task(), toy.row, [final("Nothing to do.")])
    assert ep.info["stop_reason"] == "submitted" and "eval" not in ep.info
    assert grade.details["category"] == "no_patch" and "no patch" in grade.reason


def test_command_that_never_ends_is_cut_and_the_episode_goes_on(toy):
    t0 = time.monotonic()
    ep, att, grade, _ = run(make_task(), toy.row, [
        call("exec", {"cmd": ["bash", "-c", "while true; do :; done"], "timeout": 1}),
        call("exec", {"cmd": ["bash", "-c", "printf '\\x00\\xff\\xfe'; head -c 5000 /dev/urandom"]}, 1),
        final("gave up")])
    assert time.monotonic() - t0 < 60
    outs = tool_messages(ep.transcript)
    assert "timed out after 1 s" in outs[0]
    assert "\x00" not in outs[1] and outs[1]
    json.dumps(att.to_dict())  # binary output stored as valid JSON text
    assert ep.info["stop_reason"] == "submitted"


def test_model_that_never_stops_calling_tools_hits_the_step_limit(toy):
    task = make_task(max_steps=3)
    ep, att, grade, client = run(task, toy.row, [call("exec", {"cmd": ["true"]})], repeat_last=True)
    assert ep.info["stop_reason"] == "step_limit" and ep.info["steps"] == 3 and len(client.requests) == 3
    assert grade.details["category"] == "no_patch"


def test_partial_work_is_submitted_at_the_time_limit(toy):
    task = make_task(max_time_s=2)
    ep, att, grade, _ = run(task, toy.row, [
        call("apply_patch", {"patch": RIGHT_PATCH}),
        call("exec", {"cmd": ["sleep", "30"], "timeout": 600}, 1),
        call("exec", {"cmd": ["true"]}, 2)], repeat_last=True)
    assert ep.info["stop_reason"] == "time_limit"
    assert "+    return a + b" in att.info["patch"] and grade.score == 1.0


@pytest.mark.parametrize("replies, reason", [
    ([ModelOutput(analysis="thinking...", finish_reason="length", usage=Usage(1000, 500, 500))], "context_overflow"),
    ([RequestRejected("HTTP 400: This model's maximum context length is 131072 tokens")], "context_overflow"),
    ([ModelOutput(parse_error="unparseable harmony", finish_reason="error")], "model_error"),
    ([ModelOutput(analysis="hmm", final=None, finish_reason="stop")], "no_tool_call"),
])
def test_model_failures_end_with_a_reason_and_submit_what_exists(toy, replies, reason):
    ep, att, grade, _ = run(make_task(), toy.row, replies)
    assert ep.info["stop_reason"] == reason and att.status == "ok"
    assert grade.details["category"] == "no_patch"


def test_context_budget_stops_before_overflowing(toy):
    big = call("exec", {"cmd": ["true"]})
    big.usage = Usage(prompt_tokens=120_000, completion_tokens=100)
    ep, *_ = run(make_task(max_context_tokens=128_000, context_reserve_tokens=8_192), toy.row, [big])
    assert ep.info["stop_reason"] == "context_overflow" and ep.info["steps"] == 1


def test_environment_failure_is_an_infrastructure_error(toy):
    row = {**toy.row, "base_commit": "f" * 40}
    ep, att, grade, _ = run(make_task(), row, [final()])
    assert att.status == "error" and ep.info["stop_reason"] == "env_error" and ep.info["env_errors"]
    assert grading.category(att, None) == "infrastructure_error"


def test_patch_that_does_not_apply_at_eval_time(toy):
    task = make_task()
    bad = "diff --git a/calc/ops.py b/calc/ops.py\n--- a/calc/ops.py\n+++ b/calc/ops.py\n@@ -1,3 +1,3 @@\n" \
          "-nothing like this\n+at all\n context\n"
    ev = grading.run_eval_script(lambda: task.make_env(toy.row), toy.row, bad, 60)
    assert not ev["applied"]
    g = grading.grade_from_eval("k", toy.row, bad, ev)
    assert g.score == 0 and g.details["category"] == "patch_not_applied"
    gold = grading.run_eval_script(lambda: task.make_env(toy.row), toy.row, toy.row["patch"], 120)
    assert grading.grade_from_eval("k", toy.row, toy.row["patch"], gold).score == 1.0


def test_engine_run_store_predictions_and_breakdown(toy, tmp_path):
    """Through the real engine: attempts and grades stored, predictions JSONL, why-unresolved per effort."""
    task = make_task()
    rows = [toy.row, {**toy.row, "instance_id": "toy__calc-2"}]
    samples = [sample_of(r) for r in rows]

    def reply(messages):  # instance 1 gets the fix, instance 2 nothing
        if any(m["role"] == "tool" for m in messages) or "toy__calc-2" in str(messages):
            return final()
        return call("apply_patch", {"patch": RIGHT_PATCH})

    class Client(ScriptedClient):
        async def generate(self, messages, **kw):
            tag = "toy__calc-2" if len(self.requests) >= 2 else ""
            return await super().generate(messages + ([{"role": "user", "content": tag}] if tag else []), **kw)

    client = Client([reply], repeat_last=True)
    store = RunStore(tmp_path / "run")
    spec = RunSpec(run_id="r1", suite="swebench_verified", model="gpt-oss-120b", effort="high", settings_hash="h",
                   sampling=Sampling(), repeats=1, concurrency=1)
    stats = asyncio.run(run_attempts(task, samples, client, store, spec))
    assert stats.done_now == 2 and stats.score_sum == 1.0
    preds = predictions_from_run(tmp_path / "run")
    assert [p["instance_id"] for p in preds] == ["toy__calc-1", "toy__calc-2"]
    assert preds[0]["model_name_or_path"] == "gpt-oss-120b__high" and "return a + b" in preds[0]["model_patch"]
    assert preds[1]["model_patch"] == ""
    out = tmp_path / "preds.jsonl"
    proc = subprocess.run([sys.executable, "-m", "tasks.swebench.predictions", str(tmp_path / "run"), "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines == preds and set(lines[0]) == {"instance_id", "model_name_or_path", "model_patch"}
    summary = grading.breakdown_from_runs([tmp_path / "run"])
    assert summary["high"]["attempts"] == 2 and summary["high"]["resolved_rate"] == 0.5
    assert summary["high"]["categories"]["resolved"] == 1 and summary["high"]["categories"]["no_patch"] == 1
    assert summary["high"]["stop_reasons"] == {"submitted": 2}
    assert task.card_key() == "swebench_verified"


def test_a_slow_model_reply_is_cut_at_the_wall_time_limit(toy):
    """The limit holds during a model call: the call is cancelled, the reason recorded, the work submitted."""
    class SlowAfterFirst(ScriptedClient):
        async def generate(self, messages, **kw):
            if self.requests:  # every call after the first hangs far past the limit
                self.requests.append({"messages": messages})
                await asyncio.sleep(120)
            return await super().generate(messages, **kw)

    client = SlowAfterFirst([call("apply_patch", {"patch": RIGHT_PATCH}), final()])
    model = ModelSession(client, effort="low", sampling=Sampling(), seed=1)
    sample = sample_of(toy.row)
    t0 = time.monotonic()
    ep = asyncio.run(make_task(max_time_s=3).solve(sample, model))
    assert time.monotonic() - t0 < 60  # 3 s of agent time plus the eval script, not 120 s
    assert ep.info["stop_reason"] == "time_limit" and "cancelled" in ep.info["time_limit"]
    assert len(client.requests) == 2 and len(model.calls) == 1  # the cut call left no output behind
    att = attempt_of(ep, sample)
    assert "+    return a + b" in att.info["patch"] and make_task().grade(sample, att).score == 1.0


def test_a_failing_instance_next_to_a_good_one_does_not_stop_the_run(toy, tmp_path):
    """Through the engine: one instance's environment cannot start (an infrastructure error), the other is
    solved; both are stored with their grades and the report's SWE-bench section counts each."""
    task = make_task()
    broken = {**toy.row, "instance_id": "toy__calc-broken", "base_commit": "f" * 40,
              "problem_statement": "broken: " + toy.row["problem_statement"]}
    samples = [sample_of(broken), sample_of(toy.row)]
    client = ScriptedClient([lambda m: call("apply_patch", {"patch": RIGHT_PATCH})
                             if not any(x["role"] == "tool" for x in m) else final()], repeat_last=True)
    store = RunStore(tmp_path / "run")
    store.write_manifest({"suite": "swebench_verified", "card_key": "swebench_verified", "model": "gpt-oss-120b",
                          "card": "gpt-oss-120b", "effort": "low"})
    spec = RunSpec(run_id="r", suite="swebench_verified", model="gpt-oss-120b", effort="low", settings_hash="h",
                   sampling=Sampling(), repeats=1, concurrency=2)
    stats = asyncio.run(run_attempts(task, samples, client, store, spec))
    assert stats.done_now == 2 and stats.statuses == {"error": 1, "ok": 1} and stats.score_sum == 1.0
    attempts, grades = store.attempts(), store.grades()
    bad, good = attempts["toy__calc-broken#0"], attempts["toy__calc-1#0"]
    assert bad.status == "error" and "environment failed to start" in bad.error and bad.n_calls == 0
    assert bad.info["stop_reason"] == "env_error" and grades[bad.key].score == 0.0
    assert good.status == "ok" and grades[good.key].score == 1.0
    m = run_metrics(tmp_path / "run")
    assert m["instances"] == 2 and m["resolved"] == 1 and m["categories"]["infrastructure_error"] == 1
    assert m["resolved_rate"] == 0.5 and m["resolved_rate_excl_infra"] == 1.0
