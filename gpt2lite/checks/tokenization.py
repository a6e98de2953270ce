"""Checks for chapter 2's exercises: counting characters, bytes and tokens; undoing merges; the first merge;
decoding a stream of tokens; recovering GPT-2's merges from tiktoken's ranks.

GPT-2's tokenizer comes from tiktoken's local cache (no download once it is there), loaded once per session.
"""

from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache

import regex

import gpt2lite.tokenizer
from gpt2lite.tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer, tiktoken_encoding

from ._core import Forbidden, call, describe, diagnose, expect_equal, fail, forbid, forbid_helpers, passed

# A passage of Tiny Shakespeare: the checks train their small BPE tokenizers on it, offline.
_TEXT = (
    "What authority surfeits on would relieve us: if they\nwould yield us but the superfluity, while it were\n"
    "wholesome, we might guess they relieved us humanely;\nbut they think we are too dear: the leanness that\n"
    "afflicts us, the object of our misery, is as an\ninventory to particularise their abundance; our\n"
    "sufferance is a gain to them Let us revenge this with\nour pikes, ere we become rakes: for the gods know I\n"
    "speak this in hunger for bread, not in thirst for revenge.\n\nSecond Citizen:\n"
    "Would you proceed especially against Caius Marcius?\n\nAll:\n"
    "Against him first: he's a very dog to the commonalty.\n\nSecond Citizen:\n"
    "Consider you what services he has done for his country?\n"
)

Pair = tuple[int, int]


def _no_tokenizer(instead: str) -> Forbidden:
    """gpt2lite's tokenizer module (BPETokenizer: training, from_tiktoken, decoding), which these exercises rebuild,
    and the check's own reference."""
    return forbid({gpt2lite.tokenizer: "gpt2lite.tokenizer"}, instead) + forbid_helpers(__name__)


@lru_cache(maxsize=1)
def _gpt2() -> BPETokenizer:
    """GPT-2's tokenizer, rebuilt from tiktoken's data (about 0.5 s, once)."""
    return BPETokenizer.from_tiktoken("gpt2")


@lru_cache(maxsize=1)
def _trained() -> BPETokenizer:
    """A small BPE tokenizer (up to 400 tokens) trained on _TEXT: its merges nest several levels deep."""
    tok = BPETokenizer()
    tok.train(_TEXT, vocab_size=400)
    return tok


# ---- ex-02-count -----------------------------------------------------------------------------------------------

def check_sizes(fn: Callable[[str], tuple[int, int, int]]) -> None:
    """`fn(text)` returns the tuple (characters, UTF-8 bytes, GPT-2 tokens) of `text`, with "<|endoftext|>" counted
    as ordinary text."""
    enc = tiktoken_encoding("gpt2")  # GPT-2's reference tokenizer; chapter 2 needs it anyway
    texts = ["", "Hello, world!", "東京 🦙", "naïve café", "   \n\n", "<|endoftext|>", "x" * 1000, _TEXT]
    for text in texts:
        call_text = f"{fn.__name__}({describe(text, 40)})"
        got = call(fn, text, call_text=call_text)
        chars, nbytes, tokens = len(text), len(text.encode("utf-8")), len(enc.encode_ordinary(text))
        expect_equal(call_text, got, (chars, nbytes, tokens), mistakes={
            "return a tuple (characters, bytes, tokens), not a list": lambda: [chars, nbytes, tokens],
            "the byte count is the character count: count the bytes of text.encode('utf-8')":
                lambda: (chars, chars, tokens),
            "'<|endoftext|>' was counted as one special token: here it is ordinary text (encode, not "
            "allowed_special='all')": lambda: (chars, nbytes, len(enc.encode(text, allowed_special="all"))),
            "these are words, not GPT-2 tokens: count len(tokenizer.encode(text))":
                lambda: (chars, nbytes, len(text.split())),
            "the order is (characters, bytes, tokens)": lambda: (tokens, nbytes, chars),
        }, hint="len(text), len(text.encode('utf-8')), len(BPETokenizer.from_tiktoken('gpt2').encode(text))")
    passed("sizes counts characters, bytes and GPT-2 tokens correctly")


# ---- ex-02-unmerge ---------------------------------------------------------------------------------------------

def _expand(ids: Sequence[int], merges: dict[Pair, int], swap: bool = False) -> bytes:
    """The bytes of ids, by undoing merges recursively; swap=True puts each right part first (a mistake)."""
    parts = {new_id: pair for pair, new_id in merges.items()}

    def expand(i: int) -> bytes:
        if i < 256:
            return bytes([i])
        left, right = parts[i]
        return expand(right) + expand(left) if swap else expand(left) + expand(right)

    return b"".join(expand(i) for i in ids)


def check_to_bytes(fn: Callable[[list[int], dict[Pair, int]], bytes]) -> None:
    """`fn(ids, merges)` returns the bytes the token ids stand for, given only `merges` ((left, right) -> new id;
    ids 0..255 are the bytes), by expanding each merged id into its two parts, recursively."""
    tok = _trained()
    cases: list[tuple[list[int], dict[Pair, int], str]] = [
        ([104, 256], {(105, 33): 256}, "{(105, 33): 256}"),
        ([257], {(104, 105): 256, (256, 33): 257}, "{(104, 105): 256, (256, 33): 257}"),
        ([258, 97], {(97, 97): 256, (256, 256): 257, (257, 257): 258}, "3 merges, each of the one before twice"),
    ]
    cases += [(tok.encode(t), dict(tok.merges), f"the merges of a tokenizer trained on a short text, ids of {t!r}")
              for t in ["", "a", "To be, or not to be", "First Citizen:\nWe know't, we know't.", "naïve 🦙",
                        "Second Citizen:\nWould you proceed especially against Caius Marcius?"]]
    forbidden = _no_tokenizer("expand the ids yourself: invert merges into new_id -> (left, right) and recurse down "
                              "to bytes([i]) for ids below 256")
    for ids, merges, shown in cases:
        text = f"{fn.__name__}({ids if len(ids) <= 8 else f'{len(ids)} ids'}, merges) with merges = {shown}"
        got = call(fn, list(ids), dict(merges), call_text=text, forbidden=forbidden)
        expected = _expand(ids, merges)
        if isinstance(got, str):
            fail(text, describe(expected), f"a str: {describe(got)}", "return the bytes themselves: do not decode them")
        expect_equal(text, got, expected, mistakes={
            "the parts come out in the wrong order: a merged id expands to its left part, then its right part":
                lambda: _expand(ids, merges, swap=True),
        }, hint="ids below 256 are single bytes (bytes([i])); a merged id is its left part's bytes + its right part's")
    passed("to_bytes undoes the merges correctly, however deeply they nest")


# ---- ex-02-first -----------------------------------------------------------------------------------------------

def _trained_first_merge(text: str) -> Pair | None:
    """The first pair that BPE training merges on text (None if there is no pair at all); not cached, so that a
    reader's call to it is seen."""
    tok = BPETokenizer()
    tok.train(text, vocab_size=257)
    return next(iter(tok.merges), None)


def _pair_counts(pieces: list[Sequence[int]]) -> Counter[Pair]:
    return Counter(pair for piece in pieces for pair in zip(piece, piece[1:]))


def check_first_merge(fn: Callable[[str], Pair | None]) -> None:
    """`fn(text)` returns the byte pair (left, right) that BPE training merges first: the most frequent adjacent pair
    inside the GPT2_SPLIT_PATTERN chunks of the UTF-8 text, the smallest pair among ties; None if there is none."""
    texts = ["the cat and the hat", "aaaa", "ab ba", "a b c", "x. x. x.", "", "zy zy ab ab", "🦙🦙", "x", _TEXT]
    forbidden = _no_tokenizer("count the pairs yourself: regex.findall(GPT2_SPLIT_PATTERN, text), then a Counter of "
                              "zip(data, data[1:]) over each chunk's UTF-8 bytes")
    for text in texts:
        call_text = f"{fn.__name__}({describe(text, 40)})"
        got = call(fn, text, call_text=call_text, forbidden=forbidden)
        expected = _trained_first_merge(text)
        chunks = [c.encode("utf-8") for c in regex.findall(GPT2_SPLIT_PATTERN, text)]
        in_chunks, across = _pair_counts(chunks), _pair_counts([text.encode("utf-8")])
        by_chars = _pair_counts([[ord(ch) for ch in c] for c in regex.findall(GPT2_SPLIT_PATTERN, text)])
        mistakes = {
            "return a tuple (left, right), not a list": lambda: list(expected) if expected else None,
            "among equally frequent pairs return the smallest tuple (min over (-count, pair)), not the first seen":
                lambda: in_chunks.most_common(1)[0][0] if in_chunks else None,
            "pairs across chunks were counted: split with GPT2_SPLIT_PATTERN first, then count inside each chunk":
                lambda: min(across, key=lambda p: (-across[p], p)) if across else None,
            "these are characters, not bytes: count pairs of chunk.encode('utf-8')":
                lambda: min(by_chars, key=lambda p: (-by_chars[p], p)) if by_chars else None,
            "return byte values (ints), not characters": lambda: tuple(map(chr, expected)) if expected else None,
        }
        if got != expected or type(got) is not type(expected):
            fail(call_text, describe(expected), describe(got), diagnose(
                got, mistakes, "count the pairs of bytes inside each chunk; the most frequent wins, ties go to the "
                               "smallest pair"))
    passed("first_merge finds the pair that training merges first")


# ---- ex-02-stream ----------------------------------------------------------------------------------------------

def _stream(ids: Sequence[int], vocab: dict[int, bytes], flush: str = "last") -> list[str]:
    """The reference: an incremental UTF-8 decoder, flushed into the last piece. The mistakes: flush="never",
    flush="extra" (the flushed text as one more piece)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces = [decoder.decode(vocab[i]) for i in ids]
    tail = decoder.decode(b"", final=True)
    if flush == "extra":
        return pieces + [tail]
    if pieces and flush == "last":
        pieces[-1] += tail
    return pieces


def check_stream_decode(fn: Callable[[list[int], dict[int, bytes]], list[str]]) -> None:
    """`fn(ids, vocab)` returns one string per token: the text printable once that token has arrived, holding back
    the bytes of an unfinished character; joined, the strings equal the decoded text (with "\\ufffd" for a cut one)."""
    gpt2 = _gpt2()
    toy = {0: b"h", 1: b"i", 2: b"\xf0\x9f", 3: b"\xa6\x99", 4: b"\xf0", 5: b"\x9f", 6: b"\xa6", 7: b"\x99",
           8: b"\xff"}  # 2 + 3 and 4 + 5 + 6 + 7: the llama's 4 bytes; 8 can never be part of a character
    cases: list[tuple[str, list[int], dict[int, bytes]]] = [
        ("plain text", gpt2.encode("Hello there, world."), gpt2.vocab),
        ("emoji", gpt2.encode("I 🦙 you 👋🏽!"), gpt2.vocab),
        ("mixed scripts", gpt2.encode("東京 and नमस्ते"), gpt2.vocab),
        ("cut in a character", gpt2.encode("ok 🦙")[:-1], gpt2.vocab),
        ("only a broken piece", gpt2.encode("🦙")[1:2], gpt2.vocab),
        ("empty", [], gpt2.vocab),
        ("two halves of a character", [0, 1, 2, 3], toy),
        ("one byte at a time", [0, 4, 5, 6, 7, 1], toy),
        ("a character cut after its first half", [0, 2], toy),
        ("an invalid byte in the middle", [0, 8, 1], toy),
    ]
    own = forbid_helpers(__name__)  # _stream is the reference
    for name, ids, vocab in cases:
        text = f"{fn.__name__}({ids if len(ids) <= 8 else f'{len(ids)} ids'}, vocab): {name}"
        got = call(fn, list(ids), vocab, call_text=text, forbidden=own)
        expected = _stream(ids, vocab)
        whole = b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
        expect_equal(text, got, expected, mistakes={
            "return a list, one string per token": lambda: tuple(expected),
            "each token was decoded on its own: a token may hold part of a character, so keep its bytes until "
            "the character is complete (codecs.getincrementaldecoder('utf-8'))":
                lambda: [vocab[i].decode("utf-8", errors="replace") for i in ids],
            "the bytes of a cut character are lost: at the end, flush the decoder (decode(b'', final=True)) into "
            "the last piece; with errors='replace' they show as '\\ufffd'": lambda: _stream(ids, vocab, flush="never"),
            "the flushed text must go into the last piece, not into an extra one: one string per token":
                lambda: _stream(ids, vocab, flush="extra"),
            "everything was held back until the end: give each character as soon as its last byte arrives":
                lambda: [""] * (len(ids) - 1) + [whole] if ids else [],
        }, hint="each string holds the characters completed by that token (an invalid byte shows as '\\ufffd' at once)")
    passed("stream_decode holds back unfinished characters and loses nothing")


# ---- ex-02-ranks -----------------------------------------------------------------------------------------------

def _recover(ranks: dict[bytes, int], byte_ids: bool = True, lowest_rank_first: bool = True) -> dict[Pair, int] | None:
    """Merges from ranks: encode each multi-byte token, in rank order, with the merges found so far; the two ids
    that remain merge into it. byte_ids=False (bytes as their values) and lowest_rank_first=False (merge the leftmost
    known pair first) are the mistakes. None where a token does not end as two ids."""
    byte_id = {data[0]: (rank if byte_ids else data[0]) for data, rank in ranks.items() if len(data) == 1}
    merges: dict[Pair, int] = {}
    for data, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(data) == 1:
            continue
        ids = [byte_id[b] for b in data]
        while len(ids) > 2:
            known = [(merges[p], i) for i, p in enumerate(zip(ids, ids[1:])) if p in merges]
            if not known:
                return None
            i = min(known)[1] if lowest_rank_first else known[0][1]
            ids[i : i + 2] = [merges[ids[i], ids[i + 1]]]
        merges[ids[0], ids[1]] = rank
    return merges


def _first_split(ranks: dict[bytes, int]) -> dict[Pair, int]:
    """The shortcut that is a mistake: split each token at the first place where both halves are tokens."""
    merges = {}
    for data, rank in ranks.items():
        for k in range(1, len(data)):
            if data[:k] in ranks and data[k:] in ranks:
                merges[ranks[data[:k]], ranks[data[k:]]] = rank
                break
    return merges


def _first_difference(got: dict, expected: dict) -> str:
    """Where two dicts of merges differ, in a line."""
    for pair, new_id in expected.items():
        if got.get(pair) != new_id:
            inverse = {v: k for k, v in got.items()}
            found = f"{new_id} comes from {inverse[new_id]}" if new_id in inverse else f"no merge gives {new_id}"
            return f"{len(got)} merges; {found}, expected {pair} -> {new_id}"
    extra = next(pair for pair in got if pair not in expected)
    return f"{len(got)} merges, including {extra} -> {got[extra]}, which is not a merge"


@lru_cache(maxsize=1)
def _gpt2_ranks(limit: int) -> tuple[dict[bytes, int], dict[Pair, int]]:
    """GPT-2's first `limit` ranks (the 256 bytes and the first merges) and the merges they stand for."""
    gpt2 = _gpt2()
    ranks = {data: i for i, data in sorted(gpt2.vocab.items()) if i < limit}
    return ranks, {pair: i for pair, i in gpt2.merges.items() if i < limit}


def check_recover_merges(fn: Callable[[dict[bytes, int]], dict[Pair, int]]) -> None:
    """`fn(ranks)` recovers the merges ((left id, right id) -> id) from tiktoken-style ranks (token bytes -> id)."""
    abc = {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"abc": 4}
    gpt2_ranks, gpt2_merges = _gpt2_ranks(256 + 3000)
    cases: list[tuple[str, dict[bytes, int], dict[Pair, int]]] = [
        (str(abc), abc, {(0, 1): 3, (3, 2): 4}),
        (f"{dict(reversed(abc.items()))} (not in rank order)", dict(reversed(abc.items())), {(0, 1): 3, (3, 2): 4}),
        ("{b'a': 0, b'b': 1, b'c': 2, b'ab': 3, b'bc': 4, b'abc': 5}",
         {b"a": 0, b"b": 1, b"c": 2, b"ab": 3, b"bc": 4, b"abc": 5}, {(0, 1): 3, (1, 2): 4, (3, 2): 5}),
        ("{b'a': 0, b'b': 1, b'c': 2, b'bc': 3, b'ab': 4, b'abc': 5}",
         {b"a": 0, b"b": 1, b"c": 2, b"bc": 3, b"ab": 4, b"abc": 5}, {(1, 2): 3, (0, 1): 4, (0, 3): 5}),
        ("{b'b': 0, b'a': 1, b'ab': 2} (bytes not numbered by value)", {b"b": 0, b"a": 1, b"ab": 2}, {(1, 0): 2}),
        ("the 256 bytes only", {bytes([b]): b for b in range(256)}, {}),
        ("GPT-2's bytes and first 3,000 merges", gpt2_ranks, gpt2_merges),
    ]
    forbidden = _no_tokenizer("recover the merges yourself (BPETokenizer.from_tiktoken is the package's answer): go "
                              "through the tokens by rank and encode each one's bytes with the merges found so far")
    for shown, ranks, expected in cases:
        text = f"{fn.__name__}({shown})"
        got = call(fn, dict(ranks), call_text=text, forbidden=forbidden)
        if not isinstance(got, dict):
            fail(text, "a dict (left id, right id) -> id", f"a {type(got).__name__}: {describe(got)}",
                 "return a dict such as {(0, 1): 3}")
        if got != expected:
            hint = diagnose(got, {
                "start from each byte's id, ranks[bytes([b])], not from the byte value b":
                    lambda: _recover(ranks, byte_ids=False),
                "a token's bytes must be merged lowest rank first, as BPE encodes, not leftmost pair first":
                    lambda: _recover(ranks, lowest_rank_first=False),
                "splitting a token where both halves are tokens is not enough: encode its bytes with the merges of "
                "lower rank and take the two ids that remain": lambda: _first_split(ranks),
            }, "go through the tokens by rank; encode each one's bytes with the merges found so far (lowest rank "
               "first) until two ids remain: they merge into it")
            fail(text, f"{len(expected)} merges" + (f": {expected}" if len(expected) <= 3 else ""),
                 _first_difference(got, expected) if expected else describe(got), hint)
    passed(f"recover_merges finds the merges of 6 small vocabularies and GPT-2's first {len(gpt2_merges):,}")
