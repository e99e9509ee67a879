"""A -m sweep over suites and efforts starts ONE server for all its jobs (runners.callbacks.SharedServer)."""

from __future__ import annotations

import json

from tests.conftest import FIXTURES, run_cli
from tests.support.fake_vllm import fake_vllm, gone, hydra_dict, requests_by_port, server_env, starts

MINI = str(FIXTURES / "mini_aime.jsonl")
REPLY = {"analysis": "Thinking about it.", "final": "\\boxed{99}"}


def test_a_sweep_over_suites_and_efforts_starts_one_server_for_every_job(tmp_path):
    fake = fake_vllm(tmp_path)
    proc = run_cli("-m", "server=spawn", "doctor=false", f"server.python={fake}", f"++server.env={hydra_dict(server_env({'default': REPLY}, tmp_path))}",
                   "suite=aime2024,aime2025", f"suite.path={MINI}", "effort=low,high", "repeats=1",
                   f"paths.root={tmp_path}", "progress=false", timeout=600)
    assert proc.returncode == 0, proc.stderr
    started = starts(tmp_path)
    assert len(started) == 1  # four jobs, one server
    (pid, port), = started
    assert gone(pid)  # stopped when the sweep ended
    sweep = tmp_path / "default" / "gpt-oss-120b"
    jobs = [sweep / suite / effort for suite in ("aime2024", "aime2025") for effort in ("low", "high")]
    for job in jobs:
        server = json.loads((job / "manifest.json").read_text())["server"]
        assert server["mode"] == "spawn (shared by the sweep)" and server["base_url"] == f"http://127.0.0.1:{port}/v1"
        assert not (job / "server.log").exists()  # no job started a server of its own
    assert f"--port {port}" in (sweep / "server.log").read_text()
    served = requests_by_port(tmp_path)
    assert list(served) == [port] and len(served[port]) == 4 * 5  # every job's requests, on that one server
    assert sorted({r["effort"] for r in served[port]}) == ["high", "low"]
