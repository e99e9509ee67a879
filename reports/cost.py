"""What a run cost in GPU time and money: GPU-hours per run and per correct answer.

GPU-hours = measured wall time of the run (its sessions in ``manifest.json``; a crashed session ends at its
last stored attempt) x the GPUs serving it (``config.model.tensor_parallel_size`` x ``data_parallel_size``
when recorded). Money = GPU-hours x a price per GPU-hour.

The shipped prices are *typical on-demand cloud prices per GPU-hour, as of 2025, configurable*: a round
figure between specialist GPU clouds and the big providers' list prices, not a quote. Set your own with
``--gpu-price 2.49`` (USD per GPU-hour) or ``--gpu-price H100=2.49,A100=1.60`` on the report commands.

The GPU type is the one the run recorded (``manifest.json`` ``hardware.gpu``: the first name ``nvidia-smi``
lists on the machine running the harness; none on a CPU box), else ``--gpu`` (default H100).

Caveats shown in the report: a run against an attached server (``server=attach``) counts the GPUs of the
local config and the local machine's GPU name, which may not describe the remote server; in a ``-m`` sweep the efforts run one after the
other on one server, so each run's own sessions are its share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

PRICE_SOURCE = "typical on-demand cloud price per GPU-hour (2025), configurable"
DEFAULT_PRICES: dict[str, float] = {  # USD per GPU-hour
    "H100": 3.00,
    "A100": 1.80,
}
DEFAULT_GPU = "H100"  # the card's reference deployment: gpt-oss-120b fits one 80 GB H100


@dataclass
class RunCost:
    gpu: str  # GPU type the price was taken for
    gpu_recorded: bool  # the manifest named the GPU (else DEFAULT_GPU / the configured one was assumed)
    n_gpus: int
    wall_s: float
    gpu_hours: float
    price_per_gpu_hour: float
    cost: float  # USD
    correct: float  # sum of scores over graded attempts (fractional scores count fractionally)
    attempts: int
    gpu_hours_per_correct: float
    cost_per_correct: float
    cost_per_attempt: float
    price_source: str = PRICE_SOURCE

    def as_row(self) -> dict[str, Any]:
        return {"gpu": self.gpu, "n_gpus": self.n_gpus, "gpu_hours": self.gpu_hours,
                "price_per_gpu_hour": self.price_per_gpu_hour, "cost_usd": self.cost,
                "gpu_hours_per_correct": self.gpu_hours_per_correct, "cost_per_correct_usd": self.cost_per_correct}


def parse_prices(spec: str | None) -> dict[str, float]:
    """``"2.5"`` (every GPU type) or ``"H100=2.49,A100=1.6"`` -> prices, merged over the defaults."""
    prices = dict(DEFAULT_PRICES)
    if not spec:
        return prices
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" in part:
            name, value = part.split("=", 1)
            prices[normalize_gpu(name)] = float(value)
        else:
            value = float(part)
            prices = {k: value for k in prices} | {"*": value}
    return prices


def normalize_gpu(name: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'H100'; unknown names are kept (upper-cased)."""
    up = name.upper()
    for known in ("H200", "H100", "A100", "L40S", "B200", "A10G", "L4"):
        if known in up:
            return known
    return up.strip()


def recorded_gpu(manifest: dict[str, Any]) -> str | None:
    """The GPU name the run recorded: ``hardware.gpu`` (``nvidia-smi`` on the harness's machine, written by
    ``runners.cli.hardware()``), else ``server.gpu`` / a top-level ``gpu`` (older or hand-made manifests)."""
    server = manifest.get("server") or {}
    for where in (manifest.get("hardware") or {}, server, manifest, manifest.get("versions") or {}):
        for key in ("gpu", "gpu_name", "gpus"):
            value = where.get(key)
            if isinstance(value, list) and value:
                value = value[0]
            if isinstance(value, dict):
                value = value.get("name")
            if value:
                return str(value)
    return None


def gpu_count(manifest: dict[str, Any]) -> int:
    model = ((manifest.get("config") or {}).get("model") or {})
    server = ((manifest.get("config") or {}).get("server") or {})
    tp = model.get("tensor_parallel_size") or server.get("tensor_parallel_size") or 1
    dp = model.get("data_parallel_size") or server.get("data_parallel_size") or 1
    return max(1, int(tp)) * max(1, int(dp))


def run_cost(manifest: dict[str, Any], frame: pd.DataFrame, prices: dict[str, float] | None = None,
             gpu: str | None = None) -> RunCost:
    """Cost of one run from its manifest and attempt frame (``reports.summary.load_run``)."""
    from reports.summary import _wall_seconds

    prices = prices if prices is not None else DEFAULT_PRICES
    named = recorded_gpu(manifest)
    gpu_type = normalize_gpu(gpu or named or DEFAULT_GPU)
    price = prices.get(gpu_type, prices.get("*", prices.get(DEFAULT_GPU, math.nan)))
    n = gpu_count(manifest)
    wall = _wall_seconds(manifest, frame)
    hours = n * wall / 3600.0
    cost = hours * price
    correct = float(frame.score.sum()) if not frame.empty and "score" in frame else 0.0
    attempts = len(frame)
    return RunCost(gpu=gpu_type, gpu_recorded=named is not None and gpu is None, n_gpus=n, wall_s=wall,
                   gpu_hours=hours, price_per_gpu_hour=price, cost=cost, correct=correct, attempts=attempts,
                   gpu_hours_per_correct=hours / correct if correct else math.nan,
                   cost_per_correct=cost / correct if correct else math.nan,
                   cost_per_attempt=cost / attempts if attempts else math.nan)
