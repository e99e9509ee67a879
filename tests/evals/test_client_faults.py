"""The clients against replies they cannot read: every wrong JSON shape on every transport, streamed or not,
huge stream events, cut streams, rate limits, and the liveness probe that decides whose fault a failure is."""

from __future__ import annotations

import asyncio

import pytest

from evals.clients import CANARY_TEXT, RequestFailed, Sampling, ServerUnavailable, WrongShape, make_client
from tests.support.scripted_server import WRONG_SHAPES

REPLY = {"analysis": "Let me think about this one. " * 4, "final": "The answer is \\boxed{42}."}
TRANSPORTS = ["chat", "responses", "harmony"]


def _client(url: str, transport: str, stream: bool, **kw):
    return make_client(transport, base_url=url, model="m", max_model_len=4096, stream=stream,
                       retry_wait_s=0.01, **kw)


def _ask(url: str, transport: str, stream: bool, question: str = "What is 6 x 7?", **kw):
    async def go():
        client = _client(url, transport, stream, **kw)
        try:
            return await client.generate([{"role": "user", "content": question}], effort="low", sampling=Sampling())
        finally:
            await client.aclose()
    return asyncio.run(go())


@pytest.fixture
def shapes_server(scripted_server):
    """One rule per wrong shape: a question naming the shape gets that shape, every time."""
    return scripted_server({"rules": [{"match": f"shape:{name}", "reply": {**REPLY, "wrong_shapes": [name]}}
                                      for name in WRONG_SHAPES], "default": REPLY})


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_wrong_shape_is_refused_with_its_reason(shapes_server, transport, stream):
    assert _ask(shapes_server.base_url, transport, stream).final == REPLY["final"]  # the well-shaped reply reads
    for name in WRONG_SHAPES:
        with pytest.raises(RequestFailed) as info:
            _ask(shapes_server.base_url, transport, stream, f"shape:{name}", max_retries=0)
        assert isinstance(info.value.__cause__, WrongShape), (name, info.value)
        assert "not " in str(info.value) or "unexpected shape" in str(info.value), (name, info.value)
        assert "while the server answered other requests" in str(info.value)


def test_a_streamed_event_larger_than_aiohttps_line_limit_is_read(scripted_server):
    # the Responses stream's last event carries the whole reply: here ~2.4 MB on one line (aiohttp's limit: 512 KB)
    long = {"analysis": "step " * 480_000, "final": "\\boxed{1}"}
    server = scripted_server({"default": long})
    out = _ask(server.base_url, "responses", True, max_retries=0)
    assert out.final == "\\boxed{1}" and out.analysis == long["analysis"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_cut_stream_is_retried_from_an_empty_reply(scripted_server, transport):
    # seed 1: the first stream is cut after 5 events, the second is whole; nothing of the first may leak in
    server = scripted_server({"default": REPLY, "faults": {"cut_rate": 0.5, "cut_after_chunks": 5, "seed": 1}})
    out = _ask(server.base_url, transport, True, max_retries=2)
    assert len(server.requests()) == 2
    assert (out.analysis, out.final) == (REPLY["analysis"], REPLY["final"])


def test_rate_limits_on_every_try_stop_the_run_without_blaming_the_request(scripted_server):
    server = scripted_server({"default": REPLY, "faults": {"error_rate": 1.0, "error_status": 429}})
    with pytest.raises(ServerUnavailable, match="HTTP 429") as info:
        _ask(server.base_url, "chat", False, max_retries=1)
    assert not isinstance(info.value, RequestFailed)
    assert [r["user"] for r in server.requests()] == ["What is 6 x 7?"] * 2  # no liveness probe either


def test_requests_failing_together_share_one_liveness_probe(scripted_server):
    server = scripted_server({"default": {**REPLY, "hang": True}})

    async def go():
        client = _client(server.base_url, "chat", False, timeout_s=1, max_retries=0)
        try:
            return await asyncio.gather(*(client.generate([{"role": "user", "content": f"q{i}"}], effort="low",
                                                          sampling=Sampling()) for i in range(8)),
                                        return_exceptions=True)
        finally:
            await client.aclose()
    results = asyncio.run(go())
    assert all(type(r) is ServerUnavailable for r in results), results
    assert sum(1 for r in server.requests() if r["user"] == CANARY_TEXT) == 1
