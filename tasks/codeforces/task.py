"""Codeforces-style programming task: statement in, one program out, judged in the sandbox.

The model gets a Codeforces-style prompt (statement, limits, stdin/stdout, one language asked for) and must put
its program in a fenced code block of the final channel. Grading takes the LAST code block of the final channel
(:func:`extract_code`), judges it against the problem's tests (:func:`tasks.codeforces.judge.judge`) and scores
1 for AC, else 0. The reasoning channel is never searched for code.

Judge failures are not the model's failures: an INFRA verdict is retried, and if it persists the grade carries
``details["infra_error"] = True`` (score None: not scored, reason says so); reports must drop such grades from accuracy and Elo
(:mod:`tasks.codeforces.metrics` does). A problem whose checker cannot judge (unknown kind, does not compile, fails
on every test) is EXCLUDED at its first grading (score None, ``details["excluded"]`` names why; not retried); the
report counts it with the other exclusions. Every grade names the problem's checker kind in ``details["checker"]``
(``testlib``, ``openr1``, or None for token comparison), so the report can say what judged what.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from evals.sandbox import SandboxUnavailable, check_available
from evals.task import DataUnavailable, Episode, ModelSession, SingleTurnTask, TaskError
from evals.tool_loop import DEFAULT_MAX_TOOL_CALLS, PythonToolMode, solve_with_python
from evals.types import Attempt, Grade, Sample
from tasks.codeforces.judge import (
    AC,
    EXCLUDED,
    INFRA,
    NO_CODE,
    JudgeResult,
    Submission,
    checker_exclusion,
    exclusion_label,
    judge,
    normalize_language,
)
from tasks.codeforces.problems import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIME_LIMIT_S,
    Problem,
    ProblemDataError,
    ProblemSet,
    load_openr1_codeforces,
    load_problems,
)

__all__ = ["LANGUAGES", "CodeforcesTask", "build_prompt", "extract_code"]

# requested language -> (how the prompt names it, the fence tag we ask for)
LANGUAGES: dict[str, tuple[str, str]] = {
    "cpp": ("C++17 (GNU G++, -O2)", "cpp"),
    "python": ("Python 3 (CPython)", "python"),
}

PROMPT_VERSION = "1"
PROMPT_TEMPLATE = """\
Solve the following competitive programming problem (Codeforces style).

# {title}

Time limit per test: {time_limit}
Memory limit per test: {memory_limit}
Input: standard input
Output: standard output

{statement}{examples}

Write a complete program in {language_name} that reads the input from standard input and writes the answer to \
standard output, exactly in the format the statement asks for (print nothing else: no prompts, no debug output). \
It must run within the time and memory limits on every valid input, not only on the examples.

In your final answer, give the whole program in a single fenced code block marked ```{fence}. If you show \
more than one code block, the last one is the one that gets judged."""

# Block tags that never hold a submission (sample data, console transcripts): skipped by extract_code.
_NON_CODE_TAGS = frozenset({"text", "txt", "plaintext", "plain", "output", "input", "console", "stdout", "stdin",
                            "example", "sample", "shell-session", "terminal", "log"})
_FENCE_OPEN = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)$")

_VERDICT_WORDS = {"AC": "accepted", "WA": "wrong answer", "TLE": "time limit exceeded",
                  "MLE": "memory limit exceeded", "RE": "runtime error", "CE": "compilation error",
                  "OLE": "output limit exceeded", "NO_CODE": "no code block in the final answer",
                  "INFRA": "judge infrastructure failure", "EXCLUDED": "problem excluded, not scored"}


# The judge's own smoke test: a + b, with a program that must be accepted in each language.
_PREFLIGHT_PROBLEM = Problem(id="preflight", contest=None, rating=None, statement="Print a + b.", time_limit_s=2.0,
                             memory_mb=256, tests=[{"input": "2 3\n", "output": "5\n"}])
_PREFLIGHT_PROGRAMS = {
    "cpp": "#include <bits/stdc++.h>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }\n",
    "python": "a, b = map(int, input().split())\nprint(a + b)\n",
}


def check_judge(language: str) -> None:
    """Judge a known-correct a + b program in ``language``: a :class:`TaskError` (one line) unless it is
    accepted, naming what is missing (no sandbox, no compiler, no python3 the sandbox can run)."""
    code = _PREFLIGHT_PROGRAMS[language]
    try:
        check_available()  # the sandbox first: without it nothing below can say what is missing
        res = judge(_PREFLIGHT_PROBLEM, Submission(id="preflight", problem_id="preflight", language=language,
                                                   code=code), workers=1)
    except SandboxUnavailable as exc:
        raise TaskError(f"the Codeforces judge cannot run here: {_one_line(str(exc))}") from None
    if res.verdict != AC:
        why = _one_line(res.compile_log or res.message) or "no message"
        raise TaskError(f"the Codeforces judge does not work here: a correct {LANGUAGES[language][0]} program got "
                        f"{res.verdict} ({why}); it needs bubblewrap, g++ and, for Python, python3 under /usr")


def _one_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][-300:] if lines else ""


def _cached_codeforces_file(name: str) -> str | None:
    from runners.data import cached_file

    path = cached_file("codeforces", name)
    return str(path) if path else None


def _cached_openr1_tests() -> str | None:
    from runners.data import openr1_tests_dir

    path = openr1_tests_dir()
    return str(path) if path.is_dir() else None


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block of ``text`` as (info-string tag lowercased, body); an unclosed last fence runs to the end."""
    lines = text.splitlines()
    blocks: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m or (m.group("fence")[0] == "`" and "`" in m.group("info")):
            i += 1
            continue
        fence = m.group("fence")
        info = m.group("info").strip()
        tag = info.split()[0].lower() if info else ""
        tag = tag.lstrip("{.").rstrip("}")  # {.cpp} / {cpp} attribute style
        close = re.compile(r"^[ \t]{0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            body.append(lines[j])
            j += 1
        blocks.append((tag, "\n".join(body)))
        i = j + 1
    return blocks


def extract_code(text: str | None, default_language: str = "cpp") -> tuple[str | None, str | None]:
    """The program in a final-channel text: ``(language, code)`` of the LAST fenced code block, or ``(None, None)``.

    Only pass the final channel (``attempt.final_text``); the reasoning is never searched. Tags ``cpp``, ``c++``,
    ``cc``, ``cxx`` ... map to ``"cpp"`` and ``python``, ``py``, ``python3`` ... to ``"python"``; an untagged
    block counts as ``default_language`` (the language the prompt asked for). Blocks tagged as sample data
    (``text``, ``output``, ``input``, ``console`` ...) are skipped. A block in a language we cannot judge comes
    back with its tag as the language (the judge then reports CE "unsupported language"). A block with nothing
    but whitespace does not count.
    """
    if not text:
        return None, None
    for tag, body in reversed(_fenced_blocks(text)):
        if tag in _NON_CODE_TAGS or not body.strip():
            continue
        if not tag:
            return default_language, body.strip("\n") + "\n"
        lang = normalize_language(tag) or {"cc": "cpp", "h": "cpp", "hpp": "cpp", "c++17": "cpp"}.get(tag)
        return (lang or tag), body.strip("\n") + "\n"
    return None, None


def _seconds(t: float) -> str:
    return f"{t:g} second" + ("" if t == 1 else "s")


def _examples_section(problem: Problem) -> str:
    """Examples, unless the statement already shows them (the CodeContests statements do; open-r1's do not)."""
    if not problem.examples or re.search(r"^\s*Examples?\s*$", problem.statement, re.MULTILINE):
        return ""
    parts = ["", "", "Examples"]
    for k, ex in enumerate(problem.examples, 1):
        suffix = f" {k}" if len(problem.examples) > 1 else ""
        parts += ["", f"Input{suffix}", "```", ex["input"].rstrip("\n"), "```", f"Output{suffix}", "```",
                  ex["output"].rstrip("\n"), "```"]
    return "\n".join(parts)


def build_prompt(problem: Problem, language: str = "cpp") -> str:
    """The user message for ``problem`` asking for a program in ``language`` ("cpp" or "python")."""
    language_name, fence = LANGUAGES[language]
    title = f"{problem.id}. {problem.name}" if problem.name else problem.id
    return PROMPT_TEMPLATE.format(title=title, time_limit=_seconds(problem.time_limit_s),
                                  memory_limit=f"{problem.memory_mb} megabytes", statement=problem.statement.strip(),
                                  examples=_examples_section(problem), language_name=language_name, fence=fence)


class CodeforcesTask(PythonToolMode, SingleTurnTask):
    """Codeforces problems with hidden tests; the card row is ``codeforces_elo`` (an Elo estimated from solves)."""

    version = "1"
    default_repeats = 4
    grade_in_thread = True  # the judge compiles and runs programs

    def __init__(self, name: str = "codeforces", *, path: str | None = None, hf_id: str = "open-r1/codeforces",
                 hf_split: str = "test", hf_config: str = "default", language: str = "cpp",
                 limit: int | None = None, ids: list[str] | None = None, rated_only: bool = False,
                 repeats: int = 4, generated_tests_dir: str | None = None,
                 default_time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                 default_memory_mb: int = DEFAULT_MEMORY_MB, full_tests: bool = False, workers: int | None = None,
                 infra_retries: int = 2, human_histogram: str | None = None, testlib_h: str | None = None,
                 tools: str | None = None,
                 max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS, tool_options: dict[str, Any] | None = None) -> None:
        lang = normalize_language(language)
        if lang not in LANGUAGES:
            raise ValueError(f"suite.language must be cpp or python, got {language!r}")
        self.name = name
        self.path = path
        self.hf_id = hf_id
        self.hf_split = hf_split
        self.hf_config = hf_config
        # default: the open-r1 tests fetched by `gptoss-eval-data fetch codeforces --contests ...`, if any
        self.generated_tests_dir = generated_tests_dir or _cached_openr1_tests()
        self.language = lang
        self.limit = limit
        self.ids = [str(i) for i in ids] if ids else None
        self.rated_only = rated_only
        self.default_repeats = repeats
        self.default_time_limit_s = float(default_time_limit_s)
        self.default_memory_mb = int(default_memory_mb)
        self.full_tests = full_tests
        self.workers = workers
        self.infra_retries = max(0, int(infra_retries))
        self.human_histogram = human_histogram  # read by the report (from the manifest config), not by the task
        # a testlib.h for checkers that include it (grading only); default: `gptoss-eval-data fetch codeforces`'s
        self.testlib_h = testlib_h or _cached_codeforces_file("testlib.h")
        self.excluded: dict[str, str] = {}  # problem id -> why it is not evaluated
        self.skipped_interactive: list[str] = []
        self.generated_missing: list[str] = []
        self._samples: list[Sample] | None = None
        # with-tools mode (card row codeforces_elo_tools): the model may run code in a sandboxed python kernel
        self.setup_python_tool(tools, max_tool_calls, tool_options)

    def preflight(self) -> None:
        """Before any request: the judge runs here (sandbox, and the compiler or python3 of suite.language), and
        with tools the python tool works. Without it, a run on a machine with no sandbox would spend every
        request and grade every attempt as an infrastructure failure."""
        check_judge(self.language)
        super().preflight()

    # -- data ---------------------------------------------------------------------------------------------------
    def _problem_set(self) -> ProblemSet:
        try:
            if self.path:
                return load_problems(self.path, generated_tests_dir=self.generated_tests_dir)
            if not self.hf_id:
                raise DataUnavailable(f"{self.name}: no data source; set suite.path to a local problems JSONL")
            return load_openr1_codeforces(split=self.hf_split, config=self.hf_config, dataset=self.hf_id,
                                          generated_tests_dir=self.generated_tests_dir)
        except ProblemDataError as exc:
            where = f"the local file {self.path}" if self.path else f"{self.hf_id} ({self.hf_split})"
            raise DataUnavailable(
                f"{self.name}: cannot load problems from {where}: {str(exc).splitlines()[0][:300].rstrip('.')}. Point "
                f"suite.path at a local JSONL (CodeContests shape, normalized, or open-r1/codeforces rows), e.g. "
                f"suite.path=/path/to/problems.jsonl") from exc

    def _with_default_limits(self, p: Problem) -> Problem:
        if not p.limits_defaulted:
            return p
        t = self.default_time_limit_s if p.time_limit_s == DEFAULT_TIME_LIMIT_S else p.time_limit_s
        m = self.default_memory_mb if p.memory_mb == DEFAULT_MEMORY_MB else p.memory_mb
        return dataclasses.replace(p, time_limit_s=t, memory_mb=m)

    def load(self) -> list[Sample]:
        if self._samples is not None:
            return self._samples
        ps = self._problem_set()
        wanted = set(self.ids) if self.ids else None
        self.skipped_interactive = [i for i in ps.skipped_interactive if wanted is None or i in wanted]
        self.excluded = {i: r for i, r in ps.excluded.items() if wanted is None or i.split("#")[0] in wanted}
        for pid in self.skipped_interactive:
            self.excluded.setdefault(pid, "interactive (not supported)")
        samples = []
        self.generated_missing = [i for i in ps.generated_missing if wanted is None or i in wanted]
        for p in ps.problems:
            if wanted is not None and p.id not in wanted:
                continue
            if self.rated_only and p.rating is None:
                self.excluded[p.id] = "no rating (rated_only=true)"
                continue
            p = self._with_default_limits(p)
            samples.append(Sample(id=p.id, input=build_prompt(p, self.language), reference=p, metadata={
                "rating": p.rating, "contest": p.contest, "limits_defaulted": p.limits_defaulted, "name": p.name,
                "time_limit_s": p.time_limit_s, "memory_mb": p.memory_mb, "tests": len(p.tests),
                "checker": p.checker_contract}))
        if wanted is not None:
            missing = wanted - {s.id for s in samples} - set(self.excluded)
            for pid in sorted(missing):
                self.excluded[pid] = "not in the data"
        if self.limit:
            samples = samples[: self.limit]
        if not samples:
            raise DataUnavailable(f"{self.name}: no problems left after loading and filtering "
                                  f"({len(self.excluded)} excluded); check suite.path / suite.ids / suite.rated_only")
        self._samples = samples
        return samples

    def data_summary(self) -> dict[str, Any]:
        """What was loaded and what was left out (goes into the manifest through :meth:`settings`)."""
        samples = self.load()
        return {"problems": len(samples), "rated": sum(s.metadata["rating"] is not None for s in samples),
                "limits_defaulted": sum(bool(s.metadata["limits_defaulted"]) for s in samples),
                "skipped_interactive": sorted(self.skipped_interactive), "excluded": dict(sorted(self.excluded.items())),
                "generated_tests_missing": sorted(set(self.generated_missing) & {s.id for s in samples}),
                "checkers": dict(sorted(Counter(s.metadata["checker"] for s in samples
                                                if s.metadata["checker"]).items()))}

    # -- episode ------------------------------------------------------------------------------------------------
    def prompt(self, sample: Sample) -> list[dict[str, Any]]:
        return [{"role": "user", "content": sample.input}]

    async def solve(self, sample: Sample, model: ModelSession) -> Episode:
        if self.tools:
            episode = await solve_with_python(model, self.prompt(sample), limits=self.tool_limits,
                                              max_tool_calls=self.max_tool_calls)
        else:
            episode = await super().solve(sample, model)
        # the problem's rating travels with every attempt, so reports work even for ungraded/truncated ones
        episode.info.update({"rating": sample.metadata.get("rating"), "contest": sample.metadata.get("contest"),
                             "limits_defaulted": sample.metadata.get("limits_defaulted"),
                             "language": self.language})
        return episode

    # -- grading ------------------------------------------------------------------------------------------------
    def _judge(self, problem: Problem, language: str, code: str, key: str) -> tuple[JudgeResult | None, str]:
        """Judge with retries on INFRA; returns (result, infra message). result None: no sandbox at all."""
        last_msg = ""
        for attempt in range(self.infra_retries + 1):
            try:
                res = judge(problem, Submission(id=key, problem_id=problem.id, language=language, code=code),
                            full=self.full_tests, workers=self.workers, testlib_h=self.testlib_h)
            except SandboxUnavailable as exc:
                return None, f"sandbox unavailable: {exc}"
            if res.verdict != INFRA:
                return res, ""
            last_msg = res.message or res.compile_log
            if attempt < self.infra_retries:
                time.sleep(0.5 * (attempt + 1))
        return res, last_msg

    def _excluded(self, attempt: Attempt, problem: Problem, why: str, meta: dict[str, Any]) -> Grade:
        label = exclusion_label(why)
        return Grade(key=attempt.key, score=None, answer=EXCLUDED,
                     reason=f"{_VERDICT_WORDS[EXCLUDED]} ({label}): {why[-300:]}",
                     details={"verdict": EXCLUDED, "excluded": label, "excluded_message": why[-1000:],
                              "infra_error": False, "tests_passed": 0, "tests_total": len(problem.tests),
                              "time": None, "memory": None, "language": None, **meta})

    def grade(self, sample: Sample, attempt: Attempt) -> Grade:
        problem: Problem = sample.reference
        meta = {"rating": problem.rating, "limits_defaulted": problem.limits_defaulted,
                "checker": problem.checker_contract}
        why = checker_exclusion(problem, testlib_h=self.testlib_h)  # compiled once per process; cached on disk
        if why:
            return self._excluded(attempt, problem, why, meta)
        language, code = extract_code(attempt.final_text, self.language)
        if code is None:
            return Grade(key=attempt.key, score=0.0, answer=NO_CODE, reason=_VERDICT_WORDS[NO_CODE], details={
                "verdict": NO_CODE, "tests_passed": 0, "tests_total": len(problem.tests), "time": None,
                "memory": None, "language": None, "infra_error": False, **meta})
        res, infra_msg = self._judge(problem, language, code, attempt.key)
        if res is not None and res.verdict == EXCLUDED:
            return self._excluded(attempt, problem, res.message, meta)
        if res is None or res.verdict == INFRA:
            tries = self.infra_retries + 1 if res is not None else 1
            return Grade(key=attempt.key, score=None, answer=INFRA,
                         reason=f"judge infrastructure failure after {tries} tries, not the model's fault "
                                f"(excluded from accuracy): {infra_msg[-300:]}",
                         details={"verdict": INFRA, "infra_error": True, "infra_message": infra_msg[-1000:],
                                  "tests_passed": 0, "tests_total": len(problem.tests), "time": None,
                                  "memory": None, "language": language, **meta})
        details = {"verdict": res.verdict, "tests_passed": res.tests_passed, "tests_total": res.tests_total,
                   "time": res.max_time_s, "memory": round(res.max_memory_bytes / 2**20, 1),
                   "failed_test": res.failed_test, "language": language, "infra_error": False, **meta}
        if res.verdict == "CE":
            details["compile_log"] = res.compile_log[-1000:]
        elif res.message:
            details["message"] = res.message[-500:]
        words = _VERDICT_WORDS.get(res.verdict, res.verdict)
        if res.verdict == AC:
            reason = f"{words} ({res.tests_passed}/{res.tests_total} tests)"
        elif res.failed_test is not None:
            reason = f"{words} on test {res.failed_test} ({res.tests_passed}/{res.tests_total} passed)"
        else:
            reason = words + (f": {res.compile_log.strip()[-200:]}" if res.verdict == "CE" else "")
        return Grade(key=attempt.key, score=float(res.verdict == AC), answer=res.verdict, reason=reason,
                     details=details)

    # -- identity -----------------------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "prompt_version": PROMPT_VERSION,
                "prompt": PROMPT_TEMPLATE, "language": self.language,
                "source": self.path or f"{self.hf_id}:{self.hf_config}:{self.hf_split}", "limit": self.limit,
                **({"generated_tests_dir": self.generated_tests_dir} if self.generated_tests_dir else {}),
                "ids": self.ids, "rated_only": self.rated_only, "default_time_limit_s": self.default_time_limit_s,
                "default_memory_mb": self.default_memory_mb, "data": self.data_summary(),
                **({"tools": self.tools, "max_tool_calls": self.max_tool_calls,
                    "tool_limits": self.tool_limits.settings()} if self.tools else {})}

    def card_key(self) -> str | None:
        return "codeforces_elo_tools" if self.tools else "codeforces_elo"

    @classmethod
    def suite_metrics(cls, run_dir: Path) -> list[dict[str, Any]]:
        from tasks.codeforces.metrics import codeforces_sections

        return codeforces_sections(run_dir)
