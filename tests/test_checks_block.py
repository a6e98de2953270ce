"""The answer checks of chapter 5: right answers pass, the common mistakes fail with their own hint."""

import math

import pytest
import torch

from gpt2lite.checks import CheckFailed, check_block_params, check_gelu_tanh, check_layernorm, check_pre_ln_block
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import layer_norm
from gpt2lite import GPTConfig
from gpt2lite.checks import block as ch5
from gpt2lite.checks._core import meta_model
from gpt2lite.model import Block


def stub(*args):
    raise NotImplementedError("write this function")


# ---------------------------------------------------------------------- ex-05-layernorm
def layernorm(x, gain, bias, eps, *, unbiased=False, eps_outside=False, dim=-1):
    mean = x.mean(dim=dim, keepdim=True)
    var = x.var(dim=dim, keepdim=True, unbiased=unbiased)
    std = var.sqrt() + eps if eps_outside else torch.sqrt(var + eps)
    return (x - mean) / std * gain + bias


def test_layernorm_passes(capsys):
    check_layernorm(layernorm)
    assert capsys.readouterr().out == "✓ layernorm matches nn.LayerNorm\n"


@pytest.mark.parametrize("wrong, message", [
    (lambda x, g, b, eps: layernorm(x, g, b, eps, eps_outside=True), "eps is outside the square root"),
    (lambda x, g, b, eps: layernorm(x, g, b, eps, unbiased=True), "unbiased variance"),
    (lambda x, g, b, eps: layernorm(x, g, b, 0.0), "eps is missing"),
    (lambda x, g, b, eps: layernorm(x, b, g, eps), "gain and bias are swapped"),
    (lambda x, g, b, eps: layernorm(x, torch.ones_like(g), torch.zeros_like(b), eps), "are not applied"),
    (lambda x, g, b, eps: layernorm(x, g, b, eps, dim=0), "over the first axis"),
    (lambda x, g, b, eps: layernorm(x, g, b, eps) + 1e-3, r"\(x - mean\) / sqrt\(var \+ eps\)"),
    (stub, "not written yet"),
])
def test_layernorm_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_layernorm(wrong)


# ---------------------------------------------------------------------- ex-05-gelu
def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def gelu_tanh_by_exp(x):
    z = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
    return 0.5 * x * (1.0 + (torch.exp(2 * z) - 1) / (torch.exp(2 * z) + 1))


def test_gelu_tanh_passes(capsys):
    check_gelu_tanh(gelu_tanh)
    assert capsys.readouterr().out.startswith("✓ gelu_tanh matches nn.GELU(approximate='tanh')")


@pytest.mark.parametrize("wrong, message", [
    (lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))), "exact GELU"),
    (lambda x: x * torch.sigmoid(1.702 * x), "sigmoid approximation"),
    (lambda x: 2 * gelu_tanh(x), "the factor 0.5 is missing"),
    (lambda x: 0.5 * x * (1 + torch.tanh(2 / math.pi * (x + 0.044715 * x**3))), "the square root is missing"),
    (lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * x)), "the cubic term is missing"),
    (gelu_tanh_by_exp, "exp overflows"),
    (lambda x: gelu_tanh(x).flatten(), "0.5 \\* x \\* \\(1 \\+ torch.tanh"),
    (stub, "not written yet"),
])
def test_gelu_tanh_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_gelu_tanh(wrong)


# ---------------------------------------------------------------------- ex-05-count
def test_block_params_passes(capsys):
    check_block_params(lambda C: 12 * C**2 + 13 * C)
    assert capsys.readouterr().out.startswith("✓ block_params matches gpt2lite.model.Block")


@pytest.mark.parametrize("wrong, message", [
    (lambda C: 12 * C**2, "the weight matrices only"),
    (lambda C: 12 * C**2 + 9 * C, "the two LayerNorms are missing"),
    (lambda C: 12 * C**2 + 11 * C, "a gain AND a bias"),
    (lambda C: 6 * C**2 + 10 * C, "the MLP widens to 4C"),
    (lambda C: 10 * C**2 + 11 * C, "c_attn makes q, k and v at once"),
    (lambda C: 12.0 * C**2 + 13 * C, "it is a float"),
    (lambda C: 12 * C**2 + 13, "attention: c_attn"),
    (stub, "not written yet"),
])
def test_block_params_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_block_params(wrong)


# ---------------------------------------------------------------------- ex-05-block
def pre_ln_block(x, block, *, post_ln=False, residual=True, parallel=False, scale=True, causal=True, erf=False,
                 strided_heads=False, softmax_dim=-1):
    def ln(h, mod):
        mean = h.mean(-1, keepdim=True)
        var = ((h - mean) ** 2).mean(-1, keepdim=True)
        return (h - mean) / torch.sqrt(var + mod.eps) * mod.weight + mod.bias

    def linear(h, mod):
        return h @ mod.weight.T + mod.bias

    def attention(h):
        B, T, C = h.shape
        H = block.attn.n_head
        q, k, v = linear(h, block.attn.c_attn).split(C, dim=-1)
        if strided_heads:
            q, k, v = (t.view(B, T, C // H, H).permute(0, 3, 1, 2) for t in (q, k, v))
        else:
            q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / (math.sqrt(C // H) if scale else 1.0)
        if causal:
            scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        y = torch.softmax(scores, dim=softmax_dim) @ v
        y = y.permute(0, 2, 3, 1) if strided_heads else y.transpose(1, 2)
        return linear(y.reshape(B, T, C), block.attn.c_proj)

    def mlp(h):
        a = linear(h, block.mlp.c_fc)
        a = 0.5 * a * (1 + torch.erf(a / math.sqrt(2))) if erf else \
            0.5 * a * (1 + torch.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)))
        return linear(a, block.mlp.c_proj)

    if post_ln:
        x = ln(x + attention(x), block.ln_1)
        return ln(x + mlp(x), block.ln_2)
    if not residual:
        return mlp(ln(attention(ln(x, block.ln_1)), block.ln_2))
    if parallel:
        return x + attention(ln(x, block.ln_1)) + mlp(ln(x, block.ln_2))
    x = x + attention(ln(x, block.ln_1))
    return x + mlp(ln(x, block.ln_2))


def calls_the_block(x, block):
    return block(x)[0]


def calls_a_sub_module(x, block):
    return x + block.attn(block.ln_1(x))[0]


def test_pre_ln_block_passes(capsys):
    check_pre_ln_block(pre_ln_block)
    assert capsys.readouterr().out.startswith("✓ pre_ln_block matches gpt2lite.model.Block")


@pytest.mark.parametrize("mistake, message", [
    ({"post_ln": True}, "post-LN block"),
    ({"residual": False}, "residual connections are missing"),
    ({"parallel": True}, "after the attention's residual add"),
    ({"scale": False}, "1/sqrt\\(head_dim\\) scale"),
    ({"causal": False}, "no causal mask"),
    ({"erf": True}, "exact \\(erf\\) GELU"),
    ({"strided_heads": True}, "the heads are split wrong"),
    ({"softmax_dim": -2}, "over the queries"),
])
def test_pre_ln_block_catches(mistake, message):
    with pytest.raises(CheckFailed, match=message):
        check_pre_ln_block(lambda x, block: pre_ln_block(x, block, **mistake))


@pytest.mark.parametrize("wrong, message", [
    (calls_the_block, r"called block\(\.\.\.\)"),
    (calls_a_sub_module, r"called block\.ln_1\(\.\.\.\)"),
    (lambda x, block: pre_ln_block(x, block) * 1.01, "x \\+ attn\\(ln_1\\(x\\)\\), then"),
    (stub, "not written yet"),
])
def test_pre_ln_block_catches_other(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_pre_ln_block(wrong)


def test_checks_leave_the_global_rng_alone():
    state = torch.get_rng_state()
    check_pre_ln_block(pre_ln_block)
    assert torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

ASSIGNED_LAYER_NORM = F.layer_norm  # an alias made before any check ran


def _layernorm_module(x, gain, bias, eps):
    ln = torch.nn.LayerNorm(x.size(-1), eps=eps)
    with torch.no_grad():
        ln.weight.copy_(gain)
        ln.bias.copy_(bias)
    return ln(x)


def _block_with_layer_norm(x, block):
    h = F.layer_norm(x, (x.size(-1),), block.ln_1.weight, block.ln_1.bias)
    return x + h


def _pre_ln_count(C):
    with torch.device("meta"):
        return sum(p.numel() for p in Block(GPTConfig(n_embd=C, n_head=1)).parameters())


SHORTCUTS = [
    ("check_layernorm", lambda x, g, b, eps: F.layer_norm(x, (x.size(-1),), g, b, eps), r"F\.layer_norm"),
    ("check_layernorm", lambda x, g, b, eps: layer_norm(x, (x.size(-1),), g, b, eps), r"F\.layer_norm"),
    ("check_layernorm", lambda x, g, b, eps: ASSIGNED_LAYER_NORM(x, (x.size(-1),), g, b, eps), r"F\.layer_norm"),
    ("check_layernorm", lambda x, g, b, eps: torch.layer_norm(x, (x.size(-1),), g, b, eps), r"torch\.layer_norm"),
    ("check_layernorm", _layernorm_module, r"nn\.LayerNorm"),
    ("check_gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), r"F\.gelu"),
    ("check_gelu_tanh", lambda x: torch._C._nn.gelu(x, approximate="tanh"), r"F\.gelu"),
    ("check_gelu_tanh", lambda x: torch.nn.GELU(approximate="tanh")(x), r"nn\.GELU"),
    ("check_block_params", _pre_ln_count, r"Block"),
    ("check_block_params", lambda C: meta_model(GPTConfig(n_embd=C, n_head=1, n_layer=1)).num_parameters(),
     r"meta_model"),
    ("check_block_params", lambda C: ch5._block_parameters(C), r"gpt2lite\.checks\.block\._block_parameters"),
    ("check_pre_ln_block", lambda x, block: block.forward(x)[0], r"block"),
    ("check_pre_ln_block", lambda x, block: x + block.attn.c_attn(x)[..., :x.size(-1)],
     r"block\.attn\.c_attn"),
    ("check_pre_ln_block", _block_with_layer_norm, r"F\.layer_norm"),
    ("check_pre_ln_block", lambda x, block: ch5._by_hand(x, block), r"gpt2lite\.checks\.block\._by_hand"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {}
