"""Hydra callback that runs a ``-m`` sweep on one server: every job's checks first, then one server, then the jobs
(pooled by default), then the sweep's report.

The jobs Hydra launches prepare themselves and hand over (``runners.sweep``); a job that fails its checks stops
the sweep with its one line before any server starts. Then the server(s) start once for the whole sweep (effort is
per request: weights are never reloaded per job) and the jobs run: with ``sweep.pool=true`` all at once on one
pool of requests (``evals.pool``: a freed slot goes to the highest effort waiting), else one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from runners import serving, sweep

log = logging.getLogger(__name__)


class SweepFailed(Exception):
    """A job of the sweep stopped; ``code`` is the exit status its single run would have had."""

    def __init__(self, line: str, code: int) -> None:
        super().__init__(line)
        self.code = code


class SharedServer(Callback):
    def __init__(self) -> None:
        self._collecting = False
        self._jobs_started = 0
        self._jobs_prepared = 0

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """One run: the server's environment is checked before the job reads data or writes anything."""
        from runners.cli import UserError, register_resolvers, validate

        register_resolvers()
        if config.get("action", "run") in ("regrade", "report") or config.server.mode != "spawn":
            return
        try:
            validate(config)
        except UserError:  # the job refuses its config with its own line
            return
        try:
            serving.replica_configs(config, Path(config.hydra.run.dir))[0].check_environment()
        except serving.ServerStartError as exc:  # e.g. no GPU, another vLLM than pinned (Hydra would only warn)
            print(f"gptoss-eval: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from runners.cli import UserError, register_resolvers, validate

        register_resolvers()
        if config.get("action", "run") not in ("run", "retry-errors"):
            return
        try:
            validate(config)
        except UserError:  # the jobs refuse their config with one line each; no server for them
            return
        if config.server.mode == "spawn":
            try:  # e.g. no GPU, another vLLM than pinned: one line, no job runs
                serving.replica_configs(config, Path(config.hydra.sweep.dir))[0].check_environment()
            except serving.ServerStartError as exc:  # Hydra turns a callback's exceptions into warnings: exit here
                print(f"gptoss-eval: error: {exc}", file=sys.stderr)
                raise SystemExit(2) from None
        sweep.begin_collecting()
        self._collecting = True

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._jobs_started += 1

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if job_return.status == JobStatus.COMPLETED:
            self._jobs_prepared += 1

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        failed: SweepFailed | None = None
        if self._collecting:
            self._collecting = False
            jobs = sweep.take()
            if self._jobs_prepared < self._jobs_started:  # a job stopped on its checks: nothing runs
                return
            try:
                run_jobs(config, jobs)
            except SweepFailed as exc:  # the jobs that finished still get the sweep's report
                failed = exc
        self._write_report(config)
        if failed is not None:  # Hydra turns a callback's exceptions into warnings: exit here
            print(f"gptoss-eval: error: {failed}", file=sys.stderr)
            raise SystemExit(failed.code)

    def _write_report(self, config: DictConfig) -> None:
        from reports.html import write_full_report

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            paths = write_full_report([sweep_dir], sweep_dir)  # Markdown, CSV, HTML and plots
            log.info("sweep report: %s and %s", paths["markdown"], paths["html"])
        except Exception as exc:  # the per-run reports are already written; say why the combined one is not
            log.error("could not write the sweep report: %s", exc)


def run_jobs(config: DictConfig, jobs: list[sweep.PreparedJob]) -> None:
    """Start the sweep's server(s) (server=spawn), run the prepared jobs pooled or one at a time, stop them."""
    from runners.vllm_server import sigterm_as_exit

    if not jobs:
        return
    pooled = bool((config.get("sweep") or {}).get("pool", True))
    with sigterm_as_exit(), contextlib.ExitStack() as servers:
        if config.server.mode == "spawn":
            models = {str(job.cfg.model.path) for job in jobs}
            if len(models) > 1:
                raise SweepFailed("a -m sweep shares its servers and cannot sweep model; run one sweep per model", 2)
            sweep_dir = Path(config.hydra.sweep.dir)
            log.info("every job passed its checks; starting the sweep's vLLM server(s) (log: %s)",
                     sweep_dir / "server*.log")
            try:
                started = servers.enter_context(serving.started(serving.replica_configs(config, sweep_dir)))
            except serving.ServerStartError as exc:
                raise SweepFailed(str(exc), 2) from None
            serving.set_shared(started, models.pop())
            servers.callback(serving.set_shared, None)
        if pooled:
            _run_pooled(config, jobs)
        else:
            for job in jobs:
                _run_alone(job)


def _job_context(job: sweep.PreparedJob) -> None:
    """Make ``job`` the current Hydra job again: its config (for its .hydra/ record) and its log file."""
    from evals.secrets import RedactingFilter
    from runners.cli import config_redactor

    if job.hydra_cfg is None:
        return
    HydraConfig.instance().cfg = job.hydra_cfg
    configure_log(job.hydra_cfg.hydra.job_logging, job.hydra_cfg.hydra.verbose)
    secret_filter = RedactingFilter(config_redactor(job.cfg))  # no log line carries a secret's value
    for handler in logging.getLogger().handlers:
        handler.addFilter(secret_filter)


def _run_alone(job: sweep.PreparedJob) -> None:
    """``sweep.pool=false``: the job exactly as a single run would go, on the sweep's server."""
    from runners import cli

    _job_context(job)
    with _as_sweep_failure():
        with cli.opened(job) as run:
            with cli.LiveProgress(run.label, run.total, run.done, bool(job.cfg.progress)) as bar:
                stats = asyncio.run(cli._run(job.task, job.samples, run.client, job.store, job.spec, bar,
                                             job.stored))
            run.status = "finished"
        log.info("%s: %d new attempts (%d were stored), %.1f s", run.label, stats.done_now, stats.done_before,
                 stats.elapsed_s)
        paths = cli.finish(job.task, job.run_dir)
    log.info("report: %s", paths.get("markdown"))


def _run_pooled(config: DictConfig, jobs: list[sweep.PreparedJob]) -> None:
    """Every job at once on one pool of requests, as many in flight as the largest job's concurrency (they share
    one server); each job's store, manifest end and report as if it ran alone."""
    from evals.pool import EFFORT_RANK, PooledRun
    from runners import cli

    opened: list[Any] = []
    with contextlib.ExitStack() as stack:
        for job in jobs:  # each job's record, doctor and manifest, in launch order
            _job_context(job)
            with _as_sweep_failure():
                opened.append(stack.enter_context(cli.opened(job)))
        capacity = max(job.spec.concurrency for job in jobs)
        configure_log(config.hydra.hydra_logging, config.hydra.verbose)  # the pool's lines: the console
        _add_secret_filters(jobs)
        progress = _SweepProgress([r.label for r in opened], [r.total for r in opened], [r.done for r in opened],
                                  all(bool(job.cfg.progress) for job in jobs))
        runs = []
        for i, (job, run) in enumerate(zip(jobs, opened, strict=True)):
            todo = run.total - run.done
            # higher effort first; among equals the job with more attempts left (its tail is the longest)
            rank = EFFORT_RANK.get(job.spec.effort, 0) + todo / (10 * (todo + 1))
            runs.append(PooledRun(job.task, job.samples, run.client, job.store, job.spec, priority=rank,
                                  on_progress=progress.hook(i), stored=job.stored))
        log.info("running the sweep's %d jobs at once on one pool of %d requests in flight", len(jobs), capacity)
        with progress:
            results = asyncio.run(_pool(runs, capacity, jobs))
        failures = []
        for job, run, result in zip(jobs, opened, results, strict=True):
            if isinstance(result, BaseException):
                failures.append((job, result))
            else:
                run.status = "finished"
                log.info("%s: %d new attempts (%d were stored), %.1f s", run.label, result.done_now,
                         result.done_before, result.elapsed_s)
    for job, run in zip(jobs, opened, strict=True):  # reports of the jobs that finished, each in its own log
        if run.status == "finished":
            _job_context(job)
            paths = cli.finish(job.task, job.run_dir)
            log.info("report: %s", paths.get("markdown"))
    if failures:
        job, exc = failures[0]
        for other, err in failures[1:]:
            log.error("%s %s also stopped: %s", other.task.name, other.cfg.effort.name, err)
        with _as_sweep_failure():
            raise exc


async def _pool(runs: list[Any], capacity: int, jobs: list[sweep.PreparedJob]) -> list[Any]:
    from evals.pool import run_pool

    try:
        return await run_pool(runs, capacity)
    finally:
        for run, job in zip(runs, jobs, strict=True):
            await run.client.aclose()
            for peer, _, _ in job.spec.peers.values():
                await peer.aclose()


def _add_secret_filters(jobs: list[sweep.PreparedJob]) -> None:
    from evals.secrets import RedactingFilter
    from runners.cli import config_redactor

    for job in jobs:
        secret_filter = RedactingFilter(config_redactor(job.cfg))
        for handler in logging.getLogger().handlers:
            handler.addFilter(secret_filter)


@contextlib.contextmanager
def _as_sweep_failure() -> Any:
    """The errors a single run turns into one line and an exit status (``runners.errors.run_error``), as
    ``SweepFailed``; anything else (a bug) keeps its traceback."""
    from runners.errors import run_error

    try:
        yield
    except Exception as exc:
        stop = run_error(exc)
        if stop is None:
            raise
        raise SweepFailed(*stop) from None


class _SweepProgress:
    """One progress bar per job of a pooled sweep, in one live display."""

    def __init__(self, labels: list[str], totals: list[int], done: list[int], enabled: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("acc {task.fields[acc]}"), TextColumn("{task.fields[tps]} tok/s"),
                                 TimeElapsedColumn(), disable=not enabled, transient=False)
        self.ids = [self.progress.add_task(label, total=total, completed=d, acc="-", tps="-")
                    for label, total, d in zip(labels, totals, done, strict=True)]

    def __enter__(self) -> _SweepProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def hook(self, index: int) -> Any:
        def update(stats: Any) -> None:
            tps = stats.completion_tokens / stats.elapsed_s if stats.elapsed_s else 0.0
            self.progress.update(self.ids[index], completed=stats.done_before + stats.done_now,
                                 acc=f"{100 * stats.accuracy:.1f}%", tps=f"{tps:,.0f}")
        return update
