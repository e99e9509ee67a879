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
from hydra.errors import HydraException, InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from evals.balancer import BalancedClient
from evals.clients import Sampling
from evals.engine import RunSpec, RunStats, run_attempts, settings_hash
from evals.secrets import RedactingFilter
from evals.store import RunStore
from evals.task import Task, TaskError
from runners import capacity, doctor, serving, shard, sweep
from runners.config_rules import SENDING_ACTIONS, validate
from runners.errors import PREFIX, UserError, config_error_line, run_error
from runners.manifest import build_manifest, build_settings
from runners.manifest import hardware as hardware  # re-exported: where tests and older callers look
from runners.peers import check_before_sending, main_api_key, peer_client, read_timeout
from runners.peers import peer_api_key as peer_api_key  # re-exported, as above
from runners.peers import peer_effort as peer_effort  # re-exported, as above
from runners.progress import LiveProgress
from runners.redaction import config_redactor, save_hydra_files
from runners.regrade import check_regradable, finish, regrade_run, report_run
from runners.vllm_server import sigterm_as_exit

log = logging.getLogger("gptoss_eval")


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("tiny_model_path"):
        def tiny_model_path(recipe: str = "") -> str:
            from runners.tiny_model.paths import cached_checkpoint

            return str(cached_checkpoint(recipe or "aime"))

        OmegaConf.register_new_resolver("tiny_model_path", tiny_model_path)
    if not OmegaConf.has_resolver("repo_file"):
        # files shipped beside the packages (the tiny model's fixture problems)
        OmegaConf.register_new_resolver("repo_file", lambda rel: str(Path(__file__).resolve().parents[1] / rel))


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


def run_job(cfg: DictConfig) -> dict[str, Any]:
    validate(cfg)
    if cfg.action == "doctor":  # the server checks only: no store is read or written
        suite_cfg = OmegaConf.to_container(cfg.suite, resolve=True)
        suite_cfg.pop("models", None)
        doctor.run_action(cfg, build_task(cfg, suite_cfg))
        return {}
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    store = RunStore(run_dir)
    if cfg.action == "report":
        save_hydra_files(cfg, run_dir)
        return report_run(run_dir)
    # A damaged store stops here: nothing written, no server started (StoreError names the line).
    store.read_manifest()
    stored = (store.attempts(), store.grades())
    suite_cfg = OmegaConf.to_container(cfg.suite, resolve=True)
    peer_cfgs = suite_cfg.pop("models", None) or {}
    task = build_task(cfg, suite_cfg)
    if cfg.action in SENDING_ACTIONS:  # what can fail without the model, before a download, server or request
        check_before_sending(cfg, task, peer_cfgs)
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
        check_regradable(store)
        save_hydra_files(cfg, run_dir)
        return regrade_run(task, samples, store)
    store.refuse_other_settings(shash)  # before a server is started for nothing
    retry_errors = cfg.action == "retry-errors"
    if retry_errors:  # an errored attempt is not done: it is sent again and its new line replaces it
        stored = ({k: a for k, a in stored[0].items() if a.status != "error"}, stored[1])

    run_id = f"{cfg.model.name}/{task.name}/{cfg.effort.name}/{shash}"
    spec = RunSpec(run_id=run_id, suite=task.name, model=cfg.model.name, effort=cfg.effort.name,
                   settings_hash=shash, sampling=Sampling(**OmegaConf.to_container(cfg.sampling, resolve=True)),
                   repeats=repeats, seed=int(cfg.seed))  # concurrency: opened()
    manifest = build_manifest(cfg, task, run_id=run_id, settings=settings, settings_hash=shash, repeats=repeats,
                              n_samples=len(samples), redactor=redactor, shard=(shard_index, shard_count))
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
            read_timeout_s=read_timeout(cfg), max_retries=int(cfg.client.max_retries), retry_wait_s=float(cfg.client.retry_wait_s),
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
    except Exception as exc:
        stop = run_error(exc, str(cfg.paths.root))  # (one line, exit status); None: a bug, with its traceback
        if stop is None:
            raise
        print(f"{PREFIX}{stop[0]}", file=sys.stderr)
        sys.exit(stop[1])
    if paths:  # none: the doctor, or a sweep's job that runs later with the others (runners/sweep.py)
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
        print(f"{PREFIX}{exc}", file=sys.stderr)
        sys.exit(2)
    except (HydraException, InterpolationResolutionError) as exc:
        print(f"{PREFIX}{config_error_line(exc)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
