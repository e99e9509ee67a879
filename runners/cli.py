"""`gptoss-eval`: the Hydra app. conf -> (task, client, server) -> engine -> store -> report.

Examples:
  gptoss-eval suite=aime2025 effort=high                      # one run, vLLM started for it
  gptoss-eval -m suite=aime2024,aime2025 effort=low,medium,high  # one server for the sweep
  gptoss-eval server=attach server.base_url=http://gpu-box:8000/v1 client=harmony
  gptoss-eval suite=aime2025 action=regrade                   # re-score stored outputs, no requests
  gptoss-eval suite=aime2025 action=retry-errors              # send the attempts stored as error again
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import errno
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, InstantiationException, MissingConfigException
from hydra.experimental.callback import Callback
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, OmegaConfBaseException

from evals.balancer import BalancedClient
from evals.clients import RequestRejected, Sampling, ServerUnavailable
from evals.engine import RunSpec, RunStats, regrade, run_attempts, settings_hash
from evals.secrets import (
    MissingKey,
    RedactingFilter,
    Redactor,
    env_names_in,
    key_from_env,
    literal_key_message,
    literal_keys,
)
from evals.store import RunStore, StoreError
from evals.task import Task, TaskError
from runners import capacity, doctor, serving, shard, sweep
from runners.versions import versions
from runners.vllm_server import ServerStartError, sigterm_as_exit

log = logging.getLogger("gptoss_eval")



class UserError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def hardware() -> dict[str, Any]:
    """What the numbers were measured on: GPU names (nvidia-smi, when present) and CPU count."""
    import os
    import shutil
    import subprocess

    info: dict[str, Any] = {"cpus": os.cpu_count(), "gpu": None}
    if shutil.which("nvidia-smi"):
        try:
            names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                   text=True, timeout=20).stdout.split("\n")
            gpus = [n.strip() for n in names if n.strip()]
            info.update(gpu=gpus[0] if gpus else None, gpus=gpus)
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("tiny_model_path"):
        def tiny_model_path(recipe: str = "") -> str:
            from runners.tiny_model.paths import cached_checkpoint

            return str(cached_checkpoint(recipe or "aime"))

        OmegaConf.register_new_resolver("tiny_model_path", tiny_model_path)
    if not OmegaConf.has_resolver("repo_file"):
        # files shipped beside the packages (the tiny model's fixture problems)
        OmegaConf.register_new_resolver("repo_file", lambda rel: str(Path(__file__).resolve().parents[1] / rel))


class _Rule:
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
_RULES: dict[str, _Rule] = {
    "concurrency": _Rule(int, 1, word="auto"), "seed": _Rule(int), "repeats": _Rule(int, 1, nullable=True),
    "sampling.temperature": _Rule(float, 0), "sampling.top_p": _Rule(float, 0, 1, above=True),
    "sampling.max_tokens": _Rule(int, 1, nullable=True),
    "client.timeout_s": _Rule(float, 0), "client.read_timeout_s": _Rule(float, 0, above=True, nullable=True),
    "client.max_retries": _Rule(int, 0), "client.retry_wait_s": _Rule(float, 0),
    "client.down_after": _Rule(int, 1), "client.probe_interval_s": _Rule(float, 0), "client.stream": _Rule(bool),
    "progress": _Rule(bool), "shard.index": _Rule(int, 0), "shard.count": _Rule(int, 1),
    "model.max_model_len": _Rule(int, 1, nullable=True), "model.tensor_parallel_size": _Rule(int, 1, nullable=True),
    "server.port": _Rule(int, 0, 65535), "server.replicas": _Rule(int, 1),
    "server.gpu_memory_utilization": _Rule(float, 0, 1, above=True, nullable=True),
    "server.ready_timeout_s": _Rule(float, 0, above=True), "server.enforce_eager": _Rule(bool),
    "server.extra_args": _Rule(list), "server.env": _Rule(dict), "server.replica_env": _Rule(list),
    "suite.limit": _Rule(int, 1, nullable=True), "suite.repeats": _Rule(int, 1, nullable=True),
    "doctor": _Rule(bool, nullable=True),
}
_ABSENT = object()
ACTIONS = ("run", "retry-errors", "regrade", "report", "doctor")
SENDING_ACTIONS = ("run", "retry-errors")  # the actions that start servers and send requests


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
            print(f"gptoss-eval: error: {exc}", file=sys.stderr)
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


def validate(cfg: DictConfig) -> None:
    """Values that reach a server, the engine or a launcher must have their type: one clear line, not a traceback."""
    for key, rule in _RULES.items():
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


def config_error_line(exc: Exception) -> str:
    """Hydra's and OmegaConf's multi-line config errors as one line (with a close match for a typo'd key)."""
    cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else exc
    text = str(exc)
    if isinstance(exc, MissingConfigException) and "Available options in" in text:
        head, options = text.split("Available options in", 1)
        group, _, names = options.partition(":")
        names = names.split("Config search path:")[0].split()
        return f"{head.strip()}. Available options in {group.strip()}: {', '.join(names)}"
    if isinstance(cause, OmegaConfBaseException) and "not in struct" in str(cause):
        key = cause.full_key or str(cause.key)
        parent = cause.parent_node
        known = [str(k) for k in parent.keys()] if parent is not None and hasattr(parent, "keys") else []
        close = difflib.get_close_matches(str(cause.key), known, n=1)
        hint = f"; did you mean {key.rsplit('.', 1)[0] + '.' if '.' in key else ''}{close[0]}?" if close else ""
        return f"unknown option {key}: the config has no such key{hint} (gptoss-eval --help lists the options)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(line for line in lines if not line.startswith(("full_key:", "object_type=", "See https://")))


def build_task(cfg: DictConfig, suite_cfg: dict[str, Any]) -> Task:
    """The suite's task; an option the task does not take or a value it refuses is a one-line UserError."""
    try:
        task = instantiate(OmegaConf.create(suite_cfg), _convert_="all")
    except InstantiationException as exc:
        cause = exc.__cause__
        if isinstance(cause, TaskError | UserError):
            raise cause from None
        if isinstance(cause, TypeError) and (m := re.search(r"unexpected keyword argument '(\w+)'", str(cause))):
            raise UserError(f"suite.{m.group(1)} is not an option of suite {cfg.suite.name} "
                            f"({suite_cfg.get('_target_')})") from None
        if isinstance(cause, TypeError | ValueError):
            raise UserError(f"suite {cfg.suite.name}: {cause}") from None
        if cause is None:
            raise
        raise cause from exc  # anything else is a bug: its own traceback
    if not isinstance(task, Task):  # the runner calls Task's hooks directly
        raise UserError(f"suite {cfg.suite.name}: {suite_cfg.get('_target_')} is not a Task (evals.task.Task)")
    return task


def build_settings(cfg: DictConfig, task: Task, peers: dict[str, Any]) -> dict[str, Any]:
    """Everything that changes what the model is asked or how answers are sampled (not how many repeats)."""
    return {"task": task.settings(), "model": cfg.model.name, "served_name": cfg.model.served_name,
            "effort": cfg.effort.name, "transport": cfg.client.transport,
            "sampling": OmegaConf.to_container(cfg.sampling, resolve=True), "seed": cfg.seed,
            "system_start_date": cfg.server.get("system_start_date"),
            "peers": peers}


class LiveProgress:
    """A rich progress bar with live accuracy and output tokens/s."""

    def __init__(self, label: str, total: int, done: int, enabled: bool) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("acc {task.fields[acc]}"), TextColumn("{task.fields[tps]} tok/s"),
                                 TimeElapsedColumn(), TimeRemainingColumn(), disable=not enabled, transient=False)
        self.task_id = self.progress.add_task(label, total=total, completed=done, acc="-", tps="-")

    def __enter__(self) -> LiveProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def update(self, stats: RunStats) -> None:
        tps = stats.completion_tokens / stats.elapsed_s if stats.elapsed_s else 0.0
        self.progress.update(self.task_id, completed=stats.done_before + stats.done_now,
                             acc=f"{100 * stats.accuracy:.1f}%", tps=f"{tps:,.0f}")


def run_job(cfg: DictConfig) -> dict[str, Any]:
    from reports.summary import write_reports

    validate(cfg)
    if cfg.action == "doctor":  # the server checks only: no store is read or written
        suite_cfg = OmegaConf.to_container(cfg.suite, resolve=True)
        suite_cfg.pop("models", None)
        doctor.run_action(cfg, build_task(cfg, suite_cfg))
        return {}
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    store = RunStore(run_dir)
    if cfg.action == "report":
        from runners.suite_report import fill_missing

        save_hydra_files(cfg, run_dir)
        fill_missing([run_dir])  # a store from before suite_metrics.json
        return write_reports([run_dir], run_dir)
    # A damaged store stops here: nothing written, no server started (StoreError names the line).
    store.read_manifest()
    stored = (store.attempts(), store.grades())
    suite_cfg = OmegaConf.to_container(cfg.suite, resolve=True)
    peer_cfgs = suite_cfg.pop("models", None) or {}
    task = build_task(cfg, suite_cfg)
    sending = cfg.action in SENDING_ACTIONS
    python_tool = task.needs_python_tool
    if sending:  # everything that can fail without the model, before a download, a server or a request
        main_api_key(cfg)
        for role, peer in peer_cfgs.items():
            peer_api_key(role, peer)
            peer_effort(role, peer)
        if python_tool and cfg.client.transport != "harmony":
            raise UserError(f"suite {task.name} gives the model the built-in python tool, which only the harmony "
                            f"transport can declare; add client=harmony (configured: {cfg.client.transport})")
        task.preflight()  # e.g. SWE-bench: no Docker engine means no run, not one error per instance
    samples = task.load()
    shard_index, shard_count = shard.shard_of(cfg)
    if shard_count > 1:  # this job's part of the suite; the settings hash is the whole run's
        samples = shard.split(samples, shard_index, shard_count)
    repeats = int(cfg.repeats or task.default_repeats)
    redactor = config_redactor(cfg)
    # Hashed as stored: a secret never decides the hash, so a rotated key resumes the same run.
    settings = redactor.tree(build_settings(cfg, task, peer_cfgs))
    shash = settings_hash(settings)
    if cfg.action == "regrade":
        if not store.attempts_path.exists():
            raise UserError(f"nothing to regrade: {store.attempts_path} does not exist")
        save_hydra_files(cfg, run_dir)
        graded, changed = regrade(task, samples, store)
        log.info("regraded %d attempts in %s (%d scores changed); no request sent", graded, run_dir, changed)
        return finish(task, run_dir)
    store.refuse_other_settings(shash)  # before a server is started for nothing
    retry_errors = cfg.action == "retry-errors"
    if retry_errors:  # an errored attempt is not done: it is sent again and its new line replaces it
        stored = ({k: a for k, a in stored[0].items() if a.status != "error"}, stored[1])

    run_id = f"{cfg.model.name}/{task.name}/{cfg.effort.name}/{shash}"
    spec = RunSpec(run_id=run_id, suite=task.name, model=cfg.model.name, effort=cfg.effort.name,
                   settings_hash=shash, sampling=Sampling(**OmegaConf.to_container(cfg.sampling, resolve=True)),
                   repeats=repeats, seed=int(cfg.seed))  # concurrency: opened()
    manifest = {"run_id": run_id, "suite": task.name, "model": cfg.model.name, "model_path": str(cfg.model.path),
                "card": cfg.model.get("card"), "card_key": task.card_key(),
                "task_class": f"{type(task).__module__}.{type(task).__qualname__}", "effort": cfg.effort.name,
                "transport": cfg.client.transport, "settings_hash": shash, "settings": settings,
                "repeats": repeats, "n_samples": len(samples), "versions": versions(), "hardware": hardware(),
                "config": redactor.tree(OmegaConf.to_container(cfg, resolve=True))}
    if redactor.found:  # e.g. a secret that an interpolation resolved into the config
        log.warning("what looks like a secret (%s) is stored as ***", ", ".join(dict.fromkeys(redactor.found)))
    if shard_count > 1:
        manifest["shard"] = {"index": shard_index, "count": shard_count}
    tool_interpreter = (settings["task"].get("tool_limits") or {}).get("interpreter")
    if tool_interpreter:  # the python tool's interpreter and packages (in the settings too: a change is a new run)
        manifest["versions"]["python_tool"] = tool_interpreter
    job = sweep.PreparedJob(cfg=cfg, task=task, samples=samples, store=store, spec=spec, manifest=manifest,
                            stored=stored, run_dir=run_dir, repeats=repeats, peer_cfgs=peer_cfgs)
    if sweep.collecting():  # a -m sweep: it runs once every job has passed its checks (runners/sweep.py)
        return sweep.collect(job)
    with opened(job) as run:
        with LiveProgress(run.label, run.total, run.done, bool(cfg.progress)) as bar:
            stats = asyncio.run(_run(task, samples, run.client, store, spec, bar, stored))
        run.status = "finished"
    log.info("%s: %d new attempts (%d were stored), %.1f s", run.label, stats.done_now, stats.done_before,
             stats.elapsed_s)
    return finish(task, run_dir)


@dataclass
class OpenedRun:
    """A run whose server is up and manifest begun: its client, progress figures and final status."""

    client: Any
    label: str
    total: int
    done: int
    status: str = "failed"


@contextlib.contextmanager
def opened(job: sweep.PreparedJob) -> Iterator[OpenedRun]:
    """A prepared run's .hydra/ record, server, requests in flight, doctor, manifest and clients; on the way out
    the manifest's end (failed unless the caller set ``status``)."""
    cfg, task, store, manifest, spec = job.cfg, job.task, job.store, job.manifest, job.spec
    save_hydra_files(cfg, job.run_dir)
    with serving.endpoint(cfg, job.run_dir) as ep:
        urls = ep["base_url"]  # several: one client per endpoint behind a balancer
        manifest["server"] = {k: v for k, v in ep.items() if k != "base_url"} | {
            "base_url": urls[0] if len(urls) == 1 else urls}
        if ep.get("server_version"):
            manifest["versions"]["vllm_server"] = ep["server_version"]
        manifest["concurrency"] = capacity.resolve_concurrency(cfg.concurrency, urls, ep.get("server_argv"),
                                                               cfg.server.get("device"))
        spec.concurrency = manifest["concurrency"]["concurrency"]
        if doctor.enabled(cfg):  # before any sampling; a failed check stops the run here
            manifest["doctor"] = doctor.before_run(cfg, task, job.samples, urls, ep.get("server_version"))
        manifest = store.begin(manifest)
        client = BalancedClient.from_urls(
            cfg.client.transport, urls, down_after=int(cfg.client.get("down_after", 3)),
            probe_interval_s=float(cfg.client.get("probe_interval_s", 30.0)), model=cfg.model.served_name,
            max_model_len=cfg.model.max_model_len, timeout_s=float(cfg.client.timeout_s),
            read_timeout_s=_read_timeout(cfg), max_retries=int(cfg.client.max_retries), retry_wait_s=float(cfg.client.retry_wait_s),
            max_connections=max(spec.concurrency, 1), start_date=cfg.server.get("system_start_date") or None,
            stream=bool(cfg.client.get("stream", False)), api_key=main_api_key(cfg),
            **({"python_tool": True} if task.needs_python_tool else {}))
        spec.peers = {role: peer_client(cfg, urls, p, role) for role, p in job.peer_cfgs.items()}
        run = OpenedRun(client, f"{task.name} {cfg.effort.name}", len(job.samples) * job.repeats,
                        sum(1 for a in job.stored[0].values() if a.repeat < job.repeats))
        try:
            yield run
        finally:
            store.end(manifest, run.status, **({"endpoints": client.stats()} if hasattr(client, "stats") else {}))


def _read_timeout(cfg: DictConfig) -> float | None:
    value = cfg.client.get("read_timeout_s")
    return None if value is None else float(value)


def finish(task: Task, run_dir: Path) -> dict[str, Any]:
    """Suite-level scoring that needs every attempt (lm-eval's own metrics), then the run's report."""
    from reports.summary import write_reports
    from runners.suite_report import refresh_suite_metrics

    task.finalize(run_dir)
    refresh_suite_metrics(run_dir, type(task))  # the suite's own tables, as data the report renders
    return write_reports([run_dir], run_dir)


def main_api_key(cfg: DictConfig) -> str:
    """The served model's API key (an attached server behind auth): from ``server.api_key_env``, else none."""
    try:
        return key_from_env(cfg.server.get("api_key_env"), "server.api_key_env", "the model server")
    except MissingKey as exc:
        raise UserError(str(exc)) from None


def peer_api_key(role: str, peer: dict[str, Any], server_key: str = "EMPTY") -> str:
    """A peer's API key: the value of the environment variable its ``api_key_env`` names (UserError if unset).

    A peer on the agent's own server (no base_url, no api_key_env) uses the server's key."""
    if peer.get("api_key") not in (None, "", "EMPTY"):
        raise UserError(literal_key_message(f"suite.models.{role}.api_key"))
    name = peer.get("api_key_env")
    if not name:
        return server_key if not peer.get("base_url") else "EMPTY"
    try:
        return key_from_env(str(name), f"suite.models.{role}.api_key_env", peer.get("base_url"))
    except MissingKey as exc:
        raise UserError(str(exc)) from None


def peer_effort(role: str, peer: dict[str, Any]) -> str | None:
    """A peer's reasoning effort; null (e.g. a simulator that is not a reasoning model) sends none."""
    if "effort" not in peer:
        return "low"
    effort = peer["effort"]
    if effort is None and (peer.get("transport") or "chat") == "harmony":
        raise UserError(f"suite.models.{role}.effort=null needs transport chat or responses (harmony prompts "
                        f"always carry an effort)")
    return effort


def peer_client(cfg: DictConfig, base_url: str | list[str], peer: dict[str, Any], role: str = "peer"
                ) -> tuple[Any, str | None, Sampling]:
    """A second model of the episode (e.g. a user simulator): by default the same server(s) and model."""
    client = BalancedClient.from_urls(peer.get("transport") or "chat",
                                      serving.base_urls(peer.get("base_url") or base_url),
                         model=peer.get("model") or cfg.model.served_name, max_model_len=cfg.model.max_model_len,
                         timeout_s=float(cfg.client.timeout_s), read_timeout_s=_read_timeout(cfg),
                         max_retries=int(cfg.client.max_retries),
                         retry_wait_s=float(cfg.client.retry_wait_s),
                         api_key=peer_api_key(role, peer, main_api_key(cfg)))
    sampling = Sampling(temperature=float(peer.get("temperature", 1.0)), top_p=float(peer.get("top_p", 1.0)),
                        max_tokens=peer.get("max_tokens"))
    return client, peer_effort(role, peer), sampling


async def _run(task: Task, samples: list, client: Any, store: RunStore, spec: RunSpec, bar: LiveProgress,
               stored: tuple[dict, dict] | None = None) -> RunStats:
    try:
        return await run_attempts(task, samples, client, store, spec, on_progress=bar.update, stored=stored)
    finally:
        await client.aclose()
        for peer, _, _ in spec.peers.values():
            await peer.aclose()


@hydra.main(version_base="1.3", config_path="pkg://conf", config_name="config")
def app(cfg: DictConfig) -> None:
    register_resolvers()  # again: a cluster launcher (submitit) runs this function in a fresh process
    started = time.time()
    secret_filter = RedactingFilter(config_redactor(cfg))  # no log line carries a secret's value
    for handler in logging.getLogger().handlers:
        handler.addFilter(secret_filter)
    try:
        with sigterm_as_exit():
            paths = run_job(cfg)
    except (UserError, TaskError, StoreError, ServerStartError, doctor.DoctorFailed) as exc:
        print(f"gptoss-eval: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except InterpolationResolutionError as exc:  # e.g. a ${...} on the command line that names nothing
        print(f"gptoss-eval: error: {config_error_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except ServerUnavailable as exc:
        print(f"gptoss-eval: error: the model server stopped answering: {exc}. Every finished attempt is "
              f"stored; rerun the same command to resume.", file=sys.stderr)
        sys.exit(3)
    except RequestRejected as exc:
        print(f"gptoss-eval: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        print(f"gptoss-eval: error: cannot write the run ({exc.strerror}: {exc.filename or cfg.paths.root}). "
              f"Every attempt written before is intact; free space and rerun the same command to resume.",
              file=sys.stderr)
        sys.exit(4)
    log.info("report: %s (%.0f s)", paths.get("markdown"), time.time() - started)


def main() -> None:
    register_resolvers()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request drowns the progress bar
    if doctor.requested(sys.argv[1:]):  # probes only: no run directory, no Hydra files, one job
        sys.argv = [a for a in sys.argv if a not in ("-m", "--multirun")] + doctor.HYDRA_QUIET
    if os.environ.get("HYDRA_FULL_ERROR"):  # the user asked for Hydra's own reports with full tracebacks
        app()
        return
    # Hydra prints config errors over several lines (and exits 1); this lets them reach us to print as one.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        app()
    except UserError as exc:  # e.g. from a sweep callback, outside the job
        print(f"gptoss-eval: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (HydraException, InterpolationResolutionError) as exc:
        print(f"gptoss-eval: error: {config_error_line(exc)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
