"""Checks for chapter 7's exercises: AdamW's first step, a warmup-stable-decay schedule, gradient accumulation
over micro-batches of unequal size, and a warmup ablation."""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn as nn
import torch.optim.lr_scheduler

from gpt2lite.config import GPTConfig
from gpt2lite.data import load_shakespeare
from gpt2lite.model import GPT
from gpt2lite.training import TrainConfig, _accumulate_gradients, configure_optimizer, lr_at, next_token_loss, train

from ._core import call, describe, expect_close, fail, forbid, forbid_helpers, meta_model, passed, seeded_model


# ------------------------------------------------------------------------------------ ex-07-adamw
def _first_step(p: torch.Tensor, g: torch.Tensor, lr: float, betas: tuple[float, float], eps: float,
                weight_decay: float, mistake: str | None = None) -> torch.Tensor:
    """AdamW's first update from a fresh state, in closed form, or with one of the classic mistakes."""
    b1, b2 = betas
    if mistake == "L2":  # Adam with the decay added to the gradient
        g = g + weight_decay * p
        return p - lr * g / (g.abs() + eps)
    if mistake == "no bias correction":
        return p * (1 - lr * weight_decay) - lr * (1 - b1) * g / (math.sqrt(1 - b2) * g.abs() + eps)
    if mistake == "decay without lr":
        return p * (1 - weight_decay) - lr * g / (g.abs() + eps)
    if mistake == "sign":
        return p * (1 - lr * weight_decay) - lr * torch.sign(g)
    if mistake == "decay last":
        return (p - lr * g / (g.abs() + eps)) * (1 - lr * weight_decay)
    if mistake == "uphill":
        return p * (1 - lr * weight_decay) + lr * g / (g.abs() + eps)
    return p * (1 - lr * weight_decay) - lr * g / (g.abs() + eps)


_ADAMW_MISTAKES = {
    "no bias correction": "Adam divides m by 1 - beta1 and v by 1 - beta2 (bias correction): after one step "
                          "m_hat = g and v_hat = g**2, so the betas drop out",
    "L2": "that is Adam with L2: AdamW's decay is decoupled, p * (1 - lr * weight_decay), not added to the gradient",
    "decay without lr": "the decoupled decay is scaled by the learning rate: p * (1 - lr * weight_decay)",
    "sign": "eps matters where the gradient is tiny: the step is lr * g / (|g| + eps), not lr * sign(g)",
    "decay last": "torch's AdamW shrinks p before the Adam update, not after: "
                  "p * (1 - lr * weight_decay) - lr * g / (|g| + eps)",
    "uphill": "the step goes against the gradient: subtract lr * g / (|g| + eps)",
}


def _adamw_reference(p: torch.Tensor, g: torch.Tensor, lr: float, betas: tuple[float, float], eps: float,
                     weight_decay: float) -> torch.Tensor:
    """One step of torch.optim.AdamW itself (its first use imports torch._dynamo: about a second, once)."""
    q = p.clone().requires_grad_(True)
    q.grad = g.clone()
    torch.optim.AdamW([q], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay).step()
    return q.detach()


def check_adamw_first_step(fn: Callable[..., torch.Tensor]) -> None:
    """`fn(p, grad, lr, betas, eps, weight_decay)` returns the parameter after AdamW's first step from a fresh
    state, computed in closed form."""
    instead = "derive the first step by hand: what are m_hat and v_hat after one step? Then write it with tensor ops"
    adam, adamw = (importlib.import_module(f"torch.optim.{m}") for m in ("adam", "adamw"))  # torch.optim hides them
    forbidden = forbid({adam: "torch.optim.adam", adamw: "torch.optim.adamw",
                        configure_optimizer: "gpt2lite.training.configure_optimizer"}, instead)
    forbidden += forbid_helpers(__name__)
    gen = torch.Generator().manual_seed(7)
    p0 = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    g0 = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    tiny = torch.tensor([0.0, 1e-9, -3e-9, 2e-8, -1.0, 0.5], dtype=torch.float64)  # eps-sized gradients
    cases = [
        (p0, g0, 1e-3, (0.9, 0.95), 1e-8, 0.1),
        (p0, g0 * 1e3, 0.5, (0.5, 0.999), 1e-8, 0.1),  # a large rate and other betas
        (p0, g0, 0.1, (0.0, 0.0), 1e-3, 0.0),  # no memory at all, no decay, a large eps
        (torch.linspace(-1, 1, 6, dtype=torch.float64), tiny, 0.2, (0.9, 0.99), 1e-8, 0.3),
    ]
    for p, g, lr, betas, eps, wd in cases:
        text = (f"{fn.__name__}(p={describe(p)}, grad={describe(g)}, lr={lr:g}, betas={betas}, eps={eps:g}, "
                f"weight_decay={wd:g})")
        p_in, g_in = p.clone(), g.clone()
        got = call(fn, p_in, g_in, lr, betas, eps, wd, call_text=text, forbidden=forbidden)
        if not (torch.equal(p_in, p) and torch.equal(g_in, g)):
            fail(text, "p and grad left as they were", "an input changed in place",
                 "return a new tensor: compute with p * ... instead of p.mul_(...)")
        expected = _adamw_reference(p, g, lr, betas, eps, wd)
        mistakes = {hint: (lambda m=m: _first_step(p, g, lr, betas, eps, wd, m)) for m, hint in _ADAMW_MISTAKES.items()}
        expect_close(text, got, expected, atol=1e-12, rtol=1e-9, mistakes=mistakes,
                     hint="shrink p by (1 - lr * weight_decay), then take Adam's first step: lr * m_hat / "
                          "(sqrt(v_hat) + eps)")
    passed(f"adamw_first_step matches torch.optim.AdamW's first step in {len(cases)} cases, whatever the betas: "
           "p * (1 - lr * wd) - lr * g / (|g| + eps)")


# ------------------------------------------------------------------------------------ ex-07-wsd
def _wsd(step: int, cfg: TrainConfig, cooldown: int, mistake: str | None = None) -> float:
    """The warmup-stable-decay rate, or the rate with one of the common mistakes (`mistake` names it) made."""
    lr, warm, floor = cfg.learning_rate, cfg.warmup_steps, cfg.min_lr
    end = cfg.max_steps if cfg.lr_decay_steps is None or mistake == "ignores lr_decay_steps" else cfg.lr_decay_steps
    start = end - cooldown if mistake == "no clamp" else max(end - cooldown, warm)
    if mistake == "decays from the warmup":
        start = warm
    if step < warm:
        return lr * (step if mistake == "warmup from 0" else step + 1) / warm
    if step < start:
        return lr
    if step >= end and mistake != "no floor after the end":
        return floor
    if mistake == "decays to 0":
        floor = 0.0
    progress = (step - start + (mistake == "one step early")) / (end - start)  # 0 -> 1
    if mistake == "cosine":
        return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - floor)
    return lr + (floor - lr) * progress


_WSD_MISTAKES = {
    "warmup from 0": "warmup off by one: step 0 gets learning_rate / warmup_steps, not 0: (step + 1) / warmup_steps",
    "decays to 0": "the cooldown ends at 0; it must end at min_lr",
    "decays from the warmup": "the rate decays right after the warmup: it must stay at learning_rate until the "
                              "last cooldown_steps steps before the decay end",
    "ignores lr_decay_steps": "the decay ends at lr_decay_steps when it is set (at max_steps only when it is None)",
    "no clamp": "the cooldown starts inside the warmup: start it at max(end - cooldown_steps, warmup_steps)",
    "cosine": "this cooldown follows a cosine; warmup-stable-decay's cooldown here is a straight line",
    "no floor after the end": "past the decay end the rate must stay at min_lr; here the line goes on down",
    "one step early": "off by one: the line must give learning_rate at the first cooldown step and reach min_lr "
                      "at the decay end: progress = (step - start) / (end - start)",
}


def _wsd_mistakes(step: int, cfg: TrainConfig, cooldown: int) -> dict[str, Callable[[], float]]:
    """Hint -> what the schedule with that mistake gives at `step` (nan where the mistake divides by zero)."""
    def wrong(mistake: str) -> Callable[[], float]:
        def value() -> float:
            try:
                return _wsd(step, cfg, cooldown, mistake)
            except ZeroDivisionError:
                return math.nan  # matches no answer
        return value
    return {hint: wrong(mistake) for mistake, hint in _WSD_MISTAKES.items()}


def _describe_cfg(cfg: TrainConfig) -> str:
    """The fields of cfg that the schedule reads, for the failure messages."""
    decay = f", lr_decay_steps={cfg.lr_decay_steps}" if cfg.lr_decay_steps is not None else ""
    return (f"TrainConfig(max_steps={cfg.max_steps}, warmup_steps={cfg.warmup_steps}{decay}, "
            f"learning_rate={cfg.learning_rate:g}, min_lr={cfg.min_lr:g})")


def check_wsd_schedule(fn: Callable[[int, TrainConfig, int], float]) -> None:
    """`fn(step, cfg, cooldown_steps)` returns the warmup-stable-decay rate of step `step`: lr_at's linear warmup,
    then learning_rate, then a straight line to min_lr over the last cooldown_steps steps before the decay end
    (lr_decay_steps, or max_steps), never starting inside the warmup; then min_lr."""
    cases = [
        (TrainConfig(max_steps=100, warmup_steps=10), 20),
        (TrainConfig(max_steps=100, warmup_steps=0, learning_rate=3e-3, min_lr=0.0), 50),  # no warmup
        (TrainConfig(max_steps=60, warmup_steps=5, lr_decay_steps=40), 10),  # the decay ends before the last step
        # the cooldown would start inside the warmup
        (TrainConfig(max_steps=30, warmup_steps=10, learning_rate=3e-3, min_lr=1e-3), 25),
        (TrainConfig(max_steps=12, warmup_steps=3), 1),  # a one-step cooldown
        (TrainConfig(max_steps=20, warmup_steps=20), 5),  # all warmup
    ]
    instead = "write the schedule with arithmetic: the warmup, the plateau, the straight cooldown and the floor"
    forbidden = forbid({lr_at: "gpt2lite.training.lr_at", torch.optim.lr_scheduler: "torch.optim.lr_scheduler"}, instead)
    forbidden += forbid_helpers(__name__)
    for cfg, cooldown in cases:
        for step in range(cfg.max_steps + 5):  # a few steps past the end too
            text = f"{fn.__name__}({step}, {_describe_cfg(cfg)}, cooldown_steps={cooldown})"
            got = call(fn, step, cfg, cooldown, call_text=text, forbidden=forbidden)
            expect_close(text, got, _wsd(step, cfg, cooldown), atol=1e-15, rtol=1e-12,
                         mistakes=_wsd_mistakes(step, cfg, cooldown),
                         hint="warmup: learning_rate * (step + 1) / warmup_steps; then learning_rate; then a "
                              "straight line to min_lr over the cooldown; then min_lr")
    passed(f"wsd_lr gives warmup, plateau, cooldown and floor on {len(cases)} schedules, past their last step too")


# ------------------------------------------------------------------------------------ ex-07-accum
def _accum_model() -> GPT:
    """A tiny GPT without dropout, so that the micro-batches and the whole batch see the same function; a new one
    for every check, so that a wrong answer that changes its weights changes nothing for the next."""
    return seeded_model(GPTConfig(vocab_size=17, block_size=8, n_layer=1, n_head=2, n_embd=16), 0)


def _grads(model: nn.Module) -> torch.Tensor:
    """All of the model's gradients in one vector (zeros for a parameter without one)."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in model.parameters()])


def _accumulated(model: nn.Module, x: torch.Tensor, y: torch.Tensor, micro: int,
                 weight: Callable[[int, int], float]) -> tuple[float, torch.Tensor]:
    """(loss, gradient vector) of micro-batches of `micro` sequences, each loss weighted by weight(len(xb), k)."""
    model.zero_grad(set_to_none=True)
    pieces = list(zip(x.split(micro), y.split(micro)))
    total = 0.0
    for xb, yb in pieces:
        loss = next_token_loss(model, xb, yb) * weight(len(xb), len(pieces))
        loss.backward()
        total += loss.item()
    return total, _grads(model)


def check_accumulate(fn: Callable[[nn.Module, torch.Tensor, torch.Tensor, int], float]) -> None:
    """`fn(model, x, y, micro_size)` runs forward and backward on micro-batches of at most micro_size sequences,
    leaves in .grad the gradient of the mean loss over the whole batch (starting from zero) and returns that
    loss as a float."""
    model = _accum_model()
    sizes: list[int] = []
    hook = model.register_forward_pre_hook(lambda module, args: sizes.append(len(args[0])))
    forbidden = forbid({_accumulate_gradients: "gpt2lite.training._accumulate_gradients"},
                       "write the loop over x.split(micro_size) yourself") + forbid_helpers(__name__)
    before = [p.detach().clone() for p in model.parameters()]
    gen = torch.Generator().manual_seed(3)
    measured = []
    try:
        for B, micro in [(8, 4), (10, 4), (5, 2), (3, 5), (7, 7), (6, 1)]:
            x = torch.randint(17, (B, 8), generator=gen)  # (B, T)
            y = torch.randint(17, (B, 8), generator=gen)  # (B, T)
            text = f"{fn.__name__}(model, x of shape {tuple(x.shape)}, y of shape {tuple(y.shape)}, micro_size={micro})"
            for p in model.parameters():
                p.grad = torch.full_like(p, 0.5)  # stale gradients of an earlier step
            sizes.clear()
            got = call(fn, model, x, y, micro, call_text=text, forbidden=forbidden)
            seen, got_grads = list(sizes), _grads(model).clone()
            if any(not torch.equal(p, q) for p, q in zip(model.parameters(), before)):
                fail(text, "the weights left as they were", "changed weights",
                     "only accumulate the gradients: no optimizer step, no update of the weights")
            if seen and max(seen) > micro:
                fail(text, f"forward passes on at most {micro} sequences", f"a forward pass on {max(seen)}",
                     "run the model on micro-batches x.split(micro_size), never on the whole batch at once")
            model.zero_grad(set_to_none=True)
            whole = next_token_loss(model, x, y)
            whole.backward()
            expected = _grads(model)
            wrong = {
                "the bug: dividing by the number of micro-batches weights a short last micro-batch like a full "
                "one; weight each micro-batch's mean loss by its share of the batch, len(xb) / len(x)":
                    lambda: _accumulated(model, x, y, micro, lambda n, k: 1 / k),
                "the micro-batch losses are added undivided: scale each by len(xb) / len(x)":
                    lambda: _accumulated(model, x, y, micro, lambda n, k: 1.0),
                "each loss is scaled by len(xb) but never divided by len(x), the size of the whole batch":
                    lambda: _accumulated(model, x, y, micro, lambda n, k: float(n)),
            }
            stale = {"the gradients of the earlier step are still in .grad: start with "
                     "model.zero_grad(set_to_none=True)": lambda: expected + 0.5}
            expect_close(f".grad after {text}", got_grads, expected, atol=1e-6, rtol=1e-4,
                         mistakes={**stale, **{h: (lambda w=w: w()[1]) for h, w in wrong.items()}},
                         hint="the gradient must be that of next_token_loss(model, x, y) over the whole batch")
            if not isinstance(got, float):
                fail(text, "a Python float", f"a {type(got).__name__}: {describe(got)}",
                     "add up loss.item() of the scaled micro-batch losses")
            expect_close(text, got, whole.item(), atol=1e-6, rtol=1e-5,
                         mistakes={h: (lambda w=w: w()[0]) for h, w in wrong.items()},
                         hint="return the mean loss over the whole batch: the sum of the scaled micro-batch losses")
            measured.append(len(seen))
    finally:
        hook.remove()
        model.zero_grad(set_to_none=True)
    passed(f"accumulate gives the whole batch's loss and gradient in {len(measured)} cases "
           f"({sum(measured)} micro-batches), a short last micro-batch included")


# ------------------------------------------------------------------------------------ ex-07-warmup
_BUDGET_TOKENS = 60_000  # tokens of all runs together, evaluations included: about 5 s of one CPU thread
_BUDGET_PARAMS = 200_000
_TAIL = 10  # the loss compared: the mean of the last _TAIL steps


@lru_cache(maxsize=None)
def _shakespeare() -> tuple[torch.Tensor, torch.Tensor]:
    """Tiny Shakespeare, one id per character: the train and validation ids."""
    train_ids, val_ids, _ = load_shakespeare("char")
    return train_ids, val_ids


def _fresh_run(train_data: torch.Tensor, val_data: torch.Tensor, config: GPTConfig, cfg: TrainConfig,
               warmup: int) -> list[float]:
    """The check's own run: a fresh GPT(config) seeded with cfg.seed, trained by train() with warmup_steps=warmup."""
    model = seeded_model(config, cfg.seed)
    return train(model, train_data, val_data, dataclasses.replace(cfg, warmup_steps=warmup)).train_loss


def check_warmup_curves(fn: Callable[..., dict[int, list[float]]], model_config: GPTConfig, cfg: TrainConfig,
                        warmups: tuple[int, ...]) -> None:
    """`fn(train_data, val_data, model_config, cfg, warmups)` returns {w: the per-step training losses of a fresh
    GPT(model_config), built right after torch.manual_seed(cfg.seed) and trained by train() with warmup_steps=w}.
    The check keeps the settings within a budget, runs the ablation again and compares."""
    text = f"{getattr(fn, '__name__', 'your function')}(train_ids, val_ids, model_config, cfg, warmups={warmups})"
    warmups = tuple(warmups)
    if len(warmups) < 2 or 0 not in warmups or len(set(warmups)) != len(warmups):
        fail(text, "at least two different warmups, 0 among them", f"warmups={warmups}",
             "compare no warmup (0) with at least one warmup, e.g. WARMUPS = (0, 20)")
    n_params = sum(p.numel() for p in meta_model(model_config).parameters())  # no weights drawn
    evals = 2 * cfg.eval_iters * (cfg.max_steps // cfg.eval_interval + 2)  # batches: both splits, start and end
    window = cfg.batch_size * cfg.grad_accum_steps * (cfg.block_size or model_config.block_size)
    tokens = (cfg.max_steps + evals) * window * len(warmups)  # an evaluation batch counted as a training one
    if tokens > _BUDGET_TOKENS or n_params > _BUDGET_PARAMS:
        fail(text, f"at most {_BUDGET_TOKENS:,} training tokens in all and a model of at most {_BUDGET_PARAMS:,} "
             "parameters (about 5 s of one CPU thread)", f"{tokens:,} tokens, {n_params:,} parameters",
             "fewer steps, smaller batches or a shorter block_size, or a smaller model")
    if cfg.device != "cpu" or cfg.checkpoint_dir is not None or cfg.max_steps <= _TAIL:
        fail(text, f"device='cpu', no checkpoint_dir, more than {_TAIL} steps",
             f"device={cfg.device!r}, checkpoint_dir={cfg.checkpoint_dir!r}, max_steps={cfg.max_steps}",
             "the check reruns the ablation on the CPU, without checkpoints, and compares the last steps")
    train_data, val_data = _shakespeare()
    forbidden = forbid_helpers(__name__, "train the models yourself with gpt2lite.training.train: "
                                         "_fresh_run is the check's own run")
    with torch.random.fork_rng(devices=[]):  # train() seeds the global generator: leave the caller's alone
        got = call(fn, train_data, val_data, model_config, cfg, warmups, call_text=text, forbidden=forbidden)
        if not isinstance(got, dict) or sorted(got) != sorted(warmups):
            fail(text, f"a dict with the keys {sorted(warmups)}", describe(got),
                 "return {w: history.train_loss for each warmup w}")
        fresh = {w: _fresh_run(train_data, val_data, model_config, cfg, w) for w in warmups}
    for w in warmups:
        curve = got[w]
        where = f"the curve for warmup {w} of {text}"
        if not isinstance(curve, (list, tuple)) or len(curve) != cfg.max_steps:
            fail(where, f"a list of {cfg.max_steps} losses, one per step",
                 f"{len(curve) if hasattr(curve, '__len__') else type(curve).__name__} values",
                 "return history.train_loss (one loss per step), not the eval_step estimates")
        curve = torch.tensor([float(v) for v in curve], dtype=torch.float64)
        expected = torch.tensor(fresh[w], dtype=torch.float64)
        if not math.isclose(curve[0].item(), expected[0].item(), rel_tol=1e-5):
            fail(where, f"a first loss of {expected[0].item():.4f}, the fresh seeded model's",
                 f"{curve[0].item():.4f}",
                 "build a new model for every run, right after torch.manual_seed(cfg.seed): the runs must start "
                 "from the same weights, not from where the previous run ended")
        others = {f"this is the curve of warmup {v}: pass dataclasses.replace(cfg, warmup_steps={w}) to train()":
                  (lambda v=v: torch.tensor(fresh[v], dtype=torch.float64)) for v in warmups if v != w}
        others[f"this is the curve of cfg's own warmup_steps={cfg.warmup_steps}: pass "
               f"dataclasses.replace(cfg, warmup_steps={w}) to train()"] = (
            lambda: torch.tensor(_fresh_run(train_data, val_data, model_config, cfg, cfg.warmup_steps),
                                 dtype=torch.float64))
        expect_close(where, curve, expected, atol=1e-5, rtol=1e-5, mistakes=others,
                     hint="train a fresh seeded GPT(model_config) with train() and return its history.train_loss")
    tails = ", ".join(f"warmup {w}: {sum(fresh[w][-_TAIL:]) / _TAIL:.3f}" for w in warmups)
    passed(f"{len(warmups)} runs of {cfg.max_steps} steps at peak lr {cfg.learning_rate:g} reproduced; "
           f"mean loss of the last {_TAIL} steps: {tails}")

