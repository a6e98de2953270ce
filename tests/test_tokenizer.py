"""Tests for gpt2lite.tokenizer: exact parity with tiktoken's GPT-2, round trips, and training."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gpt2lite import tokenizer as tokenizer_module
from gpt2lite.tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer, bytes_to_unicode, tiktoken_encoding

tiktoken = pytest.importorskip("tiktoken")

EOT = "<|endoftext|>"

TEXTS = [
    "",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say it's what we've done, and you'd agree we're right.",
    "DON'T SHOUT'S 'quoted' words''",
    "def f(x):\n    return x ** 2  # square\n\n\nprint(f(3))\n",
    "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
    "3.14159 1,000,000 2024-01-31 0x7fff 1e-9 12345678901234567890",
    "   leading and trailing spaces   ",
    "tabs\tand\t\ttabs\nnew\n\nlines\r\nwindows\r\n",
    "a  b   c    d\n \n  \n",
    " ",
    "\n",
    "     ",
    "Café, naïve, façade, Zürich, São Paulo, Ελληνικά, русский язык",
    "日本語のテキストと中文文本",
    "emoji: 😀🎉👩‍👩‍👧 and flags 🇫🇷🇯🇵",
    "mixed: hello世界123abc١٢٣ שלום مرحبا",
    "a<|endoftext|>b",
    "First doc.<|endoftext|>Second doc.<|endoftext|>",
    "<|endoftext|>",
    "<|endoftext",
    "\u00a0non\u2009breaking\u3000spaces\u00a0",
    "zero\u200bwidth\ufeffjoiners",
    "ends with space ",
]


@pytest.fixture(scope="module")
def enc():
    return tiktoken.get_encoding("gpt2")


@pytest.fixture(scope="module")
def gpt2():
    return BPETokenizer.from_tiktoken("gpt2")


def load_gpt2_files() -> BPETokenizer:
    vocab_dir = os.environ.get("GPT2LITE_GPT2_VOCAB_DIR")
    if vocab_dir is None:
        pytest.skip("GPT2LITE_GPT2_VOCAB_DIR is not set")
    return BPETokenizer.from_gpt2_files(Path(vocab_dir) / "encoder.json", Path(vocab_dir) / "vocab.bpe")


@pytest.fixture(scope="module")
def gpt2_files():
    return load_gpt2_files()


@pytest.fixture(scope="module")
def shakespeare():
    data_dir = os.environ.get("GPT2LITE_DATA_DIR")
    if data_dir is None:
        pytest.skip("GPT2LITE_DATA_DIR is not set")
    return (Path(data_dir) / "tinyshakespeare.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def trained(shakespeare):
    tok = BPETokenizer()
    tok.train(shakespeare[:20_000], vocab_size=300)
    return tok


# ---- bytes_to_unicode and GPT-2's base tokens ----------------------------------------------------------------


def test_bytes_to_unicode():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert all(ch.isprintable() and not ch.isspace() for ch in table.values())
    assert table[ord("A")] == "A" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"
    assert list(table)[:3] == [ord("!"), ord('"'), ord("#")]  # printable bytes come first


def test_gpt2_base_tokens_follow_bytes_to_unicode_order(gpt2):
    order = list(bytes_to_unicode())  # the byte whose base token is id 0, 1, ...
    assert [gpt2.byte_to_id[b] for b in order] == list(range(256))
    assert gpt2.vocab[gpt2.byte_to_id[ord(" ")]] == b" "


def test_tiktoken_encoding_is_what_tiktoken_builds(enc):
    """gpt2lite's route to tiktoken's GPT-2 (files through our cached download) gives tiktoken's own object."""
    ours = tiktoken_encoding("gpt2")
    assert isinstance(ours, tiktoken.Encoding) and ours.name == enc.name == "gpt2"
    assert ours._mergeable_ranks == enc._mergeable_ranks
    assert ours._pat_str == enc._pat_str and ours._special_tokens == enc._special_tokens
    assert ours.n_vocab == enc.n_vocab == 50257
    assert tiktoken_encoding("gpt2") is ours  # built once, like tiktoken.get_encoding
    text = "Hello world!<|endoftext|> 12345  émoji 🙂"
    assert ours.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    assert tiktoken_encoding("r50k_base")._mergeable_ranks == enc._mergeable_ranks  # other names: tiktoken's


def test_tiktoken_encoding_with_an_older_tiktoken(enc, monkeypatch):
    """tiktoken before r50k_pat_str existed: GPT-2's own pattern, which splits text the same way."""
    from tiktoken_ext import openai_public

    monkeypatch.delattr(openai_public, "r50k_pat_str")
    tiktoken_encoding.cache_clear()
    try:
        older = tiktoken_encoding("gpt2")
    finally:
        tiktoken_encoding.cache_clear()  # the tests after this one get tiktoken's current pattern again
    assert older._pat_str == GPT2_SPLIT_PATTERN != enc._pat_str
    for text in TEXTS:
        assert older.encode_ordinary(text) == enc.encode_ordinary(text), text


def test_from_tiktoken_without_tiktoken(monkeypatch):
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # makes "import tiktoken" fail
    with pytest.raises(ImportError, match="pip install tiktoken"):
        BPETokenizer.from_tiktoken("gpt2")


def test_gpt2_properties(gpt2):
    assert gpt2.vocab_size == 50257
    assert len(gpt2.merges) == 50000
    assert gpt2.special_tokens == {EOT: 50256}
    assert gpt2.eot_token == 50256
    assert gpt2.pattern == tiktoken.get_encoding("gpt2")._pat_str
    assert repr(gpt2) == "BPETokenizer(vocab_size=50257, merges=50000, special_tokens=1)"
    assert sorted(gpt2.merges.values()) == list(range(256, 50256))  # merged ids grow with merge order


# ---- parity with tiktoken ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS)
def test_encode_matches_tiktoken(gpt2, enc, text):
    ids = gpt2.encode(text)
    assert ids == enc.encode_ordinary(text)
    assert gpt2.decode(ids) == text


@pytest.mark.parametrize("text", TEXTS)
def test_encode_allowed_special_matches_tiktoken(gpt2, enc, text):
    assert gpt2.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    assert gpt2.encode(text, allowed_special={EOT}) == enc.encode(text, allowed_special={EOT})


def test_special_tokens_are_text_by_default(gpt2):
    assert EOT in gpt2.decode(gpt2.encode(f"a{EOT}b"))
    assert 50256 not in gpt2.encode(f"a{EOT}b")
    assert gpt2.encode(f"a{EOT}b", allowed_special="none") == gpt2.encode(f"a{EOT}b")
    assert gpt2.encode(f"a{EOT}b", allowed_special="all") == [64, 50256, 65]
    assert gpt2.encode(f"a{EOT}b", allowed_special=set()) == gpt2.encode(f"a{EOT}b")


def test_encode_matches_tiktoken_on_tiny_shakespeare(gpt2, enc, shakespeare):
    ids = gpt2.encode(shakespeare)
    assert ids == enc.encode_ordinary(shakespeare)
    assert gpt2.decode(ids) == shakespeare


def test_one_long_chunk_matches_tiktoken(gpt2, enc):
    """200,000 letters with no space are one regex chunk: merging must stay fast (the plain loop is quadratic)."""
    letters = np.random.default_rng(0).choice(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"), 200_000)
    for text in ("".join(letters), "a" * 100_000):
        assert gpt2.encode(text) == enc.encode_ordinary(text)


def test_from_gpt2_files_equals_from_tiktoken(gpt2, gpt2_files):
    assert gpt2_files.byte_to_id == gpt2.byte_to_id
    assert list(gpt2_files.merges.items()) == list(gpt2.merges.items())
    assert gpt2_files.special_tokens == gpt2.special_tokens
    assert gpt2_files.vocab == gpt2.vocab
    assert gpt2_files.pattern == GPT2_SPLIT_PATTERN


@pytest.mark.parametrize("text", TEXTS)
def test_from_gpt2_files_encodes_like_tiktoken(gpt2_files, enc, text):
    assert gpt2_files.encode(text) == enc.encode_ordinary(text)
    assert gpt2_files.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")


def test_from_gpt2_files_on_tiny_shakespeare(gpt2_files, enc, shakespeare):
    assert gpt2_files.encode(shakespeare) == enc.encode_ordinary(shakespeare)


any_text = st.text(max_size=200)
# For parity, leave out code points unassigned in Python's Unicode tables: the regex package knows newer Unicode
# than tiktoken's Rust regex (CJK Extension J, U+323B0.., are letters for regex 2025+, not for tiktoken 0.14).
assigned_char = st.characters(exclude_categories=["Cs", "Cn"])
assigned_text = st.text(assigned_char, max_size=200)
texts_with_eot = st.lists(st.one_of(st.text(assigned_char, max_size=20), st.just(EOT)), max_size=8).map("".join)
surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts_with_surrogates = st.text(st.one_of(assigned_char, surrogate), max_size=50)


@settings(max_examples=300, deadline=None)
@given(assigned_text)
def test_matches_tiktoken_on_arbitrary_text(gpt2, enc, text):
    assert gpt2.encode(text) == enc.encode_ordinary(text)


@settings(max_examples=100, deadline=None)
@given(texts_with_eot)
def test_matches_tiktoken_with_special_tokens(gpt2, enc, text):
    assert gpt2.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    assert gpt2.encode(text) == enc.encode_ordinary(text)


@settings(max_examples=100, deadline=None)
@given(texts_with_surrogates)
def test_lone_surrogates_are_replaced_like_tiktoken(gpt2, enc, text):
    assert gpt2.encode(text) == enc.encode_ordinary(text)


def test_lone_surrogates(gpt2, enc):
    assert gpt2.encode("a\ud800b") == enc.encode_ordinary("a\ud800b")
    assert gpt2.decode(gpt2.encode("a\ud800b")) == "a\ufffdb"
    assert gpt2.encode("\ud83d\ude00") == gpt2.encode("😀")  # a surrogate pair is one character


# ---- round trips and decoding --------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_gpt2_round_trip(gpt2, text):
    assert gpt2.decode(gpt2.encode(text)) == text


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_trained_round_trip(trained, text):
    ids = trained.encode(text)
    assert all(0 <= i < 300 for i in ids)
    assert trained.decode(ids) == text


def test_decode_split_utf8_character(gpt2, enc):
    ids = gpt2.encode("😀")
    assert len(ids) == 2  # four UTF-8 bytes, two tokens
    assert gpt2.decode(ids[:1]) == "\ufffd" == enc.decode(ids[:1])
    assert gpt2.decode(ids[1:]) == "\ufffd" == enc.decode(ids[1:])
    assert gpt2.decode_bytes(ids) == "😀".encode("utf-8")


def test_decode_tensors_and_arrays(gpt2):
    ids = gpt2.encode("Hello world")
    assert gpt2.decode(torch.tensor(ids)) == "Hello world"
    assert gpt2.decode(np.array(ids)) == "Hello world"
    assert gpt2.decode([np.int64(i) for i in ids]) == "Hello world"
    assert gpt2.decode([50256]) == EOT


@pytest.mark.parametrize("bad", [-1, 50257, 10**9, np.int64(50257)])
def test_decode_rejects_ids_outside_the_vocabulary(gpt2, bad):
    with pytest.raises(ValueError, match=rf"invalid token id {int(bad)}: ids are integers in 0\.\.50256"):
        gpt2.decode([1, bad, 2])


@pytest.mark.parametrize("bad", [1.0, np.float64(2.0), "5", None, True, (1, 2), torch.tensor(1.0)])
def test_decode_rejects_ids_that_are_not_integers_with_a_type_error(gpt2, bad):
    with pytest.raises(TypeError, match=r"invalid token id .*: ids are integers in 0\.\.50256"):
        gpt2.decode([1, bad, 2])


def test_decode_rejects_unknown_id_in_range():
    tok = BPETokenizer()
    tok.register_special_tokens({EOT: 300})  # ids 256..299 are not tokens
    assert tok.vocab_size == 301
    with pytest.raises(ValueError, match="invalid token id 280"):
        tok.decode([280])


@pytest.mark.parametrize("bad", [b"bytes", None, 42, ["a"]])
def test_encode_rejects_non_str(gpt2, bad):
    with pytest.raises(TypeError, match="encode expects a str"):
        gpt2.encode(bad)


def test_longest_special_token_wins():
    tok = BPETokenizer()
    tok.register_special_tokens({"<|end|>": 256, "<|end|><|end|>": 257})
    assert tok.encode("a<|end|><|end|><|end|>", allowed_special="all") == [97, 257, 256]
    assert tok.encode("a<|end|><|end|>", allowed_special={"<|end|>"}) == [97, 256, 256]


def test_allowed_special_validation(gpt2):
    with pytest.raises(ValueError, match="unknown special tokens"):
        gpt2.encode("hi", allowed_special={"<|nope|>"})
    with pytest.raises(ValueError, match="allowed_special must be"):
        gpt2.encode("hi", allowed_special="al")


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(tokenizer_module, "_CACHE_SIZE", 10)
    tok = BPETokenizer()
    text = " ".join(f"w{i}" for i in range(100))
    assert tok.decode(tok.encode(text)) == text
    assert 0 < len(tok._cache) <= 10


# ---- training ------------------------------------------------------------------------------------------------


def test_train_small_example_and_tie_break():
    # "aaabdaaabac" is one chunk. aa occurs 4 times (overlaps count), so it merges first: Z=aa gives "ZabdZabac".
    # Then (Z, a) and (a, b) both occur twice: the tie goes to the smaller pair (97, 98).
    for method in ("recount", "incremental"):
        tok = BPETokenizer()
        tok.train("aaabdaaabac", vocab_size=259, method=method)
        assert tok.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}
        assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
        assert tok.vocab[258] == b"aaab"


def test_recount_and_incremental_learn_the_same_merges(shakespeare):
    recount, incremental = BPETokenizer(), BPETokenizer()
    recount.train(shakespeare[:20_000], vocab_size=300, method="recount")
    incremental.train(shakespeare[:20_000], vocab_size=300, method="incremental")
    assert len(recount.merges) == 44
    assert list(recount.merges.items()) == list(incremental.merges.items())
    assert list(incremental.merges.values()) == list(range(256, 300))


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="ab c\n'é", max_size=60), st.integers(256, 280))
def test_recount_and_incremental_agree_on_arbitrary_text(text, vocab_size):
    recount, incremental = BPETokenizer(), BPETokenizer()
    recount.train(text, vocab_size, method="recount")
    incremental.train(text, vocab_size, method="incremental")
    assert list(recount.merges.items()) == list(incremental.merges.items())
    assert recount.decode(recount.encode(text)) == text


def test_training_is_deterministic(shakespeare, trained):
    again = BPETokenizer()
    again.train(shakespeare[:20_000], vocab_size=300)
    assert list(again.merges.items()) == list(trained.merges.items())
    assert trained.merges[32, 116] == 256  # " t" is the most frequent pair of this text


def test_train_stops_when_no_pairs_are_left():
    for method in ("recount", "incremental"):
        tok = BPETokenizer()
        tok.train("ab ab", vocab_size=1000, method=method)
        assert tok.merges == {(97, 98): 256, (32, 256): 257}
        assert tok.vocab_size == 258


def test_train_vocab_size_256_means_no_merges():
    tok = BPETokenizer()
    tok.train("hello hello", vocab_size=256)
    assert tok.merges == {}
    assert tok.encode("hi") == [104, 105]


@pytest.mark.parametrize("vocab_size", [255, 0, -1, np.int64(255)])
def test_train_rejects_a_vocab_size_below_256(vocab_size):
    with pytest.raises(ValueError, match=r"vocab_size must be an integer >= 256 \(the 256 byte tokens\), got"):
        BPETokenizer().train("hello", vocab_size)


@pytest.mark.parametrize("vocab_size", [300.0, "300", None, True])
def test_train_rejects_a_vocab_size_that_is_no_integer(vocab_size):
    with pytest.raises(TypeError, match="vocab_size must be an integer, got"):
        BPETokenizer().train("hello", vocab_size)


def test_train_takes_a_numpy_vocab_size():
    text = "the cat sat on the mat; the dog sat on the log. " * 5
    a, b = BPETokenizer(), BPETokenizer()
    a.train(text, np.int64(270))
    b.train(text, 270)
    assert a.merges == b.merges and len(a.merges) > 0
    assert all(type(i) is int for pair, new_id in a.merges.items() for i in (*pair, new_id))


def test_train_rejects_bad_method():
    with pytest.raises(ValueError, match=r"method must be one of \('incremental', 'recount'\), got 'fast'"):
        BPETokenizer().train("hello", 260, method="fast")
    with pytest.raises(TypeError, match="method must be one of .*, got int 1"):
        BPETokenizer().train("hello", 260, method=1)


def test_train_replaces_previous_state():
    tok = load_gpt2_files()
    tok.train("hello hello", vocab_size=257)
    assert tok.byte_to_id == list(range(256))
    assert tok.merges == {(101, 108): 256}  # four pairs occur twice: "el" is the smallest
    assert tok.special_tokens == {} and tok.eot_token is None
    assert tok.decode(tok.encode("hello")) == "hello"


def test_verbose_training_prints_each_merge(capsys):
    BPETokenizer().train("aaabdaaabac", vocab_size=258, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["merge 1/2: (97, 97) -> 256 b'aa' (4 times)", "merge 2/2: (97, 98) -> 257 b'ab' (2 times)"]


def test_register_special_tokens():
    tok = BPETokenizer()
    tok.train("hello world, hello there", vocab_size=260)
    tok.register_special_tokens({EOT: 260})
    assert tok.eot_token == 260 and tok.vocab_size == 261
    assert tok.encode(f"hello{EOT}", allowed_special="all")[-1] == 260
    assert tok.decode(tok.encode(f"hello{EOT}", allowed_special="all")) == f"hello{EOT}"
    with pytest.raises(ValueError, match="already the id"):
        tok.register_special_tokens({"<|pad|>": 257})
    with pytest.raises(ValueError, match="already the id"):
        tok.register_special_tokens({"<|pad|>": 260})


# ---- save / load ---------------------------------------------------------------------------------------------


def test_save_load_trained(shakespeare, tmp_path):
    tok = BPETokenizer()
    tok.train(shakespeare[:20_000], vocab_size=300)
    tok.register_special_tokens({EOT: 300})
    path = tmp_path / "tok.json"
    tok.save(path)
    loaded = BPETokenizer.load(path)
    assert list(loaded.merges.items()) == list(tok.merges.items())
    assert loaded.vocab == tok.vocab and loaded.special_tokens == tok.special_tokens
    text = shakespeare[20_000:40_000] + EOT
    assert loaded.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    data = json.loads(path.read_text())  # human-readable: merges in order, keyed "left right"
    assert list(data["merges"].items())[0] == ("32 116", 256)


def test_save_load_gpt2(gpt2, enc, tmp_path):
    path = tmp_path / "gpt2.json"
    gpt2.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded.pattern == gpt2.pattern and loaded.byte_to_id == gpt2.byte_to_id
    for text in TEXTS:
        assert loaded.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a tokenizer"):
        BPETokenizer.load(path)


# ---- the heap-based encoder against the plain loop it replaces ------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_heap_encoder_equals_the_plain_loop_on_gpt2(gpt2, text):
    for chunk in gpt2._split.findall(text):
        data = chunk.encode("utf-8")
        assert gpt2._bpe(data) == tokenizer_module.bpe_by_rank([gpt2.byte_to_id[b] for b in data], gpt2.merges)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab c", min_size=2, max_size=80), st.integers(257, 300), st.text(alphabet="abc ", max_size=60))
def test_heap_encoder_equals_the_plain_loop_on_small_vocabularies(train_text, vocab_size, text):
    """Few letters, many merges: long runs such as 'aaaa' and ties between overlapping pairs."""
    tok = BPETokenizer()
    tok.train(train_text, vocab_size)
    data = text.encode("utf-8")
    assert tok._bpe(data) == tokenizer_module.bpe_by_rank([tok.byte_to_id[b] for b in data], tok.merges)


def test_plain_loop_merges_the_lowest_rank_first():
    merges = {(1, 2): 256, (2, 3): 257, (256, 3): 258}
    assert tokenizer_module.bpe_by_rank([1, 2, 3], merges) == [258]  # (1, 2) before (2, 3), then (256, 3)
    assert tokenizer_module.bpe_by_rank([2, 3, 1], merges) == [257, 1]
    assert tokenizer_module.bpe_by_rank([], merges) == [] and tokenizer_module.bpe_by_rank([5], merges) == [5]


# ---------------------------------------------------------------------------- bad arguments
# A wrong type is a TypeError, a wrong value a ValueError; numpy numbers (and 0-d tensors) work as ints do.
def _fresh() -> BPETokenizer:
    return BPETokenizer()


@pytest.mark.parametrize("call, error, message", [
    (lambda: _fresh().register_special_tokens([(EOT, 300)]), TypeError, "special_tokens must be a dict"),
    (lambda: _fresh().register_special_tokens({5: 300}), TypeError, "a special token must be a non-empty string"),
    (lambda: _fresh().register_special_tokens({"": 300}), ValueError, "a special token must be a non-empty string"),
    (lambda: _fresh().register_special_tokens({EOT: 300.0}), TypeError,
     r"the id of '<\|endoftext\|>' must be an integer, got float 300\.0"),
    (lambda: _fresh().register_special_tokens({EOT: True}), TypeError, "must be an integer, got bool True"),
    (lambda: _fresh().register_special_tokens({EOT: -1}), ValueError,
     r"the id of '<\|endoftext\|>' must be a non-negative integer, got -1"),
    (lambda: _fresh().register_special_tokens({EOT: np.int64(97)}), ValueError, "id 97 .* is already the id of"),
    (lambda: _fresh().encode("hi", allowed_special=5), TypeError, "allowed_special must be 'all', 'none' or a set"),
    (lambda: _fresh().encode("hi", allowed_special={1}), TypeError, "allowed_special must be 'all', 'none' or a set"),
    (lambda: _fresh().encode("hi", allowed_special="al"), ValueError, "allowed_special must be 'all', 'none'"),
    (lambda: _fresh().train(b"hello", 260), TypeError, "train expects a str, got bytes"),
    (lambda: tiktoken_encoding(50), TypeError, "a tiktoken encoding is named by a str such as 'gpt2', got int"),
])
def test_bad_arguments_give_type_or_value_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_numpy_and_tensor_ids_work_as_python_ints(gpt2):
    ids = gpt2.encode("Hello world")
    assert gpt2.decode([np.int64(i) for i in ids]) == gpt2.decode(ids) == "Hello world"
    assert gpt2.decode(list(torch.tensor(ids))) == "Hello world"  # iterating over a tensor gives 0-d tensors
    assert gpt2.decode_bytes(np.array(ids, dtype=np.int32)) == b"Hello world"
    tok = BPETokenizer()
    tok.register_special_tokens({EOT: np.int64(300)})
    assert tok.special_tokens == {EOT: 300} and type(tok.special_tokens[EOT]) is int  # so that save writes JSON
    assert tok.encode(EOT, allowed_special="all") == [300]
