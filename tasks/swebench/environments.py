"""Where a SWE-Bench instance's repository lives while the agent works on it.

One interface, two back ends:

- :class:`DockerEnvironment`: the instance's prebuilt image (``row["image"]``), repository at ``/testbed``,
  conda env ``testbed``; every command is a ``docker exec`` with ``timeout -s KILL`` inside the container (a
  killed ``docker`` client would otherwise leave the command running). This is the faithful set-up.
- :class:`LocalEnvironment`: a clone of a local repository in a temp dir at ``base_commit``, optionally run
  inside bubblewrap with the clone bound at ``/testbed`` (read-only system, no network, own pid namespace).
  For tests and for machines without a Docker engine; the instance's own dependencies must be on ``PATH``.

Both offer ``exec(cmd, timeout) -> ExecResult`` (unpacks as ``(exit_code, output)``; output is decoded
binary-safely and truncated to head + tail), file access for ``apply_patch``, ``diff()`` (``git add -A`` then
``git diff --cached <base_commit>``: new files included), ``run_script`` for the eval script, and ``close()``.
"""

from __future__ import annotations

import collections
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.swebench.apply_patch import PatchError, normalize_path

TESTBED = "/testbed"
DEFAULT_MAX_OUTPUT = 16_000  # characters of command output the model sees (head + tail)
TIMEOUT_EXIT = 124  # what coreutils ``timeout`` returns; we use it for every timed-out command


class EnvError(RuntimeError):
    """The environment itself failed (not a command run in it): an infrastructure error."""


class EnvironmentUnavailable(EnvError):
    """This kind of environment cannot run on this machine (no Docker engine, no bwrap...)."""


@dataclass
class ExecResult:
    exit_code: int
    output: str  # stdout and stderr interleaved, decoded, truncated
    timed_out: bool = False
    truncated: bool = False
    duration_s: float = 0.0

    def __iter__(self) -> Iterator[Any]:  # ``code, out = env.exec(...)``
        return iter((self.exit_code, self.output))


def decode_output(data: bytes) -> str:
    """Bytes from a command as text a model can read: invalid UTF-8 and control bytes become U+FFFD."""
    text = data.decode("utf-8", errors="replace")
    text = "".join("\ufffd" if (ord(ch) < 32 and ch not in "\t\n\r") or ch == "\x7f" else ch for ch in text)
    if len(text) >= 32 and text.count("\ufffd") > 0.3 * len(text):
        text = f"[binary output: {len(data)} bytes; showing a lossy decoding]\n" + text
    return text


def truncate_middle(text: str, limit: int) -> tuple[str, bool]:
    """Keep the first and last ``limit // 2`` characters with a note of how much was cut between them."""
    if limit <= 0 or len(text) <= limit:
        return text, False
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n[... {cut} characters truncated ...]\n{text[-half:]}", True


@dataclass
class _Raw:
    code: int
    head: bytes
    tail: bytes
    total: int
    timed_out: bool
    duration_s: float

    def data(self) -> bytes:
        return self.head + self.tail

    @property
    def complete(self) -> bool:
        return self.total == len(self.head) + len(self.tail)


def run_process(argv: Sequence[str], *, cwd: str | None = None, env: Mapping[str, str] | None = None,
                timeout: float | None = None, input: bytes | None = None, max_bytes: int = 1 << 20,
                kill_grace_s: float = 2.0) -> _Raw:
    """Run ``argv`` in its own session, merged stdout+stderr, keeping at most ``max_bytes`` (head and tail).

    On timeout the whole process group is SIGKILLed; output is drained concurrently so a chatty command
    never blocks on a full pipe.
    """
    started = time.monotonic()
    try:
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        return _Raw(127, f"cannot run {argv[0]!r}: {exc}\n".encode(), b"", 0, False, 0.0)
    half = max_bytes // 2
    head = bytearray()
    tail: collections.deque[bytes] = collections.deque()
    state = {"tail_len": 0, "total": 0}

    def reader() -> None:
        assert proc.stdout is not None
        while True:
            chunk = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else proc.stdout.read(65536)
            if not chunk:
                return
            state["total"] += len(chunk)
            room = half - len(head)
            if room > 0:
                head.extend(chunk[:room])
                chunk = chunk[room:]
            if chunk:
                tail.append(chunk)
                state["tail_len"] += len(chunk)
                while tail and state["tail_len"] - len(tail[0]) >= half:
                    state["tail_len"] -= len(tail.popleft())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    if input is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(input)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
    timed_out = False
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        try:
            proc.wait(timeout=kill_grace_s + 5)
        except subprocess.TimeoutExpired:
            pass
        code = TIMEOUT_EXIT
    t.join(timeout=kill_grace_s)
    if t.is_alive():  # a detached grandchild still holds the pipe: stop listening to it
        _kill_group(proc)
        t.join(timeout=kill_grace_s)
    tail_bytes = b"".join(tail)
    if len(tail_bytes) > half:
        tail_bytes = tail_bytes[-half:]
    return _Raw(code if code is not None else -1, bytes(head), tail_bytes, state["total"], timed_out,
                time.monotonic() - started)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def _result(raw: _Raw, limit: int, timeout: float | None) -> ExecResult:
    text = decode_output(raw.head)
    if not raw.complete:
        text += f"\n[... {raw.total - len(raw.head) - len(raw.tail)} bytes truncated ...]\n"
    text += decode_output(raw.tail) if raw.tail else ""
    text, cut = truncate_middle(text, limit)
    if raw.timed_out:
        text += f"\n[command timed out after {timeout:g} s and was killed]"
    return ExecResult(raw.code, text, raw.timed_out, cut or not raw.complete, raw.duration_s)


class Environment(ABC):
    """A repository at ``base_commit`` that commands run in; use as a context manager or call ``close()``."""

    repo_path: str = TESTBED  # where the model sees the repository
    kind: str = "base"

    def __init__(self, base_commit: str, *, max_output_chars: int = DEFAULT_MAX_OUTPUT,
                 default_timeout: float = 120.0) -> None:
        self.base_commit = base_commit
        self.max_output_chars = max_output_chars
        self.default_timeout = default_timeout

    def __enter__(self) -> Environment:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def start(self) -> None:
        """Make the repository ready at ``base_commit``; raise :class:`EnvError` if impossible."""

    @abstractmethod
    def exec(self, cmd: list[str], timeout: float | None = None, workdir: str | None = None) -> ExecResult:
        """Run ``cmd`` (argv, no shell) in the repository; returns exit code and truncated output."""

    @abstractmethod
    def _raw(self, cmd: list[str], timeout: float | None = None, input: bytes | None = None,
             max_bytes: int = 64 << 20) -> _Raw:
        """Run ``cmd`` in the repository and return its complete raw output (for diffs and file reads)."""

    @abstractmethod
    def close(self) -> None:
        """Remove everything the environment created; safe to call twice."""

    # -- files, for apply_patch (paths relative to the repository) ----------------------------------
    def read_text(self, path: str) -> str | None:
        rel = normalize_path(path, self.repo_path)
        raw = self._raw(["sh", "-c", 'test -f "$1" || exit 3; cat -- "$1"', "_", rel], timeout=60)
        if raw.code == 3:
            return None
        if raw.code != 0:
            raise PatchError(f"cannot read {rel}: {decode_output(raw.data())[:300]}")
        try:
            return raw.data().decode("utf-8")
        except UnicodeDecodeError:
            raise PatchError(f"{rel} is not a UTF-8 text file; apply_patch edits text files only") from None

    def write_text(self, path: str, text: str) -> None:
        rel = normalize_path(path, self.repo_path)
        raw = self._raw(["sh", "-c", 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"', "_", rel],
                        input=text.encode("utf-8"), timeout=60)
        if raw.code != 0:
            raise EnvError(f"cannot write {rel}: {decode_output(raw.data())[:300]}")

    def delete(self, path: str) -> None:
        rel = normalize_path(path, self.repo_path)
        raw = self._raw(["rm", "-f", "--", rel], timeout=60)
        if raw.code != 0:
            raise EnvError(f"cannot delete {rel}: {decode_output(raw.data())[:300]}")

    # -- the patch and the eval script ---------------------------------------------------------------
    def diff(self) -> str:
        """``git add -A && git diff --cached <base_commit>``: every change, new files included."""
        add = self._raw(["git", "add", "-A"], timeout=300)
        if add.code != 0:
            raise EnvError(f"git add -A failed: {decode_output(add.data())[:500]}")
        raw = self._raw(["git", "-c", "core.fileMode=false", "diff", "--cached", "--no-color", "--no-ext-diff",
                         self.base_commit], timeout=300)
        if raw.code != 0:
            raise EnvError(f"git diff failed: {decode_output(raw.data())[:500]}")
        if not raw.complete:
            raise EnvError(f"the diff is larger than {len(raw.head) + len(raw.tail)} bytes")
        return raw.data().decode("utf-8", errors="surrogateescape")

    def script_text(self, script: str) -> str:
        """The eval script as this environment must run it (paths adjusted for local runs)."""
        return script

    def run_script(self, script: str, timeout: float) -> tuple[int, str, bool]:
        """Run a bash script in the repository; returns (exit code, full log, timed out)."""
        # Through a file, like the harness's /eval.sh: an argv string is capped at 128 KiB, and ``bash -s``
        # would let any command that reads stdin eat the rest of the script.
        runner = 'f=$(mktemp); cat > "$f"; bash "$f" </dev/null; rc=$?; rm -f "$f"; exit $rc'
        raw = self._raw(["bash", "-c", runner], timeout=timeout, input=self.script_text(script).encode("utf-8"),
                        max_bytes=32 << 20)
        log = raw.data().decode("utf-8", errors="replace")
        return raw.code, log, raw.timed_out

    def apply_diff(self, patch: str) -> tuple[bool, str]:
        """Apply a unified diff the way the SWE-bench harness does (git apply, then --reject, then patch)."""
        self.write_text(".swebench_model.patch", patch)
        log = []
        ok = False
        for cmd in (["git", "apply", "--verbose", ".swebench_model.patch"],
                    ["git", "apply", "--verbose", "--reject", ".swebench_model.patch"],
                    ["patch", "--batch", "--fuzz=5", "-p1", "-i", ".swebench_model.patch"]):
            raw = self._raw(cmd, timeout=120)
            log.append(f"$ {shlex.join(cmd)}\n{decode_output(raw.data())}")
            if raw.code == 0:
                ok = True
                break
        self.delete(".swebench_model.patch")
        return ok, "\n".join(log)


# -------------------------------------------------------------------------------------------------------
# Local (optionally bubblewrapped) clone
# -------------------------------------------------------------------------------------------------------

def bwrap_available() -> bool:
    """Whether bubblewrap exists and can create its namespaces here."""
    exe = shutil.which("bwrap")
    if not exe:
        return False
    try:
        proc = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _system_binds() -> list[str]:
    """Read-only binds of the host's top-level directories (symlinks such as /bin -> usr/bin recreated)."""
    args: list[str] = []
    for entry in sorted(os.listdir("/")):
        if entry in ("proc", "dev", "tmp", "sys", TESTBED.strip("/")):
            continue
        path = "/" + entry
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path) or os.path.isfile(path):
            args += ["--ro-bind", path, path]
    return args


class LocalEnvironment(Environment):
    """A clone of ``source`` at ``base_commit`` in a temp dir; with ``sandbox=True`` bound at /testbed in bwrap.

    ``path``: directories put first on ``PATH`` (e.g. the bin dir of a venv holding the instance's
    dependencies). Git's global config and ``HOME`` point into the temp dir, so scripts that run
    ``git config --global`` never touch the host's.
    """

    kind = "local"

    def __init__(self, source: str | os.PathLike[str], base_commit: str, *, sandbox: bool | str = "auto",
                 path: Sequence[str] = (), env: Mapping[str, str] | None = None, network: bool = False,
                 max_output_chars: int = DEFAULT_MAX_OUTPUT, default_timeout: float = 120.0,
                 tmp_root: str | None = None) -> None:
        super().__init__(base_commit, max_output_chars=max_output_chars, default_timeout=default_timeout)
        self.source = str(source)
        if sandbox == "auto":
            sandbox = bwrap_available()
        elif sandbox and not shutil.which("bwrap"):
            raise EnvironmentUnavailable("bubblewrap (bwrap) not found; install it (apt-get install bubblewrap) "
                                         "or use sandbox=false")
        self.sandbox = bool(sandbox)
        self.path = list(path)
        self.extra_env = dict(env or {})
        self.network = network
        self.tmp_root = tmp_root
        self._tmp: str | None = None
        self.host_repo: str | None = None
        self.repo_path = TESTBED if self.sandbox else ""

    # paths ------------------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        assert self._tmp is not None
        home = "/tmp" if self.sandbox else os.path.join(self._tmp, "home")
        base_path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        env = {"PATH": os.pathsep.join([*self.path, base_path]), "HOME": home, "LANG": "C.UTF-8",
               "LC_ALL": "C.UTF-8", "GIT_CONFIG_GLOBAL": os.path.join(home, ".gitconfig"),
               "GIT_CONFIG_NOSYSTEM": "1", "PYTHONDONTWRITEBYTECODE": "1", "TERM": "dumb",
               "PAGER": "cat", "GIT_PAGER": "cat", "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory",
               "GIT_CONFIG_VALUE_0": "*", "TMPDIR": "/tmp" if self.sandbox else os.path.join(self._tmp, "t")}
        env.update(self.extra_env)
        return env

    def bwrap_argv(self, cmd: Sequence[str], workdir: str | None = None) -> list[str]:
        """The bubblewrap command line that runs ``cmd`` with the clone at /testbed."""
        assert self.host_repo is not None
        argv = ["bwrap", *_system_binds(), "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
                "--bind", self.host_repo, TESTBED, "--chdir", workdir or TESTBED, "--unshare-all",
                "--die-with-parent", "--new-session"]
        if self.network:
            argv.append("--share-net")
        return [*argv, "--", *cmd]

    def _argv(self, cmd: Sequence[str], workdir: str | None) -> tuple[list[str], str | None]:
        if self.sandbox:
            return self.bwrap_argv(cmd, workdir), None
        assert self.host_repo is not None
        cwd = self.host_repo
        if workdir:
            cwd = workdir if os.path.isabs(workdir) else os.path.join(self.host_repo, workdir)
        return list(cmd), cwd

    # lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._tmp is not None:
            return
        if not os.path.isdir(os.path.join(self.source, ".git")) and not os.path.isfile(
                os.path.join(self.source, "HEAD")):
            raise EnvError(f"{self.source} is not a git repository")
        self._tmp = tempfile.mkdtemp(prefix="swe-local-", dir=self.tmp_root)
        os.makedirs(os.path.join(self._tmp, "home"))
        os.makedirs(os.path.join(self._tmp, "t"))
        self.host_repo = os.path.join(self._tmp, "testbed")
        if not self.sandbox:
            self.repo_path = self.host_repo
        env = {**os.environ, **self._env()}
        for cmd in (["git", "clone", "--quiet", "--no-checkout", self.source, self.host_repo],
                    ["git", "-C", self.host_repo, "-c", "advice.detachedHead=false", "checkout", "--quiet",
                     self.base_commit]):
            proc = subprocess.run(cmd, capture_output=True, env=env, timeout=600)
            if proc.returncode != 0:
                err = proc.stderr.decode(errors="replace")[:500]
                self.close()
                raise EnvError(f"{shlex.join(cmd)} failed: {err}")
        # a clone of a clone keeps the source as origin; the agent has no business fetching from it
        subprocess.run(["git", "-C", self.host_repo, "remote", "remove", "origin"], capture_output=True, env=env)

    def exec(self, cmd: list[str], timeout: float | None = None, workdir: str | None = None) -> ExecResult:
        if self.host_repo is None:
            raise EnvError("environment not started")
        timeout = timeout or self.default_timeout
        argv, cwd = self._argv(cmd, workdir)
        raw = run_process(argv, cwd=cwd, env=self._env(), timeout=timeout, max_bytes=4 * self.max_output_chars)
        return _result(raw, self.max_output_chars, timeout)

    def _raw(self, cmd: list[str], timeout: float | None = None, input: bytes | None = None,
             max_bytes: int = 64 << 20) -> _Raw:
        if self.host_repo is None:
            raise EnvError("environment not started")
        argv, cwd = self._argv(cmd, None)
        return run_process(argv, cwd=cwd, env=self._env(), timeout=timeout, input=input, max_bytes=max_bytes)

    def script_text(self, script: str) -> str:
        if self.sandbox or self.host_repo is None:
            return script
        return script.replace(TESTBED, self.host_repo)  # no bind mount: point the script at the clone

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp = None
        self.host_repo = None


# -------------------------------------------------------------------------------------------------------
# Docker
# -------------------------------------------------------------------------------------------------------

class DockerEnvironment(Environment):
    """The instance's SWE-bench image in a container kept alive with ``tail -f /dev/null``.

    Commands run as ``docker exec -w /testbed NAME timeout -s KILL T bash -c '<activate conda env>; exec "$@"'
    _ CMD...`` so the conda env ``testbed`` is active and a timed-out command dies inside the container too.
    """

    kind = "docker"

    def __init__(self, image: str, base_commit: str, *, name: str | None = None, docker: str = "docker",
                 conda_env: str = "testbed", conda_activate: str = "/opt/miniconda3/bin/activate",
                 platform: str | None = None, run_args: Sequence[str] = (), pull: bool = False,
                 max_output_chars: int = DEFAULT_MAX_OUTPUT, default_timeout: float = 120.0) -> None:
        super().__init__(base_commit, max_output_chars=max_output_chars, default_timeout=default_timeout)
        self.image = image
        self.name = name or f"gptoss-swe-{uuid.uuid4().hex[:12]}"
        self.docker = docker
        self.conda_env = conda_env
        self.conda_activate = conda_activate
        self.platform = platform
        self.run_args = list(run_args)
        self.pull = pull
        self.started = False
        self.repo_path = TESTBED

    # command construction (unit-tested) ---------------------------------------------------------------
    def engine_check_argv(self) -> list[str]:
        return [self.docker, "version", "--format", "{{.Server.Version}}"]

    def run_argv(self) -> list[str]:
        argv = [self.docker, "run", "-d", "--name", self.name, "-w", TESTBED]
        if self.platform:
            argv += ["--platform", self.platform]
        return [*argv, *self.run_args, self.image, "tail", "-f", "/dev/null"]

    def _activate(self) -> str:
        if not self.conda_env:
            return 'exec "$@"'
        return (f"source {shlex.quote(self.conda_activate)} >/dev/null 2>&1; "
                f"conda activate {shlex.quote(self.conda_env)} >/dev/null 2>&1; exec \"$@\"")

    def exec_argv(self, cmd: Sequence[str], timeout: float | None = None, workdir: str | None = None,
                  interactive: bool = False) -> list[str]:
        argv = [self.docker, "exec"]
        if interactive:
            argv.append("-i")
        argv += ["-w", workdir or TESTBED, self.name]
        if timeout:
            argv += ["timeout", "-s", "KILL", str(max(1, int(round(timeout))))]
        return [*argv, "bash", "-c", self._activate(), "_", *cmd]

    def rm_argv(self) -> list[str]:
        return [self.docker, "rm", "-f", self.name]

    # lifecycle --------------------------------------------------------------------------------------
    def check_engine(self, hint: str = "use the local environment (suite.environment.kind=local)") -> str:
        """The engine's version; raises :class:`EnvironmentUnavailable` (one line ending in ``hint``) when no
        Docker engine answers."""
        if not shutil.which(self.docker):
            raise EnvironmentUnavailable(f"the docker client {self.docker!r} is not installed (not on PATH); "
                                         f"install Docker or {hint}")
        try:
            proc = subprocess.run(self.engine_check_argv(), capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            raise EnvironmentUnavailable(f"the Docker engine did not answer within 30 s; {hint}") from None
        if proc.returncode != 0 or not proc.stdout.strip():
            msg = (proc.stderr or proc.stdout).strip().splitlines()
            raise EnvironmentUnavailable(
                "no Docker engine answers (" + (msg[0] if msg else f"exit {proc.returncode}") + "); start the "
                f"engine or {hint}")
        return proc.stdout.strip()

    def start(self) -> None:
        if self.started:
            return
        self.check_engine()
        if self.pull:
            proc = subprocess.run([self.docker, "pull", self.image], capture_output=True, text=True, timeout=3600)
            if proc.returncode != 0:
                raise EnvError(f"docker pull {self.image} failed: {proc.stderr.strip()[:500]}")
        proc = subprocess.run(self.run_argv(), capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise EnvError(f"docker run {self.image} failed: {proc.stderr.strip()[:500]}")
        self.started = True
        head = self._raw(["git", "rev-parse", "HEAD"], timeout=60)
        if head.code != 0:
            self.close()
            raise EnvError(f"{TESTBED} in {self.image} is not a git checkout: "
                                    f"{decode_output(head.data())[:300]}")

    def exec(self, cmd: list[str], timeout: float | None = None, workdir: str | None = None) -> ExecResult:
        if not self.started:
            raise EnvError("environment not started")
        timeout = timeout or self.default_timeout
        # the client-side limit leaves the in-container ``timeout`` time to act first
        raw = run_process(self.exec_argv(cmd, timeout, workdir), timeout=timeout + 30,
                          max_bytes=4 * self.max_output_chars)
        if raw.code in (137, -9) and raw.duration_s >= timeout - 1:
            raw.timed_out = True
            raw.code = TIMEOUT_EXIT
        return _result(raw, self.max_output_chars, timeout)

    def _raw(self, cmd: list[str], timeout: float | None = None, input: bytes | None = None,
             max_bytes: int = 64 << 20) -> _Raw:
        if not self.started:
            raise EnvError("environment not started")
        argv = self.exec_argv(cmd, timeout, interactive=input is not None)
        return run_process(argv, timeout=(timeout + 30) if timeout else None, input=input, max_bytes=max_bytes)

    def close(self) -> None:
        if self.started:
            subprocess.run(self.rm_argv(), capture_output=True, timeout=120)
        self.started = False


def make_environment(kind: str, row: Mapping[str, Any], *, repos_dir: str | None = None,
                     **kwargs: Any) -> Environment:
    """The environment for one instance row: ``docker`` (its image) or ``local`` (a clone of its repo).

    For ``local``, the source repository is ``row["local_repo"]`` if present, else
    ``<repos_dir>/<owner>__<name>`` (a clone holding ``base_commit``).
    """
    local_only = {"sandbox", "path", "env", "network", "tmp_root"}
    docker_only = {"name", "docker", "conda_env", "conda_activate", "platform", "run_args", "pull"}
    if kind == "docker":
        opts = {k: v for k, v in kwargs.items() if k not in local_only}
        return DockerEnvironment(row["image"], row["base_commit"], **opts)
    kwargs = {k: v for k, v in kwargs.items() if k not in docker_only}
    if kind == "local":
        source = row.get("local_repo")
        if not source:
            if not repos_dir:
                raise EnvironmentUnavailable(
                    f"local environment for {row['instance_id']}: set suite.environment.repos_dir to a folder "
                    f"holding clones named like {row['repo'].replace('/', '__')}")
            source = str(Path(repos_dir) / row["repo"].replace("/", "__"))
        return LocalEnvironment(source, row["base_commit"], **kwargs)
    raise ValueError(f"unknown environment kind {kind!r}; choose docker or local")
