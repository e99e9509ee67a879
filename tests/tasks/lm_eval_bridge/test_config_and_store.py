"""Suite configs compose into the task; the model refuses stores built from other prompts or missing answers."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

from evals.store import RunStore
from evals.types import Attempt
from tasks.lm_eval_bridge.common import BridgeError, context_digest


@pytest.fixture
def compose_cfg():
    from runners.cli import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        yield lambda overrides=(): compose("config", overrides=list(overrides), return_hydra_config=True)
    GlobalHydra.instance().clear()


def test_gpqa_diamond_suite_composes_to_the_lm_eval_task(compose_cfg):
    from tasks.lm_eval_bridge.task import LmEvalTask

    cfg = compose_cfg(["suite=gpqa_diamond", "effort=high"])
    assert cfg.hydra.run.dir == "outputs/default/gpt-oss-120b/gpqa_diamond/high"
    task = instantiate(OmegaConf.create(OmegaConf.to_container(cfg.suite, resolve=True)), _convert_="all")
    assert isinstance(task, LmEvalTask)
    assert task.tasks == ["gpqa_diamond_cot_zeroshot"] and task.card_key() == "gpqa_diamond"
    assert task.repeats == 8 and task.primary_filter == "flexible-extract" and task.apply_chat_template


def test_lm_eval_suite_needs_task_names(compose_cfg):
    from evals.task import DataUnavailable

    cfg = compose_cfg(["suite=lm_eval"])
    task = instantiate(OmegaConf.create(OmegaConf.to_container(cfg.suite, resolve=True)), _convert_="all")
    with pytest.raises(DataUnavailable, match="suite.tasks"):  # at load, where the CLI reports it in one line
        task.load()


def _request(context: str):
    from lm_eval.api.instance import Instance

    return Instance(request_type="generate_until", doc={}, arguments=(context, {"until": ["\n"]}), idx=0,
                    metadata=("t", 0, 1))


def _attempt(context: str, final: str) -> Attempt:
    return Attempt(key="t/0#0", run_id="r", suite="lm_eval", sample_id="t/0", repeat=0, seed=1, effort="low",
                   model="m", transport="chat", settings_hash="h", status="ok",
                   output={"final": final, "analysis": "a"}, transcript=[], usage={}, n_calls=1, started_at=0.0,
                   ended_at=0.0, latency_s=0.0, info={"lm_eval": {"context_sha": context_digest(context)}})


def test_replay_answers_from_the_store_and_refuses_changed_prompts_or_gaps(tmp_path):
    from tasks.lm_eval_bridge.model import GptOssHarmonyLM

    store = RunStore(tmp_path)
    store.append(_attempt("the prompt", "Answer: 3\nrest"), None)
    store.close()
    lm = GptOssHarmonyLM(replay_only=True, store=store)
    assert lm.generate_until([_request("the prompt")]) == ["Answer: 3"]
    with pytest.raises(BridgeError, match="different prompt"):
        lm.generate_until([_request("another prompt")])
    with pytest.raises(BridgeError, match="no stored attempt"):
        lm.generate_until([_request("the prompt"), _request("the prompt")])  # a second repeat was never run
