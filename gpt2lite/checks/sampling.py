"""Checks for chapter 8's exercises: temperature, the top-k and top-p filters, a greedy decoding loop, and greedy
generation with a KV cache written by hand."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F

import gpt2lite.generate
from gpt2lite.attention import KVCache
from gpt2lite.config import GPTConfig
from gpt2lite.generate import filter_logits
from gpt2lite.model import GPT

from ._core import (Forbidden, call, describe, expect_close, expect_equal, fail, forbid, forbid_helpers, passed,
                    seeded_model)

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


def _no_filter_logits(instead: str) -> Forbidden:
    """gpt2lite's own filter, which the top-k and top-p exercises rebuild, and the check's reference."""
    return forbid({filter_logits: "gpt2lite.generate.filter_logits"}, instead) + forbid_helpers(__name__)


def _no_generation(instead: str) -> Forbidden:
    """gpt2lite's generation loop and KV cache (model.generate, model.stream, model.new_cache, KVCache), which the
    decoding exercises rebuild."""
    return forbid({gpt2lite.generate.generate: "model.generate", gpt2lite.generate.stream: "model.stream",
                   gpt2lite.generate._stream: "gpt2lite.generate._stream", GPT.new_cache: "model.new_cache",
                   KVCache: "gpt2lite.attention.KVCache"}, instead) + forbid_helpers(__name__)


# --------------------------------------------------------------------------------- ex-08-topk
def check_top_k_filter(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
    """`fn(logits, k)`: (B, V) logits with every logit below its row's k-th largest set to -inf (ties with the k-th
    kept); unchanged for k >= V. Must equal gpt2lite.generate.filter_logits(logits, top_k=k)."""
    g = torch.Generator().manual_seed(1)
    cases = [(torch.randn(1, 10, generator=g), k) for k in [1, 3, 9, 10, 50]]
    cases += [(torch.randn(4, 65, generator=g), k) for k in [1, 5, 64]]
    cases += [(torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0]]), 2)]  # ties
    cases += [(torch.tensor([[5.0, NEG_INF, 1.0, 2.0]]), 3)]  # a token already filtered out
    forbidden = _no_filter_logits("keep the k-th largest of each row, torch.topk(logits, k, dim=-1).values[:, -1:], "
                                  "and masked_fill the logits below it with -inf")
    for logits, k in cases:
        B, V = logits.shape
        shown = describe(logits) if logits.numel() <= 8 else f"logits of shape {(B, V)}"
        text = f"{fn.__name__}({shown}, {k})"
        got = call(fn, logits.clone(), k, call_text=text, forbidden=forbidden,
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
    forbidden = _no_filter_logits("sort descending with torch.sort, softmax, mass above = cumsum - probs, "
                                  "masked_fill with -inf where it is >= p, then scatter back to the original order")
    for logits, p in cases:
        B, V = logits.shape
        shown = describe(logits) if logits.numel() <= 8 else f"logits of shape {(B, V)}"
        text = f"{fn.__name__}({shown}, {p})"
        got = call(fn, logits.clone(), p, call_text=text, forbidden=forbidden)
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
    forbidden = _no_generation("write the loop yourself: logits = model(seq[:, -block_size:])[:, -1], then append "
                               "logits.argmax(-1, keepdim=True) with torch.cat, n times")
    g = torch.Generator().manual_seed(4)
    try:
        for B, T, n in [(1, 1, 5), (2, 3, 20), (3, 8, 1), (1, 12, 10), (2, 4, 0)]:
            idx = torch.randint(0, model.config.vocab_size, (B, T), generator=g)  # (B, T)
            text = f"{fn.__name__}(model with block_size={block}, idx of shape {(B, T)}, {n})"
            calls.clear()
            got = call(fn, model, idx.clone(), n, call_text=text, forbidden=forbidden,
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


# ------------------------------------------------------------------------------ ex-08-kvcache
@lru_cache(maxsize=None)
def _kv_models() -> tuple[GPT, ...]:
    """Two tiny GPTs with weights 5 times larger than at init (sharp predictions, so that every mistake shows): three
    layers of two heads, and two layers of four heads without biases."""
    models = []
    for config, seed in [(GPTConfig(vocab_size=30, block_size=8, n_layer=3, n_head=2, n_embd=16), 5),
                         (GPTConfig(vocab_size=40, block_size=12, n_layer=2, n_head=4, n_embd=32, bias=False), 6)]:
        model = seeded_model(config, seed).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(5)
        models.append(model)
    return tuple(models)


@torch.no_grad()
def _package_logits(model: GPT, idx: torch.Tensor, n: int) -> torch.Tensor:
    """The logits (B, n, V) of n greedy steps through gpt2lite's own KV cache: the prompt once, then one token."""
    cache = model.new_cache(idx.size(0))
    fed, steps = idx, []
    for _ in range(n):
        logits = model(fed, cache=cache, last_only=True)[:, -1]  # (B, V)
        fed = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
        steps.append(logits)
    return torch.stack(steps, dim=1)


@torch.no_grad()
def _cached_greedy(model: GPT, idx: torch.Tensor, n: int, *, offset: str = "cached", cached_layers: str = "all",
                   store: str = "every step", mask: str = "shifted") -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy generation with a KV cache kept per block by hand: tokens (B, T + n) and logits (B, n, V).

    The default is right; the switches reproduce the classic mistakes. offset: "cached" starts the positions after
    the tokens fed so far, "none" at 0 in every pass, "cache length" at the length of block 0's cache.
    cached_layers: "all" blocks keep a cache, or only the "last". store: the cache gets the keys and values of
    "every step", of the "prompt" only, or "nothing". mask: the causal mask over (T, past + T) is "shifted" by the
    cached positions, aligned to the "top left" (query i sees keys 0 .. i, as is_causal=True does), or "none".
    """
    blocks = model.transformer.h
    H, C = model.config.n_head, model.config.n_embd
    keep = range(len(blocks)) if cached_layers == "all" else [len(blocks) - 1]
    caches: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(blocks)
    seq, fed, steps, done = idx, idx, [], 0
    for step in range(n):
        B, T = fed.shape
        start = {"cached": done, "none": 0,
                 "cache length": 0 if caches[0] is None else caches[0][0].size(2)}[offset]
        x = model.transformer.wte(fed) + model.transformer.wpe(torch.arange(start, start + T))  # (B, T, C)
        for i, block in enumerate(blocks):
            q, k, v = block.attn.c_attn(block.ln_1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hd)
            if i in keep and caches[i] is not None:
                k, v = torch.cat([caches[i][0], k], dim=2), torch.cat([caches[i][1], v], dim=2)
            if i in keep and (store == "every step" or store == "prompt" and step == 0):
                caches[i] = (k, v)
            past = k.size(2) - T
            scores = q @ k.transpose(-2, -1) / math.sqrt(C // H)  # (B, H, T, past + T)
            allowed = torch.ones(T, past + T, dtype=torch.bool).tril(diagonal={"shifted": past, "top left": 0,
                                                                               "none": past + T}[mask])
            y = scores.masked_fill(~allowed, NEG_INF).softmax(dim=-1) @ v  # (B, H, T, hd)
            x = x + block.attn.c_proj(y.transpose(1, 2).reshape(B, T, C))
            x = x + block.mlp(block.ln_2(x))
        done += T
        logits = model.lm_head(model.transformer.ln_f(x[:, -1]))  # (B, V)
        fed = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
        seq = torch.cat([seq, fed], dim=1)
        steps.append(logits)
    return seq, torch.stack(steps, dim=1)


_NOT_APPENDED = "the cache is not appended to: "


def _kv_mistakes(model: GPT, idx: torch.Tensor, n: int) -> dict[str, Callable[[], torch.Tensor]]:
    """What the classic mistakes of a hand-written KV cache give as logits, each with the hint that explains it."""
    def logits(**mistake: str) -> Callable[[], torch.Tensor]:
        return lambda: _cached_greedy(model, idx, n, **mistake)[1]

    return {
        "the position embedding restarts at 0 at every step: offset it by the number of cached tokens, "
        "wpe(torch.arange(past, past + T))": logits(offset="none"),
        "only the last block keeps a cache: every block needs its own keys and values (a list with one "
        "(k, v) pair per block), the earlier blocks too": logits(cached_layers="last"),
        _NOT_APPENDED + "it still holds only the prompt's keys and values; at every step, store "
        "torch.cat([cached, new], dim=2) back in each block's cache": logits(store="prompt"),
        _NOT_APPENDED + "the new token attends over itself alone; keep each block's keys and values and append "
        "every step's with torch.cat([cached, new], dim=2)": logits(store="nothing"),
        _NOT_APPENDED + "the cache stays empty, so the new token sees only itself and its position restarts at "
        "0; store torch.cat([cached, new], dim=2) back in each block's cache":
            logits(store="nothing", offset="cache length"),
        "the new token sees only the first cached key: the causal mask over (T, past + T) keys must be shifted by "
        "the cached tokens, tril(diagonal=past) (is_causal=True aligns it to the top left; one new query needs no "
        "mask)": logits(mask="top left"),
        "the prompt needs a causal mask: in the first pass position i may see only positions 0 .. i (the later "
        "blocks' keys and values are computed from those states)": logits(mask="none"),
    }


def check_kv_generate(fn: Callable[[GPT, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]) -> None:
    """`fn(model, idx, n)` continues idx (B, T) by n greedy tokens, T + n <= block_size, with a KV cache written by
    hand: every block keeps its own keys and values (B, n_head, t, head_dim), appends each step's, and the new
    query attends over all of them; the positions continue after the cached tokens. Returns the tokens
    (B, T + n) and the logits of every step (B, n, vocab_size), which must match gpt2lite's cached forward pass.
    gpt2lite's own cache (model.generate, model.new_cache, model(..., cache=...)) is refused."""
    cases = [(0, 1, 1, 6), (0, 2, 3, 5), (0, 1, 7, 1), (0, 2, 1, 7), (1, 3, 2, 10), (1, 2, 5, 4)]  # (model, B, T, n)
    g = torch.Generator().manual_seed(8)
    for which, B, T, n in cases:
        model = _kv_models()[which]
        cfg = model.config
        idx = torch.randint(0, cfg.vocab_size, (B, T), generator=g)  # (B, T)
        expected_logits = _package_logits(model, idx, n)  # (B, n, V), before the package's cache is refused
        expected = model.generate(idx, n, temperature=0)  # (B, T + n)
        text = (f"{fn.__name__}(model with n_layer={cfg.n_layer}, n_head={cfg.n_head}, block_size={cfg.block_size}, "
                f"idx of shape {(B, T)}, {n})")
        got, rows = _run_refusing_package_cache(fn, model, idx, n, text)
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)):
            fail(text, f"(tokens of shape {(B, T + n)}, logits of shape {(B, n, cfg.vocab_size)})", describe(got),
                 "return two tensors: the prompt followed by the new tokens, and every step's logits stacked on "
                 "dim 1, torch.stack(steps, dim=1)")
        tokens, logits = got
        if max(rows, default=0) > T + n:
            fail(text, f"at most {T + n} positions through each block's c_attn (the prompt once, then one "
                       "token per step)", f"{max(rows)} positions",
                 "the prompt is run again at every step: after the first pass feed only the newest token; its "
                 "keys and values are the only new ones, the rest are in the cache")
        expect_close(f"{text}: the logits", logits, expected_logits, atol=1e-4, rtol=1e-4,
                     mistakes=_kv_mistakes(model, idx, n),
                     hint="in every block: positions start at the number of cached tokens; append the new keys "
                          "and values (B, n_head, T, head_dim) to that block's cache, then attend over all of "
                          "them; logits (B, n, vocab_size), one row per step")
        expect_equal(f"{text}: the tokens", tokens, expected, mistakes={
            "this is only the new tokens: return the prompt followed by them, (B, T + n)": lambda: expected[:, T:],
        }, hint="greedy: append logits.argmax(-1) at every step and return the whole sequence")
        if logits.requires_grad:
            fail(text, "no gradients tracked", "logits that require grad",
                 "decorate the function with @torch.no_grad(): a cache that keeps autograd's graph grows with "
                 "every step")
    passed("kv_generate matches gpt2lite's cached forward pass (prompt of 1, a full context, batches, "
           "2 and 3 layers)")


def _run_refusing_package_cache(fn: Callable, model: GPT, idx: torch.Tensor, n: int,
                                text: str) -> tuple[object, list[int]]:
    """Call fn(model, idx, n) with gpt2lite's KV cache refused (its generation loop and cache by the shared guard, a
    cache passed to the model's attention by a hook), and count the positions that went through each block's c_attn
    (a prompt run again at every step shows up there)."""
    rows = [0] * len(model.transformer.h)
    instead = ("write the cache yourself: model.generate, model.new_cache and model(..., cache=...) are what this "
               "exercise rebuilds; use the blocks' ln_1, attn.c_attn, attn.c_proj, ln_2 and mlp")

    def refuse() -> None:
        fail(text, "generation with a KV cache of your own", "a call to gpt2lite's own KV cache", instead)

    def no_package_cache(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        if kwargs.get("cache") is not None or (len(args) > 1 and args[1] is not None):
            refuse()

    def counter(i: int) -> Callable:
        def count(module: torch.nn.Module, args: tuple) -> None:
            if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 3:
                rows[i] += args[0].size(1)
        return count

    hooks = [block.attn.register_forward_pre_hook(no_package_cache, with_kwargs=True) for block in model.transformer.h]
    hooks += [block.attn.c_attn.register_forward_pre_hook(counter(i)) for i, block in enumerate(model.transformer.h)]
    try:
        return call(fn, model, idx.clone(), n, call_text=text, forbidden=_no_generation(instead),
                    crash_hint="keep each block's keys and values as (B, n_head, t, head_dim) and append the new "
                               "ones along dim 2, torch.cat([cached, new], dim=2)"), rows
    finally:
        for hook in hooks:
            hook.remove()
