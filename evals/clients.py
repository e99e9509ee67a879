"""Model clients: three transports to an OpenAI-compatible gpt-oss server, one parsed output shape.

- ``chat``: ``/v1/chat/completions`` with ``reasoning_effort`` (server-side Harmony, reasoning and tool parsers)
- ``responses``: ``/v1/responses`` with ``reasoning.effort``
- ``harmony``: token-level Harmony; we render the prompt with ``openai_harmony``, send token ids to
  ``/v1/completions`` and parse the completion tokens ourselves (the most faithful path).

A client knows nothing of benchmarks. Connection failures, timeouts, 429 and 5xx are retried with backoff;
once retries are spent a :class:`ServerUnavailable` ends the run (the attempt is not recorded, so a rerun
redoes it). Other 4xx answers are the request's fault and come back as :class:`RequestRejected`. A reply that
stays unreadable (garbage, a stream cut mid-way) on every try while the server still answers ``/health`` is
this request's fault too: :class:`RequestFailed`, recorded as an error attempt, and the run goes on.

Streaming (``stream=True``; chat, harmony and responses): the reply is read as server-sent events and timed:
time to first token (``ttft_s``), time per output token after the first (``tpot_s``) and inter-token latency
percentiles over the gaps between content chunks (``itl_p50_s`` / ``itl_p95_s``), kept in
``ModelOutput.timing``. A stream that ends without its final event is a :class:`StreamCut` (retried).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import aiohttp

from evals import harmony
from evals.types import ModelOutput, ToolCall


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


class RequestFailed(Exception):
    """Every try of this request got an unreadable reply while the server stayed healthy: the request's fault."""


class EndpointDown(ServerUnavailable):
    """The endpoint was taken out of service (by a balancer) while this request was waiting to retry."""


class EndpointHealth:
    """Failure bookkeeping of one endpoint, shared by every request to it.

    ``down_after`` consecutive connection failures (refused, reset, disconnected) mark the endpoint down;
    ``None`` (a lone client) never does, so a single server keeps the plain retry-then-stop behaviour.
    Requests waiting out a backoff wake up at once when the endpoint goes down.
    """

    def __init__(self, down_after: int | None = None) -> None:
        self.down_after = down_after
        self.down = False
        self.reason: str | None = None
        self.consecutive_conn_failures = 0
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ev(self) -> asyncio.Event:
        # one Event per event loop: a client may serve several asyncio.run() calls (aclose between them)
        loop = asyncio.get_running_loop()
        if self._event is None or self._loop is not loop:
            self._event, self._loop = asyncio.Event(), loop
            if self.down:
                self._event.set()
        return self._event

    def success(self) -> None:
        self.consecutive_conn_failures = 0

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
            await asyncio.wait_for(self._ev().wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return self.down
        return True


_CONNECTION_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


def _transient(exc: BaseException) -> TransientError:
    err = TransientError(f"{type(exc).__name__}: {exc}")
    err.connection = isinstance(exc, _CONNECTION_ERRORS)  # type: ignore[attr-defined]
    return err


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


async def _sse_events(resp: aiohttp.ClientResponse):
    """``data:`` payloads of a server-sent event stream (``[DONE]`` included, as the string)."""
    async for raw in resp.content:
        if raw.startswith(b"data:"):
            payload = raw[5:].strip()
            if payload:
                yield payload


@dataclass
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = None  # None: whatever the context window leaves after the prompt


class ModelClient(ABC):
    transport = "base"

    def __init__(self, base_url: str, model: str, *, max_model_len: int | None = None, api_key: str = "EMPTY",
                 timeout_s: float = 3600.0, max_retries: int = 5, retry_wait_s: float = 1.0,
                 max_connections: int = 256, start_date: str = harmony.DEFAULT_START_DATE,
                 stream: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.max_model_len = max_model_len
        self.max_retries = max_retries
        self.retry_wait_s = retry_wait_s
        self.start_date = start_date
        self.timeout_s = timeout_s
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
                timeout=aiohttp.ClientTimeout(total=self.timeout_s, sock_connect=30.0),
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

    def _backoff(self, n: int) -> float:
        # exponential with up to 1 s of jitter, capped at 60 s (tenacity's wait_exponential_jitter)
        return min(self.retry_wait_s * 2 ** n + random.uniform(0, min(1.0, self.retry_wait_s)), 60.0)

    async def _post(self, path: str, body: dict[str, Any], handler: Any = None) -> Any:
        """POST with bounded retries. ``handler(resp)`` reads a streamed reply; without it the JSON body is returned."""
        last: TransientError | None = None
        for n in range(self.max_retries + 1):
            if self.health.down:
                raise EndpointDown(f"{self.base_url}: taken out of service ({self.health.reason})")
            try:
                result = await self._post_once(path, body, handler)
            except TransientError as exc:
                last = exc
                self.health.failure(exc)
                if n < self.max_retries and await self.health.sleep(self._backoff(n)):
                    raise EndpointDown(f"{self.base_url}: taken out of service ({self.health.reason})") from exc
                continue
            self.health.success()
            return result
        assert last is not None
        if isinstance(last, BadResponse) and await self.healthy():
            raise RequestFailed(f"{self.base_url}{path}: {last} (on every one of {self.max_retries + 1} tries, "
                                f"while the server answered /health)") from last
        raise ServerUnavailable(f"{self.base_url}{path}: {last} (after {self.max_retries} retries)") from last

    async def _post_once(self, path: str, body: dict[str, Any], handler: Any = None) -> Any:
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
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _transient(exc) from exc
        if status == 429 or status >= 500:
            raise TransientError(f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}")
        if status >= 400:
            raise RequestRejected(f"HTTP {status}: {raw[:500].decode('utf-8', 'replace')}")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            # A proxy or a dying server can answer 200 with garbage: worth another try.
            raise BadResponse(f"response is not JSON: {raw[:200]!r}") from exc
        if not isinstance(data, dict):
            raise BadResponse(f"response is not a JSON object: {str(data)[:200]!r}")
        return data

    async def _stream(self, path: str, body: dict[str, Any], on_chunk: Any) -> tuple[StreamTimer, dict[str, Any]]:
        """POST a streamed request; ``on_chunk(chunk, timer) -> bool`` sees every event (True: the final one).

        Returns the timer of the try that succeeded and the last chunk with ``usage``.
        """
        async def handler(resp: aiohttp.ClientResponse) -> tuple[StreamTimer, dict[str, Any]]:
            if resp.content_type != "text/event-stream":
                raw = await resp.read()
                raise BadResponse(f"reply is not an event stream ({resp.content_type}): {raw[:200]!r}")
            timer = StreamTimer()
            finished, done, usage_chunk = False, False, {}
            async for payload in _sse_events(resp):
                if payload == b"[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError as exc:
                    raise BadResponse(f"stream event is not JSON: {payload[:200]!r}") from exc
                if not isinstance(chunk, dict):
                    raise BadResponse(f"stream event is not a JSON object: {payload[:200]!r}")
                if chunk.get("usage"):
                    usage_chunk = chunk
                if on_chunk(chunk, timer):
                    finished = True
            if not finished:
                raise StreamCut(f"stream ended after {timer.chunks} chunks without a finish "
                                f"({'[DONE] seen' if done else 'no [DONE]'})")
            return timer, usage_chunk

        return await self._post(path, body, handler)

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


def _malformed(reason: str) -> ModelOutput:
    return ModelOutput(parse_error=reason, finish_reason="error")


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
        if tools:
            body["tools"] = tools
        if self.stream:
            return await self._generate_streamed(body)
        data = await self._post("/chat/completions", body)
        try:
            choice = data["choices"][0]
            msg = choice.get("message") or {}
        except (KeyError, IndexError, TypeError):
            return _malformed(f"no choices in response: {json.dumps(data)[:300]}")
        analysis = msg.get("reasoning") or msg.get("reasoning_content") or ""
        calls = []
        for i, call in enumerate(msg.get("tool_calls") or []):
            fn = call.get("function") or {}
            calls.append(ToolCall(id=call.get("id") or f"call_{i}", name=fn.get("name", ""),
                                  arguments=fn.get("arguments") or ""))
        content = msg.get("content")
        return ModelOutput(analysis=analysis, final=content if content else None, tool_calls=calls,
                           finish_reason=choice.get("finish_reason"),
                           usage=harmony.usage_with_reasoning(data.get("usage"), analysis))


    async def _generate_streamed(self, body: dict[str, Any]) -> ModelOutput:
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        state: dict[str, Any] = {}

        def on_chunk(chunk: dict[str, Any], timer: StreamTimer) -> bool:
            choices = chunk.get("choices") or []
            if not choices:
                return False
            choice = choices[0]
            delta = choice.get("delta") or {}
            got = False
            reasoning = delta.get("reasoning") or delta.get("reasoning_content")
            if reasoning:
                state.setdefault("analysis", []).append(reasoning)
                got = True
            if delta.get("content"):
                state.setdefault("final", []).append(delta["content"])
                got = True
            for call in delta.get("tool_calls") or []:
                slot = state.setdefault("calls", {}).setdefault(call.get("index", 0), {"id": None, "name": "",
                                                                                        "arguments": []})
                slot["id"] = slot["id"] or call.get("id")
                fn = call.get("function") or {}
                slot["name"] += fn.get("name") or ""
                if fn.get("arguments"):
                    slot["arguments"].append(fn["arguments"])
                got = True
            if got:
                timer.tick()
            if choice.get("finish_reason"):
                state["finish_reason"] = choice["finish_reason"]
                return True
            return False

        timer, usage_chunk = await self._stream("/chat/completions", body, on_chunk)
        analysis = "".join(state.get("analysis", []))
        final = "".join(state.get("final", []))
        calls = [ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments="".join(c["arguments"]))
                 for i, c in sorted(state.get("calls", {}).items())]
        usage = harmony.usage_with_reasoning(usage_chunk.get("usage"), analysis)
        if not usage.completion_tokens:
            usage.completion_tokens = timer.chunks
        out = ModelOutput(analysis=analysis, final=final or None, tool_calls=calls,
                          finish_reason=state.get("finish_reason"), usage=usage)
        return self._timed(out, timer)


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

    async def _generate(self, messages, *, effort, sampling, seed, tools):
        instructions, items = self._to_input(messages)
        body = {"model": self.model, "input": items, "reasoning": {"effort": effort}, "store": False,
                **_sampling_fields(sampling, seed, "max_output_tokens")}
        if instructions:
            body["instructions"] = instructions
        if tools:
            body["tools"] = [{"type": "function", **t.get("function", t)} for t in tools]
        if self.stream:
            final_event: dict[str, Any] = {}

            def on_event(event: dict[str, Any], timer: StreamTimer) -> bool:
                kind = event.get("type") or ""
                if kind.endswith(".delta"):
                    timer.tick()
                elif kind in ("response.completed", "response.incomplete", "response.failed"):
                    final_event.update(event.get("response") or {})
                    return True
                return False

            timer, _ = await self._stream("/responses", {**body, "stream": True}, on_event)
            return self._timed(self._parse(final_event), timer)
        return self._parse(await self._post("/responses", body))

    @staticmethod
    def _parse(data: dict[str, Any]) -> ModelOutput:
        if not isinstance(data.get("output"), list):
            return _malformed(f"no output items in response: {json.dumps(data)[:300]}")
        analysis, finals, calls = [], [], []
        for item in data["output"]:
            kind = item.get("type")
            if kind == "reasoning":
                analysis += [c.get("text", "") for c in item.get("content") or []]
            elif kind == "message":
                finals += [c.get("text", "") for c in item.get("content") or [] if c.get("type") == "output_text"]
            elif kind == "function_call":
                calls.append(ToolCall(id=item.get("call_id") or item.get("id") or f"call_{len(calls)}",
                                      name=item.get("name", ""), arguments=item.get("arguments") or ""))
        incomplete = (data.get("incomplete_details") or {}).get("reason")
        finish = "length" if data.get("status") == "incomplete" and incomplete in ("max_output_tokens", "length") \
            else ("tool_calls" if calls else "stop")
        text = "\n".join(analysis)
        usage = harmony.usage_with_reasoning(data.get("usage"), text)
        final = "\n".join(finals)
        if not usage.completion_tokens:  # some vLLM versions report zeros here; count what we got
            usage.completion_tokens = harmony.count_tokens(text) + harmony.count_tokens(final)
        return ModelOutput(analysis=text, final=final or None, tool_calls=calls, finish_reason=finish, usage=usage)


class HarmonyCompletionsClient(ModelClient):
    transport = "harmony"

    def __init__(self, *args: Any, python_tool: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.python_tool = python_tool
        self._stop = harmony.stop_token_ids()

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
            return await self._generate_streamed(body, prompt)
        data = await self._post("/completions", body)
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError):
            return _malformed(f"no choices in response: {json.dumps(data)[:300]}")
        tokens = choice.get("token_ids")
        if tokens:
            out = harmony.parse_completion_tokens(list(tokens))
        else:
            out = harmony.output_from_text(choice.get("text") or "")
        out.finish_reason = choice.get("finish_reason")
        out.usage = harmony.usage_with_reasoning(data.get("usage"), out.analysis)
        if not out.usage.prompt_tokens:
            out.usage.prompt_tokens = len(prompt)
        return out


    async def _generate_streamed(self, body: dict[str, Any], prompt: list[int]) -> ModelOutput:
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        state: dict[str, Any] = {"ids": [], "text": [], "finish_reason": None, "has_ids": False}

        def on_chunk(chunk: dict[str, Any], timer: StreamTimer) -> bool:
            choices = chunk.get("choices") or []
            if not choices:
                return False
            choice = choices[0]
            ids = choice.get("token_ids")
            if ids:
                state["ids"].extend(ids)
                state["has_ids"] = True
            if choice.get("text"):
                state["text"].append(choice["text"])
            if ids or choice.get("text"):
                timer.tick()
            if choice.get("finish_reason"):
                state["finish_reason"] = choice["finish_reason"]
                return True
            return False

        timer, usage_chunk = await self._stream("/completions", body, on_chunk)
        out = harmony.parse_completion_tokens(state["ids"]) if state["has_ids"] else \
            harmony.output_from_text("".join(state["text"]))
        out.finish_reason = state["finish_reason"]
        out.usage = harmony.usage_with_reasoning(usage_chunk.get("usage"), out.analysis)
        if not out.usage.prompt_tokens:
            out.usage.prompt_tokens = len(prompt)
        if not out.usage.completion_tokens:
            out.usage.completion_tokens = len(state["ids"]) or timer.chunks
        return self._timed(out, timer)


TRANSPORTS: dict[str, type[ModelClient]] = {
    c.transport: c for c in (ChatCompletionsClient, ResponsesClient, HarmonyCompletionsClient)
}


def make_client(transport: str, **kwargs: Any) -> ModelClient:
    try:
        cls = TRANSPORTS[transport]
    except KeyError:
        raise ValueError(f"unknown transport {transport!r}; choose one of {sorted(TRANSPORTS)}") from None
    return cls(**kwargs)
