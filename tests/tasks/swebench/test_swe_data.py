"""Loading SWE-Bench Verified (shared 500-row copy, hub errors, subsets), the suite YAML, harness plumbing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.task import DataUnavailable
from evals.types import Attempt, Grade
from tasks.swebench import data as swe_data
from tasks.swebench import grading
from tasks.swebench.task import SweBenchTask
from tests.conftest import ROOT
from tests.tasks.swebench.conftest import SHARED_SWE, needs_swebench

JSONL = SHARED_SWE / "SWE-bench_Verified.test.jsonl"
PARQUET = SHARED_SWE / "SWE-bench_Verified.test.parquet"
shared = pytest.mark.skipif(not JSONL.exists(), reason=f"shared SWE-bench data not found at {SHARED_SWE}")


@shared
@pytest.mark.parametrize("path", [JSONL, PARQUET], ids=["jsonl", "parquet"])
def test_loader_reads_the_shared_500_rows(path):
    if not path.exists():
        pytest.skip(f"{path} missing")
    samples = SweBenchTask(path=str(path)).load()
    assert len(samples) == 500 and len({s.id for s in samples}) == 500
    s = next(x for x in samples if x.id == "astropy__astropy-12907")
    assert s.metadata["repo"] == "astropy/astropy" and s.reference["log_parser"] == "parse_log_astropy"
    assert swe_data.decode_tests(s.reference["FAIL_TO_PASS"])[0].startswith("astropy/modeling/tests/")
    assert s.input.startswith("Modeling's `separability_matrix`")


@shared
def test_subset_by_ids_and_by_file(tmp_path):
    ids = ["django__django-11099", "astropy__astropy-12907"]
    got = [s.id for s in SweBenchTask(path=str(JSONL), ids=ids).load()]
    assert got == ["astropy__astropy-12907", "django__django-11099"]  # dataset order
    f = tmp_path / "ids.txt"
    f.write_text("# the card's subset\nsympy__sympy-20590\n\npsf__requests-2317  # a comment\n")
    assert {s.id for s in SweBenchTask(path=str(JSONL), ids_file=str(f)).load()} == {"sympy__sympy-20590",
                                                                                       "psf__requests-2317"}
    (tmp_path / "ids.json").write_text(json.dumps(ids))
    assert len(SweBenchTask(path=str(JSONL), ids_file=str(tmp_path / "ids.json")).load()) == 2
    assert len(SweBenchTask(path=str(JSONL), limit=7).load()) == 7
    with pytest.raises(DataUnavailable, match="not in .*e.g. \\['nope__nope-1'\\]"):
        SweBenchTask(path=str(JSONL), ids=["nope__nope-1"]).load()


@shared
@needs_swebench
def test_every_shared_row_makes_a_swebench_test_spec():
    from swebench.harness.log_parsers import PARSER_REGISTRY
    from swebench.harness.utils import make_test_spec

    for row in swe_data.read_rows(JSONL):
        spec = make_test_spec(row)
        assert spec.log_parser in PARSER_REGISTRY and spec.FAIL_TO_PASS


def test_unreachable_hub_and_missing_files_name_suite_path(monkeypatch, tmp_path):
    import datasets

    def offline(*a, **k):
        raise ConnectionError("Couldn't reach 'SWE-bench/SWE-bench_Verified' on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataUnavailable, match="suite.path") as err:
        SweBenchTask().load()
    assert "SWE-bench/SWE-bench_Verified" in str(err.value) and "ConnectionError" in str(err.value)
    with pytest.raises(DataUnavailable, match="suite.path"):
        SweBenchTask(path=str(tmp_path / "missing.jsonl")).load()
    old = tmp_path / "v4.jsonl"
    old.write_text(json.dumps({"instance_id": "a", "repo": "r/r", "base_commit": "x"}) + "\n")
    with pytest.raises(DataUnavailable, match="swebench 5.x schema"):
        SweBenchTask(path=str(old)).load()


def test_suite_yaml_instantiates_the_task():
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    suite = OmegaConf.load(ROOT / "conf" / "suite" / "swebench_verified.yaml")
    tools = {}
    for transport in ("chat", "harmony"):  # the tool style follows the transport unless set
        cfg = OmegaConf.create({"client": {"transport": transport}, "suite": suite})
        task = instantiate(cfg.suite, _convert_="all")
        tools[transport] = (task.tool_style, task.settings()["tools"])
    assert tools == {"chat": ("functions", ["exec", "apply_patch"]),
                     "harmony": ("reference", ["container.exec", "apply_patch"])}
    assert isinstance(task, SweBenchTask) and task.name == "swebench_verified"
    assert task.card_key() == "swebench_verified" and task.environment["kind"] == "docker"
    from tasks.swebench.environments import DockerEnvironment

    row = {"image": "swebench/sweb.eval.x86_64.psf_1776_requests-2317:latest", "base_commit": "abc",
           "instance_id": "psf__requests-2317", "repo": "psf/requests"}
    env = task.make_env(row)  # local-only options in the YAML (sandbox) must not reach Docker
    assert isinstance(env, DockerEnvironment) and env.image == row["image"] and env.max_output_chars == 16000


def test_harness_command_line_and_reports(tmp_path):
    argv = grading.harness_argv("preds.jsonl", "run1", max_workers=8, timeout=900, instance_ids=["a", "b"],
                                report_dir=tmp_path, python="python")
    assert argv[:3] == ["python", "-m", "swebench.harness.run_evaluation"]
    flags = dict(zip(argv[3:-3:2], argv[4:-3:2], strict=False))
    assert flags["--dataset_name"] == "SWE-bench/SWE-bench_Verified" and flags["--run_id"] == "run1"
    assert flags["--max_workers"] == "8" and flags["--timeout"] == "900"
    assert argv[-3:] == ["--instance_ids", "a", "b"]
    assert "--namespace" not in argv and "--cache_level" not in argv and "--modal" not in argv
    d = tmp_path / "logs" / "run_evaluation" / "run1" / "m" / "x__x-1"
    d.mkdir(parents=True)
    (d / "report.json").write_text(json.dumps({"x__x-1": {"patch_is_None": False, "patch_exists": True,
                                                          "patch_successfully_applied": False, "resolved": False}}))

    def att(sid: str, patch: str) -> Attempt:
        return Attempt(key=f"{sid}#0", run_id="r", suite="s", sample_id=sid, repeat=0, seed=0, effort="medium",
                       model="m", transport="t", settings_hash="h", status="ok", output={}, transcript=[], usage={},
                       n_calls=1, started_at=0, ended_at=0, latency_s=0, info={"patch": patch})

    grades = grading.grades_from_harness([att("x__x-1", "diff"), att("y__y-1", ""), att("z__z-1", "diff")],
                                         tmp_path / "logs" / "run_evaluation" / "run1")
    # a report without parsed test results (the patch applied: else the harness writes no report at all)
    assert [g.details["category"] for g in grades] == ["tests_failed", "no_patch", "infrastructure_error"]
    assert "no test results" in grades[0].reason and "no report" in grades[2].reason
    summary = grading.breakdown([att("x__x-1", "diff")], {"x__x-1#0": grades[0]})
    assert summary["medium"]["categories"]["tests_failed"] == 1 and summary["medium"]["resolved_rate"] == 0
    assert grading.category(att("q", "diff"), Grade(key="q#0", score=1.0)) == "resolved"


def test_harness_refuses_clearly_without_docker(tmp_path, monkeypatch):
    from tasks.swebench.environments import EnvironmentUnavailable

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # the real check, reaching no engine
    with pytest.raises(EnvironmentUnavailable, match="no Docker engine answers|docker client 'docker' is not"):
        grading.run_harness(Path(tmp_path / "p.jsonl"), "r", tmp_path)
    assert not (tmp_path / "logs").exists()
