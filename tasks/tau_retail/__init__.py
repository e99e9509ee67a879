"""Tau-Bench Retail (v1) environment: data, tools, DB hash, reward and user-simulator pieces."""

from .data import (
    ENV_VAR,
    FILE_SHA256,
    INITIAL_DB_HASH,
    SPLITS,
    Action,
    RetailData,
    RetailTask,
    TauRetailDataError,
    canonical_hash,
    load_data,
)
from .db import RetailDB
from .env import (
    MAX_STEPS,
    STOP_TOKEN,
    RetailEnv,
    RewardInfo,
    ToolCallRecord,
    build_user_sim_system_prompt,
    gold_hash,
    is_stop,
    outputs_found,
    replay_actions,
)
from .tools import READ_TOOLS, TERMINAL_TOOLS, TOOLS, WRITE_TOOLS, invoke_tool

__all__ = [
    "ENV_VAR",
    "FILE_SHA256",
    "INITIAL_DB_HASH",
    "MAX_STEPS",
    "READ_TOOLS",
    "SPLITS",
    "STOP_TOKEN",
    "TERMINAL_TOOLS",
    "TOOLS",
    "WRITE_TOOLS",
    "Action",
    "RetailDB",
    "RetailData",
    "RetailEnv",
    "RetailTask",
    "RewardInfo",
    "TauRetailDataError",
    "ToolCallRecord",
    "build_user_sim_system_prompt",
    "canonical_hash",
    "gold_hash",
    "invoke_tool",
    "is_stop",
    "load_data",
    "outputs_found",
    "replay_actions",
]
