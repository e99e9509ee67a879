"""A -m sweep through the console script: every job's checks first, then one pool of requests for all jobs
(higher effort first, bounded by ``concurrency``), each job with its own store, manifest, resume and report;
``sweep.pool=false`` runs the jobs one after another; ``concurrency=auto`` is recorded in every manifest."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import FIXTURES, ROOT, run_cli
from tests.support.fake_vllm import fake_vllm, hydra_dict, server_env, starts

MINI = str(FIXTURES / "mini_aime.jsonl")  # 5 problems
REPLY = {"analysis": "Thinking about it.", "final": "\\boxed{21}"}
EFFORTS = ("low", "high")
SUITES = ("aime2024", "aime2025")


def _sweep_args(server, root: Path, *extra: str) -> list[str]:
    return ["-m", "server=attach", f"server.base_url={server.base_url}", "suite=aime2024,aime2025",
            f"suite.path={MINI}", "effort=low,high", "repeats=2", f"paths.root={root}", "progress=false",
            "client.retry_wait_s=0.01", *extra]


def _job_dirs(root: Path) -> list[Path]:
    return [root / "default" / "gpt-oss-120b" / s / e for s in SUITES for e in EFFORTS]


def _keys(run_dir: Path) -> list[str]:
    path = run_dir / "attempts.jsonl"
    return [json.loads(line)["key"] for line in path.read_text().splitlines() if line.endswith("}")]


def test_pooled_sweep_sends_high_effort_first_and_keeps_one_bound_across_jobs(scripted_server, tmp_path) -> None:
    # the server has room for 100 at once; the gauges it publishes show what the sweep keeps in flight
    server = scripted_server({"default": REPLY, "faults": {"latency_s": 0.2, "capacity": 100}})
    seen: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        root = server.base_url.removesuffix("/v1")
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                text = http.get(root + "/metrics").text
                running = re.search(r"^vllm:num_requests_running\{[^}]*\} (\S+)$", text, re.M)
                waiting = re.search(r"^vllm:num_requests_waiting\{[^}]*\} (\S+)$", text, re.M)
                seen.append(float(running.group(1)) + float(waiting.group(1)))
                time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        proc = run_cli(*_sweep_args(server, tmp_path, "concurrency=3"))
    finally:
        stop.set()
        sampler.join()
    assert proc.returncode == 0, proc.stderr
    efforts = [r["effort"] for r in server.requests()]
    # both suites' high jobs (20 attempts) take the slots first, although Hydra launches aime2024/low first
    assert efforts == ["high"] * 20 + ["low"] * 20
    assert max(seen) <= 3  # four jobs, one bound (unpooled jobs each allowed 3 would reach 12)
    assert 3 in seen  # and the bound was used
    for job in _job_dirs(tmp_path):
        manifest = json.loads((job / "manifest.json").read_text())
        assert manifest["sessions"][-1]["status"] == "finished"
        assert manifest["concurrency"] == {"concurrency": 3, "source": "config"}
        assert len(set(_keys(job))) == 10 and (job / "report.md").exists()


def test_sweep_pool_false_runs_one_job_after_another_with_auto_concurrency(scripted_server, tmp_path) -> None:
    server = scripted_server({"default": REPLY})
    proc = run_cli(*_sweep_args(server, tmp_path, "sweep.pool=false"))  # concurrency: the default, auto
    assert proc.returncode == 0, proc.stderr
    efforts = [r["effort"] for r in server.requests()]
    assert efforts == ["low"] * 10 + ["high"] * 10 + ["low"] * 10 + ["high"] * 10  # Hydra's launch order
    for job in _job_dirs(tmp_path):
        assert len(set(_keys(job))) == 10 and (job / "report.md").exists()
        used = json.loads((job / "manifest.json").read_text())["concurrency"]
        # an attached vLLM (it publishes /metrics) that does not say its max_num_seqs: vLLM's default, 256 x 1.25
        assert used["concurrency"] == 320 and used["max_num_seqs"] == 256
        assert "vLLM's default assumed" in used["source"] and "kv_cache_tokens" in used["server_limits"]


def test_each_pooled_job_stores_and_reports_like_the_same_run_alone(scripted_server, tmp_path) -> None:
    server = scripted_server({"default": REPLY})
    assert run_cli(*_sweep_args(server, tmp_path / "sweep", "concurrency=3")).returncode == 0
    alone = run_cli(*[a for a in _sweep_args(server, tmp_path / "alone", "concurrency=3") if a != "-m"
                      and not a.startswith(("suite=", "effort="))], "suite=aime2025", "effort=high")
    assert alone.returncode == 0, alone.stderr
    pooled_dir, alone_dir = (root / "default" / "gpt-oss-120b" / "aime2025" / "high"
                             for root in (tmp_path / "sweep", tmp_path / "alone"))

    def files(d: Path) -> set[str]:
        return {str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()}

    assert files(pooled_dir) == files(alone_dir)
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (pooled_dir, alone_dir)]
    assert manifests[0].keys() == manifests[1].keys()
    assert manifests[0]["settings_hash"] == manifests[1]["settings_hash"]  # the same run: either resumes the other
    assert sorted(_keys(pooled_dir)) == sorted(_keys(alone_dir))
    grades = [{json.loads(x)["key"]: json.loads(x)["score"] for x in (d / "grades.jsonl").read_text().splitlines()}
              for d in (pooled_dir, alone_dir)]
    assert grades[0] == grades[1]
    headings = [[line for line in (d / "report.md").read_text().splitlines() if line.startswith("#")]
                for d in (pooled_dir, alone_dir)]
    assert headings[0] == headings[1]
    assert (pooled_dir / ".hydra" / "overrides.yaml").exists()
    overrides = (pooled_dir / ".hydra" / "overrides.yaml").read_text()
    assert "suite=aime2025" in overrides and "effort=high" in overrides  # its own job's record, not the last job's


def test_a_killed_pooled_sweep_resumes_every_job_with_the_same_command(scripted_server, tmp_path) -> None:
    server = scripted_server({"default": REPLY, "faults": {"latency_s": 0.25}})
    args = _sweep_args(server, tmp_path, "concurrency=3", "repeats=3")
    exe = Path(sys.executable).with_name("gptoss-eval")
    proc = subprocess.Popen([str(exe), *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and stored < 12:
        stored = sum(len(_keys(d)) for d in _job_dirs(tmp_path) if (d / "attempts.jsonl").exists())
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {d: set(_keys(d)) if (d / "attempts.jsonl").exists() else set() for d in _job_dirs(tmp_path)}
    total_before = sum(len(k) for k in before.values())
    assert 12 <= total_before < 60
    sent_before = len(server.requests())

    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    for job in _job_dirs(tmp_path):
        keys = _keys(job)
        assert len(keys) == len(set(keys)) == 15  # nothing lost, nothing duplicated, in every job
        assert json.loads((job / "manifest.json").read_text())["sessions"][-1]["status"] == "finished"
    assert len(server.requests()) - sent_before == 60 - total_before  # only what was missing was requested
    assert (tmp_path / "default" / "gpt-oss-120b" / "report.md").exists()  # the sweep's report


def test_spawned_sweep_reads_max_num_seqs_from_its_server_command(tmp_path) -> None:
    fake = fake_vllm(tmp_path)
    env = hydra_dict(server_env({"default": REPLY}, tmp_path))
    proc = run_cli("-m", "server=spawn", "doctor=false", f"server.python={fake}", f"++server.env={env}",
                   "server.extra_args=[--max-num-seqs,8]", "suite=aime2025", f"suite.path={MINI}",
                   "effort=low,high", "repeats=1", f"paths.root={tmp_path}", "progress=false")
    assert proc.returncode == 0, proc.stderr
    assert len(starts(tmp_path)) == 1
    for effort in EFFORTS:
        run_dir = tmp_path / "default" / "gpt-oss-120b" / "aime2025" / effort
        used = json.loads((run_dir / "manifest.json").read_text())["concurrency"]
        assert used["concurrency"] == 10 and "--max-num-seqs" in used["source"]  # 8 x 1.25


def test_a_job_failing_its_checks_stops_the_sweep_before_its_server_starts(tmp_path) -> None:
    fake = fake_vllm(tmp_path)
    env = hydra_dict(server_env({"default": REPLY}, tmp_path))
    root = tmp_path / "out"
    common = ["-m", "server=spawn", "doctor=false", f"server.python={fake}", f"++server.env={env}",
              "repeats=1", f"paths.root={root}", "progress=false"]
    cases = {
        # the second job's data is missing: the first job passed its checks and still nothing runs
        "data": (["suite=aime2025", f"suite.path={MINI},{tmp_path / 'missing.jsonl'}", "effort=low"], {}, "does not exist"),
        # the second job's server key variable is unset
        "api key": (["suite=aime2025", f"suite.path={MINI}", "effort=low", "++server.api_key_env=SWEEP_KEY_SET,SWEEP_KEY_UNSET"],
                    {"SWEEP_KEY_SET": "k"}, "SWEEP_KEY_UNSET"),
        # the second job needs the python tool, which the chat transport cannot declare
        "tool env": (["suite=aime2025,aime2025_tools", f"suite.path={MINI}", "effort=low"], {}, "client=harmony"),
    }
    for name, (extra, extra_env, message) in cases.items():
        proc = run_cli(*common, *extra, env=extra_env)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2, (name, proc.stderr)
        assert len(lines) == 1 and lines[0].startswith("gptoss-eval: error:") and message in lines[0], (name, lines)
        assert starts(tmp_path) == [], name  # no server started
        written = [p for p in root.rglob("*") if p.is_file() and p.name != "multirun.yaml"] if root.exists() else []
        assert written == [], (name, written)  # nothing written (Hydra's multirun.yaml aside)


def test_a_server_lost_mid_sweep_exits_3_and_the_same_sweep_resumes_on_a_healthy_one(scripted_server,
                                                                                      tmp_path) -> None:
    dying = scripted_server({"default": REPLY, "faults": {"die_after": 12}})
    proc = run_cli(*_sweep_args(dying, tmp_path, "concurrency=2", "client.max_retries=1"))
    assert proc.returncode == 3, proc.stderr
    assert "stopped answering" in proc.stderr and "rerun the same command to resume" in proc.stderr
    stored = sum(len(_keys(d)) for d in _job_dirs(tmp_path) if (d / "attempts.jsonl").exists())
    assert 0 < stored <= 12
    for job in _job_dirs(tmp_path):  # every job's session is closed as failed, none left "running"
        if (job / "manifest.json").exists():
            assert json.loads((job / "manifest.json").read_text())["sessions"][-1]["status"] == "failed"

    healthy = scripted_server({"default": REPLY})
    again = run_cli(*_sweep_args(healthy, tmp_path, "concurrency=2"))
    assert again.returncode == 0, again.stderr
    for job in _job_dirs(tmp_path):
        assert len(_keys(job)) == len(set(_keys(job))) == 10
    assert len(healthy.requests()) == 40 - stored
