"""The console script on the SWE-bench suite: no Docker engine stops the run before any request."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.tasks.swebench.conftest import needs_swebench

pytestmark = needs_swebench

SCRIPT = {"rules": [], "default": {"analysis": "Nothing to change.", "final": "The code is fine as it is."}}


def _args(server, tmp_path: Path, toy, *extra: str) -> list[str]:
    data = tmp_path / "toy.jsonl"
    data.write_text(json.dumps(toy.row) + "\n")
    return ["server=attach", f"server.base_url={server.base_url}", "suite=swebench_verified", f"suite.path={data}",
            "effort=low", f"paths.root={tmp_path / 'runs'}", "progress=false", "client.retry_wait_s=0.01", *extra]


def _run_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs" / "default" / "gpt-oss-120b" / "swebench_verified" / "low"


@pytest.mark.parametrize("env, message", [
    ({"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, "no Docker engine answers"),
    ({"PATH": "/usr/bin:/bin"}, "the docker client 'docker' is not installed"),  # a PATH without docker
], ids=["no-engine", "no-client"])
def test_docker_suite_without_an_engine_stops_before_any_request(scripted_server, tmp_path, toy, env, message):
    if "PATH" in env and any(Path(d, "docker").exists() for d in env["PATH"].split(":")):
        pytest.skip("docker is installed in /usr/bin or /bin here")
    server = scripted_server(SCRIPT)
    proc = run_cli(*_args(server, tmp_path, toy), env=env)  # suite.environment.kind=docker is the default
    assert proc.returncode == 2, proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert line.startswith("gptoss-eval: error: swebench_verified:") and message in line
    assert "suite.environment.kind=local" in line
    assert server.requests() == [] and not (_run_dir(tmp_path) / "attempts.jsonl").exists()


def test_the_local_environment_is_not_held_up(scripted_server, tmp_path, toy):
    server = scripted_server(SCRIPT)
    proc = run_cli(*_args(server, tmp_path, toy, "suite.environment.kind=local", "suite.environment.sandbox=false"),
                   env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert proc.returncode == 0, proc.stderr
    (attempt,) = [json.loads(x) for x in (_run_dir(tmp_path) / "attempts.jsonl").read_text().splitlines()]
    assert attempt["status"] == "ok" and attempt["info"]["stop_reason"] == "submitted"
    assert len(server.requests()) == 1
    md = (_run_dir(tmp_path) / "report.md").read_text()
    assert "## SWE-Bench Verified" in md and "episodes ended by submitted 1" in md


def test_an_unknown_environment_kind_is_one_line(scripted_server, tmp_path, toy):
    server = scripted_server(SCRIPT)
    proc = run_cli(*_args(server, tmp_path, toy, "suite.environment.kind=podman"), env=dict(os.environ))
    assert proc.returncode == 2 and "unknown suite.environment.kind='podman'" in proc.stderr
    assert server.requests() == []
