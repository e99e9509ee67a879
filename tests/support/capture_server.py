"""The scripted server, also writing every ``/v1/completions`` (prompt ids, completion ids) pair it served.

The pairs go to ``<log>.pairs.jsonl``; the completion keeps its stop token (``<|return|>`` / ``<|call|>``),
which the reply itself leaves out as vLLM does. Used by ``tests.support.tiny_tool_cases``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support import scripted_server
from tests.support.scripted_server import Script, ScriptedServer


class CaptureServer(ScriptedServer):
    def __init__(self, script: Script, log_path: Path | None) -> None:
        super().__init__(script, log_path)
        self.pairs = open(f"{log_path}.pairs.jsonl", "a", buffering=1) if log_path else None

    def _completions(self, reply: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        out = super()._completions(reply, body)
        if self.pairs is not None:
            completion = self.enc.encode(reply["raw_text"], allowed_special="all") if "raw_text" in reply else \
                out["choices"][0]["token_ids"]
            self.pairs.write(json.dumps({"prompt": list(body["prompt"]), "completion": completion}) + "\n")
        return out


if __name__ == "__main__":
    scripted_server.main(server_cls=CaptureServer)
