"""The chapter 3 drawings: wte and wpe lookups, one-hot times a table, the broadcast sum, weight tying."""

import re

import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpt2lite import GPT, BPETokenizer, GPTConfig, draw

GPT2 = GPTConfig.from_name("gpt2")
SENTENCE = "The cat sat on the mat because the mat was warm."
SMALL = GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=16)


@pytest.fixture(scope="module")
def tok():
    pytest.importorskip("tiktoken")
    return BPETokenizer.from_tiktoken("gpt2")


def rendered(d):
    svg = d.svg()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert d.problems() == []
    assert d.alt and d.alt.endswith(".")
    return d


# -- embedding_lookup ---------------------------------------------------------------------------------------------
def test_the_books_lookup_draws_every_token_its_row_and_its_position(tok):
    d = rendered(draw.embedding_lookup(GPT2, tokenizer=tok, text=SENTENCE))
    ids = tok.encode(SENTENCE)
    labels = d.labels()
    for i in ids:  # every id is written beside its token, and as the number of a wte row
        assert labels.count(str(i)) >= 2
    for piece in ["The", "\u2423cat", "\u2423because", "."]:
        assert piece in labels
    assert "50,257 × 768" in labels and "1,024 × 768" in labels  # the two tables' real shapes
    assert "50256" in labels and "1023" in labels  # their last rows
    assert f"wpe[0:{len(ids)}]" in labels
    assert f"(B, T, C) = (1, {len(ids)}, 768)" in labels
    assert "464, 3797" in d.alt and "(1, 12, 768)" in d.alt
    assert d.svg() == draw.embedding_lookup(GPT2, tokenizer=tok, text=SENTENCE).svg()  # the same bytes


def test_a_repeated_token_picks_one_row():
    d = rendered(draw.embedding_lookup(SMALL, [7, 3, 7, 7]))
    labels = d.labels()
    assert labels.count("7") == 3 + 1  # three ids point at one wte row
    assert labels.count("3") == 1 + 1 + 2  # one id, its wte row, position 3 and its wpe row
    assert "4" not in labels and "5" not in labels  # no position 4, and only picked rows (and 0, 64) are named


def test_a_batch_gives_its_shape_and_a_long_text_is_capped(tok):
    ids = torch.tensor([tok.encode("one two three"), tok.encode("four five six")])
    d = rendered(draw.embedding_lookup(GPT2, ids))
    assert "(B, T, C) = (2, 3, 768)" in d.labels()
    long = " ".join(["word"] * 30)
    d = rendered(draw.embedding_lookup(GPT2, tokenizer=tok, text=long, max_tokens=8))
    assert "… 22 more" in d.labels() and "wpe[0:30]" in d.labels()


def test_odd_pieces_still_draw_cleanly(tok):
    for text in ["Hello 😀 world\n\tend", "supercalifragilisticexpialidocious!", "a", "123456789 0.5 $$$"]:
        rendered(draw.embedding_lookup(GPT2, tokenizer=tok, text=text))


def test_a_model_or_its_config_draw_the_same():
    torch.manual_seed(0)
    model = GPT(SMALL)
    assert draw.embedding_lookup(model, [1, 2, 3]).svg() == draw.embedding_lookup(SMALL, [1, 2, 3]).svg()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    vocab=st.sampled_from([2, 65, 1000, 50257, 100_000]),
    block=st.sampled_from([16, 1024, 8192]),
    data=st.data(),
)
def test_any_ids_of_any_table_lay_out_cleanly(vocab, block, data):
    ids = data.draw(st.lists(st.integers(0, vocab - 1), min_size=1, max_size=16))
    config = GPTConfig(vocab_size=vocab, block_size=block, n_layer=1, n_head=1, n_embd=8)
    rendered(draw.embedding_lookup(config, ids))


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((GPT2,), {}, "pass the token ids, or a tokenizer and a text"),
        ((GPT2, []), {}, "ids is empty"),
        ((GPT2, [50257]), {}, "token id 50257 is outside the table.*0 to 50256"),
        ((GPT2, [-1]), {}, "outside the table"),
        ((GPT2, torch.zeros(1, 2, 3, dtype=torch.long)), {}, r"1-D \(T,\) or 2-D \(B, T\)"),
        ((SMALL, list(range(17))), {}, "17 tokens do not fit the context.*block_size=16"),
        ((GPT2, [1]), {"max_tokens": 0}, "max_tokens must be an integer from 1 to 16"),
        ((GPT2, [1]), {"text": "hi"}, "not both"),
    ],
)
def test_bad_lookup_input_says_what_to_pass(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw.embedding_lookup(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((GPT2, [0.5]), {}, "integer token ids"),
        ((GPT2, torch.zeros(3)), {}, "integer token ids.*float"),
        ((GPT2, "hi"), {}, "list or tensor of token ids"),
        (("gpt2", [1]), {}, "expected a GPT model or a GPTConfig"),
        ((GPT2, [1]), {"max_tokens": 2.0}, "max_tokens must be an integer, got float"),
        ((GPT2, [1]), {"max_tokens": True}, "max_tokens must be an integer, got bool"),
    ],
)
def test_lookup_input_of_the_wrong_type_is_a_type_error(args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        draw.embedding_lookup(*args, **kwargs)


def test_an_empty_text_is_refused(tok):
    with pytest.raises(ValueError, match="non-empty string"):
        draw.embedding_lookup(GPT2, tokenizer=tok, text="")


# -- weight_tying -------------------------------------------------------------------------------------------------
def test_weight_tying_counts_what_sharing_saves():
    d = rendered(draw.weight_tying(GPT2))
    labels = d.labels()
    assert "12 decoder blocks" in labels and "ln_f" in labels
    assert "sharing saves 50,257 × 768 = 38,597,376 parameters" in labels
    assert "124,439,808 instead of 163,037,184: 24% fewer" in labels
    assert "GPT ties them: lm_head.weight = wte.weight" in labels  # from a config: by construction
    assert "38,597,376" in d.alt


def test_weight_tying_checks_the_models_tensors():
    torch.manual_seed(0)
    model = GPT(SMALL)
    d = rendered(draw.weight_tying(model))
    saved = SMALL.vocab_size * SMALL.n_embd
    assert "lm_head.weight is wte.weight: one tensor, one data_ptr" in d.labels()
    assert f"sharing saves 65 × 16 = {saved:,} parameters" in d.labels()
    assert f"{model.num_parameters():,} instead of {model.num_parameters() + saved:,}" in " ".join(d.labels())
    model.lm_head.weight = nn.Parameter(model.transformer.wte.weight.detach().clone())  # untie them
    with pytest.raises(ValueError, match="not tied"):
        draw.weight_tying(model)


@pytest.mark.parametrize("config", [
    GPTConfig.from_name("gpt1"), GPTConfig.from_name("gpt2-xl"),
    GPTConfig(vocab_size=2, block_size=4, n_layer=1, n_head=1, n_embd=2),
])
def test_weight_tying_follows_the_config(config):
    d = rendered(draw.weight_tying(config))
    blocks = [s for s in d.labels() if "decoder block" in s]
    assert blocks == [f"{config.n_layer} decoder block{'s' if config.n_layer > 1 else ''}"]
    assert ("ln_f" in d.labels()) == config.pre_ln  # GPT-1 (post-LN) has no final LayerNorm
    with pytest.raises(TypeError, match="GPT model or a GPTConfig"):
        draw.weight_tying(None)


# -- onehot_lookup ------------------------------------------------------------------------------------------------
def test_onehot_lookup_prints_the_real_numbers():
    torch.manual_seed(0)
    emb = nn.Embedding(5, 3).requires_grad_(False)
    ids = torch.tensor([4, 0, 4])
    d = rendered(draw.onehot_lookup(emb.weight, ids))
    labels = d.labels()
    assert labels.count("1") == 3 + 2  # a 1 in each one-hot row, and the column and row number 1
    for row in emb.weight[ids].tolist():  # every number of the product appears, rounded as printed
        for v in row:
            assert f"{v:.2f}" in labels
    assert "(T, V) = (3, 5)" in labels and "(V, C) = (5, 3)" in labels and "(T, C) = (3, 3)" in labels
    assert "ids 4, 0, 4" in d.alt


def test_onehot_lookup_caps_ids_and_columns():
    d = rendered(draw.onehot_lookup(torch.randn(10, 7), list(range(10))))
    assert any(re.fullmatch(r"2 more ids not drawn; \d+ more columns not drawn", s) for s in d.labels())
    rendered(draw.onehot_lookup([[1.0]], [0]))
    rendered(draw.onehot_lookup(torch.randn(6, 2) * 100, [5, 5, 0]))  # wide numbers


@pytest.mark.parametrize(
    ("weight", "ids", "message"),
    [
        (torch.zeros(50, 3), [1], "at most 10 rows"),
        (torch.zeros(5), [1], r"2-D \(V, C\)"),
        (torch.zeros(5, 3), [5], "id 5 has no row.*0 to 4"),
        (torch.zeros(5, 3), [], "ids is empty"),
        (torch.zeros(5, 3), [[1, 2]], r"1-D \(T,\)"),
        (torch.full((2, 2), float("nan")), [1], "finite"),
    ],
)
def test_bad_onehot_input_says_what_to_pass(weight, ids, message):
    with pytest.raises(ValueError, match=message):
        draw.onehot_lookup(weight, ids)


@pytest.mark.parametrize(("weight", "ids"), [("abc", [0]), ([["a", "b"]], [0]), (torch.zeros(5, 3), [1.5])])
def test_onehot_input_of_the_wrong_type_is_a_type_error(weight, ids):
    with pytest.raises(TypeError, match="weight must be|integer token ids"):
        draw.onehot_lookup(weight, ids)


# -- embedding_broadcast ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("B", "T", "C"), [(2, 12, 768), (1, 1, 1), (8, 1024, 1600), (5, 3, 4)])
def test_broadcast_draws_the_real_shapes(B, T, C):
    d = rendered(draw.embedding_broadcast(torch.zeros(B, T, C), torch.zeros(T, C)))
    labels = d.labels()
    assert labels.count(f"(B, T, C) = ({B}, {T}, {C})") == 2 and f"(T, C) = ({T}, {C})" in labels
    assert (f"(5 of the {B} sequences drawn)" in labels) == (B > 5)


def test_bad_broadcast_input_says_what_to_pass():
    with pytest.raises(ValueError, match=r"pos_emb must be \(T, C\)"):
        draw.embedding_broadcast(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"must be \(T, C\) = \(3, 4\)"):
        draw.embedding_broadcast(torch.zeros(2, 3, 4), torch.zeros(4, 4))
    with pytest.raises(TypeError, match="must be a tensor"):
        draw.embedding_broadcast([1, 2], torch.zeros(2, 3))


@pytest.mark.parametrize("name", ["gpt1", "gpt2"])
def test_the_uses_are_labelled_beside_the_shared_matrix_not_on_it(name):
    d = rendered(draw.weight_tying(GPTConfig.from_name(name)))
    boxes = dict(d.text_boxes())
    matrix_left = boxes["wte.weight"][0] - 20  # the matrix box is wider than its label
    for use in ["rows: a vector per token", "W\u1d40: a score per token"]:
        assert boxes[use][2] < matrix_left
