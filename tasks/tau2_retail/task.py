"""tau2-bench retail as a harness task: the half-duplex agent / user loop of tau2, its reward and pass^k.

Protocol (tau2-bench's half-duplex orchestrator; v1 differences in brackets):

* The agent's system message is ``prompts.json``'s template filled with the agent instruction and
  ``policy.md``; the 16 tau2 tools are offered (schemas from ``tools.json`` when the data folder has a dump
  of tau2's own, else ours, see :mod:`tasks.tau2_retail.tools`). The conversation opens with the fixed agent
  greeting [v1: the simulator speaks first].
* The user simulator, ``suite.models.user_simulator``, gets the guidelines and the task's scenario; it sees
  the agent's texts as ``user`` turns, never tool calls or results. It ends the episode with
  ``###STOP###``, ``###TRANSFER###`` or ``###OUT-OF-SCOPE###`` (``user_stop``).
* Every tool call of a turn is executed, in order [v1: the first only]; ``transfer_to_human_agents`` is an
  ordinary tool [v1: terminal]. ``###STOP###`` in the agent's text ends the episode too (``agent_stop``).
* Limits: ``max_steps`` (200) counts every user message, agent message and batch of tool results, as tau2's
  orchestrator does (``max_steps``); ``max_errors`` (10) tool errors end it (``too_many_errors``). Both
  score 0, as do malformed tool arguments (``aborted``, upstream the agent's call raises) and failed model
  calls (``model_error``; ``info["error_role"]`` names agent, simulator or judge).
* Only ``user_stop`` / ``agent_stop`` are scored: the product of the task's ``reward_basis`` (DB, COMMUNICATE,
  NL_ASSERTION; see :mod:`tasks.tau2_retail.env`). NL assertions go to ``suite.models.judge`` (by default the
  same server and model), once per scored episode that has assertions; its verdicts are stored.
* Text that comes with tool calls is not delivered to the user (recorded as ``undelivered_text``) but, as in
  tau2's evaluator (which reads every assistant message), it counts for COMMUNICATE and the judge sees it.

``grade`` never calls a model: it reads the reward ``solve`` stored in ``attempt.info["reward"]``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from evals.agent_loop import (
    AgentLoop,
    EpisodeFailure,
    Limits,
    ToolResult,
    ToolRun,
    ask_peer,
    fail_on_rejection,
    peer_reply,
)
from evals.task import DataUnavailable, Episode, ModelSession, Task
from evals.types import Attempt, Grade, ModelOutput, Sample, ToolCall
from runners.data import provenance
from tasks.tau_retail.task import (
    SIMULATOR_ROLE,
    SUCCESS_EPS,
    _agent_message,
    _episode,
    _grade,
    _load_or_unavailable,
    _no_action,
    _session_info,
    _tool_call_rows,
    _undelivered,
    attempt_reward,
    tau_metrics,
    tau_section,
    tau_sections,
)

from .data import (
    RELEASES,
    SUPPORTED_REWARDS,
    Tau2Data,
    Tau2RetailDataError,
    Tau2Task,
    load_data,
    prompts_sha256,
)
from .env import (
    JUDGE_SYSTEM,
    Tau2Env,
    agent_system_prompt,
    gold_state,
    judge_messages,
    parse_judge,
    stop_token_in,
    user_system_prompt,
)
from .tools import TOOLS

NAME = "tau2_retail"
JUDGE_ROLE = "judge"
TAU2_TITLE = "tau2-bench Retail"
TAU2_ROLES = (SIMULATOR_ROLE, JUDGE_ROLE)
AGENT_STOP = "###STOP###"
STOP_REASONS: tuple[str, ...] = ("user_stop", "agent_stop", "max_steps", "too_many_errors", "aborted", "model_error")
SCORED_STOPS: tuple[str, ...] = ("user_stop", "agent_stop")
FAILURE_SOURCES: tuple[str, ...] = ("error", "malformed_tool_call", "step_limit", "too_many_errors", "wrong_db",
                                    "missing_communicate", "nl_assertion")


class Tau2RetailTask(Task):
    """tau2-bench retail: one sample per task of a split of a release, ``trials`` repeats each."""

    version = "2"  # 2: tool calls answered as tau2 (keywords, no validation first), COMMUNICATE reads every text
    default_repeats = 4

    def __init__(self, name: str = NAME, data_dir: str | None = None, release: str = "current", split: str = "base",
                 task_ids: list[int | str] | None = None, limit: int | None = None, trials: int = 4,
                 max_steps: int = 200, max_errors: int = 10, malformed_args: str = "abort",
                 empty_args_as_object: bool = True, verify_data: bool = True) -> None:
        if release not in RELEASES:
            raise ValueError(f"tau2_retail: unknown release {release!r}; expected one of {sorted(RELEASES)}")
        if malformed_args not in ("abort", "error"):
            raise ValueError("tau2_retail: malformed_args must be 'abort' (upstream) or 'error'")
        if int(max_steps) < 2 or int(max_errors) < 1:
            raise ValueError("tau2_retail: max_steps must be at least 2 and max_errors at least 1")
        self.name = name
        self.data_dir = data_dir
        self.release = release
        self.split = split
        self.task_ids = [str(t).removeprefix("task-") for t in task_ids] if task_ids else None
        self.limit = limit
        self.default_repeats = int(trials)
        self.max_steps = int(max_steps)
        self.max_errors = int(max_errors)
        self.malformed_args = malformed_args
        self.empty_args_as_object = bool(empty_args_as_object)
        self.verify_data = bool(verify_data)
        self._data: Tau2Data | None = None
        self._tools: list[dict[str, Any]] | None = None

    # -- data ------------------------------------------------------------------------------------
    def data(self) -> Tau2Data:
        if self._data is None:
            self._data = _load_or_unavailable(load_data, self.data_dir, self.verify_data, NAME, "tau2_retail",
                                              "TAU2_RETAIL_DATA")
        return self._data

    def tools_schema(self) -> list[dict[str, Any]]:
        if self._tools is None:
            dumped = self.data().tools_json
            if dumped is not None:
                names = [t.get("function", {}).get("name") for t in dumped]
                unknown = sorted(set(names) - set(TOOLS))
                if unknown:
                    raise DataUnavailable(f"tau2_retail: tools.json names tools this environment lacks: {unknown}")
            self._tools = dumped if dumped is not None else [s.schema() for s in TOOLS.values()]
        return self._tools

    def load(self) -> list[Sample]:
        data = self.data()
        try:
            tasks = data.tasks(self.release)
            splits = data.splits
            # everything an episode reads, read now: a missing file fails the run before any request
            agent_system_prompt(data), data.user_guidelines, self.tools_schema()  # noqa: B018
        except Tau2RetailDataError as exc:
            raise DataUnavailable(f"tau2_retail: {exc}") from exc
        if self.split not in splits:
            raise DataUnavailable(f"tau2_retail: unknown split {self.split!r}; split_tasks.json has {sorted(splits)}")
        wanted = set(splits[self.split])
        tasks = [t for t in tasks if t.id in wanted]
        if self.task_ids is not None:
            by_id = {t.id: t for t in tasks}
            bad = [i for i in self.task_ids if i not in by_id]
            if bad:
                raise DataUnavailable(f"tau2_retail: task ids {bad} are not in split {self.split!r} of release "
                                      f"{self.release!r}")
            tasks = [by_id[i] for i in self.task_ids]
        if self.limit:
            tasks = tasks[: int(self.limit)]
        if not tasks:
            raise DataUnavailable("tau2_retail: no tasks left after split / task_ids / limit")
        unsupported = sorted({b for t in tasks for b in t.reward_basis} - SUPPORTED_REWARDS)
        if unsupported:
            raise DataUnavailable(f"tau2_retail: reward_basis {unsupported} is not implemented for retail")
        return [self._sample(data, t) for t in tasks]

    def _sample(self, data: Tau2Data, task: Tau2Task) -> Sample:
        names = [a.name for a in task.actions]
        return Sample(
            id=f"task-{task.id}", input=task,
            reference={"communicate_info": list(task.communicate_info), "nl_assertions": list(task.nl_assertions),
                       "reward_basis": list(task.reward_basis), "gold_hash": gold_state(data, task)[0]},
            metadata={"release": task.release, "split": self.split, "task_id": task.id, "n_actions": len(names),
                      "transfer": "transfer_to_human_agents" in names, "n_nl_assertions": len(task.nl_assertions)})

    # -- episode ---------------------------------------------------------------------------------
    async def solve(self, sample: Sample, model: ModelSession) -> Episode:
        task: Tau2Task = sample.input
        data = self.data()
        prompts = data.prompts
        stop_tokens: list[str] = list(prompts["user_stop_tokens"])
        greeting: str = prompts["first_agent_message"]
        simulator = model.peer(SIMULATOR_ROLE)
        needs_judge = "NL_ASSERTION" in task.reward_basis and bool(task.nl_assertions)
        judge = model.peer(JUDGE_ROLE) if needs_judge else model.peers.get(JUDGE_ROLE)
        env = Tau2Env(data, task, malformed_args=self.malformed_args)
        transcript: list[dict[str, Any]] = [{"role": "system", "content": agent_system_prompt(data)},
                                            {"role": "assistant", "content": greeting}]
        sim_history: list[dict[str, Any]] = [{"role": "system", "content": user_system_prompt(data, task)},
                                             {"role": "user", "content": greeting}]
        respond_texts: list[str] = [greeting]
        user_token: str | None = None
        nl: dict[str, Any] | None = None

        # tau2 counts every message as a step: the loop counts the agent's, these hooks the user's and each
        # turn's batch of tool results (tau2's MultiToolMessage)
        async def user_turn() -> str | None:
            nonlocal user_token
            reply = await peer_reply(simulator, sim_history, SIMULATOR_ROLE)
            loop.steps += 1
            transcript.append({"role": "user", "content": reply})
            user_token = stop_token_in(reply, stop_tokens)
            return "user_stop" if user_token else None

        async def respond(out: ModelOutput) -> str | None:
            if out.final is None:
                raise _no_action(out, loop.steps)
            respond_texts.append(out.final)
            if AGENT_STOP in out.final:
                return "agent_stop"
            if loop.steps >= self.max_steps:
                return "max_steps"
            sim_history.append({"role": "user", "content": out.final})
            return await user_turn()

        async def run_tool(call: ToolCall) -> ToolResult:
            arguments = call.arguments
            if self.empty_args_as_object and not (arguments or "").strip():
                arguments = "{}"
            observation = env.step_tool(call.name, arguments)
            return ToolResult(observation, error=env.tool_log[-1].error)

        def after_call(run: ToolRun) -> str | None:
            return "aborted" if env.abort_reason else None

        def after_tools(out: ModelOutput) -> None:
            loop.steps += 1

        async def closing(stop: str) -> None:
            nonlocal nl
            if stop in SCORED_STOPS and needs_judge:
                nl = await self._judge(judge, transcript, list(task.nl_assertions))  # type: ignore[arg-type]

        loop = AgentLoop(
            model, transcript, tools=self.tools_schema(), fallback=run_tool,
            limits=Limits(max_steps=self.max_steps, max_tool_errors=self.max_errors),
            rename_call=lambda call, i, step: f"{call.id or 'call'}_s{step}_{i}", message=_agent_message,
            opening=user_turn, on_answer=respond, after_call=after_call, after_tools=after_tools, closing=closing,
            on_rejected=fail_on_rejection("agent"))
        stop = await loop.run()

        scored = stop in SCORED_STOPS
        undelivered_texts = _undelivered(transcript)  # scored (COMMUNICATE), never shown to the simulator
        r = env.reward(respond_texts + undelivered_texts, nl).to_dict()
        reward = {**r, "scored": scored, "reward": r["reward"] if scored else 0.0,
                  "reward_basis": list(task.reward_basis)}
        log = env.tool_log
        info: dict[str, Any] = {
            "task_id": task.id, "release": task.release, "steps": loop.steps, "max_steps": self.max_steps,
            "max_errors": self.max_errors, "agent_turns": loop.turns, "stop_reason": stop,
            "user_stop_token": user_token, "reward": reward, "respond_turns": len(respond_texts) - 1,
            "user_simulator": _session_info(simulator),
            "tool_calls": _tool_call_rows([run.step for run in loop.runs], log),
            "tool_summary": {"calls": len(log), "writes": sum(c.write for c in log), "errors": env.errors,
                             "unknown_tools": sum(c.status == "unknown_tool" for c in log),
                             "malformed_arguments": sum(c.status == "malformed_arguments" for c in log),
                             "undelivered_texts": len(undelivered_texts)},
        }
        if judge is not None:
            info["judge"] = _session_info(judge)
        return _episode(transcript, loop.last, info, stop, loop.failure, env.abort_reason)

    async def _judge(self, judge: ModelSession, transcript: list[dict[str, Any]], assertions: list[str]
                     ) -> dict[str, Any]:
        out = await ask_peer(judge, judge_messages(transcript, assertions), JUDGE_ROLE)
        try:
            checks = parse_judge(out.final or "")
        except ValueError as exc:
            raise EpisodeFailure(JUDGE_ROLE, "error", f"unreadable judge reply: {exc}", out) from exc
        # as tau2: met when every returned verdict is true
        return {"met": all(c["met"] for c in checks), "checks": checks}

    # -- grading ---------------------------------------------------------------------------------
    def grade(self, sample: Sample, attempt: Attempt) -> Grade:
        return _grade(attempt, failure_source, _reason, ("components", "missing_communicate"))

    def settings(self) -> dict[str, Any]:
        data = self.data()
        tools = json.dumps(self.tools_schema(), sort_keys=True).encode()

        def digest(name: str) -> str:
            return hashlib.sha256(data.path(name).read_bytes()).hexdigest()

        files = [n for n in ("policy.md", "prompts.json", "user_simulation_guidelines.md", RELEASES[self.release],
                             "split_tasks.json") if n != "prompts.json" or data.path(n).exists()]

        return {"name": self.name, "version": self.version, "benchmark": "tau2-bench retail", "release": self.release,
                "split": self.split, "task_ids": self.task_ids, "limit": self.limit, "max_steps": self.max_steps,
                "max_errors": self.max_errors, "malformed_args": self.malformed_args,
                "empty_args_as_object": self.empty_args_as_object, "tool_calls_per_turn": "all",
                "tools_source": "tools.json" if data.tools_json is not None else "builtin",
                "tools_sha256": hashlib.sha256(tools).hexdigest(),
                "judge_prompt_sha256": hashlib.sha256(JUDGE_SYSTEM.encode()).hexdigest(),
                "prompts_sha256": prompts_sha256(data.prompts), "data_fetch": provenance(data.root),
                "files_sha256": {n: digest(n) for n in files}}

    def card_key(self) -> str | None:
        return NAME  # not a model-card row (the card's number is v1); keys the report section

    @classmethod
    def suite_metrics(cls, run_dir: Any) -> list[dict[str, Any]]:
        return tau_sections(run_dir, card_key=NAME, title=TAU2_TITLE, row=attempt_row, roles=TAU2_ROLES)


# ------------------------------------------------------------------------------------------------


def _reason(source: str | None, info: dict[str, Any], r: dict[str, Any]) -> str:
    """A grade's reason: why the trial scored what it did."""
    if source is None:
        components = ", ".join(f"{k} {v:g}" for k, v in (r.get("components") or {}).items())
        return f"reward 1: {components} ({info.get('stop_reason')})"
    reasons = {
        "step_limit": f"no stop within {info.get('max_steps', 200)} steps: reward 0",
        "too_many_errors": f"{info.get('max_errors', 10)} tool errors: reward 0",
        "wrong_db": "final DB differs from the gold state",
        "missing_communicate": f"information not said to the user: {r.get('missing_communicate')}",
        "nl_assertion": "the judge found an NL assertion unmet: "
                        + "; ".join(c["expectedOutcome"] or "?" for c in (r.get("nl") or {}).get("checks", [])
                                    if not c["met"]),
    }
    return reasons.get(source, f"{source}: {info.get('error') or info.get('stop_reason')}")


def failure_source(status: str | None, info: dict[str, Any] | None, reward: float) -> str | None:
    """Why a trial failed (None if it succeeded), the first of :data:`FAILURE_SOURCES` that applies."""
    if reward >= 1 - SUCCESS_EPS:
        return None
    info = info or {}
    stop = info.get("stop_reason")
    components = (info.get("reward") or {}).get("components") or {}
    if stop == "model_error" or status == "error":
        return "error"
    simple: dict[Any, str] = {"aborted": "malformed_tool_call", "max_steps": "step_limit",
                              "too_many_errors": "too_many_errors"}
    if stop in simple:
        return simple[stop]
    if stop in SCORED_STOPS:
        for key, source in (("DB", "wrong_db"), ("COMMUNICATE", "missing_communicate"), ("NL_ASSERTION", "nl_assertion")):
            if components.get(key) == 0.0:
                return source
    return "error" if status not in (None, "ok") else "unknown"


def attempt_row(attempt: Attempt | dict[str, Any], score: float | None = None) -> dict[str, Any]:
    """One flat row per stored attempt, for :func:`tasks.tau_retail.task.tau_metrics` and the report."""
    a = attempt.to_dict() if isinstance(attempt, Attempt) else attempt
    info = a.get("info") or {}
    reward = attempt_reward(a) if score is None else float(score)
    return {"task_id": a.get("sample_id"), "repeat": a.get("repeat"), "status": a.get("status"), "reward": reward,
            "stop_reason": info.get("stop_reason"), "steps": info.get("steps"),
            "failure": failure_source(a.get("status"), info, reward) or "",
            SIMULATOR_ROLE: (info.get(SIMULATOR_ROLE) or {}).get("model"),
            JUDGE_ROLE: (info.get(JUDGE_ROLE) or {}).get("model")}


def tau2_metrics(records: list[Attempt | dict[str, Any]], max_k: int = 4) -> dict[str, Any]:
    """pass^k (k = 1..4), mean reward and failure sources of stored tau2 attempts (v1's formula)."""
    return tau_metrics([attempt_row(r) for r in records], max_k=max_k)


def tau2_section(run_dirs: Any) -> str:
    """Markdown: pass^k, failures, and the user-simulator and judge models of every tau2 retail run."""
    row: Callable[..., dict[str, Any]] = attempt_row
    return tau_section(run_dirs, card_key=NAME, title=TAU2_TITLE, row=row, roles=TAU2_ROLES)


__all__ = ["FAILURE_SOURCES", "JUDGE_ROLE", "STOP_REASONS", "Tau2RetailTask", "attempt_reward", "attempt_row",
           "failure_source", "tau2_metrics", "tau2_section"]
