from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install 'gptoss-eval[lm-eval]')")

FIXTURES = Path(__file__).parent / "fixtures"



@pytest.fixture
def lm_tasks_dir(tmp_path) -> Path:
    """A folder with the tiny lm-eval task, its data path made absolute."""
    folder = tmp_path / "lm_tasks"
    folder.mkdir()
    text = (FIXTURES / "tiny_arith.yaml.in").read_text().replace("__DATA__", str(FIXTURES / "tiny_arith.jsonl"))
    (folder / "tiny_arith.yaml").write_text(text)
    return folder


class CapturingServer:
    """The scripted server in a thread of this process, keeping every request body whole."""

    def __init__(self, script: dict) -> None:
        from aiohttp import web

        from tests.support.scripted_server import Script, ScriptedServer

        self.bodies: list[dict] = []
        scripted = ScriptedServer(Script(script), None)

        async def capture(request: web.Request) -> web.StreamResponse:
            self.bodies.append({"path": request.path, "body": await request.json()})
            return await scripted.handle(request)

        app = web.Application(client_max_size=64 * 1024 * 1024)
        for path in ("/v1/chat/completions", "/v1/responses", "/v1/completions"):
            app.router.add_post(path, capture)
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> CapturingServer:
        from aiohttp import web

        self._runner = web.AppRunner(self._app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(timeout=10)
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()


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
