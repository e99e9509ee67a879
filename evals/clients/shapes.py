"""Shape checks on the JSON a server sends back: a field of the wrong type is a :class:`WrongShape` (retried),
never a crash deep in a parser."""

from __future__ import annotations

import json
from typing import Any

from evals import harmony
from evals.clients.errors import WrongShape
from evals.types import ToolCall, Usage


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


def _tool_call(call: Any, i: int, what: str) -> ToolCall:
    call = _obj(call, what)
    fn = _obj(call.get("function") if call.get("function") is not None else {}, f"{what}.function")
    return ToolCall(id=_text(call.get("id"), f"{what}.id") or f"call_{i}", name=_text(fn.get("name"), f"{what}.name"),
                    arguments=_text(fn.get("arguments"), f"{what}.arguments"))


