"""Checks for chapter 5's exercises: LayerNorm, the tanh GELU, a block's parameter count and a pre-LN block
computed by hand from its weights."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt2lite import GPTConfig
from gpt2lite.attention import explicit_attention
from gpt2lite.model import Block

from ._core import (Forbidden, call, describe, expect_close, expect_count, forbid, forbid_helpers, forbid_modules,
                    model_building, passed)

_LAYER_NORMS = {F.layer_norm: "F.layer_norm", torch.layer_norm: "torch.layer_norm",
                torch.native_layer_norm: "torch.native_layer_norm", nn.LayerNorm: "nn.LayerNorm"}
_GELUS = {F.gelu: "F.gelu", nn.GELU: "nn.GELU"}  # F.gelu is torch._C._nn.gelu itself
_ATTENTIONS = {F.scaled_dot_product_attention: "F.scaled_dot_product_attention",
               F.multi_head_attention_forward: "F.multi_head_attention_forward",
               nn.MultiheadAttention: "nn.MultiheadAttention",
               explicit_attention: "gpt2lite.attention.explicit_attention"}


def _no_ready_layernorm() -> Forbidden:
    """torch's layer norms (the function, the C function, the module), which the exercise writes by hand."""
    return forbid(_LAYER_NORMS, "write it with tensor operations: mean and variance over dim=-1 (keepdim=True), "
                                "then (x - mean) / torch.sqrt(var + eps) * gain + bias") + forbid_helpers(__name__)


def _no_ready_gelu() -> Forbidden:
    """torch's GELU (F.gelu, nn.GELU), which the exercise writes from the tanh formula."""
    return forbid(_GELUS, "write the formula with tensor operations: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) "
                          "* (x + 0.044715 * x**3)))") + forbid_helpers(__name__)


def check_layernorm(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], torch.Tensor]) -> None:
    """`fn(x, gain, bias, eps)` normalises x (..., C) over its last axis and applies gain and bias (C,),
    exactly like nn.LayerNorm(C, eps=eps)."""
    g = torch.Generator().manual_seed(4)
    cases = [
        ((3, 8), 1e-5, 2.0, 1.0),
        ((2, 5, 16), 1e-5, 2.0, 1.0),
        ((1, 1, 4), 1e-5, 2.0, 1.0),
        ((4, 6), 1.0, 2.0, 1.0),  # a large eps: shows whether eps is inside the square root
        ((4, 6), 1e-5, 0.0, 1e-3),  # nearly constant rows: a variance below eps
        ((5,), 1e-5, -3.0, 4.0),  # a single vector
    ]
    forbidden = _no_ready_layernorm()
    for shape, eps, offset, spread in cases:
        C = shape[-1]
        x = offset + spread * torch.randn(shape, generator=g)
        gain, bias = torch.randn(C, generator=g), torch.randn(C, generator=g)
        text = f"{fn.__name__}(x of shape {shape}, gain, bias, eps={eps})"
        got = call(fn, x.clone(), gain.clone(), bias.clone(), eps, call_text=text, forbidden=forbidden)
        centred = x - x.mean(-1, keepdim=True)
        var = centred.pow(2).mean(-1, keepdim=True)
        expect_close(text, got, F.layer_norm(x, (C,), gain, bias, eps), mistakes={
            "eps is outside the square root: divide by sqrt(var + eps), not sqrt(var) + eps":
                lambda: centred / (var.sqrt() + eps) * gain + bias,
            "this is the unbiased variance (divided by C - 1): LayerNorm divides by C (x.var(unbiased=False))":
                lambda: centred / (x.var(-1, keepdim=True) + eps).sqrt() * gain + bias,
            "eps is missing: divide by sqrt(var + eps)": lambda: centred / var.sqrt() * gain + bias,
            "gain and bias are swapped: multiply by gain, then add bias":
                lambda: centred / (var + eps).sqrt() * bias + gain,
            "gain and bias are not applied: multiply by gain, then add bias": lambda: centred / (var + eps).sqrt(),
            "this normalises over the first axis: LayerNorm normalises each vector over its last axis (dim=-1)":
                lambda: F.layer_norm(x.movedim(0, -1), (x.shape[0],)).movedim(-1, 0) * gain + bias,
        }, hint="(x - mean) / sqrt(var + eps) * gain + bias, with mean and var over the last axis")
    passed("layernorm matches nn.LayerNorm")


def _tanh_by_exp(z: torch.Tensor) -> torch.Tensor:
    return (torch.exp(2 * z) - 1) / (torch.exp(2 * z) + 1)


def check_gelu_tanh(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """`fn(x)` returns GPT-2's tanh approximation of GELU, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
    elementwise, same shape as x."""
    g = torch.Generator().manual_seed(5)
    inputs = [torch.linspace(-10, 10, 1001), torch.tensor([0.0]), torch.tensor([-50.0, 50.0]),
              torch.randn(3, 4, 5, generator=g), torch.tensor(1.5)]
    c = math.sqrt(2.0 / math.pi)
    forbidden = _no_ready_gelu()
    for x in inputs:
        text = f"{fn.__name__}({describe(x)})" if x.numel() <= 8 else f"{fn.__name__}(x of shape {tuple(x.shape)})"
        got = call(fn, x.clone(), call_text=text, forbidden=forbidden)
        expect_close(text, got, F.gelu(x, approximate="tanh"), atol=1e-6, rtol=1e-6, mistakes={
            "this is the exact GELU, x * Phi(x) with erf: GPT-2 uses the tanh approximation": lambda: F.gelu(x),
            "this is the sigmoid approximation x * sigmoid(1.702 x): use the tanh formula":
                lambda: x * torch.sigmoid(1.702 * x),
            "the factor 0.5 is missing": lambda: x * (1 + torch.tanh(c * (x + 0.044715 * x**3))),
            "the square root is missing: the factor is sqrt(2 / pi), about 0.798":
                lambda: 0.5 * x * (1 + torch.tanh(2 / math.pi * (x + 0.044715 * x**3))),
            "the cubic term is missing: tanh(sqrt(2/pi) * (x + 0.044715 * x**3))":
                lambda: 0.5 * x * (1 + torch.tanh(c * x)),
            "large inputs give nan: exp overflows in (e^2z - 1) / (e^2z + 1); use torch.tanh":
                lambda: 0.5 * x * (1 + _tanh_by_exp(c * (x + 0.044715 * x**3))),
        }, hint="0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))")
    passed("gelu_tanh matches nn.GELU(approximate='tanh'), from -50 to 50")


def _block_parameters(C: int) -> int:
    """The reference count, from a Block on the meta device (not cached: a reader's call to it must be seen)."""
    with torch.device("meta"):
        return sum(p.numel() for p in Block(GPTConfig(n_embd=C, n_head=1)).parameters())


def check_block_params(fn: Callable[[int], int]) -> None:
    """`fn(C)` returns the number of parameters of one GPT-2 block of width C (with biases), from a formula."""
    forbidden = model_building("count from the formula: the four Linear layers' weights and biases and the two "
                               "LayerNorms' gains and biases, in terms of C") + forbid_helpers(__name__)
    for C in [768, 1, 2, 8, 64, 100, 1600]:
        expect_count(f"{fn.__name__}({C})", call(fn, C, forbidden=forbidden), _block_parameters(C), mistakes={
            "that counts the weight matrices only: add the biases (9C) and the two LayerNorms (4C)":
                lambda: 12 * C**2,
            "the two LayerNorms are missing: each has a gain and a bias of C numbers (4C in all)":
                lambda: 12 * C**2 + 9 * C,
            "a LayerNorm has a gain AND a bias, 2C numbers each": lambda: 12 * C**2 + 11 * C,
            "the MLP widens to 4C: c_fc is C x 4C and c_proj 4C x C": lambda: 6 * C**2 + 10 * C,
            "c_attn makes q, k and v at once: it is C x 3C, with 3C biases": lambda: 10 * C**2 + 11 * C,
        }, hint="attention: c_attn (C x 3C + 3C) and c_proj (C x C + C); MLP: c_fc (C x 4C + 4C) and c_proj "
                "(4C x C + C); two LayerNorms of 2C")
    passed("block_params matches gpt2lite.model.Block for every width tried")


def _by_hand(x: torch.Tensor, block: Block, *, post_ln: bool = False, parallel: bool = False, residual: bool = True,
             scale: bool = True, causal: bool = True, exact_gelu: bool = False, split: str = "heads",
             softmax_dim: int = -1) -> torch.Tensor:
    """The block's output, computed from its weights; the keywords switch on one common mistake each."""
    def ln(h: torch.Tensor, mod: nn.LayerNorm) -> torch.Tensor:
        return F.layer_norm(h, mod.normalized_shape, mod.weight, mod.bias, mod.eps)

    def attention(h: torch.Tensor) -> torch.Tensor:
        B, T, C = h.shape
        H = block.attn.n_head
        q, k, v = F.linear(h, block.attn.c_attn.weight, block.attn.c_attn.bias).split(C, dim=-1)
        if split == "heads":  # (B, T, C) -> (B, H, T, hd)
            q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        else:  # the wrong view (B, T, hd, H): channels of one head are strided
            q, k, v = (t.view(B, T, C // H, H).permute(0, 3, 1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / (math.sqrt(C // H) if scale else 1.0)
        if causal:
            scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        y = torch.softmax(scores, dim=softmax_dim) @ v  # (B, H, T, hd)
        y = y.transpose(1, 2).reshape(B, T, C) if split == "heads" else y.permute(0, 2, 3, 1).reshape(B, T, C)
        return F.linear(y, block.attn.c_proj.weight, block.attn.c_proj.bias)

    def mlp(h: torch.Tensor) -> torch.Tensor:
        a = F.linear(h, block.mlp.c_fc.weight, block.mlp.c_fc.bias)
        a = F.gelu(a) if exact_gelu else F.gelu(a, approximate="tanh")
        return F.linear(a, block.mlp.c_proj.weight, block.mlp.c_proj.bias)

    with torch.no_grad():
        if post_ln:
            x = ln(x + attention(x), block.ln_1)
            return ln(x + mlp(x), block.ln_2)
        if not residual:
            return mlp(ln(attention(ln(x, block.ln_1)), block.ln_2))
        if parallel:
            return x + attention(ln(x, block.ln_1)) + mlp(ln(x, block.ln_2))
        x = x + attention(ln(x, block.ln_1))
        return x + mlp(ln(x, block.ln_2))


def _by_hand_only(block: Block) -> Forbidden:
    """Calling the block or any of its sub-modules (or another module of their kinds), and torch's or the package's
    layer norm, GELU and attention: the exercise computes all of them from the weight tensors."""
    instead = ("compute the block from its weight tensors (block.ln_1.weight, block.attn.c_attn.weight, ...) with "
               "tensor operations only")
    return (forbid_modules(block, "block", instead) + forbid({**_LAYER_NORMS, **_GELUS, **_ATTENTIONS}, instead)
            + forbid_helpers(__name__))


def check_pre_ln_block(fn: Callable[[torch.Tensor, Block], torch.Tensor]) -> None:
    """`fn(x, block)` computes the output of the pre-LN gpt2lite.model.Block `block` for x (B, T, C) from the
    block's weight tensors and block.attn.n_head, without calling the block or its sub-modules."""
    g = torch.Generator().manual_seed(5)
    for C, n_head, B, T in [(8, 1, 1, 1), (16, 4, 2, 7), (32, 8, 3, 1), (48, 4, 1, 12), (12, 3, 2, 2)]:
        with torch.random.fork_rng():
            torch.manual_seed(C + T)
            block = Block(GPTConfig(n_embd=C, n_head=n_head)).eval()
            with torch.no_grad():
                for ln in (block.ln_1, block.ln_2):  # non-trivial LayerNorms, so that forgetting one shows
                    ln.weight.normal_(1.0, 0.3)
                    ln.bias.normal_(0.0, 0.3)
        x = torch.randn(B, T, C, generator=g)
        with torch.no_grad():
            expected, _ = block(x)
        text = f"{fn.__name__}(x of shape {(B, T, C)}, block with n_embd={C}, n_head={n_head})"
        with torch.no_grad():
            got = call(fn, x.clone(), block, call_text=text, forbidden=_by_hand_only(block))
        expect_close(text, got, expected, atol=1e-5, rtol=1e-4, mistakes={
            "this is a post-LN block (GPT-1): GPT-2 normalises before each sub-layer, x + attn(ln_1(x))":
                lambda: _by_hand(x, block, post_ln=True),
            "the residual connections are missing: x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x))":
                lambda: _by_hand(x, block, residual=False),
            "the MLP reads ln_2 of the block's input: it must read ln_2 of x after the attention's residual add":
                lambda: _by_hand(x, block, parallel=True),
            "the 1/sqrt(head_dim) scale of the scores is missing": lambda: _by_hand(x, block, scale=False),
            "no causal mask: position t sees the future. Fill the scores above the diagonal with -inf":
                lambda: _by_hand(x, block, causal=False),
            "this is the exact (erf) GELU: GPT-2's MLP uses the tanh approximation":
                lambda: _by_hand(x, block, exact_gelu=True),
            "the heads are split wrong: view as (B, T, n_head, head_dim), then transpose(1, 2)":
                lambda: _by_hand(x, block, split="strided"),
            "the softmax runs over the queries (dim=-2); it must run over the keys (dim=-1)":
                lambda: _by_hand(x, block, softmax_dim=-2),
        }, hint="x + attn(ln_1(x)), then + mlp(ln_2(...)); causal attention with 1/sqrt(head_dim); tanh GELU; "
                "nn.Linear computes h @ weight.T + bias")
    passed("pre_ln_block matches gpt2lite.model.Block, without calling it")
