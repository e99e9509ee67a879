"""A toy SWE-bench instance in the exact swebench 5.x row format, and a scripted model for the agent loop."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evals.clients import Sampling
from evals.task import ModelSession
from evals.types import ModelOutput, ToolCall, Usage

SHARED_SWE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "swebench"
VENV_BIN = str(Path(sys.executable).parent)


def _swebench_missing() -> str:
    try:
        import swebench.harness.grading  # noqa: F401
    except ImportError as exc:
        return f"swebench is not installed ({exc}); pip install swebench==5.0.2"
    return ""


SWEBENCH_SKIP = _swebench_missing()
needs_swebench = pytest.mark.skipif(bool(SWEBENCH_SKIP), reason=SWEBENCH_SKIP or "ok")


def _bwrap_problem() -> str:
    from tasks.swebench.environments import bwrap_available

    return "" if bwrap_available() else "bubblewrap (bwrap) missing or cannot create namespaces here"


BWRAP_SKIP = _bwrap_problem()
needs_bwrap = pytest.mark.skipif(bool(BWRAP_SKIP), reason=BWRAP_SKIP or "ok")

BUGGY = '''"""Tiny arithmetic helpers."""


def add(a, b):
    """Return the sum of a and b."""
    return a - b


def mul(a, b):
    """Return the product of a and b."""
    return a * b
'''

TESTS = '''from calc.ops import add, mul


def test_mul():
    assert mul(3, 4) == 12
'''

TESTS_NEW = '''from calc.ops import add, mul


def test_mul():
    assert mul(3, 4) == 12


def test_add():
    assert add(2, 3) == 5
    assert add(-1, 1) == 0
'''

PROBLEM = "calc.ops.add subtracts instead of adding\n\n`add(2, 3)` returns -1, it should return 5."

RIGHT_PATCH = """*** Begin Patch
*** Update File: calc/ops.py
@@ def add(a, b):
     \"\"\"Return the sum of a and b.\"\"\"
-    return a - b
+    return a + b
*** End Patch"""

WRONG_PATCH = """*** Begin Patch
*** Update File: calc/ops.py
@@ def add(a, b):
     \"\"\"Return the sum of a and b.\"\"\"
-    return a - b
+    return abs(a) + abs(b)
*** End Patch"""

MALFORMED_PATCH = """*** Begin Patch
*** Update File: calc/ops.py
@@ def add(a, b):
     return a - b
 this line has no prefix problem but the next one does
return a + b
*** End Patch"""

MISMATCH_PATCH = """*** Begin Patch
*** Update File: calc/ops.py
@@
     x = compute(a, b)
-    return x
+    return a + b
*** End Patch"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _diff_of(repo: Path, base: str, path: str, new_text: str) -> str:
    (repo / path).write_text(new_text)
    out = git(repo, "diff", base, "--", path)
    git(repo, "checkout", base, "--", path)
    return out


def make_eval_script(base: str, test_file: str, test_patch: str) -> str:
    """The same shape as the real v5 rows' eval_script (conda lines fail harmlessly outside the image)."""
    return "\n".join([
        "#!/bin/bash", "set -uxo pipefail", "source /opt/miniconda3/bin/activate", "conda activate testbed",
        "cd /testbed", "git config --global --add safe.directory /testbed", "cd /testbed", "git status",
        "git show", f"git -c core.fileMode=false diff {base}", f"git checkout {base} {test_file}",
        "git apply -v - <<'EOF_114329324912'", test_patch.rstrip("\n") + "\n", "EOF_114329324912",
        ": '>>>>> Start Test Output'", f"pytest -rA {test_file}", ": '>>>>> End Test Output'",
        f"git checkout {base} {test_file}", ""])


@dataclass
class Toy:
    repo: Path
    row: dict[str, Any]


def build_toy(root: Path) -> Toy:
    repo = root / "toy__calc"
    (repo / "calc").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "calc" / "__init__.py").write_text("")
    (repo / "calc" / "ops.py").write_text(BUGGY)
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "tests" / "test_ops.py").write_text(TESTS)
    (repo / ".gitignore").write_text("__pycache__/\n*.pyc\n.pytest_cache/\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=toy", "-c", "user.email=toy@example.com", "commit", "-q", "-m", "toy calc")
    base = git(repo, "rev-parse", "HEAD").strip()
    gold = _diff_of(repo, base, "calc/ops.py", BUGGY.replace("return a - b", "return a + b"))
    test_patch = _diff_of(repo, base, "tests/test_ops.py", TESTS_NEW)
    row = {
        "repo": "toy/calc",
        "instance_id": "toy__calc-1",
        "base_commit": base,
        "patch": gold,
        "test_patch": test_patch,
        "problem_statement": PROBLEM,
        "hints_text": "",
        "created_at": "2025-01-01T00:00:00Z",
        "version": "0.1",
        "FAIL_TO_PASS": json.dumps(["tests/test_ops.py::test_add"]),
        "PASS_TO_PASS": json.dumps(["tests/test_ops.py::test_mul"]),
        "environment_setup_commit": base,
        "difficulty": "<15 min fix",
        "eval_script": make_eval_script(base, "tests/test_ops.py", test_patch),
        "log_parser": "parse_log_pytest",
        "eval_type": "pass_and_fail",
        "image": "swebench/sweb.eval.x86_64.toy_1776_calc-1:latest",
        "local_repo": str(repo),  # not a dataset column: where LocalEnvironment clones from
    }
    return Toy(repo, row)


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    return build_toy(tmp_path)


# -- a scripted model ----------------------------------------------------------------------------------

Reply = ModelOutput | Callable[[list[dict[str, Any]]], ModelOutput] | Exception


class ScriptedClient:
    """A model client returning scripted outputs (or raising scripted exceptions), recording the requests."""

    transport = "scripted"

    def __init__(self, replies: list[Reply], repeat_last: bool = False) -> None:
        self.replies = list(replies)
        self.repeat_last = repeat_last
        self.requests: list[dict[str, Any]] = []

    async def generate(self, messages: list[dict[str, Any]], *, effort: str, sampling: Sampling,
                       seed: int | None = None, tools: list[dict[str, Any]] | None = None) -> ModelOutput:
        self.requests.append({"messages": json.loads(json.dumps(messages)), "tools": tools, "seed": seed})
        i = len(self.requests) - 1
        if i >= len(self.replies):
            if not self.repeat_last:
                raise AssertionError(f"the script has only {len(self.replies)} replies")
            i = len(self.replies) - 1
        reply = self.replies[i]
        if isinstance(reply, Exception):
            raise reply
        out = reply(messages) if callable(reply) else reply
        return ModelOutput(**{**out.__dict__, "tool_calls": list(out.tool_calls)})


def call(name: str, arguments: dict[str, Any] | str, i: int = 0) -> ModelOutput:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ModelOutput(analysis=f"use {name}", tool_calls=[ToolCall(id=f"call_{name}_{i}", name=name,
                                                                    arguments=args)],
                       finish_reason="tool_calls", usage=Usage(100, 10, 5))


def final(text: str = "Fixed add().") -> ModelOutput:
    return ModelOutput(analysis="done", final=text, finish_reason="stop", usage=Usage(100, 10, 5))


def session(replies: list[Reply], repeat_last: bool = False) -> tuple[ModelSession, ScriptedClient]:
    client = ScriptedClient(replies, repeat_last)
    return ModelSession(client, effort="low", sampling=Sampling(), seed=7), client


def tool_messages(transcript: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in transcript if m["role"] == "tool"]
