"""What every transport shares: the HTTP session, the retry loop, the liveness questions asked once every try of
a request has failed, and streamed replies with their timings."""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from evals import harmony
from evals.clients.errors import (
    BadResponse,
    EndpointDown,
    RequestFailed,
    ServerUnavailable,
    StreamCut,
    TransientError,
    WrongShape,
    _transient,
    backoff_s,
    status_error,
    timeout_error,
)
from evals.clients.health import CANARY_TEXT, EndpointHealth
from evals.clients.shapes import _PARSE_ERRORS, _json_kind, _shape_error
from evals.clients.streaming import StreamReader, StreamTimer, read_stream
from evals.jsonlines import loads_line
from evals.types import ModelOutput


@dataclass
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = None  # None: whatever the context window leaves after the prompt



def dumps_body(body: Any) -> str:
    """A request body as JSON text: orjson (a token-level prompt is thousands of integers, encoded ~10x faster),
    the standard library for what orjson refuses (keys that are not strings, integers beyond 64 bits)."""
    try:
        return orjson.dumps(body).decode()
    except TypeError:
        return json.dumps(body)


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
                json_serialize=dumps_body,
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
        return backoff_s(n, self.retry_wait_s)

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
            raise timeout_error(exc, self.timeout_s, self.read_timeout_s) from exc
        except aiohttp.ClientError as exc:
            raise _transient(exc) from exc
        failure = status_error(status, raw)
        if failure is not None:
            raise failure
        try:
            data = loads_line(raw)
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
            out, timer = await read_stream(resp, reader)
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


