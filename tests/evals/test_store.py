from __future__ import annotations

import pytest

from evals.store import RunStore, StoreError
from evals.types import Attempt, Grade


def _attempt(i: int) -> Attempt:
    return Attempt(key=f"s{i}#0", run_id="r", suite="aime", sample_id=f"s{i}", repeat=0, seed=i, effort="low",
                   model="m", transport="chat", settings_hash="h", status="ok", output={"final": "1"},
                   transcript=[], usage={"completion_tokens": 3}, n_calls=1, started_at=0, ended_at=1, latency_s=1)


def test_a_torn_last_line_is_skipped_then_cut_before_the_next_append(tmp_path):
    store = RunStore(tmp_path)
    for i in range(3):
        store.append(_attempt(i), Grade(key=f"s{i}#0", score=1.0))
    store.close()
    with open(store.attempts_path, "a") as fh:
        fh.write('{"key": "s3#0", "run_id": "r", "sui')  # killed mid-write
    assert sorted(store.attempts()) == ["s0#0", "s1#0", "s2#0"]
    store.open_for_append()
    assert store.dropped_bytes > 0
    store.append(_attempt(3), Grade(key="s3#0", score=0.0))
    store.close()
    assert sorted(store.attempts()) == ["s0#0", "s1#0", "s2#0", "s3#0"]
    assert store.grades()["s3#0"].score == 0.0
    assert all(line.startswith("{") for line in store.attempts_path.read_text().splitlines())


def test_mixing_settings_in_one_store_is_refused(tmp_path):
    store = RunStore(tmp_path)
    manifest = store.begin({"settings_hash": "aaa", "suite": "x"})
    store.end(manifest, "finished")
    with pytest.raises(StoreError, match="other settings"):
        store.begin({"settings_hash": "bbb", "suite": "x"})
    again = store.begin({"settings_hash": "aaa", "suite": "x"})
    assert [s["status"] for s in again["sessions"]] == ["finished", "running"]


def test_rewrite_grades_replaces_all(tmp_path):
    store = RunStore(tmp_path)
    store.append(_attempt(0), Grade(key="s0#0", score=0.0))
    store.close()
    store.rewrite_grades([Grade(key="s0#0", score=1.0, reason="fixed grader")])
    assert store.grades()["s0#0"].reason == "fixed grader"


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        RunStore(tmp_path).read_manifest()


def test_a_damaged_line_in_the_middle_is_a_clear_error_not_a_silent_skip(tmp_path):
    store = RunStore(tmp_path)
    for i in range(3):
        store.append(_attempt(i), Grade(key=f"s{i}#0", score=1.0))
    store.close()
    lines = store.attempts_path.read_text().splitlines()
    lines[1] = lines[1][:1] + "#garbage#" + lines[1][1:]  # right after the opening brace: never inside a string
    store.attempts_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StoreError, match=r"attempts.jsonl:2 is not valid JSON"):
        store.attempts()


def test_a_broken_complete_last_line_is_dropped_like_a_torn_one(tmp_path):
    store = RunStore(tmp_path)
    store.append(_attempt(0), Grade(key="s0#0", score=1.0))
    store.close()
    with open(store.attempts_path, "a") as fh:
        fh.write('{"key": "s1#0", "bro\n')
    assert list(store.attempts()) == ["s0#0"]


def test_resume_after_a_broken_last_line_keeps_the_store_readable(tmp_path):
    store = RunStore(tmp_path)
    store.append(_attempt(0), Grade(key="s0#0", score=1.0))
    store.close()
    with open(store.attempts_path, "a") as fh:
        fh.write('{"key": "s1#0", "bro\n')
    store.open_for_append()
    store.append(_attempt(1), Grade(key="s1#0", score=1.0))
    store.close()
    assert sorted(store.attempts()) == ["s0#0", "s1#0"]


def test_a_torn_multi_megabyte_line_is_cut_at_its_start(tmp_path):
    store = RunStore(tmp_path)
    store.append(_attempt(0), Grade(key="s0#0", score=1.0))
    store.close()
    with open(store.attempts_path, "a") as fh:
        fh.write('{"key": "s1#0", "transcript": "' + "x" * (3 << 20))  # killed while writing a huge line
    store.open_for_append()
    store.append(_attempt(1), Grade(key="s1#0", score=1.0))
    store.close()
    assert sorted(store.attempts()) == ["s0#0", "s1#0"]


def test_a_last_line_of_nul_bytes_is_cut_like_a_torn_one(tmp_path):
    # what a power cut can leave behind on some file systems: the file's end filled with zeros
    store = RunStore(tmp_path)
    store.append(_attempt(0), Grade(key="s0#0", score=1.0))
    store.close()
    with open(store.attempts_path, "ab") as fh:
        fh.write(b"\x00" * 300 + b"\n")
    assert list(store.attempts()) == ["s0#0"]
    store.open_for_append()
    store.append(_attempt(1), Grade(key="s1#0", score=1.0))
    store.close()
    assert sorted(store.attempts()) == ["s0#0", "s1#0"]


@pytest.mark.parametrize("line", ['{"hello": "world"}', "[1, 2]", "42"])
def test_a_json_line_that_is_not_an_attempt_is_damage_with_its_line_number(tmp_path, line):
    store = RunStore(tmp_path)
    for i in range(3):
        store.append(_attempt(i), Grade(key=f"s{i}#0", score=1.0))
    store.close()
    lines = store.attempts_path.read_text().splitlines()
    lines[1] = line
    store.attempts_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StoreError, match=r"attempts.jsonl:2 is not a stored attempt"):
        store.attempts()
    assert sorted(store.attempts(strict=False)) == ["s0#0", "s2#0"]  # readers that write nothing skip it
