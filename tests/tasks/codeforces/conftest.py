from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path("/work/shared/data/codeforces")
CF300 = DATA / "codecontests_cf300.jsonl"


def _sandbox_problem() -> str:
    from evals.sandbox import SandboxUnavailable, check_available

    try:
        check_available()
    except SandboxUnavailable as e:
        return str(e)
    return ""


_SANDBOX_SKIP = _sandbox_problem()


@pytest.fixture(scope="session")
def needs_sandbox() -> None:
    if _SANDBOX_SKIP:
        pytest.skip(f"sandbox unavailable: {_SANDBOX_SKIP}")


@pytest.fixture(scope="session")
def cf300():
    if not CF300.is_file():
        pytest.skip(f"shared data absent: {CF300}")
    from tasks.codeforces.problems import load_codecontests_jsonl

    return load_codecontests_jsonl(CF300)
