"""Training: the loop that turns a randomly initialised GPT into a language model.

One optimizer step does four things:

1. set the learning rate for this step (linear warmup, then cosine decay; ``lr_at``),
2. draw a batch and run forward and backward on it in ``grad_accum_steps`` micro-batches,
   letting the gradients add up,
3. clip the gradient norm and take an AdamW step,
4. now and then, estimate the train and validation loss and save a checkpoint.

Started by ``torchrun --nproc_per_node=N script.py``, ``train`` runs N processes, each with a copy
of the model and its own share of every batch, and DDP averages their gradients. The global batch of
one step is therefore ``batch_size * grad_accum_steps * world_size`` sequences of ``block_size`` tokens.

A checkpoint is a folder ``step-000500/`` holding ``model.safetensors`` (the weights alone: load them
for generation with ``safetensors.torch.load_model(model, path)``) and the rest of the training
state: optimizer moments and random number generator states in ``train_state.safetensors``, the
step, loss history and configs in ``train_state.json``. ``train(..., resume=True)`` continues from
it and follows the same loss curve as a run that was never interrupted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed
import torch.nn as nn
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm.auto import tqdm

from ..data import get_batch
from ..device import AMP_CHOICES, autocast, autocast_dtype, get_device, seed_everything

MODEL_FILE = "model.safetensors"
STATE_TENSORS_FILE = "train_state.safetensors"
STATE_JSON_FILE = "train_state.json"


# --------------------------------------------------------------------------------------- config
@dataclass
class TrainConfig:
    """Hyper-parameters of a training run. The defaults suit a small model on Tiny Shakespeare."""

    max_steps: int = 5000  # optimizer steps
    batch_size: int = 64  # sequences per micro-batch, per process
    block_size: int | None = None  # tokens per sequence; None: the model's context length
    grad_accum_steps: int = 1  # micro-batches per optimizer step
    learning_rate: float = 1e-3  # peak learning rate, reached at the end of warmup
    min_lr: float = 1e-4  # where the cosine decay ends
    warmup_steps: int = 100
    lr_decay_steps: int | None = None  # step at which the decay reaches min_lr; None: max_steps
    weight_decay: float = 0.1  # applied to matrices and embeddings only, see configure_optimizer
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0  # largest allowed gradient norm; 0 turns clipping off
    eval_interval: int = 250  # steps between loss estimates
    eval_iters: int = 20  # batches per split in each loss estimate
    seed: int = 1337
    device: str | None = None  # None: the best available, see get_device
    dtype: str = "auto"  # mixed precision: "auto", "fp32", "bf16" or "fp16", see autocast_dtype
    compile: bool = False  # torch.compile the model: faster steps after a slow first one
    checkpoint_dir: str | Path | None = None  # None: no checkpoints
    checkpoint_interval: int = 500  # steps between checkpoints (one is also saved at the end)
    progress: bool = True  # show a progress bar and the loss estimates

    def __post_init__(self) -> None:
        counts = ("max_steps", "batch_size", "grad_accum_steps", "eval_interval", "eval_iters", "checkpoint_interval")
        for name in counts:
            _check_int(name, getattr(self, name), smallest=1)
        _check_int("warmup_steps", self.warmup_steps, smallest=0)
        for name in ("block_size", "lr_decay_steps"):  # None means "the default", see above
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), smallest=1)
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.min_lr <= self.learning_rate:
            raise ValueError(f"min_lr must be between 0 and learning_rate ({self.learning_rate}), got {self.min_lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), e.g. (0.9, 0.95), got {self.betas}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be >= 0 (0 turns clipping off), got {self.grad_clip}")
        if self.dtype not in AMP_CHOICES:
            raise ValueError(f"dtype must be one of {AMP_CHOICES}, got {self.dtype!r}")


def _check_int(name: str, value: object, smallest: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
        raise ValueError(f"TrainConfig.{name} must be an integer >= {smallest}, got {value!r}")


@dataclass
class History:
    """What happened during training, as lists ready to plot.

    Step k means "the model after k optimizer steps": train_loss[i] is the loss of the model after
    step[i] steps on the batch it then learns from, and val_loss[j] is estimated after eval_step[j]
    steps (eval_step starts at 0, the untrained model, and ends at max_steps).
    """

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # of one batch, so noisy
    lr: list[float] = field(default_factory=list)
    tokens_per_sec: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_train_loss: list[float] = field(default_factory=list)  # mean over eval_iters batches
    val_loss: list[float] = field(default_factory=list)

    def log_step(self, step: int, loss: float, lr: float, tokens_per_sec: float) -> None:
        self.step.append(step)
        self.train_loss.append(loss)
        self.lr.append(lr)
        self.tokens_per_sec.append(tokens_per_sec)

    def log_eval(self, step: int, losses: dict[str, float]) -> None:
        self.eval_step.append(step)
        self.eval_train_loss.append(losses["train"])
        self.val_loss.append(losses["val"])


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


# ---------------------------------------------------------------------- processes and batches
@dataclass
class _Processes:
    """Which process this is when torchrun started several, and how many there are."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def current(cls) -> _Processes:
        if not torch.distributed.is_initialized():
            return cls()
        return cls(torch.distributed.get_rank(), torch.distributed.get_world_size())

    @property
    def is_main(self) -> bool:
        return self.rank == 0  # the one process that prints and saves


def _start_distributed(device: torch.device) -> tuple[torch.device, bool]:
    """Join the process group if torchrun started several processes; pick this process's GPU.

    Returns the device and whether we created the process group (and so must destroy it).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return device, False
    started_here = not torch.distributed.is_initialized()
    if started_here:
        # NCCL moves gradients from GPU to GPU; gloo works between CPU processes (the tests use it).
        torch.distributed.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    return device, started_here


def _mean_over_processes(value: torch.Tensor, procs: _Processes) -> float:
    """The average of a scalar over all processes (just the value itself in a single process)."""
    if procs.world_size > 1:
        value = value.clone()
        torch.distributed.all_reduce(value)  # a sum: gloo cannot average
        value /= procs.world_size
    return value.item()


def _draw_batches(
    data: torch.Tensor,
    micro_batches: int,
    batch_size: int,
    block_size: int,
    generator: torch.Generator,
    procs: _Processes,
) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's share of one step's batch: x and y, each (micro_batches, B, T).

    Every process draws the same global batch from an identically seeded generator and keeps its
    own slice. So the processes see different sequences, together exactly the ones one process
    would see with a batch world_size times larger, and the generator state saved in a checkpoint
    is right for all of them.
    """
    shape = (micro_batches, procs.world_size, batch_size, block_size)
    x, y = get_batch(data, micro_batches * procs.world_size * batch_size, block_size, generator)  # (M * W * B, T)
    return x.reshape(shape)[:, procs.rank], y.reshape(shape)[:, procs.rank]  # (M, B, T)


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
def train(
    model: nn.Module, train_data: torch.Tensor, val_data: torch.Tensor, cfg: TrainConfig, resume: bool = False
) -> History:
    """Train model in place on 1-D tensors of token ids and return the History of the run.

    With resume=True it continues from the latest checkpoint in cfg.checkpoint_dir (starting
    afresh if there is none yet, so the same notebook cell works before and after a disconnect).
    train() seeds every random number generator with cfg.seed, so a run on the CPU is
    reproducible to the last digit. Under torchrun, each step's global batch of
    batch_size * grad_accum_steps * world_size sequences is shared out among the processes.
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
    for step in bar:
        t0 = time.perf_counter()
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

        loss = _mean_over_processes(loss, procs)  # the loss of the global batch
        state.step = step + 1
        state.history.log_step(step, loss, lr, tokens_per_step / (time.perf_counter() - t0))
        bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", refresh=False)  # shown at the bar's own pace
        if state.step % cfg.eval_interval == 0 or state.step == cfg.max_steps:
            losses = estimate_loss(eval_model, splits, cfg)
            state.history.log_eval(state.step, losses)
            if show:
                bar.write(f"step {state.step}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        if cfg.checkpoint_dir is not None and procs.is_main:
            if state.step % cfg.checkpoint_interval == 0 or state.step == cfg.max_steps:
                save_checkpoint(state, cfg, cfg.checkpoint_dir)
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


def _restore_or_start(state: TrainState, cfg: TrainConfig, resume: bool) -> None:
    """Load the latest checkpoint if resuming; refuse to silently overwrite one when not."""
    if cfg.checkpoint_dir is None:
        if resume:
            raise ValueError("resume=True needs TrainConfig.checkpoint_dir: the folder to resume from")
        return
    latest = latest_checkpoint(cfg.checkpoint_dir)
    if latest is None:
        return
    if not resume:
        raise ValueError(
            f"{cfg.checkpoint_dir} already holds a checkpoint ({latest.name}); pass resume=True to continue "
            "that run, or choose another checkpoint_dir to start a new one"
        )
    load_checkpoint(state, latest)


# ------------------------------------------------------------------------------- checkpoints
def _checkpoints(checkpoint_dir: str | Path) -> list[Path]:
    """The step-NNNNNN folders in checkpoint_dir (hidden temporary folders are not among them)."""
    return [p for p in Path(checkpoint_dir).glob("step-*") if p.is_dir() and p.name[5:].isdigit()]


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The checkpoint folder with the highest step in checkpoint_dir, or None if there is none."""
    return max(_checkpoints(checkpoint_dir), key=lambda p: int(p.name[5:]), default=None)


def save_checkpoint(state: TrainState, cfg: TrainConfig, checkpoint_dir: str | Path) -> Path:
    """Write state to checkpoint_dir/step-NNNNNN/, then delete the older checkpoints there.

    The files are written into a hidden temporary folder that is renamed into place only when
    all of them are complete. A rename is atomic, so a crash mid-write leaves the previous
    checkpoint as it was. Old checkpoints are renamed to hidden folders before they are deleted,
    so every step-* folder is always complete; hidden leftovers of a crash go at the next save.
    """
    root = Path(checkpoint_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{state.step:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        save_model(state.model, tmp / MODEL_FILE)  # stores the tied embedding / output matrix once
        tensors = {"rng.batches": state.generator.get_state(), "rng.torch": torch.get_rng_state()}
        device = next(state.model.parameters()).device
        if device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
        for index, moments in state.optimizer.state_dict()["state"].items():  # index: the parameter's position
            for name, value in moments.items():  # Adam's "step", "exp_avg" and "exp_avg_sq"
                tensors[f"optimizer.{index}.{name}"] = value
        save_file(tensors, tmp / STATE_TENSORS_FILE)
        scalars = {
            "step": state.step,
            "scaler": state.scaler.state_dict(),
            "history": dataclasses.asdict(state.history),
            "model_config": dataclasses.asdict(state.model.config),
            "train_config": dataclasses.asdict(cfg),  # for the record: resuming uses the current one
        }
        (tmp / STATE_JSON_FILE).write_text(json.dumps(scalars, indent=1, default=str))
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # only still there if something above failed
    for old in _checkpoints(root):
        if old != final:
            # Out of sight first: a crash half-way through deleting leaves a hidden folder, never a step-* one
            # with files missing.
            doomed = root / f".deleting-{old.name}"
            shutil.rmtree(doomed, ignore_errors=True)  # a leftover of an earlier crash, if any
            os.replace(old, doomed)
            shutil.rmtree(doomed)
    # Hidden leftovers of saves or deletions that a crash interrupted (only one process saves to a folder).
    for leftover in [*root.glob(".tmp-*"), *root.glob(".deleting-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    return final


@contextlib.contextmanager
def _damaged_file_is_a_value_error(file: Path):
    try:
        yield
    except SafetensorError as exc:
        raise ValueError(f"{file} is damaged ({exc}); resume from another checkpoint") from exc


def load_checkpoint(state: TrainState, path: str | Path) -> None:
    """Restore state (model, optimizer, scaler, RNGs, history, step) from a checkpoint folder.

    The optimizer keeps its hyper-parameters (they come from the current TrainConfig) and takes
    its moment estimates from the checkpoint.
    """
    path = Path(path)
    missing = [name for name in (MODEL_FILE, STATE_TENSORS_FILE, STATE_JSON_FILE) if not (path / name).exists()]
    if missing:
        raise FileNotFoundError(f"{path} is not a complete checkpoint: {', '.join(missing)} missing")
    try:
        scalars = json.loads((path / STATE_JSON_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path / STATE_JSON_FILE} is damaged (not valid JSON: {exc}); resume from another one") from exc
    current = dataclasses.asdict(state.model.config)
    if scalars["model_config"] != current:
        diff = {k: (v, current.get(k)) for k, v in scalars["model_config"].items() if current.get(k) != v}
        raise ValueError(
            f"{path} was saved from a different model; (checkpoint, this model) differ in {diff}. "
            "Build the model with the checkpoint's GPTConfig to resume."
        )
    device = next(state.model.parameters()).device
    with _damaged_file_is_a_value_error(path / MODEL_FILE):
        load_model(state.model, path / MODEL_FILE, device=str(device))
    with _damaged_file_is_a_value_error(path / STATE_TENSORS_FILE):
        tensors = load_file(path / STATE_TENSORS_FILE)
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            index, name = key.removeprefix("optimizer.").split(".", 1)
            moments.setdefault(int(index), {})[name] = value
    groups = state.optimizer.state_dict()["param_groups"]
    state.optimizer.load_state_dict({"state": moments, "param_groups": groups})
    state.scaler.load_state_dict(scalars["scaler"])
    state.generator.set_state(tensors["rng.batches"])
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    state.history = History(**scalars["history"])
    state.step = scalars["step"]
