"""Model clients: three transports to an OpenAI-compatible gpt-oss server, one parsed output shape.

- ``chat``: ``/v1/chat/completions`` with ``reasoning_effort`` (server-side Harmony, reasoning and tool parsers)
- ``responses``: ``/v1/responses`` with ``reasoning.effort``
- ``harmony``: token-level Harmony; we render the prompt with ``openai_harmony``, send token ids to
  ``/v1/completions`` and parse the completion tokens ourselves (the most faithful path).

A client knows nothing of benchmarks. Connection failures, timeouts, 429 and 5xx are retried with backoff;
once retries are spent a :class:`ServerUnavailable` ends the run (the attempt is not recorded, so a rerun
redoes it). Other 4xx answers are the request's fault and come back as :class:`RequestRejected`.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from evals import harmony
from evals.types import ModelOutput, ToolCall


class TransientError(Exception):
    """A failure worth retrying: the server may answer next time."""


class ServerUnavailable(Exception):
    """The server kept failing after every retry; the run stops and can be resumed."""


class RequestRejected(Exception):
    """The server refused this request (4xx); retrying will not help."""


@dataclass
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = None  # None: whatever the context window leaves after the prompt


class ModelClient(ABC):
    transport = "base"

    def __init__(self, base_url: str, model: str, *, max_model_len: int | None = None, api_key: str = "EMPTY",
                 timeout_s: float = 3600.0, max_retries: int = 5, retry_wait_s: float = 1.0,
                 max_connections: int = 256, start_date: str = harmony.DEFAULT_START_DATE) -> None:
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

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_exponential_jitter(initial=self.retry_wait_s, max=60.0),
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._post_once(path, body)
        except TransientError as exc:
            raise ServerUnavailable(f"{self.base_url}{path}: {exc} (after {self.max_retries} retries)") from exc
        raise AssertionError("unreachable")

    async def _post_once(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._session().post(self.base_url + path, json=body) as resp:
                status = resp.status
                raw = await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        if status == 429 or status >= 500:
            raise TransientError(f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}")
        if status >= 400:
            raise RequestRejected(f"HTTP {status}: {raw[:500].decode('utf-8', 'replace')}")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            # A proxy or a dying server can answer 200 with garbage: worth another try.
            raise TransientError(f"response is not JSON: {raw[:200]!r}") from exc
        if not isinstance(data, dict):
            raise TransientError(f"response is not a JSON object: {str(data)[:200]!r}")
        return data

    async def generate(self, messages: list[dict[str, Any]], *, effort: str, sampling: Sampling,
                       seed: int | None = None, tools: list[dict[str, Any]] | None = None) -> ModelOutput:
        started = time.perf_counter()
        out = await self._generate(messages, effort=effort, sampling=sampling, seed=seed, tools=tools)
        out.latency_s = time.perf_counter() - started
        out.transport = self.transport
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
        data = await self._post("/responses", body)
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


TRANSPORTS: dict[str, type[ModelClient]] = {
    c.transport: c for c in (ChatCompletionsClient, ResponsesClient, HarmonyCompletionsClient)
}


def make_client(transport: str, **kwargs: Any) -> ModelClient:
    try:
        cls = TRANSPORTS[transport]
    except KeyError:
        raise ValueError(f"unknown transport {transport!r}; choose one of {sorted(TRANSPORTS)}") from None
    return cls(**kwargs)
