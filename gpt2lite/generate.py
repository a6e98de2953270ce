"""Auto-regressive generation: predict a token, append it, feed the longer sequence back in.

``sample_next`` turns the last position's logits into a token (greedy, temperature, top-k, top-p);
``stream`` runs the loop, with a KV cache by default; ``generate`` collects what ``stream`` yields.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from .validate import in_range, integer, number

if TYPE_CHECKING:  # model.py imports this module, so only type checkers import it back
    from .model import GPT


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set to -inf every logit outside the top-k tokens and outside the top-p nucleus. logits: (B, V)."""
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))  # ties with the k-th are kept
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = torch.cumsum(probs, dim=-1) - probs  # probability of the tokens ranked above each one
        sorted_logits = sorted_logits.masked_fill(mass_before >= top_p, float("-inf"))  # the top token always stays
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pick the next token from the last position's logits (B, V) -> (B,).

    temperature == 0 is greedy decoding (argmax); otherwise the logits are divided by the
    temperature, filtered by top-k / top-p, and a token is drawn from the softmax.
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float()
    scaled = logits / temperature
    # A tiny temperature overflows float32 (1.0 / 1e-39 is inf, and softmax of inf is nan). Where it does, shift each
    # row by its largest logit first (softmax does not change): the largest becomes 0, not inf. torch.where, not an
    # if, so that a GPU never waits for this check.
    overflow = ~scaled.amax(dim=-1, keepdim=True).isfinite()  # (B, 1)
    shifted = (logits - logits.amax(dim=-1, keepdim=True)) / max(temperature, torch.finfo(torch.float32).tiny)
    logits = filter_logits(torch.where(overflow, shifted, scaled), top_k, top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)


def _check_sampling_args(
    model: GPT, max_new_tokens: int, temperature: float, top_k: int | None, top_p: float | None, stop_token: int | None
) -> tuple[int, float, int | None, float | None, int | None]:
    """The sampling settings checked, as plain Python numbers (np.int64 and friends accepted)."""
    n = integer("max_new_tokens", max_new_tokens, minimum=0)
    t = number("temperature", temperature)
    in_range("temperature", t, 0 <= t < math.inf, "a number >= 0 and finite (0 means greedy)")
    k = None if top_k is None else integer("top_k", top_k, minimum=1)
    p = None if top_p is None else number("top_p", top_p)
    if p is not None:
        in_range("top_p", p, 0 < p <= 1, "None or in (0, 1]")
    token = None if stop_token is None else integer("stop_token", stop_token)
    if token is not None and not 0 <= token < model.config.vocab_size:
        raise ValueError(f"stop_token {token} is outside the vocabulary [0, {model.config.vocab_size})")
    return n, t, k, p, token


@torch.no_grad()
def _next_logits(model: GPT, seq: torch.Tensor, cache) -> torch.Tensor:
    """Logits (B, V) for the token after seq (B, L), looking at no more than the last block_size tokens."""
    window = model.config.block_size
    if cache is None:
        return model(seq[:, -window:], last_only=True)[:, -1]
    if cache.pos == 0 or seq.size(1) > window:
        # First step, or past the context: positions shift every step, so the cached keys (computed
        # at other positions) no longer apply. Refill the cache from the last `window` tokens.
        cache.reset()
        return model(seq[:, -window:], cache=cache, last_only=True)[:, -1]
    return model(seq[:, -1:], cache=cache)[:, -1]  # only the newest token: everything else is cached


def stream(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    stop_token: int | None = None,
) -> Iterator[torch.Tensor]:
    """Yield max_new_tokens new tokens, each of shape (B,), one generation step at a time.

    A prompt longer than the context is cropped to its last block_size tokens, and generation
    continues past the context with a sliding window. Once a row has produced ``stop_token`` it
    keeps repeating it; the stream ends early when every row has stopped. The model is put in
    eval mode while generating (no dropout) and restored afterwards. ``use_cache`` applies to causal
    models only: a bidirectional model is always run on the whole window.
    """
    max_new_tokens, temperature, top_k, top_p, stop_token = _check_sampling_args(
        model, max_new_tokens, temperature, top_k, top_p, stop_token)
    window = model.config.block_size
    model._check_input(idx[:, -window:] if isinstance(idx, torch.Tensor) and idx.dim() == 2 else idx, past=0)
    model.check_token_ids(idx)  # once for the prompt: the tokens generated after it are in range by construction
    return _stream(model, idx, max_new_tokens, temperature, top_k, top_p, use_cache, generator, stop_token)


def _stream(model, idx, max_new_tokens, temperature, top_k, top_p, use_cache, generator, stop_token):
    """The generation loop behind ``stream`` (a separate generator, so that ``stream`` checks its arguments at once)."""
    was_training = model.training
    model.eval()
    try:
        seq = idx
        # A cache only holds for causal attention: in a bidirectional model every new token changes the keys
        # and values of all earlier positions, so there each step recomputes the whole window.
        cache = model.new_cache(idx.size(0)) if use_cache and model.config.causal else None
        finished = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)  # (B,)
        for _ in range(max_new_tokens):
            logits = _next_logits(model, seq, cache)  # (B, V)
            token = sample_next(logits, temperature, top_k, top_p, generator)  # (B,)
            if stop_token is not None:
                token = token.masked_fill(finished, stop_token)
                finished |= token == stop_token
            seq = torch.cat([seq, token[:, None].to(seq.dtype)], dim=1)  # (B, L + 1)
            yield token
            if stop_token is not None and bool(finished.all()):
                return
    finally:
        model.train(was_training)


def generate(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    stop_token: int | None = None,
) -> torch.Tensor:
    """The prompt followed by the generated tokens: (B, T + n), n = max_new_tokens unless every row stopped early."""
    new = list(stream(model, idx, max_new_tokens, temperature, top_k, top_p, use_cache, generator, stop_token))
    if not new:
        return idx.clone()
    return torch.cat([idx, torch.stack(new, dim=1).to(idx.dtype)], dim=1)
