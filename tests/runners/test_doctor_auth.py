"""The doctor's probes carry the server's key (``server.api_key_env``) as a run does: against a server that
requires it, the probes are refused without it and pass with it, and the key's value shows in no output and no
file (the doctor's own, and a run that the doctor checks first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ScriptedServerProcess, run_cli
from tests.runners.test_doctor import CHECKS, MINI, PROBES, SCRIPT, _lines

CANARY = "sk-doctorcanary-0123456789abcdef"
KEY_VAR = "GPTOSS_TEST_SERVER_KEY"


class KeyedServer(ScriptedServerProcess):
    module = "tests.support.keyed_server"


@pytest.fixture
def keyed_server(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYED_SERVER_KEY", CANARY)  # the server's process inherits it
    workdir = tmp_path / "server"  # its script and request log, apart from what the harness writes
    workdir.mkdir()
    server = KeyedServer(SCRIPT, workdir).start()
    yield server
    server.stop()


def _doctor(server, root: Path, *extra: str, env: dict | None = None):
    return run_cli("action=doctor", "server=attach", f"server.base_url={server.base_url}", "suite=aime2025",
                   f"suite.path={MINI}", f"paths.root={root}", "client.retry_wait_s=0.01", "client.max_retries=0",
                   *extra, timeout=120, env=env)


def _posts(server) -> list[dict]:
    """The generation requests the server saw (the attach step's reachability GET /v1/models needs no key: any
    answer, a 401 too, says the server is up)."""
    return [r for r in server.requests() if r["path"] != "/v1/models"]


def _files_holding(root: Path, text: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text in p.read_text(errors="replace")]


def test_without_the_key_every_probe_is_refused_and_the_doctor_fails(keyed_server, tmp_path):
    proc = _doctor(keyed_server, tmp_path / "outputs", env={KEY_VAR: CANARY})  # set, but not named
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "FAIL" in proc.stdout and proc.stderr.strip().splitlines()[-1].startswith(
        "gptoss-eval: error: ") and "server check(s) failed" in proc.stderr
    sent = _posts(keyed_server)
    assert len(sent) >= PROBES and all(r.get("refused") for r in sent)
    assert all(r["authorization"] != f"Bearer {CANARY}" for r in sent)


def test_with_the_key_every_probe_passes_and_the_key_is_nowhere(keyed_server, tmp_path):
    proc = _doctor(keyed_server, tmp_path / "outputs", f"server.api_key_env={KEY_VAR}", env={KEY_VAR: CANARY})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _lines(proc.stdout) == dict.fromkeys(CHECKS, "PASS"), proc.stdout  # max model length: /v1/models too
    sent = _posts(keyed_server)
    assert len(sent) == PROBES and not any(r.get("refused") for r in sent)
    assert {r["authorization"] for r in sent} == {f"Bearer {CANARY}"}
    assert CANARY not in proc.stdout + proc.stderr
    assert not (tmp_path / "outputs").exists()  # the doctor writes nothing
    assert _files_holding(tmp_path, CANARY) == [tmp_path / "server" / keyed_server.log_path.name]


def test_the_doctor_before_a_run_sends_the_key_and_the_run_dir_never_holds_it(keyed_server, tmp_path):
    root = tmp_path / "outputs"
    proc = run_cli("server=attach", f"server.base_url={keyed_server.base_url}", "suite=aime2025",
                   f"suite.path={MINI}", f"paths.root={root}", "progress=false", "doctor=true", "repeats=1",
                   "suite.limit=2", f"server.api_key_env={KEY_VAR}", timeout=120, env={KEY_VAR: CANARY})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sent = _posts(keyed_server)
    assert len(sent) == PROBES + 2 and {r["authorization"] for r in sent} == {f"Bearer {CANARY}"}
    manifest = json.loads(next(root.rglob("manifest.json")).read_text())
    assert {c["check"]: c["status"] for c in manifest["doctor"]} == dict.fromkeys(CHECKS, "PASS")
    assert manifest["config"]["server"]["api_key_env"] == KEY_VAR  # the reference is stored, not the value
    assert CANARY not in proc.stdout + proc.stderr
    assert _files_holding(root, CANARY) == []
    assert any(p.parent.name == ".hydra" for p in root.rglob("*.yaml"))  # .hydra/ was scanned too


def test_an_unset_key_variable_is_one_line_before_any_request(keyed_server, tmp_path):
    proc = _doctor(keyed_server, tmp_path / "outputs", f"server.api_key_env={KEY_VAR}", env={KEY_VAR: ""})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"gptoss-eval: error: server.api_key_env names the environment variable {KEY_VAR}, which is not set: "
        f"export {KEY_VAR}=<the API key of the model server>"]
    assert keyed_server.requests() == []
