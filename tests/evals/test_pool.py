"""The sweep pool: runs sharing a server share its slots (bound), longest work first (order), each run keeps its
own store, and a run stopped mid-way resumes from its own store."""

from __future__ import annotations

import asyncio
import json

from evals.clients import Sampling, ServerUnavailable
from evals.engine import RunSpec
from evals.pool import PooledRun, PriorityGate, run_pool
from evals.store import RunStore
from evals.types import ModelOutput, Usage
from tasks.aime import AimeTask
from tests.conftest import FIXTURES

MINI = str(FIXTURES / "mini_aime.jsonl")


class FakeServer:
    """An in-process model: counts requests in flight (across every run) and logs who started when."""

    def __init__(self, hold_s: dict[str, float], fail_after: dict[str, int] | None = None) -> None:
        self.hold_s, self.fail_after = hold_s, fail_after or {}
        self.in_flight = self.peak = 0
        self.started: list[str] = []

    def client(self, effort: str) -> FakeClient:
        return FakeClient(self, effort)


class FakeClient:
    transport = "chat"

    def __init__(self, server: FakeServer, effort: str) -> None:
        self.server, self.effort = server, effort

    async def generate(self, messages, *, effort, sampling, seed=None, tools=None) -> ModelOutput:
        srv = self.server
        if srv.started.count(effort) >= srv.fail_after.get(effort, 10**9):
            raise ServerUnavailable("gone")
        srv.started.append(effort)
        srv.in_flight += 1
        srv.peak = max(srv.peak, srv.in_flight)
        await asyncio.sleep(srv.hold_s[effort])
        srv.in_flight -= 1
        return ModelOutput(analysis="x", final="\\boxed{1}", finish_reason="stop",
                           usage=Usage(prompt_tokens=1, completion_tokens=1))


def runs(server: FakeServer, root, efforts=("low", "medium", "high"), repeats=4) -> list[PooledRun]:
    task = AimeTask("aime2025", 2025, path=MINI)
    out = []
    for effort in efforts:
        spec = RunSpec(run_id=f"r-{effort}", suite="aime2025", model="m", effort=effort, settings_hash=effort,
                       sampling=Sampling(), repeats=repeats)
        out.append(PooledRun(task, task.load(), server.client(effort), RunStore(root / effort), spec))
    return out


def keys(path) -> list[str]:
    return [json.loads(line)["key"] for line in (path / "attempts.jsonl").read_text().splitlines()]


def test_the_pool_never_exceeds_its_slots_and_fills_them(tmp_path) -> None:
    server = FakeServer({"low": 0.01, "medium": 0.02, "high": 0.03})
    results = asyncio.run(run_pool(runs(server, tmp_path), capacity=5))
    assert all(r.done_now == r.total for r in results)
    assert server.peak == 5  # full, never more, across the three runs


def test_higher_effort_starts_first_whatever_the_order_given(tmp_path) -> None:
    server = FakeServer({"low": 0.01, "medium": 0.01, "high": 0.01})
    asyncio.run(run_pool(runs(server, tmp_path, efforts=("low", "medium", "high")), capacity=2))
    n = len(AimeTask("aime2025", 2025, path=MINI).load()) * 4
    assert server.started == ["high"] * n + ["medium"] * n + ["low"] * n


def test_each_run_has_its_own_store_and_a_stopped_run_resumes_from_it(tmp_path) -> None:
    n = len(AimeTask("aime2025", 2025, path=MINI).load()) * 4
    server = FakeServer({"low": 0.001, "medium": 0.001, "high": 0.001}, fail_after={"medium": 3})
    first = asyncio.run(run_pool(runs(server, tmp_path), capacity=4))
    assert isinstance(first[1], ServerUnavailable)  # the medium run stops; the others finish
    assert first[0].done_now == n and first[2].done_now == n
    stored = keys(tmp_path / "medium")
    assert 0 < len(stored) <= 3 and len(set(stored)) == len(stored)
    for effort in ("low", "high"):
        assert sorted(keys(tmp_path / effort)) == sorted(set(keys(tmp_path / effort))) and len(keys(tmp_path / effort)) == n
        assert {json.loads(line)["effort"] for line in (tmp_path / effort / "attempts.jsonl").open()} == {effort}
    again = FakeServer({"low": 0.001, "medium": 0.001, "high": 0.001})
    second = asyncio.run(run_pool(runs(again, tmp_path), capacity=4))
    assert again.started == ["medium"] * (n - len(stored))  # only the missing attempts are sent
    assert second[1].done_before == len(stored) and second[1].done_now == n - len(stored)
    assert sorted(keys(tmp_path / "medium")) == sorted(set(keys(tmp_path / "medium"))) and len(keys(tmp_path / "medium")) == n


def test_gate_hands_a_freed_slot_to_the_highest_priority_waiter() -> None:
    async def go() -> list[str]:
        gate, order = PriorityGate(1), []
        await gate.acquire(0)

        async def wait(name: str, priority: float) -> None:
            await gate.acquire(priority)
            order.append(name)
            gate.release()

        waiters = [asyncio.ensure_future(wait(n, p)) for n, p in (("low", 1), ("high", 3), ("mid", 2), ("high2", 3))]
        await asyncio.sleep(0)
        gate.release()
        await asyncio.gather(*waiters)
        return order

    assert asyncio.run(go()) == ["high", "high2", "mid", "low"]
