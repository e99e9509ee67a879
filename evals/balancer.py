"""Several endpoints behind one ModelClient: least-outstanding-requests balancing with per-endpoint health.

``BalancedClient`` wraps one client per endpoint (same transport and settings) and is itself a ModelClient,
so tasks and the engine do not know there is more than one server. Each request goes to the healthy
endpoint with the fewest requests in flight (ties: the least used). An endpoint is taken out when

- ``down_after`` connection failures in a row hit it (refused, reset, disconnected: a dead replica), or
- one of its requests spent every retry (``ServerUnavailable``: it stopped answering or kept failing).

Requests waiting out a backoff on an endpoint that goes down wake up at once and, like requests that fail
there, are sent to another endpoint: a replica that dies costs its in-flight requests one more try
elsewhere, never an attempt. A request whose reply stays unreadable while its endpoint is healthy
(``RequestFailed``) is tried once on every other endpoint before it is given up (and recorded as an error).
The run stops (``ServerUnavailable``) only when no endpoint is left. Taken-out endpoints are probed
(``GET /health``) every ``probe_interval_s`` and come back when they answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from evals.clients import ModelClient, RequestFailed, Sampling, ServerUnavailable, make_client
from evals.types import ModelOutput

log = logging.getLogger(__name__)


@dataclass
class Endpoint:
    client: ModelClient
    outstanding: int = 0
    served: int = 0
    failed_over: int = 0  # requests that left this endpoint for another one
    down_since: float | None = None
    events: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.client.base_url

    @property
    def up(self) -> bool:
        return not self.client.health.down


class BalancedClient(ModelClient):
    """A ModelClient over several endpoints (see the module docstring)."""

    def __init__(self, clients: list[ModelClient], *, down_after: int = 3, probe_interval_s: float = 30.0) -> None:
        if not clients:
            raise ValueError("a balancer needs at least one endpoint")
        transports = {c.transport for c in clients}
        if len(transports) != 1:
            raise ValueError(f"every endpoint needs the same transport, got {sorted(transports)}")
        first = clients[0]
        # the attributes other code reads from a client (no session of our own is ever opened)
        self.transport = first.transport
        self.base_url = first.base_url
        self.model = first.model
        self.max_model_len = first.max_model_len
        self.max_retries = first.max_retries
        self.retry_wait_s = first.retry_wait_s
        self.timeout_s = first.timeout_s
        self.stream = first.stream
        self.start_date = first.start_date
        self.max_connections = sum(c.max_connections for c in clients)
        self._http = None
        self.endpoints = [Endpoint(c) for c in clients]
        for c in clients:
            c.health.down_after = down_after
        self.probe_interval_s = probe_interval_s
        self._probing: set[int] = set()

    @classmethod
    def from_urls(cls, transport: str, base_urls: list[str], *, down_after: int = 3,
                  probe_interval_s: float = 30.0, **kwargs: Any) -> ModelClient:
        """One client per URL (one URL: the plain client, no balancer)."""
        clients = [make_client(transport, base_url=u, **kwargs) for u in base_urls]
        if len(clients) == 1:
            return clients[0]
        return cls(clients, down_after=down_after, probe_interval_s=probe_interval_s)

    # -- routing ------------------------------------------------------------------------------------
    def _pick(self, exclude: set[int]) -> Endpoint | None:
        self._probe_down()
        best: Endpoint | None = None
        for i, ep in enumerate(self.endpoints):
            if not ep.up or i in exclude:
                continue
            if best is None or (ep.outstanding, ep.served) < (best.outstanding, best.served):
                best = ep
        return best

    def _take_out(self, ep: Endpoint, reason: str) -> None:
        if ep.up:
            ep.client.health.mark_down(reason)
        if ep.down_since is None:
            ep.down_since = time.monotonic()
            ep.events.append(f"down: {reason}")
            log.warning("endpoint %s taken out: %s (%d left)", ep.url, reason,
                        sum(1 for e in self.endpoints if e.up))

    async def _generate(self, messages, *, effort, sampling, seed, tools):  # pragma: no cover
        # generate() below routes each request to an endpoint's own client; this single-server hook is unused.
        raise AssertionError("BalancedClient.generate routes every request to an endpoint client")

    async def generate(self, messages: list[dict[str, Any]], *, effort: str, sampling: Sampling,
                       seed: int | None = None, tools: list[dict[str, Any]] | None = None) -> ModelOutput:
        started = time.perf_counter()
        failed_here: set[int] = set()  # endpoints where this request's reply stayed unreadable
        last_failure: RequestFailed | None = None
        last_down: ServerUnavailable | None = None
        while True:
            ep = self._pick(failed_here)
            if ep is None:
                if last_failure is not None:
                    raise last_failure
                reasons = "; ".join(f"{e.url}: {e.client.health.reason}" for e in self.endpoints)
                raise ServerUnavailable(f"no endpoint left ({reasons})") from last_down
            ep.outstanding += 1
            try:
                out = await ep.client.generate(messages, effort=effort, sampling=sampling, seed=seed, tools=tools)
            except ServerUnavailable as exc:  # EndpointDown included: this endpoint is gone, try another
                self._take_out(ep, str(exc)[:300])
                ep.failed_over += 1
                last_down = exc
                continue
            except RequestFailed as exc:
                failed_here.add(self.endpoints.index(ep))
                ep.failed_over += 1
                last_failure = exc
                continue
            finally:
                ep.outstanding -= 1
            ep.served += 1
            out.latency_s = time.perf_counter() - started
            return out

    # -- health probes --------------------------------------------------------------------------------
    def _probe_down(self) -> None:
        now = time.monotonic()
        for i, ep in enumerate(self.endpoints):
            if not ep.up and ep.down_since is None:  # its own requests saw it die
                self._take_out(ep, ep.client.health.reason or "down")
            if (not ep.up and i not in self._probing and ep.down_since is not None
                    and now - ep.down_since >= self.probe_interval_s):
                self._probing.add(i)
                asyncio.get_running_loop().create_task(self._probe(i))

    async def _probe(self, i: int) -> None:
        ep = self.endpoints[i]
        try:
            if await ep.client.healthy():
                ep.client.health.mark_up()
                ep.down_since = None
                ep.events.append("up: answered /health")
                log.warning("endpoint %s is back", ep.url)
            else:
                ep.down_since = time.monotonic()
        finally:
            self._probing.discard(i)

    def stats(self) -> list[dict[str, Any]]:
        return [{"url": e.url, "up": e.up, "served": e.served, "failed_over": e.failed_over, "events": e.events}
                for e in self.endpoints]

    async def aclose(self) -> None:
        for ep in self.endpoints:
            await ep.client.aclose()
