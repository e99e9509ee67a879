"""reports/ci_example.yml is a workflow a user copies: every command in it must exist and work as written.

Each job's shell lines are read from the parsed YAML. Every job starts with the README's set-up command and the
GPU smoke preset. Console scripts must be ones the installed package provides;
every ``--option`` must be in that script's own ``--help``; every ``gptoss-eval`` override must compose with
the real Hydra config; the report and compare commands run, exactly as written, on constructed stores; and
the header comment's "N problems x K repeats" and thresholds must match the commands.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.reports.fabricate import make_run, score_matrix

WORKFLOW = ROOT / "reports" / "ci_example.yml"
DIST = metadata.distribution("gptoss-eval")  # what `pip install -e .` installed from pyproject.toml
SCRIPTS = {e.name for e in DIST.entry_points if e.group == "console_scripts"}
RUN_ID = "4242"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _commands(job: str, env: dict[str, str]) -> list[list[str]]:
    """Every shell command of a job, continuation lines joined, ``${{ github.run_id }}`` and $VARS filled in."""
    wf = _workflow()
    out = []
    for step in wf["jobs"][job]["steps"]:
        script = step.get("run")
        if not script:
            continue
        script = script.replace("${{ github.run_id }}", RUN_ID).replace("\\\n", " ")
        for line in script.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            line = re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: env.get(m[1] or m[2], m[0]), line)
            out.append(shlex.split(line.split(" || ")[0].split(" >> ")[0]))
    return out


def _tool(cmd: list[str]) -> str | None:
    name = Path(cmd[0]).name
    return name if name.startswith("gptoss-eval") else None


def _is_smoke(cmd: list[str]) -> bool:
    return "experiment=gpu_smoke" in cmd


def _evaluation(cmds: list[list[str]]) -> list[str]:
    """The job's evaluation command (the gptoss-eval run that is not the GPU smoke)."""
    [run] = [c for c in cmds if _tool(c) == "gptoss-eval" and not _is_smoke(c)]
    return run


def _help(script: str) -> str:
    exe = Path(sys.executable).with_name(script)
    assert exe.exists(), f"{script} is not installed in {exe.parent}"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_jobs_use_installed_scripts_and_options_they_have():
    wf = _workflow()
    assert set(wf["jobs"]) == {"smoke", "nightly", "promote"}
    env = {k: str(v) for k, v in wf["env"].items()}
    used: dict[str, set[str]] = {}
    readme_setup = re.search(r"^(bash runners/setup\.sh gpu) && ", (ROOT / "README.md").read_text(), re.M)[1]
    assert re.search(r"^  gpu\)$", (ROOT / "runners" / "setup.sh").read_text(), re.M)  # the profile exists
    for job in ("smoke", "nightly"):
        commands = _commands(job, env)
        # the README's set-up first, then the GPU smoke, then the job's own evaluation, report and gate
        assert commands[0] == shlex.split(readme_setup), (job, commands[0])
        assert _tool(commands[1]) == "gptoss-eval" and _is_smoke(commands[1]), (job, commands[1])
        tools = [_tool(c) for c in commands if _tool(c)]
        assert tools == ["gptoss-eval", "gptoss-eval", "gptoss-eval-report", "gptoss-eval-compare"], (job, tools)
        for cmd in commands:
            tool = _tool(cmd)
            if tool:
                assert tool in SCRIPTS, f"{tool} is not a console script in pyproject.toml"
                used.setdefault(tool, set()).update(a.split("=")[0] for a in cmd[1:] if a.startswith("--"))
    for tool in ("gptoss-eval-report", "gptoss-eval-compare"):
        text = _help(tool)
        for flag in used[tool]:
            assert re.search(rf"(^|\s|\[){re.escape(flag)}\b", text), f"{tool} has no option {flag}"


def _overrides(cmd: list[str]) -> list[list[str]]:
    """The Hydra override sets of a gptoss-eval command (a -m sweep expands to every combination)."""
    args = [a for a in cmd[1:] if a not in ("-m", "--multirun")]
    choices = [[f"{a.split('=', 1)[0]}={v}" for v in a.split("=", 1)[1].split(",")] if "-m" in cmd else [a]
               for a in args]
    return [list(c) for c in itertools.product(*choices)]


@pytest.mark.parametrize("job", ["smoke", "nightly"])
def test_gptoss_eval_overrides_compose_with_the_real_config(job):
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from runners.cli import register_resolvers

    env = {k: str(v) for k, v in _workflow()["env"].items()}
    commands = _commands(job, env)
    [smoke] = [c for c in commands if _tool(c) == "gptoss-eval" and _is_smoke(c)]
    register_resolvers()
    GlobalHydra.instance().clear()
    configs = []
    with initialize_config_module(config_module="conf", version_base="1.3"):
        for overrides in _overrides(_evaluation(commands)):
            configs.append(compose("config", overrides=overrides))  # an unknown key or value raises here
        [smoke_cfg] = [compose("config", overrides=o) for o in _overrides(smoke)]
    GlobalHydra.instance().clear()
    expected = {"smoke": {("gpt-oss-20b", "aime2025", "low")},
                "nightly": {("gpt-oss-120b", "aime2024", "high"), ("gpt-oss-120b", "aime2025", "high")}}[job]
    assert {(c.model.name, c.suite.name, c.effort.name) for c in configs} == expected
    assert {c.paths.root for c in configs} == {env["RUNS_ROOT"]} and {c.tag for c in configs} == {f"{job}-{RUN_ID}"}
    assert all(c.progress is False for c in configs)
    # the smoke: its own fresh run beside the job's, the preset's model, problems, repeats and effort
    assert (smoke_cfg.model.name, smoke_cfg.suite.name, smoke_cfg.suite.limit, smoke_cfg.repeats,
            smoke_cfg.effort.name) == ("gpt-oss-20b", "aime2025", 5, 1, "low")
    assert smoke_cfg.paths.root == env["RUNS_ROOT"] and smoke_cfg.tag == f"gpu-smoke-{RUN_ID}"
    assert smoke_cfg.progress is False


def test_header_comment_matches_the_commands():
    text = WORKFLOW.read_text()
    header = text.split("\nname:")[0]
    env = {k: str(v) for k, v in _workflow()["env"].items()}
    first, jobs_text = header.split("#   smoke")
    assert "5 AIME 2025 problems x 1 repeat at low effort" in first  # conf/experiment/gpu_smoke.yaml's size
    smoke_text, nightly_text = jobs_text.split("#   nightly")
    for job, comment in (("smoke", smoke_text), ("nightly", nightly_text)):
        cmds = _commands(job, env)
        run = _evaluation(cmds)
        [gate] = [c for c in cmds if _tool(c) == "gptoss-eval-compare"]
        opts = dict(a.split("=", 1) for a in run[1:] if "=" in a)
        claims = {(int(n), int(k)) for n, k in re.findall(r"(\d+)(?: AIME 2025)? problems x (\d+) repeats", comment)}
        assert claims == {(int(opts.get("suite.limit", 30)), int(opts["repeats"]))}, (job, claims)
        assert f"effort={'low' if job == 'smoke' else 'high'}" in run
        drop = gate[gate.index("--min-drop") + 1]
        assert re.search(rf"(--min-drop|gate at) {drop}\b", comment), (job, drop)


def test_report_and_compare_commands_run_as_written(tmp_path):
    """The smoke job's report and compare lines on constructed stores (a baseline and a slightly worse run)."""
    env = {"RUNS_ROOT": str(tmp_path / "runs"), "BASELINE_ROOT": str(tmp_path / "baselines")}
    base = score_matrix(10, 2, 0.4, seed=1)
    cand = base.copy()
    cand[0, 0] = 1.0 - cand[0, 0]  # one attempt differs: no change at smoke size
    make_run(Path(env["BASELINE_ROOT"]) / "smoke", model="gpt-oss-20b", effort="low", scores=base, seed=1)
    make_run(Path(env["RUNS_ROOT"]) / f"smoke-{RUN_ID}", model="gpt-oss-20b", effort="low", scores=cand, seed=2)
    cmds = [c for c in _commands("smoke", env) if _tool(c) in ("gptoss-eval-report", "gptoss-eval-compare")]
    for cmd in cmds:
        exe = Path(sys.executable).with_name(Path(cmd[0]).name)
        proc = subprocess.run([str(exe), *cmd[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env={**os.environ, **env})
        assert proc.returncode == 0, (cmd, proc.stderr[-2000:])
    out = tmp_path / "reports-out" / "smoke"
    assert (out / "report.html").stat().st_size > 0 and (out / "report.md").exists()
    assert "**PASS**" in (out / "compare.md").read_text()
    assert 'failures="0"' in (out / "junit.xml").read_text()
