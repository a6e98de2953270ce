"""Chapter 9's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import pytest
import torch
from safetensors import safe_open

from gpt2lite.checks import (
    CheckFailed,
    check_checkpoint_parameters,
    check_compare_logits,
    check_convert_entry,
    check_keys_to_transpose,
)
from pathlib import Path
import gpt2lite.pretrained
from gpt2lite import GPT
from gpt2lite.checks import pretrained as ch9
from gpt2lite.pretrained import hf_to_ours

CONV1D = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
BUFFERS = (".attn.bias", ".attn.masked_bias")


def stub(*args):
    raise NotImplementedError("your code here")


def keys_to_transpose(state):
    return {key for key in state if key.endswith(CONV1D)}


def test_keys_to_transpose(capsys):
    check_keys_to_transpose(keys_to_transpose)
    assert capsys.readouterr().out.startswith("✓ keys_to_transpose finds the 12 Conv1D weights")


@pytest.mark.parametrize("wrong, hint", [
    (lambda s: {k for k in s if any(f".{m}." in k for m in ("c_attn", "c_proj", "c_fc"))}, "biases of these layers"),
    (lambda s: {k for k, v in s.items() if v.dim() == 2}, "are embeddings"),
    (lambda s: {k if k.startswith("transformer.") else f"transformer.{k}" for k in keys_to_transpose(s)},
     "checkpoint's own keys"),
    (lambda s: {k for k in s if k.endswith((".attn.c_attn.weight", ".attn.c_proj.weight"))}, "MLP's c_fc and c_proj"),
    (lambda s: {k for k in s if k.endswith((".c_attn.weight", ".c_fc.weight"))}, "the two c_proj are missing"),
    (lambda s: sorted(keys_to_transpose(s)), "return a set"),
    (lambda s: {k for k in s if k.endswith((".c_attn.weight", ".c_proj.weight"))}, "match the key endings"),
    (stub, "not written yet"),
])
def test_keys_to_transpose_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_keys_to_transpose(wrong)


def convert_entry(key, tensor, *, buffers=BUFFERS, prefix=True, always_prefix=False, transpose=CONV1D):
    """The book's solution, with switches that reproduce the classic mistakes."""
    if key.endswith(buffers):
        return None
    if always_prefix:
        name = f"transformer.{key}"
    elif prefix:
        name = key if key.startswith(("transformer.", "lm_head.")) else f"transformer.{key}"
    else:
        name = key
    if name.endswith(transpose) if isinstance(transpose, tuple) else transpose(tensor):
        tensor = tensor.t()
    return name, tensor


def test_convert_entry(capsys):
    check_convert_entry(convert_entry)
    assert "✓ convert_entry maps all 127 entries" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, hint", [
    (dict(buffers=(".masked_bias",)), "are buffers"),
    (dict(buffers=("attn.bias", "attn.masked_bias")), "'c_attn.bias' also ends with 'attn.bias'"),
    (dict(prefix=False), "add it to keys that lack it"),
    (dict(always_prefix=True), "add the prefix only where it is missing"),
    (dict(transpose=(".c_attn.weight", ".c_fc.weight")), r"transpose them to nn.Linear's \(out, in\)"),
    (dict(transpose=lambda t: t.dim() == 2), "only the four Conv1D weights are transposed"),
])
def test_convert_entry_catches(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_convert_entry(lambda key, tensor: convert_entry(key, tensor, **mistake))


def test_convert_entry_catches_a_prefixed_lm_head():
    def wrong(key, tensor):  # prefixes every key that lacks "transformer.", lm_head.weight too
        bare = key.removeprefix("transformer.")
        return None if key.endswith(BUFFERS) else convert_entry(bare, tensor, always_prefix=True)

    with pytest.raises(CheckFailed, match="lm_head.weight keeps its name"):
        check_convert_entry(wrong)


def test_convert_entry_catches_a_list_and_a_stub():
    with pytest.raises(CheckFailed, match="return a tuple"):
        check_convert_entry(lambda key, tensor: None if key.endswith(BUFFERS) else [*convert_entry(key, tensor)])
    with pytest.raises(CheckFailed, match="not written yet"):
        check_convert_entry(stub)


def count_parameters(path, *, skip=BUFFERS, skip_head=True, size=lambda f, key: f.get_slice(key).get_shape(),
                     as_type=int):
    """The book's solution, with switches that reproduce the classic mistakes."""
    total = 0
    with safe_open(path, framework="pt") as f:
        for key in f.keys():
            if key.endswith(skip) or (skip_head and key == "lm_head.weight"):
                continue
            n = 1
            for dim in size(f, key):
                n *= dim
            total += n
    return as_type(total)


def test_checkpoint_parameters(capsys):
    check_checkpoint_parameters(count_parameters)
    assert capsys.readouterr().out.startswith("✓ count_parameters gives")


@pytest.mark.parametrize("mistake, hint", [
    (dict(skip_head=False), "count it once"),
    (dict(skip=()), "are buffers, not parameters"),
    (dict(skip=(".attn.bias",)), "masked_bias is a buffer too"),
    (dict(skip=(".attn.masked_bias",)), "attn.bias is a buffer"),
    (dict(skip=("attn.bias", "attn.masked_bias")), "'c_attn.bias' also ends with 'attn.bias'"),
    (dict(size=lambda f, key: [*f.get_slice(key).get_shape(), 4]), "this counts bytes"),
    (dict(as_type=float), "return a Python int"),
    (dict(size=lambda f, key: f.get_slice(key).get_shape()[:1]), "add up the product"),
])
def test_checkpoint_parameters_catches(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_checkpoint_parameters(lambda path: count_parameters(path, **mistake))


def test_checkpoint_parameters_stub():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_checkpoint_parameters(stub)


@torch.no_grad()
def compare_logits(ours, theirs, ids):
    a = ours(ids)
    b = theirs(ids).logits
    return (a - b).abs().max().item(), bool(torch.equal(a.argmax(-1), b.argmax(-1)))


def test_compare_logits(capsys):
    check_compare_logits(compare_logits)
    assert capsys.readouterr().out.startswith("✓ compare_logits measures")


@torch.no_grad()
def logits(ours, theirs, ids):
    return ours(ids), theirs(ids).logits


@pytest.mark.parametrize("wrong, hint", [
    (lambda a, b: ((a - b).max().item(), bool(torch.equal(a.argmax(-1), b.argmax(-1)))), "absolute difference"),
    (lambda a, b: ((a - b).abs().mean().item(), bool(torch.equal(a.argmax(-1), b.argmax(-1)))), "not the mean"),
    (lambda a, b: ((a - b).abs().max(), bool(torch.equal(a.argmax(-1), b.argmax(-1)))), "with .item()"),
    (lambda a, b: ((a - b).abs().max().item(), torch.equal(a.argmax(1), b.argmax(1))), "use dim=-1"),
    (lambda a, b: ((a - b).abs().max().item(), torch.equal(a[:, -1].argmax(-1), b[:, -1].argmax(-1))),
     "not only the last one"),
    (lambda a, b: ((a - b).abs().max().item(), (a.argmax(-1) == b.argmax(-1)).all()), "with bool"),
    (lambda a, b: ((a - b).abs().max().item(), True), "agree if"),
])
def test_compare_logits_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_compare_logits(lambda ours, theirs, ids: wrong(*logits(ours, theirs, ids)))


def test_compare_logits_reports_a_crash_and_a_stub():
    with pytest.raises(CheckFailed, match="raised TypeError"):  # forgot .logits: the output is not a tensor
        check_compare_logits(lambda ours, theirs, ids: ((ours(ids) - theirs(ids)).abs().max().item(), True))
    with pytest.raises(CheckFailed, match="not written yet"):
        check_compare_logits(stub)


def test_checks_leave_the_global_random_state_alone():
    from gpt2lite.checks import pretrained

    for cached in (pretrained._model, pretrained._layouts, pretrained._logit_cases):
        cached.cache_clear()  # build the models again, as on a first call
    before = torch.random.get_rng_state()
    check_keys_to_transpose(keys_to_transpose)
    check_compare_logits(compare_logits)
    assert torch.equal(torch.random.get_rng_state(), before)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _by_hf_to_ours(state):
    return {key for key in state if hf_to_ours({key: state[key]}, None)}


SHORTCUTS = [
    ("check_keys_to_transpose", _by_hf_to_ours, r"gpt2lite\.pretrained\.hf_to_ours"),
    ("check_convert_entry", lambda key, tensor: ch9._convert(key, tensor), r"gpt2lite\.checks\.pretrained\._convert"),
    ("check_checkpoint_parameters", lambda path: GPT.from_pretrained(Path(path).parent).num_parameters(),
     r"GPT\.from_pretrained"),
    ("check_checkpoint_parameters", lambda path: gpt2lite.pretrained.load_pretrained(Path(path).parent)
     .num_parameters(), r"gpt2lite\.pretrained\.load_pretrained"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    'check_compare_logits': 'max and abs are the answer; there is no library comparison to refuse',
}
