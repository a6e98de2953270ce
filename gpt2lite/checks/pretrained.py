"""Checks for chapter 9's exercises: which tensors to transpose, converting one entry, counting the parameters
in a checkpoint file, comparing logits with transformers.

The checks make their own small checkpoint, a random 3-block GPT saved with `save_pretrained`, in the three
layouts of the chapter: Hugging Face's (`transformer.` prefix), OpenAI's older one (no prefix, the buffers
`attn.bias` and `attn.masked_bias` stored) and one that also stores the tied `lm_head.weight`.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gpt2lite.config import GPTConfig
from gpt2lite.model import GPT
from gpt2lite.pretrained import CONV1D_WEIGHTS, NON_WEIGHTS, hf_to_ours, load_pretrained, save_pretrained

from ._core import (Forbidden, call, diagnose, expect_close, expect_equal, fail, forbid, forbid_helpers, model_building,
                    passed, seeded_model)

# Vocabulary, context and widths all differ, so a transposed or misplaced tensor has a telling shape.
_CONFIG = GPTConfig(vocab_size=50, block_size=48, n_layer=3, n_head=2, n_embd=16)
_PREFIXES = ("transformer.", "lm_head.")


@functools.lru_cache(maxsize=1)
def _model() -> GPT:
    """A small random GPT-2-shaped model in eval mode, the same on every call."""
    return seeded_model(_CONFIG, 0).eval()


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


def _our_name(key: str) -> str:
    return key if key.startswith(_PREFIXES) else f"transformer.{key}"


def check_keys_to_transpose(fn: Callable[[dict[str, torch.Tensor]], set[str]]) -> None:
    """`fn(state)` returns the set of the checkpoint's keys whose tensors are Conv1D weights, which must be
    transposed: `attn.c_attn`, `attn.c_proj`, `mlp.c_fc` and `mlp.c_proj` weights, with or without the prefix."""
    forbidden = _no_conversion("test each key's ending yourself: .attn.c_attn.weight, .attn.c_proj.weight, "
                               ".mlp.c_fc.weight and .mlp.c_proj.weight")
    for label, state in _layouts().items():
        text = f"{fn.__name__}(state) on a 3-block checkpoint in {label}"
        got = call(fn, dict(state), call_text=text, forbidden=forbidden)
        want = {key for key in state if key.endswith(CONV1D_WEIGHTS)}
        if not isinstance(got, (set, frozenset)):
            fail(text, f"a set of {len(want)} keys", f"a {type(got).__name__}",
                 "return a set, e.g. {key for key in state if ...}")
        if got == want:
            continue
        mistakes = {
            "the biases of these layers are 1-D: only the four .weight matrices are transposed":
                lambda: {k for k in state if any(f".{m}." in k for m in ("c_attn", "c_proj", "c_fc"))},
            "wte, wpe (and lm_head) are embeddings, looked up by row: copy them as they are; only the four "
            "Conv1D weights of each block are transposed":
                lambda: {k for k, v in state.items() if v.dim() == 2},
            "return the checkpoint's own keys (as they are in `state`), not our names with the prefix added":
                lambda: {_our_name(k) for k in want},
            "each block has four Conv1D weights; the MLP's c_fc and c_proj are missing":
                lambda: {k for k in want if ".attn." in k},
            "each block has four Conv1D weights: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj; "
            "the two c_proj are missing": lambda: {k for k in want if ".c_proj." not in k},
        }
        fail(text, f"the {len(want)} Conv1D weights, e.g. {sorted(want)[0]!r}",
             f"missing {sorted(want - got)[:3]}, not to be transposed {sorted(got - want)[:3]}",
             diagnose(got, mistakes, "match the key endings .attn.c_attn.weight, .attn.c_proj.weight, "
                                      ".mlp.c_fc.weight, .mlp.c_proj.weight"))
    passed(f"keys_to_transpose finds the {len(want)} Conv1D weights of 3 blocks (and only those), in all three layouts")


def _convert(key: str, tensor: torch.Tensor) -> tuple[str, torch.Tensor] | None:
    """The reference conversion of one entry, as `gpt2lite.pretrained.hf_to_ours` does it."""
    if key.endswith(NON_WEIGHTS):
        return None
    name = _our_name(key)
    return name, tensor.t() if name.endswith(CONV1D_WEIGHTS) else tensor


def _describe_entry(value: Any) -> str:
    """An entry as returned by convert_entry, shortly: the name and the tensor's shape."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], torch.Tensor):
        return f"({value[0]!r}, tensor of shape {tuple(value[1].shape)})"
    return f"{type(value).__name__}: {value!r}"[:80]


def check_convert_entry(fn: Callable[[str, torch.Tensor], tuple[str, torch.Tensor] | None]) -> None:
    """`fn(key, tensor)` returns `(our_key, our_tensor)`, or None for the buffers `attn.bias` and
    `attn.masked_bias`: it adds the `transformer.` prefix where missing and transposes the Conv1D weights."""
    n_entries = 0
    forbidden = _no_conversion("convert the entry yourself: None for the buffers, the 'transformer.' prefix where "
                               "it is missing, .t() for the four Conv1D weights")
    for label, state in _layouts().items():
        for key, tensor in state.items():
            text = f"{fn.__name__}({key!r}, tensor of shape {tuple(tensor.shape)}) [{label}]"
            got = call(fn, key, tensor.clone(), call_text=text, forbidden=forbidden)
            want = _convert(key, tensor)
            n_entries += 1
            if want is None:
                if got is not None:
                    fail(text, "None", _describe_entry(got),
                         "attn.bias and attn.masked_bias are buffers (the causal mask, a constant), not weights: "
                         "return None for them")
                continue
            if got is None:
                hint = "only the buffers .attn.bias and .attn.masked_bias give None"
                if key.endswith("c_attn.bias"):
                    hint = "'c_attn.bias' also ends with 'attn.bias': test for '.attn.bias', with the dot"
                fail(text, f"({want[0]!r}, tensor of shape {tuple(want[1].shape)})", "None", hint)
            if not (isinstance(got, tuple) and len(got) == 2):
                fail(text, "a pair (our_key, our_tensor)", _describe_entry(got), "return a tuple: (name, tensor)")
            name, converted = got
            prefixed = ("lm_head.weight keeps its name: our model has no transformer.lm_head"
                        if key.startswith("lm_head.") else "add the prefix only where it is missing: this key has it")
            expect_equal(text + ": the name", name, want[0], mistakes={
                prefixed: lambda: f"transformer.{key}",
                "our names start with 'transformer.': add it to keys that lack it": lambda: key,
            }, hint="our name is the key with 'transformer.' in front where it is missing")
            expect_close(text + ": the tensor", converted, want[1], atol=0, rtol=0, mistakes={
                "Conv1D weights are stored (in, out): transpose them to nn.Linear's (out, in) with .t()":
                    lambda: tensor,
                "only the four Conv1D weights are transposed; embeddings, LayerNorms and biases are copied as they are":
                    lambda: tensor.t() if tensor.dim() == 2 else tensor,
            }, hint="transpose exactly the keys ending in .attn.c_attn.weight, .attn.c_proj.weight, "
                    ".mlp.c_fc.weight, .mlp.c_proj.weight")
    passed(f"convert_entry maps all {n_entries} entries of the three layouts as gpt2lite does")


def check_checkpoint_parameters(fn: Callable[[str | Path], int]) -> None:
    """`fn(path)` counts the parameters stored in the .safetensors file at `path`, from the tensors alone:
    buffers skipped, the tied `lm_head.weight` not counted twice."""
    want = _model().num_parameters()
    C, V, L, n_pos = _CONFIG.n_embd, _CONFIG.vocab_size, _CONFIG.n_layer, _CONFIG.block_size
    buffers = L * (n_pos * n_pos + 1)  # per block: the causal mask attn.bias and the constant attn.masked_bias
    instead = ("count from the tensors alone: open the file with safetensors' safe_open and add up the product of "
               "each shape, skipping the buffers and lm_head.weight")
    forbidden = model_building(instead) + _no_conversion(instead)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, state) in enumerate(_layouts().items()):
            path = Path(tmp) / f"checkpoint-{i}" / "model.safetensors"
            path.parent.mkdir()
            save_file(state, path)
            text = f"{fn.__name__}(path) for a 3-block checkpoint in {label}"
            got = call(fn, path, call_text=text, forbidden=forbidden)
            if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
                got = got.item()
            expect_equal(text, got, want, mistakes={
                "lm_head.weight is the embedding again (tied): count it once": lambda: want + V * C,
                "attn.bias (the causal mask) and attn.masked_bias are buffers, not parameters: skip them":
                    lambda: want + buffers,
                "attn.masked_bias is a buffer too: skip it as well as attn.bias": lambda: want + L,
                "attn.bias is a buffer (the causal mask): skip it as well as attn.masked_bias":
                    lambda: want + L * n_pos**2,
                "'c_attn.bias' also ends with 'attn.bias': skip '.attn.bias', with the dot, or you lose c_attn's bias":
                    lambda: want - 3 * C * L,
                "this counts bytes (4 per float32 number); count numbers: the product of each shape":
                    lambda: 4 * want,
                "return a Python int": lambda: float(want),
            }, hint="add up the product of every tensor's shape, skipping the buffers and a stored lm_head.weight")
    passed(f"count_parameters gives {want:,} for all three layouts")


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
    passed("compare_logits measures the difference and the argmax agreement, for equal and for different models")
