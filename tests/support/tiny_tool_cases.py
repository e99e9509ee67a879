"""What the tiny *tools* checkpoint says, captured from the prompts the harness really renders.

Each case is a CLI run of a real suite over the token-level Harmony transport against the scripted server,
whose replies are raw Harmony completions (a C++ program, a python call, an ``apply_patch`` call, a Tau-Bench
tool call and what follows each), plus one ``action=doctor`` run whose function-tool probe (the weather
question) the model answers with the ``get_weather`` call. The capture server records every ``/v1/completions`` prompt, token for
token, with the completion it answered; those pairs are the training data of the tools checkpoint
(``runners/tiny_model/tool_cases.json``). vLLM serving that checkpoint must then answer the same CLI run
exactly as the scripted server did, which is what ``tests/runners/test_vllm_cpu_tools.py`` checks (and
``tests/runners/test_vllm_cpu_doctor.py`` for the doctor's probe).

    python -m tests.support.tiny_tool_cases            # re-capture; rewrite runners/tiny_model/tool_cases.json
    python -m tests.support.tiny_tool_cases --check    # exit 1 if the harness now renders other prompts

Needs what the suites need: bubblewrap, g++, git, swebench and the Tau-Bench v1 retail data.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals import harmony
from runners.tiny_model import script as aime_script
from runners.tiny_model.tools_recipe import CASES_FILE
from tests.conftest import SHARED_DATA, ScriptedServerProcess, run_cli
from tests.tasks.swebench.conftest import PROBLEM, RIGHT_PATCH, build_toy

TAU_DATA = SHARED_DATA / "tau_bench" / "v1_retail"
OPEN = "<|channel|>analysis<|message|>"
NEXT = "<|end|><|start|>assistant"


def _final(analysis: str, final: str) -> str:
    return f"{OPEN}{analysis}{NEXT}<|channel|>final<|message|>{final}<|return|>"


def _function_call(analysis: str, name: str, arguments: dict[str, Any]) -> str:
    return (f"{OPEN}{analysis}{NEXT}<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>"
            f"{json.dumps(arguments)}<|call|>")


def _container_exec(analysis: str, cmd: list[str]) -> str:
    """A call to the system-message ``container`` namespace, made like python / browser calls."""
    return (f"{OPEN}{analysis}{NEXT}<|channel|>analysis to=container.exec code<|message|>"
            f"{json.dumps({'cmd': cmd})}<|call|>")


def _patch_call(analysis: str, patch: str) -> str:
    """apply_patch in the reference form: the message text is the patch itself."""
    return f"{OPEN}{analysis}{NEXT}<|channel|>commentary to=functions.apply_patch<|message|>{patch}<|call|>"


# -- what the model says -----------------------------------------------------------------------------------

CPP_SUM = '#include <cstdio>\nint main(){int a,b;scanf("%d %d",&a,&b);printf("%d\\n",a+b);}'
PYTHON_CELL = "print(2**10 % 7)"
TAU_USER_FIRST = "Hi, I am Yusuf Rossi, zip code 19122. I want to exchange two items."
TAU_LOOKUP = {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}
TAU_USER_ID = "yusuf_rossi_9620"  # what find_user_id_by_name_zip returns for TAU_LOOKUP
TAU_AGENT_REPLY = f"Thanks, I found your account: {TAU_USER_ID}."
SWE_SUMMARY = "add now returns a + b."
SWE_LOOK = ["grep", "-n", "return", "calc/ops.py"]
SWE_LOOK_OUTPUT = "    return a - b"  # a line of what SWE_LOOK prints
# The doctor's function-tool probe is the AIME checkpoint's weather question; the same call answers it.
WEATHER = aime_script.TOOL_CASE
DOCTOR_TOOL_LINE = (f"PASS function tool call round-trips: {aime_script.TOOL_NAME}({WEATHER['arguments']}) came back "
                    f"parsed, whole and streamed")


def simulator_rules() -> list[dict[str, Any]]:
    """The Tau-Bench user simulator (chat transport): opens the conversation, then ends it."""
    return [
        {"kind": "chat", "match": "Hi! How can I help you today?", "reply": {"final": TAU_USER_FIRST}},
        {"kind": "chat", "match": TAU_AGENT_REPLY, "reply": {"final": "###STOP###"}},
    ]


@dataclass
class Case:
    """One CLI run: suite overrides, the scripted agent replies and what the run must record."""

    name: str
    overrides: list[str]
    rules: list[dict[str, Any]]
    prepare: Callable[[Path], list[str]] | None = None  # work dir -> overrides that name files made there
    peers: list[dict[str, Any]] = field(default_factory=list)  # simulator rules (served beside the agent)
    # Keep only the requests whose prompt holds this text, each distinct pair once (the doctor's probes run
    # concurrently and repeat prompts; only its tool probe is training data).
    keep: str | None = None

    def cli_overrides(self, work: Path) -> list[str]:
        return [*self.overrides, *(self.prepare(work) if self.prepare else [])]


def _swe_instance(work: Path) -> list[str]:
    toy = build_toy(work)
    path = work / "toy.jsonl"
    path.write_text(json.dumps(toy.row) + "\n")
    return [f"suite.path={path}", "suite.environment.kind=local", "suite.environment.sandbox=true"]


SWE_ISSUE = PROBLEM.splitlines()[0]

CASES: list[Case] = [
    # One program for both problems: the judge, not the model, tells them apart (AC on the sum, WA on the
    # difference). Different programs for one prompt would hinge on one early token the tiny model learns slowly.
    Case("codeforces", ["suite=tiny_codeforces", "effort=low"], [
        {"kind": "completions", "match": "Given two integers a and b",
         "reply": {"raw_text": _final("Read a and b, print the sum.", f"```cpp\n{CPP_SUM}\n```")}},
    ]),
    Case("aime_tools", ["suite=tiny_aime_tools", "effort=low"], [
        {"kind": "completions", "match": "2^{10}", "match_prompt": "<|start|>python to=assistant",
         "reply": {"raw_text": _final("It printed 2.", "\\boxed{2}")}},
        {"kind": "completions", "match": "2^{10}",
         "reply": {"raw_text": f"{OPEN}Use python.{NEXT}<|channel|>analysis to=python code<|message|>"
                               f"{PYTHON_CELL}<|call|>"}},
    ]),
    # the reference tool style (the default on client=harmony): look with container.exec, fix with apply_patch
    Case("swebench", ["suite=swebench_verified", "effort=low"], [
        {"kind": "completions", "match": SWE_ISSUE, "match_prompt": "functions.apply_patch to=assistant",
         "reply": {"raw_text": _final("Patched.", SWE_SUMMARY)}},
        {"kind": "completions", "match": SWE_ISSUE, "match_prompt": "container.exec to=assistant",
         "reply": {"raw_text": _patch_call("It subtracts; fix add.", RIGHT_PATCH)}},
        {"kind": "completions", "match": SWE_ISSUE,
         "reply": {"raw_text": _container_exec("Look at add.", SWE_LOOK)}},
    ], prepare=_swe_instance),
    Case("tau_retail", ["suite=tau_retail", f"suite.data_dir={TAU_DATA}", "suite.task_ids=[0]", "effort=low"], [
        {"kind": "completions", "match": TAU_USER_FIRST, "match_prompt": TAU_USER_ID,
         "reply": {"raw_text": _final("Found the user.", TAU_AGENT_REPLY)}},
        {"kind": "completions", "match": TAU_USER_FIRST,
         "reply": {"raw_text": _function_call("Look the user up.", "find_user_id_by_name_zip", TAU_LOOKUP)}},
    ], peers=simulator_rules()),
    # The doctor's probes on a Codeforces run: the Codeforces prompt answered as above (the effort probes), the
    # weather question (whole and streamed) with the get_weather call.
    Case("doctor", ["action=doctor", "suite=tiny_codeforces"], [
        {"kind": "completions", "match": WEATHER["user"],
         "reply": {"raw_text": _function_call(WEATHER["analysis"], aime_script.TOOL_NAME,
                                              json.loads(WEATHER["arguments"]))}},
        {"kind": "completions", "match": "Given two integers a and b",
         "reply": {"raw_text": _final("Read a and b, print the sum.", f"```cpp\n{CPP_SUM}\n```")}},
    ], keep=WEATHER["user"]),
]


def case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def common_overrides(base_url: str, root: Path) -> list[str]:
    """Everything but the suite: the transport, greedy decoding, one repeat, the tools model."""
    return ["server=attach", f"server.base_url={base_url}", "model=tiny_tools", "client=harmony", "repeats=1",
            "sampling.temperature=0", "concurrency=1", f"paths.root={root}", "progress=false"]


def capture(name: str, work: Path) -> tuple[list[dict[str, Any]], str]:
    """Run case ``name`` against the capture server: its (prompt, completion) pairs in request order (those
    ``keep`` selects) and the run's stdout.

    The run is stored under ``work/runs``."""
    c = case(name)
    server = ScriptedServerProcess({"rules": c.rules + c.peers, "default": {"final": "unscripted request"}}, work)
    server.module = "tests.support.capture_server"
    server.start()
    try:
        proc = run_cli(*common_overrides(server.base_url, work / "runs"), "model.path=capture",
                       *c.cli_overrides(work), timeout=600)
    finally:
        server.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"capture of {name} failed:\n{proc.stderr[-3000:]}")
    pairs_file = Path(f"{server.log_path}.pairs.jsonl")
    pairs = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    if c.keep is not None:
        enc = harmony.encoding()
        kept = [p for p in pairs if c.keep in enc.decode(p["prompt"])]
        pairs = [p for i, p in enumerate(kept) if p not in kept[:i]]
    if not pairs:
        raise RuntimeError(f"capture of {name}: the harness sent no /v1/completions request")
    return pairs, proc.stdout


def _rows(path: Path) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in map(json.loads, path.read_text().splitlines())}


def check_run(name: str, root: Path, stdout: str = "") -> None:
    """Assert that the run of case ``name`` stored under ``root`` (printing ``stdout``) ended as scripted."""
    runs = root / "default" / "tiny-gptoss-tools"
    if name == "doctor":  # it writes nothing; its lines say what it saw
        assert DOCTOR_TOOL_LINE in stdout.splitlines(), stdout
        assert not root.exists(), sorted(root.rglob("*"))
        return
    if name == "codeforces":
        grades = _rows(runs / "tiny_codeforces" / "low" / "grades.jsonl")
        verdicts = {key: (g["answer"], g["score"]) for key, g in grades.items()}
        assert verdicts == {"tiny-sum#0": ("AC", 1.0), "tiny-diff#0": ("WA", 0.0)}, verdicts
        return
    suite = {"aime_tools": "tiny_aime_tools", "swebench": "swebench_verified", "tau_retail": "tau_retail"}[name]
    run = runs / suite / "low"
    (attempt,) = _rows(run / "attempts.jsonl").values()
    (grade,) = _rows(run / "grades.jsonl").values()
    assert attempt["status"] == "ok", attempt.get("error")
    tool_results = [m["content"] for m in attempt["transcript"] if m["role"] == "tool"]
    if name == "aime_tools":
        assert tool_results == ["2\n"] and attempt["info"]["stop_reason"] == "final", attempt["info"]
        assert grade["score"] == 1.0 and grade["answer"] == 2, grade
    elif name == "swebench":
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["settings"]["task"]["tool_style"] == "reference", manifest["settings"]["task"]
        calls = [c["name"] for m in attempt["transcript"] for c in m.get("tool_calls") or []]
        assert calls == ["container.exec", "apply_patch"], calls
        assert SWE_LOOK_OUTPUT in tool_results[0] and tool_results[1].startswith("Done!"), tool_results
        assert attempt["info"]["stop_reason"] == "submitted" and "+    return a + b" in attempt["info"]["patch"]
        assert grade["answer"] == "resolved" and grade["score"] == 1.0, grade
    else:
        calls = [c for m in attempt["transcript"] for c in m.get("tool_calls") or []]
        assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [("find_user_id_by_name_zip", TAU_LOOKUP)]
        assert tool_results == [TAU_USER_ID] and attempt["info"]["stop_reason"] == "user_stop"
        # the user wanted an exchange: looking them up is not enough
        assert grade["score"] == 0.0 and grade["details"]["failure"] == "wrong_db", grade


def capture_all() -> dict[str, list[dict[str, Any]]]:
    if not (TAU_DATA / "tasks_test.json").is_file():
        raise SystemExit(f"Tau-Bench retail data not found at {TAU_DATA}")
    with tempfile.TemporaryDirectory(prefix="tiny-cases-") as tmp:
        out = {}
        for c in CASES:
            work = Path(tmp) / c.name
            work.mkdir()
            out[c.name], stdout = capture(c.name, work)
            check_run(c.name, work / "runs", stdout)
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed file instead of writing")
    args = ap.parse_args(argv)
    if shutil.which("bwrap") is None:
        raise SystemExit("bubblewrap is needed (the python tool and the SWE-bench environment run in it)")
    cases = capture_all()
    text = json.dumps({"cases": cases}, separators=(",", ":")) + "\n"
    if args.check:
        same = CASES_FILE.is_file() and CASES_FILE.read_text() == text
        print("tool cases unchanged" if same else f"{CASES_FILE} is out of date: rerun without --check")
        return 0 if same else 1
    CASES_FILE.write_text(text)
    print(f"wrote {CASES_FILE}: " + ", ".join(f"{k} {len(v)} turns" for k, v in cases.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
