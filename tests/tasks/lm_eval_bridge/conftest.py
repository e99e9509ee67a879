from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install 'gptoss-eval[lm-eval]')")

from tests.tasks.lm_eval_bridge.recording import CapturingServer  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def lm_tasks_dir(tmp_path) -> Path:
    """A folder with the tiny lm-eval task, its data path made absolute."""
    folder = tmp_path / "lm_tasks"
    folder.mkdir()
    text = (FIXTURES / "tiny_arith.yaml.in").read_text().replace("__DATA__", str(FIXTURES / "tiny_arith.jsonl"))
    (folder / "tiny_arith.yaml").write_text(text)
    return folder


@pytest.fixture
def capturing_server():
    servers: list[CapturingServer] = []

    def start(script: dict) -> CapturingServer:
        server = CapturingServer(script).start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()
