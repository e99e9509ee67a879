"""SWE-bench tool styles: ``reference`` (gpt-oss's own declaration: ``container.exec`` in the Harmony system
message, ``apply_patch`` taking the patch text) and ``functions``; malformed tool input answered, never run
outside the work tree; the style and the instance subset in the settings and the report."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from evals import harmony
from evals.types import ModelOutput, ToolCall, Usage
from tasks.swebench import task as swe_task
from tasks.swebench.task import APPLY_PATCH_INSTRUCTIONS, CONTAINER_DESCRIPTION, SweBenchTask
from tests.conftest import run_cli
from tests.support import tiny_tool_cases as cases
from tests.tasks.swebench.conftest import (
    RIGHT_PATCH,
    VENV_BIN,
    needs_bwrap,
    needs_swebench,
    session,
    tool_messages,
)
from tests.tasks.swebench.test_swe_agent import attempt_of, sample_of

pytestmark = needs_swebench


def make_task(style: str = "reference", sandbox: bool = False, **kw) -> SweBenchTask:
    env = {"kind": "local", "sandbox": sandbox, "path": [VENV_BIN], **kw.pop("env", {})}
    return SweBenchTask(environment=env, tool_style=style, transport="harmony", **kw)


def raw_call(name: str, text: str, i: int = 0) -> ModelOutput:
    """A tool call with its text exactly as the model wrote it (not JSON-encoded by the test)."""
    return ModelOutput(analysis=f"call {name}", tool_calls=[ToolCall(id=f"c{i}", name=name, arguments=text)],
                       finish_reason="stop", usage=Usage(100, 10, 5))


def done(text: str = "Fixed add().") -> ModelOutput:
    return ModelOutput(analysis="done", final=text, finish_reason="stop", usage=Usage(100, 10, 5))


def solve(task: SweBenchTask, row: dict, replies: list):
    model, client = session(replies)
    sample = sample_of(row)
    ep = asyncio.run(task.solve(sample, model))
    att = attempt_of(ep, sample)
    return ep, att, (task.grade(sample, att) if att.status == "ok" else None), client


# -- the declaration ---------------------------------------------------------------------------------------

def test_reference_declares_container_exec_in_the_system_message_and_apply_patch_as_a_string():
    task = make_task()
    namespace, patch_tool = task.tools("/testbed")
    assert namespace["type"] == "namespace" and namespace["name"] == "container"
    assert [t["name"] for t in namespace["tools"]] == ["exec"]
    assert namespace["tools"][0]["parameters"]["required"] == ["cmd"]
    assert patch_tool["function"]["name"] == "apply_patch"
    assert patch_tool["function"]["parameters"] == {"type": "string", "description": "Formatted patch code",
                                                    "default": "*** Begin Patch\n*** End Patch\n"}
    messages = [{"role": "developer", "content": task.developer_prompt("/testbed")},
                {"role": "user", "content": "fix it"}]
    text = harmony.encoding().decode(harmony.render_prompt(messages, "low", tools=task.tools("/testbed")))
    system, developer = text.split("<|start|>developer<|message|>", 1)
    # the shell lives in the system message, beside where python / browser go, as a namespace of its own
    assert "## container\n\n// " + CONTAINER_DESCRIPTION + "\nnamespace container {" in system
    assert "type exec = (_: {" in system and "cmd: string[]," in system
    assert "functions" in system  # harmony's own line: function calls go to the commentary channel
    # apply_patch takes a plain string; the format's instructions follow the task's own
    assert "namespace functions {" in developer and "type apply_patch = (_: string) => any;" in developer
    assert "type exec" not in developer
    assert developer.index("# Instructions") < developer.index(APPLY_PATCH_INSTRUCTIONS.splitlines()[0])
    assert "`container.exec` tool" in developer


def test_functions_style_is_todays_form():
    task = SweBenchTask(tool_style="functions", transport="chat")
    assert [t["type"] for t in task.tools("/testbed")] == ["function", "function"]
    exec_tool, patch_tool = (t["function"] for t in task.tools("/testbed"))
    assert exec_tool["name"] == "exec" and patch_tool["parameters"]["required"] == ["patch"]
    assert "apply_patch format" not in task.developer_prompt("/testbed")
    assert "*** Add File" not in task.developer_prompt("/testbed")


@pytest.mark.parametrize("transport, style", [("harmony", "reference"), ("chat", "functions"),
                                              ("responses", "functions"), (None, "functions")])
def test_the_default_style_follows_the_transport(transport, style):
    assert SweBenchTask(transport=transport).tool_style == style


def test_bad_styles_are_one_clear_error():
    with pytest.raises(swe_task.TaskError, match=r"suite.tool_style='mcp' is not valid: expected reference or "
                                                 r"functions"):
        SweBenchTask(tool_style="mcp")
    with pytest.raises(swe_task.TaskError, match="only client=harmony sends .*client=chat"):
        SweBenchTask(tool_style="reference", transport="chat")


def test_the_installed_gpt_oss_instructions_are_used_where_the_package_ships_them(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "gpt_oss"
    (pkg / "tools").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('the package must be located, not imported')\n")
    (pkg / "tools" / "apply_patch.md").write_text("Rules from the package.\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "gpt_oss", raising=False)
    text, source = swe_task.apply_patch_instructions()
    assert text == "Rules from the package." and source.startswith("gpt-oss ")
    task = make_task()
    assert task.developer_prompt("/testbed").endswith("\n\nRules from the package.")
    assert task.settings()["apply_patch_instructions"] == source
    (pkg / "tools" / "apply_patch.md").unlink()
    assert swe_task.apply_patch_instructions() == (APPLY_PATCH_INSTRUCTIONS, "gptoss-eval")


# -- the episode in the reference form ---------------------------------------------------------------------

def test_reference_episode_resolves_with_container_exec_and_raw_and_wrapped_patches(toy):
    task = make_task()
    wrapped = json.dumps({"input": RIGHT_PATCH.replace("return a + b", "return a + b  # fixed")})
    ep, att, grade, client = solve(task, toy.row, [
        raw_call("container.exec", json.dumps({"cmd": ["bash", "-lc", "grep -n return calc/ops.py"]}), 0),
        raw_call("apply_patch", RIGHT_PATCH, 1),  # the text is the patch
        raw_call("container.exec", json.dumps({"cmd": ["git", "checkout", "calc/ops.py"]}), 2),
        raw_call("apply_patch", wrapped, 3),  # a one-key JSON object is unwrapped
        raw_call("container.exec", json.dumps({"cmd": ["bash", "-lc", "echo $WHO"], "env": {"WHO": "me"}}), 4),
        done()])
    outs = tool_messages(ep.transcript)
    assert "return a - b" in outs[0] and outs[1].startswith("Done!") and outs[3].startswith("Done!")
    assert outs[4].strip() == "me"
    assert ep.info["tool_errors"] == 0 and ep.info["stop_reason"] == "submitted"
    assert "+    return a + b  # fixed" in att.info["patch"]
    assert grade.score == 1.0, grade.reason
    # what the model was given: the namespace and the string-typed apply_patch, on every call
    assert all(r["tools"] == task.tools(task.make_env(toy.row).repo_path) or r["tools"][0]["type"] == "namespace"
               for r in client.requests)
    # the transcript re-renders as the model called: container.exec from analysis, the patch text unconstrained
    text = harmony.encoding().decode(harmony.render_prompt(ep.transcript[:5], "low", tools=client.requests[0]["tools"]))
    assert "<|start|>assistant to=container.exec<|channel|>analysis code<|message|>{\"cmd\"" in text
    assert "<|start|>container.exec to=assistant<|channel|>analysis<|message|>" in text
    assert "<|start|>assistant to=functions.apply_patch<|channel|>commentary<|message|>*** Begin Patch" in text
    assert "functions.container" not in text


def test_harmony_parses_the_reference_calls_by_their_own_names():
    enc = harmony.encoding()
    exec_tokens = enc.encode('<|channel|>analysis to=container.exec code<|message|>{"cmd":["ls"]}<|call|>',
                             allowed_special="all")
    (c,) = harmony.parse_completion_tokens(exec_tokens).tool_calls
    assert (c.name, c.arguments) == ("container.exec", '{"cmd":["ls"]}')
    patch_tokens = enc.encode(f"<|channel|>commentary to=functions.apply_patch<|message|>{RIGHT_PATCH}<|call|>",
                              allowed_special="all")
    (c,) = harmony.parse_completion_tokens(patch_tokens).tool_calls
    assert (c.name, c.arguments) == ("apply_patch", RIGHT_PATCH)


# -- bad input: answered, never a crash, never a write outside the work tree -------------------------------

OUTSIDE = "swe-escape-marker.txt"


def _outside_patches(host_target: Path) -> list[str]:
    add = "*** Begin Patch\n*** Add File: {}\n+escaped\n*** End Patch"
    return [
        add.format(f"../{OUTSIDE}"), add.format(f"../../{OUTSIDE}"), add.format(f"calc/../../{OUTSIDE}"),
        add.format(str(host_target)), add.format("/testbed/../" + OUTSIDE), add.format(f"/etc/{OUTSIDE}"),
        "*** Begin Patch\n*** Delete File: ../../../etc/hostname\n*** End Patch",
        "*** Begin Patch\n*** Update File: calc/ops.py\n*** Move to: ../moved.py\n@@ def add(a, b):\n"
        "-    return a - b\n+    return a + b\n*** End Patch",
        json.dumps({"patch": add.format(f"../{OUTSIDE}")}),
        add.format("calc/nul\x00byte.py"),
    ]


MALFORMED_PATCH_INPUT = ["", "   \n", "please make add() add", "{\"patch\": ", "[\"*** Begin Patch\"]",
                         json.dumps({"a": "x", "b": "y"}), json.dumps({"patch": 5}), json.dumps({"patch": ""})]

MALFORMED_EXEC_INPUT = ["", "ls -la", "[1, 2]", json.dumps({"cmd": []}), json.dumps({"cmd": ""}),
                        json.dumps({"cmd": ["echo", 3]}), json.dumps({"cmd": ["echo", "a\x00b"]}),
                        json.dumps({"cmd": ["true"], "env": {"A=B": "x"}}), json.dumps({"command": ["ls"]})]


@pytest.mark.parametrize("sandbox", [False, pytest.param(True, marks=needs_bwrap)], ids=["plain", "bwrap"])
def test_malformed_and_escaping_calls_are_answered_and_write_nothing_outside(toy, tmp_path, sandbox):
    envs = tmp_path / "envs"
    envs.mkdir()
    host_target = tmp_path / OUTSIDE
    task = make_task(sandbox=sandbox, env={"tmp_root": str(envs)})
    seen_outside: list[list[str]] = []

    def look(_messages):  # while the environment is alive: what exists outside its work tree
        seen_outside.append(sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                                   if "testbed" not in p.parts and p.is_file()
                                   and not p.is_relative_to(toy.repo)))
        return done("gave up")

    calls = [raw_call("apply_patch", text, i) for i, text in enumerate(_outside_patches(host_target)
                                                                     + MALFORMED_PATCH_INPUT)]
    calls += [raw_call("container.exec", text, 100 + i) for i, text in enumerate(MALFORMED_EXEC_INPUT)]
    calls += [raw_call("container.exec", json.dumps({"cmd": ["pwd"], "workdir": "/nonexistent/dir"}), 200),
              raw_call("container.exec", json.dumps({"cmd": ["true"], "timeout": "soon"}), 201)]
    ep, att, grade, client = solve(task, toy.row, [*calls, look])
    outs = tool_messages(ep.transcript)
    assert len(outs) == len(calls) and ep.info["stop_reason"] == "submitted" and ep.status == "ok"
    answered = outs[:-2]
    assert all(o.startswith("error:") for o in answered), [o for o in answered if not o.startswith("error:")]
    escapes = len(_outside_patches(host_target))
    assert all("outside the repository" in o for o in outs[:escapes - 1]), outs[:escapes]
    assert "null byte" in outs[escapes - 1] and "no input" in outs[escapes]
    exec_outs = outs[escapes + len(MALFORMED_PATCH_INPUT):-2]
    assert "not valid JSON" in exec_outs[1] and "NUL byte" in exec_outs[6] and "`env`" in exec_outs[7]
    # a missing workdir is the command's failure, reported like any other; a bad timeout falls back
    assert "[exit code" in outs[-2] and outs[-1] == "(no output)"
    assert ep.info["tool_errors"] == len(calls) - 1
    assert not host_target.exists() and not Path("/etc", OUTSIDE).exists()
    assert seen_outside == [[]], seen_outside
    assert att.info["patch"] == "" and grade.details["category"] == "no_patch"


@pytest.mark.parametrize("sandbox", [False, pytest.param(True, marks=needs_bwrap)], ids=["plain", "bwrap"])
def test_a_symbolic_link_out_of_the_work_tree_does_not_carry_a_patch_outside(toy, tmp_path, sandbox):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("keep\n")
    link = ["ln", "-s", str(outside), "out"] if not sandbox else ["ln", "-s", "/tmp", "out"]
    add = "*** Begin Patch\n*** Add File: out/new.txt\n+escaped\n*** End Patch"
    update = ("*** Begin Patch\n*** Update File: out/victim.txt\n@@\n-keep\n+changed\n*** End Patch" if not sandbox
              else add.replace("out/new.txt", "out/../out/again.txt"))
    inside = "*** Begin Patch\n*** Add File: calc/inner/new.py\n+x = 1\n*** End Patch"  # a new folder is fine
    ep, att, *_ = solve(make_task(sandbox=sandbox), toy.row, [
        raw_call("container.exec", json.dumps({"cmd": link}), 0),
        raw_call("apply_patch", add, 1), raw_call("apply_patch", update, 2), raw_call("apply_patch", inside, 3),
        done()])
    outs = tool_messages(ep.transcript)
    assert outs[1].startswith("error: the patch was not applied") and "out/new.txt resolves outside" in outs[1]
    assert outs[2].startswith("error: the patch was not applied") and "resolves outside" in outs[2]
    assert outs[3].startswith("Done!")
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "keep\n"
    assert "calc/inner/new.py" in att.info["patch"]


def test_an_unknown_tool_names_the_tools_of_the_style(toy):
    ep, *_ = solve(make_task(), toy.row, [raw_call("functions.str_replace", "{}"), done()])
    assert tool_messages(ep.transcript) == [
        "error: unknown tool 'str_replace'; the tools are container.exec, apply_patch"]


# -- settings and report -----------------------------------------------------------------------------------

def test_the_style_and_the_id_subset_are_settings(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("a__b-1\nc__d-2\n")
    ref, fun = make_task(instance_ids_file=str(ids)), make_task("functions", instance_ids_file=str(ids))
    assert ref.settings()["tool_style"] == "reference" and fun.settings()["tool_style"] == "functions"
    assert ref.settings()["tools"] == ["container.exec", "apply_patch"]
    assert ref.settings()["n_ids"] == 2 and ref.settings() != fun.settings()
    before = ref.settings()
    ids.write_text("a__b-1\n")  # the same file name with other ids must not resume into the old store
    assert ref.settings()["ids_file_sha256"] != before["ids_file_sha256"]
    with pytest.raises(swe_task.TaskError, match="name two files"):
        SweBenchTask(ids_file="x.txt", instance_ids_file="y.txt")


def _cli_args(server, tmp_path: Path, toy, *extra: str) -> list[str]:
    data = tmp_path / "toy.jsonl"
    data.write_text(json.dumps(toy.row) + "\n")
    return ["server=attach", f"server.base_url={server.base_url}", "suite=swebench_verified", f"suite.path={data}",
            "suite.environment.kind=local", "suite.environment.sandbox=false", "effort=low",
            f"paths.root={tmp_path / 'runs'}", "progress=false", *extra]


@pytest.mark.parametrize("extra, message", [
    (["suite.tool_style=mcp"], "suite.tool_style='mcp' is not valid: expected reference or functions"),
    (["suite.tool_style=reference", "client=chat"], "only client=harmony sends"),
    (["suite.instance_ids_file=/nonexistent/ids.txt"], "does not exist"),
], ids=["unknown-style", "reference-on-chat", "missing-ids-file"])
def test_bad_tool_settings_stop_before_anything_starts(scripted_server, tmp_path, toy, extra, message):
    server = scripted_server({"rules": [], "default": {"final": "nothing"}})
    proc = run_cli(*_cli_args(server, tmp_path, toy, *extra), env=dict(os.environ))
    assert proc.returncode == 2, proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert line.startswith("gptoss-eval: error:") and message in line, line
    run = tmp_path / "runs" / "default" / "gpt-oss-120b" / "swebench_verified" / "low"
    assert server.requests() == [] and not (run / "attempts.jsonl").exists() and not (run / "manifest.json").exists()


def test_reference_run_over_harmony_resolves_and_the_report_names_style_and_n(scripted_server, tmp_path, toy):
    """The console script on client=harmony (the reference style by default) with the tiny checkpoint's script."""
    case = cases.case("swebench")
    server = scripted_server({"rules": case.rules, "default": {"final": "unscripted request"}})
    ids = tmp_path / "ids.txt"
    ids.write_text(toy.row["instance_id"] + "\n")
    proc = run_cli(*_cli_args(server, tmp_path, toy, "client=harmony", f"suite.instance_ids_file={ids}",
                              "model=tiny_tools", "model.path=scripted"), env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "runs" / "default" / "tiny-gptoss-tools" / "swebench_verified" / "low"
    (attempt,) = [json.loads(x) for x in (run / "attempts.jsonl").read_text().splitlines()]
    calls = [c["name"] for m in attempt["transcript"] for c in m.get("tool_calls") or []]
    assert calls == ["container.exec", "apply_patch"] and attempt["info"]["stop_reason"] == "submitted"
    (grade,) = [json.loads(x) for x in (run / "grades.jsonl").read_text().splitlines()]
    assert grade["answer"] == "resolved"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["settings"]["task"]["tool_style"] == "reference"
    md = (run / "report.md").read_text()
    assert ("tool style reference (container.exec, apply_patch); n = 1 instances (instance ids from ids.txt "
            "(1 ids))") in md
