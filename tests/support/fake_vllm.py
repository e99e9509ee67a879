"""A stand-in for vLLM's launcher: ``server.python=<it>`` makes ``server=spawn`` start a scripted server.

The harness runs ``<python> -m vllm.entrypoints.openai.api_server ... --port N``; the stand-in reads the port
and execs the scripted server there, so the real lifecycle code (start, health wait, log, stop) runs around
it. Its environment (``server.env`` or ``server.replica_env``) says what to serve:

- ``SCRIPTED_SCRIPT``: the script (JSON file) to serve;
- ``SCRIPTED_LOG``: request log prefix; the server on port N logs to ``<prefix>.N.jsonl``;
- ``FAKE_VLLM_STARTS``: every start appends ``<pid> <port>`` there (the pid stays the server's: exec).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil

from tests.conftest import ROOT

_LAUNCHER = """#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = "--port" ] && PORT=$2; shift; done
[ -n "$FAKE_VLLM_STARTS" ] && echo "$$ $PORT" >> "$FAKE_VLLM_STARTS"
cd {root} && exec {python} -m tests.support.scripted_server --script "$SCRIPTED_SCRIPT" --port "$PORT" \\
    --log "$SCRIPTED_LOG.$PORT.jsonl"
"""


def fake_vllm(folder: Path) -> Path:
    """Write the stand-in launcher into ``folder`` and return its path (for ``server.python``)."""
    path = folder / "fake_vllm.sh"
    path.write_text(_LAUNCHER.format(root=ROOT, python=sys.executable))
    path.chmod(0o755)
    return path


def server_env(script: dict, folder: Path, name: str = "fake") -> dict[str, str]:
    """The environment of a stand-in serving ``script``, its files under ``folder``."""
    script_path = folder / f"{name}-script.json"
    script_path.write_text(json.dumps(script))
    return {"SCRIPTED_SCRIPT": str(script_path), "SCRIPTED_LOG": str(folder / f"{name}-requests"),
            "FAKE_VLLM_STARTS": str(folder / "starts.txt")}


def hydra_dict(env: dict[str, str]) -> str:
    """``env`` as a Hydra command-line dict value: ``{KEY: 'value', ...}``."""
    return "{" + ", ".join(f"{k}: {v!r}" for k, v in env.items()) + "}"


def starts(folder: Path) -> list[tuple[int, int]]:
    """(pid, port) of every stand-in started with ``server_env(..., folder)``, in start order."""
    path = folder / "starts.txt"
    if not path.exists():
        return []
    return [(int(pid), int(port)) for pid, port in (line.split() for line in path.read_text().splitlines())]


def requests_by_port(folder: Path, name: str = "fake") -> dict[int, list[dict]]:
    """The request log of every stand-in port (``SCRIPTED_LOG`` of ``server_env(..., name)``)."""
    out = {}
    for log in folder.glob(f"{name}-requests.*.jsonl"):
        port = int(log.name.split(".")[-2])
        out[port] = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return out


def gone(pid: int) -> bool:
    """Has process ``pid`` exited (a zombie awaiting its parent's wait counts)?"""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
