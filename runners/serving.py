"""Which servers a job talks to: ones a sweep owns, ones it starts itself, or attached ones.

Every way yields the same description: ``{"base_url": [urls], "mode", "server_version", ...}``; several URLs
are balanced client-side (evals/balancer.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from omegaconf import DictConfig, OmegaConf

from evals.harmony import ensure_offline_vocab
from runners.vllm_server import ServerStartError, VllmServer, VllmServerConfig

# Set by runners.callbacks.SharedServer for the duration of a -m sweep.
_shared: dict[str, Any] = {}


def server_config(cfg: DictConfig, log_dir: Path) -> VllmServerConfig:
    s = cfg.server
    return VllmServerConfig(
        model=str(cfg.model.path), served_model_name=cfg.model.served_name, python=s.python,
        vllm_version=_text(s.get("vllm_version")), device=_text(s.get("device")), host=s.host,
        port=int(s.port), max_model_len=cfg.model.max_model_len, tensor_parallel_size=cfg.model.tensor_parallel_size,
        gpu_memory_utilization=s.gpu_memory_utilization, dtype=s.dtype, enforce_eager=bool(s.enforce_eager),
        reasoning_parser=s.reasoning_parser, tool_call_parser=s.tool_call_parser,
        system_start_date=s.system_start_date, extra_args=list(s.extra_args or []),
        # vLLM's Harmony library also downloads the vocabulary unless told where it is: give it ours.
        env={"TIKTOKEN_ENCODINGS_BASE": str(ensure_offline_vocab()),
             **(OmegaConf.to_container(s.env, resolve=True) if s.env else {})},
        ready_timeout_s=float(s.ready_timeout_s), log_path=str(log_dir / "server.log"))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def replica_configs(cfg: DictConfig, log_dir: Path) -> list[VllmServerConfig]:
    """``server.replicas`` server configs: own port and log each, ``server.replica_env[i]`` (e.g. GPUs) added."""
    base = server_config(cfg, log_dir)
    n = int(cfg.server.get("replicas", 1) or 1)
    if n == 1:
        return [base]
    envs = cfg.server.get("replica_env")
    envs = OmegaConf.to_container(envs, resolve=True) if envs else []  # none given: the replicas share the env
    return [replace(base, port=(base.port + i) if base.port else 0, env={**base.env, **(envs[i] if i < len(envs) else {})},
                    log_path=str(log_dir / f"server-{i}.log")) for i in range(n)]


@contextlib.contextmanager
def started(configs: list[VllmServerConfig]) -> Iterator[list[VllmServer]]:
    """Start every server, then wait for all (replicas load weights in parallel); stop them all after."""
    servers = [VllmServer(c) for c in configs]
    with contextlib.ExitStack() as stack:
        for s in servers:
            stack.callback(s.stop)
            s.start()
        for s in servers:
            s.wait_ready()
        yield servers


def base_urls(value: Any) -> list[str]:
    """``server.base_url`` as a list (a string, a comma-separated string or a list)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [u.strip() for u in value.split(",") if u.strip()]
    return [str(u) for u in value]


def set_shared(servers: list[VllmServer] | None, model_path: str | None = None) -> None:
    _shared.clear()
    if servers:
        _shared.update(servers=servers, model_path=model_path)


@contextlib.contextmanager
def endpoint(cfg: DictConfig, run_dir: Path) -> Iterator[dict[str, Any]]:
    """Describe the servers for this job, starting them if the config says spawn and no sweep owns them."""
    mode = cfg.server.mode
    if mode == "attach":
        urls = base_urls(cfg.server.base_url)
        if not urls:
            raise ValueError("server=attach needs server.base_url (one URL, a list, or comma-separated)")
        reachable = [u for u in urls if _reachable(u)]
        if not reachable:
            raise ServerStartError(f"no server answers at {', '.join(urls)} (server=attach); start it or fix "
                                   "server.base_url")
        yield {"base_url": urls, "mode": "attach", "server_version": _attached_version(reachable[0])}
        return
    if mode != "spawn":
        raise ValueError(f"server.mode must be spawn or attach, got {mode!r}")
    shared = _shared.get("servers")
    if shared:
        if _shared.get("model_path") != str(cfg.model.path):
            raise ValueError("a -m sweep shares its servers and cannot sweep model; run one sweep per model")
        yield _describe(shared, "spawn (shared by the sweep)")
        return
    with started(replica_configs(cfg, run_dir)) as servers:
        yield _describe(servers, "spawn")


def _reachable(base_url: str) -> bool:
    """Any HTTP answer counts (not every OpenAI-compatible server has /health); a refused connection does not."""
    try:
        httpx.get(base_url.rstrip("/") + "/models", timeout=10.0)
        return True
    except httpx.HTTPError:
        return False


def _attached_version(base_url: str) -> str | None:
    try:
        root = base_url.rstrip("/").removesuffix("/v1")
        return httpx.get(root + "/version", timeout=5.0).json().get("version")
    except Exception:  # not every OpenAI-compatible server has /version
        return None


def _describe(servers: list[VllmServer], mode: str) -> dict[str, Any]:
    first = servers[0]
    return {"base_url": [s.base_url for s in servers], "mode": mode if len(servers) == 1 else
            f"{mode} ({len(servers)} replicas)", "server_version": first.version(),
            "server_argv": first.config.argv(first.port),
            "server_ready_s": max(s.ready_after_s or 0.0 for s in servers),
            "server_log": [str(s.log_path) for s in servers if s.log_path]}
