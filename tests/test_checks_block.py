"""The answer checks of chapter 5: right answers pass, the common mistakes fail with their own hint."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import rms_norm as imported_rms_norm
from torch.nn.utils import clip_grad_norm_

from gpt2lite import GPT
from gpt2lite.checks import CheckFailed, check_block_grad_norms, check_pre_ln_step, check_rms_norm
from gpt2lite.checks import block as ch5


def stub(*args):
    raise NotImplementedError("write this function")


# ---------------------------------------------------------------------- ex-05-rmsnorm
def rms_norm(x, gain, eps, *, centre=False, eps_outside=False, root=True, by="mean", dim=-1, use_gain=True):
    if centre:
        x = x - x.mean(dim=dim, keepdim=True)
    ms = x.pow(2).sum(dim=dim, keepdim=True) if by == "sum" else x.pow(2).mean(dim=dim, keepdim=True)
    scale = ms.sqrt() + eps if eps_outside else (ms + eps).sqrt() if root else ms + eps
    return x / scale * (gain if use_gain else 1.0)


def test_rms_norm_passes(capsys):
    check_rms_norm(rms_norm)
    assert capsys.readouterr().out.startswith("✓ rms_norm matches RMSNorm written out")


@pytest.mark.parametrize("wrong, message", [
    (lambda x, g, eps: rms_norm(x, g, eps, centre=True), "subtracts the mean, as LayerNorm does"),
    (lambda x, g, eps: rms_norm(x, g, eps, eps_outside=True), "eps is outside the square root"),
    (lambda x, g, eps: rms_norm(x, g, 0.0), "eps is missing"),
    (lambda x, g, eps: rms_norm(x, g, eps, root=False), "the square root is missing"),
    (lambda x, g, eps: rms_norm(x, g, eps, by="sum"), "divides by the L2 norm"),
    (lambda x, g, eps: rms_norm(x, g, eps, use_gain=False), "the gain is not applied"),
    (lambda x, g, eps: rms_norm(x, g, eps) + 1e-3, r"x / sqrt\(mean\(x\*\*2"),
    (stub, "not written yet"),
])
def test_rms_norm_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_rms_norm(wrong)


# ---------------------------------------------------------------------- ex-05-residual
def pre_ln_step(x, block):
    attn = lambda h: block.attn(h)[0]  # noqa: E731
    for norm, sublayer in ((block.ln_1, attn), (block.ln_2, block.mlp)):
        x = x + sublayer(norm(x))
    return x


def buggy_pre_ln_step(x, block):  # the exercise's code, as printed
    attn = lambda h: block.attn(h)[0]  # noqa: E731
    for norm, sublayer in ((block.ln_1, attn), (block.ln_2, block.mlp)):
        h = norm(x)
        x = h + sublayer(h)
    return x


def post_ln_step(x, block):
    x = block.ln_1(x + block.attn(x)[0])
    return block.ln_2(x + block.mlp(x))


def parallel_step(x, block):
    return x + block.attn(block.ln_1(x))[0] + block.mlp(block.ln_2(x))


def ln_1_twice(x, block):
    x = x + block.attn(block.ln_1(x))[0]
    return x + block.mlp(block.ln_1(x))


def test_pre_ln_step_passes(capsys):
    check_pre_ln_step(pre_ln_step)
    assert capsys.readouterr().out.startswith("✓ pre_ln_step matches gpt2lite.model.Block")


@pytest.mark.parametrize("wrong, message", [
    (buggy_pre_ln_step, "this is the bug: h \\+ sublayer\\(h\\) adds to the NORMALISED stream"),
    (post_ln_step, "post-LN block"),
    (parallel_step, "the MLP reads the block's input"),
    (ln_1_twice, "the MLP reads ln_1"),
    (lambda x, block: block.mlp(block.ln_2(x + block.attn(block.ln_1(x))[0])), "the MLP's residual add is missing"),
    (lambda x, block: pre_ln_step(x, block) * 1.01, r"x = x \+ attn\(ln_1\(x\)\), then"),
    (stub, "not written yet"),
])
def test_pre_ln_step_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_pre_ln_step(wrong)


# ---------------------------------------------------------------------- ex-05-depth
def block_grad_norms(config, idx, targets, seed, *, seeded=True, squared=False, reverse=False, per_param=False,
                     weights=False, reduction="mean", matrices_only=False):
    if seeded:
        torch.manual_seed(seed)
    model = GPT(config)
    logits = model(idx)
    F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction=reduction).backward()
    norms = []
    for block in model.transformer.h:
        tensors = [p if weights else p.grad for p in block.parameters() if p.dim() == 2 or not matrices_only]
        if per_param:
            norms.append(sum(t.norm().item() for t in tensors))
        else:
            squares = sum(t.pow(2).sum().item() for t in tensors)
            norms.append(squares if squared else squares**0.5)
    return norms[::-1] if reverse else norms


def test_block_grad_norms_passes(capsys):
    check_block_grad_norms(block_grad_norms)
    out = capsys.readouterr().out
    assert out.startswith("✓ block_grad_norms matches the check's run; 12 blocks at initialisation")
    assert "pre-LN 0.881 and 0.809, post-LN 0.425 and 0.0318" in out  # the figures of the check's own run


def test_block_grad_norms_takes_a_tensor(capsys):
    check_block_grad_norms(lambda *args: torch.tensor(block_grad_norms(*args)))
    assert capsys.readouterr().out.startswith("✓ block_grad_norms")


@pytest.mark.parametrize("mistake, message", [
    ({"seeded": False}, r"call torch\.manual_seed\(seed\) right before GPT\(config\)"),
    ({"squared": True}, "these are squared norms"),
    ({"reverse": True}, "reverse order"),
    ({"per_param": True}, "adds up each parameter's norm"),
    ({"weights": True}, "norms of the weights, not of their gradients"),
    ({"reduction": "sum"}, "summed over the B\\*T positions"),
    ({"matrices_only": True}, "only the weight matrices are counted"),
])
def test_block_grad_norms_catches(mistake, message):
    with pytest.raises(CheckFailed, match=message):
        check_block_grad_norms(lambda *args: block_grad_norms(*args, **mistake))


@pytest.mark.parametrize("wrong, message", [
    (lambda *args: block_grad_norms(*args)[:-1], "12 numbers, one per block"),
    (lambda *args: [v * 1.01 for v in block_grad_norms(*args)], r"per block: sqrt\(sum of p\.grad"),
    (lambda *args: sum(block_grad_norms(*args)), "a list of 12 numbers"),
    (stub, "not written yet"),
])
def test_block_grad_norms_catches_other(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_block_grad_norms(wrong)


@pytest.mark.parametrize("check, answer", [
    (check_rms_norm, rms_norm), (check_pre_ln_step, pre_ln_step), (check_block_grad_norms, block_grad_norms)])
def test_checks_leave_the_global_rng_alone(check, answer):
    state = torch.get_rng_state()
    check(answer)
    assert torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).
ASSIGNED_RMS_NORM = F.rms_norm  # an alias made before any check ran


def _rms_norm_module(x, gain, eps):
    norm = nn.RMSNorm(x.size(-1), eps=eps)
    with torch.no_grad():
        norm.weight.copy_(gain)
    return norm(x)


def _norms_by_clipping(config, idx, targets, seed):
    torch.manual_seed(seed)
    model = GPT(config)
    logits = model(idx)
    F.cross_entropy(logits.flatten(0, 1), targets.flatten()).backward()
    return [clip_grad_norm_(block.parameters(), float("inf")).item() for block in model.transformer.h]


def _norms_by_total_norm(config, idx, targets, seed):
    torch.manual_seed(seed)
    model = GPT(config)
    logits = model(idx)
    F.cross_entropy(logits.flatten(0, 1), targets.flatten()).backward()
    return [torch.nn.utils.get_total_norm([p.grad for p in block.parameters()]).item()
            for block in model.transformer.h]


SHORTCUTS = [
    ("check_rms_norm", lambda x, g, eps: F.rms_norm(x, x.shape[-1:], g, eps), r"F\.rms_norm"),
    ("check_rms_norm", lambda x, g, eps: imported_rms_norm(x, x.shape[-1:], g, eps), r"F\.rms_norm"),
    ("check_rms_norm", lambda x, g, eps: ASSIGNED_RMS_NORM(x, x.shape[-1:], g, eps), r"F\.rms_norm"),
    ("check_rms_norm", lambda x, g, eps: torch.rms_norm(x, x.shape[-1:], g, eps), r"torch\.rms_norm"),
    ("check_rms_norm", _rms_norm_module, r"nn\.RMSNorm"),
    ("check_rms_norm", lambda x, g, eps: ch5._rms(x, g, eps), r"gpt2lite\.checks\.block\._rms"),
    ("check_pre_ln_step", lambda x, block: block(x)[0], r"block"),
    ("check_pre_ln_step", lambda x, block: block.forward(x)[0], r"block"),
    ("check_pre_ln_step", lambda x, block: ch5._step(x, block), r"gpt2lite\.checks\.block\._step"),
    ("check_block_grad_norms", _norms_by_clipping, r"torch\.nn\.utils\.clip_grad_norm_"),
    ("check_block_grad_norms", _norms_by_total_norm, r"torch\.nn\.utils\.get_total_norm"),
    ("check_block_grad_norms", lambda config, idx, targets, seed: ch5._norms(ch5._grads(config, idx, targets, seed)[0]),
     r"gpt2lite\.checks\.block\._grads"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {}
