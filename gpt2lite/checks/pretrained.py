"""Checks for chapter 9's exercises: splitting the fused query-key-value weight of a checkpoint, repairing a
loader that transposes by shape, comparing logits with transformers.

The checks make their own small checkpoint, a random 3-block GPT saved with `save_pretrained`, in the three
layouts of the chapter: Hugging Face's (`transformer.` prefix), OpenAI's older one (no prefix, the buffers
`attn.bias` and `attn.masked_bias` stored) and one that also stores the tied `lm_head.weight`.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from typing import Any

import torch
from safetensors.torch import load_file

from gpt2lite.config import GPTConfig
from gpt2lite.model import GPT
from gpt2lite.pretrained import hf_to_ours, load_pretrained, save_pretrained

from ._core import (Forbidden, call, describe, expect_close, expect_equal, fail, forbid, forbid_helpers,
                    passed, seeded_model)

# Vocabulary, context and widths all differ, so a transposed or misplaced tensor has a telling shape.
_CONFIG = GPTConfig(vocab_size=50, block_size=48, n_layer=3, n_head=2, n_embd=16)


@functools.lru_cache(maxsize=1)
def _model() -> GPT:
    """A small random GPT-2-shaped model in eval mode, the same on every call. Its biases and LayerNorms are
    random too, so that a tensor left unloaded shows."""
    return _scrambled(seeded_model(_CONFIG, 0), 0).eval()


def _scrambled(model: GPT, seed: int) -> GPT:
    """The model with noise added to every parameter (zero biases and unit gains become random)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    return model


@functools.lru_cache(maxsize=1)
def _layouts() -> dict[str, dict[str, torch.Tensor]]:
    """The model's state dict as stored in each of the three checkpoint layouts, by name."""
    with tempfile.TemporaryDirectory() as tmp:
        hf = load_file(save_pretrained(_model(), tmp) / "model.safetensors")
    n_pos = _CONFIG.block_size
    old = {key.removeprefix("transformer."): tensor for key, tensor in hf.items()}
    for i in range(_CONFIG.n_layer):
        old[f"h.{i}.attn.bias"] = torch.ones(n_pos, n_pos, dtype=torch.bool).tril().view(1, 1, n_pos, n_pos)
        old[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    with_head = {**hf, "lm_head.weight": hf["transformer.wte.weight"].clone()}
    return {"the Hugging Face layout": hf, "OpenAI's older layout": old, "the layout with lm_head.weight": with_head}


def _no_conversion(instead: str) -> Forbidden:
    """gpt2lite's own conversion of a checkpoint (hf_to_ours, and the loaders that call it) and the check's."""
    package = {hf_to_ours: "gpt2lite.pretrained.hf_to_ours", load_pretrained: "gpt2lite.pretrained.load_pretrained"}
    return forbid(package, instead) + forbid_helpers(__name__)


def check_split_qkv(fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> None:
    """`fn(weight)` takes a checkpoint's fused `attn.c_attn.weight`, a Conv1D weight of shape (C, 3C), and returns
    the query, key and value matrices `(w_q, w_k, w_v)`, each (C, C) in nn.Linear's (out, in) layout: F.linear(x,
    w_q) gives the queries that the fused layer computes."""
    forbidden = _no_conversion("slice the (C, 3C) matrix yourself: three blocks of C columns, each transposed")
    g = torch.Generator().manual_seed(9)
    cases = [("block 0 of the 3-block checkpoint", _layouts()["the Hugging Face layout"]
              ["transformer.h.0.attn.c_attn.weight"])]
    cases += [(f"a random (C, 3C) weight, C={C}", torch.randn(C, 3 * C, generator=g)) for C in (1, 4, 64)]
    for label, weight in cases:
        C = weight.shape[0]
        text = f"{fn.__name__}(weight of shape {tuple(weight.shape)}), {label}"
        got = call(fn, weight.clone(), call_text=text, forbidden=forbidden)
        want = tuple(weight.t().split(C, dim=0))  # nn.Linear's (3C, C), then the three row blocks
        if not (isinstance(got, (tuple, list)) and len(got) == 3 and all(isinstance(w, torch.Tensor) for w in got)):
            fail(text, "three tensors (w_q, w_k, w_v)", describe(got),
                 "split the 3C columns into three blocks of C: return w_q, w_k, w_v")
        mistakes = {
            "each block is still in Conv1D's (in, out) layout; it is square, so only the values show it: "
            "transpose each one to nn.Linear's (out, in)": lambda: tuple(weight.split(C, dim=1)),
            "q, k and v are three consecutive blocks of C columns, not every third column":
                lambda: tuple(weight[:, i::3].t() for i in range(3)),
            "the order in the fused matrix is query, key, value": lambda: (want[1], want[0], want[2]),
            "the order in the fused matrix is query, key, value; this is value, key, query":
                lambda: (want[2], want[1], want[0]),
        }
        for name, w, expected in zip(("w_q", "w_k", "w_v"), got, want):
            if w.shape != expected.shape or not torch.equal(w, expected):
                shown = f"shape {tuple(w.shape)}" if w.shape != expected.shape else "other values"
                hint = next((h for h, wrong in mistakes.items() if all(
                    a.shape == b.shape and torch.equal(a, b) for a, b in zip(got, wrong()))),
                    "columns [0, C) are the queries, [C, 2C) the keys, [2C, 3C) the values; transpose each block")
                fail(f"{text}: {name}", f"shape {tuple(expected.shape)}, the fused layer's {name[-1]} projection",
                     shown, hint)
    passed(f"split_qkv gives nn.Linear's w_q, w_k, w_v for {len(cases)} fused weights, C from 1 to 64")


def check_load_into(fn: Callable[[GPT, dict[str, torch.Tensor]], Any]) -> None:
    """`fn(model, state)` copies the tensors of a checkpoint's state dict (any of the chapter's three layouts)
    into the gpt2lite `model` in place: buffers dropped, the `transformer.` prefix added where missing, the
    four Conv1D weights transposed, the output layer still tied to `wte`."""
    forbidden = _no_conversion("copy the tensors yourself: rename, drop the buffers, transpose the four Conv1D "
                               "weights by their names") + forbid({GPT.from_pretrained: "GPT.from_pretrained"},
                                                                  "load into the model you are given")
    want = _model().state_dict()
    for label, state in _layouts().items():
        model = _scrambled(seeded_model(_CONFIG, 1), 1).eval()  # other random weights, to be overwritten
        before = {k: v.clone() for k, v in model.state_dict().items()}
        text = f"{fn.__name__}(model, state) with a 3-block checkpoint in {label}"
        with torch.no_grad():
            call(fn, model, {k: v.clone() for k, v in state.items()}, call_text=text, forbidden=forbidden,
                 crash_hint="transpose by name, not by shape: the four Conv1D weights end in .attn.c_attn.weight, "
                            ".attn.c_proj.weight, .mlp.c_fc.weight and .mlp.c_proj.weight")
        if model.lm_head.weight is not model.transformer.wte.weight:
            fail(text, "lm_head.weight still the same tensor as transformer.wte.weight",
                 "two different tensors", "copy into the model's own tensors (state_dict()[name].copy_(...)) "
                                          "instead of replacing its parameters: the tie must survive")
        got = model.state_dict()
        wrong = sorted(k for k in want if not torch.equal(got[k], want[k]))
        if not wrong:
            continue
        flipped = [k for k in wrong if got[k].dim() == 2 and torch.equal(got[k], want[k].t())]
        untouched = [k for k in wrong if torch.equal(got[k], before[k])]
        if flipped == wrong and all(k.endswith(".attn.c_proj.weight") for k in wrong):
            hint = ("attn.c_proj's weight is square (n_embd x n_embd): its (in, out) and (out, in) shapes are the "
                    "same, so a shape test never transposes it. Decide by the name: the four Conv1D weights")
        elif untouched == wrong:
            hint = ("these tensors were not loaded (they keep the model's random values): add 'transformer.' to "
                    "the keys that lack it, and skip only the buffers attn.bias and attn.masked_bias")
        else:
            hint = "copy every weight: renamed, and transposed only if it is one of the four Conv1D weights"
        fail(text, "the checkpoint's weights in every tensor of the model",
             f"{len(wrong)} tensors differ, e.g. {wrong[:3]}", hint)
    passed(f"load_into loads all {len(want)} tensors in the three layouts, c_proj's square weights included, "
           "and keeps the tie")


@functools.lru_cache(maxsize=1)
def _logit_cases() -> tuple[torch.nn.Module, list[tuple[GPT, torch.Tensor]]]:
    """transformers' GPT2LMHeadModel with our model's weights, and the (model of ours, ids) pairs to compare it
    with: our model on three inputs, then a different random model on a random batch and on inputs where the two
    disagree in telling places (at a single position; before the last position but not at it)."""
    import transformers  # only this check needs it, and it is slow to import

    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar in the reader's notebook
    try:
        with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory() as tmp:
            theirs = transformers.GPT2LMHeadModel.from_pretrained(save_pretrained(_model(), tmp)).eval()
        other = seeded_model(_CONFIG, 1).eval()
    finally:
        if bars:
            transformers.utils.logging.enable_progress_bar()

    def agree(ids: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T): True where the argmaxes agree
        with torch.no_grad():
            return other(ids).argmax(-1) == theirs(ids).logits.argmax(-1)

    V = _CONFIG.vocab_size
    g = torch.Generator().manual_seed(0)
    cases = [(_model(), torch.randint(V, shape, generator=g)) for shape in [(1, 1), (2, 7), (1, 40)]]
    cases.append((other, torch.randint(V, (3, 5), generator=g)))
    one_token = torch.arange(V)[:, None]  # (V, 1): every one-token input
    cases.append((other, one_token[~agree(one_token)[:, 0]][:1]))  # (1, 1): a token they disagree on
    for _ in range(100):  # a sequence that they agree on at the last position, but not before
        ids = torch.randint(V, (1, 8), generator=g)
        together = agree(ids)[0]
        if together[-1] and not together.all():
            break
    cases.append((other, ids))
    return theirs, cases


def check_compare_logits(fn: Callable[[GPT, Any, torch.Tensor], tuple[float, bool]]) -> None:
    """`fn(ours, theirs, ids)` runs a gpt2lite GPT and a transformers GPT2LMHeadModel on ids (B, T) without
    gradients and returns (the largest absolute difference of their logits as a float, whether the argmax over
    the vocabulary agrees at every position as a bool)."""
    theirs, cases = _logit_cases()
    same_weights, agreeing = [], 0
    for model, ids in cases:
        which = "the same weights" if model is _model() else "different weights"
        text = f"{fn.__name__}(ours, theirs, ids of shape {tuple(ids.shape)}), two models with {which}"
        got = call(fn, model, theirs, ids.clone(), call_text=text)
        if not (isinstance(got, tuple) and len(got) == 2):
            fail(text, "a pair (difference, same_argmax)", f"a {type(got).__name__}", "return a tuple: (float, bool)")
        diff, same = got
        with torch.no_grad():
            a, b = model(ids), theirs(ids).logits  # (B, T, V) each
        if not isinstance(diff, float):
            fail(text, "a Python float as the difference", f"a {type(diff).__name__}: {diff!r}"[:100],
                 "turn the one-element tensor into a float with .item()")
        expect_close(text + ": the difference", diff, (a - b).abs().max().item(), atol=1e-6, rtol=1e-5, mistakes={
            "take the absolute difference: (a - b).abs().max(), not (a - b).max()": lambda: (a - b).max().item(),
            "the largest difference, not the mean: .max() after .abs()": lambda: (a - b).abs().mean().item(),
        }, hint="the largest |ours' logits - theirs'| over every batch element, position and token")
        if not isinstance(same, bool):
            fail(text, "a Python bool as the argmax agreement", f"a {type(same).__name__}: {same!r}"[:100],
                 "turn the comparison into a bool with bool(...)")
        expect_equal(text + ": the argmax agreement", same, torch.equal(a.argmax(-1), b.argmax(-1)), mistakes={
            "the argmax runs over the vocabulary: use dim=-1": lambda: torch.equal(a.argmax(1), b.argmax(1)),
            "compare the argmax at every position, not only the last one":
                lambda: torch.equal(a[:, -1].argmax(-1), b[:, -1].argmax(-1)),
        }, hint="the two models agree if a.argmax(-1) and b.argmax(-1) are equal everywhere")
        if model is _model():
            same_weights.append(diff)
        agreeing += same
    passed(f"compare_logits measures {len(cases)} cases: with the same weights the largest difference is "
           f"{'under' if max(same_weights) < 1e-5 else 'over'} 1e-5; the argmax agrees everywhere in {agreeing} "
           f"of the {len(cases)}")
