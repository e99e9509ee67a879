"""Codeforces report metrics from constructed run stores (no model, no sandbox)."""

from __future__ import annotations

import json
import math

import pytest

from evals.metrics import pass_at_k
from evals.store import RunStore
from evals.types import Attempt, Grade
from tasks.codeforces.metrics import codeforces_metrics, codeforces_section
from tasks.codeforces.rating import estimate_rating


def _store(tmp_path, name: str, rows: list[tuple[str, int | None, list[str]]], *, card_key="codeforces_elo",
           effort="medium", statuses: dict[str, str] | None = None, suite_cfg: dict | None = None,
           checkers: dict[str, str | None] | None = None) -> RunStore:
    """rows: (problem id, rating, verdict per repeat); verdict "INFRA" marks an infra_error grade. checkers:
    problem id -> the checker kind its grades record (None: none, token comparison); not given: an older run
    whose grades do not record it."""
    store = RunStore(tmp_path / name)
    repeats = max(len(v) for _, _, v in rows)
    store.write_manifest({
        "suite": "codeforces", "model": "gpt-oss-120b", "card": "gpt-oss-120b", "card_key": card_key,
        "effort": effort, "repeats": repeats, "config": {"suite": suite_cfg or {}},
        "settings": {"task": {"language": "cpp", "source": "x.jsonl", "default_time_limit_s": 2.0,
                              "default_memory_mb": 256,
                              "data": {"problems": len(rows) + 1, "limits_defaulted": len(rows),
                                       "skipped_interactive": ["9I"],
                                       "excluded": {"9I": "interactive (not supported)", "8X": "no tests"}}}}})
    statuses = statuses or {}
    for pid, rating, verdicts in rows:
        for r, v in enumerate(verdicts):
            key = f"{pid}#{r}"
            status = statuses.get(key, "ok")
            a = Attempt(key=key, run_id="r", suite="codeforces", sample_id=pid, repeat=r, seed=r, effort=effort,
                        model="gpt-oss-120b", transport="chat", settings_hash="h", status=status, output={},
                        transcript=[], usage={}, n_calls=1, started_at=0.0, ended_at=0.0, latency_s=0.0,
                        info={"rating": rating, "limits_defaulted": True})
            if status != "ok":
                g = Grade(key=key, score=0.0, reason=status)  # what the engine writes: no details
            elif v == "EXCLUDED":  # what the task writes when the problem's checker does not compile
                g = Grade(key=key, score=None, answer=v, details={
                    "verdict": v, "rating": rating, "infra_error": False, "excluded": "checker does not compile"})
            else:
                g = Grade(key=key, score=float(v == "AC"), answer=v, details={
                    "verdict": v, "rating": rating, "infra_error": v == "INFRA",
                    **({"checker": checkers.get(pid)} if checkers is not None else {})})
            store.append(a, g)
    store.close()
    return store


def test_rating_pass_k_and_verdicts(tmp_path):
    # 12 rated problems 800..3000, 4 repeats: easy ones solved, hard ones not, the middle partly
    rows = []
    for i, d in enumerate(range(800, 3001, 200)):
        solved = 4 if d <= 1400 else 2 if d <= 1800 else 1 if d == 2000 else 0
        vs = ["AC"] * solved + ["WA", "TLE", "RE", "CE"][: 4 - solved]
        rows.append((f"{i + 1}A", d, vs))
    rows.append(("99Z", None, ["AC", "AC", "WA", "NO_CODE"]))  # unrated: in pass@k, not in the Elo
    store = _store(tmp_path, "run", rows, statuses={"99Z#3": "truncated"})
    m = codeforces_metrics(store.root)

    expected = estimate_rating([(d, sum(v == "AC" for v in vs), 4) for _, d, vs in rows if d is not None])
    assert m["rating"]["elo"] == pytest.approx(expected.rating, abs=0.5)
    assert m["rating"]["se"] == pytest.approx(expected.se, rel=1e-6)
    assert m["rating"]["method"] == "random_effect" and m["rating"]["difficulty_sd"] == expected.difficulty_sd
    assert 1400 < m["rating"]["elo"] < 2200 and m["rating"]["ci95"][0] < m["rating"]["elo"] < m["rating"]["ci95"][1]
    assert m["rated_problems"] == 12 and m["judged_problems"] == 13 and m["repeats"] == 4
    assert set(m["pass_k"]) == {"pass@1", "pass@2", "pass@4"}
    counts = [sum(v == "AC" for v in vs) for _, _, vs in rows]
    assert m["pass@1"]["mean"] == pytest.approx(100 * sum(c / 4 for c in counts) / 13)
    assert m["pass_k"]["pass@2"]["mean"] == pytest.approx(100 * sum(pass_at_k(4, c, 2) for c in counts) / 13)
    assert m["pass@1"]["ci_lo"] < m["pass@1"]["mean"] < m["pass@1"]["ci_hi"]

    v = {k: x["count"] for k, x in m["verdicts"].items()}
    assert v == {"AC": sum(counts), "WA": 9, "TLE": 8, "RE": 6, "CE": 5, "no answer (truncated)": 1}
    assert list(m["verdicts"])[:2] == ["AC", "WA"]
    assert sum(x["percent"] for x in m["verdicts"].values()) == pytest.approx(100)
    assert m["card_elo"] == 2205 and m["delta_vs_card"] == pytest.approx(m["rating"]["elo"] - 2205)
    easy = next(b for b in m["buckets"] if b["bucket"] == "800-1199")
    assert easy["n_problems"] == 2 and easy["solve_rate"] == 100.0
    d = m["data"]
    assert (d["skipped_interactive"], d["excluded"], d["limits_defaulted"]) == (1, 1, 13)
    assert d["excluded_reasons"] == {"no tests": 1}


def test_infra_errors_are_excluded_not_failures(tmp_path):
    clean = _store(tmp_path, "clean", [("1A", 1200, ["AC", "WA"]), ("2A", 1600, ["WA", "WA"])])
    noisy = _store(tmp_path, "noisy", [("1A", 1200, ["AC", "INFRA", "WA"]), ("2A", 1600, ["WA", "WA", "INFRA"]),
                                       ("3A", 800, ["INFRA", "INFRA", "INFRA"])])
    a, b = codeforces_metrics(clean.root), codeforces_metrics(noisy.root)
    assert b["rating"]["elo"] == pytest.approx(a["rating"]["elo"])
    assert b["pass@1"]["mean"] == pytest.approx(a["pass@1"]["mean"]) == 25.0
    assert b["infra_errors"] == 5 and b["infra_only_problems"] == ["3A"] and b["verdicts"]["INFRA"]["count"] == 5
    assert "5 attempts excluded (1 problems had no judged attempt)" in codeforces_section([noisy.root])


def test_percentile_needs_a_histogram(tmp_path):
    store = _store(tmp_path, "run", [("1A", 1200, ["AC"]), ("2A", 2000, ["WA"])], effort="low")
    m = codeforces_metrics(store.root)
    assert m["percentile"]["percentile"] is None and "no human rating histogram" in m["percentile"]["message"]
    hist = tmp_path / "h.json"
    hist.write_text(json.dumps({"source": "test", "n_users": 4, "histogram": {"1000": 1, "1500": 2, "3000": 1}}))
    m = codeforces_metrics(store.root, histogram=hist)
    elo = m["rating"]["elo"]
    assert 1200 < elo < 2000
    assert m["percentile"]["percentile"] == pytest.approx(100 * (1 + 2 * (elo > 1500)) / 4)
    cfg = _store(tmp_path, "cfg", [("1A", 1200, ["AC"])], suite_cfg={"human_histogram": str(hist)})
    assert codeforces_metrics(cfg.root)["percentile"]["percentile"] is not None  # from suite.human_histogram
    bad = codeforces_metrics(store.root, histogram=tmp_path / "missing.json")
    assert bad["percentile"]["percentile"] is None and "cannot read" in bad["percentile"]["message"]


def test_section_lists_only_codeforces_runs(tmp_path):
    _store(tmp_path, "cf", [("1A", 1200, ["AC", "AC"]), ("2A", 1900, ["WA", "AC"])], effort="high")
    _store(tmp_path, "aime", [("p1", None, ["AC"])], card_key="aime2025")
    section = codeforces_section([tmp_path])
    assert section.startswith("## Codeforces")
    assert "not a contest simulation" in section and section.count("| gpt-oss-120b | high |") == 1
    assert "| 2463 |" in section  # the card's high-effort Elo beside ours
    assert "per-problem difficulty offset" in section and "profile-likelihood interval" in section  # the method
    assert "| verdict | attempts | % |" in section and "| AC | 3 | 75.0 |" in section
    assert codeforces_section([tmp_path / "aime"]) == ""
    empty = _store(tmp_path, "unrated", [("1A", None, ["AC"])])
    m = codeforces_metrics(empty.root)
    assert m["rating"] is None and "no rated problems" in m["percentile"]["message"]
    assert not math.isnan(m["pass@1"]["mean"])


def test_problem_excluded_at_grading_is_counted_with_the_exclusions(tmp_path):
    clean = _store(tmp_path, "clean", [("1A", 1200, ["AC", "WA"]), ("2A", 1600, ["WA", "WA"])])
    mixed = _store(tmp_path, "mixed", [("1A", 1200, ["AC", "WA"]), ("2A", 1600, ["WA", "WA"]),
                                       ("5C", 1400, ["EXCLUDED", "EXCLUDED"])],
                   statuses={"5C#1": "truncated"})  # even an attempt that never reached the judge is left out
    a, b = codeforces_metrics(clean.root), codeforces_metrics(mixed.root)
    assert b["pass@1"]["mean"] == pytest.approx(a["pass@1"]["mean"]) and b["rating"]["elo"] == pytest.approx(
        a["rating"]["elo"])
    assert b["judged_problems"] == 2 and b["infra_errors"] == 0 and "EXCLUDED" not in b["verdicts"]
    assert b["data"]["excluded"] == 2  # "8X" (no tests, at load) and "5C"
    assert b["data"]["excluded_reasons"] == {"no tests": 1, "checker does not compile": 1}
    assert "2 otherwise excluded (checker does not compile: 1, no tests: 1)" in codeforces_section([mixed.root])


def test_section_names_the_card_row_each_run_is_compared_with(tmp_path):
    plain = _store(tmp_path, "plain", [("1A", 1200, ["AC"])], effort="high")
    # each run's row names its tools, and the card value is that tools row's (the text says so once for all runs)
    plain_section = codeforces_section([plain.root])
    assert "| gpt-oss-120b | high | no tools | cpp |" in plain_section and "| 2463 |" in plain_section
    assert "from the card's row for the run's tools" in plain_section
    tools = _store(tmp_path, "tools", [("1A", 1200, ["AC"])], effort="high", card_key="codeforces_elo_tools")
    section = codeforces_section([tools.root])
    assert "| no tools |" not in section and "| 2463 |" not in section
    assert "| gpt-oss-120b | high | with python | cpp |" in section and "| 2622 |" in section
    both = codeforces_section([plain.root, tools.root])
    assert "as in each row's `tools` column" in both and "| high | no tools |" in both and "| 2463 |" in both


def test_section_warns_about_problems_judged_without_their_generated_tests(tmp_path):
    store = _store(tmp_path, "run", [("1A", 1200, ["AC"]), ("2A", 1600, ["WA"])])
    manifest = json.loads((store.root / "manifest.json").read_text())
    manifest["settings"]["task"]["data"]["generated_tests_missing"] = ["1A"]
    (store.root / "manifest.json").write_text(json.dumps(manifest))
    assert codeforces_metrics(store.root)["data"]["generated_tests_missing"] == 1
    assert "1 problems judged on their official tests only" in codeforces_section([store.root])
    assert "official tests only" not in codeforces_section([_store(tmp_path, "full", [("1A", 1200, ["AC"])]).root])


def test_problems_are_counted_by_the_checker_that_judged_them(tmp_path):
    rows = [("1A", 1200, ["AC", "WA"]), ("2A", 1600, ["WA", "WA"]), ("3B", 1500, ["AC", "AC"]),
            ("4C", 1900, ["INFRA", "INFRA"])]  # never judged: not counted
    kinds = {"1A": "openr1", "2A": "openr1", "3B": "testlib", "4C": "openr1"}
    m = codeforces_metrics(_store(tmp_path, "kinds", rows, checkers=kinds).root)
    assert m["checkers"] == {"judged_by_checker": 3, "by_kind": {"openr1": 2, "testlib": 1}, "unknown": 0}
    section = codeforces_section([tmp_path / "kinds"])
    assert "- checkers: 3 of 3 judged problems judged by a checker (openr1 2, testlib 1); the others by comparing " \
           "tokens" in section
    m = codeforces_metrics(_store(tmp_path, "tokens", rows[:2], checkers={"1A": None}).root)
    assert m["checkers"] == {"judged_by_checker": 0, "by_kind": {}, "unknown": 0}
    assert "- checkers: 0 of 2 judged problems judged by a checker; the others by comparing tokens" in \
        codeforces_section([tmp_path / "tokens"])
    old = _store(tmp_path, "old", rows[:2])  # graded before kinds were recorded: no line rather than a wrong one
    assert codeforces_metrics(old.root)["checkers"]["unknown"] == 2 and "- checkers:" not in codeforces_section(
        [old.root])
