"""How many requests to keep in flight so a vLLM server's batch stays full (``concurrency=auto``).

vLLM runs at most ``max_num_seqs`` sequences at once (its default: 256) and as many as its KV cache holds; every
request beyond that waits in its queue, which costs nothing while the batch is full and refills a finished slot at
once. So the right number in flight is the server's batch size plus a margin for the refill, per replica: a fixed
64 starves a big GPU and floods a small CPU server. vLLM's ``/metrics`` publishes its KV-cache configuration
(``vllm:cache_config_info``: block size and blocks, newer versions also the cache size in tokens and how many
full-length requests fit) but not ``max_num_seqs``: that comes from the server we start, else vLLM's default.
"""

from __future__ import annotations

import math
import re
from typing import Any

import httpx

VLLM_DEFAULT_MAX_NUM_SEQS = 256
REFILL_MARGIN = 1.25  # in flight per batch slot: a finished sequence's slot is taken by a queued request at once
_INFO_LINE = re.compile(r"^vllm:cache_config_info\{([^}]*)\}\s+\S+", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def parse_cache_config(metrics_text: str) -> dict[str, float]:
    """The numeric labels of ``vllm:cache_config_info`` (first engine), e.g. num_gpu_blocks, block_size."""
    line = _INFO_LINE.search(metrics_text)
    if line is None:
        return {}
    out: dict[str, float] = {}
    for key, value in _LABEL.findall(line.group(1)):
        try:
            out[key] = float(value)
        except ValueError:  # e.g. cache_dtype="auto", num_gpu_blocks="None" before the engine profiled memory
            continue
    return out


def read_server_limits(root_url: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """What the server publishes about its capacity ({} when it publishes nothing, e.g. not a vLLM)."""
    try:
        resp = httpx.get(root_url.rstrip("/") + "/metrics", timeout=timeout_s)
    except httpx.HTTPError:
        return {}
    if resp.status_code != 200:
        return {}
    cache = parse_cache_config(resp.text)
    limits: dict[str, Any] = {}
    if "num_gpu_blocks" in cache and "block_size" in cache:
        limits["kv_cache_tokens"] = int(cache["num_gpu_blocks"] * cache["block_size"])
    elif "kv_cache_size_tokens" in cache:
        limits["kv_cache_tokens"] = int(cache["kv_cache_size_tokens"])
    if "kv_cache_max_concurrency" in cache:  # full-length (max_model_len) requests the cache holds at once
        limits["kv_cache_max_concurrency"] = cache["kv_cache_max_concurrency"]
    return limits


def pick_concurrency(max_num_seqs: int | None, replicas: int = 1,
                     limits: dict[str, Any] | None = None) -> dict[str, Any]:
    """Requests in flight for ``replicas`` servers of batch size ``max_num_seqs`` (None: vLLM's default).

    Returns the value and how it was reached, for the manifest.
    """
    seqs = int(max_num_seqs or VLLM_DEFAULT_MAX_NUM_SEQS)
    per_replica = math.ceil(seqs * REFILL_MARGIN)
    return {"concurrency": per_replica * max(1, replicas), "max_num_seqs": seqs,
            "max_num_seqs_source": "server config" if max_num_seqs else "vLLM default",
            "per_replica": per_replica, "replicas": max(1, replicas), "server_limits": dict(limits or {})}


# vLLM's own default batch (max_num_seqs) for its OpenAI server, by device (vllm/engine/arg_utils.py, 0.32.0)
VLLM_CPU_DEFAULT_MAX_NUM_SEQS = 128
# ``concurrency=auto`` against a server that publishes no limits at all (no vLLM /metrics): the value the
# harness used before it read servers' limits.
FALLBACK_CONCURRENCY = 64


def vllm_default_max_num_seqs(device: str | None, gpus: list[tuple[str, float]] | None = None) -> int:
    """vLLM's own default batch for its OpenAI server: CPU 128; GPU 256, 1024 on GPUs of 70+ GiB other than
    A100 (H100, H200, B200: vLLM's rule). ``gpus``: (name, memory GiB) per GPU, None to ask nvidia-smi."""
    if device == "cpu":
        return VLLM_CPU_DEFAULT_MAX_NUM_SEQS
    gpus = local_gpus() if gpus is None else gpus
    if gpus:
        name, memory = min(gpus, key=lambda g: g[1])
        if memory >= 160 or (memory >= 70 and "a100" not in name.lower()):
            return 1024
    return VLLM_DEFAULT_MAX_NUM_SEQS


def local_gpus() -> list[tuple[str, float]]:
    """(name, memory GiB) of this machine's NVIDIA GPUs; [] without nvidia-smi."""
    import shutil
    import subprocess

    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.splitlines():
        name, _, mib = line.rpartition(",")
        if mib.strip().isdigit():
            gpus.append((name.strip(), int(mib) / 1024))
    return gpus


def max_num_seqs_from_argv(argv: list[str] | None) -> int | None:
    """``--max-num-seqs N`` (or ``=N``) in a server's command line, else None."""
    args = [str(a) for a in argv or []]
    for i, arg in enumerate(args):
        if arg == "--max-num-seqs" and i + 1 < len(args) and args[i + 1].isdigit():
            return int(args[i + 1])
        if arg.startswith("--max-num-seqs=") and arg.partition("=")[2].isdigit():
            return int(arg.partition("=")[2])
    return None


def resolve_concurrency(value: Any, urls: list[str], server_argv: list[str] | None = None,
                        device: str | None = None) -> dict[str, Any]:
    """The requests in flight for a run and where the number came from (stored in the manifest).

    ``value``: an integer (used as given) or ``"auto"``. Auto reads each server's ``/metrics``; the batch size
    is the spawned server's ``--max-num-seqs``, else vLLM's default for its device (CPU 128, GPU 256 or 1024), else, for
    an attached vLLM, vLLM's GPU default; a server that publishes no limits gets ``FALLBACK_CONCURRENCY``.
    """
    if value != "auto":
        return {"concurrency": int(value), "source": "config"}
    roots = [u.rstrip("/").removesuffix("/v1") for u in urls]
    limits = read_server_limits(roots[0]) if roots else {}
    seqs = max_num_seqs_from_argv(server_argv)
    if seqs is not None:
        source = "auto: --max-num-seqs of the server the harness started"
    elif server_argv is not None:
        seqs = vllm_default_max_num_seqs(device)
        source = f"auto: vLLM's default max_num_seqs for {'CPU' if device == 'cpu' else 'this GPU'} (server " \
                 f"started without --max-num-seqs)"
    elif limits:
        source = "auto: the server publishes vLLM metrics but not max_num_seqs; vLLM's default assumed"
    else:
        return {"concurrency": FALLBACK_CONCURRENCY, "source": f"auto: fallback {FALLBACK_CONCURRENCY} (the server "
                f"publishes no limits on /metrics)", "server_limits": {}}
    picked = pick_concurrency(seqs, replicas=len(urls) or 1, limits=limits)
    picked.pop("max_num_seqs_source", None)  # said by ``source``
    picked["source"] = source
    return picked
