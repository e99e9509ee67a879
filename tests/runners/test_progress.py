"""The progress bar a user watches: done / total, live accuracy and tokens/s, resumed runs counted."""

from __future__ import annotations

import re

from tests.conftest import FIXTURES, run_cli

MINI = str(FIXTURES / "mini_aime.jsonl")  # 5 problems; the script answers p1..p3 right, p4 and p5 wrong
SCRIPT = {"rules": [{"match": "3 \\times 7", "reply": {"analysis": "x", "final": "\\boxed{21}"}},
                    {"match": "divisors", "reply": {"analysis": "x", "final": "\\boxed{9}"}},
                    {"match": "2^{10}", "reply": {"analysis": "x", "final": "\\boxed{24}"}}],
          "default": {"analysis": "x", "final": "\\boxed{1}"}}


def _bar(stream: str) -> str:
    lines = [line for line in stream.splitlines() if "tok/s" in line]
    assert lines, f"no progress bar in:\n{stream[-2000:]}"
    return lines[-1]


def test_progress_bar_shows_done_total_accuracy_and_tokens_per_second(scripted_server, tmp_path):
    server = scripted_server(SCRIPT)
    args = ["server=attach", f"server.base_url={server.base_url}", "suite=aime2025", f"suite.path={MINI}",
            f"paths.root={tmp_path}", "effort=low", "progress=true"]
    env = {"COLUMNS": "200", "TERM": "dumb"}
    proc = run_cli(*args, "repeats=1", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    bar = _bar(proc.stdout + proc.stderr)
    assert "5/5" in bar and "acc 60.0%" in bar, bar
    assert float(re.search(r"([\d,.]+) tok/s", bar).group(1).replace(",", "")) > 0, bar

    proc = run_cli(*args, "repeats=2", env=env)  # the 5 stored attempts count as done (and graded) at once
    assert proc.returncode == 0, proc.stderr[-3000:]
    bar = _bar(proc.stdout + proc.stderr)
    assert "10/10" in bar and "acc 60.0%" in bar, bar
    assert len(server.requests()) == 10
