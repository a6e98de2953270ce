"""Checks for chapter 2's exercises: counting characters, bytes and tokens; repairing a merge; decoding a stream
of tokens; recovering GPT-2's merges from tiktoken's ranks; BPE with a pre-tokenizer that keeps each digit alone.

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
from gpt2lite.tokenizer import _merge as tokenizer_merge

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


# ---- ex-02-repair ----------------------------------------------------------------------------------------------

def _merge(ids: Sequence[int], pair: Pair, new_id: int, mistake: str | None = None) -> list[int]:
    """The reference: each occurrence of pair, left to right, each id used once. The mistakes: "zip" (the
    exercise's bug: the last id is lost unless the last pair merged), "always last" (the last id added back even
    after it merged), "reuse" (the right id of a merged pair starts the next pair too), "from the right" (scanning
    right to left)."""
    ids = list(ids)
    if mistake in ("zip", "always last", "reuse"):
        out, skip = [], False
        for left, right in zip(ids, ids[1:]):
            if skip and mistake != "reuse":
                skip = False
            elif (left, right) == pair:
                out.append(new_id)
                skip = True
            else:
                out.append(left)
        if ids and (mistake == "always last" or mistake == "reuse" and not skip):
            out.append(ids[-1])
        return out
    if mistake == "from the right":
        return _merge(ids[::-1], pair[::-1], new_id)[::-1]
    return tokenizer_merge(list(ids), tuple(pair), new_id)  # the right answer: the package's own merge


def _chapter_function(fn: Callable, name: str, shown: str, instead: str) -> Forbidden:
    """The chapter's own function `name`, if the reader's namespace has it (the notebook, or the solutions
    script): forbidden under the name `shown`, unless it is the reader's function itself."""
    found = getattr(fn, "__globals__", {}).get(name)
    if not callable(found) or found is fn or getattr(found, "__code__", None) is getattr(fn, "__code__", None):
        return Forbidden()
    try:
        return forbid({found: shown}, instead)
    except TypeError:  # not a Python function: nothing of the chapter's to refuse
        return Forbidden()


def check_merge_repair(fn: Callable[[list[int], Pair, int], list[int]]) -> None:
    """`fn(ids, pair, new_id)` returns a new list with each occurrence of pair, scanning left to right, replaced by
    new_id (an id that is the right half of a merged pair does not start another one); ids is left unchanged."""
    text_ids = list(_TEXT[:200].encode("utf-8"))
    cases: list[tuple[list[int], Pair, int]] = [
        ([1, 2, 3, 1, 2], (1, 2), 256),
        ([1, 2, 3], (1, 2), 256),
        ([3, 1, 2], (1, 2), 256),
        ([1, 2], (1, 2), 256),
        ([7, 7, 7], (7, 7), 256),
        ([7, 7, 7, 7], (7, 7), 300),
        ([7, 7, 7, 7, 7], (7, 7), 300),
        ([2, 1], (1, 2), 256),
        ([5], (5, 5), 256),
        ([], (1, 2), 256),
        ([256, 256, 97, 256, 256], (256, 256), 257),
        (text_ids, (101, 32), 256),
        (text_ids, (32, 116), 256),
    ]
    forbidden = _no_tokenizer("repair the loop itself: after the zip, the last id still has to be added "
                              "(unless it was merged)") + _chapter_function(
        fn, "merge", "merge", "that is the chapter's merge: repair the zip-based loop itself")
    for ids, pair, new_id in cases:
        shown = ids if len(ids) <= 8 else f"{len(ids)} ids of a passage"
        text = f"{fn.__name__}({shown}, {pair}, {new_id})"
        given = list(ids)
        got = call(fn, given, pair, new_id, call_text=text, forbidden=forbidden,
                   crash_hint="ids may be empty or hold a single id")
        if given != ids:
            fail(text, "ids left as they were", f"ids changed to {describe(given)}",
                 "build a new list: do not change the list you were given")
        expected = _merge(ids, pair, new_id)
        if isinstance(got, tuple) and list(got) == expected:
            fail(text, describe(expected), f"a tuple: {describe(got)}", "return a list")
        expect_equal(text, got, expected, mistakes={
            "this is the bug: the last id is lost when it is not part of a merge. zip(ids, ids[1:]) shows it only "
            "as the right half of the last pair; add it after the loop unless that pair merged":
                lambda: _merge(ids, pair, new_id, "zip"),
            "the last id was added even though the last pair merged: it is already inside new_id":
                lambda: _merge(ids, pair, new_id, "always last"),
            "the right half of a merged pair was used again, to start the next pair: skip it":
                lambda: _merge(ids, pair, new_id, "reuse"),
            "the scan went right to left: overlapping pairs such as [7, 7, 7] merge from the left":
                lambda: _merge(ids, pair, new_id, "from the right"),
        }, hint="scan left to right; a merged pair uses both its ids; every id not merged stays, the last one too")
    passed(f"merge_pairs is repaired: the last id is kept, on {len(cases)} cases (overlaps, empty, one id)")


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


# ---- ex-02-digits ----------------------------------------------------------------------------------------------

def _digit_pattern() -> str:
    """The reference: GPT-2's pattern with each digit a chunk of its own. A function, not a constant, so that an
    answer that hands it back is seen (and refused)."""
    return GPT2_SPLIT_PATTERN.replace(r" ?\p{N}+", r"\p{N}")


WHITESPACE_PATTERN = r"\s+|\S+"  # chunks are the runs of non-space and of space

# Dates and numbers of Shakespeare's life and plays, for the digits to have something to merge.
_NUMBERS = (
    "Born in 1564, baptised 26 April 1564; married in 1582; died 23 April 1616, aged 52.\n"
    "Hamlet, 1600 or 1601; Othello, 1603 or 1604; King Lear, 1605 or 1606; Macbeth, 1606.\n"
    "The Tempest, 1610 or 1611; the First Folio, 1623: 36 plays, printed in about 750 copies.\n"
    "Sonnets, 1609: 154 sonnets, 2155 lines; Act 1, Scene 2; Act 3, Scene 1; Act 5, Scene 2.\n"
)

_SPLIT_SAMPLES = [
    "I'm sure they've 3 dogs, 1234 cats and   17.5% of you'll AGREE!! I'M  sure.\n",
    "In 1564, 3.14159 and 1,000,000 and -42e7 and 0x1F.",
    "abc123def 42\t7",
    "x  2026\n\n 9",
    "٣٤ and ½ and x² (digits of other scripts)",
    "no digits at all",
    "",
]


def _split_mistakes(sample: str) -> dict[str, Callable[[], list[str]]]:
    everywhere = GPT2_SPLIT_PATTERN.replace(r" ?\p{N}+", r"\d").replace(r"\p{N}", r"\d")
    return {
        "\\d is not \\p{N}: ½ and ² are numbers (\\p{N}) but not decimal digits (\\d); keep \\p{N}":
            lambda: regex.findall(everywhere, sample),
        "digits still come in runs (GPT-2's ` ?\\p{N}+`): keep each digit alone, \\p{N} without the +":
            lambda: regex.findall(GPT2_SPLIT_PATTERN, sample),
        "a space is glued to the digit (` ?\\p{N}`): here the space before a digit is a chunk of its own, "
        "\\p{N} alone": lambda: regex.findall(_digit_pattern().replace(r"\p{N}", r" ?\p{N}", 1), sample),
        "a run of digits was cut in groups, not into single digits: \\p{N}, one at a time":
            lambda: regex.findall(_digit_pattern().replace(r"\p{N}", r"\p{N}{1,3}", 1), sample),
    }


def _train(text: str, num_merges: int, pattern: str, mistake: str | None = None) -> dict[Pair, int]:
    """Byte-level BPE by recounting: the reference's merges when mistake is None. The mistakes: "no split" (pairs
    counted across chunks), "once" (each distinct chunk counted once), "first seen" (ties to the first pair seen,
    not the smallest), "chars" (characters, not bytes)."""
    chunks = [text] if mistake == "no split" else regex.findall(pattern, text)
    counted = Counter(chunks)
    words = {tuple(ord(c) for c in chunk) if mistake == "chars" else tuple(chunk.encode("utf-8")): n
             for chunk, n in counted.items()}
    merges: dict[Pair, int] = {}
    while len(merges) < num_merges:
        stats: Counter[Pair] = Counter()
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                stats[pair] += 1 if mistake == "once" else n
        if not stats:
            break
        best = stats.most_common(1)[0][0] if mistake == "first seen" else min(stats, key=lambda p: (-stats[p], p))
        new_id = 256 + len(merges)
        merges[best] = new_id
        words = {tuple(_merge(word, best, new_id)): n for word, n in words.items()}
    return merges


def _token_bytes(merges: dict[Pair, int]) -> dict[int, bytes]:
    vocab = {b: bytes([b]) for b in range(256)}
    for (left, right), new_id in sorted(merges.items(), key=lambda item: item[1]):
        vocab[new_id] = vocab.get(left, b"?") + vocab.get(right, b"?")
    return vocab


def check_digit_bpe(fn: Callable[[str, int, str], dict[Pair, int]], pattern_fn: Callable[[], str]) -> None:
    """`pattern_fn()` returns GPT-2's split pattern with each digit a chunk of its own (no space glued to it);
    `fn(text, num_merges, pattern)` trains byte-level BPE on the chunks of any pattern and returns its merges (left,
    right) -> new id, ids 256, 257, ... in the order learned (the most frequent pair; ties to the smallest; stop
    when no pair is left). The ✓ line says how the merges of the two patterns differ."""
    name = getattr(fn, "__name__", "train_bpe")
    pattern_name = f"{getattr(pattern_fn, '__name__', 'digit_pattern')}()"
    pattern = call(pattern_fn, call_text=pattern_name, forbidden=forbid_helpers(__name__))
    if not isinstance(pattern, str):
        fail(pattern_name, "a str: a regular expression", f"a {type(pattern).__name__}: {describe(pattern)}",
             "return the pattern as a string, like GPT2_SPLIT_PATTERN")
    try:
        compiled = regex.compile(pattern)
    except regex.error as e:
        fail(pattern_name, "a valid regular expression", f"regex.error: {e}", "it must compile with regex.compile")
    for sample in _SPLIT_SAMPLES:
        text = f"regex.findall({pattern_name}, {describe(sample, 50)})"
        got = compiled.findall(sample)
        expected = regex.findall(_digit_pattern(), sample)
        if got != expected:
            lost = "".join(map(str, got)) != sample
            fail(text, describe(expected, 200), describe(got, 200), diagnose(got, _split_mistakes(sample), (
                "some characters fall in no chunk: \\p{N} (digits of every script, ½, ²) is not the same as \\d "
                "or [0-9]" if lost else "change only GPT-2's ` ?\\p{N}+`; everything else splits as before")))

    forbidden = _no_tokenizer("train BPE yourself: split with the pattern, count the pairs inside the chunks, "
                              "merge the most frequent, repeat (BPETokenizer.train is the package's answer)")
    cases = [
        (_NUMBERS + _TEXT, 60, GPT2_SPLIT_PATTERN, "GPT2_SPLIT_PATTERN"),
        (_NUMBERS + _TEXT, 60, pattern, pattern_name),
        (_NUMBERS + _TEXT, 60, WHITESPACE_PATTERN, repr(WHITESPACE_PATTERN)),
        ("naïve café, 東京 and 東京 and naïve", 12, pattern, pattern_name),
        ("aaaa aaaa", 10, GPT2_SPLIT_PATTERN, "GPT2_SPLIT_PATTERN"),
        ("", 5, pattern, pattern_name),
    ]
    learned = {}
    for text_, n, pat, shown in cases:
        text = f"{name}({describe(text_, 40)}, {n}, {shown})"
        got = call(fn, text_, n, pat, call_text=text, forbidden=forbidden,
                   crash_hint="a tiny text runs out of pairs: stop early when there is no pair left")
        tok = BPETokenizer(pattern=_digit_pattern() if pat is pattern else pat)  # the reference's pattern
        tok.train(text_, vocab_size=256 + n, method="recount")
        expected = dict(tok.merges)
        if not isinstance(got, dict):
            fail(text, "a dict (left, right) -> new id", f"a {type(got).__name__}: {describe(got)}",
                 "return a dict such as {(101, 32): 256, ...}")
        if got != expected or list(got.items()) != list(expected.items()):
            vocab = _token_bytes(expected)
            wrong = next((i for i, (g, e) in enumerate(zip(got.items(), expected.items())) if g != e),
                         min(len(got), len(expected)))
            detail = (f"{len(got)} merges; merge {wrong + 1} is {list(got.items())[wrong]}"
                      if wrong < len(got) else f"{len(got)} merges")
            want = list(expected.items())[wrong] if wrong < len(expected) else None
            want_text = (f"{len(expected)} merges; merge {wrong + 1} is {want} ({vocab[want[1]]!r})"
                         if want else f"{len(expected)} merges")
            mistakes = {
                "the pattern argument was ignored: GPT-2's pattern split the text": lambda: _train(
                    text_, n, GPT2_SPLIT_PATTERN) if pat != GPT2_SPLIT_PATTERN else None,
                "pairs were counted across chunks: split with the pattern first, then count inside each chunk":
                    lambda: _train(text_, n, pat, "no split"),
                "each distinct chunk counts as often as it occurs in the text, not once":
                    lambda: _train(text_, n, pat, "once"),
                "among equally frequent pairs the smallest (left, right) wins, not the first seen":
                    lambda: _train(text_, n, pat, "first seen"),
                "these are characters, not bytes: train on chunk.encode('utf-8')":
                    lambda: _train(text_, n, pat, "chars"),
                "the new ids are 256, 257, ... in the order learned": lambda: {
                    p: i for i, p in enumerate(expected, start=255)},
            }
            fail(text, want_text, detail, diagnose(got, mistakes, "recount the pairs of the merged chunks after "
                                                               "each merge; the most frequent pair wins"))
        learned.setdefault(shown, got)  # the first, longer run of each pattern

    def numbers(merges: dict[Pair, int]) -> list[bytes]:
        vocab = _token_bytes(merges)
        return [vocab[i] for i in merges.values() if vocab[i].strip().isdigit() and len(vocab[i].strip()) > 1]

    def glued(merges: dict[Pair, int]) -> list[bytes]:  # a word or number with punctuation stuck to it
        vocab = _token_bytes(merges)
        return [vocab[i] for i in merges.values()
                if any(c.isalnum() for c in vocab[i].decode("utf-8", "replace"))
                and any(not c.isalnum() and not c.isspace() for c in vocab[i].decode("utf-8", "replace"))]

    gpt2, digits = learned["GPT2_SPLIT_PATTERN"], learned[pattern_name]
    tokens = [{_token_bytes(m)[i] for i in m.values()} for m in (gpt2, digits)]
    shared = len(tokens[0] & tokens[1])  # the same token may get another id
    gpt2_numbers = numbers(gpt2)
    shown_numbers = ", ".join(repr(t.decode()) for t in gpt2_numbers[:3])
    punctuated = glued(learned[repr(WHITESPACE_PATTERN)])
    passed(f"{name} learns the reference's merges for 3 patterns. Of 60 merges on the dates, GPT-2's pattern "
           f"spends {len(gpt2_numbers)} on numbers ({shown_numbers}), the digit pattern {len(numbers(digits))}, "
           f"whitespace only glues punctuation in {len(punctuated)}; GPT-2's and the digit pattern share {shared} "
           f"tokens")
