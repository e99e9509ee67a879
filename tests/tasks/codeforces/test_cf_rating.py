"""Elo estimation and percentiles."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tasks.codeforces.rating import (
    aggregate_attempts,
    estimate_rating,
    load_histogram,
    percentile,
    solve_probability,
    solve_rate_by_bucket,
)

DATA = Path("/work/shared/data/codeforces")


def test_solve_probability():
    assert solve_probability(1500, 1500) == pytest.approx(0.5)
    assert solve_probability(1900, 1500) == pytest.approx(10 / 11)


@pytest.mark.parametrize("true_rating", [1100, 1900, 2700])
def test_recovers_known_rating_within_stated_error(true_rating):
    rng = np.random.default_rng(true_rating)
    d = rng.uniform(800, 3500, 150)
    p = 1 / (1 + 10 ** ((d - true_rating) / 400))
    solved = rng.binomial(4, p)
    est = estimate_rating([(float(di), int(s), 4) for di, s in zip(d, solved, strict=True)])
    assert est.n_problems == 150
    assert abs(est.rating - true_rating) < 2.5 * est.se
    assert 30 < est.se < 120
    assert est.ci95[0] < true_rating < est.ci95[1]


def test_coverage_of_the_interval_over_seeds():
    hits = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        d = rng.uniform(800, 3500, 100)
        f = (rng.random(100) < 1 / (1 + 10 ** ((d - 2000) / 400))).astype(float)
        est = estimate_rating(list(zip(d.tolist(), f.tolist(), strict=True)))
        hits += est.ci95[0] <= 2000 <= est.ci95[1]
    assert hits >= 34  # ~95% nominal


def test_all_or_nothing_stays_finite():
    hi = estimate_rating([(1000, 1.0)] * 10)
    lo = estimate_rating([(3000, 0.0)] * 10)
    assert math.isfinite(hi.rating) and math.isfinite(lo.rating)
    assert hi.rating > 1500 > lo.rating or lo.rating < hi.rating
    assert hi.se > 0 and lo.se > 0


def test_unrated_and_shapes():
    est = estimate_rating([{"rating": 1500, "solve_rate": 0.5}, {"rating": None, "solve_rate": 1.0},
                           {"difficulty": 1500, "successes": 1, "attempts": 2}])
    assert est.n_problems == 2 and est.n_unrated == 1
    assert est.rating == pytest.approx(1500, abs=1)
    with pytest.raises(ValueError):
        estimate_rating([(1500, 1.5)])


def test_aggregate_attempts():
    rows = aggregate_attempts([("A", 800, True), ("A", 800, False), ("B", None, True)])
    assert rows[0] == {"problem_id": "A", "difficulty": 800, "successes": 1, "attempts": 2, "solve_rate": 0.5}
    assert estimate_rating(rows).n_unrated == 1


def test_percentile_on_shared_histograms():
    for name in ("human_ratings_codeelo.json", "human_ratings_2024_deepcoder.json"):
        path = DATA / name
        if not path.is_file():
            pytest.skip(f"shared data absent: {path}")
        h = load_histogram(path)
        assert percentile(-10**9, h) == 0.0 and percentile(10**9, h) == 100.0
        assert 0 < percentile(1500, h) < percentile(2000, h) < 100
        assert percentile(2000, h) == percentile(2000, h["histogram"])


def test_percentile_definition():
    h = {"histogram": {"1000": 1, "1500": 2, "2000": 1}}
    assert percentile(1500, h) == 25.0  # strictly below
    assert percentile(1501, h) == 75.0


def test_solve_rate_by_bucket():
    rows = solve_rate_by_bucket([(800, 1.0), (1100, 0.0), (1250, 0.5), (700, 1.0), (None, 1.0)])
    assert rows[0]["bucket"] == "<800" and rows[0]["n_problems"] == 1
    first = rows[1]
    assert first["bucket"] == "800-1199" and first["n_problems"] == 2 and first["solve_rate"] == 0.5
    assert rows[2]["solve_rate"] == 0.5
    custom = solve_rate_by_bucket([(1000, 1.0), (2000, 0.0)], edges=[0, 1500, 3000])
    assert [r["solve_rate"] for r in custom] == [1.0, 0.0]
