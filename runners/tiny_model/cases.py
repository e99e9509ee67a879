"""Render the suite cases of the tiny checkpoint with the harness's own task code (harness venv).

The builder runs in the vLLM venv, which holds neither the tasks nor their data; so the exact requests
the harness sends for each scripted case are rendered here and committed as JSON under
``runners/tiny_model/cases/`` (their bytes are part of the recipe hash)::

    .venv/bin/python -m runners.tiny_model.cases --write          # regenerate the committed files
    .venv/bin/python -m runners.tiny_model.cases --check          # exit 1 if they drifted

Each file is ``{"about": str, "entries": [...]}``; an entry is one training sequence:

* ``transport: "chat"``: ``request`` holds the chat-completions ``messages``, ``tools`` and
  ``reasoning_effort`` exactly as :class:`evals.clients.ChatCompletionsClient` sends them; the builder
  renders the prompt with vLLM's own Harmony code, the way the server does;
* ``transport: "harmony"``: ``prompt_ids`` are the token ids the token-level Harmony transport sends;
* ``completion``: what the model must write after ``<|start|>assistant`` (Harmony text with special tokens);
* ``expect``: facts the end-to-end tests check (tool call, observation, verdict, answer).

The episodes are run through the tasks' real ``solve`` (Tau-Bench, SWE-Bench) or the real tool loop (python)
with in-process fake models that record every request, so a change in a task's prompt shows up as drift.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from runners.tiny_model import script as S
from runners.tiny_model import transcripts as T

HERE = Path(__file__).resolve().parent
FIXTURE_CODEFORCES = HERE / "fixture_codeforces.jsonl"
FIXTURE_AIME_TOOLS = HERE / "fixture_aime_tools.jsonl"
TAU_DATA_DEFAULT = Path("/work/shared/data/tau_bench/v1_retail")


def tau_data_dir() -> Path | None:
    """Where the Tau-Bench retail data is ($TAU_RETAIL_DATA, else the shared copy), or None."""
    for cand in (os.environ.get("TAU_RETAIL_DATA"), str(TAU_DATA_DEFAULT)):
        if cand and (Path(cand) / "tasks_test.json").is_file():
            return Path(cand)
    return None


class _Recorder:
    """An in-process model: answers from a list of outputs and records every request it got."""

    def __init__(self, outputs: list[Any], transport: str = "chat", python_tool: bool = False) -> None:
        self.outputs = list(outputs)
        self.transport = transport
        self.python_tool = python_tool
        self.model = "tiny-gptoss"
        self.base_url = "recorder://"
        self.requests: list[dict[str, Any]] = []

    async def generate(self, messages, *, effort, sampling, seed=None, tools=None):
        self.requests.append({"messages": json.loads(json.dumps(messages)), "tools": tools, "effort": effort})
        out = self.outputs.pop(0)
        return out(messages, tools, effort) if callable(out) else out


def _session(client: _Recorder, peers: dict[str, Any] | None = None):
    from evals.clients import Sampling
    from evals.task import ModelSession

    return ModelSession(client, effort=S.CASE_EFFORT, sampling=Sampling(temperature=0.0), seed=0, peers=peers)


def _chat_request(req: dict[str, Any]) -> dict[str, Any]:
    from evals.clients import ChatCompletionsClient

    return {"messages": ChatCompletionsClient._to_chat_messages(req["messages"]), "tools": req["tools"],
            "reasoning_effort": req["effort"]}


def _call_output(analysis: str, name: str, arguments: str):
    from evals.types import ModelOutput, ToolCall

    return ModelOutput(analysis=analysis, tool_calls=[ToolCall(id="call_0", name=name, arguments=arguments)],
                       finish_reason="tool_calls")


# ----------------------------------------------------------------------------- the four suites


def render_codeforces() -> dict[str, Any]:
    from evals.types import ModelOutput
    from tasks.codeforces.task import CodeforcesTask

    task = CodeforcesTask("tiny_codeforces", path=str(FIXTURE_CODEFORCES), language="cpp")
    entries = []
    for sample in task.load():
        item = S.CODEFORCES_SCRIPT[sample.id]
        final = S.codeforces_final(sample.id)
        client = _Recorder([ModelOutput(analysis=item["analysis"], final=final, finish_reason="stop")])
        asyncio.run(task.solve(sample, _session(client)))
        entries.append({"name": f"codeforces/{sample.id}", "transport": "chat",
                        "request": _chat_request(client.requests[0]),
                        "completion": T.answer_completion(item["analysis"], final),
                        "expect": {"verdict": item["verdict"]}})
    return {"about": "Codeforces (tasks/codeforces): one accepted and one wrong C++ program, chat transport",
            "entries": entries}


def render_tau(data_dir: Path) -> dict[str, Any]:
    from evals.types import ModelOutput
    from tasks.tau_retail.task import SIMULATOR_ROLE, TauRetailTask

    tc = S.TAU_CASE
    task = TauRetailTask(data_dir=str(data_dir), split=tc["split"], task_ids=[tc["task_index"]], trials=1,
                         max_steps=1)
    sample = task.load()[0]
    agent = _Recorder([_call_output(tc["analysis"], tc["tool"], tc["arguments"])])
    simulator = _Recorder([ModelOutput(analysis="", final=tc["first_user"], finish_reason="stop")])
    episode = asyncio.run(task.solve(sample, _session(agent, {SIMULATOR_ROLE: _session(simulator)})))
    observation = episode.transcript[-1]["content"]
    if observation != tc["observation"]:
        raise RuntimeError(f"tau case: the environment answered {observation!r}, script says {tc['observation']!r}")
    return {"about": "Tau-Bench Retail (tasks/tau_retail): the agent's first turn of a test task, chat transport",
            "entries": [{"name": f"tau_retail/{sample.id}", "transport": "chat",
                         "request": _chat_request(agent.requests[0]),
                         "completion": T.function_call_completion(tc["analysis"], tc["tool"], tc["arguments"]),
                         "expect": {"sample_id": sample.id, "tool": tc["tool"],
                                    "arguments": json.loads(tc["arguments"]), "observation": observation}}]}


class _ToyEnv:
    """Stands in for the toy instance's environment (only what the episode's first turn needs)."""

    kind = "local"
    repo_path = "/testbed"  # where LocalEnvironment with the bubblewrap sandbox puts the repository

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def diff(self) -> str:
        return ""

    def exec(self, cmd, timeout=None, workdir=None):
        from tasks.swebench.environments import ExecResult

        return ExecResult(0, S.SWE_CASE["observation"], False, False, 0.0)


def render_swebench() -> dict[str, Any]:
    from evals.types import Sample
    from tasks.swebench.task import SweBenchTask

    sc = S.SWE_CASE
    task = SweBenchTask("tiny_swebench", env_factory=lambda row: _ToyEnv(), max_steps=1, run_eval=False)
    row = {"instance_id": sc["instance_id"], "repo": sc["repo"], "problem_statement": sc["problem"],
           "base_commit": "0" * 40}
    sample = Sample(id=row["instance_id"], input=row["problem_statement"], reference=row,
                    metadata={"repo": row["repo"], "base_commit": row["base_commit"]})
    agent = _Recorder([_call_output(sc["analysis"], sc["tool"], sc["arguments"])])
    asyncio.run(task.solve(sample, _session(agent)))
    return {"about": "SWE-Bench (tasks/swebench): the toy instance's first turn, one exec call, chat transport",
            "entries": [{"name": f"swebench/{sample.id}", "transport": "chat",
                         "request": _chat_request(agent.requests[0]),
                         "completion": T.function_call_completion(sc["analysis"], sc["tool"], sc["arguments"]),
                         "expect": {"tool": sc["tool"], "arguments": json.loads(sc["arguments"]),
                                    "observation": sc["observation"]}}]}


def render_python_tool() -> dict[str, Any]:
    from evals import harmony
    from evals.tool_loop import run_tool_loop
    from tasks.aime import AimeTask

    pc = S.PY_CASE
    task = AimeTask("tiny_aime_tools", 2025, path=str(FIXTURE_AIME_TOOLS), id_col="id", tools="python")
    sample = task.load()[0]
    completions = [T.python_call_completion(pc["analysis"], pc["code"]),
                   T.answer_completion(pc["final_analysis"], pc["final"])]
    enc = harmony.encoding()
    prompts: list[list[int]] = []

    def reply(messages, tools, effort):
        # exactly what HarmonyCompletionsClient sends, and how it parses the reply (stop token left out)
        prompts.append(harmony.render_prompt(messages, effort, tools=tools, start_date=harmony.DEFAULT_START_DATE,
                                             python_tool=True))
        ids = enc.encode(completions[len(prompts) - 1], allowed_special="all")
        return harmony.parse_completion_tokens(ids[:-1])

    async def python(code: str) -> str:
        assert code == pc["code"], code
        return pc["tool_output"]

    client = _Recorder([reply, reply], transport="harmony", python_tool=True)
    episode = asyncio.run(run_tool_loop(_session(client), task.prompt(sample), {"python": python}))
    if episode.info["stop_reason"] != "final" or episode.output.final != pc["final"]:
        raise RuntimeError(f"python case: the tool loop ended with {episode.info} / {episode.output.final!r}")
    entries = [{"name": f"python_tool/{sample.id}/turn{i + 1}", "transport": "harmony", "prompt_ids": prompt,
                "completion": completion} for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True))]
    entries[-1]["expect"] = {"tool_calls": 1, "code": pc["code"], "tool_output": pc["tool_output"],
                             "answer": pc["answer"]}
    return {"about": "AIME with the built-in python tool (evals/tool_loop.py), harmony transport", "entries": entries}


RENDERERS = {"codeforces.json": render_codeforces, "tau_retail.json": None, "swebench.json": render_swebench,
             "python_tool.json": render_python_tool}


def render(name: str, tau_data: Path | None = None) -> dict[str, Any]:
    if name == "tau_retail.json":
        data = tau_data or tau_data_dir()
        if data is None:
            raise FileNotFoundError("Tau-Bench retail data not found: set TAU_RETAIL_DATA or pass --tau-data")
        return render_tau(data)
    return RENDERERS[name]()


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, indent=1, ensure_ascii=False) + "\n"


def load(name: str) -> dict[str, Any]:
    return json.loads((S.CASES_DIR / name).read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="(re)write the committed case files")
    mode.add_argument("--check", action="store_true", help="exit 1 if a committed file differs from today's render")
    ap.add_argument("--tau-data", type=Path, default=None)
    args = ap.parse_args(argv)
    from evals.harmony import ensure_offline_vocab

    ensure_offline_vocab()
    drift = []
    for name in S.CASE_FILES:
        text = dumps(render(name, args.tau_data))
        path = S.CASES_DIR / name
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
        elif not path.is_file() or path.read_text() != text:
            drift.append(name)
    if drift:
        print(f"drifted: {drift}; rerun with --write and rebuild the tiny checkpoint", file=sys.stderr)
        return 1
    print(f"recipe hash {S.recipe_hash()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
