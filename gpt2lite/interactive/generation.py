"""A small GPT writing in the page (chapter 8): the chapter's trained model, exported to ONNX, run by ONNX Runtime
Web with the generation loop of ``gpt2lite.generate`` written again in JavaScript (js/generation.js).

``export_onnx`` writes the model as an ONNX graph from token ids to the last position's logits;
``generation_playground`` puts that graph (base64), the vocabulary and the torch model's greedy continuations of
a few prompts (shown while ONNX Runtime loads) into the figure's data.
"""

from __future__ import annotations

import base64
import copy
import io
import os
import warnings
from collections.abc import Sequence
from typing import BinaryIO

import torch
import torch.nn as nn

from .. import draw
from ..draw._args import count
from ..model import GPT
from .figure import Interactive
from .sampling import _check_model_and_tokenizer, _check_prompts

__all__ = ["export_onnx", "generation_playground"]

OPSET = 17  # LayerNormalization is an ONNX operator from opset 17 on; ONNX Runtime Web runs it


class _LastLogits(nn.Module):
    """ids (1, T) -> logits (1, vocab_size) at the last position: what one generation step needs."""

    def __init__(self, model: GPT) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(ids, last_only=True)[:, -1]  # (1, V)


def export_onnx(model: GPT, path_or_buffer: str | os.PathLike | BinaryIO) -> bytes:
    """Write ``model`` as ONNX (input ``ids``: int64 (1, T), 1 <= T <= block_size; output ``logits``: float32
    (1, vocab_size), the last position's) to a file path or a binary buffer, and return the bytes.

    It uses the TorchScript exporter (``dynamo=False``), which is deprecated, because it is deterministic: the
    same model gives the same bytes on every run, so the chapter's stored output (the model in base64) stays
    equal under nbval; the dynamo exporter gave different bytes on two runs (and took 11 s, not 1.5). Its warnings
    are silenced here: the DeprecationWarning says just that, and the TracerWarnings point at Python branches
    the trace runs through (the input checks of ``GPT.forward``, ``Linear``'s few-rows path, the attention's
    causal cases). The trace is taken at T = block_size, where those branches take the general path (the
    causal mask is built from the input's length; the one-row fast path is only the output layer's, which
    always has one row), and the tests check the graph against the torch model at T = 1, 2, 17 and 32.
    One sequence (batch 1): the output layer's fast path fixes the number of rows at the trace.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a gpt2lite GPT, got {type(model).__name__}")
    if not isinstance(path_or_buffer, (str, os.PathLike)) and not hasattr(path_or_buffer, "write"):
        raise TypeError(
            f"path_or_buffer must be a file path or a binary buffer (io.BytesIO()), got {type(path_or_buffer).__name__}"
        )
    if not model.config.causal:
        raise ValueError("export_onnx exports a causal (GPT) model for generation; this one is bidirectional")
    cpu = copy.deepcopy(model).float().cpu().eval()  # the caller's model keeps its device, dtype and mode
    example = torch.zeros(1, model.config.block_size, dtype=torch.long)  # (1, T)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            _LastLogits(cpu), (example,), buffer, dynamo=False, opset_version=OPSET,
            input_names=["ids"], output_names=["logits"], dynamic_axes={"ids": {1: "T"}},
        )
    data = buffer.getvalue()
    if isinstance(path_or_buffer, (str, os.PathLike)):
        with open(path_or_buffer, "wb") as f:
            f.write(data)
    else:
        path_or_buffer.write(data)
    return data


def generation_playground(
    model: GPT,
    tokenizer,
    prompts: Sequence[str],
    *,
    name: str = "generation-playground",
    max_new_tokens: int = 80,
) -> Interactive:
    """The model writing in the page: type a prompt, set a temperature and a length, press Generate.

    ``tokenizer`` is the model's character tokenizer; ``prompts`` (1 to 8, its characters only) are offered in
    the page, each with the torch model's greedy continuation of ``max_new_tokens`` characters (``generate``
    with ``temperature=0``), which the page shows until ONNX Runtime has loaded, and which its own greedy
    output must equal. The data holds the ONNX model (``export_onnx``) in base64, so the figure needs no file
    beside the page but ONNX Runtime Web, which the book serves from its ``_static/vendor/``.
    """
    chars = _check_model_and_tokenizer(model, tokenizer)
    prompts = _check_prompts(prompts, chars)
    max_new_tokens = count("max_new_tokens", max_new_tokens, 1, 500)
    onnx_bytes = export_onnx(model, io.BytesIO())
    device = model.transformer.wte.weight.device
    canned = []
    for prompt in prompts:
        ids = torch.tensor([tokenizer.encode(prompt)], device=device)  # (1, T)
        out = model.generate(ids, max_new_tokens, temperature=0)  # greedy: argmax at every step
        canned.append({"text": prompt, "greedy": tokenizer.decode(out[0, ids.size(1):].tolist())})
    data = {
        "model": base64.b64encode(onnx_bytes).decode("ascii"),
        "chars": chars,
        "block_size": model.config.block_size,
        "max_new_tokens": max_new_tokens,
        "prompts": canned,
    }
    frames = draw.record_frames(model, tokenizer.encode(prompts[0]), 6, tokenizer, temperature=0)
    return Interactive(
        "generation", data, still=draw.generation_frames(frames), name=name,
        alt=f"The chapter's character model continuing {prompts[0]!r} one character at a time: each row adds "
            "the character it picked to the text it reads",
        caption="Type a prompt, pick a temperature (0 is greedy) and a length, and press Generate: the chapter's "
                "trained model, exported to ONNX, runs in your browser and writes one character at a time.",
    )
