"""Model clients: three transports to an OpenAI-compatible gpt-oss server, one parsed output shape.

- ``chat``: ``/v1/chat/completions`` with ``reasoning_effort`` (server-side Harmony, reasoning and tool parsers)
- ``responses``: ``/v1/responses`` with ``reasoning.effort``
- ``harmony``: token-level Harmony; we render the prompt with ``openai_harmony``, send token ids to
  ``/v1/completions`` and parse the completion tokens ourselves (the most faithful path).

A client knows nothing of benchmarks. Connection failures, timeouts (``timeout_s`` for a whole reply,
``read_timeout_s`` between two reads), 429, 5xx and unreadable replies (not JSON, JSON of the wrong shape, a
stream cut mid-way) are retried with backoff. Other 4xx answers are the request's fault and come back as
:class:`RequestRejected`. Once every try of a request has failed, the client asks whether the server still
answers: ``GET /health`` and one tiny generation request (one token; shared by every request that fails at
the same time, and skipped when another request got a readable reply during the last try). If it answers,
the failure is this request's own (:class:`RequestFailed`: recorded as an error attempt with the reason, and
the run goes on); if not, or after 429s (an overloaded server), :class:`ServerUnavailable` ends the run and a
rerun resumes.

Streaming (``stream=True``; chat, harmony and responses): the reply is read as server-sent events and timed:
time to first token (``ttft_s``), time per output token after the first (``tpot_s``) and inter-token latency
percentiles over the gaps between content chunks (``itl_p50_s`` / ``itl_p95_s``), kept in
``ModelOutput.timing``. A stream that ends without its final event is a :class:`StreamCut` (retried); every
try starts from an empty reply.

The package is split by concern: :mod:`~evals.clients.errors` (failures and the retry policy),
:mod:`~evals.clients.health` (endpoint bookkeeping, liveness), :mod:`~evals.clients.shapes` (reply shape checks),
:mod:`~evals.clients.streaming` (server-sent events, timings), :mod:`~evals.clients.base` (the shared client) and
one module per transport (:mod:`~evals.clients.chat`, :mod:`~evals.clients.responses`,
:mod:`~evals.clients.harmony_completions`). Every name is importable from ``evals.clients``.
"""

from __future__ import annotations

from typing import Any

from evals.clients.base import ModelClient, Sampling
from evals.clients.chat import ChatCompletionsClient, _ChatStream
from evals.clients.errors import (
    BadResponse,
    EndpointDown,
    RequestFailed,
    RequestRejected,
    ServerUnavailable,
    StreamCut,
    TransientError,
    WrongShape,
)
from evals.clients.harmony_completions import HarmonyCompletionsClient, _CompletionsStream
from evals.clients.health import CANARY_TEXT, EndpointHealth
from evals.clients.responses import ResponsesClient, _ResponsesStream
from evals.clients.shapes import HARMONY_VOCAB
from evals.clients.streaming import StreamReader, StreamTimer

__all__ = [
    "CANARY_TEXT", "HARMONY_VOCAB", "TRANSPORTS", "BadResponse", "ChatCompletionsClient", "EndpointDown",
    "EndpointHealth", "HarmonyCompletionsClient", "ModelClient", "RequestFailed", "RequestRejected",
    "ResponsesClient", "Sampling", "ServerUnavailable", "StreamCut", "StreamReader", "StreamTimer",
    "TransientError", "WrongShape", "_ChatStream", "_CompletionsStream", "_ResponsesStream", "make_client",
]


TRANSPORTS: dict[str, type[ModelClient]] = {
    c.transport: c for c in (ChatCompletionsClient, ResponsesClient, HarmonyCompletionsClient)
}


def make_client(transport: str, **kwargs: Any) -> ModelClient:
    try:
        cls = TRANSPORTS[transport]
    except KeyError:
        raise ValueError(f"unknown transport {transport!r}; choose one of {sorted(TRANSPORTS)}") from None
    return cls(**kwargs)
