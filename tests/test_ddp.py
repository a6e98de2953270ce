"""Distributed data parallel on the CPU: two torchrun processes (gloo) must train like one process."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).with_name("ddp_train.py")
TORCHRUN = Path(sys.executable).with_name("torchrun")

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(out_dir: Path, batch_size: int, max_steps: int, processes: int = 1, resume: bool = False) -> Path:
    """Run tests/ddp_train.py in `processes` processes; returns its output folder."""
    out_dir.mkdir(exist_ok=True)
    command = [str(SCRIPT), str(out_dir), str(batch_size), str(max_steps)] + ["--resume"] * resume
    if processes == 1:
        command = [sys.executable] + command
    else:
        launcher = [str(TORCHRUN), f"--nproc_per_node={processes}", "--master_addr", "127.0.0.1"]
        command = launcher + ["--master_port", str(free_port())] + command
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two processes on two cores: one thread each
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out_dir


def curves(out_dir: Path, rank: int = 0) -> dict:
    """The History a process wrote, without the timings (which never repeat)."""
    history = json.loads((out_dir / f"history-rank{rank}.json").read_text())
    del history["tokens_per_sec"]
    return history


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> Path:
    """6 steps of 2 processes x 2 micro-batches x 4 sequences: a global batch of 16."""
    return run(tmp_path_factory.mktemp("ddp"), batch_size=4, max_steps=6, processes=2)


def test_two_processes_match_one_process_with_the_same_global_batch(two_processes, tmp_path):
    one = run(tmp_path, batch_size=8, max_steps=6)  # 1 process x 2 micro-batches x 8 sequences
    for key in ("train_loss", "val_loss", "eval_train_loss"):
        assert curves(two_processes)[key] == pytest.approx(curves(one)[key], abs=1e-5), key
    assert curves(two_processes)["eval_step"] == [0, 3, 6]
    ddp_weights = load_file(two_processes / "model-rank0.safetensors")
    for name, value in load_file(one / "model-rank0.safetensors").items():
        torch.testing.assert_close(ddp_weights[name], value, rtol=1e-4, atol=1e-5)


def test_the_processes_stay_in_step_and_only_rank_0_saves(two_processes):
    rank0 = load_file(two_processes / "model-rank0.safetensors")
    for name, value in load_file(two_processes / "model-rank1.safetensors").items():
        assert torch.equal(rank0[name], value), name  # DDP averaged the same gradients into both copies
    assert curves(two_processes, rank=1) == curves(two_processes, rank=0)  # losses averaged over both
    assert [p.name for p in (two_processes / "checkpoints").iterdir()] == ["step-000006"]


def test_two_processes_resume_to_the_same_curve(two_processes, tmp_path):
    run(tmp_path, batch_size=4, max_steps=3, processes=2)
    resumed = run(tmp_path, batch_size=4, max_steps=6, processes=2, resume=True)
    assert curves(resumed) == curves(two_processes)  # exact
