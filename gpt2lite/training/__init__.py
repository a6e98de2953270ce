"""Training: the loop that turns a randomly initialised GPT into a language model.

One optimizer step does four things:

1. set the learning rate for this step (linear warmup, then cosine decay; ``lr_at``),
2. draw a batch and run forward and backward on it in ``grad_accum_steps`` micro-batches,
   letting the gradients add up,
3. clip the gradient norm and take an AdamW step,
4. now and then, estimate the train and validation loss and save a checkpoint.

The step's loss stays on the device: every ``log_interval`` steps (and before an estimate, a checkpoint and the
end) the losses of the steps since the last time are read back to Python in one transfer, because each read makes
the CPU wait for the GPU. The History still holds one loss per step.

Started by ``torchrun --nproc_per_node=N script.py``, ``train`` runs N processes, each with a copy
of the model and its own share of every batch, and DDP averages their gradients. The global batch of
one step is therefore ``batch_size * grad_accum_steps * world_size`` sequences of ``block_size`` tokens.

A checkpoint is a folder ``step-000500/`` holding ``model.safetensors`` (the weights alone: load them
for generation with ``safetensors.torch.load_model(model, path)``) and the rest of the training
state: optimizer moments and random number generator states in ``train_state.safetensors``, the
step, loss history and configs in ``train_state.json``. ``train(..., resume=True)`` continues from
it and follows the same loss curve as a run that was never interrupted.

The modules, each with one job:

- ``config``: TrainConfig (checked when built) and History,
- ``loop``: ``train`` and the pieces of a step (``lr_at``, ``configure_optimizer``, ``next_token_loss``,
  ``estimate_loss``),
- ``checkpoints``: atomic ``save_checkpoint``, ``load_checkpoint``, ``latest_checkpoint``, exact resume,
- ``distributed``: the processes torchrun starts and how they share each batch.
"""

from .checkpoints import (
    MODEL_FILE,
    STATE_JSON_FILE,
    STATE_TENSORS_FILE,
    _restore_or_start,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from .config import History, TrainConfig
from .distributed import _draw_batches, _mean_over_processes, _Processes, _start_distributed
from .loop import (
    TrainState,
    _accumulate_gradients,
    _check_inputs,
    configure_optimizer,
    estimate_loss,
    lr_at,
    next_token_loss,
    train,
)

__all__ = [
    "MODEL_FILE",
    "STATE_JSON_FILE",
    "STATE_TENSORS_FILE",
    "History",
    "TrainConfig",
    "TrainState",
    "configure_optimizer",
    "estimate_loss",
    "latest_checkpoint",
    "load_checkpoint",
    "lr_at",
    "next_token_loss",
    "save_checkpoint",
    "train",
]
