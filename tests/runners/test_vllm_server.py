"""Server lifecycle with a stand-in for vLLM (an executable that behaves like its launcher)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from runners.vllm_server import ServerStartError, VllmServer, VllmServerConfig

FAKE = textwrap.dedent("""\
    #!{python}
    # Stands in for `python -m vllm.entrypoints.openai.api_server ...`: same argv, /health when ready.
    import http.server, os, subprocess, sys, time, json
    args = sys.argv[1:]
    port = int(args[args.index("--port") + 1])
    mode = os.environ.get("FAKE_MODE", "ok")
    with open(os.environ["FAKE_ARGV"], "w") as fh:
        json.dump({{"argv": args, "date": os.environ.get("VLLM_SYSTEM_START_DATE")}}, fh)
    print("INFO starting fake vllm", flush=True)
    if mode == "crash":
        print("ValueError: model architecture GptOssForCausalLM needs more memory than available", flush=True)
        sys.exit(1)
    # an engine process, like vLLM's EngineCore, that must not outlive the server
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(os.environ["FAKE_ARGV"] + ".child", "w") as fh:
        fh.write(str(child.pid))
    if mode == "hang":
        time.sleep(600)
    time.sleep(0.5)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{{"version": "0.0-fake"}}' if self.path == "/version" else b"ok"
            self.send_response(200); self.end_headers(); self.wfile.write(body)
        def log_message(self, *a): pass
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
""")


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch):
    exe = tmp_path / "fake-python"
    exe.write_text(FAKE.format(python=sys.executable))
    exe.chmod(0o755)
    monkeypatch.setenv("FAKE_ARGV", str(tmp_path / "argv.json"))
    return exe


def _config(fake: Path, tmp_path: Path, **kw) -> VllmServerConfig:
    return VllmServerConfig(model="openai/gpt-oss-120b", served_model_name="openai/gpt-oss-120b", python=str(fake),
                            max_model_len=131072, tensor_parallel_size=2, log_path=str(tmp_path / "server.log"),
                            **kw)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_server_starts_with_the_gpt_oss_flags_and_leaves_nothing_behind(fake_vllm, tmp_path):
    import json

    with VllmServer(_config(fake_vllm, tmp_path)) as server:
        assert server.alive()
        assert server.version() == "0.0-fake"
        info = json.loads((tmp_path / "argv.json").read_text())
        child = int((tmp_path / "argv.json.child").read_text())
        pid = server.proc.pid
    argv = info["argv"]
    assert argv[:2] == ["-m", "vllm.entrypoints.openai.api_server"]
    for flag in ("--reasoning-parser", "openai_gptoss", "--tool-call-parser", "openai", "--enable-auto-tool-choice",
                 "--max-model-len", "131072", "--tensor-parallel-size", "2", "--gpu-memory-utilization"):
        assert flag in argv
    assert info["date"] == "2026-01-01"  # pinned system date
    assert "starting fake vllm" in (tmp_path / "server.log").read_text()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (_gone(pid) and _gone(child)):
        time.sleep(0.1)
    assert _gone(pid) and _gone(child)


def test_a_server_that_dies_at_start_up_gives_the_log_tail(fake_vllm, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "crash")
    with pytest.raises(ServerStartError, match="exited with code 1") as err:
        VllmServer(_config(fake_vllm, tmp_path)).__enter__()
    assert "needs more memory than available" in str(err.value)


def test_a_server_that_never_gets_healthy_times_out_and_is_killed(fake_vllm, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "hang")
    server = VllmServer(_config(fake_vllm, tmp_path, ready_timeout_s=3))
    with pytest.raises(ServerStartError, match="not healthy after 3 s"):
        server.__enter__()
    child = int((tmp_path / "argv.json.child").read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _gone(child):
        time.sleep(0.1)
    assert _gone(child)


def test_missing_interpreter_is_a_clear_error(tmp_path):
    cfg = VllmServerConfig(model="m", python=str(tmp_path / "no-such-python"))
    with pytest.raises(ServerStartError, match="server.python"):
        VllmServer(cfg).__enter__()


def test_ctrl_c_during_a_run_stops_the_server(fake_vllm, tmp_path):
    """The harness gets SIGINT while a spawned server runs: server and its children are gone after."""
    from tests.conftest import FIXTURES, ROOT

    exe = Path(sys.executable).with_name("gptoss-eval")
    proc = subprocess.Popen(
        [str(exe), f"server.python={fake_vllm}", "suite=aime2025", f"suite.path={FIXTURES / 'mini_aime.jsonl'}",
         f"paths.root={tmp_path}", "progress=false", "client.max_retries=100", "client.retry_wait_s=0.5"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    child_file = tmp_path / "argv.json.child"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not child_file.exists():
        time.sleep(0.1)
    time.sleep(2)  # the server is up and the run is retrying requests the fake cannot answer
    server_pids = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    assert server_pids
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    child = int(child_file.read_text())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(_gone(p) for p in [*server_pids, child]):
        time.sleep(0.1)
    assert all(_gone(p) for p in [*server_pids, child])
