"""gpt-oss's built-in ``python`` tool: a stateful Python kernel per attempt, inside the bubblewrap sandbox.

The model sees the tool in its system message (``## python``: "a stateful Jupyter notebook environment ... time
out after 120.0 seconds ... the drive at '/mnt/data'"), calls it from the analysis channel with recipient
``python`` and the code as the message body, and reads the result in a tool message from author ``python``.
:class:`PythonKernel` is the executor behind that::

    async with PythonKernel(PythonToolLimits(timeout_s=120)) as kernel:
        await kernel.run("import sympy as sp\nx = sp.symbols('x')")
        await kernel.run("sp.factor(x**2 - 1)")   # -> "(x - 1)*(x + 1)" (the last expression's repr, like a cell)

The interpreter: with ``env="pinned"`` (the default) the tool environment that set-up builds
(:mod:`evals.tool_env`: numpy, scipy, sympy, mpmath, networkx, pinned), bound read-only at ``/opt/python-tool``;
with ``env="host"`` the ``python`` given (``/usr/bin/python3``: the standard library and whatever the system
installed), plus ``pythonpath``/``ro_binds``.

How it works: one long-lived interpreter runs a small driver inside a bubblewrap sandbox built like
:func:`evals.sandbox.run_sandboxed`'s (no network, own pid/ipc/uts/user namespaces, read-only root and ``/dev``,
size-capped tmpfs ``/tmp``, ``/dev/shm`` and ``/mnt/data`` (the working directory), rlimits on address space,
processes, file size and open files set by the sandbox's PID-1 helper, which also runs as uid 65534 when we are
root). Cells are sent over the interpreter's stdin, one JSON line each; the interpreter executes a cell in one
persistent namespace, writes its stdout and stderr (merged, in order) and the last expression's repr to its
stdout, then a per-cell random end marker. The host reads until the marker:

- a cell that runs longer than ``timeout_s`` (wall clock) is cut off: the whole sandbox is killed and the model
  is told the call timed out and the kernel restarted with its state lost; the next call starts a fresh kernel;
- output beyond ``max_output_bytes`` kills the kernel the same way (a runaway print loop); what the model reads
  is capped at ``max_output_chars`` (head and tail kept);
- a kernel that dies (segfault, ``os._exit``, memory, the CPU budget ``cpu_budget_s`` of the kernel's whole
  life) is reported and restarted the same way; Python exceptions (``MemoryError`` included) are just a
  traceback in the output and the state survives.

Where it behaves like IPython: the last expression is echoed (``_`` holds it), a cell whose last token is ``;``
echoes nothing, ``display(a, b)`` prints each value's repr. Where it does not: echoes use ``repr``, not
IPython's pretty printer (a long list stays on one line); there are no magics or shell escapes (``%time``,
``%%timeit``, ``!ls`` are a SyntaxError the model reads), no ``In``/``Out``/``__`` history and no rich display
(plots are not shown; ``MPLBACKEND=Agg``, and matplotlib is not installed).

Exceptions: :class:`evals.sandbox.SandboxUnavailable` (no sandbox on this machine) and
:class:`evals.tool_env.ToolEnvMissing` (the tool environment is not built) propagate: a run must not go on
without its tool. Everything else that goes wrong comes back as text for the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evals import sandbox, tool_env
from evals.sandbox import SandboxError, SandboxUnavailable
from evals.tool_env import ToolEnvMissing

__all__ = ["DATA_DIR", "ENVS", "KernelStats", "PythonKernel", "PythonKernelError", "PythonToolLimits",
           "SandboxUnavailable", "ToolEnvMissing"]

DATA_DIR = "/mnt/data"  # the drive the system message promises; the kernel's working directory
ENVS = ("pinned", "host")  # PythonToolLimits.env

_READY = b"\x00kernel-ready\x00"

# The in-sandbox driver: reads one JSON line {"code", "marker"} per cell from a private copy of stdin, runs the
# cell in one namespace (stdout/stderr merged on fd 1), prints the last expression's repr, writes the marker.
_DRIVER = r'''
import ast, builtins, io, json, linecache, os, sys, tokenize, traceback

def _display(*objs, **kwargs):
    for obj in objs:
        sys.stdout.write(repr(obj) + "\n")

def _quiet(src):
    # IPython: a cell whose last token (comments aside) is ";" shows no result
    last = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                tokenize.DEDENT, tokenize.ENDMARKER):
                last = tok
    except (tokenize.TokenError, SyntaxError):
        return False
    return last is not None and last.type == tokenize.OP and last.string == ";"

def _main():
    req = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(1, 2)
    builtins.display = _display  # as in IPython, a builtin
    ns = {"__name__": "__main__", "__builtins__": builtins}
    os.write(1, READY)
    n = 0
    while True:
        line = req.readline()
        if not line:
            return
        msg = json.loads(line)
        n += 1
        _cell(msg["code"], n, ns)
        for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                s.flush()
            except Exception:
                pass
        os.write(1, msg["marker"].encode())

def _cell(src, n, ns):
    name = "<cell %d>" % n
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    try:
        tree = ast.parse(src, name, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not _quiet(src):
            last = ast.Expression(tree.body.pop().value)
        code = compile(tree, name, "exec")
        final = compile(last, name, "eval") if last is not None else None
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
        return
    try:
        exec(code, ns)
        if final is not None:
            value = eval(final, ns)
            if value is not None:
                ns["_"] = value
                sys.stdout.write(repr(value) + "\n")
    except BaseException as exc:
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        try:
            sys.stderr.write("".join(traceback.format_exception(type(exc), exc, tb)))
        except BaseException:
            sys.__stderr__.write("%s: %s\n" % (type(exc).__name__, exc))

READY = READY_BYTES
_main()
'''.replace("READY_BYTES", repr(_READY))


class PythonKernelError(RuntimeError):
    """The kernel could not be started (the sandbox worked, the interpreter did not come up)."""


@dataclass(frozen=True)
class PythonToolLimits:
    timeout_s: float = 120.0  # per call, wall clock (the system message promises 120 s)
    memory_bytes: int = 2 << 30  # address space of each process (RLIMIT_AS)
    max_processes: int = 64  # RLIMIT_NPROC (threads count)
    max_output_chars: int = 20_000  # what the model reads of one call's output (head and tail kept)
    max_output_bytes: int = 8 << 20  # one call writing more than this kills the kernel
    cpu_budget_s: float = 1800.0  # CPU seconds for the kernel's whole life (stray background work); 0: none
    lifetime_s: float = 4 * 3600.0  # wall-clock backstop for one kernel's life
    data_bytes: int = 256 << 20  # tmpfs size of /mnt/data, of /tmp and of /dev/shm
    file_size_bytes: int = 128 << 20  # RLIMIT_FSIZE
    max_open_files: int = 256
    startup_timeout_s: float = 60.0
    env: str = "pinned"  # "pinned": the tool environment set-up builds (evals.tool_env); "host": `python` below
    python: str = "/usr/bin/python3"  # env=host: an interpreter visible in the sandbox (under /usr, or ro-bound)
    pythonpath: Sequence[str] = ()  # extra import paths inside the sandbox (bind them with ro_binds)
    ro_binds: Sequence[str | tuple[str, str]] = ()  # host paths made visible read-only: path or (host, inside)

    def __post_init__(self) -> None:
        if self.env not in ENVS:
            raise ValueError(f"python tool env must be one of {', '.join(ENVS)}, got {self.env!r}")

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> PythonToolLimits:
        """Build from a config mapping (unknown keys are an error; ``memory_mb`` is accepted for ``memory_bytes``)."""
        opts = dict(options or {})
        if "memory_mb" in opts:
            opts["memory_bytes"] = int(opts.pop("memory_mb")) << 20
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(opts) - known)
        if unknown:
            raise ValueError(f"unknown python tool options {unknown}; known: {sorted(known | {'memory_mb'})}")
        for key in ("pythonpath", "ro_binds"):
            if key in opts and opts[key] is not None:
                opts[key] = tuple(tuple(b) if isinstance(b, list) else b for b in opts[key])
        return cls(**{k: v for k, v in opts.items() if v is not None})

    def interpreter(self) -> tuple[str, tuple[str | tuple[str, str], ...], tuple[str, ...]]:
        """(interpreter path inside the sandbox, read-only binds, PYTHONPATH entries) for a kernel.

        Raises :class:`evals.tool_env.ToolEnvMissing` when the pinned environment is not built."""
        binds = tuple(self.ro_binds)
        if self.env == "pinned":
            return tool_env.SANDBOX_PYTHON, (*binds, (str(tool_env.require()), tool_env.SANDBOX_PREFIX)), \
                tuple(self.pythonpath)
        return self.python, binds, tuple(self.pythonpath)

    def settings(self) -> dict[str, Any]:
        """What about the tool changes generations (for the settings hash): the limits the model can meet and the
        interpreter with every package it can import (a rebuilt tool environment is another run)."""
        out: dict[str, Any] = {"timeout_s": self.timeout_s, "memory_bytes": self.memory_bytes,
                               "max_processes": self.max_processes, "max_output_chars": self.max_output_chars,
                               "env": self.env, "pythonpath": list(self.pythonpath)}
        if self.env == "pinned":
            out["interpreter"] = tool_env.describe()  # {"python": version, "packages": {name: version}}
        else:
            out["python"] = self.python
        return out


@dataclass
class KernelStats:
    calls: int = 0
    seconds: float = 0.0  # wall time spent in calls (start-up included)
    timeouts: int = 0
    crashes: int = 0  # the kernel died (or was killed for its output) during a call
    starts: int = 0
    start_failures: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Proc:
    proc: asyncio.subprocess.Process
    report_fd: int  # read end of the sandbox helper's report pipe
    stderr_task: asyncio.Task
    stderr: bytearray = field(default_factory=bytearray)


def _fmt_seconds(s: float) -> str:
    return f"{s:g} s"


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n[... {omitted} characters of output omitted ...]\n{text[len(text) - tail:]}"


class PythonKernel:
    """One stateful, sandboxed Python interpreter; start lazily on the first :meth:`run`, stop with :meth:`close`."""

    def __init__(self, limits: PythonToolLimits | None = None, *, uid: int = sandbox.DEFAULT_UID) -> None:
        self.limits = limits or PythonToolLimits()
        self.uid = uid
        self.stats = KernelStats()
        self._p: _Proc | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def __aenter__(self) -> PythonKernel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def alive(self) -> bool:
        return self._p is not None and self._p.proc.returncode is None

    # -- life cycle ---------------------------------------------------------------------------------------------
    def _argv(self, report_fd: int, init: Any) -> list[str]:
        lim = self.limits
        python, binds, pythonpath = lim.interpreter()
        path = "/usr/local/bin:/usr/bin:/bin"
        if lim.env == "pinned":  # `python3` in a subprocess is the tool environment's too
            path = f"{tool_env.SANDBOX_PREFIX}/bin:{path}"
        env = {"PATH": path, "LANG": "C.UTF-8", "HOME": DATA_DIR,
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        if pythonpath:
            env["PYTHONPATH"] = ":".join(pythonpath)
        args = sandbox._bwrap_command(init, uid=self.uid, tmpfs_bytes=lim.data_bytes, mount_proc=True,
                                      work_path=DATA_DIR, ro_binds=binds, env=env)
        args += ["/.sandbox-init", str(report_fd), repr(float(lim.cpu_budget_s)), repr(float(lim.lifetime_s)),
                 str(int(lim.memory_bytes)), str(int(min(lim.memory_bytes, 256 << 20))),
                 str(int(lim.max_processes)), str(int(lim.file_size_bytes)), str(int(lim.max_open_files)), "--",
                 python, "-u", "-c", _DRIVER]
        return args

    async def _start(self) -> _Proc:
        def prepare() -> Any:
            sandbox.check_available(self.uid)  # SandboxUnavailable propagates
            if self.limits.env == "pinned":
                tool_env.require()  # ToolEnvMissing propagates: the run stops, it does not go on without numpy
            return sandbox._init_binary()

        init = await asyncio.to_thread(prepare)
        self.stats.starts += 1
        r_read, r_write = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._argv(r_write, init), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, pass_fds=(r_write,), start_new_session=True, limit=1 << 20)
        except OSError as exc:
            os.close(r_read)
            raise PythonKernelError(f"cannot start bwrap: {exc}") from exc
        finally:
            os.close(r_write)
        p = _Proc(proc=proc, report_fd=r_read, stderr_task=None)  # type: ignore[arg-type]
        p.stderr_task = asyncio.create_task(self._drain_stderr(p))
        self._p = p
        assert proc.stdout is not None
        buf = b""
        try:
            async with asyncio.timeout(self.limits.startup_timeout_s):
                while _READY not in buf:
                    chunk = await proc.stdout.read(1 << 16)
                    if not chunk:
                        break
                    buf += chunk
        except TimeoutError:
            pass
        if _READY not in buf:
            detail = await self._dead_detail(kill=True)
            self.stats.start_failures += 1
            raise PythonKernelError(f"the python kernel did not start ({detail})")
        return p

    @staticmethod
    async def _drain_stderr(p: _Proc) -> None:
        stream = p.proc.stderr
        assert stream is not None
        while True:
            chunk = await stream.read(1 << 16)
            if not chunk:
                return
            if len(p.stderr) < 64 << 10:
                p.stderr += chunk[: (64 << 10) - len(p.stderr)]

    async def _dead_detail(self, *, kill: bool) -> str:
        """Stop the current kernel (kill it if asked) and say how it ended."""
        p, self._p = self._p, None
        if p is None:
            return "no kernel"
        if kill:
            self._kill(p)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(p.proc.wait(), 10.0)
        if p.proc.returncode is None:
            self._kill(p)
            await p.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(p.stderr_task, 2.0)
        p.stderr_task.cancel()
        report = b""
        with contextlib.suppress(OSError):
            os.set_blocking(p.report_fd, False)
            report = os.read(p.report_fd, 4096)
        with contextlib.suppress(OSError):
            os.close(p.report_fd)
        fields = report.decode(errors="replace").split()
        if len(fields) == 7 and fields[0] == "sbx1":
            status, cpu_us, maxrss_kb = int(fields[2]), int(fields[3]), int(fields[4])
            if os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                try:
                    why = f"killed by signal {sig} ({signal.Signals(sig).name})"
                except ValueError:
                    why = f"killed by signal {sig}"
                if sig == signal.SIGXCPU or cpu_us / 1e6 >= self.limits.cpu_budget_s > 0:
                    why += f", CPU budget of {_fmt_seconds(self.limits.cpu_budget_s)} used up"
                elif maxrss_kb * 1024 >= 0.9 * self.limits.memory_bytes:
                    why += f", near the {self.limits.memory_bytes >> 20} MiB memory limit"
                return why
            return f"exited with code {os.WEXITSTATUS(status)}"
        tail = p.stderr[-500:].decode(errors="replace").strip()
        return f"sandbox exit {p.proc.returncode}" + (f": {tail}" if tail else "")

    @staticmethod
    def _kill(p: _Proc) -> None:
        # bwrap leads its own session; killing its group takes the sandbox's PID 1 and the whole pid namespace.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.proc.pid, signal.SIGKILL)

    async def close(self) -> None:
        """Kill the kernel and everything it started. Safe to call twice; :meth:`run` after it restarts nothing."""
        self._closed = True
        if self._p is not None:
            await self._dead_detail(kill=True)

    # -- calls --------------------------------------------------------------------------------------------------
    async def run(self, code: str) -> str:
        """Execute one cell; return what the model reads (output, traceback, or a timeout/crash notice)."""
        async with self._lock:
            started = time.perf_counter()
            try:
                return await self._run(code)
            finally:
                self.stats.calls += 1
                self.stats.seconds += time.perf_counter() - started

    async def _run(self, code: str) -> str:
        if self._closed:
            raise RuntimeError("the python kernel is closed")
        lim = self.limits
        if not self.alive:
            if self._p is not None:  # died between calls (e.g. a background thread used up the CPU budget)
                detail = await self._dead_detail(kill=True)
                note = f"[The python kernel had stopped ({detail}); a new one was started and all state was lost.]\n"
            else:
                note = ""
            try:
                await self._start()
            except (PythonKernelError, SandboxError) as exc:
                if isinstance(exc, SandboxUnavailable):
                    raise
                return f"{note}[The python tool is unavailable: {exc}]"
        else:
            note = ""
        p = self._p
        assert p is not None and p.proc.stdin is not None and p.proc.stdout is not None
        marker = f"\x00end-{secrets.token_hex(8)}\x00"
        mark = marker.encode()
        try:
            p.proc.stdin.write((json.dumps({"code": code, "marker": marker}) + "\n").encode())
            await p.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # it died; reading below finds the end of the stream
        buf = bytearray()
        ended = overflow = timed_out = False
        scan = 0
        deadline = time.monotonic() + lim.timeout_s
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                try:
                    chunk = await asyncio.wait_for(p.proc.stdout.read(1 << 16), remaining)
                except TimeoutError:
                    timed_out = True
                    break
                if not chunk:
                    break
                buf += chunk
                idx = buf.find(mark, scan)
                if idx >= 0:
                    del buf[idx:]
                    ended = True
                    break
                scan = max(0, len(buf) - len(mark))
                if len(buf) > lim.max_output_bytes:
                    overflow = True
                    break
        except asyncio.CancelledError:
            await self._dead_detail(kill=True)
            raise
        text = _truncate(bytes(buf).decode("utf-8", errors="replace"), lim.max_output_chars)
        if ended:
            return note + text
        if timed_out:
            self.stats.timeouts += 1
            await self._dead_detail(kill=True)
            return (f"{note}{text}{'' if not text or text.endswith(chr(10)) else chr(10)}"
                    f"[Execution timed out after {_fmt_seconds(lim.timeout_s)}. The python kernel was restarted: "
                    f"all variables, imports and definitions were lost.]")
        self.stats.crashes += 1
        if overflow:
            await self._dead_detail(kill=True)
            why = f"the output exceeded {lim.max_output_bytes >> 20} MiB"
        else:
            why = await self._dead_detail(kill=False)
        return (f"{note}{text}{'' if not text or text.endswith(chr(10)) else chr(10)}"
                f"[The python kernel died ({why}). It was restarted: all variables, imports and definitions "
                f"were lost.]")
