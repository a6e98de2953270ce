"""The attention explorer (chapters 4 and 10): pick a layer and a head, point at a token, see what it attends to.

The chapter computes the attention weights with the real model (``GPT.attention_maps``); the page only draws
them: lines from the token pointed at to the tokens it reads, its row of the head's heatmap, and the largest
weights as numbers. Several models can be shown side by side (chapter 10: the causal GPT beside the
bidirectional BERT), for the same layer, head and token. In a causal model the future is drawn as masked, never
as a weight of 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from .. import draw
from ..draw._args import flag
from .figure import Interactive, rounded

__all__ = ["MAX_MODELS", "MAX_TOKENS", "attention_explorer"]

MAX_TOKENS = 32  # a phone shows a 32 x 32 heatmap at about 11 px a cell; more would be unreadable
MAX_MODELS = 4  # panels side by side on a wide screen, one under the other on a phone
DIGITS = 6  # significant digits kept in the page's data; the page shows 3 decimals
ROW_SUM_TOLERANCE = 1e-4  # float32 softmax rows sum to 1 within about 1e-6


def _check_tokens(tokens) -> list[str]:
    """``tokens`` as a list of non-empty strings, one per position."""
    if isinstance(tokens, str):
        raise TypeError(f"tokens must be a list of strings, one per position, not one string: try list({tokens!r})")
    if not isinstance(tokens, Sequence):
        raise TypeError(f"tokens must be a list of strings, one per position, got {type(tokens).__name__}")
    tokens = list(tokens)
    if not tokens:
        raise ValueError("tokens is empty; pass one string per position of the maps")
    for i, t in enumerate(tokens):
        if not isinstance(t, str) or t == "":
            error = TypeError if not isinstance(t, str) else ValueError
            raise error(f"tokens[{i}] is {t!r}; every token must be a non-empty string (its text)")
    if len(tokens) > MAX_TOKENS:
        raise ValueError(
            f"{len(tokens)} tokens are too many to show: the figure takes at most {MAX_TOKENS}; "
            f"run the model on a shorter text (at most {MAX_TOKENS} tokens)"
        )
    return tokens


def _check_maps(maps, name: str, T: int) -> torch.Tensor:
    """One model's weights as a float tensor (n_layer, n_head, T, T), rows checked to be softmax weights.

    Takes the (n_layer, n_head, T, T) weights, or what ``GPT.attention_maps`` returns for one sequence,
    (n_layer, 1, n_head, T, T).
    """
    if isinstance(maps, (str, bytes)) or maps is None:
        raise TypeError(f"maps of {name!r} must be a tensor of attention weights, got {type(maps).__name__}")
    try:
        w = torch.as_tensor(maps.detach().cpu() if isinstance(maps, torch.Tensor) else maps, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"maps of {name!r} must be a tensor of attention weights (n_layer, n_head, T, T), "
            f"got {type(maps).__name__}"
        ) from None
    if w.dim() == 5:  # GPT.attention_maps: (n_layer, B, n_head, T, T)
        if w.size(1) != 1:
            raise ValueError(
                f"maps of {name!r} hold {w.size(1)} sequences (shape {tuple(w.shape)}); the figure shows one: "
                "pass maps[:, b] for sequence b"
            )
        w = w[:, 0]
    if w.dim() != 4:
        raise ValueError(
            f"maps of {name!r} must have shape (n_layer, n_head, T, T) or (n_layer, 1, n_head, T, T) as "
            f"GPT.attention_maps returns, got shape {tuple(w.shape)}"
        )
    if w.size(0) == 0 or w.size(1) == 0:
        raise ValueError(f"maps of {name!r} have no layer or no head (shape {tuple(w.shape)})")
    if tuple(w.shape[2:]) != (T, T):
        raise ValueError(
            f"maps of {name!r} cover {w.size(-2)} x {w.size(-1)} positions but there are {T} tokens; "
            f"pass one token per position (shape (n_layer, n_head, {T}, {T}))"
        )
    if not torch.isfinite(w).all():
        raise ValueError(f"maps of {name!r} hold inf or nan; pass the softmax weights, not masked scores")
    if (w < 0).any() or (w > 1 + ROW_SUM_TOLERANCE).any():
        raise ValueError(f"maps of {name!r} have weights outside [0, 1]; pass softmax weights, not raw scores")
    sums = w.sum(-1)  # (n_layer, n_head, T)
    bad = (sums - 1).abs() > ROW_SUM_TOLERANCE
    if bad.any():
        layer, head, row = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"maps of {name!r}: row {row} of layer {layer}, head {head} sums to {float(sums[layer, head, row]):.4f}, "
            "not 1; pass attention weights after the softmax (every row sums to 1)"
        )
    return w


def _is_causal(w: torch.Tensor) -> bool:
    """True when no position, in any layer or head, puts weight on a later one (the causal mask's exact zeros)."""
    T = w.size(-1)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    return bool((w[..., future] == 0).all())


def _models(maps) -> dict[str, torch.Tensor]:
    """``maps`` as {name: tensor}: one tensor (an unnamed model) or a mapping of names to tensors."""
    if isinstance(maps, Mapping):
        if not maps:
            raise ValueError("maps is an empty dict; pass {model name: attention maps} with at least one model")
        if len(maps) > MAX_MODELS:
            raise ValueError(f"{len(maps)} models are too many for one figure; pass at most {MAX_MODELS}")
        for key in maps:
            if not isinstance(key, str) or not key.strip():
                error = TypeError if not isinstance(key, str) else ValueError
                raise error(f"model names must be non-empty strings (they head the panels), got {key!r}")
        return dict(maps)
    return {"": maps}


def _causal_flags(names: list[str], causal) -> dict[str, bool | None]:
    """The ``causal`` argument as {name: True, False or None (infer from the weights)}."""
    if causal is None or isinstance(causal, (bool, np.bool_)):
        return dict.fromkeys(names, None if causal is None else bool(causal))
    if isinstance(causal, Mapping):
        unknown = [k for k in causal if k not in names]
        if unknown:
            raise ValueError(f"causal names {unknown!r}, which are not among the models {names!r}")
        flags = {k: flag(f"causal[{k!r}]", v) for k, v in causal.items()}
        return {n: flags.get(n) for n in names}
    raise TypeError(f"causal must be None (read it from the weights), True, False or {{name: bool}}, got {causal!r}")


def attention_explorer(maps, tokens: Sequence[str], *, name: str = "attention-explorer",
                       causal: bool | Mapping[str, bool] | None = None, caption: str | None = None) -> Interactive:
    """A figure to explore the attention of a trained model, or of a few side by side, over one text.

    ``maps`` are the attention weights of one model, a (n_layer, n_head, T, T) tensor or what
    ``GPT.attention_maps`` returns for one sequence, (n_layer, 1, n_head, T, T); or a dict
    {model name: maps} of up to 4 models with the same shape (chapter 10: {"GPT": ..., "BERT": ...}).
    ``tokens`` are the T texts of the positions, at most 32. Each row (the token that looks) must be softmax
    weights: in [0, 1], summing to 1. A model is causal when every weight on a later position is exactly 0
    (the mask's zeros), unless ``causal`` says otherwise; the page draws its future as masked.

    The data holds every weight rounded to 6 significant digits, each model's name and whether it is causal,
    the layer and head counts and the tokens. The still picture (print, no JavaScript) is layer 0, head 0 drawn
    as lines (``draw.attention_lines``), one panel per model.
    """
    tokens = _check_tokens(tokens)
    T = len(tokens)
    models = _models(maps)
    flags = _causal_flags(list(models), causal)
    weights = {n: _check_maps(m, n or "the model", T) for n, m in models.items()}
    shapes = {n: tuple(w.shape[:2]) for n, w in weights.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            "the models must have the same number of layers and heads to be shown side by side, got "
            + ", ".join(f"{n!r}: {s[0]} layers x {s[1]} heads" for n, s in shapes.items())
        )
    n_layer, n_head = next(iter(shapes.values()))
    entries = []
    for n, w in weights.items():
        seen = _is_causal(w)
        if flags[n] is True and not seen:
            raise ValueError(
                f"{n or 'the model'!r} is said to be causal but puts weight on later positions; "
                "pass causal=False for a bidirectional model"
            )
        is_causal = seen if flags[n] is None else flags[n]
        # float32 first: the weights the model computed, then 6 significant digits for the page
        entries.append({"name": n, "causal": is_causal, "weights": rounded(w.float(), digits=DIGITS)})
    data = {"tokens": tokens, "n_layer": n_layer, "n_head": n_head, "digits": DIGITS, "models": entries}

    names = list(weights)
    first = torch.stack([w[0, 0] for w in weights.values()])  # (models, T, T): layer 0, head 0
    still = draw.attention_lines(first, tokens, names if len(names) > 1 else None)
    if len(names) > 1:
        title = f"{len(names)} models ({', '.join(names)})"
        panel_note = "the models side by side, "
    else:
        title = f"a model with {n_layer} layer{'s' if n_layer > 1 else ''} of {n_head} head{'s' if n_head > 1 else ''}"
        panel_note = ""
    text = "".join(tokens)
    alt = (
        f"Attention explorer for {title} over the {T} tokens of {text[:40]!r}{'…' if len(text) > 40 else ''}: "
        f"menus pick a layer and a head, and pointing at a token shows {panel_note}lines from it to the tokens "
        "it attends to, its row of the head's heatmap and its largest weights; "
        "the still picture shows layer 0, head 0."
    )
    if caption is None:
        caption = ("Pick a layer and a head, then point at a token (hover, tap, or Tab to the tokens and use the "
                   "arrow keys): lines and the highlighted heatmap row show how much it attends to each token"
                   + ("; grey cells are the future, masked in a causal model." if any(e["causal"] for e in entries)
                      else "."))
    return Interactive("attention", data, still=still, alt=alt, caption=caption, name=name)
