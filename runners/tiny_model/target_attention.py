"""GptOss attention for training on long prompts: exact where the loss reads, skipped elsewhere.

The loss reads the last layer's output at assistant positions only, and nothing after attention mixes
positions. So the last layer (full attention in the tiny config) computes queries at the read positions only,
and sliding-window layers attend block by block: O(L * window + L * read) instead of O(L^2) per layer. At the
read positions the result equals transformers' eager GptOss attention (causal, ``kv > q - window``, attention
sinks). The final greedy check (``build.verify_greedy``) runs eager attention, independent of this module.

Use: ``register()`` once, set ``config._attn_implementation = NAME``, wrap each forward in
``reading(positions)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

NAME = "tiny_read_positions"
_read: torch.Tensor | None = None  # sorted positions whose last-layer output the caller reads


@contextlib.contextmanager
def reading(positions: torch.Tensor) -> Iterator[None]:
    global _read
    _read = positions
    try:
        yield
    finally:
        _read = None


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor, sinks: torch.Tensor,
            scaling: float) -> torch.Tensor:
    scores = (q @ k.transpose(2, 3) * scaling).masked_fill(~allowed, float("-inf"))
    sink = sinks.reshape(1, -1, 1, 1).expand(*scores.shape[:3], 1)
    logits = torch.cat([scores, sink], dim=-1)
    logits = logits - logits.max(dim=-1, keepdim=True).values
    return F.softmax(logits, dim=-1)[..., :-1] @ v


def read_position_attention(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                            attention_mask: Any, scaling: float, dropout: float = 0.0,
                            sliding_window: int | None = None, s_aux: torch.Tensor | None = None,
                            **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Right padding only (causal attention never looks at it), no cache, no dropout."""
    groups = query.shape[1] // key.shape[1]
    k, v = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    length = query.shape[2]
    pos = torch.arange(length)
    if sliding_window:
        blocks = []
        for start in range(0, length, sliding_window):
            end = min(length, start + sliding_window)
            first = max(0, start - sliding_window + 1)
            q_pos, k_pos = pos[start:end, None], pos[None, first:end]
            allowed = (k_pos <= q_pos) & (k_pos > q_pos - sliding_window)
            blocks.append(_attend(query[:, :, start:end], k[:, :, first:end], v[:, :, first:end], allowed,
                                  module.sinks, scaling))
        out = torch.cat(blocks, dim=2)
    else:
        last_layer = module.layer_idx == module.config.num_hidden_layers - 1
        rows = _read if (last_layer and _read is not None) else pos
        part = _attend(query[:, :, rows], k, v, pos[None, :] <= rows[:, None], module.sinks, scaling)
        out = part if rows is pos else query.new_zeros(query.shape).index_copy(2, rows, part)
    return out.transpose(1, 2).contiguous(), None


def register() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, read_position_attention)
