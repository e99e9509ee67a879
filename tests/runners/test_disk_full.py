"""A run whose disk fills up stops with one clear line, keeps what it wrote, and resumes once there is space."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import FIXTURES, run_cli


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_stops_cleanly_and_the_run_resumes(scripted_server, small_disk):
    server = scripted_server({"default": {"analysis": "long reasoning " * 150, "final": "\\boxed{21}"}})
    args = ["server=attach", f"server.base_url={server.base_url}", "suite=aime2025",
            f"suite.path={FIXTURES / 'mini_aime.jsonl'}", "effort=low", "repeats=8", "concurrency=4",
            f"paths.root={small_disk}", "progress=false"]
    proc = run_cli(*args)
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "free space and rerun" in proc.stderr
    attempts = small_disk / "default" / "gpt-oss-120b" / "aime2025" / "low" / "attempts.jsonl"
    complete = [line for line in attempts.read_text().splitlines() if line.endswith("}")]
    assert 0 < len(complete) < 40
    for line in complete[:-1]:
        json.loads(line)

    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    keys = [json.loads(line)["key"] for line in attempts.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 40
