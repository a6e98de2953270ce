"""Shared by tests/ and the nbval run of book/: point both at the offline data in ../shared (unless the
environment already says where it is), and keep them off the network."""

import os
from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parent.parent / "shared"

_DEFAULTS = {
    "TIKTOKEN_CACHE_DIR": SHARED / "tiktoken_cache",
    "GPT2LITE_DATA_DIR": SHARED / "data",
    "GPT2LITE_GPT2_VOCAB_DIR": SHARED / "gpt2_vocab",
}
for _name, _path in _DEFAULTS.items():
    if _path.exists():
        os.environ.setdefault(_name, str(_path))
# One thread everywhere: the stored notebook outputs were computed with OMP_NUM_THREADS=1, and float sums
# come out bit-identical only with the same split of work (nbval's kernels inherit the variable). One
# thread per process also keeps pytest-xdist's two workers from oversubscribing a 2-core machine.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)
# Tests never reach the network: make the Hugging Face libraries fail fast instead of trying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
