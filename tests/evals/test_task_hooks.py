"""Every member of a task the runners use is declared on :class:`evals.task.Task`, typed, and (unless it is part
of the abstract contract every suite writes) has a default; and no runner looks a hook up by name with
getattr / hasattr. An AST walk of runners/ and the engine finds what they use, so a new hook called somewhere
without being declared fails here."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from evals.task import SingleTurnTask, Task

ROOT = Path(__file__).resolve().parents[2]
# What runs tasks: the CLI and its helpers, and the engine that drives episodes and grading.
RUNNER_FILES = sorted((ROOT / "runners").rglob("*.py")) + [ROOT / "evals" / "engine.py"]
TASK_NAMES = {"task", "task_cls"}  # the names runners give a task (or its class)
# Reached only behind isinstance(task, SingleTurnTask) (the doctor's probe prompt): declared there.
SINGLE_TURN_ONLY = {"prompt"}
LOOKUPS = {"getattr", "hasattr", "setattr", "delattr"}


def _is_task(node: ast.AST) -> bool:
    """``task``, ``task_cls``, ``x.task`` or ``type(task)``."""
    if isinstance(node, ast.Name):
        return node.id in TASK_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr == "task"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "type" and node.args:
        return _is_task(node.args[0])
    return False


def used_members(source: str) -> set[str]:
    """Attribute names read from a task in ``source`` (not Python's own, such as ``__module__``)."""
    return {n.attr for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Attribute) and _is_task(n.value) and not n.attr.startswith("__")}


def lookups_by_name(source: str, hooks: set[str]) -> list[str]:
    """getattr / hasattr / setattr / delattr calls on a task, or naming one of ``hooks``: ``line: code``."""
    found = []
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in LOOKUPS and n.args:
            named = len(n.args) > 1 and isinstance(n.args[1], ast.Constant) and n.args[1].value in hooks
            if _is_task(n.args[0]) or named:
                found.append(f"{n.lineno}: {ast.unparse(n)}")
    return found


def _sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for p in RUNNER_FILES}


def _used() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for path, source in _sources().items():
        for name in used_members(source):
            used.setdefault(name, set()).add(path)
    return used


TASK_MEMBERS = {name for name in dir(Task) if not name.startswith("_")}


def test_the_scan_sees_the_hooks_the_runners_call():
    """The walk finds what it must (a scan that finds nothing would pass everything below)."""
    used = _used()
    for hook in ("needs_python_tool", "preflight", "finalize", "max_context_tokens", "suite_metrics", "load",
                 "grade", "solve", "settings", "card_key", "default_repeats", "grade_in_thread", "name"):
        assert hook in used, (hook, sorted(used))


def test_the_scan_flags_an_undeclared_hook_and_a_lookup_by_name():
    source = (
        "def run(task, cfg):\n"
        "    task.preflight()\n"
        "    if hasattr(task, 'warm_up'):\n"
        "        task.warm_up()\n"
        "    getattr(type(task), 'finalize', None)\n"
        "    getattr(cfg, 'progress', True)\n"
    )
    assert used_members(source) - TASK_MEMBERS == {"warm_up"}
    assert lookups_by_name(source, TASK_MEMBERS) == [
        "3: hasattr(task, 'warm_up')", "5: getattr(type(task), 'finalize', None)"]


def test_every_member_a_runner_uses_is_declared_on_task():
    undeclared = {name: sorted(paths) for name, paths in _used().items()
                  if name not in TASK_MEMBERS and name not in SINGLE_TURN_ONLY}
    assert undeclared == {}, f"declare these on evals.task.Task (with a default and a type): {undeclared}"
    for name in SINGLE_TURN_ONLY:
        assert name in dir(SingleTurnTask)


@pytest.mark.parametrize("name", sorted(set(_used()) & TASK_MEMBERS))
def test_each_used_member_has_a_type_and_a_default(name):
    member = inspect.getattr_static(Task, name)
    if isinstance(member, property):
        fn = member.fget
    elif isinstance(member, classmethod | staticmethod):
        fn = member.__func__
    elif callable(member):
        fn = member
    else:  # a plain attribute: annotated on the class, with its default value there
        assert name in Task.__annotations__, f"Task.{name} has no type annotation"
        return
    params = [p for p in inspect.signature(fn).parameters.values() if p.name not in ("self", "cls")]
    untyped = [p.name for p in params if p.annotation is inspect.Parameter.empty]
    assert not untyped and inspect.signature(fn).return_annotation is not inspect.Signature.empty, \
        f"Task.{name}: parameters {untyped} or the return value have no type"
    if getattr(fn, "__isabstractmethod__", False):  # the contract every suite writes (load, solve, grade)
        assert name in Task.__abstractmethods__
    else:  # a hook: the base class's body is the default every suite gets
        assert fn.__qualname__.startswith("Task."), f"Task.{name} is inherited, not declared"


def test_no_runner_looks_a_hook_up_by_name():
    found = {path: hits for path, source in _sources().items() if (hits := lookups_by_name(source, TASK_MEMBERS))}
    assert found == {}, f"call the declared hook instead: {found}"
