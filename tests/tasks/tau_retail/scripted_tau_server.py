"""A conversation-aware variant of the shared scripted server, for agent episodes (tau-bench retail).

The shared server matches the last user message only, which cannot script an agent whose tool turns
leave that message unchanged. Here a rule matches on the state of the conversation:

    {"rules": [{"agent": true | false | null,   # the request offers tools (agent) or not (user simulator)
                "turn": 3 | null,               # number of user + tool messages in the request
                "contains": "text" | null,      # substring of any message of the request
                "reply": {...}}],               # as in tests/support/scripted_server.py
     "default": {...}}

Replies are rendered for every transport by the shared server's code. ``{max_in_flight}`` in a reply's
``final`` becomes the most requests the server has been answering at once so far; with ``"faults": {"hold_until_in_flight":
N}`` the server holds requests until N are in flight at once (then never again; ``hold_timeout_s``, default 30,
bounds the wait), so a test can see whether the client really sends N at a time.
Run: ``python -m tests.tasks.tau_retail.scripted_tau_server --script S.json --port P [--log requests.jsonl]``
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from tests.support import scripted_server
from tests.support.scripted_server import Script, ScriptedServer


class ConversationScript(Script):
    def reply(self, user_text: str, effort: str | None, kind: str = "chat", prompt: str = "") -> dict[str, Any]:
        state = json.loads(user_text)
        for rule in self.rules:
            if rule.get("agent") is not None and rule["agent"] != state["agent"]:
                continue
            if rule.get("turn") is not None and rule["turn"] != state["turn"]:
                continue
            if rule.get("contains") is not None and rule["contains"] not in state["text"]:
                continue
            if rule.get("effort") not in (None, effort):
                continue
            return self._fill(rule["reply"], state)
        return self._fill(self.default, state)

    @staticmethod
    def _fill(reply: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        if "{max_in_flight}" not in (reply.get("final") or ""):
            return reply
        return reply | {"final": reply["final"].replace("{max_in_flight}", str(state.get("max_in_flight", 0)))}


class ConversationServer(ScriptedServer):
    def __init__(self, script: Script, log_path: Any) -> None:
        super().__init__(script, log_path)
        self.in_flight = 0
        self.max_in_flight = 0
        self.held = False  # the hold happened (it happens once)
        self._changed: asyncio.Condition | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._changed is None:
            self._changed = asyncio.Condition()
        hold = int(self.script.faults.get("hold_until_in_flight") or 0)
        async with self._changed:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._changed.notify_all()
            if hold and not self.held:
                try:
                    await asyncio.wait_for(self._changed.wait_for(lambda: self.in_flight >= hold or self.held),
                                           float(self.script.faults.get("hold_timeout_s", 30)))
                except TimeoutError:
                    pass
                self.held = True
                self._changed.notify_all()
        try:
            return await super().handle(request)
        finally:
            self.in_flight -= 1

    def _user_text_and_effort(self, kind: str, body: dict[str, Any]) -> tuple[str, str | None]:
        if kind == "completions":
            text = self.enc.decode(body["prompt"])
            effort = next((e for e in ("low", "medium", "high") if f"Reasoning: {e}" in text), None)
            state = {"agent": "namespace functions" in text,
                     "turn": text.count("<|start|>user") + text.count("<|start|>functions."), "text": text}
        elif kind == "responses":
            items = [i for i in body.get("input") or [] if isinstance(i, dict)]
            turn = sum(1 for i in items if i.get("role") == "user" or i.get("type") == "function_call_output")
            text = "\n".join([str(body.get("instructions") or "")]
                             + [str(i.get("content") or i.get("output") or "") for i in items])
            state = {"agent": bool(body.get("tools")), "turn": turn, "text": text}
            effort = (body.get("reasoning") or {}).get("effort")
        else:
            msgs = body.get("messages") or []
            state = {"agent": bool(body.get("tools")),
                     "turn": sum(1 for m in msgs if m.get("role") in ("user", "tool")),
                     "text": "\n".join(str(m.get("content") or "") for m in msgs)}
            effort = body.get("reasoning_effort")
        return json.dumps({"max_in_flight": self.max_in_flight} | state), effort


if __name__ == "__main__":
    scripted_server.main(ConversationScript, ConversationServer, version="scripted-tau-0")
