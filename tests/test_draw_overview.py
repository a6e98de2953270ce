"""Chapter 1's drawings (gpt2lite.draw.overview): the book map, the keyboard's suggestions, the bigram lookup.

Each is drawn from real objects, lays out cleanly (no problems()) for the book's inputs and for others, shows the
numbers of its input, and rejects bad input with a message that says what to pass.
"""

from pathlib import Path

import pytest
import torch

from gpt2lite import GPTConfig, draw
from gpt2lite.data import CharTokenizer
from gpt2lite.tokenizer import tiktoken_encoding

ROOT = Path(__file__).resolve().parents[1]
BOOK_MAP = ROOT / "book" / "_static" / "book_map.svg"
BOOK_MAP_TEXT = "The cat sat on the"  # the text of the map in book/intro.md and chapter 1
REGENERATE = (
    "python -c \"from gpt2lite import GPTConfig, draw; from gpt2lite.tokenizer import tiktoken_encoding; "
    f"draw.book_map(GPTConfig(), tiktoken_encoding(), {BOOK_MAP_TEXT!r}).save('book/_static/book_map.svg')\""
)

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\nAll:\nSpeak, speak.\n"
TOK = CharTokenizer(TEXT)
IDS = torch.tensor(TOK.encode(TEXT))
V = TOK.vocab_size
COUNTS = torch.bincount(IDS[:-1] * V + IDS[1:], minlength=V * V).view(V, V)
PROBS = (COUNTS + 1).float() / (COUNTS + 1).float().sum(dim=1, keepdim=True)


def rendered(d: draw.Drawing) -> None:
    svg = d.svg()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert d.problems() == []
    assert len(d.alt.split()) >= 10


# -- the book map ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gpt2_tokenizer():
    return tiktoken_encoding("gpt2")


def test_book_map_of_gpt2_shows_the_real_tokens_and_shapes(gpt2_tokenizer):
    d = draw.book_map(GPTConfig(), gpt2_tokenizer, BOOK_MAP_TEXT)
    rendered(d)
    labels = d.labels()
    ids = gpt2_tokenizer.encode(BOOK_MAP_TEXT)
    assert ids == [464, 3797, 3332, 319, 262]
    for i in ids:
        assert str(i) in labels
    for piece in ["The", "\u2423cat", "\u2423sat", "\u2423on", "\u2423the"]:
        assert piece in labels
    assert "(B, T, C) = (1, 5, 768)" in labels and "(B, T, V) = (1, 5, 50,257)" in labels
    assert "\u00d7 12" in labels and "block 1" in labels and "block 12" in labels and "block 3" not in labels
    assert "\u22ee  9 more blocks, the same  \u22ee" in labels
    for chapter in range(1, 11):  # every chapter is on the map
        assert any(label.startswith(f"{chapter}  ") for label in labels), chapter
    assert "The cat sat on the" in d.alt and "12 decoder blocks" in d.alt


def test_the_intro_shows_the_map_that_book_map_draws_now(gpt2_tokenizer):
    now = draw.book_map(GPTConfig(), gpt2_tokenizer, BOOK_MAP_TEXT).svg()
    assert BOOK_MAP.exists(), f"book/_static/book_map.svg is missing: write it with\n{REGENERATE}"
    assert BOOK_MAP.read_text() == now, f"book/_static/book_map.svg is out of date: regenerate it with\n{REGENERATE}"
    assert "_static/book_map.svg" in (ROOT / "book" / "intro.md").read_text()


@pytest.mark.parametrize("n_layer", [1, 2, 4, 5, 48])
def test_book_map_draws_one_block_per_layer_up_to_four(n_layer):
    d = draw.book_map(GPTConfig(n_layer=n_layer, n_head=2, n_embd=64, vocab_size=65, block_size=32))
    rendered(d)
    blocks = [label for label in d.labels() if label.startswith("block ")]
    if n_layer <= 4:
        assert blocks == [f"block {i}" for i in range(1, n_layer + 1)]
    else:
        assert blocks == ["block 1", "block 2", f"block {n_layer}"]
        assert f"\u22ee  {n_layer - 3} more blocks, the same  \u22ee" in d.labels()
    assert (f"\u00d7 {n_layer}" in d.labels()) == (n_layer > 1)
    assert "(B, T, C), C = 64" in d.labels() and "(B, T, V), V = 65" in d.labels()


@pytest.mark.parametrize("text", [
    "a",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog, again and again and again, until the end of the line.",
    "naïve café: 東京 \U0001f600 and\nnew lines\ttabs",
    "x" * 300,
])
def test_book_map_lays_out_any_text(gpt2_tokenizer, text):
    d = draw.book_map(GPTConfig(), gpt2_tokenizer, text)
    rendered(d)
    ids = gpt2_tokenizer.encode(text)
    shown = [label for label in d.labels() if label.isdigit()]
    more = [label for label in d.labels() if label.startswith("\u2026 ") and label.endswith(" more")]
    assert shown == [str(i) for i in ids[: len(shown)]]  # the first ids, in order
    if len(shown) < len(ids):
        assert more == [f"\u2026 {len(ids) - len(shown)} more"]
    else:
        assert not more
    assert f"(B, T, C) = (1, {len(ids)}, 768)" in d.labels()


def test_book_map_with_the_chapters_char_tokenizer():
    config = GPTConfig(vocab_size=V, block_size=64, n_layer=4, n_head=4, n_embd=128)
    d = draw.book_map(config, TOK, "Speak, speak.")
    rendered(d)
    assert [label for label in d.labels() if label.isdigit()] == [str(i) for i in TOK.encode("Speak, speak.")]


@pytest.mark.parametrize("args, kwargs, message", [
    ((GPTConfig(),), {"text": "hi"}, "pass both a tokenizer and a text"),
    ((GPTConfig(), TOK), {}, "pass both a tokenizer and a text"),
    ((GPTConfig(), TOK, "   "), {}, "non-empty string"),
    ((GPTConfig(block_size=4), TOK, "Speak, speak."), {}, "more than the model's context of 4"),
    ((GPTConfig(vocab_size=10), TOK, "Speak"), {}, "vocab_size covers the tokenizer"),
    ((GPTConfig(),), {"max_blocks": 2}, "max_blocks"),
])
def test_book_map_rejects_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw.book_map(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, message", [
    (("not a config",), {}, "needs a GPTConfig"),
    ((GPTConfig(), object(), "hi"), {}, "a tokenizer with encode and decode"),
    ((GPTConfig(), TOK, 5), {}, "text must be a non-empty string"),
    ((GPTConfig(),), {"max_blocks": 4.0}, "max_blocks must be an integer, got float"),
])
def test_book_map_refuses_wrong_types_with_a_type_error(args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        draw.book_map(*args, **kwargs)


# -- the keyboard ------------------------------------------------------------------------------------------------
def test_keyboard_offers_the_models_top_suggestions_with_their_probabilities():
    typed = "we proceed any furt"
    p = PROBS[TOK.stoi["t"]]
    d = draw.next_word_keyboard(p, TOK, typed, model="the bigram model", seen=1)
    rendered(d)
    top = p.topk(3)
    labels = d.labels()
    for v, i in zip(top.values.tolist(), top.indices.tolist()):
        piece = draw.piece_label(TOK.decode([i]))
        assert piece in labels and f"{v:.2f}" in labels
    order = [labels.index(draw.piece_label(TOK.decode([i]))) for i in top.indices.tolist()]
    assert order == sorted(order)  # left to right, the likeliest first
    assert "the bigram model reads only 't'" in labels and "t" in labels
    for key in "qwertyuiopasdfghjklzxcvbnm":
        assert key in labels
    assert "the bigram model suggests" in d.alt and f"({top.values[0].item():.2f})" in d.alt


@pytest.mark.parametrize("seed", range(6))
def test_keyboard_lays_out_any_distribution_and_text(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(V, generator=g) * (1 + seed % 4)
    p = torch.softmax(logits, dim=0)
    n = int(torch.randint(1, 80, (1,), generator=g))
    typed = TOK.decode(torch.randint(0, V, (n,), generator=g))
    k = 1 + seed % 5
    d = draw.next_word_keyboard(p, TOK, typed, k=k, seen=1 + seed % min(3, n) if seed % 2 else None)
    rendered(d)
    for v in p.topk(k).values.tolist():
        assert f"{v:.2f}" in d.labels()


@pytest.mark.parametrize("args, kwargs, message", [
    ((torch.ones(V, V) / V, TOK, "ab"), {}, "shape"),
    ((COUNTS[0], TOK, "ab"), {}, "probability distribution"),
    ((PROBS[0], TOK, ""), {}, "non-empty text"),
    ((PROBS[0], TOK, "ab"), {"k": 9}, "k \\(how many suggestions\\)"),
    ((PROBS[0], TOK, "ab"), {"seen": 3}, "seen must be"),
    ((torch.tensor([float("nan"), 1.0]), TOK, "ab"), {}, "NaN"),
])
def test_keyboard_rejects_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw.next_word_keyboard(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, message", [
    ((PROBS[0], "tokenizer", "ab"), {}, "encode and decode"),
    (("probs", TOK, "ab"), {}, "probs must be a tensor of numbers"),
    ((PROBS[0], TOK, 3), {}, "typed must be"),
    ((PROBS[0], TOK, "ab"), {"k": True}, "k \\(how many suggestions\\) must be an integer, got bool"),
    ((PROBS[0], TOK, "ab"), {"k": 2.0}, "must be an integer, got float"),
    ((PROBS[0], TOK, "ab"), {"seen": "1"}, "seen must be an integer, got str"),
    ((PROBS[0], TOK, "ab"), {"model": None}, "model must name the model"),
])
def test_keyboard_refuses_wrong_types_with_a_type_error(args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        draw.next_word_keyboard(*args, **kwargs)


def test_keyboard_and_bigram_lookup_take_numpy_numbers():
    import numpy as np

    d = draw.next_word_keyboard(PROBS[0], TOK, "ab", k=np.int64(3), seen=np.int64(1))
    assert d.labels() == draw.next_word_keyboard(PROBS[0], TOK, "ab", k=3, seen=1).labels()
    d = draw.bigram_lookup(COUNTS, TOK, "e", k=np.int64(4), smoothing=np.float64(1.0))
    assert d.labels() == draw.bigram_lookup(COUNTS, TOK, "e", k=4, smoothing=1).labels()


# -- the bigram lookup -------------------------------------------------------------------------------------------
def test_bigram_lookup_shows_the_real_row_and_its_probabilities():
    a = TOK.stoi["e"]
    d = draw.bigram_lookup(COUNTS, TOK, "e", k=4)
    rendered(d)
    labels = d.labels()
    row = COUNTS[a]
    top = torch.argsort(row, descending=True, stable=True)[:4].tolist()
    shown = [f"{int(row[j]):,}" for j in top]
    at = [labels.index(s) for s in shown]  # the counts, largest first
    assert at == sorted(at)
    total = int(row.sum()) + V
    assert f"+1 each, \u00f7 {total:,}" in labels and f"{int(row.sum()):,} pairs" in labels
    for j in top:
        assert f"{(row[j].item() + 1) / total:.2f}" in labels
    assert f"next: {draw.piece_label(TOK.decode([top[0]]))}" in labels and "the likeliest" in labels
    assert f"{V - 4} others" in labels
    assert f"dividing by {total:,}" in d.alt


def test_bigram_lookup_samples_as_torch_multinomial_does():
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        d = draw.bigram_lookup(COUNTS, TOK, " ", generator=g)
        if seed < 2:
            rendered(d)
        p = (COUNTS[TOK.stoi[" "]] + 1).float() / (COUNTS[TOK.stoi[" "]] + 1).sum()
        want = torch.multinomial(p, 1, generator=torch.Generator().manual_seed(seed)).item()
        assert f"next: {draw.piece_label(TOK.decode([want]))}" in d.labels()
        assert "drawn with torch.multinomial" in d.labels()


@pytest.mark.parametrize("ch", ["\n", " ", ":", "A", "k", "u", "z"])  # the first row, the last, others
def test_bigram_lookup_lays_out_any_row(ch):
    rendered(draw.bigram_lookup(COUNTS, TOK, ch, k=1 + TOK.stoi[ch] % 7, smoothing=TOK.stoi[ch] % 2))


@pytest.mark.parametrize("args, kwargs, message", [
    ((PROBS, TOK, "e"), {}, "whole, non-negative counts"),
    ((COUNTS[:3], TOK, "e"), {}, "square"),
    ((COUNTS[0], TOK, "e"), {}, "shape"),
    ((COUNTS, TOK, "ee"), {}, "single character"),
    ((COUNTS, TOK, "Z"), {}, "not in the tokenizer's vocabulary"),
    ((COUNTS, TOK, "e"), {"k": 0}, "k \\(how many counts"),
    ((COUNTS, TOK, "e"), {"smoothing": -1}, "smoothing must be"),
    ((COUNTS, TOK, "e"), {"smoothing": float("inf")}, "smoothing must be"),
    ((COUNTS, TOK, "e"), {"smoothing": float("nan")}, "smoothing must be"),
    ((torch.zeros(V, V, dtype=torch.long), TOK, "e"), {"smoothing": 0}, "all zeros"),
])
def test_bigram_lookup_rejects_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw.bigram_lookup(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, message", [
    ((COUNTS, TOK, "e"), {"generator": 3}, "torch.Generator"),
    ((COUNTS, TOK, 101), {}, "current must be a single character"),
    ((COUNTS, TOK, "e"), {"k": "3"}, "must be an integer, got str"),
    ((COUNTS, TOK, "e"), {"smoothing": "1"}, "smoothing must be a number, got str"),
    ((COUNTS, TOK, "e"), {"smoothing": True}, "smoothing must be a number, got bool"),
])
def test_bigram_lookup_refuses_wrong_types_with_a_type_error(args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        draw.bigram_lookup(*args, **kwargs)
