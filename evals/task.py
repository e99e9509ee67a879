"""What a benchmark provides: samples, an episode against a model, and a grader.

A task never talks HTTP: it receives a :class:`ModelSession` whose ``generate`` hides the transport.
A single-turn benchmark only writes ``load``, ``prompt`` and ``grade``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from evals.types import Attempt, Grade, ModelOutput, Sample, Status

if TYPE_CHECKING:  # evals.clients is the transports' module; a task never needs it at run time
    from evals.clients import Sampling


class TaskError(Exception):
    """A task cannot go on; the message says why and what to do (the CLI prints it as one line)."""


class DataUnavailable(TaskError):
    """The benchmark data could not be loaded; the message says how to point at a local copy."""


class GenerationClient(Protocol):
    """What a session needs of a client: one generation call (every transport's ``ModelClient``, the balancer over
    several endpoints, and the tests' scripted clients have it)."""

    async def generate(self, messages: list[dict[str, Any]], *, effort: str, sampling: Sampling,
                       seed: int | None = None, tools: list[dict[str, Any]] | None = None) -> ModelOutput: ...


class ModelSession:
    """The model as one episode sees it: fixed effort, sampling and seed, with every call remembered."""

    def __init__(self, client: GenerationClient, *, effort: str, sampling: Sampling, seed: int,
                 peers: dict[str, ModelSession] | None = None) -> None:
        self.client = client
        self.effort = effort
        self.sampling = sampling
        self.seed = seed
        self.calls: list[ModelOutput] = []
        self.peers = peers or {}

    def peer(self, role: str) -> ModelSession:
        """Another model of the episode, e.g. the ``user_simulator`` of an agent benchmark."""
        try:
            return self.peers[role]
        except KeyError:
            raise KeyError(f"this task needs a {role!r} model; configure suite.models.{role}") from None

    async def generate(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> ModelOutput:
        # Each call of an episode gets its own seed so a retried turn is not a copy of the last one.
        out = await self.client.generate(messages, effort=self.effort, sampling=self.sampling,
                                         seed=self.seed + len(self.calls), tools=tools)
        self.calls.append(out)
        return out


@dataclass
class Episode:
    transcript: list[dict[str, Any]]
    output: ModelOutput  # the last model call
    status: Status | None = None  # None: derive it from the last output
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def assistant_message(out: ModelOutput) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": out.final or ""}
    if out.analysis:
        msg["reasoning"] = out.analysis
    if out.tool_calls:
        msg["tool_calls"] = [c.to_dict() for c in out.tool_calls]
    if out.commentary:
        msg["commentary"] = out.commentary
    if out.parts:  # Harmony: the messages in the order written, for the next prompt to repeat them exactly
        msg["parts"] = list(out.parts)
    return msg


class Task(ABC):
    """A benchmark. Subclasses set ``name`` and ``version`` (bump it when prompts or grading change)."""

    name: str = "task"
    version: str = "1"
    default_repeats: int = 1
    grade_in_thread: bool = False  # True for slow graders (running code): the engine grades off the event loop
    # Agent suites: the context one episode may fill (the doctor checks the server can hold it); None: one prompt
    # and its answer.
    max_context_tokens: int | None = None

    @abstractmethod
    def load(self) -> list[Sample]:
        """The samples, in a stable order."""

    @abstractmethod
    async def solve(self, sample: Sample, model: ModelSession) -> Episode:
        """Run one episode of ``sample`` against ``model``."""

    @abstractmethod
    def grade(self, sample: Sample, attempt: Attempt) -> Grade:
        """Score a stored attempt whose status is ``ok``. Must not call the model."""

    def settings(self) -> dict[str, Any]:
        """What about this task changes generations (goes into the settings hash)."""
        return {"name": self.name, "version": self.version}

    def card_key(self) -> str | None:
        """Row of the published-numbers table this task reproduces, if any."""
        return None

    # -- hooks the runner calls on every task (the defaults do nothing) ------------------------------------
    @property
    def needs_python_tool(self) -> bool:
        """True when the model is given gpt-oss's built-in python tool: the run needs the harmony transport and a
        client built with ``python_tool=True``."""
        return False

    def preflight(self) -> None:
        """Before the first request of a run that sends: raise :class:`TaskError` when something the whole run
        needs is missing (e.g. no container engine), so it fails once instead of once per attempt."""
        return None

    def finalize(self, run_dir: Path) -> object:
        """After a run or a regrade, with every attempt stored: suite-level scoring that needs them all (lm-eval's
        own metrics). The runner ignores the return value."""
        return None

    @classmethod
    def suite_metrics(cls, run_dir: Path) -> list[dict[str, Any]]:
        """The suite's own report sections for a finished run, computed from its store alone (``evals.suite_metrics``
        describes the form); the runner writes them to ``suite_metrics.json`` after a run or a regrade, and for a
        store that predates the file. A class method: an old store is reported without building the task."""
        return []


class SingleTurnTask(Task):
    """One user message in, one answer out."""

    @abstractmethod
    def prompt(self, sample: Sample) -> list[dict[str, Any]]:
        """The request messages for ``sample``."""

    async def solve(self, sample: Sample, model: ModelSession) -> Episode:
        messages = self.prompt(sample)
        out = await model.generate(messages)
        return Episode(transcript=[*messages, assistant_message(out)], output=out)
