"""Server-sent events: splitting a streamed reply into events, timing its content chunks, and reading one try's
events into a ModelOutput through a transport's :class:`StreamReader`."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import aiohttp

from evals.clients.errors import BadResponse, StreamCut, WrongShape
from evals.clients.shapes import _PARSE_ERRORS, _json_kind, _shape_error, _text
from evals.jsonlines import loads_line
from evals.types import ModelOutput

_MAX_EVENT_BYTES = 256 << 20  # one server-sent event; a Responses stream's last event holds the whole reply


class StreamTimer:
    """Arrival times of the content chunks of one streamed reply.

    A chunk's time is that of the network block that brought it (:meth:`arrived`), or the moment of
    :meth:`tick` when no block time was given: chunks that came together have no gap between them.
    """

    __slots__ = ("t0", "first", "last", "gaps", "chunks", "block_time")

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.gaps: list[float] = []
        self.chunks = 0
        self.block_time: float | None = None

    def arrived(self) -> None:
        """A network block came in: the chunks read from it until the next one share this time."""
        self.block_time = time.perf_counter()

    def tick(self) -> None:
        now = self.block_time if self.block_time is not None else time.perf_counter()
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


class StreamReader(ABC):
    """Builds one ModelOutput from the events of one streamed try (a retry gets a fresh reader)."""

    @abstractmethod
    def feed(self, event: dict[str, Any], timer: StreamTimer) -> bool:
        """Take one event; True when it was the reply's final one."""

    @abstractmethod
    def result(self, usage: Any) -> ModelOutput:
        """The parsed reply; ``usage`` is the last usage object the stream carried (None: none)."""


class ChoiceStreamReader(StreamReader):
    """A reader of ``choices[0]`` deltas (chat and completions): counts the chunks that carried content and ends
    at the first finish_reason."""

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.chunks = 0

    def _end_of_choice(self, choice: dict[str, Any], got: bool, timer: StreamTimer) -> bool:
        if got:
            timer.tick()
            self.chunks += 1
        finish = _text(choice.get("finish_reason"), "choices[0].finish_reason")
        if finish:
            self.finish_reason = finish
            return True
        return False


class _Events:
    """One streamed try's events, taken a network block at a time (no per-event coroutine hop)."""

    __slots__ = ("feed", "timer", "finished", "done", "usage")

    def __init__(self, reader: StreamReader, timer: StreamTimer) -> None:
        self.feed = reader.feed
        self.timer = timer
        self.finished = self.done = False
        self.usage: Any = None

    def take(self, lines: list[bytes]) -> None:
        """Feed the ``data:`` payloads of complete lines; stops at ``[DONE]`` (``self.done``)."""
        feed, timer = self.feed, self.timer
        for raw in lines:
            if not raw.startswith(b"data:"):
                continue
            payload = raw[5:].strip()
            if not payload:
                continue
            if payload == b"[DONE]":
                self.done = True
                return
            try:  # one event per token: orjson (in loads_line) parses one in ~1/3 of json.loads' time
                event = loads_line(payload)
            except ValueError as exc:  # UnicodeDecodeError included
                raise BadResponse(f"stream event is not JSON: {payload[:200]!r}") from exc
            if type(event) is not dict:
                raise WrongShape(f"stream event is {_json_kind(event)}, not a JSON object: {payload[:200]!r}")
            try:
                if event.get("usage"):
                    self.usage = event["usage"]
                if feed(event, timer):
                    self.finished = True
            except BadResponse:
                raise
            except _PARSE_ERRORS as exc:
                raise _shape_error(exc, event) from exc


async def read_stream(resp: aiohttp.ClientResponse, reader: Callable[[], StreamReader]) -> tuple[ModelOutput, StreamTimer]:
    """One streamed try, read to its end by a fresh ``reader()``: the parsed reply and its chunk timings.

    Raises :class:`BadResponse` (retried) for anything but a complete event stream of JSON objects. Lines are
    split here rather than by aiohttp's ``readline``, which raises on a line over 512 KB (a Responses stream's
    last event carries the whole reply); the chunks of one network block share its arrival time.
    """
    if resp.content_type != "text/event-stream":
        raw = await resp.read()
        raise BadResponse(f"reply is not an event stream ({resp.content_type}): {raw[:200]!r}")
    timer = StreamTimer()
    parts = reader()
    events = _Events(parts, timer)
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
        timer.arrived()
        events.take(lines)
        if events.done:
            break
    else:
        if pending:  # a last line without its newline
            timer.arrived()
            events.take([b"".join(pending)])
    if not events.finished:
        raise StreamCut(f"stream ended after {timer.chunks} chunks without a finish "
                        f"({'[DONE] seen' if events.done else 'no [DONE]'})")
    try:
        out = parts.result(events.usage)
    except BadResponse:
        raise
    except _PARSE_ERRORS as exc:
        raise _shape_error(exc, {"usage": events.usage}) from exc
    return out, timer
