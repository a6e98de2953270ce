"""What a training run is asked to do (TrainConfig, checked when it is built) and what happened (History)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..device import AMP_CHOICES
from ..validate import boolean, choice, in_range, integer, number


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run. The defaults suit a small model on Tiny Shakespeare.

    Every field is checked when the config is built: a wrong type is a TypeError, a wrong value a ValueError.
    numpy integers and floats are accepted and stored as Python ints and floats.
    """

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
    log_interval: int = 10  # steps between reading the losses back from the device (each read waits for it)

    def __post_init__(self) -> None:
        counts = ("max_steps", "batch_size", "grad_accum_steps", "eval_interval", "eval_iters",
                  "checkpoint_interval", "log_interval")
        for name in counts:
            self._integer(name, minimum=1)
        self._integer("warmup_steps", minimum=0)
        for name in ("block_size", "lr_decay_steps"):  # None means "the default", see above
            if getattr(self, name) is not None:
                self._integer(name, minimum=1)
        self._integer("seed", minimum=0)
        in_range("TrainConfig.seed", self.seed, self.seed < 2**32, "below 2**32 (NumPy's limit)")

        lr = self._number("learning_rate")
        in_range("TrainConfig.learning_rate", lr, 0 < lr < math.inf, "positive and finite, e.g. 1e-3")
        min_lr = self._number("min_lr")
        in_range("TrainConfig.min_lr", min_lr, 0 <= min_lr <= lr, f"between 0 and learning_rate ({lr})")
        decay = self._number("weight_decay")
        in_range("TrainConfig.weight_decay", decay, 0 <= decay < math.inf, "finite and >= 0, e.g. 0.1")
        clip = self._number("grad_clip")
        in_range("TrainConfig.grad_clip", clip, clip >= 0, ">= 0 (0 turns clipping off)")
        self._check_betas()

        self.dtype = choice("TrainConfig.dtype", self.dtype, AMP_CHOICES)
        if self.device is not None and not isinstance(self.device, (str, torch.device)):
            raise TypeError(f"TrainConfig.device must be a string such as 'cpu' or 'cuda', or None, "
                            f"got {self.device!r}")
        if self.checkpoint_dir is not None and not isinstance(self.checkpoint_dir, (str, os.PathLike)):
            raise TypeError(f"TrainConfig.checkpoint_dir must be a folder path (str or Path) or None, "
                            f"got {type(self.checkpoint_dir).__name__} {self.checkpoint_dir!r}")
        self.compile = boolean("TrainConfig.compile", self.compile)
        self.progress = boolean("TrainConfig.progress", self.progress)

    def _integer(self, name: str, minimum: int) -> None:
        setattr(self, name, integer(f"TrainConfig.{name}", getattr(self, name), minimum))

    def _number(self, name: str) -> float:
        setattr(self, name, number(f"TrainConfig.{name}", getattr(self, name)))
        return getattr(self, name)

    def _check_betas(self) -> None:
        """Adam's two decay rates: a pair of numbers in [0, 1), stored as a tuple of floats."""
        expected = "two numbers in [0, 1), e.g. (0.9, 0.95)"
        if not isinstance(self.betas, (tuple, list)):
            raise TypeError(f"TrainConfig.betas must be {expected}, got {type(self.betas).__name__} {self.betas!r}")
        values = tuple(number("TrainConfig.betas", b) for b in self.betas)
        if len(values) != 2 or not all(0 <= b < 1 for b in values):  # nan is not in [0, 1) either
            raise ValueError(f"TrainConfig.betas must be {expected}, got {self.betas!r}")
        self.betas = values


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
    tokens_per_sec: list[float] = field(default_factory=list)  # the mean over each log_interval
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
