"""A scripted OpenAI-compatible gpt-oss server: the test double for engine, fault and load tests.

It answers ``/v1/chat/completions``, ``/v1/responses`` and ``/v1/completions`` (Harmony token ids in and out)
from a script, and can inject faults: HTTP errors at a rate, latency, a fixed capacity of concurrent slots,
truncation, garbage, replies of the wrong JSON shape, slow drips, requests that hang, and dying after N requests.
Every request is logged as one JSON line.

Script (JSON)::

    {"rules": [{"match": "text in the last user message", "effort": "low" | null,
                "match_prompt": "text anywhere in the request" (optional),
                "kind": "chat" | "responses" | "completions" (optional: only that endpoint),
                "reply": {"analysis": "...", "final": "...", "tool_calls": [{"name", "arguments"}],
                          "finish_reason": "stop" | "length", "garbage": false,
                          "raw_text": "Harmony completion text (completions only; replaces the above)",
                          "wrong_shapes": ["choices_not_a_list", ...], "drip_s": 0.0, "hang": false}}],
     "default": {"analysis": "...", "final": "..."},
     "faults": {"error_rate": 0.0, "error_status": 500, "latency_s": 0.0, "capacity": 0,
                "die_after": null, "seed": 0,
                "token_delay_s": 0.0, "cut_rate": 0.0, "cut_after_chunks": 3,
                "timeout_rate": 0.0, "hang_s": 3600}}

Streaming (``"stream": true`` in the request; chat, completions and responses): one event per token, the
first after ``latency_s``, then one every ``token_delay_s``; ``stream_options.include_usage`` adds the usage
chunk. Stream faults: ``cut_rate`` (a fraction of streams is cut after ``cut_after_chunks`` events by closing
the connection), a reply's own ``"cut_after": N`` (always cut there) and ``"hang": true`` (never answer).

More faults: ``timeout_rate`` (a fraction of requests, drawn after ``error_rate``, is held for ``hang_s`` seconds:
longer than any client timeout); a reply's ``"drip_s": S`` sends its bytes (the JSON body, or every stream event)
one at a time, S seconds apart; a reply's ``"wrong_shapes": [name, ...]`` answers in the wrong JSON shape, the
next name of the list on each request it serves (rotating), streamed or not. The names (``WRONG_SHAPES``) mean,
for chat / completions / responses: ``not_an_object`` (the body or event is a JSON list), ``choices_not_a_list``
(``choices`` / ``output`` is a string), ``choice_not_an_object`` (their items are a string and a number),
``message_null`` (the message / delta, the choice, the message item is null), ``message_a_list`` (it is a list;
responses: the message content is a string), ``usage_not_an_object`` (a string), ``tool_calls_not_a_list``
(tool_calls is an object; ``token_ids`` a string; function-call arguments an object), ``content_not_text``
(content is a number; ``token_ids`` hold a float and a string; output_text is a number).

A GPU-like shape, for the sweep benchmark (unstreamed replies): ``faults.lengths`` ({effort: {"median": N,
"sigma": S}}) draws each reply's completion tokens from a log-normal (a long tail that grows with effort; the
usage reports them, the text stays the script's), and ``faults.knee`` makes decoding share the device: with b
requests running, every token takes ``token_delay_s x max(1, b / knee)``, so throughput rises with the batch up to
the knee and stays flat beyond it. ``GET /metrics`` shows vLLM's ``num_requests_running`` / ``waiting`` gauges.

Server settings (``"server": {...}``) imitate how a gpt-oss server can be misconfigured, for the doctor's tests:
``max_model_len`` (reported on ``GET /v1/models``; default 131072), ``effort_ignored`` (chat and responses
render the default ``medium`` whatever the request asks), ``reasoning_in_content`` (chat: no reasoning parser,
so the analysis lands in ``content`` with the channel names as vLLM leaves them once special tokens are
skipped; tool calls still parsed), ``drop_tool_calls`` (chat: no tool parser, calls vanish), ``date`` (the conversation start date the
server renders; ``"today"`` imitates a vLLM without ``VLLM_SYSTEM_START_DATE``; default 2026-01-01) and
``stream_drops_final`` (streams end without the final channel). Like vLLM, chat shows the Harmony prompt it
rendered and the model's completion tokens when asked (``return_token_ids``: ``prompt_token_ids`` and the
choice's ``token_ids``), and responses shows its Harmony messages (``enable_response_messages``:
``input_messages`` / ``output_messages``).

Run: ``python -m tests.support.scripted_server --script S.json --port P [--log requests.jsonl]``
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from aiohttp import web


class Script:
    def __init__(self, data: dict[str, Any]) -> None:
        self.rules = data.get("rules", [])
        self.needs_prompt = any("match_prompt" in rule for rule in self.rules)
        self.default = data.get("default", {"analysis": "Thinking.", "final": "\\boxed{0}"})
        self.faults = {"error_rate": 0.0, "error_status": 500, "latency_s": 0.0, "capacity": 0,
                       "die_after": None, "seed": 0, "token_delay_s": 0.0, "cut_rate": 0.0,
                       "cut_after_chunks": 3, "timeout_rate": 0.0, "hang_s": 3600.0, "lengths": None,
                       "knee": 0} | data.get("faults", {})
        self.server = {"max_model_len": 131072, "effort_ignored": False, "reasoning_in_content": False,
                       "drop_tool_calls": False, "date": "2026-01-01", "stream_drops_final": False,
                       } | data.get("server", {})

    def reply(self, user_text: str, effort: str | None, kind: str = "chat", prompt: str = "") -> dict[str, Any]:
        for rule in self.rules:
            if (rule.get("match", "") in user_text and rule.get("effort") in (None, effort)
                    and rule.get("kind") in (None, kind) and rule.get("match_prompt", "") in prompt):
                return rule["reply"]
        return self.default


class ScriptedServer:
    def __init__(self, script: Script, log_path: Path | None) -> None:
        self.script = script
        self.log = open(log_path, "a", buffering=1) if log_path else None
        self.rng = random.Random(script.faults["seed"])
        cap = int(script.faults["capacity"] or 0)
        self.slots = asyncio.Semaphore(cap) if cap > 0 else None
        self.requests = 0
        self.shape_turn = 0  # which of a reply's wrong_shapes the next request gets
        self._enc = None

    @property
    def enc(self) -> Any:
        if self._enc is None:
            from evals.harmony import encoding

            self._enc = encoding()
        return self._enc

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one server object per process; replies repeat
    def _count(self, text: str) -> int:
        return len(self.enc.encode(text, disallowed_special=())) if text else 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        n = self.requests
        body = await request.json()
        faults = self.script.faults
        if faults["die_after"] is not None and n > int(faults["die_after"]):
            os._exit(17)  # a crashed server: the connection drops with no answer
        kind = {"/v1/chat/completions": "chat", "/v1/responses": "responses"}.get(request.path, "completions")
        user_text, effort = self._user_text_and_effort(kind, body)
        if self.script.server["effort_ignored"] and kind != "completions":
            effort = "medium"  # what the system message says when the server drops the requested level
        if self.log:
            self.log.write(json.dumps({"n": n, "path": request.path, "effort": effort, "seed": body.get("seed"),
                                       "user": user_text[-200:], "t": time.time(),
                                       "authorization": request.headers.get("Authorization"),
                                       "temperature": body.get("temperature"), "stream": bool(body.get("stream")),
                                       "max_tokens": body.get("max_tokens", body.get("max_output_tokens"))}) + "\n")
        if faults["error_rate"] and self.rng.random() < float(faults["error_rate"]):
            return web.Response(status=int(faults["error_status"]), text="injected failure")
        if faults["timeout_rate"] and self.rng.random() < float(faults["timeout_rate"]):
            await asyncio.sleep(float(faults["hang_s"]))  # past the client's timeout: it gives up first
            return web.Response(status=504, text="held past the client's timeout")
        prompt = self._prompt_text(kind, body) if self.script.needs_prompt else ""
        reply = self.script.reply(user_text, effort, kind, prompt)
        request["model_reply"], request["effort"] = reply, effort  # what the model wrote, before the server's view
        reply = self._server_view(kind, reply, bool(body.get("stream")))
        lengths = (faults["lengths"] or {}).get(effort or "")
        if lengths:  # a drawn length, long-tailed: what a reasoning model's reply lengths look like
            # drawn from the request's seed and text: the same attempt gets the same length in every arm
            draw = random.Random(f"{body.get('seed')}:{effort}:{user_text}").lognormvariate(
                0.0, float(lengths.get("sigma", 0.0))) if body.get("seed") is not None else \
                self.rng.lognormvariate(0.0, float(lengths.get("sigma", 0.0)))
            reply = {**reply, "completion_tokens": max(1, int(lengths["median"] * draw))}
        if reply.get("hang"):
            await asyncio.sleep(3600)
        shape = None
        if reply.get("wrong_shapes"):
            shape = reply["wrong_shapes"][self.shape_turn % len(reply["wrong_shapes"])]
            self.shape_turn += 1
        if body.get("stream") and not reply.get("garbage"):
            if self.slots is not None:
                async with self.slots:
                    return await self._stream(request, kind, reply, body, shape)
            return await self._stream(request, kind, reply, body, shape)
        if self.slots is not None:
            async with self.slots:
                await self._delay(reply, whole=True)
        else:
            await self._delay(reply, whole=True)
        if reply.get("garbage"):
            return web.Response(status=200, text="<html>not json", content_type="text/html")
        data = getattr(self, f"_{kind}")(reply, body)
        self._show(kind, data, body, request)
        if shape is not None:
            data = wrong_shape(shape, kind, data)
        if reply.get("drip_s"):
            return await self._drip(request, json.dumps(data).encode(), "application/json", float(reply["drip_s"]))
        return web.json_response(data)

    async def _drip(self, request: web.Request, payload: bytes, content_type: str,
                    drip_s: float) -> web.StreamResponse:
        """Headers at once, then the body one byte every ``drip_s`` seconds."""
        resp = web.StreamResponse(headers={"Content-Type": content_type})
        await resp.prepare(request)
        for i in range(len(payload)):
            await resp.write(payload[i:i + 1])
            await asyncio.sleep(drip_s)
        await resp.write_eof()
        return resp

    async def _stream(self, request: web.Request, kind: str, reply: dict[str, Any],
                      body: dict[str, Any], shape: str | None = None) -> web.StreamResponse:
        faults = self.script.faults
        cut_at = reply.get("cut_after")
        if cut_at is None and faults["cut_rate"] and self.rng.random() < float(faults["cut_rate"]):
            cut_at = int(faults["cut_after_chunks"])
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        await self._delay(reply)
        delay = float(reply.get("token_delay_s", faults["token_delay_s"]) or 0)
        drip_s = float(reply.get("drip_s") or 0)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        sent = tokens = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        events = getattr(self, f"_{kind}_events")(reply, body, include_usage)
        for event, is_token in self._shown_events(kind, events, body, request):
            if cut_at is not None and sent >= int(cut_at):
                request.transport.close()  # a cut stream: the connection drops mid-reply
                return resp
            if is_token:
                # token i leaves at start + i x delay (a schedule, so sleep overshoots do not add up)
                wait = start + tokens * delay - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                tokens += 1
            if not isinstance(event, bytes):
                event = b"data: " + json.dumps(event if shape is None else wrong_shape(shape, kind, event)).encode() \
                    + b"\n\n"
            if drip_s:
                for i in range(len(event)):
                    await resp.write(event[i:i + 1])
                    await asyncio.sleep(drip_s)
            else:
                await resp.write(event)
            sent += 1
        await resp.write_eof()
        return resp

    def _server_view(self, kind: str, reply: dict[str, Any], stream: bool) -> dict[str, Any]:
        """The reply as a misconfigured server hands it out (``server`` settings)."""
        server = self.script.server
        if stream and server["stream_drops_final"]:
            reply = {**reply, "final": None}
        if kind != "chat":
            return reply
        if server["reasoning_in_content"]:  # vLLM without a reasoning parser: special tokens skipped, text kept
            text = f"analysis{reply.get('analysis', '')}" if reply.get("analysis") else ""
            if reply.get("final") is not None:
                text += f"assistantfinal{reply['final']}"
            reply = {**reply, "analysis": "", "final": text or None}
        if server["drop_tool_calls"] and reply.get("tool_calls"):
            reply = {**reply, "tool_calls": [], "finish_reason": "stop"}
        return reply

    def _rendered(self, kind: str, body: dict[str, Any], effort: str | None) -> list[Any]:
        """The Harmony messages this server renders for a chat or responses request."""
        from evals import harmony

        if kind == "chat":
            items, tools = body.get("messages") or [], body.get("tools")
        else:
            items = ([{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []) + [
                i for i in body.get("input") or [] if isinstance(i, dict)]
            tools = body.get("tools")
        neutral = [{"role": m["role"], "content": m.get("content") if isinstance(m.get("content"), str)
                    else json.dumps(m.get("content"))} for m in items if m.get("role") in ("system", "developer",
                                                                                            "user")]
        date = self.script.server["date"]
        if date == "today":
            date = time.strftime("%Y-%m-%d")
        return harmony.to_harmony_messages(neutral, effort or "medium", tools=tools, start_date=date)

    def _show(self, kind: str, data: dict[str, Any], body: dict[str, Any], request: web.Request) -> None:
        """vLLM's show-me fields on a whole reply: the rendered prompt and the model's own tokens."""
        if kind == "chat" and body.get("return_token_ids"):
            import openai_harmony as oh

            conv = oh.Conversation.from_messages(self._rendered(kind, body, request["effort"]))
            data["prompt_token_ids"] = self.enc.render_conversation_for_completion(conv, oh.Role.ASSISTANT)
            data["choices"][0]["token_ids"] = self._completions(request["model_reply"], body)["choices"][0][
                "token_ids"]
        elif kind == "responses" and body.get("enable_response_messages"):
            import openai_harmony as oh

            ids = self._completions(request["model_reply"], body)["choices"][0]["token_ids"]
            data["input_messages"] = [m.to_dict() for m in self._rendered(kind, body, request["effort"])]
            data["output_messages"] = [m.to_dict() for m in self.enc.parse_messages_from_completion_tokens(
                ids, oh.Role.ASSISTANT, strict=False)]

    def _shown_events(self, kind: str, events: Any, body: dict[str, Any], request: web.Request):
        """Stream events with the show-me fields: the prompt on the first chunk, the model's tokens on the last."""
        wanted = kind == "chat" and body.get("return_token_ids")
        first = True
        for event, is_token in events:
            if wanted and isinstance(event, dict) and event.get("choices"):
                if first:
                    shown: dict[str, Any] = {"choices": [{}]}
                    self._show(kind, shown, body, request)
                    event = {**event, "prompt_token_ids": shown["prompt_token_ids"]}
                    first = False
                if event["choices"][0].get("finish_reason"):
                    model_ids = self._completions(request["model_reply"], body)["choices"][0]["token_ids"]
                    event = {**event, "choices": [{**event["choices"][0], "token_ids": model_ids}]}
            yield event, is_token

    def _pieces(self, text: str) -> list[str]:
        """``text`` cut at token boundaries (one streamed event per token)."""
        if not text:
            return []
        return [self.enc.decode([t]) for t in self.enc.encode(text, disallowed_special=())]

    def _chat_events(self, reply: dict[str, Any], body: dict[str, Any], include_usage: bool):
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body.get("model"),
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        yield chunk({"role": "assistant", "content": ""}), False
        for piece in self._pieces(reply.get("analysis", "")):
            yield chunk({"reasoning": piece}), True
        for piece in self._pieces(reply.get("final") or ""):
            yield chunk({"content": piece}), True
        for i, c in enumerate(reply.get("tool_calls", [])):
            yield chunk({"tool_calls": [{"index": i, "id": f"call_{i}", "type": "function",
                                         "function": {"name": c["name"], "arguments": ""}}]}), True
            for piece in self._pieces(c["arguments"]):
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}), True
        yield chunk({}, self._finish(reply)), False
        if include_usage:
            yield {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [],
                   "usage": self._usage(reply)}, False
        yield b"data: [DONE]\n\n", False

    def _completions_events(self, reply: dict[str, Any], body: dict[str, Any], include_usage: bool):
        whole = self._completions(reply, body)
        choice = whole["choices"][0]
        for tok in choice["token_ids"]:
            yield {"id": "cmpl-1", "object": "text_completion", "model": body.get("model"),
                   "choices": [{"index": 0, "text": self.enc.decode([tok]), "token_ids": [tok],
                                "finish_reason": None}]}, True
        yield {"id": "cmpl-1", "object": "text_completion", "model": body.get("model"),
               "choices": [{"index": 0, "text": "", "finish_reason": choice["finish_reason"]}]}, False
        if include_usage:
            yield {"id": "cmpl-1", "object": "text_completion", "choices": [], "usage": whole["usage"]}, False
        yield b"data: [DONE]\n\n", False

    def _responses_events(self, reply: dict[str, Any], body: dict[str, Any], include_usage: bool):
        whole = self._responses(reply, body)
        yield {"type": "response.created", "response": {**whole, "status": "in_progress", "output": []}}, False
        for piece in self._pieces(reply.get("analysis", "")):
            yield {"type": "response.reasoning_text.delta", "delta": piece}, True
        for c in reply.get("tool_calls", []):
            for piece in self._pieces(c["arguments"]):
                yield {"type": "response.function_call_arguments.delta", "delta": piece}, True
        for piece in self._pieces(reply.get("final") or ""):
            yield {"type": "response.output_text.delta", "delta": piece}, True
        kind = "response.incomplete" if whole["status"] == "incomplete" else "response.completed"
        yield {"type": kind, "response": whole}, False

    async def _delay(self, reply: dict[str, Any], whole: bool = False) -> None:
        latency = float(reply.get("latency_s", self.script.faults["latency_s"]) or 0)
        delay = float(reply.get("token_delay_s", self.script.faults["token_delay_s"]) or 0)
        knee = int(self.script.faults["knee"] or 0)
        if whole and delay and knee and self.slots is not None:  # decode shares the device past the knee
            if latency:
                await asyncio.sleep(latency)
            left = max(0, self._usage(reply)["completion_tokens"] - 1)
            while left > 0:
                running = int(self.script.faults["capacity"]) - self.slots._value  # noqa: SLF001 - test double
                step = min(left, 16)
                await asyncio.sleep(step * delay * max(1.0, running / knee))
                left -= step
            return
        if whole and delay:  # an unstreamed reply takes as long as the streamed one would
            latency += delay * max(0, self._usage(reply)["completion_tokens"] - 1)
        if latency:
            await asyncio.sleep(latency)

    def _user_text_and_effort(self, kind: str, body: dict[str, Any]) -> tuple[str, str | None]:
        if kind == "completions":
            text = self.enc.decode(body["prompt"])
            effort = next((e for e in ("low", "medium", "high") if f"Reasoning: {e}" in text), None)
            user = text.rsplit("<|start|>user<|message|>", 1)[-1].split("<|end|>", 1)[0]
            return user, effort
        if kind == "responses":
            items = body.get("input") or []
            users = [i.get("content") for i in items if isinstance(i, dict) and i.get("role") == "user"]
            text = users[-1] if users else ""
            return (text if isinstance(text, str) else json.dumps(text)), (body.get("reasoning") or {}).get("effort")
        msgs = body.get("messages") or []
        users = [m.get("content") for m in msgs if m.get("role") == "user"]
        return (users[-1] if users else ""), body.get("reasoning_effort")

    def _prompt_text(self, kind: str, body: dict[str, Any]) -> str:
        """The whole request as text, for ``match_prompt`` rules."""
        if kind == "completions":
            return self.enc.decode(body["prompt"])
        return json.dumps(body.get("messages") or body.get("input") or [])

    def _usage(self, reply: dict[str, Any]) -> dict[str, int]:
        reasoning = self._count(reply.get("analysis", ""))
        completion = reasoning + self._count(reply.get("final") or "") + sum(
            self._count(c.get("arguments", "")) for c in reply.get("tool_calls", []))
        completion = int(reply.get("completion_tokens", completion))  # a drawn length (faults.lengths)
        return {"prompt_tokens": 50, "completion_tokens": completion,
                "completion_tokens_details": {"reasoning_tokens": reasoning}}

    def _finish(self, reply: dict[str, Any]) -> str:
        return reply.get("finish_reason") or ("tool_calls" if reply.get("tool_calls") else "stop")

    def _completions(self, reply: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        text = ""
        if reply.get("analysis"):
            text += f"<|channel|>analysis<|message|>{reply['analysis']}"
            if reply.get("final") is not None or reply.get("tool_calls"):
                text += "<|end|><|start|>assistant"
            elif self._finish(reply) != "length":
                text += "<|end|>"
        for call in reply.get("tool_calls", []):
            text += (f"<|channel|>commentary to=functions.{call['name']} <|constrain|>json<|message|>"
                     f"{call['arguments']}<|call|>")
        if reply.get("final") is not None:
            text += f"<|channel|>final<|message|>{reply['final']}<|return|>"
        if reply.get("raw_text") is not None:
            text = reply["raw_text"]
        ids = self.enc.encode(text, allowed_special="all")
        # vLLM leaves the stop token out of the returned ids
        if ids and ids[-1] in (200002, 200012):
            ids = ids[:-1]
        usage = self._usage(reply)
        usage["completion_tokens"] = len(ids)
        return {"id": "cmpl-1", "object": "text_completion", "model": body.get("model"),
                "choices": [{"index": 0, "text": self.enc.decode(ids), "token_ids": ids,
                             "finish_reason": self._finish(reply) if self._finish(reply) == "length" else "stop"}],
                "usage": usage}

    def _chat(self, reply: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": reply.get("final"),
                               "reasoning": reply.get("analysis") or None}
        if reply.get("tool_calls"):
            msg["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                                  "function": {"name": c["name"], "arguments": c["arguments"]}}
                                 for i, c in enumerate(reply["tool_calls"])]
        return {"id": "chatcmpl-1", "object": "chat.completion", "model": body.get("model"),
                "choices": [{"index": 0, "message": msg, "finish_reason": self._finish(reply)}],
                "usage": self._usage(reply)}

    def _responses(self, reply: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        output: list[dict[str, Any]] = []
        if reply.get("analysis"):
            output.append({"type": "reasoning", "id": "rs_1", "summary": [],
                           "content": [{"type": "reasoning_text", "text": reply["analysis"]}]})
        for i, c in enumerate(reply.get("tool_calls", [])):
            output.append({"type": "function_call", "id": f"fc_{i}", "call_id": f"call_{i}", "name": c["name"],
                           "arguments": c["arguments"]})
        if reply.get("final") is not None:
            output.append({"type": "message", "role": "assistant",
                           "content": [{"type": "output_text", "text": reply["final"]}]})
        usage = self._usage(reply)
        truncated = self._finish(reply) == "length"
        return {"id": "resp_1", "object": "response", "model": body.get("model"),
                "status": "incomplete" if truncated else "completed",
                "incomplete_details": {"reason": "max_output_tokens"} if truncated else None, "output": output,
                "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                          "output_tokens_details": {"reasoning_tokens": usage["completion_tokens_details"][
                              "reasoning_tokens"]}}}


WRONG_SHAPES = ("not_an_object", "choices_not_a_list", "choice_not_an_object", "message_null", "message_a_list",
                "usage_not_an_object", "tool_calls_not_a_list", "content_not_text")


def wrong_shape(name: str, kind: str, data: dict[str, Any]) -> Any:
    """``data`` (a whole reply or one stream event of endpoint ``kind``) bent into the shape ``name``."""
    if name not in WRONG_SHAPES:
        raise ValueError(f"unknown wrong shape {name!r}; choose from {WRONG_SHAPES}")
    data = json.loads(json.dumps(data))  # a copy: the reply is reused
    if name == "not_an_object":
        return [data]
    if kind == "responses":
        response = data.get("response") if "type" in data else data  # a stream event, or the whole reply
        if isinstance(response, dict):
            _wrong_response(name, response)
        return data
    if name == "choices_not_a_list":
        data["choices"] = "choices"
    elif name == "choice_not_an_object":
        data["choices"] = ["choice", 7]
    elif name == "usage_not_an_object":
        if "usage" in data:
            data["usage"] = "lots"
    elif data.get("choices"):
        choice = data["choices"][0]
        if kind == "chat":
            part = "message" if "message" in choice else "delta"
            if name == "message_null":
                choice[part] = None
            elif name == "message_a_list":
                choice[part] = [choice[part]]
            elif name == "tool_calls_not_a_list":
                choice[part]["tool_calls"] = {"id": "call_0", "function": {"name": "f", "arguments": "{}"}}
            elif name == "content_not_text":
                choice[part]["content"] = 42
        elif name == "message_null":
            data["choices"] = [None]
        elif name == "message_a_list":
            data["choices"] = [[choice]]
        elif name == "tool_calls_not_a_list":
            choice["token_ids"] = "1 2 3"
        elif name == "content_not_text":
            choice["token_ids"], choice["text"] = [1.5, "x"], 42
    return data


def _wrong_response(name: str, response: dict[str, Any]) -> None:
    output = response.get("output") if isinstance(response.get("output"), list) else []
    message = next((i for i in output if i.get("type") == "message"), None)
    if message is None:
        message = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": ""}]}
        output.append(message)
    if name == "choices_not_a_list":
        response["output"] = "output"
    elif name == "choice_not_an_object":
        response["output"] = ["item", 7]
    elif name == "message_null":
        response["output"] = [None if i is message else i for i in output]
    elif name == "message_a_list":
        message["content"] = "text"
    elif name == "usage_not_an_object":
        response["usage"] = "lots"
    elif name == "tool_calls_not_a_list":
        response["output"] = [*output, {"type": "function_call", "call_id": "call_0", "name": "f",
                                        "arguments": {"x": 1}}]
    elif name == "content_not_text":
        message["content"] = [{"type": "output_text", "text": 42}]


def build_app(server: ScriptedServer, version: str = "scripted-0") -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def version_info(_: web.Request) -> web.Response:
        return web.json_response({"version": version})

    app.router.add_get("/health", health)
    app.router.add_get("/version", version_info)

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": "scripted", "object": "model", "max_model_len": int(server.script.server["max_model_len"])}]})

    app.router.add_get("/v1/models", models)

    async def metrics(_: web.Request) -> web.Response:
        """vLLM's gauges that tell how full the batch is, and its KV-cache configuration (``server`` settings
        ``num_gpu_blocks`` / ``block_size``; the slots of ``faults.capacity`` stand for the batch)."""
        slots = server.slots
        cap = int(server.script.faults["capacity"] or 0)
        running = cap - slots._value if slots is not None else 0  # noqa: SLF001 - test double
        waiting = len(slots._waiters or ()) if slots is not None else 0  # noqa: SLF001
        cfg = server.script.server
        return web.Response(text=(
            f'vllm:num_requests_running{{model_name="scripted"}} {running}\n'
            f'vllm:num_requests_waiting{{model_name="scripted"}} {waiting}\n'
            f'vllm:cache_config_info{{block_size="{cfg.get("block_size", 16)}",cache_dtype="auto",'
            f'num_gpu_blocks="{cfg.get("num_gpu_blocks", 4096)}"}} 1.0\n'))

    app.router.add_get("/metrics", metrics)
    for path in ("/v1/chat/completions", "/v1/responses", "/v1/completions"):
        app.router.add_post(path, server.handle)
    return app


def main(script_cls: type[Script] = Script, server_cls: type[ScriptedServer] | None = None,
         version: str = "scripted-0") -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", required=True, type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args()
    server = (server_cls or ScriptedServer)(script_cls(json.loads(args.script.read_text())), args.log)
    # shutdown_timeout: a "hang" reply must not hold the server's exit for a minute
    web.run_app(build_app(server, version), host="127.0.0.1", port=args.port, print=None, access_log=None,
                shutdown_timeout=1.0)


if __name__ == "__main__":
    main()
