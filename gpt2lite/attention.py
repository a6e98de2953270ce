"""Multi-head self-attention, written out the way the book teaches it, plus the fused fast path.

Both paths share the same weights; ``GPTConfig.attn_impl`` picks one. The explicit path can also
return the attention weights, which is what the attention heatmaps in the book plot.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import GPTConfig
from .linear import Linear
from .validate import integer


def causal_mask(t_query: int, t_key: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean (t_query, t_key) mask, True where a query may look at a key.

    The queries are the *last* t_query positions of the t_key-long sequence, so query i sits at
    absolute position t_key - t_query + i and sees keys 0 .. that position. With t_query == t_key
    this is the familiar lower-triangular matrix.
    """
    ones = torch.ones(t_query, t_key, dtype=torch.bool, device=device)
    return ones.tril(diagonal=t_key - t_query)


def explicit_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = True,
    dropout: nn.Module | None = None,
    allowed: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention, step by step. Returns (output, attention weights).

    q: (B, H, Tq, hd); k, v: (B, H, Tk, hd) -> output (B, H, Tq, hd), weights (B, H, Tq, Tk). ``allowed``, a boolean
    (Tq, Tk) mask, says which keys each query may see; by default ``causal_mask(Tq, Tk)`` if causal, else all.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, Tq, Tk)
    if allowed is None and causal:
        allowed = causal_mask(q.size(-2), k.size(-2), device=q.device)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))  # keys not allowed get zero weight after softmax
    weights = F.softmax(scores, dim=-1)  # each row sums to 1
    attended = dropout(weights) if dropout is not None else weights
    return attended @ v, weights  # (B, H, Tq, hd)


class KVCache:
    """Keys and values of every layer, pre-allocated for the whole context.

    Generation then feeds one new token per step: each layer appends that token's key and value
    and attends over everything stored so far, instead of recomputing the whole prefix. A forward
    pass hands each layer its own view (``layers()``) and advances ``pos`` once, after the last layer.
    """

    def __init__(
        self,
        config: GPTConfig,
        batch_size: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = (config.n_layer, batch_size, config.n_head, config.block_size, config.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)  # (L, B, H, block_size, hd)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.pos = 0  # how many positions are filled

    def layers(self) -> list[LayerCache]:
        """One view per layer, each writing after the positions filled so far."""
        return [LayerCache(self.k[i], self.v[i], self.pos) for i in range(self.k.size(0))]  # views, no copies

    def advance(self, t: int) -> None:
        """Mark t more positions as filled (called once per forward pass, after every layer)."""
        self.pos += t

    def slide(self, t: int) -> None:
        """Drop the oldest t positions and move the others t slots to the front, making room for t more.

        Only right for a model whose cached keys stay valid when the window moves (``GPT.cache_can_slide``):
        GPT-2's are computed at absolute positions, which all change, so its generation refills instead.
        """
        t = integer("t", t, minimum=0)
        if t > self.pos:
            raise ValueError(f"can slide by 0 to {self.pos} positions (the filled ones), not {t}")
        for store in (self.k, self.v):
            store[:, :, :, : self.pos - t] = store[:, :, :, t : self.pos].clone()
        self.pos -= t

    def reset(self) -> None:
        self.pos = 0


class LayerCache:
    """One layer's keys and values in a KVCache: views of its tensors, and where this forward pass writes."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor, pos: int) -> None:
        self.k, self.v, self.pos = k, v, pos  # (B, H, block_size, hd) each; positions filled before this pass

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, H, T, hd) after the filled positions; return all keys and values so far."""
        end = self.pos + k.size(2)
        self.k[:, :, self.pos : end] = k
        self.v[:, :, self.pos : end] = v
        return self.k[:, :, :end], self.v[:, :, :end]  # (B, H, pos + T, hd)


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused projection for queries, keys and values."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.causal = config.causal
        self.impl = config.attn_impl
        self.dropout = config.dropout
        self.c_attn = Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # x -> q, k, v
        self.c_proj = Linear(config.n_embd, config.n_embd, bias=config.bias)  # merged heads -> x
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None, cache: LayerCache | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T, C) at positions pos (T,) -> (output (B, T, C), attention weights (B, H, T, Tk) or None).

        pos defaults to the last T positions of what the cache holds after this pass (0 .. T-1 without one). GPT-2
        adds its position embeddings before the first block, so here positions only say which keys each query
        may see (``_allowed``).
        """
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 x (B, T, C)
        # Split C into n_head heads of hd = C / n_head channels each.
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, hd)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        if cache is not None:
            k, v = cache.update(k, v)  # (B, H, Tk, hd) with Tk = cached + T
        if pos is None:
            pos = torch.arange(k.size(2) - T, k.size(2), device=x.device)  # (T,)

        weights = None
        if need_weights or self.impl == "explicit":
            allowed = self._allowed(pos, k.size(2)) if self.causal else None
            y, weights = explicit_attention(q, k, v, causal=self.causal, dropout=self.attn_dropout, allowed=allowed)
        else:
            y = self._fused(q, k, v, pos)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # merge the heads back: (B, T, C)
        return self.resid_dropout(self.c_proj(y)), weights

    @staticmethod
    def _allowed(pos: torch.Tensor, t_key: int) -> torch.Tensor:
        """(Tq, Tk) boolean: True where the query at position pos[i] may see key j (cached keys sit at positions
        0 .. t_key - 1): every key at or before it. A local window of w keys would add ``& (pos[:, None] - keys < w)``."""
        keys = torch.arange(t_key, device=pos.device)
        return keys[None, :] <= pos[:, None]

    def _fused(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """The same computation through PyTorch's fused kernel (flash/memory-efficient where available)."""
        t_query, t_key = q.size(-2), k.size(-2)
        dropout_p = self.dropout if self.training else 0.0
        if not self.causal or t_query == 1:  # bidirectional, or one new query that may see every key
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
        if t_query == t_key:  # the usual square causal case: positions 0 .. T-1
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        mask = self._allowed(pos, t_key)  # several new queries after a cached prefix
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
