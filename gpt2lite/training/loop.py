"""The training loop: train() and the pieces one step is made of (schedule, optimizer, loss, accumulation)."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import torch
import torch.distributed
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm.auto import tqdm

from ..device import autocast, autocast_dtype, get_device, seed_everything
from .checkpoints import _restore_or_start, save_checkpoint
from .config import History, TrainConfig
from .distributed import (
    _draw_batches,
    _mean_over_processes,
    _mean_tensor_over_processes,
    _Processes,
    _start_distributed,
)


@dataclass
class TrainState:
    """Everything that changes while training, and so everything a checkpoint must hold to resume."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    generator: torch.Generator  # draws the training batches
    history: History
    step: int = 0  # optimizer steps taken

    @classmethod
    def fresh(cls, model: nn.Module, cfg: TrainConfig, fp16: bool = False) -> TrainState:
        """The state before the first step: a new optimizer, a gradient scaler (working only for fp16) and a
        batch generator seeded with cfg.seed. Resuming loads a checkpoint into such a state."""
        device_type = next(model.parameters()).device.type
        return cls(
            model=model,
            optimizer=configure_optimizer(model, cfg),
            scaler=torch.amp.GradScaler(device_type, enabled=fp16),
            generator=torch.Generator().manual_seed(cfg.seed),
            history=History(),
        )


# ---------------------------------------------------------------------------------- the pieces
def lr_at(step: int, cfg: TrainConfig) -> float:
    """The learning rate for optimizer step `step`: linear warmup, then cosine decay to min_lr.

    Warmup keeps the first updates small while Adam's moment estimates are still noise; the slow
    decay lets the model settle into a minimum at the end instead of bouncing around it.
    """
    decay_steps = cfg.lr_decay_steps if cfg.lr_decay_steps is not None else cfg.max_steps
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    if step >= decay_steps:
        return cfg.min_lr
    progress = (step - cfg.warmup_steps) / (decay_steps - cfg.warmup_steps)  # 0 -> 1
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.learning_rate - cfg.min_lr)


def configure_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices and embeddings, none on biases and LayerNorm gains.

    Decay pulls weights towards zero; that regularises the matrices that mix features, but
    pulling a LayerNorm gain or a bias towards zero only distorts the model. The rule is simply
    "tensors with 2 or more dimensions decay". parameters() yields the tied embedding / output
    matrix once, so it is in one group and updated once per step.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = True if params[0].device.type == "cuda" else None  # one fused CUDA kernel is faster; None: default
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=cfg.betas, fused=fused)


def next_token_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the model's predictions for targets y (B, T) given inputs x (B, T)."""
    logits = model(x)  # (B, T, vocab_size)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())  # (B*T, vocab_size) vs (B*T,)


@torch.no_grad()
def estimate_loss(model: nn.Module, data_splits: dict[str, torch.Tensor], cfg: TrainConfig) -> dict[str, float]:
    """Mean loss over cfg.eval_iters batches of each split, e.g. {"train": 1.52, "val": 1.71}.

    The loss of a single batch is noisy, so we average many. The batches come from a generator
    seeded with cfg.seed, so every call sees the same ones: the curve moves because the model
    changes, not because the sample does. The model is put in eval mode (no dropout) meanwhile.
    Under torchrun the processes share the work, as in training.
    """
    device = next(model.parameters()).device
    amp_dtype = autocast_dtype(device, cfg.dtype)
    block_size = cfg.block_size or model.config.block_size
    procs = _Processes.current()
    was_training = model.training
    model.eval()
    losses = {}
    for name, data in data_splits.items():
        generator = torch.Generator().manual_seed(cfg.seed)
        total = torch.zeros((), device=device)
        for _ in range(cfg.eval_iters):
            xs, ys = _draw_batches(data, 1, cfg.batch_size, block_size, generator, procs)  # (1, B, T)
            with autocast(device, amp_dtype):
                total += next_token_loss(model, xs[0].to(device), ys[0].to(device))
        losses[name] = _mean_over_processes(total, procs) / cfg.eval_iters
    model.train(was_training)
    return losses


# ------------------------------------------------------------------------------- one step
def _accumulate_gradients(
    model: nn.Module,
    xs: torch.Tensor,
    ys: torch.Tensor,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    amp_dtype: torch.dtype | None,
) -> torch.Tensor:
    """Forward and backward over micro-batches xs, ys (accum, B, T); returns their mean loss.

    Each micro-batch loss is divided by their number, so the gradients, which add up in each
    parameter's .grad, are those of the mean loss over the whole batch. Under DDP the gradients
    are averaged across processes only after the last micro-batch (no_sync on the others).
    """
    accum = xs.size(0)
    total = torch.zeros((), device=device)
    for micro in range(accum):
        x, y = xs[micro].to(device), ys[micro].to(device)  # (B, T)
        last = micro == accum - 1
        with contextlib.nullcontext() if last or not isinstance(model, DDP) else model.no_sync():
            with autocast(device, amp_dtype):
                loss = next_token_loss(model, x, y) / accum
            scaler.scale(loss).backward()  # fp16: scale up so that small gradients do not underflow
        total += loss.detach()
    return total


# ------------------------------------------------------------------------------ the loop
class _PendingLosses:
    """The steps since the losses were last read back: their losses still on the device, as 0-d tensors.

    Reading a loss back to Python (.item()) makes the CPU wait until the GPU has finished the step, so the
    loop does it once per log_interval steps, for all of them in one transfer, instead of after every step.
    """

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.losses: list[torch.Tensor] = []  # 0-d, float32, on the device
        self.lrs: list[float] = []
        self.start_interval()

    def start_interval(self) -> None:
        self.started = time.perf_counter()

    def add(self, step: int, loss: torch.Tensor, lr: float) -> None:
        self.steps.append(step)
        self.losses.append(loss)
        self.lrs.append(lr)

    def read_back(self, history: History, tokens_per_step: int) -> float:
        """Log the pending steps in history with one transfer from the device; the last step's loss."""
        losses = torch.stack(self.losses).tolist()  # (steps,) -> floats: the only wait for the device
        tokens_per_sec = tokens_per_step * len(losses) / (time.perf_counter() - self.started)  # of the interval
        for step, loss, lr in zip(self.steps, losses, self.lrs, strict=True):
            history.log_step(step, loss, lr, tokens_per_sec)
        self.steps, self.losses, self.lrs = [], [], []
        return losses[-1]


def train(
    model: nn.Module, train_data: torch.Tensor, val_data: torch.Tensor, cfg: TrainConfig, resume: bool = False
) -> History:
    """Train model in place on 1-D tensors of token ids and return the History of the run.

    With resume=True it continues from the latest checkpoint in cfg.checkpoint_dir (starting
    afresh if there is none yet, so the same notebook cell works before and after a disconnect).
    train() seeds every random number generator with cfg.seed, so a run on the CPU is
    reproducible to the last digit. Under torchrun, each step's global batch of
    batch_size * grad_accum_steps * world_size sequences is shared out among the processes.
    Each step's loss stays on the device until the end of its cfg.log_interval steps (or an
    estimate, a checkpoint, the end), when they all come back in one transfer.
    """
    device, started_process_group = _start_distributed(get_device(cfg.device))
    procs = _Processes.current()
    block_size = cfg.block_size or model.config.block_size
    _check_inputs(model, train_data, val_data, block_size)
    seed_everything(cfg.seed)  # dropout; the same seed in every process, see _draw_batches
    model.to(device)
    model.train()
    amp_dtype = autocast_dtype(device, cfg.dtype)
    state = TrainState.fresh(model, cfg, fp16=amp_dtype == torch.float16)
    _restore_or_start(state, cfg, resume)
    train_model = torch.compile(model) if cfg.compile else model
    eval_model = train_model  # evaluation needs no gradient averaging, so no DDP wrapper
    if procs.world_size > 1:
        train_model = DDP(train_model, device_ids=[device.index] if device.type == "cuda" else None)

    show = cfg.progress and procs.is_main
    tokens_per_step = cfg.batch_size * block_size * cfg.grad_accum_steps * procs.world_size
    splits = {"train": train_data, "val": val_data}
    if state.step == 0:
        state.history.log_eval(0, estimate_loss(eval_model, splits, cfg))
    bar = tqdm(range(state.step, cfg.max_steps), initial=state.step, total=cfg.max_steps, disable=not show)
    pending = _PendingLosses()
    for step in bar:
        lr = lr_at(step, cfg)
        for group in state.optimizer.param_groups:
            group["lr"] = lr

        # this process's micro-batches, (grad_accum_steps, B, T) each
        xs, ys = _draw_batches(train_data, cfg.grad_accum_steps, cfg.batch_size, block_size, state.generator, procs)
        loss = _accumulate_gradients(train_model, xs, ys, state.scaler, device, amp_dtype)
        if cfg.grad_clip > 0:
            state.scaler.unscale_(state.optimizer)  # clip the true gradients, not the fp16-scaled ones
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        state.scaler.step(state.optimizer)  # with fp16, skips the step if a gradient overflowed
        state.scaler.update()
        state.optimizer.zero_grad(set_to_none=True)

        pending.add(step, _mean_tensor_over_processes(loss, procs), lr)  # the global batch's loss, on the device
        state.step = step + 1
        last = state.step == cfg.max_steps
        evaluate = state.step % cfg.eval_interval == 0 or last
        save = cfg.checkpoint_dir is not None and (state.step % cfg.checkpoint_interval == 0 or last)
        if not (state.step % cfg.log_interval == 0 or evaluate or save):
            continue  # the GPU runs ahead: nothing waits for it until the interval ends
        loss_now = pending.read_back(state.history, tokens_per_step)  # the history is complete up to state.step
        bar.set_postfix(loss=f"{loss_now:.4f}", lr=f"{lr:.2e}", refresh=False)  # shown at the bar's own pace
        if evaluate:
            losses = estimate_loss(eval_model, splits, cfg)
            state.history.log_eval(state.step, losses)
            if show:
                bar.write(f"step {state.step}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        if save and procs.is_main:
            save_checkpoint(state, cfg, cfg.checkpoint_dir)
        pending.start_interval()  # the time of evaluations and saves is not training time
    bar.close()
    if started_process_group:
        torch.distributed.destroy_process_group()
    return state.history


def _check_inputs(model: nn.Module, train_data: torch.Tensor, val_data: torch.Tensor, block_size: int) -> None:
    """Catch the usual mistakes before the first step, with an error that says what to do."""
    if block_size > model.config.block_size:
        raise ValueError(
            f"block_size {block_size} is longer than the model's context of {model.config.block_size} tokens; "
            "use a smaller TrainConfig.block_size or a model with a larger block_size"
        )
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if not isinstance(data, torch.Tensor) or data.dim() != 1 or data.is_floating_point():
            raise ValueError(f"{name} must be a 1-D tensor of token ids, e.g. torch.tensor(tokenizer.encode(text))")
        if len(data) < block_size + 1:
            raise ValueError(
                f"{name} has {len(data)} tokens, fewer than block_size + 1 = {block_size + 1}; "
                "use more data or a smaller block_size"
            )
        if data.max() >= model.config.vocab_size or data.min() < 0:
            raise ValueError(
                f"{name} holds token ids up to {int(data.max())}, but the model's vocabulary has "
                f"{model.config.vocab_size} entries; build the model with vocab_size=tokenizer.vocab_size"
            )
