"""The lm-eval bridge end to end against a scripted gpt-oss server (HTTP through our clients).

A four-question generative lm-eval task (fixtures/tiny_arith.*) runs two ways: lm-eval driving our registered
``gptoss-harmony`` model, and our CLI driving the ``lm_eval`` suite followed by lm-eval's scoring of the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

# Scripted truth for fixtures/tiny_arith.jsonl (answers 12, 6, 24, 5).
# q1: stop strings sit in the reasoning (they must not cut it) and in the final, where "\n\n" must cut the
#     second "Answer: 99" off (the filter takes the LAST answer, so only the cut gives 12).
# q3 is wrong on purpose: lm-eval's accuracy must be 3/4.
SCRIPT = {
    "rules": [
        {"match": "5 + 7", "reply": {"analysis": "Five plus seven.\n\nQuestion: is it 12? Yes.",
                                     "final": "Answer: 12\n\nAnswer: 99"}},
        {"match": "9 - 3", "reply": {"analysis": "Nine minus three.", "final": "Answer: 6"}},
        {"match": "4 * 6", "reply": {"analysis": "Four sixes.", "final": "Answer: 25"}},
        {"match": "10 / 2", "reply": {"analysis": "Half of ten.", "final": "Half of ten.\nAnswer: 5"}},
    ],
    "default": {"analysis": "?", "final": "Answer: 0"},
}
TRUTH = {"tiny_arith/0": 1.0, "tiny_arith/1": 1.0, "tiny_arith/2": 0.0, "tiny_arith/3": 1.0}
STOPS = ("\n\n", "Question:")
REPEATS = 2  # the fixture task's own `repeats`


def _attempts(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "attempts.jsonl").read_text().splitlines()]


def _no_stop_strings_sent(bodies: list[dict]) -> None:
    for b in bodies:
        body = b["body"]
        assert "stop" not in body, body.get("stop")
        blob = json.dumps({k: v for k, v in body.items() if k not in ("messages", "input", "prompt",
                                                                       "instructions")})
        assert "Question:" not in blob and "\\n\\n" not in blob


def _simple_evaluate(server, run_dir: Path, tasks_dir: Path, transport: str, effort: str = "high") -> dict:
    import lm_eval
    from lm_eval.tasks import TaskManager

    import tasks.lm_eval_bridge.model  # noqa: F401  (registers gptoss-harmony)

    return lm_eval.simple_evaluate(
        model="gptoss-harmony",
        model_args={"base_url": server.base_url, "model": "gpt-oss-test", "transport": transport,
                    "effort": effort, "run_dir": str(run_dir), "seed": 11, "max_model_len": 8192,
                    "concurrency": 4, "retry_wait_s": 0.01},
        tasks=["tiny_arith"], task_manager=TaskManager(include_path=str(tasks_dir), include_defaults=False),
        apply_chat_template=True, bootstrap_iters=0)


@pytest.mark.parametrize("transport", ["harmony", "chat", "responses"])
def test_lm_eval_drives_gptoss_harmony_model(capturing_server, lm_tasks_dir, tmp_path, transport):
    server = capturing_server(SCRIPT)
    run_dir = tmp_path / "run"
    results = _simple_evaluate(server, run_dir, lm_tasks_dir, transport)

    # lm-eval's scorer saw our final-channel answers (cut at `until`) and computed the scripted truth.
    assert results["results"]["tiny_arith"]["exact_match,last-answer"] == pytest.approx(0.75)
    # One request per doc x repeat, each with the effort and its own seed; no stop strings on the wire.
    bodies = server.bodies
    assert len(bodies) == 4 * REPEATS
    seeds = [b["body"]["seed"] for b in bodies]
    assert len(set(seeds)) == len(seeds)
    if transport == "chat":
        assert {b["body"]["reasoning_effort"] for b in bodies} == {"high"}
        assert {b["body"]["messages"][0]["role"] for b in bodies} == {"system"}  # the task's description
    elif transport == "responses":
        assert {b["path"] for b in bodies} == {"/v1/responses"}
        assert {b["body"]["reasoning"]["effort"] for b in bodies} == {"high"}
        assert {b["body"]["instructions"] for b in bodies} == {"You are a careful calculator."}
    else:
        from evals.harmony import encoding

        prompts = [encoding().decode(b["body"]["prompt"]) for b in bodies]
        assert all("Reasoning: high" in p for p in prompts)
        assert all("You are a careful calculator." in p for p in prompts)
    assert {b["body"]["temperature"] for b in bodies} == {1.0}  # our sampling, not the task's greedy 0.0
    _no_stop_strings_sent(bodies)

    # Analysis and usage live in our store, one attempt per request; the full final stays there too.
    attempts = _attempts(run_dir)
    assert sorted(a["key"] for a in attempts) == sorted(f"{sid}#{r}" for sid in TRUTH for r in range(REPEATS))
    first = next(a for a in attempts if a["key"] == "tiny_arith/0#0")
    assert first["output"]["analysis"] == "Five plus seven.\n\nQuestion: is it 12? Yes."  # not cut by stops
    assert first["output"]["final"] == "Answer: 12\n\nAnswer: 99"
    assert first["info"]["response"] == "Answer: 12"
    assert first["info"]["lm_eval"]["until"] == list(STOPS)
    assert first["usage"]["reasoning_tokens"] > 0 and first["usage"]["completion_tokens"] > 0
    assert {a["effort"] for a in attempts} == {"high"} and {a["transport"] for a in attempts} == {transport}
    assert sorted(a["seed"] for a in attempts) == sorted(seeds)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["suite"] == "lm_eval" and manifest["effort"] == "high"

    # A rerun over the same store resumes: no request, same scores.
    again = _simple_evaluate(server, run_dir, lm_tasks_dir, transport)
    assert len(server.bodies) == 4 * REPEATS
    assert again["results"]["tiny_arith"]["exact_match,last-answer"] == pytest.approx(0.75)


def test_loglikelihood_is_refused_with_a_clear_error():
    from tasks.lm_eval_bridge.model import GptOssHarmonyLM

    lm = GptOssHarmonyLM(replay_only=True)
    with pytest.raises(NotImplementedError, match="generative lm-eval tasks only"):
        lm.loglikelihood([])
    with pytest.raises(NotImplementedError, match="generative"):
        lm.loglikelihood_rolling([])


def _cli_args(server, root: Path, tasks_dir: Path, *extra: str) -> list[str]:
    return ["server=attach", f"server.base_url={server.base_url}", "suite=lm_eval", "suite.name=tiny_lm",
            "suite.tasks=[tiny_arith]", f"suite.include_path={tasks_dir}", "suite.include_defaults=false",
            "model=gpt-oss-20b", f"paths.root={root}", "progress=false", "client.retry_wait_s=0.01",
            "client=harmony", "effort=low", *extra]


def test_suite_through_cli_then_lm_eval_scores_the_store(scripted_server, lm_tasks_dir, tmp_path):
    from tasks.lm_eval_bridge.task import RESULTS, SAMPLES, SUMMARY, LmEvalTask

    server = scripted_server(SCRIPT)
    root = tmp_path / "out"
    proc = run_cli(*_cli_args(server, root, lm_tasks_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = root / "default" / "gpt-oss-20b" / "tiny_lm" / "low"

    # Per-attempt grades come from lm-eval's filter + exact_match, every repeat.
    grades = {json.loads(line)["key"]: json.loads(line) for line in (run_dir / "grades.jsonl").read_text().splitlines()}
    assert {k: g["score"] for k, g in grades.items()} == {f"{s}#{r}": v for s, v in TRUTH.items() for r in range(REPEATS)}
    assert grades["tiny_arith/0#0"]["answer"] == "12" and grades["tiny_arith/2#1"]["answer"] == "25"
    assert grades["tiny_arith/0#0"]["details"]["filter"] == "last-answer"
    requests = server.requests()
    assert len(requests) == 4 * REPEATS
    assert {r["effort"] for r in requests} == {"low"}
    assert len({r["seed"] for r in requests}) == len(requests)
    attempts = _attempts(run_dir)
    assert all(a["output"]["analysis"] and a["usage"]["completion_tokens"] for a in attempts)
    assert "| tiny_lm |" in (run_dir / "report.md").read_text()

    # The same command resumes: nothing left to ask.
    proc = run_cli(*_cli_args(server, root, lm_tasks_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(server.requests()) == 4 * REPEATS

    # lm-eval's own scoring over the store (the hook the CLI will call after a run): no request either.
    task = LmEvalTask(name="tiny_lm", tasks=["tiny_arith"], include_path=str(lm_tasks_dir), include_defaults=False)
    rows = task.finalize(run_dir)
    assert len(server.requests()) == 4 * REPEATS
    assert rows == [{"task": "tiny_arith", "metric": "exact_match", "filter": "last-answer", "value": 0.75,
                     "stderr": rows[0]["stderr"], "n": 4, "higher_is_better": True}]
    results = json.loads((run_dir / RESULTS).read_text())
    assert results["results"]["tiny_arith"]["exact_match,last-answer"] == 0.75
    assert json.loads((run_dir / SUMMARY).read_text()) == rows
    logged = [json.loads(line) for line in (run_dir / SAMPLES).read_text().splitlines()]
    assert sorted(s["doc_id"] for s in logged) == [0, 1, 2, 3]
    assert next(s for s in logged if s["doc_id"] == 0)["filtered_resps"] == ["12"]

    from tasks.lm_eval_bridge.report import lm_eval_section

    section = lm_eval_section([root])
    assert "| tiny_lm | gpt-oss-20b | low | tiny_arith | exact_match | last-answer | 75.0 |" in section
