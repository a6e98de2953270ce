"""Chapter 2's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import codecs
from collections import Counter

import pytest
import regex

from gpt2lite.checks import (
    CheckFailed,
    check_first_merge,
    check_recover_merges,
    check_sizes,
    check_stream_decode,
    check_to_bytes,
)
from gpt2lite.tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer
from gpt2lite.checks import tokenization as ch2
from gpt2lite.tokenizer import BPETokenizer

tiktoken = pytest.importorskip("tiktoken")


def stub(*args):
    raise NotImplementedError("your code here")


@pytest.fixture(scope="module")
def gpt2():
    return BPETokenizer.from_tiktoken("gpt2")


# ---- ex-02-count ------------------------------------------------------------------------------------------------

def test_sizes(gpt2, capsys):
    check_sizes(lambda text: (len(text), len(text.encode("utf-8")), len(gpt2.encode(text))))
    assert capsys.readouterr().out.startswith("✓ sizes")


@pytest.mark.parametrize("wrong, hint", [
    (lambda gpt2: lambda t: [len(t), len(t.encode("utf-8")), len(gpt2.encode(t))], "not a list"),
    (lambda gpt2: lambda t: (len(t), len(t), len(gpt2.encode(t))), "the byte count is the character count"),
    (lambda gpt2: lambda t: (len(t), len(t.encode("utf-8")), len(gpt2.encode(t, allowed_special="all"))),
     "counted as one special token"),
    (lambda gpt2: lambda t: (len(t), len(t.encode("utf-8")), len(t.split())), "these are words"),
    (lambda gpt2: lambda t: (len(gpt2.encode(t)), len(t.encode("utf-8")), len(t)), "the order is"),
    (lambda gpt2: stub, "not written yet"),
])
def test_sizes_catches(gpt2, wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_sizes(wrong(gpt2))


# ---- ex-02-unmerge ----------------------------------------------------------------------------------------------

def to_bytes(ids, merges, swap=False):
    parts = {new_id: pair for pair, new_id in merges.items()}  # new id -> (left, right)

    def expand(i):
        if i < 256:
            return bytes([i])
        left, right = parts[i]
        return expand(right) + expand(left) if swap else expand(left) + expand(right)

    return b"".join(expand(i) for i in ids)


def test_to_bytes(capsys):
    check_to_bytes(to_bytes)
    assert capsys.readouterr().out.startswith("✓ to_bytes")


def _one_level(ids, merges):
    """Expands a merged id into its parts once, taking the parts for bytes."""
    parts = {new_id: pair for pair, new_id in merges.items()}
    return bytes(b for i in ids for b in (parts[i] if i >= 256 else (i,)))


@pytest.mark.parametrize("wrong, hint", [
    (lambda ids, merges: to_bytes(ids, merges, swap=True), "the parts come out in the wrong order"),
    (lambda ids, merges: to_bytes(ids, merges).decode("utf-8"), "do not decode"),
    (_one_level, "raised ValueError"),
    (stub, "not written yet"),
])
def test_to_bytes_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_to_bytes(wrong)


# ---- ex-02-first ------------------------------------------------------------------------------------------------

def first_merge(text, split=True, by_chars=False, ties="smallest", as_type=tuple):
    """The first merge, with switches that reproduce the classic mistakes."""
    stats = Counter()
    for chunk in regex.findall(GPT2_SPLIT_PATTERN, text) if split else [text]:
        data = [ord(ch) for ch in chunk] if by_chars else chunk.encode("utf-8")
        stats.update(zip(data, data[1:]))
    if not stats:
        return None
    best = min(stats, key=lambda p: (-stats[p], p)) if ties == "smallest" else stats.most_common(1)[0][0]
    return as_type(best)


def test_first_merge(capsys):
    check_first_merge(first_merge)
    assert capsys.readouterr().out.startswith("✓ first_merge")


@pytest.mark.parametrize("wrong, hint", [
    (lambda t: first_merge(t, as_type=list), "not a list"),
    (lambda t: first_merge(t, ties="first seen"), "the smallest tuple"),
    (lambda t: first_merge(t, split=False), "pairs across chunks were counted"),
    (lambda t: first_merge(t, by_chars=True), "these are characters, not bytes"),
    (lambda t: first_merge(t, as_type=lambda p: tuple(map(chr, p))), r"byte values \(ints\)"),
    (lambda t: first_merge(t) or (), "the most frequent wins"),
    (stub, "not written yet"),
])
def test_first_merge_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_first_merge(wrong)


# ---- ex-02-stream -----------------------------------------------------------------------------------------------

def stream_decode(ids, vocab, errors="replace", flush="last"):
    """stream_decode, with switches that reproduce the classic mistakes."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
    pieces = [decoder.decode(vocab[i]) for i in ids]
    if flush == "extra":
        pieces.append(decoder.decode(b"", final=True))
    elif pieces and flush == "last":
        pieces[-1] += decoder.decode(b"", final=True)  # flush bytes of an unfinished last character
    return pieces


def test_stream_decode(capsys):
    check_stream_decode(stream_decode)
    assert capsys.readouterr().out.startswith("✓ stream_decode")


def _hold_all(ids, vocab):
    text = b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
    return [""] * (len(ids) - 1) + [text] if ids else []


def _hold_until_valid(ids, vocab):
    """Holds back all the bytes until they decode: the complete characters before an unfinished one too."""
    pieces, held = [], b""
    for i in ids:
        held += vocab[i]
        try:
            pieces.append(held.decode("utf-8"))
            held = b""
        except UnicodeDecodeError:
            pieces.append("")
    if pieces:
        pieces[-1] += held.decode("utf-8", errors="replace")
    return pieces


def _hold_invalid(ids, vocab):
    """Gives the characters that decode, and holds back the rest, even a byte that never starts a character."""
    pieces, held = [], b""
    for i in ids:
        held += vocab[i]
        try:
            text, held = held.decode("utf-8"), b""
        except UnicodeDecodeError as e:
            text, held = held[: e.start].decode("utf-8"), held[e.start :]
        pieces.append(text)
    if pieces:
        pieces[-1] += held.decode("utf-8", errors="replace")
    return pieces


@pytest.mark.parametrize("wrong, hint", [
    (lambda ids, vocab: tuple(stream_decode(ids, vocab)), "return a list"),
    (lambda ids, vocab: [vocab[i].decode("utf-8", errors="replace") for i in ids], "decoded on its own"),
    (lambda ids, vocab: stream_decode(ids, vocab, flush="never"), "bytes of a cut character are lost"),
    (lambda ids, vocab: stream_decode(ids, vocab, flush="extra"), "not into an extra one"),
    (lambda ids, vocab: stream_decode(ids, vocab, errors="ignore"), "with errors='replace'"),
    (_hold_all, "held back until the end"),
    (_hold_until_valid, "the characters completed by that token"),
    (_hold_invalid, "an invalid byte shows as '.ufffd' at once"),
    (lambda ids, vocab: stream_decode(ids, vocab, errors="strict"), "raised UnicodeDecodeError"),
    (stub, "not written yet"),
])
def test_stream_decode_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_stream_decode(wrong)


# ---- ex-02-ranks ------------------------------------------------------------------------------------------------

def recover_merges(ranks, byte_ids=True, order="rank", lowest_rank_first=True):
    """recover_merges, with switches that reproduce the classic mistakes."""
    byte_id = {data[0]: rank if byte_ids else data[0] for data, rank in ranks.items() if len(data) == 1}
    merges = {}
    tokens = sorted(ranks.items(), key=lambda item: item[1]) if order == "rank" else ranks.items()
    for data, rank in tokens:
        if len(data) == 1:
            continue
        ids = [byte_id[b] for b in data]
        while len(ids) > 2:
            known = [(merges[p], i) for i, p in enumerate(zip(ids, ids[1:])) if p in merges]
            _, i = min(known) if lowest_rank_first else known[0]
            ids[i : i + 2] = [merges[ids[i], ids[i + 1]]]
        merges[ids[0], ids[1]] = rank
    return merges


def test_recover_merges(capsys):
    check_recover_merges(recover_merges)
    assert capsys.readouterr().out.startswith("✓ recover_merges")


def _first_split(ranks):
    merges = {}
    for data, rank in sorted(ranks.items(), key=lambda item: item[1]):
        for k in range(1, len(data)):
            if data[:k] in ranks and data[k:] in ranks:
                merges[ranks[data[:k]], ranks[data[k:]]] = rank
                break
    return merges


@pytest.mark.parametrize("wrong, hint", [
    (lambda ranks: recover_merges(ranks, byte_ids=False), "not from the byte value"),
    (lambda ranks: recover_merges(ranks, lowest_rank_first=False), "lowest rank first"),
    (_first_split, "both halves are tokens is not enough"),
    (lambda ranks: recover_merges(ranks, order="as given"), r"not in rank order\)\)\n  raised ValueError"),
    (lambda ranks: list(recover_merges(ranks).items()), "return a dict"),
    (lambda ranks: {pair: i for pair, i in recover_merges(ranks).items() if i < 1000}, "no merge gives"),
    (stub, "not written yet"),
])
def test_recover_merges_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_recover_merges(wrong)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _tokenizer_bytes(ids, merges):
    tok = BPETokenizer()
    tok.merges = dict(merges)
    tok._build_vocab()
    return tok.decode_bytes(ids)


def _trained_merge(text):
    tok = BPETokenizer()
    tok.train(text, vocab_size=257)
    return next(iter(tok.merges), None)


def _gpt2_merges(ranks):
    return {pair: i for pair, i in BPETokenizer.from_tiktoken("gpt2").merges.items() if i < len(ranks)}


SHORTCUTS = [
    ("check_to_bytes", _tokenizer_bytes, r"gpt2lite\.tokenizer\.(BPETokenizer\.)?__init__"),
    ("check_to_bytes", lambda ids, merges: ch2._expand(ids, merges), r"gpt2lite\.checks\.tokenization\._expand"),
    ("check_first_merge", _trained_merge, r"gpt2lite\.tokenizer\.(BPETokenizer\.)?__init__"),
    ("check_first_merge", lambda text: ch2._trained_first_merge(text), r"_trained_first_merge"),
    ("check_stream_decode", lambda ids, vocab: ch2._stream(ids, vocab), r"gpt2lite\.checks\.tokenization\._stream"),
    ("check_recover_merges", _gpt2_merges, r"gpt2lite\.tokenizer\.(BPETokenizer\.)?from_tiktoken"),
    ("check_recover_merges", lambda ranks: ch2._recover(ranks), r"gpt2lite\.checks\.tokenization\._recover"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    'check_sizes': 'counting lengths of strings and lists; there is nothing to call',
}
