"""The fast store reader of reports.summary gives exactly the frame (and summary) of the plain reader."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from evals.metrics import majority_vote
from evals.store import RunStore
from reports import summary
from reports.summary import _load_frame_fast, _load_frame_plain, _majority_correct, load_run, summarize
from tests.reports.fabricate import make_run


def _both(run_dir):
    store = RunStore(run_dir)
    return _load_frame_fast(store), _load_frame_plain(store)


def test_fast_reader_matches_plain_reader_on_a_clean_store(tmp_path):
    run = make_run(tmp_path, n_samples=12, repeats=3, tool_calls=True)
    fast, plain = _both(run)
    pd.testing.assert_frame_equal(fast, plain)
    assert len(fast) == 36 and fast.score.notna().all()


def _edit(path, fn):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(fn(lines)))


@pytest.mark.parametrize("case", ["torn_tail", "missing_grades", "duplicate_key", "bad_line", "blank_line",
                                  "int_answers_some_missing", "no_usage_field", "grade_bad_line", "escaped_ids",
                                  "info_lookalike", "odd_numbers", "list_answer", "empty", "other_key_order"])
def test_every_oddity_gives_the_plain_readers_frame(tmp_path, case):
    run = make_run(tmp_path, n_samples=6, repeats=2)
    attempts, grades = run / "attempts.jsonl", run / "grades.jsonl"
    if case == "torn_tail":
        attempts.write_text(attempts.read_text() + '{"key": "p9#0", "sample')
    elif case == "missing_grades":
        _edit(grades, lambda lines: lines[:5])
    elif case == "duplicate_key":
        _edit(attempts, lambda lines: lines + [lines[0].replace('"status": "ok"', '"status": "error"')])
    elif case == "bad_line":
        _edit(attempts, lambda lines: lines[:3] + ["{not json\n"] + lines[3:])
    elif case == "blank_line":
        _edit(attempts, lambda lines: lines[:3] + ["\n"] + lines[3:])
    elif case == "int_answers_some_missing":
        def to_int(lines):
            out = []
            for i, line in enumerate(lines):
                d = json.loads(line)
                d["answer"] = None if i % 4 == 0 else int(d["answer"])
                out.append(json.dumps(d) + "\n")
            return out
        _edit(grades, to_int)
    elif case == "no_usage_field":
        def drop(lines):
            d = json.loads(lines[0])
            del d["usage"]["reasoning_tokens"]
            return [json.dumps(d) + "\n"] + lines[1:]
        _edit(attempts, drop)
    elif case == "grade_bad_line":
        _edit(grades, lambda lines: lines[:2] + ["oops\n"] + lines[2:])
    elif case == "escaped_ids":
        def rename(lines):
            out = []
            for line in lines:
                d = json.loads(line)
                d["key"] = d["key"].replace("p", 'prob "é"\\/')
                if "sample_id" in d:
                    d["sample_id"] = d["sample_id"].replace("p", 'prob "é"\\/')
                out.append(json.dumps(d, ensure_ascii=bool(len(out) % 2)) + "\n")
            return out
        _edit(attempts, rename)
        _edit(grades, rename)
    elif case == "info_lookalike":
        def lookalike(lines):
            d = json.loads(lines[0])
            d["info"] = {"copy": {"usage": {"prompt_tokens": 1, "completion_tokens": 2, "reasoning_tokens": 3},
                                  "n_calls": 1, "started_at": 1.0, "ended_at": 2.0, "latency_s": 3.0, "ttft_s": 0}}
            return [json.dumps(d) + "\n"] + lines[1:]
        _edit(attempts, lookalike)
    elif case == "odd_numbers":
        def odd(lines):
            d = json.loads(lines[0])
            d["latency_s"], d["started_at"] = float("nan"), 1.75e9
            e = json.loads(lines[1])
            e["latency_s"] = 3
            return [json.dumps(d) + "\n", json.dumps(e) + "\n"] + lines[2:]
        _edit(attempts, odd)
        _edit(grades, lambda lines: [lines[0].replace('"score": 1.0', '"score": 1').replace('"score": 0.0', '"score": 0')]
              + lines[1:])
    elif case == "list_answer":
        _edit(grades, lambda lines: [json.dumps({**json.loads(lines[0]), "answer": [1, 2]}) + "\n"] + lines[1:])
    elif case == "empty":
        attempts.write_text("")
    elif case == "other_key_order":  # another writer (or a later release): keys reversed, no spaces, timing last
        def reorder(lines):
            out = []
            for line in lines:
                d = json.loads(line)
                if isinstance(d.get("info"), dict):
                    d["info"] = {**d["info"], "timing": {"tpot_s": 0.01, "itl_p50_s": 0.02, "itl_p95_s": 0.05},
                                 "stop_reason": "tool_limit"}
                out.append(json.dumps(dict(reversed(d.items())), separators=(",", ":")) + "\n")
            return out
        _edit(attempts, reorder)
        _edit(grades, reorder)
    plain = _load_frame_plain(RunStore(run))
    fast = load_run(run).frame
    pd.testing.assert_frame_equal(fast, plain)
    assert len(fast) == len(plain)
    if case == "other_key_order":
        assert fast.tpot_s.eq(0.01).all() and fast.tool_limit_hit.eq(1.0).all() and fast.score.notna().all()


def _majority_reference(graded: pd.DataFrame) -> list[float]:
    """The original per-group implementation."""
    maj = []
    for _, group in graded.groupby("sample_id"):
        vote = majority_vote(list(group.answer))
        maj.append(float(vote is not None and (group[group.answer == vote].score.max() == 1.0)))
    return maj


def test_majority_vote_rewrite_matches_the_per_group_original():
    frame = pd.DataFrame({
        "sample_id": ["a", "a", "a", "b", "b", "c", "c", "d", "d", "d"],
        "answer": ["1", "2", "1", None, None, "7", "8", "3", "3", "4"],
        "score": [0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.5, 1.0, 0.0],
    })
    assert sorted(_majority_correct(frame)) == sorted(_majority_reference(frame))
    numeric = frame.assign(answer=[1, 2, 1, math.nan, math.nan, 7, 8, 3, 3, 4])
    assert sorted(_majority_correct(numeric)) == sorted(_majority_reference(numeric))


def test_summary_is_unchanged_by_the_fast_paths(tmp_path, monkeypatch):
    run = make_run(tmp_path, n_samples=20, repeats=4, accuracy=0.6)
    fast = summarize(load_run(run))
    monkeypatch.setattr(summary, "_load_frame_fast", _load_frame_plain)
    monkeypatch.setattr(summary, "_majority_correct", _majority_reference)
    plain = summarize(load_run(run))
    assert fast.keys() == plain.keys()
    for k in fast:
        a, b = fast[k], plain[k]
        if isinstance(a, float) and math.isnan(a):
            assert isinstance(b, float) and math.isnan(b), k
        else:
            assert a == b, k
