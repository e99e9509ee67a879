"""Hydra callback that owns one vLLM server for a whole multirun sweep and writes the sweep's report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from runners import serving
from runners.vllm_server import VllmServer

log = logging.getLogger(__name__)


class SharedServer(Callback):
    def __init__(self) -> None:
        self.server: VllmServer | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from runners.cli import register_resolvers

        register_resolvers()
        if config.get("action", "run") != "run" or config.server.mode != "spawn":
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        self.server = VllmServer(serving.server_config(config, sweep_dir))
        log.info("starting one vLLM server for the sweep (log: %s)", sweep_dir / "server.log")
        self.server.__enter__()
        serving.set_shared(self.server, str(config.model.path))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        serving.set_shared(None)
        if self.server is not None:
            self.server.stop()
            self.server = None
        from reports.summary import write_reports

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            paths = write_reports([sweep_dir], sweep_dir)
            log.info("sweep report: %s", paths["markdown"])
        except Exception as exc:  # the per-run reports are already written; say why the combined one is not
            log.error("could not write the sweep report: %s", exc)
