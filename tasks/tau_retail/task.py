"""Tau-Bench Retail (v1) as a harness task: the agent / user-simulator loop, the reward and pass^k.

Protocol (the Tau-Bench retail spec, sections 2, 7 and 9):

* The agent's system message is ``wiki.md`` verbatim (each transport decides where it goes: the Harmony
  developer instructions for gpt-oss); the 16 ``tools.json`` schemas are offered as function tools.
* The user simulator is a second model, ``model.peer("user_simulator")`` (``suite.models.user_simulator``),
  with the upstream ``llm`` prompt template and the task's instruction, opened by
  ``Hi! How can I help you today?``. Its first reply is the agent's first user message.
* Each agent turn is one model call and one step (30 at most). A turn with tool calls executes only the
  FIRST call (extra calls are dropped from the history and recorded as ``dropped_tool_calls`` on that
  transcript message; final-channel text of such a turn is never delivered, recorded as
  ``undelivered_text``). A turn without tool calls is a respond: its final-channel text, and nothing else
  (never the analysis), goes to the simulator, whose reply becomes the next user message.
* The episode ends on ``###STOP###`` in a simulator reply (``user_stop``), on ``transfer_to_human_agents``
  (``transfer``), after ``max_steps`` agent turns (``max_steps``, reward 0, no reward computed), on
  malformed tool arguments (``aborted``; upstream raises and the trial scores 0; ``malformed_args="error"``
  turns this into an ``Error:`` observation instead), or when a model call fails or the agent produces
  neither a final message nor a tool call (``model_error``; ``info["error_role"]`` says which model).
* Unknown tool names get the observation ``Unknown action {name}`` and the episode continues.
* Deviation, on by default (``empty_args_as_object``): empty tool-call arguments (what some transports
  send for the argument-less ``list_all_product_types``) are read as ``{}`` instead of aborting.

A server that stops answering (:class:`evals.clients.ServerUnavailable`) is not caught: the run stops and a
rerun redoes the episode. A rejected request (4xx, e.g. the context is full) ends the episode as
``model_error`` with status ``error``.

``grade`` never reruns anything: it reads the reward that ``solve`` stored in ``attempt.info["reward"]``.
:func:`tau_metrics` computes pass^k and failure sources from stored attempts or (task_id, reward) pairs.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from evals.agent_loop import AgentLoop, EpisodeFailure, Limits, ToolRun, fail_on_rejection, peer_reply
from evals.metrics import pass_hat_k
from evals.task import DataUnavailable, Episode, ModelSession, Task
from evals.types import Attempt, Grade, ModelOutput, Sample, Status, ToolCall
from runners.data import provenance

from .data import FILE_SHA256, SPLITS, RetailData, RetailTask, TauRetailDataError, load_data
from .env import RetailEnv, gold_hash

NAME = "tau_retail"
SIMULATOR_ROLE = "user_simulator"
STOP_REASONS: tuple[str, ...] = ("user_stop", "transfer", "max_steps", "aborted", "model_error")
SCORED_STOPS: tuple[str, ...] = ("user_stop", "transfer")  # the only endings upstream computes a reward for
FAILURE_SOURCES: tuple[str, ...] = ("error", "malformed_tool_call", "step_limit", "wrong_db", "missing_outputs")
SUCCESS_EPS = 1e-6
_Data = TypeVar("_Data")


def _session_info(session: Any) -> dict[str, Any]:
    """Which model played a role, how it was sampled and how many calls it got (stored with every episode)."""
    client = getattr(session, "client", None)
    sampling = getattr(session, "sampling", None)
    return {
        "model": getattr(client, "model", None),
        "transport": getattr(client, "transport", None),
        "base_url": getattr(client, "base_url", None),
        "effort": getattr(session, "effort", None),
        "temperature": getattr(sampling, "temperature", None),
        "top_p": getattr(sampling, "top_p", None),
        "max_tokens": getattr(sampling, "max_tokens", None),
        "calls": len(getattr(session, "calls", [])),
    }


# -- the pieces of a task that v1 and tau2 (tasks.tau2_retail) share --------------------------------


def _load_or_unavailable(load: Callable[..., _Data], data_dir: str | None, verify: bool, name: str, folder: str,
                         env_var: str) -> _Data:
    """``load(data_dir, verify=verify)``; a data error becomes :class:`DataUnavailable` saying how to point at it."""
    try:
        return load(data_dir, verify=verify)
    except TauRetailDataError as exc:
        raise DataUnavailable(f"{name}: {exc} On the command line: suite.data_dir=/path/to/{folder} "
                              f"(or export {env_var}=/path/to/{folder}).") from exc


def _agent_message(out: ModelOutput, calls: list[ToolCall]) -> dict[str, Any]:
    """The transcript message of an agent turn (v1 and tau2): the final text only when it is a respond (with tool
    calls it is never delivered: ``undelivered_text``), the analysis as ``reasoning``, the calls that run (under
    their episode-unique ids) and, when not all do, the others as ``dropped_tool_calls``."""
    msg: dict[str, Any] = {"role": "assistant", "content": "" if calls else (out.final or "")}
    if out.analysis:
        msg["reasoning"] = out.analysis
    if calls:
        msg["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
        if len(out.tool_calls) > len(calls):
            msg["dropped_tool_calls"] = [c.to_dict() for c in out.tool_calls[len(calls):]]
        if out.final:
            msg["undelivered_text"] = out.final
    return msg


def _no_action(out: ModelOutput, step: int) -> EpisodeFailure:
    """The failure of an agent turn with neither a final message nor a tool call."""
    status: Status = "truncated" if out.finish_reason == "length" else "malformed"
    return EpisodeFailure(
        "agent", status,
        f"agent produced neither a final message nor a tool call at step {step} "
        f"(finish_reason={out.finish_reason}"
        + (f", parse error: {out.parse_error}" if out.parse_error else "") + ")", out)


def _undelivered(transcript: list[dict[str, Any]]) -> list[str]:
    """The texts that came with tool calls, in order (never shown to the user simulator)."""
    return [m["undelivered_text"] for m in transcript if "undelivered_text" in m]


def _tool_call_rows(steps: list[int], log: list[Any]) -> list[dict[str, Any]]:
    """``info["tool_calls"]``: each executed call with the agent step it came in."""
    return [{"step": s, "name": r.name, "status": r.status, "write": r.write, "detail": r.detail}
            for s, r in zip(steps, log, strict=False)]


def _episode(transcript: list[dict[str, Any]], last: ModelOutput, info: dict[str, Any], stop: str | None,
             failure: EpisodeFailure | None, abort_reason: str | None) -> Episode:
    """The episode's status and error: a failed model call, else malformed arguments (``aborted``), else ok."""
    status: Status = "ok"
    error: str | None = None
    if failure is not None:
        status, error = failure.status, str(failure)
        info["error_role"] = failure.role
        info["error"] = str(failure)
    elif stop == "aborted":
        status, error = "malformed", abort_reason
    if stop == "aborted":
        info["error"] = abort_reason
    return Episode(transcript=transcript, output=last, status=status, info=info, error=error)


def _grade(attempt: Attempt, source_of: Callable[[str | None, dict[str, Any] | None, float], str | None],
           reason: Callable[[str | None, dict[str, Any], dict[str, Any]], str], details: tuple[str, ...]) -> Grade:
    """The grade of a stored episode, read from what ``solve`` stored: ``source_of`` (a ``failure_source``) names
    why it failed, ``reason(source, info, reward)`` says it in words; ``details`` are copied from the reward."""
    info = attempt.info or {}
    r = info.get("reward") or {}
    score = attempt_reward(attempt)
    source = source_of(attempt.status, info, score)
    answer = ((r.get("agent_hash") or "")[:16] or None) if r.get("scored") else None
    return Grade(key=attempt.key, score=score, answer=answer, reason=reason(source, info, r),
                 details={"stop_reason": info.get("stop_reason"), "steps": info.get("steps"),
                          "db_match": r.get("db_match"), **{k: r.get(k) for k in details}, "failure": source})


class TauRetailTask(Task):
    """Tau-Bench Retail v1: one sample per task of a split, ``trials`` repeats each (pass^k needs >= 4)."""

    version = "1"
    default_repeats = 4

    def __init__(self, name: str = NAME, data_dir: str | None = None, split: str = "test",
                 task_ids: list[int | str] | None = None, limit: int | None = None, trials: int = 4,
                 max_steps: int = 30, malformed_args: str = "abort", empty_args_as_object: bool = True,
                 verify_data: bool = True) -> None:
        if split not in SPLITS:
            raise ValueError(f"tau_retail: unknown split {split!r}; expected one of {SPLITS}")
        if malformed_args not in ("abort", "error"):
            raise ValueError("tau_retail: malformed_args must be 'abort' (upstream) or 'error'")
        if int(max_steps) < 1:
            raise ValueError("tau_retail: max_steps must be at least 1")
        self.name = name
        self.data_dir = data_dir
        self.split = split
        self.task_ids = [self._task_index(t) for t in task_ids] if task_ids else None
        self.limit = limit
        self.default_repeats = int(trials)
        self.max_steps = int(max_steps)
        self.malformed_args = malformed_args
        self.empty_args_as_object = bool(empty_args_as_object)
        self.verify_data = bool(verify_data)
        self._data: RetailData | None = None

    # -- data ------------------------------------------------------------------------------------
    def _task_index(self, value: int | str) -> int:
        text = str(value).strip()
        for prefix in (f"{self.split}-", f"{self.split}/"):
            text = text.removeprefix(prefix)
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"tau_retail: task id {value!r} is not an index or '{self.split}-N'") from None

    def data(self) -> RetailData:
        if self._data is None:
            self._data = _load_or_unavailable(load_data, self.data_dir, self.verify_data, NAME, "v1_retail",
                                              "TAU_RETAIL_DATA")
        return self._data

    def load(self) -> list[Sample]:
        data = self.data()
        try:
            tasks = data.tasks(self.split)
            # everything an episode reads, read now: a missing file fails the run before any request
            data.user_sim, data.wiki, data.tools_schema  # noqa: B018
        except TauRetailDataError as exc:
            raise DataUnavailable(f"tau_retail: {exc}") from exc
        if self.task_ids is not None:
            bad = [i for i in self.task_ids if not 0 <= i < len(tasks)]
            if bad:
                raise DataUnavailable(f"tau_retail: task ids {bad} out of range for split {self.split!r} "
                                      f"({len(tasks)} tasks)")
            tasks = [tasks[i] for i in self.task_ids]
        if self.limit:
            tasks = tasks[: int(self.limit)]
        if not tasks:
            raise DataUnavailable("tau_retail: no tasks left after task_ids / limit")
        return [self._sample(data, t) for t in tasks]

    def _sample(self, data: RetailData, task: RetailTask) -> Sample:
        names = [a.name for a in task.actions]
        return Sample(
            id=f"{task.split}-{task.index}", input=task,
            reference={"outputs": list(task.outputs), "gold_hash": gold_hash(data, task)},
            metadata={"split": task.split, "index": task.index, "user_id": task.user_id,
                      "n_actions": len(names), "n_outputs": len(task.outputs),
                      "transfer": "transfer_to_human_agents" in names})

    # -- episode ---------------------------------------------------------------------------------
    async def solve(self, sample: Sample, model: ModelSession) -> Episode:
        task: RetailTask = sample.input
        simulator = model.peer(SIMULATOR_ROLE)
        env = RetailEnv(split=task.split, data=self.data(), malformed_args=self.malformed_args)  # type: ignore[arg-type]
        env.reset(task)
        transcript: list[dict[str, Any]] = [{"role": "system", "content": env.policy}]
        sim_history: list[dict[str, Any]] = env.user_sim_messages()
        respond_texts: list[str] = []

        async def opening() -> None:  # the simulator speaks first; its STOP is only read in later replies
            transcript.append({"role": "user", "content": await peer_reply(simulator, sim_history, SIMULATOR_ROLE)})

        async def respond(out: ModelOutput) -> str | None:  # the final text goes to the simulator, its reply back
            if out.final is None:
                raise _no_action(out, loop.steps)
            respond_texts.append(out.final)
            sim_history.append({"role": "user", "content": out.final})
            reply = await peer_reply(simulator, sim_history, SIMULATOR_ROLE)
            transcript.append({"role": "user", "content": reply})
            return "user_stop" if env.observe_user_message(reply) else None

        async def run_tool(call: ToolCall) -> str:
            arguments = call.arguments
            if self.empty_args_as_object and not (arguments or "").strip():
                arguments = "{}"
            return env.step_tool(call.name, arguments)

        def after_call(run: ToolRun) -> str | None:
            return ("aborted" if env.done_reason == "aborted" else "transfer") if env.done else None

        loop = AgentLoop(
            model, transcript, tools=env.tools_schema, fallback=run_tool, limits=Limits(max_steps=self.max_steps),
            calls_per_turn="first", rename_call=lambda call, i, step: f"{call.id or 'call'}_s{step}",
            message=_agent_message, opening=opening, on_answer=respond, after_call=after_call,
            on_rejected=fail_on_rejection("agent"))
        stop = await loop.run()

        reward = self._reward(env, respond_texts, stop)
        log = env.tool_log
        info: dict[str, Any] = {
            "task_index": task.index, "split": task.split, "steps": loop.requests, "max_steps": self.max_steps,
            "stop_reason": stop, "reward": reward, "respond_turns": len(respond_texts),
            "user_simulator": _session_info(simulator),
            "tool_calls": _tool_call_rows([r.step for r in loop.runs], log),
            "tool_summary": {"calls": len(log), "writes": sum(r.write for r in log),
                             "errors": sum(r.status == "error" for r in log),
                             "unknown_tools": sum(r.status == "unknown_tool" for r in log),
                             "bad_arguments": sum(r.status == "bad_arguments" for r in log),
                             "malformed_arguments": sum(r.status == "malformed_arguments" for r in log),
                             "dropped_extra_calls": sum(len(m.get("dropped_tool_calls", ())) for m in transcript),
                             "undelivered_texts": len(_undelivered(transcript))},
        }
        return _episode(transcript, loop.last, info, stop, loop.failure, env.abort_reason)

    @staticmethod
    def _reward(env: RetailEnv, respond_texts: list[str], stop: str | None) -> dict[str, Any]:
        """The v1 reward for scored endings; for the others reward 0 with the DB check as a diagnostic."""
        info = env.reward(respond_texts)
        scored = stop in SCORED_STOPS
        return {"scored": scored, "reward": info.reward if scored else 0.0, "db_match": info.db_match,
                "missing_outputs": list(info.missing_outputs), "outputs": dict(info.outputs),
                "agent_hash": info.agent_hash, "gt_hash": info.gt_hash, "aborted": info.aborted}

    # -- grading ---------------------------------------------------------------------------------
    def grade(self, sample: Sample, attempt: Attempt) -> Grade:
        return _grade(attempt, failure_source, _reason, ("missing_outputs",))

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "benchmark": "tau-bench v1 retail", "split": self.split,
                "task_ids": self.task_ids, "limit": self.limit, "max_steps": self.max_steps,
                "malformed_args": self.malformed_args, "empty_args_as_object": self.empty_args_as_object,
                "tool_calls_per_turn": "first", "policy_sha256": FILE_SHA256["wiki.md"],
                "tools_sha256": FILE_SHA256["tools.json"], "user_sim_sha256": FILE_SHA256["user_sim_prompt.json"],
                "data_fetch": provenance(self.data().root)}

    def card_key(self) -> str | None:
        return "tau_retail"

    @classmethod
    def suite_metrics(cls, run_dir: Any) -> list[dict[str, Any]]:
        return tau_sections(run_dir)


# ------------------------------------------------------------------------------------------------
# reward and failure source of a stored attempt, and the benchmark's own metrics


def _reason(source: str | None, info: dict[str, Any], r: dict[str, Any]) -> str:
    """A grade's reason: why the trial scored what it did."""
    stop = info.get("stop_reason")
    if source is None:
        return f"final DB matches the gold state and every required output was said ({stop})"
    if source == "step_limit":
        return f"no ###STOP### or transfer within {info.get('max_steps', 30)} steps: reward 0"
    if source == "wrong_db":
        reason = "final DB differs from the gold state"
        if r.get("missing_outputs"):
            reason += f"; missing outputs: {r['missing_outputs']}"
        return reason
    if source == "missing_outputs":
        return f"DB matches but outputs not said to the user: {r.get('missing_outputs')}"
    return f"{source}: {info.get('error') or stop}"


def attempt_reward(attempt: Attempt | dict[str, Any]) -> float:
    """1.0 or 0.0 from what ``solve`` stored; attempts that ended badly (status not ok) score 0."""
    status = attempt.status if isinstance(attempt, Attempt) else attempt.get("status")
    info = (attempt.info if isinstance(attempt, Attempt) else attempt.get("info")) or {}
    r = info.get("reward") or {}
    if status != "ok" or not r.get("scored"):
        return 0.0
    value = float(r.get("reward", 0.0))
    return 1.0 if 1 - SUCCESS_EPS <= value <= 1 + SUCCESS_EPS else 0.0


def failure_source(status: str | None, info: dict[str, Any] | None, reward: float) -> str | None:
    """Why a trial failed (None if it succeeded), first match of :data:`FAILURE_SOURCES`.

    ``error``: a model call failed or the agent gave no action (agent or simulator, see ``error_role``);
    ``malformed_tool_call``: malformed tool arguments aborted the trial; ``step_limit``: no STOP or transfer
    within the step budget; ``wrong_db``: final DB state differs from gold; ``missing_outputs``: DB right,
    but a required output was never said to the user. ``unknown`` when the record holds no episode facts.
    """
    if reward >= 1 - SUCCESS_EPS:
        return None
    info = info or {}
    stop = info.get("stop_reason")
    r = info.get("reward") or {}
    if stop == "model_error" or status == "error":
        return "error"
    if stop == "aborted":
        return "malformed_tool_call"
    if stop == "max_steps":
        return "step_limit"
    if stop in SCORED_STOPS:
        if not r.get("db_match", False):
            return "wrong_db"
        if r.get("missing_outputs"):
            return "missing_outputs"
    return "error" if status not in (None, "ok") else "unknown"


def attempt_row(attempt: Attempt | dict[str, Any], score: float | None = None) -> dict[str, Any]:
    """One flat row per stored attempt (what reports need for :func:`tau_metrics`)."""
    a = attempt.to_dict() if isinstance(attempt, Attempt) else attempt
    info = a.get("info") or {}
    r = info.get("reward") or {}
    reward = attempt_reward(a) if score is None else float(score)
    return {"task_id": a.get("sample_id"), "repeat": a.get("repeat"), "status": a.get("status"), "reward": reward,
            "stop_reason": info.get("stop_reason"), "steps": info.get("steps"), "db_match": r.get("db_match"),
            "missing_outputs": len(r.get("missing_outputs") or []), "error_role": info.get("error_role"),
            "failure": failure_source(a.get("status"), info, reward),
            "user_simulator": (info.get("user_simulator") or {}).get("model")}


def _rows(records: Any) -> list[dict[str, Any]]:
    if hasattr(records, "to_dict") and hasattr(records, "columns"):  # a pandas DataFrame
        frame = records.rename(columns={"sample_id": "task_id", "score": "reward"})
        return [dict(r) for r in frame.to_dict("records")]
    rows = []
    for rec in records:
        if isinstance(rec, Attempt) or (isinstance(rec, dict) and "info" in rec and "sample_id" in rec):
            rows.append(attempt_row(rec))
        elif isinstance(rec, dict):
            rows.append({"task_id": rec.get("task_id", rec.get("sample_id")),
                         "reward": rec.get("reward", rec.get("score"))} | {
                k: v for k, v in rec.items() if k not in ("task_id", "sample_id", "reward", "score")})
        else:
            task_id, reward = rec
            rows.append({"task_id": task_id, "reward": reward})
    return rows


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int:
    if isinstance(value, list | tuple):
        return len(value)
    try:
        return 0 if value is None or math.isnan(float(value)) else int(value)
    except (TypeError, ValueError):
        return 0


def tau_metrics(records: Any, max_k: int = 4) -> dict[str, Any]:
    """pass^k (k = 1..min(max_k, trials)), mean reward and failure sources.

    ``records``: stored attempts (:class:`Attempt` or their dicts), rows of :func:`attempt_row`, a DataFrame
    with ``sample_id``/``task_id`` and ``score``/``reward`` columns (plus ``status``/``stop_reason``/
    ``failure`` if known), or ``(task_id, reward)`` pairs. A trial succeeds when its reward is 1 (+-1e-6);
    pass^k = mean over tasks of C(c, k) / C(n, k) (pass^1 is the mean reward). Failure sources are counted
    per failed trial, one source each (see :func:`failure_source`); ``unknown`` when the input has no facts.
    """
    rows = _rows(records)
    per_task: dict[Any, list[bool]] = defaultdict(list)
    failures: Counter[str] = Counter()
    stops: Counter[str] = Counter()
    for row in rows:
        value = row.get("reward")
        reward = 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        ok = 1 - SUCCESS_EPS <= reward <= 1 + SUCCESS_EPS
        per_task[row["task_id"]].append(ok)
        stop, status, source = _text(row.get("stop_reason")), _text(row.get("status")), _text(row.get("failure"))
        if stop:
            stops[stop] += 1
        if not ok:
            if not source:
                db_match, missing = row.get("db_match"), row.get("missing_outputs")
                facts = {"stop_reason": stop, "reward": {"db_match": db_match is True or db_match == 1,
                                                         "missing_outputs": _count(missing)}}
                source = failure_source(status, facts, reward) or "unknown"
            failures[source] += 1
    n_trials = sum(len(v) for v in per_task.values())
    trials = min((len(v) for v in per_task.values()), default=0)
    out: dict[str, Any] = {"n_tasks": len(per_task), "n_trials": n_trials, "trials_per_task": trials,
                           "mean_reward": sum(sum(v) for v in per_task.values()) / n_trials if n_trials else math.nan}
    for k in range(1, max_k + 1):
        key = f"pass^{k}"
        if per_task and k <= trials:
            out[key] = sum(pass_hat_k(len(v), sum(v), k) for v in per_task.values()) / len(per_task)
        else:
            out[key] = math.nan
    keys = [*FAILURE_SOURCES, *sorted(set(failures) - set(FAILURE_SOURCES))]
    out["failures"] = {k: failures.get(k, 0) for k in keys}
    out["failure_rates"] = {k: (failures.get(k, 0) / n_trials if n_trials else math.nan) for k in keys}
    out["stop_reasons"] = dict(stops)
    return out


def peer_label(role: str, peers: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Which model played ``role``: the configured name, else the one every attempt recorded."""
    cfg = peers.get(role) or {}
    seen = sorted({str(r[role]) for r in rows if r.get(role)})
    model = cfg.get("model") or (", ".join(seen) if seen else "same model")
    effort = cfg.get("effort", "low")
    return f"{model} ({cfg.get('transport', 'chat')}, {'no reasoning effort' if effort is None else f'effort {effort}'})"


def tau_sections(run_dir: Any, *, card_key: str = "tau_retail", title: str = "Tau-Bench Retail",
                 row: Any = None, roles: tuple[str, ...] = (SIMULATOR_ROLE,)) -> list[dict[str, Any]]:
    """The run's report section: one row of the suite's pass^k table (merged across runs by the report), with
    the failure sources and the model of every peer role (user simulator, judge) next to the numbers."""
    from evals.card import card_value
    from evals.store import RunStore
    from evals.suite_metrics import section, table

    store = RunStore(run_dir)
    manifest = store.read_manifest() or {}
    if manifest.get("card_key") != card_key:
        return []
    to_row = row or attempt_row
    grades = store.grades()
    rows = [to_row(a, grades[k].score if k in grades else None) for k, a in store.attempts().items()]
    m = tau_metrics(rows)
    peers = (manifest.get("settings") or {}).get("peers") or {}
    card = card_value(manifest.get("card"), card_key, manifest.get("effort", ""))
    fails = ", ".join(f"{k} {v}" for k, v in m["failures"].items() if v) or "-"
    passes = ["-" if math.isnan(m[f"pass^{k}"]) else f"{100 * m[f'pass^{k}']:.1f}" for k in range(1, 5)]
    columns = ["model", "effort", "tasks", "trials", "mean reward", "pass^1", "pass^2", "pass^3", "pass^4",
               "card pass^1", *(r.replace("_", " ") for r in roles), "failures"]
    cells = [manifest.get("model"), manifest.get("effort"), m["n_tasks"], m["trials_per_task"],
             f"{100 * m['mean_reward']:.1f}", *passes, card if card is not None else "-",
             *(peer_label(r, peers, rows) for r in roles), fails]
    return [section(title, tables=[table(columns, [cells])])]


def tau_section(run_dirs: Any, *, card_key: str = "tau_retail", title: str = "Tau-Bench Retail",
                row: Any = None, roles: tuple[str, ...] = (SIMULATOR_ROLE,)) -> str:
    """Markdown: the sections of :func:`tau_sections` for every run of ``card_key`` under ``run_dirs`` ("" if
    none), as the report renders them."""
    from evals.store import find_runs
    from evals.suite_metrics import merge_sections, to_markdown

    return to_markdown(merge_sections(
        tau_sections(d, card_key=card_key, title=title, row=row, roles=roles)
        for d in sorted({p for root in run_dirs for p in find_runs(root)})))


__all__ = ["FAILURE_SOURCES", "STOP_REASONS", "TauRetailTask", "attempt_reward", "attempt_row", "failure_source",
           "peer_label", "tau_metrics", "tau_section", "tau_sections"]
