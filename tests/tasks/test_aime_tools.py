"""AIME with the built-in python tool: the tool loop, the with-tools suites, and a CLI run over the harmony wire."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from evals.clients import Sampling
from evals.engine import episode_status
from evals.task import ModelSession
from evals.tool_env import TOOL_PACKAGES
from evals.tool_loop import DEFAULT_MAX_TOOL_CALLS, ToolTransportError, run_tool_loop
from evals.types import Attempt, ModelOutput, Sample, ToolCall
from tasks.aime import AimeTask
from tests.conftest import FIXTURES, needs_bwrap, run_cli
from tests.evals.test_python_tool import needs_tool_env
from tests.support.long_tool_session import MINIMAL, REALISTIC, long_session

MINI = str(FIXTURES / "mini_aime.jsonl")



class FakeClient:
    """A model in-process: ``script(messages)`` -> ModelOutput; looks like the harmony client with python on."""

    def __init__(self, script: Callable[[list[dict[str, Any]]], ModelOutput], transport: str = "harmony",
                 python_tool: bool = True) -> None:
        self.script = script
        self.transport = transport
        self.python_tool = python_tool
        self.requests: list[list[dict[str, Any]]] = []

    async def generate(self, messages, *, effort, sampling, seed=None, tools=None) -> ModelOutput:
        self.requests.append([dict(m) for m in messages])
        return self.script(messages)


def session(script, **kw) -> ModelSession:
    return ModelSession(FakeClient(script, **kw), effort="low", sampling=Sampling(), seed=0)


def py_call(code: str, n: int = 0) -> ModelOutput:
    return ModelOutput(analysis="Let me compute.", tool_calls=[ToolCall(id=f"call_{n}", name="python", arguments=code)],
                       finish_reason="stop")


def tool_outputs(messages) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "tool"]


def task(**kw) -> AimeTask:
    return AimeTask("aime2025_tools", 2025, path=MINI, tools="python", **kw)


def attempt_of(episode, sample_id: str = "p3") -> Attempt:
    status, error = episode_status(episode)
    return Attempt(key=f"{sample_id}#0", run_id="r", suite="aime2025_tools", sample_id=sample_id, repeat=0, seed=0,
                   effort="low", model="m", transport="harmony", settings_hash="h", status=status,
                   output=episode.output.to_dict(), transcript=episode.transcript, usage={}, n_calls=0,
                   started_at=0, ended_at=0, latency_s=0, error=error, info=episode.info)


@needs_bwrap
@needs_tool_env
def test_a_model_that_computes_with_the_tool_reaches_the_answer_and_keeps_state_between_calls():
    def model(messages):
        outs = tool_outputs(messages)
        if not outs:
            return py_call("x = pow(2, 10, 1000)")  # call 1 defines x ...
        if len(outs) == 1:
            return py_call("print(f'x = {x}')\nx", n=1)  # ... call 2 uses it
        value = int(outs[-1].splitlines()[-1])
        return ModelOutput(analysis="The kernel says so.", final=f"\\boxed{{{value}}}", finish_reason="stop")

    t = task(tool_options={"timeout_s": 10, "memory_mb": 512})
    sample = next(s for s in t.load() if s.id == "p3")
    episode = asyncio.run(t.solve(sample, s := session(model)))
    assert len(s.calls) == 3
    assert tool_outputs(episode.transcript) == ["", "x = 24\n24\n"]
    assert [m["role"] for m in episode.transcript] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    call_msg, tool_msg = episode.transcript[1], episode.transcript[2]
    assert call_msg["tool_calls"][0]["name"] == "python" and call_msg["reasoning"] == "Let me compute."
    assert tool_msg["name"] == "python" and tool_msg["tool_call_id"] == "call_0"
    assert episode.info["tool_calls"] == 2 and episode.info["stop_reason"] == "final"
    assert episode.info["tool_seconds"] > 0 and episode.info["tool_kernel_starts"] == 1
    grade = t.grade(sample, attempt_of(episode))
    assert grade.score == 1.0 and grade.answer == 24


@needs_bwrap
@needs_tool_env
def test_a_model_that_loops_on_tool_calls_stops_at_the_limit_with_a_recorded_reason():
    episode = asyncio.run(task(max_tool_calls=3).solve(Sample(id="p3", input="q", reference=24),
                                                       s := session(lambda m: py_call("1 + 1"))))
    assert len(s.calls) == 4  # three calls run, the fourth request is refused
    assert tool_outputs(episode.transcript) == ["2\n"] * 3
    assert episode.info["tool_calls"] == 3 and episode.info["stop_reason"] == "tool_limit"
    attempt = attempt_of(episode)
    assert attempt.status == "ok"  # the model's failure: graded, scored 0
    grade = task().grade(Sample(id="p3", input="q", reference=24), attempt)
    assert grade.score == 0.0 and "tool-call limit (3)" in grade.reason


@needs_bwrap
@needs_tool_env
def test_timeouts_reach_the_model_as_tool_output():
    def model(messages):
        outs = tool_outputs(messages)
        if not outs:
            return py_call("while True:\n    pass")
        return ModelOutput(final=f"seen: {outs[-1]}", finish_reason="stop")

    t = task(tool_options={"timeout_s": 1})
    episode = asyncio.run(t.solve(Sample(id="p3", input="q", reference=24), session(model)))
    assert "timed out after 1 s" in episode.output.final
    assert episode.info["tool_timeouts"] == 1 and episode.info["stop_reason"] == "final"


def test_tool_failures_go_back_to_the_model_and_never_end_the_attempt():
    async def broken(code: str) -> str:
        raise RuntimeError("disk on fire")

    def model(messages):
        outs = tool_outputs(messages)
        if not outs:
            return py_call("print(1)")
        if len(outs) == 1:
            return ModelOutput(tool_calls=[ToolCall(id="c", name="browser", arguments="{}")])
        return ModelOutput(final="\\boxed{1}", finish_reason="stop")

    episode = asyncio.run(run_tool_loop(session(model), [{"role": "user", "content": "q"}], {"python": broken}))
    outs = tool_outputs(episode.transcript)
    assert outs[0] == "[The python tool failed: RuntimeError: disk on fire]"
    assert "no tool named 'browser'" in outs[1]
    assert episode.info["tool_errors"] == 2 and episode.info["stop_reason"] == "final"


def test_the_with_tools_mode_needs_the_harmony_client_with_python_declared():
    t = task()
    sample = Sample(id="p3", input="q", reference=24)
    with pytest.raises(ToolTransportError, match="client=harmony"):
        asyncio.run(t.solve(sample, session(lambda m: py_call("1"), transport="chat")))
    with pytest.raises(ToolTransportError, match="python_tool=True"):
        asyncio.run(t.solve(sample, session(lambda m: py_call("1"), python_tool=False)))


def test_suite_identity_plain_mode_unchanged():
    plain = AimeTask("aime2025", 2025, path=MINI)
    tools = task(max_tool_calls=8)
    assert plain.card_key() == "aime2025" and not plain.needs_python_tool and "tools" not in plain.settings()
    assert tools.card_key() == "aime2025_tools" and tools.needs_python_tool
    assert tools.settings()["tools"] == "python" and tools.settings()["max_tool_calls"] == 8
    assert AimeTask("aime2024_tools", 2024, path=MINI, tools="python").card_key() == "aime2024_tools"
    with pytest.raises(ValueError, match="suite.tools"):
        AimeTask("x", 2025, path=MINI, tools="browser")


# -- the real console script over the harmony wire -------------------------------------------------------------

_TOOL_RESULT = re.compile(r"<\|start\|>python to=assistant<\|channel\|>analysis<\|message\|>(.*?)<\|end\|>", re.S)
# user-text fragment -> the two cells the scripted model sends; p5 never stops calling the tool
_CELLS = {"3 \\times 7": ("a, b = 3, 7", "a * b"), "2^{10}": ("x = 2 ** 10", "x % 1000")}


class _HarmonyModel(BaseHTTPRequestHandler):
    """/v1/completions: decodes the rendered prompt and answers from the python results it holds."""

    prompts: list[str] = []
    exchanges: list[tuple[list[int], list[int]]] = []  # (prompt ids, completion ids with the stop token)

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        from evals.harmony import encoding

        enc = encoding()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = enc.decode(body["prompt"])
        type(self).prompts.append(prompt)
        user = prompt.rsplit("<|start|>user<|message|>", 1)[-1].split("<|end|>", 1)[0]
        results = _TOOL_RESULT.findall(prompt)
        cells = next((c for k, c in _CELLS.items() if k in user), None)
        if cells is None:
            text = "<|channel|>analysis to=python code<|message|>print('again')<|call|>"
        elif len(results) < len(cells):
            text = (f"<|channel|>analysis<|message|>Compute step {len(results) + 1}.<|end|><|start|>assistant"
                    f"<|channel|>analysis to=python code<|message|>{cells[len(results)]}<|call|>")
        else:
            text = f"<|channel|>analysis<|message|>Done.<|end|><|start|>assistant<|channel|>final<|message|>" \
                   f"\\boxed{{{results[-1].strip()}}}<|return|>"
        ids = enc.encode(text, allowed_special="all")[:-1]  # vLLM leaves the stop token out
        type(self).exchanges.append((body["prompt"], enc.encode(text, allowed_special="all")))
        data = json.dumps({"id": "cmpl", "object": "text_completion", "choices": [
            {"index": 0, "text": enc.decode(ids), "token_ids": ids, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": len(ids)}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        data = b'{"version": "scripted-tools"}' if self.path == "/version" else b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def harmony_model():
    _HarmonyModel.prompts = []
    _HarmonyModel.exchanges = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HarmonyModel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _cli_args(base_url: str, root, *extra: str) -> list[str]:
    return ["server=attach", f"server.base_url={base_url}", "suite=aime2025_tools", f"suite.path={MINI}",
            "suite.ids=[p1,p3,p5]", f"paths.root={root}", "progress=false", "client.retry_wait_s=0.01",
            "effort=low", "repeats=1", "client.stream=false", *extra]  # the stand-in answers whole replies


@needs_bwrap
@needs_tool_env
def test_cli_run_with_the_python_tool_over_harmony(harmony_model, tmp_path):
    proc = run_cli(*_cli_args(harmony_model, tmp_path, "client=harmony", "suite.max_tool_calls=3"))
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "default" / "gpt-oss-120b" / "aime2025_tools" / "low"
    attempts = {a["sample_id"]: a for a in map(json.loads, (run_dir / "attempts.jsonl").read_text().splitlines())}
    grades = {g["key"]: g for g in map(json.loads, (run_dir / "grades.jsonl").read_text().splitlines())}
    assert {k: g["score"] for k, g in grades.items()} == {"p1#0": 1.0, "p3#0": 1.0, "p5#0": 0.0}
    assert attempts["p3"]["info"]["tool_calls"] == 2 and attempts["p3"]["info"]["stop_reason"] == "final"
    assert [m["content"] for m in attempts["p3"]["transcript"] if m["role"] == "tool"] == ["", "24\n"]
    assert attempts["p5"]["info"]["stop_reason"] == "tool_limit" and attempts["p5"]["info"]["tool_calls"] == 3
    assert "tool-call limit" in grades["p5#0"]["reason"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["card_key"] == "aime2025_tools" and manifest["settings"]["task"]["tools"] == "python"
    # its own report row, beside the card's with-python number (72.9 at low), not the no-tools one (50.4)
    [row] = csv.DictReader((run_dir / "summary.csv").open())
    assert (row["suite"], row["card"]) == ("aime2025_tools", "72.9")
    prompts = _HarmonyModel.prompts
    assert all("# Tools\n\n## python" in p for p in prompts)  # declared as the built-in tool, every call
    later = next(p for p in prompts if "x = 2 ** 10" in p)
    # the call comes back as the model wrote it: recipient after the channel, content type code
    assert "<|start|>assistant<|channel|>analysis to=python code<|message|>x = 2 ** 10<|call|>" in later
    assert "<|start|>python to=assistant<|channel|>analysis<|message|>" in later
    # token for token: each prompt after a call is the previous prompt, then exactly what the model emitted
    followed = 0
    for prompt, emitted in _HarmonyModel.exchanges:
        for nxt, _ in _HarmonyModel.exchanges:  # the same attempt's later turns extend this prompt
            if len(nxt) > len(prompt) and nxt[:len(prompt)] == prompt:
                assert nxt[len(prompt):len(prompt) + len(emitted)] == emitted
                followed += 1
    assert followed == 3 + 3 + 6  # (request, later request) pairs: p1 and p3 three requests each, p5 four
    # the limit and the attempts that met it, in the report
    report = (run_dir / "report.md").read_text()
    assert ("- WARNING aime2025_tools / low: at most 3 tool calls per attempt; 1 of 3 attempts (33.3%) met it"
            in report)
    assert row["max_tool_calls"] == "3" and row["tool_limit_hits"] == "1"
    # the tool's interpreter and packages: in the settings (part of the hash) and with the other versions
    interpreter = manifest["settings"]["task"]["tool_limits"]["interpreter"]
    assert interpreter["packages"] == TOOL_PACKAGES and manifest["versions"]["python_tool"] == interpreter


def test_cli_refuses_the_with_tools_suite_on_another_transport(tmp_path):
    proc = run_cli(*_cli_args("http://127.0.0.1:9/v1", tmp_path, "client=chat"))
    assert proc.returncode == 2
    assert "client=harmony" in proc.stderr and "python tool" in proc.stderr


@needs_bwrap
@needs_tool_env
def test_codeforces_has_the_same_with_tools_switch():
    from tasks.codeforces.task import CodeforcesTask

    plain, tools = CodeforcesTask(path="unused"), CodeforcesTask(path="unused", tools="python", max_tool_calls=2)
    assert plain.card_key() == "codeforces_elo" and not plain.needs_python_tool
    assert tools.card_key() == "codeforces_elo_tools" and tools.needs_python_tool

    def model(messages):
        outs = tool_outputs(messages)
        if not outs:
            return py_call("print(sum(map(int, '2 3'.split())))")
        return ModelOutput(final=f"Checked: {outs[-1].strip()}\n```python\nprint(sum(map(int, input().split())))\n```",
                           finish_reason="stop")

    sample = Sample(id="1A", input="Add two numbers.", metadata={"rating": 800, "contest": "1"})
    episode = asyncio.run(tools.solve(sample, session(model)))
    assert episode.output.final.startswith("Checked: 5")
    assert episode.info["tool_calls"] == 1 and episode.info["rating"] == 800 and episode.info["language"] == "cpp"


def test_the_transport_check_sees_through_a_balancer_over_several_endpoints():
    from evals.tool_loop import check_python_transport

    class Endpoint:
        def __init__(self, on: bool) -> None:
            self.client = FakeClient(lambda m: ModelOutput(), python_tool=on)

    class Balanced:
        transport = "harmony"

        def __init__(self, *flags: bool) -> None:
            self.endpoints = [Endpoint(f) for f in flags]

    check_python_transport(Balanced(True, True))
    with pytest.raises(ToolTransportError):
        check_python_transport(Balanced(True, False))


# -- the tool environment and the call limit through the console script -----------------------------------------

@pytest.fixture
def tool_cache(tmp_path):
    """A sandbox cache of our own (readable by the sandbox uid), empty: point GPTOSS_SANDBOX_CACHE at it."""
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="tool-cache-") as d:
        os.chmod(d, 0o755)
        yield Path(d)


@needs_bwrap
def test_a_missing_tool_environment_stops_the_run_before_any_request(harmony_model, tmp_path, tool_cache):
    proc = run_cli(*_cli_args(harmony_model, tmp_path, "client=harmony", "suite.ids=[p3]"),
                   env={"GPTOSS_SANDBOX_CACHE": str(tool_cache)})
    assert proc.returncode == 2
    [line] = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert line.startswith("gptoss-eval: error: the python tool's environment") and line.endswith(
        "run `bash runners/setup_tool_env.sh` first")
    assert _HarmonyModel.exchanges == []


@needs_bwrap
@needs_tool_env
def test_a_run_whose_tool_environment_changed_refuses_to_resume_into_the_old_store(harmony_model, tmp_path,
                                                                                   tool_cache):
    from evals import tool_env

    args = _cli_args(harmony_model, tmp_path, "client=harmony", "suite.ids=[p3]")
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    sent = len(_HarmonyModel.exchanges)
    # the same environment with one package at another version (mpmath 1.2.1, which sympy accepts): a copy of
    # hard links, then a real pip install into the copy
    real = tool_env.require()
    changed = tool_cache / real.name
    subprocess.run(["cp", "-al", str(real), str(changed)], check=True)
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(changed / "bin" / "python3"), "install", "-q",
                          "--no-input", "--only-binary=:all:", "mpmath==1.2.1"], capture_output=True, text=True)
    if pip.returncode != 0:
        pytest.skip(f"cannot install mpmath 1.2.1 here: {pip.stderr.strip()[-200:]}")
    second = run_cli(*args, env={"GPTOSS_SANDBOX_CACHE": str(tool_cache)})
    assert second.returncode == 2 and "holds a run with other settings" in second.stderr, second.stderr
    assert len(_HarmonyModel.exchanges) == sent  # refused before any request
    assert tool_env.describe()["packages"]["mpmath"] == tool_env.TOOL_PACKAGES["mpmath"]  # the real one untouched
    again = run_cli(*args)  # the original environment resumes: nothing left to do
    assert again.returncode == 0 and len(_HarmonyModel.exchanges) == sent, again.stderr


@needs_bwrap
@needs_tool_env
def test_a_long_session_ends_when_the_context_is_full_long_before_the_default_call_limit():
    """The scripted long session on a 4,096-token context, with realistic and with the smallest possible rounds:
    every call runs in the real kernel, the session ends truncated (the context is full), and at the same tokens
    per round the card's 131,072-token context holds fewer calls than the default limit."""
    for round_, expected in ((REALISTIC, "(285, [4, 7, 11, 14, 18, 21, 25, 28, 32, 35])\n"), (MINIMAL, "1\n")):
        episode, model = asyncio.run(long_session(round_, 4096))
        calls = episode.info["tool_calls"]
        assert episode.info["stop_reason"] == "truncated" and episode.info["tool_errors"] == 0
        assert {m["content"] for m in episode.transcript if m["role"] == "tool"} == {expected}
        per_round = (model.prompt_tokens[-1] - model.prompt_tokens[0]) / calls
        # the last request did not fit: prompt + one more turn > 4,096
        assert model.prompt_tokens[-1] + len(model.completion) > 4096 >= model.prompt_tokens[-2] + len(model.completion)
        assert (131_072 - model.prompt_tokens[0]) / per_round < DEFAULT_MAX_TOOL_CALLS, (round_.name, per_round)
    # a limit set lower does stop such a session, with its own reason
    episode, _ = asyncio.run(long_session(MINIMAL, 4096, max_tool_calls=50))
    assert episode.info["stop_reason"] == "tool_limit" and episode.info["tool_calls"] == 50
