"""tau-bench v1 retail environment: tool dispatch, DB hash, reward and user-simulator pieces.

No model or HTTP code lives here; a runner drives the loop (spec section 2):

    env = RetailEnv(data_dir)                 # or $TAU_RETAIL_DATA
    task = env.reset(7)                       # fresh DB, test task 7
    sim_messages = env.user_sim_messages()    # system prompt + "Hi! How can I help you today?"
    ...  agent turn with a tool call  ->  obs = env.step_tool(name, arguments_json)
    ...  agent respond                ->  user reply; env.observe_user_message(reply) -> True on ###STOP###
    if env.done: info = env.reward(respond_texts)

Malformed tool arguments (invalid JSON, or JSON that is not an object): upstream raises and aborts the
trial with reward 0.  ``malformed_args="abort"`` (default) reproduces that: the call is recorded,
``env.done`` becomes True with ``env.abort_reason`` set, and :meth:`RetailEnv.reward` returns 0.
``malformed_args="error"`` instead returns an ``Error: ...`` observation and lets the episode continue
(a documented deviation, for harness experiments).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .data import SPLITS, RetailData, RetailTask, TauRetailDataError, copy_json, load_data
from .db import RetailDB
from .tools import READ_TOOLS, TERMINAL_TOOLS, TOOLS, WRITE_TOOLS, invoke_tool

STOP_TOKEN = "###STOP###"
MAX_STEPS = 30
FIRST_USER_TURN_DEFAULT = "Hi! How can I help you today?"
INSTRUCTION_PLACEHOLDER = "{instruction_display}"

MalformedPolicy = Literal["abort", "error"]
CallStatus = Literal["ok", "error", "unknown_tool", "bad_arguments", "malformed_arguments"]

_SIGNATURES = {name: inspect.signature(cls.invoke) for name, cls in TOOLS.items()}


@dataclass
class ToolCallRecord:
    """One ``step_tool`` call, as recorded in :attr:`RetailEnv.tool_log`."""

    name: str
    arguments: Any  # the parsed kwargs dict, or the raw value when it could not be parsed
    observation: str
    status: CallStatus
    detail: str | None = None  # reason for malformed / bad arguments / unknown tool
    write: bool = False  # a write tool was invoked (whether or not it changed the DB)


@dataclass
class RewardInfo:
    """Result of :meth:`RetailEnv.reward` (spec section 5)."""

    reward: float
    db_match: bool
    missing_outputs: list[str]
    outputs: dict[str, bool] = field(default_factory=dict)
    agent_hash: str = ""
    gt_hash: str = ""
    aborted: str | None = None  # abort reason (malformed arguments in "abort" mode); reward is 0

    @property
    def success(self) -> bool:
        return 1 - 1e-6 <= self.reward <= 1 + 1e-6


# ----------------------------------------------------------------------------------------------
# helpers usable without an environment


def build_user_sim_system_prompt(template: str, instruction: str | None) -> str:
    """Fill the v1 ``llm`` user-simulator template (``user_sim_prompt.json``) for an instruction."""
    display = "" if instruction is None else "\n\nInstruction: " + instruction + "\n"
    return template.replace(INSTRUCTION_PLACEHOLDER, display)


def is_stop(user_message: str) -> bool:
    """True if a user-simulator reply ends the episode (contains ``###STOP###``)."""
    return STOP_TOKEN in user_message


def respond_texts(agent_messages: Sequence[str | Mapping[str, Any]]) -> list[str]:
    """Texts sent to the user. Strings are taken as respond texts; mappings count only when they are
    assistant messages without tool calls (``{"role": "assistant", "content": ...}``)."""
    out: list[str] = []
    for m in agent_messages:
        if isinstance(m, str):
            out.append(m)
        elif isinstance(m, Mapping):
            if m.get("role", "assistant") != "assistant" or m.get("tool_calls"):
                continue
            content = m.get("content")
            if isinstance(content, str):
                out.append(content)
    return out


def outputs_found(
    outputs: Sequence[str], agent_messages: Sequence[str | Mapping[str, Any]]
) -> dict[str, bool]:
    """Spec section 5.4: ``s.lower() in msg.replace(",", "").lower()`` for some respond message."""
    texts = [t.replace(",", "").lower() for t in respond_texts(agent_messages)]
    return {s: any(s.lower() in t for t in texts) for s in outputs}


def replay_actions(db: RetailDB, task: RetailTask) -> list[str]:
    """Replay a task's ground-truth actions (except terminal ones) on ``db``; returns observations."""
    return [
        invoke_tool(db, a.name, copy_json(a.kwargs)) for a in task.actions if a.name not in TERMINAL_TOOLS
    ]


def gold_hash(data: RetailData, task: RetailTask) -> str:
    """Hash of a fresh DB after replaying the task's ground-truth actions (cached for split tasks)."""
    split_tasks = data.tasks(task.split) if task.split in SPLITS else []
    cacheable = 0 <= task.index < len(split_tasks) and split_tasks[task.index] is task

    def build() -> str:
        db = RetailDB(data)
        replay_actions(db, task)
        return db.hash()

    if cacheable:
        return data.cached(f"gold:{task.split}:{task.index}", build)
    return build()


def parse_arguments(arguments: Any) -> tuple[dict[str, Any] | None, str | None]:
    """``(kwargs, None)`` or ``(None, reason)`` for a tool call's arguments (dict or JSON text)."""
    if isinstance(arguments, Mapping):
        parsed: Any = dict(arguments)
    elif isinstance(arguments, str | bytes | bytearray):
        try:
            parsed = json.loads(arguments)
        except ValueError as e:
            return None, f"invalid JSON: {e}"
    else:
        return None, f"arguments must be a JSON object or its text, got {type(arguments).__name__}"
    if not isinstance(parsed, dict):
        return None, f"arguments must be a JSON object, got {type(parsed).__name__}"
    return copy_json(parsed), None


# ----------------------------------------------------------------------------------------------


class RetailEnv:
    """The v1 retail environment for one episode at a time (create one per concurrent episode)."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        split: str = "test",
        *,
        malformed_args: MalformedPolicy = "abort",
        verify: bool = True,
        data: RetailData | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        if malformed_args not in ("abort", "error"):
            raise ValueError("malformed_args must be 'abort' or 'error'")
        self.data: RetailData = data if data is not None else load_data(data_dir, verify=verify)
        self.split = split
        self.malformed_args: MalformedPolicy = malformed_args
        self.task: RetailTask | None = None
        self.db: RetailDB = RetailDB(self.data)
        self.tool_log: list[ToolCallRecord] = []
        self.done = False
        self.done_reason: str | None = None  # "stop" | "transfer" | "aborted"
        self.abort_reason: str | None = None

    # -- static material for the agent --------------------------------------------------------
    @property
    def tasks(self) -> list[RetailTask]:
        return self.data.tasks(self.split)

    @property
    def tools_schema(self) -> list[dict[str, Any]]:
        """The 16 tool schemas (``tools.json``), in upstream order; do not mutate."""
        return self.data.tools_schema

    @property
    def policy(self) -> str:
        """The agent system prompt: ``wiki.md`` verbatim."""
        return self.data.wiki

    # -- episode ------------------------------------------------------------------------------
    def reset(self, task: int | RetailTask) -> RetailTask:
        """Start an episode on a fresh DB; ``task`` is an index into this env's split or a task."""
        if isinstance(task, RetailTask):
            self.task = task
        else:
            tasks = self.tasks
            if not 0 <= int(task) < len(tasks):
                raise IndexError(
                    f"task index {task} out of range for split {self.split!r} ({len(tasks)} tasks)"
                )
            self.task = tasks[int(task)]
        self.db = RetailDB(self.data)
        self.tool_log = []
        self.done = False
        self.done_reason = None
        self.abort_reason = None
        return self.task

    def step_tool(self, name: str, arguments: dict[str, Any] | str) -> str:
        """Execute one tool call and return the observation string (spec sections 2-4)."""
        kwargs, problem = parse_arguments(arguments)
        if kwargs is None:
            obs = f"Error: malformed tool arguments for {name}: {problem}"
            self.tool_log.append(ToolCallRecord(name, arguments, obs, "malformed_arguments", problem))
            if self.malformed_args == "abort":
                self.done, self.done_reason = True, "aborted"
                self.abort_reason = f"malformed arguments for tool {name!r}: {problem}"
            return obs
        if name not in TOOLS:
            obs = f"Unknown action {name}"
            self.tool_log.append(ToolCallRecord(name, kwargs, obs, "unknown_tool", f"unknown tool {name!r}"))
            return obs
        status: CallStatus = "ok"
        detail: str | None = None
        try:
            _SIGNATURES[name].bind(self.db, **kwargs)
        except TypeError as e:
            status, detail = "bad_arguments", str(e)
        obs = invoke_tool(self.db, name, kwargs)
        if status == "ok" and obs.startswith("Error: "):
            status = "error"
        self.tool_log.append(ToolCallRecord(name, kwargs, obs, status, detail, write=name in WRITE_TOOLS))
        if name in TERMINAL_TOOLS:
            self.done, self.done_reason = True, "transfer"
        return obs

    def observe_user_message(self, text: str) -> bool:
        """Record a user-simulator reply; returns True (and marks the episode done) on ``###STOP###``."""
        if is_stop(text):
            self.done, self.done_reason = True, "stop"
            return True
        return False

    def db_hash(self) -> str:
        """Canonical hash of the current DB (cheap: cached, and incremental after writes)."""
        return self.db.hash()

    def gold_hash(self) -> str:
        """Target hash of the current task (fresh DB + ground-truth replay)."""
        return gold_hash(self.data, self._require_task())

    def reward(self, agent_messages: Sequence[str | Mapping[str, Any]]) -> RewardInfo:
        """v1 reward (spec section 5): DB hash equality AND every required output said to the user.

        ``agent_messages``: the agent's respond texts (strings), or chat messages from which only
        assistant messages without tool calls are used.
        """
        task = self._require_task()
        h_agent = self.db.hash()
        h_gt = gold_hash(self.data, task)
        db_match = h_agent == h_gt
        found = outputs_found(task.outputs, agent_messages)
        missing = [s for s, ok in found.items() if not ok]
        reward = 1.0 if db_match and not missing else 0.0
        if self.abort_reason is not None:
            reward = 0.0
        return RewardInfo(reward, db_match, missing, found, h_agent, h_gt, self.abort_reason)

    # -- user simulator -----------------------------------------------------------------------
    def user_sim_system_prompt(self, instruction: str | None = None) -> str:
        """Simulator system prompt for ``instruction`` (default: the current task's)."""
        if instruction is None:
            instruction = self._require_task().instruction
        return build_user_sim_system_prompt(self.data.user_sim["system_prompt_template"], instruction)

    @property
    def user_sim_first_turn(self) -> str:
        """The opening turn shown to the simulator (as a ``user`` message in its own history)."""
        try:
            return str(self.data.user_sim.get("first_user_turn_shown_to_simulator", FIRST_USER_TURN_DEFAULT))
        except TauRetailDataError:
            return FIRST_USER_TURN_DEFAULT

    @property
    def stop_token(self) -> str:
        return STOP_TOKEN

    def user_sim_messages(self) -> list[dict[str, str]]:
        """The simulator's initial history; its completion is the first user message for the agent."""
        return [
            {"role": "system", "content": self.user_sim_system_prompt()},
            {"role": "user", "content": self.user_sim_first_turn},
        ]

    def _require_task(self) -> RetailTask:
        if self.task is None:
            raise RuntimeError("call reset(task) first")
        return self.task


__all__ = [
    "MAX_STEPS",
    "READ_TOOLS",
    "STOP_TOKEN",
    "TERMINAL_TOOLS",
    "WRITE_TOOLS",
    "RetailEnv",
    "RewardInfo",
    "ToolCallRecord",
    "build_user_sim_system_prompt",
    "gold_hash",
    "is_stop",
    "outputs_found",
    "parse_arguments",
    "replay_actions",
    "respond_texts",
]
