"""The ``harmony`` transport: token-level Harmony. We render the prompt with ``openai_harmony``, send token ids
to ``/v1/completions`` and parse the completion tokens ourselves (the most faithful path)."""

from __future__ import annotations

from typing import Any

from evals import harmony
from evals.clients.base import ModelClient, _sampling_fields
from evals.clients.health import CANARY_TEXT
from evals.clients.shapes import _first_choice, _list, _obj, _text, _token_ids, _usage
from evals.clients.streaming import ChoiceStreamReader, StreamTimer
from evals.types import ModelOutput


class _CompletionsStream(ChoiceStreamReader):
    def __init__(self, prompt_len: int) -> None:
        super().__init__()
        self.prompt_len = prompt_len
        self.ids: list[int] = []
        self.text: list[str] = []
        self.has_ids = False

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
        return self._end_of_choice(choice, bool(ids or text), timer)

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

