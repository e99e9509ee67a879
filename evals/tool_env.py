"""The python tool's own environment: a small virtualenv with pinned math packages, shown read-only in the sandbox.

gpt-oss reaches for ``import sympy as sp`` or numpy in most tool calls; harnesses that reproduced the card's
with-python rows gave it those packages. Set-up builds the environment once (``bash runners/setup_tool_env.sh``,
which runs ``python -m evals.tool_env build``)::

    <sandbox cache>/python-tool-<hash>/      a venv of the system interpreter (/usr/bin/python3) with TOOL_PACKAGES
        tool-env.json                        written last: what was installed (its presence marks a finished build)

``<hash>`` covers the pins and the base interpreter, so a new pin set gets a new directory and a run never
uses an environment built for other pins. The directory lives in the sandbox cache (``$GPTOSS_SANDBOX_CACHE`` or
``/var/tmp/gptoss-eval-<uid>``), which the sandbox uid can read: bubblewrap runs as that uid and could not bind
a path under a private home. Inside the sandbox it is bound read-only at ``/opt/python-tool``; the venv's
interpreter links to the base one under ``/usr``, which the sandbox already shows.

:func:`describe` reads what the environment really holds (interpreter version, every installed distribution)
by asking its interpreter; the python tool's settings carry that, so a run whose tool environment changed
refuses to resume into the old store. A missing or broken environment raises :class:`ToolEnvMissing`, whose
one line names the set-up command.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from evals import sandbox
from evals.task import TaskError

__all__ = ["SANDBOX_PREFIX", "SANDBOX_PYTHON", "SETUP_COMMAND", "TOOL_PACKAGES", "ToolEnvMissing", "base_python",
           "build", "describe", "env_dir", "require"]

#: What the model can import besides the standard library. Exact pins: a version change is a new environment.
#: These releases have wheels for CPython 3.10 to 3.13 (the system interpreters of current distributions).
TOOL_PACKAGES: dict[str, str] = {
    "numpy": "2.2.6",
    "scipy": "1.15.3",
    "sympy": "1.14.0",
    "mpmath": "1.3.0",  # sympy's own dependency, pinned here so it cannot float
    "networkx": "3.4.2",
}
DEFAULT_BASE_PYTHON = "/usr/bin/python3"
SANDBOX_PREFIX = "/opt/python-tool"  # where the environment appears inside the sandbox
SANDBOX_PYTHON = f"{SANDBOX_PREFIX}/bin/python3"
SETUP_COMMAND = "bash runners/setup_tool_env.sh"
_INFO_FILE = "tool-env.json"

# Run by the environment's own interpreter: what it is and what it holds.
_DESCRIBE = (
    "import json, platform, importlib.metadata as m\n"
    "print(json.dumps({'python': platform.python_version(), 'packages': dict(sorted("
    "(d.metadata['Name'].lower(), d.version) for d in m.distributions()))}))"
)


class ToolEnvMissing(TaskError):
    """The python tool's environment is not built (or no longer works); the message names the set-up command."""


def base_python() -> str:
    """The interpreter the environment is made from: ``$GPTOSS_TOOL_PYTHON`` or the system's ``/usr/bin/python3``."""
    return os.environ.get("GPTOSS_TOOL_PYTHON") or DEFAULT_BASE_PYTHON


def env_dir(base: str | None = None) -> Path:
    """Where the environment for the current pins and ``base`` lives (whether or not it was built)."""
    spec = json.dumps({"packages": TOOL_PACKAGES, "base": base or base_python()}, sort_keys=True)
    return sandbox.cache_dir() / f"python-tool-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"


def require() -> Path:
    """The built environment's directory; :class:`ToolEnvMissing` if set-up has not built it."""
    path = env_dir()
    if not (path / _INFO_FILE).is_file() or not (path / "bin" / "python3").exists():
        raise ToolEnvMissing(f"the python tool's environment ({', '.join(TOOL_PACKAGES)}) is not built at {path}; "
                             f"run `{SETUP_COMMAND}` first")
    return path


@functools.lru_cache(maxsize=4)
def _describe(path: Path) -> dict[str, Any]:
    try:
        proc = subprocess.run([str(path / "bin" / "python3"), "-I", "-c", _DESCRIBE], capture_output=True,
                              text=True, timeout=60)
        info = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError):
        info = None
    if not isinstance(info, dict):
        raise ToolEnvMissing(f"the python tool's environment at {path} does not run (was its base interpreter "
                             f"{base_python()} upgraded or removed?); run `{SETUP_COMMAND}` again")
    return info


def describe() -> dict[str, Any]:
    """``{"python": "3.11.2", "packages": {name: version}}`` as the built environment's interpreter reports it."""
    return _describe(require())


def _check_base(base: str) -> str:
    """The base interpreter's ``sys.base_prefix``; it must sit under /usr, the part of the host the sandbox shows."""
    if not Path(base).exists():
        raise SystemExit(f"the base interpreter {base} does not exist: install python3 (e.g. apt-get install "
                         f"python3) or set GPTOSS_TOOL_PYTHON to an interpreter under /usr")
    proc = subprocess.run([base, "-I", "-c", "import sys; print(sys.base_prefix)"], capture_output=True, text=True)
    prefix = proc.stdout.strip()
    if proc.returncode != 0 or not (prefix == "/usr" or prefix.startswith("/usr/")):
        raise SystemExit(f"the base interpreter {base} (prefix {prefix or '?'}) must live under /usr: the sandbox "
                         f"shows /usr read-only and nothing else of the host; set GPTOSS_TOOL_PYTHON")
    return prefix


def build(*, force: bool = False) -> Path:
    """Build the environment if it is not there (idempotent); return its directory."""
    base = base_python()
    target = env_dir(base)
    if not force and (target / _INFO_FILE).is_file():
        try:
            _describe(target)
            return target
        except ToolEnvMissing:
            pass  # built once, broken now: build again
    _check_base(base)
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    old_umask = os.umask(0o022)  # the sandbox uid must read every file
    try:
        # no pip inside: nothing in the sandbox installs packages, and Debian's python3 may lack ensurepip
        subprocess.run([base, "-m", "venv", "--without-pip", str(tmp)], check=True)
        pins = [f"{name}=={version}" for name, version in TOOL_PACKAGES.items()]
        subprocess.run([sys.executable, "-m", "pip", "--python", str(tmp / "bin" / "python3"), "install", "-q",
                        "--no-input", "--only-binary=:all:", *pins], check=True)
        check = subprocess.run([str(tmp / "bin" / "python3"), "-I", "-c", f"import {', '.join(TOOL_PACKAGES)}"],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise SystemExit(f"the tool environment does not import its packages: {check.stderr.strip()[-500:]}")
        info = _describe.__wrapped__(tmp)
        (tmp / _INFO_FILE).write_text(json.dumps({"base": base, **info}, indent=1) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"building the python tool's environment failed: {' '.join(map(str, exc.cmd[:4]))} ... "
                         f"exited with {exc.returncode}") from None
    finally:
        os.umask(old_umask)
        shutil.rmtree(tmp, ignore_errors=True)
    _describe.cache_clear()
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.tool_env",
                                 description="Build or show the python tool's environment (numpy, scipy, sympy, "
                                             "mpmath, networkx, pinned) that the sandboxed kernel runs in.")
    ap.add_argument("action", choices=("build", "show", "path"), help="build it if missing / print what it holds / "
                                                                      "print where it lives")
    ap.add_argument("--force", action="store_true", help="rebuild even if it is there")
    args = ap.parse_args(argv)
    if args.action == "path":
        print(env_dir())
        return 0
    try:
        path = build(force=args.force) if args.action == "build" else require()
        info = describe()
    except ToolEnvMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: python {info['python']}, " + ", ".join(f"{n} {v}" for n, v in info["packages"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
