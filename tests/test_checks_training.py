"""Chapter 7's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import dataclasses
import math

import pytest
import torch

import gpt2lite.training
from gpt2lite import GPT, GPTConfig
from gpt2lite.checks import (
    CheckFailed,
    check_accumulate,
    check_adamw_first_step,
    check_warmup_curves,
    check_wsd_schedule,
)
from gpt2lite.checks import training as ch7
from gpt2lite.training import TrainConfig, next_token_loss, train


def stub(*args):
    raise NotImplementedError("your code here")


# ------------------------------------------------------------------------------------ ex-07-adamw
def adamw_first_step(p, grad, lr, betas, eps, weight_decay, *, correct=True, decoupled=True, lr_decay=True,
                     use_eps=True, decay_first=True):
    """The closed form, with switches that reproduce the classic mistakes."""
    b1, b2 = betas
    if not decoupled:
        grad = grad + weight_decay * p
        weight_decay = 0.0
    m, v = (1 - b1) * grad, (1 - b2) * grad**2
    if correct:
        m, v = m / (1 - b1), v / (1 - b2)
    step = lr * m / (v.sqrt() + eps) if use_eps else lr * torch.sign(grad)
    shrink = 1 - (lr if lr_decay else 1.0) * weight_decay
    return p * shrink - step if decay_first else (p - step) * shrink


def test_adamw_first_step(capsys):
    check_adamw_first_step(adamw_first_step)
    assert capsys.readouterr().out.startswith("✓ adamw_first_step matches torch.optim.AdamW")


@pytest.mark.parametrize("mistake, hint", [
    (dict(correct=False), "bias correction"),
    (dict(decoupled=False), "Adam with L2"),
    (dict(lr_decay=False), "scaled by the learning rate"),
    (dict(use_eps=False), "eps matters"),
    (dict(decay_first=False), "before the Adam update"),
])
def test_adamw_first_step_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_adamw_first_step(lambda *args: adamw_first_step(*args, **mistake))


def test_adamw_first_step_catches_a_stub_uphill_and_in_place():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_adamw_first_step(stub)
    with pytest.raises(CheckFailed, match="against the gradient"):
        check_adamw_first_step(lambda p, g, *rest: adamw_first_step(p, -g, *rest))

    def in_place(p, grad, lr, betas, eps, weight_decay):
        return p.mul_(1 - lr * weight_decay).sub_(lr * grad / (grad.abs() + eps))

    with pytest.raises(CheckFailed, match="an input changed in place"):
        check_adamw_first_step(in_place)


# ------------------------------------------------------------------------------------ ex-07-wsd
def wsd_lr(step, cfg, cooldown_steps, *, plus_one=True, floor=True, plateau=True, use_decay_steps=True,
           clamp=True, line=True, stop=True, early=False):
    """The warmup-stable-decay schedule, with switches that reproduce the classic mistakes."""
    end = cfg.lr_decay_steps if cfg.lr_decay_steps is not None and use_decay_steps else cfg.max_steps
    start = max(end - cooldown_steps, cfg.warmup_steps) if clamp else end - cooldown_steps
    if not plateau:
        start = cfg.warmup_steps
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + plus_one) / cfg.warmup_steps
    if step < start:
        return cfg.learning_rate
    low = cfg.min_lr if floor else 0.0
    if stop and step >= end:
        return cfg.min_lr
    share = (step - start + early) / (end - start)
    if not line:
        return low + (cfg.learning_rate - low) * 0.5 * (1 + math.cos(math.pi * share))
    return cfg.learning_rate - (cfg.learning_rate - low) * share


def test_wsd_schedule(capsys):
    check_wsd_schedule(wsd_lr)
    assert capsys.readouterr().out.startswith("✓ wsd_lr gives warmup, plateau, cooldown and floor")


@pytest.mark.parametrize("mistake, hint", [
    (dict(plus_one=False), "warmup off by one"),
    (dict(floor=False), "must end at min_lr"),
    (dict(plateau=False), "must stay at learning_rate"),
    (dict(use_decay_steps=False), "ends at lr_decay_steps"),
    (dict(clamp=False), "starts inside the warmup"),
    (dict(line=False), "follows a cosine"),
    (dict(stop=False), "must stay at min_lr"),
    (dict(early=True), "off by one: the line"),
])
def test_wsd_schedule_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_wsd_schedule(lambda step, cfg, cooldown: wsd_lr(step, cfg, cooldown, **mistake))


def test_wsd_schedule_catches_a_stub_and_names_the_case():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_wsd_schedule(stub)
    with pytest.raises(CheckFailed, match=r"\(20, TrainConfig\(max_steps=100, warmup_steps=10.*cooldown_steps=20"):
        check_wsd_schedule(lambda step, cfg, c: wsd_lr(step, cfg, c) * (1.5 if step == 20 and c == 20 else 1))


# ------------------------------------------------------------------------------------ ex-07-accum
def accumulate(model, x, y, micro_size, *, weight="share", zero=True):
    """Gradient accumulation, with switches that reproduce the classic mistakes (weight="count": the bug)."""
    if zero:
        model.zero_grad(set_to_none=True)
    pieces = list(zip(x.split(micro_size), y.split(micro_size)))
    total = 0.0
    for xb, yb in pieces:
        scale = {"share": len(xb) / len(x), "count": 1 / len(pieces), "none": 1.0, "size": len(xb)}[weight]
        loss = next_token_loss(model, xb, yb) * scale
        loss.backward()
        total += loss.item()
    return total


def test_accumulate(capsys):
    check_accumulate(accumulate)
    assert capsys.readouterr().out.startswith("✓ accumulate gives the whole batch's loss and gradient")


@pytest.mark.parametrize("mistake, hint", [
    (dict(weight="count"), "the bug: dividing by the number of micro-batches"),
    (dict(weight="none"), "added undivided"),
    (dict(weight="size"), r"never divided by len\(x\)"),
    (dict(zero=False), "still in .grad"),
])
def test_accumulate_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_accumulate(lambda *args: accumulate(*args, **mistake))


def test_accumulate_refuses_the_whole_batch_a_step_and_a_tensor():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_accumulate(stub)

    def whole_batch(model, x, y, micro_size):
        model.zero_grad(set_to_none=True)
        loss = next_token_loss(model, x, y)
        loss.backward()
        return loss.item()

    with pytest.raises(CheckFailed, match="never on the whole batch at once"):
        check_accumulate(whole_batch)

    def steps_too(model, x, y, micro_size):
        loss = accumulate(model, x, y, micro_size)
        torch.optim.SGD(model.parameters(), lr=0.1).step()
        return loss

    with pytest.raises(CheckFailed, match="no optimizer step"):
        check_accumulate(steps_too)
    check_accumulate(accumulate)  # each check builds its own model: the step above changed nothing here
    with pytest.raises(CheckFailed, match="a Python float"):
        check_accumulate(lambda *args: torch.tensor(accumulate(*args)))


# ------------------------------------------------------------------------------------ ex-07-warmup
MODEL = GPTConfig(vocab_size=65, block_size=16, n_layer=1, n_head=2, n_embd=16)
RUN = TrainConfig(max_steps=15, batch_size=4, block_size=16, learning_rate=3e-2, min_lr=3e-2, eval_interval=15,
                  eval_iters=1, device="cpu", progress=False, seed=0)
WARMUPS = (0, 5)


def warmup_curves(train_data, val_data, model_config, cfg, warmups, *, reseed=True, fresh=True, set_warmup=True,
                  curve="train_loss"):
    """The ablation, with switches that reproduce the classic mistakes."""
    curves, model = {}, None
    for w in warmups:
        if reseed:
            torch.manual_seed(cfg.seed)
        if fresh or model is None:
            model = GPT(model_config)
        run = dataclasses.replace(cfg, warmup_steps=w) if set_warmup else cfg
        curves[w] = getattr(train(model, train_data, val_data, run), curve)
    return curves


def test_warmup_curves(capsys):
    check_warmup_curves(warmup_curves, MODEL, RUN, WARMUPS)
    out = capsys.readouterr().out
    assert out.startswith("✓ 2 runs of 15 steps at peak lr 0.03 reproduced; mean loss of the last 10 steps: "
                          "warmup 0: "), out


@pytest.mark.parametrize("mistake, hint", [
    (dict(fresh=False), "build a new model for every run"),
    (dict(reseed=False), "right after torch.manual_seed"),
    (dict(set_warmup=False), r"cfg's own warmup_steps=100: pass dataclasses.replace\(cfg, warmup_steps=0\)"),
    (dict(curve="val_loss"), "not the eval_step estimates"),
])
def test_warmup_curves_names_a_wrong_run(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_warmup_curves(lambda *args: warmup_curves(*args, **mistake), MODEL, RUN, WARMUPS)


def test_warmup_curves_catches_a_stub_a_swap_and_the_budget():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_warmup_curves(stub, MODEL, RUN, WARMUPS)
    with pytest.raises(CheckFailed, match="this is the curve of warmup 5"):
        check_warmup_curves(lambda *args: dict(zip(WARMUPS, reversed(warmup_curves(*args).values()))),
                            MODEL, RUN, WARMUPS)
    with pytest.raises(CheckFailed, match="about 5 s of one CPU thread"):
        check_warmup_curves(warmup_curves, MODEL, dataclasses.replace(RUN, max_steps=5000), WARMUPS)
    with pytest.raises(CheckFailed, match="0 among them"):
        check_warmup_curves(warmup_curves, MODEL, RUN, (5, 10))


def test_warmup_curves_leaves_the_random_state_alone():
    state = torch.get_rng_state()
    check_warmup_curves(warmup_curves, MODEL, RUN, WARMUPS)
    assert torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _by_adamw(p, grad, lr, betas, eps, weight_decay):
    q = p.clone().requires_grad_(True)
    q.grad = grad.clone()
    torch.optim.AdamW([q], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay).step()
    return q.detach()


def _by_adam_then_decay(p, grad, lr, betas, eps, weight_decay):
    q = (p * (1 - lr * weight_decay)).requires_grad_(True)
    q.grad = grad.clone()
    torch.optim.Adam([q], lr=lr, betas=betas, eps=eps).step()
    return q.detach()


def _by_functional_adamw(p, grad, lr, betas, eps, weight_decay):
    from torch.optim.adamw import adamw
    q = p.clone()
    adamw([q], [grad], [torch.zeros_like(q)], [torch.zeros_like(q)], [], [torch.tensor(0.0)], amsgrad=False,
          beta1=betas[0], beta2=betas[1], lr=lr, weight_decay=weight_decay, eps=eps, maximize=False)
    return q


def _by_configure_optimizer(p, grad, lr, betas, eps, weight_decay):
    model = torch.nn.Linear(1, 1)
    gpt2lite.training.configure_optimizer(model, TrainConfig(learning_rate=lr, weight_decay=weight_decay))
    return p


def _wsd_by_scheduler(step, cfg, cooldown):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: ch7._wsd(s, cfg, cooldown) / cfg.learning_rate)
    for _ in range(step):
        sched.step()
    return opt.param_groups[0]["lr"]


def _wsd_from_lr_at(step, cfg, cooldown):
    return gpt2lite.training.lr_at(step, dataclasses.replace(cfg, lr_decay_steps=cooldown))


def _by_package_accumulation(model, x, y, micro_size):
    xs, ys = x.unsqueeze(0), y.unsqueeze(0)  # one micro-batch of all sequences
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    return gpt2lite.training._accumulate_gradients(model, xs, ys, scaler, torch.device("cpu"), None).item()


def _by_fresh_run(train_data, val_data, model_config, cfg, warmups):
    return {w: ch7._fresh_run(train_data, val_data, model_config, cfg, w) for w in warmups}


SHORTCUTS = [
    ("check_adamw_first_step", _by_adamw, r"torch\.optim\.adamw"),
    ("check_adamw_first_step", _by_functional_adamw, r"torch\.optim\.adamw"),
    ("check_adamw_first_step", _by_adam_then_decay, r"torch\.optim\.adam"),
    ("check_adamw_first_step", _by_configure_optimizer, r"gpt2lite\.training\.configure_optimizer"),
    ("check_adamw_first_step", lambda *args: ch7._first_step(*args), r"gpt2lite\.checks\.training\._first_step"),
    ("check_wsd_schedule", _wsd_from_lr_at, r"gpt2lite\.training\.lr_at"),
    ("check_wsd_schedule", _wsd_by_scheduler, r"torch\.optim\.lr_scheduler\."),
    ("check_wsd_schedule", lambda step, cfg, c: ch7._wsd(step, cfg, c), r"gpt2lite\.checks\.training\._wsd"),
    ("check_accumulate", _by_package_accumulation, r"gpt2lite\.training\._accumulate_gradients"),
    ("check_accumulate", lambda model, x, y, m: ch7._accumulated(model, x, y, m, lambda n, k: n / len(x))[0],
     r"gpt2lite\.checks\.training\._accumulated"),
    ("check_warmup_curves", (_by_fresh_run, MODEL, RUN, WARMUPS), r"gpt2lite\.checks\.training\._fresh_run"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {}
