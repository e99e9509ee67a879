"""The bridge stores a truncated or malformed reply as the engine does (both go through evals.engine.run_episode)."""

from __future__ import annotations

import pytest

pytest.importorskip("lm_eval")

from evals.engine import episode_status  # noqa: E402
from evals.store import RunStore  # noqa: E402
from evals.task import Episode  # noqa: E402
from evals.types import ModelOutput  # noqa: E402
from tasks.lm_eval_bridge.model import GptOssHarmonyLM  # noqa: E402


class ScriptedClient:
    transport = "chat"

    def __init__(self, outputs: list[ModelOutput]) -> None:
        self.outputs = outputs

    async def generate(self, messages, *, effort, sampling, seed=None, tools=None) -> ModelOutput:
        return self.outputs.pop(0)

    async def aclose(self) -> None:
        return None


def _request(context: str, doc_id: int):
    from lm_eval.api.instance import Instance

    return Instance(request_type="generate_until", doc={}, arguments=(context, {"until": ["\n"]}), idx=0,
                    metadata=("toy", doc_id, 1))


def test_bridge_stores_truncated_and_malformed_replies_like_the_engine(tmp_path):
    truncated = ModelOutput(analysis="thinking...", final=None, finish_reason="length")
    malformed = ModelOutput(analysis="a", final=None, finish_reason="stop", parse_error="unparsable tokens")
    store = RunStore(tmp_path)
    lm = GptOssHarmonyLM(client=ScriptedClient([truncated, malformed]), store=store, model_name="m")
    assert lm.generate_until([_request("Q1", 0), _request("Q2", 1)]) == ["", ""]
    stored = sorted(store.attempts().values(), key=lambda a: a.sample_id)
    expected = [episode_status(Episode(transcript=[], output=o)) for o in (truncated, malformed)]
    assert [(a.status, a.error) for a in stored] == expected
    assert [a.status for a in stored] == ["truncated", "malformed"]
