"""Checks for chapter 4's exercises: a causal mask off by one (a bug hunt), the score scale for queries and keys
of any spread (a derivation), how much gradient the softmax passes with and without the 1/sqrt(d_k) scale (a
measurement), and grouped-query attention by hand (a variation)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

import gpt2lite.attention
from gpt2lite.attention import causal_mask, explicit_attention

from ._core import Forbidden, call, expect_close, fail, forbid, forbid_helpers, passed

_READY_ATTENTION = {
    F.scaled_dot_product_attention: "F.scaled_dot_product_attention",  # also torch._C._nn's, the same function
    torch._scaled_dot_product_attention_math: "torch._scaled_dot_product_attention_math",
    F.multi_head_attention_forward: "F.multi_head_attention_forward",
    nn.MultiheadAttention: "nn.MultiheadAttention",
    gpt2lite.attention: "gpt2lite.attention",  # causal_mask, explicit_attention, SelfAttention, ...
}


# ------------------------------------------------------------------------- ex-04-offbyone: a bug hunt
def _weights(scores: torch.Tensor, hidden: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=dim)


def _ahead(T: int) -> torch.Tensor:
    """ahead[i, j] = j - i: how far key j lies after query i."""
    return torch.arange(T)[None, :] - torch.arange(T)[:, None]


def check_causal_weights(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """`fn(scores)`, scores (..., T, T) with row i the query and column j the key, returns the causal attention
    weights: the softmax over the keys j <= i, exactly 0 on the keys after i."""
    forbidden = forbid({causal_mask: "gpt2lite.attention.causal_mask", explicit_attention:
                        "gpt2lite.attention.explicit_attention"},
                       "repair the function: build the mask yourself from the positions") + forbid_helpers(__name__)
    g = torch.Generator().manual_seed(41)
    for shape in [(3, 3), (2, 4, 5, 5), (1, 1), (2, 2), (3, 1, 8, 8)]:
        T = shape[-1]
        scores = torch.randn(shape, generator=g) * 3
        text = f"{fn.__name__}(scores of shape {shape})"
        got = call(fn, scores.clone(), call_text=text, forbidden=forbidden)
        ahead = _ahead(T)
        expect_close(text, got, _weights(scores, ahead > 0), atol=1e-6, rtol=1e-5, mistakes={
            "this is the bug: `ahead > 1` lets query i see key i + 1, the very next token it must predict. "
            "A key is in the future as soon as it is ahead at all: `ahead > 0`": lambda: _weights(scores, ahead > 1),
            "this hides the diagonal too (`ahead >= 0`): a token must see itself, and query 0 is left with no key "
            "at all (a row of nan)": lambda: _weights(scores, ahead >= 0),
            "the mask is inverted: it hides the past and keeps the future (ahead[i, j] is j - i, so a future key "
            "has ahead > 0)": lambda: _weights(scores, ahead < 0),
            "the mask is inverted: it hides the past and the token itself, and keeps the future":
                lambda: _weights(scores, ahead <= 0),
            "the mask is applied after the softmax: the rows no longer sum to 1; fill the scores with -inf first":
                lambda: torch.softmax(scores, dim=-1) * (ahead <= 0),
            "the softmax runs over the queries (dim=-2); it must run over the keys (dim=-1)":
                lambda: _weights(scores, ahead > 0, dim=-2),
            "future scores were set to 0, not -inf: exp(0) = 1 still gives them weight":
                lambda: torch.softmax(scores.masked_fill(ahead > 0, 0.0), dim=-1),
        }, hint="row i must be the softmax of scores[i, :i + 1], followed by exact zeros")
        if not bool((got[..., ahead > 0] == 0).all()):
            fail(text, "exactly 0 on every key after the query", "small non-zero values there",
                 "use -inf (not a large negative number) so the future weights are exactly 0")
    # causal: a change to the last key's scores must leave every other query's row alone
    scores = torch.randn(6, 6, generator=g)
    changed = scores.clone()
    changed[:, -1] += 5.0
    first, second = call(fn, scores, forbidden=forbidden), call(fn, changed, forbidden=forbidden)
    if not torch.allclose(first[:-1], second[:-1], atol=1e-6):
        fail(f"{fn.__name__}(scores of shape (6, 6)), then the scores of the last key raised by 5",
             "the rows of queries 0..4 unchanged", f"rows that moved by up to {(first - second)[:-1].abs().max():.3g}",
             "an earlier query sees a later key: the mask leaks")
    passed("causal_weights is repaired: every query sees itself and the past, never the next token")


# ---------------------------------------------------------------------- ex-04-scale: a derivation
def _scale(d_k: int, sigma_q: float, sigma_k: float) -> float:
    """The factor that brings q.k back to variance 1: Var(q.k) = d_k sigma_q^2 sigma_k^2."""
    return 1.0 / (sigma_q * sigma_k * math.sqrt(d_k))


def check_score_scale(fn: Callable[[int, float, float], float]) -> None:
    """`fn(d_k, sigma_q, sigma_k)` returns c such that c (q . k) has variance 1 when the entries of q and k are
    independent, of mean 0 and standard deviations sigma_q and sigma_k: derived, not sampled."""
    forbidden = forbid({torch.randn: "torch.randn", torch.normal: "torch.normal", torch.Tensor.var: "Tensor.var",
                        torch.var: "torch.var", torch.Tensor.std: "Tensor.std", torch.std: "torch.std"},
                       "derive it: a formula in d_k, sigma_q and sigma_k, with no sampling") + forbid_helpers(__name__)
    for d_k, sigma_q, sigma_k in [(64, 1.0, 1.0), (1, 1.0, 1.0), (16, 2.0, 1.0), (64, 2.0, 0.5), (8, 3.0, 3.0),
                                  (768, 0.1, 0.02), (3, 0.5, 4.0)]:
        text = f"{fn.__name__}({d_k}, {sigma_q}, {sigma_k})"
        got = call(fn, d_k, sigma_q, sigma_k, call_text=text, forbidden=forbidden)
        expect_close(text, got, _scale(d_k, sigma_q, sigma_k), atol=0.0, rtol=1e-6, mistakes={
            "that is the chapter's 1/sqrt(d_k), right only for unit variances: the spreads multiply the variance":
                lambda: 1 / math.sqrt(d_k),
            "that divides by the variances: Var(q_i k_i) = sigma_q^2 sigma_k^2, so the standard deviation of q.k "
            "has sigma_q sigma_k, not its square": lambda: 1 / (sigma_q**2 * sigma_k**2 * math.sqrt(d_k)),
            "the square root of d_k is missing: the variance is d_k sigma_q^2 sigma_k^2, its square root "
            "sqrt(d_k) sigma_q sigma_k": lambda: 1 / (sigma_q * sigma_k * d_k),
            "the variances add: for a product of independent zero-mean variables they multiply, "
            "Var(q_i k_i) = sigma_q^2 sigma_k^2": lambda: 1 / math.sqrt(d_k * (sigma_q**2 + sigma_k**2)),
            "that is the standard deviation of q.k, not the factor that undoes it: invert it":
                lambda: sigma_q * sigma_k * math.sqrt(d_k),
            "that is 1 / Var(q.k): c multiplies q.k, so it must be 1 / std(q.k)":
                lambda: 1 / (d_k * sigma_q**2 * sigma_k**2),
        }, hint="Var(q_i k_i) = E[q_i^2] E[k_i^2]; the d_k terms are independent, so their variances add")
    # the derivation holds: scores scaled by the reader's factor have variance 1, measured
    d_k, sigma_q, sigma_k = 64, 2.0, 0.5
    g = torch.Generator().manual_seed(44)
    q, k = sigma_q * torch.randn(20_000, d_k, generator=g), sigma_k * torch.randn(20_000, d_k, generator=g)
    dots = (q * k).sum(-1)
    c = float(call(fn, d_k, sigma_q, sigma_k, forbidden=forbidden))
    passed(f"score_scale is right: for d_k={d_k}, sigma_q={sigma_q}, sigma_k={sigma_k} it gives {c:.4f}, and "
           f"20,000 sampled scores have variance {dots.var():.1f} before and {(c * dots).var():.3f} after")


# ------------------------------------------------------------------- ex-04-jacobian: a measurement
def _jacobian_norm(d_k: int, scaled: bool, n_queries: int, n_keys: int, seed: int, *, scale: str = "sqrt",
                   order: str = "qk", shared_keys: bool = False, what: str = "jacobian", dim: int = -1) -> float:
    """The experiment, the check's own run; the keywords switch on one classic mistake each."""
    g = torch.Generator().manual_seed(seed)
    if order == "qk":
        q = torch.randn(n_queries, d_k, generator=g)
        k = torch.randn((n_keys, d_k) if shared_keys else (n_queries, n_keys, d_k), generator=g)
    else:
        k = torch.randn(n_queries, n_keys, d_k, generator=g)
        q = torch.randn(n_queries, d_k, generator=g)
    scores = (k * q[:, None, :]).sum(-1)  # (n_queries, n_keys); broadcasting also covers the shared keys
    if scaled:
        scores = scores / (math.sqrt(d_k) if scale == "sqrt" else d_k)
    p = torch.softmax(scores, dim=dim)
    if what == "max":
        return p.max(dim=-1).values.mean().item()
    if what == "diag":
        return p.pow(2).sum(-1).sqrt().mean().item()
    jac = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (n_queries, n_keys, n_keys)
    if what == "norm_of_mean":
        return jac.mean(0).norm().item()
    return jac.norm(dim=(-2, -1)).mean().item()


def check_softmax_jacobian(fn: Callable[..., float]) -> None:
    """`fn(d_k, scaled, n_queries, n_keys, seed)` runs the experiment of ex-04-jacobian and returns the mean, over
    the queries, of the Frobenius norm of the softmax's Jacobian d weights / d scores. The check re-runs it."""
    forbidden = forbid_helpers(__name__)
    measured = {}
    for d_k, scaled, n_queries, n_keys, seed in [
        (4, True, 20, 16, 0), (64, False, 30, 16, 1), (8, True, 10, 1, 2),  # one key: the softmax is constant
        (1, False, 40, 3, 3), (4, True, 500, 16, 0), (1024, False, 500, 16, 0), (1024, True, 500, 16, 0),
    ]:
        text = f"{fn.__name__}({d_k}, {scaled}, n_queries={n_queries}, n_keys={n_keys}, seed={seed})"
        got = call(fn, d_k, scaled, n_queries=n_queries, n_keys=n_keys, seed=seed, call_text=text,
                   forbidden=forbidden)
        expected = _jacobian_norm(d_k, scaled, n_queries, n_keys, seed)
        run = (d_k, scaled, n_queries, n_keys, seed)

        def mistake(**kw: object) -> Callable[[], float]:
            return lambda: _jacobian_norm(*run, **kw)

        expect_close(text, got, expected, atol=1e-6, rtol=1e-4, mistakes={
            "the scale is ignored: with scaled=True divide the scores by sqrt(d_k)":
                lambda: _jacobian_norm(d_k, False, n_queries, n_keys, seed),
            "the scores are divided by d_k, not by sqrt(d_k)": mistake(scale="d_k"),
            "the seed is ignored: draw from torch.Generator().manual_seed(seed)":
                lambda: _jacobian_norm(d_k, scaled, n_queries, n_keys, 0),
            "the draws come in the wrong order: draw the queries first, then the keys, from the same generator":
                mistake(order="kq"),
            "every query shares one set of keys: draw the keys as (n_queries, n_keys, d_k), one set per query":
                mistake(shared_keys=True),
            "this is the mean largest weight (the chapter's measure), not the Jacobian's norm": mistake(what="max"),
            "the Jacobian is missing its -p p^T term: d p_i / d s_j = p_i (delta_ij - p_j)": mistake(what="diag"),
            "this is the norm of the mean Jacobian: take each query's norm, then the mean":
                mistake(what="norm_of_mean"),
            "the softmax runs over the queries (dim=0); it must run over each query's keys (dim=-1)":
                mistake(dim=0),
        }, hint="q = randn(n_queries, d_k), then k = randn(n_queries, n_keys, d_k) from the seeded generator; "
                "scores (/ sqrt(d_k) if scaled); p = softmax; J = diag(p) - p p^T; mean of the norms")
        measured[(d_k, scaled)] = float(got)
    if measured[(8, True)] > 1e-6:
        fail(f"{fn.__name__}(8, True, n_queries=10, n_keys=1, seed=2)", "0", f"{measured[(8, True)]:.3g}",
             "with one key the weight is always 1: the softmax does not move, its Jacobian is 0")
    raw, scaled_ = measured[(1024, False)], measured[(1024, True)]
    passed(f"softmax_jacobian re-run (500 queries, 16 keys): with the scale the mean Jacobian norm is "
           f"{measured[(4, True)]:.3f} at d_k=4 and {scaled_:.3f} at d_k=1024; without it {raw:.3f} at d_k=1024, "
           f"{scaled_ / raw:.1f} times less gradient")


# ------------------------------------------------------------------ ex-04-gqa: a variation
def _grouped(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, tile: bool = False, scale: bool = True,
             diagonal: int | None = 0, dim: int = -1) -> torch.Tensor:
    """Grouped-query causal attention, the check's reference; the keywords switch on one classic mistake each."""
    group = q.size(1) // k.size(1)
    if tile:  # query head h reads kv head h % n_kv_head
        k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)
    else:  # query head h reads kv head h // group
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / (math.sqrt(q.size(-1)) if scale else 1.0)
    if diagonal is not None:
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(diagonal), float("-inf"))
    return torch.softmax(scores, dim=dim) @ v


def check_grouped_query_attention(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """`fn(q, k, v)`, q (B, n_head, T, hd) and k, v (B, n_kv_head, T, hd) with n_kv_head dividing n_head, returns
    causal attention (B, n_head, T, hd) in which query head h reads key/value head h // (n_head // n_kv_head)."""
    instead = ("write it with tensor operations: group the query heads (or repeat_interleave k and v), then "
               "q @ k^T / sqrt(hd), -inf on the future keys, softmax over the keys, @ v")
    forbidden = forbid(_READY_ATTENTION, instead) + forbid_helpers(__name__)
    g = torch.Generator().manual_seed(43)
    for B, H, H_kv, T, hd in [(1, 1, 1, 1, 4), (2, 4, 2, 5, 8), (1, 6, 1, 7, 4), (2, 4, 4, 3, 8), (1, 8, 2, 16, 16),
                              (2, 6, 3, 1, 8), (1, 12, 4, 9, 2)]:
        q = torch.randn(B, H, T, hd, generator=g)
        k, v = (torch.randn(B, H_kv, T, hd, generator=g) for _ in range(2))
        text = (f"{fn.__name__}(q of shape {(B, H, T, hd)}, k and v of shape {(B, H_kv, T, hd)})")
        got = call(fn, q.clone(), k.clone(), v.clone(), call_text=text, forbidden=forbidden)
        expect_close(text, got, _grouped(q, k, v), atol=1e-5, rtol=1e-4, mistakes={
            "the groups are interleaved: query head h reads kv head h % n_kv_head, as k.repeat(...) gives. "
            "Neighbouring query heads share a kv head, h // (n_head // n_kv_head): repeat_interleave, or "
            "q.view(B, n_kv_head, group, T, hd)": lambda: _grouped(q, k, v, tile=True),
            "the 1/sqrt(head_dim) scale is missing": lambda: _grouped(q, k, v, scale=False),
            "no causal mask: every query sees the future. Fill the scores of later keys with -inf":
                lambda: _grouped(q, k, v, diagonal=None),
            "the mask lets each query see the next key too (an off-by-one)": lambda: _grouped(q, k, v, diagonal=1),
            "the mask hides the diagonal: a token must see itself": lambda: _grouped(q, k, v, diagonal=-1),
            "the softmax runs over the queries (dim=-2); it must run over the keys (dim=-1)":
                lambda: _grouped(q, k, v, dim=-2),
        }, hint=f"output shape (B, n_head, T, hd) = {(B, H, T, hd)}; query head h reads kv head h // "
                "(n_head // n_kv_head); causal; scaled by 1/sqrt(hd)")
    # causal: changing the last key and value must leave the earlier positions alone
    q = torch.randn(1, 4, 6, 8, generator=g)
    k, v = (torch.randn(1, 2, 6, 8, generator=g) for _ in range(2))
    k2, v2 = k.clone(), v.clone()
    k2[:, :, -1] += 3.0
    v2[:, :, -1] -= 3.0
    first = call(fn, q, k, v, forbidden=forbidden)[:, :, :-1]
    second = call(fn, q, k2, v2, forbidden=forbidden)[:, :, :-1]
    if not torch.allclose(first, second, atol=1e-6):
        fail(f"{fn.__name__}(q, k, v) with 4 query heads and 2 kv heads, then the last key and value changed",
             "the outputs of positions 0..4 unchanged",
             f"outputs that moved by up to {(first - second).abs().max():.3g}",
             "earlier positions see a later one: the causal mask is missing or leaks")
    passed("grouped_query_attention matches attention over repeated key/value heads on 7 shapes (MQA and MHA "
           "included), and is causal")
