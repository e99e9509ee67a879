"""What can go wrong with a request, and the retry policy: which failures are worth another try, and how long to
wait before it."""

from __future__ import annotations

import asyncio
import random

import aiohttp


class TransientError(Exception):
    """A failure worth retrying: the server may answer next time."""


class ServerUnavailable(Exception):
    """The server kept failing after every retry; the run stops and can be resumed."""


class RequestRejected(Exception):
    """The server refused this request (4xx); retrying will not help."""


class BadResponse(TransientError):
    """The server answered, but not with a readable reply (garbage body, a stream cut mid-way)."""


class StreamCut(BadResponse):
    """A streamed reply stopped before its final event."""


class WrongShape(BadResponse):
    """The reply is JSON, but not shaped as the API says (a field of the wrong type, a missing part)."""


class RequestFailed(Exception):
    """Every try of this request failed while the server kept answering others: the request's fault."""


class EndpointDown(ServerUnavailable):
    """The endpoint was taken out of service (by a balancer) while this request was waiting to retry."""


_CONNECTION_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError,
                      aiohttp.ConnectionTimeoutError)


def _transient(exc: BaseException) -> TransientError:
    err = TransientError(f"{type(exc).__name__}: {exc}")
    err.connection = isinstance(exc, _CONNECTION_ERRORS)  # type: ignore[attr-defined]
    return err


def timeout_error(exc: asyncio.TimeoutError, timeout_s: float, read_timeout_s: float | None) -> TransientError:
    """A timeout as a retryable failure, naming the setting that ran out (a connect timeout is a connection one)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return _transient(exc)
    if isinstance(exc, aiohttp.SocketTimeoutError):
        err = TransientError(f"no data for client.read_timeout_s={read_timeout_s:g} s ({exc})")
    else:
        err = TransientError(f"no complete reply within client.timeout_s={timeout_s:g} s")
    err.connection = False  # type: ignore[attr-defined]
    return err


def status_error(status: int, raw: bytes) -> Exception | None:
    """The failure an HTTP status stands for (None: 2xx/3xx): 429 and 5xx are retried, other 4xx are not."""
    if status == 429 or status >= 500:
        err = TransientError(f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}")
        err.overloaded = status == 429  # type: ignore[attr-defined]
        return err
    if status >= 400:
        return RequestRejected(f"HTTP {status}: {raw[:500].decode('utf-8', 'replace')}")
    return None


def backoff_s(n: int, retry_wait_s: float) -> float:
    """Wait before try ``n + 1``: exponential with up to 1 s of jitter, capped at 60 s (tenacity's
    wait_exponential_jitter)."""
    return min(retry_wait_s * 2 ** n + random.uniform(0, min(1.0, retry_wait_s)), 60.0)
