"""Toy multiple choice: four questions, answer a letter; its own report section (accuracy per question kind).

Written as a new suite would be: this module and ``conf/suite/toy_choice.yaml``, nothing else. The report
section is the ``suite_metrics`` hook: data the generic report renders, no report code.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from evals.store import RunStore
from evals.suite_metrics import section, table
from evals.task import SingleTurnTask
from evals.types import Attempt, Grade, Sample

QUESTIONS = [
    ("q1", "arithmetic", "What is 2 + 2?", {"A": "3", "B": "4", "C": "5", "D": "22"}, "B"),
    ("q2", "arithmetic", "What is 3 x 3?", {"A": "6", "B": "33", "C": "9", "D": "12"}, "C"),
    ("q3", "geography", "Which is a continent?", {"A": "Africa", "B": "Paris", "C": "Nile", "D": "Alps"}, "A"),
    ("q4", "geography", "Which is a river?", {"A": "Everest", "B": "Sahara", "C": "Rome", "D": "Danube"}, "D"),
]
TITLE = "Toy multiple choice"


class ToyChoiceTask(SingleTurnTask):
    version = "1"

    def __init__(self, name: str = "toy_choice", repeats: int = 1) -> None:
        self.name = name
        self.default_repeats = repeats

    def load(self) -> list[Sample]:
        return [Sample(id=qid, input={"question": q, "choices": c}, reference=a, metadata={"kind": kind})
                for qid, kind, q, c, a in QUESTIONS]

    def prompt(self, sample: Sample) -> list[dict[str, Any]]:
        choices = "\n".join(f"({k}) {v}" for k, v in sample.input["choices"].items())
        return [{"role": "user", "content": f"{sample.input['question']}\n{choices}\nAnswer with one letter."}]

    def grade(self, sample: Sample, attempt: Attempt) -> Grade:
        m = re.search(r"\(?([ABCD])\)?\s*$", (attempt.final_text or "").strip())
        letter = m.group(1) if m else None
        return Grade(key=attempt.key, score=float(letter == sample.reference), answer=letter,
                     details={"kind": sample.metadata["kind"]})

    @classmethod
    def suite_metrics(cls, run_dir: Path) -> list[dict[str, Any]]:
        store = RunStore(run_dir)
        manifest = store.read_manifest() or {}
        by_kind: dict[str, list[float]] = defaultdict(list)
        for g in store.grades().values():
            by_kind[g.details.get("kind", "?")].append(g.score or 0.0)
        rows = [[manifest.get("effort"), kind, len(s), f"{100 * sum(s) / len(s):.1f}"]
                for kind, s in sorted(by_kind.items())]
        return [section(TITLE, intro=["Accuracy per question kind (one row per run and kind)."],
                        tables=[table(["effort", "kind", "answers", "accuracy %"], rows)])]
