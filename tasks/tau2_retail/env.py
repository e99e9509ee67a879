"""tau2-bench retail environment: tool dispatch for one episode, the prompts, and the reward (spec section 10).

No model or HTTP code lives here; :mod:`tasks.tau2_retail.task` drives the loop::

    env = Tau2Env(data, task)
    obs = env.step_tool(name, arguments_json)     # every call of a turn, in order
    info = env.reward(respond_texts, nl=...)      # product of the task's reward_basis components

Reward (tau2's evaluator): **DB** replays the agent's successful-or-not WRITE calls on a fresh DB (the
"predicted" environment; reads and unknown tools are skipped, as tau2's ``set_state`` does) and every gold
action on another fresh DB, and compares ``sha256(json.dumps(db, sort_keys=True))``. A gold action that
fails is recorded (``gold_write_errors``) and the hashes are compared all the same, as upstream (it logs
a warning). **COMMUNICATE** is v1's substring rule over every text the agent wrote, with or without tool
calls (tau2 reads every assistant message). **NL_ASSERTION** is the judge's verdict (all assertions met),
1 where the task has none.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tasks.tau_retail.data import copy_json
from tasks.tau_retail.env import outputs_found, parse_arguments

from .data import Tau2Data, Tau2Task
from .tools import TOOLS, WRITE_TOOLS, Tau2DB, invoke_tool

CallStatus = Literal["ok", "error", "unknown_tool", "malformed_arguments"]


@dataclass
class Tau2ToolCall:
    """One executed tool call (what the reward replays)."""

    name: str
    arguments: Any  # parsed kwargs, or the raw value when it could not be parsed
    observation: str
    status: CallStatus
    detail: str | None = None

    @property
    def error(self) -> bool:
        return self.status != "ok"

    @property
    def write(self) -> bool:
        return self.name in WRITE_TOOLS


@dataclass
class Tau2Reward:
    reward: float
    components: dict[str, float]  # reward_basis component -> 0/1 (DB left out when not evaluated)
    db_match: bool
    agent_hash: str
    gold_hash: str
    missing_communicate: list[str] = field(default_factory=list)
    nl: dict[str, Any] | None = None
    gold_write_errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"reward": self.reward, "components": dict(self.components), "db_match": self.db_match,
                "agent_hash": self.agent_hash, "gt_hash": self.gold_hash,
                "missing_communicate": list(self.missing_communicate), "nl": self.nl,
                "gold_write_errors": list(self.gold_write_errors)}


# ----------------------------------------------------------------------------------------------
# prompts


def agent_system_prompt(data: Tau2Data) -> str:
    p = data.prompts
    return p["agent_system_prompt_template"].format(agent_instruction=p["agent_instruction"], domain_policy=data.policy)


def scenario_text(task: Tau2Task) -> str:
    """tau2's rendering of a user scenario: optional ``Persona:``, then ``Instructions:`` with tab-indented blocks."""
    ins = task.instructions
    if isinstance(ins, str):
        body = ins
    else:
        lines = [f"Domain: {ins['domain']}", f"Reason for call:\n{textwrap.indent(ins['reason_for_call'], chr(9))}"]
        if ins.get("known_info") is not None:
            lines.append(f"Known info:\n{textwrap.indent(ins['known_info'], chr(9))}")
        if ins.get("unknown_info") is not None:
            lines.append(f"Unknown info:\n{textwrap.indent(ins['unknown_info'], chr(9))}")
        lines.append(f"Task instructions:\n{textwrap.indent(ins['task_instructions'], chr(9))}")
        body = "\n".join(lines)
    out = []
    if task.persona is not None:
        out += ["Persona:", textwrap.indent(task.persona, "\t")]
    out += ["Instructions:", textwrap.indent(body, "\t")]
    return "\n".join(out)


def user_system_prompt(data: Tau2Data, task: Tau2Task) -> str:
    return data.prompts["user_system_prompt_template"].format(global_user_sim_guidelines=data.user_guidelines,
                                                              instructions=scenario_text(task))


def stop_token_in(text: str, tokens: Sequence[str]) -> str | None:
    return next((t for t in tokens if t in text), None)


# ----------------------------------------------------------------------------------------------
# the NL-assertion judge (our prompt; tau2's wording is not copied, its answer format is kept)

JUDGE_SYSTEM = (
    "You grade a customer-service conversation between an agent and a customer against a list of expected "
    "outcomes. Judge every expected outcome on its own, from the conversation only.\n"
    "Answer with one JSON object and nothing else:\n"
    '{"results": [{"expectedOutcome": "<the outcome, repeated>", "reasoning": "<short reason>", '
    '"metExpectation": true or false}]}'
)


def judge_messages(transcript: Sequence[Mapping[str, Any]], assertions: Sequence[str]) -> list[dict[str, str]]:
    """The judge's request: the conversation as ``role: text`` lines (tool calls and results included)."""
    lines = []
    for m in transcript:
        role = m.get("role")
        if role == "system":
            continue
        if m.get("tool_calls"):
            calls = ", ".join(f"{c['name']}({c['arguments']})" for c in m["tool_calls"])
            lines.append(f"assistant: [tool calls] {calls}")
        text = m.get("content") or m.get("undelivered_text")  # tau2's judge reads a tool-call turn's text too
        if text:
            lines.append(f"{role}: {text}")
    user = ("conversation:\n" + "\n".join(lines) + "\n\nexpectedOutcomes:\n" + json.dumps(list(assertions)))
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def parse_judge(text: str) -> list[dict[str, Any]]:
    """The ``results`` of a judge reply (a JSON object, possibly inside a code fence); ValueError if unreadable."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the judge's reply")
    obj = json.loads(text[start:end + 1])
    results = obj.get("results") if isinstance(obj, dict) else None
    if not isinstance(results, list):
        raise ValueError("the judge's JSON has no 'results' list")
    return [{"expectedOutcome": r.get("expectedOutcome"), "met": bool(r.get("metExpectation")),
             "reasoning": r.get("reasoning")} for r in results if isinstance(r, dict)]


# ----------------------------------------------------------------------------------------------


def replay(db: Tau2DB, calls: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[str, bool]]:
    return [invoke_tool(db, name, copy_json(kwargs)) for name, kwargs in calls]


def gold_state(data: Tau2Data, task: Tau2Task) -> tuple[str, list[str]]:
    """Hash after replaying every gold action on a fresh DB, and the gold WRITE actions that failed (cached)."""

    def build() -> tuple[str, list[str]]:
        db = Tau2DB(data)  # type: ignore[arg-type]
        failed = []
        for a in task.actions:
            obs, error = invoke_tool(db, a.name, copy_json(a.arguments))
            if error and a.name in WRITE_TOOLS:
                failed.append(f"{a.action_id} {a.name}: {obs}")
        return db.hash(), failed

    return data.cached(f"gold:{task.release}:{task.id}", build)


class Tau2Env:
    """One tau2 retail episode (create one per concurrent episode)."""

    def __init__(self, data: Tau2Data, task: Tau2Task, *, malformed_args: str = "abort") -> None:
        self.data = data
        self.task = task
        self.malformed_args = malformed_args
        self.db = Tau2DB(data)  # type: ignore[arg-type]
        self.tool_log: list[Tau2ToolCall] = []
        self.abort_reason: str | None = None

    @property
    def errors(self) -> int:
        return sum(c.error for c in self.tool_log)

    def step_tool(self, name: str, arguments: Any) -> str:
        kwargs, problem = parse_arguments(arguments)
        if kwargs is None:
            obs = f"Error: malformed tool arguments for {name}: {problem}"
            self.tool_log.append(Tau2ToolCall(name, arguments, obs, "malformed_arguments", problem))
            if self.malformed_args == "abort":
                self.abort_reason = f"malformed arguments for tool {name!r}: {problem}"
            return obs
        obs, error = invoke_tool(self.db, name, kwargs)
        status: CallStatus = ("unknown_tool" if name not in TOOLS else "error") if error else "ok"
        self.tool_log.append(Tau2ToolCall(name, kwargs, obs, status, obs if error else None))
        return obs

    def agent_writes(self) -> list[tuple[str, dict[str, Any]]]:
        """The calls tau2's predicted environment replays: known WRITE tools with parseable arguments."""
        return [(c.name, c.arguments) for c in self.tool_log if c.write and isinstance(c.arguments, dict)]

    def reward(self, respond_texts: Sequence[str], nl: dict[str, Any] | None = None) -> Tau2Reward:
        """Product of the task's reward_basis components; ``nl``: ``{"checks": [...], "met": bool}`` or None.
        ``respond_texts``: every text of the agent's messages (COMMUNICATE), those that came with tool calls too."""
        task = self.task
        predicted = Tau2DB(self.data)  # type: ignore[arg-type]
        replay(predicted, self.agent_writes())
        agent_hash = predicted.hash()
        gold_hash, gold_errors = gold_state(self.data, task)
        db_match = agent_hash == gold_hash
        found = outputs_found(task.communicate_info, list(respond_texts))
        missing = [s for s, ok in found.items() if not ok]
        components: dict[str, float] = {}
        for basis in task.reward_basis:
            if basis == "DB":
                components["DB"] = 1.0 if db_match else 0.0
            elif basis == "COMMUNICATE":
                components["COMMUNICATE"] = 0.0 if missing else 1.0
            elif basis == "NL_ASSERTION":
                components["NL_ASSERTION"] = 1.0 if not task.nl_assertions or (nl or {}).get("met") else 0.0
            else:
                raise ValueError(f"task {task.id}: reward_basis {basis!r} is not supported for retail")
        reward = 1.0
        for value in components.values():
            reward *= value
        return Tau2Reward(reward, components, db_match, agent_hash, gold_hash, missing, nl, gold_errors)


__all__ = ["JUDGE_SYSTEM", "Tau2Env", "Tau2Reward", "Tau2ToolCall", "agent_system_prompt", "gold_state",
           "judge_messages", "parse_judge", "replay", "scenario_text", "stop_token_in", "user_system_prompt"]
