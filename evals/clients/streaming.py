"""Server-sent events: splitting a streamed reply into events, timing its content chunks, and reading one try's
events into a ModelOutput through a transport's :class:`StreamReader`."""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from evals.clients.errors import BadResponse, StreamCut, WrongShape
from evals.clients.shapes import _PARSE_ERRORS, _json_kind, _shape_error
from evals.types import ModelOutput

_MAX_EVENT_BYTES = 256 << 20  # one server-sent event; a Responses stream's last event holds the whole reply
# A stream has one event per token: decoding the text ourselves skips json.loads' per-call encoding detection.
_decode_json = json.JSONDecoder().decode


class StreamTimer:
    """Arrival times of the content chunks of one streamed reply."""

    __slots__ = ("t0", "first", "last", "gaps", "chunks")

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.gaps: list[float] = []
        self.chunks = 0

    def tick(self) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        else:
            self.gaps.append(now - self.last)  # type: ignore[operator]
        self.last = now
        self.chunks += 1

    def summary(self, completion_tokens: int) -> dict[str, Any]:
        if self.first is None:
            return {"ttft_s": None, "tpot_s": None, "itl_p50_s": None, "itl_p95_s": None, "chunks": 0}
        decode = (self.last or self.first) - self.first
        gaps = sorted(self.gaps)
        return {"ttft_s": self.first - self.t0,
                "tpot_s": decode / (completion_tokens - 1) if completion_tokens > 1 else None,
                "itl_p50_s": _quantile(gaps, 0.50), "itl_p95_s": _quantile(gaps, 0.95), "chunks": self.chunks}


def _quantile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated quantile (numpy's default) of an already sorted list, without numpy's overhead."""
    if not sorted_values:
        return None
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


async def _sse_events(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """``data:`` payloads of a server-sent event stream (``[DONE]`` included, as the string).

    Lines are split here rather than by aiohttp's ``readline``, which raises on a line over 512 KB (a
    Responses stream's last event carries the whole reply).
    """
    pending: list[bytes] = []  # pieces of a line still waiting for its newline
    pending_size = 0
    async for block in resp.content.iter_any():
        if b"\n" not in block:
            pending.append(block)
            pending_size += len(block)
            if pending_size > _MAX_EVENT_BYTES:
                raise BadResponse(f"a stream event is longer than {_MAX_EVENT_BYTES >> 20} MB")
            continue
        lines = block.split(b"\n")
        if pending:
            lines[0] = b"".join(pending) + lines[0]
            pending, pending_size = [], 0
        tail = lines.pop()
        if tail:
            pending, pending_size = [tail], len(tail)
        for raw in lines:
            if raw.startswith(b"data:"):
                payload = raw[5:].strip()
                if payload:
                    yield payload
    if pending:
        raw = b"".join(pending)
        if raw.startswith(b"data:") and raw[5:].strip():
            yield raw[5:].strip()


class StreamReader(ABC):
    """Builds one ModelOutput from the events of one streamed try (a retry gets a fresh reader)."""

    @abstractmethod
    def feed(self, event: dict[str, Any], timer: StreamTimer) -> bool:
        """Take one event; True when it was the reply's final one."""

    @abstractmethod
    def result(self, usage: Any) -> ModelOutput:
        """The parsed reply; ``usage`` is the last usage object the stream carried (None: none)."""



async def read_stream(resp: aiohttp.ClientResponse, reader: Callable[[], StreamReader]) -> tuple[ModelOutput, StreamTimer]:
    """One streamed try, read to its end by a fresh ``reader()``: the parsed reply and its chunk timings.

    Raises :class:`BadResponse` (retried) for anything but a complete event stream of JSON objects.
    """
    if resp.content_type != "text/event-stream":
        raw = await resp.read()
        raise BadResponse(f"reply is not an event stream ({resp.content_type}): {raw[:200]!r}")
    timer = StreamTimer()
    parts = reader()
    finished, done, usage = False, False, None
    async for payload in _sse_events(resp):
        if payload == b"[DONE]":
            done = True
            break
        try:
            event = _decode_json(payload.decode())
        except ValueError as exc:  # UnicodeDecodeError included
            raise BadResponse(f"stream event is not JSON: {payload[:200]!r}") from exc
        if not isinstance(event, dict):
            raise WrongShape(f"stream event is {_json_kind(event)}, not a JSON object: {payload[:200]!r}")
        try:
            if event.get("usage"):
                usage = event["usage"]
            if parts.feed(event, timer):
                finished = True
        except BadResponse:
            raise
        except _PARSE_ERRORS as exc:
            raise _shape_error(exc, event) from exc
    if not finished:
        raise StreamCut(f"stream ended after {timer.chunks} chunks without a finish "
                        f"({'[DONE] seen' if done else 'no [DONE]'})")
    try:
        out = parts.result(usage)
    except BadResponse:
        raise
    except _PARSE_ERRORS as exc:
        raise _shape_error(exc, {"usage": usage}) from exc
    return out, timer
