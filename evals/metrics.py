"""Metrics over repeated attempts: pass@1 with a confidence interval, pass@k, maj@k, pass^k.

Scores are grouped per sample (a sample's repeats are correlated), so intervals are computed over samples,
not over attempts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit  # scipy.stats costs ~1 s of import for one quantile


@dataclass
class Estimate:
    mean: float
    lo: float
    hi: float
    n: int  # samples (problems/tasks), the unit the interval is computed over

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2


def mean_ci(per_sample: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Mean of per-sample scores with a t interval over samples (clipped to [0, 1] for rates)."""
    x = np.asarray(per_sample, dtype=float)
    n = len(x)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, mean, mean, 1)
    se = float(x.std(ddof=1)) / math.sqrt(n)
    half = float(stdtrit(n - 1, 0.5 + confidence / 2)) * se
    return Estimate(mean, max(0.0, mean - half), min(1.0, mean + half), n)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one sample: chance that at least one of k draws (of n, c correct) is correct."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} attempts, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k for one task: chance that k draws (of n, c successful) are all successful."""
    if k > n:
        raise ValueError(f"pass^{k} needs at least {k} trials, got {n}")
    return math.comb(c, k) / math.comb(n, k)


def majority_vote(answers: Sequence[Hashable | None]) -> Hashable | None:
    """Most common non-missing answer; ties go to the answer seen first."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(a for a in answers if a is not None and counts[a] == best)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")
