"""Secrets never touch disk: API keys by reference (``api_key_env``), literal keys refused, a redaction pass over
everything written from the config, and canary keys that reach the server's Authorization header and no file
or log line, through the real console script for AIME, Tau v1, tau2 (simulator and judge) and lm-eval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.secrets import (
    REDACTED,
    MissingKey,
    Redactor,
    is_secret_name,
    key_from_env,
    literal_keys,
)
from tests.conftest import FIXTURES, ROOT, run_cli
from tests.runners.test_cli_scripted import SCRIPT as AIME_SCRIPT
from tests.tasks.tau2_retail.conftest import DATA_DIR as TAU2_DATA
from tests.tasks.tau_retail.conftest import DATA_DIR as TAU_DATA

MINI = str(FIXTURES / "mini_aime.jsonl")
# Canaries: shaped like nothing the redactor knows by shape, so only the reference rules can hide them.
AGENT_KEY = "canary-agent-7f3c9a1e5b2d4068"
SIM_KEY = "canary-simulator-2b8e6d4f0a1c3957"
JUDGE_KEY = "canary-judge-9d1f3b5a7c2e4860"
HF_CANARY = "canary-hf-token-4a6c8e0b2d1f3579"


def _aime_args(server, tmp_path: Path, *extra: str) -> list[str]:
    """AIME on the scripted server, stored under tmp_path/out (the server's own files sit in tmp_path)."""
    return ["server=attach", f"server.base_url={server.base_url}", "suite=aime2025", f"suite.path={MINI}",
            f"paths.root={tmp_path / 'out'}", "progress=false", "client.retry_wait_s=0.01", "effort=low", *extra]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def assert_stored_nowhere(root: Path, proc: subprocess.CompletedProcess, *secrets: str) -> None:
    """No file under ``root`` (every depth, .hydra/ and the job log included) and no output line holds a secret."""
    files = _files(root)
    for secret in secrets:
        holding = [str(p.relative_to(root)) for p in files if secret.encode() in p.read_bytes()]
        assert holding == [], f"{secret} stored in {holding}"
        lines = [line for line in (proc.stdout + proc.stderr).splitlines() if secret in line]
        assert lines == [], lines


# -- the redaction rules ----------------------------------------------------------------------------------------
def test_secret_names_are_told_from_references_and_counts() -> None:
    for name in ("api_key", "apiKey", "OPENAI_API_KEY", "hf_token", "token", "HUGGING_FACE_HUB_TOKEN", "password",
                 "suite.models.judge.api_key", "+server.access_token", "authorization", "client_secret"):
        assert is_secret_name(name), name
    for name in ("api_key_env", "max_tokens", "stop_token", "user_stop_token", "completion_tokens", "tokenizer",
                 "base_url", "model", "keys", "monkey"):
        assert not is_secret_name(name), name


def test_redactor_replaces_shapes_env_values_and_url_passwords_and_keeps_the_rest(monkeypatch) -> None:
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "plain-looking-value-123")
    monkeypatch.setenv("MY_NAMED_KEY", "referenced-value-456")
    monkeypatch.setenv("SHORT_TOKEN", "abc")  # too short to be matched by value: would hit ordinary text
    r = Redactor(["MY_NAMED_KEY"])
    assert r.text("Bearer sk-proj-abcdefghijklmnop1234") == "Bearer ***"
    assert r.text("key sk-abcdefghijklmnopqrstu and hf_abcdefghijklmnopqrstuvwx") == "key *** and ***"
    assert r.text("x plain-looking-value-123 y referenced-value-456") == "x *** y ***"
    assert r.text("https://alice:s3cr3t@host:8000/v1") == "https://alice:***@host:8000/v1"
    assert r.text("abc http://host:8000/v1 sk-short") == "abc http://host:8000/v1 sk-short"
    assert r.value("password", "hunter2") == REDACTED and r.value("api_key", "EMPTY") == "EMPTY"
    assert r.value("api_key_env", "MY_NAMED_KEY") == "MY_NAMED_KEY"  # a reference stays
    assert r.value("token", "${oc.env:HF_TOKEN}") == "${oc.env:HF_TOKEN}"  # so does an interpolation
    assert r.override("+suite.models.judge.api_key=abc") == "+suite.models.judge.api_key=***"
    assert r.override("effort=low,medium,high") == "effort=low,medium,high"
    tree = {"a": {"token": "t0ps3cret", "n": 3, "urls": ["http://u:pw@h/v1", "http://h/v1"]}, "stop_token": "###"}
    assert r.tree(tree) == {"a": {"token": REDACTED, "n": 3, "urls": ["http://u:***@h/v1", "http://h/v1"]},
                            "stop_token": "###"}


def test_literal_keys_are_found_and_keys_come_from_the_environment(monkeypatch) -> None:
    cfg = {"server": {"api_key": "EMPTY"}, "suite": {"models": {"judge": {"api_key": "sk-x", "api_key_env": None}}},
           "list": [{"apiKey": "abc"}]}
    assert literal_keys(cfg) == ["suite.models.judge.api_key", "list[0].apiKey"]
    monkeypatch.delenv("GPTOSS_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(MissingKey, match="server.api_key_env names the environment variable GPTOSS_TEST_NO_SUCH_KEY"):
        key_from_env("GPTOSS_TEST_NO_SUCH_KEY", "server.api_key_env")
    monkeypatch.setenv("GPTOSS_TEST_NO_SUCH_KEY", "v")
    assert key_from_env("GPTOSS_TEST_NO_SUCH_KEY", "x") == "v" and key_from_env(None, "x") == "EMPTY"


# -- through the console script ---------------------------------------------------------------------------------
@pytest.mark.parametrize("override", ["+suite.models.user_simulator.api_key=sk-literal-abcdefghijklmnop",
                                      "+server.api_key=literal-server-key-123456"])
def test_a_literal_key_exits_2_with_one_line_and_nothing_is_written_or_sent(scripted_server, tmp_path,
                                                                              override) -> None:
    server = scripted_server(AIME_SCRIPT)
    proc = run_cli(*_aime_args(server, tmp_path, override), timeout=120)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    path = override[1:].split("=")[0]
    assert err[-1] == (f"gptoss-eval: error: {path} holds an API key in the config, which would be stored with the "
                       f"run; put the key in an environment variable and set {path}_env=<its name> instead")
    assert server.requests() == [] and _files(tmp_path / "out") == []
    assert_stored_nowhere(tmp_path / "out", proc, override.split("=", 1)[1])


def test_a_hand_typed_secret_is_replaced_by_stars_with_a_warning(scripted_server, tmp_path) -> None:
    server = scripted_server(AIME_SCRIPT)
    typed = ["hf_abcdefghijklmnopqrstuvwxyz", "plain-typed-token-42424242"]
    proc = run_cli(*_aime_args(server, tmp_path, f"+server.env={{HF_TOKEN: {typed[0]}}}",
                               f"+server.access_token={typed[1]}"), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "gptoss-eval: warning: what looks like a secret (" in proc.stderr and "replaced by ***" in proc.stderr
    run_dir = tmp_path / "out" / "default" / "gpt-oss-120b" / "aime2025" / "low"
    assert {p.name for p in (run_dir / ".hydra").iterdir()} == {"config.yaml", "hydra.yaml", "overrides.yaml"}
    overrides = (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert "+server.access_token=***" in overrides and "+server.env={HF_TOKEN: ***}" in overrides
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["server"]["env"] == {"HF_TOKEN": "***"}
    assert manifest["config"]["server"]["access_token"] == "***"
    assert_stored_nowhere(tmp_path / "out", proc, *typed)


def test_canary_keys_reach_only_the_authorization_header_and_a_rotated_key_resumes(scripted_server,
                                                                                  tmp_path) -> None:
    server = scripted_server(AIME_SCRIPT)
    env = {"GPTOSS_TEST_AGENT_KEY": AGENT_KEY, "HF_TOKEN": HF_CANARY}
    proc = run_cli(*_aime_args(server, tmp_path, "server.api_key_env=GPTOSS_TEST_AGENT_KEY"), env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    requests = server.requests()
    assert len(requests) == 5 * 8 and {r["authorization"] for r in requests} == {f"Bearer {AGENT_KEY}"}
    run_dir = tmp_path / "out" / "default" / "gpt-oss-120b" / "aime2025" / "low"
    assert {"manifest.json", "report.md", "cli.log"} <= {p.name for p in run_dir.iterdir()}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["server"]["api_key_env"] == "GPTOSS_TEST_AGENT_KEY"
    assert_stored_nowhere(tmp_path / "out", proc, AGENT_KEY, HF_CANARY)

    rotated = "canary-agent-rotated-0c2e4a6b8d"
    proc = run_cli(*_aime_args(server, tmp_path, "server.api_key_env=GPTOSS_TEST_AGENT_KEY"),
                   env=env | {"GPTOSS_TEST_AGENT_KEY": rotated}, timeout=120)
    assert proc.returncode == 0, proc.stderr  # the same settings hash: the run resumes, nothing left to ask
    assert len(server.requests()) == 40
    assert json.loads((run_dir / "manifest.json").read_text())["settings_hash"] == manifest["settings_hash"]
    assert_stored_nowhere(tmp_path / "out", proc, AGENT_KEY, rotated, HF_CANARY)


def test_an_unset_server_key_variable_stops_before_anything(scripted_server, tmp_path) -> None:
    server = scripted_server(AIME_SCRIPT)
    proc = run_cli(*_aime_args(server, tmp_path, "server.api_key_env=GPTOSS_TEST_UNSET_SERVER_KEY"),
                   env={"GPTOSS_TEST_UNSET_SERVER_KEY": ""}, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "gptoss-eval: error: server.api_key_env names the environment variable GPTOSS_TEST_UNSET_SERVER_KEY, which "
        "is not set")
    assert server.requests() == [] and _files(tmp_path / "out") == []


@pytest.mark.skipif(TAU_DATA is None, reason="tau-bench v1 retail data not found (needed to load the suite)")
def test_canary_tau_v1_agent_and_simulator_keys(tmp_path) -> None:
    from tasks.tau_retail.task import TauRetailTask
    from tests.tasks.tau_retail.test_tau_retail_agent import TauServerProcess, cli_script

    task = TauRetailTask(data_dir=str(TAU_DATA)).load()[0].input
    server = TauServerProcess(cli_script([task.instruction], [[(a.name, dict(a.kwargs)) for a in task.actions]]),
                              tmp_path).start()
    root = tmp_path / "out"
    try:
        proc = run_cli("server=attach", f"server.base_url={server.base_url}", "suite=tau_retail",
                       f"suite.data_dir={TAU_DATA}", "suite.limit=1", "repeats=1", "suite/models=gpt-4o",
                       f"suite.models.user_simulator.base_url={server.base_url}",
                       "suite.models.user_simulator.api_key_env=GPTOSS_TEST_SIM_KEY",
                       "server.api_key_env=GPTOSS_TEST_AGENT_KEY", "effort=high", f"paths.root={root}",
                       "progress=false", "client.retry_wait_s=0.01", timeout=240,
                       env={"GPTOSS_TEST_SIM_KEY": SIM_KEY, "GPTOSS_TEST_AGENT_KEY": AGENT_KEY, "HF_TOKEN": HF_CANARY})
        requests = server.requests()
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    by_effort = {(r["effort"], r["authorization"]) for r in requests}
    assert by_effort == {("high", f"Bearer {AGENT_KEY}"), (None, f"Bearer {SIM_KEY}")}
    attempt = json.loads((root / "default" / "gpt-oss-120b" / "tau_retail" / "high" / "attempts.jsonl").read_text())
    assert attempt["status"] == "ok"
    assert_stored_nowhere(root, proc, AGENT_KEY, SIM_KEY, HF_CANARY)


@pytest.mark.skipif(TAU2_DATA is None, reason="tau2 retail data not found (needed to load the suite)")
def test_canary_tau2_simulator_and_judge_keys(tmp_path) -> None:
    from tasks.tau2_retail.task import Tau2RetailTask
    from tests.tasks.tau_retail.test_tau_retail_agent import TauServerProcess, cli_script

    sample = next(s for s in Tau2RetailTask(data_dir=str(TAU2_DATA)).load()
                  if s.input.nl_assertions and "NL_ASSERTION" in s.input.reward_basis)
    task = sample.input
    script = cli_script([task.instructions["reason_for_call"]], [[(a.name, dict(a.arguments)) for a in task.actions]])
    verdict = {"results": [{"expectedOutcome": a, "reasoning": "said", "metExpectation": True}
                           for a in task.nl_assertions]}
    script["rules"][:0] = [{"agent": False, "contains": "expectedOutcomes:", "reply": {"final": json.dumps(verdict)}},
                           {"agent": False, "contains": "ALL DONE", "reply": {"final": "###STOP###"}}]
    server = TauServerProcess(script, tmp_path).start()
    root = tmp_path / "out"
    try:
        proc = run_cli("server=attach", f"server.base_url={server.base_url}", "suite=tau2_retail",
                       f"suite.data_dir={TAU2_DATA}", f"suite.task_ids=[{sample.id}]", "repeats=1",
                       "suite/models=gpt-4o", f"suite.models.user_simulator.base_url={server.base_url}",
                       "suite.models.user_simulator.api_key_env=GPTOSS_TEST_SIM_KEY",
                       f"suite.models.judge.base_url={server.base_url}", "suite.models.judge.model=judge-model",
                       "suite.models.judge.api_key_env=GPTOSS_TEST_JUDGE_KEY",
                       "server.api_key_env=GPTOSS_TEST_AGENT_KEY", "effort=high", f"paths.root={root}",
                       "progress=false", "client.retry_wait_s=0.01", timeout=240,
                       env={"GPTOSS_TEST_SIM_KEY": SIM_KEY, "GPTOSS_TEST_JUDGE_KEY": JUDGE_KEY,
                            "GPTOSS_TEST_AGENT_KEY": AGENT_KEY, "HF_TOKEN": HF_CANARY})
        requests = server.requests()
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    # the agent at high effort, the gpt-4o simulator with no effort, the judge at its default low effort
    assert {(r["effort"], r["authorization"]) for r in requests} == {
        ("high", f"Bearer {AGENT_KEY}"), (None, f"Bearer {SIM_KEY}"), ("low", f"Bearer {JUDGE_KEY}")}
    run_dir = root / "default" / "gpt-oss-120b" / "tau2_retail" / "high"
    attempt = json.loads((run_dir / "attempts.jsonl").read_text())
    assert attempt["status"] == "ok" and attempt["info"]["judge"]["model"] == "judge-model"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["settings"]["peers"]["judge"]["api_key_env"] == "GPTOSS_TEST_JUDGE_KEY"
    assert_stored_nowhere(root, proc, AGENT_KEY, SIM_KEY, JUDGE_KEY, HF_CANARY)


def test_canary_lm_eval_suite_and_lm_eval_own_cli(scripted_server, tmp_path) -> None:
    pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install 'gptoss-eval[lm-eval]')")
    from tests.tasks.lm_eval_bridge.conftest import FIXTURES as LM_FIXTURES
    from tests.tasks.lm_eval_bridge.test_bridge import SCRIPT as LM_SCRIPT

    tasks_dir = tmp_path / "lm_tasks"
    tasks_dir.mkdir()
    (tasks_dir / "tiny_arith.yaml").write_text((LM_FIXTURES / "tiny_arith.yaml.in").read_text().replace(
        "__DATA__", str(LM_FIXTURES / "tiny_arith.jsonl")))
    server = scripted_server(LM_SCRIPT)
    env = {"GPTOSS_TEST_AGENT_KEY": AGENT_KEY, "HF_TOKEN": HF_CANARY}
    root = tmp_path / "out"
    proc = run_cli("server=attach", f"server.base_url={server.base_url}", "suite=lm_eval", "suite.name=tiny_lm",
                   "suite.tasks=[tiny_arith]", f"suite.include_path={tasks_dir}", "suite.include_defaults=false",
                   "server.api_key_env=GPTOSS_TEST_AGENT_KEY", f"paths.root={root}", "progress=false",
                   "client.retry_wait_s=0.01", "client=harmony", "effort=low", env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (root / "default" / "gpt-oss-120b" / "tiny_lm" / "low" / "lm_eval_results.json").exists()
    sent = len(server.requests())
    assert sent == 8 and {r["authorization"] for r in server.requests()} == {f"Bearer {AGENT_KEY}"}
    assert_stored_nowhere(root, proc, AGENT_KEY, HF_CANARY)

    # lm-eval's own command line with our model: the key by reference in model_args, results and samples logged
    out = tmp_path / "lm_cli"
    args = [sys.executable, "-m", "tasks.lm_eval_bridge", "run", "--model", "gptoss-harmony", "--model_args",
            f"base_url={server.base_url},model=gpt-oss-test,effort=low,max_model_len=8192,run_dir={out / 'run'},"
            f"retry_wait_s=0.01,api_key_env=GPTOSS_TEST_AGENT_KEY", "--tasks", "tiny_arith", "--include_path",
            str(tasks_dir), "--apply_chat_template", "--output_path", str(out / "results"), "--log_samples"]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(server.requests()) == 2 * sent
    assert {r["authorization"] for r in server.requests()} == {f"Bearer {AGENT_KEY}"}
    assert list((out / "results").rglob("results_*.json")) and (out / "run" / "attempts.jsonl").exists()
    assert_stored_nowhere(out, proc, AGENT_KEY, HF_CANARY)

    # a literal key in model_args is refused before any request
    literal = [a.replace("api_key_env=GPTOSS_TEST_AGENT_KEY", "api_key=sk-literal-abcdefghijklmnop") for a in args]
    proc = subprocess.run(literal, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    assert proc.returncode != 0 and "pass api_key_env=<its name> instead" in proc.stderr
    assert len(server.requests()) == 2 * sent
