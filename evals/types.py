"""The contracts every part of the harness shares: samples, model outputs, attempts and grades.

Messages use one neutral, chat-like shape across transports:
``{"role": "system"|"developer"|"user"|"assistant"|"tool", "content": str, ...}`` where an assistant
message may carry ``reasoning`` (the Harmony analysis channel) and ``tool_calls``
(``[{"id", "name", "arguments"}]``), and a tool message carries ``tool_call_id`` and ``name``. An assistant
message parsed from Harmony also carries ``commentary`` (preambles) and ``parts`` (see ``ModelOutput.parts``);
the Harmony renderer repeats them as written, the other transports ignore them.
A ``system`` message here is the instructions text; each transport decides where it goes in Harmony.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Effort = Literal["low", "medium", "high"]
EFFORTS: tuple[str, ...] = ("low", "medium", "high")

# Why an attempt has no usable answer; "ok" attempts are graded normally.
Status = Literal["ok", "truncated", "malformed", "error"]


@dataclass
class Sample:
    """One benchmark item: what the model sees, what grading compares against, and labels for reports."""

    id: str
    input: Any
    reference: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model wrote it; tasks decide how to treat bad JSON
    # Harmony only (None elsewhere): how the call was written, so the next prompt shows it exactly as emitted.
    channel: str | None = None  # "analysis" (built-in python) or "commentary" (functions)
    content_type: str | None = None  # "code", "<|constrain|>json", ...
    header: str | None = None  # the header text after the role, e.g. "<|channel|>analysis to=python code"

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "name": self.name, "arguments": self.arguments}
        for key in ("channel", "content_type", "header"):  # only when known: other transports' lines unchanged
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        return d


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.reasoning_tokens += other.reasoning_tokens


@dataclass
class ModelOutput:
    """One model call parsed into Harmony channels, the same structure for every transport."""

    analysis: str = ""
    final: str | None = None  # None: the model produced no final-channel message
    commentary: str = ""  # preambles on the commentary channel (not tool calls)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    ttft_s: float | None = None
    timing: dict[str, Any] | None = None  # streaming: ttft / tpot / itl of this call
    transport: str = ""
    parse_error: str | None = None
    # Harmony only (empty elsewhere): the completion's messages in the order written, so the next prompt repeats
    # them as emitted. A text message is {"channel", "header", "chars"} (+ "content_type"): its text is the next
    # ``chars`` characters of ``analysis`` / ``commentary`` / ``final`` by channel (the joins put one "\n" between
    # two messages), so the store holds no text twice; a tool call is {"call": index into ``tool_calls``}.
    parts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length" and self.final is None and not self.tool_calls

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)  # asdict() recurses and deep-copies: too slow for the per-attempt path
        d["usage"] = dict(self.usage.__dict__)
        d["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if not self.parts:  # other transports' lines unchanged
            del d["parts"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelOutput:
        d = dict(d)
        d["usage"] = Usage(**d.get("usage", {}))
        d["tool_calls"] = [ToolCall(**t) for t in d.get("tool_calls", [])]
        return cls(**d)


@dataclass
class Attempt:
    """One line of the store: a sample x repeat at one effort, as generated (grading lives apart)."""

    key: str
    run_id: str
    suite: str
    sample_id: str
    repeat: int
    seed: int
    effort: str
    model: str
    transport: str
    settings_hash: str
    status: Status
    output: dict[str, Any]  # the last ModelOutput.to_dict() of the episode
    transcript: list[dict[str, Any]]  # neutral messages, request and replies, every turn
    usage: dict[str, int]  # summed over every model call of the episode
    n_calls: int
    started_at: float
    ended_at: float
    latency_s: float
    ttft_s: float | None = None
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)  # task-specific episode facts (steps, stop reason...)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # fields are already plain JSON values

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Attempt:
        return cls(**d)

    @property
    def final_text(self) -> str | None:
        return self.output.get("final")


@dataclass
class Grade:
    key: str
    score: float | None  # None: could not be scored (grader infrastructure failed); left out of accuracy
    answer: Any = None  # what the grader extracted from the final channel
    reason: str = ""  # why the score is what it is, in words a reader understands
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def attempt_key(sample_id: str, repeat: int) -> str:
    return f"{sample_id}#{repeat}"
