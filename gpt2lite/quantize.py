"""Low precision for generation: fewer bytes per weight, so fewer bytes to read per token.

Generating one token at batch 1 multiplies one row by every weight matrix: the time goes into reading the
weights, not into arithmetic. Halving the bytes of each weight (bf16) or quartering them (int8) is therefore the
largest speed-up there is on a CPU. ``quantize(model, kind)`` returns a copy for inference; ``generate`` and
``stream`` work on it as usual. The model file stays as it is: the swap happens here, layer by layer.

- ``"bf16"``: every parameter in bfloat16; matrix products through oneDNN, fast on CPUs with AVX512-BF16 or AMX.
- ``"int8"``: every linear layer (the output layer too) as int8 weights with one scale per output channel; each
  step's activations are quantized to int8 on the fly (torch's dynamic quantization, fbgemm/oneDNN kernels with
  VNNI), and the products accumulate in int32. CPU only. Embeddings and LayerNorms stay in float32.

What this costs in accuracy is measured, not assumed: ``logit_error`` gives the largest logit difference against
the float32 model relative to the logits' spread, and ``greedy_agreement`` how many greedy tokens two models share.
"""

from __future__ import annotations

import copy
import warnings

import torch
import torch.nn as nn

from .linear import Linear
from .model import GPT
from .validate import choice, integer

KINDS = ("bf16", "int8")


def quantize(model: GPT, kind: str) -> GPT:
    """A copy of model for inference in `kind` ("bf16" or "int8"), in eval mode; the model itself is unchanged."""
    if not isinstance(model, GPT):
        raise TypeError(f"quantize expects a gpt2lite GPT, got {type(model).__name__}")
    kind = choice("kind", kind, KINDS)
    device = model.transformer.wte.weight.device
    if kind == "int8" and device.type != "cpu":
        raise ValueError(f"int8 runs on the CPU, but the model is on {device}; use kind='bf16' on a GPU, "
                         "or move the model with model.cpu() first")
    low = copy.deepcopy(model).eval()
    if kind == "bf16":
        return low.to(torch.bfloat16)
    # The output layer shares its weight with the token embedding: it gets an int8 copy, the lookup keeps float32.
    layers = [(parent, name, child) for parent in low.modules() for name, child in parent.named_children()
              if isinstance(child, Linear)]
    for parent, name, child in layers:
        setattr(parent, name, _int8_linear(child))
    return low


def _int8_linear(layer: Linear) -> nn.Module:
    """torch's dynamically quantized Linear with layer's weights: int8, one scale per output channel.

    torch marks its quantized tensor types as deprecated (they are to move to the torchao library); they are in
    the torch that requirements.txt pins, and a torch without them gets an ImportError that says so.
    """
    try:
        import torch.ao.nn.quantized.dynamic as nnqd
        from torch.ao.quantization import per_channel_dynamic_qconfig
    except ImportError as exc:
        raise ImportError(f"kind='int8' needs torch's dynamic quantization, which torch {torch.__version__} lacks; "
                          "use kind='bf16', or the torch that requirements.txt pins") from exc
    plain = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)  # from_float wants this type
    plain.weight, plain.bias = layer.weight, layer.bias
    plain.qconfig = per_channel_dynamic_qconfig
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*deprecated")
        return nnqd.Linear.from_float(plain)


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
