"""The jobs of a ``-m`` sweep, held until every one of them has passed its checks.

A sweep on one server runs in two phases (``runners.callbacks.SharedServer`` drives them):

1. Hydra launches each job as usual; the job does everything that can fail without the model (config, data,
   API-key variables, sandbox and tool environments, its store's settings) and hands itself over here instead
   of running. A job that fails stops the sweep with its one line: no server was started, nothing was written.
2. Once all jobs are prepared, the sweep's server starts and the jobs run: pooled (one pool of requests, the
   server's batch full until the sweep's last attempt, higher effort first; ``sweep.pool=true``, the default)
   or one after another (``sweep.pool=false``). Each job keeps its own store, manifest, resume and report.

This module holds only the hand-over (the runner imports it); the running is in ``runners.callbacks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig


@dataclass
class PreparedJob:
    """One job that passed its checks: what ``runners.cli.opened`` needs to run it later."""

    cfg: DictConfig
    task: Any
    samples: list[Any]
    store: Any
    spec: Any
    manifest: dict[str, Any]
    stored: tuple[dict, dict]
    run_dir: Path
    repeats: int
    peer_cfgs: dict[str, Any] = field(default_factory=dict)  # the suite's other models (suite.models)
    hydra_cfg: Any = None  # the job's Hydra node: its .hydra/ record is written from it when it runs


_collected: list[PreparedJob] | None = None


def begin_collecting() -> None:
    """From now on, jobs that reach their first request hand themselves over (``collect``) instead."""
    global _collected
    _collected = []


def collecting() -> bool:
    return _collected is not None


def collect(job: PreparedJob) -> dict[str, Any]:
    """Keep a prepared job for the sweep's run phase."""
    from hydra.core.hydra_config import HydraConfig

    assert _collected is not None, "collect() outside a collecting sweep"
    if HydraConfig.initialized():
        job.hydra_cfg = HydraConfig.instance().cfg
    _collected.append(job)
    return {}  # nothing to report yet; a log line now would write the job's log file before the sweep runs


def take() -> list[PreparedJob]:
    """The collected jobs, in launch order; collecting stops."""
    global _collected
    jobs, _collected = list(_collected or []), None
    return jobs
