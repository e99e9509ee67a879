"""The optional repo_browser tools on the toy instance, with scripted replies; off by default."""

from __future__ import annotations

import asyncio
import json

import pytest

from evals import harmony
from tasks.swebench import repo_browser
from tasks.swebench.task import DEVELOPER_PROMPT, SweBenchTask
from tests.tasks.swebench.conftest import (
    RIGHT_PATCH,
    VENV_BIN,
    call,
    final,
    needs_bwrap,
    needs_swebench,
    session,
    tool_messages,
)
from tests.tasks.swebench.test_swe_agent import attempt_of, sample_of


def make_task(sandbox: bool = False, **kw) -> SweBenchTask:
    return SweBenchTask(environment={"kind": "local", "sandbox": sandbox, "path": [VENV_BIN]}, **kw)


def browse(name: str, args: dict, i: int) -> object:
    return call(f"repo_browser.{name}", args, i)


@needs_swebench
@pytest.mark.parametrize("sandbox", [False, pytest.param(True, marks=needs_bwrap)], ids=["plain", "bwrap"])
def test_browsing_then_patching_resolves_the_toy_instance(toy, sandbox):
    task = make_task(sandbox, repo_browser=True)
    model, client = session([
        browse("print_tree", {}, 0),
        browse("search", {"query": "return a - b"}, 1),
        browse("open_file", {"path": "calc/ops.py", "line_start": 4, "line_end": 6}, 2),
        browse("find", {"query": "def mul", "path": "calc"}, 3),  # an alias the model uses
        browse("open_file", {"path": "../../etc/passwd"}, 4),
        browse("search", {"query": "no_such_identifier_xyz"}, 5),
        browse("open_file", {"path": "calc/missing.py"}, 6),
        call("functions.repo_browser.print_tree", {"path": "calc", "depth": 1}, 7),  # as the chat parser names it
        call("apply_patch", {"patch": RIGHT_PATCH}, 8),
        final()])
    sample = sample_of(toy.row)
    ep = asyncio.run(task.solve(sample, model))
    tree, hits, window, found, outside, nothing, missing, calc_tree, patched = tool_messages(ep.transcript)
    # the tree lists the files, directories marked with /, and leaves .git out
    entries = tree.splitlines()
    assert entries[0] == "[., depth 2]" and {"calc/", "calc/ops.py", "tests/test_ops.py", ".gitignore"} <= set(entries)
    assert not [e for e in entries if e == ".git/" or e.startswith(".git/")]
    assert hits.splitlines() == ["calc/ops.py:6:    return a - b"]
    assert window.splitlines() == ["[calc/ops.py, lines 4-6 of 11]", "     4\tdef add(a, b):",
                                   '     5\t    """Return the sum of a and b."""', "     6\t    return a - b"]
    assert found.startswith("calc/ops.py:9:def mul(a, b):")
    assert outside.startswith("error:") and "outside the repository" in outside
    assert nothing == "no matches for 'no_such_identifier_xyz' in ."
    assert missing.startswith("error: calc/missing.py does not exist")
    assert calc_tree.splitlines() == ["[calc, depth 1]", "__init__.py", "ops.py"]
    assert patched.startswith("Done!")
    assert ep.info["stop_reason"] == "submitted" and ep.info["tool_errors"] == 2
    att = attempt_of(ep, sample)
    assert task.grade(sample, att).score == 1.0
    # the model was offered the namespace and told about it
    req = client.requests[0]
    assert [t["function"]["name"] for t in req["tools"]] == [
        "exec", "apply_patch", "repo_browser.open_file", "repo_browser.search", "repo_browser.print_tree"]
    assert repo_browser.PROMPT_HINT in req["messages"][0]["content"]


def test_off_by_default_the_prompt_tools_and_settings_are_unchanged(toy):
    default, browsing = make_task(), make_task(repo_browser=True)
    assert [t["function"]["name"] for t in default.tools("/testbed")] == ["exec", "apply_patch"]
    assert default.developer_prompt("/testbed") == DEVELOPER_PROMPT.format(repo="/testbed", exec="exec")
    assert "repo_browser" not in json.dumps(default.settings())
    assert browsing.settings()["repo_browser"] is True and browsing.settings() != default.settings()
    # a model reaching for the namespace anyway gets the usual unknown-tool error, not a file
    model, _ = session([browse("open_file", {"path": "calc/ops.py"}, 0), final()])
    ep = asyncio.run(default.solve(sample_of(toy.row), model))
    (out,) = tool_messages(ep.transcript)
    assert out == "error: unknown tool 'repo_browser.open_file'; the tools are exec, apply_patch"


def test_long_files_are_paged_by_whole_lines(toy):
    task = make_task(repo_browser=True, max_output_chars=1200)
    body = "".join(f"line_{n} = {'x' * 40}\n" for n in range(1, 301))
    model, _ = session([call("apply_patch", {"patch": "*** Begin Patch\n*** Add File: big.py\n"
                                             + "".join(f"+{ln}\n" for ln in body.splitlines())
                                             + "*** End Patch"}, 0),
                        browse("open_file", {"path": "big.py"}, 1),
                        browse("open_file", {"path": "big.py", "line_start": 299}, 2),
                        browse("search", {"query": "line_[0-9]+0 =", "regex": True, "max_results": 3}, 3),
                        final()])
    ep = asyncio.run(task.solve(sample_of(toy.row), model))
    _, first, last, hits = tool_messages(ep.transcript)
    rows = first.splitlines()
    assert rows[0].startswith("[big.py, lines 1-") and rows[1] == "     1\tline_1 = " + "x" * 40
    shown = int(rows[0].split("-")[1].split(" ")[0])
    assert 5 < shown < 300 and len(first) <= 1200
    assert rows[-1] == f"[... {300 - shown} more lines; call again with line_start={shown + 1}]"
    assert last.splitlines()[1:] == ["   299\tline_299 = " + "x" * 40, "   300\tline_300 = " + "x" * 40]
    assert hits.splitlines()[:3] == ["big.py:10:line_10 = " + "x" * 40, "big.py:20:line_20 = " + "x" * 40,
                                     "big.py:30:line_30 = " + "x" * 40]
    assert hits.splitlines()[3] == "[more than 3 matches; narrow the query or the path]"


def test_harmony_renders_the_tools_and_reads_calls_to_the_namespace():
    """Over the token-level transport the tools are in the prompt, and a call the model addresses to
    ``repo_browser.open_file`` (its own namespace) or ``functions.repo_browser.open_file`` is read as ours."""
    tools = make_task(repo_browser=True).tools("/testbed")
    prompt = harmony.encoding().decode(harmony.render_prompt([{"role": "user", "content": "hi"}], "low",
                                                             tools=tools))
    assert "namespace functions" in prompt and "type repo_browser.open_file" in prompt
    for recipient in ("repo_browser.open_file", "functions.repo_browser.open_file"):
        out = harmony.output_from_text(f"<|channel|>commentary to={recipient} <|constrain|>json<|message|>"
                                       '{"path": "calc/ops.py"}<|call|>')
        (tool_call,) = out.tool_calls
        assert repo_browser.resolve(tool_call.name.removeprefix("functions.")) == "open_file"
