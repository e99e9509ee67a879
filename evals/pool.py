"""One pool of requests for the runs of a sweep that share a server: the batch stays full to the sweep's end.

Run one after another, each run ends with its last long attempts draining while the server's batch empties.
Pooled, every run's attempts wait for the same ``capacity`` slots; a freed slot goes to the run with the longest
expected work (higher effort first), so long attempts start early and the short ones fill the tail. Each run keeps
its own store, manifest and resume: ``run_pool`` is ``run_attempts`` per run, only the slots are shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from evals.engine import RunStats, run_attempts

EFFORT_RANK = {"high": 3, "medium": 2, "low": 1}


class PriorityGate:
    """``capacity`` slots; a freed slot goes to the waiting holder with the highest priority (FIFO among equals)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a pool needs at least one slot (got {capacity})")
        self.capacity = capacity
        self.busy = 0
        self.peak = 0
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def handle(self, priority: float) -> _Handle:
        return _Handle(self, priority)

    async def acquire(self, priority: float) -> None:
        if self.busy < self.capacity and not self._waiting:
            self._take()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-priority, next(self._order), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # the slot was handed over as we were cancelled: give it back
                self.release()
            raise

    def _take(self) -> None:
        self.busy += 1
        self.peak = max(self.peak, self.busy)

    def release(self) -> None:
        self.busy -= 1
        if self._waiting:
            # handed over on the next turn of the loop: the releasing run, if it has more work, queues first, so
            # the slot goes to the highest priority of everyone who wants one
            asyncio.get_running_loop().call_soon(self._wake)

    def _wake(self) -> None:
        while self._waiting and self.busy < self.capacity:
            _, _, fut = heapq.heappop(self._waiting)
            if not fut.done():
                self._take()
                fut.set_result(None)


class _Handle:
    """One run's view of the gate: its attempts wait with the run's priority."""

    def __init__(self, gate: PriorityGate, priority: float) -> None:
        self.gate, self.priority = gate, priority

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.gate.acquire(self.priority)
        try:
            yield
        finally:
            self.gate.release()


@dataclass
class PooledRun:
    """The arguments of one ``run_attempts`` call, and how long its attempts are expected to take."""

    task: Any
    samples: list[Any]
    client: Any
    store: Any
    spec: Any
    priority: float | None = None  # None: by effort (high first)
    on_progress: Any = None
    stored: Any = None

    @property
    def rank(self) -> float:
        return self.priority if self.priority is not None else float(EFFORT_RANK.get(self.spec.effort, 0))


async def run_pool(runs: list[PooledRun], capacity: int) -> list[RunStats | BaseException]:
    """Every run at once, at most ``capacity`` attempts in flight across them; one result per run, in order.

    A run that fails (its server gone, a task bug) returns its exception; the others go on.
    """
    gate = PriorityGate(capacity)

    async def one(run: PooledRun) -> RunStats:
        run.spec.concurrency = capacity  # the gate bounds the sweep; each run may use every slot
        return await run_attempts(run.task, run.samples, run.client, run.store, run.spec, run.on_progress,
                                  run.stored, gate=gate.handle(run.rank))

    # started longest-expected first, so the first slots go to them too (later ones: by the gate's priority)
    order = sorted(range(len(runs)), key=lambda i: -runs[i].rank)
    started = {i: asyncio.ensure_future(one(runs[i])) for i in order}
    results = await asyncio.gather(*(started[i] for i in range(len(runs))), return_exceptions=True)
    run_pool.last_peak = gate.peak  # type: ignore[attr-defined]
    return list(results)
