"""Checks for chapter 5's exercises: RMSNorm by hand, a pre-LN block repaired from a buggy one, and the gradient
norm of every block of a deep stack at initialisation, pre-LN against post-LN."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils

from gpt2lite import GPTConfig
from gpt2lite.model import GPT, Block

from ._core import call, describe, expect_close, fail, forbid, forbid_helpers, passed, seeded_model

_NORMS = {F.rms_norm: "F.rms_norm", torch.rms_norm: "torch.rms_norm", nn.RMSNorm: "nn.RMSNorm",
          F.layer_norm: "F.layer_norm", torch.layer_norm: "torch.layer_norm",
          torch.native_layer_norm: "torch.native_layer_norm", nn.LayerNorm: "nn.LayerNorm"}


# ------------------------------------------------------------------------------------------- ex-05-rmsnorm
def _rms(x: torch.Tensor, gain: torch.Tensor, eps: float) -> torch.Tensor:
    """The reference, written out: x / sqrt(mean(x^2) + eps) * gain over the last axis."""
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * gain


def check_rms_norm(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> None:
    """`fn(x, gain, eps)` is RMSNorm over the last axis of x (..., C): x / sqrt(mean(x**2) + eps) * gain, with gain
    of shape (C,); no mean is subtracted and there is no bias."""
    g = torch.Generator().manual_seed(4)
    cases = [
        ((3, 8), 1e-6, 2.0, 1.0),  # an offset: shows whether the mean is subtracted
        ((2, 5, 16), 1e-5, 0.5, 3.0),
        ((1, 1, 4), 1e-6, 1.0, 1.0),
        ((4, 6), 1.0, 0.0, 1.0),  # a large eps: shows whether eps is inside the square root
        ((4, 6), 1e-5, 0.0, 1e-4),  # a mean square below eps
        ((5,), 1e-6, -3.0, 4.0),  # a single vector
    ]
    forbidden = forbid(_NORMS, "write it with tensor operations: the mean of x**2 over the last axis, eps, a square "
                               "root, then the gain") + forbid_helpers(__name__)
    for shape, eps, offset, spread in cases:
        C = shape[-1]
        x = offset + spread * torch.randn(shape, generator=g)
        gain = torch.randn(C, generator=g)
        text = f"{fn.__name__}(x of shape {shape}, gain, eps={eps})"
        got = call(fn, x.clone(), gain.clone(), eps, call_text=text, forbidden=forbidden)
        ms = x.pow(2).mean(-1, keepdim=True)
        centred = x - x.mean(-1, keepdim=True)
        expect_close(text, got, _rms(x, gain, eps), atol=1e-5, rtol=1e-4, mistakes={
            "this subtracts the mean, as LayerNorm does: RMSNorm divides x itself by its root mean square":
                lambda: centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + eps) * gain,
            "eps is outside the square root: divide by sqrt(mean(x**2) + eps)": lambda: x / (ms.sqrt() + eps) * gain,
            "eps is missing: divide by sqrt(mean(x**2) + eps)": lambda: x / ms.sqrt() * gain,
            "the square root is missing: divide by the ROOT of the mean square": lambda: x / (ms + eps) * gain,
            "this divides by the L2 norm (a sum over C): the mean square divides that sum by C":
                lambda: x / torch.sqrt(x.pow(2).sum(-1, keepdim=True) + eps) * gain,
            "the gain is not applied: multiply by gain at the end": lambda: x / torch.sqrt(ms + eps),
            "this normalises over the first axis: RMSNorm normalises each vector over its last axis (dim=-1)":
                lambda: _rms(x.movedim(0, -1), torch.ones(()), eps).movedim(-1, 0) * gain,
        }, hint="x / sqrt(mean(x**2 over the last axis) + eps) * gain: no mean subtracted, no bias")
    passed("rms_norm matches RMSNorm written out, without torch's RMSNorm or LayerNorm")


# ------------------------------------------------------------------------------------------ ex-05-residual
def _step(x: torch.Tensor, block: Block, *, mistake: str | None = None) -> torch.Tensor:
    """The block from its sub-modules; `mistake` switches on one wrong arrangement."""
    attn = lambda h: block.attn(h)[0]  # noqa: E731
    if mistake == "normalised stream":  # the exercise's bug: the residual adds to norm(x), not x
        for norm, sublayer in ((block.ln_1, attn), (block.ln_2, block.mlp)):
            h = norm(x)
            x = h + sublayer(h)
        return x
    if mistake == "post-LN":
        x = block.ln_1(x + attn(x))
        return block.ln_2(x + block.mlp(x))
    if mistake == "parallel":
        return x + attn(block.ln_1(x)) + block.mlp(block.ln_2(x))
    if mistake == "no residual":
        return block.mlp(block.ln_2(attn(block.ln_1(x))))
    if mistake == "ln_1 twice":
        x = x + attn(block.ln_1(x))
        return x + block.mlp(block.ln_1(x))
    if mistake == "mlp residual missing":
        x = x + attn(block.ln_1(x))
        return block.mlp(block.ln_2(x))
    x = x + attn(block.ln_1(x))
    return x + block.mlp(block.ln_2(x))


def check_pre_ln_step(fn: Callable[[torch.Tensor, Block], torch.Tensor]) -> None:
    """`fn(x, block)` is GPT-2's pre-LN block, x + attn(ln_1(x)) then + mlp(ln_2(.)), from the block's sub-modules
    (block.ln_1, block.attn, block.ln_2, block.mlp), without calling the block itself."""
    g = torch.Generator().manual_seed(5)
    forbidden = forbid({Block: "block"}, "call its sub-modules (block.ln_1, block.attn, block.ln_2, block.mlp), "
                                         "not the block itself") + forbid_helpers(__name__)
    for C, n_head, B, T, offset in [(16, 4, 2, 7, 3.0), (8, 1, 1, 1, 0.0), (32, 8, 3, 5, -2.0), (12, 3, 1, 12, 0.0)]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(C + T)
            block = Block(GPTConfig(n_embd=C, n_head=n_head)).eval()
            with torch.no_grad():
                for ln in (block.ln_1, block.ln_2):  # non-trivial LayerNorms, so that mixing them up shows
                    ln.weight.normal_(1.0, 0.3)
                    ln.bias.normal_(0.0, 0.3)
        x = offset + 2.0 * torch.randn(B, T, C, generator=g)  # a stream far from mean 0, variance 1
        with torch.no_grad():
            expected, _ = block(x)
            text = f"{fn.__name__}(x of shape {(B, T, C)}, block with n_embd={C}, n_head={n_head})"
            got = call(fn, x.clone(), block, call_text=text, forbidden=forbidden)
            expect_close(text, got, expected, atol=1e-5, rtol=1e-4, mistakes={
                "this is the bug: h + sublayer(h) adds to the NORMALISED stream, so every sub-layer throws the "
                "stream's scale away. Add to the stream itself: x = x + sublayer(norm(x))":
                    lambda: _step(x, block, mistake="normalised stream"),
                "this is a post-LN block (GPT-1), ln(x + f(x)): GPT-2 normalises what each sub-layer reads, "
                "x + f(ln(x))": lambda: _step(x, block, mistake="post-LN"),
                "the MLP reads the block's input: it must read ln_2 of the stream after the attention's add":
                    lambda: _step(x, block, mistake="parallel"),
                "the residual connections are missing: x = x + f(norm(x)) for both sub-layers":
                    lambda: _step(x, block, mistake="no residual"),
                "the MLP's residual add is missing: x = x + mlp(ln_2(x))":
                    lambda: _step(x, block, mistake="mlp residual missing"),
                "the MLP reads ln_1: each sub-layer has its own LayerNorm, the MLP's is ln_2":
                    lambda: _step(x, block, mistake="ln_1 twice"),
            }, hint="x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x)); block.attn returns (y, weights)")
    passed("pre_ln_step matches gpt2lite.model.Block, without calling it")


# ------------------------------------------------------------------------------------------ ex-05-depth
_GRAD_NORMS = {getattr(torch.nn.utils, name): f"torch.nn.utils.{name}"  # get_total_norm: torch 2.6 and newer
               for name in ("clip_grad_norm_", "get_total_norm") if hasattr(torch.nn.utils, name)}
_DEPTH = GPTConfig(vocab_size=65, block_size=16, n_layer=12, n_head=4, n_embd=32)


def _grads(config: GPTConfig, idx: torch.Tensor, targets: torch.Tensor,
           seed: int) -> tuple[list[list[torch.Tensor]], GPT]:
    """The check's own run: one backward of the mean cross-entropy at initialisation; per block, its gradients."""
    model = seeded_model(config, seed)
    logits = model(idx)
    F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1)).backward()
    return [[p.grad for p in block.parameters()] for block in model.transformer.h], model


def _norms(grads: list[list[torch.Tensor]]) -> torch.Tensor:
    return torch.tensor([math.sqrt(sum(g.double().pow(2).sum().item() for g in gs)) for gs in grads],
                        dtype=torch.float64)


def _as_numbers(got: object, text: str, n_layer: int) -> torch.Tensor:
    """The reader's list (or 1-D tensor) of n_layer numbers, as a float64 tensor."""
    if isinstance(got, torch.Tensor):
        got = got.detach().flatten().tolist() if got.dim() <= 1 else got
    if not isinstance(got, (list, tuple)) or not all(
            isinstance(v, (int, float)) or isinstance(v, torch.Tensor) and v.numel() == 1 for v in got):
        fail(text, f"a list of {n_layer} numbers, one per block", describe(got),
             "return [the gradient norm of block 0, of block 1, ...] as floats")
    if len(got) != n_layer:
        fail(text, f"{n_layer} numbers, one per block (len(model.transformer.h))", f"{len(got)} numbers",
             "one norm per block, over all of that block's parameters, from the first block to the last")
    return torch.tensor([float(v) for v in got], dtype=torch.float64)


def check_block_grad_norms(fn: Callable[[GPTConfig, torch.Tensor, torch.Tensor, int], Sequence[float]]) -> None:
    """`fn(config, idx, targets, seed)` builds GPT(config) right after torch.manual_seed(seed), takes one backward
    of the mean cross-entropy of its logits for idx against targets (B, T), and returns, per block from the first
    to the last, the norm of all of that block's gradients. The check re-runs this with its own code and prints
    the norms of the first and the last block, pre-LN and post-LN, at depth 12."""
    g = torch.Generator().manual_seed(6)
    forbidden = forbid(_GRAD_NORMS,
                       "add up the squares of every gradient of the block yourself, then take the square root") \
        + forbid_helpers(__name__)
    ends = {}  # arrangement -> the gradient norms of its first and last block, at depth 12
    for config, B, T, seed in [(_DEPTH, 4, 16, 0), (_DEPTH.replace(pre_ln=False), 4, 16, 0),
                               (GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8), 3, 5, 3)]:
        idx = torch.randint(config.vocab_size, (B, T), generator=g)
        targets = torch.randint(config.vocab_size, (B, T), generator=g)
        arrangement = "pre-LN" if config.pre_ln else "post-LN"
        text = (f"{fn.__name__}(config with n_layer={config.n_layer}, n_embd={config.n_embd}, {arrangement}, "
                f"idx of shape {(B, T)}, targets, seed={seed})")
        with torch.random.fork_rng(devices=[]):
            got = call(fn, config, idx.clone(), targets.clone(), seed, call_text=text, forbidden=forbidden)
        got = _as_numbers(got, text, config.n_layer)
        grads, model = _grads(config, idx, targets, seed)
        expected = _norms(grads)
        if not torch.allclose(got, expected, rtol=1e-4, atol=1e-9):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + 1)  # a forgotten manual_seed shows as two calls that disagree
                again = _as_numbers(call(fn, config, idx.clone(), targets.clone(), seed, call_text=text,
                                         forbidden=forbidden), text, config.n_layer)
            if not torch.allclose(got, again, rtol=1e-6):
                fail(text, "the same numbers from two calls with the same seed", "two different lists",
                     "call torch.manual_seed(seed) right before GPT(config): the weights must come from the seed")
            weights = [list(block.parameters()) for block in model.transformer.h]
            expect_close(text, got, expected, atol=1e-9, rtol=1e-4, mistakes={
                "these are squared norms: take the square root of the sum of squares":
                    lambda: expected.pow(2),
                "the blocks are in reverse order: model.transformer.h[0], the first block, comes first":
                    lambda: expected.flip(0),
                "this adds up each parameter's norm: the block's norm is sqrt of the sum of ALL its squared "
                "gradients": lambda: torch.tensor([sum(gr.double().norm().item() for gr in gs) for gs in grads],
                                                dtype=torch.float64),
                "these are the norms of the weights, not of their gradients (p.grad)": lambda: _norms(weights),
                "this loss is summed over the B*T positions: F.cross_entropy's default mean is the one asked for":
                    lambda: expected * idx.numel(),
                "only the weight matrices are counted: the biases and the LayerNorms' parameters belong to the "
                "block too": lambda: _norms([[gr for gr in gs if gr.dim() == 2] for gs in grads]),
            }, hint="torch.manual_seed(seed); model = GPT(config); loss = F.cross_entropy(logits over B*T "
                    "positions, targets); loss.backward(); per block: sqrt(sum of p.grad.pow(2).sum())")
        ends.setdefault(arrangement, (expected[0].item(), expected[-1].item()))
    (pre_first, pre_last), (post_first, post_last) = ends["pre-LN"], ends["post-LN"]
    passed(f"block_grad_norms matches the check's run; {_DEPTH.n_layer} blocks at initialisation, gradient norm "
           f"of the first and the last block: pre-LN {pre_first:.3g} and {pre_last:.3g}, post-LN {post_first:.3g} "
           f"and {post_last:.3g}")
