"""Chapter 9's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import tempfile

import pytest
import torch

from gpt2lite.checks import CheckFailed, check_compare_logits, check_load_into, check_split_qkv
import gpt2lite.pretrained
from gpt2lite import GPT
from gpt2lite.checks import pretrained as ch9
from gpt2lite.pretrained import hf_to_ours

CONV1D = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")


def stub(*args):
    raise NotImplementedError("your code here")


# ---------------------------------------------------------------------- ex-09-qkv
def split_qkv(weight):
    C = weight.shape[0]
    return weight[:, :C].T, weight[:, C:2 * C].T, weight[:, 2 * C:].T


def test_split_qkv_passes(capsys):
    check_split_qkv(split_qkv)
    assert capsys.readouterr().out.startswith("✓ split_qkv gives nn.Linear's w_q, w_k, w_v")


@pytest.mark.parametrize("wrong, hint", [
    (lambda w: tuple(w.split(w.shape[0], dim=1)), r"still in Conv1D's \(in, out\) layout"),
    (lambda w: tuple(w[:, i::3].T for i in range(3)), "not every third column"),
    (lambda w: (split_qkv(w)[1], split_qkv(w)[0], split_qkv(w)[2]), "query, key, value"),
    (lambda w: split_qkv(w)[::-1], "this is value, key, query"),
    (lambda w: tuple(w.T.chunk(3, dim=1)), "shape"),
    (lambda w: w.T, "three tensors"),
    (lambda w: tuple(t * 2 for t in split_qkv(w)), "transpose each block"),
    (stub, "not written yet"),
])
def test_split_qkv_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_split_qkv(wrong)


# ---------------------------------------------------------------------- ex-09-loader
def load_into(model, state, *, by_shape=False, skip_bare=False, no_dot=False, replace=False):
    """The repaired loader, with switches that bring back the bug and other classic mistakes."""
    ours = model.state_dict()
    for key, tensor in state.items():
        if skip_bare and not key.startswith(("transformer.", "lm_head.")):
            continue
        if no_dot and key.endswith(("attn.bias", "attn.masked_bias")):
            continue  # also drops c_attn.bias
        name = key if key.startswith(("transformer.", "lm_head.")) else "transformer." + key
        if name not in ours:
            continue  # the buffers attn.bias and attn.masked_bias
        if by_shape:
            flip = tensor.shape != ours[name].shape
        else:
            flip = name.endswith(CONV1D)
        tensor = tensor.t() if flip else tensor
        if replace:
            module, _, attr = name.rpartition(".")
            setattr(model.get_submodule(module), attr, torch.nn.Parameter(tensor.clone()))
        else:
            ours[name].copy_(tensor)


def test_load_into_passes(capsys):
    check_load_into(load_into)
    assert capsys.readouterr().out.startswith("✓ load_into loads all")


@pytest.mark.parametrize("mistake, hint", [
    (dict(by_shape=True), r"attn.c_proj's weight is square \(n_embd x n_embd\)"),
    (dict(skip_bare=True), "were not loaded"),
    (dict(no_dot=True), "were not loaded(.|\\n)*skip only the buffers"),
    (dict(replace=True), "the tie must survive"),
])
def test_load_into_catches(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_load_into(lambda model, state: load_into(model, state, **mistake))


def test_load_into_catches_a_crash_and_a_stub():
    def no_transpose_crashes(model, state):  # copy_ of a (C, 3C) tensor into (3C, C): a shape error
        ours = model.state_dict()
        for key, tensor in state.items():
            name = key if key.startswith(("transformer.", "lm_head.")) else "transformer." + key
            if name in ours:
                ours[name].copy_(tensor)

    with pytest.raises(CheckFailed, match="raised RuntimeError(.|\n)*transpose by name, not by shape"):
        check_load_into(no_transpose_crashes)
    with pytest.raises(CheckFailed, match="not written yet"):
        check_load_into(stub)


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
    check_split_qkv(split_qkv)
    check_load_into(load_into)
    check_compare_logits(compare_logits)
    assert torch.equal(torch.random.get_rng_state(), before)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _split_by_hf_to_ours(weight):
    ours = hf_to_ours({"h.0.attn.c_attn.weight": weight}, None)["transformer.h.0.attn.c_attn.weight"]
    return tuple(ours.split(weight.shape[0]))


def _load_by_hf_to_ours(model, state):
    model.load_state_dict({**hf_to_ours(state, model), "lm_head.weight": model.transformer.wte.weight})


def _load_by_from_pretrained(model, state):
    with tempfile.TemporaryDirectory() as tmp:
        model.load_state_dict(GPT.from_pretrained(ch9._model().save_pretrained(tmp)).state_dict())


SHORTCUTS = [
    ("check_split_qkv", _split_by_hf_to_ours, r"gpt2lite\.pretrained\.hf_to_ours"),
    ("check_load_into", _load_by_hf_to_ours, r"gpt2lite\.pretrained\.hf_to_ours"),
    ("check_load_into", _load_by_from_pretrained, r"GPT\.from_pretrained"),
    ("check_load_into", lambda model, state: gpt2lite.pretrained.load_pretrained("x"),
     r"gpt2lite\.pretrained\.load_pretrained"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    'check_compare_logits': 'max and abs are the answer; there is no library comparison to refuse',
}
