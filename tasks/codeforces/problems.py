"""Codeforces problems in one normalized shape, from the local JSONL files or the open-r1 hub dataset.

Every loader returns a :class:`ProblemSet`: the judgeable problems plus what was left out and why
(interactive problems are counted in ``skipped_interactive``; problems without tests land in ``excluded``).
Nothing is dropped silently.

open-r1/codeforces keeps most of each problem's tests apart from the rows: the ``official_tests`` column holds
the tests Codeforces shows (often truncated or partial, ``official_tests_complete`` false), and the
``generated_tests`` column counts extra tests stored in the dataset repo as
``generated_tests/test_cases_<contest id, 4 digits>.parquet`` (columns ``problem_id``, ``input``, ``output``,
``test_i``; ~110 GB for all contests). :func:`load_openr1_codeforces` appends them from a local copy of those
files (``generated_tests_dir``; fetch only the contests you need, e.g.
``hf download open-r1/codeforces --repo-type dataset --include 'generated_tests/test_cases_2000.parquet'
--local-dir DIR``), or takes them from the row itself when a derived dataset stores them there as a list.
The same rows exported to a local JSONL (one hub row per line, the hub's column names) load offline through
:func:`load_problems`, which tells the three local shapes apart by their columns.

Checkers come in two contracts (:data:`CHECKER_KINDS`), recorded with each problem as ``checker_kind``:
``testlib`` (``checker input output answer``; exit 0 accepts, 1 or 2 rejects) for checkers of the local shapes,
and ``openr1`` (``python checker.py input.txt correct_output.txt solution_output.txt``; accepted when it exits 0
and prints 1) for open-r1's ``generated_checker``. A problem naming any other kind is excluded, with the reason.
open-r1 rows without a checker keep open-r1's comparison too (``comparison="openr1"``: tokens equal, ``yes``/``no``
in any case; no float tolerance), the other shapes compare tokens with floats within 1e-6.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TIME_LIMIT_S = 2.0
DEFAULT_MEMORY_MB = 256
GENERATED_TESTS_FILE = "test_cases_{contest:04d}.parquet"  # under generated_tests/ in the open-r1 dataset repo
TESTLIB, OPENR1 = "testlib", "openr1"
CHECKER_KINDS = (TESTLIB, OPENR1)
TOKENS = "tokens"
# columns that only open-r1/codeforces rows have (the normalized shape says tests/checker, CodeContests problem_id)
OPENR1_MARKERS = ("official_tests", "generated_checker")

__all__ = [
    "CHECKER_KINDS",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_TIME_LIMIT_S",
    "Problem",
    "ProblemSet",
    "ProblemDataError",
    "OPENR1",
    "TESTLIB",
    "is_openr1_row",
    "load_codecontests_jsonl",
    "load_openr1_codeforces",
    "load_openr1_jsonl",
    "load_problems",
    "load_problems_jsonl",
    "normalize_record",
]


class ProblemDataError(ValueError):
    """A problem file or record cannot be read; the message names the file/line and the field."""


@dataclass
class Problem:
    id: str
    contest: int | None
    rating: int | None
    statement: str
    time_limit_s: float
    memory_mb: int
    tests: list[dict[str, str]]  # [{"input": ..., "output": ...}]
    checker: str | None = None  # checker source (C++ or Python), run as its checker_kind says
    interactive: bool = False
    limits_defaulted: bool = False  # time/memory limits were not given: 2 s / 256 MB assumed
    name: str = ""
    index: str = ""
    tags: list[str] = field(default_factory=list)
    examples: list[dict[str, str]] = field(default_factory=list)
    multiple_answers: bool = False  # suspected: several outputs may be correct (a checker is needed)
    source: str = ""
    checker_kind: str | None = None  # how the checker is called and read (CHECKER_KINDS); None: testlib
    comparison: str = TOKENS  # without a checker: tokens (floats within 1e-6) or openr1 (open-r1's diff rule)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def checker_contract(self) -> str | None:
        """The checker's kind (``testlib`` when a checker names none), or None when there is no checker."""
        return (self.checker_kind or TESTLIB) if self.checker else None


@dataclass
class ProblemSet:
    problems: list[Problem]
    skipped_interactive: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)  # problem id -> reason
    generated_missing: list[str] = field(default_factory=list)  # kept, but judged without their generated tests

    def __iter__(self):
        return iter(self.problems)

    def __len__(self) -> int:
        return len(self.problems)

    def by_id(self) -> dict[str, Problem]:
        return {p.id: p for p in self.problems}

    def summary(self) -> dict[str, Any]:
        return {"problems": len(self.problems), "skipped_interactive": len(self.skipped_interactive),
                "excluded": len(self.excluded),
                "limits_defaulted": sum(p.limits_defaulted for p in self.problems),
                "generated_tests_missing": len(self.generated_missing)}


# ---------------------------------------------------------------------------------------------------------------

def _tests(value: Any, where: str) -> list[dict[str, str]]:
    if value is None:
        return []
    if isinstance(value, str):  # some dumps store the list as its Python/JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError) as e:
                raise ProblemDataError(f"{where}: tests are a string that is neither JSON nor a literal") from e
    if isinstance(value, Mapping) and "input" in value and isinstance(value["input"], list):
        value = [{"input": i, "output": o} for i, o in zip(value["input"], value.get("output") or [], strict=False)]
    out = []
    for t in value:
        if not isinstance(t, Mapping) or "input" not in t or "output" not in t:
            raise ProblemDataError(f"{where}: each test needs 'input' and 'output'")
        out.append({"input": str(t["input"]), "output": str(t["output"])})
    return out


def _int_or_none(v: Any) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def _contest_of(pid: str) -> int | None:
    m = re.match(r"(\d+)", pid)
    return int(m.group(1)) if m else None


def _limits(time_s: Any, memory_mb: Any) -> tuple[float, int, bool]:
    defaulted = False
    try:
        t = float(time_s)
        if not t > 0:
            raise ValueError
    except (TypeError, ValueError):
        t, defaulted = DEFAULT_TIME_LIMIT_S, True
    try:
        m = int(float(memory_mb))
        if m <= 0:
            raise ValueError
    except (TypeError, ValueError):
        m, defaulted = DEFAULT_MEMORY_MB, True
    return t, m, defaulted


def _finish(items: Iterable[Problem], *, keep_interactive: bool = False) -> ProblemSet:
    ps = ProblemSet(problems=[])
    seen: set[str] = set()
    for p in items:
        if p.id in seen:
            ps.excluded[p.id + "#dup"] = "duplicate id"
            continue
        seen.add(p.id)
        if p.interactive and not keep_interactive:
            ps.skipped_interactive.append(p.id)
        elif not p.tests:
            ps.excluded[p.id] = "no tests"
        elif p.checker and p.checker_contract not in CHECKER_KINDS:
            ps.excluded[p.id] = unknown_kind_reason(p.checker_contract)
        else:
            ps.problems.append(p)
    return ps


def unknown_kind_reason(kind: Any) -> str:
    return f"checker of unknown kind {kind!r} (known: {', '.join(CHECKER_KINDS)})"


def read_jsonl_records(path: str | Path) -> Iterable[tuple[int, dict[str, Any]]]:
    p = Path(path)
    if not p.is_file():
        raise ProblemDataError(f"{p}: no such file")
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ProblemDataError(f"{p}:{n}: not valid JSON ({e.msg})") from e
            if not isinstance(rec, dict):
                raise ProblemDataError(f"{p}:{n}: expected a JSON object")
            yield n, rec


# --- (a) CodeContests-derived JSONL (e.g. codecontests_cf300.jsonl) -----------------------------------------------

def _from_codecontests(rec: Mapping[str, Any], where: str) -> Problem:
    pid = str(rec["problem_id"])
    t, m, defaulted = _limits(rec.get("time_limit_s", rec.get("time_limit")),
                              rec.get("memory_limit_mb", rec.get("memory_limit")))
    return Problem(
        id=pid, contest=_int_or_none(rec.get("contest_id")) or _contest_of(pid),
        rating=_int_or_none(rec.get("cf_rating")), statement=str(rec.get("statement") or ""),
        time_limit_s=t, memory_mb=m, tests=_tests(rec.get("tests"), where),
        checker=rec.get("checker") or None, interactive=bool(rec.get("suspected_interactive")),
        limits_defaulted=defaulted, name=str(rec.get("name") or ""), index=str(rec.get("index") or ""),
        tags=list(rec.get("tags") or []), examples=_tests(rec.get("examples"), where),
        multiple_answers=bool(rec.get("suspected_multiple_answers")), source="codecontests",
        checker_kind=TESTLIB if rec.get("checker") else None)


def load_codecontests_jsonl(path: str | Path) -> ProblemSet:
    """Load the CodeContests-derived file. It has no limits, so every problem gets 2 s / 256 MB, flagged."""
    items = []
    for n, rec in read_jsonl_records(path):
        if "problem_id" not in rec:
            raise ProblemDataError(f"{path}:{n}: missing 'problem_id'")
        items.append(_from_codecontests(rec, f"{path}:{n}"))
    return _finish(items)


# --- (b) the normalized shape ------------------------------------------------------------------------------------

def normalize_record(rec: Mapping[str, Any], where: str = "record") -> Problem:
    """Build a :class:`Problem` from a dict in the normalized shape (missing limits -> defaults, flagged)."""
    if "id" not in rec:
        raise ProblemDataError(f"{where}: missing 'id'")
    pid = str(rec["id"])
    t, m, defaulted = _limits(rec.get("time_limit_s"), rec.get("memory_mb"))
    return Problem(
        id=pid, contest=_int_or_none(rec.get("contest")) or _contest_of(pid), rating=_int_or_none(rec.get("rating")),
        statement=str(rec.get("statement") or ""), time_limit_s=t, memory_mb=m,
        tests=_tests(rec.get("tests"), where), checker=rec.get("checker") or None,
        interactive=bool(rec.get("interactive")), limits_defaulted=defaulted or bool(rec.get("limits_defaulted")),
        name=str(rec.get("name") or ""), index=str(rec.get("index") or ""), tags=list(rec.get("tags") or []),
        examples=_tests(rec.get("examples"), where), multiple_answers=bool(rec.get("multiple_answers")),
        source=str(rec.get("source") or "local"),
        checker_kind=(str(rec.get("checker_kind") or TESTLIB) if rec.get("checker") else None))


def load_problems_jsonl(path: str | Path) -> ProblemSet:
    """Load a local JSONL whose lines use the normalized fields (see :class:`Problem`)."""
    return _finish(normalize_record(rec, f"{path}:{n}") for n, rec in read_jsonl_records(path))


def is_openr1_row(rec: Mapping[str, Any]) -> bool:
    """True for a row of open-r1/codeforces (its ``official_tests`` / ``generated_checker`` columns)."""
    return "tests" not in rec and any(k in rec for k in OPENR1_MARKERS)


def load_problems(path: str | Path, *, generated_tests_dir: str | os.PathLike | None = None) -> ProblemSet:
    """Load any local shape, told apart by the first record's columns: ``problem_id`` -> CodeContests,
    ``official_tests`` / ``generated_checker`` -> open-r1 rows (:func:`load_openr1_jsonl`; ``generated_tests_dir``
    as for the hub), else the normalized shape."""
    for _, rec in read_jsonl_records(path):
        if "problem_id" in rec and "id" not in rec:
            return load_codecontests_jsonl(path)
        if is_openr1_row(rec):
            return load_openr1_jsonl(path, generated_tests_dir=generated_tests_dir)
        return load_problems_jsonl(path)
    return ProblemSet(problems=[])


# --- (c) the open-r1/codeforces hub dataset ---------------------------------------------------------------------

def _from_openr1(row: Mapping[str, Any], generated: list[dict[str, str]] | None = None) -> Problem:
    pid = str(row.get("id") or f"{row.get('contest_id')}{row.get('index')}")
    t, m, defaulted = _limits(row.get("time_limit"), row.get("memory_limit"))
    parts = [str(row.get("description") or "")]
    for title, key in (("Input", "input_format"), ("Output", "output_format"), ("Interaction", "interaction_format"),
                       ("Note", "note")):
        if row.get(key):
            parts.append(f"{title}\n\n{row[key]}")
    interactive = bool(row.get("interaction_format"))
    return Problem(
        id=pid, contest=_int_or_none(row.get("contest_id")), rating=_int_or_none(row.get("rating")),
        statement="\n\n".join(p for p in parts if p), time_limit_s=t, memory_mb=m,
        tests=_tests(row.get("official_tests"), pid) + (generated or []),
        checker=row.get("generated_checker") or None, checker_kind=OPENR1 if row.get("generated_checker") else None,
        comparison=OPENR1,
        interactive=interactive, limits_defaulted=defaulted, name=str(row.get("title") or ""),
        index=str(row.get("index") or ""), tags=list(row.get("tags") or []),
        examples=_tests(row.get("examples"), pid), multiple_answers=bool(row.get("generated_checker")),
        source="open-r1/codeforces")


def _key(problem_id: Any) -> str:
    return str(problem_id).replace("/", "").strip().upper()


class _GeneratedTests:
    """The generated tests of a local copy of ``generated_tests/*.parquet``, one contest file at a time."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.dir = Path(directory)
        if not self.dir.is_dir():
            raise ProblemDataError(f"generated_tests_dir={self.dir} is not a directory")
        self._contest: int | None = None
        self._present = False
        self._by_problem: dict[str, list[dict[str, str]]] = {}

    def _file(self, contest: int) -> Path | None:
        name = GENERATED_TESTS_FILE.format(contest=contest)
        for cand in (self.dir / "generated_tests" / name, self.dir / name):
            if cand.is_file():
                return cand
        return None

    def _read(self, path: Path) -> dict[str, list[dict[str, str]]]:
        import pyarrow.parquet as pq

        try:
            names = set(pq.read_schema(path).names)
            missing = {"problem_id", "input", "output"} - names
            if missing:
                raise ProblemDataError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            order = next((c for c in ("test_i", "test_case_i") if c in names), None)
            rows = pq.read_table(path, columns=["problem_id", "input", "output", *([order] if order else [])])
        except (OSError, ValueError) as e:  # pyarrow's errors derive from these
            raise ProblemDataError(f"{path}: cannot read the generated tests ({e})") from e
        by: dict[str, list[tuple[int, dict[str, str]]]] = {}
        for n, r in enumerate(rows.to_pylist()):
            by.setdefault(_key(r["problem_id"]), []).append(
                (int(r[order]) if order and r[order] is not None else n,
                 {"input": str(r["input"]), "output": str(r["output"])}))
        return {k: [t for _, t in sorted(v, key=lambda x: x[0])] for k, v in by.items()}

    def get(self, row: Mapping[str, Any], pid: str) -> list[dict[str, str]] | None:
        """The problem's generated tests, or None when its contest file is not in the directory."""
        contest = _int_or_none(row.get("contest_id")) or _contest_of(pid)
        if contest is None:
            return None
        if contest != self._contest:  # rows come grouped by contest: keep one contest file in memory
            path = self._file(contest)
            self._contest, self._by_problem = contest, (self._read(path) if path else {})
            self._present = path is not None
        if not self._present:
            return None
        for k in (_key(pid), _key(f"{row.get('contest_id')}{row.get('index')}")):
            if k in self._by_problem:
                return self._by_problem[k]
        return []


def load_openr1_codeforces(split: str = "test", config: str = "default",
                           dataset: str = "open-r1/codeforces", *, generated_tests_dir: str | os.PathLike | None = None,
                           **load_kwargs: Any) -> ProblemSet:
    """Load ``open-r1/codeforces`` through ``datasets.load_dataset`` (a thin column mapping).

    Tests are ``official_tests`` followed by the generated tests: from the row when it holds them as a list, else
    (the hub's rows hold their count) from ``generated_tests_dir``, a local copy of the repo's
    ``generated_tests/`` files (see the module doc). Rows with ``official_tests_complete`` false are excluded
    unless their generated tests were loaded (partial test sets accept wrong programs); so are rows whose
    ``input_mode`` is not stdin. Problems kept without generated tests they have upstream are listed in
    ``generated_missing``. ``generated_checker`` becomes :attr:`Problem.checker` of kind ``openr1`` (open-r1's
    own contract: ``python checker.py input.txt correct_output.txt solution_output.txt``, prints 1 to accept).
    """
    gen_source = _GeneratedTests(generated_tests_dir) if generated_tests_dir else None
    try:
        from datasets import load_dataset
    except ImportError as e:  # pragma: no cover - datasets is a dependency
        raise ProblemDataError("the 'datasets' package is needed to read the hub dataset") from e
    try:
        ds = load_dataset(dataset, config, split=split, **load_kwargs)
    except Exception as e:  # noqa: BLE001 - network, auth and cache errors all mean the same thing here
        raise ProblemDataError(
            f"cannot load {dataset!r} ({config}/{split}) from the Hugging Face hub: {type(e).__name__}: {e}. "
            "Without network access, export its rows to a JSONL file elsewhere (one row per line, the hub's "
            "columns) and load that file (suite.path, or load_problems_jsonl()).") from e
    return _openr1_problem_set(ds, gen_source)


def _openr1_problem_set(rows: Iterable[Mapping[str, Any]], gen_source: _GeneratedTests | None) -> ProblemSet:
    items: list[Problem] = []
    excluded: dict[str, str] = {}
    missing: list[str] = []
    for row in rows:
        pid = str(row.get("id") or f"{row.get('contest_id')}{row.get('index')}")
        listed = row.get("generated_tests")
        generated: list[dict[str, str]] | None = None
        upstream = 0
        if isinstance(listed, (list, tuple, str)):  # a derived dataset that keeps them in the row
            generated = _tests(listed, pid)
        else:
            upstream = _int_or_none(listed) or 0
            if upstream and gen_source is not None:
                generated = gen_source.get(row, pid)
        p = _from_openr1(row, generated)
        if row.get("official_tests_complete") is False and not generated and not p.interactive:
            excluded[p.id] = ("official tests incomplete and generated tests not loaded (suite.generated_tests_dir)"
                              if upstream else "official tests incomplete")
            continue
        mode = row.get("input_mode")
        if mode not in (None, "", "stdio") and not p.interactive:
            excluded[p.id] = f"input mode {mode!r} (only stdin/stdout is supported)"
            continue
        if upstream and not generated and not p.interactive:
            missing.append(p.id)
        items.append(p)
    ps = _finish(items)
    ps.excluded.update(excluded)
    ps.generated_missing = [i for i in missing if i in {p.id for p in ps.problems}]
    return ps


# --- (d) open-r1 rows exported to a local JSONL -----------------------------------------------------------------

def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _first_bad_test(tests: list[Any]) -> int | None:
    """1-based position of the first item that is not {input: str, output: str}, or None."""
    for k, t in enumerate(tests, 1):
        if not (isinstance(t, Mapping) and isinstance(t.get("input"), str) and isinstance(t.get("output"), str)):
            return k
    return None


def _check_openr1_row(row: Mapping[str, Any], where: str) -> None:
    """Raise :class:`ProblemDataError` naming ``where`` and the field when a row does not have the hub's types."""
    def bad(field_name: str, why: str) -> ProblemDataError:
        return ProblemDataError(f"{where}: field '{field_name}' {why}")

    if not row.get("id") and (row.get("contest_id") in (None, "") or row.get("index") in (None, "")):
        raise ProblemDataError(f"{where}: missing field 'id' (or both 'contest_id' and 'index')")
    if "official_tests" not in row:
        raise ProblemDataError(f"{where}: missing field 'official_tests' (a list of {{input, output}})")
    for name in ("official_tests", "examples"):
        tests = row.get(name)
        if tests is None and name == "examples":
            continue
        if not isinstance(tests, list):
            raise bad(name, f"must be a list of {{input, output}}, got {type(tests).__name__}")
        if (k := _first_bad_test(tests)) is not None:
            raise bad(name, f"item {k} needs string 'input' and 'output'")
    for name, unit in (("time_limit", "seconds"), ("memory_limit", "megabytes")):
        v = row.get(name)
        if v is not None and not (_is_number(v) and v > 0):
            raise bad(name, f"must be a positive number of {unit}, got {v!r}")
    if row.get("rating") is not None and not (_is_number(row["rating"]) and float(row["rating"]).is_integer()):
        raise bad("rating", f"must be an integer or null, got {row['rating']!r}")
    if row.get("official_tests_complete") is not None and not isinstance(row["official_tests_complete"], bool):
        raise bad("official_tests_complete", f"must be true, false or null, got {row['official_tests_complete']!r}")
    for name in ("id", "contest_id", "index", "title", "description", "input_format", "output_format",
                 "interaction_format", "note", "generated_checker", "input_mode"):
        v = row.get(name)
        if v is not None and not isinstance(v, str) and not (name == "contest_id" and _is_number(v)):
            raise bad(name, f"must be a string or null, got {type(v).__name__}")
    gen = row.get("generated_tests")
    if gen is not None and not (isinstance(gen, list) or (_is_number(gen) and gen >= 0)):
        raise bad("generated_tests", f"must be a count or a list of {{input, output}}, got {gen!r}")
    if isinstance(gen, list) and (k := _first_bad_test(gen)) is not None:
        raise bad("generated_tests", f"item {k} needs string 'input' and 'output'")


def load_openr1_jsonl(path: str | Path, *, generated_tests_dir: str | os.PathLike | None = None) -> ProblemSet:
    """Load rows of open-r1/codeforces exported to a local JSONL (one row per line, the hub's columns: id,
    contest_id, index, title, description, input_format, output_format, time_limit, memory_limit, rating,
    official_tests, official_tests_complete, generated_checker, input_mode, ...) exactly as
    :func:`load_openr1_codeforces` loads the hub's rows. A malformed row raises :class:`ProblemDataError` naming
    the file, the line and the field."""
    gen_source = _GeneratedTests(generated_tests_dir) if generated_tests_dir else None
    rows = []
    for n, rec in read_jsonl_records(path):
        where = f"{path}:{n}"
        if not is_openr1_row(rec):
            raise ProblemDataError(f"{where}: missing field 'official_tests' (the file's first line is an "
                                   "open-r1/codeforces row; every line must be one)")
        _check_openr1_row(rec, where)
        rows.append(rec)
    return _openr1_problem_set(rows, gen_source)
