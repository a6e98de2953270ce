"""The drawings' number and flag arguments, one rule everywhere: a wrong type is a TypeError, a wrong value a
ValueError, and numpy's numbers (np.int64, np.float64, np.bool_) draw exactly as Python's do."""

import numpy as np
import pytest
import torch
from safetensors.torch import save

from gpt2lite import GPTConfig, draw
from gpt2lite.draw import Drawing, colour

TOY = GPTConfig(vocab_size=64, block_size=16, n_layer=3, n_head=2, n_embd=16)
QUERY, KEYS, VALUES = torch.tensor([1.0, 0.0]), torch.eye(2), torch.eye(2)
TOKENS = ["a", "b", "c"]
CAUSAL = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
FILE = save({"a": torch.zeros(2), "b": torch.ones(3), "c": torch.zeros(1)})

# name -> a call taking the argument under test; the value it draws with; a wrong type; a wrong value
CASES = {
    "residual_stream max_blocks": (lambda v: draw.residual_stream(TOY, max_blocks=v), 2, 2.0, 1),
    "model_sizes max_models": (lambda v: draw.model_sizes([TOY, TOY], max_models=v), 1, "1", 0),
    "decoder_block pre_ln": (lambda v: draw.decoder_block(TOY, pre_ln=v), True, 1, None),
    "filing_cabinet most": (lambda v: draw.filing_cabinet(QUERY, KEYS, VALUES, most=v), 1, 1.0, 0),
    "filing_cabinet scale": (lambda v: draw.filing_cabinet(QUERY, KEYS, VALUES, scale=v), True, "yes", None),
    "causal_mask most": (lambda v: draw.causal_mask(TOKENS, most=v), 2, [2], 0),
    "attention_pipeline T": (lambda v: draw.attention_pipeline(TOY, v), 4, 4.0, 17),
    "split_heads B": (lambda v: draw.split_heads(TOY, T=3, B=v), 2, "2", -1),
    "attention_lines min_weight": (lambda v: draw.attention_lines(CAUSAL, TOKENS, min_weight=v), 0.25, "0.25", 1),
    "safetensors_layout max_tensors": (lambda v: draw.safetensors_layout(FILE, max_tensors=v), 2, 2.5, 1),
    "embedding_lookup max_tokens": (lambda v: draw.embedding_lookup(TOY, [1, 2, 3], max_tokens=v), 2, None, 17),
    "architectures max_tokens": (lambda v: draw.architectures("abcd", max_tokens=v), 3, 3.0, 7),
    "objectives max_tokens": (lambda v: draw.objectives("abcd", [1], max_tokens=v), 3, True, 1),
    "book_map max_blocks": (lambda v: draw.book_map(TOY, max_blocks=v), 3, "3", 2),
    "pretokenizer_chunks width": (lambda v: draw.pretokenizer_chunks("Hi there", width=v), 300.0, "300", 100),
    "byte_to_unicode max_bytes": (lambda v: draw.byte_to_unicode("Hi", max_bytes=v), 4, 4.0, 0),
    "sliding_window steps": (lambda v: draw.sliding_window(10, 4, steps=v), 2, 2.0, 0),
    "onehot_lookup ids": (lambda v: draw.onehot_lookup(torch.eye(3), [v]), 1, 1.0, 3),
}
NUMPY = {bool: np.bool_, int: np.int64, float: np.float64}


@pytest.mark.parametrize("case", CASES)
def test_a_wrong_type_is_a_type_error(case):
    call, _, wrong_type, _ = CASES[case]
    with pytest.raises(TypeError, match=case.split()[-1]):  # the message names the argument
        call(wrong_type)


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][3] is not None])
def test_a_wrong_value_is_a_value_error(case):
    call, _, _, wrong_value = CASES[case]
    with pytest.raises(ValueError):
        call(wrong_value)


@pytest.mark.parametrize("case", CASES)
def test_numpy_numbers_draw_as_python_numbers(case):
    call, good, _, _ = CASES[case]
    assert call(NUMPY[type(good)](good)).svg() == call(good).svg()


def test_a_drawing_and_a_colour_check_their_arguments():
    assert Drawing(np.float64(20), np.int64(10)).width == 20.0
    with pytest.raises(TypeError, match="width must be a number"):
        Drawing("20", 10)
    with pytest.raises(ValueError, match="positive size"):
        Drawing(float("nan"), 10)
    with pytest.raises(TypeError, match="concept must be a str"):
        colour(3)


@pytest.mark.parametrize("call, message", [
    (lambda: draw.attention_lines(CAUSAL[None].expand(2, 3, 3), TOKENS, names=[0, 1]), "names must be a list"),
    (lambda: draw.attention_lines(CAUSAL[None].expand(2, 3, 3), TOKENS, names="ab"), "names must be a list"),
    (lambda: draw.top_k_top_p(torch.ones(4) / 4, 2, 0.5, 4), "labels must be a list of strings"),
    (lambda: draw.top_k_top_p(torch.ones(4) / 4, 2, 0.5, "abcd"), "labels must be a list of strings"),
    (lambda: draw.embedding_lookup(TOY, tokenizer=object(), text="hi"), "tokenizer must have an encode"),
])
def test_lists_of_labels_and_tokenizers_of_the_wrong_type_are_type_errors(call, message):
    with pytest.raises(TypeError, match=message):
        call()
