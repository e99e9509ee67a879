"""API keys and the peer models of an episode (a user simulator, a judge): keys come by reference only
(``api_key_env`` names an environment variable), and a peer defaults to the agent's own server and model."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from evals.balancer import BalancedClient
from evals.clients import Sampling
from evals.secrets import MissingKey, key_from_env, literal_key_message
from evals.task import Task
from runners import serving
from runners.errors import UserError


def read_timeout(cfg: DictConfig) -> float | None:
    value = cfg.client.get("read_timeout_s")
    return None if value is None else float(value)


def main_api_key(cfg: DictConfig) -> str:
    """The served model's API key (an attached server behind auth): from ``server.api_key_env``, else none."""
    try:
        return key_from_env(cfg.server.get("api_key_env"), "server.api_key_env", "the model server")
    except MissingKey as exc:
        raise UserError(str(exc)) from None


def peer_api_key(role: str, peer: dict[str, Any], server_key: str = "EMPTY") -> str:
    """A peer's API key: the value of the environment variable its ``api_key_env`` names (UserError if unset).

    A peer on the agent's own server (no base_url, no api_key_env) uses the server's key."""
    if peer.get("api_key") not in (None, "", "EMPTY"):
        raise UserError(literal_key_message(f"suite.models.{role}.api_key"))
    name = peer.get("api_key_env")
    if not name:
        return server_key if not peer.get("base_url") else "EMPTY"
    try:
        return key_from_env(str(name), f"suite.models.{role}.api_key_env", peer.get("base_url"))
    except MissingKey as exc:
        raise UserError(str(exc)) from None


def peer_effort(role: str, peer: dict[str, Any]) -> str | None:
    """A peer's reasoning effort; null (e.g. a simulator that is not a reasoning model) sends none."""
    if "effort" not in peer:
        return "low"
    effort = peer["effort"]
    if effort is None and (peer.get("transport") or "chat") == "harmony":
        raise UserError(f"suite.models.{role}.effort=null needs transport chat or responses (harmony prompts "
                        f"always carry an effort)")
    return effort


def peer_client(cfg: DictConfig, base_url: str | list[str], peer: dict[str, Any], role: str = "peer"
                ) -> tuple[Any, str | None, Sampling]:
    """A second model of the episode (e.g. a user simulator): by default the same server(s) and model."""
    client = BalancedClient.from_urls(peer.get("transport") or "chat",
                                      serving.base_urls(peer.get("base_url") or base_url),
                         model=peer.get("model") or cfg.model.served_name, max_model_len=cfg.model.max_model_len,
                         timeout_s=float(cfg.client.timeout_s), read_timeout_s=read_timeout(cfg),
                         max_retries=int(cfg.client.max_retries),
                         retry_wait_s=float(cfg.client.retry_wait_s),
                         api_key=peer_api_key(role, peer, main_api_key(cfg)))
    sampling = Sampling(temperature=float(peer.get("temperature", 1.0)), top_p=float(peer.get("top_p", 1.0)),
                        max_tokens=peer.get("max_tokens"))
    return client, peer_effort(role, peer), sampling


def check_before_sending(cfg: DictConfig, task: Task, peer_cfgs: dict[str, dict[str, Any]]) -> None:
    """Everything that can fail without the model, before a download, a server or a request: the keys'
    variables, the peers' efforts, the python tool's transport, and the suite's own ``preflight``."""
    main_api_key(cfg)
    for role, peer in peer_cfgs.items():
        peer_api_key(role, peer)
        peer_effort(role, peer)
    if task.needs_python_tool and cfg.client.transport != "harmony":
        raise UserError(f"suite {task.name} gives the model the built-in python tool, which only the harmony "
                        f"transport can declare; add client=harmony (configured: {cfg.client.transport})")
    task.preflight()  # e.g. SWE-bench: no Docker engine means no run, not one error per instance
