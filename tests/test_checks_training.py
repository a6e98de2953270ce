"""Chapter 7's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import math

import pytest
import torch

from gpt2lite import GPT
from gpt2lite.checks import (
    CheckFailed,
    check_decay_split,
    check_estimate_loss,
    check_get_batch,
    check_lr_schedule,
)
from gpt2lite.checks._core import meta_model
from gpt2lite.checks.training import _DECAY_CONFIGS, _split
from gpt2lite.data import get_batch
from gpt2lite.train import TrainConfig, configure_optimizer, next_token_loss
import gpt2lite.data
import gpt2lite.train
from gpt2lite.checks import training as ch7
from gpt2lite.train import TrainConfig, configure_optimizer, estimate_loss, lr_at


def stub(*args):
    raise NotImplementedError("your code here")


# ------------------------------------------------------------------------------------ ex-07-lr
def my_lr(step, cfg, *, warmup_plus_one=True, floor=True, cosine_from_warmup=True, use_decay_steps=True,
          cosine=True, clamp=True, warmup_first=True):
    """The schedule, with switches that reproduce the classic mistakes."""
    end = cfg.lr_decay_steps if cfg.lr_decay_steps is not None and use_decay_steps else cfg.max_steps
    if not warmup_first and step >= end:
        return cfg.min_lr
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + warmup_plus_one) / cfg.warmup_steps
    if clamp and step >= end:
        return cfg.min_lr
    start = cfg.warmup_steps if cosine_from_warmup else 0
    low = cfg.min_lr if floor else 0.0
    progress = (step - start) / (end - start)
    if not cosine:
        return cfg.learning_rate - (cfg.learning_rate - low) * progress
    return low + (cfg.learning_rate - low) * 0.5 * (1 + math.cos(math.pi * progress))


def test_lr_schedule(capsys):
    check_lr_schedule(my_lr)
    assert capsys.readouterr().out.startswith("✓ my_lr matches")


@pytest.mark.parametrize("mistake, hint", [
    (dict(warmup_plus_one=False), "warmup off by one"),
    (dict(floor=False), "must end at min_lr"),
    (dict(cosine_from_warmup=False), "measure its progress from the end of the warmup"),
    (dict(use_decay_steps=False), "must end at lr_decay_steps"),
    (dict(cosine=False), "this decay is linear"),
    (dict(clamp=False), "must stay at min_lr"),
    (dict(warmup_first=False), "tested before the warmup"),
])
def test_lr_schedule_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_lr_schedule(lambda step, cfg: my_lr(step, cfg, **mistake))


def test_lr_schedule_catches_a_stub_and_a_crash():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_lr_schedule(stub)

    def crashes_without_warmup(step, cfg):
        warmup_share = (step + 1) / cfg.warmup_steps  # ZeroDivisionError when warmup_steps == 0
        return my_lr(step, cfg) if warmup_share else 0.0

    with pytest.raises(CheckFailed, match=r"\(0, TrainConfig\(max_steps=100, warmup_steps=0.*\n.*ZeroDivisionError"):
        check_lr_schedule(crashes_without_warmup)


# --------------------------------------------------------------------------------- ex-07-batch
def my_get_batch(data, batch_size, block_size, generator, *, high=0, x_shift=0, y_shift=1, transpose=False):
    """get_batch, with switches that reproduce the classic mistakes."""
    starts = torch.randint(len(data) - block_size - high, (batch_size,), generator=generator)  # (B,)
    x = torch.stack([data[s + x_shift : s + x_shift + block_size] for s in starts])  # (B, T)
    y = torch.stack([data[s + y_shift : s + y_shift + block_size] for s in starts])  # (B, T)
    return (x.T, y.T) if transpose else (x, y)


def test_get_batch(capsys):
    check_get_batch(my_get_batch)
    assert capsys.readouterr().out.startswith("✓ my_get_batch draws the same windows")


@pytest.mark.parametrize("wrong, hint", [
    (lambda d, B, T, g: my_get_batch(d, B, T, g, x_shift=1, y_shift=2), "x starts one id late"),
    (lambda d, B, T, g: my_get_batch(d, B, T, g, high=1), r"torch.randint\(len\(data\) - block_size"),
    (lambda d, B, T, g: my_get_batch(d, B, T, g, transpose=True), "x is transposed"),
    (lambda d, B, T, g: my_get_batch(d, B, T, g, y_shift=0), "y equals x"),
    (lambda d, B, T, g: my_get_batch(d, B, T, g, y_shift=2), "one id too far"),
    (lambda d, B, T, g: my_get_batch(d, B, T, None), "generator=generator"),
    (lambda d, B, T, g: my_get_batch(d, B, T, g)[0], "a pair"),
    (stub, "not written yet"),
])
def test_get_batch_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_get_batch(wrong)


# --------------------------------------------------------------------------------- ex-07-decay
def split_by(model, decays, params=None):
    params = list(model.named_parameters()) if params is None else params
    decay = [p for n, p in params if decays(n, p)]
    other = [p for n, p in params if not decays(n, p)]
    return len(decay), sum(p.numel() for p in decay), len(other), sum(p.numel() for p in other)


def decay_split(model):
    return split_by(model, lambda n, p: p.dim() >= 2)


def test_decay_split(capsys):
    check_decay_split(decay_split)
    assert capsys.readouterr().out.startswith("✓ decay_split agrees")


def test_decay_split_reference_is_configure_optimizer():
    """The check counts by the rule itself (an AdamW is slow to build the first time): it must be the package's."""
    for config in _DECAY_CONFIGS:
        model = meta_model(config)
        decay, other = (g["params"] for g in configure_optimizer(model, TrainConfig(weight_decay=0.1)).param_groups)
        assert _split(list(model.parameters())) == (
            len(decay), sum(p.numel() for p in decay), len(other), sum(p.numel() for p in other))


def linear_weights_only(model):
    linear = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Linear)}
    return split_by(model, lambda n, p: id(p) in linear)


@pytest.mark.parametrize("wrong, hint", [
    (lambda m: split_by(m, lambda n, p: p.dim() >= 2, list(m.named_parameters(remove_duplicate=False))),
     "counted twice"),
    (lambda m: split_by(m, lambda n, p: p.dim() < 2), "groups are swapped"),
    (lambda m: split_by(m, lambda n, p: p.dim() > 2), r"p.dim\(\) >= 2"),
    (lambda m: split_by(m, lambda n, p: n.endswith("weight")), "called 'weight' too"),
    (linear_weights_only, "the embeddings decay too"),
    (lambda m: decay_split(m)[:2], "a tuple of 4 integers"),
    (stub, "not written yet"),
])
def test_decay_split_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_decay_split(wrong)


def test_decay_split_accepts_a_list():
    check_decay_split(lambda m: list(decay_split(m)))


# ------------------------------------------------------------------------------ ex-07-estimate
def my_estimate(model, data, batch_size, block_size, iters, seed, *, evaluate=True, no_grad=True, restore=True,
                mean=True, reseed=False, last_only=False, as_float=True):
    """The loss estimate, with switches that reproduce the classic mistakes."""
    was_training = model.training
    if evaluate:
        model.eval()
    gen = torch.Generator().manual_seed(seed)
    losses = []
    with torch.set_grad_enabled(not no_grad):
        for _ in range(iters):
            if reseed:
                gen = torch.Generator().manual_seed(seed)
            loss = next_token_loss(model, *get_batch(data, batch_size, block_size, gen))
            losses.append(loss.item() if as_float else loss.detach())
    model.train(was_training if restore else True)
    if last_only:
        return losses[-1]
    return sum(losses) / iters if mean else sum(losses)


def test_estimate_loss(capsys):
    check_estimate_loss(my_estimate)
    assert capsys.readouterr().out.startswith("✓ my_estimate matches")


@pytest.mark.parametrize("mistake, hint", [
    (dict(evaluate=False), r"call model.eval\(\)"),
    (dict(no_grad=False), "no_grad"),
    (dict(restore=False), "was_training = model.training"),
    (dict(mean=False), "divide by iters"),
    (dict(last_only=True), "the last batch only"),
    (dict(reseed=True), "seed one generator before the loop"),
    (dict(as_float=False), "a Python float"),
])
def test_estimate_loss_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_estimate_loss(lambda *args: my_estimate(*args, **mistake))


def test_estimate_loss_catches_a_stub_and_leaves_the_random_state_alone():
    state = torch.get_rng_state()
    with pytest.raises(CheckFailed, match="not written yet"):
        check_estimate_loss(stub)
    with pytest.raises(CheckFailed):
        check_estimate_loss(lambda *args: my_estimate(*args, evaluate=False))  # dropout on: draws random numbers
    assert torch.equal(torch.get_rng_state(), state)


def test_estimate_loss_model_is_a_gpt_with_dropout():
    seen = []
    check_estimate_loss(lambda model, *args: seen.append(model) or my_estimate(model, *args))
    assert isinstance(seen[0], GPT) and seen[0].config.dropout > 0


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _lr_scheduler(step, cfg):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, cfg) / cfg.learning_rate)
    for _ in range(step):
        sched.step()
    return opt.param_groups[0]["lr"]


def _by_configure_optimizer(model):
    decay, other = (g["params"] for g in configure_optimizer(model, TrainConfig()).param_groups)
    return len(decay), sum(p.numel() for p in decay), len(other), sum(p.numel() for p in other)


def _by_estimate_loss(model, data, B, T, iters, seed):
    cfg = TrainConfig(batch_size=B, block_size=T, eval_iters=iters, seed=seed, device="cpu")
    return estimate_loss(model, {"val": data}, cfg)["val"]


SHORTCUTS = [
    ("check_lr_schedule", lambda step, cfg: lr_at(step, cfg), r"gpt2lite\.train\.lr_at"),
    ("check_lr_schedule", lambda step, cfg: gpt2lite.train.lr_at(step, cfg), r"gpt2lite\.train\.lr_at"),
    ("check_lr_schedule", _lr_scheduler, r"torch\.optim\.lr_scheduler\."),
    ("check_lr_schedule", lambda step, cfg: ch7._schedule(step, cfg), r"gpt2lite\.checks\.training\._schedule"),
    ("check_get_batch", lambda data, B, T, g: gpt2lite.data.get_batch(data, B, T, g), r"gpt2lite\.data\.get_batch"),
    ("check_get_batch", lambda data, B, T, g: ch7.get_batch(data, B, T, g), r"gpt2lite\.data\.get_batch"),
    ("check_decay_split", _by_configure_optimizer, r"gpt2lite\.train\.configure_optimizer"),
    ("check_decay_split", lambda model: ch7._split(list(model.parameters())), r"gpt2lite\.checks\.training\._split"),
    ("check_estimate_loss", _by_estimate_loss, r"gpt2lite\.train\.estimate_loss"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {}
