"""Several endpoints behind one client: balancing, a replica that dies, silent and garbage replicas."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from evals.balancer import BalancedClient
from evals.clients import Sampling, ServerUnavailable, make_client
from evals.engine import RunSpec, run_attempts
from evals.store import RunStore
from runners.vllm_server import free_port
from tasks.aime import AimeTask
from tests.conftest import FIXTURES, ScriptedServerProcess, run_cli
from tests.support.fake_vllm import fake_vllm, hydra_dict, requests_by_port, server_env
from tests.support.inflight_server import max_in_flight

MINI = str(FIXTURES / "mini_aime.jsonl")
REPLY = {"analysis": "Thinking about it.", "final": "\\boxed{99}"}
MSG = [{"role": "user", "content": "hi"}]


def _run(urls: list[str], root, *, repeats=8, concurrency=8, stream=False, **kw):
    task = AimeTask("aime2025", 2025, path=MINI)
    opts = {"retry_wait_s": 0.05, "max_retries": 3} | kw
    client = BalancedClient([make_client("chat", base_url=u, model="m", stream=stream, **opts) for u in urls],
                            down_after=2, probe_interval_s=3600)
    spec = RunSpec(run_id="r", suite="aime2025", model="m", effort="low", settings_hash="h", sampling=Sampling(),
                   repeats=repeats, concurrency=concurrency)

    async def go():
        try:
            return await run_attempts(task, task.load(), client, RunStore(root), spec), client.stats()
        finally:
            await client.aclose()
    return asyncio.run(go())


def _keys(root) -> list[str]:
    return [json.loads(line)["key"] for line in (root / "attempts.jsonl").read_text().splitlines()]


def _warm(server) -> None:
    """One request, so the server has loaded its tokenizer (a cold replica is slow, and rightly gets less)."""
    httpx.post(server.base_url + "/chat/completions", json={"model": "m", "messages": MSG}, timeout=60)


def test_requests_spread_over_replicas(scripted_server, tmp_path):
    servers = [scripted_server({"default": REPLY, "faults": {"latency_s": 0.05, "capacity": 2}}) for _ in range(2)]
    for s in servers:
        _warm(s)
    stats, endpoints = _run([s.base_url for s in servers], tmp_path)
    assert stats.done_now == 40 and sorted(_keys(tmp_path)) == sorted({*_keys(tmp_path)})
    served = [len(s.requests()) - 1 for s in servers]
    assert sum(served) == 40 and min(served) >= 10  # least outstanding: both kept busy
    assert [e["served"] for e in endpoints] == served


class InFlightServerProcess(ScriptedServerProcess):
    module = "tests.support.inflight_server"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("endpoints", [1, 2])
def test_the_engine_never_has_more_requests_in_flight_than_its_concurrency(tmp_path, endpoints, stream):
    server = InFlightServerProcess({"default": REPLY, "faults": {"latency_s": 0.2, "token_delay_s": 0.005}},
                                   tmp_path).start()
    try:
        # two endpoints: the balancer over two clients of the one server, so the server sees their total
        clients = [make_client("chat", base_url=server.base_url, model="m", stream=stream) for _ in range(endpoints)]
        client = clients[0] if endpoints == 1 else BalancedClient(clients)
        task = AimeTask("aime2025", 2025, path=MINI)
        spec = RunSpec(run_id="r", suite="aime2025", model="m", effort="low", settings_hash="h",
                       sampling=Sampling(), repeats=4, concurrency=3)

        async def go():
            try:
                return await run_attempts(task, task.load(), client, RunStore(tmp_path / "run"), spec)
            finally:
                await client.aclose()
        stats = asyncio.run(go())
    finally:
        server.stop()
    assert stats.statuses == {"ok": 20} and len(server.requests()) == 20
    # the connection pool allows 256: the bound is the engine's; 20 requests of 0.2 s keep 3 busy at once
    assert max_in_flight(server.log_path) == 3


@pytest.mark.parametrize("stream", [False, True])
def test_a_replica_that_dies_mid_run_loses_and_duplicates_nothing(scripted_server, tmp_path, stream):
    dying = scripted_server({"default": REPLY, "faults": {"latency_s": 0.05, "die_after": 6,
                                                          "token_delay_s": 0.01 if stream else 0}})
    healthy = scripted_server({"default": REPLY, "faults": {"latency_s": 0.05}})
    stats, endpoints = _run([dying.base_url, healthy.base_url], tmp_path, stream=stream)
    keys = _keys(tmp_path)
    assert len(keys) == len(set(keys)) == 40 == stats.done_now
    assert stats.statuses == {"ok": 40}
    assert not endpoints[0]["up"] and endpoints[1]["up"]
    assert endpoints[0]["served"] <= 6 and endpoints[0]["served"] + endpoints[1]["served"] == 40
    assert endpoints[0]["events"] and endpoints[0]["events"][0].startswith("down:")


def test_a_silent_replica_is_taken_out_and_its_requests_go_elsewhere(scripted_server, tmp_path):
    silent = scripted_server({"default": {**REPLY, "hang": True}})
    healthy = scripted_server({"default": REPLY})
    stats, endpoints = _run([silent.base_url, healthy.base_url], tmp_path, repeats=2, timeout_s=2.0, max_retries=1)
    assert stats.statuses == {"ok": 10} and len(set(_keys(tmp_path))) == 10
    assert not endpoints[0]["up"] and endpoints[0]["served"] == 0


def test_a_garbage_replica_costs_a_retry_elsewhere_not_an_attempt(scripted_server, tmp_path):
    broken = scripted_server({"default": {**REPLY, "garbage": True}})
    healthy = scripted_server({"default": REPLY})
    stats, endpoints = _run([broken.base_url, healthy.base_url], tmp_path, repeats=2, max_retries=1)
    assert stats.statuses == {"ok": 10}
    assert endpoints[0]["served"] == 0 and endpoints[0]["failed_over"] >= 1


def test_the_run_stops_only_when_no_endpoint_is_left(scripted_server, tmp_path):
    a = scripted_server({"default": REPLY, "faults": {"die_after": 3}})
    b = scripted_server({"default": REPLY, "faults": {"die_after": 3}})
    with pytest.raises(ServerUnavailable, match="no endpoint left"):
        _run([a.base_url, b.base_url], tmp_path, concurrency=2)
    keys = _keys(tmp_path)
    assert len(keys) == len(set(keys)) == 6  # everything answered is stored, once; a rerun resumes


def test_a_dead_url_from_the_start_is_skipped(scripted_server, tmp_path):
    healthy = scripted_server({"default": REPLY})
    stats, endpoints = _run([f"http://127.0.0.1:{free_port()}/v1", healthy.base_url], tmp_path, repeats=1)
    assert stats.statuses == {"ok": 5} and not endpoints[0]["up"]


def test_the_cli_takes_a_list_of_base_urls(scripted_server, tmp_path):
    servers = [scripted_server({"default": REPLY}) for _ in range(2)]
    proc = run_cli("server=attach", f"server.base_url=[{servers[0].base_url},{servers[1].base_url}]",
                   "suite=aime2025", f"suite.path={MINI}", f"paths.root={tmp_path}", "progress=false", "effort=low",
                   "repeats=4", "concurrency=4")
    assert proc.returncode == 0, proc.stderr
    assert all(len(s.requests()) > 0 for s in servers)
    run = tmp_path / "default" / "gpt-oss-120b" / "aime2025" / "low"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["server"]["base_url"] == [s.base_url for s in servers]
    assert [e["served"] for e in manifest["sessions"][-1]["endpoints"]] == [len(s.requests()) for s in servers]


def test_a_taken_out_endpoint_comes_back_when_it_answers_health(scripted_server, tmp_path):
    servers = [scripted_server({"default": REPLY}) for _ in range(2)]
    client = BalancedClient([make_client("chat", base_url=s.base_url, model="m") for s in servers],
                            probe_interval_s=0.0)
    client.endpoints[0].client.health.mark_down("test")

    async def go():
        try:
            for _ in range(6):
                await client.generate([{"role": "user", "content": "hi"}], effort="low", sampling=Sampling())
                await asyncio.sleep(0.05)  # let the probe run
        finally:
            await client.aclose()
    asyncio.run(go())
    assert client.endpoints[0].up and client.endpoints[0].served >= 1
    assert [e.split(":")[0] for e in client.endpoints[0].events][:2] == ["down", "up"]


def test_spawned_replicas_each_get_their_env_and_a_dying_one_costs_nothing(tmp_path):
    fake = fake_vllm(tmp_path)
    envs = [server_env({"default": REPLY, "faults": faults}, tmp_path, f"replica{i}")
            for i, faults in enumerate([{"die_after": 5, "latency_s": 0.05}, {"latency_s": 0.05}])]
    proc = run_cli("server=spawn", f"server.python={fake}", "server.replicas=2",
                   f"server.replica_env=[{','.join(map(hydra_dict, envs))}]",
                   "suite=aime2025", f"suite.path={MINI}", f"paths.root={tmp_path}", "progress=false", "effort=low",
                   "repeats=4", "concurrency=4", "client.retry_wait_s=0.05",
                   "doctor=false")  # the fake server's replies do not follow effort; this test is about replicas
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "default" / "gpt-oss-120b" / "aime2025" / "low"
    keys = _keys(run)
    assert len(keys) == len(set(keys)) == 20
    logs = [next(iter(requests_by_port(tmp_path, f"replica{i}").values())) for i in range(2)]
    assert len(logs[0]) >= 5 and len(logs[1]) >= 10  # both served; the first died after 5
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["server"]["base_url"]) == 2 and (run / "server-0.log").exists()
    ups = [e["up"] for e in manifest["sessions"][-1]["endpoints"]]
    assert ups == [False, True]
