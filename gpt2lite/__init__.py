"""gpt2lite: GPT-2 from scratch in readable PyTorch, exact against Hugging Face and tiktoken."""

from .config import GPTConfig
from .generate import SamplingConfig
from .model import GPT
from .tokenizer import BPETokenizer
from .training import TrainConfig, train

__all__ = ["GPTConfig", "GPT", "BPETokenizer", "SamplingConfig", "TrainConfig", "train"]
__version__ = "0.1.0"
