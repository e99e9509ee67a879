"""Hydra callback that owns one vLLM server for a whole multirun sweep and writes the sweep's report."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from runners import serving

log = logging.getLogger(__name__)


class SharedServer(Callback):
    def __init__(self) -> None:
        self._servers: contextlib.ExitStack | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """One run: the server's environment is checked before the job reads data or writes anything."""
        from runners.cli import UserError, register_resolvers, validate

        register_resolvers()
        if config.get("action", "run") in ("regrade", "report") or config.server.mode != "spawn":
            return
        try:
            validate(config)
        except UserError:  # the job refuses its config with its own line
            return
        try:
            serving.replica_configs(config, Path(config.hydra.run.dir))[0].check_environment()
        except serving.ServerStartError as exc:  # e.g. no GPU, another vLLM than pinned (Hydra would only warn)
            print(f"gptoss-eval: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from runners.cli import UserError, register_resolvers, validate

        register_resolvers()
        if config.get("action", "run") not in ("run", "retry-errors") or config.server.mode != "spawn":
            return
        try:
            validate(config)
        except UserError:  # no server for a sweep whose jobs will refuse their config (with one line each)
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        configs = serving.replica_configs(config, sweep_dir)
        try:
            configs[0].check_environment()  # e.g. no GPU, another vLLM than pinned: one line, no job runs
        except serving.ServerStartError as exc:  # Hydra turns a callback's exceptions into warnings: exit here
            print(f"gptoss-eval: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        log.info("starting the sweep's vLLM server(s) (log: %s)", sweep_dir / "server*.log")
        self._servers = contextlib.ExitStack()
        servers = self._servers.enter_context(serving.started(configs))
        serving.set_shared(servers, str(config.model.path))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        serving.set_shared(None)
        if self._servers is not None:
            self._servers.close()
            self._servers = None
        from reports.html import write_full_report

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            paths = write_full_report([sweep_dir], sweep_dir)  # Markdown, CSV, HTML and plots
            log.info("sweep report: %s and %s", paths["markdown"], paths["html"])
        except Exception as exc:  # the per-run reports are already written; say why the combined one is not
            log.error("could not write the sweep report: %s", exc)
