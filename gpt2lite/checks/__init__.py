"""Answer checks for the book's exercises: `check_<what>(your_function)` tests your code against the reference.

Each check calls your function on several inputs, edge cases included, and compares with gpt2lite's own code or a
direct computation. On success it prints one line starting with "✓"; otherwise it raises `CheckFailed` (an
AssertionError) saying which input failed, what was expected, what came back and, for the common mistakes, what
the mistake probably is. An answer that calls the thing it is asked to write, ready-made (gpt2lite's own function,
torch's built-in such as F.layer_norm, or the check's reference), fails too, with a message naming that call.
Checks run offline, in well under a second on a CPU.

    from gpt2lite.checks import check_causal_attention
    check_causal_attention(causal_attention)

The checks live in one module per chapter and are imported on first use, so importing this package is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._core import CheckFailed

# check name -> the module (one per chapter) that defines it
_WHERE = {
    # chapter 1: language models
    "check_pair_probability": "language_models",
    "check_uniform_nll": "language_models",
    "check_bigram_temperature": "language_models",
    "check_trigram": "language_models",
    # chapter 2: tokenization
    "check_sizes": "tokenization",
    "check_to_bytes": "tokenization",
    "check_first_merge": "tokenization",
    "check_stream_decode": "tokenization",
    "check_recover_merges": "tokenization",
    # chapter 3: embeddings
    "check_embed_onehot": "embeddings",
    "check_embedding_params": "embeddings",
    "check_nearest": "embeddings",
    "check_shift_matrix": "embeddings",
    # chapter 4: self-attention
    "check_causal_mask": "attention",
    "check_masked_softmax": "attention",
    "check_split_merge_heads": "attention",
    "check_causal_attention": "attention",
    # chapter 5: the decoder block
    "check_layernorm": "block",
    "check_gelu_tanh": "block",
    "check_block_params": "block",
    "check_pre_ln_block": "block",
    # chapter 6: the full GPT-2
    "check_weight_bytes": "model",
    "check_uniform_loss": "model",
    "check_lm_loss": "model",
    "check_count_parameters": "model",
    # chapter 7: training
    "check_lr_schedule": "training",
    "check_get_batch": "training",
    "check_decay_split": "training",
    "check_estimate_loss": "training",
    # chapter 8: sampling
    "check_apply_temperature": "sampling",
    "check_top_k_filter": "sampling",
    "check_top_p_filter": "sampling",
    "check_greedy_decode": "sampling",
    "check_kv_generate": "sampling",
    # chapter 9: pretrained weights
    "check_keys_to_transpose": "pretrained",
    "check_convert_entry": "pretrained",
    "check_checkpoint_parameters": "pretrained",
    "check_compare_logits": "pretrained",
    # chapter 10: GPT vs GPT-2 vs BERT
    "check_attention_mask": "gpt_bert",
    "check_bert_mask": "gpt_bert",
    "check_masked_lm_loss": "gpt_bert",
    "check_gpt_num_parameters": "gpt_bert",
}

__all__ = ["CheckFailed", *_WHERE]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'gpt2lite.checks' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
