"""Answer checks for the book's exercises: `check_<what>(your_function)` tests your code against the reference.

Each check calls your function on several inputs, edge cases included, and compares with gpt2lite's own code or a
direct computation. On success it prints one line starting with "✓"; otherwise it raises `CheckFailed` (an
AssertionError) saying which input failed, what was expected, what came back and, for the common mistakes, what
the mistake probably is. An answer that calls the thing it is asked to write, ready-made (gpt2lite's own function,
torch's built-in such as F.layer_norm, or the check's reference), fails too, with a message naming that call.
Checks run offline, in well under a second on a CPU.

    from gpt2lite.checks import check_grouped_query_attention
    check_grouped_query_attention(grouped_query_attention)

The checks live in one module per chapter and are imported on first use, so importing this package is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._core import CheckFailed

# check name -> the module (one per chapter) that defines it
_WHERE = {
    # chapter 1: language models
    "check_uniform_nll": "language_models",
    "check_fixed_bigram": "language_models",
    "check_smoothing_sweep": "language_models",
    "check_trigram": "language_models",
    # chapter 2: tokenization
    "check_sizes": "tokenization",
    "check_merge_repair": "tokenization",
    "check_stream_decode": "tokenization",
    "check_recover_merges": "tokenization",
    "check_digit_bpe": "tokenization",
    # chapter 3: embeddings
    "check_embed_onehot": "embeddings",
    "check_chunk_embedding": "embeddings",
    "check_nearest": "embeddings",
    "check_shift_matrix": "embeddings",
    # chapter 4: self-attention
    "check_causal_weights": "attention",
    "check_score_scale": "attention",
    "check_softmax_jacobian": "attention",
    "check_grouped_query_attention": "attention",
    # chapter 5: the decoder block
    "check_rms_norm": "block",
    "check_pre_ln_step": "block",
    "check_block_grad_norms": "block",
    # chapter 6: the full GPT-2
    "check_memory_bytes": "model",
    "check_count_parameters": "model",
    "check_tying_ablation": "model",
    # chapter 7: training
    "check_adamw_first_step": "training",
    "check_wsd_schedule": "training",
    "check_accumulate": "training",
    "check_warmup_curves": "training",
    # chapter 8: sampling
    "check_temper_probs": "sampling",
    "check_filter_per_row": "sampling",
    "check_repetition_rates": "sampling",
    "check_cached_greedy": "sampling",
    # chapter 9: pretrained weights
    "check_split_qkv": "pretrained",
    "check_load_into": "pretrained",
    "check_compare_logits": "pretrained",
    # chapter 10: GPT vs GPT-2 vs BERT
    "check_padding_mask": "gpt_bert",
    "check_bert_mask": "gpt_bert",
    "check_masked_lm_loss": "gpt_bert",
    "check_next_token_cheat": "gpt_bert",
}

__all__ = ["CheckFailed", *_WHERE]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'gpt2lite.checks' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
