"""The Codeforces judge is checked before a run spends anything: with no sandbox, an unusable one, or no compiler
for the suite's language, `gptoss-eval` exits 2 with one line before a server starts or a request is sent, and
nothing is written. With a working judge the same command goes on to start the server."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from evals.task import TaskError
from tests.conftest import run_cli
from tests.runners.test_cli_scripted import SCRIPT
from tests.support.fake_vllm import fake_vllm, hydra_dict, server_env, starts


@pytest.fixture
def bin_dir():
    """A folder outside pytest's private tmp (bwrap runs as the sandbox's user, who must reach it)."""
    folder = Path(tempfile.mkdtemp(prefix="cf-preflight-bin-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _bin(folder: Path, **tools: str) -> str:
    """A PATH of one folder holding ``tools`` (name -> shell script body, or "->/target" for a link)."""
    for name, body in tools.items():
        path = folder / name
        if body.startswith("->"):
            path.symlink_to(body[2:])
        else:
            path.write_text(f"#!/bin/sh\n{body}\n")
            path.chmod(0o755)
    return str(folder)


def _cli(tmp_path: Path, path_env: str | None, *extra: str):
    fake = fake_vllm(tmp_path)
    env = {"PATH": path_env} if path_env is not None else None
    return run_cli("suite=tiny_codeforces", "server=spawn", f"server.python={fake}",
                   f"++server.env={hydra_dict(server_env(SCRIPT, tmp_path))}", f"paths.root={tmp_path / 'out'}",
                   "progress=false", *extra, env=env, timeout=240)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


CASES = {  # what the machine lacks -> (the only tools on PATH, what the one line says)
    "no bubblewrap": ({}, "the Codeforces judge cannot run here: bubblewrap (bwrap) not found"),
    "bubblewrap cannot create namespaces": (
        {"bwrap": "echo 'bwrap: No permissions to create new namespace' >&2; exit 1"},
        "No permissions to create new namespace"),
    "no C++ compiler": ({"bwrap": "->/usr/bin/bwrap"},
                        "the Codeforces judge cannot run here: the C++ compiler 'g++' is not usable"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_judge_that_cannot_run_stops_the_run_before_a_server_or_request(tmp_path, bin_dir, case) -> None:
    tools, message = CASES[case]
    proc = _cli(tmp_path, _bin(bin_dir, **tools))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len([line for line in lines if line.startswith("gptoss-eval: error: ")]) == 1
    assert lines[-1].startswith("gptoss-eval: error: ") and message in lines[-1], lines[-1]
    assert "Traceback" not in proc.stderr
    assert starts(tmp_path) == []  # no server started, so no request sent
    assert _files(tmp_path / "out") == []  # nothing written


@pytest.mark.usefixtures("needs_sandbox")
def test_with_a_working_judge_the_run_starts_its_server(tmp_path) -> None:
    """The control: the same command on this machine's PATH passes the judge check and runs."""
    proc = _cli(tmp_path, None, "repeats=1")
    assert proc.returncode == 0, proc.stderr
    assert len(starts(tmp_path)) == 1
    assert _files(tmp_path / "out")


@pytest.mark.usefixtures("needs_sandbox")
def test_check_judge_names_the_missing_compiler_and_python(monkeypatch) -> None:
    from tasks.codeforces import judge
    from tasks.codeforces.task import CodeforcesTask, check_judge

    check_judge("cpp")  # this machine's judge works in both languages
    check_judge("python")
    monkeypatch.setattr(judge, "CXX", "/nonexistent/g++")
    with pytest.raises(TaskError, match=r"^the Codeforces judge cannot run here: the C\+\+ compiler "
                                        r"'/nonexistent/g\+\+' is not usable: [^\n]*$"):
        CodeforcesTask(path=os.devnull).preflight()
    monkeypatch.setattr(judge, "sandbox_python", lambda: None)
    with pytest.raises(TaskError, match=r"^the Codeforces judge does not work here: a correct Python 3 \(CPython\) "
                                        r"program got INFRA \(.*no python3 the sandbox can run[^\n]*$"):
        CodeforcesTask(path=os.devnull, language="python").preflight()
