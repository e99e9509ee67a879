"""Judge Codeforces-style submissions (C++17 or Python 3) against a problem's tests in the bubblewrap sandbox.

One submission: compile once (in the sandbox; C++ uses a precompiled ``bits/stdc++.h`` cached per compiler
version and flags; Python is byte-compiled to catch syntax errors), then run the tests in parallel on a thread
pool, stopping at the first failing test unless ``full=True``. Verdicts::

    AC  accepted                 WA  wrong answer              TLE time limit (CPU) or wall clock exceeded
    MLE memory limit exceeded    RE  runtime error             CE  compilation error
    OLE output limit exceeded    NO_CODE  nothing to judge     INFRA  the judge itself failed (never a WA)
    EXCLUDED  the problem cannot be judged (its checker is unusable, see below): not the model's failure either

Outputs are compared as whitespace-separated tokens; a token of the expected output that is a decimal with a
fraction or exponent is compared with 1e-6 absolute-or-relative tolerance, everything else exactly. open-r1 rows
(``Problem.comparison == "openr1"``) are compared as open-r1's runner compares them: tokens equal after the words
``yes`` and ``no`` are upper-cased (``YES`` = ``yes``), no float tolerance. A problem that ships a checker is
judged by it instead, called as its kind (``Problem.checker_kind``) says:

- ``testlib`` (C++ or Python source): ``checker input output answer`` (the contestant's output second); exit
  code 0 = AC, 1 or 2 = WA, anything else = INFRA (a judge failure, never a WA).
- ``openr1`` (open-r1/codeforces ``generated_checker``, always Python): ``python3 checker.py input.txt
  correct_output.txt solution_output.txt`` (the contestant's output last), as open-r1's Codeforces runner calls
  it: AC when it exits 0 within 10 s and its stdout, all whitespace removed, is ``1`` (or ``100``); any other
  output, exit code, crash or timeout is WA. The files are prepared as that runner prepares them: ``\\r`` at
  line ends removed from the input and the answer, empty lines removed from the answer and the output.

Checkers are compiled once and cached on disk by source hash. A problem is EXCLUDED (never AC, never WA) when
its checker is of an unknown kind, does not compile, or fails on every test given the test's own answer as
the contestant's output (crash, timeout, or for ``testlib`` an exit code other than 0/1/2): remembered for this
process only, so a fixed setup is retried next time. ``testlib.h`` is not shipped: a checker that includes it
needs ``testlib_h=PATH`` (a file you supply; ``--testlib PATH`` on the CLI, ``suite.testlib_h`` in a run).

Tests run in long-lived sandboxes (:class:`evals.sandbox.SandboxLane`), one per worker for the submission: one
bwrap start-up per lane instead of one per test and per checker call. A lane that fails during a test makes that
test INFRA (never WA) and is replaced by a fresh one.

CLI::

    python -m tasks.codeforces.judge --problems P.jsonl --submissions S.jsonl [--full] [--workers N] [--testlib H]
        [--generated-tests DIR]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import functools
import hashlib
import json
import math
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evals.sandbox import (
    DEFAULT_UID,
    INBOX_DIR,
    SANDBOX_DIR,
    SandboxError,
    SandboxLane,
    SandboxResult,
    SandboxUnavailable,
    cache_dir,
    run_sandboxed,
)
from tasks.codeforces.problems import (
    CHECKER_KINDS,
    OPENR1,
    TESTLIB,
    Problem,
    ProblemDataError,
    load_problems,
    read_jsonl_records,
    unknown_kind_reason,
)

AC, WA, TLE, MLE, RE, CE, OLE, NO_CODE, INFRA = "AC", "WA", "TLE", "MLE", "RE", "CE", "OLE", "NO_CODE", "INFRA"
EXCLUDED = "EXCLUDED"
VERDICTS = (AC, WA, TLE, MLE, RE, CE, OLE, NO_CODE, INFRA, EXCLUDED)

CXX = "g++"
CXX_FLAGS = ("-std=c++17", "-O2", "-pipe", "-DONLINE_JUDGE")
SANDBOX_SYSTEM_DIRS = ("/usr/", "/bin/", "/lib/", "/lib64/")  # bound read-only into every sandbox
COMPILE_LIMITS = {"cpu_seconds": 30.0, "wall_seconds": 60.0, "memory_bytes": 2 << 30, "max_processes": 32,
                  "max_output_bytes": 1 << 20}
CHECKER_LIMITS = {"cpu_seconds": 10.0, "wall_seconds": 20.0, "memory_bytes": 1 << 30, "max_processes": 1,
                  "max_output_bytes": 1 << 20}
OPENR1_CHECKER_LIMITS = {**CHECKER_LIMITS, "wall_seconds": 10.0}  # open-r1's runner: `timeout 10 python3 ...`
OPENR1_ACCEPT = ("1", "100")  # its runner's accepting outputs (whitespace removed)
LOG_TAIL = 2000

_LANG_ALIASES = {
    "cpp": "cpp", "c++": "cpp", "cpp17": "cpp", "c++17": "cpp", "cxx": "cpp", "g++": "cpp", "gnu c++17": "cpp",
    "cpp14": "cpp", "c++14": "cpp", "cpp20": "cpp", "c++20": "cpp",
    "python": "python", "python3": "python", "py": "python", "py3": "python", "pypy3": "python",
}

__all__ = [
    "AC", "CE", "EXCLUDED", "INFRA", "MLE", "NO_CODE", "OLE", "RE", "TLE", "VERDICTS", "WA",
    "CheckerError", "JudgeResult", "Submission", "TestResult", "checker_exclusion", "exclusion_label", "judge",
    "main", "normalize_language", "openr1_files", "openr1_outputs_match", "outputs_match", "precompiled_header_dir", "sandbox_python",
]
TESTLIB_HINT = ("testlib.h is not available (it is not shipped and cannot be fetched offline); give the path of a "
                "testlib.h file you supply: suite.testlib_h=/path/to/testlib.h in a run, --testlib on the judge CLI")


@dataclass
class Submission:
    id: str
    problem_id: str
    language: str
    code: str


@dataclass
class TestResult:
    index: int  # 0-based
    verdict: str
    time_s: float | None
    memory_bytes: int | None
    exit_code: int | None = None
    signal: int | None = None
    detail: str = ""


@dataclass
class JudgeResult:
    verdict: str
    tests_passed: int
    tests_total: int
    max_time_s: float = 0.0
    max_memory_bytes: int = 0
    failed_test: int | None = None  # 1-based, Codeforces style ("wrong answer on test 3")
    compile_log: str = ""  # tail of the compiler's messages
    compile_seconds: float = 0.0
    message: str = ""
    limits_defaulted: bool = False
    tests: list[TestResult] = field(default_factory=list)  # every run test when full=True, else empty

    @property
    def accepted(self) -> bool:
        return self.verdict == AC

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------------------
# Output comparison
# ---------------------------------------------------------------------------------------------------------------

_FLOAT_RE = re.compile(rb"[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)")
_NUM_RE = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


_YES_NO_RE = re.compile(rb"\b(yes|no)\b", re.IGNORECASE)


def openr1_outputs_match(got: bytes | str, expected: bytes | str) -> bool:
    """open-r1's comparison without a checker: the whole words ``yes`` / ``no`` upper-cased in both, then the
    whitespace-separated tokens equal (its runner: ``sed 's/\\b(yes)\\b/YES/ig; ...'``, whitespace squeezed,
    ``diff -b``)."""
    def norm(x: bytes | str) -> list[bytes]:
        return _YES_NO_RE.sub(lambda m: m.group(1).upper(), x.encode() if isinstance(x, str) else x).split()

    return norm(got) == norm(expected)


def outputs_match(got: bytes | str, expected: bytes | str, tol: float = 1e-6) -> bool:
    """Token-wise comparison; decimals in the expected output get ``tol`` absolute-or-relative tolerance."""
    a = (got.encode() if isinstance(got, str) else got).split()
    b = (expected.encode() if isinstance(expected, str) else expected).split()
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        if not (_FLOAT_RE.fullmatch(y) and _NUM_RE.fullmatch(x)):
            return False
        fx, fy = float(x), float(y)
        if not (math.isfinite(fx) and math.isfinite(fy)):
            return False
        diff = abs(fx - fy)
        if diff > tol and diff > tol * abs(fy):
            return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# Caches: precompiled header, checkers
# ---------------------------------------------------------------------------------------------------------------

_pch_lock = threading.Lock()
_checker_lock = threading.Lock()


def _compiler_id() -> str:
    try:
        out = subprocess.run([CXX, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SandboxUnavailable(f"the C++ compiler {CXX!r} is not usable: {e}") from e
    return out.splitlines()[0] if out else CXX


def precompiled_header_dir() -> Path | None:
    """Directory holding ``bits/stdc++.h`` and its ``.gch`` for :data:`CXX_FLAGS`; built once, cached by
    compiler version and flags. None when the header cannot be found or precompiled (compiles still work)."""
    key = hashlib.sha256(json.dumps([_compiler_id(), CXX_FLAGS]).encode()).hexdigest()[:16]
    root = cache_dir() / "codeforces" / f"pch-{key}"
    with _pch_lock:
        if (root / "bits" / "stdc++.h.gch").exists():
            return root
        if (root / "FAILED").exists():
            return None
        root.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(root.parent, 0o755)
        probe = subprocess.run([CXX, *CXX_FLAGS, "-x", "c++", "-E", "-H", "-o", os.devnull, "-"],
                               input="#include <bits/stdc++.h>\n", capture_output=True, text=True)
        first = probe.stderr.splitlines()[0] if probe.stderr else ""
        header = first[2:].strip() if first.startswith(". ") else ""
        tmp = Path(tempfile.mkdtemp(prefix="pch-", dir=root.parent))
        try:
            if not header or not os.path.isfile(header):
                raise RuntimeError(f"bits/stdc++.h not found ({probe.stderr[-300:]})")
            (tmp / "bits").mkdir()
            shutil.copy(header, tmp / "bits" / "stdc++.h")
            p = subprocess.run([CXX, *CXX_FLAGS, "-x", "c++-header", str(tmp / "bits" / "stdc++.h"),
                                "-o", str(tmp / "bits" / "stdc++.h.gch")], capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(p.stderr[-500:])
            for d in (tmp, tmp / "bits"):
                os.chmod(d, 0o755)
            for f in (tmp / "bits").iterdir():
                os.chmod(f, 0o644)
            if root.exists():
                shutil.rmtree(root, ignore_errors=True)
            os.replace(tmp, root)
            return root
        except (RuntimeError, OSError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            root.mkdir(exist_ok=True)
            (root / "FAILED").write_text(str(e))
            return None


NO_PYTHON = ("no python3 the sandbox can run: Python submissions and Python checkers need a python3 under /usr "
             "(e.g. apt-get install python3)")


@functools.lru_cache(maxsize=1)
def sandbox_python() -> str | None:
    """The python3 that runs Python submissions and checkers in the sandbox: ``/usr/bin/python3``, else the first
    python3 found that lives under the system directories every sandbox binds read-only; None when there is none
    (a python3 only in a virtualenv, /opt or a home directory is invisible in the sandbox)."""
    for cand in ("/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3"),
                 shutil.which("python3", path=os.defpath)):
        if not cand:
            continue
        real = os.path.realpath(cand)
        if os.path.isfile(real) and os.access(real, os.X_OK) and real.startswith(SANDBOX_SYSTEM_DIRS):
            return cand if cand.startswith(SANDBOX_SYSTEM_DIRS) else real
    return None


def _python() -> str:
    py = sandbox_python()
    if py is None:
        raise SandboxError(NO_PYTHON)
    return py


def normalize_language(language: str) -> str | None:
    """'cpp' or 'python' for the spellings we accept, else None."""
    return _LANG_ALIASES.get((language or "").strip().lower())


@dataclass
class _Program:
    lang: str
    dir: Path  # host directory holding the built program (readable by the sandbox uid)
    argv: list[str]
    binds: list[tuple[str, str]]


def _tail(b: bytes | str, n: int = LOG_TAIL) -> str:
    s = b.decode(errors="replace") if isinstance(b, bytes) else b
    return s[-n:]


def _build(lang: str, code: str, where: Path, *, uid: int, tag: str,
           include_dir: Path | None = None) -> tuple[_Program | None, str, float]:
    """Compile ``code`` in the sandbox into ``where``; returns (program or None on CE, log, seconds).
    ``include_dir``: a host directory made visible read-only at /include and searched for headers (C++)."""
    if os.geteuid() == 0:
        os.chown(where, uid, uid)
    t0 = time.monotonic()
    if lang == "cpp":
        (where / f"{tag}.cpp").write_text(code, encoding="utf-8")
        pch = precompiled_header_dir()
        binds = [(str(pch), "/pch")] if pch else []
        if include_dir is not None:
            binds.append((str(include_dir), "/include"))
        argv = [CXX, *CXX_FLAGS, *(["-I/pch"] if pch else []), *(["-I/include"] if include_dir else []),
                "-o", tag, f"{tag}.cpp"]
        res = run_sandboxed(argv, workdir=where, ro_binds=binds, uid=uid, tmpfs_bytes=512 << 20,
                            **COMPILE_LIMITS)
        ok = res.exit_code == 0 and (where / tag).is_file()
        prog = _Program("cpp", where, [f"/prog/{tag}"], [(str(where / tag), f"/prog/{tag}")])
    else:
        (where / f"{tag}.py").write_text(code, encoding="utf-8")
        python = _python()
        argv = [python, "-c", "import py_compile,sys; py_compile.compile(sys.argv[1], doraise=True)", f"{tag}.py"]
        res = run_sandboxed(argv, workdir=where, uid=uid, **COMPILE_LIMITS)
        ok = res.exit_code == 0
        prog = _Program("python", where, [python, f"/prog/{tag}.py"], [(str(where / f"{tag}.py"), f"/prog/{tag}.py")])
    log = _tail(res.stderr + (b"\n" + res.stdout if res.stdout.strip() else b""))
    if res.timed_out:
        log = (log + "\ncompilation timed out").strip()
    elif res.oom:
        log = (log + "\ncompiler ran out of memory").strip()
    elif res.output_limited:
        log = (log + "\ncompiler output limit exceeded").strip()
    return (prog if ok else None), log.replace(SANDBOX_DIR + "/", ""), time.monotonic() - t0


class CheckerError(SandboxError):
    """The problem's checker cannot judge (unknown kind, does not compile, fails on every test): the problem is
    EXCLUDED (not an infrastructure failure)."""


_checker_failures: dict[str, str] = {}  # cache key -> why; this process only (a fixed setup is retried next run)
_probe_results: dict[tuple, str | None] = {}  # checker key + tests -> why it fails on every test, or None

EXCLUSION_LABELS = (  # reason prefix -> the short label reports count exclusions under
    ("checker of unknown kind", "checker of unknown kind"),
    ("checker fails on every test", "checker fails on every test"),
    ("checker does not compile: " + TESTLIB_HINT, "checker needs testlib.h (suite.testlib_h)"),
    ("checker does not compile", "checker does not compile"),
)


def exclusion_label(reason: str) -> str:
    """The short label of an EXCLUDED verdict's message (what the report counts it under)."""
    return next((label for prefix, label in EXCLUSION_LABELS if reason.startswith(prefix)), "checker unusable")


def _testlib_dir(testlib_h: str | os.PathLike | None) -> Path | None:
    """A cached directory holding a copy of the user's testlib.h, readable by the sandbox uid."""
    if testlib_h is None:
        return None
    src = Path(testlib_h)
    if not src.is_file():
        raise CheckerError(f"testlib_h={src} is not a file")
    data = src.read_bytes()
    root = cache_dir() / "codeforces" / f"testlib-{hashlib.sha256(data).hexdigest()[:16]}"
    with _checker_lock:
        if not (root / "testlib.h").is_file():
            root.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix="testlib-", dir=root.parent))
            (tmp / "testlib.h").write_bytes(data)
            os.chmod(tmp / "testlib.h", 0o644)
            os.chmod(tmp, 0o755)
            if root.exists():
                shutil.rmtree(root, ignore_errors=True)
            os.replace(tmp, root)
    return root


def _checker_program(source: str, uid: int, testlib_h: str | os.PathLike | None = None,
                     kind: str = TESTLIB) -> _Program:
    """Compile (or fetch from the cache) a checker: C++ or Python source for ``testlib``, Python for ``openr1``
    (open-r1's runner always calls ``python3 checker.py``).

    Raises :class:`CheckerError` when it does not compile (remembered in memory for this process) and
    :class:`evals.sandbox.SandboxError` when the sandbox failed while compiling (not remembered)."""
    if kind not in CHECKER_KINDS:
        raise CheckerError(unknown_kind_reason(kind))
    cpp_like = re.search(r"#\s*include|int\s+main\s*\(", source)
    lang = "cpp" if kind == TESTLIB and cpp_like else "python"
    include = _testlib_dir(testlib_h) if lang == "cpp" else None
    key = hashlib.sha256(json.dumps([lang, CXX_FLAGS, _compiler_id() if lang == "cpp" else "", source,
                                     include.name if include else ""]).encode()).hexdigest()[:24]
    root = cache_dir() / "codeforces" / "checkers" / key
    with _checker_lock:
        if (root / "OK").exists():
            return _program_in(root, lang)
        if key in _checker_failures:
            raise CheckerError(_checker_failures[key])
        root.parent.mkdir(parents=True, exist_ok=True)
        for d in (root.parent.parent, root.parent):
            os.chmod(d, 0o755)
        tmp = Path(tempfile.mkdtemp(prefix="chk-", dir=root.parent))
        os.chmod(tmp, 0o755)
        try:
            prog, log, _ = _build(lang, source, tmp, uid=uid, tag="checker", include_dir=include)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if prog is None:
            shutil.rmtree(tmp, ignore_errors=True)
            why = "checker does not compile: " + log[-500:].strip()
            if re.search(r"testlib\.h", log) and include is None:
                why = "checker does not compile: " + TESTLIB_HINT
            _checker_failures[key] = why
            raise CheckerError(why)
        (tmp / "OK").write_text("")
        for f in [tmp, *tmp.iterdir()]:  # the cached checker belongs to us again, read-only for the sandbox uid
            if os.geteuid() == 0:
                os.chown(f, os.getuid(), os.getgid())
            os.chmod(f, 0o755 if f.is_dir() or os.access(f, os.X_OK) else 0o644)
        if root.exists():
            shutil.rmtree(root, ignore_errors=True)
        os.replace(tmp, root)
        return _program_in(root, lang)


def checker_exclusion(problem: Problem, *, uid: int = DEFAULT_UID,
                      testlib_h: str | os.PathLike | None = None) -> str | None:
    """Why ``problem`` must be EXCLUDED (its checker is of an unknown kind, does not compile or fails on every
    test), or None (no checker, it works, or the sandbox failed: the judge then reports INFRA). Compiles and
    tries each checker at most once per process."""
    if not problem.checker:
        return None
    try:
        _probe(problem, _checker_program(problem.checker, uid, testlib_h, problem.checker_contract or TESTLIB), uid)
    except CheckerError as e:
        return str(e)
    except SandboxError:
        return None
    return None


def _program_in(root: Path, lang: str) -> _Program:
    if lang == "cpp":
        return _Program("cpp", root, ["/checker/checker"], [(str(root / "checker"), "/checker/checker")])
    return _Program("python", root, [_python(), "/checker/checker.py"], [(str(root / "checker.py"),
                                                                           "/checker/checker.py")])


# ---------------------------------------------------------------------------------------------------------------
# Running tests
# ---------------------------------------------------------------------------------------------------------------

def _run_verdict(res: SandboxResult) -> str | None:
    if res.output_limited:
        return OLE
    if res.timed_out:
        return TLE
    if res.oom:
        return MLE
    if res.exit_code != 0:
        return RE
    return None


def _drop_empty_lines(data: bytes) -> bytes:
    """``sed '/^$/d'``: remove lines with nothing on them (a line holding only spaces or ``\\r`` stays)."""
    lines = data.split(b"\n")
    ends_with_newline = lines[-1] == b""
    kept = [line for line in (lines[:-1] if ends_with_newline else lines) if line]
    return b"\n".join(kept) + (b"\n" if kept and ends_with_newline else b"")


def _strip_cr(data: bytes) -> bytes:
    """``sed 's/\\r$//'``: one ``\\r`` at the end of each line."""
    return re.sub(rb"\r(?=\n|\Z)", b"", data)


def openr1_files(test_input: bytes | str, answer: bytes | str, output: bytes | str) -> dict[str, bytes]:
    """The three files an ``openr1`` checker reads, prepared as open-r1's Codeforces runner prepares them: the
    input with ``\\r`` at line ends removed; the answer with trailing newlines cut to one (``echo "$(cat f)"``),
    ``\\r`` at line ends and empty lines removed; the contestant's output with empty lines removed."""
    def b(x: bytes | str) -> bytes:
        return x.encode() if isinstance(x, str) else x

    ans = b(answer).rstrip(b"\n") + b"\n"
    return {"input.txt": _strip_cr(b(test_input)), "correct_output.txt": _drop_empty_lines(_strip_cr(ans)),
            "solution_output.txt": _drop_empty_lines(b(output))}


def _checker_failure(res: SandboxResult) -> str:
    if res.timed_out:
        return "timed out"
    if res.oom:
        return "ran out of memory"
    if res.output_limited:
        return "printed too much"
    return f"exit {res.exit_code}" if res.signal is None else f"killed by signal {res.signal}"


def _run_checker(lane: SandboxLane, checker: _Program, kind: str, inp: Path | bytes, out: bytes,
                 ans: str | bytes) -> tuple[str, str, bool]:
    """One checker call: (AC or WA, message, whether the checker itself failed: crashed, timed out, or for
    ``testlib`` exited with another code than 0/1/2). An ``openr1`` checker that failed rejects (WA), as in
    open-r1's runner. Raises :class:`SandboxError` when the sandbox itself failed."""
    if kind == OPENR1:
        files = openr1_files(inp.read_bytes() if isinstance(inp, Path) else inp, ans, out)
        res = lane.run([*checker.argv, *(f"{INBOX_DIR}/{name}" for name in files)], files=files,
                       **OPENR1_CHECKER_LIMITS)
        msg = _tail((res.stdout + res.stderr).strip(), 300)
        if res.exit_code != 0 or res.timed_out or res.oom or res.output_limited:
            return WA, f"checker {_checker_failure(res)}" + (f": {msg}" if msg else ""), True
        printed = re.sub(rb"\s", b"", res.stdout).decode(errors="replace")
        if printed in OPENR1_ACCEPT:
            return AC, msg, False
        return WA, f"checker printed {printed[:40]!r}" + (f": {msg}" if msg else ""), False
    res = lane.run([*checker.argv, f"{INBOX_DIR}/input.txt", f"{INBOX_DIR}/output.txt", f"{INBOX_DIR}/answer.txt"],
                   files={"input.txt": inp, "output.txt": out, "answer.txt": ans}, **CHECKER_LIMITS)
    msg = _tail((res.stdout + res.stderr).strip(), 300)
    ran = not (res.timed_out or res.oom or res.output_limited)
    if ran and res.exit_code == 0:
        return AC, msg, False
    if ran and res.exit_code in (1, 2):
        return WA, msg, False
    return INFRA, f"checker failed ({_checker_failure(res)}): {msg}", True


def _check_with(lane: SandboxLane, checker: _Program, kind: str, inp: Path, out: bytes,
                ans: str) -> tuple[str, str]:
    verdict, msg, _ = _run_checker(lane, checker, kind, inp, out, ans)
    if verdict == INFRA:  # testlib: anything but 0/1/2 is the judge's failure, never the contestant's
        raise SandboxError(msg)
    return verdict, msg


def _probe(problem: Problem, checker: _Program, uid: int) -> None:
    """Raise :class:`CheckerError` when the checker fails on every test given each test's own answer as the
    contestant's output (crashes, times out, or for ``testlib`` exits with another code than 0/1/2); it stops at
    the first test where the checker gives a verdict. Once per checker and tests per process; sandbox failures
    raise :class:`SandboxError` and are not remembered."""
    kind = problem.checker_contract or TESTLIB
    tests = problem.tests
    # cheap to build on every grading call (a hub problem may have hundreds of large tests)
    key = (kind, str(checker.dir), problem.id, len(tests), *(hash((t["input"], t["output"])) for t in tests[:1]))
    with _checker_lock:
        known = _probe_results.get(key, "")
    if known is None:
        return
    if not known:
        last = ""
        with contextlib.closing(SandboxLane(uid=uid, ro_binds=checker.binds, tmpfs_bytes=16 << 20)) as lane:
            for t in problem.tests:
                answer = t["output"].encode()
                _, msg, failed = _run_checker(lane, checker, kind, t["input"].encode(), answer, answer)
                if not failed:
                    with _checker_lock:
                        _probe_results[key] = None
                    return
                last = msg
        known = (f"checker fails on every test ({len(problem.tests)} tried, each given its expected answer): "
                 f"{last[-300:]}")
        with _checker_lock:
            _probe_results[key] = known
    raise CheckerError(known)


def _run_test(lane: SandboxLane, prog: _Program, problem: Problem, i: int, inp: Path,
              checker: _Program | None, kind: str = TESTLIB) -> TestResult:
    tl = problem.time_limit_s
    mem = problem.memory_mb << 20
    expected = problem.tests[i]["output"]
    max_out = max(16 << 20, 4 * len(expected) + (1 << 20))
    try:
        res = lane.run(prog.argv, stdin_path=inp, cpu_seconds=tl, wall_seconds=2 * tl + 1, memory_bytes=mem,
                       max_processes=1, max_output_bytes=max_out, file_size_bytes=16 << 20)
    except SandboxUnavailable:
        raise
    except SandboxError as e:
        return TestResult(i, INFRA, None, None, detail=str(e)[-500:])
    v = _run_verdict(res)
    detail = ""
    if v is None:
        if checker is not None:
            try:
                v, detail = _check_with(lane, checker, kind, inp, res.stdout, expected)
            except SandboxUnavailable:
                raise
            except SandboxError as e:
                v, detail = INFRA, str(e)[-500:]
        else:
            same = openr1_outputs_match if problem.comparison == OPENR1 else outputs_match
            v = AC if same(res.stdout, expected) else WA
    elif v in (RE, MLE):
        detail = _tail(res.stderr, 300)
    time_s = res.cpu_seconds if res.cpu_seconds is not None else res.wall_seconds
    return TestResult(i, v, time_s, res.peak_memory_bytes, res.exit_code, res.signal, detail)


class _Lanes:
    """Sandbox lanes of one submission: each worker thread borrows one, so tests in a lane run one at a time."""

    def __init__(self, binds: Sequence[tuple[str, str]], uid: int) -> None:
        self._binds = list(binds)
        self._uid = uid
        self._free: queue.SimpleQueue[SandboxLane] = queue.SimpleQueue()
        self._all: list[SandboxLane] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lane(self) -> Iterator[SandboxLane]:
        try:
            lane = self._free.get_nowait()
        except queue.Empty:
            lane = SandboxLane(uid=self._uid, ro_binds=self._binds, tmpfs_bytes=16 << 20)
            with self._lock:
                self._all.append(lane)
        try:
            yield lane
        finally:
            self._free.put(lane)

    def close(self) -> None:
        with self._lock:
            lanes, self._all = self._all, []
        for lane in lanes:
            lane.close()


def _coerce(submission: Submission | Mapping[str, Any]) -> Submission:
    if isinstance(submission, Submission):
        return submission
    return Submission(id=str(submission.get("id", "")), problem_id=str(submission.get("problem_id", "")),
                      language=str(submission.get("language") or ""), code=submission.get("code") or "")


def judge(problem: Problem, submission: Submission | Mapping[str, Any], *, full: bool = False,
          workers: int | None = None, uid: int = DEFAULT_UID,
          testlib_h: str | os.PathLike | None = None) -> JudgeResult:
    """Judge one submission (``Submission`` or a mapping with language and code) against ``problem``.

    Raises :class:`evals.sandbox.SandboxUnavailable` when nothing can be sandboxed on this machine; a checker
    that does not compile gives EXCLUDED (with the reason in ``message``); every other judge-side failure
    becomes the verdict INFRA. ``testlib_h``: path of a testlib.h for checkers that include it.
    """
    sub = _coerce(submission)
    n = len(problem.tests)
    base = {"tests_total": n, "limits_defaulted": problem.limits_defaulted}
    if not sub.code or not sub.code.strip():
        return JudgeResult(NO_CODE, 0, message="empty submission", **base)
    lang = normalize_language(sub.language)
    if lang is None:
        return JudgeResult(CE, 0, compile_log=f"unsupported language {sub.language!r} (use C++17 or Python 3)",
                           **base)
    if problem.interactive:
        return JudgeResult(INFRA, 0, message="interactive problems are not supported", **base)
    if n == 0:
        return JudgeResult(INFRA, 0, message="problem has no tests", **base)
    workers = max(1, workers or os.cpu_count() or 1)
    checker = None
    kind = problem.checker_contract or TESTLIB
    if problem.checker:  # before compiling the submission: an excluded problem is excluded whatever was sent
        try:
            checker = _checker_program(problem.checker, uid, testlib_h, kind)
            _probe(problem, checker, uid)
        except SandboxUnavailable:
            raise
        except CheckerError as e:
            return JudgeResult(EXCLUDED, 0, message=str(e)[-LOG_TAIL:], **base)
        except SandboxError as e:
            return JudgeResult(INFRA, 0, message=f"checker set-up failed: {e}"[-LOG_TAIL:], **base)

    with tempfile.TemporaryDirectory(prefix="cfjudge-") as td:
        root = Path(td)
        os.chmod(root, 0o755)
        build_dir = root / "build"
        build_dir.mkdir()
        try:
            prog, log, secs = _build(lang, sub.code, build_dir, uid=uid, tag="sol")
        except SandboxUnavailable:
            raise
        except SandboxError as e:
            return JudgeResult(INFRA, 0, message=f"compile step failed: {e}"[-LOG_TAIL:], **base)
        if prog is None:
            return JudgeResult(CE, 0, compile_log=log, compile_seconds=secs, **base)
        inputs = []
        for i, t in enumerate(problem.tests):
            p = root / f"in{i}.txt"
            p.write_text(t["input"], encoding="utf-8")
            inputs.append(p)

        results: list[TestResult] = []
        first_bad: TestResult | None = None
        lanes = _Lanes([*prog.binds, *(checker.binds if checker else [])], uid)

        def one(i: int) -> TestResult:
            with lanes.lane() as lane:
                return _run_test(lane, prog, problem, i, inputs[i], checker, kind)

        try:
            with cf.ThreadPoolExecutor(max_workers=min(workers, n)) as pool:
                futures = [pool.submit(one, i) for i in range(n)]
                try:
                    for fut in futures:
                        r = fut.result()
                        results.append(r)
                        if r.verdict != AC and first_bad is None:
                            first_bad = r
                            if not full:
                                break
                finally:
                    for fut in futures:
                        fut.cancel()
        finally:
            lanes.close()

    passed = sum(r.verdict == AC for r in results)
    times = [r.time_s for r in results if r.time_s is not None]
    mems = [r.memory_bytes for r in results if r.memory_bytes is not None]
    out = JudgeResult(
        verdict=AC if first_bad is None else first_bad.verdict, tests_passed=passed, tests_total=n,
        max_time_s=round(max(times, default=0.0), 4), max_memory_bytes=max(mems, default=0),
        failed_test=None if first_bad is None else first_bad.index + 1, compile_log=log, compile_seconds=secs,
        message="" if first_bad is None else first_bad.detail, limits_defaulted=problem.limits_defaulted,
        tests=results if full else [])
    return out


# ---------------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------------

def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tasks.codeforces.judge",
        description="Judge Codeforces-style submissions in a bubblewrap sandbox and print one JSON line per "
                    "submission: id, problem_id, verdict, tests_passed, tests_total, time_s, memory_mb.",
        epilog="Problems: JSONL in one of three shapes, told apart by their columns: CodeContests (problem_id, "
               "tests...), normalized (id, rating, time_limit_s, memory_mb, tests[{input, output}], checker, "
               "checker_kind testlib|openr1...) or open-r1/codeforces rows as on the hub (id, contest_id, index, "
               "time_limit, memory_limit, rating, official_tests, official_tests_complete, generated_checker, "
               "input_mode...; their generated_checker is called as open-r1 calls it). Submissions: JSONL with id, "
               "problem_id, language (cpp|python), code. A submission to a problem left out when loading (why: "
               "in message) gets EXCLUDED. Verdicts: " + ", ".join(VERDICTS)
               + ". Needs bubblewrap (apt-get install bubblewrap), g++ and, for Python, python3 under /usr.")
    ap.add_argument("--problems", required=True, help="problems JSONL file")
    ap.add_argument("--submissions", required=True, help="submissions JSONL file (id, problem_id, language, code)")
    ap.add_argument("--full", action="store_true", help="run every test instead of stopping at the first failure")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="tests run in parallel per submission (default: number of CPUs)")
    ap.add_argument("--details", action="store_true", help="include per-test results and the compile log")
    ap.add_argument("--testlib", metavar="PATH", default=None,
                    help="a testlib.h file for checkers that include it (not shipped: supply your own)")
    ap.add_argument("--generated-tests", metavar="DIR", default=None,
                    help="open-r1 rows: a local copy of the dataset's generated_tests/*.parquet files")
    args = ap.parse_args(argv)
    if args.workers < 1:
        return _fail("--workers must be >= 1")
    if args.testlib is not None and not Path(args.testlib).is_file():
        return _fail(f"--testlib {args.testlib}: no such file")

    try:
        problem_set = load_problems(args.problems, generated_tests_dir=args.generated_tests)
    except ProblemDataError as e:
        return _fail(str(e))
    problems = problem_set.by_id()
    left_out = {**{pid: "interactive (not supported)" for pid in problem_set.skipped_interactive},
                **problem_set.excluded}
    subs: list[Submission] = []
    sp = Path(args.submissions)
    try:
        for n, rec in read_jsonl_records(sp):
            missing = [k for k in ("id", "problem_id", "language", "code") if k not in rec]
            if missing:
                return _fail(f"{sp}:{n}: missing field(s) {', '.join(missing)}")
            if str(rec["problem_id"]) not in problems and str(rec["problem_id"]) not in left_out:
                return _fail(f"{sp}:{n}: unknown problem_id {rec['problem_id']!r} (not in {args.problems})")
            subs.append(_coerce(rec))
    except ProblemDataError as e:
        return _fail(str(e))

    for s in subs:
        if s.problem_id not in problems:
            why = left_out[s.problem_id]
            print(json.dumps({"id": s.id, "problem_id": s.problem_id, "verdict": EXCLUDED, "tests_passed": 0,
                              "tests_total": 0, "failed_test": None, "time_s": 0.0, "memory_mb": 0.0,
                              "excluded": why, "message": why}), flush=True)
            continue
        try:
            r = judge(problems[s.problem_id], s, full=args.full, workers=args.workers, testlib_h=args.testlib)
        except SandboxUnavailable as e:
            return _fail(str(e))
        line: dict[str, Any] = {"id": s.id, "problem_id": s.problem_id, "verdict": r.verdict,
                                "tests_passed": r.tests_passed, "tests_total": r.tests_total,
                                "failed_test": r.failed_test, "time_s": r.max_time_s,
                                "memory_mb": round(r.max_memory_bytes / 2**20, 1)}
        if r.limits_defaulted:
            line["limits_defaulted"] = True
        if problems[s.problem_id].checker:
            line["checker"] = problems[s.problem_id].checker_contract
        if r.verdict == EXCLUDED:
            line["excluded"] = exclusion_label(r.message)
        if r.message:
            line["message"] = r.message[-300:]
        if args.details:
            line["compile_log"] = r.compile_log
            line["tests"] = [asdict(t) for t in r.tests]
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
