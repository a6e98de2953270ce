"""Model configuration: the handful of numbers that define a GPT, and the published presets."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .validate import boolean, choice, in_range, integer, number

ATTENTION_IMPLS = ("sdpa", "explicit")
_SIZES = ("vocab_size", "block_size", "n_layer", "n_head", "n_embd")  # the positive integer fields


@dataclass(frozen=True)
class GPTConfig:
    """Hyper-parameters of a GPT: frozen, so a preset cannot be changed by accident and no field can skip the
    validation below; make a changed copy with ``config.replace(n_layer=6)``.

    The defaults are GPT-2 small (124M). ``pre_ln`` and ``causal`` are the two switches that
    turn the same code into GPT-1 (post-LN) or a BERT-style encoder (bidirectional attention).
    """

    vocab_size: int = 50257  # 50,000 merges + 256 byte tokens + <|endoftext|>
    block_size: int = 1024  # the context length: the most tokens the model sees at once
    n_layer: int = 12  # number of transformer blocks
    n_head: int = 12  # attention heads per block
    n_embd: int = 768  # width of the residual stream, C
    # Dropout rate on the embeddings, the attention weights and the two residual writes of each block. Off by
    # default: model.eval() turns dropout off anyway, and a rate is for training runs that can overfit, such as
    # fine-tuning on a small data set. GPT-1 used 0.1 (Radford et al., 2018); the GPT-2 paper gives no rate and
    # OpenAI's released GPT-2 code (src/model.py) has no dropout; Hugging Face's GPT2Config defaults to 0.1.
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm layers, as in GPT-2
    layer_norm_eps: float = 1e-5
    pre_ln: bool = True  # GPT-2: LayerNorm before each sub-layer; GPT-1: after the residual add
    causal: bool = True  # False gives bidirectional (BERT-style) attention
    attn_impl: str = "sdpa"  # "sdpa" (fused, fast) or "explicit" (the textbook version)

    def __post_init__(self) -> None:
        # Every field's type first (TypeError), then the values (ValueError). Each is stored as the plain Python value,
        # so that np.int64(12) is accepted and the config still hashes, prints and goes to JSON as 12.
        plain: dict[str, Any] = {name: integer(f"GPTConfig.{name}", getattr(self, name)) for name in _SIZES}
        plain.update((name, number(f"GPTConfig.{name}", getattr(self, name))) for name in ("dropout", "layer_norm_eps"))
        # a string such as "False" would silently count as True
        plain.update((name, boolean(f"GPTConfig.{name}", getattr(self, name))) for name in ("bias", "pre_ln", "causal"))
        for name in _SIZES:
            in_range(f"GPTConfig.{name}", plain[name], plain[name] >= 1, "a positive integer")
        n_embd, n_head, dropout, eps = plain["n_embd"], plain["n_head"], plain["dropout"], plain["layer_norm_eps"]
        if n_embd % n_head != 0:
            raise ValueError(
                f"n_embd ({n_embd}) must be divisible by n_head ({n_head}): each head gets "
                f"n_embd // n_head channels. Try n_head={_divisor_near(n_embd, n_head)}."
            )
        in_range("dropout", dropout, 0.0 <= dropout < 1.0, "in [0, 1)")
        in_range("layer_norm_eps", eps, 0 < eps < math.inf, "positive and finite")
        plain["attn_impl"] = choice("attn_impl", self.attn_impl, ATTENTION_IMPLS)
        for name, value in plain.items():
            object.__setattr__(self, name, value)  # frozen: __setattr__ itself refuses

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @classmethod
    def from_name(cls, name: str, **overrides) -> "GPTConfig":
        """A published configuration by name ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt1").

        Keyword overrides replace single fields, e.g. ``GPTConfig.from_name("gpt2", dropout=0.1)``.
        """
        if not isinstance(name, str):
            raise TypeError(f"a preset name is a string such as 'gpt2', got {type(name).__name__}")
        key = name.removeprefix("openai-community/")
        if key not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return dataclasses.replace(PRESETS[key], **overrides)

    def replace(self, **changes) -> "GPTConfig":
        """A copy with some fields changed (validated like a new config)."""
        return dataclasses.replace(self, **changes)


def _divisor_near(n: int, target: int) -> int:
    """The divisor of n closest to target (used only to make an error message helpful)."""
    return min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: (abs(d - target), d))


PRESETS: dict[str, GPTConfig] = {
    # GPT-2 (Radford et al., 2019): 1024-token context, byte-level BPE with 50,257 tokens.
    "gpt2": GPTConfig(n_layer=12, n_head=12, n_embd=768),
    "gpt2-medium": GPTConfig(n_layer=24, n_head=16, n_embd=1024),
    "gpt2-large": GPTConfig(n_layer=36, n_head=20, n_embd=1280),
    "gpt2-xl": GPTConfig(n_layer=48, n_head=25, n_embd=1600),
    # GPT-1 (Radford et al., 2018): post-LN blocks, 512-token context, 40,478-token BPE vocabulary.
    "gpt1": GPTConfig(vocab_size=40478, block_size=512, n_layer=12, n_head=12, n_embd=768, pre_ln=False),
}
