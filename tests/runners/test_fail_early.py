"""Fail before spending: every check that can fail without the model runs before a dataset download, a server
start or the first request. Each case: exit 2 with one line, no request to the hub (a recording stand-in at
HF_ENDPOINT), no server started (server=spawn with the scripted stand-in for vLLM), nothing written."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_cli
from tests.runners.test_cli_scripted import SCRIPT
from tests.support.fake_vllm import fake_vllm, hydra_dict, server_env, starts


class RecordingHub:
    """An HTTP server that stands in for the Hugging Face hub: it records every request and has nothing."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                hub.paths.append(self.path)
                self.send_response(404)
                self.end_headers()

            do_HEAD = do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def env(self) -> dict[str, str]:
        # online on purpose: a load that reached for the hub would show up in ``paths``
        return {"HF_ENDPOINT": f"http://127.0.0.1:{self.server.server_address[1]}", "HF_HUB_OFFLINE": "0",
                "HF_DATASETS_OFFLINE": "0"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    recorder = RecordingHub()
    yield recorder
    recorder.close()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# (overrides, what the one line says); suites without a local path load from the (recorded) hub
CASES = {
    "config value": (["concurrency=0"], "concurrency=0 is not valid"),
    "data missing": (["suite.path=/nonexistent/aime.jsonl"], "AIME data file /nonexistent/aime.jsonl does not exist"),
    "docker missing": (["suite=swebench_verified", "+suite.environment.docker=/nonexistent/docker"],
                       "the docker client '/nonexistent/docker' is not installed"),
    # the data folder does not exist either: the key is checked first, before any data is read
    "api key variable unset": (["suite=tau2_retail", "suite.data_dir=/nonexistent", "suite/models=gpt-4.1",
                                "suite.models.user_simulator.api_key_env=GPTOSS_TEST_UNSET_KEY"],
                               "names the environment variable GPTOSS_TEST_UNSET_KEY, which is not set"),
    "judge key variable unset": (["suite=tau2_retail", "suite.data_dir=/nonexistent",
                                  "suite.models.judge.api_key_env=GPTOSS_TEST_UNSET_KEY"],
                                 "suite.models.judge.api_key_env names the environment variable"),
    "python tool without harmony": (["suite=aime2025_tools", "client=chat"],
                                    "only the harmony transport can declare"),
    "python tool sandbox unusable": (["suite=aime2025_tools", "client=harmony", "suite.tool_options.env=host",
                                      "suite.tool_options.python=/usr/bin/no-such-python"],
                                     "the python tool does not work in its sandbox"),
    "literal api key": (["+suite.models.judge.api_key=sk-literal-abcdefghijklmnop"], "api_key_env=<its name>"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_check_that_needs_no_model_fails_before_download_server_or_request(hub, tmp_path, case) -> None:
    overrides, message = CASES[case]
    fake = fake_vllm(tmp_path)
    root = tmp_path / "out"
    proc = run_cli("server=spawn", f"server.python={fake}",
                   f"++server.env={hydra_dict(server_env(SCRIPT, tmp_path))}", f"paths.root={root}",
                   "progress=false", *overrides, env=hub.env | {"GPTOSS_TEST_UNSET_KEY": ""}, timeout=180)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("gptoss-eval: error: ") and message in last, last
    assert "Traceback" not in proc.stderr
    assert starts(tmp_path) == []  # no server started, so no request sent
    assert hub.paths == []  # no dataset download
    assert _files(root) == []  # nothing written: not even .hydra/ or the job log


def test_attach_without_a_base_url_fails_before_the_hub_and_writes_nothing(hub, scripted_server, tmp_path) -> None:
    server = scripted_server(SCRIPT)
    root = tmp_path / "out"
    for value in ("null", "''"):
        proc = run_cli("server=attach", f"server.base_url={value}", f"paths.root={root}", "progress=false",
                       env=hub.env, timeout=120)
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines()[-1] == ("gptoss-eval: error: server=attach needs server.base_url "
                                                        "(one URL, a list, or comma-separated)")
    assert hub.paths == [] and server.requests() == [] and _files(root) == []


def test_the_recording_hub_sees_a_load_that_reaches_for_the_hub(hub, scripted_server, tmp_path) -> None:
    """The control: the same stand-in records the download a hub-backed suite attempts once the checks pass."""
    server = scripted_server(SCRIPT)
    proc = run_cli("server=attach", f"server.base_url={server.base_url}", f"paths.root={tmp_path / 'out'}",
                   "progress=false", env=hub.env, timeout=180)
    assert proc.returncode == 2 and "could not load MathArena/aime_2025" in proc.stderr
    assert any("aime_2025" in p for p in hub.paths), hub.paths
    assert server.requests() == []


def test_checks_pass_then_the_server_starts_and_answers(tmp_path) -> None:
    """The other control: with the checks passing, the stand-in server starts and gets the run's requests."""
    fake = fake_vllm(tmp_path)
    proc = run_cli("server=spawn", f"server.python={fake}",
                   f"++server.env={hydra_dict(server_env(SCRIPT, tmp_path))}", f"paths.root={tmp_path / 'out'}",
                   "progress=false", f"suite.path={FIXTURES / 'mini_aime.jsonl'}", "repeats=1", "effort=low",
                   timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(starts(tmp_path)) == 1
    run_dir = tmp_path / "out" / "default" / "gpt-oss-120b" / "aime2025" / "low"
    assert {"config.yaml", "hydra.yaml", "overrides.yaml"} == {p.name for p in (run_dir / ".hydra").iterdir()}
