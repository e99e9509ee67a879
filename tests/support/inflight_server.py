"""The scripted server, also counting the requests it holds at once (the engine's concurrency bound, seen
from the server).

Every time a request arrives, the number of requests then in flight (this one included) is appended to
``<log>.inflight``, one number a line: its maximum is the most requests the server ever held at once.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tests.support import scripted_server
from tests.support.scripted_server import Script, ScriptedServer


class InFlightServer(ScriptedServer):
    def __init__(self, script: Script, log_path: Path | None) -> None:
        super().__init__(script, log_path)
        self.in_flight = 0
        self.counts = open(f"{log_path}.inflight", "a", buffering=1) if log_path else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        if self.counts is not None:
            self.counts.write(f"{self.in_flight}\n")
        try:
            return await super().handle(request)
        finally:
            self.in_flight -= 1


def max_in_flight(log_path: Path) -> int:
    path = Path(f"{log_path}.inflight")
    return max((int(line) for line in path.read_text().split()), default=0) if path.exists() else 0


if __name__ == "__main__":
    scripted_server.main(server_cls=InFlightServer)
