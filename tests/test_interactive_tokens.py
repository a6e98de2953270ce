"""The tokenizer playground's Python side (gpt2lite.interactive.tokens): its data, its still picture, its errors.

The data are what the page starts from: the chapter's text and the ids of `BPETokenizer.from_tiktoken("gpt2")`,
which must be tiktoken's. The page's JavaScript encoder is driven in Chromium by tests/test_browser_tokenizer.py;
here we check the one thing of it that Python can read, its split regex, against GPT-2's.
"""

import base64
import json
import re
from pathlib import Path

import pytest
import regex

from gpt2lite.interactive import Interactive, tokenizer_playground
from gpt2lite.tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer, tiktoken_encoding

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "gpt2lite" / "interactive" / "js" / "tokenizer.js"
TEXT = "Hello world! hello World, 2026 and 31415926 🦙"
TEXTS = [
    TEXT,
    "The end.<|endoftext|>Once upon",
    "family 👨‍👩‍👧‍👦, flag 🏳️‍🌈, thumbs 👍🏽, cafe\u0301 café",
    "東京 서울\u3000a\u00a0b  \t\n\n x",
    "def f(x):\n    return x ** 2  # square\n",
    " ",
]


@pytest.fixture(scope="module")
def gpt2():
    return BPETokenizer.from_tiktoken("gpt2")


def data_of(page: str) -> dict:
    block = re.search(r'<script type="application/json" class="gpt2lite-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1).replace("<\\/", "</"))


def clone(tok: BPETokenizer) -> BPETokenizer:
    """A copy of tok to spoil, without rebuilding GPT-2 from tiktoken again."""
    other = BPETokenizer(tok.pattern)
    other.byte_to_id, other.merges, other.special_tokens = list(tok.byte_to_id), dict(tok.merges), dict(tok.special_tokens)
    other._build_vocab()
    return other


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_data_hold_the_text_and_tiktokens_ids(gpt2, text):
    figure = tokenizer_playground(gpt2, text)
    assert isinstance(figure, Interactive) and figure.kind == "tokenizer"
    data = data_of(figure.html())
    assert data == figure.data
    assert data["text"] == text
    assert data["ids"] == gpt2.encode(text) == tiktoken_encoding("gpt2").encode_ordinary(text)
    assert b"".join(bytes(b) for b in data["bytes"]) == text.encode("utf-8")  # each token's bytes, in order
    assert [bytes(b) for b in data["bytes"]] == [gpt2.vocab[i] for i in data["ids"]]
    assert data["vocab_size"] == 50257
    assert 50256 not in data["ids"]  # "<|endoftext|>" is ordinary text, as in encode's default


def test_the_page_loads_the_rank_table_the_book_ships(gpt2):
    """The data name the file the book copies into _static/vendor/, and that file holds GPT-2's ranks."""
    data = tokenizer_playground(gpt2, TEXT).data
    extension = (ROOT / "book" / "_ext" / "offline_assets.py").read_text()
    source = re.search(rf'"{re.escape(data["ranks"])}": "([^"]+)"', extension)
    assert source, f"book/_ext/offline_assets.py does not ship {data['ranks']}"
    module = ROOT / "node_modules" / source.group(1)
    assert module.is_file(), "run `npm ci` first: it installs js-tiktoken, whose rank table the page loads"
    table = json.loads(module.read_text().removeprefix("export default ").rstrip().rstrip(";"))
    ranks = {}
    for line in table["bpe_ranks"].split("\n"):
        if line:
            _, offset, *tokens = line.split(" ")
            ranks.update({base64.b64decode(t): int(offset) + i for i, t in enumerate(tokens)})
    assert ranks == tiktoken_encoding("gpt2")._mergeable_ranks
    assert table["special_tokens"] == gpt2.special_tokens


def test_still_picture_shows_the_tokens_and_ids(gpt2):
    figure = tokenizer_playground(gpt2, TEXT)
    still = figure.still
    assert still.problems() == []
    labels = still.labels()
    ids = gpt2.encode(TEXT)
    assert labels[1:2 * len(ids):2] == [str(i) for i in ids]  # each chip's piece, then its id under it
    assert labels[0:2 * len(ids):2] == ["Hello", "␣world", "!", "␣hello", "␣World", ",", "␣20", "26", "␣and", "␣314",
                                        "159", "26", "␣ F0 9F", "A6", "99"]
    assert f"{len(ids)} tokens from {len(TEXT)} characters ({len(TEXT.encode())} bytes)" in labels
    assert "15496" in still.alt and "'Hello'" in still.alt
    page = figure.html()
    assert 'id="tokenizer-playground" data-figure="tokenizer"' in page
    assert "<figcaption>GPT-2&#x27;s tokenizer in the page: type" in page
    assert page == tokenizer_playground(gpt2, TEXT).html()  # the same bytes every run: nbval compares them


def test_still_picture_of_a_long_text_counts_what_it_leaves_out(gpt2):
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 30
    still = tokenizer_playground(gpt2, text).still
    assert still.problems() == []
    n = len(gpt2.encode(text))
    assert f"… {n - 48} more tokens. {n} tokens from {len(text):,} characters ({len(text):,} bytes)" in still.labels()
    longest = max(range(50256), key=lambda i: len(gpt2.vocab[i]))  # GPT-2's longest token, cut to the page
    assert tokenizer_playground(gpt2, gpt2.decode([longest]) * 2).still.problems() == []


@pytest.mark.parametrize("bad, error, message", [
    ("gpt2", TypeError, "must be a gpt2lite.tokenizer.BPETokenizer, got str"),
    (None, TypeError, 'BPETokenizer.from_tiktoken("gpt2")'),
])
def test_a_tokenizer_that_is_not_one_is_refused(bad, error, message):
    with pytest.raises(error, match=re.escape(message)):
        tokenizer_playground(bad, TEXT)


def test_a_tokenizer_that_is_not_gpt2s_is_refused(gpt2):
    small = BPETokenizer()
    small.train("the cat sat on the mat " * 20, vocab_size=270)
    with pytest.raises(ValueError, match=r"not GPT-2's: it has 2\d\d tokens .*from_tiktoken\(\"gpt2\"\)"):
        tokenizer_playground(small, TEXT)
    swapped = clone(gpt2)  # GPT-2's size and special token, but two bytes' ids swapped
    swapped.byte_to_id[ord("a")], swapped.byte_to_id[ord("b")] = gpt2.byte_to_id[ord("b")], gpt2.byte_to_id[ord("a")]
    swapped._build_vocab()
    with pytest.raises(ValueError, match="its vocabulary .* is not GPT-2's"):
        tokenizer_playground(swapped, TEXT)
    other_split = clone(gpt2)  # GPT-2's vocabulary, but no contractions in its split pattern
    other_split.pattern = GPT2_SPLIT_PATTERN.split("|", 7)[7]
    other_split._build_vocab()
    with pytest.raises(ValueError, match="split pattern cuts text differently"):
        tokenizer_playground(other_split, TEXT)
    assert tokenizer_playground(clone(gpt2), TEXT).data["ids"] == gpt2.encode(TEXT)  # an exact copy is fine
    files = BPETokenizer(GPT2_SPLIT_PATTERN)  # GPT-2's own spelling of the pattern, not tiktoken's
    files.byte_to_id, files.merges, files.special_tokens = gpt2.byte_to_id, gpt2.merges, gpt2.special_tokens
    files._build_vocab()
    assert tokenizer_playground(files, TEXT).data["ids"] == gpt2.encode(TEXT)


@pytest.mark.parametrize("text, error, message", [
    (b"Hello", TypeError, "text must be a str, got bytes"),
    (["Hello"], TypeError, "text must be a str, got list"),
    ("", ValueError, "text is empty; pass the text the playground starts with"),
    ("a" * 2001, ValueError, "text has 2,001 characters; the starting text may have at most 2,000"),
    ("half \ud83e a llama", ValueError, "lone surrogate"),
])
def test_bad_text_is_refused_with_what_to_pass(gpt2, text, error, message):
    with pytest.raises(error, match=re.escape(message)):
        tokenizer_playground(gpt2, text)


def test_bad_name_is_refused(gpt2):
    with pytest.raises(ValueError, match="name must be lower-case letters"):
        tokenizer_playground(gpt2, TEXT, name="Tokenizer Playground")
    assert 'id="ch2-tokens"' in tokenizer_playground(gpt2, TEXT, name="ch2-tokens").html()


# ---- the page's split regex, read from the JavaScript module ---------------------------------------------------


def js_split_pattern() -> tuple[str, set[int]]:
    """The JavaScript module's split regex, as a Python `regex` pattern, and its whitespace class's code points."""
    source = JS.read_text()
    ws = re.search(r'const WS = "([^"]+)";', source).group(1).encode().decode("unicode_escape")
    template = re.search(r"new RegExp\(\s*`([^`]+)`", source).group(1)
    pattern = template.replace("${WS}", ws).replace("\\\\", "\\")
    return pattern, {c for c in range(0x110000) if regex.fullmatch(f"[{ws}]", chr(c))}


def test_the_pages_whitespace_is_tiktokens():
    """JavaScript's \\s is not Unicode White_Space (it has U+FEFF, lacks U+0085): the module spells out the
    class that Python's `regex` (and tiktoken's Rust regex) call \\s."""
    _, ws = js_split_pattern()
    assert ws == {c for c in range(0x110000) if regex.fullmatch(r"\s", chr(c))}
    assert 0x85 in ws and 0x3000 in ws and 0xA0 in ws and 0xFEFF not in ws and 0x200B not in ws


def test_the_pages_split_regex_cuts_text_as_gpt2s():
    pattern, _ = js_split_pattern()
    texts = TEXTS + [
        "I'm sure they've 3 dogs, 1234 cats and   17.5% of you'll AGREE!! I'M  sure.\n",
        "a\u2028b\u0085c\ufeffd\u200be   \n\n\t\t\u3000\u3000 f\x0b\x0cg\r\nh  ",
        "x  ", "  x", "\n\nA", "'s's 's'S", "٣٤ ½ Ⅻ 𝔉𝔯𝔞", "e\u0301\u0301 ", "",
    ]
    for text in texts:
        assert regex.findall(pattern, text) == regex.findall(GPT2_SPLIT_PATTERN, text), text
