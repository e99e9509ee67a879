"""A store written by the release before suite metrics (commit 1e92e2c: timing first in ``info``, no
``task_class`` in the manifest, no suite_metrics.json) still loads, regrades and reports the same figures.

The fixture is that release's own output (console script, scripted server, mini AIME, streamed, 2 repeats)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd

from evals.store import RunStore
from reports.summary import _load_frame_plain, load_run
from tests.conftest import FIXTURES, ROOT, run_cli

OLD = FIXTURES / "store_release_1e92e2c" / "aime2025_low"


def _old_run(tmp_path):
    run = tmp_path / "default" / "gpt-oss-120b" / "aime2025" / "low"
    run.mkdir(parents=True)
    for name in ("manifest.json", "attempts.jsonl", "grades.jsonl"):
        shutil.copy(OLD / name, run / name)
    return run


def _summary_row(report: str) -> str:
    return next(line for line in report.splitlines() if line.startswith("| aime2025 | low |"))


def test_old_store_loads_with_its_streaming_timings(tmp_path):
    run = _old_run(tmp_path)
    frame = load_run(run).frame
    pd.testing.assert_frame_equal(frame, _load_frame_plain(RunStore(run)))
    assert len(frame) == 10 and frame.score.sum() == 6 and frame.tpot_s.notna().all()


def test_old_store_regrades_and_reports_the_same_row(tmp_path):
    run = _old_run(tmp_path)
    proc = run_cli("suite=aime2025", f"suite.path={FIXTURES / 'mini_aime.jsonl'}", f"paths.root={tmp_path}",
                   "effort=low", "repeats=2", "action=regrade", "progress=false")
    assert proc.returncode == 0, proc.stderr[-2000:]
    before = [json.loads(line)["score"] for line in (OLD / "grades.jsonl").read_text().splitlines()]
    after = {g.key: g.score for g in RunStore(run).grades().values()}
    assert sorted(after.values()) == sorted(before) and len(after) == 10
    assert (run / "suite_metrics.json").exists()  # the regrade wrote the (empty) suite sections
    # the old release's own summary row, figure for figure (the latency columns are the same attempts' times)
    assert _summary_row((run / "report.md").read_text()) == _summary_row((OLD / "report.md").read_text())

    out = tmp_path / "report"
    fresh = _old_run(tmp_path / "again")  # not regraded: no suite_metrics.json, as the old release left it
    proc = subprocess.run([sys.executable, "-m", "runners.suite_report", str(fresh), "--out", str(out), "--html"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _summary_row((out / "report.md").read_text()) == _summary_row((OLD / "report.md").read_text())
    assert (out / "report.html").exists() and json.loads((fresh / "suite_metrics.json").read_text())["schema"] == 1
