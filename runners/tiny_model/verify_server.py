"""Check a running vLLM server on the tiny checkpoint against the scripted truth.

Run with the harness venv (needs httpx and openai_harmony; TIKTOKEN_ENCODINGS_BASE must
point at a folder with o200k_base.tiktoken)::

    python -m runners.tiny_model.verify_server --base-url http://127.0.0.1:8011 --model tiny-gptoss

Exercises, at temperature 0: chat completions (reasoning_effort low/medium/high),
Responses (reasoning.effort), token-level Harmony through /v1/completions, and the
function-tool case through chat completions (tool call, then the follow-up turn).
Prints one JSON report; exit status 1 if anything differs from the script.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from runners.tiny_model import script as S

MAX_TOKENS = 600


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body)
    if r.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {r.status_code}: {r.text[:500]}")
    return r.json()


def check_chat(client, model, effort, pid) -> dict[str, Any]:
    item = S.SCRIPT[effort][pid]
    user = S.user_message(S.problem_by_id(pid)["problem"])
    resp = _post(client, "/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": user}],
        "reasoning_effort": effort, "temperature": 0, "max_tokens": MAX_TOKENS,
    })
    msg = resp["choices"][0]["message"]
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    return {
        "ok": reasoning == item["analysis"] and msg.get("content") == item["final"],
        "reasoning": reasoning, "content": msg.get("content"),
        "finish_reason": resp["choices"][0].get("finish_reason"), "usage": resp.get("usage"),
    }


def check_responses(client, model, effort, pid) -> dict[str, Any]:
    item = S.SCRIPT[effort][pid]
    user = S.user_message(S.problem_by_id(pid)["problem"])
    resp = _post(client, "/v1/responses", {
        "model": model, "input": user, "reasoning": {"effort": effort},
        "temperature": 0, "max_output_tokens": MAX_TOKENS,
    })
    reasoning, text, types = None, None, []
    for out in resp.get("output", []):
        types.append(out.get("type"))
        if out.get("type") == "reasoning":
            parts = out.get("content") or out.get("summary") or []
            reasoning = "".join(p.get("text", "") for p in parts)
        elif out.get("type") == "message":
            text = "".join(p.get("text", "") for p in out.get("content", []))
    return {
        "ok": reasoning == item["analysis"] and text == item["final"],
        "output_types": types, "reasoning": reasoning, "text": text, "usage": resp.get("usage"),
    }


def check_completions(client, model, enc, effort, pid) -> dict[str, Any]:
    import openai_harmony as oh

    item = S.SCRIPT[effort][pid]
    levels = {"low": oh.ReasoningEffort.LOW, "medium": oh.ReasoningEffort.MEDIUM, "high": oh.ReasoningEffort.HIGH}
    system = (oh.SystemContent.new().with_reasoning_effort(levels[effort])
              .with_conversation_start_date(S.CONVERSATION_START_DATE))
    conv = oh.Conversation.from_messages([
        oh.Message.from_role_and_content(oh.Role.SYSTEM, system),
        oh.Message.from_role_and_content(oh.Role.USER, S.user_message(S.problem_by_id(pid)["problem"])),
    ])
    prompt = enc.render_conversation_for_completion(conv, oh.Role.ASSISTANT)
    stops = enc.stop_tokens_for_assistant_actions()
    resp = _post(client, "/v1/completions", {
        "model": model, "prompt": prompt, "max_tokens": MAX_TOKENS, "temperature": 0,
        "stop_token_ids": stops, "skip_special_tokens": False,
    })
    text = resp["choices"][0]["text"]
    tokens = enc.encode(text, allowed_special="all")
    if not tokens or tokens[-1] not in stops:
        tokens = tokens + [stops[-1]]  # the stop token itself is not part of the text
    msgs = enc.parse_messages_from_completion_tokens(tokens, oh.Role.ASSISTANT)
    parsed = [(m.channel, m.content[0].text) for m in msgs]
    return {
        "ok": parsed == [("analysis", item["analysis"]), ("final", item["final"])],
        "text": text, "finish_reason": resp["choices"][0].get("finish_reason"), "usage": resp.get("usage"),
    }


def check_tool(client, model, effort: str | None) -> dict[str, Any]:
    tc = S.TOOL_CASE
    body: dict[str, Any] = {
        "model": model, "messages": [{"role": "user", "content": tc["user"]}],
        "tools": tc["tools"], "temperature": 0, "max_tokens": MAX_TOKENS,
    }
    if effort:
        body["reasoning_effort"] = effort
    resp = _post(client, "/v1/chat/completions", body)
    msg = resp["choices"][0]["message"]
    calls = msg.get("tool_calls") or []
    args = json.loads(calls[0]["function"]["arguments"]) if calls else None
    ok1 = (len(calls) == 1 and calls[0]["function"]["name"] == S.TOOL_NAME
           and args == S.EXPECTED_TOOL_ARGUMENTS)
    result: dict[str, Any] = {
        "turn1": {"reasoning": msg.get("reasoning_content") or msg.get("reasoning"), "tool_calls": calls,
                  "finish_reason": resp["choices"][0].get("finish_reason")},
    }
    ok2 = False
    if calls:
        asst = {"role": "assistant", "content": None, "tool_calls": [calls[0]],
                "reasoning": msg.get("reasoning_content") or msg.get("reasoning")}
        follow = dict(body, messages=body["messages"] + [
            asst, {"role": "tool", "tool_call_id": calls[0]["id"], "content": tc["tool_result"]},
        ])
        resp2 = _post(client, "/v1/chat/completions", follow)
        msg2 = resp2["choices"][0]["message"]
        result["turn2"] = {"reasoning": msg2.get("reasoning_content") or msg2.get("reasoning"),
                           "content": msg2.get("content")}
        ok2 = msg2.get("content") == tc["final"]
    result["ok"] = ok1 and ok2
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", default="http://127.0.0.1:8011")
    ap.add_argument("--model", default="tiny-gptoss")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)

    from openai_harmony import HarmonyEncodingName, load_harmony_encoding

    enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    report: dict[str, Any] = {"chat": {}, "responses": {}, "completions": {}, "tool": {}}
    with httpx.Client(base_url=args.base_url, timeout=args.timeout) as client:
        for effort in S.EFFORTS:
            for pid in S.PROBLEM_IDS:
                key = f"{effort}/{pid}"
                checks = (
                    ("chat", check_chat, (client, args.model, effort, pid)),
                    ("responses", check_responses, (client, args.model, effort, pid)),
                    ("completions", check_completions, (client, args.model, enc, effort, pid)),
                )
                for name, fn, fn_args in checks:
                    try:
                        report[name][key] = fn(*fn_args)
                    except Exception as exc:  # noqa: BLE001 - report and continue
                        report[name][key] = {"ok": False, "error": repr(exc)}
        for effort in (None, *S.EFFORTS):
            try:
                report["tool"][effort or "default"] = check_tool(client, args.model, effort)
            except Exception as exc:  # noqa: BLE001
                report["tool"][effort or "default"] = {"ok": False, "error": repr(exc)}
    summary = {name: f"{sum(v['ok'] for v in res.values())}/{len(res)}" for name, res in report.items()}
    report["summary"] = summary
    print(json.dumps(report, indent=1))
    print(json.dumps(summary), file=sys.stderr)
    return 0 if all(v["ok"] for name, res in report.items() if name != "summary" for v in res.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
