"""The judge on real problems (codecontests_cf300.jsonl) with solutions written for these tests."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path

import pytest

from tasks.codeforces import judge as judge_mod
from tasks.codeforces.judge import (
    AC,
    CE,
    EXCLUDED,
    INFRA,
    MLE,
    NO_CODE,
    OLE,
    RE,
    TESTLIB_HINT,
    TLE,
    WA,
    Submission,
    checker_exclusion,
    judge,
    outputs_match,
)
from tasks.codeforces.problems import Problem
from tests.support.procs import cmdline, descendants
from tests.support.sandbox_leftovers import sandbox_leftovers

pytestmark = pytest.mark.usefixtures("needs_sandbox")

# --- solutions (written for these tests) -------------------------------------------------------------------

CPP = {
    # k-th smallest divisor of n
    "762A": r"""
#include <bits/stdc++.h>
using namespace std;
int main() {
    long long n, k; scanf("%lld %lld", &n, &k);
    vector<long long> lo, hi;
    for (long long d = 1; d * d <= n; ++d) if (n % d == 0) { lo.push_back(d); if (d != n / d) hi.push_back(n / d); }
    lo.insert(lo.end(), hi.rbegin(), hi.rend());
    printf("%lld\n", (long long)lo.size() < k ? -1LL : lo[k - 1]);
}
""",
    # subtract the smallest prime divisor until zero
    "1076B": r"""
#include <bits/stdc++.h>
int main() {
    long long n; std::cin >> n;
    long long d = n;
    for (long long p = 2; p * p <= n; ++p) if (n % p == 0) { d = p; break; }
    std::cout << (d == n ? 1 : 1 + (n - d) / 2) << "\n";
}
""",
    # "ab" -> "bba" steps modulo 1e9+7
    "805D": r"""
#include <bits/stdc++.h>
int main() {
    std::string s; std::cin >> s;
    const long long M = 1000000007; long long b = 0, ans = 0;
    for (int i = (int)s.size() - 1; i >= 0; --i) {
        if (s[i] == 'b') b = (b + 1) % M; else { ans = (ans + b) % M; b = b * 2 % M; }
    }
    std::cout << ans << std::endl;
}
""",
}

PY = {
    "762A": """
n, k = map(int, input().split())
lo, hi = [], []
d = 1
while d * d <= n:
    if n % d == 0:
        lo.append(d)
        if d != n // d:
            hi.append(n // d)
    d += 1
divs = lo + hi[::-1]
print(divs[k - 1] if k <= len(divs) else -1)
""",
    "1076B": """
import sys
n = int(sys.stdin.readline())
d, p = n, 2
while p * p <= n:
    if n % p == 0:
        d = p
        break
    p += 1
print(1 if d == n else 1 + (n - d) // 2)
""",
    "805D": """
s = input().strip()
M = 10**9 + 7
b = ans = 0
for c in reversed(s):
    if c == 'b':
        b = (b + 1) % M
    else:
        ans = (ans + b) % M
        b = b * 2 % M
print(ans)
""",
}

# plausible mistakes: wrong -1 case, a lost +1, doubling before counting
WRONG_CPP = {
    "762A": CPP["762A"].replace("? -1LL :", "? 0LL :"),
    "1076B": CPP["1076B"].replace("1 + (n - d) / 2", "(n - d) / 2"),
    "805D": CPP["805D"].replace("ans = (ans + b) % M; b = b * 2 % M;", "b = b * 2 % M; ans = (ans + b) % M;"),
}
WRONG_PY = {
    "762A": PY["762A"].replace("else -1", "else 0"),
    "1076B": PY["1076B"].replace("1 + (n - d) // 2", "(n - d) // 2"),
    "805D": PY["805D"].replace("ans = (ans + b) % M\n        b = b * 2 % M", "b = b * 2 % M\n        ans = (ans + b) % M"),
}


@pytest.fixture(scope="module")
def probs(cf300) -> dict[str, Problem]:
    by_id = cf300.by_id()
    return {pid: by_id[pid] for pid in ("762A", "1076B", "805D")}


def generous(p: Problem) -> Problem:
    """A copy with 3x the time limit (as judges often give Python): 762A's reference loop needs ~2 s of CPython
    at its 2 s limit, and these tests check correctness and isolation, not how loaded the machine is."""
    return dataclasses.replace(p, time_limit_s=3 * p.time_limit_s)


def short(p: Problem, **kw) -> Problem:
    """A copy with two tests and a short time limit, so the hostile cases stay fast."""
    kw.setdefault("tests", p.tests[:2])
    kw.setdefault("time_limit_s", 0.5)
    return dataclasses.replace(p, **kw)


@pytest.mark.parametrize("pid", ["762A", "1076B", "805D"])
def test_correct_and_wrong_cpp(probs, pid):
    r = judge(probs[pid], Submission("s", pid, "cpp", CPP[pid]))
    assert r.verdict == AC, r
    assert r.tests_passed == r.tests_total == len(probs[pid].tests)
    assert r.limits_defaulted and r.max_time_s < 0.5 and r.max_memory_bytes > 0
    w = judge(probs[pid], Submission("w", pid, "c++17", WRONG_CPP[pid]))
    assert w.verdict == WA and w.failed_test is not None and w.tests_passed == w.failed_test - 1


@pytest.mark.parametrize("pid", ["762A", "1076B", "805D"])
def test_correct_and_wrong_python(probs, pid):
    r = judge(generous(probs[pid]), {"language": "python3", "code": PY[pid]}, full=True)
    assert r.verdict == AC, r
    assert len(r.tests) == r.tests_total and all(t.verdict == AC for t in r.tests)
    w = judge(probs[pid], {"language": "python", "code": WRONG_PY[pid]}, full=True)
    assert w.verdict == WA and 0 <= w.tests_passed < w.tests_total
    assert len(w.tests) == w.tests_total  # full: every test ran


def test_compile_error_and_no_code(probs):
    r = judge(probs["762A"], {"language": "cpp", "code": "int main() { return undefined_name; }"})
    assert r.verdict == CE and "undefined_name" in r.compile_log and "sol.cpp" in r.compile_log
    r = judge(probs["762A"], {"language": "python", "code": "def f(:\n  pass"})
    assert r.verdict == CE and "SyntaxError" in r.compile_log
    assert judge(probs["762A"], {"language": "cpp", "code": "  \n"}).verdict == NO_CODE
    assert judge(probs["762A"], {"language": "brainfuck", "code": "+"}).verdict == CE


def test_tle(probs):
    p = short(probs["762A"])
    t = time.monotonic()
    r = judge(p, {"language": "cpp", "code": "int main(){ volatile unsigned x = 0; for(;;) x++; }"})
    assert r.verdict == TLE and r.max_time_s >= 0.5
    r = judge(p, {"language": "python", "code": "import time\ntime.sleep(1000)"})
    assert r.verdict == TLE
    assert time.monotonic() - t < 15


def test_mle(probs):
    p = short(probs["762A"], memory_mb=64)
    cpp = "#include <bits/stdc++.h>\nint main(){ std::vector<char> v(400u << 20, 1); printf(\"%d\\n\", v[12345]); }"
    assert judge(p, {"language": "cpp", "code": cpp}).verdict == MLE
    touch = ("#include <bits/stdc++.h>\nint main(){ std::vector<std::vector<char>> all;"
             " for(;;) all.emplace_back(1 << 20, 1); }")
    assert judge(p, {"language": "cpp", "code": touch}).verdict == MLE
    assert judge(p, {"language": "python", "code": "x = bytearray(1 << 30)"}).verdict == MLE


def test_re(probs):
    p = short(probs["762A"])
    assert judge(p, {"language": "cpp", "code": "int main(){ int *q = nullptr; *q = 1; return 0; }"}).verdict == RE
    assert judge(p, {"language": "cpp", "code": "int main(){ return 3; }"}).verdict == RE
    assert judge(p, {"language": "python", "code": "raise SystemExit(1/0)"}).verdict == RE


def test_ole(probs):
    p = short(probs["762A"], time_limit_s=2.0)
    t = time.monotonic()
    cpp = "#include <bits/stdc++.h>\nint main(){ static char b[1<<20]; memset(b,'7',sizeof b);" \
          " for(int i=0;i<1024;i++) fwrite(b,1,sizeof b,stdout); }"
    r = judge(p, {"language": "cpp", "code": cpp})
    assert r.verdict == OLE
    assert time.monotonic() - t < 10


def test_parallel_stops_at_first_failure_deterministically(probs):
    p = probs["805D"]
    wrong = WRONG_PY["805D"]
    results = {judge(p, {"language": "python", "code": wrong}, workers=w).failed_test for w in (1, 2, 4)}
    assert len(results) == 1


# --- checkers ----------------------------------------------------------------------------------------------

DIVISOR_PROBLEM = Problem(
    id="T1", contest=None, rating=None, statement="Print any divisor d of n with 1 < d <= n.", time_limit_s=1.0,
    memory_mb=64, tests=[{"input": "12\n", "output": "2\n"}, {"input": "35\n", "output": "5\n"}],
)

CPP_CHECKER = r"""
#include <cstdio>
int main(int argc, char **argv) {
    if (argc < 4) return 3;
    FILE *in = fopen(argv[1], "r"), *out = fopen(argv[2], "r"), *ans = fopen(argv[3], "r");
    if (!in || !out || !ans) return 3;
    long long n, d;
    if (fscanf(in, "%lld", &n) != 1) return 3;
    if (fscanf(out, "%lld", &d) != 1) { puts("no number"); return 2; }
    if (d > 1 && d <= n && n % d == 0) { puts("ok"); return 0; }
    puts("not a divisor"); return 1;
}
"""

PY_CHECKER = """
import sys
n = int(open(sys.argv[1]).read())
try:
    d = int(open(sys.argv[2]).read().split()[0])
except (ValueError, IndexError):
    sys.exit(2)
sys.exit(0 if 1 < d <= n and n % d == 0 else 1)
"""


@pytest.mark.parametrize("checker", [CPP_CHECKER, PY_CHECKER], ids=["cpp-checker", "python-checker"])
def test_checker_accepts_any_valid_answer(checker):
    p = dataclasses.replace(DIVISOR_PROBLEM, checker=checker)
    largest = "n = int(input())\nprint(n)"  # differs from the reference answers, still valid
    assert judge(p, {"language": "python", "code": largest}).verdict == AC
    assert judge(p, {"language": "python", "code": "print(7)"}).verdict == WA
    assert judge(p, {"language": "python", "code": "print('x')"}).verdict == WA
    # without the checker, token comparison rejects the valid-but-different answer
    assert judge(DIVISOR_PROBLEM, {"language": "python", "code": largest}).verdict == WA


def test_testlib_checker_failing_at_run_time_is_infra_not_wa():
    # exit 3 (testlib's FAIL) on the contestant's "3", a verdict on the expected answers: the judge failed
    fails_on_3 = "import sys\nsys.exit(3 if open(sys.argv[2]).read().split() == ['3'] else 0)\n"
    p = dataclasses.replace(DIVISOR_PROBLEM, checker=fails_on_3)
    r = judge(p, {"language": "python", "code": "print(3)"})
    assert r.verdict == INFRA and "checker failed (exit 3)" in r.message
    assert judge(p, {"language": "python", "code": "print(2)"}).verdict == AC


def test_checker_failing_on_every_test_excludes_the_problem():
    p = dataclasses.replace(DIVISOR_PROBLEM, checker="import sys\nsys.exit(3)\n")
    r = judge(p, {"language": "python", "code": "print(2)"})
    assert r.verdict == EXCLUDED and r.message.startswith("checker fails on every test (2 tried")
    assert checker_exclusion(p) == r.message


def test_checker_that_does_not_compile_excludes_the_problem():
    p = dataclasses.replace(DIVISOR_PROBLEM, checker="#include <cstdio>\nint main( { return 0; }\n")
    r = judge(p, {"language": "python", "code": "print(2)"})
    assert r.verdict == EXCLUDED and r.message.startswith("checker does not compile") and "checker.cpp" in r.message
    assert r.tests_passed == 0 and r.tests_total == 2
    # remembered for this process (no recompiling per attempt), but never written to the cache on disk
    t = time.monotonic()
    assert judge(p, {"language": "cpp", "code": "int main(){}"}).verdict == EXCLUDED
    assert time.monotonic() - t < 1.0
    assert checker_exclusion(p) == r.message and checker_exclusion(DIVISOR_PROBLEM) is None
    assert not list((judge_mod.cache_dir() / "codeforces" / "checkers").glob("*/CE"))
    judge_mod._checker_failures.clear()  # what a new process sees: it compiles again
    assert judge(p, {"language": "python", "code": "print(2)"}).message == r.message


TESTLIB_CHECKER = '#include "testlib.h"\n' + CPP_CHECKER.replace('puts("ok"); return 0;', 'puts("ok"); return ok();')


def test_testlib_checker_needs_a_supplied_testlib_h(tmp_path):
    p = dataclasses.replace(DIVISOR_PROBLEM, checker=TESTLIB_CHECKER)
    r = judge(p, {"language": "python", "code": "print(2)"})
    assert r.verdict == EXCLUDED and TESTLIB_HINT in r.message and "suite.testlib_h" in r.message
    header = tmp_path / "testlib.h"  # a stand-in with what this checker uses; users give the real file
    header.write_text("inline int ok() { return 0; }\n")
    largest = "n = int(input())\nprint(n)"
    assert judge(p, {"language": "python", "code": largest}, testlib_h=header).verdict == AC
    assert judge(p, {"language": "python", "code": "print(7)"}, testlib_h=header).verdict == WA


def test_interactive_problem_is_not_judged():
    p = dataclasses.replace(DIVISOR_PROBLEM, interactive=True)
    assert judge(p, {"language": "python", "code": "print(2)"}).verdict == INFRA


# --- hostile programs: never AC, nothing left behind ----------------------------------------------------------

def _prints_answer_if(cond: str) -> str:
    """Python program that prints the right answer for 762A only if ``cond`` (a breach) succeeds."""
    return ("import os, sys, socket\n"
            "def breach():\n"
            f"    {cond}\n"
            "try:\n    breach()\nexcept Exception as e:\n    sys.exit(1)\n"
            "n, k = map(int, input().split())\n"
            "ds = [d for d in range(1, n + 1) if n % d == 0]\n"
            "print(ds[k - 1] if k <= len(ds) else -1)\n")


HOSTILE = {
    "network": _prints_answer_if("socket.create_connection(('1.1.1.1', 80), timeout=1)"),
    "loopback": _prints_answer_if("socket.create_connection(('127.0.0.1', 22), timeout=1)"),
    "write_outside": _prints_answer_if("open('/usr/pwned', 'w').write('x')"),
    "write_host_tmp": _prints_answer_if("open('/tmp/../var/tmp/pwned-by-sandbox', 'w').write('x'); "
                                        "assert os.path.exists('/var/tmp/gptoss-eval-0')"),
    "read_shadow": _prints_answer_if("open('/etc/shadow').read()"),
    "read_root": _prints_answer_if("os.listdir('/root')"),
    "sleep_forever": "import time\ntime.sleep(10**6)",
    "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
    "memory_bomb": "x = []\nwhile True:\n    x.append(bytearray(1 << 24))",
    "gigabyte_output": "import sys\nb = b'1' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.buffer.write(b)",
    "daemonized_child": ("import os, time\n"
                         "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(10**6)\n"
                         "    os._exit(0)\n"
                         "print(-2)"),
    # signal attacks on the sandbox runner (PID 1), then sleeping: must be TLE, never INFRA
    "kill_runner": ("import os, signal, time\n"
                    "for s in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGALRM, signal.SIGCHLD):\n"
                    "    os.kill(1, s)\n"
                    "    os.kill(os.getppid(), s)\n"
                    "try:\n    os.kill(-1, signal.SIGKILL)\nexcept ProcessLookupError:\n    pass\n"
                    "time.sleep(10**6)"),
    "ptrace_runner": _prints_answer_if("import ctypes; assert ctypes.CDLL(None).ptrace(16, 1, 0, 0) == 0"),
    "trap_sigxcpu": ("import signal\n"
                     "for s in (signal.SIGXCPU, signal.SIGTERM, signal.SIGINT):\n    signal.signal(s, signal.SIG_IGN)\n"
                     "while True:\n    pass"),
    "busy_wall_clock": "import time\nt = time.time()\nwhile time.time() < t + 10**6:\n    pass",
    "child_sleeps_past_limit": _prints_answer_if("import time\n    if os.fork() == 0:\n        time.sleep(10**6)"),
    "fill_dev_shm": _prints_answer_if("f = open('/dev/shm/x', 'wb')\n"
                                      "    for _ in range(512):\n        f.write(b'x' * (1 << 20)); f.flush()"),
}

CPP_HOSTILE = {
    "fork_bomb_cpp": "#include <unistd.h>\nint main(){ for(;;) fork(); }",
    "memory_bomb_cpp": "#include <cstdlib>\n#include <cstring>\nint main(){ for(;;){ char*p=(char*)malloc(1<<24);"
                       " if(p) memset(p,1,1<<24); } }",
}


def _sandbox_procs() -> list[str]:
    return sandbox_leftovers()


def _our_tmp_leftovers(before: set[str]) -> set[str]:
    return {n for n in set(os.listdir("/tmp")) - before
            if n.startswith(("cfjudge-", "cfchk-", "sbx-")) and not (n.startswith("sbx-in-")
                                                                      and not n.startswith(f"sbx-in-{os.getpid()}-"))}


@pytest.mark.parametrize("name", sorted(HOSTILE) + sorted(CPP_HOSTILE))
def test_hostile_program_is_contained(probs, name):
    p = short(probs["762A"], time_limit_s=1.0, memory_mb=128)
    before = set(os.listdir("/tmp"))
    lang, code = ("cpp", CPP_HOSTILE[name]) if name in CPP_HOSTILE else ("python", HOSTILE[name])
    t = time.monotonic()
    r = judge(p, {"language": lang, "code": code})
    assert r.verdict not in (AC, INFRA), (name, r)
    assert time.monotonic() - t < 20
    deadline = time.monotonic() + 3
    while _sandbox_procs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sandbox_procs() == []
    assert _our_tmp_leftovers(before) == set()
    assert not os.path.exists("/usr/pwned") and not os.path.exists("/var/tmp/pwned-by-sandbox")
    # machine still healthy: a correct solution is still accepted promptly
    assert judge(p, {"language": "python", "code": PY["762A"]}).verdict == AC


def test_outputs_match_tokens_and_floats():
    assert outputs_match(b"1 2\n3\n", "1\n2 3")
    assert not outputs_match(b"1 2", "1 2 3")
    assert outputs_match(b"0.3333333", "0.333333333")
    assert outputs_match(b"1000000.5", "1000000.0000001")  # relative 1e-6
    assert not outputs_match(b"0.3334", "0.3333")
    assert not outputs_match(b"1000000000000000001", "1000000000000000000")  # integers are exact
    assert not outputs_match(b"nan", "0.5") and not outputs_match(b"inf", "1e308")
    assert not outputs_match(b"YES", "yes")
    assert outputs_match(b"", "\n")


# --- one sandbox per worker lane: tests of a submission share it, nothing carries over ------------------------

def test_signal_attacks_do_not_disturb_the_judging_of_later_tests(probs):
    # Each test: attack the runner, then solve correctly. AC on every test means the lane kept working.
    attack = ("import os, signal\n"
              "for s in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGCHLD):\n"
              "    os.kill(1, s)\n"
              "try:\n    os.kill(-1, signal.SIGKILL)\nexcept ProcessLookupError:\n    pass\n")
    r = judge(generous(probs["762A"]), {"language": "python", "code": attack + PY["762A"]}, full=True, workers=2)
    assert r.verdict == AC and r.tests_passed == r.tests_total == len(probs["762A"].tests), r


def test_no_state_carries_from_one_test_to_the_next(probs):
    # One lane (workers=1) runs every test in turn. The program leaves files behind and prints a wrong answer
    # if it ever finds what an earlier test left.
    leaky = ("import os\n"
             "found = [d for d in ('/tmp', '/sandbox', '/dev/shm') if os.listdir(d)]\n"
             "for d in ('/tmp', '/sandbox', '/dev/shm'):\n"
             "    open(d + '/was-here', 'w').write('x')\n"
             "if found:\n    print('leak', found)\n    raise SystemExit(0)\n")
    r = judge(generous(probs["762A"]), {"language": "python", "code": leaky + PY["762A"]}, full=True, workers=1)
    assert r.verdict == AC and r.tests_passed == r.tests_total, r


def test_runner_killed_during_a_test_is_infra_not_wa(probs):
    p = short(probs["762A"], tests=probs["762A"].tests[:1], time_limit_s=5.0)
    killed = []

    def kill_the_runner_of_our_program():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not killed:
            for pid in descendants(os.getpid()):
                if cmdline(pid).startswith("/usr/bin/python3 /prog/sol.py"):
                    runner = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                    if cmdline(runner).startswith("/.sandbox-init --serve"):
                        os.kill(runner, 9)
                        killed.append(runner)
                        return
            time.sleep(0.02)

    th = threading.Thread(target=kill_the_runner_of_our_program)
    th.start()
    r = judge(p, {"language": "python", "code": "import time\ntime.sleep(4)\n" + PY["762A"]}, workers=1)
    th.join()
    assert killed, "the test never saw the program start"
    assert r.verdict == INFRA and "runner" in r.message, r
    assert judge(p, {"language": "python", "code": PY["762A"]}).verdict == AC
