"""Fast generation on a CPU: every weight read once per token, in as few bytes as it can be.

Generating one token at batch 1 multiplies one row by every weight matrix: the time goes into reading the
weights, not into arithmetic. So two things decide the speed: how fast each product streams its weights from
memory, and how many bytes each weight takes. ``quantize(model, kind)`` returns a copy for inference whose linear
layers are ``StreamedLinear``; ``generate`` and ``stream`` work on it as usual, and the model file stays as it is.

- ``"fp32"``: the weights as they are. Only the kernel changes: torch's CPU matrix-vector product reads a
  weight matrix at about half the speed of a plain read of the same bytes, the kernel here at about the plain
  read's speed (the appendix "How fast is it?" measures both).
- ``"bf16"``: the linear layers' weights in bfloat16, 2 bytes: float32's exponent, 8 bits of mantissa.
- ``"int8"``: the linear layers' weights in int8, 1 byte, with one float32 scale per output channel,
  ``w[j, i] ~ scale[j] * q[j, i]`` with ``q`` in [-127, 127] (weight-only quantization).

The activations, embeddings and LayerNorms stay float32 in all three, and every product accumulates in float32:
only the stored weights are rounded. What that costs in accuracy is measured, not assumed: ``logit_error`` gives
the largest logit difference against the float32 model relative to the logits' spread, and ``greedy_agreement``
how many greedy tokens two models share.

The kernel is one line of PyTorch, ``(weight.float() * x).sum(-1)``, that ``torch.compile`` turns into a loop
that reads each weight once, widens it to float32 in registers and accumulates, without ever holding the
product in memory. It needs the C++ compiler that ``torch.compile`` uses on a CPU (g++ or clang). Its int8 is fast
on a CPU with AVX-512; with AVX2 only (measured by forcing torch's AVX2 code path, ``ATEN_CPU_CAPABILITY=avx2``)
the compiled loop widens int8 weights slowly, and int8 then reads the output layer at a tenth of fp32's speed.
On a GPU the libraries' kernels are fast already: there ``"bf16"`` is the whole model in bfloat16 and ``"fp32"``
the model.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .linear import FEW_ROWS, Linear  # FEW_ROWS: up to this many rows a product is bound by reading its weights
from .model import GPT
from .validate import choice, integer

KINDS = ("fp32", "bf16", "int8")
STORAGE = {"fp32": torch.float32, "bf16": torch.bfloat16, "int8": torch.int8}


def quantize(model: GPT, kind: str) -> GPT:
    """A copy of model for inference with its linear layers' weights in `kind` ("fp32", "bf16" or "int8"), in
    eval mode; the model itself is unchanged."""
    if not isinstance(model, GPT):
        raise TypeError(f"quantize expects a gpt2lite GPT, got {type(model).__name__}")
    kind = choice("kind", kind, KINDS)
    device = model.transformer.wte.weight.device
    low = copy.deepcopy(model).eval().requires_grad_(False)  # for inference only: nothing in it is trained
    if device.type != "cpu":
        if kind == "int8":
            raise ValueError(f"int8 runs on the CPU, but the model is on {device}; use kind='bf16' on a GPU, "
                             "or move the model with model.cpu() first")
        return low.to(torch.bfloat16) if kind == "bf16" else low
    # The output layer shares its weight with the token embedding: in bf16 and int8 it gets a copy of its own
    # in that format, and the lookup keeps float32. In fp32 the two go on sharing one tensor.
    layers = [(parent, name, child) for parent in low.modules() for name, child in parent.named_children()
              if isinstance(child, Linear)]
    for parent, name, child in layers:
        setattr(parent, name, StreamedLinear.from_linear(child, kind))
    return low


class StreamedLinear(nn.Module):
    """A linear layer for inference whose weight is stored in float32, bfloat16 or int8 (with a scale per output
    channel), and whose product with a few rows reads that weight once, in the bytes it is stored in.

    Many rows (a long prompt) go through ``F.linear`` with the weight widened to float32 for the call: there the
    arithmetic, not the reading, is the cost, and BLAS does arithmetic best.
    """

    def __init__(self, weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.register_buffer("weight", weight)  # (out, in) in its storage dtype
        self.register_buffer("scale", scale)  # (out,) float32: weight[j] * scale[j] is row j in float32
        self.register_buffer("bias", bias)  # (out,) float32 (zeros for a layer without one)

    @classmethod
    def from_linear(cls, layer: nn.Linear, kind: str) -> StreamedLinear:
        """layer's weights rounded to `kind`; int8 takes a symmetric scale per output channel, max |w_j| / 127."""
        kind = choice("kind", kind, KINDS)
        w = layer.weight.detach()  # (out, in)
        scale = torch.ones(w.size(0), dtype=torch.float32, device=w.device)
        if kind == "int8":
            scale = w.abs().amax(dim=1).float().clamp_min(torch.finfo(torch.float32).tiny) / 127  # (out,)
            w = (w / scale[:, None]).round().clamp(-127, 127)
        bias = layer.bias.detach().float() if layer.bias is not None else torch.zeros_like(scale)
        return cls(w.to(STORAGE[kind]), scale, bias)

    @property
    def kind(self) -> str:
        return next(k for k, dtype in STORAGE.items() if dtype == self.weight.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, kind={self.kind}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., in) -> (..., out), in x's dtype; the product is computed in float32."""
        if x.size(-1) != self.in_features:
            raise ValueError(f"expected inputs with {self.in_features} features in the last dimension, "
                             f"got shape {tuple(x.shape)}")
        rows = x.numel() // self.in_features
        flat = x.reshape(rows, self.in_features).float()  # (R, in)
        if 0 < rows <= FEW_ROWS and x.device.type == "cpu":
            # The kernel always sees the same kind of input, so that it compiles once per weight dtype (and once
            # more for a single row): a fresh contiguous copy of the (small) rows, made in inference mode (a
            # view, or a tensor that autograd tracks, would each be compiled for anew).
            with torch.inference_mode():
                out = _streamed()(flat.clone(memory_format=torch.contiguous_format), self.weight, self.scale,
                                  self.bias)  # (R, out)
        else:
            with torch.no_grad():  # an inference copy: nothing here is trained
                out = F.linear(flat, self.weight.float() * self.scale[:, None], self.bias)  # (R, out)
        return out.reshape(*x.shape[:-1], self.out_features).to(x.dtype)


def _product(x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x (R, in) float32 times weight (out, in) in its storage dtype -> (R, out) float32.

    Written as a broadcast product and a sum so that the compiler fuses them: for each output j, one pass over
    row j of the weight, each element widened to float32 and multiplied into the R rows' running sums. With the
    outputs first, row j is read from memory once and reused from the cache for all R rows.
    """
    y = (weight[:, None, :].float() * x[None]).sum(-1)  # (out, R): never materialised as (out, R, in)
    return (y * scale[:, None] + bias[:, None]).T  # (R, out)


@functools.cache
def _streamed() -> Callable[..., torch.Tensor]:
    """_product compiled once per process (dynamic shapes: one kernel per weight dtype serves every layer)."""
    compiled = torch.compile(_product, dynamic=True)

    def run(*args: torch.Tensor) -> torch.Tensor:
        try:
            return compiled(*args)
        except Exception as exc:  # the compiler itself failed: say what it needs instead of inductor's traceback
            if "Compil" not in type(exc).__name__ and "Inductor" not in type(exc).__name__:
                raise
            raise RuntimeError(f"quantize's CPU kernel is built by torch.compile, which failed here: {exc}\n"
                               "It needs a working C++ compiler (g++ or clang) and Python headers; install them, "
                               "or generate with the model itself") from exc

    return run


@torch.no_grad()
def logit_error(reference: GPT, other: GPT, idx: torch.Tensor) -> float:
    """max |logits(other) - logits(reference)| over every position of idx (B, T), divided by the spread
    max - min of the reference's logits: 0.01 means that no logit moved by more than 1% of the range."""
    want = reference.eval()(idx).float()  # (B, T, V)
    got = other.eval()(idx).float()
    return float((got - want).abs().max() / (want.max() - want.min()))


def greedy_agreement(reference: GPT, other: GPT, idx: torch.Tensor, n: int) -> int:
    """How many of the first n greedy tokens after idx (1, T) the two models share before they first differ."""
    n = integer("n", n, minimum=1)
    want = reference.generate(idx, n, temperature=0)[0, idx.size(1):]
    got = other.generate(idx, n, temperature=0)[0, idx.size(1):]
    differ = (want != got).nonzero()
    return n if len(differ) == 0 else int(differ[0])
