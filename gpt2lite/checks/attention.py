"""Checks for chapter 4's exercises: the causal mask, the masked softmax, splitting heads, causal attention."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt2lite.attention import SelfAttention, causal_mask, explicit_attention

from ._core import Forbidden, call, expect_close, expect_equal, fail, forbid, forbid_helpers, passed


def _no_causal_mask() -> Forbidden:
    """The package's causal mask, which the exercise rebuilds ("Do not use gpt2lite")."""
    return forbid({causal_mask: "gpt2lite.attention.causal_mask"},
                  "build the mask yourself: torch.ones(T, T, dtype=torch.bool).tril()")


def _no_ready_attention() -> Forbidden:
    """torch's fused attention and the package's, which the exercise writes with basic tensor operations."""
    instead = ("write the attention with tensor operations: q @ k.transpose(-2, -1) / math.sqrt(head_dim), "
               "masked_fill with -inf above the diagonal, torch.softmax(..., dim=-1), then @ v")
    return forbid({
        F.scaled_dot_product_attention: "F.scaled_dot_product_attention",
        torch._scaled_dot_product_attention_math: "torch._scaled_dot_product_attention_math",
        F.multi_head_attention_forward: "F.multi_head_attention_forward",
        nn.MultiheadAttention: "nn.MultiheadAttention",
        explicit_attention: "gpt2lite.attention.explicit_attention", SelfAttention: "gpt2lite.attention.SelfAttention",
        causal_mask: "gpt2lite.attention.causal_mask",
    }, instead) + forbid_helpers(__name__)


def check_causal_mask(fn: Callable[[int], torch.Tensor]) -> None:
    """`fn(T)` returns the (T, T) boolean mask that is True where query i may see key j (j <= i)."""
    for T in [3, 8, 1, 2, 33]:  # T = 3 first: there every classic mistake looks different
        got = call(fn, T, forbidden=_no_causal_mask())
        expected = causal_mask(T, T)
        ones = torch.ones(T, T, dtype=torch.bool)
        expect_equal(f"{fn.__name__}({T})", got, expected, mistakes={
            "this hides the diagonal too: a token may look at itself (j <= i, not j < i)": lambda: ones.tril(-1),
            "this is upper-triangular: query i may see keys j <= i, so keep the lower triangle (tril)": lambda: ones.triu(),
            "this lets every query see one key too far (j <= i + 1): an off-by-one in the diagonal": lambda: ones.tril(1),
            "True must mean 'may look': this is the inverse of the mask": lambda: ~expected,
        }, hint="row i (the query) should be True in columns 0..i and False after")
    passed("causal_mask_for matches gpt2lite.attention.causal_mask")


def check_masked_softmax(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """`fn(scores, allowed)` sets forbidden scores to -inf and takes the softmax over the last axis."""
    g = torch.Generator().manual_seed(1)
    for shape, allowed in [
        ((4, 4), torch.ones(4, 4, dtype=torch.bool).tril()),
        ((2, 3, 5, 5), torch.ones(5, 5, dtype=torch.bool).tril()),
        ((1, 1), torch.ones(1, 1, dtype=torch.bool)),
        ((3, 6), torch.ones(3, 6, dtype=torch.bool).tril(diagonal=3)),  # queries at the end of a longer sequence
        ((2, 4), torch.ones(2, 4, dtype=torch.bool)),  # nothing masked
    ]:
        scores = torch.randn(shape, generator=g) * 5
        text = f"{fn.__name__}(scores of shape {shape}, allowed of shape {tuple(allowed.shape)})"
        got = call(fn, scores.clone(), allowed, call_text=text)
        expected = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
        after = torch.softmax(scores, dim=-1) * allowed
        expect_close(text, got, expected, mistakes={
            "the mask is applied after the softmax: forbidden entries are 0 but the rows no longer sum to 1; "
            "fill the scores with -inf first, then take the softmax": lambda: after,
            "the softmax runs over the wrong axis: use dim=-1 (over the keys)":
                lambda: torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-2),
            "forbidden scores were set to 0, not -inf: exp(0) = 1 still gives them weight":
                lambda: torch.softmax(scores.masked_fill(~allowed, 0.0), dim=-1),
            "True in `allowed` means 'may look': the mask is inverted":
                lambda: torch.softmax(scores.masked_fill(allowed, float("-inf")), dim=-1),
        }, hint="forbidden entries must come out exactly 0 and every row must sum to 1")
        if not bool((got[..., ~allowed] == 0).all()):
            fail(text, "exactly 0 where `allowed` is False", "small non-zero values there",
                 "use -inf (not a large negative number) so the forbidden weights are exactly 0")
    passed("masked_softmax is right")


def check_split_merge_heads(split_heads: Callable[[torch.Tensor, int], torch.Tensor],
                            merge_heads: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """`split_heads(x, n_head)`: (B, T, C) -> (B, n_head, T, C // n_head); `merge_heads` undoes it."""
    g = torch.Generator().manual_seed(2)
    for B, T, C, n_head in [(1, 1, 4, 1), (2, 5, 8, 2), (3, 7, 12, 4), (2, 3, 12, 12), (1, 16, 64, 4)]:
        x = torch.randn(B, T, C, generator=g)
        hd = C // n_head
        text = f"{split_heads.__name__}(x of shape {(B, T, C)}, n_head={n_head})"
        got = call(split_heads, x.clone(), n_head, call_text=text)
        expected = x.view(B, T, n_head, hd).transpose(1, 2)
        expect_close(text, got, expected, atol=0, rtol=0, mistakes={
            "the view is (B, T, head_dim, n_head): head h must hold channels h*head_dim .. (h+1)*head_dim - 1, "
            "so view as (B, T, n_head, head_dim)": lambda: x.view(B, T, hd, n_head).permute(0, 3, 1, 2),
            "a reshape straight to (B, n_head, T, head_dim) mixes positions and heads: view as "
            "(B, T, n_head, head_dim) first, then transpose(1, 2)": lambda: x.reshape(B, n_head, T, hd),
        }, hint=f"expected shape (B, n_head, T, head_dim) = {(B, n_head, T, hd)}, head h holding channels h*head_dim.. ")
        y = torch.randn(B, n_head, T, hd, generator=g)
        text = f"{merge_heads.__name__}(y of shape {(B, n_head, T, hd)})"
        got = call(merge_heads, y.clone(), call_text=text)
        expect_close(text, got, y.transpose(1, 2).reshape(B, T, C), atol=0, rtol=0, mistakes={
            "a reshape without the transpose mixes positions and heads: transpose(1, 2) first, then "
            ".contiguous().view(B, T, C)": lambda: y.reshape(B, T, C),
        }, hint="put the heads side by side: (B, n_head, T, hd) -> (B, T, n_head, hd) -> (B, T, n_head * hd)")
        back = call(merge_heads, call(split_heads, x.clone(), n_head))
        expect_close(f"merge_heads(split_heads(x, {n_head}))", back, x, atol=0, rtol=0,
                     hint="the two functions must undo each other")
    passed("split_heads and merge_heads are right")


def _attention_mistakes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> dict[str, Callable[[], torch.Tensor]]:
    """What the common mistakes in causal attention compute, each paired with the hint that explains it."""
    T, hd = q.size(-2), q.size(-1)
    scores = q @ k.transpose(-2, -1)
    allowed = torch.ones(T, T, dtype=torch.bool).tril()

    def attend(s: torch.Tensor, mask: torch.Tensor | None, dim: int = -1, after: bool = False) -> torch.Tensor:
        if after:
            return (torch.softmax(s, dim=dim) * mask) @ v
        return torch.softmax(s.masked_fill(~mask, float("-inf")) if mask is not None else s, dim=dim) @ v

    return {
        "the 1/sqrt(head_dim) scale is missing: divide q @ k^T by math.sqrt(head_dim)": lambda: attend(scores, allowed),
        "the scores are divided by head_dim, not by sqrt(head_dim)": lambda: attend(scores / hd, allowed),
        "the mask is applied after the softmax: rows no longer sum to 1; mask the scores with -inf, then softmax":
            lambda: attend(scores / math.sqrt(hd), allowed, after=True),
        "no causal mask: every query sees the future. Fill the scores above the diagonal with -inf":
            lambda: attend(scores / math.sqrt(hd), None),
        "the mask also hides the diagonal (j < i instead of j <= i): a token must see itself":
            lambda: attend(scores / math.sqrt(hd), torch.ones(T, T, dtype=torch.bool).tril(-1)),
        "the mask lets each query see one key too far, the next token (an off-by-one: tril(1) instead of tril())":
            lambda: attend(scores / math.sqrt(hd), torch.ones(T, T, dtype=torch.bool).tril(1)),
        "the mask keeps the upper triangle (the future) instead of the lower one: use tril, not triu":
            lambda: attend(scores / math.sqrt(hd), allowed.T),
        "the softmax runs over the queries (dim=-2); it must run over the keys (dim=-1)":
            lambda: attend(scores / math.sqrt(hd), allowed, dim=-2),
    }


def check_causal_attention(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """`fn(q, k, v)` with q, k, v of shape (B, n_head, T, head_dim) returns the causal attention output, same shape:
    softmax(q k^T / sqrt(head_dim), with the future masked) @ v."""
    g = torch.Generator().manual_seed(3)
    forbidden = _no_ready_attention()
    for shape in [(1, 1, 1, 4), (2, 3, 1, 8), (1, 1, 5, 1), (2, 4, 7, 16), (3, 2, 32, 64)]:
        q, k, v = (torch.randn(shape, generator=g) for _ in range(3))
        text = f"{fn.__name__}(q, k, v) with q, k, v of shape {shape}"
        got = call(fn, q.clone(), k.clone(), v.clone(), call_text=text, forbidden=forbidden)
        expected, _ = explicit_attention(q, k, v)
        expect_close(text, got, expected, atol=1e-5, rtol=1e-4, mistakes=_attention_mistakes(q, k, v),
                     hint="scores = q @ k^T / sqrt(head_dim); -inf where key > query; softmax over the keys; @ v")
    # A query's output must not change when a later key or value changes: that is what "causal" means.
    q, k, v = (torch.randn(1, 2, 6, 8, generator=g) for _ in range(3))
    k2, v2 = k.clone(), v.clone()
    k2[:, :, -1] += 3.0
    v2[:, :, -1] -= 3.0
    first = call(fn, q, k, v, forbidden=forbidden)[:, :, :-1]
    second = call(fn, q, k2, v2, forbidden=forbidden)[:, :, :-1]
    if not torch.allclose(first, second, atol=1e-6):
        fail(f"{fn.__name__}(q, k, v) with q, k, v of shape {(1, 2, 6, 8)}, then the last key and value changed",
             "the outputs of positions 0..4 unchanged", f"outputs that moved by up to {(first - second).abs().max():.3g}",
             "earlier positions see a later one: the causal mask is missing or leaks")
    passed("causal attention matches gpt2lite.attention.explicit_attention on 5 shapes, and is causal")
