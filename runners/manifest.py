"""What a run records about itself before its first request: the settings that make it this run (their hash
names it; a secret never enters them), and the manifest (versions, hardware, the redacted config)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from typing import Any

from omegaconf import DictConfig, OmegaConf

from evals.secrets import Redactor
from evals.task import Task
from runners.versions import versions

log = logging.getLogger("gptoss_eval")


def hardware() -> dict[str, Any]:
    """What the numbers were measured on: GPU names (nvidia-smi, when present) and CPU count."""
    info: dict[str, Any] = {"cpus": os.cpu_count(), "gpu": None}
    if shutil.which("nvidia-smi"):
        try:
            names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                   text=True, timeout=20).stdout.split("\n")
            gpus = [n.strip() for n in names if n.strip()]
            info.update(gpu=gpus[0] if gpus else None, gpus=gpus)
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def build_settings(cfg: DictConfig, task: Task, peers: dict[str, Any]) -> dict[str, Any]:
    """Everything that changes what the model is asked or how answers are sampled (not how many repeats)."""
    return {"task": task.settings(), "model": cfg.model.name, "served_name": cfg.model.served_name,
            "effort": cfg.effort.name, "transport": cfg.client.transport,
            "sampling": OmegaConf.to_container(cfg.sampling, resolve=True), "seed": cfg.seed,
            "system_start_date": cfg.server.get("system_start_date"),
            "peers": peers}


def build_manifest(cfg: DictConfig, task: Task, *, run_id: str, settings: dict[str, Any], settings_hash: str,
                   repeats: int, n_samples: int, redactor: Redactor, shard: tuple[int, int] = (0, 1)
                   ) -> dict[str, Any]:
    """The manifest as the run begins (the server's description and the doctor's lines are added once up)."""
    manifest = {"run_id": run_id, "suite": task.name, "model": cfg.model.name, "model_path": str(cfg.model.path),
                "card": cfg.model.get("card"), "card_key": task.card_key(),
                "task_class": f"{type(task).__module__}.{type(task).__qualname__}", "effort": cfg.effort.name,
                "transport": cfg.client.transport, "settings_hash": settings_hash, "settings": settings,
                "repeats": repeats, "n_samples": n_samples, "versions": versions(), "hardware": hardware(),
                "config": redactor.tree(OmegaConf.to_container(cfg, resolve=True))}
    if redactor.found:  # e.g. a secret that an interpolation resolved into the config
        log.warning("what looks like a secret (%s) is stored as ***", ", ".join(dict.fromkeys(redactor.found)))
    shard_index, shard_count = shard
    if shard_count > 1:
        manifest["shard"] = {"index": shard_index, "count": shard_count}
    tool_interpreter = (settings["task"].get("tool_limits") or {}).get("interpreter")
    if tool_interpreter:  # the python tool's interpreter and packages (in the settings too: a change is a new run)
        manifest["versions"]["python_tool"] = tool_interpreter
    return manifest
