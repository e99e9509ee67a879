"""The ``responses`` transport: ``/v1/responses`` with ``reasoning.effort``."""

from __future__ import annotations

from typing import Any

from evals import harmony
from evals.clients.base import ModelClient, _sampling_fields
from evals.clients.errors import WrongShape
from evals.clients.health import CANARY_TEXT
from evals.clients.shapes import _json_kind, _list, _obj, _text, _usage
from evals.clients.streaming import StreamReader, StreamTimer
from evals.types import ModelOutput, ToolCall


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

