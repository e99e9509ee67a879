"""Codeforces-style Elo from solve results on rated problems, and where it sits among human players.

Model: a player of rating R solves a problem of true difficulty t with probability
``1 / (1 + 10^((t - R) / 400))``. Listed Codeforces ratings are noisy measurements of t, so each problem gets its
own offset, ``t_i = d_i + u_i`` with ``u_i ~ N(0, tau^2)`` (a random effect), and the repeats of one problem share
that offset. The likelihood of a problem with k solves in n repeats integrates the offset out (Gauss-Hermite
quadrature); R and tau are fitted together by maximum a posteriori (a weak normal prior on R, 1500 +- 1000 by
default, keeps all-solved or none-solved runs finite; tau >= 0 is free).

Why: with the offset left out, repeats look like independent evidence (or, folded into one soft outcome per
problem, their information is thrown away), and noisy listed difficulties pull the estimate toward the middle of the
problem set. A simulation (tests/bench/bench_elo_calibration.py, figures in the README) showed the old fold-the-
repeats Wald interval covering 100 % with exact difficulties and 88 % with noisy ones, biased by up to 80 Elo.

The 95 % interval is the profile-likelihood interval of R (tau maximised at every R): the set of R whose
log posterior is within 1.92 of the maximum. ``se`` is its half width / 1.96. Inputs given only as a success
fraction count as one soft outcome per problem. ``method="fixed"`` keeps the earlier estimator (no offset, soft
outcomes, Wald interval) for comparison.

Percentiles use a human rating histogram ``{"histogram": {"<rating>": count}, ...}``: the share of users rated
strictly below R, in percent (CodeElo's ``bisect_left``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import log_expit, logsumexp

_C = math.log(10) / 400.0  # d/dR of the logit

__all__ = [
    "METHODS",
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
    method: str = "random_effect"
    difficulty_sd: float | None = None  # fitted tau: spread of true difficulty around the listed one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


METHODS = {
    "random_effect": "MAP of a logistic model with a per-problem difficulty offset (repeats share it), "
                     "95% profile-likelihood interval",
    "fixed": "MAP of a logistic model, one soft outcome per problem, Wald interval",
}


def solve_probability(rating: float, difficulty: float) -> float:
    """P(solve) = 1 / (1 + 10^((difficulty - rating) / 400))."""
    return 1.0 / (1.0 + 10.0 ** ((difficulty - rating) / 400.0))


def _rows(results: Iterable[Any]) -> tuple[list[tuple[float, float, float]], int]:
    """Accept (difficulty, fraction) / (difficulty, successes, attempts) tuples or mappings with
    ``rating``/``difficulty`` and ``solve_rate`` or ``successes``+``attempts``; return (difficulty, successes,
    attempts) rows (a bare fraction is one soft outcome) and the number of unrated entries."""
    out: list[tuple[float, float, float]] = []
    unrated = 0
    for r in results:
        if isinstance(r, Mapping):
            d = r.get("difficulty", r.get("rating"))
            if "successes" in r and r.get("attempts"):
                k, n = r["successes"], r["attempts"]
            elif "solve_rate" in r and r["solve_rate"] is not None:
                k, n = r["solve_rate"], 1
            else:
                k = n = None
        else:
            d = r[0]
            k, n = (r[1], 1) if len(r) == 2 else ((r[1], r[2]) if r[2] else (None, None))
        if d is None or k is None or (isinstance(d, float) and math.isnan(d)):
            unrated += 1
            continue
        k, n = float(k), float(n)
        if not (n > 0 and 0.0 <= k <= n):
            raise ValueError(f"success fraction must be in [0, 1], got {k}/{n}")
        out.append((float(d), k, n))
    return out, unrated


def _pairs(results: Iterable[Any]) -> tuple[list[tuple[float, float]], int]:
    rows, unrated = _rows(results)
    return [(d, k / n) for d, k, n in rows], unrated


# Gauss-Hermite rule for E[f(u)], u ~ N(0, tau^2): u = tau * sqrt(2) * x, weights w / sqrt(pi)
_GH_X, _GH_W = np.polynomial.hermite.hermgauss(16)
_GH_LOGW = np.log(_GH_W / math.sqrt(math.pi))
_TAU_GRID = np.array([0.0, 20.0, 40.0, 60.0, 80.0, 100.0, 125.0, 150.0, 175.0, 200.0, 230.0, 260.0, 300.0,
                      350.0, 400.0, 475.0, 550.0, 650.0, 800.0])


def _loglik_by_tau(r: float, d: np.ndarray, k: np.ndarray, n: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Log likelihood of rating ``r`` for every tau in ``taus`` (offsets integrated out)."""
    z = _C * (r - d[:, None, None] - taus[None, :, None] * math.sqrt(2.0) * _GH_X[None, None, :])
    terms = k[:, None, None] * log_expit(z) + (n - k)[:, None, None] * log_expit(-z) + _GH_LOGW
    return logsumexp(terms, axis=2).sum(axis=0)


def _profile(r: float, d: np.ndarray, k: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """max over tau of the log likelihood at rating ``r``: on a grid, refined by the parabola through the best
    grid point and its neighbours (the curve is smooth in tau; this is cheap enough for a simulation study)."""
    ll = _loglik_by_tau(r, d, k, n, _TAU_GRID)
    i = int(np.argmax(ll))
    if i == 0 or i == len(_TAU_GRID) - 1:
        return float(ll[i]), float(_TAU_GRID[i])
    t, y = _TAU_GRID[i - 1:i + 2], ll[i - 1:i + 2]
    a, b, c = np.polyfit(t, y, 2)
    if a >= 0:
        return float(ll[i]), float(_TAU_GRID[i])
    t_star = float(np.clip(-b / (2 * a), t[0], t[2]))
    return max(float(ll[i]), float(c - b * b / (4 * a)) if t[0] < t_star < t[2] else float(ll[i])), t_star


def estimate_rating(results: Iterable[Any], *, prior_mean: float = 1500.0, prior_sd: float = 1000.0,
                    bounds: tuple[float, float] = (-2000.0, 6000.0), method: str = "random_effect") -> RatingEstimate:
    """Elo from per-problem results (see :func:`_rows` for the accepted shapes; module doc for the model)."""
    if method not in METHODS:
        raise ValueError(f"unknown rating method {method!r}; choose one of {', '.join(METHODS)}")
    if prior_sd <= 0:
        raise ValueError("prior_sd must be > 0")
    rows, unrated = _rows(results)
    mean_rate = sum(k / n for _, k, n in rows) / len(rows) if rows else float("nan")
    common = {"n_problems": len(rows), "n_unrated": unrated, "mean_solve_rate": mean_rate,
              "prior_mean": prior_mean, "prior_sd": prior_sd, "method": method}
    if method == "fixed":
        return _estimate_fixed([(d, k / n) for d, k, n in rows], prior_mean, prior_sd, bounds, common)
    d, k, n = (np.array(col, dtype=float) for col in zip(*rows, strict=True)) if rows else (np.zeros(0),) * 3

    def log_post(r: float) -> float:
        return _profile(r, d, k, n)[0] - 0.5 * ((r - prior_mean) / prior_sd) ** 2

    res = minimize_scalar(lambda r: -log_post(r), bounds=bounds, method="bounded", options={"xatol": 0.5})
    r_hat, top = float(res.x), float(-res.fun)

    def below_cut(r: float) -> float:
        return top - log_post(r) - 1.920729  # chi2(1) 95% / 2

    lo = brentq(below_cut, bounds[0], r_hat, xtol=0.5) if below_cut(bounds[0]) > 0 else bounds[0]
    hi = brentq(below_cut, r_hat, bounds[1], xtol=0.5) if below_cut(bounds[1]) > 0 else bounds[1]
    return RatingEstimate(rating=r_hat, se=(hi - lo) / (2 * 1.959964), ci95=(lo, hi),
                          difficulty_sd=_profile(r_hat, d, k, n)[1], **common)


def _estimate_fixed(pairs: list[tuple[float, float]], prior_mean: float, prior_sd: float,
                    bounds: tuple[float, float], common: dict[str, Any]) -> RatingEstimate:
    """The earlier estimator: each problem's solve fraction is one soft outcome; Wald interval."""

    def neg_log_post(r: float) -> float:
        total = 0.0
        for d, f in pairs:
            z = _C * (r - d)
            total += f * -_softplus(-z) + (1.0 - f) * -_softplus(z)
        return -(total - 0.5 * ((r - prior_mean) / prior_sd) ** 2)

    res = minimize_scalar(neg_log_post, bounds=bounds, method="bounded", options={"xatol": 1e-4})
    r_hat = float(res.x)
    info = 1.0 / prior_sd**2
    for d, _ in pairs:
        p = solve_probability(r_hat, d)
        info += _C * _C * p * (1.0 - p)
    se = 1.0 / math.sqrt(info)
    return RatingEstimate(rating=r_hat, se=se, ci95=(r_hat - 1.96 * se, r_hat + 1.96 * se), **common)


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
