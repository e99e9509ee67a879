"""Fixtures for the tau-bench retail environment tests.

The data is read from $TAU_RETAIL_DATA or /work/shared/data/tau_bench/v1_retail; tests that need it
are skipped with a clear reason when neither exists.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_V1 = Path("/work/shared/data/tau_bench/v1_retail")


def find_data_dir() -> Path | None:
    env = os.environ.get("TAU_RETAIL_DATA")
    if env and (Path(env) / "tasks_test.json").exists():
        return Path(env)
    if (SHARED_V1 / "tasks_test.json").exists():
        return SHARED_V1
    return None


DATA_DIR = find_data_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if DATA_DIR is None:
        pytest.skip("tau-bench v1 retail data not found: set TAU_RETAIL_DATA or provide " + str(SHARED_V1))
    return DATA_DIR


@pytest.fixture(scope="session")
def data(data_dir: Path):
    from tasks.tau_retail import load_data

    return load_data(data_dir)


@pytest.fixture()
def env(data):
    from tasks.tau_retail import RetailEnv

    return RetailEnv(data=data)
