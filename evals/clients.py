"""Model clients: three transports to an OpenAI-compatible gpt-oss server, one parsed output shape.

- ``chat``: ``/v1/chat/completions`` with ``reasoning_effort`` (server-side Harmony, reasoning and tool parsers)
- ``responses``: ``/v1/responses`` with ``reasoning.effort``
- ``harmony``: token-level Harmony; we render the prompt with ``openai_harmony``, send token ids to
  ``/v1/completions`` and parse the completion tokens ourselves (the most faithful path).

A client knows nothing of benchmarks. Connection failures, timeouts (``timeout_s`` for a whole reply,
``read_timeout_s`` between two reads), 429, 5xx and unreadable replies (not JSON, JSON of the wrong shape, a
stream cut mid-way) are retried with backoff. Other 4xx answers are the request's fault and come back as
:class:`RequestRejected`. Once every try of a request has failed, the client asks whether the server still
answers: ``GET /health`` and one tiny generation request (one token; shared by every request that fails at
the same time, and skipped when another request got a readable reply during the last try). If it answers,
the failure is this request's own (:class:`RequestFailed`: recorded as an error attempt with the reason, and
the run goes on); if not, or after 429s (an overloaded server), :class:`ServerUnavailable` ends the run and a
rerun resumes.

Streaming (``stream=True``; chat, harmony and responses): the reply is read as server-sent events and timed:
time to first token (``ttft_s``), time per output token after the first (``tpot_s``) and inter-token latency
percentiles over the gaps between content chunks (``itl_p50_s`` / ``itl_p95_s``), kept in
``ModelOutput.timing``. A stream that ends without its final event is a :class:`StreamCut` (retried); every
try starts from an empty reply.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import NoneType
from typing import Any

import aiohttp

from evals import harmony
from evals.types import ModelOutput, ToolCall, Usage


class TransientError(Exception):
    """A failure worth retrying: the server may answer next time."""


class ServerUnavailable(Exception):
    """The server kept failing after every retry; the run stops and can be resumed."""


class RequestRejected(Exception):
    """The server refused this request (4xx); retrying will not help."""


class BadResponse(TransientError):
    """The server answered, but not with a readable reply (garbage body, a stream cut mid-way)."""


class StreamCut(BadResponse):
    """A streamed reply stopped before its final event."""


class WrongShape(BadResponse):
    """The reply is JSON, but not shaped as the API says (a field of the wrong type, a missing part)."""


class RequestFailed(Exception):
    """Every try of this request failed while the server kept answering others: the request's fault."""


class EndpointDown(ServerUnavailable):
    """The endpoint was taken out of service (by a balancer) while this request was waiting to retry."""


class EndpointHealth:
    """Failure bookkeeping of one endpoint, shared by every request to it.

    ``down_after`` consecutive connection failures (refused, reset, disconnected) mark the endpoint down;
    ``None`` (a lone client) never does, so a single server keeps the plain retry-then-stop behaviour.
    Requests waiting out a backoff wake up at once when the endpoint goes down. ``last_reply`` /
    ``last_silence`` (monotonic times) remember when the endpoint last gave a readable reply and when a
    liveness probe last got none, so requests failing together share one probe.
    """

    def __init__(self, down_after: int | None = None) -> None:
        self.down_after = down_after
        self.down = False
        self.reason: str | None = None
        self.consecutive_conn_failures = 0
        self.last_reply = -math.inf
        self.last_silence = -math.inf
        self._event: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _for_loop(self) -> tuple[asyncio.Event, asyncio.Lock]:
        # one Event/Lock per event loop: a client may serve several asyncio.run() calls (aclose between them)
        loop = asyncio.get_running_loop()
        if self._event is None or self._lock is None or self._loop is not loop:
            self._event, self._lock, self._loop = asyncio.Event(), asyncio.Lock(), loop
            if self.down:
                self._event.set()
        return self._event, self._lock

    def success(self) -> None:
        self.consecutive_conn_failures = 0
        self.last_reply = time.monotonic()

    def failure(self, exc: Exception) -> None:
        if not getattr(exc, "connection", False):
            return
        self.consecutive_conn_failures += 1
        if self.down_after is not None and self.consecutive_conn_failures >= self.down_after:
            self.mark_down(f"{self.consecutive_conn_failures} connection failures in a row: {exc}")

    def mark_down(self, reason: str) -> None:
        if not self.down:
            self.down, self.reason = True, reason
            if self._event is not None:
                self._event.set()

    def mark_up(self) -> None:
        self.down, self.reason, self.consecutive_conn_failures = False, None, 0
        if self._event is not None:
            self._event.clear()

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the endpoint goes down first; True if it did."""
        if self.down:
            return True
        try:
            await asyncio.wait_for(self._for_loop()[0].wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return self.down
        return True

    async def answered_since(self, since: float, probe: Callable[[], Awaitable[bool]]) -> bool:
        """Did the endpoint give a readable reply after ``since``? If nothing says, ``probe()`` once for all."""
        async with self._for_loop()[1]:
            if self.last_reply >= since:
                return True
            if self.last_silence >= since:
                return False
            answered = await probe()
            if answered:
                self.last_reply = time.monotonic()
            else:
                self.last_silence = time.monotonic()
            return answered


_CONNECTION_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError,
                      aiohttp.ConnectionTimeoutError)
CANARY_TEXT = "Reply with the word OK."  # the liveness probe's question (one token is asked for)
_MAX_EVENT_BYTES = 256 << 20  # one server-sent event; a Responses stream's last event holds the whole reply
# A stream has one event per token: decoding the text ourselves skips json.loads' per-call encoding detection.
_decode_json = json.JSONDecoder().decode


def _transient(exc: BaseException) -> TransientError:
    err = TransientError(f"{type(exc).__name__}: {exc}")
    err.connection = isinstance(exc, _CONNECTION_ERRORS)  # type: ignore[attr-defined]
    return err


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WrongShape(f"{what} is {_json_kind(value)}, not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    """A list field; null or missing reads as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise WrongShape(f"{what} is {_json_kind(value)}, not a list")
    return value


def _text(value: Any, what: str) -> str:
    """A text field; null or missing reads as empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WrongShape(f"{what} is {_json_kind(value)}, not a string")
    return value


def _first_choice(data: dict[str, Any]) -> dict[str, Any]:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise WrongShape(f"choices is {_json_kind(choices) if choices != [] else 'empty'}, not a list of choices")
    return _obj(choices[0], "choices[0]")


def _usage(usage: Any, analysis: str) -> Usage:
    """The server's usage object (null: none given) with reasoning tokens; wrong types are a WrongShape."""
    usage = _obj(usage, "usage") if usage is not None else {}
    for key in ("prompt_tokens", "completion_tokens", "input_tokens", "output_tokens"):
        value = usage.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise WrongShape(f"usage.{key} is {_json_kind(value)}, not a number")
    for key in ("completion_tokens_details", "output_tokens_details"):
        if usage.get(key) is not None:
            reasoning = _obj(usage[key], f"usage.{key}").get("reasoning_tokens")
            if reasoning is not None and (isinstance(reasoning, bool) or not isinstance(reasoning, int | float)):
                raise WrongShape(f"usage.{key}.reasoning_tokens is {_json_kind(reasoning)}, not a number")
    return harmony.usage_with_reasoning(usage, analysis)


HARMONY_VOCAB = 201_088  # o200k_harmony: ids outside it make the Harmony decoder raise instead of report


def _token_ids(value: Any, what: str) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise WrongShape(f"{what} is {_json_kind(value)}, not a list of token ids")
    for t in value:
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < HARMONY_VOCAB:
            raise WrongShape(f"{what} holds {t!r}, not a token id of the Harmony vocabulary")
    return value


def _shape_error(exc: Exception, data: Any) -> WrongShape:
    """A parser tripping over a reply (a safety net behind the explicit checks) is the reply's fault."""
    return WrongShape(f"reply has an unexpected shape ({type(exc).__name__}: {exc}): {json.dumps(data)[:200]}")


_PARSE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)


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


@dataclass
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = None  # None: whatever the context window leaves after the prompt


class StreamReader(ABC):
    """Builds one ModelOutput from the events of one streamed try (a retry gets a fresh reader)."""

    @abstractmethod
    def feed(self, event: dict[str, Any], timer: StreamTimer) -> bool:
        """Take one event; True when it was the reply's final one."""

    @abstractmethod
    def result(self, usage: Any) -> ModelOutput:
        """The parsed reply; ``usage`` is the last usage object the stream carried (None: none)."""


class ModelClient(ABC):
    transport = "base"

    def __init__(self, base_url: str, model: str, *, max_model_len: int | None = None, api_key: str = "EMPTY",
                 timeout_s: float = 3600.0, read_timeout_s: float | None = None, max_retries: int = 5,
                 retry_wait_s: float = 1.0, max_connections: int = 256,
                 start_date: str = harmony.DEFAULT_START_DATE, stream: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.max_model_len = max_model_len
        self.max_retries = max_retries
        self.retry_wait_s = retry_wait_s
        self.start_date = start_date
        self.timeout_s = timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_connections = max_connections
        self.stream = stream
        self.health = EndpointHealth()
        self._headers = {"Authorization": f"Bearer {api_key}"}
        # aiohttp rather than httpx: httpx's pool costs O(connections) CPU per request at high concurrency.
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s, sock_connect=30.0,
                                              sock_read=self.read_timeout_s),
                connector=aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=self.max_connections),
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    async def healthy(self, timeout_s: float = 5.0) -> bool:
        """Does the server answer ``GET /health`` with 200 (any other OpenAI-compatible root: ``/v1/models``)?"""
        for url in (self.root_url + "/health", self.base_url + "/models"):
            try:
                async with self._session().get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                    if resp.status == 200:
                        return True
            except (aiohttp.ClientError, asyncio.TimeoutError):
                return False
        return False

    def _canary(self) -> tuple[str, dict[str, Any]]:
        """Path and body of the liveness probe: one token for a one-line question, in this transport's format."""
        return "/chat/completions", {"model": self.model, "messages": [{"role": "user", "content": CANARY_TEXT}],
                                     "max_tokens": 1}

    async def answers(self, timeout_s: float = 60.0) -> bool:
        """Does the server still answer a generation request (one try)? A 4xx other than 429 counts: it read it."""
        path, body = self._canary()
        try:
            async with self._session().post(self.base_url + path, json=body,
                                            timeout=aiohttp.ClientTimeout(total=min(self.timeout_s, timeout_s))
                                            ) as resp:
                raw = await resp.read()
                if resp.status == 200:
                    return isinstance(json.loads(raw), dict)
                return 400 <= resp.status < 500 and resp.status != 429
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return False

    def _backoff(self, n: int) -> float:
        # exponential with up to 1 s of jitter, capped at 60 s (tenacity's wait_exponential_jitter)
        return min(self.retry_wait_s * 2 ** n + random.uniform(0, min(1.0, self.retry_wait_s)), 60.0)

    async def _post(self, path: str, body: dict[str, Any], parse: Callable[[dict[str, Any]], Any] | None = None,
                    handler: Callable[[aiohttp.ClientResponse], Awaitable[Any]] | None = None) -> Any:
        """POST with bounded retries; returns ``parse(json)`` (or ``handler(resp)`` for a streamed reply).

        Both run inside the retry loop, so a reply they cannot read is retried like a 5xx.
        """
        last: TransientError | None = None
        last_try = 0.0
        for n in range(self.max_retries + 1):
            if self.health.down:
                raise EndpointDown(f"{self.base_url}: taken out of service ({self.health.reason})")
            last_try = time.monotonic()
            try:
                result = await self._post_once(path, body, parse, handler)
            except TransientError as exc:
                last = exc
                self.health.failure(exc)
                if n < self.max_retries and await self.health.sleep(self._backoff(n)):
                    raise EndpointDown(f"{self.base_url}: taken out of service ({self.health.reason})") from exc
                continue
            self.health.success()
            return result
        assert last is not None
        tries = self.max_retries + 1
        if not getattr(last, "overloaded", False) and await self._still_answering(last_try):
            raise RequestFailed(f"{self.base_url}{path}: {last} (on every one of {tries} tries, while the server "
                                f"answered other requests)") from last
        raise ServerUnavailable(f"{self.base_url}{path}: {last} (after {self.max_retries} retries)") from last

    async def _still_answering(self, since: float) -> bool:
        """Did the server answer anything after ``since`` (the last try's start), or does it answer a probe now?"""
        if self.health.last_reply >= since:
            return True
        if not await self.healthy():
            return False
        return await self.health.answered_since(since, self.answers)

    def _timeout_error(self, exc: asyncio.TimeoutError) -> TransientError:
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return _transient(exc)
        if isinstance(exc, aiohttp.SocketTimeoutError):
            err = TransientError(f"no data for client.read_timeout_s={self.read_timeout_s:g} s ({exc})")
        else:
            err = TransientError(f"no complete reply within client.timeout_s={self.timeout_s:g} s")
        err.connection = False  # type: ignore[attr-defined]
        return err

    async def _post_once(self, path: str, body: dict[str, Any], parse: Any = None, handler: Any = None) -> Any:
        try:
            async with self._session().post(self.base_url + path, json=body) as resp:
                status = resp.status
                if handler is not None and status == 200:
                    return await handler(resp)
                raw = await resp.read()
        except TransientError:
            raise
        except aiohttp.ClientPayloadError as exc:
            raise StreamCut(f"reply cut mid-way: {exc}") from exc
        except asyncio.TimeoutError as exc:  # aiohttp's timeouts included (before ClientError: they are both)
            raise self._timeout_error(exc) from exc
        except aiohttp.ClientError as exc:
            raise _transient(exc) from exc
        if status == 429 or status >= 500:
            err = TransientError(f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}")
            err.overloaded = status == 429  # type: ignore[attr-defined]
            raise err
        if status >= 400:
            raise RequestRejected(f"HTTP {status}: {raw[:500].decode('utf-8', 'replace')}")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            # A proxy or a dying server can answer 200 with garbage: worth another try.
            raise BadResponse(f"response is not JSON: {raw[:200]!r}") from exc
        if not isinstance(data, dict):
            raise WrongShape(f"response is {_json_kind(data)}, not a JSON object: {str(data)[:200]!r}")
        if parse is None:
            return data
        try:
            return parse(data)
        except BadResponse:
            raise
        except _PARSE_ERRORS as exc:
            raise _shape_error(exc, data) from exc

    async def _stream(self, path: str, body: dict[str, Any], reader: Callable[[], StreamReader]) -> ModelOutput:
        """POST a streamed request; a fresh ``reader()`` reads every try's events. Returns the timed output."""
        async def handler(resp: aiohttp.ClientResponse) -> ModelOutput:
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
            return self._timed(out, timer)

        return await self._post(path, body, handler=handler)

    async def generate(self, messages: list[dict[str, Any]], *, effort: str, sampling: Sampling,
                       seed: int | None = None, tools: list[dict[str, Any]] | None = None) -> ModelOutput:
        started = time.perf_counter()
        out = await self._generate(messages, effort=effort, sampling=sampling, seed=seed, tools=tools)
        out.latency_s = time.perf_counter() - started
        out.transport = self.transport
        return out

    @staticmethod
    def _timed(out: ModelOutput, timer: StreamTimer) -> ModelOutput:
        """Attach the stream's timings (``ModelOutput.timing``; ``ttft_s`` also in its own field)."""
        timing = timer.summary(out.usage.completion_tokens)
        out.ttft_s = timing["ttft_s"]
        out.timing = timing
        return out

    @abstractmethod
    async def _generate(self, messages: list[dict[str, Any]], *, effort: str, sampling: Sampling,
                        seed: int | None, tools: list[dict[str, Any]] | None) -> ModelOutput:
        """One request in this transport's wire format, parsed into a ModelOutput."""


def _sampling_fields(sampling: Sampling, seed: int | None, max_tokens_key: str = "max_tokens") -> dict[str, Any]:
    body: dict[str, Any] = {"temperature": sampling.temperature, "top_p": sampling.top_p}
    if sampling.max_tokens is not None:
        body[max_tokens_key] = sampling.max_tokens
    if seed is not None:
        body["seed"] = seed
    return body


def _tool_call(call: Any, i: int, what: str) -> ToolCall:
    call = _obj(call, what)
    fn = _obj(call.get("function") if call.get("function") is not None else {}, f"{what}.function")
    return ToolCall(id=_text(call.get("id"), f"{what}.id") or f"call_{i}", name=_text(fn.get("name"), f"{what}.name"),
                    arguments=_text(fn.get("arguments"), f"{what}.arguments"))


class _ChatStream(StreamReader):
    def __init__(self) -> None:
        self.analysis: list[str] = []
        self.final: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.chunks = 0

    def feed(self, event: dict[str, Any], timer: StreamTimer) -> bool:
        # Fast path for the usual event (a piece of reasoning or content, nothing else), one per token: the same
        # result as the checked path below, which every other event takes.
        choices = event.get("choices")
        if type(choices) is list and choices and type(choice := choices[0]) is dict \
                and choice.get("finish_reason") is None and type(delta := choice.get("delta")) is dict \
                and not delta.get("tool_calls"):
            reasoning, content = delta.get("reasoning"), delta.get("content")
            other = delta.get("reasoning_content")
            str_or_none = (str, NoneType)
            if type(reasoning) in str_or_none and type(content) in str_or_none and type(other) in str_or_none:
                reasoning = reasoning or other
                if reasoning:
                    self.analysis.append(reasoning)
                if content:
                    self.final.append(content)
                if reasoning or content:
                    timer.tick()
                    self.chunks += 1
                return False
        return self._feed_checked(event, timer)

    def _feed_checked(self, event: dict[str, Any], timer: StreamTimer) -> bool:
        choices = _list(event.get("choices"), "choices")
        if not choices:
            return False
        choice = _obj(choices[0], "choices[0]")
        delta = _obj(choice["delta"], "choices[0].delta") if "delta" in choice else {}
        got = False
        reasoning = _text(delta.get("reasoning"), "delta.reasoning") or _text(delta.get("reasoning_content"),
                                                                               "delta.reasoning_content")
        if reasoning:
            self.analysis.append(reasoning)
            got = True
        content = _text(delta.get("content"), "delta.content")
        if content:
            self.final.append(content)
            got = True
        for call in _list(delta.get("tool_calls"), "delta.tool_calls"):
            call = _obj(call, "delta.tool_calls[]")
            index = call.get("index", 0)
            if isinstance(index, bool) or not isinstance(index, int):
                raise WrongShape(f"delta.tool_calls[].index is {_json_kind(index)}, not an integer")
            slot = self.calls.setdefault(index, {"id": None, "name": "", "arguments": []})
            slot["id"] = slot["id"] or _text(call.get("id"), "delta.tool_calls[].id") or None
            fn = _obj(call["function"], "delta.tool_calls[].function") if call.get("function") is not None else {}
            slot["name"] += _text(fn.get("name"), "delta.tool_calls[].function.name")
            arguments = _text(fn.get("arguments"), "delta.tool_calls[].function.arguments")
            if arguments:
                slot["arguments"].append(arguments)
            got = True
        if got:
            timer.tick()
            self.chunks += 1
        finish = _text(choice.get("finish_reason"), "choices[0].finish_reason")
        if finish:
            self.finish_reason = finish
            return True
        return False

    def result(self, usage: Any) -> ModelOutput:
        analysis = "".join(self.analysis)
        calls = [ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments="".join(c["arguments"]))
                 for i, c in sorted(self.calls.items())]
        parsed = _usage(usage, analysis)
        if not parsed.completion_tokens:
            parsed.completion_tokens = self.chunks
        return ModelOutput(analysis=analysis, final="".join(self.final) or None, tool_calls=calls,
                           finish_reason=self.finish_reason, usage=parsed)


class ChatCompletionsClient(ModelClient):
    transport = "chat"

    @staticmethod
    def _to_chat_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for m in messages:
            if m["role"] == "assistant":
                msg: dict[str, Any] = {"role": "assistant", "content": m.get("content") or ""}
                if m.get("reasoning"):
                    msg["reasoning"] = m["reasoning"]
                if m.get("tool_calls"):
                    msg["tool_calls"] = [{"id": c["id"], "type": "function",
                                          "function": {"name": c["name"], "arguments": c["arguments"]}}
                                         for c in m["tool_calls"]]
                out.append(msg)
            elif m["role"] == "tool":
                out.append({"role": "tool", "tool_call_id": m.get("tool_call_id", ""), "content": m["content"]})
            else:
                out.append({"role": m["role"], "content": m["content"]})
        return out

    async def _generate(self, messages, *, effort, sampling, seed, tools):
        body = {"model": self.model, "messages": self._to_chat_messages(messages), "reasoning_effort": effort,
                **_sampling_fields(sampling, seed)}
        if effort is None:  # e.g. a user simulator that is not a reasoning model: the API would refuse the field
            del body["reasoning_effort"]
        if tools:
            body["tools"] = tools
        if self.stream:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}
            return await self._stream("/chat/completions", body, _ChatStream)
        return await self._post("/chat/completions", body, self._parse)

    @staticmethod
    def _parse(data: dict[str, Any]) -> ModelOutput:
        choice = _first_choice(data)
        msg = _obj(choice.get("message"), "choices[0].message")
        analysis = _text(msg.get("reasoning"), "message.reasoning") or _text(msg.get("reasoning_content"),
                                                                              "message.reasoning_content")
        calls = [_tool_call(call, i, f"message.tool_calls[{i}]")
                 for i, call in enumerate(_list(msg.get("tool_calls"), "message.tool_calls"))]
        content = _text(msg.get("content"), "message.content")
        return ModelOutput(analysis=analysis, final=content or None, tool_calls=calls,
                           finish_reason=_text(choice.get("finish_reason"), "choices[0].finish_reason") or None,
                           usage=_usage(data.get("usage"), analysis))


class _ResponsesStream(StreamReader):
    def __init__(self) -> None:
        self.response: dict[str, Any] | None = None

    def feed(self, event: dict[str, Any], timer: StreamTimer) -> bool:
        kind = _text(event.get("type"), "event type")
        if kind.endswith(".delta"):
            timer.tick()
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.response = _obj(event.get("response"), f"{kind} response")
            return True
        return False

    def result(self, usage: Any) -> ModelOutput:
        assert self.response is not None  # feed() saw the final event
        return ResponsesClient._parse(self.response)


class ResponsesClient(ModelClient):
    transport = "responses"

    @staticmethod
    def _to_input(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
        instructions = "\n\n".join(m["content"] for m in messages if m["role"] in ("system", "developer")) or None
        items: list[dict[str, Any]] = []
        for m in messages:
            role = m["role"]
            if role == "user":
                items.append({"role": "user", "content": m["content"]})
            elif role == "assistant":
                if m.get("reasoning"):
                    items.append({"type": "reasoning", "id": f"rs_{len(items)}", "summary": [],
                                  "content": [{"type": "reasoning_text", "text": m["reasoning"]}]})
                for call in m.get("tool_calls") or []:
                    items.append({"type": "function_call", "call_id": call["id"], "name": call["name"],
                                  "arguments": call["arguments"]})
                if m.get("content"):
                    items.append({"role": "assistant", "content": m["content"]})
            elif role == "tool":
                items.append({"type": "function_call_output", "call_id": m.get("tool_call_id", ""),
                              "output": m["content"]})
        return instructions, items

    def _canary(self) -> tuple[str, dict[str, Any]]:
        return "/responses", {"model": self.model, "input": [{"role": "user", "content": CANARY_TEXT}],
                              "max_output_tokens": 1, "store": False}

    async def _generate(self, messages, *, effort, sampling, seed, tools):
        instructions, items = self._to_input(messages)
        body = {"model": self.model, "input": items, "reasoning": {"effort": effort}, "store": False,
                **_sampling_fields(sampling, seed, "max_output_tokens")}
        if effort is None:  # not a reasoning model
            del body["reasoning"]
        if instructions:
            body["instructions"] = instructions
        if tools:
            body["tools"] = [{"type": "function", **t.get("function", t)} for t in tools]
        if self.stream:
            return await self._stream("/responses", {**body, "stream": True}, _ResponsesStream)
        return await self._post("/responses", body, self._parse)

    @staticmethod
    def _parse(data: dict[str, Any]) -> ModelOutput:
        output = data.get("output")
        if not isinstance(output, list):
            raise WrongShape(f"output is {_json_kind(output)}, not a list of output items")
        analysis, finals, calls = [], [], []
        for i, item in enumerate(output):
            item = _obj(item, f"output[{i}]")
            kind = item.get("type")
            if kind == "reasoning":
                analysis += [_text(_obj(c, f"output[{i}].content[]").get("text"), f"output[{i}].content[].text")
                             for c in _list(item.get("content"), f"output[{i}].content")]
            elif kind == "message":
                content = item.get("content")
                if not isinstance(content, list):
                    raise WrongShape(f"output[{i}].content is {_json_kind(content)}, not a list of parts")
                for c in content:
                    c = _obj(c, f"output[{i}].content[]")
                    if c.get("type") == "output_text":
                        finals.append(_text(c.get("text"), f"output[{i}].content[].text"))
            elif kind == "function_call":
                calls.append(ToolCall(id=_text(item.get("call_id"), f"output[{i}].call_id")
                                      or _text(item.get("id"), f"output[{i}].id") or f"call_{len(calls)}",
                                      name=_text(item.get("name"), f"output[{i}].name"),
                                      arguments=_text(item.get("arguments"), f"output[{i}].arguments")))
        details = data.get("incomplete_details")
        incomplete = _obj(details, "incomplete_details").get("reason") if details is not None else None
        finish = "length" if data.get("status") == "incomplete" and incomplete in ("max_output_tokens", "length") \
            else ("tool_calls" if calls else "stop")
        text = "\n".join(analysis)
        usage = _usage(data.get("usage"), text)
        final = "\n".join(finals)
        if not usage.completion_tokens:  # some vLLM versions report zeros here; count what we got
            usage.completion_tokens = harmony.count_tokens(text) + harmony.count_tokens(final)
        return ModelOutput(analysis=text, final=final or None, tool_calls=calls, finish_reason=finish, usage=usage)


class _CompletionsStream(StreamReader):
    def __init__(self, prompt_len: int) -> None:
        self.prompt_len = prompt_len
        self.ids: list[int] = []
        self.text: list[str] = []
        self.has_ids = False
        self.finish_reason: str | None = None
        self.chunks = 0

    def feed(self, event: dict[str, Any], timer: StreamTimer) -> bool:
        choices = _list(event.get("choices"), "choices")
        if not choices:
            return False
        choice = _obj(choices[0], "choices[0]")
        ids = _token_ids(choice.get("token_ids"), "choices[0].token_ids")
        if ids:
            self.ids.extend(ids)
            self.has_ids = True
        text = _text(choice.get("text"), "choices[0].text")
        if text:
            self.text.append(text)
        if ids or text:
            timer.tick()
            self.chunks += 1
        finish = _text(choice.get("finish_reason"), "choices[0].finish_reason")
        if finish:
            self.finish_reason = finish
            return True
        return False

    def result(self, usage: Any) -> ModelOutput:
        out = harmony.parse_completion_tokens(self.ids) if self.has_ids else \
            harmony.output_from_text("".join(self.text))
        out.finish_reason = self.finish_reason
        out.usage = _usage(usage, out.analysis)
        if not out.usage.prompt_tokens:
            out.usage.prompt_tokens = self.prompt_len
        if not out.usage.completion_tokens:
            out.usage.completion_tokens = len(self.ids) or self.chunks
        return out


class HarmonyCompletionsClient(ModelClient):
    transport = "harmony"

    def __init__(self, *args: Any, python_tool: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.python_tool = python_tool
        self._stop = harmony.stop_token_ids()

    def _canary(self) -> tuple[str, dict[str, Any]]:
        prompt = harmony.render_prompt([{"role": "user", "content": CANARY_TEXT}], "low", start_date=self.start_date)
        return "/completions", {"model": self.model, "prompt": prompt, "max_tokens": 1,
                                "stop_token_ids": self._stop, "skip_special_tokens": False}

    async def _generate(self, messages, *, effort, sampling, seed, tools):
        prompt = harmony.render_prompt(messages, effort, tools=tools, start_date=self.start_date,
                                       python_tool=self.python_tool)
        body = {"model": self.model, "prompt": prompt, "stop_token_ids": self._stop, "skip_special_tokens": False,
                "return_token_ids": True, **_sampling_fields(sampling, seed)}
        if sampling.max_tokens is None:
            # /v1/completions defaults to 16 tokens: give the model the rest of its context window.
            if not self.max_model_len:
                raise ValueError("the harmony transport needs sampling.max_tokens or model.max_model_len")
            body["max_tokens"] = max(1, self.max_model_len - len(prompt))
        if self.stream:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}
            return await self._stream("/completions", body, lambda: _CompletionsStream(len(prompt)))
        return await self._post("/completions", body, lambda data: self._parse(data, len(prompt)))

    @staticmethod
    def _parse(data: dict[str, Any], prompt_len: int) -> ModelOutput:
        choice = _first_choice(data)
        tokens = _token_ids(choice.get("token_ids"), "choices[0].token_ids")
        if tokens:
            out = harmony.parse_completion_tokens(tokens)
        else:
            out = harmony.output_from_text(_text(choice.get("text"), "choices[0].text"))
        out.finish_reason = _text(choice.get("finish_reason"), "choices[0].finish_reason") or None
        out.usage = _usage(data.get("usage"), out.analysis)
        if not out.usage.prompt_tokens:
            out.usage.prompt_tokens = prompt_len
        return out


TRANSPORTS: dict[str, type[ModelClient]] = {
    c.transport: c for c in (ChatCompletionsClient, ResponsesClient, HarmonyCompletionsClient)
}


def make_client(transport: str, **kwargs: Any) -> ModelClient:
    try:
        cls = TRANSPORTS[transport]
    except KeyError:
        raise ValueError(f"unknown transport {transport!r}; choose one of {sorted(TRANSPORTS)}") from None
    return cls(**kwargs)
