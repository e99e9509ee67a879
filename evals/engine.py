"""The engine: samples x repeats through a task and a model client, each attempt stored as it finishes.

Rerunning with the same store resumes: finished attempts are skipped without a request. Connection
failures are retried by the client; if the server stays down the run stops with a clear error and
everything finished so far is on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from evals.clients import ModelClient, RequestFailed, RequestRejected, Sampling, ServerUnavailable
from evals.store import RunStore
from evals.task import Episode, ModelSession, Task
from evals.types import Attempt, Grade, ModelOutput, Sample, Status, Usage, attempt_key


def derive_seed(base_seed: int, sample_id: str, repeat: int) -> int:
    """A distinct, reproducible seed per sample x repeat (lm-eval sends one seed to every repeat)."""
    digest = hashlib.sha256(f"{base_seed}:{sample_id}:{repeat}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def episode_status(episode: Episode) -> tuple[Status, str | None]:
    if episode.status is not None:
        return episode.status, episode.error
    out = episode.output
    if out.truncated:
        return "truncated", "hit the token limit before a final answer (finish_reason=length)"
    if out.parse_error:
        return "malformed", out.parse_error
    if out.final is None and not out.tool_calls:
        return "malformed", f"no final-channel message (finish_reason={out.finish_reason})"
    return "ok", None


def grade_attempt(task: Task, sample: Sample, attempt: Attempt) -> Grade:
    """Grade one stored attempt; attempts without a usable answer score 0 with their status as reason."""
    if attempt.status != "ok":
        return Grade(key=attempt.key, score=0.0, reason=f"{attempt.status}: {attempt.error or ''}".strip(": "))
    try:
        return task.grade(sample, attempt)
    except Exception as exc:  # a grader bug must not lose the run; the reason says what broke
        return Grade(key=attempt.key, score=0.0, reason=f"grader error: {type(exc).__name__}: {exc}")


def output_dict(out: ModelOutput) -> dict[str, Any]:
    """``out.to_dict()`` without ad-hoc attributes its class does not declare (a task's subclass may add fields)."""
    declared = type(out).__dataclass_fields__
    return {k: v for k, v in out.to_dict().items() if k in declared}


def attempt_timing(calls: list[ModelOutput]) -> dict[str, Any] | None:
    """Streaming timings of an episode, or None when no call was streamed.

    ``ttft_s``: the first call's; ``tpot_s``: decode time over output tokens after the first, summed over the
    calls; ``itl_p50_s``: median of the calls' medians; ``itl_p95_s``: the worst call's p95 (one call, the
    usual case: exactly that call's figures).
    """
    timed = [(c, t) for c in calls if (t := getattr(c, "timing", None))]
    if not timed:
        return None
    decode_s = decode_tokens = 0.0
    for c, t in timed:
        if t.get("tpot_s") is not None and c.usage.completion_tokens > 1:
            decode_s += t["tpot_s"] * (c.usage.completion_tokens - 1)
            decode_tokens += c.usage.completion_tokens - 1
    p50s = sorted(t["itl_p50_s"] for _, t in timed if t.get("itl_p50_s") is not None)
    p95s = [t["itl_p95_s"] for _, t in timed if t.get("itl_p95_s") is not None]
    return {"ttft_s": timed[0][1].get("ttft_s"), "tpot_s": decode_s / decode_tokens if decode_tokens else None,
            "itl_p50_s": p50s[len(p50s) // 2] if p50s else None, "itl_p95_s": max(p95s) if p95s else None,
            "streamed_calls": len(timed)}


def with_timing(info: dict[str, Any], calls: list[ModelOutput]) -> dict[str, Any]:
    """The episode's info with the streaming ``timing`` of its calls added (unchanged when none was streamed)."""
    timing = attempt_timing(calls)
    if timing is None:
        return info
    return {**info, "timing": timing}


async def run_episode(solve: Callable[[ModelSession], Awaitable[Episode]], session: ModelSession, *,
                      sample_id: str, repeat: int, run_id: str, suite: str, model: str, transport: str,
                      settings_hash: str) -> Attempt:
    """One episode through ``solve`` turned into the attempt the store keeps: the one place that does it (the
    engine and the lm-eval bridge), so both record the same statuses (ok, truncated, malformed, error).

    A request the server refused, or answered unreadably on every try, is an ``error`` attempt; a server that
    stays down (:class:`ServerUnavailable`) propagates and stops the run.
    """
    t0 = time.time()
    try:
        episode = await solve(session)
        status, error = episode_status(episode)
    except RequestRejected as exc:
        episode = Episode(transcript=[], output=session.calls[-1] if session.calls else ModelOutput())
        status, error = "error", f"request rejected: {exc}"
    except RequestFailed as exc:  # unreadable replies on every try from a healthy server
        episode = Episode(transcript=[], output=session.calls[-1] if session.calls else ModelOutput())
        status, error = "error", f"request failed: {exc}"
    usage = Usage()
    for call in session.calls:
        usage.add(call.usage)
    attempt = Attempt(
        key=attempt_key(sample_id, repeat), run_id=run_id, suite=suite, sample_id=sample_id,
        repeat=repeat, seed=session.seed, effort=session.effort, model=model, transport=transport,
        settings_hash=settings_hash, status=status, output=output_dict(episode.output),
        transcript=episode.transcript, usage=usage.__dict__.copy(), n_calls=len(session.calls),
        started_at=t0, ended_at=time.time(), latency_s=sum(c.latency_s for c in session.calls),
        ttft_s=session.calls[0].ttft_s if session.calls else None, error=error,
        info=with_timing(episode.info, session.calls))
    for role, peer in session.peers.items():  # the agent's usage stays the agent's; peers are reported apart
        peer_usage = Usage()
        for call in peer.calls:
            peer_usage.add(call.usage)
        attempt.info.setdefault("peer_usage", {})[role] = peer_usage.__dict__.copy()
    return attempt


@dataclass
class RunSpec:
    run_id: str
    suite: str
    model: str
    effort: str
    settings_hash: str
    sampling: Sampling
    repeats: int
    concurrency: int = 64
    seed: int = 0
    # Other models an episode talks to (role -> (client, effort, sampling)), e.g. a user simulator.
    peers: dict[str, tuple[ModelClient, str, Sampling]] = field(default_factory=dict)


@dataclass
class RunStats:
    done_before: int = 0
    done_now: int = 0
    total: int = 0
    score_sum: float = 0.0
    graded: int = 0
    completion_tokens: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.score_sum / self.graded if self.graded else 0.0


ProgressHook = Callable[[RunStats], None]


async def run_attempts(task: Task, samples: list[Sample], client: ModelClient, store: RunStore, spec: RunSpec,
                       on_progress: ProgressHook | None = None,
                       stored: tuple[dict[str, Attempt], dict[str, Grade]] | None = None,
                       gate: Any = None) -> RunStats:
    """Generate and grade every missing sample x repeat of ``spec``; append each to ``store`` at once.

    ``stored``: the store's attempts and grades when the caller has read them already. ``gate``: slots shared
    with other runs on the same server (``evals.pool``); each attempt holds one while it runs.
    """
    done, grades = stored if stored is not None else (store.attempts(), store.grades())
    stats = RunStats(total=len(samples) * spec.repeats)
    by_id = {s.id: s for s in samples}
    regraded: list[Grade] = []
    for key, att in done.items():
        if att.repeat < spec.repeats and att.sample_id in by_id and _stale_grade(att, grades.get(key)):
            # the attempt's line was written but not its grade (a crash between the two, e.g. while an errored
            # attempt was being retried): grade it now, no request
            grades[key] = grade_attempt(task, by_id[att.sample_id], att)
            regraded.append(grades[key])
        if att.repeat < spec.repeats:
            stats.done_before += 1
            g = grades.get(key)
            if g is not None and g.score is not None:
                stats.graded += 1
                stats.score_sum += g.score
    todo = [(s, r) for r in range(spec.repeats) for s in samples if attempt_key(s.id, r) not in done]
    queue: asyncio.Queue[tuple[Sample, int]] = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    store.open_for_append()
    for grade in regraded:
        store.append_grade(grade)
    grading_slots = asyncio.Semaphore(os.cpu_count() or 1)
    started = time.perf_counter()
    fatal: list[BaseException] = []

    async def one(sample: Sample, repeat: int) -> None:
        seed = derive_seed(spec.seed, sample.id, repeat)
        peers = {role: ModelSession(c, effort=e, sampling=smp, seed=derive_seed(seed, role, repeat))
                 for role, (c, e, smp) in spec.peers.items()}
        session = ModelSession(client, effort=spec.effort, sampling=spec.sampling, seed=seed, peers=peers)
        attempt = await run_episode(lambda s: task.solve(sample, s), session, sample_id=sample.id, repeat=repeat,
                                    run_id=spec.run_id, suite=spec.suite, model=spec.model,
                                    transport=client.transport, settings_hash=spec.settings_hash)
        if task.grade_in_thread:
            # Judging code takes seconds: keep it off the event loop so requests keep flowing.
            async with grading_slots:
                grade = await asyncio.to_thread(grade_attempt, task, sample, attempt)
        else:
            grade = grade_attempt(task, sample, attempt)
        store.append(attempt, grade)
        stats.done_now += 1
        if grade.score is not None:
            stats.graded += 1
            stats.score_sum += grade.score
        stats.completion_tokens += attempt.usage.get("completion_tokens", 0)
        stats.statuses[attempt.status] = stats.statuses.get(attempt.status, 0) + 1
        stats.elapsed_s = time.perf_counter() - started
        if on_progress:
            on_progress(stats)

    async def worker() -> None:
        while not fatal:
            try:
                sample, repeat = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                if gate is None:
                    await one(sample, repeat)
                else:
                    async with gate.slot():
                        await one(sample, repeat)
            except ServerUnavailable as exc:
                fatal.append(exc)
                return
            except Exception as exc:  # a task bug ends the run loudly; finished attempts are already stored
                fatal.append(exc)
                return

    try:
        n = max(1, min(spec.concurrency, len(todo)))
        await asyncio.gather(*(worker() for _ in range(n)))
    finally:
        store.close()
        stats.elapsed_s = time.perf_counter() - started
    if fatal:
        raise fatal[0]
    return stats


def _stale_grade(attempt: Attempt, grade: Grade | None) -> bool:
    """No grade, or the grade of an earlier line of this key (an error's) under a retried attempt."""
    if grade is None:
        return True
    return attempt.status != "error" and (grade.reason or "").startswith("error: ")


def regrade(task: Task, samples: list[Sample], store: RunStore) -> tuple[int, int]:
    """Re-score every stored attempt without generating; returns (graded, changed)."""
    by_id = {s.id: s for s in samples}
    old = store.grades()
    new: list[Grade] = []
    missing = []
    for attempt in store.attempts().values():
        sample = by_id.get(attempt.sample_id)
        if sample is None:
            missing.append(attempt.sample_id)
            continue
        new.append(grade_attempt(task, sample, attempt))
    if missing:
        raise ValueError(f"{len(missing)} stored attempts refer to samples not in the dataset "
                         f"(e.g. {missing[0]!r}); load the same data the run used")
    store.rewrite_grades(new)
    changed = sum(1 for g in new if g.key not in old or old[g.key].score != g.score)
    return len(new), changed


def settings_hash(settings: dict[str, Any]) -> str:
    from evals.harmony import canonical_json

    return hashlib.sha256(canonical_json(settings).encode()).hexdigest()[:16]
