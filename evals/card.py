"""Published gpt-oss model card numbers (pass@1 unless noted), efforts low / medium / high."""

from __future__ import annotations

CARD: dict[str, dict[str, tuple[float, float, float]]] = {
    "gpt-oss-120b": {
        "aime2024": (56.3, 80.4, 95.8),
        "aime2024_tools": (75.4, 87.9, 96.6),
        "aime2025": (50.4, 80.0, 92.5),
        "aime2025_tools": (72.9, 91.6, 97.9),
        "codeforces_elo": (1595, 2205, 2463),
        "codeforces_elo_tools": (1653, 2365, 2622),
        "swebench_verified": (47.9, 52.6, 62.4),
        "tau_retail": (49.4, 62.0, 67.8),
        "gpqa_diamond": (67.1, 73.1, 80.1),
    },
    "gpt-oss-20b": {
        "aime2024": (42.1, 80.0, 92.1),
        "aime2024_tools": (61.2, 86.0, 96.0),
        "aime2025": (37.1, 72.1, 91.7),
        "aime2025_tools": (57.5, 90.4, 98.7),
        "codeforces_elo": (1366, 1998, 2230),
        "codeforces_elo_tools": (1251, 2064, 2516),
        "swebench_verified": (37.4, 53.2, 60.7),
        "tau_retail": (35.0, 47.3, 54.8),
        "gpqa_diamond": (56.8, 66.0, 71.5),
    },
}
EFFORT_INDEX = {"low": 0, "medium": 1, "high": 2}


def card_value(model_card: str | None, key: str | None, effort: str) -> float | None:
    if not model_card or not key or effort not in EFFORT_INDEX:
        return None
    row = CARD.get(model_card, {}).get(key)
    return None if row is None else row[EFFORT_INDEX[effort]]
