"""`gptoss-eval action=doctor` against the scripted server: healthy on every transport, then each misconfiguration
a real gpt-oss server can have fails its own check (and only that one), and `doctor=true` stops a run before it
samples anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_cli

MINI = str(FIXTURES / "mini_aime.jsonl")
LOW = "Three sevens make 21."
HIGH = "Three times seven: count 7, 14, 21. Check: 21 / 7 = 3, so the product is 21. " * 4
SCRIPT = {
    "rules": [
        {"match": "3 \\times 7", "effort": "low", "reply": {"analysis": LOW, "final": "\\boxed{21}"}},
        {
            "match": "3 \\times 7",
            "effort": "medium",
            "reply": {"analysis": LOW + " Sure.", "final": "\\boxed{21}"},
        },
        {"match": "3 \\times 7", "effort": "high", "reply": {"analysis": HIGH, "final": "\\boxed{21}"}},
        {
            "match": "weather in Paris",
            "reply": {
                "analysis": "I should call get_weather for Paris.",
                "tool_calls": [{"name": "get_weather", "arguments": '{"location": "Paris"}'}],
            },
        },
    ],
    "default": {"analysis": "Other.", "final": "\\boxed{0}"},
}
CHECKS = [
    "effort takes effect",
    "prompt date pinned",
    "reasoning and final separated",
    "stream carries the final channel",
    "function tool call round-trips",
    "max model length",
    "fixed seed reproduces",
    "versions",
]
PROBES = 6  # low, high, low again, low streamed, tool, tool streamed


def _doctor(server, root: Path, *extra: str):
    return run_cli(
        "action=doctor",
        "server=attach",
        f"server.base_url={server.base_url}",
        "suite=aime2025",
        f"suite.path={MINI}",
        f"paths.root={root}",
        "client.retry_wait_s=0.01",
        *extra,
        timeout=120,
    )


def _lines(stdout: str) -> dict[str, str]:
    """check name -> status, from the doctor's PASS / WARN / FAIL lines."""
    out = {}
    for line in stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("PASS", "WARN", "FAIL"):
            out[rest.split(":", 1)[0]] = status
    return out


@pytest.mark.parametrize("transport", ["chat", "responses", "harmony"])
def test_a_healthy_server_passes_every_check_with_only_the_probes_sent(scripted_server, tmp_path, transport):
    server = scripted_server(SCRIPT)
    root = tmp_path / "outputs"
    proc = _doctor(server, root, f"client={transport}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _lines(proc.stdout) == dict.fromkeys(CHECKS, "PASS"), proc.stdout
    sent = server.requests()
    assert len(sent) == PROBES
    assert sorted(r["effort"] for r in sent) == ["high"] + ["low"] * 5
    assert sum(r["stream"] for r in sent) == 2 and all(r["max_tokens"] <= 2048 for r in sent)
    assert not root.exists()  # nothing written: no store, no Hydra files
    if transport != "harmony":  # the server showed the prompt it rendered
        assert "rendered 'Reasoning: low' / 'Reasoning: high'" in proc.stdout
        assert "Current date: 2026-01-01" in proc.stdout


# (server setting, transport, the check that must fail, its status, words of the fix)
MISCONFIGURED = [
    ({"effort_ignored": True}, "chat", "effort takes effect", "FAIL", "reasoning_effort"),
    ({"effort_ignored": True}, "responses", "effort takes effect", "FAIL", "reasoning_effort"),
    ({"reasoning_in_content": True}, "chat", "reasoning and final separated", "FAIL", "--reasoning-parser"),
    (
        {"drop_tool_calls": True},
        "chat",
        "function tool call round-trips",
        "FAIL",
        "--enable-auto-tool-choice",
    ),
    ({"date": "today"}, "chat", "prompt date pinned", "FAIL", "VLLM_SYSTEM_START_DATE"),
    ({"date": "today"}, "responses", "prompt date pinned", "FAIL", "VLLM_SYSTEM_START_DATE"),
    ({"max_model_len": 8192}, "harmony", "max model length", "WARN", "--max-model-len 131072"),
    ({"stream_drops_final": True}, "chat", "stream carries the final channel", "FAIL", "client.stream=false"),
    (
        {"stream_drops_final": True},
        "harmony",
        "stream carries the final channel",
        "FAIL",
        "client.stream=false",
    ),
]


def _diagnose(server, *overrides: str):
    """The doctor in this process (no console-script start-up per case): the same config, probes and checks."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from runners import doctor
    from runners.cli import build_task, register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "server=attach",
                f"server.base_url={server.base_url}",
                "suite=aime2025",
                f"suite.path={MINI}",
                "client.retry_wait_s=0.01",
                *overrides,
            ],
        )
    GlobalHydra.instance().clear()
    task = build_task(cfg, OmegaConf.to_container(cfg.suite, resolve=True))
    checks, _ = doctor.diagnose(doctor.target_from_config(cfg, [server.base_url], task, None, "scripted-0"))
    return checks


@pytest.mark.parametrize(
    ("setting", "transport", "check", "status", "fix"),
    MISCONFIGURED,
    ids=[f"{next(iter(m[0]))}-{m[1]}" for m in MISCONFIGURED],
)
def test_each_misconfiguration_fails_its_own_check_and_no_other(
    scripted_server, setting, transport, check, status, fix
):
    server = scripted_server({**SCRIPT, "server": setting})
    checks = _diagnose(server, f"client={transport}")
    lines = "\n".join(c.line() for c in checks)
    assert {c.name: c.status for c in checks} == {**dict.fromkeys(CHECKS, "PASS"), check: status}, lines
    line = next(c.line() for c in checks if c.name == check)
    assert "Fix: " in line and fix in line, line
    assert len(server.requests()) == PROBES


def test_a_failed_check_exits_non_zero_with_one_error_line(scripted_server, tmp_path):
    server = scripted_server({**SCRIPT, "server": {"date": "today"}})
    proc = _doctor(server, tmp_path / "outputs", "client=chat")
    assert proc.returncode == 2
    assert "FAIL prompt date pinned: the server writes today's date" in proc.stdout
    assert (
        proc.stderr.strip().splitlines()[-1]
        == "gptoss-eval: error: 1 server check(s) failed: prompt date pinned"
    )


def test_no_tool_call_fails_unless_the_models_own_tokens_show_it_did_not_call():
    """Without vLLM's show-me fields a dropped call and a model that did not call look alike: FAIL, since a tool
    suite would score near zero either way; with the model's tokens shown, not calling is the model's (WARN)."""
    from evals.types import ModelOutput
    from runners import doctor

    whole = doctor.Result(
        doctor.Probe("tool", [], "low"), output=ModelOutput(analysis="x", final="It is sunny.")
    )
    streamed = doctor.Result(
        doctor.Probe("tool streamed", [], "low", stream=True), output=ModelOutput(final="Hi")
    )
    check = doctor.check_tool_call(whole, streamed)
    assert check.status == "FAIL" and "--enable-auto-tool-choice" in check.line()
    whole.observed.completion_ids = [200005, 35644, 200008, 1314, 200007]  # analysis only, no call
    assert doctor.check_tool_call(whole, streamed).status == "WARN"


def test_different_replies_for_one_seed_only_warn():
    from evals.types import ModelOutput
    from runners import doctor

    a = doctor.Result(doctor.Probe("low", [], "low"), output=ModelOutput(analysis="a", final="1"))
    b = doctor.Result(doctor.Probe("low again", [], "low"), output=ModelOutput(analysis="b", final="1"))
    assert doctor.check_determinism(a, b).status == "WARN"
    assert doctor.check_determinism(a, a).status == "PASS"


def test_effort_judged_by_reasoning_lengths_when_the_server_shows_no_prompt():
    from evals.types import ModelOutput, Usage
    from runners import doctor

    def result(effort: str, tokens: int, finish: str = "stop") -> doctor.Result:
        out = ModelOutput(analysis="x", final="1", finish_reason=finish, usage=Usage(reasoning_tokens=tokens))
        return doctor.Result(doctor.Probe(effort, [], effort), output=out)

    assert doctor.check_effort(result("low", 100), result("high", 400), "chat").status == "PASS"
    assert doctor.check_effort(result("low", 100), result("high", 110), "chat").status == "FAIL"
    assert doctor.check_effort(result("low", 100), result("high", 2048, "length"), "chat").status == "PASS"
    both_cut = doctor.check_effort(result("low", 2048, "length"), result("high", 2048, "length"), "chat")
    assert both_cut.status == "WARN"


def test_doctor_before_a_run_stops_it_before_sampling(scripted_server, tmp_path):
    server = scripted_server({**SCRIPT, "server": {"reasoning_in_content": True}})
    proc = run_cli(
        "server=attach",
        f"server.base_url={server.base_url}",
        "suite=aime2025",
        f"suite.path={MINI}",
        f"paths.root={tmp_path}",
        "progress=false",
        "client.retry_wait_s=0.01",
        "doctor=true",
        timeout=120,
    )
    assert proc.returncode == 2
    assert "FAIL reasoning and final separated" in proc.stdout
    assert "nothing was sampled" in proc.stderr and "doctor=false" in proc.stderr
    assert len(server.requests()) == PROBES
    run_dir = tmp_path / "default" / "gpt-oss-120b" / "aime2025" / "medium"
    assert not (run_dir / "attempts.jsonl").exists() and not (run_dir / "manifest.json").exists()


def test_doctor_before_a_run_then_the_run_with_its_lines_in_the_manifest(scripted_server, tmp_path):
    server = scripted_server(SCRIPT)
    proc = run_cli(
        "server=attach",
        f"server.base_url={server.base_url}",
        "suite=aime2025",
        f"suite.path={MINI}",
        f"paths.root={tmp_path}",
        "progress=false",
        "doctor=true",
        "repeats=1",
        "suite.limit=2",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(server.requests()) == PROBES + 2
    manifest = json.loads(
        (tmp_path / "default" / "gpt-oss-120b" / "aime2025" / "medium" / "manifest.json").read_text()
    )
    assert {c["check"]: c["status"] for c in manifest["doctor"]} == dict.fromkeys(CHECKS, "PASS")


def test_attached_runs_skip_the_doctor_by_default_and_bad_values_are_one_line(scripted_server, tmp_path):
    server = scripted_server(SCRIPT)
    proc = run_cli(
        "server=attach",
        f"server.base_url={server.base_url}",
        "suite=aime2025",
        f"suite.path={MINI}",
        f"paths.root={tmp_path}",
        "progress=false",
        "repeats=1",
        "suite.limit=1",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(server.requests()) == 1
    bad = run_cli("doctor=sometimes", "server=attach", f"server.base_url={server.base_url}", timeout=60)
    assert bad.returncode == 2 and "doctor='sometimes' is not valid: expected true or false" in bad.stderr
