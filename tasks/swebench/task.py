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

Two ways to declare the tools (``tool_style``):

- ``reference`` (the default on the token-level Harmony transport): as gpt-oss's own reference tooling does.
  The shell is a ``container`` namespace with ``exec`` in the Harmony *system* message, declared like the
  built-in ``python`` and ``browser`` tools (openai-harmony's ``ToolNamespaceConfig``; vLLM's Harmony layer
  describes a container tool the same way), and the model calls it as ``container.exec``. ``apply_patch`` is a
  function whose parameter schema is a plain string: the call's text is the patch itself (a one-key JSON object
  is unwrapped), and the format's instructions follow the task instructions in the developer message.
- ``functions``: what Chat Completions and Responses servers can carry, function tools only:
  ``functions.exec`` (argv list, timeout, workdir) and ``functions.apply_patch`` with a ``{"patch": ...}``
  object. A call the model addresses to ``container.exec`` anyway is run all the same.

Malformed tool input (empty, not JSON, not a patch, a path outside the repository) is answered with an
error the model reads; nothing is written outside the work tree.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from evals.agent_loop import AgentLoop, Limits, ToolResult
from evals.clients import RequestRejected
from evals.task import Episode, ModelSession, Task, TaskError
from evals.types import Attempt, Grade, ModelOutput, Sample, ToolCall
from tasks.swebench import data as swe_data
from tasks.swebench import grading, repo_browser
from tasks.swebench.apply_patch import PatchError, apply_patch, parse_patch
from tasks.swebench.environments import (
    DockerEnvironment,
    EnvError,
    Environment,
    EnvironmentUnavailable,
    bwrap_available,
    make_environment,
)

TOOL_STYLES = ("reference", "functions")

STOP_REASONS = ("submitted", "step_limit", "time_limit", "context_overflow", "model_error", "no_tool_call",
                "env_error")

DEVELOPER_PROMPT = """# Instructions

You are a software engineer working autonomously in a code repository checked out at {repo}. Your job is to \
resolve the issue given by the user by editing the repository's source files.

- Explore the code with the `{exec}` tool (e.g. `["bash", "-lc", "grep -rn 'name' src | head"]`), reproduce the \
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


CONTAINER_DESCRIPTION = ("The container that holds the repository: a Linux shell without network access. Files "
                         "you change stay changed for later calls; every call starts a new process.")

REFERENCE_EXEC_DESCRIPTION = (
    "Runs a command in the container and returns its combined stdout and stderr. `cmd` is an argv list, run "
    "without a shell: use [\"bash\", \"-lc\", \"<script>\"] for pipes, redirections or several commands. The "
    "working directory is {repo} unless `workdir` is given. Long output is truncated in the middle. Commands "
    "are killed after `timeout` seconds (default {default}, at most {max}).")

# The apply_patch format's rules, in our words (used unless the installed gpt-oss package ships its own text).
APPLY_PATCH_INSTRUCTIONS = """# Editing files with apply_patch

Change files only through the `apply_patch` tool. Its input is the patch text itself, not JSON:

*** Begin Patch
(one or more file operations)
*** End Patch

A file operation starts with a header naming a path relative to the repository root:
- `*** Add File: <path>` creates the file. Every line of its content follows, each starting with `+`.
- `*** Delete File: <path>` removes the file. Nothing follows the header.
- `*** Update File: <path>` edits the file in place; a `*** Move to: <new path>` line right after it also \
renames the file. Then come one or more hunks.

A hunk begins with a line `@@`, which may carry a line of the file to find first (such as the header of the \
class or function being changed) when the context alone would match in several places. Every other line of a \
hunk starts with one character: a space for an unchanged line, `-` for a line to remove, `+` for a line to add. \
Copy unchanged lines exactly, about three before and three after each change. A hunk that must match at the end \
of the file ends with the line `*** End of File`.

Example (three operations in one patch):

*** Begin Patch
*** Update File: pkg/util.py
@@ def parse(value):
     text = value.strip()
-    return int(text)
+    return int(text, 10)
*** Add File: pkg/NOTES.txt
+parse() reads base 10 only.
*** Delete File: pkg/old_util.py
*** End Patch

Keep each change small and in the style of the code around it, and write complete code rather than stubs. \
A patch is applied whole or not at all; if it fails, the reply says which part did not match."""

APPLY_PATCH_PARAMETERS = {"type": "string", "description": "Formatted patch code",
                          "default": "*** Begin Patch\n*** End Patch\n"}


def _exec_parameters() -> dict[str, Any]:
    return {"type": "object", "properties": {
        "cmd": {"type": "array", "items": {"type": "string"},
                "description": "The command and its arguments, e.g. [\"bash\", \"-lc\", \"ls -la\"]."},
        "timeout": {"type": "integer", "description": "Seconds before the command is killed."},
        "workdir": {"type": "string", "description": "Directory to run in (default: the repository)."},
    }, "required": ["cmd"]}


def exec_tool(repo: str, default_timeout: float, max_timeout: float) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": "exec",
        "description": EXEC_DESCRIPTION.format(repo=repo, default=int(default_timeout), max=int(max_timeout)),
        "parameters": _exec_parameters()}}


def container_namespace(repo: str, default_timeout: float, max_timeout: float) -> dict[str, Any]:
    """The shell as a Harmony system-message namespace (rendered by :func:`evals.harmony.system_message`)."""
    return {"type": "namespace", "name": "container", "description": CONTAINER_DESCRIPTION, "tools": [{
        "name": "exec",
        "description": REFERENCE_EXEC_DESCRIPTION.format(repo=repo, default=int(default_timeout),
                                                         max=int(max_timeout)),
        "parameters": _exec_parameters()}]}


def reference_apply_patch_tool() -> dict[str, Any]:
    """apply_patch with a plain-string parameter: the call's text is the patch."""
    return {"type": "function", "function": {
        "name": "apply_patch", "description": "Edits files with a patch in the apply_patch format.",
        "parameters": dict(APPLY_PATCH_PARAMETERS)}}


def apply_patch_instructions() -> tuple[str, str]:
    """(text, source): gpt-oss's own ``tools/apply_patch.md`` when the installed package ships it, else ours."""
    try:  # located, not imported: nothing of the package runs
        spec = importlib.util.find_spec("gpt_oss")
        folders = list(spec.submodule_search_locations or []) if spec else []
        for folder in folders:
            path = Path(folder) / "tools" / "apply_patch.md"
            if path.is_file():
                text = path.read_text(encoding="utf-8").strip()
                if text:
                    return text, f"gpt-oss {_version('gpt-oss')} tools/apply_patch.md"
    except (ImportError, OSError, ValueError):  # UnicodeDecodeError is a ValueError
        pass
    return APPLY_PATCH_INSTRUCTIONS, "gptoss-eval"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "(version unknown)"


def apply_patch_tool() -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": "apply_patch", "description": APPLY_PATCH_DESCRIPTION,
        "parameters": {"type": "object", "properties": {
            "patch": {"type": "string", "description": "The full patch, from *** Begin Patch to *** End Patch."},
        }, "required": ["patch"]}}}


# Prints every argument whose real path (symbolic links followed, missing parts allowed) is not inside the
# working directory, i.e. the repository.
_OUTSIDE_SCRIPT = ('root=$(pwd -P) || exit 3; for p in "$@"; do r=$(realpath -m -- "$p") || exit 3; '
                   'case "$r" in "$root"/*) ;; *) printf "%s\\n" "$p";; esac; done')


def _paths_leaving_the_repo(env: Environment, patch_text: str) -> list[str]:
    """Paths of the patch that a symbolic link in the work tree would take outside it (the applier refuses
    textual escapes such as ``../x`` itself). Where the check cannot run, nothing is reported."""
    try:
        ops = parse_patch(patch_text, env.repo_path)
    except PatchError:
        return []  # malformed: the applier says how
    paths = sorted({p for op in ops for p in (op.path, op.move_to) if p})
    if not paths:
        return []
    res = env.exec(["bash", "-c", _OUTSIDE_SCRIPT, "_", *paths], timeout=60)
    if res.exit_code != 0:
        return []
    return [line for line in res.output.splitlines() if line in paths]


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
                 model_name: str | None = None, repo_browser: bool = False, tool_style: str | None = None,
                 transport: str | None = None, instance_ids_file: str | None = None) -> None:
        if ids_file and instance_ids_file and ids_file != instance_ids_file:
            raise TaskError(f"{name}: suite.instance_ids_file and suite.ids_file name two files; give one")
        self.name = name
        self.path = path
        self.hf_id = hf_id
        self.split = split
        self.ids = [str(i) for i in ids] if ids else None
        self.ids_file = instance_ids_file or ids_file
        self.transport = transport
        if tool_style is None:  # the reference declaration needs the Harmony system message, i.e. our renderer
            tool_style = "reference" if transport == "harmony" else "functions"
        if tool_style not in TOOL_STYLES:
            raise TaskError(f"{name}: suite.tool_style={tool_style!r} is not valid: expected reference or "
                            f"functions")
        if tool_style == "reference" and transport not in (None, "harmony"):
            raise TaskError(f"{name}: suite.tool_style=reference declares the container tool in the Harmony system "
                            f"message, which only client=harmony sends (configured: client={transport}); use "
                            f"suite.tool_style=functions or client=harmony")
        self.tool_style = tool_style
        self.patch_instructions, self.patch_instructions_source = apply_patch_instructions()
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
        if self.tool_style == "reference":
            tools = [container_namespace(repo, self.command_timeout_s, self.max_command_timeout_s),
                     reference_apply_patch_tool()]
        else:
            tools = [exec_tool(repo, self.command_timeout_s, self.max_command_timeout_s), apply_patch_tool()]
        if self.repo_browser:
            tools += repo_browser.tool_schemas()
        return tools

    def tool_names(self) -> list[str]:
        """What the model calls, e.g. ``container.exec``, ``apply_patch``."""
        names = []
        for tool in self.tools("/testbed"):
            if tool.get("type") == "namespace":
                names += [f"{tool['name']}.{t['name']}" for t in tool["tools"]]
            else:
                names.append(tool["function"]["name"])
        return names

    def developer_prompt(self, repo: str) -> str:
        reference = self.tool_style == "reference"
        text = DEVELOPER_PROMPT.format(repo=repo, exec="container.exec" if reference else "exec")
        if self.repo_browser:  # one more bullet after the exploration bullet; the default prompt is untouched
            first, rest = text.split("\n- Edit files", 1)
            text = f"{first}\n{repo_browser.PROMPT_HINT}\n- Edit files{rest}"
        if reference:  # as gpt-oss's reference chat appends the format's rules to the developer message
            text = f"{text}\n\n{self.patch_instructions}"
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
            patch_text, error = self._patch_text(arguments)
            if error:
                return error, True
            try:
                escaping = _paths_leaving_the_repo(env, patch_text)
                if escaping:
                    return (f"error: the patch was not applied (no file was changed): {', '.join(escaping)} "
                            f"resolves outside the repository (through a symbolic link)"), True
                return apply_patch(patch_text, env, env.repo_path), False
            except (PatchError, ValueError) as exc:  # ValueError: e.g. a NUL byte in a path
                return f"error: the patch was not applied (no file was changed): {exc}", True
        if name == "exec":
            return self._exec(env, arguments, remaining_s)
        return f"error: unknown tool {name!r}; the tools are {', '.join(self.tool_names())}", True

    def _patch_text(self, arguments: str) -> tuple[str, str | None]:
        """The patch an ``apply_patch`` call carries, or the error the model reads instead."""
        text = arguments.strip()
        if self.tool_style == "functions":  # a {"patch": ...} object; raw patch text is accepted too
            patch_text: Any = None
            try:
                args = json.loads(text) if text else {}
                if isinstance(args, dict):
                    patch_text = args.get("patch") or args.get("input")
                elif isinstance(args, str):
                    patch_text = args
            except json.JSONDecodeError:
                if "*** Begin Patch" not in text:
                    return "", ("error: apply_patch arguments are not valid JSON; send {\"patch\": \"*** Begin "
                                "Patch\\n...\\n*** End Patch\"}")
                patch_text = arguments
            if not patch_text or not isinstance(patch_text, str):
                return "", "error: apply_patch needs a \"patch\" argument holding the patch text"
            return patch_text, None
        # reference: the text is the patch; a JSON wrapper the model adds anyway is taken off
        usage = "send the patch text itself, from *** Begin Patch to *** End Patch"
        if not text:
            return "", f"error: apply_patch got no input; {usage}"
        if text[0] not in "{[\"":
            return arguments, None
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            return "", f"error: apply_patch input starts like JSON but is not valid JSON ({exc.msg}); {usage}"
        if isinstance(value, dict):
            if len(value) == 1:
                (value,) = value.values()
            else:
                value = value.get("patch", value.get("input"))
        if not isinstance(value, str) or not value.strip():
            return "", f"error: apply_patch found no patch text in the JSON it was sent; {usage}"
        return value, None

    def _exec(self, env: Environment, arguments: str, remaining_s: float) -> tuple[str, bool]:
        """Run an ``exec`` / ``container.exec`` call; malformed input is answered, never run."""
        args, error = repo_browser.object_arguments(arguments, "exec", "send {\"cmd\": [\"bash\", \"-lc\", \"ls\"]}")
        if error:
            return error, True
        cmd = args.get("cmd")
        if isinstance(cmd, str) and cmd.strip():
            cmd = ["bash", "-lc", cmd]
        if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
            return "error: `cmd` must be a non-empty list of strings, e.g. [\"bash\", \"-lc\", \"ls\"]", True
        extra_env = args.get("env")
        if extra_env:  # the container tool's optional environment variables
            if not isinstance(extra_env, dict) or not all(
                    isinstance(k, str) and k and "=" not in k and isinstance(v, str) for k, v in extra_env.items()):
                return "error: `env` must map variable names to string values", True
            cmd = ["env", "--", *(f"{k}={v}" for k, v in extra_env.items()), *cmd]
        workdir = args.get("workdir") if isinstance(args.get("workdir"), str) and args.get("workdir") else None
        if any("\0" in c for c in [*cmd, workdir or ""]):
            return "error: the command or workdir contains a NUL byte, which no program can receive", True
        try:
            timeout = float(args.get("timeout") or self.command_timeout_s)
        except (TypeError, ValueError):
            timeout = self.command_timeout_s
        if timeout != timeout:  # NaN
            timeout = self.command_timeout_s
        timeout = max(1.0, min(timeout, self.max_command_timeout_s, max(1.0, remaining_s)))
        res = env.exec(cmd, timeout=timeout, workdir=workdir)
        text = res.output if res.output.strip() else "(no output)"
        if res.exit_code != 0 and not res.timed_out:
            text += f"\n[exit code {res.exit_code}]"
        return text, res.exit_code != 0

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
        """The agent loop with every call of a turn run, ``max_steps`` model calls and ``max_time_s`` of wall time
        from ``started`` (a model call still running then is cancelled); returns the stop reason."""

        def rejected(exc: RequestRejected) -> str:
            info["model_error"] = str(exc)[:500]
            return "context_overflow" if any(w in str(exc).lower() for w in _CONTEXT_WORDS) else "model_error"

        def unreadable(out: ModelOutput) -> str | None:
            if out.parse_error:
                info["model_error"] = out.parse_error[:500]
                return "model_error"
            return None

        async def answer(out: ModelOutput) -> str:  # no tool call: the work tree is the submission
            if out.finish_reason == "length":
                return "context_overflow"
            return "submitted" if (out.final or "").strip() else "no_tool_call"

        async def run_tool(call: ToolCall) -> ToolResult:
            text, is_error = await asyncio.to_thread(self._run_tool, env, call.name, call.arguments,
                                                     loop.remaining_seconds())
            return ToolResult(text, is_error)

        def env_failed(call: ToolCall, exc: Exception) -> str:
            info["env_errors"].append(f"{call.name}: {exc}")
            return f"error: the environment failed: {exc}"

        def context_full(out: ModelOutput) -> str | None:
            used = out.usage.prompt_tokens + out.usage.completion_tokens
            if not used:
                used = _estimate_tokens(messages)
            else:
                used += _estimate_tokens(messages[-len(out.tool_calls):])  # the tool results just added
            return "context_overflow" if used >= self.max_context_tokens - self.context_reserve_tokens else None

        loop = AgentLoop(
            model, messages, tools=tools, fallback=run_tool, started=started,
            limits=Limits(max_steps=self.max_steps, max_seconds=self.max_time_s, steps_reason="step_limit"),
            on_output=unreadable, on_answer=answer, after_tools=context_full, on_rejected=rejected,
            tool_exceptions=(EnvError,), describe_exception=env_failed)
        stop = await loop.run()
        info.update(steps=loop.turns, tool_calls=loop.tool_calls, tool_errors=loop.tool_errors)
        if loop.limit_detail is not None:
            info["time_limit"] = loop.limit_detail
        return stop

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
               "tools": self.tool_names(), "tool_style": self.tool_style}
        if self.ids_file:  # the ids themselves: an edited file must not resume into the old store
            ids = swe_data.read_ids(None, self.ids_file) or []
            out["ids_file_sha256"] = hashlib.sha256("\n".join(ids).encode()).hexdigest()
            out["n_ids"] = len(ids)
        if self.tool_style == "reference":
            out.update(prompt=self.developer_prompt("{repo}") + USER_PROMPT,
                       tool_schemas=self.tools("{repo}"), apply_patch_instructions=self.patch_instructions_source)
        if self.repo_browser:
            out.update(repo_browser=True, prompt=self.developer_prompt("{repo}") + USER_PROMPT)
        return out

    def card_key(self) -> str | None:
        return "swebench_verified"

    @classmethod
    def suite_metrics(cls, run_dir: Path) -> list[dict[str, Any]]:
        from tasks.swebench.report import swebench_sections

        return swebench_sections(run_dir)
