"""Streaming against the scripted server: timings, cut streams, garbage and silent endpoints."""

from __future__ import annotations

import asyncio
import json

import pytest

from evals.clients import RequestFailed, Sampling, ServerUnavailable, make_client
from evals.engine import RunSpec, run_attempts
from evals.store import RunStore
from tasks.aime import AimeTask
from tests.conftest import FIXTURES, run_cli

MINI = str(FIXTURES / "mini_aime.jsonl")
REPLY = {"analysis": "Let me think about this one. " * 4, "final": "The answer is \\boxed{42}."}
MSG = [{"role": "user", "content": "What is 6 x 7?"}]


def _generate(url: str, transport: str, stream: bool, **kw):
    async def go():
        client = make_client(transport, base_url=url, model="m", max_model_len=4096, stream=stream,
                             retry_wait_s=0.01, **kw)
        try:
            return await client.generate(MSG, effort="low", sampling=Sampling())
        finally:
            await client.aclose()
    return asyncio.run(go())


@pytest.mark.parametrize("transport", ["chat", "harmony", "responses"])
def test_streamed_reply_has_sane_timings_and_the_same_parse(scripted_server, transport):
    server = scripted_server({"default": REPLY, "faults": {"latency_s": 0.2, "token_delay_s": 0.01}})
    plain = _generate(server.base_url, transport, False)
    streamed = _generate(server.base_url, transport, True)
    assert (streamed.final, streamed.analysis, streamed.finish_reason) == (plain.final, plain.analysis,
                                                                          plain.finish_reason)
    assert streamed.usage == plain.usage
    t = streamed.timing
    assert 0.18 <= streamed.ttft_s == t["ttft_s"] < 0.6  # the scripted wait before the first token
    assert 0.008 <= t["tpot_s"] < 0.05  # the scripted per-token delay
    assert 0.008 <= t["itl_p50_s"] <= t["itl_p95_s"] < 0.1
    assert t["chunks"] >= plain.usage.completion_tokens - 2
    assert streamed.latency_s >= streamed.ttft_s + t["tpot_s"] * (plain.usage.completion_tokens - 2)
    assert [r["stream"] for r in server.requests()] == [False, True]


def _engine(url: str, root, *, stream=True, repeats=2, transport="chat", **client_kw):
    task = AimeTask("aime2025", 2025, path=MINI)
    client = make_client(transport, base_url=url, model="m", max_model_len=4096, stream=stream,
                         retry_wait_s=0.01, **client_kw)
    spec = RunSpec(run_id="r", suite="aime2025", model="m", effort="low", settings_hash="h", sampling=Sampling(),
                   repeats=repeats, concurrency=4)

    async def go():
        try:
            return await run_attempts(task, task.load(), client, RunStore(root), spec)
        finally:
            await client.aclose()
    return asyncio.run(go())


def _attempts(root) -> list[dict]:
    return [json.loads(line) for line in (root / "attempts.jsonl").read_text().splitlines()]


def test_cut_streams_are_retried_and_each_attempt_is_recorded_once(scripted_server, tmp_path):
    server = scripted_server({"default": REPLY, "faults": {"cut_rate": 0.4, "cut_after_chunks": 5, "seed": 1,
                                                           "token_delay_s": 0.001}})
    stats = _engine(server.base_url, tmp_path, max_retries=8)
    attempts = _attempts(tmp_path)
    keys = [a["key"] for a in attempts]
    assert len(keys) == len(set(keys)) == 10 == stats.done_now
    assert {a["status"] for a in attempts} == {"ok"}
    assert len(server.requests()) > 10  # some streams were cut and sent again
    for a in attempts:
        timing = a["info"]["timing"]
        assert timing["ttft_s"] == a["ttft_s"] and timing["tpot_s"] > 0 and timing["streamed_calls"] == 1
        assert "timing" not in a["output"] or a["output"]["timing"]["chunks"] > 0


@pytest.mark.parametrize("fault", ["cut", "garbage"])
def test_a_reply_that_stays_unreadable_is_recorded_with_its_reason_and_the_run_goes_on(scripted_server, tmp_path,
                                                                                       fault):
    bad = {"cut_after": 3} if fault == "cut" else {"garbage": True}
    server = scripted_server({"rules": [{"match": "divisors", "reply": {**REPLY, **bad}}], "default": REPLY})
    stats = _engine(server.base_url, tmp_path, repeats=1, max_retries=2)
    attempts = {a["sample_id"]: a for a in _attempts(tmp_path)}
    assert stats.done_now == 5 and len(attempts) == 5
    assert attempts["p2"]["status"] == "error" and "request failed" in attempts["p2"]["error"]
    assert ("cut" in attempts["p2"]["error"]) if fault == "cut" else ("not an event stream" in attempts["p2"]["error"])
    assert all(a["status"] == "ok" for sid, a in attempts.items() if sid != "p2")
    assert sum(1 for r in server.requests() if "divisors" in r["user"]) == 3  # bounded: 1 + 2 retries


def test_an_endpoint_that_never_answers_ends_after_bounded_retries(scripted_server):
    server = scripted_server({"default": {**REPLY, "hang": True}})
    with pytest.raises(ServerUnavailable, match="after 1 retries"):
        _generate(server.base_url, "chat", True, timeout_s=0.5, max_retries=1)
    tries = [r for r in server.requests() if r["user"] == MSG[0]["content"]]
    assert len(tries) == 2 and len(server.requests()) == 3  # 1 + 1 retry, then one liveness probe (silent too)


def test_request_failed_is_not_raised_when_the_server_is_gone(tmp_path):
    from runners.vllm_server import free_port

    with pytest.raises(ServerUnavailable) as info:
        _generate(f"http://127.0.0.1:{free_port()}/v1", "chat", True, max_retries=1)
    assert not isinstance(info.value, RequestFailed)


def test_the_cli_streams_and_reports_latency(scripted_server, tmp_path):
    server = scripted_server({"default": REPLY, "faults": {"token_delay_s": 0.002}})
    proc = run_cli("server=attach", f"server.base_url={server.base_url}", "suite=aime2025", f"suite.path={MINI}",
                   f"paths.root={tmp_path}", "progress=false", "effort=low", "repeats=1", "client.stream=true")
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "default" / "gpt-oss-120b" / "aime2025" / "low" / "report.md").read_text()
    assert "## Serving latency" in report
    row = next(line for line in report.split("## Serving latency")[1].splitlines() if line.startswith("| aime2025"))
    cells = [c.strip() for c in row.split("|")]
    assert cells[1] == "aime2025 / low" and cells[3] == "5"  # every attempt streamed
    assert cells[4] != "- / -" and float(cells[5]) > 1.0  # TTFT, TPOT (2 ms a token scripted)
    assert all(r["stream"] for r in server.requests())
    # the report's fast store reader finds the timings where the plain one does
    import pandas as pd

    from reports.summary import _load_frame_fast, _load_frame_plain

    store = RunStore(tmp_path / "default" / "gpt-oss-120b" / "aime2025" / "low")
    fast, plain = _load_frame_fast(store), _load_frame_plain(store)
    pd.testing.assert_frame_equal(fast, plain)
    assert fast.tpot_s.notna().all() and fast.itl_p95_s.notna().all() and (fast.n_calls == 1).all()
