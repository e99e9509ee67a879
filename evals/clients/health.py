"""Is the endpoint alive: failure bookkeeping shared by every request to one endpoint, and the liveness probe's
question."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

CANARY_TEXT = "Reply with the word OK."  # the liveness probe's question (one token is asked for)


class EndpointHealth:
    """Failure bookkeeping of one endpoint, shared by every request to it.

    ``down_after`` consecutive connection failures (refused, reset, disconnected) mark the endpoint down;
    ``None`` (a lone client) never does, so a single server keeps the plain retry-then-stop behaviour.
    Requests waiting out a backoff wake up at once when the endpoint goes down. ``last_reply`` /
    ``last_silence`` (monotonic times) remember when the endpoint last gave a readable reply and when a
    liveness probe last got none, so requests failing together share one probe.
    """

    def __init__(self, down_after: int | None = None) -> None:
        self.down_after = down_after
        self.down = False
        self.reason: str | None = None
        self.consecutive_conn_failures = 0
        self.last_reply = -math.inf
        self.last_silence = -math.inf
        self._event: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _for_loop(self) -> tuple[asyncio.Event, asyncio.Lock]:
        # one Event/Lock per event loop: a client may serve several asyncio.run() calls (aclose between them)
        loop = asyncio.get_running_loop()
        if self._event is None or self._lock is None or self._loop is not loop:
            self._event, self._lock, self._loop = asyncio.Event(), asyncio.Lock(), loop
            if self.down:
                self._event.set()
        return self._event, self._lock

    def success(self) -> None:
        self.consecutive_conn_failures = 0
        self.last_reply = time.monotonic()

    def failure(self, exc: Exception) -> None:
        if not getattr(exc, "connection", False):
            return
        self.consecutive_conn_failures += 1
        if self.down_after is not None and self.consecutive_conn_failures >= self.down_after:
            self.mark_down(f"{self.consecutive_conn_failures} connection failures in a row: {exc}")

    def mark_down(self, reason: str) -> None:
        if not self.down:
            self.down, self.reason = True, reason
            if self._event is not None:
                self._event.set()

    def mark_up(self) -> None:
        self.down, self.reason, self.consecutive_conn_failures = False, None, 0
        if self._event is not None:
            self._event.clear()

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the endpoint goes down first; True if it did."""
        if self.down:
            return True
        try:
            await asyncio.wait_for(self._for_loop()[0].wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return self.down
        return True

    async def answered_since(self, since: float, probe: Callable[[], Awaitable[bool]]) -> bool:
        """Did the endpoint give a readable reply after ``since``? If nothing says, ``probe()`` once for all."""
        async with self._for_loop()[1]:
            if self.last_reply >= since:
                return True
            if self.last_silence >= since:
                return False
            answered = await probe()
            if answered:
                self.last_reply = time.monotonic()
            else:
                self.last_silence = time.monotonic()
            return answered

