"""Tools the harness executes itself (gpt-oss's built-in ``python``, or function tools) on the agent loop.

::

    episode = await run_tool_loop(model, messages, {"python": kernel.run})

:func:`run_tool_loop` configures :class:`evals.agent_loop.AgentLoop` (every call of a turn, a call limit, a
raising tool reported to the model). Call the model; while its output asks for tools, run each call, append the assistant turn and one tool message
per call, and call the model again. It stops when the model answers without a tool call (``stop_reason``
``"final"``, or ``"truncated"``/``"no_final"`` when that answer is unusable), or when the model asks for more than
``max_tool_calls`` calls in the attempt (``"tool_limit"``: the extra calls are not run and the attempt has no final
answer). A tool that raises is reported to the model as the call's output and the loop goes on; only exception
types listed in ``fatal`` (infrastructure that makes the whole run meaningless) propagate.

The call limit is a backstop, not part of the protocol (no reference harness has one, and the model is never
told of it), so its default, 8,192, cannot be met before the card's 131,072-token context is full: a round of
a realistic size (a one-line thought, a short sympy cell and its output, 126 tokens) filled that context after
1,038 calls, and even the smallest possible round (a one-character cell and its one-line result, 22 tokens)
fits 5,948 times (tests/bench/bench_tool_calls.py). It only matters with a longer context or a limit
set lower; the report counts, per run, the attempts that met it (a WARNING when any did).

:func:`solve_with_python` is the with-tools mode of a single-turn task: a fresh sandboxed kernel per attempt,
closed at the end whatever happens. Episode ``info`` gets ``tool_calls``, ``tool_seconds``, ``stop_reason``,
``tool_errors`` and the kernel's ``tool_timeouts``/``tool_crashes``/``tool_kernel_starts``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from evals.agent_loop import AgentLoop, Limits
from evals.python_tool import PythonKernel, PythonToolLimits, SandboxUnavailable, ToolEnvMissing
from evals.task import Episode, ModelSession, TaskError
from evals.types import ToolCall

__all__ = ["DEFAULT_MAX_TOOL_CALLS", "ToolHandler", "ToolTransportError", "check_python_tool", "check_python_transport",
           "run_tool_loop", "solve_with_python"]

DEFAULT_MAX_TOOL_CALLS = 8192  # see the module doc: more calls than 131,072 tokens can hold
# What gpt-oss imports (the tool environment's packages); the start-of-run check imports them in the sandbox.
_PREFLIGHT_CELL = "import numpy, scipy, sympy, mpmath, networkx"
ToolHandler = Callable[[str], Awaitable[str]]  # the call's raw arguments (python: the code) -> what the model reads


class PythonToolMode:
    """A suite's optional with-tools mode (``suite.tools: python``), shared by the tasks that offer it."""

    tools: str | None = None

    def setup_python_tool(self, tools: str | None, max_tool_calls: int, tool_options: Mapping[str, Any] | None) -> None:
        if tools in (None, "", "none", False):
            self.tools = None
        elif tools == "python":
            self.tools = "python"
        else:
            raise ValueError(f"suite.tools must be python or null, got {tools!r}")
        self.max_tool_calls = int(max_tool_calls)
        self.tool_options = dict(tool_options or {})
        if self.tools:
            self.tool_limits = PythonToolLimits.from_options(self.tool_options)

    @property
    def needs_python_tool(self) -> bool:
        """True in the with-tools mode: the client must be harmony, built with ``python_tool=True``."""
        return self.tools == "python"

    def preflight(self) -> None:
        """Before any request: the tool works here (see :func:`check_python_tool`)."""
        if self.tools:
            check_python_tool(self.tool_limits)


def check_python_tool(limits: PythonToolLimits) -> None:
    """Start one sandboxed kernel and import the tool environment's packages in it; a :class:`TaskError` (one
    line) if that fails, so a broken tool stops the run instead of being every attempt's tool output."""
    import asyncio

    cell, expected = (_PREFLIGHT_CELL, "") if limits.env == "pinned" else ("6 * 7", "42\n")

    async def probe() -> str:
        async with PythonKernel(limits) as kernel:
            return await kernel.run(cell)

    try:
        out = asyncio.run(probe())
    except SandboxUnavailable as exc:
        raise TaskError(f"the python tool needs a sandbox: {exc}") from None
    if out != expected:
        last = (out.strip().splitlines() or ["no output"])[-1]
        raise TaskError(f"the python tool does not work in its sandbox ({last}); run `bash runners/setup_tool_env.sh`")


class ToolTransportError(ValueError):
    """The configured transport cannot carry the built-in python tool."""


def check_python_transport(client: Any) -> None:
    """Raise :class:`ToolTransportError` unless ``client`` renders the built-in python tool (harmony, python_tool)."""
    transport = getattr(client, "transport", None)
    if transport != "harmony":
        raise ToolTransportError(
            f"the with-tools suites give the model gpt-oss's built-in python tool, which only the token-level "
            f"Harmony transport can declare; set client=harmony (configured transport: {transport!r})")
    # a balancer over several endpoints (evals.balancer) holds one harmony client per endpoint
    inner = [getattr(ep, "client", ep) for ep in getattr(client, "endpoints", None) or []] or [client]
    if not (getattr(client, "python_tool", False) or all(getattr(c, "python_tool", False) for c in inner)):
        raise ToolTransportError("the harmony client was built without python_tool=True, so the model would not "
                                 "see the python tool in its system message")


async def run_tool_loop(model: ModelSession, messages: list[dict[str, Any]], handlers: Mapping[str, ToolHandler], *,
                        max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS, function_tools: list[dict[str, Any]] | None = None,
                        fatal: tuple[type[BaseException], ...] = ()) -> Episode:
    """Run the model with tools until it answers or hits ``max_tool_calls``; see the module doc."""

    def call_with_arguments(handler: ToolHandler) -> Callable[[ToolCall], Awaitable[str]]:
        return lambda call: handler(call.arguments)

    loop = AgentLoop(model, list(messages), tools=function_tools,
                     handlers={name: call_with_arguments(h) for name, h in handlers.items()},
                     limits=Limits(max_tool_calls=max_tool_calls), tool_exceptions=(Exception,), fatal=fatal)
    stop = await loop.run()
    info: dict[str, Any] = {"tool_calls": loop.tool_calls, "tool_seconds": round(sum(r.seconds for r in loop.runs), 3),
                            "stop_reason": stop, "tool_errors": loop.tool_errors, "max_tool_calls": max_tool_calls}
    return Episode(transcript=loop.transcript, output=loop.last, info=info)


async def solve_with_python(model: ModelSession, messages: list[dict[str, Any]], *, limits: PythonToolLimits,
                            max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS) -> Episode:
    """One attempt with the built-in python tool: a fresh sandboxed kernel, the tool loop, the kernel closed."""
    check_python_transport(model.client)
    kernel = PythonKernel(limits)
    try:
        episode = await run_tool_loop(model, messages, {"python": kernel.run}, max_tool_calls=max_tool_calls,
                                      fatal=(SandboxUnavailable, ToolEnvMissing))
    finally:
        await kernel.close()
    stats = kernel.stats
    episode.info.update({"tool_timeouts": stats.timeouts, "tool_crashes": stats.crashes,
                         "tool_kernel_starts": stats.starts})
    return episode
