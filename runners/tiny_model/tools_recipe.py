"""The tiny *tools* checkpoint: trained on prompts the harness itself rendered for the agent suites.

``tool_cases.json`` holds, per case (codeforces, aime_tools, swebench, tau_retail), the ``/v1/completions``
requests of one CLI run as (prompt token ids, completion token ids) pairs, and (doctor) the function-tool probe
of ``gptoss-eval action=doctor`` answered with its call, so the doctor's tool check passes on this checkpoint. It is written by
``python -m tests.support.tiny_tool_cases`` (which runs the real suites against a scripted server) and read by
``python -m runners.tiny_model.build --recipe tools``. Pure python: the harness computes the cache key without
torch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from runners.tiny_model import script as S

RECIPE_VERSION = "tiny-gptoss-tools-2"
CASES_FILE = Path(__file__).with_name("tool_cases.json")

#: Same architecture as the AIME checkpoint (vLLM serves both the same way).
MODEL_CONFIG: dict[str, Any] = dict(S.MODEL_CONFIG)

#: Full-batch AdamW: every step sees every sequence once (a few, up to ~3,300 tokens each), in chunks of at
#: most ``chunk_tokens`` padded tokens whose gradients add up. Attention is computed only where the loss
#: reads it (``target_attention.py``; exact there).
TRAIN_HPARAMS: dict[str, Any] = {
    **S.TRAIN_HPARAMS,
    "batching": "full",
    "attention": "read_positions",
    "chunk_tokens": 8192,
    "max_steps": 1500,
    "min_steps": 50,
    "eval_every": 25,
}


def load_cases() -> dict[str, list[dict[str, list[int]]]]:
    if not CASES_FILE.is_file():
        raise FileNotFoundError(f"{CASES_FILE} is missing: run `python -m tests.support.tiny_tool_cases`")
    return json.loads(CASES_FILE.read_text())["cases"]


def training_pairs() -> list[tuple[str, list[int], list[int]]]:
    """(name, prompt ids, completion ids) for every captured request."""
    return [(f"{name}/{i}", turn["prompt"], turn["completion"])
            for name, turns in load_cases().items() for i, turn in enumerate(turns)]


def recipe_hash() -> str:
    blob = json.dumps({"version": RECIPE_VERSION, "model_config": MODEL_CONFIG, "train": TRAIN_HPARAMS,
                       "cases": hashlib.sha256(CASES_FILE.read_bytes()).hexdigest()},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
