"""Gold replay of every task reproduces the reference DB hashes (635 / 635)."""

from __future__ import annotations

import pytest

from tasks.tau_retail import INITIAL_DB_HASH, SPLITS, canonical_hash, selfcheck
from tasks.tau_retail.data import DB_SECTIONS


def test_initial_hash_matches_full_canonical_hash(data) -> None:
    db = {s: getattr(data, s) for s in DB_SECTIONS}
    assert canonical_hash(db) == INITIAL_DB_HASH == data.initial_hash


@pytest.mark.parametrize("split", SPLITS)
def test_selfcheck_split(data, split: str) -> None:
    res = selfcheck.check_split(data, split)
    assert res.total == {"test": 115, "dev": 20, "train": 500}[split]
    assert res.mismatches == []
    assert res.matched == res.total


def test_selfcheck_cli_all(data_dir, capsys) -> None:
    rc = selfcheck.main(["--data-dir", str(data_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "total  matched 635 / 635" in out
    for split, n in (("test", 115), ("dev", 20), ("train", 500)):
        assert f"{split:<6} matched {n} / {n}" in out


def test_selfcheck_cli_reports_mismatch(data_dir, tmp_path, capsys, monkeypatch) -> None:
    import json
    import shutil

    from tasks.tau_retail import data as data_mod

    copy = tmp_path / "v1"
    shutil.copytree(data_dir, copy)
    gt = json.loads((copy / "gt_db_hashes.json").read_text())
    gt["dev"][3] = "0" * 64
    (copy / "gt_db_hashes.json").chmod(0o644)
    (copy / "gt_db_hashes.json").write_text(json.dumps(gt))
    # the edited file no longer matches its pinned sha256: accept it for this test only
    monkeypatch.setitem(
        data_mod.FILE_SHA256,
        "gt_db_hashes.json",
        data_mod.sha256_bytes((copy / "gt_db_hashes.json").read_bytes()),
    )
    data_mod.clear_data_cache()
    try:
        rc = selfcheck.main(["--data-dir", str(copy), "--splits", "dev", "--no-progress"])
    finally:
        data_mod.clear_data_cache()
    cap = capsys.readouterr()
    assert rc == 1
    assert "matched 19 / 20" in cap.out
    assert "dev/3" in cap.err
