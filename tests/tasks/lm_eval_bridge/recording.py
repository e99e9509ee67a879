"""HTTP servers in a thread of the test process that keep every request body whole.

- :class:`CapturingServer`: the scripted gpt-oss server (tests/support/scripted_server.py) behind a recorder.
- :class:`RecordingProxy`: forwards every request to a real server (vLLM-CPU) and records request and reply,
  so a test sees exactly what the bridge put on the wire and what the server answered.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

COMPLETION_PATHS = ("/v1/chat/completions", "/v1/responses", "/v1/completions")


class ThreadedApp:
    """An aiohttp application served on 127.0.0.1 (a free port) from its own event-loop thread."""

    def __init__(self) -> None:
        self.exchanges: list[dict[str, Any]] = []  # {"path", "body", "reply"} per completion request
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [{"path": x["path"], "body": x["body"]} for x in self.exchanges]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ThreadedApp:
        self._runner = web.AppRunner(self.app, access_log=None)
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
        self._loop.run_until_complete(self._on_stop())
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _on_stop(self) -> None:
        return None

    def __enter__(self) -> ThreadedApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CapturingServer(ThreadedApp):
    """The scripted server, keeping every request body."""

    def __init__(self, script: dict) -> None:
        from tests.support.scripted_server import Script, ScriptedServer

        super().__init__()
        scripted = ScriptedServer(Script(script), None)

        async def capture(request: web.Request) -> web.StreamResponse:
            self.exchanges.append({"path": request.path, "body": await request.json(), "reply": None})
            return await scripted.handle(request)

        for path in COMPLETION_PATHS:
            self.app.router.add_post(path, capture)


class RecordingProxy(ThreadedApp):
    """Forwards everything to ``upstream`` (a server root such as ``http://127.0.0.1:8000``) and records the
    JSON request and reply of every completion request. Streams are not supported (the bridge does not stream)."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/").removesuffix("/v1")
        self._session: ClientSession | None = None
        self.app.router.add_route("*", "/{tail:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=1800))
        data = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")}
        async with self._session.request(request.method, self.upstream + request.path_qs, data=data,
                                         headers=headers) as resp:
            payload = await resp.read()
            if request.path in COMPLETION_PATHS:
                reply = await resp.json(content_type=None) if resp.status == 200 else None
                self.exchanges.append({"path": request.path, "body": await request.json(), "reply": reply,
                                       "status": resp.status})
            return web.Response(status=resp.status, body=payload,
                                content_type=resp.content_type or "application/json")

    async def _on_stop(self) -> None:
        if self._session is not None:
            await self._session.close()
