from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).parent / "fixtures"


def free_port() -> int:
    from runners.vllm_server import free_port as fp

    return fp()


class ScriptedServerProcess:
    """The scripted OpenAI-compatible server in its own process (like a real server would be)."""

    module = "tests.support.scripted_server"

    def __init__(self, script: dict, workdir: Path) -> None:
        self.script_path = workdir / f"script-{time.monotonic_ns()}.json"
        self.script_path.write_text(json.dumps(script))
        self.log_path = workdir / f"requests-{time.monotonic_ns()}.jsonl"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "--script", str(self.script_path),
             "--port", str(self.port), "--log", str(self.log_path)], cwd=ROOT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("scripted server did not start")

    def requests(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def scripted_server(tmp_path):
    servers: list[ScriptedServerProcess] = []

    def start(script: dict) -> ScriptedServerProcess:
        server = ScriptedServerProcess(script, tmp_path).start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def run_cli(*overrides: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real console script (as a user would) and capture its output."""
    exe = Path(sys.executable).with_name("gptoss-eval")
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "runners.cli"]),
           *overrides]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA} (it sits beside the checkout in CI)")
    return SHARED_DATA


def _sandbox_problem() -> str:
    from evals.sandbox import SandboxUnavailable, check_available

    try:
        check_available()
        return ""
    except SandboxUnavailable as exc:  # depends on the machine
        return str(exc)


_NO_SANDBOX = _sandbox_problem()
needs_bwrap = pytest.mark.skipif(bool(_NO_SANDBOX), reason=f"bubblewrap sandbox unavailable: {_NO_SANDBOX}")
