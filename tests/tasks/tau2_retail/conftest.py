"""Fixtures for the tau2 retail tests: the data comes from $TAU2_RETAIL_DATA or shared/data/tau_bench/tau2_retail;
tests that need it are skipped with the reason when neither exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

SHARED_TAU2 = SHARED_DATA / "tau_bench" / "tau2_retail"


def find_data_dir() -> Path | None:
    for p in (Path(os.environ.get("TAU2_RETAIL_DATA") or "/nonexistent"), SHARED_TAU2):
        if (p / "db.json").exists():
            return p
    return None


DATA_DIR = find_data_dir()
needs_data = pytest.mark.skipif(DATA_DIR is None, reason=f"tau2 retail data not found ({SHARED_TAU2} or $TAU2_RETAIL_DATA)")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if DATA_DIR is None:
        pytest.skip(f"tau2 retail data not found: set TAU2_RETAIL_DATA or provide {SHARED_TAU2}")
    return DATA_DIR


@pytest.fixture(scope="session")
def data(data_dir: Path):
    from tasks.tau2_retail.data import load_data

    return load_data(data_dir)


@pytest.fixture()
def db(data):
    from tasks.tau2_retail.tools import Tau2DB

    return Tau2DB(data)
