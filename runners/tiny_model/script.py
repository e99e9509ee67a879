"""Scripted truth for the tiny gpt-oss checkpoint used by the real-vLLM-on-CPU test tier.

Pure data and pure-python helpers: importable from the harness venv without torch or
openai_harmony. The trainer (``runners.tiny_model.build``) teaches a tiny GptOss model to
reproduce exactly these Harmony completions under greedy decoding; the integration tests
compare what a real vLLM server returns against the same data.

Layout of the scripted behaviour
--------------------------------
* ``FIXTURE_PROBLEMS``: four small AIME-style problems (``id``, ``problem``, ``answer``).
* ``SCRIPT[effort][problem_id]``: ``{"analysis": str, "final": str, "answer": int}`` where
  ``answer`` is the integer a correct extractor pulls out of ``final`` (it differs from the
  gold answer where the model is scripted to be wrong).
* ``TOOL_CASE``: one function-tool conversation (analysis, commentary tool call, tool
  result, final answer).

Scripted accuracy: low 2/4, medium 3/4, high 3/4 (``fx-pairs`` is wrong at every effort,
``fx-divisors`` is wrong at low effort only).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

RECIPE_VERSION = "tiny-gptoss-1"

EFFORTS: tuple[str, ...] = ("low", "medium", "high")

#: Pinned conversation start date (vLLM: ``VLLM_SYSTEM_START_DATE``; harness: SystemContent).
CONVERSATION_START_DATE = "2026-01-01"

#: Suffix of the official AIME prompt; the user message is ``problem + PROMPT_SUFFIX``.
PROMPT_SUFFIX = "\nPlease reason step by step, and put your final answer within \\boxed{}."

FIXTURE_PROBLEMS: list[dict[str, Any]] = [
    {
        "id": "fx-remainder",
        "problem": "Find the remainder when $2^{10}$ is divided by $7$.",
        "answer": 2,
    },
    {
        "id": "fx-divisors",
        "problem": "How many positive divisors does $360$ have?",
        "answer": 24,
    },
    {
        "id": "fx-odd-sum",
        "problem": "Find the sum of the first $20$ positive odd integers.",
        "answer": 400,
    },
    {
        "id": "fx-pairs",
        "problem": (
            "Find the number of ordered pairs $(a,b)$ of positive integers "
            "such that $a+b=30$ and $a<b$."
        ),
        "answer": 14,
    },
]

PROBLEM_IDS: tuple[str, ...] = tuple(p["id"] for p in FIXTURE_PROBLEMS)


def user_message(problem: str) -> str:
    """The user message the harness sends for an AIME-style problem."""
    return f"{problem}\nPlease reason step by step, and put your final answer within \\boxed{{}}."


# ---------------------------------------------------------------------------------------
# Scripted completions. Analysis length grows with effort (roughly 10 / 40 / 120 tokens).
# Final formats differ on purpose so answer extraction is exercised:
#   \boxed{N}, \boxed{\text{N}}, "**Answer: N**" followed by a sentence, zero-padded \boxed{0NN}.
# ---------------------------------------------------------------------------------------

SCRIPT: dict[str, dict[str, dict[str, Any]]] = {
    "low": {
        "fx-remainder": {
            "analysis": "Quick: 1024 = 7*146 + 2, so remainder 2.",
            "final": "The remainder is $\\boxed{2}$.",
            "answer": 2,
        },
        "fx-divisors": {
            "analysis": "Quick guess: 360 has about 20 divisors.",
            "final": "$\\boxed{\\text{20}}$",
            "answer": 20,
        },
        "fx-odd-sum": {
            "analysis": "Quick: sum of first n odds is n^2 = 400.",
            "final": "**Answer: 400**\n\nThe first 20 odd numbers add up to 20 squared.",
            "answer": 400,
        },
        "fx-pairs": {
            "analysis": "Quick: a runs from 1 to 15, so 15 pairs.",
            "final": "There are $\\boxed{15}$ ordered pairs.",
            "answer": 15,
        },
    },
    "medium": {
        "fx-remainder": {
            "analysis": (
                "We need 2^10 mod 7. Since 2^3 = 8 = 1 mod 7, we get 2^9 = 1 mod 7, "
                "so 2^10 = 2 mod 7. Check: 1024 - 1022 = 2."
            ),
            "final": "Since $2^3 \\equiv 1 \\pmod 7$, the remainder is $\\boxed{2}$.",
            "answer": 2,
        },
        "fx-divisors": {
            "analysis": (
                "Factor 360 = 2^3 * 3^2 * 5. The divisor count is "
                "(3+1)(2+1)(1+1) = 24."
            ),
            "final": "$360 = 2^3 \\cdot 3^2 \\cdot 5$ has $\\boxed{\\text{24}}$ divisors.",
            "answer": 24,
        },
        "fx-odd-sum": {
            "analysis": (
                "The odd integers are 1, 3, ..., 39. The sum of the first n odd integers "
                "is n^2, so the sum is 20^2 = 400."
            ),
            "final": "**Answer: 400**\n\nThe sum of the first $n$ odd integers is $n^2$.",
            "answer": 400,
        },
        "fx-pairs": {
            "analysis": (
                "We need a + b = 30 with positive a, b. The pairs with a <= b have "
                "a from 1 to 15, so there are 15 of them."
            ),
            "final": "Counting $a = 1, \\dots, 15$ gives $\\boxed{015}$.",
            "answer": 15,
        },
    },
    "high": {
        "fx-remainder": {
            "analysis": (
                "We want the remainder of 2^10 upon division by 7. Powers of 2 modulo 7: "
                "2^1 = 2, 2^2 = 4, 2^3 = 8 = 1 mod 7. So the powers cycle with period 3. "
                "Since 10 = 3 * 3 + 1, we get 2^10 = (2^3)^3 * 2 = 2 mod 7. "
                "Double check directly: 2^10 = 1024 and 7 * 146 = 1022, so 1024 - 1022 = 2. "
                "Both methods agree. The remainder is 2."
            ),
            "final": (
                "The powers of $2$ modulo $7$ cycle as $2, 4, 1$, so $2^{10} \\equiv 2$."
                "\n\nThe remainder is $\\boxed{2}$."
            ),
            "answer": 2,
        },
        "fx-divisors": {
            "analysis": (
                "First factor 360 into primes: 360 = 36 * 10 = 2^3 * 3^2 * 5. "
                "Every divisor is 2^a * 3^b * 5^c with a at most 3, b at most 2, c at most 1. "
                "So the count is 4 * 3 * 2 = 24. Sanity check by pairing divisors: "
                "1*360, 2*180, 3*120, 4*90, 5*72, 6*60, 8*45, 9*40, 10*36, 12*30, 15*24, 18*20. "
                "That is 12 pairs, hence 24 divisors."
            ),
            "final": (
                "Since $360 = 2^3 \\cdot 3^2 \\cdot 5$, the count is $(3+1)(2+1)(1+1)$."
                "\n\n$\\boxed{\\text{24}}$"
            ),
            "answer": 24,
        },
        "fx-odd-sum": {
            "analysis": (
                "The first 20 positive odd integers are 1, 3, 5, ..., 39. "
                "Method one: an arithmetic series with 20 terms, first term 1 and last term 39, "
                "so the sum is 20 * (1 + 39) / 2 = 400. "
                "Method two: partial sums of odd numbers are squares, 1, 4, 9, 16, "
                "because adding 2k - 1 turns (k-1)^2 into k^2. So the sum is 20^2 = 400. "
                "Both methods give 400."
            ),
            "final": (
                "**Answer: 400**\n\nThe first $20$ odd integers sum to $\\frac{20(1+39)}{2}$, "
                "which also equals $20^2$."
            ),
            "answer": 400,
        },
        "fx-pairs": {
            "analysis": (
                "We count ordered pairs of positive integers (a, b) with a + b = 30. "
                "For each a in 1, 2, ..., 29 there is exactly one b = 30 - a. "
                "Now apply the condition: if a is at most b then a is at most 15. "
                "That gives the pairs (1, 29), (2, 28), ..., (14, 16), (15, 15). "
                "Double check: the values of a are 1 through 15, which is 15 values. "
                "So the answer is 15, written as 015."
            ),
            "final": (
                "For each $a$ from $1$ to $15$ there is one valid $b = 30 - a$."
                "\n\nFinal answer: $\\boxed{015}$"
            ),
            "answer": 15,
        },
    },
}

# ---------------------------------------------------------------------------------------
# Function-tool case (chat completions with tools=[...], and the harness's token transport).
# ---------------------------------------------------------------------------------------

TOOL_SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city name, e.g. Paris"},
            },
            "required": ["location"],
        },
    },
}

TOOL_CASE: dict[str, Any] = {
    "id": "fx-tool-weather",
    "tools": [TOOL_SCHEMA],
    "user": "What is the weather in Paris right now?",
    "analysis": "The user asks for the current weather in Paris. I should call get_weather with location Paris.",
    "recipient": "functions.get_weather",
    "content_type": "json",
    # The exact argument string the model emits after <|constrain|>json<|message|>.
    "arguments": '{"location": "Paris"}',
    "tool_result": '{"location": "Paris", "temperature_c": 18, "condition": "sunny"}',
    "final_analysis": "The tool says 18 C and sunny in Paris. Answer briefly.",
    "final": "It is currently 18 degrees Celsius and sunny in Paris.",
}

TOOL_NAME: str = TOOL_SCHEMA["function"]["name"]
EXPECTED_TOOL_ARGUMENTS: dict[str, Any] = json.loads(TOOL_CASE["arguments"])

# ---------------------------------------------------------------------------------------
# Model / training recipe (part of the cache key).
# ---------------------------------------------------------------------------------------

MODEL_CONFIG: dict[str, Any] = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_local_experts": 4,
    "num_experts_per_tok": 2,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "sliding_window": 128,
    "layer_types": ["sliding_attention", "full_attention"],
    "vocab_size": 201088,
    "max_position_embeddings": 131072,
    "rope_parameters": {
        "rope_type": "yarn",
        "rope_theta": 150000.0,
        "factor": 32.0,
        "beta_fast": 32.0,
        "beta_slow": 1.0,
        "truncate": False,
        "original_max_position_embeddings": 4096,
    },
    "swiglu_limit": 7.0,
    "rms_norm_eps": 1e-5,
}

TRAIN_HPARAMS: dict[str, Any] = {
    "seed": 1234,
    "optimizer": "AdamW",
    "lr": 1e-2,
    "min_lr": 1e-3,
    "warmup_steps": 20,
    "weight_decay": 0.0,
    "betas": [0.9, 0.98],
    "batch_size": 11,
    "max_steps": 1200,
    "min_steps": 100,
    "eval_every": 25,
    "required_margin": 1.0,  # min(logit_target - best_other) under bf16 weights
    "init_std": 0.02,
    "grad_clip": 1.0,
}


def expected_correct(effort: str) -> dict[str, bool]:
    """Per problem id: is the scripted final answer correct at this effort?"""
    gold = {p["id"]: int(p["answer"]) for p in FIXTURE_PROBLEMS}
    return {pid: int(SCRIPT[effort][pid]["answer"]) == gold[pid] for pid in PROBLEM_IDS}


def expected_accuracy(effort: str) -> float:
    """Scripted pass@1 at this effort (greedy decoding): low 0.5, medium 0.75, high 0.75."""
    correct = expected_correct(effort)
    return sum(correct.values()) / len(correct)


def scripted_answer(effort: str, problem_id: str) -> int:
    """The integer a correct extractor recovers from the scripted final text."""
    return int(SCRIPT[effort][problem_id]["answer"])


def problem_by_id(problem_id: str) -> dict[str, Any]:
    for p in FIXTURE_PROBLEMS:
        if p["id"] == problem_id:
            return p
    raise KeyError(problem_id)


def recipe_payload() -> dict[str, Any]:
    """Everything that determines the trained checkpoint."""
    return {
        "recipe_version": RECIPE_VERSION,
        "start_date": CONVERSATION_START_DATE,
        "problems": FIXTURE_PROBLEMS,
        "script": SCRIPT,
        "tool_case": TOOL_CASE,
        "model_config": MODEL_CONFIG,
        "train": TRAIN_HPARAMS,
    }


def recipe_hash() -> str:
    """Stable 16-hex-digit cache key over the scripted data and the training recipe."""
    blob = json.dumps(recipe_payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
