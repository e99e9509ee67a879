"""The user simulator as a choice: the presets of conf/suite/models, the API key from an environment variable
only, no reasoning effort for a simulator that is not a reasoning model, on the wire and through the CLI."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from evals.clients import ChatCompletionsClient, ResponsesClient, Sampling
from runners.cli import UserError, peer_api_key, peer_effort, register_resolvers
from tests.conftest import run_cli
from tests.tasks.tau2_retail.conftest import DATA_DIR as TAU2_DATA

# what conf/suite/tau_retail.yaml and tau2_retail.yaml declared before the presets existed
V1_SIMULATOR = {"base_url": None, "model": None, "transport": "chat", "effort": "low", "temperature": 1.0,
                "top_p": 1.0, "max_tokens": None}
TAU2_SIMULATOR = V1_SIMULATOR | {"temperature": 0.0}


@pytest.fixture
def suite_models():
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        yield lambda *overrides: OmegaConf.to_container(compose("config", overrides=list(overrides)).suite.models,
                                                        resolve=True)
    GlobalHydra.instance().clear()


def test_self_is_the_default_and_composes_what_the_suites_declared_before(suite_models) -> None:
    assert suite_models("suite=tau_retail") == suite_models("suite=tau_retail", "suite/models=self") == \
        {"user_simulator": V1_SIMULATOR}
    tau2 = suite_models("suite=tau2_retail")
    assert tau2 == suite_models("suite=tau2_retail", "suite/models=self")
    assert tau2["user_simulator"] == TAU2_SIMULATOR
    assert tau2["judge"]["model"] is None and tau2["judge"]["api_key_env"] is None


@pytest.mark.parametrize("suite,temperature", [("tau_retail", 1.0), ("tau2_retail", 0.0)])
@pytest.mark.parametrize("preset", ["gpt-4o", "gpt-4.1"])
def test_external_presets_name_the_model_the_key_variable_and_keep_the_suites_sampling(
        suite_models, suite, temperature, preset) -> None:
    sim = suite_models(f"suite={suite}", f"suite/models={preset}")["user_simulator"]
    assert sim == {"base_url": "https://api.openai.com/v1", "model": preset, "api_key_env": "OPENAI_API_KEY",
                   "transport": "chat", "effort": None, "temperature": temperature, "top_p": 1.0, "max_tokens": None}
    assert "api_key" not in sim  # the key itself is never part of the config
    other = suite_models(f"suite={suite}", f"suite/models={preset}", "suite.models.user_simulator.model=my-model",
                         "suite.models.user_simulator.api_key_env=MY_KEY")["user_simulator"]
    assert (other["model"], other["api_key_env"]) == ("my-model", "MY_KEY")


def test_the_key_comes_from_the_named_environment_variable(monkeypatch) -> None:
    peer = {"model": "gpt-4o", "api_key_env": "SIM_KEY_FOR_TEST", "base_url": "https://api.openai.com/v1"}
    monkeypatch.delenv("SIM_KEY_FOR_TEST", raising=False)
    with pytest.raises(UserError, match=r"suite\.models\.user_simulator\.api_key_env names the environment "
                                        r"variable SIM_KEY_FOR_TEST, which is not set: export SIM_KEY_FOR_TEST="):
        peer_api_key("user_simulator", peer)
    monkeypatch.setenv("SIM_KEY_FOR_TEST", "sk-test-123")
    assert peer_api_key("user_simulator", peer) == "sk-test-123"
    assert peer_api_key("user_simulator", {"model": None}) == "EMPTY"  # the served model needs none


def test_effort_null_means_none_sent_but_not_for_harmony() -> None:
    assert peer_effort("user_simulator", {}) == "low"
    assert peer_effort("user_simulator", {"effort": "high"}) == "high"
    assert peer_effort("user_simulator", {"effort": None, "transport": "chat"}) is None
    with pytest.raises(UserError, match="effort=null needs transport chat or responses"):
        peer_effort("user_simulator", {"effort": None, "transport": "harmony"})


def test_on_the_wire_the_key_is_the_bearer_and_no_reasoning_effort_is_sent() -> None:
    seen: list[tuple[str | None, dict]] = []

    async def chat(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization"), await request.json()))
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": "Hello."},
                                               "finish_reason": "stop"}],
                                  "usage": {"prompt_tokens": 3, "completion_tokens": 2}})

    async def responses(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization"), await request.json()))
        return web.json_response({"status": "completed", "output": [{"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "Hello."}]}], "usage": {"input_tokens": 3, "output_tokens": 2}})

    async def main() -> list[str | None]:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        app.router.add_post("/v1/responses", responses)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        finals = []
        try:
            for cls in (ChatCompletionsClient, ResponsesClient):
                client = cls(f"http://127.0.0.1:{port}", "gpt-4o", api_key="sk-test-123", max_retries=0)
                for effort in (None, "low"):
                    out = await client.generate([{"role": "user", "content": "Hi"}], effort=effort,
                                                sampling=Sampling(temperature=1.0), seed=1)
                    finals.append(out.final)
                await client.aclose()
        finally:
            await runner.cleanup()
        return finals

    assert asyncio.run(main()) == ["Hello."] * 4
    (a1, chat_none), (_, chat_low), (a2, resp_none), (_, resp_low) = seen
    assert a1 == a2 == "Bearer sk-test-123"
    assert "reasoning_effort" not in chat_none and chat_low["reasoning_effort"] == "low"
    assert "reasoning" not in resp_none and resp_low["reasoning"] == {"effort": "low"}


@pytest.mark.skipif(TAU2_DATA is None, reason="tau2 retail data not found (needed to load the suite)")
def test_cli_stops_with_one_line_when_the_key_variable_is_unset(tmp_path) -> None:
    proc = run_cli("server=attach", "server.base_url=http://127.0.0.1:9", "suite=tau2_retail",
                   f"suite.data_dir={TAU2_DATA}", "suite.limit=1", "repeats=1", "suite/models=gpt-4.1",
                   "suite.models.user_simulator.api_key_env=GPTOSS_TEST_UNSET_KEY", f"paths.root={tmp_path}",
                   "progress=false", timeout=120, env={"GPTOSS_TEST_UNSET_KEY": ""})
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert err[-1].startswith("gptoss-eval: error: suite.models.user_simulator.api_key_env names the environment "
                              "variable GPTOSS_TEST_UNSET_KEY, which is not set")
    assert not list(tmp_path.rglob("attempts.jsonl"))  # nothing was run
    manifests = [json.loads(p.read_text()) for p in tmp_path.rglob("manifest.json")]
    assert manifests == []


@pytest.mark.skipif(TAU2_DATA is None, reason="tau2 retail data not found (needed to load the suite)")
def test_cli_runs_tau2_with_an_external_simulator_preset(tmp_path) -> None:
    """``suite/models=gpt-4o`` pointed at a scripted endpoint: the simulator's requests carry no reasoning effort,
    the key is taken from the environment and stored nowhere, and the summary table names the simulator."""
    from tasks.tau2_retail.task import Tau2RetailTask
    from tests.tasks.tau_retail.test_tau_retail_agent import TauServerProcess, cli_script

    task = Tau2RetailTask(data_dir=str(TAU2_DATA), release="2025-06").load()[0].input
    script = cli_script([task.instructions["reason_for_call"]], [[(a.name, dict(a.arguments)) for a in task.actions]])
    script["rules"].insert(0, {"agent": False, "contains": "ALL DONE", "reply": {"final": "###STOP###"}})
    server = TauServerProcess(script, tmp_path).start()
    secret = "sk-test-not-stored-0123456789"
    try:
        proc = run_cli("server=attach", f"server.base_url={server.base_url}", "suite=tau2_retail",
                       f"suite.data_dir={TAU2_DATA}", "suite.release=2025-06", "suite.limit=1", "repeats=1",
                       "suite/models=gpt-4o", f"suite.models.user_simulator.base_url={server.base_url}",
                       "suite.models.user_simulator.api_key_env=GPTOSS_TEST_SIM_KEY", "effort=high",
                       f"paths.root={tmp_path}", "progress=false", "client.retry_wait_s=0.01", timeout=240,
                       env={"GPTOSS_TEST_SIM_KEY": secret})
        requests = server.requests()
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "default" / "gpt-oss-120b" / "tau2_retail" / "high"
    attempt = json.loads((run_dir / "attempts.jsonl").read_text().splitlines()[0])
    assert attempt["status"] == "ok" and attempt["info"]["user_simulator"]["model"] == "gpt-4o"
    assert attempt["info"]["user_simulator"]["effort"] is None
    assert {r["effort"] for r in requests} == {"high", None}  # the agent's effort; none for the simulator
    assert sum(r["effort"] is None for r in requests) == 2  # the simulator's opening and closing turns
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["settings"]["peers"]["user_simulator"]["api_key_env"] == "GPTOSS_TEST_SIM_KEY"
    assert not [p for p in run_dir.rglob("*") if p.is_file() and secret in p.read_text(errors="replace")]
    report = (run_dir / "report.md").read_text()
    assert "| tau2_retail (user simulator: gpt-4o, judge: self (openai/gpt-oss-120b)) | high |" in report
