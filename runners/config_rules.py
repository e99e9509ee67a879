"""The composed config's values checked before anything runs: each value that reaches a server, the engine or a
launcher has its type and range, or the run stops with one line naming the key, the value and what it takes.

Hydra composes the config and refuses unknown keys (with a "did you mean"); these rules add what its YAML
cannot say: bounds, nullability, a keyword in place of a number (``concurrency=auto``).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from runners.errors import UserError
from runners.redaction import refuse_literal_keys


class Rule:
    """What a config value must be: a number (integer or not, with bounds), a boolean, a list or a mapping."""

    def __init__(self, kind: type, low: float | None = None, high: float | None = None, *, above: bool = False,
                 nullable: bool = False, word: str | None = None) -> None:
        self.kind, self.low, self.high, self.above, self.nullable = kind, low, high, above, nullable
        self.word = word  # a keyword the value may be instead, e.g. concurrency=auto

    def ok(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if self.word is not None and value == self.word:
            return True
        if self.kind is bool:
            return isinstance(value, bool)
        if self.kind is list:
            return isinstance(value, list | ListConfig)
        if self.kind is dict:
            return isinstance(value, dict | DictConfig)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind is int and not float(value).is_integer():
            return False
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high

    def expected(self) -> str:
        if self.kind is bool:
            return "true or false"
        if self.kind is list:
            return "a list, e.g. [a,b]"
        if self.kind is dict:
            return "a mapping, e.g. {KEY: value}"
        text = "an integer" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            text += f" {'>' if self.above else '>='} {self.low:g} and <= {self.high:g}"
        elif self.low is not None:
            text += f" {'>' if self.above else '>='} {self.low:g}"
        return text + (" (or null)" if self.nullable else "") + (f" or {self.word}" if self.word else "")


# Values that reach a server, the engine or a launcher. A key the chosen config does not have is skipped
# (server.replicas exists only with server=spawn); suite-specific keys are checked where every suite agrees.
RULES: dict[str, Rule] = {
    "concurrency": Rule(int, 1, word="auto"), "seed": Rule(int), "repeats": Rule(int, 1, nullable=True),
    "sampling.temperature": Rule(float, 0), "sampling.top_p": Rule(float, 0, 1, above=True),
    "sampling.max_tokens": Rule(int, 1, nullable=True),
    "client.timeout_s": Rule(float, 0), "client.read_timeout_s": Rule(float, 0, above=True, nullable=True),
    "client.max_retries": Rule(int, 0), "client.retry_wait_s": Rule(float, 0),
    "client.down_after": Rule(int, 1), "client.probe_interval_s": Rule(float, 0), "client.stream": Rule(bool),
    "progress": Rule(bool), "shard.index": Rule(int, 0), "shard.count": Rule(int, 1),
    "model.max_model_len": Rule(int, 1, nullable=True), "model.tensor_parallel_size": Rule(int, 1, nullable=True),
    "server.port": Rule(int, 0, 65535), "server.replicas": Rule(int, 1),
    "server.gpu_memory_utilization": Rule(float, 0, 1, above=True, nullable=True),
    "server.ready_timeout_s": Rule(float, 0, above=True), "server.enforce_eager": Rule(bool),
    "server.extra_args": Rule(list), "server.env": Rule(dict), "server.replica_env": Rule(list),
    "suite.limit": Rule(int, 1, nullable=True), "suite.repeats": Rule(int, 1, nullable=True),
    "doctor": Rule(bool, nullable=True),
}
_ABSENT = object()
ACTIONS = ("run", "retry-errors", "regrade", "report", "doctor")
SENDING_ACTIONS = ("run", "retry-errors")  # the actions that start servers and send requests


def validate(cfg: DictConfig) -> None:
    """Values that reach a server, the engine or a launcher must have their type: one clear line, not a traceback."""
    for key, rule in RULES.items():
        value = OmegaConf.select(cfg, key, default=_ABSENT)
        if value is not _ABSENT and not rule.ok(value):
            raise UserError(f"{key}={value!r} is not valid: expected {rule.expected()}")
    if cfg.shard.index >= cfg.shard.count:
        raise UserError(f"shard.index={cfg.shard.index} is not valid: expected an integer < "
                        f"shard.count={cfg.shard.count}")
    if cfg.action not in ACTIONS:
        raise UserError(f"action={cfg.action!r} is not valid: expected run, retry-errors, regrade, report or doctor")
    refuse_literal_keys(cfg)
    mode = cfg.server.get("mode")
    if mode not in ("spawn", "attach"):
        raise UserError(f"server.mode={mode!r} is not valid: expected spawn or attach (server=spawn|attach)")
    if mode == "attach" and not cfg.server.get("base_url"):
        raise UserError("server=attach needs server.base_url (one URL, a list, or comma-separated)")
