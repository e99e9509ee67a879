"""The tau2 self-check: every gold action's tool exists and validates, and gold vs gold scores DB 1."""

from __future__ import annotations

import json
import shutil

from tasks.tau2_retail import selfcheck
from tasks.tau2_retail.data import clear_data_cache


def test_selfcheck_matches_every_task_of_both_releases(data_dir, capsys) -> None:
    rc = selfcheck.main(["--data-dir", str(data_dir)])
    out = capsys.readouterr().out
    assert rc == 0, out
    for release in ("current", "2025-06"):
        for split, n in (("base", 114), ("test", 40), ("train", 74)):
            line = next(x for x in out.splitlines() if x.split()[:2] == [release, split])
            assert f"matched {n} / {n}" in line
    # expected gold errors are counted (failed lookups, refused writes), not failures
    assert "gold actions returning Error: 18;" in next(x for x in out.splitlines() if x.startswith("current  base"))
    assert "['105', '64']" in out


def test_selfcheck_reports_a_gold_call_that_does_not_validate(data_dir, tmp_path, capsys) -> None:
    copy = tmp_path / "tau2"
    shutil.copytree(data_dir, copy)
    path = copy / "tasks.json"
    path.chmod(0o644)
    tasks = json.loads(path.read_text())
    tasks[0]["evaluation_criteria"]["actions"][0]["arguments"] = {"first_name": "Yusuf"}
    tasks[1]["evaluation_criteria"]["actions"][0]["name"] = "lookup_user"
    path.write_text(json.dumps(tasks))
    clear_data_cache()
    try:
        rc = selfcheck.main(["--data-dir", str(copy), "--release", "current", "--splits", "base", "--no-verify"])
    finally:
        clear_data_cache()
    cap = capsys.readouterr()
    assert rc == 1 and "matched 112 / 114" in cap.out
    assert "task 0: gold action 0_0 find_user_id_by_name_zip: arguments do not validate" in cap.err
    assert "task 1: gold action 1_0 names unknown tool 'lookup_user'" in cap.err


def test_selfcheck_data_error_is_one_line(tmp_path, capsys) -> None:
    assert selfcheck.main(["--data-dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("data error:") and "does not exist" in err and len(err.splitlines()) == 1
