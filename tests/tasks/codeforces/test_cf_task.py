"""The Codeforces task: code extraction, prompt, loading, grading (incl. INFRA handling) and the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tasks.codeforces.task as task_mod
from evals.task import DataUnavailable
from evals.types import Attempt, Sample
from tasks.codeforces.judge import JudgeResult
from tasks.codeforces.metrics import codeforces_metrics, codeforces_section
from tasks.codeforces.problems import normalize_record
from tasks.codeforces.task import CodeforcesTask, build_prompt, extract_code
from tests.conftest import run_cli

CF300 = Path("/work/shared/data/codeforces/codecontests_cf300.jsonl")
HISTOGRAM = Path("/work/shared/data/codeforces/human_ratings_codeelo.json")


def _attempt(final: str | None, sample_id: str = "1A", status: str = "ok") -> Attempt:
    return Attempt(key=f"{sample_id}#0", run_id="r", suite="codeforces", sample_id=sample_id, repeat=0, seed=1,
                   effort="low", model="m", transport="chat", settings_hash="h", status=status,
                   output={"final": final, "analysis": "```cpp\nint main(){}\n```"}, transcript=[], usage={},
                   n_calls=1, started_at=0.0, ended_at=0.0, latency_s=0.0)


def _normalized(tmp_path: Path, rows: list[dict]) -> str:
    p = tmp_path / "problems.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(p)


ECHO = {"id": "1A", "rating": 800, "statement": "Print the number you are given.", "time_limit_s": 1,
        "memory_mb": 64, "tests": [{"input": "5\n", "output": "5\n"}], "examples": [{"input": "7\n", "output": "7\n"}]}


# --- extraction ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("```cpp\nint a;\n```\ntext\n```c++\nint b;\n```", ("cpp", "int b;\n")),  # the last block wins
    ("```python3\nprint(1)\n```", ("python", "print(1)\n")),
    ("```py\nprint(1)\n```", ("python", "print(1)\n")),
    ("```cc\nint main(){}\n```", ("cpp", "int main(){}\n")),
    ("```C++ title=sol.cpp\nint main(){}\n```", ("cpp", "int main(){}\n")),
    ("```\nint main(){}\n```", ("cpp", "int main(){}\n")),  # untagged: the requested language
    ("~~~~python\nprint(2)\n~~~~", ("python", "print(2)\n")),
    ("```cpp\nint main(){}\n```\nSample:\n```text\n5\n```", ("cpp", "int main(){}\n")),  # sample data skipped
    ("```java\nclass A {}\n```", ("java", "class A {}\n")),  # judged as CE (unsupported language)
    ("```cpp\nint main(){}\n", ("cpp", "int main(){}\n")),  # unclosed fence runs to the end
    ("no code here, sorry", (None, None)),
    ("```cpp\n\n```", (None, None)),
    ("", (None, None)),
    (None, (None, None)),
])
def test_extract_code(text, expected):
    assert extract_code(text) == expected


def test_untagged_block_takes_the_requested_language():
    assert extract_code("```\nprint(1)\n```", "python") == ("python", "print(1)\n")


def test_grade_looks_only_at_the_final_channel():
    task = CodeforcesTask(path="unused")
    sample = Sample(id="1A", input="", reference=_problem())
    g = task.grade(sample, _attempt("I could not solve it."))  # the analysis channel holds a block: ignored
    assert g.score == 0.0 and g.answer == "NO_CODE" and g.details["verdict"] == "NO_CODE"
    assert g.details["infra_error"] is False and g.details["rating"] == 800


def _problem():
    return normalize_record(ECHO)


# --- prompt and loading -------------------------------------------------------------------------------------

def test_prompt_states_language_limits_io_and_block():
    p = build_prompt(_problem(), "cpp")
    for s in ("C++17", "Time limit per test: 1 second", "Memory limit per test: 64 megabytes",
              "standard input", "standard output", "```cpp", "Print the number you are given.", "Examples"):
        assert s in p
    py = build_prompt(_problem(), "python")
    assert "Python 3" in py and "```python" in py and "C++" not in py


def test_load_counts_interactive_excluded_and_defaulted(tmp_path):
    rows = [ECHO, {"id": "2B", "statement": "s", "tests": [{"input": "1", "output": "1"}]},
            {"id": "3C", "interactive": True, "statement": "s", "tests": [{"input": "1", "output": "1"}]},
            {"id": "4D", "rating": 1200, "statement": "s", "tests": []}]
    task = CodeforcesTask(path=_normalized(tmp_path, rows), default_time_limit_s=3.0)
    samples = task.load()
    assert [s.id for s in samples] == ["1A", "2B"]
    assert task.skipped_interactive == ["3C"]
    assert task.excluded == {"3C": "interactive (not supported)", "4D": "no tests"}
    meta = samples[1].metadata
    assert meta["limits_defaulted"] is True and meta["rating"] is None and meta["time_limit_s"] == 3.0
    assert samples[0].metadata == {**samples[0].metadata, "rating": 800, "contest": 1, "limits_defaulted": False}
    assert "Time limit per test: 3 seconds" in samples[1].input
    data = task.settings()["data"]
    assert data["problems"] == 2 and data["limits_defaulted"] == 1 and data["skipped_interactive"] == ["3C"]
    assert task.card_key() == "codeforces_elo"
    rated = CodeforcesTask(path=_normalized(tmp_path, rows), rated_only=True)
    assert [s.id for s in rated.load()] == ["1A"] and rated.excluded["2B"].startswith("no rating")


def test_missing_data_names_the_option(tmp_path):
    with pytest.raises(DataUnavailable, match="suite.path"):
        CodeforcesTask(path=str(tmp_path / "nope.jsonl")).load()
    with pytest.raises(ValueError, match="cpp or python"):
        CodeforcesTask(language="rust")


# --- INFRA is not the model's failure -----------------------------------------------------------------------

def test_infra_verdict_is_retried_then_marked(monkeypatch):
    calls = []

    def fake_judge(problem, sub, **kw):
        calls.append(sub.language)
        return JudgeResult("INFRA", 0, 1, message="sandbox hiccup")

    monkeypatch.setattr(task_mod, "judge", fake_judge)
    monkeypatch.setattr(task_mod.time, "sleep", lambda s: None)
    task = CodeforcesTask(path="unused", infra_retries=2)
    sample = Sample(id="1A", input="", reference=_problem())
    g = task.grade(sample, _attempt("```cpp\nint main(){}\n```"))
    assert len(calls) == 3
    assert g.details["verdict"] == "INFRA" and g.details["infra_error"] is True and g.answer == "INFRA"
    assert "not the model's fault" in g.reason and "sandbox hiccup" in g.reason

    results = iter([JudgeResult("INFRA", 0, 1, message="x"), JudgeResult("WA", 0, 1, failed_test=1)])
    monkeypatch.setattr(task_mod, "judge", lambda *a, **k: next(results))
    g = task.grade(sample, _attempt("```cpp\nint main(){}\n```"))
    assert g.answer == "WA" and g.details["infra_error"] is False and "test 1" in g.reason


@pytest.mark.usefixtures("needs_sandbox")
def test_checker_that_does_not_compile_is_excluded_not_retried(monkeypatch):
    calls = []
    monkeypatch.setattr(task_mod, "judge", lambda *a, **k: calls.append(1))
    task = CodeforcesTask(path="unused", infra_retries=2)
    broken = normalize_record({**ECHO, "checker": "#include <cstdio>\nint main( {}\n"})
    for final in ("```cpp\nint main(){}\n```", "no code at all"):
        g = task.grade(Sample(id="1A", input="", reference=broken), _attempt(final))
        assert g.answer == "EXCLUDED" and g.score is None and g.details["infra_error"] is False
        assert g.details["excluded"] == "checker does not compile" and "checker.cpp" in g.details["excluded_message"]
    testlib = normalize_record({**ECHO, "checker": '#include "testlib.h"\nint main(){}\n'})
    g = task.grade(Sample(id="1A", input="", reference=testlib), _attempt("```cpp\nint main(){}\n```"))
    assert g.answer == "EXCLUDED" and g.details["excluded"] == "checker needs testlib.h (suite.testlib_h)"
    assert calls == []  # never judged, never retried

    monkeypatch.setattr(task_mod, "judge", lambda *a, **k: calls.append(1) or JudgeResult("EXCLUDED", 0, 1,
                                                                                             message="why"))
    g = task.grade(Sample(id="1A", input="", reference=_problem()), _attempt("```cpp\nint main(){}\n```"))
    assert g.answer == "EXCLUDED" and calls == [1]


# --- end to end through the console script -------------------------------------------------------------------

AC_1374B = r"""```cpp
#include <bits/stdc++.h>
using namespace std;
int main() {
    int t; scanf("%d", &t);
    while (t--) {
        long long n; scanf("%lld", &n);
        int twos = 0, threes = 0;
        while (n % 2 == 0) { n /= 2; ++twos; }
        while (n % 3 == 0) { n /= 3; ++threes; }
        if (n != 1 || twos > threes) puts("-1");
        else printf("%d\n", 2 * threes - twos);
    }
}
```"""
WA_1360D = "Here it is.\n```cpp\n#include <cstdio>\nint main(){int t;long long n,k;scanf(\"%d\",&t);" \
           "while(t--){scanf(\"%lld %lld\",&n,&k);printf(\"%lld\\n\",n);}}\n```"


@pytest.mark.usefixtures("needs_sandbox")
def test_cli_end_to_end_ac_wa_no_code_and_rating_section(scripted_server, tmp_path):
    if not CF300.is_file():
        pytest.skip(f"shared data absent: {CF300}")
    wanted = {"1374B", "1360D", "762A", "680C"}  # 680C is interactive: skipped and counted
    rows = [line for line in CF300.read_text().splitlines() if json.loads(line)["problem_id"] in wanted]
    data = tmp_path / "cf.jsonl"
    data.write_text("\n".join(rows) + "\n")
    server = scripted_server({"rules": [
        {"match": "multiply n by two or divide n by 6", "reply": {"analysis": "count 2s and 3s", "final": AC_1374B}},
        {"match": "Buying Shovels", "reply": {"analysis": "print n?", "final": WA_1360D}},
    ], "default": {"analysis": "```python\nprint(1)\n```", "final": "I am not sure how to solve this."}})
    root = tmp_path / "out"
    args = ["server=attach", f"server.base_url={server.base_url}", "suite=codeforces", f"suite.path={data}",
            f"paths.root={root}", "progress=false", "client.retry_wait_s=0.01", "effort=low", "repeats=1",
            "suite.workers=2"]
    if HISTOGRAM.is_file():
        args.append(f"suite.human_histogram={HISTOGRAM}")
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    run_dir = root / "default" / "gpt-oss-120b" / "codeforces" / "low"
    grades = {json.loads(line)["key"]: json.loads(line) for line in (run_dir / "grades.jsonl").read_text().splitlines()}
    assert {k: g["answer"] for k, g in grades.items()} == {"1374B#0": "AC", "1360D#0": "WA", "762A#0": "NO_CODE"}
    assert grades["1374B#0"]["score"] == 1.0 and grades["1360D#0"]["score"] == 0.0
    ac = grades["1374B#0"]["details"]
    assert ac["tests_passed"] == ac["tests_total"] > 0 and ac["rating"] == 900 and ac["limits_defaulted"] is True
    prompts = [r["user"] for r in server.requests()]
    assert len(prompts) == 3 and all("```cpp" in p for p in prompts)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["card_key"] == "codeforces_elo"

    m = codeforces_metrics(run_dir)
    assert m["rated_problems"] == 2 and m["judged_problems"] == 3 and m["data"]["skipped_interactive"] == 1
    assert m["verdicts"]["AC"]["count"] == m["verdicts"]["WA"]["count"] == m["verdicts"]["NO_CODE"]["count"] == 1
    assert m["card_elo"] == 1595
    section = codeforces_section([root])
    assert "problem-rating estimate, not a contest simulation" in section
    assert "| gpt-oss-120b | low | no tools | cpp | 3 (2) | 1 | 33.3 (" in section and "| 1595 |" in section
    assert "1 interactive skipped" in section and "3 with defaulted time/memory limits" in section
    if HISTOGRAM.is_file():
        assert m["percentile"]["percentile"] is not None and "percentile among human players" in section
