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

# Reading order, strongest signal first: a box (the format the prompt asks for); an "answer" phrase (the model
# naming its answer); a bold span or a one-line fenced block (the model highlighting it); the last line, read
# only when nothing stronger is present. A text that names a bound, a range, two candidates or a non-integer
# reads as None: an answer the model did not commit to is never credited.
_BOX = re.compile(r"\\(?:boxed|fbox|framebox)\s*")
_WRAPPERS = re.compile(
    r"\\(?:text|textbf|textrm|textit|textnormal|mathbf|mathrm|mathit|boldsymbol|mbox|bf|rm|operatorname)\s*"
    r"\{([^{}]*)\}")
_INT = re.compile(r"-?\d+")
_LEADING_INT = re.compile(r"(-?\d+)(?:\.0+)?(?!\d)")

# Harmony markup a server left in the reply when it did not parse the completion, with the special tokens
# kept or stripped to their bare text ("<|start|>assistant<|channel|>final<|message|>" -> "assistantfinal").
_SPECIAL_TOKEN = re.compile(r"<\|(?:start|end|message|channel|return|call|constrain|endoftext)\|>")
_FINAL_MARKER = re.compile(r"<\|channel\|>\s*final\b(?:(?!<\|message\|>).)*<\|message\|>|assistantfinal", re.S)
_FINAL_END = re.compile(r"<\|(?:end|return|call|start)\|>|assistant(?:analysis|commentary)")
_REASONING_ONLY = re.compile(r"<\|(?:channel|message|start)\|>|^\s*analysis(?=[A-Z])|assistant(?:analysis|commentary)")
_BARE_FINAL = re.compile(r"^\s*final(?=[A-Z0-9*$\\#(\[])")

# Dash-like characters are minus signs where they touch a digit (U+2212 minus, figure / en / em dash, small and
# full-width hyphen-minus, hyphens); odd spaces are spaces.
_CHAR_MAP = {**dict.fromkeys(map(ord, "\u2212\u2012\u2013\u2014\u2015\ufe63\uff0d\u2010\u2011\u02d7\u2796"), "-"),
             **dict.fromkeys(map(ord, "\u00a0\u2007\u2009\u200a\u202f\u2002\u2003"), " ")}
# a fenced block; one tagged as a program (```python) is code, whatever it holds
_FENCE = re.compile(r"^[ \t]*```[ \t]*([^\n`]*)\n(.*?)\n?[ \t]*```[ \t]*$", re.S | re.M)
_PLAIN_FENCE_TAG = re.compile(r"(?:|text|plaintext|plain|txt|output|answer|latex|tex|math|markdown|md)", re.I)
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_NUMBER_WORDS = "|".join(sorted([*_UNITS, *_TENS], key=len, reverse=True))  # longest first: "seventeen" > "seven"
_WORD_RUN = re.compile(r"(?:(?:negative|minus)\s+)?(?:a\s+(?=hundred|thousand))?"
                       rf"(?:(?:{_NUMBER_WORDS}|hundred|thousand)(?:[\s-]+(?:and[\s-]+)?(?=[a-z])|(?![a-z])))+", re.I)
# a word after a number word that shows it is not the answer's count ("one of them", "one more case")
_NOT_A_COUNT = {"of", "or", "more", "less", "another", "other", "half", "times", "way", "side", "hand", "something",
                "odd", "plus", "ish"}

_ANCHOR = re.compile(r"\b(?:final\s+)?answers?\b", re.I)
_COPULA = re.compile(r"\b(?:is|are|was|be|equals|gives|giving|yields|becomes)\b|:", re.I)
_CONCLUSION = re.compile(r"\b(?:so|thus|hence|therefore|total|overall|altogether|finally)\b", re.I)
_CONNECTOR = re.compile(r"\b(?:so|thus|hence|therefore|then|giving|gives)\b", re.I)
_FILLER = re.compile(r"^(?:(?:is|are|was|would\s+be|will\s+be|should\s+be|must\s+be|equals|equal\s+to|exactly|"
                     r"just|precisely|simply|indeed|clearly|then|thus|therefore|hence|so|"
                     r"(?:a|the)\s+(?:total|sum|count)\s+of)\b|[\s,:=]|-(?=\s))+", re.I)
# before the number: a bound, a range, an estimate, a negation; anywhere: a refusal or an open choice
_HEDGE_BEFORE = re.compile(r"^(?:approximately|approx|about|around|roughly|nearly|near|almost|between|at\s+least|"
                           r"at\s+most|not|maybe|perhaps|possibly|either|somewhere|some|over|under|up\s+to|"
                           r"less\s+than|more\s+than|greater\s+than|close\s+to)\b", re.I)
_HEDGE_ANYWHERE = re.compile(r"\b(?:could\s+be|might\s+be|not\s+sure|unsure|guess|estimated?|cannot|can't|"
                             r"could\s+not|couldn't|unable|depending|undetermined|partial|ran\s+out)\b|"
                             r"≈|\\approx|~\s*\d", re.I)
# how a term goes on into an expression: 12.5, 12/5, 2^{10}, 7-9, 5!, 100 - 3 = 97, 12345 mod 1000 = 345
_OPERATOR_NEXT = re.compile(r"\s*(?:[-+*/^]\s*[\d(\\{]|[./^!]\s*\S|\\(?:frac|sqrt)|mod\b)")
# starts like a stated value (a number, a sign, LaTeX, a number word) or like a hedge on one
_VALUE_START = re.compile(r"-?\d|\\|(?:a|negative|minus|approximately|about|around|roughly|nearly|between|at|not|"
                          rf"either|maybe|perhaps|possibly|{_NUMBER_WORDS})\b", re.I)
_EMPTY, _REJECT = "empty", "reject"  # what a read gives besides an int: nothing number-like / not one integer


def _final_text(text: str) -> str:
    """The final channel of a reply: what follows the last final marker when Harmony markup leaked, nothing
    when only reasoning or tool calls leaked (analysis is never graded), else the text itself."""
    markers = list(_FINAL_MARKER.finditer(text))
    if markers:
        tail = text[markers[-1].end():]
        end = _FINAL_END.search(tail)
        return _SPECIAL_TOKEN.sub(" ", tail[: end.start()] if end else tail)
    if _REASONING_ONLY.search(text):
        return ""
    return _SPECIAL_TOKEN.sub(" ", _BARE_FINAL.sub("", text, count=1))


def _closing_braces(text: str) -> dict[int, int]:
    """Position of each "{" -> position of its "}" (one pass; an unclosed "{" has none)."""
    closing, stack = {}, []
    for m in re.finditer(r"[{}]", text):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            closing[stack.pop()] = m.start()
    return closing


def _boxed_contents(text: str) -> list[tuple[int, int, str]]:
    """(start, end, contents) of every \\boxed{...} (nested braces kept) or ``\\boxed 5``, in order."""
    found = []
    closing = _closing_braces(text) if "{" in text else {}
    for m in _BOX.finditer(text):
        i = m.end()
        if i < len(text) and text[i] == "{":
            j = closing.get(i, len(text))  # an unclosed box (a truncated answer) still yields what it has
            found.append((m.start(), j + 1, text[i + 1 : j]))
        else:
            tail = re.match(r"-?\d+", text[i : i + 12])
            if tail:
                found.append((m.start(), i + tail.end(), tail.group()))
    return found


_THOUSANDS = re.compile(r"(?<=\d)(?:,|\{,\}|\\,|\\ |\\!|[ \t])(?=\d{3}(?!\d))")
# (pattern, replacement) in order: what _clean does to a piece of text
_CLEAN_STEPS = [(re.compile(p), r) for p, r in [
    (r"\\pmod\s*\{[^{}]*\}|\\pmod\s*\d+|\(\s*(?:\\bmod|mod)\s*\d+\s*\)", " "),  # "204 (mod 1000)"
    (r"\\[hv]?phantom\s*\{[^{}]*\}", ""),  # invisible padding
    (r"\\(?:equiv|doteq)", "="),
    (r"<=|>=|!=", " ≤ "),  # a comparison is not an equation step
    (r"\\(?:cdot|times|ast)|[·×∙]", "*"),
    (r"\\(?:cdots|ldots|dots)|…", "..."),
    (r"\^\s*\{?\\circ\}?|°|\\%|%", ""),
    (r"\\(?:displaystyle|left|right|quad|qquad|[,;:! ])|\\[()\[\]]|\$|\*\*|__|`|^\s*#+", " "),
    (r"\s+", " "),
]]


def _strip_thousands(s: str) -> str:
    # 1,000 / 1{,}000 / 1\,000 / 1\ 000 / 1 000 -> 1000 (only between digit groups of three, within a line)
    return _THOUSANDS.sub("", s)


def _clean(s: str) -> str:
    """LaTeX and Markdown dress removed, so what is left reads as plain words, numbers and operators."""
    for _ in range(3):  # nested \text{\textbf{..}}
        s = _WRAPPERS.sub(r"\1", s)
    s = _strip_thousands(s)
    for pattern, replacement in _CLEAN_STEPS:
        s = pattern.sub(replacement, s)
    return s.strip()


def _words_value(s: str) -> tuple[int, str] | None:
    """An integer written in English words at the start of ``s`` ("one hundred four", "twenty-five",
    "eleven hundred", "a thousand"), and the text after it; None when the words do not read as one number."""
    m = _WORD_RUN.match(s)
    if not m:
        return None
    tokens = list(re.finditer(r"[a-z]+", m.group(0).lower()))
    sign = -1 if tokens[0].group() in ("negative", "minus") else 1
    total = current = 0
    last = "start"  # what the previous word was; a number reads big to small ("one one" is not a number)
    end = 0
    for t in tokens:
        w = t.group()
        if w in ("negative", "minus") and last == "start":
            pass
        elif w == "a" and last == "start":
            current = 1
            last = "a"
        elif w == "and" and last in ("hundred", "thousand"):
            continue
        elif w in _UNITS and (last in ("start", "hundred", "thousand") or (last == "tens" and 0 < _UNITS[w] < 10)):
            current += _UNITS[w]
            last = "unit"
        elif w in _TENS and last in ("start", "hundred", "thousand"):
            current += _TENS[w]
            last = "tens"
        elif w == "hundred" and last in ("unit", "a") and current < 100:
            current *= 100
            last = "hundred"
        elif w == "thousand" and last in ("unit", "tens", "hundred", "a") and total == 0:
            total, current = current * 1000, 0
            last = "thousand"
        else:
            break
        end = t.end()
    if last in ("start", "a"):
        return None
    rest = s[m.start() + len(m.group(0)[:end]) :]
    follow = re.findall(r"[a-z]+", rest.split(".")[0].lower())
    if follow and (follow[0] in _NOT_A_COUNT or len(follow) > 2 or (tokens[0].group() in ("one", "a") and end <= 3
                                                                      and follow)):
        return None
    return sign * (total + current), rest


def _read(segment: str) -> int | str:
    """The one integer a short piece of text states (a line's tail, a bold span, a box), else _EMPTY (nothing
    number-like) or _REJECT (a non-integer, an unevaluated expression, a list, a bound or a hedge)."""
    s = _FILLER.sub("", _clean(segment))
    if _HEDGE_ANYWHERE.search(s) or _HEDGE_BEFORE.match(s):
        return _REJECT
    lead = _LEADING_INT.match(s)
    after = s[lead.end():] if lead else ""
    if "=" in s and (not lead or _OPERATOR_NEXT.match(after) or re.match(r"[A-Za-z\\(]|\s*=", after)):
        # an equation chain commits to its last term; separate assignments ("a = 3, b = 4") do not
        parts = s.split("=")
        last_lhs = re.split(r",|;|\band\b", parts[-2])[-1].strip() if len(parts) > 2 else ""
        if (len(parts) > 2 and re.search(r",|;|\band\b", parts[-2]) and not _CONNECTOR.search(parts[-2])
                and re.fullmatch(r"[A-Za-z](?:_\w+)?", last_lhs)):
            return _REJECT  # "a = 3, b = 4" (but "x = 4 and y = 9, and xy = 36" concludes)
        s = _FILLER.sub("", parts[-1].strip())
        if _HEDGE_BEFORE.match(s):
            return _REJECT
        lead = _LEADING_INT.match(s)
    if lead:
        value, rest = int(lead.group(1)), s[lead.end():]
    else:
        words = _words_value(s)
        if words is None:
            return _REJECT if re.match(r"\\(?:d?frac|sqrt|pi)|\d|-\d", s) else _EMPTY
        value, rest = words
    if _OPERATOR_NEXT.match(rest):
        return _REJECT  # not one written integer
    rest = re.sub(r"\([^()]*\)", " ", rest)  # "104 (one hundred four)", "204 (mod 1000)"
    if re.match(r"\s*[,;]?\s*(?:or|to)\b", rest, re.I) or re.match(r"\s*(?:[,;&]|and\b)\s*(?:and\s+)?-?\d", rest):
        return _REJECT  # "12 or 13", "12, 24, 36", "210 and 211"
    return value


def _to_int(content: str) -> int | None:
    """The integer inside a box, or None (a fraction, an expression, two numbers)."""
    value = _read(content)
    if value != _EMPTY:
        return value if isinstance(value, int) else None
    s = _clean(content)
    if "=" in s:  # "m+n = 204"
        s = s.rsplit("=", 1)[1].strip()
    ints = _INT.findall(s)  # "(B) 12", "12 ways", "( 17 )"
    if len(ints) == 1 and not re.search(r"\\frac|/|\\sqrt|\^|\.\d|\d\s*[-+*]|\bor\b", s):
        return int(ints[0])
    return None


def _boxed_answer(text: str) -> int | str:
    boxes = _boxed_contents(text)
    if not boxes:
        return _EMPTY
    if len(boxes) >= 2:  # "either \boxed{12} or \boxed{13}" names two answers
        (_, end, a), (start, _, b) = boxes[-2], boxes[-1]
        gap = re.sub(r"[\s$]|\\[()\[\]]", "", text[end:start])
        if _to_int(a) != _to_int(b) and re.fullmatch(r",?(?:or|and|,)", gap, re.I):
            return _REJECT
    for _, _, content in reversed(boxes):
        # a box of more than a few hundred characters holds working, not one integer (and reading every such
        # box of a pathological text would take quadratic time)
        value = _to_int(content) if len(content) <= 400 else None
        if value is not None:
            return value
    return _REJECT  # a boxed non-integer (a fraction, an expression) is the model's answer: wrong, not missing


def _one_line_fence(m: re.Match[str]) -> str | None:
    body = [ln for ln in m.group(2).splitlines() if ln.strip()]
    return body[0] if len(body) == 1 and _PLAIN_FENCE_TAG.fullmatch(m.group(1).strip()) else None


def _lines(text: str) -> list[str]:
    """The non-empty lines, cleaned; a one-line fenced block is unwrapped (it shows the answer), a longer one is
    code or working and dropped."""
    def unfence(m: re.Match[str]) -> str:
        body = _one_line_fence(m)
        return body if body is not None else ""

    text = _FENCE.sub(unfence, text)
    return [line for line in map(_clean, text.splitlines()) if line]


def _anchored_answer(lines: list[str]) -> int | str:
    """The answer an "answer" phrase names: the last phrase that names anything decides."""
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        for m in reversed(list(_ANCHOR.finditer(line))):
            # the answer follows the phrase closely; the cap keeps a pathological line linear
            tail = re.split(r"[.!?;](?=\s|$)", line[m.end() : m.end() + 300], maxsplit=1)[0]
            tail = _FILLER.sub("", tail)
            if tail and not _VALUE_START.match(tail):
                copula = _COPULA.search(tail)  # "the answer to the problem is 42"
                tail = tail[copula.end():] if copula else ""
            if re.match(r"\s*not\b", _FILLER.sub("", tail), re.I):
                continue  # "the answer is not 36": says what the answer is not
            value = _read(tail) if tail.strip() else _EMPTY
            if value == _EMPTY and not tail.strip() and i + 1 < len(lines):
                value = _read(lines[i + 1])  # "Answer:" with the answer on the next line
            if value != _EMPTY:
                return value
    return _EMPTY


def _highlighted_answer(text: str) -> int | str:
    """The last bold span or one-line fenced block that holds nothing but an answer; two different ones with
    nothing between them (two fenced answers one after the other) name no single answer."""
    spans = [(m.start(), m.end(), m.group(1) or m.group(2)) for m in _BOLD.finditer(text)]
    for m in _FENCE.finditer(text):
        body = _one_line_fence(m)
        if body is not None:
            spans.append((m.start(), m.end(), body))
    later: tuple[int, int | str] | None = None  # (start, value) of the answer found after this span
    for start, end, content in sorted(spans, reverse=True):
        s = _clean(content).rstrip(".")
        if not re.fullmatch(r"-?\d+(?:\.0+)?|[A-Za-z -]+|.*=.*", s):
            continue
        value = _read(s)
        if value == _EMPTY:
            continue
        if later is None:
            later = (start, value)
            if not text[end:].strip():
                continue  # the last thing in the text: see whether another answer sits right before it
            return value
        if isinstance(value, int) and value != later[1] and not text[end : later[0]].strip():
            return _REJECT
        return later[1]
    return later[1] if later else _EMPTY


def _last_line_answer(lines: list[str]) -> int | None:
    """A short closing statement: "So there are 24 such paths.", "Total = 47", "204." """
    if not lines:
        return None
    line = lines[-1]
    if _HEDGE_ANYWHERE.search(line):
        return None
    all_sentences = re.split(r"(?<=[.!?;])\s+", line)
    sentences = [s for s in all_sentences if re.search(r"\d", s) or _WORD_RUN.search(s)]
    if not sentences:
        return None
    sentence = sentences[-1]
    closing = sentence == all_sentences[-1]  # else a remark without numbers follows ("This is within range.")
    if len(sentences) > 1 and _parallel_statements(sentences[-2], sentence):
        return None  # "Part 1 gives 10. Part 2 gives 20."
    copulas = list(_COPULA.finditer(sentence))
    if copulas:
        # every value the sentence states; two different ones ("case A gives 18, case B gives 24") name no
        # single answer unless the last is introduced as the conclusion ("so", "hence", "in total")
        stated = []
        for i, c in enumerate(copulas):
            end = copulas[i + 1].start() if i + 1 < len(copulas) else len(sentence)
            value = _read(sentence[c.end():end])
            if value != _EMPTY:
                stated.append((value, sentence[c.start():end]))
        if not stated or not isinstance(stated[-1][0], int):
            return None
        earlier = {v for v, _ in stated[:-1] if isinstance(v, int)} - {stated[-1][0]}
        if earlier and not _CONCLUSION.search(stated[-2][1]):
            return None
        return stated[-1][0]
    if not closing:
        return None  # only an "X is N" statement may sit before a closing remark
    whole = _read(sentence)
    if "=" in sentence:
        return whole if isinstance(whole, int) else None
    ints = _INT.findall(sentence)
    if isinstance(whole, int) and len(ints) <= 1:
        return whole
    short = len(sentence) <= 40 and not re.search(_HEDGE_BEFORE.pattern.lstrip("^"), sentence, re.I)
    if len(ints) == 1 and short:
        return int(ints[0])
    runs = list(_WORD_RUN.finditer(sentence))
    if not ints and len(runs) == 1 and short:  # "I obtained a count of forty-four."
        words = _words_value(sentence[runs[0].start() :])
        return words[0] if words else None
    return None


def _parallel_statements(first: str, second: str) -> bool:
    """Two sentences of the same shape stating different numbers: "Case 1 gives 10." / "Case 2 gives 20." """
    head = re.match(r"[A-Za-z]+", first)
    if not head or not second.lower().startswith(head.group().lower()) or _CONCLUSION.search(second):
        return False
    a, b = _INT.findall(first), _INT.findall(second)
    return bool(a and b) and a[-1] != b[-1]


def extract_answer(text: str | None) -> int | None:
    """The integer answer in final-channel text, or None when the text does not commit to one integer.

    Harmony markup left in the text is cut to what follows the last final marker. Then, in order: the last
    ``\\boxed``/``\\fbox``/``\\framebox``; else the last "answer is N" / "**Answer: N**" phrase (a correction after
    a first answer wins); else the last bold integer or one-line fenced block; else a closing statement on the
    last line. Numbers may be written in words; an equation chain gives its last term; any dash touching a
    digit is a minus sign. Two candidates, a range, a bound, an estimate or a non-integer give None.
    """
    if not text:
        return None
    text = _final_text(text)
    text = re.sub(r"\s[\u2013\u2014][^\u2013\u2014\n]*[\u2013\u2014]\s", " ", text)  # an aside between dashes
    # a true minus sign, even spaced from its digits; any minus before LaTeX spacing ("-\,3")
    text = re.sub(r"[\u2212\ufe63\uff0d](?:\s|\\[,;:! ])+(?=\d)|-(?:\s*\\[,;:! ])+\s*(?=\d)", "-", text)
    text = text.translate(_CHAR_MAP)
    if not text.strip():
        return None
    value = _boxed_answer(text)
    if value == _EMPTY:  # most finals have a box: the rest is read only without one
        lines = _lines(text)
        value = _anchored_answer(lines)
        if value == _EMPTY:
            value = _highlighted_answer(text)
        if value == _EMPTY:
            return _last_line_answer(lines)
    return None if value == _REJECT else value


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
                f"{str(exc).splitlines()[0][:160] if str(exc) else ''}); run `gptoss-eval-data fetch aime` where "
                f"the hub is reachable (later runs work with HF_HUB_OFFLINE=1), or point suite.path at a local JSON/JSONL "
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

