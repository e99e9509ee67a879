"""Secrets never reach disk from the config: literal API keys are refused, and whatever else looks like a secret
is replaced by ``***`` in what the harness writes from it (the manifest, Hydra's record in ``.hydra/``)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf

from evals.secrets import Redactor, env_names_in, literal_key_message, literal_keys
from runners.errors import PREFIX, UserError


def refuse_literal_keys(cfg: DictConfig) -> None:
    """An API key written into the config would be stored with the run: keys come by reference (api_key_env)."""
    found = literal_keys(OmegaConf.to_container(cfg, resolve=False))
    if found:
        raise UserError(literal_key_message(found[0]))


def config_redactor(cfg: DictConfig) -> Redactor:
    """A redactor that knows the values of every secret environment variable, the ones the config names too."""
    return Redactor(env_names_in(OmegaConf.to_container(cfg, resolve=False)))


def _redact_node(node: Any, redactor: Redactor, path: str, overrides: bool = False) -> None:
    """Replace secrets in a config node in place (interpolations are left: they are references, not values)."""
    from omegaconf import open_dict, read_write

    keys = list(node.keys()) if isinstance(node, DictConfig) else range(len(node))
    for key in keys:
        if OmegaConf.is_missing(node, key) or OmegaConf.is_interpolation(node, key):
            continue
        value = node[key]
        here = f"{path}.{key}" if path else str(key)
        if isinstance(value, DictConfig | ListConfig):
            _redact_node(value, redactor, here, overrides=overrides or here == "hydra.overrides")
            continue
        if not isinstance(value, str):
            continue
        if here == "hydra.job.override_dirname":  # the overrides joined by commas
            new = ",".join(redactor.override(item) for item in value.split(","))
        elif overrides:  # hydra.overrides.task / .hydra: "key=value" strings
            new = redactor.override(value, "the override")
        elif isinstance(node, ListConfig) or path.startswith("hydra"):
            new = redactor.text(value, here)
        else:
            new = redactor.value(str(key), value, here)
        if new != value:
            with read_write(node), open_dict(node) if isinstance(node, DictConfig) else contextlib.nullcontext():
                node[key] = new


def redact_config(cfg: DictConfig) -> list[str]:
    """Replace every secret in the composed config (Hydra's node and overrides included) by ***; where it was."""
    redactor = config_redactor(cfg)
    _redact_node(cfg, redactor, "")
    return redactor.found


def warn_redacted(found: list[str]) -> None:
    if found:
        places = ", ".join(dict.fromkeys(found))
        print(f"gptoss-eval: warning: what looks like a secret ({places}) was replaced by *** and is neither used "
              f"nor stored; pass API keys by reference: export the key and set ...api_key_env=<variable name>",
              file=sys.stderr)


class SecretGuard(Callback):
    """Before Hydra writes anything (multirun.yaml, .hydra/, the job log): refuse literal API keys and replace
    whatever else looks like a secret in the config by ***, with a warning."""

    def _guard(self, config: DictConfig) -> None:
        try:
            refuse_literal_keys(config)
        except UserError as exc:  # Hydra turns a callback's exceptions into warnings: exit here
            print(f"{PREFIX}{exc}", file=sys.stderr)
            raise SystemExit(2) from None
        warn_redacted(redact_config(config))

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._guard(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._guard(config)


def save_hydra_files(cfg: DictConfig, run_dir: Path) -> None:
    """Hydra's record of the job (config.yaml, hydra.yaml, overrides.yaml in .hydra/), written once the checks
    passed (conf/hydra/default.yaml turns Hydra's own early copy off) and redacted like the manifest."""
    hydra_cfg = HydraConfig.get()
    folder = run_dir / ".hydra"
    redactor = config_redactor(cfg)
    files = {"config.yaml": OmegaConf.to_container(cfg, resolve=False),
             "hydra.yaml": {"hydra": OmegaConf.to_container(hydra_cfg, resolve=False)},
             "overrides.yaml": [redactor.override(o) for o in hydra_cfg.overrides.task]}
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        clean = redactor.tree(data) if name != "overrides.yaml" else data
        tmp = folder / f"{name}.tmp"
        tmp.write_text(OmegaConf.to_yaml(OmegaConf.create(clean)))
        tmp.replace(folder / name)
