"""Shards: the split covers every sample once, merges refuse what does not belong together, submitit end to end."""

from __future__ import annotations

import json
import shutil

import pytest

from runners import shard
from runners.shard import MergeError, merge, split
from tests.conftest import FIXTURES, run_cli
from tests.support.fake_vllm import fake_vllm, gone, hydra_dict, requests_by_port, server_env, starts

MINI = str(FIXTURES / "mini_aime.jsonl")
SCRIPT = {"rules": [{"match": "3 \\times 7", "reply": {"analysis": "3 sevens", "final": "\\boxed{21}"}}],
          "default": {"analysis": "99", "final": "\\boxed{099}"}}


@pytest.mark.parametrize("n", [0, 1, 5, 30, 31])
@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_split_covers_every_sample_exactly_once(n, count):
    samples = [f"s{i}" for i in range(n)]
    parts = [split(samples, i, count) for i in range(count)]
    assert sorted(x for p in parts for x in p) == sorted(samples)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert parts == [split(list(samples), i, count) for i in range(count)]  # deterministic


def test_split_rejects_a_bad_index():
    with pytest.raises(ValueError):
        split([1, 2], 2, 2)


def _args(server, root, *extra):
    return ["server=attach", f"server.base_url={server.base_url}", "suite=aime2025", f"suite.path={MINI}",
            f"paths.root={root}", "progress=false", "effort=low", "repeats=2", "client.retry_wait_s=0.01", *extra]


def _shard_run(server, root, index, count, tag):
    proc = run_cli(*_args(server, root, f"tag={tag}", f"shard.index={index}", f"shard.count={count}"))
    assert proc.returncode == 0, proc.stderr
    return root / tag / "gpt-oss-120b" / "aime2025" / "low"


def _keys(run_dir):
    return [json.loads(line)["key"] for line in (run_dir / "attempts.jsonl").read_text().splitlines()]


def test_shards_merge_into_the_unsharded_run_and_bad_merges_are_refused(scripted_server, tmp_path):
    server = scripted_server(SCRIPT)
    s0 = _shard_run(server, tmp_path, 0, 2, "s0")
    s1 = _shard_run(server, tmp_path, 1, 2, "s1")
    assert not set(_keys(s0)) & set(_keys(s1))
    whole = run_cli(*_args(server, tmp_path, "tag=whole"))
    assert whole.returncode == 0, whole.stderr
    whole_dir = tmp_path / "whole" / "gpt-oss-120b" / "aime2025" / "low"

    rc = shard.main(["merge", str(tmp_path / "merged"), str(s0), str(s1)])
    assert rc == 0
    merged = tmp_path / "merged"
    assert sorted(_keys(merged)) == sorted(_keys(whole_dir)) and len(_keys(merged)) == 10
    m = json.loads((merged / "manifest.json").read_text())
    w = json.loads((whole_dir / "manifest.json").read_text())
    assert m["settings_hash"] == w["settings_hash"] and m["n_samples"] == 5
    assert [s["index"] for s in m["shard"]["merged_from"]] == [0, 1]
    grades = {json.loads(line)["key"]: json.loads(line)["score"]
              for line in (merged / "grades.jsonl").read_text().splitlines()}
    assert len(grades) == 10 and sum(grades.values()) == 4  # p1 right (21), p5 right (99), 2 repeats each
    assert "| aime2025 | low |" in (merged / "report.md").read_text()

    # duplicates: the same shard twice, or a copy of a shard under another index
    with pytest.raises(MergeError, match="given twice"):
        merge(tmp_path / "m2", [s0, s0])
    fake = tmp_path / "fake"
    shutil.copytree(s0, fake)
    man = json.loads((fake / "manifest.json").read_text())
    man["shard"]["index"] = 1
    (fake / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(MergeError, match="is in both"):
        merge(tmp_path / "m3", [s0, fake])
    # other settings
    man["settings_hash"] = "0000"
    (fake / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(MergeError, match="different settings"):
        merge(tmp_path / "m4", [s0, fake])
    # a missing shard, a different split, an existing output
    with pytest.raises(MergeError, match="missing"):
        merge(tmp_path / "m5", [s0])
    assert merge(tmp_path / "m5", [s0], allow_partial=True)["shard"]["missing"] == [1]
    with pytest.raises(MergeError, match="already holds a run"):
        merge(tmp_path / "merged", [s0, s1])
    assert shard.main(["merge", str(tmp_path / "m6"), str(s0), str(s0)]) == 2


def test_submitit_local_launcher_runs_one_job_per_shard_and_effort_and_merges(scripted_server, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    server = scripted_server(SCRIPT)
    proc = run_cli("-m", "+launcher=submitit_local", "server=attach", f"server.base_url={server.base_url}",
                   "suite=aime2025", f"suite.path={MINI}", f"paths.root={tmp_path}", "progress=false",
                   "effort=low,high", "shard.count=2", "shard.index=0,1", "repeats=2", timeout=600)
    assert proc.returncode == 0, proc.stderr
    sweep = tmp_path / "default" / "gpt-oss-120b"
    for effort in ("low", "high"):
        parts = [_keys(sweep / "aime2025" / effort / f"shard-{i}-of-2") for i in range(2)]
        assert not set(parts[0]) & set(parts[1])
        merged = _keys(sweep / "aime2025" / effort / "merged")
        assert sorted(merged) == sorted(parts[0] + parts[1]) and len(merged) == 10
    assert len(list((sweep / ".submitit").glob("*"))) >= 4  # one submitit job folder per job
    assert len(server.requests()) == 20
    report = (sweep / "report.md").read_text()
    assert "| aime2025 | low |" in report and "| aime2025 | high |" in report


def test_submitit_jobs_each_start_and_stop_their_own_server_and_the_merge_is_exact(tmp_path):
    """server=spawn under the cluster launcher: one server per job (runners.shard.PerJobServers), none shared."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    fake = fake_vllm(tmp_path)
    env = server_env(SCRIPT, tmp_path)
    proc = run_cli("-m", "+launcher=submitit_local", "server=spawn", "doctor=false", f"server.python={fake}",
                   f"++server.env={hydra_dict(env)}", "suite=aime2025", f"suite.path={MINI}", f"paths.root={tmp_path}",
                   "progress=false", "effort=low,high", "shard.count=2", "shard.index=0,1", "repeats=2",
                   "client.retry_wait_s=0.01", timeout=900)
    assert proc.returncode == 0, proc.stderr
    started = starts(tmp_path)
    assert len(started) == 4 and len({port for _, port in started}) == 4  # one server per job
    assert all(gone(pid) for pid, _ in started)  # each stopped with its job
    served = requests_by_port(tmp_path)
    sweep = tmp_path / "default" / "gpt-oss-120b" / "aime2025"
    for effort in ("low", "high"):
        parts = []
        for i in range(2):
            job = sweep / effort / f"shard-{i}-of-2"
            port = int(json.loads((job / "manifest.json").read_text())["server"]["base_url"].rsplit(":", 1)[1]
                       .split("/")[0])
            assert f"--port {port}" in (job / "server.log").read_text()  # the job's own server, its log
            keys = _keys(job)
            assert len(served[port]) == len(keys)  # that server answered this job's requests, and only them
            assert {r["effort"] for r in served[port]} == {effort}
            parts.append(keys)
        merged = sweep / effort / "merged"
        assert sorted(_keys(merged)) == sorted(parts[0] + parts[1]) == sorted(f"p{i}#{r}" for i in range(1, 6)
                                                                             for r in range(2))
        grades = {json.loads(line)["key"]: json.loads(line)["score"]
                  for line in (merged / "grades.jsonl").read_text().splitlines()}
        assert grades == {f"p{i}#{r}": float(i in (1, 5)) for i in range(1, 6) for r in range(2)}


def _compose(experiment: str):
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from runners.cli import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="conf", version_base="1.3"):
            return compose("config", overrides=[f"experiment={experiment}"], return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


def _jobs(cfg) -> int:
    """How many jobs the preset's sweep launches."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeps = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()])
    n = 1
    for o in sweeps:
        n *= len(list(o.sweep_iterator())) if o.is_sweep_override() else 1
    return n


def test_the_slurm_card_preset_sweeps_shards_with_per_job_servers():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = _compose("slurm_card")
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher") and cfg.hydra.launcher.gpus_per_node == 2
    assert cfg.hydra.callbacks.shared_server._target_ == "runners.shard.PerJobServers"
    assert cfg.hydra.sweep.subdir == "aime2025/medium/shard-0-of-1"  # one dir per suite x effort x shard
    assert _jobs(cfg) == 24  # 2 suites x 3 efforts x 4 shards
    assert cfg.server.mode == "spawn" and cfg.model.tensor_parallel_size == 2


def test_the_multinode_preset_runs_a_replica_per_gpu_on_every_node(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from runners.serving import replica_configs

    cfg = _compose("slurm_multinode")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and (launcher.nodes, launcher.gpus_per_node) == (1, 8)
    assert cfg.hydra.callbacks.shared_server._target_ == "runners.shard.PerJobServers"  # each job its servers
    assert _jobs(cfg) == 24 and launcher.array_parallelism == 4  # 4 shards: 4 nodes at once
    replicas = replica_configs(cfg, tmp_path)
    assert [r.env["CUDA_VISIBLE_DEVICES"] for r in replicas] == [str(i) for i in range(8)]
    assert len({r.log_path for r in replicas}) == 8 and {r.port for r in replicas} == {0}
    argv = replicas[0].argv(8000)
    assert "--tensor-parallel-size" not in argv and "--reasoning-parser" in argv  # a whole model per GPU
    assert cfg.concurrency == 64 * 8
