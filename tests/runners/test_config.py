"""Config composition: every group option composes, presets set the sweep, run dirs are named from the config."""

from __future__ import annotations

import itertools

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from runners.cli import register_resolvers

GROUPS = {
    "model": ["gpt-oss-120b", "gpt-oss-20b"],
    "server": ["spawn", "attach", "cpu"],
    "client": ["chat", "responses", "harmony"],
    "suite": ["aime2024", "aime2025"],
    "effort": ["low", "medium", "high"],
}


@pytest.fixture
def compose_cfg():
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="conf", version_base="1.3"):
        yield lambda overrides=(): compose("config", overrides=list(overrides), return_hydra_config=True)
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("choice", list(itertools.product(*GROUPS.values())))
def test_every_combination_composes_and_resolves(compose_cfg, choice):
    overrides = [f"{g}={c}" for g, c in zip(GROUPS, choice, strict=True)]
    cfg = compose_cfg(overrides)
    resolved = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)
    assert resolved["effort"]["name"] == choice[4]
    assert resolved["client"]["transport"] == choice[2]
    assert cfg.hydra.run.dir == f"outputs/default/{choice[0]}/{choice[3]}/{choice[4]}"


def test_defaults_match_the_published_protocol(compose_cfg):
    cfg = compose_cfg()
    assert cfg.sampling.temperature == 1.0 and cfg.sampling.top_p == 1.0
    assert cfg.suite.repeats == 8
    assert cfg.server.reasoning_parser == "openai_gptoss" and cfg.server.tool_call_parser == "openai"
    assert cfg.server.system_start_date
    assert cfg.model.max_model_len == 131072


def test_card_preset_sweeps_both_years_and_all_efforts(compose_cfg):
    cfg = compose_cfg(["experiment=aime_card"])
    assert cfg.hydra.mode.name == "MULTIRUN"
    assert cfg.hydra.sweeper.params == {"suite": "aime2024,aime2025", "effort": "low,medium,high"}
    assert "shared_server" in cfg.hydra.callbacks


def test_cpu_server_uses_the_cpu_flags(compose_cfg):
    cfg = compose_cfg(["server=cpu"])
    assert cfg.server.enforce_eager and cfg.server.dtype == "bfloat16"
    assert cfg.server.gpu_memory_utilization is None
    assert cfg.server.env.VLLM_CPU_KVCACHE_SPACE == 1
