"""The ``chat`` transport: ``/v1/chat/completions`` with ``reasoning_effort`` (the server renders Harmony and parses
reasoning and tool calls)."""

from __future__ import annotations

from types import NoneType
from typing import Any

from evals.clients.base import ModelClient, _sampling_fields
from evals.clients.errors import WrongShape
from evals.clients.shapes import _first_choice, _json_kind, _list, _obj, _text, _tool_call, _usage
from evals.clients.streaming import ChoiceStreamReader, StreamTimer
from evals.types import ModelOutput, ToolCall


class _ChatStream(ChoiceStreamReader):
    def __init__(self) -> None:
        super().__init__()
        self.analysis: list[str] = []
        self.final: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}

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
        return self._end_of_choice(choice, got, timer)

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

