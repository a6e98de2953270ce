"""Checks for chapter 6's exercises: the memory of the weights and of the KV cache, the parameter count of any
config, and a measurement of weight tying (a tiny model trained with and without it)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt2lite import GPTConfig
from gpt2lite.attention import KVCache
from gpt2lite.model import GPT
from gpt2lite.training import train

from ._core import (call, describe, expect_count, fail, forbid, forbid_helpers, meta_model, model_building, passed,
                    seeded_model, show_config)


# ------------------------------------------------------------------------------------------- ex-06-memory
def check_memory_bytes(fn: Callable[[GPTConfig, int, torch.dtype, int, int], tuple[int, int]]) -> None:
    """`fn(config, n_params, dtype, context, batch)` returns `(weight_bytes, cache_bytes)`: the bytes of the
    model's n_params parameters in `dtype`, and of the keys and values that a KV cache in `dtype` holds for
    `batch` sequences of `context` tokens, in every layer."""
    forbidden = (model_building("derive it from the config: the cache holds a key and a value of n_embd numbers "
                                "per layer, per sequence and per position")
                 + forbid({KVCache: "gpt2lite.attention.KVCache"}, "do not allocate a cache: compute its size")
                 + forbid_helpers(__name__))
    cases = [("gpt2", torch.float32, 1024, 1), ("gpt2", torch.float16, 1, 1), ("gpt2-medium", torch.bfloat16, 300, 3),
             ("gpt2-xl", torch.float16, 1024, 8), ("gpt1", torch.float64, 512, 2)]
    for name, dtype, context, batch in cases:
        cfg = GPTConfig.from_name(name)
        n = meta_model(cfg).num_parameters()
        size = torch.tensor([], dtype=dtype).element_size()
        cache = KVCache(dataclasses.replace(cfg, block_size=context), batch, device="meta", dtype=dtype)
        want = (n * size, cache.k.nbytes + cache.v.nbytes)
        text = f"{fn.__name__}({show_config(cfg)}, {n:,}, {dtype}, context={context}, batch={batch})"
        got = call(fn, cfg, n, dtype, context, batch, call_text=text, forbidden=forbidden)
        if not (isinstance(got, tuple) and len(got) == 2):
            fail(text, "a pair (weight_bytes, cache_bytes)", f"a {type(got).__name__}: {describe(got)}",
                 "return a tuple of two ints: return weights, cache")
        L, C = cfg.n_layer, cfg.n_embd
        per_number = want[1] // size  # numbers in the cache
        expect_count(text + ": the weights", got[0], want[0], mistakes={
            "that is in bits: element_size() is already in bytes": lambda: n * size * 8,
            f"that assumes 4 bytes per number: {dtype} takes {size}; use torch.tensor([], dtype=dtype)"
            ".element_size()": lambda: n * 4,
            "that is the parameter count: multiply by the bytes per number": lambda: n,
        }, hint="n_params times the bytes of one number in dtype")
        expect_count(text + ": the KV cache", got[1], want[1], mistakes={
            "that is the keys only: the cache holds a key AND a value per position": lambda: want[1] // 2,
            "that is one layer's cache: every layer keeps its own keys and values": lambda: want[1] // L,
            "the batch is missing: each sequence of the batch has its own keys and values":
                lambda: want[1] // batch,
            f"that is sized for block_size={cfg.block_size}: the cache holds `context` positions":
                lambda: 2 * L * batch * cfg.block_size * C * size,
            "that multiplies by n_head: n_head heads of head_dim numbers are n_embd numbers together":
                lambda: want[1] * cfg.n_head,
            "that is in bits: element_size() is already in bytes": lambda: want[1] * 8,
            f"that assumes 4 bytes per number: {dtype} takes {size}": lambda: per_number * 4,
            "that is the number of numbers: multiply by the bytes per number": lambda: per_number,
        }, hint="2 (key and value) x n_layer x batch x context x n_embd numbers, times the bytes per number")
    passed(f"memory_bytes matches the parameters and gpt2lite's KVCache for {len(cases)} presets, dtypes, "
           "contexts and batches")


# ------------------------------------------------------------------------------------------- ex-06-count
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


# ------------------------------------------------------------------------------------------- ex-06-tying
# The experiment the check re-runs: a 2-block model on a 256-token vocabulary, where the embedding matrix is a
# large part of the model, trained on a made-up language in which each token has 4 possible successors.
_TYING_CONFIG = GPTConfig(vocab_size=256, block_size=16, n_layer=2, n_head=2, n_embd=32)
_TYING_STEPS, _TYING_LR, _TYING_SEED = 40, 3e-3, 0


def _tying_batches(steps: int, batch: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`steps` batches (x, y) of shape (batch, block_size) from the made-up language, the same on every call."""
    V, T = _TYING_CONFIG.vocab_size, _TYING_CONFIG.block_size
    g = torch.Generator().manual_seed(6)
    successors = torch.randint(V, (V, 4), generator=g)  # (V, 4): the tokens allowed after each token
    choices = torch.randint(4, (steps * batch, T), generator=g)
    seq = torch.empty(steps * batch, T + 1, dtype=torch.long)
    seq[:, 0] = torch.randint(V, (steps * batch,), generator=g)
    for t in range(T):
        seq[:, t + 1] = successors[seq[:, t], choices[:, t]]
    return [(s[:, :-1].clone(), s[:, 1:].clone()) for s in seq.split(batch)]


def _tying_run(config: GPTConfig, batches: list, tied: bool, lr: float, seed: int, *, late_optimizer: bool = False,
               no_zero_grad: bool = False, after_step: bool = False, never_untie: bool = False,
               ) -> tuple[int, list[float]]:
    """The reference run; each keyword switches on one classic mistake."""
    with torch.random.fork_rng(devices=[]):
        model = seeded_model(config, seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr) if late_optimizer else None
        if not tied and not never_untie:
            model.lm_head.weight = nn.Parameter(model.transformer.wte.weight.detach().clone())
        optimizer = optimizer or torch.optim.AdamW(model.parameters(), lr=lr)
        losses = []
        for x, y in batches:
            loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
            if not no_zero_grad:
                optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if after_step:
                with torch.no_grad():
                    loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
            losses.append(loss.item())
        return model.num_parameters(), losses


def _close(a: float, b: float) -> bool:
    """Two losses of the same run, computed by code written in two ways (float32 rounding, nothing more)."""
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5)


def check_tying_ablation(fn: Callable[[GPTConfig, list, bool, float, int], tuple[int, list[float]]]) -> None:
    """`fn(config, batches, tied, lr, seed)` seeds torch, builds GPT(config), unties lm_head if `tied` is False
    (its own nn.Parameter, a copy of wte's initial weights), trains one AdamW(lr) step per batch (x, y) on the
    mean cross-entropy and returns (the model's parameter count, the loss of each step before its update).
    The check runs the experiment with the reader's function, tied and untied, and compares each run with its
    own run of the same settings."""
    forbidden = (forbid({train: "gpt2lite.training.train"}, "write the loop yourself: forward, loss, zero_grad, "
                        "backward, step") + forbid_helpers(__name__))
    batches = _tying_batches(_TYING_STEPS)
    cfg, lr, seed = _TYING_CONFIG, _TYING_LR, _TYING_SEED
    figures = {}
    for tied in (True, False):
        text = f"{fn.__name__}({show_config(cfg)}, {len(batches)} batches, tied={tied}, lr={lr}, seed={seed})"
        with torch.random.fork_rng(devices=[]):
            got = call(fn, cfg, [(x.clone(), y.clone()) for x, y in batches], tied, lr, seed, call_text=text,
                       forbidden=forbidden)
        want_n, want = _tying_run(cfg, batches, tied, lr, seed)
        if not (isinstance(got, tuple) and len(got) == 2):
            fail(text, "a pair (n_params, losses)", f"a {type(got).__name__}: {describe(got)}",
                 "return model.num_parameters(), losses")
        n, losses = got
        expect_count(text + ": the parameter count", n, want_n, mistakes={
            "the untied model has as many parameters as the tied one: lm_head still shares wte's matrix; give it "
            "its own nn.Parameter": lambda: _tying_run(cfg, [], True, lr, seed)[0],
            "the untied lm_head is counted, but the tied one is not: count each matrix once":
                lambda: want_n + cfg.vocab_size * cfg.n_embd,
        }, hint="model.num_parameters() after untying")
        if not isinstance(losses, (list, tuple)) or not all(isinstance(v, float) for v in losses):
            fail(text, f"a list of {len(want)} Python floats", describe(losses),
                 "append loss.item() at every step")
        if len(losses) != len(want):
            fail(text, f"{len(want)} losses, one per batch", f"{len(losses)} losses",
                 "train one step per batch and record each step's loss")
        if all(_close(a, b) for a, b in zip(losses, want)):
            figures[tied] = (n, losses[0], losses[-1])
            continue
        variants = {
            "the loss is recorded after the update: record each step's loss before optimizer.step()":
                dict(after_step=True),
            "the gradients add up over the steps: call optimizer.zero_grad() before each backward()":
                dict(no_zero_grad=True),
            "the optimizer was made before lm_head got its own parameter, so the optimizer never updates it: "
            "untie first, then build AdamW(model.parameters())": dict(late_optimizer=True),
            "lm_head is still tied: assign model.lm_head.weight = nn.Parameter(a copy of wte's weights)":
                dict(never_untie=True),
        }
        hint = "seed with torch.manual_seed(seed), build GPT(config), untie, then one AdamW step per batch"
        for message, switch in variants.items():
            _, wrong = _tying_run(cfg, batches, tied, lr, seed, **switch)
            if wrong != want and all(_close(a, b) for a, b in zip(losses, wrong)):
                hint = message
                break
        else:
            if not _close(losses[0], want[0]):
                hint = ("the first loss differs: seed with torch.manual_seed(seed) right before GPT(config), and "
                        "start the untied lm_head as a copy of wte's weights")
        bad = next(i for i, (a, b) in enumerate(zip(losses, want)) if not _close(a, b))
        fail(text + f": the loss of step {bad}", f"{want[bad]:.4f} (the check's own run, same settings)",
             f"{losses[bad]:.4f}", hint)
    (n1, first, last1), (n2, _, last2) = figures[True], figures[False]
    passed(f"tying_ablation reproduces both runs of {len(batches)} steps (loss {first:.2f} at the start): "
           f"tied {n1:,} parameters, final loss {last1:.2f}; untied {n2:,} parameters, final loss {last2:.2f}")
