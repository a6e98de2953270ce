"""Checks for chapter 6's exercises: the weights' memory, the loss of a uniform model, the language-model loss
from logits, and the parameter count of any config."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from gpt2lite import GPTConfig
from gpt2lite.train import next_token_loss

from ._core import (call, describe, expect_close, expect_count, fail, forbid, forbid_helpers, loss_functions,
                    meta_model, model_building, passed, show_config)


def check_weight_bytes(fn: Callable[[GPTConfig, torch.dtype], int]) -> None:
    """`fn(config, dtype)` returns how many bytes the parameters of GPT(config) take in `dtype`, the tied
    matrix counted once."""
    forbidden = model_building("do not build the model: count its parameters from the config and multiply by "
                               "torch.tensor([], dtype=dtype).element_size()") + forbid_helpers(__name__)
    for name in ["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"]:
        cfg = GPTConfig.from_name(name)
        n = meta_model(cfg).num_parameters()
        V, T, C, L = cfg.vocab_size, cfg.block_size, cfg.n_embd, cfg.n_layer
        for dtype in [torch.float32, torch.float16, torch.bfloat16, torch.float64]:
            size = torch.tensor([], dtype=dtype).element_size()
            text = f"{fn.__name__}({show_config(cfg)}, {dtype})"
            expect_count(text, call(fn, cfg, dtype, call_text=text, forbidden=forbidden), n * size, mistakes={
                "lm_head shares wte's matrix (weight tying): count it once": lambda: (n + V * C) * size,
                "that is in bits: divide by 8 (element_size() is already in bytes)": lambda: n * size * 8,
                f"that assumes 4 bytes per number: {dtype} takes {size}; use torch.tensor([], dtype=dtype)"
                ".element_size()": lambda: n * 4,
                "that is the parameter count: multiply by the bytes per number": lambda: n,
                "the final LayerNorm (2C) is missing": lambda: (n - 2 * C) * size,
                "the position table (block_size x n_embd) is missing": lambda: (n - T * C) * size,
                "the biases and LayerNorms of the blocks (13C per block) are missing": lambda: (n - L * 13 * C) * size,
            }, hint="(V C + T C + L (12 C^2 + 13 C) + 2 C) parameters, times the element size of dtype")
    passed("weight_bytes matches the parameters' real sizes for all four GPT-2s and four dtypes")


def check_uniform_loss(fn: Callable[[int], float]) -> None:
    """`fn(vocab_size)` returns, as a Python float, the cross-entropy in nats of a model that gives every token
    the same probability."""
    for vocab in [1, 2, 65, 50257, 10]:
        text = f"{fn.__name__}({vocab})"
        got = call(fn, vocab)
        if not isinstance(got, float):
            fail(text, "a Python float", f"a {type(got).__name__}: {describe(got)}",
                 "use math.log, or .item() to turn a one-number tensor into a float")
        targets = torch.randint(vocab, (3, 7), generator=torch.Generator().manual_seed(vocab))  # (3, 7)
        zeros = torch.zeros(21, vocab)  # equal logits = equal probabilities, (21, vocab)
        expected = F.cross_entropy(zeros, targets.flatten()).item()
        expect_close(text, got, expected, mistakes={
            "that is in bits (log base 2): the loss is in nats, math.log": lambda: math.log2(vocab),
            "that is log base 10: the loss is in nats, math.log": lambda: math.log10(vocab),
            "that is the probability 1/V itself: the loss is -log(1/V)": lambda: 1 / vocab,
            "the sign is wrong: the loss is -log(1/V), a positive number": lambda: -math.log(vocab),
        }, hint="every target gets probability 1/V, and the loss is -log of the target's probability")
    passed("uniform_loss matches cross_entropy of equal logits")


def check_lm_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """`fn(logits, targets)` with logits (B, T, V) and targets (B, T) returns the mean cross-entropy over all
    B * T positions, as a 0-d tensor."""
    gen = torch.Generator().manual_seed(0)
    instead = ("take log_softmax over the vocabulary, pick each target's log-probability with gather, and average "
               "the negatives")
    forbidden = loss_functions(instead) + forbid({next_token_loss: "gpt2lite.train.next_token_loss"}, instead)
    forbidden += forbid_helpers(__name__)
    for B, T, V in [(1, 1, 2), (2, 5, 7), (4, 16, 65), (1, 3, 50257), (3, 2, 4)]:
        logits = torch.randn(B, T, V, generator=gen) * 3
        targets = torch.randint(V, (B, T), generator=gen)
        text = f"{fn.__name__}(logits of shape {(B, T, V)}, targets of shape {(B, T)})"
        got = call(fn, logits.clone(), targets.clone(), call_text=text, forbidden=forbidden)
        expected = next_token_loss(lambda x: logits, None, targets)  # the package's loss, with a stand-in model

        def picked(logp: torch.Tensor) -> torch.Tensor:
            return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)

        expect_close(text, got, expected, atol=1e-5, rtol=1e-5, mistakes={
            "that is the sum over positions: take the mean": lambda: -picked(logits.log_softmax(-1)).sum(),
            "the minus sign is missing: the loss is the mean of -log p(target)":
                lambda: picked(logits.log_softmax(-1)).mean(),
            "the log_softmax runs over the positions (dim=1): it must run over the vocabulary (dim=-1)":
                lambda: -picked(logits.log_softmax(1)).mean(),
            "that picks the raw logits: take log_softmax first": lambda: -picked(logits).mean(),
            "that is the probability, not its log: use log_softmax": lambda: -picked(logits.softmax(-1)).mean(),
            "that sums over the positions of a sequence and averages over the batch: average over all B * T":
                lambda: -picked(logits.log_softmax(-1)).sum(-1).mean(),
            "return a 0-d tensor (a scalar): .mean() over everything, no keepdim":
                lambda: -picked(logits.log_softmax(-1)).mean().reshape(1),
        }, hint="log_softmax over the vocabulary, gather each target's log-probability, mean of the negatives")
    passed("lm_loss matches gpt2lite.train.next_token_loss")


def check_count_parameters(fn: Callable[[GPTConfig], int]) -> None:
    """`fn(config)` returns GPT(config).num_parameters() from the config alone, for any bias and pre_ln setting."""
    configs = [GPTConfig.from_name(n) for n in ["gpt2", "gpt2-medium", "gpt2-xl", "gpt1"]]
    configs += [
        GPTConfig.from_name("gpt2", bias=False),
        GPTConfig.from_name("gpt1", bias=False),
        GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128),
        GPTConfig(vocab_size=1, block_size=1, n_layer=1, n_head=1, n_embd=1),
        GPTConfig(vocab_size=10, block_size=8, n_layer=2, n_head=2, n_embd=4, bias=False, pre_ln=False),
    ]
    forbidden = model_building("count from the config alone: embeddings, 12 C^2 per block plus its biases and "
                               "LayerNorms, and ln_f") + forbid_helpers(__name__)
    for cfg in configs:
        V, T, C, L, b = cfg.vocab_size, cfg.block_size, cfg.n_embd, cfg.n_layer, cfg.bias
        final_ln = (2 * C if b else C) if cfg.pre_ln else 0
        expected = meta_model(cfg).num_parameters()
        text = f"{fn.__name__}({show_config(cfg)})"
        expect_count(text, call(fn, cfg, call_text=text, forbidden=forbidden), expected, mistakes={
            "the tied matrix is counted twice: lm_head shares wte's weights": lambda: expected + V * C,
            "the final LayerNorm (ln_f) is missing": lambda: expected - final_ln,
            "pre_ln=False (GPT-1) has no final LayerNorm: its blocks already end in one":
                lambda: None if cfg.pre_ln else expected + (2 * C if b else C),
            "bias=False removes the Linear and LayerNorm biases: 2C per block and C for ln_f remain":
                lambda: V * C + T * C + L * (12 * C**2 + 13 * C) + (2 * C if cfg.pre_ln else 0),
            "bias=False keeps the LayerNorm gains: C for each of the two LayerNorms per block, and for ln_f":
                lambda: V * C + T * C + L * 12 * C**2 + (2 * C if cfg.pre_ln and b else 0),
            "bias=False removes the LayerNorm biases too, not only the Linear ones: 2C per block remain, not 4C":
                lambda: V * C + T * C + L * (12 * C**2 + (13 * C if b else 4 * C)) + (2 * C if cfg.pre_ln else 0),
        }, hint="V C + T C + L (12 C^2 + biases 9C + LayerNorms 4C) + ln_f 2C; bias=False keeps only the LN gains")
    passed(f"count_parameters matches num_parameters() on {len(configs)} configs")
