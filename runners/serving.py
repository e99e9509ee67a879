"""Which server a job talks to: a shared one owned by a sweep, one it starts itself, or an attached one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from omegaconf import DictConfig, OmegaConf

from evals.harmony import ensure_offline_vocab
from runners.vllm_server import VllmServer, VllmServerConfig

# Set by runners.callbacks.SharedServer for the duration of a -m sweep.
_shared: dict[str, Any] = {}


def server_config(cfg: DictConfig, log_dir: Path) -> VllmServerConfig:
    s = cfg.server
    return VllmServerConfig(
        model=str(cfg.model.path), served_model_name=cfg.model.served_name, python=s.python, host=s.host,
        port=int(s.port), max_model_len=cfg.model.max_model_len, tensor_parallel_size=cfg.model.tensor_parallel_size,
        gpu_memory_utilization=s.gpu_memory_utilization, dtype=s.dtype, enforce_eager=bool(s.enforce_eager),
        reasoning_parser=s.reasoning_parser, tool_call_parser=s.tool_call_parser,
        system_start_date=s.system_start_date, extra_args=list(s.extra_args or []),
        # vLLM's Harmony library also downloads the vocabulary unless told where it is: give it ours.
        env={"TIKTOKEN_ENCODINGS_BASE": str(ensure_offline_vocab()),
             **(OmegaConf.to_container(s.env, resolve=True) if s.env else {})},
        ready_timeout_s=float(s.ready_timeout_s), log_path=str(log_dir / "server.log"))


def set_shared(server: VllmServer | None, model_path: str | None = None) -> None:
    _shared.clear()
    if server is not None:
        _shared.update(server=server, model_path=model_path)


@contextlib.contextmanager
def endpoint(cfg: DictConfig, run_dir: Path) -> Iterator[dict[str, Any]]:
    """Yield {base_url, server_version, server_argv, ...} for this job, starting a server if needed."""
    mode = cfg.server.mode
    if mode == "attach":
        yield {"base_url": cfg.server.base_url, "mode": "attach", "server_version": _attached_version(cfg.server.base_url)}
        return
    if mode != "spawn":
        raise ValueError(f"server.mode must be spawn or attach, got {mode!r}")
    shared = _shared.get("server")
    if shared is not None:
        if _shared.get("model_path") != str(cfg.model.path):
            raise ValueError("a -m sweep shares one server and cannot sweep model; run one sweep per model")
        yield _describe(shared, "spawn (shared by the sweep)")
        return
    with VllmServer(server_config(cfg, run_dir)) as server:
        yield _describe(server, "spawn")


def _attached_version(base_url: str) -> str | None:
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        return httpx.get(root + "/version", timeout=5.0).json().get("version")
    except Exception:  # not every OpenAI-compatible server has /version
        return None


def _describe(server: VllmServer, mode: str) -> dict[str, Any]:
    return {"base_url": server.base_url, "mode": mode, "server_version": server.version(),
            "server_argv": server.config.argv(server.port), "server_ready_s": server.ready_after_s,
            "server_log": str(server.log_path) if server.log_path else None}
