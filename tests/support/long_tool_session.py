"""A scripted model that calls the python tool until its context window is full, through the real tool loop.

Every turn renders the real Harmony prompt (what the harmony client would send); the model writes one thought
and one python cell (the real kernel runs it) until prompt plus turn no longer fit in ``max_model_len``, and then
answers with ``finish_reason=length`` as a server would. The number of calls such a session makes is what a
context window holds, which is what the default call limit (evals.tool_loop.DEFAULT_MAX_TOOL_CALLS) must stay
above. Used by tests/tasks/test_aime_tools.py and measured at full size by tests/bench/bench_tool_calls.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evals import harmony
from evals.clients import Sampling
from evals.python_tool import PythonToolLimits
from evals.task import Episode, ModelSession
from evals.tool_loop import DEFAULT_MAX_TOOL_CALLS, solve_with_python
from evals.types import ModelOutput

QUESTION = [{"role": "user", "content": "How many k in 1..999 make k^2 + 3k divisible by 7?"}]


@dataclass(frozen=True)
class Round:
    """What the model writes per call: a thought (may be empty) and a cell."""

    name: str
    thought: str
    cell: str


# the smallest call gpt-oss could make, and one of a realistic size (a one-line thought, a short sympy cell)
MINIMAL = Round("minimal", "", "1")
REALISTIC = Round("realistic", "We need to verify the count; brute force with sympy to be safe and compare with "
                               "the formula.",
                  "import sympy as sp\nsols = [k for k in range(1, 1000) if (k**2 + 3*k) % 7 == 0]\n"
                  "len(sols), sols[:10]")


class ContextModel:
    """Looks like the harmony client with the python tool on; fills its context with ``round`` calls."""

    transport = "harmony"
    python_tool = True

    def __init__(self, round_: Round, max_model_len: int) -> None:
        self.round = round_
        self.max_model_len = max_model_len
        self.prompt_tokens: list[int] = []  # prompt length per request
        head = f"<|channel|>analysis<|message|>{round_.thought}<|end|><|start|>assistant" if round_.thought else ""
        self.completion = harmony.encoding().encode(
            f"{head}<|channel|>analysis to=python code<|message|>{round_.cell}<|call|>", allowed_special="all")

    async def generate(self, messages: list[dict[str, Any]], *, effort: str, sampling: Any, seed: int | None = None,
                       tools: Any = None) -> ModelOutput:
        prompt = harmony.render_prompt(messages, effort, python_tool=True)
        self.prompt_tokens.append(len(prompt))
        if len(prompt) + len(self.completion) > self.max_model_len:
            return ModelOutput(analysis="out of room", finish_reason="length")
        out = harmony.parse_completion_tokens(self.completion[:-1])  # the server leaves the stop token out
        out.finish_reason = "stop"
        return out


async def long_session(round_: Round, max_model_len: int, *, max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS,
                       limits: PythonToolLimits | None = None) -> tuple[Episode, ContextModel]:
    model = ContextModel(round_, max_model_len)
    session = ModelSession(model, effort="high", sampling=Sampling(), seed=0)
    episode = await solve_with_python(session, QUESTION, limits=limits or PythonToolLimits(timeout_s=30),
                                      max_tool_calls=max_tool_calls)
    return episode, model
