from __future__ import annotations

import math
import random

import pytest

from evals.metrics import majority_vote, mean_ci, pass_at_k, pass_hat_k


def test_pass_at_k_matches_its_definition():
    assert pass_at_k(8, 0, 1) == 0.0
    assert pass_at_k(8, 8, 8) == 1.0
    assert pass_at_k(8, 2, 1) == pytest.approx(0.25)
    # 1 - C(6,2)/C(8,2)
    assert pass_at_k(8, 2, 2) == pytest.approx(1 - 15 / 28)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_pass_hat_k():
    assert pass_hat_k(4, 4, 4) == 1.0
    assert pass_hat_k(4, 3, 4) == 0.0
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(4, 2, 1) == pytest.approx(0.5)


def test_majority_vote_ignores_missing_answers_and_breaks_ties_by_first_seen():
    assert majority_vote([None, 3, 5, 5, None, 3]) == 3
    assert majority_vote([None, None]) is None
    assert majority_vote([7, 2, 2]) == 2


def test_confidence_interval_covers_the_truth_about_95_percent_of_the_time():
    rng = random.Random(0)
    covered = 0
    trials = 400
    for _ in range(trials):
        per_problem = [sum(rng.random() < 0.6 for _ in range(8)) / 8 for _ in range(30)]
        est = mean_ci(per_problem)
        covered += est.lo <= 0.6 <= est.hi
    assert 0.90 <= covered / trials <= 0.99


def test_degenerate_inputs():
    assert math.isnan(mean_ci([]).mean)
    one = mean_ci([1.0])
    assert (one.mean, one.lo, one.hi, one.n) == (1.0, 1.0, 1.0, 1)
    all_right = mean_ci([1.0] * 10)
    assert all_right.lo == all_right.hi == 1.0
