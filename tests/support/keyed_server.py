"""The scripted server behind an API key, as ``vllm serve --api-key`` runs it: every ``/v1`` route answers 401
unless the request carries ``Authorization: Bearer <key>``; ``/health`` and ``/version`` stay open.

The key comes from the environment variable ``KEYED_SERVER_KEY`` (never from the script file, so a test can
look for it in everything written to disk).

Run: ``KEYED_SERVER_KEY=... python -m tests.support.keyed_server --script S.json --port P [--log requests.jsonl]``
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.scripted_server import Script, ScriptedServer, build_app


def guard(server: ScriptedServer, key: str) -> Any:
    """Refuse a /v1 request without the key; a refused one is logged too (``"refused": true``), so a test sees
    every request that reached the server."""

    @web.middleware
    async def require_key(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/v1") and request.headers.get("Authorization") != f"Bearer {key}":
            if server.log:
                server.log.write(json.dumps({"path": request.path, "refused": True, "effort": None,
                                             "authorization": request.headers.get("Authorization")}) + "\n")
            return web.json_response({"error": {"message": "Unauthorized", "code": 401}}, status=401)
        return await handler(request)

    return require_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", required=True, type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args()
    server = ScriptedServer(Script(json.loads(args.script.read_text())), args.log)
    app = build_app(server)
    app.middlewares.append(guard(server, os.environ["KEYED_SERVER_KEY"]))
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, shutdown_timeout=1.0)


if __name__ == "__main__":
    main()
