"""Write training checkpoints through gpt2lite.training.save_checkpoint until killed.

tests/test_checkpoint_crash.py runs it and kills it with SIGKILL, then checks what is left on disk:

    python tests/checkpoint_writer.py CHECKPOINT_DIR            # loop until killed, at a random moment
    python tests/checkpoint_writer.py CHECKPOINT_DIR --die STAGE  # save once, then SIGKILL itself at STAGE of the next save

It continues from the latest checkpoint's step + 1. Every weight of the checkpoint of step n equals n, so the test
can tell a complete checkpoint from a mix of two.
"""

import argparse
import itertools
import os
import signal
import shutil
from pathlib import Path

import torch

import gpt2lite.training.checkpoints
from gpt2lite import GPT, GPTConfig
from gpt2lite.training import History, TrainConfig, TrainState, latest_checkpoint, save_checkpoint

CONFIG = GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=64)  # ~100k parameters, ~0.4 MB
STAGES = ("writing-weights", "writing-state", "before-rename", "after-rename", "deleting-old")


def new_state() -> TrainState:
    return TrainState.fresh(GPT(CONFIG), TrainConfig(device="cpu", progress=False))


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def half_written(save):
    """save, then cut the file it wrote in half and die: what a kill in the middle of writing leaves."""

    def wrapper(obj, filename, *args, **kwargs):
        save(obj, filename, *args, **kwargs)
        with open(filename, "r+b") as f:
            f.truncate(os.path.getsize(filename) // 2)
        die()

    return wrapper


def install(stage: str) -> None:
    """Make the next save_checkpoint kill this process at the given stage."""
    if stage == "writing-weights":
        gpt2lite.training.checkpoints.save_model = half_written(gpt2lite.training.checkpoints.save_model)
    elif stage == "writing-state":
        gpt2lite.training.checkpoints.save_file = half_written(gpt2lite.training.checkpoints.save_file)
    elif stage in ("before-rename", "after-rename"):
        replace = os.replace

        def replace_then_die(src, dst):
            if Path(src).name.startswith(".tmp-") and stage == "before-rename":
                die()
            replace(src, dst)
            if Path(src).name.startswith(".tmp-"):
                die()

        os.replace = replace_then_die
    elif stage == "deleting-old":
        rmtree = shutil.rmtree

        def rmtree_dies_half_way(path, *args, **kwargs):
            files = sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).exists() else []
            if not files:
                return rmtree(path, *args, **kwargs)
            files[0].unlink()  # one file gone, the others still there
            die()

        shutil.rmtree = rmtree_dies_half_way
    else:
        raise ValueError(f"unknown stage {stage!r}; choose one of {STAGES}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint_dir", type=Path)
    parser.add_argument("--die", choices=STAGES)
    args = parser.parse_args()

    state = new_state()
    latest = latest_checkpoint(args.checkpoint_dir) if args.checkpoint_dir.exists() else None
    step = int(latest.name.removeprefix("step-")) + 1 if latest else 1
    cfg = TrainConfig(device="cpu", progress=False)
    for saves in itertools.count():
        if args.die and saves == 1:  # one complete checkpoint first, then die during the next save
            install(args.die)
        with torch.no_grad():
            for p in state.model.parameters():
                p.fill_(float(step))
        state.step = step
        state.history = History(step=[step], train_loss=[float(step)])  # its train_state.json says so too
        save_checkpoint(state, cfg, args.checkpoint_dir)
        step += 1


if __name__ == "__main__":
    main()
