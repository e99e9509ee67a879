"""`gptoss-eval experiment=gpu_smoke`: the main job's path, small, with one PASS / FAIL line naming the report.

The preset is composed from the real config; the runs go through the real console script and the real spawn
code, with vLLM stood in by the scripted server (tests/support/fake_vllm.py) since this machine has no GPU.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_cli
from tests.support.fake_vllm import fake_vllm, gone, hydra_dict, requests_by_port, server_env, starts
from tests.support.server_venv import server_venv, store_files

MINI = str(FIXTURES / "mini_aime.jsonl")  # 5 problems, answers 21, 9, 24, 42, 99
ANSWERS = {"3 \\times 7": "21", "divisors": "9", "2^{10}": "24", "12+30": "42"}


def _script(truncate: str | None = None) -> dict:
    rules = [{"match": m, "reply": {"analysis": "Working it out.", "final": f"\\boxed{{{a}}}"}} for m, a in ANSWERS.items()]
    if truncate:  # the model ran out of tokens while reasoning: no final channel
        rules.insert(0, {"match": truncate, "reply": {"analysis": "Still thinking", "final": None,
                                                      "finish_reason": "length"}})
    return {"rules": rules, "default": {"analysis": "Guess.", "final": "\\boxed{7}"}}


def _smoke(tmp_path: Path, script: dict, *extra: str):
    fake = fake_vllm(tmp_path)
    return run_cli("experiment=gpu_smoke", f"server.python={fake}",
                   f"++server.env={hydra_dict(server_env(script, tmp_path))}", f"suite.path={MINI}",
                   f"paths.root={tmp_path / 'runs'}", "progress=false", "client.retry_wait_s=0.01", *extra)


def _verdict(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("gpu_smoke: ")]
    assert len(lines) == 1, stdout
    return lines[0]


def test_the_preset_is_gpt_oss_20b_five_aime_2025_problems_once_at_low_effort():
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from runners.cli import register_resolvers
    from runners.serving import replica_configs

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose("config", overrides=["experiment=gpu_smoke"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    assert (cfg.model.name, cfg.model.path) == ("gpt-oss-20b", "openai/gpt-oss-20b")
    assert (cfg.suite.name, cfg.suite.hf_id, cfg.suite.limit, cfg.repeats) == ("aime2025", "MathArena/aime_2025", 5, 1)
    assert (cfg.effort.name, cfg.client.transport, cfg.server.mode) == ("low", "chat", "spawn")
    assert cfg.hydra.callbacks.smoke_verdict._target_ == "runners.smoke.SmokeVerdict"
    assert cfg.doctor is True  # the server checks before sampling, whatever server mode
    [server] = replica_configs(cfg, Path("/tmp/unused"))
    assert server.argv(8000)[:3] == [cfg.server.python, "-m", "vllm.entrypoints.openai.api_server"]
    assert server.device == "cuda" and server.vllm_version == "0.32.0"


def test_a_healthy_server_passes_and_the_line_names_the_report(tmp_path):
    proc = _smoke(tmp_path, _script())
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = _verdict(proc.stdout)
    assert line.startswith("gpu_smoke: PASS: 5/5 attempts answered on the final channel and graded (4 correct)")
    assert re.search(r"server checks \d+ passed / \d+ warned;", line), line
    [run_dir] = (tmp_path / "runs").glob("gpu_smoke-*/gpt-oss-20b/aime2025/low")  # a fresh tag per smoke
    report = Path(re.search(r"report: (\S+)$", line)[1])
    assert report == run_dir / "report.md" and report.exists()
    (pid, port), = starts(tmp_path)  # one server, spawned through server.python, stopped after
    assert gone(pid)
    assert port in requests_by_port(tmp_path)
    attempts = [json.loads(line) for line in (run_dir / "attempts.jsonl").read_text().splitlines()]
    assert sorted(a["key"] for a in attempts) == [f"p{i}#0" for i in range(1, 6)]
    assert {a["effort"] for a in attempts} == {"low"}


def test_an_attempt_without_a_final_answer_fails_the_smoke_with_exit_1(tmp_path):
    proc = _smoke(tmp_path, _script(truncate="divisors"))
    assert proc.returncode == 1, proc.stderr[-3000:]
    line = _verdict(proc.stdout)
    assert line.startswith("gpu_smoke: FAIL: 1 without a final answer (truncated: 1)"), line
    assert re.search(r"report: \S+/gpu_smoke-[0-9-]+/gpt-oss-20b/aime2025/low/report\.md$", line), line


def test_a_server_check_that_fails_stops_the_smoke_before_sampling(tmp_path):
    proc = _smoke(tmp_path, {**_script(), "server": {"effort_ignored": True}})  # the "AIME25 = 80" server
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "FAIL effort takes effect" in proc.stdout + proc.stderr
    assert _verdict(proc.stdout).startswith("gpu_smoke: FAIL: the run stopped before its report")
    assert not list((tmp_path / "runs").rglob("attempts.jsonl"))  # nothing sampled


def test_a_server_that_answers_with_errors_fails_the_smoke(tmp_path):
    script = {**_script(), "faults": {"error_rate": 1.0, "error_status": 500}}
    proc = _smoke(tmp_path, script, "client.max_retries=1")
    assert proc.returncode != 0
    line = _verdict(proc.stdout)
    assert line.startswith("gpu_smoke: FAIL:"), line


def test_no_gpu_is_one_error_line_before_anything_starts_then_fail(tmp_path):
    from runners.vllm_server import nvidia_gpus

    if nvidia_gpus():
        pytest.skip("this machine has an NVIDIA GPU")
    python = server_venv(tmp_path / "vllm-0.32.0", "0.32.0")  # vLLM's CUDA build, by its metadata
    proc = run_cli("experiment=gpu_smoke", f"server.python={python}", f"suite.path={MINI}",
                   f"paths.root={tmp_path / 'runs'}", "progress=false")
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("gptoss-eval: error: no NVIDIA GPU found on this machine"), errors
    assert _verdict(proc.stdout).startswith("gpu_smoke: FAIL: the run stopped before its report")
    assert store_files(tmp_path / "runs") == []  # no store, no server log
