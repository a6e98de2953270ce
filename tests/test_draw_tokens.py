"""The tokenization drawings (gpt2lite.draw.tokens): they render, lay out cleanly, and show the real tokenizer."""

import math

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpt2lite import draw
from gpt2lite.tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer, bytes_to_unicode

BOOK_SENTENCE = "I'm sure they've 3 dogs, 1234 cats and   17.5% of you'll AGREE!! I'M  sure.\n"
OTHER_TEXTS = [
    "Hello world",
    "def f(x):\n    return x ** 2  # square\n\tprint(f(3))\n",
    "Ωμέγα, Москва, 東京, नमस्ते, مرحبا, café naïve 🦙",
    "In 1564, 3.14159 and 1,000,000 and -42e7 and 0x1F.",
    "  two  spaces\n\n\nnew lines\t\ttabs   \n  ",
    "x",
    "The end.<|endoftext|>Once upon",
]


@pytest.fixture(scope="module")
def gpt2():
    return BPETokenizer.from_tiktoken("gpt2")


@pytest.fixture(scope="module")
def small():
    tok = BPETokenizer()
    tok.train("the cat sat on the mat; the hat that the cat had is flat. " * 20, vocab_size=290)
    return tok


def reference_bpe(tok, word):
    """The merges BPE makes on one chunk, written independently: (ranks in order, final ids)."""
    ids = [tok.byte_to_id[b] for b in word.encode("utf-8")]
    ranks = []
    while len(ids) > 1:
        pairs = list(zip(ids, ids[1:]))
        best = min(pairs, key=lambda p: tok.merges.get(p, math.inf))
        if best not in tok.merges:
            break
        rank = tok.merges[best]
        ranks.append(rank)
        out, i = [], 0
        while i < len(ids):
            if tuple(ids[i:i + 2]) == best:
                out.append(rank)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        ids = out
    return ranks, ids


def assert_clean(d):
    svg = d.svg()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert d.problems() == []
    assert d.alt and d.alt.endswith(".")
    assert d.width <= 560


def after(labels, marker):
    return labels[labels.index(marker) + 1:]


# ---- bpe_merges ----------------------------------------------------------------------------------------------


def test_bpe_merges_book_word(gpt2):
    d = draw.bpe_merges(gpt2, "unbelievably")
    assert_clean(d)
    ranks, ids = reference_bpe(gpt2, "unbelievably")
    assert ranks == [306, 397, 403, 417, 494, 1346, 6667, 11203]
    labels = d.labels()
    rows = labels[: labels.index("ids")]
    shown_ranks = [int(s.replace(",", "")) for s in rows if s in {f"{r:,}" for r in ranks}]
    assert shown_ranks == ranks  # every merge's real rank, in the order made
    assert after(labels, "ids")[: len(ids)] == [str(i) for i in ids]
    assert ids == gpt2.encode("unbelievably")  # the final pieces are the tokenizer's
    assert after(labels, "bytes")[:12] == list("unbelievably")  # the first row is the bytes
    assert "u + n" in labels and "ie + v" in labels
    assert "4 tokens: no adjacent pair is a merge" in labels
    assert "11,203" in d.alt and "un, bel, iev, ably" in d.alt


@pytest.mark.parametrize("word", [" unbelievably", " Shakespeare", " naïve", " 🦙", " 東京", "a", "\n\n", " aaaa"])
def test_bpe_merges_other_words(gpt2, word):
    d = draw.bpe_merges(gpt2, word)
    assert_clean(d)
    ranks, ids = reference_bpe(gpt2, word)
    assert ids == gpt2.encode(word)
    assert after(d.labels(), "ids")[: len(ids)] == [str(i) for i in ids]
    assert sum(s.startswith("step ") for s in d.labels()) == len(ranks)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text("abcdefghijklmnopqrstuvwxyzTHE", min_size=1, max_size=12), st.booleans(), st.booleans())
def test_bpe_merges_any_word(gpt2, small, letters, space, use_small):
    tok = small if use_small else gpt2
    word = (" " if space else "") + letters
    d = draw.bpe_merges(tok, word)
    assert d.problems() == []
    ranks, ids = reference_bpe(tok, word)
    assert ranks == sorted(ranks)  # BPE merges in rank order
    assert ids == tok.encode(word)
    assert after(d.labels(), "ids")[: len(ids)] == [str(i) for i in ids]


def test_bpe_merges_bad_input(gpt2):
    with pytest.raises(ValueError, match="splits into 2.*' world'.*pass one of them"):
        draw.bpe_merges(gpt2, "hello world")
    with pytest.raises(ValueError, match="empty"):
        draw.bpe_merges(gpt2, "")
    with pytest.raises(TypeError, match="must be a str"):
        draw.bpe_merges(gpt2, 42)
    with pytest.raises(TypeError, match="BPETokenizer"):
        draw.bpe_merges({"merges": {}}, "hello")
    with pytest.raises(TypeError, match="max_bytes must be an integer, got float"):
        draw.bpe_merges(gpt2, "hello", max_bytes=20.0)
    with pytest.raises(ValueError, match="max_bytes=20.*shorter word"):
        draw.bpe_merges(gpt2, "a" * 30)
    with pytest.raises(ValueError, match="max_bytes"):
        draw.bpe_merges(gpt2, "hello", max_bytes=0)


# ---- pretokenizer_chunks -------------------------------------------------------------------------------------


def test_pretokenizer_chunks_book_sentence():
    d = draw.pretokenizer_chunks(BOOK_SENTENCE)
    assert_clean(d)
    chunks = regex.findall(GPT2_SPLIT_PATTERN, BOOK_SENTENCE)
    labels = d.labels()
    assert labels[: len(chunks)] == [draw.piece_label(c) for c in chunks]  # one box per chunk, in order
    assert "␣sure" in labels and "'ve" in labels and "'ll" in labels  # spaces lead; contractions split
    for callout in ["a space joins the next word", "contraction split off", "digits apart", "punctuation apart",
                    "leftover spaces"]:
        assert callout in labels
    assert f"{len(chunks)} chunks from {len(BOOK_SENTENCE)} characters" in labels[-1]


@pytest.mark.parametrize("text, width", [(t, 400 if k % 2 else 540) for k, t in enumerate(OTHER_TEXTS)])
def test_pretokenizer_chunks_other_texts(text, width):
    d = draw.pretokenizer_chunks(text, width=width)
    assert_clean(d)
    assert d.width == width
    chunks = regex.findall(GPT2_SPLIT_PATTERN, text)
    assert d.labels()[-1].startswith(f"{len(chunks)} chunk")


def test_pretokenizer_chunks_only_marks_what_is_there():
    labels = draw.pretokenizer_chunks("Hello world").labels()
    assert "a space joins the next word" in labels
    assert "contraction split off" not in labels and "digits apart" not in labels


def test_pretokenizer_chunks_caps_long_text():
    text = "the cat sat on the mat, " * 20
    d = draw.pretokenizer_chunks(text, max_chunks=30)
    assert_clean(d)
    n = len(regex.findall(GPT2_SPLIT_PATTERN, text))
    assert any(s.startswith(f"… {n - 30} more chunks") for s in d.labels())


def test_pretokenizer_chunks_bad_input():
    with pytest.raises(ValueError, match="empty"):
        draw.pretokenizer_chunks("")
    with pytest.raises(ValueError, match="not a valid regex"):
        draw.pretokenizer_chunks("hi", pattern="(")
    with pytest.raises(ValueError, match="no chunk"):
        draw.pretokenizer_chunks("hello", pattern=r"\d+")
    with pytest.raises(ValueError, match="width"):
        draw.pretokenizer_chunks("hello", width=900)
    with pytest.raises(ValueError, match="too long"):
        draw.pretokenizer_chunks("a" * 200)
    with pytest.raises(TypeError, match="must be a str"):
        draw.pretokenizer_chunks(b"hello")
    with pytest.raises(TypeError, match="pattern must be a non-empty regex string"):
        draw.pretokenizer_chunks("hello", pattern=None)
    with pytest.raises(TypeError, match="width must be a number, got str"):
        draw.pretokenizer_chunks("hello", width="540")
    with pytest.raises(TypeError, match="max_chunks must be an integer, got bool"):
        draw.pretokenizer_chunks("hello", max_chunks=True)


# ---- byte_to_unicode -----------------------------------------------------------------------------------------


def test_byte_to_unicode_book_text():
    d = draw.byte_to_unicode("Hi, naïve\n")
    assert_clean(d)
    labels = d.labels()
    table = bytes_to_unicode()
    for b in range(256):
        assert table[b] in labels  # the whole table is drawn
    moved = sum(ord(c) != b for b, c in table.items())
    assert moved == 68
    assert f"moved to chr(256 + n) ({moved})" in labels and f"stands for itself ({256 - moved})" in labels
    assert "Ġ" in labels and "Ċ" in labels  # space and newline
    assert ["195", "175"] == [s for s in labels if s in {"195", "175"}][:2]  # ï is two bytes
    assert "'Hi,ĠnaÃ¯veĊ'" in d.alt


@pytest.mark.parametrize("text", [OTHER_TEXTS[2], "\x00\x07\x7f\t"])
def test_byte_to_unicode_other_texts(text):
    d = draw.byte_to_unicode(text)
    assert_clean(d)
    n = len(text.encode("utf-8"))
    shown = sum(s == "…" or s.startswith("…") for s in d.labels())
    assert (shown == 1) == (n > 14)


def test_byte_to_unicode_bad_input():
    with pytest.raises(ValueError, match="empty"):
        draw.byte_to_unicode("")
    with pytest.raises(ValueError, match="max_bytes"):
        draw.byte_to_unicode("🦙", max_bytes=3)
    with pytest.raises(TypeError, match="max_bytes must be an integer, got float"):
        draw.byte_to_unicode("hi", max_bytes=14.0)


# ---- tokenization_pipeline -----------------------------------------------------------------------------------


def test_tokenization_pipeline_book_sentence(gpt2):
    text = "Tokenization isn't magic!"
    d = draw.tokenization_pipeline(gpt2, text)
    assert_clean(d)
    ids = gpt2.encode(text)
    labels = d.labels()
    assert [s for s in labels if s.isdigit() and int(s) in ids] == [str(i) for i in ids]
    assert "Token" in labels and "ization" in labels and "'t" in labels
    assert f"{len(text)} characters → 5 chunks → 25 bytes → {len(ids)} tokens" in labels
    assert "30642" in d.alt


@pytest.mark.parametrize("text, use_small", [(OTHER_TEXTS[1], False), (OTHER_TEXTS[2], False),
                                             (OTHER_TEXTS[4], True), (BOOK_SENTENCE, True), ("x", False)])
def test_tokenization_pipeline_other_texts(gpt2, small, text, use_small):
    tok = small if use_small else gpt2
    d = draw.tokenization_pipeline(tok, text)
    assert_clean(d)
    ids = tok.encode(text)
    assert d.alt.count(",") >= min(len(ids), 12) - 1


def test_tokenization_pipeline_wraps_and_caps(gpt2):
    text = "Tokenization isn't magic: GPT-2 splits 'unbelievably' and 31415926 into pieces."
    d = draw.tokenization_pipeline(gpt2, text, max_chunks=10)
    assert_clean(d)
    labels = d.labels()
    assert labels.count("chunks") >= 2  # wrapped into bands
    n = len(regex.findall(GPT2_SPLIT_PATTERN, text))
    assert any(s.startswith(f"… {n - 10} more chunks") for s in labels)


def test_tokenization_pipeline_bad_input(gpt2):
    with pytest.raises(TypeError, match="BPETokenizer"):
        draw.tokenization_pipeline("gpt2", "hello")
    with pytest.raises(TypeError, match="width must be a number"):
        draw.tokenization_pipeline(gpt2, "hello", width=None)
    with pytest.raises(ValueError, match="empty"):
        draw.tokenization_pipeline(gpt2, "")
    with pytest.raises(ValueError, match="max_chunks"):
        draw.tokenization_pipeline(gpt2, "hello", max_chunks=0)
    with pytest.raises(ValueError, match="too long"):
        draw.tokenization_pipeline(gpt2, "a" * 200)
