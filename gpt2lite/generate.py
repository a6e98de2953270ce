"""Auto-regressive generation: predict a token, append it, feed the longer sequence back in.

``SamplingConfig`` holds how each token is picked (greedy, temperature, top-k, top-p, a stop token), checked once;
``sample_next`` turns the last position's logits into a token with it; ``stream`` runs the loop, with a KV cache by
default; ``generate`` collects what ``stream`` yields. A new sampling rule is a field of SamplingConfig and a line of
``sample_next``: the loop and its callers pass the config on unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
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


@dataclass(frozen=True)
class SamplingConfig:
    """How to pick each next token, checked once when it is made.

    ``generate`` and ``stream`` take one (``sampling=``), its fields as keyword arguments (``temperature=0.8``),
    or both: the keywords then replace the config's fields.
    """

    temperature: float = 1.0  # 0 is greedy decoding (argmax); below 1 sharper, above 1 flatter
    top_k: int | None = None  # keep only the k most likely tokens
    top_p: float | None = None  # keep only the smallest set of tokens whose probability reaches p (the nucleus)
    stop_token: int | None = None  # a row that produces it stops (and repeats it while the others go on)

    def __post_init__(self) -> None:
        t = number("temperature", self.temperature)
        in_range("temperature", t, 0 <= t < math.inf, "a number >= 0 and finite (0 means greedy)")
        p = None if self.top_p is None else number("top_p", self.top_p)
        if p is not None:
            in_range("top_p", p, 0 < p <= 1, "None or in (0, 1]")
        # Plain Python numbers from here on (np.int64 and friends accepted above).
        object.__setattr__(self, "temperature", t)
        object.__setattr__(self, "top_k", None if self.top_k is None else integer("top_k", self.top_k, minimum=1))
        object.__setattr__(self, "top_p", p)
        stop = None if self.stop_token is None else integer("stop_token", self.stop_token)  # range: see stream
        object.__setattr__(self, "stop_token", stop)

    @classmethod
    def of(cls, sampling: SamplingConfig | None = None, **settings) -> SamplingConfig:
        """`sampling` (default: the defaults) with `settings` replacing its fields; an unknown name is a TypeError."""
        if sampling is not None and not isinstance(sampling, cls):
            raise TypeError(f"sampling must be a SamplingConfig or None, got {type(sampling).__name__} {sampling!r}; "
                            "pass settings by name, e.g. temperature=0.8")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise TypeError(f"unknown sampling setting {', '.join(unknown)}: the settings are {', '.join(known)}")
        return replace(sampling or cls(), **settings)


def sample_next(
    logits: torch.Tensor, sampling: SamplingConfig | None = None, generator: torch.Generator | None = None, **settings
) -> torch.Tensor:
    """Pick the next token from the last position's logits (B, V) -> (B,).

    temperature == 0 is greedy decoding (argmax); otherwise the logits are divided by the
    temperature, filtered by top-k / top-p, and a token is drawn from the softmax.
    """
    s = SamplingConfig.of(sampling, **settings)
    if s.temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float()
    # Each row shifted by its largest logit first: softmax does not change, and the largest becomes 0, so that a
    # tiny temperature cannot overflow float32 (1.0 / 1e-39 is inf, and softmax of inf is nan).
    shifted = logits - logits.amax(dim=-1, keepdim=True)  # (B, V), <= 0
    logits = filter_logits(shifted / max(s.temperature, torch.finfo(torch.float32).tiny), s.top_k, s.top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)


def stream(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    sampling: SamplingConfig | None = None,
    *,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    **settings,
) -> Iterator[torch.Tensor]:
    """Yield max_new_tokens new tokens, each of shape (B,), one generation step at a time.

    How each token is picked is a ``SamplingConfig``, or its fields by name: ``temperature`` (default 1; 0 is
    greedy), ``top_k``, ``top_p``, ``stop_token``. A prompt longer than the context is cropped to its last
    block_size tokens, and generation continues past the context with a sliding window. Once a row has produced
    ``stop_token`` it keeps repeating it; the stream ends early when every row has stopped. The model is put in
    eval mode while generating (no dropout) and restored afterwards. ``use_cache`` applies to causal models only:
    a bidirectional model is always run on the whole window.
    """
    sampling = SamplingConfig.of(sampling, **settings)
    max_new_tokens = integer("max_new_tokens", max_new_tokens, minimum=0)
    V = model.config.vocab_size
    if sampling.stop_token is not None and not 0 <= sampling.stop_token < V:
        raise ValueError(f"stop_token {sampling.stop_token} is outside the vocabulary [0, {V})")
    window = model.config.block_size
    model._check_input(idx[:, -window:] if isinstance(idx, torch.Tensor) and idx.dim() == 2 else idx, past=0)
    model.check_token_ids(idx)  # once for the prompt: the tokens generated after it are in range by construction
    return _stream(model, idx, max_new_tokens, sampling, use_cache, generator)


def _stream(model, idx, max_new_tokens, sampling, use_cache, generator):
    """The generation loop behind ``stream`` (a separate generator, so that ``stream`` checks its arguments at once)."""
    was_training = model.training
    model.eval()
    stop = sampling.stop_token
    try:
        seq = idx
        # A cache only holds for causal attention: in a bidirectional model every new token changes the keys
        # and values of all earlier positions, so there each step recomputes the whole window.
        cache = model.new_cache(idx.size(0)) if use_cache and model.config.causal else None
        finished = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)  # (B,)
        for _ in range(max_new_tokens):
            logits = model.next_logits(seq, cache)  # (B, V)
            token = sample_next(logits, sampling, generator)  # (B,)
            if stop is not None:
                token = token.masked_fill(finished, stop)
                finished |= token == stop
            seq = torch.cat([seq, token[:, None].to(seq.dtype)], dim=1)  # (B, L + 1)
            yield token
            if stop is not None and bool(finished.all()):
                return
    finally:
        model.train(was_training)


def generate(model: GPT, idx: torch.Tensor, max_new_tokens: int, sampling: SamplingConfig | None = None,
             **options) -> torch.Tensor:
    """The prompt followed by the generated tokens: (B, T + n), n = max_new_tokens unless every row stopped early.

    Takes what ``stream`` takes (a SamplingConfig and/or its fields by name, ``use_cache``, ``generator``).
    """
    new = list(stream(model, idx, max_new_tokens, sampling, **options))
    if not new:
        return idx.clone()
    return torch.cat([idx, torch.stack(new, dim=1).to(idx.dtype)], dim=1)
