"""reports.compare on constructed runs: the gate catches a real drop, not noise, and reports gains."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from evals.metrics import mean_ci
from reports.compare import (
    Side,
    Thresholds,
    compare,
    compare_sides,
    discordant_pairs,
    holm,
    mcnemar_exact,
    paired_bootstrap_ci,
    sign_flip_test,
)
from reports.compare import main as compare_main
from tests.conftest import ROOT
from tests.reports.fabricate import make_run, score_matrix

N, K = 30, 8


def _flip(scores: np.ndarray, lose: int, win: int, seed: int = 1) -> np.ndarray:
    """Copy of ``scores`` with ``lose`` correct attempts made wrong and ``win`` wrong ones made right."""
    out = scores.copy()
    rng = np.random.default_rng(seed)
    right = np.argwhere(out == 1.0)
    wrong = np.argwhere(out == 0.0)
    for i, j in right[rng.choice(len(right), lose, replace=False)]:
        out[i, j] = 0.0
    for i, j in wrong[rng.choice(len(wrong), win, replace=False)]:
        out[i, j] = 1.0
    return out


@pytest.fixture
def base_scores() -> np.ndarray:
    s = score_matrix(N, K, accuracy=0.72, seed=7)
    assert 0.6 < s.mean() < 0.85
    return s


def _runs(tmp_path, base, cand, **kw):
    b = make_run(tmp_path / "base", scores=base, seed=1, **kw)
    c = make_run(tmp_path / "cand", scores=cand, seed=2, **kw)
    return b.parents[2], c.parents[2]  # the roots (folders of runs)


def _junit(path):
    root = ET.parse(path).getroot()
    cases = root.findall(".//testcase")
    return root, {c.get("classname") + " :: " + c.get("name"): c for c in cases}


def test_injected_ten_point_drop_fails_the_gate(tmp_path, base_scores):
    drop = int(round(0.10 * N * K))  # 24 attempts: exactly 10 points
    base, cand = _runs(tmp_path, base_scores, _flip(base_scores, drop, 0))
    junit, md = tmp_path / "out" / "junit.xml", tmp_path / "out" / "summary.md"
    code = compare_main([str(base), str(cand), "--junit", str(junit), "--markdown", str(md)])
    assert code == 1
    [r] = compare(base, cand)
    assert r.verdict == "regressed" and r.n_pairs == N
    assert r.diff == pytest.approx(-10.0)
    assert r.losses == drop and r.gains == 0 and r.p_value < 1e-5
    assert r.ci_hi < 0  # the interval excludes no change
    root, cases = _junit(junit)
    gate = cases["gptoss.compare.aime2025 :: medium regression gate"]
    assert gate.find("failure") is not None and gate.find("failure").get("type") == "regressed"
    assert root.get("failures") == "1" and root.find("testsuite").get("failures") == "1"
    assert int(root.get("tests")) == len(cases) == 2  # the gate and the card range check
    text = md.read_text()
    assert text.startswith("# gpt-oss regression check") and "**FAIL**: 1 regressed" in text
    assert "| aime2025 | medium | 🔴 regressed | 30 |" in text


def test_noise_as_big_as_the_ci_does_not_fail(tmp_path):
    # Problems of one difficulty (p = 0.5 each): the score's own CI is then all sampling noise.
    rng = np.random.default_rng(5)
    base = (rng.random((N, K)) < 0.5).astype(float)
    half_width = 100 * mean_ci(base.mean(axis=1)).half_width
    # A rerun of the same model disagrees with the baseline on 2 p (1 - p) of the attempt pairs, in both
    # directions alike: make the candidate that much different, tilted so the drop equals the CI half-width.
    per_sample = base.mean(axis=1)
    discordant = int(round(float(np.sum(2 * K * per_sample * (1 - per_sample)))))
    net = int(round(half_width / 100 * N * K))
    discordant += (discordant - net) % 2  # losses + gains and losses - gains have the same parity
    lose, win = (discordant + net) // 2, (discordant - net) // 2
    b, c = _runs(tmp_path, base, _flip(base, lose, win))
    [r] = compare(b, c)
    assert 5.0 < half_width < 9.0  # the CI of a 30 x 8 run, ± several points
    assert r.diff == pytest.approx(-half_width, abs=100 / (N * K))  # the drop is as big as that CI ...
    assert r.diff <= -3.0  # ... and bigger than --min-drop
    assert (r.losses, r.gains) == (lose, win) and win > 0.6 * lose  # ... yet it is two-way churn
    assert r.ci_lo < 0 < r.ci_hi
    assert r.test == "mcnemar" and r.p_value > 0.05
    assert r.verdict == "no change" and "within noise" in r.reason
    junit = tmp_path / "j.xml"
    assert compare_main([str(b), str(c), "--junit", str(junit)]) == 0
    root, cases = _junit(junit)
    assert root.get("failures") == "0" and not root.findall(".//failure")


def _side(scores: np.ndarray) -> Side:
    n, k = scores.shape
    frame = pd.DataFrame({"sample_id": np.repeat([f"p{i}" for i in range(n)], k), "repeat": np.tile(range(k), n),
                          "score": scores.ravel()})
    return Side(frame=frame)


def test_pure_noise_fails_the_gate_at_most_alpha_of_the_time():
    """Reruns of one model (the same chance per problem, new draws) must rarely fail the gate, also in sweeps."""
    rng = np.random.default_rng(0)
    th = Thresholds(min_drop=0.0, bootstrap=0)  # only the test decides: its false-alarm rate is what is checked
    p = np.clip(rng.beta(2, 2, N) + 0.2, 0, 1)[:, None]  # problems of varied difficulty

    def draw() -> Side:
        return _side((rng.random((N, K)) < p).astype(float))

    single = [compare_sides({("s", "high"): draw()}, {("s", "high"): draw()}, th)[0] for _ in range(200)]
    assert sum(r.verdict == "regressed" for r in single) / len(single) <= 0.05
    efforts = [(f"s{i}", "high") for i in range(6)]  # a sweep: 6 suite x effort groups

    def family_fails(correction: str) -> float:
        th_c = Thresholds(min_drop=0.0, bootstrap=0, correction=correction)
        fails = [any(r.failed for r in compare_sides({g: draw() for g in efforts}, {g: draw() for g in efforts},
                                                     th_c)) for _ in range(100)]
        return sum(fails) / len(fails)

    holm_rate, raw_rate = family_fails("holm"), family_fails("none")
    assert holm_rate <= 0.05 < raw_rate  # without the correction a sweep fails on noise far more often


def test_holm_correction_over_groups(tmp_path, base_scores):
    for effort in ("low", "medium", "high"):
        make_run(tmp_path / "base", scores=base_scores, effort=effort, seed=1)
        make_run(tmp_path / "cand", scores=_flip(base_scores, 11, 2) if effort == "low" else base_scores,
                 effort=effort, seed=2)
    results = {r.effort: r for r in compare(tmp_path / "base", tmp_path / "cand")}
    low = results["low"]
    assert low.diff == pytest.approx(-100 * 9 / (N * K)) and 0.0167 < low.p_value < 0.05
    assert low.p_adjusted == pytest.approx(3 * low.p_value)  # Holm: the smallest of 3 p-values x 3
    assert low.verdict == "no change" and "Holm over 3 groups" in low.reason
    assert compare_main([str(tmp_path / "base"), str(tmp_path / "cand")]) == 0
    [alone] = [r for r in compare(tmp_path / "base", tmp_path / "cand", Thresholds(correction="none"))
               if r.effort == "low"]
    assert alone.verdict == "regressed"
    assert compare_main([str(tmp_path / "base"), str(tmp_path / "cand"), "--correction", "none"]) == 1


def test_partial_credit_uses_the_sign_flip_test(tmp_path):
    base = np.ones((20, 4))
    base[:, 2:] = 0.5  # half the attempts get half credit
    cand = base.copy()
    cand[:, 2:] = 0.0  # ... and lose it: no attempt changes between "full credit" and not
    b, c = _runs(tmp_path, base, cand)
    [r] = compare(b, c)
    assert (r.losses, r.gains) == (0, 0)  # McNemar would see nothing
    assert r.test == "sign-flip" and r.p_value < 0.001
    assert r.diff == pytest.approx(-25.0) and r.verdict == "regressed"


def test_improvement_is_reported_and_passes(tmp_path, base_scores, capsys):
    base, cand = _runs(tmp_path, base_scores, _flip(base_scores, 0, 24))
    assert compare_main([str(base), str(cand)]) == 0
    out = capsys.readouterr().out
    assert "**PASS**: 0 regressed, 1 improved" in out and "🟢 improved" in out
    [r] = compare(base, cand)
    assert r.verdict == "improved" and r.diff == pytest.approx(10.0) and r.ci_lo > 0


def test_small_but_significant_change_is_below_the_threshold(tmp_path, base_scores):
    base, cand = _runs(tmp_path, base_scores, _flip(base_scores, 6, 0))
    [r] = compare(base, cand, Thresholds(min_drop=3.0, alpha=0.05))
    assert r.diff == pytest.approx(-2.5) and r.p_value < 0.05
    assert r.verdict == "no change" and "< 3 points" in r.reason
    [strict] = compare(base, cand, Thresholds(min_drop=2.0))
    assert strict.verdict == "regressed"


def test_missing_suite_fails_and_card_range_is_flagged(tmp_path, base_scores):
    low = np.zeros((N, K))
    low[:, :2] = 1.0  # 25%, far below the card's 50.4 at low effort
    make_run(tmp_path / "base", scores=base_scores, effort="low", seed=1)
    make_run(tmp_path / "base", scores=base_scores, effort="high", seed=1)
    make_run(tmp_path / "cand", scores=low, effort="low", seed=2)
    results = {r.effort: r for r in compare(tmp_path / "base", tmp_path / "cand")}
    assert results["high"].verdict == "missing"
    assert results["low"].card == 50.4 and "below the model card" in results["low"].card_flag
    junit = tmp_path / "j.xml"
    assert compare_main([str(tmp_path / "base"), str(tmp_path / "cand"), "--junit", str(junit)]) == 1
    _, cases = _junit(junit)
    card_case = cases["gptoss.compare.aime2025 :: low model card range"]
    assert card_case.find("failure") is None and "WARNING" in card_case.find("system-out").text
    assert cases["gptoss.compare.aime2025 :: high regression gate"].find("failure").get("type") == "missing"


def test_card_flag_fails_only_when_asked(tmp_path, base_scores):
    low = np.zeros((N, K))
    low[:, :2] = 1.0
    base, cand = _runs(tmp_path, low, low, effort="low")
    assert compare_main([str(base), str(cand)]) == 0
    junit = tmp_path / "j.xml"
    assert compare_main([str(base), str(cand), "--fail-on-card", "--junit", str(junit)]) == 1
    _, cases = _junit(junit)
    assert cases["gptoss.compare.aime2025 :: low model card range"].find("failure").get("type") == "card-range"


def test_pairs_only_common_samples_and_uneven_repeats(tmp_path):
    base = np.ones((10, 4))
    cand = np.ones((12, 2))
    cand[0, :] = 0.0
    b, c = _runs(tmp_path, base, cand)
    [r] = compare(b, c)
    assert r.n_pairs == 10 and r.only_cand == 2 and r.only_base == 0
    assert (r.losses, r.gains) == (2, 0)  # sample p0: two attempt pairs (the candidate has 2 repeats)
    assert r.diff == pytest.approx(-10.0)


def test_statistics_helpers():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(10, 10) == pytest.approx(1.0)
    assert mcnemar_exact(24, 0) == pytest.approx(2 * 0.5 ** 24)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert sign_flip_test(np.zeros(5)) == 1.0
    assert sign_flip_test(np.full(8, -0.5)) == pytest.approx(2 / 2 ** 8)  # exact: all 2^8 sign patterns
    d = np.array([0.0, 10.0, -5.0, 20.0, 0.0, 5.0])
    lo1, hi1 = paired_bootstrap_ci(d, 2000, seed=3)
    assert (lo1, hi1) == paired_bootstrap_ci(d, 2000, seed=3)  # seeded: the same interval every time
    assert lo1 < d.mean() < hi1
    base = pd.DataFrame({"sample_id": ["a", "a", "b"], "repeat": [1, 0, 0], "score": [0.0, 1.0, 1.0]})
    cand = pd.DataFrame({"sample_id": ["a", "a", "b"], "repeat": [0, 1, 0], "score": [0.0, 1.0, 0.0]})
    assert discordant_pairs(base, cand, ["a", "b"]) == (2, 1)


def test_module_cli_exit_codes(tmp_path, base_scores):
    base, cand = _runs(tmp_path, base_scores, _flip(base_scores, 24, 0))
    run = [sys.executable, "-m", "reports.compare"]
    proc = subprocess.run([*run, str(base), str(cand), "--min-drop", "3", "--alpha", "0.05"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "regressed" in proc.stdout
    proc = subprocess.run([*run, str(base), str(cand), "--min-drop", "15"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0
    proc = subprocess.run([*run, str(tmp_path / "nothing"), str(cand)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "no baseline runs" in proc.stderr
