"""Problem loading and normalization."""

from __future__ import annotations

import json
import sys
import types

import pytest

from tasks.codeforces.problems import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIME_LIMIT_S,
    ProblemDataError,
    load_codecontests_jsonl,
    load_openr1_codeforces,
    load_problems,
    load_problems_jsonl,
)


def test_cf300_loads_with_defaults_and_counts_interactive(cf300):
    s = cf300.summary()
    assert s["problems"] + s["skipped_interactive"] + s["excluded"] == 300
    assert sorted(cf300.skipped_interactive) == ["1534E", "680C"]
    p = cf300.by_id()["762A"]
    assert p.contest == 762 and p.index == "A" and p.rating is None
    assert (p.time_limit_s, p.memory_mb, p.limits_defaulted) == (DEFAULT_TIME_LIMIT_S, DEFAULT_MEMORY_MB, True)
    assert len(p.tests) == 10 and {"input", "output"} == set(p.tests[0])
    assert sum(q.rating is not None for q in cf300) >= 100
    assert any(q.multiple_answers for q in cf300)


def test_generic_jsonl_and_exclusions(tmp_path):
    f = tmp_path / "p.jsonl"
    rows = [
        {"id": "1A", "rating": 1000, "statement": "s", "time_limit_s": 1, "memory_mb": 64,
         "tests": [{"input": "1", "output": "1"}], "checker": "print()"},
        {"id": "1B", "tests": [{"input": "1", "output": "1"}]},
        {"id": "1C", "tests": []},
        {"id": "1D", "interactive": True, "tests": [{"input": "1", "output": "1"}]},
        {"id": "1E", "tests": "[{'input': '2', 'output': '4'}]"},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    ps = load_problems_jsonl(f)
    by = ps.by_id()
    assert set(by) == {"1A", "1B", "1E"}
    assert by["1A"].contest == 1 and by["1A"].time_limit_s == 1.0 and not by["1A"].limits_defaulted
    assert by["1A"].checker == "print()"
    assert by["1B"].limits_defaulted and by["1B"].memory_mb == 256
    assert by["1E"].tests == [{"input": "2", "output": "4"}]
    assert ps.excluded == {"1C": "no tests"} and ps.skipped_interactive == ["1D"]
    assert load_problems(f).by_id().keys() == by.keys()


def test_autodetects_codecontests_shape(tmp_path):
    f = tmp_path / "cc.jsonl"
    f.write_text(json.dumps({"problem_id": "5A", "contest_id": 5, "cf_rating": 800, "statement": "x",
                             "tests": [{"input": "1", "output": "2"}], "suspected_interactive": False}) + "\n")
    p = load_problems(f).problems[0]
    assert (p.id, p.rating, p.limits_defaulted, p.source) == ("5A", 800, True, "codecontests")


def test_bad_files_raise_clear_errors(tmp_path):
    with pytest.raises(ProblemDataError, match="no such file"):
        load_problems(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1A", "tests": []}\nnot json\n')
    with pytest.raises(ProblemDataError, match=r"bad.jsonl:2"):
        load_problems_jsonl(bad)
    bad.write_text('{"problem_id": "1A", "tests": [{"input": "1"}]}\n')
    with pytest.raises(ProblemDataError, match="input' and 'output"):
        load_codecontests_jsonl(bad)


def _fake_datasets(monkeypatch, rows=None, exc=None):
    mod = types.ModuleType("datasets")

    def load_dataset(name, config, split, **kw):
        if exc:
            raise exc
        return rows

    mod.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", mod)


def test_openr1_column_mapping(monkeypatch):
    base = {"contest_id": "2000", "index": "A", "time_limit": 1.5, "memory_limit": 512.0, "title": "T",
            "description": "D", "input_format": "I", "output_format": "O", "interaction_format": None,
            "note": None, "examples": [{"input": "1", "output": "1"}], "rating": 1200, "tags": ["math"],
            "official_tests": [{"input": "1", "output": "1"}], "official_tests_complete": True,
            "input_mode": "stdio", "generated_checker": None}
    rows = [
        {**base, "id": "2000A"},
        {**base, "id": "2000B", "interaction_format": "talk to the jury"},
        {**base, "id": "2000C", "official_tests_complete": False},
        {**base, "id": "2000D", "official_tests": []},
        {**base, "id": "2000E", "input_mode": "file"},
        {**base, "id": "2000F", "generated_checker": "import sys\nsys.exit(0)", "time_limit": None},
    ]
    _fake_datasets(monkeypatch, rows)
    ps = load_openr1_codeforces()
    by = ps.by_id()
    assert set(by) == {"2000A", "2000F"}
    a = by["2000A"]
    assert (a.contest, a.rating, a.time_limit_s, a.memory_mb, a.name) == (2000, 1200, 1.5, 512, "T")
    assert "D" in a.statement and "Input\n\nI" in a.statement and not a.limits_defaulted
    assert by["2000F"].checker and by["2000F"].limits_defaulted and by["2000F"].checker_kind == "openr1"
    assert a.checker_kind is None and a.checker_contract is None
    assert ps.skipped_interactive == ["2000B"]
    assert set(ps.excluded) == {"2000C", "2000D", "2000E"}


def test_openr1_unreachable_hub_is_a_clear_error(monkeypatch):
    _fake_datasets(monkeypatch, exc=ConnectionError("offline"))
    with pytest.raises(ProblemDataError, match="cannot load 'open-r1/codeforces'.*load_problems_jsonl"):
        load_openr1_codeforces()


# --- open-r1 generated tests -------------------------------------------------------------------------------------

def _hub_row(pid: str, **kw) -> dict:
    """A row with the columns of open-r1/codeforces' default config (dataset card), ``generated_tests`` a count."""
    contest, index = pid.split("/")
    row = {"id": pid, "aliases": None, "contest_id": contest, "contest_name": "Round", "contest_type": "CF",
           "contest_start": 1700000000, "contest_start_year": 2023, "index": index, "time_limit": 1.0,
           "memory_limit": 256.0, "title": f"Problem {index}", "description": "Add one.", "input_format": "n",
           "output_format": "n+1", "interaction_format": None, "note": None,
           "examples": [{"input": "1\n", "output": "2\n"}], "editorial": None, "rating": 800, "tags": ["math"],
           "testset_size": 4, "official_tests": [{"input": "1\n", "output": "2\n"}], "official_tests_complete": True,
           "input_mode": "stdio", "generated_checker": None, "executable": True, "generated_tests": 0}
    row.update(kw)
    return row


def _shard(path, rows: list[tuple[str, int, str, str]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"problem_id": [r[0] for r in rows], "test_i": [r[1] for r in rows],
                             "input": [r[2] for r in rows], "output": [r[3] for r in rows]}), path)


def test_openr1_generated_tests_from_a_local_copy(monkeypatch, tmp_path):
    gen = tmp_path / "mirror"
    # contest files are named with 4-digit contest ids; rows within a file are not in test order
    _shard(gen / "generated_tests" / "test_cases_2000.parquet",
           [("2000/A", 2, "30\n", "31\n"), ("2000/A", 0, "10\n", "11\n"), ("2000/A", 1, "20\n", "21\n"),
            ("2000/B", 0, "5\n", "6\n")])
    _shard(gen / "generated_tests" / "test_cases_0067.parquet", [("67/A", 0, "7\n", "8\n")])
    rows = [
        _hub_row("2000/A", generated_tests=3),
        _hub_row("2000/B", generated_tests=1, official_tests_complete=False),  # kept: generated tests complete it
        _hub_row("2000/C", generated_tests=2, official_tests_complete=False),  # its tests are not in the file
        _hub_row("67/A", generated_tests=1),
        _hub_row("2001/A", generated_tests=5),  # no file for contest 2001 in the copy: official tests only
        _hub_row("2002/A", generated_tests=[{"input": "9\n", "output": "10\n"}]),  # a row that holds them itself
    ]
    _fake_datasets(monkeypatch, rows)
    ps = load_openr1_codeforces(generated_tests_dir=gen)
    by = ps.by_id()
    assert [t["input"] for t in by["2000/A"].tests] == ["1\n", "10\n", "20\n", "30\n"]  # official first, in order
    assert [t["output"] for t in by["2000/B"].tests] == ["2\n", "6\n"]
    assert [t["input"] for t in by["67/A"].tests] == ["1\n", "7\n"]
    assert [t["input"] for t in by["2002/A"].tests] == ["1\n", "9\n"]
    assert len(by["2001/A"].tests) == 1 and ps.generated_missing == ["2001/A"]
    assert ps.excluded == {"2000/C": "official tests incomplete and generated tests not loaded "
                                     "(suite.generated_tests_dir)"}
    assert ps.summary()["generated_tests_missing"] == 1

    _fake_datasets(monkeypatch, rows)  # without the copy: official tests only, and it says so
    ps = load_openr1_codeforces()
    assert set(ps.by_id()) == {"2000/A", "67/A", "2001/A", "2002/A"}
    assert ps.generated_missing == ["2000/A", "67/A", "2001/A"] and "2000/B" in ps.excluded

    # the task carries it into the run's data summary (manifest) and the report
    from tasks.codeforces.task import CodeforcesTask

    _fake_datasets(monkeypatch, rows)
    data = CodeforcesTask(generated_tests_dir=str(gen)).data_summary()
    assert data["generated_tests_missing"] == ["2001/A"] and data["problems"] == 5


def test_openr1_generated_tests_bad_copy_is_a_clear_error(monkeypatch, tmp_path):
    _fake_datasets(monkeypatch, [_hub_row("2000/A", generated_tests=1)])
    with pytest.raises(ProblemDataError, match="generated_tests_dir=.* is not a directory"):
        load_openr1_codeforces(generated_tests_dir=tmp_path / "nope")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"problem_id": ["2000/A"], "stdin": ["1"]}), tmp_path / "test_cases_2000.parquet")
    with pytest.raises(ProblemDataError, match=r"test_cases_2000.parquet: missing column\(s\) input, output"):
        load_openr1_codeforces(generated_tests_dir=tmp_path)
