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


# The shapes issue 14 names, several each (the held-out mixes in tests/fixtures/ are scored separately).
WORDS = [
    ("The answer is eighty.", 80),
    ("Answer: one hundred four", 104),
    ("twenty-five", 25),
    ("The answer is seventy", 70),
    ("Answer: Nine Hundred Ninety-Nine", 999),
    ("So the count is three hundred and six.", 306),
    ("The answer is forty\u2010one.", 41),  # U+2010 hyphen
    (r"\boxed{\text{eighteen}}", 18),
    ("**sixty-four**", 64),
    ("There are fifteen such triangles.", 15),
    ("The answer is a thousand.", 1000),
    ("The answer is negative three.", -3),
    ("The answer is zero.", 0),
    ("The answer is one hundred four (104).", 104),
    ("The answer is one of 12 and 13.", None),
    ("One more case remains, so I cannot finish.", None),
    ("The answer is seventy or eighty.", None),
    ("The answer is about forty.", None),
    ("There is one way to see this, but the count is unclear.", None),
]

MARKUP = [
    ("<|channel|>analysis<|message|>Maybe 12.<|end|><|start|>assistant<|channel|>final<|message|>\\boxed{13}<|return|>", 13),
    ("<|channel|>analysis<|message|>\\boxed{12} is tempting.<|end|><|start|>assistant<|channel|>final<|message|>"
     "The answer is 13.<|return|>", 13),
    ("analysisThe answer is 12.assistantfinalThe answer is 13.", 13),
    ("analysis\\boxed{12}assistantfinal13", 13),
    ("analysisLet me see.assistantfinal**Answer: 13**", 13),
    ("analysisWe try 12.assistantcommentary to=python<|message|>print(12)assistantfinalthirteen", 13),
    ("<|channel|>final<|message|>12<|end|><|start|>assistant<|channel|>final<|message|>13<|return|>", 13),
    ("<|channel|>final<|message|>13<|end|><|start|>assistant<|channel|>analysis<|message|>or 12?<|end|>", 13),
    ("<|start|>assistant<|channel|>final <|constrain|>text<|message|>Answer: 13<|return|>", 13),
    ("The answer is 13.<|return|>", 13),
    ("finalThe answer is 13.", 13),
    ("final13", 13),
    # reasoning only, or an empty final: nothing from the analysis is read
    ("analysisWe got 12.assistantfinal", None),
    ("analysisWe got 12. The answer is 12.", None),
    ("<|channel|>analysis<|message|>answer: \\boxed{12}<|end|>", None),
    ('<|channel|>analysis<|message|>x<|end|><|start|>assistant<|channel|>commentary to=functions.python '
     '<|constrain|>json<|message|>{"code": "print(12)"}<|call|>', None),
    ("<|channel|>analysis<|message|>It is 12.<|end|><|start|>assistant<|channel|>final<|message|><|return|>", None),
]

MINUS = [
    ("\\boxed{\u22127}", -7),
    ("The answer is \u22127.", -7),
    ("Answer: \u20137", -7),  # en dash
    ("$\u2212 7$", -7),  # a true minus sign, spaced
    ("**\ufe637**", -7),  # small hyphen-minus
    ("Answer: \uff0d7", -7),  # full-width hyphen-minus
    ("The answer is \u20127.", -7),  # figure dash
    ("x = \u22127", -7),
    ("```\n\u22127\n```", -7),
    ("Answer \u2014 7", 7),  # an em dash between words is punctuation
    ("Answer: 7 \u2013 see the case count above.", 7),
    ("The answer is \u2014 after the correction \u2014 7.", 7),
    ("- **Answer:** 7", 7),  # a Markdown bullet
    ("The answer is 3\u20135.", None),  # a range
    ("$m \u2212 n = 7$", 7),
    ("The answer is $10 \u2212 3 = 7$.", 7),
]

CHAINS = [
    ("m + n = 25 + 8 = 33", 33),
    ("Q+R = 5 + 694 = 699", 699),
    ("Answer: m + n = 25 + 8 = 33", 33),
    ("So $p + q = 2 + 9 = 11$.", 11),
    ("**a + b = 40 + 2 = 42**", 42),
    (r"The answer is $3 \cdot 5 \cdot 7 = 105$.", 105),
    ("$$m+n = 1 + 1 = 2$$", 2),
    (r"$N = 2^{3} \cdot 5 = 40$", 40),
    (r"Thus $100m + n = 100 \cdot 3 + 7 = 307$.", 307),
    ("m = 4, n = 9, so m + n = 13.", 13),
    (r"$N \equiv 1234 \equiv 234 \pmod{1000}$", 234),
    ("12345 mod 1000 = 345", 345),
    ("The total is 12 + 30 + 18 = 60 colorings.", 60),
    ("x = 5", 5),
    ("m = 4, n = 9", None),  # two values, no conclusion
    ("$a = 3$ and $b = 4$", None),
    ("m + n = 25 + 8", None),  # left unevaluated: no integer written
    ("The value is 5 when $x = 2$.", 5),  # the stated value, not the condition's number
]

FENCES = [
    ("```\n33\n```", 33),
    ("```text\n33\n```", 33),
    ("Answer:\n```\n33\n```", 33),
    ("```\n033\n```", 33),
    ("```\n   33   \n```", 33),
    ("```\nAnswer: 33\n```", 33),
    ("I computed:\n\n```\n33\n```\n\nDone.", 33),
    ("```\n1,000\n```", 1000),
    ("```python\nprint(33)\n```", None),  # code, not an answer
    ("```\n33\n34\n```", None),
    ("```\nn = 33\nm = 34\n```", None),
    ("```python\nfor i in range(33):\n    total += i\n```", None),
]

NOT_COMMITTED = [
    ("The answer is 33 or 34.", None),
    ("Answer: either 33 or 34", None),
    ("The answer is about 33.", None),
    ("It is at least 33.", None),
    ("Answer: between 30 and 40", None),
    ("Possible answers: 33, 34, 35.", None),
    ("The answer is not 33.", None),
    ("I cannot determine it; maybe 33.", None),
    (r"$\boxed{33}$ or $\boxed{34}$", None),
    ("The answer is \u2248 33.", None),
    ("The answer is 33.5.", None),
    ("The answer is 33/2.", None),
    ("Case A gives 33 and case B gives 34.", None),
    ("For n = 1 there are 3 ways and for n = 2 there are 5 ways.", None),
    ("I'd guess around 33.", None),
    ("Step 1: list the cases.\nStep 2:", None),
    ("The answer is **not** 33; it is **34**.", 34),  # a correction does commit
    ("We need 3 more steps. I ran out of time.", None),
    ("We need 3 more steps. Then stop.", None),  # a number in passing, not a closing statement
    ("The sum is 468. This is within range.", 468),  # "X is N", then a remark
]


@pytest.mark.parametrize("text,expected", WORDS + MARKUP + MINUS + CHAINS + FENCES + NOT_COMMITTED)
def test_extract_answer_reads_the_hard_shapes(text, expected):
    assert extract_answer(text) == expected


def test_a_negative_answer_grades_wrong_not_as_its_absolute_value(tmp_path):
    task = AimeTask("aime2025", 2025, path=str(tmp_path / "x.jsonl"))
    (tmp_path / "x.jsonl").write_text(json.dumps({"id": "x", "problem": "p", "answer": "7"}) + "\n")
    sample = task.load()[0]
    grade = task.grade(sample, _attempt("The answer is \u22127."))
    assert grade.score == 0.0 and grade.answer == -7


def test_leaked_markup_is_graded_on_what_follows_the_last_final_marker(tmp_path):
    task = AimeTask("aime2025", 2025, path=str(tmp_path / "x.jsonl"))
    (tmp_path / "x.jsonl").write_text(json.dumps({"id": "x", "problem": "p", "answer": "12"}) + "\n")
    sample = task.load()[0]
    leaked = "analysisThe answer is 12.assistantfinalThe answer is 13."
    assert task.grade(sample, _attempt(leaked)).score == 0.0
    assert task.grade(sample, _attempt("analysisThe answer is 12.assistantfinal")).answer is None


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
