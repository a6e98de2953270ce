"""Checks for chapter 8's exercises: temperature applied to probabilities, top-k and top-p with a setting per row
of the batch, and the repair of a KV-cache generation loop."""

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

from ._core import (Forbidden, call, describe, expect_equal, expect_close, fail, forbid, forbid_helpers, passed,
                    seeded_model)

NEG_INF = float("-inf")


# ---------------------------------------------------------------------------------- ex-08-temper
def check_temper_probs(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """`fn(probs, temperature)`: (B, V) probabilities -> the (B, V) distribution that sampling at that temperature
    draws from, p_i^(1/T) / sum_j p_j^(1/T) (softmax(log(p) / T)); zero probabilities stay 0; at temperature 0,
    probability 1 on each row's (first) largest probability. It must hold in float32 for small T over many tokens,
    where p ** (1 / T) underflows to 0."""
    g = torch.Generator().manual_seed(0)
    for B, V, spread in [(1, 5, 3.0), (3, 65, 3.0), (2, 1000, 1.0)]:
        p = torch.softmax(spread * torch.randn(B, V, generator=g), dim=-1)  # (B, V)
        p[:, 1::7] = 0.0  # tokens a filter already removed
        p = p / p.sum(dim=-1, keepdim=True)
        for T in [0.02, 0.3, 1.0, 2.0, 10.0]:
            text = f"{fn.__name__}(probabilities of shape {(B, V)}, {T})"
            got = call(fn, p.clone(), T, call_text=text)
            expected = torch.softmax(p.double().log() / T, dim=-1).float()
            powered = p ** (1 / T)
            expect_close(text, got, expected, atol=1e-6, rtol=1e-4, mistakes={
                "the probabilities were raised to the power T: tempering divides the log-probabilities by T, so "
                "the power is 1 / T": lambda: (p ** T) / (p ** T).sum(dim=-1, keepdim=True),
                "softmax(probs / T) treats the probabilities as logits: the logits are their logarithms (up to a "
                "constant), so take log(probs) / T before the softmax": lambda: torch.softmax(p / T, dim=-1),
                "p ** (1 / T) is not a distribution yet: divide each row by its sum": lambda: powered,
                "(p / p.max()) ** (1 / T) is not a distribution yet: divide each row by its sum":
                    lambda: (p / p.max(dim=-1, keepdim=True).values) ** (1 / T),
                "p ** (1 / T) underflowed in float32 (all of it, or the smaller tokens): divide each row by its "
                "largest probability first, (p / p.max(-1, keepdim=True).values) ** (1 / T), or work with "
                "log(p)": lambda: powered / powered.sum(dim=-1, keepdim=True),
                "each row was divided by the sum over the batch (dim=0): sum over the vocabulary, dim=-1":
                    lambda: powered / powered.sum(dim=0, keepdim=True),
                "the temperature is ignored: the result must change with T": lambda: p,
            }, hint="each row must be p ** (1 / T) renormalised, with 0 staying 0, and sum to 1")
        _check_greedy_distribution(fn, p)
    ties = torch.tensor([[0.1, 0.4, 0.4, 0.1], [0.25, 0.25, 0.25, 0.25]])  # the largest twice; all equal
    _check_greedy_distribution(fn, ties)
    passed("temper_probs matches softmax(log(p) / T), at T = 0.02 over 1,000 tokens and at T = 0 too")


def _check_greedy_distribution(fn: Callable[[torch.Tensor, float], torch.Tensor], p: torch.Tensor) -> None:
    """At temperature 0: a one-hot float distribution on the first largest probability of each row."""
    B, V = p.shape
    shown = describe(p) if p.numel() <= 8 else f"probabilities of shape {(B, V)}"
    text = f"{fn.__name__}({shown}, 0)"
    got = call(fn, p.clone(), 0, call_text=text,
               crash_hint="1 / 0 fails: handle temperature == 0 first (greedy decoding: all the mass on the argmax)")
    expected = F.one_hot(p.argmax(dim=-1), V).to(p.dtype)  # (B, V)
    largest = (p == p.max(dim=-1, keepdim=True).values).to(p.dtype)  # (B, V): 1 on every largest probability
    mistakes = {
        "this is the argmax itself: return a (B, V) distribution, F.one_hot(probs.argmax(-1), V)":
            lambda: p.argmax(dim=-1),
        "every tied largest probability got 1: put it all on the first one (argmax picks it)": lambda: largest,
        "the mass is shared among tied largest probabilities: put it all on the first one (argmax picks it)":
            lambda: largest / largest.sum(dim=-1, keepdim=True),
    }
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and not got.is_floating_point():
        fail(text, "float probabilities", f"dtype {got.dtype}",
             "F.one_hot gives integers: convert with .to(probs.dtype), so that it is a probability distribution")
    expect_equal(text, got, expected, mistakes=mistakes,
                 hint="at T = 0 each row is 1 on its largest probability (the first, if tied) and 0 elsewhere")


# ----------------------------------------------------------------------------- ex-08-filter-rows
def _no_package_filter(instead: str) -> Forbidden:
    """gpt2lite.generate's functions (filter_logits, sample_next, ...), which the exercise rebuilds, and the check's
    own reference and mistakes."""
    return forbid({gpt2lite.generate: "gpt2lite.generate"}, instead) + forbid_helpers(__name__)


def _rows(logits: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor, *, first_only: bool = False) -> torch.Tensor:
    """filter_logits row by row, each with its own k and p (or all with the first row's)."""
    return torch.cat([filter_logits(logits[i:i + 1], top_k=int(top_k[0 if first_only else i]),
                                    top_p=float(top_p[0 if first_only else i])) for i in range(logits.size(0))])


def _filter_mistakes(logits: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor, *, tail: str = "above",
                     kth: str = "value", p_one: bool = True, unsort: bool = True, fill: float = NEG_INF,
                     renormalise: bool = True) -> torch.Tensor:
    """Top-k then top-p with one setting per row, with switches that reproduce the classic mistakes. tail: the
    nucleus keeps a token whose mass "above" is below p (right), or whose "cumulative" mass (itself included) is at
    most p. kth: keep the logits >= the k-th largest "value" (right), the first k "ranks", or the logits >= the
    "next" value (k + 1-th). p_one: p = 1 skips top-p. renormalise: top-p measures the softmax of what top-k kept."""
    V = logits.size(-1)
    ordered, order = torch.sort(logits, dim=-1, descending=True)  # (B, V)
    k = top_k.clamp(max=V)[:, None]  # (B, 1)
    ranks = torch.arange(V)[None, :]  # (1, V)
    if kth == "ranks":
        top = ranks < k
    else:
        threshold = ordered.gather(-1, (k - (1 if kth == "value" else 0)).clamp(max=V - 1))
        top = ordered >= threshold
    kept = ordered.masked_fill(~top, NEG_INF)
    probs = torch.softmax(kept if renormalise else ordered, dim=-1)
    cumulative = torch.cumsum(probs, dim=-1)
    outside = cumulative - probs >= top_p[:, None] if tail == "above" else cumulative > top_p[:, None]
    if p_one:
        outside &= top_p[:, None] < 1.0
    kept = kept.masked_fill(outside, NEG_INF)
    kept = torch.where(kept == NEG_INF, torch.full_like(kept, fill), kept)
    return torch.full_like(logits, fill).scatter(-1, order, kept) if unsort else kept


def check_filter_per_row(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """`fn(logits, top_k, top_p)`: logits (B, V), top_k (B,) integers >= 1, top_p (B,) in (0, 1]. Row i is filtered
    with its own top_k[i] and then top_p[i], exactly as filter_logits(logits[i:i+1], top_k=k_i, top_p=p_i): top-k
    keeps the logits >= the row's k-th largest (k >= V keeps all), then top-p keeps the nucleus of the softmax of
    what top-k kept (p = 1 keeps all). Everything else is -inf. gpt2lite.generate's functions are refused."""
    g = torch.Generator().manual_seed(1)
    cases = [
        (2 * torch.randn(4, 10, generator=g), [3, 10, 1, 5], [0.9, 0.5, 0.7, 0.6]),
        (3 * torch.randn(6, 65, generator=g), [5, 65, 100, 20, 2, 64], [0.9, 0.95, 0.3, 1e-9, 1.0, 0.8]),
        (torch.tensor([[0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]]).log(), [3], [0.45]),  # top-k changes the nucleus
        (torch.randn(3, 30, generator=g), [8, 4, 30], [0.6, 0.7, 0.5]),
        (torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0]]), [2, 3], [1.0, 1.0]),  # ties at k
        (torch.tensor([[20.0, 0.0, -1.0, 2.0], [20.0, 0.0, -1.0, 2.0]]), [4, 3], [1.0, 1.0]),  # 1 - mass rounds to 0
        (torch.randn(1, 1, generator=g), [1], [0.5]),
    ]
    forbidden = _no_package_filter(
        "write the filter with tensor operations, for all rows at once: sort each row (descending), keep the logits "
        ">= the k-th largest (ordered.gather(-1, top_k[:, None] - 1)), softmax what is kept, mass above = cumsum - "
        "probs, -inf where it is >= top_p[:, None], and scatter back to the original order")
    for logits, ks, ps in cases:
        B, V = logits.shape
        top_k, top_p = torch.tensor(ks), torch.tensor(ps)
        shown = describe(logits) if logits.numel() <= 8 else f"logits of shape {(B, V)}"
        text = f"{fn.__name__}({shown}, top_k={ks}, top_p={ps})"
        got = call(fn, logits.clone(), top_k.clone(), top_p.clone(), call_text=text, forbidden=forbidden,
                   crash_hint="make each row's setting a (B, 1) column, top_k[:, None] and top_p[:, None], so that "
                              "it broadcasts against the (B, V) logits; k can be V or more (clamp it)")

        def wrong(**mistake):
            return lambda: _filter_mistakes(logits, top_k, top_p, **mistake)

        expect_equal(text, got, _rows(logits, top_k, top_p), mistakes={
            "every row was filtered with the first row's top_k and top_p: use top_k[i] and top_p[i] for row i "
            "(as (B, 1) columns)": lambda: _rows(logits, top_k, top_p, first_only=True),
            "the nucleus was measured on the full distribution: top-p must take the softmax of the logits that "
            "top-k kept (they renormalise), not of all of them (this is also what top-p before top-k gives)":
                wrong(renormalise=False),
            "ties with the k-th largest logit were dropped: keep every logit >= the k-th largest value, not the "
            "first k ranks of the sort": wrong(kth="ranks"),
            "one logit too many was kept: the k-th largest is at sorted index k - 1 (indices start at 0)":
                wrong(kth="next"),
            "the token that crosses p was dropped (and a tiny p keeps nothing): compare the mass *above* each "
            "token, cumsum(probs) - probs, with p": wrong(tail="cumulative"),
            "p = 1 must keep every token that top-k kept (rounding can push the mass above the last ones to "
            "1.0): skip top-p in the rows where p >= 1": wrong(p_one=False),
            "the kept logits are still in sorted order: scatter them back to their original positions":
                wrong(unsort=False),
            "the filtered logits must be -inf (so that their probability is exactly 0), not 0":
                wrong(fill=0.0),
        }, hint="row i must equal filter_logits(logits[i:i+1], top_k=top_k[i], top_p=top_p[i]): top-k first, "
                "then top-p on the softmax of what top-k kept")
    passed("filter_per_row matches filter_logits row by row (a k and a p per row; ties, k >= V, p = 1 and "
           "a tiny p included)")


# ---------------------------------------------------------------------------- ex-08-repetition
def _sequences(model: GPT, prompt: torch.Tensor, n: int, temperatures: list[float], seed: int,
               shared: bool = False) -> list[list[int]]:
    """The prompt and n sampled tokens at each temperature, each from a fresh generator seeded by seed (or from one
    generator shared by all the temperatures), as lists of ids."""
    generator = torch.Generator().manual_seed(seed)
    runs = []
    for T in temperatures:
        generator = generator if shared else torch.Generator().manual_seed(seed)
        runs.append(model.generate(prompt, n, temperature=T, generator=generator)[0].tolist())
    return runs


def _repeats(seq: list[int], start: int, size: int = 4, itself: bool = False, earlier_from: int = 0) -> int:
    """How many positions j >= start end a `size`-gram that already ended at an earlier position i (i < j; i <= j
    if `itself`; only i >= earlier_from + size - 1 with `earlier_from`)."""
    seen: set[tuple[int, ...]] = set()
    count = 0
    for j in range(size - 1, len(seq)):
        gram = tuple(seq[j - size + 1:j + 1])
        if j - size + 1 >= earlier_from and itself:
            seen.add(gram)
        if j >= start and gram in seen:
            count += 1
        if j - size + 1 >= earlier_from:
            seen.add(gram)
    return count


def check_repetition_rates(fn: Callable[[GPT, torch.Tensor, int, list[float], int], list[float]]) -> None:
    """`fn(model, prompt, n, temperatures, seed)`: for each temperature, n tokens after prompt (1, P) from
    model.generate(prompt, n, temperature=T, generator=torch.Generator().manual_seed(seed)), and the fraction of the
    n new tokens that end a 4-gram which already ended at an earlier position of prompt + tokens. The check re-runs
    the measurement on a small model and prints what it measured."""
    model = _kv_models()[0]
    g = torch.Generator().manual_seed(9)
    measured = []
    looping = model.generate(torch.randint(0, model.config.vocab_size, (1, 3), generator=g), 20, temperature=0)
    for prompt, n, temperatures, seed in [(torch.randint(0, model.config.vocab_size, (1, 3), generator=g), 40,
                                           [0.0, 0.5, 1.0], 0),
                                          (looping[:, -5:], 16, [0.3, 0.0], 3)]:  # a prompt from a greedy loop
        P = prompt.size(1)
        text = f"{fn.__name__}(model, prompt of {P} tokens, {n}, {temperatures}, seed={seed})"
        got = call(fn, model, prompt.clone(), n, list(temperatures), seed, call_text=text,
                   forbidden=forbid_helpers(__name__))
        runs = _sequences(model, prompt, n, temperatures, seed)
        expected = [_repeats(seq, P) / n for seq in runs]
        if not isinstance(got, (list, tuple)) or len(got) != len(temperatures):
            fail(text, f"a list of {len(temperatures)} fractions, one per temperature", describe(got),
                 "return one number per temperature, in the order of `temperatures`")
        got = [float(v) for v in got]
        if not all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(got, expected)):
            mistakes = {
                "every temperature must start from the same random numbers: seed a fresh "
                "torch.Generator().manual_seed(seed) for each temperature, not one for all of them":
                    lambda: [_repeats(seq, P) / n for seq in _sequences(model, prompt, n, temperatures, seed, True)],
                "each 4-gram was found at its own position (every token counts): look only at the 4-grams that "
                "ended at an *earlier* position": lambda: [_repeats(seq, P, itself=True) / n for seq in runs],
                "these are counts: divide by n, the number of new tokens": lambda: [float(_repeats(seq, P))
                                                                                    for seq in runs],
                "this is a fraction of the whole sequence: divide by n, the number of new tokens, not P + n":
                    lambda: [_repeats(seq, P) / (P + n) for seq in runs],
                "the prompt's 4-grams count as earlier ones too: compare with every 4-gram of prompt + tokens":
                    lambda: [_repeats(seq, P, earlier_from=P) / n for seq in runs],
                "these are 3-grams: a repeat ends a 4-gram (4 tokens, seq[j - 3 : j + 1]) seen before":
                    lambda: [_repeats(seq, P, size=3) / n for seq in runs],
            }
            hint = next((h for h, wrong in mistakes.items()
                         if all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(got, wrong()))),
                        "generate with model.generate(prompt, n, temperature=T, generator=torch.Generator()"
                        ".manual_seed(seed)); then, for each new position j, is seq[j - 3 : j + 1] among the "
                        "4-grams that ended before j?")
            fail(text, "[" + ", ".join(f"{v:.4f}" for v in expected) + "]",
                 "[" + ", ".join(f"{v:.4f}" for v in got) + "]", hint)
        measured.append(", ".join(f"T = {T:g}: {v:.2f}" for T, v in zip(temperatures, got)))
    passed(f"repetition_rates measured the 4-gram repeats of the check's small model ({measured[0]}), "
           "as the check's own run")


# ------------------------------------------------------------------------------- ex-08-kv-bug
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
def _slot_greedy(model: GPT, idx: torch.Tensor, n: int, *, advance: str = "tokens",
                 mask: str = "shifted") -> torch.Tensor:
    """Greedy generation with a cache of preallocated slots, as in the exercise, with switches for the mistakes.
    advance: after each pass the first free slot moves by the "tokens" fed (right), by "one", or "none". mask: the
    causal mask over (t, pos + t) slots is "shifted" by pos (right), aligned to the "top left", or "none"."""
    tr, cfg = model.transformer, model.config
    B, T = idx.shape
    H, C = cfg.n_head, cfg.n_embd
    keys = torch.zeros(cfg.n_layer, B, H, T + n, C // H)
    values = torch.zeros_like(keys)
    seq, fed, pos = idx, idx, 0
    for _ in range(n):
        t = fed.size(1)
        end = pos + t
        x = tr.wte(fed) + tr.wpe(torch.arange(pos, end))
        for i, block in enumerate(tr.h):
            q, k, v = block.attn.c_attn(block.ln_1(x)).view(B, t, 3, H, C // H).permute(2, 0, 3, 1, 4)
            keys[i, :, :, pos:end], values[i, :, :, pos:end] = k, v
            allowed = torch.ones(t, end, dtype=torch.bool).tril({"shifted": pos, "top left": 0, "none": end}[mask])
            y = F.scaled_dot_product_attention(q, keys[i, :, :, :end], values[i, :, :, :end], attn_mask=allowed)
            x = x + block.attn.c_proj(y.transpose(1, 2).reshape(B, t, C))
            x = x + block.mlp(block.ln_2(x))
        pos = {"tokens": end, "one": pos + 1, "none": 0}[advance]
        fed = model.lm_head(tr.ln_f(x[:, -1])).argmax(dim=-1, keepdim=True)  # (B, 1)
        seq = torch.cat([seq, fed], dim=1)
    return seq


def check_cached_greedy(fn: Callable[[GPT, torch.Tensor, int], torch.Tensor]) -> None:
    """`fn(model, idx, n)`, the repaired `cached_greedy`: idx (B, T) continued by n greedy tokens, T + n <=
    block_size, through a cache of its own (the prompt once, then one token per step). The tokens (B, T + n) must
    equal greedy decoding without a cache. gpt2lite's generation, its cache and model(...) are refused."""
    cases = [(0, 1, 3, 5), (0, 2, 2, 6), (0, 1, 1, 7), (0, 2, 7, 1), (1, 3, 4, 8), (1, 2, 6, 6)]  # (model, B, T, n)
    g = torch.Generator().manual_seed(8)
    for which, B, T, n in cases:
        model = _kv_models()[which]
        cfg = model.config
        idx = torch.randint(0, cfg.vocab_size, (B, T), generator=g)  # (B, T)
        expected = model.generate(idx, n, temperature=0, use_cache=False)  # (B, T + n)
        text = (f"{fn.__name__}(model with n_layer={cfg.n_layer}, n_head={cfg.n_head}, block_size={cfg.block_size}, "
                f"idx of shape {(B, T)}, {n})")
        got, rows = _run_refusing_package_cache(fn, model, idx, n, text)
        if max(rows, default=0) > T + n:
            fail(text, f"at most {T + n} positions through each block's c_attn (the prompt once, then one "
                       "token per step)", f"{max(rows)} positions",
                 "the prompt is run again at every step: keep the cache and feed only the newest token; repair "
                 "the cache's bookkeeping instead of bypassing it")
        expect_equal(text, got, expected, mistakes={
            "this is the bug itself, pos += 1: after the prompt the first free slot is T, not 1, so the new "
            "token's key overwrites the prompt's slot 1 and its position restarts at 1; advance pos by the tokens "
            "just fed (pos += t, or pos = end)": lambda: _slot_greedy(model, idx, n, advance="one"),
            "the cache position never moves: every new token is written to slot 0, at position 0, and attends "
            "to itself alone; advance pos by the tokens just fed": lambda: _slot_greedy(model, idx, n, advance="none"),
            "this is only the new tokens: return the prompt followed by them, (B, T + n)": lambda: expected[:, T:],
            "the new token sees only the first cached key: the causal mask over pos + t slots must be shifted by "
            "pos, tril(pos) (is_causal=True aligns it to the top left)":
                lambda: _slot_greedy(model, idx, n, mask="top left"),
            "the prompt needs the causal mask: in the first pass position j may see only slots 0 .. j":
                lambda: _slot_greedy(model, idx, n, mask="none"),
        }, hint="every pass writes its t keys and values at slots pos .. pos + t - 1, at positions pos .. pos + t - 1, "
                "and the next pass starts at pos + t")
    passed("cached_greedy matches greedy decoding without a cache (prompts of 1 to 7 tokens, batches, "
           "2 and 3 layers)")


def _run_refusing_package_cache(fn: Callable, model: GPT, idx: torch.Tensor, n: int,
                                text: str) -> tuple[object, list[int]]:
    """Call fn(model, idx, n) with gpt2lite's generation, its KV cache and model(...) refused (by the shared guard;
    a cache passed to a block's attention by a hook), and count the positions that went through each block's c_attn
    (a prompt run again at every step shows up there)."""
    rows = [0] * len(model.transformer.h)
    instead = ("repair the loop: it keeps its own cache; model.generate, model.new_cache, model(...) and "
               "model(..., cache=...) bypass what the exercise is about")
    forbidden = forbid({gpt2lite.generate.generate: "model.generate", gpt2lite.generate.stream: "model.stream",
                        gpt2lite.generate._stream: "gpt2lite.generate._stream", GPT.new_cache: "model.new_cache",
                        GPT.forward: "model", KVCache: "gpt2lite.attention.KVCache"}, instead)

    def no_package_cache(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        if kwargs.get("cache") is not None or (len(args) > 2 and args[2] is not None):
            fail(text, "generation with a cache of your own", "a call to gpt2lite's own KV cache", instead)

    def counter(i: int) -> Callable:
        def count(module: torch.nn.Module, args: tuple) -> None:
            if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 3:
                rows[i] += args[0].size(1)
        return count

    hooks = [block.attn.register_forward_pre_hook(no_package_cache, with_kwargs=True) for block in model.transformer.h]
    hooks += [block.attn.c_attn.register_forward_pre_hook(counter(i)) for i, block in enumerate(model.transformer.h)]
    try:
        return call(fn, model, idx.clone(), n, call_text=text, forbidden=forbidden + forbid_helpers(__name__),
                    crash_hint="the cache holds (n_layer, B, n_head, T + n, head_dim): each pass writes its t "
                               "slots from pos and attends over slots 0 .. pos + t - 1"), rows
    finally:
        for hook in hooks:
            hook.remove()
