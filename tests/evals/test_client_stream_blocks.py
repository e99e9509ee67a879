"""Reading a streamed reply a network block at a time: however the bytes are cut into blocks, the reply is the
same; the chunks of one block share its arrival time; events that are not one JSON object are refused."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from evals.clients import BadResponse, StreamCut, WrongShape, _ChatStream
from evals.clients.streaming import read_stream


class FakeContent:
    def __init__(self, blocks: list[bytes], pause_s: float) -> None:
        self.blocks, self.pause_s = blocks, pause_s

    async def iter_any(self):
        for block in self.blocks:
            await asyncio.sleep(self.pause_s)
            yield block


class FakeResponse:
    """What read_stream uses of an aiohttp response: its content type and its body, block by block."""

    def __init__(self, blocks: list[bytes], pause_s: float = 0.0) -> None:
        self.content_type = "text/event-stream"
        self.content = FakeContent(blocks, pause_s)


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta,
                                                                       "finish_reason": finish}]}


EVENTS = [chunk({"role": "assistant", "content": ""}), chunk({"reasoning": "Let"}), chunk({"reasoning": " me\n"}),
          chunk({"content": "caf\u00e9 "}), chunk({"content": "42"}), chunk({}, "stop"),
          {"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 4,
                                               "completion_tokens_details": {"reasoning_tokens": 2}}}]
BODY = b"".join(b"data: " + json.dumps(e, ensure_ascii=False).encode() + b"\n\n" for e in EVENTS) + b"data: [DONE]\n\n"


def read(blocks: list[bytes], pause_s: float = 0.0):
    return asyncio.run(read_stream(FakeResponse(blocks, pause_s), _ChatStream))


def summary(out: Any) -> tuple[Any, ...]:
    return out.analysis, out.final, out.finish_reason, out.usage


def test_any_cut_of_the_bytes_into_blocks_reads_the_same_reply() -> None:
    whole, timer = read([BODY])
    assert summary(whole) == ("Let me\n", "caf\u00e9 42", "stop", whole.usage)
    assert (whole.usage.prompt_tokens, whole.usage.completion_tokens, whole.usage.reasoning_tokens) == (5, 4, 2)
    assert timer.chunks == 4
    for size in (1, 2, 7, 64):  # cuts inside "data:", inside a multi-byte character, inside the JSON
        out, t = read([BODY[i:i + size] for i in range(0, len(BODY), size)])
        assert summary(out) == summary(whole) and t.chunks == 4
    no_done = BODY.removesuffix(b"data: [DONE]\n\n").removesuffix(b"\n\n")  # last line without its newline
    out, _ = read([no_done])
    assert summary(out) == summary(whole)


def test_chunks_of_one_block_share_its_time_and_blocks_apart_show_their_gap() -> None:
    lines = BODY.split(b"\n\n")
    together, t1 = read([BODY])
    assert t1.gaps == [0.0, 0.0, 0.0]
    apart, t2 = read([line + b"\n\n" for line in lines if line], pause_s=0.02)
    assert len(t2.gaps) == 3 and min(t2.gaps) >= 0.015
    assert summary(apart) == summary(together)


@pytest.mark.parametrize("payload, error", [
    (b'{"choices": []} {"choices": []}', BadResponse),  # two values in one event
    (b'{"choices": [}', BadResponse),
    (b"nonsense", BadResponse),
    (b'"\xff\xfe"', BadResponse),  # not UTF-8
    (b'[{"choices": []}]', WrongShape),
    (b"42", WrongShape),
])
def test_an_event_that_is_not_one_json_object_is_refused(payload: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        read([b"data: " + json.dumps(EVENTS[1]).encode() + b"\n\ndata: " + payload + b"\n\n"])
    assert type(caught.value) is error


def test_a_stream_without_its_final_event_is_cut() -> None:
    with pytest.raises(StreamCut, match=r"after 2 chunks .*\[DONE\] seen"):
        read([b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in EVENTS[:3]) + b"data: [DONE]\n\n"])
