from __future__ import annotations

import json

import pytest

from evals.types import Attempt
from tasks.aime import PROMPT, AimeTask, extract_answer

# Final-channel texts as gpt-oss and other reasoning models really write them, with the integer a human
# grader would read off (None: no integer answer was given).
FINALS = [
    (r"The answer is $\boxed{204}$.", 204),
    (r"\boxed{\text{204}}", 204),
    (r"$\boxed{\textbf{204}}$", 204),
    ("**Answer: 204**", 204),
    ("**Answer: 204**\n\nExplanation: there are 3 cases; case 2 gives 17 arrangements and case 3 gives 51.", 204),
    ("**Answer:** 204", 204),
    ("Answer: 204.", 204),
    ("Final answer: 073", 73),
    (r"So the answer is \boxed{025}.", 25),
    (r"\boxed{1,000}", 1000),
    (r"\boxed{1{,}000}", 1000),
    (r"\boxed{1\,000}", 1000),
    ("The answer is 1,000.", 1000),
    ("The answer is 100.\n\nWait, that double counts. Correction: the answer is 204.", 204),
    (r"First I get \boxed{100}, but rechecking the second case gives \boxed{204}.", 204),
    (r"\fbox{33}", 33),
    (r"\framebox{\textbf{33}}", 33),
    (r"Hence $m+n = \boxed{m+n=116}$", 116),
    (r"\boxed{m + n = 116}", 116),
    (r"\boxed{\dfrac{1}{2}}", None),
    (r"\boxed{\frac{3}{4}}", None),
    (r"\boxed{45^\circ}", 45),
    (r"\boxed{45^{\circ}}", 45),
    (r"\boxed 7", 7),
    (r"$\boxed{\text{(B) } 12}$", 12),
    (r"\[ \boxed{ 588 } \]", 588),
    (r"\boxed{\left( 17 \right)}", 17),
    ("204", 204),
    ("204.", 204),
    ("**204**", 204),
    ("$204$", 204),
    ("The final answer is $\\boxed{902}$. This matches the constraint that 0 <= N <= 999.", 902),
    ("I could not finish the computation.", None),
    ("", None),
    (None, None),
    (r"\boxed{}", None),
    (r"\boxed{12", 12),  # an unclosed box (truncated answer) still holds its number
    ("Thus the remainder when N is divided by 1000 is **321**.", 321),
    ("Answer: **080**", 80),
    (r"\boxed{0}", 0),
    (r"\boxed{-5}", -5),
    (r"\boxed{12.0}", 12),
    (r"\boxed{12.5}", None),
    (r"\boxed{2^{10}}", None),
    (r"**Answer: \boxed{468}**", 468),
    ("The answer is $\\boxed{\\mathbf{ 55 }}$", 55),
]


@pytest.mark.parametrize("text,expected", FINALS)
def test_extract_answer_reads_what_a_human_grader_reads(text, expected):
    assert extract_answer(text) == expected


def _attempt(final: str | None, status: str = "ok") -> Attempt:
    return Attempt(key="x#0", run_id="r", suite="aime2025", sample_id="x", repeat=0, seed=1, effort="low",
                   model="m", transport="chat", settings_hash="h", status=status,
                   output={"final": final, "analysis": "\\boxed{999} is what I first thought"}, transcript=[],
                   usage={}, n_calls=1, started_at=0, ended_at=1, latency_s=1)


def test_grade_reads_final_channel_only_and_compares_integers(tmp_path):
    task = AimeTask("aime2025", 2025, path=str(tmp_path / "x.jsonl"))
    (tmp_path / "x.jsonl").write_text(json.dumps({"id": "x", "problem": "p", "answer": "025"}) + "\n")
    sample = task.load()[0]
    assert sample.reference == 25
    assert task.grade(sample, _attempt(r"\boxed{25}")).score == 1.0
    wrong = task.grade(sample, _attempt(r"\boxed{26}"))
    assert wrong.score == 0.0 and wrong.answer == 26 and "expected 25" in wrong.reason
    # the analysis says 999; the final channel says nothing: no answer, not 999
    missing = task.grade(sample, _attempt(None))
    assert missing.score == 0.0 and missing.answer is None


def test_official_prompt():
    task = AimeTask("aime2025", 2025, path="unused")
    from evals.types import Sample

    msgs = task.prompt(Sample(id="1", input="Find x."))
    assert msgs == [{"role": "user", "content": "Find x.\nPlease reason step by step, and put your final answer "
                                                "within \\boxed{}."}]
    assert PROMPT.count("{problem}") == 1


@pytest.mark.parametrize("year", [2024, 2025])
def test_loads_the_real_aime_files(shared_data, year):
    task = AimeTask(f"aime{year}", year, path=str(shared_data / "aime" / f"aime_{year}.jsonl"))
    samples = task.load()
    assert len(samples) == 30
    assert all(isinstance(s.reference, int) and 0 <= s.reference <= 999 for s in samples)
    assert len({s.id for s in samples}) == 30


def test_limit_and_ids(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"question": f"q{i}", "Answer": i} for i in range(5)]))
    assert [s.input for s in AimeTask("a", 2024, path=str(path), limit=2).load()] == ["q0", "q1"]
    assert [s.reference for s in AimeTask("a", 2024, path=str(path), ids=["2024-3"]).load()] == [2]


def test_missing_local_file_is_a_clear_error(tmp_path):
    from evals.task import DataUnavailable

    with pytest.raises(DataUnavailable, match="does not exist"):
        AimeTask("a", 2024, path=str(tmp_path / "nope.jsonl")).load()


@pytest.mark.parametrize("layout", ["MathArena/aime_2025", "Maxwell-Jia/AIME_2024"])
def test_hub_path_maps_each_sources_columns(shared_data, tmp_path, monkeypatch, layout):
    """The `datasets` code path of the default config, on a local copy laid out as the hub repo (parquet
    under data/), with the columns each source really has (shared/data/aime/hf_sources.json)."""
    import pandas as pd

    rows = [json.loads(line) for line in (shared_data / "aime" / "aime_2025.jsonl").read_text().splitlines()]
    if layout == "MathArena/aime_2025":
        frame = pd.DataFrame({"problem_idx": range(1, 31), "problem": [r["problem"] for r in rows],
                              "answer": [int(r["answer"]) for r in rows]})
        cols = {"problem_col": "problem", "answer_col": "answer", "id_col": "problem_idx"}
    else:  # capitalised columns, string ids, answers as int
        frame = pd.DataFrame({"ID": [r["id"] for r in rows], "Problem": [r["problem"] for r in rows],
                              "Answer": [int(r["answer"]) for r in rows], "Solution": ""})
        cols = {"problem_col": "Problem", "answer_col": "Answer", "id_col": "ID"}
    repo = tmp_path / layout.replace("/", "__")
    (repo / "data").mkdir(parents=True)
    frame.to_parquet(repo / "data" / "train-00000-of-00001.parquet")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    samples = AimeTask("aime2025", 2025, hf_id=str(repo), hf_split="train", **cols).load()
    assert [s.reference for s in samples] == [int(r["answer"]) for r in rows]
    assert samples[0].input == rows[0]["problem"] and len({s.id for s in samples}) == 30
