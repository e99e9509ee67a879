"""AIME 2024 / 2025: 30 integer-answer problems a year, graded on the final channel as integers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from evals.task import DataUnavailable, Episode, ModelSession, SingleTurnTask
from evals.tool_loop import DEFAULT_MAX_TOOL_CALLS, PythonToolMode, solve_with_python
from evals.types import Attempt, Grade, Sample

PROMPT = "{problem}\nPlease reason step by step, and put your final answer within \\boxed{{}}."

_BOX = re.compile(r"\\(?:boxed|fbox|framebox)\s*")
_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|mathbf|mathrm|mbox|bf|rm)\s*\{([^{}]*)\}")
_ANSWER_PHRASE = re.compile(
    r"(?:final\s+answer|answer)\s*(?:is|:|=|\*\*:?)?\s*[:=]?\s*(?:\*\*)?\s*\$*\s*(?:\\\(|\\\[)?\s*"
    r"(-?\d{1,3}(?:(?:,|\{,\}|\\,)\d{3})+|-?\d+)(?![\d/.]\d)",
    re.IGNORECASE,
)
_INT = re.compile(r"-?\d+")
_BOLD_INT = re.compile(r"\*\*\s*\$?(-?\d+)\$?\s*\*\*")


def _boxed_contents(text: str) -> list[str]:
    """Contents of every \\boxed{...} (nested braces kept) or ``\\boxed 5``, in order."""
    found = []
    for m in _BOX.finditer(text):
        i = m.end()
        if i < len(text) and text[i] == "{":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            found.append(text[i + 1 : j])  # an unclosed box still yields what it has
        else:
            tail = re.match(r"(-?\d+)", text[i:])
            if tail:
                found.append(tail.group(1))
    return found


def _strip_thousands(s: str) -> str:
    # 1,000 / 1{,}000 / 1\,000 / 1\ 000 -> 1000 (only between digit groups of three)
    return re.sub(r"(?<=\d)(?:,|\{,\}|\\,|\\ |\\!|\s)(?=\d{3}(?!\d))", "", s)


def _to_int(content: str) -> int | None:
    s = content
    for _ in range(3):  # unwrap nested \text{\textbf{..}}
        s = _TEXT_WRAPPERS.sub(r"\1", s)
    s = s.replace("$", "").replace("\\left", "").replace("\\right", "")
    s = re.sub(r"\^\s*\{?\\circ\}?|°|\\%|%", "", s)
    s = _strip_thousands(s.strip())
    s = s.strip().rstrip(".").strip()
    if "=" in s:  # "m+n = 204"
        s = s.rsplit("=", 1)[1].strip()
    if re.fullmatch(r"[-+]?\d+(?:\.0+)?", s):
        return int(float(s))
    ints = _INT.findall(s)
    if len(ints) == 1 and not re.search(r"\\frac|/|\\sqrt|\^|\.\d", s):
        return int(ints[0])
    return None


def extract_answer(text: str | None) -> int | None:
    """The integer answer in final-channel text, or None.

    Order: the last ``\\boxed``/``\\fbox``/``\\framebox``; else the last "answer is N"/"**Answer: N**" phrase
    (a correction after a first answer wins); else the last bold integer; else a lone integer on the last
    non-empty line.
    """
    if not text:
        return None
    boxes = _boxed_contents(text)
    for content in reversed(boxes):
        value = _to_int(content)
        if value is not None:
            return value
    if boxes:
        return None  # a boxed non-integer (a fraction, an expression) is the model's answer: wrong, not missing
    phrases = _ANSWER_PHRASE.findall(text)
    if phrases:
        return int(_strip_thousands(phrases[-1]))
    bold = _BOLD_INT.findall(text)
    if bold:
        return int(bold[-1])
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if lines:
        last = _strip_thousands(lines[-1].replace("*", "").replace("$", "")).strip().rstrip(".")
        ints = _INT.findall(last)
        if len(ints) == 1 and len(last) <= 40:
            return int(ints[0])
    return None


def _load_rows_from_path(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DataUnavailable(f"AIME data file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            data = json.loads(text)
            return data if isinstance(data, list) else data.get("data") or data.get("rows") or []
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (json.JSONDecodeError, AttributeError) as exc:
        raise DataUnavailable(f"AIME data file {path} is not valid JSON/JSONL: {exc}") from exc


def _pick(row: dict[str, Any], *names: str | None) -> Any:
    for name in names:
        if name and name in row and row[name] not in (None, ""):
            return row[name]
    return None


class AimeTask(PythonToolMode, SingleTurnTask):
    """AIME of one year. ``tools="python"``: the with-tools mode (the card's ``aimeYYYY_tools`` rows): the model
    gets gpt-oss's built-in python tool (a sandboxed stateful kernel per attempt, :mod:`evals.python_tool`) and
    may call it up to ``max_tool_calls`` times; needs the harmony transport. ``tool_options`` are
    :class:`evals.python_tool.PythonToolLimits` fields (timeout_s, memory_mb, python, pythonpath, ro_binds...)."""

    version = "1"
    default_repeats = 8

    def __init__(self, name: str, year: int, *, path: str | None = None, hf_id: str | None = None,
                 hf_config: str | None = None, hf_split: str = "train", problem_col: str = "problem",
                 answer_col: str = "answer", id_col: str | None = None, limit: int | None = None,
                 ids: list[str] | None = None, repeats: int = 8, tools: str | None = None,
                 max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS, tool_options: dict[str, Any] | None = None) -> None:
        self.name = name
        self.year = year
        self.path = path
        self.hf_id = hf_id
        self.hf_config = hf_config
        self.hf_split = hf_split
        self.problem_col = problem_col
        self.answer_col = answer_col
        self.id_col = id_col
        self.limit = limit
        self.ids = [str(i) for i in ids] if ids else None
        self.default_repeats = repeats
        self.setup_python_tool(tools, max_tool_calls, tool_options)

    def _rows(self) -> list[dict[str, Any]]:
        if self.path:
            return _load_rows_from_path(Path(self.path).expanduser())
        if not self.hf_id:
            raise DataUnavailable(f"{self.name}: no data source; set suite.path to a local JSON/JSONL file")
        try:
            import datasets

            ds = datasets.load_dataset(self.hf_id, self.hf_config, split=self.hf_split)
        except Exception as exc:
            raise DataUnavailable(
                f"could not load {self.hf_id} from the Hugging Face hub ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:160] if str(exc) else ''}); point suite.path at a local JSON/JSONL "
                f"file with problem and answer fields, e.g. suite.path=/data/aime_{self.year}.jsonl") from exc
        return [dict(r) for r in ds]

    def load(self) -> list[Sample]:
        samples = []
        for i, row in enumerate(self._rows()):
            problem = _pick(row, self.problem_col, "problem", "question", "Problem")
            answer = _pick(row, self.answer_col, "answer", "Answer")
            if problem is None or answer is None:
                raise DataUnavailable(f"{self.name}: row {i} has no problem/answer (columns: {sorted(row)}); "
                                      f"set suite.problem_col / suite.answer_col")
            sid = _pick(row, self.id_col, "id", "ID", "problem_idx")
            sample_id = str(sid) if sid is not None else f"{self.year}-{i + 1}"
            samples.append(Sample(id=sample_id, input=str(problem), reference=int(str(answer).strip()),
                                  metadata={"year": self.year}))
        if self.ids:
            wanted = set(self.ids)
            samples = [s for s in samples if s.id in wanted]
        if self.limit:
            samples = samples[: self.limit]
        if not samples:
            raise DataUnavailable(f"{self.name}: no problems left after loading and filtering")
        return samples

    def prompt(self, sample: Sample) -> list[dict[str, Any]]:
        return [{"role": "user", "content": PROMPT.format(problem=sample.input)}]

    async def solve(self, sample: Sample, model: ModelSession) -> Episode:
        if not self.tools:
            return await super().solve(sample, model)
        return await solve_with_python(model, self.prompt(sample), limits=self.tool_limits,
                                       max_tool_calls=self.max_tool_calls)

    def grade(self, sample: Sample, attempt: Attempt) -> Grade:
        answer = extract_answer(attempt.final_text)
        if answer is None:
            if (attempt.info or {}).get("stop_reason") == "tool_limit":
                return Grade(key=attempt.key, score=0.0, answer=None,
                             reason=f"stopped at the tool-call limit ({attempt.info.get('max_tool_calls')}) "
                                    f"without a final answer")
            return Grade(key=attempt.key, score=0.0, answer=None, reason="no integer answer in the final channel")
        correct = answer == sample.reference
        return Grade(key=attempt.key, score=float(correct), answer=answer,
                     reason="correct" if correct else f"answered {answer}, expected {sample.reference}")

    def settings(self) -> dict[str, Any]:
        out = {"name": self.name, "version": self.version, "prompt": PROMPT, "source": self.path or self.hf_id,
               "limit": self.limit, "ids": self.ids}
        if self.tools:  # only in the with-tools mode, so the plain suites keep their settings hash
            out.update({"tools": self.tools, "max_tool_calls": self.max_tool_calls,
                        "tool_limits": self.tool_limits.settings()})
        return out

    def card_key(self) -> str | None:
        return f"aime{self.year}_tools" if self.tools else f"aime{self.year}"

