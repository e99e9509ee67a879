"""tau2 data loading: the normalised DB and its hash, pinned files, and the tau2-bench checkout layout."""

from __future__ import annotations

import json
import shutil

import pytest

from tasks.tau2_retail.data import (
    FILE_SHA256,
    INITIAL_DB_HASH,
    Tau2RetailDataError,
    clear_data_cache,
    db_hash,
    load_data,
)
from tasks.tau_retail.data import sha256_bytes


def test_pinned_hashes_and_the_initial_db_hash(data, data_dir) -> None:
    for name, digest in FILE_SHA256.items():
        assert sha256_bytes((data_dir / name).read_bytes()) == digest, name
    raw = json.loads((data_dir / "db.json").read_text())
    assert len(data.orders) == 1000 and len(data.users) == 500 and len(data.products) == 50
    assert data.initial_hash == INITIAL_DB_HASH == db_hash(data.to_dict())
    assert db_hash(raw) != INITIAL_DB_HASH  # the raw file lacks the null optional fields pydantic dumps


def test_a_modified_file_names_the_file_and_the_expected_hash(data_dir, tmp_path) -> None:
    copy = tmp_path / "tau2"
    shutil.copytree(data_dir, copy)
    (copy / "policy.md").chmod(0o644)
    (copy / "policy.md").write_text("be nice")
    clear_data_cache()
    try:
        data = load_data(copy)
        with pytest.raises(Tau2RetailDataError, match=r"policy\.md.*" + FILE_SHA256["policy.md"]):
            _ = data.policy
        assert load_data(copy, verify=False).policy == "be nice"
    finally:
        clear_data_cache()


def test_a_tau2_bench_checkout_loads(data_dir, tmp_path) -> None:
    root = tmp_path / "tau2-bench"
    retail = root / "data" / "tau2" / "domains" / "retail"
    sim = root / "data" / "tau2" / "user_simulator"
    retail.mkdir(parents=True)
    sim.mkdir(parents=True)
    for name in ("db.json", "policy.md", "tasks.json", "split_tasks.json", "prompts.json"):
        shutil.copyfile(data_dir / name, retail / name)
    shutil.copyfile(data_dir / "user_simulation_guidelines.md", sim / "simulation_guidelines.md")
    clear_data_cache()
    try:
        for target in (root, retail):
            data = load_data(target)
            assert data.root == retail and data.checkout == root
            assert data.user_guidelines == (data_dir / "user_simulation_guidelines.md").read_text()
            assert len(data.tasks("current")) == 114
    finally:
        clear_data_cache()
