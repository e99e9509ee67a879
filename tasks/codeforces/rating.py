"""Codeforces-style Elo from solve results on rated problems, and where it sits among human players.

Model: a player of rating R solves a problem of difficulty d with probability ``1 / (1 + 10^((d - R) / 400))``.
Each rated problem contributes its success fraction f over repeats as a soft outcome,
``f log p + (1 - f) log(1 - p)``, so a problem counts once however many repeats it had (repeats on one problem
are not independent evidence about the rating). A weak normal prior (1500, sd 1000 by default) keeps the
estimate finite when everything or nothing is solved. The standard error comes from the observed information
at the maximum (likelihood plus prior); the 95% interval is ``rating +- 1.96 se``.

Percentiles use a human rating histogram ``{"histogram": {"<rating>": count}, ...}`` (shared/data/codeforces/
human_ratings_*.json): the share of users rated strictly below R, in percent (CodeElo's ``bisect_left``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scipy.optimize import minimize_scalar

_C = math.log(10) / 400.0  # d/dR of the logit

__all__ = [
    "RatingEstimate",
    "aggregate_attempts",
    "estimate_rating",
    "load_histogram",
    "percentile",
    "solve_probability",
    "solve_rate_by_bucket",
]


@dataclass(frozen=True)
class RatingEstimate:
    rating: float
    se: float
    ci95: tuple[float, float]
    n_problems: int  # rated problems used
    n_unrated: int  # results without a difficulty (ignored)
    mean_solve_rate: float
    prior_mean: float
    prior_sd: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def solve_probability(rating: float, difficulty: float) -> float:
    """P(solve) = 1 / (1 + 10^((difficulty - rating) / 400))."""
    return 1.0 / (1.0 + 10.0 ** ((difficulty - rating) / 400.0))


def _pairs(results: Iterable[Any]) -> tuple[list[tuple[float, float]], int]:
    """Accept (difficulty, fraction) / (difficulty, successes, attempts) tuples or mappings with
    ``rating``/``difficulty`` and ``solve_rate`` or ``successes``+``attempts``. Unrated entries are counted."""
    out: list[tuple[float, float]] = []
    unrated = 0
    for r in results:
        if isinstance(r, Mapping):
            d = r.get("difficulty", r.get("rating"))
            if "solve_rate" in r:
                f = r["solve_rate"]
            else:
                f = r["successes"] / r["attempts"] if r.get("attempts") else None
        else:
            d = r[0]
            f = r[1] if len(r) == 2 else (r[1] / r[2] if r[2] else None)
        if d is None or f is None or (isinstance(d, float) and math.isnan(d)):
            unrated += 1
            continue
        f = float(f)
        if not 0.0 <= f <= 1.0:
            raise ValueError(f"success fraction must be in [0, 1], got {f}")
        out.append((float(d), f))
    return out, unrated


def estimate_rating(results: Iterable[Any], *, prior_mean: float = 1500.0, prior_sd: float = 1000.0,
                    bounds: tuple[float, float] = (-2000.0, 6000.0)) -> RatingEstimate:
    """Maximum a posteriori Elo from per-problem results (see :func:`_pairs` for the accepted shapes)."""
    pairs, unrated = _pairs(results)
    if prior_sd <= 0:
        raise ValueError("prior_sd must be > 0")

    def neg_log_post(r: float) -> float:
        total = 0.0
        for d, f in pairs:
            z = _C * (r - d)  # logit of p
            # log p = -log(1 + e^-z); log(1 - p) = -log(1 + e^z), computed stably
            lp = -_softplus(-z)
            lq = -_softplus(z)
            total += f * lp + (1.0 - f) * lq
        return -(total - 0.5 * ((r - prior_mean) / prior_sd) ** 2)

    res = minimize_scalar(neg_log_post, bounds=bounds, method="bounded", options={"xatol": 1e-4})
    r_hat = float(res.x)
    info = 1.0 / prior_sd**2
    for d, _ in pairs:
        p = solve_probability(r_hat, d)
        info += _C * _C * p * (1.0 - p)
    se = 1.0 / math.sqrt(info)
    mean_rate = sum(f for _, f in pairs) / len(pairs) if pairs else float("nan")
    return RatingEstimate(rating=r_hat, se=se, ci95=(r_hat - 1.96 * se, r_hat + 1.96 * se), n_problems=len(pairs),
                          n_unrated=unrated, mean_solve_rate=mean_rate, prior_mean=prior_mean, prior_sd=prior_sd)


def _softplus(x: float) -> float:
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def aggregate_attempts(attempts: Iterable[tuple[str, float | None, bool]]) -> list[dict[str, Any]]:
    """Fold (problem_id, difficulty, solved) attempts into one row per problem:
    ``{"problem_id", "difficulty", "successes", "attempts", "solve_rate"}`` (input order kept)."""
    rows: dict[str, dict[str, Any]] = {}
    for pid, diff, solved in attempts:
        row = rows.setdefault(pid, {"problem_id": pid, "difficulty": diff, "successes": 0, "attempts": 0})
        row["successes"] += int(bool(solved))
        row["attempts"] += 1
    for row in rows.values():
        row["solve_rate"] = row["successes"] / row["attempts"]
    return list(rows.values())


def load_histogram(path: str | Path) -> dict[str, Any]:
    """Read a human rating histogram file (``{"source", "format", "n_users", "histogram"}``)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("histogram"), dict):
        raise ValueError(f"{path}: expected an object with a 'histogram' mapping rating -> count")
    return data


def percentile(rating: float, histogram: Mapping[str, Any]) -> float:
    """Percent of users rated strictly below ``rating``. ``histogram`` is the file's object or its
    ``histogram`` mapping (rating -> count)."""
    hist = histogram.get("histogram", histogram) if isinstance(histogram, Mapping) else histogram
    total = 0
    below = 0
    for k, c in hist.items():
        c = int(c)
        total += c
        if float(k) < rating:
            below += c
    if total == 0:
        raise ValueError("empty histogram")
    return 100.0 * below / total


def solve_rate_by_bucket(results: Iterable[Any], *, edges: Sequence[float] | None = None,
                         width: float = 400.0, start: float = 800.0) -> list[dict[str, Any]]:
    """Mean solve rate per difficulty bucket ``[lo, hi)``; buckets of ``width`` from ``start`` unless ``edges``
    are given. Each row: ``{"bucket": "800-1199", "lo", "hi", "n_problems", "solve_rate"}``; empty buckets are
    kept so tables line up across runs."""
    pairs, _ = _pairs(results)
    if edges is None:
        top = max((d for d, _ in pairs), default=start)
        n = max(1, math.floor((top - start) / width) + 1)
        edges = [start + i * width for i in range(n + 1)]
    edges = sorted(edges)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        fs = [f for d, f in pairs if lo <= d < hi or (hi == edges[-1] and d == hi)]
        rows.append({"bucket": f"{lo:g}-{hi - 1:g}", "lo": lo, "hi": hi, "n_problems": len(fs),
                     "solve_rate": (sum(fs) / len(fs)) if fs else None})
    below = [f for d, f in pairs if d < edges[0]]
    if below:
        rows.insert(0, {"bucket": f"<{edges[0]:g}", "lo": None, "hi": edges[0], "n_problems": len(below),
                        "solve_rate": sum(below) / len(below)})
    return rows
