"""Checks for chapter 8's exercises: temperature, the top-k and top-p filters, and a greedy decoding loop."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F

from gpt2lite.config import GPTConfig
from gpt2lite.generate import filter_logits
from gpt2lite.model import GPT

from ._core import call, describe, expect_close, expect_equal, fail, passed, seeded_model

NEG_INF = float("-inf")


# --------------------------------------------------------------------------- ex-08-temperature
def check_apply_temperature(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """`fn(logits, temperature)`: (B, V) logits -> (B, V) probabilities softmax(logits / temperature); at
    temperature 0, probability 1 on each row's (first) largest logit."""
    g = torch.Generator().manual_seed(0)
    for B, V in [(1, 5), (3, 65), (2, 1000)]:
        z = 3 * torch.randn(B, V, generator=g)  # (B, V)
        for T in [0.1, 0.5, 1.0, 2.0, 10.0]:
            text = f"{fn.__name__}(logits of shape {(B, V)}, {T})"
            got = call(fn, z.clone(), T, call_text=text)
            expect_close(text, got, torch.softmax(z / T, dim=-1), atol=1e-6, rtol=1e-5, mistakes={
                "the logits are multiplied by the temperature: divide them, softmax(logits / T)":
                    lambda: torch.softmax(z * T, dim=-1),
                "the softmax runs over the batch (dim=0): take it over the vocabulary, dim=-1":
                    lambda: torch.softmax(z / T, dim=0),
                "these are the scaled logits: apply a softmax to turn them into probabilities": lambda: z / T,
                "the temperature is ignored: divide the logits by it before the softmax":
                    lambda: torch.softmax(z, dim=-1),
            }, hint="each row must be softmax(logits / T) and sum to 1")
        _check_greedy_distribution(fn, z)
    ties = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])  # the largest logit twice; all equal
    _check_greedy_distribution(fn, ties)
    passed("apply_temperature matches softmax(logits / T), and greedy decoding's distribution at T = 0")


def _check_greedy_distribution(fn: Callable[[torch.Tensor, float], torch.Tensor], z: torch.Tensor) -> None:
    """At temperature 0: a one-hot float distribution on the first largest logit of each row."""
    B, V = z.shape
    text = f"{fn.__name__}({describe(z)}, 0)" if z.numel() <= 8 else f"{fn.__name__}(logits of shape {(B, V)}, 0)"
    got = call(fn, z.clone(), 0, call_text=text)
    expected = F.one_hot(z.argmax(dim=-1), V).to(z.dtype)  # (B, V)
    largest = (z == z.max(dim=-1, keepdim=True).values).to(z.dtype)  # (B, V): 1 on every largest logit
    mistakes = {
        "this is the argmax itself: return a (B, V) distribution, F.one_hot(logits.argmax(-1), V)":
            lambda: z.argmax(dim=-1),
        "dividing by 0 gives infinite logits and a nan softmax: handle temperature == 0 first":
            lambda: torch.softmax(z / 0, dim=-1),
        "every tied largest logit got probability 1: put it all on the first one (argmax picks it)": lambda: largest,
        "the probability is shared among tied largest logits: put it all on the first one (argmax picks it)":
            lambda: largest / largest.sum(dim=-1, keepdim=True),
    }
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and not got.is_floating_point():
        fail(text, "float probabilities", f"dtype {got.dtype}",
             "F.one_hot gives integers: convert with .to(logits.dtype), so that it is a probability distribution")
    expect_equal(text, got, expected, mistakes=mistakes,
                 hint="at T = 0 each row is 1 on its largest logit (the first, if tied) and 0 elsewhere")


# --------------------------------------------------------------------------------- ex-08-topk
def check_top_k_filter(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
    """`fn(logits, k)`: (B, V) logits with every logit below its row's k-th largest set to -inf (ties with the k-th
    kept); unchanged for k >= V. Must equal gpt2lite.generate.filter_logits(logits, top_k=k)."""
    g = torch.Generator().manual_seed(1)
    cases = [(torch.randn(1, 10, generator=g), k) for k in [1, 3, 9, 10, 50]]
    cases += [(torch.randn(4, 65, generator=g), k) for k in [1, 5, 64]]
    cases += [(torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0]]), 2)]  # ties
    cases += [(torch.tensor([[5.0, NEG_INF, 1.0, 2.0]]), 3)]  # a token already filtered out
    for logits, k in cases:
        B, V = logits.shape
        shown = describe(logits) if logits.numel() <= 8 else f"logits of shape {(B, V)}"
        text = f"{fn.__name__}({shown}, {k})"
        got = call(fn, logits.clone(), k, call_text=text,
                   crash_hint="for k >= V return the logits unchanged (torch.topk fails for k > V)" if k >= V
                   else "keep the k-th largest as a (B, 1) column, values[:, -1:], so that it broadcasts "
                        "against the (B, V) logits")
        kth = torch.topk(logits, min(k, V), dim=-1).values  # (B, k) sorted, largest first
        top_indices = torch.topk(logits, min(k, V), dim=-1).indices  # (B, k)
        exactly_k = torch.full_like(logits, NEG_INF).scatter(-1, top_indices, logits.gather(-1, top_indices))
        expect_equal(text, got, filter_logits(logits, top_k=k), mistakes={
            "the k-th largest logit itself was removed: set to -inf only the logits *smaller* than it (<, not <=)":
                lambda: logits.masked_fill(logits <= kth[:, -1:], NEG_INF),
            "only the largest logit is kept: the k-th largest is values[:, -1:] (topk sorts largest first), "
            "not values[:, :1]": lambda: logits.masked_fill(logits < kth[:, :1], NEG_INF),
            "ties with the k-th largest must be kept: compare with the k-th value (logits < kth) instead of "
            "keeping topk's k indices": lambda: exactly_k,
            "the filtered logits must be -inf (so that their probability is exactly 0), not 0":
                lambda: logits.masked_fill(logits < kth[:, -1:], 0.0),
            "the filter is inverted: the logits below the k-th largest are the ones to set to -inf":
                lambda: logits.masked_fill(logits >= kth[:, -1:], NEG_INF),
        }, hint="in each row, set to -inf the logits smaller than that row's k-th largest")
    passed("top_k_filter matches filter_logits (ties, k = 1, k >= V and -inf logits included)")


# --------------------------------------------------------------------------------- ex-08-topp
def _nucleus_mistakes(logits: torch.Tensor, p: float) -> dict[str, Callable[[], torch.Tensor]]:
    """What the common mistakes in a top-p filter give, each with the hint that explains it."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V) each
    probs = torch.softmax(sorted_logits, dim=-1)
    cumulative = torch.cumsum(probs, dim=-1)
    above = cumulative - probs  # mass of the tokens ranked above each one

    def unsort(drop: torch.Tensor, fill: float = NEG_INF) -> torch.Tensor:
        kept = sorted_logits.masked_fill(drop, fill)
        return torch.full_like(logits, fill).scatter(-1, order, kept)

    ascending, up_order = torch.sort(logits, dim=-1)
    up_probs = torch.softmax(ascending, dim=-1)
    up_kept = ascending.masked_fill(torch.cumsum(up_probs, dim=-1) - up_probs >= p, NEG_INF)
    logit_sums = torch.cumsum(sorted_logits, dim=-1) - sorted_logits
    batch_softmax = torch.softmax(sorted_logits, dim=0)
    return {
        "the token that crosses p was dropped (and a tiny p keeps nothing): compare the mass *above* each token, "
        "cumsum(probs) - probs, with p": lambda: unsort(cumulative > p),
        "p = 1 must keep every token: return the logits unchanged when p >= 1 (rounding can push the mass above "
        "the last tokens to 1.0)": lambda: unsort(above >= p),
        "the kept logits are still in sorted order: scatter them back to their original positions":
            lambda: sorted_logits.masked_fill(above >= p, NEG_INF),
        "the sort must be descending: the nucleus is made of the most likely tokens":
            lambda: torch.full_like(logits, NEG_INF).scatter(-1, up_order, up_kept),
        "the cumulative sum runs over logits: turn the sorted logits into probabilities with a softmax first":
            lambda: unsort(logit_sums >= p),
        "the softmax runs over the batch (dim=0): take it over the vocabulary, dim=-1":
            lambda: unsort(torch.cumsum(batch_softmax, dim=-1) - batch_softmax >= p),
        "the filter is inverted: the tokens whose mass above reaches p are the ones to set to -inf":
            lambda: unsort(above < p),
        "the filtered logits must be -inf (so that their probability is exactly 0), not 0":
            lambda: unsort(above >= p, fill=0.0),
    }


def check_top_p_filter(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """`fn(logits, p)`: (B, V) logits with every token outside the nucleus set to -inf; a token is in the nucleus
    when the probability of the tokens ranked above it is below p. Must equal filter_logits(logits, top_p=p)."""
    g = torch.Generator().manual_seed(2)
    peaked = torch.tensor([[8.0, 1.0, 0.5, 0.0, -1.0]])  # the top token alone holds most of the mass
    cases = [(2 * torch.randn(1, 10, generator=g), p) for p in [1e-9, 0.3, 0.8, 0.95, 1.0]]
    cases += [(3 * torch.randn(4, 65, generator=g), p) for p in [0.5, 0.9]]
    cases += [(peaked, 0.5), (peaked, 0.999), (peaked, 1e-9), (torch.randn(2, 1, generator=g), 0.5)]
    cases += [(torch.tensor([[20.0, 0.0, -1.0, 2.0]]), 1.0)]  # in float32 the mass above the tail rounds to 1.0
    for logits, p in cases:
        B, V = logits.shape
        shown = describe(logits) if logits.numel() <= 8 else f"logits of shape {(B, V)}"
        text = f"{fn.__name__}({shown}, {p})"
        got = call(fn, logits.clone(), p, call_text=text)
        expect_equal(text, got, filter_logits(logits, top_p=p), mistakes=_nucleus_mistakes(logits, p),
                     hint="sort descending, softmax, mass above = cumsum - probs; -inf where that mass is >= p; "
                          "the most likely token always stays")
    passed("top_p_filter matches filter_logits (p = 1 and a tiny p included)")


# ------------------------------------------------------------------------------- ex-08-greedy
@lru_cache(maxsize=None)
def _greedy_model() -> GPT:
    """A tiny GPT (context 8) with weights 5 times larger than at init: sharp, varied greedy predictions."""
    model = seeded_model(GPTConfig(vocab_size=30, block_size=8, n_layer=2, n_head=2, n_embd=16), 3).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(5)
    return model


@torch.no_grad()
def _greedy(model: GPT, idx: torch.Tensor, n: int, window: Callable[[torch.Tensor], torch.Tensor],
            position: int = -1) -> torch.Tensor:
    """Greedy decoding that feeds `window(seq)` to the model and picks from `position`: for the mistakes."""
    seq = idx
    for _ in range(n):
        logits = model(window(seq))[:, position]  # (B, V)
        seq = torch.cat([seq, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return seq


def check_greedy_decode(fn: Callable[[GPT, torch.Tensor, int], torch.Tensor]) -> None:
    """`fn(model, idx, n)` continues idx (B, T) by n greedy tokens and returns (B, T + n), running model(...) on the
    last block_size tokens at each step, without gradients and without a cache."""
    model = _greedy_model()
    block = model.config.block_size
    calls: list[tuple[bool, bool]] = []  # (grad enabled, a cache passed) at each forward pass of the model

    def record(module: GPT, args: tuple, kwargs: dict) -> None:
        cached = kwargs.get("cache") is not None or (len(args) > 1 and args[1] is not None)
        calls.append((torch.is_grad_enabled(), cached))

    hook = model.register_forward_pre_hook(record, with_kwargs=True)
    g = torch.Generator().manual_seed(4)
    try:
        for B, T, n in [(1, 1, 5), (2, 3, 20), (3, 8, 1), (1, 12, 10), (2, 4, 0)]:
            idx = torch.randint(0, model.config.vocab_size, (B, T), generator=g)  # (B, T)
            text = f"{fn.__name__}(model with block_size={block}, idx of shape {(B, T)}, {n})"
            calls.clear()
            got = call(fn, model, idx.clone(), n, call_text=text,
                       crash_hint=f"crop the input to its last block_size tokens at every step, "
                                  f"seq[:, -model.config.block_size:]: this call goes past {block} tokens"
                       if T + n > block else None)
            reader_calls = list(calls)  # the reference below runs the model too
            if any(cached for _, cached in reader_calls):
                fail(text, "model(...) called without a cache", "a forward pass with a KV cache",
                     "use only model(seq[:, -block_size:]): no generate(), no cache")
            expected = model.generate(idx, n, temperature=0)  # (B, T + n)
            expect_equal(text, got, expected, mistakes={
                "this is only the new tokens: return the prompt followed by them, (B, T + n)":
                    lambda: expected[:, T:],
                "the logits of the first position were used: the next token comes from the last one, [:, -1]":
                    lambda: _greedy(model, idx, n, lambda s: s[:, -block:], position=0),
                "the input was cropped to its *first* block_size tokens: keep the last ones, seq[:, -block_size:]":
                    lambda: _greedy(model, idx, n, lambda s: s[:, :block]),
                "the window is one token short: crop to the last block_size tokens, seq[:, -block_size:]":
                    lambda: _greedy(model, idx, n, lambda s: s[:, -(block - 1):]),
            }, hint="at each step: logits = model(seq[:, -block_size:])[:, -1]; append logits.argmax(-1)")
            if any(grad for grad, _ in reader_calls):
                fail(text, "no gradients tracked", "forward passes with gradients enabled",
                     "decorate the function with @torch.no_grad() (or loop inside `with torch.no_grad():`)")
    finally:
        hook.remove()
    passed("greedy_decode matches model.generate(temperature=0), past the context too")
