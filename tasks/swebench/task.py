"""SWE-Bench Verified: a gpt-oss agent with its in-distribution tools edits a repository; the diff is graded.

The episode (``solve``):

1. start the instance's environment (Docker image, or a local clone) at ``base_commit``;
2. loop: model call -> run every tool call (``exec`` like ``container.exec``, ``apply_patch`` in the
   "*** Begin Patch" format, with ``repo_browser=True`` also ``repo_browser.open_file`` / ``.search`` /
   ``.print_tree``) -> tool messages, until the model answers without a tool call (``submitted``) or a limit
   ends it: ``step_limit`` (model calls), ``time_limit`` (wall clock: a model call still running at the limit
   is cancelled, a command is killed), ``context_overflow`` (the conversation outgrew the context window, or
   the server refused it as too long), ``model_error`` (an unparseable or rejected model reply),
   ``no_tool_call`` (an empty reply: neither tool call nor answer). Whatever the reason, what is in the work
   tree is submitted;
3. the patch is ``git add -A && git diff --cached <base_commit>``;
4. optionally (default for local environments) the instance's ``eval_script`` runs in a fresh environment
   with the patch applied, and its log is stored so ``grade`` can use swebench's own log parsing.

``grade`` never runs anything: it reads the stored log (or says the attempt still needs the Docker harness).

Why the model sees ``functions.exec`` and not ``container.exec``: every transport carries our tools as
function tools. Chat Completions and Responses accept only ``type: function`` tools, which vLLM renders into
the developer message's ``namespace functions``; openai-harmony's system message knows only two built-in
namespaces (``browser`` and ``python``: ``SystemContent.with_browser_tool`` / ``with_python_tool``), none
called ``container``. So ``exec`` is the container tool's schema (argv list, timeout, workdir) under the
functions namespace, and a call the model addresses to ``container.exec`` anyway is run all the same.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from evals.clients import RequestRejected
from evals.task import Episode, ModelSession, Task, TaskError, assistant_message
from evals.types import Attempt, Grade, ModelOutput, Sample
from tasks.swebench import data as swe_data
from tasks.swebench import grading, repo_browser
from tasks.swebench.apply_patch import PatchError, apply_patch
from tasks.swebench.environments import (
    DockerEnvironment,
    EnvError,
    Environment,
    EnvironmentUnavailable,
    bwrap_available,
    make_environment,
)

STOP_REASONS = ("submitted", "step_limit", "time_limit", "context_overflow", "model_error", "no_tool_call",
                "env_error")

DEVELOPER_PROMPT = """# Instructions

You are a software engineer working autonomously in a code repository checked out at {repo}. Your job is to \
resolve the issue given by the user by editing the repository's source files.

- Explore the code with the `exec` tool (e.g. `["bash", "-lc", "grep -rn 'name' src | head"]`), reproduce the \
problem with a small script, then fix it.
- Edit files with the `apply_patch` tool. Make minimal, focused changes to non-test files; hidden tests will \
check your fix, so keep existing behaviour and public interfaces intact.
- Run the relevant existing tests to make sure nothing else broke. Remove scratch files you created.
- You cannot ask the user anything; there is no network access.
- When you are done, reply with a short summary of the change without calling a tool. Your submission is the \
state of the working tree (every change against the original commit, new files included)."""

USER_PROMPT = """<issue>
{problem}
</issue>

The repository is at {repo} (already at the right commit). Resolve the issue above."""

EXEC_DESCRIPTION = (
    "Runs a command in the repository's container (like container.exec) and returns its combined stdout and "
    "stderr. `cmd` is an argv list, run without a shell: use [\"bash\", \"-lc\", \"<script>\"] for pipes, "
    "redirections or several commands. The working directory is {repo} unless `workdir` is given. Long output "
    "is truncated in the middle. Commands are killed after `timeout` seconds (default {default}, at most {max}).")

APPLY_PATCH_DESCRIPTION = """Edits files with a patch in this format (paths relative to the repository root):

*** Begin Patch
*** Add File: path/to/new_file.py
+every line of the new file, prefixed with +
*** Update File: path/to/existing.py
*** Move to: path/to/renamed.py   (optional)
@@ class or function line near the change (optional, helps locate the hunk)
 unchanged context line (prefix: one space)
-line to remove
+line to add
*** Delete File: path/to/obsolete.py
*** End Patch

Give about 3 lines of unchanged context before and after each change, copied exactly from the file. \
The whole patch is applied or none of it; on an error the message says which part did not match."""


def exec_tool(repo: str, default_timeout: float, max_timeout: float) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": "exec",
        "description": EXEC_DESCRIPTION.format(repo=repo, default=int(default_timeout), max=int(max_timeout)),
        "parameters": {"type": "object", "properties": {
            "cmd": {"type": "array", "items": {"type": "string"},
                    "description": "The command and its arguments, e.g. [\"bash\", \"-lc\", \"ls -la\"]."},
            "timeout": {"type": "integer", "description": "Seconds before the command is killed."},
            "workdir": {"type": "string", "description": "Directory to run in (default: the repository)."},
        }, "required": ["cmd"]}}}


def apply_patch_tool() -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": "apply_patch", "description": APPLY_PATCH_DESCRIPTION,
        "parameters": {"type": "object", "properties": {
            "patch": {"type": "string", "description": "The full patch, from *** Begin Patch to *** End Patch."},
        }, "required": ["patch"]}}}


@dataclass
class SweOutput(ModelOutput):
    """The last model output of the episode, plus the submitted patch (stored in the attempt's output)."""

    patch: str = ""


def _with_patch(out: ModelOutput, patch: str) -> SweOutput:
    return SweOutput(**{f.name: getattr(out, f.name) for f in fields(ModelOutput)}, patch=patch)


def _estimate_tokens(messages: list[dict[str, Any]]) -> int:
    chars = sum(len(str(m.get("content") or "")) + len(str(m.get("reasoning") or ""))
                + sum(len(c.get("arguments") or "") for c in m.get("tool_calls") or []) for m in messages)
    return chars // 4


_CONTEXT_WORDS = ("context length", "context window", "maximum context", "too long", "max_model_len",
                  "maximum model length", "prompt is too long")


class SweBenchTask(Task):
    """SWE-Bench Verified with gpt-oss's exec + apply_patch tools. ``card_key`` = ``swebench_verified``."""

    version = "1"
    default_repeats = 1

    def __init__(self, name: str = "swebench_verified", *, path: str | None = None,
                 hf_id: str = swe_data.HF_ID, split: str = "test", ids: list[str] | None = None,
                 ids_file: str | None = None, limit: int | None = None, repeats: int = 1,
                 environment: Mapping[str, Any] | None = None,
                 env_factory: Callable[[dict[str, Any]], Environment] | None = None,
                 max_steps: int = 200, max_time_s: float = 3600.0, max_context_tokens: int = 131_072,
                 context_reserve_tokens: int = 16_384, command_timeout_s: float = 180.0,
                 max_command_timeout_s: float = 1200.0, max_output_chars: int = 16_000,
                 run_eval: bool | None = None, eval_timeout_s: float = 1800.0,
                 model_name: str | None = None, repo_browser: bool = False) -> None:
        self.name = name
        self.path = path
        self.hf_id = hf_id
        self.split = split
        self.ids = [str(i) for i in ids] if ids else None
        self.ids_file = ids_file
        self.limit = limit
        self.default_repeats = repeats
        self.environment = dict(environment or {"kind": "docker"})
        self.env_factory = env_factory
        self.max_steps = max_steps
        self.max_time_s = max_time_s
        self.max_context_tokens = max_context_tokens
        self.context_reserve_tokens = context_reserve_tokens
        self.command_timeout_s = command_timeout_s
        self.max_command_timeout_s = max_command_timeout_s
        self.max_output_chars = max_output_chars
        self.run_eval = run_eval
        self.eval_timeout_s = eval_timeout_s
        self.model_name = model_name
        self.repo_browser = bool(repo_browser)

    # -- data -----------------------------------------------------------------------------------------
    def load(self) -> list[Sample]:
        rows = swe_data.load_instances(self.path, self.hf_id, self.split, self.ids, self.ids_file, self.limit)
        return [Sample(id=r["instance_id"], input=r["problem_statement"], reference=r,
                       metadata={"repo": r["repo"], "version": r.get("version"),
                                 "difficulty": r.get("difficulty"), "base_commit": r["base_commit"]})
                for r in rows]

    # -- environments ---------------------------------------------------------------------------------
    def make_env(self, row: dict[str, Any]) -> Environment:
        if self.env_factory is not None:
            env = self.env_factory(row)
        else:
            opts = {k: v for k, v in self.environment.items() if k not in ("kind", "repos_dir")}
            env = make_environment(self.environment.get("kind", "docker"), row,
                                   repos_dir=self.environment.get("repos_dir"), **opts)
        env.max_output_chars = self.max_output_chars
        env.default_timeout = self.command_timeout_s
        return env

    def _should_eval(self, env: Environment) -> bool:
        return self.run_eval if self.run_eval is not None else env.kind == "local"

    def preflight(self) -> None:
        """Before a run sends any request: can this machine start the configured environments at all?

        Without it, a run with no Docker engine would send a request per instance and store 500 env_error
        attempts; this way it stops with one line (the CLI exits 2).
        """
        if self.env_factory is not None:
            return
        kind = self.environment.get("kind", "docker")
        try:
            if kind == "docker":
                DockerEnvironment("preflight", "preflight", docker=self.environment.get("docker", "docker")).check_engine()
            elif kind == "local":
                repos_dir = self.environment.get("repos_dir")
                if repos_dir and not os.path.isdir(repos_dir):
                    raise EnvironmentUnavailable(f"suite.environment.repos_dir={repos_dir} is not a directory")
                if self.environment.get("sandbox", "auto") is True and not bwrap_available():
                    raise EnvironmentUnavailable("suite.environment.sandbox=true but bubblewrap (bwrap) is missing "
                                                 "or cannot create namespaces here; install it or set sandbox=false")
            else:
                raise EnvironmentUnavailable(f"unknown suite.environment.kind={kind!r}; choose docker or local")
        except EnvironmentUnavailable as exc:
            raise TaskError(f"{self.name}: {exc}") from None

    # -- tools ----------------------------------------------------------------------------------------
    def tools(self, repo: str) -> list[dict[str, Any]]:
        tools = [exec_tool(repo, self.command_timeout_s, self.max_command_timeout_s), apply_patch_tool()]
        if self.repo_browser:
            tools += repo_browser.tool_schemas()
        return tools

    def developer_prompt(self, repo: str) -> str:
        text = DEVELOPER_PROMPT.format(repo=repo)
        if self.repo_browser:  # one more bullet after the exploration bullet; the default prompt is untouched
            first, rest = text.split("\n- Edit files", 1)
            text = f"{first}\n{repo_browser.PROMPT_HINT}\n- Edit files{rest}"
        return text

    def _run_tool(self, env: Environment, name: str, arguments: str, remaining_s: float) -> tuple[str, bool]:
        """Run one tool call; returns (text for the model, whether it was an error)."""
        for prefix in ("functions.", "container."):  # chat adds functions.; container.exec is the model's own name
            name = name.removeprefix(prefix)
        browse = repo_browser.resolve(name) if self.repo_browser else None
        if browse is not None:
            timeout = max(1.0, min(self.command_timeout_s, max(1.0, remaining_s)))
            return repo_browser.run(env, browse, arguments, timeout)
        if name == "apply_patch":
            patch_text: str | None = None
            try:
                args = json.loads(arguments) if arguments.strip() else {}
                if isinstance(args, dict):
                    patch_text = args.get("patch") or args.get("input")
                elif isinstance(args, str):
                    patch_text = args
            except json.JSONDecodeError:
                if "*** Begin Patch" in arguments:  # raw patch text instead of JSON
                    patch_text = arguments
                else:
                    return ("error: apply_patch arguments are not valid JSON; send {\"patch\": \"*** Begin "
                            "Patch\\n...\\n*** End Patch\"}"), True
            if not patch_text:
                return "error: apply_patch needs a \"patch\" argument holding the patch text", True
            try:
                return apply_patch(patch_text, env, env.repo_path), False
            except PatchError as exc:
                return f"error: the patch was not applied (no file was changed): {exc}", True
        if name == "exec":
            try:
                args = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                return f"error: exec arguments are not valid JSON ({exc.msg}); send {{\"cmd\": [\"ls\"]}}", True
            if not isinstance(args, dict):
                return "error: exec arguments must be a JSON object like {\"cmd\": [\"ls\"]}", True
            cmd = args.get("cmd")
            if isinstance(cmd, str):
                cmd = ["bash", "-lc", cmd]
            if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
                return "error: `cmd` must be a non-empty list of strings, e.g. [\"bash\", \"-lc\", \"ls\"]", True
            try:
                timeout = float(args.get("timeout") or self.command_timeout_s)
            except (TypeError, ValueError):
                timeout = self.command_timeout_s
            timeout = max(1.0, min(timeout, self.max_command_timeout_s, max(1.0, remaining_s)))
            workdir = args.get("workdir") if isinstance(args.get("workdir"), str) else None
            res = env.exec(cmd, timeout=timeout, workdir=workdir)
            text = res.output if res.output.strip() else "(no output)"
            if res.exit_code != 0 and not res.timed_out:
                text += f"\n[exit code {res.exit_code}]"
            return text, res.exit_code != 0
        if self.repo_browser:
            return (f"error: unknown tool {name!r}; the tools are exec, apply_patch and "
                    f"{', '.join(repo_browser.tool_names())}"), True
        return f"error: unknown tool {name!r}; the tools are exec and apply_patch", True

    # -- the episode ----------------------------------------------------------------------------------
    async def solve(self, sample: Sample, model: ModelSession) -> Episode:
        row: dict[str, Any] = sample.reference
        started = time.monotonic()
        info: dict[str, Any] = {"steps": 0, "tool_calls": 0, "tool_errors": 0, "stop_reason": None, "patch": "",
                                "env_errors": [], "instance_id": sample.id}
        last = ModelOutput()
        try:
            env = self.make_env(row)
            await asyncio.to_thread(env.start)
        except Exception as exc:  # no environment, no episode: an infrastructure error
            info["stop_reason"] = "env_error"
            info["env_errors"].append(f"{type(exc).__name__}: {exc}")
            return Episode(transcript=[], output=_with_patch(last, ""), status="error", info=info,
                           error=f"environment failed to start: {exc}")
        info["environment"] = env.kind
        messages: list[dict[str, Any]] = [
            {"role": "developer", "content": self.developer_prompt(env.repo_path)},
            {"role": "user", "content": USER_PROMPT.format(problem=sample.input, repo=env.repo_path)},
        ]
        tools = self.tools(env.repo_path)
        try:
            stop = await self._loop(env, model, messages, tools, info, started)
            info["stop_reason"] = stop
            if model.calls:
                last = model.calls[-1]
            try:
                info["patch"] = await asyncio.to_thread(env.diff)
            except Exception as exc:
                info["env_errors"].append(f"diff: {type(exc).__name__}: {exc}")
        finally:
            await asyncio.to_thread(env.close)
        info["elapsed_s"] = round(time.monotonic() - started, 3)
        patch = info["patch"]
        if patch.strip() and self._should_eval(env):
            ev = await asyncio.to_thread(grading.run_eval_script, lambda: self.make_env(row), row, patch,
                                         self.eval_timeout_s)
            info["eval"] = ev
            if ev.get("infra_error"):
                info["env_errors"].append(ev["infra_error"])
        return Episode(transcript=messages, output=_with_patch(last, patch), status="ok", info=info)

    async def _loop(self, env: Environment, model: ModelSession, messages: list[dict[str, Any]],
                    tools: list[dict[str, Any]], info: dict[str, Any], started: float) -> str:
        for _ in range(self.max_steps):
            remaining = self.max_time_s - (time.monotonic() - started)
            if remaining <= 0:
                info["time_limit"] = "reached before a model call"
                return "time_limit"
            try:
                # the wall-time limit holds during a call too: a slow or stuck reply is cancelled at the limit
                async with asyncio.timeout(remaining) as budget:
                    out = await model.generate(messages, tools=tools)
            except TimeoutError:
                if not budget.expired():
                    raise
                info["time_limit"] = (f"a model call was still running at the {self.max_time_s:g} s limit and "
                                      f"was cancelled")
                return "time_limit"
            except RequestRejected as exc:
                text = str(exc).lower()
                info["model_error"] = str(exc)[:500]
                return "context_overflow" if any(w in text for w in _CONTEXT_WORDS) else "model_error"
            info["steps"] += 1
            messages.append(assistant_message(out))
            if out.parse_error:
                info["model_error"] = out.parse_error[:500]
                return "model_error"
            if out.finish_reason == "length" and not out.tool_calls:
                return "context_overflow"
            if not out.tool_calls:
                return "submitted" if (out.final or "").strip() else "no_tool_call"
            for call in out.tool_calls:
                remaining = self.max_time_s - (time.monotonic() - started)
                info["tool_calls"] += 1
                try:
                    text, is_error = await asyncio.to_thread(self._run_tool, env, call.name, call.arguments,
                                                             remaining)
                except EnvError as exc:
                    info["env_errors"].append(f"{call.name}: {exc}")
                    text, is_error = f"error: the environment failed: {exc}", True
                info["tool_errors"] += int(is_error)
                messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name, "content": text})
            used = out.usage.prompt_tokens + out.usage.completion_tokens
            if not used:
                used = _estimate_tokens(messages)
            else:
                used += _estimate_tokens(messages[-len(out.tool_calls):])  # the tool results just added
            if used >= self.max_context_tokens - self.context_reserve_tokens:
                return "context_overflow"
            if self.max_time_s - (time.monotonic() - started) <= 0:
                info["time_limit"] = "reached while tools ran"
                return "time_limit"
        return "step_limit"

    # -- grading --------------------------------------------------------------------------------------
    def grade(self, sample: Sample, attempt: Attempt) -> Grade:
        patch = str(attempt.info.get("patch") or attempt.output.get("patch") or "")
        return grading.grade_from_eval(attempt.key, sample.reference, patch, attempt.info.get("eval"),
                                       self.model_name or attempt.model)

    def settings(self) -> dict[str, Any]:
        env = {k: v for k, v in self.environment.items() if k in ("kind", "sandbox")}
        out = {"name": self.name, "version": self.version, "source": self.path or f"{self.hf_id}:{self.split}",
               "ids": self.ids, "ids_file": self.ids_file, "limit": self.limit, "environment": env,
               "max_steps": self.max_steps, "max_time_s": self.max_time_s,
               "max_context_tokens": self.max_context_tokens, "command_timeout_s": self.command_timeout_s,
               "max_output_chars": self.max_output_chars, "prompt": DEVELOPER_PROMPT + USER_PROMPT,
               "tools": [t["function"]["name"] for t in self.tools("/testbed")]}
        if self.repo_browser:  # only then: the default settings, and so their hash, stay as they were
            out.update(repo_browser=True, prompt=self.developer_prompt("{repo}") + USER_PROMPT)
        return out

    def card_key(self) -> str | None:
        return "swebench_verified"
