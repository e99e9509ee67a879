"""A conversation-aware variant of the shared scripted server, for agent episodes (tau-bench retail).

The shared server matches the last user message only, which cannot script an agent whose tool turns
leave that message unchanged. Here a rule matches on the state of the conversation:

    {"rules": [{"agent": true | false | null,   # the request offers tools (agent) or not (user simulator)
                "turn": 3 | null,               # number of user + tool messages in the request
                "contains": "text" | null,      # substring of any message of the request
                "reply": {...}}],               # as in tests/support/scripted_server.py
     "default": {...}}

Replies are rendered for every transport by the shared server's code.
Run: ``python -m tests.tasks.tau_retail.scripted_tau_server --script S.json --port P [--log requests.jsonl]``
"""

from __future__ import annotations

import json
from typing import Any

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
            return rule["reply"]
        return self.default


class ConversationServer(ScriptedServer):
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
        return json.dumps(state), effort


if __name__ == "__main__":
    scripted_server.main(ConversationScript, ConversationServer, version="scripted-tau-0")
