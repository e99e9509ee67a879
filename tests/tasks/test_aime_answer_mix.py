"""AIME answer extraction against human verdicts on realistic mixes of final answers.

Three fixtures, each row a final-channel text and the integer a human grader reads off it (null: the text
does not commit to one integer). Agreement of the extractor before issue 14 / the first time the new one saw the
mix / now:
- aime_finals_dev.jsonl (214 rows): written before the rework, then read while reworking: 59.8 % / - / 100 %;
- aime_finals_heldout.jsonl (187 rows): written after, scored blind once: 65.8 % / 93.6 % (4 false positives) /
  98.9 %; the general causes of its misses were fixed, the two rows still missed are left as they are;
- aime_finals_blind.jsonl (105 rows): written after that, scored blind once: 55.2 % / 92.4 % (4 false
  positives) / 100 %.
The blind first scores are the honest estimate for unseen shapes: about 92-94 %, so expect misses on new mixes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tasks.aime import extract_answer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MIXES = ["aime_finals_dev.jsonl", "aime_finals_heldout.jsonl", "aime_finals_blind.jsonl"]
MIN_ROWS = {"aime_finals_dev.jsonl": 150, "aime_finals_heldout.jsonl": 150, "aime_finals_blind.jsonl": 100}
CATEGORIES = {"boxed", "bold", "sentence", "words", "markup", "minus", "chain", "fence", "hedge", "multi", "none",
              "misc"}


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def official_rule(text: str) -> int | None:
    """The rule gpt-oss's reference AIME grader applies (gpt_oss/evals/aime_eval.py), written from its
    description: the LAST ``boxed{...}`` / ``framebox{...}`` match (contents up to the first ``}``), its last
    comma-separated piece, as int(); with no box, the last run of digits anywhere in the text."""
    boxes = re.findall(r"(?:boxed|framebox)\{(.*?)\}", text, re.S)
    if boxes:
        piece = boxes[-1].split(",")[-1].strip()
    else:
        digits = re.findall(r"\d+", text)
        piece = digits[-1] if digits else ""
    try:
        return int(piece)
    except ValueError:
        return None


@pytest.mark.parametrize("name", MIXES)
def test_fixture_is_a_real_mix(name):
    rows = _rows(name)
    assert len(rows) >= MIN_ROWS[name]
    assert {r["category"] for r in rows} == CATEGORIES
    assert all(r["human"] is None or isinstance(r["human"], int) for r in rows)
    counts = Counter(r["category"] for r in rows)
    assert min(counts.values()) >= 3, counts  # several cases of every shape, not one each
    assert sum(r["human"] is None for r in rows) >= 30  # enough texts that commit to nothing


@pytest.mark.parametrize("name", MIXES)
def test_agrees_with_human_verdicts_and_never_credits_an_uncommitted_text(name):
    rows = _rows(name)
    misses = [(r["id"], r["human"], extract_answer(r["text"])) for r in rows if extract_answer(r["text"]) != r["human"]]
    agreement = 1 - len(misses) / len(rows)
    assert agreement >= 0.97, f"{agreement:.1%} agreement; misses (id, human, ours): {misses}"
    false_positives = [m for m in misses if m[1] is None]
    assert not false_positives, f"an integer read from a text that commits to none: {false_positives}"


@pytest.mark.parametrize("name", MIXES)
def test_the_official_rule_agrees_less_and_credits_uncommitted_texts(name):
    """Why we do not use the reference grader's rule: on the same mixes it agrees with the human reader far
    less often and reads an integer out of texts that commit to none (hedges, leaked reasoning, lists)."""
    rows = _rows(name)
    ours = sum(extract_answer(r["text"]) == r["human"] for r in rows) / len(rows)
    official = sum(official_rule(r["text"]) == r["human"] for r in rows) / len(rows)
    assert official < 0.75 < 0.97 <= ours
    uncommitted = [r for r in rows if r["human"] is None]
    assert sum(official_rule(r["text"]) is not None for r in uncommitted) >= len(uncommitted) / 2


# Where the two rules part, the shapes that show why (official reading, ours).
DIFFERENCES = [
    (r"\boxed{\text{204}}", None, 204),  # the first "}" ends the official match: "\text{204" is not an int
    (r"\boxed{1,000}", 0, 1000),  # its last comma piece is "000"
    ("The answer is \u221212.", 12, -12),  # a unicode minus is dropped with the non-digits
    ("<|channel|>analysis<|message|>First guess \\boxed{33}.<|end|><|start|>assistant<|channel|>final<|message|>"
     "The answer is 37.<|return|>", 33, 37),  # a box from the leaked reasoning wins over the final
    ("The answer is seventy.", None, 70),
    ("Answer: 12 or 13", 13, None),  # a hedge reads as its last number
    ("The answer is 204, which satisfies 0 <= N <= 999.", 999, 204),  # a number after the answer wins
    ("Final answer:\n```\n588\n```", 588, 588),  # the last integer is right when nothing follows it
    ("m + n = 25 + 8 = 33", 33, 33),
]


@pytest.mark.parametrize("text,official,ours", DIFFERENCES)
def test_where_the_official_rule_and_ours_differ(text, official, ours):
    assert official_rule(text) == official
    assert extract_answer(text) == ours
