"""Checks for chapter 7's exercises: the learning-rate schedule, a batch of windows, the weight-decay split and
the loss estimate."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn as nn
import torch.optim.lr_scheduler

from gpt2lite.config import GPTConfig
from gpt2lite.data import get_batch
from gpt2lite.model import GPT
from gpt2lite.train import TrainConfig, configure_optimizer, estimate_loss, lr_at, next_token_loss

from ._core import (call, describe, expect_close, expect_equal, fail, forbid, forbid_helpers, meta_model, passed,
                    seeded_model)


# ------------------------------------------------------------------------------------ ex-07-lr
def _schedule(step: int, cfg: TrainConfig, mistake: str | None = None) -> float:
    """lr_at written out, or with one of the common mistakes (`mistake` names it) made on purpose."""
    lr, warm, floor = cfg.learning_rate, cfg.warmup_steps, cfg.min_lr
    end = cfg.max_steps if cfg.lr_decay_steps is None or mistake == "ignores lr_decay_steps" else cfg.lr_decay_steps
    if mistake == "end before warmup" and step >= end:
        return floor
    if step < warm:
        return lr * (step if mistake == "warmup from 0" else step + 1) / warm
    if step >= end and mistake != "no floor after the end":
        return floor
    start = 0 if mistake == "cosine from step 0" else warm
    if mistake == "decays to 0":
        floor = 0.0
    progress = (step - start) / (end - start)  # 0 -> 1
    if mistake == "linear":
        return lr - (lr - floor) * progress
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - floor)


_LR_MISTAKES = {
    "warmup from 0": "warmup off by one: step 0 must get learning_rate / warmup_steps, not 0; "
                     "use (step + 1) / warmup_steps",
    "decays to 0": "the cosine ends at 0; it must end at min_lr: min_lr + (learning_rate - min_lr) * 0.5 * (1 + cos)",
    "cosine from step 0": "the cosine starts at step 0; measure its progress from the end of the warmup: "
                          "(step - warmup_steps) / (decay_end - warmup_steps)",
    "ignores lr_decay_steps": "the decay must end at lr_decay_steps when it is set (at max_steps only when it is None)",
    "linear": "this decay is linear; follow half a cosine: "
              "min_lr + (learning_rate - min_lr) * 0.5 * (1 + cos(pi * progress))",
    "no floor after the end": "past the decay end the rate must stay at min_lr; here the cosine goes on and rises "
                              "again",
    "end before warmup": "the decay end is tested before the warmup; warmup steps come first, even when the decay "
                         "ends inside the warmup",
}


def _lr_mistakes(step: int, cfg: TrainConfig) -> dict[str, Callable[[], float]]:
    """Hint -> what the schedule with that mistake gives at `step` (nan where the mistake divides by zero)."""
    def wrong(mistake: str) -> Callable[[], float]:
        def value() -> float:
            try:
                return _schedule(step, cfg, mistake)
            except ZeroDivisionError:
                return math.nan  # matches no answer
        return value
    return {hint: wrong(mistake) for mistake, hint in _LR_MISTAKES.items()}


def _describe_cfg(cfg: TrainConfig) -> str:
    """The fields of cfg that the schedule reads, for the failure messages."""
    decay = f", lr_decay_steps={cfg.lr_decay_steps}" if cfg.lr_decay_steps is not None else ""
    return (f"TrainConfig(max_steps={cfg.max_steps}, warmup_steps={cfg.warmup_steps}{decay}, "
            f"learning_rate={cfg.learning_rate:g}, min_lr={cfg.min_lr:g})")


def check_lr_schedule(fn: Callable[[int, TrainConfig], float]) -> None:
    """`fn(step, cfg)` returns the learning rate of optimizer step `step`: linear warmup, half a cosine down to
    min_lr at the decay end (lr_decay_steps, or max_steps), then min_lr."""
    configs = [
        TrainConfig(max_steps=100, warmup_steps=10),
        TrainConfig(max_steps=100, warmup_steps=0, learning_rate=3e-3, min_lr=0.0),  # no warmup
        TrainConfig(max_steps=50, warmup_steps=5, lr_decay_steps=30),  # the decay ends before the last step
        TrainConfig(max_steps=1, warmup_steps=1),
        TrainConfig(max_steps=20, warmup_steps=20, min_lr=1e-3),  # all warmup, no decay
        TrainConfig(max_steps=30, warmup_steps=20, lr_decay_steps=10),  # the decay "ends" inside the warmup
    ]
    instead = "write the schedule with arithmetic and math.cos: the warmup, the half cosine and the floor"
    forbidden = forbid({lr_at: "gpt2lite.train.lr_at", torch.optim.lr_scheduler: "torch.optim.lr_scheduler"}, instead)
    forbidden += forbid_helpers(__name__)  # _schedule is the reference too
    for cfg in configs:
        for step in range(cfg.max_steps + 5):  # a few steps past the end too
            text = f"{fn.__name__}({step}, {_describe_cfg(cfg)})"
            got = call(fn, step, cfg, call_text=text, forbidden=forbidden)
            expect_close(text, got, lr_at(step, cfg), atol=1e-15, rtol=1e-12, mistakes=_lr_mistakes(step, cfg),
                         hint="warmup: learning_rate * (step + 1) / warmup_steps; then half a cosine to min_lr; "
                              "then min_lr")
    passed(f"my_lr matches gpt2lite.train.lr_at on {len(configs)} schedules, past their last step too")


# --------------------------------------------------------------------------------- ex-07-batch
def _windows(data: torch.Tensor, starts: torch.Tensor, block_size: int, shift: int) -> torch.Tensor:
    """The block_size ids from each start + shift: (B,) starts -> (B, T)."""
    return data[(starts + shift)[:, None] + torch.arange(block_size)]


def check_get_batch(fn: Callable[[torch.Tensor, int, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]) -> None:
    """`fn(data, batch_size, block_size, generator)` draws batch_size starts with
    torch.randint(len(data) - block_size, (batch_size,), generator=generator) and returns x, y: (B, T) each."""
    instead = ("draw the starts with torch.randint(len(data) - block_size, (batch_size,), generator=generator) and "
               "stack the windows data[s : s + block_size]")
    forbidden = forbid({get_batch: "gpt2lite.data.get_batch"}, instead) + forbid_helpers(__name__)
    for n, B, T in [(1000, 8, 16), (17, 4, 16), (2, 3, 1), (500, 1, 64), (40, 5, 3)]:
        data = torch.arange(n) * 7 % 101  # (n,): neighbours differ, so an off-by-one shows
        text = f"{fn.__name__}(data of {n} ids, batch_size={B}, block_size={T}, generator seeded with {n})"
        generator = torch.Generator().manual_seed(n)
        got = call(fn, data, B, T, generator, call_text=text, forbidden=forbidden)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            fail(text, "a pair (x, y)", f"a {type(got).__name__}: {describe(got)}", "return x, y")
        x, y = got
        if torch.equal(generator.get_state(), torch.Generator().manual_seed(n).get_state()):
            fail(text, "starts drawn from `generator`", "the generator was never used",
                 "pass generator=generator to torch.randint, so that a seeded generator gives the same batches")
        expected_x, expected_y = get_batch(data, B, T, torch.Generator().manual_seed(n))
        starts = torch.randint(n - T, (B,), generator=torch.Generator().manual_seed(n))  # (B,): the right starts
        short = torch.randint(max(n - T - 1, 1), (B,), generator=torch.Generator().manual_seed(n))  # one start short
        expect_equal(f"x of {text}", x, expected_x, mistakes={
            "x starts one id late: x is data[s : s + block_size], y is data[s + 1 : s + 1 + block_size]":
                lambda: _windows(data, starts, T, 1),
            "the starts must come from torch.randint(len(data) - block_size, ...): every start up to "
            "len(data) - block_size - 1 leaves room for the window and its target": lambda: _windows(data, short, T, 0),
            "x is transposed: it must be (batch_size, block_size), one window per row": lambda: expected_x.T,
        }, hint="x[b] must be the block_size ids of data from the b-th start")
        expect_equal(f"y of {text}", y, expected_y, mistakes={
            "y equals x: the targets are the same windows moved one id to the right": lambda: expected_x,
            "y is moved one id too far: it is data[s + 1 : s + 1 + block_size]": lambda: _windows(data, starts, T, 2),
            "y is transposed: it must be (batch_size, block_size), one window per row": lambda: expected_y.T,
        }, hint="y[b] must be the window of x[b] moved one id to the right")
    passed("my_get_batch draws the same windows as gpt2lite.data.get_batch, and y is x moved by one")


# --------------------------------------------------------------------------------- ex-07-decay
_DECAY_CONFIGS = [
    GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128),  # the chapter's model
    GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=2, n_embd=32, bias=False),  # no biases
    GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=1, n_embd=8, pre_ln=False),  # GPT-1: no final LayerNorm
    GPTConfig.from_name("gpt2", n_layer=2),  # GPT-2's widths, two blocks
]


def _counts(decay: list[nn.Parameter], other: list[nn.Parameter]) -> tuple[int, int, int, int]:
    """(decay tensors, decay values, other tensors, other values)."""
    return len(decay), sum(p.numel() for p in decay), len(other), sum(p.numel() for p in other)


def _split(params: list[nn.Parameter]) -> tuple[int, int, int, int]:
    """The four counts under the rule "two or more dimensions decay"."""
    return _counts([p for p in params if p.dim() >= 2], [p for p in params if p.dim() < 2])


def _split_by(model: nn.Module, decays: Callable[[str, nn.Parameter], bool]) -> tuple[int, int, int, int]:
    """The four counts under another rule, `decays(name, parameter)`."""
    named = list(model.named_parameters())
    return _counts([p for n, p in named if decays(n, p)], [p for n, p in named if not decays(n, p)])


def _describe_model(cfg: GPTConfig) -> str:
    """A model by the fields that change its parameter count, for the failure messages."""
    switches = "".join(f", {k}={v}" for k, v in [("bias", cfg.bias), ("pre_ln", cfg.pre_ln)] if v is False)
    return (f"GPT(vocab_size={cfg.vocab_size}, block_size={cfg.block_size}, n_layer={cfg.n_layer}, "
            f"n_embd={cfg.n_embd}{switches})")


def check_decay_split(fn: Callable[[nn.Module], tuple[int, int, int, int]]) -> None:
    """`fn(model)` returns (n_decay_tensors, n_decay_values, n_other_tensors, n_other_values) under the rule
    "tensors with two or more dimensions decay", the tied embedding/output matrix counted once."""
    instead = "go over model.parameters() yourself: p.dim() >= 2 decays, the rest does not"
    forbidden = forbid({configure_optimizer: "gpt2lite.train.configure_optimizer"}, instead) + forbid_helpers(__name__)
    for cfg in _DECAY_CONFIGS:
        model = meta_model(cfg)
        text = f"{fn.__name__}({_describe_model(cfg)})"
        got = call(fn, model, call_text=text, forbidden=forbidden)
        if not isinstance(got, (tuple, list)) or len(got) != 4:
            fail(text, "a tuple of 4 integers", f"a {type(got).__name__}: {describe(got)}",
                 "return (n_decay_tensors, n_decay_values, n_other_tensors, n_other_values)")
        got = tuple(int(v) if isinstance(v, torch.Tensor) and v.numel() == 1 else v for v in got)
        # configure_optimizer's rule (the tests check that they agree); building an AdamW here would import
        # torch._dynamo, a second on first use
        expected = _split(list(model.parameters()))
        linear_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
        expect_equal(text, got, expected, mistakes={
            "the tied embedding/output matrix is counted twice: model.parameters() yields it once, "
            "named_parameters(remove_duplicate=False) and state_dict() twice":
                lambda: _split([p for _, p in model.named_parameters(remove_duplicate=False)]),
            "the two groups are swapped: tensors with two or more dimensions are the ones that decay":
                lambda: expected[2:] + expected[:2],
            "the rule is p.dim() >= 2: matrices and embeddings have exactly two dimensions":
                lambda: _split_by(model, lambda n, p: p.dim() > 2),
            "LayerNorm gains are called 'weight' too: choose by the number of dimensions, not by the name":
                lambda: _split_by(model, lambda n, p: n.endswith("weight")),
            "the embeddings decay too: the rule is by dimension (p.dim() >= 2), not by module type":
                lambda: _split_by(model, lambda n, p: id(p) in linear_weights),
        }, hint="go over model.parameters() once: p.dim() >= 2 decays, the rest does not; count p.numel()")
    passed(f"decay_split agrees with the groups of gpt2lite.train.configure_optimizer on {len(_DECAY_CONFIGS)} models")


# ------------------------------------------------------------------------------ ex-07-estimate
@lru_cache(maxsize=None)
def _estimate_setup() -> tuple[GPT, torch.Tensor]:
    """A small GPT with dropout (so that forgetting eval mode shows) and 3,000 random ids of its vocabulary."""
    model = seeded_model(GPTConfig(vocab_size=50, block_size=32, n_layer=2, n_head=2, n_embd=32, dropout=0.1), 0)
    data = torch.randint(50, (3000,), generator=torch.Generator().manual_seed(0))  # (3000,)
    return model, data


@torch.no_grad()
def _batch_losses(model: GPT, data: torch.Tensor, batch_size: int, block_size: int, iters: int, seed: int,
                  reseed: bool = False) -> list[float]:
    """The loss of each of the iters batches, in eval mode; `reseed`: a new generator for every batch (a mistake)."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(iters):
        if reseed:
            generator = torch.Generator().manual_seed(seed)
        losses.append(next_token_loss(model, *get_batch(data, batch_size, block_size, generator)).item())
    model.train(was_training)
    return losses


def check_estimate_loss(fn: Callable[[nn.Module, torch.Tensor, int, int, int, int], float]) -> None:
    """`fn(model, data, batch_size, block_size, iters, seed)` returns, as a float, the mean loss over iters batches
    drawn by get_batch from one generator seeded with seed, without gradients, in eval mode, restoring the mode."""
    model, data = _estimate_setup()
    seen: list[tuple[bool, bool]] = []  # (training, grad enabled) at each forward pass
    hook = model.register_forward_pre_hook(lambda module, _: seen.append((module.training, torch.is_grad_enabled())))
    forbidden = forbid({estimate_loss: "gpt2lite.train.estimate_loss"},
                       "write the loop yourself: get_batch from one seeded generator, next_token_loss(...).item() "
                       "for each batch, then the mean") + forbid_helpers(__name__)
    try:
        for B, T, iters, seed, training in [(4, 16, 3, 0, True), (2, 32, 1, 5, False), (8, 8, 5, 1337, True),
                                            (3, 4, 2, 7, False)]:
            model.train(training)
            seen.clear()
            text = (f"{fn.__name__}(model in {'training' if training else 'eval'} mode, data of {len(data)} ids, "
                    f"batch_size={B}, block_size={T}, iters={iters}, seed={seed})")
            with torch.random.fork_rng(devices=[]):  # dropout, if left on, must not move the caller's random state
                got = call(fn, model, data, B, T, iters, seed, call_text=text, forbidden=forbidden)
            reader_seen = list(seen)  # the reference below runs the model too
            mode_after = model.training
            model.train(training)
            if any(mode for mode, _ in reader_seen):
                fail(text, "every forward pass in eval mode", "a forward pass in training mode (dropout on)",
                     "call model.eval() before the batches, so that dropout is off")
            cfg = TrainConfig(batch_size=B, block_size=T, eval_iters=iters, seed=seed, device="cpu")
            expected = estimate_loss(model, {"val": data}, cfg)["val"]
            expect_close(text, got, expected, atol=0.0, rtol=1e-5, mistakes={
                "this is the sum of the batch losses: divide by iters to get their mean":
                    lambda: sum(_batch_losses(model, data, B, T, iters, seed)),
                "this is the loss of the last batch only: average the losses of all iters batches":
                    lambda: _batch_losses(model, data, B, T, iters, seed)[-1],
                "every batch is the same one: seed one generator before the loop, not a new one for each batch":
                    lambda: _batch_losses(model, data, B, T, iters, seed, reseed=True)[0],
            }, hint="draw the batches with get_batch(data, batch_size, block_size, generator) from one "
                    "torch.Generator().manual_seed(seed) and average next_token_loss over them")
            if any(grad for _, grad in reader_seen):
                fail(text, "no gradients tracked", "forward passes with gradients enabled",
                     "decorate the function with @torch.no_grad() (or use `with torch.no_grad():`)")
            if mode_after != training:
                fail(text, f"the model back in {'training' if training else 'eval'} mode",
                     f"the model in {'training' if mode_after else 'eval'} mode",
                     "remember was_training = model.training first and end with model.train(was_training)")
            if not isinstance(got, float):
                fail(text, "a Python float", f"a {type(got).__name__}: {describe(got)}",
                     "turn each loss into a number with .item() (and return total / iters)")
    finally:
        hook.remove()
        model.eval()
    passed("my_estimate matches gpt2lite.train.estimate_loss, in eval mode, without gradients, restoring the mode")
