"""Point every test at the offline data in ../shared (unless the environment already says where it is)."""

import os
from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

_DEFAULTS = {
    "TIKTOKEN_CACHE_DIR": SHARED / "tiktoken_cache",
    "GPT2LITE_DATA_DIR": SHARED / "data",
    "GPT2LITE_GPT2_VOCAB_DIR": SHARED / "gpt2_vocab",
}
for _name, _path in _DEFAULTS.items():
    if _path.exists():
        os.environ.setdefault(_name, str(_path))
# Tests never reach the network: make the Hugging Face libraries fail fast instead of trying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
