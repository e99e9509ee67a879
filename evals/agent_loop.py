"""The one agent loop: a model, the tools the harness runs for it, limits, and other models (peers) of the episode.

Every multi-turn suite configures this loop rather than writing its own (the python tool of AIME and
Codeforces through :mod:`evals.tool_loop`, Tau-Bench v1 and tau2 retail, SWE-bench)::

    loop = AgentLoop(model, transcript, tools=schemas, handlers={"python": run_cell},
                     limits=Limits(max_tool_calls=8192))
    stop = await loop.run()  # the stop reason; loop.transcript, loop.runs, loop.steps ... say what happened

One turn:

1. the limits checked before a model call: ``max_steps`` (``loop.steps``), then the wall clock (``max_seconds``
   from ``started``);
2. one model call on the transcript. With a wall-time limit, a call still running when it is reached is
   cancelled. A rejected request (:class:`evals.clients.RequestRejected`) goes to ``on_rejected`` (a stop
   reason), or propagates when there is none; so does every other error of the call;
3. the output becomes one transcript message through ``message`` (by default :func:`evals.task.assistant_message`;
   Tau writes its own, as the benchmark records a turn), given the calls that will run, renamed by
   ``rename_call`` when an id is empty or already used in the episode; ``on_output`` may stop here (e.g. an
   unreadable reply);
4. an output without tool calls goes to ``on_answer``, which returns a stop reason or None to go on: a user
   simulator's reply is added there, and the next turn is the agent's answer to it;
5. an output with tool calls: if running them would pass ``max_tool_calls`` none runs (the stop is named by
   ``tool_calls_reason``). Otherwise the calls (all of them, or only the first with ``calls_per_turn="first"``;
   parallel calls of one output run one after another, in the order written) each go to the handler of their
   name (``fallback`` for any other name; without one the model reads that no such tool exists) and are
   answered by one ``tool`` message. ``after_call`` may end the turn after a call (the later calls do not run),
   ``after_tools`` is asked after the batch either way, then ``max_tool_errors`` and the wall clock are checked.

A handler returns the text the model reads (or a :class:`ToolResult` that also says whether it was an error).
Exceptions of the types in ``tool_exceptions`` become the call's output (``describe_exception``) and the loop
goes on; ``fatal`` types and all others propagate. :class:`EpisodeFailure`, raised by any hook (a peer model
that gave nothing usable, an agent turn with no action), ends the episode with ``failure_reason``; the failure
is kept in ``loop.failure``. ``opening`` runs before the first turn (a user simulator that speaks first) and
``closing`` after the last (a judge), both under the same failure handling.

Stop reasons are the suite's own words (``max_steps`` here, ``step_limit`` there), so each limit's name is
configurable; ``loop.limit_detail`` says where a wall-time limit was met.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, NoReturn

from evals.clients import RequestRejected
from evals.task import ModelSession, assistant_message
from evals.types import ModelOutput, Status, ToolCall

__all__ = ["AgentLoop", "EpisodeFailure", "Limits", "ToolHandler", "ToolResult", "ToolRun", "ask_peer",
           "fail_on_rejection", "final_answer", "peer_reply"]


@dataclass(frozen=True)
class ToolResult:
    """What one tool call gave: the text the model reads and whether it counts as a tool error."""

    text: str
    error: bool = False


@dataclass(frozen=True)
class ToolRun:
    """One executed call: the step it came in (``loop.steps`` then), the call as recorded, its result, its time."""

    step: int
    call: ToolCall
    result: ToolResult
    seconds: float


ToolHandler = Callable[[ToolCall], Awaitable["str | ToolResult"]]


class EpisodeFailure(Exception):
    """A model of the episode (``role``: agent, user_simulator, judge...) gave nothing usable: the episode ends
    with the loop's ``failure_reason`` and is stored with ``status`` and this message as its error."""

    def __init__(self, role: str, status: Status, message: str, output: ModelOutput | None = None) -> None:
        super().__init__(message)
        self.role = role
        self.status = status
        self.output = output


@dataclass(frozen=True)
class Limits:
    """When the loop stops by itself (None: no such limit), and what each ending is called."""

    max_steps: int | None = None  # checked before each model call against loop.steps
    max_tool_calls: int | None = None  # calls of the episode; a turn that would pass it runs none
    max_tool_errors: int | None = None  # checked after each turn's tool calls
    max_seconds: float | None = None  # wall clock from ``started``; cancels a model call still running
    steps_reason: str = "max_steps"
    tool_calls_reason: str = "tool_limit"
    tool_errors_reason: str = "too_many_errors"
    seconds_reason: str = "time_limit"


async def final_answer(out: ModelOutput) -> str:
    """The default ``on_answer``: an output without tool calls ends the loop, ``final`` when it has an answer,
    ``truncated`` when the length limit cut it first, else ``no_final``."""
    return "final" if out.final is not None else ("truncated" if out.truncated else "no_final")


def _describe_exception(call: ToolCall, exc: Exception) -> str:
    return f"[The {call.name} tool failed: {type(exc).__name__}: {exc}]"


def _label(role: str) -> str:
    return role.replace("_", " ")


def fail_on_rejection(role: str) -> Callable[[RequestRejected], NoReturn]:
    """An ``on_rejected`` that ends the episode as a failure of ``role`` ("agent request rejected: ...")."""

    def rejected(exc: RequestRejected) -> NoReturn:
        raise EpisodeFailure(role, "error", f"{_label(role)} request rejected: {exc}") from exc

    return rejected


async def ask_peer(peer: ModelSession, messages: list[dict[str, Any]], role: str) -> ModelOutput:
    """One call of a peer model (no tools); a rejected request is an :class:`EpisodeFailure` of ``role``."""
    try:
        return await peer.generate(messages)
    except RequestRejected as exc:
        fail_on_rejection(role)(exc)


async def peer_reply(peer: ModelSession, history: list[dict[str, Any]], role: str) -> str:
    """One turn of a peer that converses (a user simulator): its final-channel text, appended to its own
    ``history``; its analysis never leaves it. No final message is an :class:`EpisodeFailure` of ``role``."""
    out = await ask_peer(peer, history, role)
    if out.final is None:
        raise EpisodeFailure(
            role, "error",
            f"{_label(role)} produced no final message (finish_reason={out.finish_reason}"
            + (f", parse error: {out.parse_error}" if out.parse_error else "") + ")", out)
    history.append({"role": "assistant", "content": out.final})
    return out.final


class _Expired(Exception):
    """The wall-time limit cancelled a model call."""


class AgentLoop:
    """One episode's loop; see the module doc for the turn and for what each option does."""

    def __init__(self, model: ModelSession, transcript: list[dict[str, Any]], *,
                 tools: list[dict[str, Any]] | None = None, handlers: Mapping[str, ToolHandler] | None = None,
                 fallback: ToolHandler | None = None, limits: Limits | None = None, started: float | None = None,
                 calls_per_turn: Literal["all", "first"] = "all",
                 rename_call: Callable[[ToolCall, int, int], str] | None = None,
                 message: Callable[[ModelOutput, list[ToolCall]], dict[str, Any]] | None = None,
                 opening: Callable[[], Awaitable[str | None]] | None = None,
                 on_output: Callable[[ModelOutput], str | None] | None = None,
                 on_answer: Callable[[ModelOutput], Awaitable[str | None]] = final_answer,
                 after_call: Callable[[ToolRun], str | None] | None = None,
                 after_tools: Callable[[ModelOutput], str | None] | None = None,
                 closing: Callable[[str], Awaitable[None]] | None = None,
                 on_rejected: Callable[[RequestRejected], str] | None = None,
                 tool_exceptions: tuple[type[Exception], ...] = (),
                 fatal: tuple[type[BaseException], ...] = (),
                 describe_exception: Callable[[ToolCall, Exception], str] = _describe_exception,
                 failure_reason: str = "model_error") -> None:
        if calls_per_turn not in ("all", "first"):
            raise ValueError(f"calls_per_turn must be 'all' or 'first', got {calls_per_turn!r}")
        self.model = model
        self.transcript = transcript  # extended in place: the caller's list is the episode's transcript
        self.tools = tools
        self.handlers = dict(handlers or {})
        self.fallback = fallback
        self.limits = limits or Limits()
        self.started = time.monotonic() if started is None else started
        self.calls_per_turn = calls_per_turn
        self.rename_call = rename_call  # (call, index in the turn, step) -> id, for an empty or repeated id
        self.message = message or (lambda out, calls: assistant_message(out))
        self.opening = opening
        self.on_output = on_output
        self.on_answer = on_answer
        self.after_call = after_call
        self.after_tools = after_tools
        self.closing = closing
        self.on_rejected = on_rejected
        self.tool_exceptions = tool_exceptions
        self.fatal = fatal
        self.describe_exception = describe_exception
        self.failure_reason = failure_reason
        # what happened
        self.turns = 0  # model calls that returned an output
        self.steps = 0  # one per turn; hooks may count more (tau2 counts every message)
        self.requests = 0  # model calls sent, one that failed or was cancelled included
        self.tool_calls = 0
        self.tool_errors = 0
        self.runs: list[ToolRun] = []
        self.last = ModelOutput()  # the last output of the model (not of a peer)
        self.stop: str | None = None
        self.failure: EpisodeFailure | None = None
        self.limit_detail: str | None = None
        self._ids: set[str] = set()

    def remaining_seconds(self) -> float:
        """Wall time left under ``max_seconds`` (infinite without that limit)."""
        if self.limits.max_seconds is None:
            return float("inf")
        return self.limits.max_seconds - (time.monotonic() - self.started)

    async def run(self) -> str:
        """Turns until a limit or a hook stops the episode; returns (and keeps in ``stop``) the reason."""
        try:
            stop = await self.opening() if self.opening is not None else None
            while stop is None:
                stop = await self._turn()
            if self.closing is not None:
                await self.closing(stop)
        except EpisodeFailure as exc:
            stop, self.failure = self.failure_reason, exc
        self.stop = stop
        return stop

    async def _turn(self) -> str | None:
        limits = self.limits
        if limits.max_steps is not None and self.steps >= limits.max_steps:
            return limits.steps_reason
        remaining = self.remaining_seconds()
        if remaining <= 0:
            self.limit_detail = "reached before a model call"
            return limits.seconds_reason
        self.requests += 1
        try:
            out = await self._generate(remaining)
        except _Expired:
            self.limit_detail = (f"a model call was still running at the {limits.max_seconds:g} s limit and was "
                                 f"cancelled")
            return limits.seconds_reason
        except RequestRejected as exc:
            if self.on_rejected is None:
                raise
            return self.on_rejected(exc)
        self.turns += 1
        self.steps += 1
        self.last = out
        calls = out.tool_calls[:1] if self.calls_per_turn == "first" else list(out.tool_calls)
        if self.rename_call is not None:
            calls = self._unique_ids(calls)
        self.transcript.append(self.message(out, calls))
        if self.on_output is not None and (stop := self.on_output(out)):
            return stop
        if not calls:
            return await self.on_answer(out)
        if limits.max_tool_calls is not None and self.tool_calls + len(calls) > limits.max_tool_calls:
            return limits.tool_calls_reason
        stop = None
        for call in calls:
            run = await self._run_call(call)
            if self.after_call is not None and (stop := self.after_call(run)):
                break
        after = self.after_tools(out) if self.after_tools is not None else None
        if stop or after:
            return stop or after
        if limits.max_tool_errors is not None and self.tool_errors >= limits.max_tool_errors:
            return limits.tool_errors_reason
        if self.remaining_seconds() <= 0:
            self.limit_detail = "reached while tools ran"
            return limits.seconds_reason
        return None

    async def _generate(self, remaining: float) -> ModelOutput:
        if self.limits.max_seconds is None:
            return await self.model.generate(self.transcript, tools=self.tools)
        try:
            async with asyncio.timeout(remaining) as budget:
                return await self.model.generate(self.transcript, tools=self.tools)
        except TimeoutError:
            if not budget.expired():  # raised by the call itself, not by the limit
                raise
            raise _Expired from None

    def _unique_ids(self, calls: list[ToolCall]) -> list[ToolCall]:
        out = []
        for index, call in enumerate(calls):
            if not call.id or call.id in self._ids:
                assert self.rename_call is not None
                call = replace(call, id=self.rename_call(call, index, self.steps))
            self._ids.add(call.id)
            out.append(call)
        return out

    async def _run_call(self, call: ToolCall) -> ToolRun:
        self.tool_calls += 1
        handler = self.handlers.get(call.name, self.fallback)
        started = time.perf_counter()
        if handler is None:
            available = ", ".join(sorted(self.handlers)) or "none"
            result = ToolResult(f"[There is no tool named {call.name!r}; available: {available}.]", error=True)
        else:
            try:
                value = await handler(call)
            except self.fatal:
                raise
            except self.tool_exceptions as exc:  # the model's information, not the episode's end
                result = ToolResult(self.describe_exception(call, exc), error=True)
            else:
                result = value if isinstance(value, ToolResult) else ToolResult(value)
        run = ToolRun(step=self.steps, call=call, result=result, seconds=time.perf_counter() - started)
        self.tool_errors += int(result.error)
        self.transcript.append({"role": "tool", "tool_call_id": call.id, "name": call.name, "content": result.text})
        self.runs.append(run)
        return run
