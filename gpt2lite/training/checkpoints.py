"""Checkpoints: save the whole training state atomically, find the latest, load it back for an exact resume.

A checkpoint is a folder ``step-000500/`` holding ``model.safetensors`` (the weights alone), ``train_state.safetensors``
(optimizer moments, random number generator states) and ``train_state.json`` (step, loss history, configs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model

from .config import History, TrainConfig

if TYPE_CHECKING:  # only for the annotations: loop.py imports this module
    from .loop import TrainState

MODEL_FILE = "model.safetensors"
STATE_TENSORS_FILE = "train_state.safetensors"
STATE_JSON_FILE = "train_state.json"


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
        raise ValueError(
            f"{path / STATE_JSON_FILE} is damaged (not valid JSON: {exc}); resume from another one"
        ) from exc
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
