"""The chat stream reader's fast path (one event per token) reads every event exactly as the checked path does."""

from __future__ import annotations

from typing import Any

import pytest

from evals.clients import StreamTimer, WrongShape, _ChatStream


def chunk(delta: Any, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta,
                                                                       "finish_reason": finish, **extra}]}


EVENTS = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning": "Let"}),
    chunk({"reasoning_content": " me"}),  # older vLLM's field name
    chunk({"reasoning": None, "reasoning_content": " think"}),
    chunk({"reasoning": "", "content": None}),  # an empty piece: no chunk, no tick
    chunk({"content": "The answer"}, logprobs=None, token_ids=None),
    chunk({"tool_calls": [{"index": 0, "id": "call_0", "function": {"name": "f", "arguments": "{}"}}]}),
    {"id": "c", "choices": []},
    chunk({"content": " is 4."}),
    chunk({}, "stop"),
]


def read(events: list[dict[str, Any]], checked_only: bool) -> tuple[Any, ...]:
    reader, timer = _ChatStream(), StreamTimer()
    feed = reader._feed_checked if checked_only else reader.feed
    finished = [feed(e, timer) for e in events]
    out = reader.result({"prompt_tokens": 3, "completion_tokens": 7})
    return (finished, out.analysis, out.final, [(c.id, c.name, c.arguments) for c in out.tool_calls],
            out.finish_reason, reader.chunks, timer.chunks)


def test_fast_path_reads_a_stream_as_the_checked_path_does() -> None:
    fast = read(EVENTS, checked_only=False)
    assert fast == read(EVENTS, checked_only=True)
    assert fast[1:5] == ("Let me think", "The answer is 4.", [("call_0", "f", "{}")], "stop")
    assert fast[5] == 6  # pieces with text or a call; the role-only and empty ones are not tokens


@pytest.mark.parametrize("delta", [{"reasoning": 5}, {"content": ["x"]}, {"reasoning_content": 3},
                                   {"content": "a", "tool_calls": "nope"}])
def test_wrong_types_still_raise_through_the_fast_path(delta: dict[str, Any]) -> None:
    with pytest.raises(WrongShape):
        _ChatStream().feed(chunk(delta), StreamTimer())
