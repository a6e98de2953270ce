"""Chapter 2's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import codecs
import json
import re
from collections import Counter
from pathlib import Path

import pytest
import regex

from gpt2lite.checks import (
    CheckFailed,
    check_digit_bpe,
    check_merge_repair,
    check_recover_merges,
    check_sizes,
    check_stream_decode,
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


# ---- ex-02-repair ---------------------------------------------------------------------------------------------

def merge_pairs(ids, pair, new_id, bug=None):
    """The zip-based merge of the exercise, repaired; bug= puts back a classic mistake."""
    merged, skip = [], False
    for left, right in zip(ids, ids[1:]):
        if skip and bug != "reuse":
            skip = False
        elif (left, right) == pair:
            merged.append(new_id)
            skip = True
        else:
            merged.append(left)
    if ids and bug != "zip" and (not skip or bug == "always last"):
        merged.append(ids[-1])
    return merged


def _shown_bug():
    """merge_pairs as the exercise text shows it (the python block of ex-02-repair), run from the notebook."""
    nb = json.loads((Path(__file__).resolve().parents[1] / "book" / "02_tokenization.ipynb").read_text())
    text = next("".join(c["source"]) for c in nb["cells"] if ":label: ex-02-repair" in "".join(c["source"]))
    namespace = {}
    exec(text.split("```python\n", 1)[1].split("```", 1)[0], namespace)
    return namespace["merge_pairs"]


def test_merge_repair_names_the_bug_the_exercise_shows():
    buggy = _shown_bug()
    assert buggy([1, 2, 3, 1, 2], (1, 2), 256) == [256, 3, 256]  # right here, as the exercise says
    with pytest.raises(CheckFailed, match="this is the bug: the last id is lost"):
        check_merge_repair(buggy)


def test_merge_repair(capsys):
    check_merge_repair(merge_pairs)
    assert capsys.readouterr().out.startswith("✓ merge_pairs is repaired")


def _from_the_right(ids, pair, new_id):
    return merge_pairs(ids[::-1], pair[::-1], new_id)[::-1]


def _in_place(ids, pair, new_id):
    ids[:] = merge_pairs(ids, pair, new_id)
    return ids


def _crashes_on_empty(ids, pair, new_id):
    merged = merge_pairs(ids, pair, new_id, bug="zip")
    return merged if skip_last(ids, pair) else merged + [ids[-1]]


def skip_last(ids, pair):
    return len(ids) >= 2 and merge_pairs(ids, pair, -1)[-1] == -1


@pytest.mark.parametrize("wrong, hint", [
    (lambda ids, pair, new_id: merge_pairs(ids, pair, new_id, bug="zip"), "this is the bug: the last id is lost"),
    (lambda ids, pair, new_id: merge_pairs(ids, pair, new_id, bug="always last"), "already inside new_id"),
    (lambda ids, pair, new_id: merge_pairs(ids, pair, new_id, bug="reuse"), "used again, to start the next pair"),
    (_from_the_right, "right to left"),
    (_in_place, "do not change the list you were given"),
    (lambda ids, pair, new_id: tuple(merge_pairs(ids, pair, new_id)), "return a list"),
    (_crashes_on_empty, "raised IndexError.*\n  hint:     ids may be empty"),
    (stub, "not written yet"),
])
def test_merge_repair_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_merge_repair(wrong)


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


# ---- ex-02-digits ---------------------------------------------------------------------------------------------

def digit_pattern():
    return GPT2_SPLIT_PATTERN.replace(r" ?\p{N}+", r"\p{N}")


def train_bpe(text, num_merges, pattern, mistake=None):
    """BPE on the chunks of pattern, written apart from the check's reference; mistake= reproduces a classic one."""
    if mistake == "ignore pattern":
        pattern = GPT2_SPLIT_PATTERN
    chunks = [text] if mistake == "no split" else regex.findall(pattern, text)
    counts = Counter(chunks)
    words = [[ord(ch) for ch in c] if mistake == "chars" else list(c.encode("utf-8")) for c in counts]
    freqs = [1 if mistake == "once" else n for n in counts.values()]
    merges = {}
    for new_id in range(256, 256 + num_merges):
        stats = Counter()
        for word, n in zip(words, freqs):
            for pair in zip(word, word[1:]):
                stats[pair] += n
        if not stats:
            if mistake == "no stop":
                max(stats)  # ValueError: max() arg is an empty sequence
            break
        best = stats.most_common(1)[0][0] if mistake == "first seen" else min(stats, key=lambda p: (-stats[p], p))
        merges[best] = new_id - 1 if mistake == "from 255" else new_id
        words = [merge_pairs(word, best, new_id) for word in words]
    return merges


def test_digit_bpe(capsys):
    check_digit_bpe(train_bpe, digit_pattern)
    out = capsys.readouterr().out
    assert out.startswith("✓ train_bpe learns the reference's merges for 3 patterns")
    assert re.search(r"GPT-2's pattern spends [1-9]\d* on numbers \(' 16', ' 160', ' 15'\), the digit pattern 0,", out)
    assert re.search(r"whitespace only glues punctuation in [1-9]\d*; "
                     r"GPT-2's and the digit pattern share [1-9]\d* tokens", out)


def test_digit_bpe_reference_is_the_package():
    """The check's own trainer (behind its mistakes) learns the package's merges, in the same order."""
    text = ch2._NUMBERS + ch2._TEXT
    for pattern in [GPT2_SPLIT_PATTERN, ch2._digit_pattern(), ch2.WHITESPACE_PATTERN]:
        tok = BPETokenizer(pattern=pattern)
        tok.train(text, vocab_size=256 + 60)
        assert list(ch2._train(text, 60, pattern).items()) == list(tok.merges.items())


@pytest.mark.parametrize("pattern, hint", [
    (GPT2_SPLIT_PATTERN, "digits still come in runs"),
    (GPT2_SPLIT_PATTERN.replace(r" ?\p{N}+", r" ?\p{N}"), "a space is glued to the digit"),
    (GPT2_SPLIT_PATTERN.replace(r" ?\p{N}+", r"\p{N}{1,3}"), "cut in groups"),
    (GPT2_SPLIT_PATTERN.replace(r" ?\p{N}+", r"\d").replace(r"\p{N}", r"\d"), r"\\d is not \\p\{N\}"),
    (GPT2_SPLIT_PATTERN.replace(r" ?\p{N}+", r"[0-9]"), "fall in no chunk"),
    (GPT2_SPLIT_PATTERN.replace(r" ?\p{N}+", r"\p{N}").replace("'m|", ""), "change only GPT-2's"),
    ("(", "a valid regular expression"),
    (None, "return the pattern as a string"),
])
def test_digit_pattern_catches(pattern, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_digit_bpe(train_bpe, lambda: pattern)


@pytest.mark.parametrize("mistake, hint", [
    ("ignore pattern", "the pattern argument was ignored"),
    ("no split", "counted across chunks"),
    ("once", "not once"),
    ("first seen", "not the first seen"),
    ("chars", "these are characters, not bytes"),
    ("from 255", "the new ids are 256, 257"),
    ("no stop", "raised ValueError.*\n  hint:     a tiny text runs out of pairs"),
])
def test_digit_bpe_catches(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_digit_bpe(lambda text, n, pattern: train_bpe(text, n, pattern, mistake), digit_pattern)


def test_digit_bpe_catches_stubs():
    with pytest.raises(CheckFailed, match="stub is not written yet"):
        check_digit_bpe(train_bpe, stub)
    with pytest.raises(CheckFailed, match="not written yet"):
        check_digit_bpe(stub, digit_pattern)
    with pytest.raises(CheckFailed, match="return a dict"):
        check_digit_bpe(lambda text, n, pattern: list(train_bpe(text, n, pattern).items()), digit_pattern)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def merge(ids, pair, new_id):
    """The chapter's merge, as the notebook defines it: the repaired function may not hand over to it."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _package_merge(ids, pair, new_id):
    from gpt2lite.tokenizer import _merge
    return _merge(ids, pair, new_id)


def _package_trainer(text, num_merges, pattern):
    tok = BPETokenizer(pattern=pattern)
    tok.train(text, vocab_size=256 + num_merges)
    return dict(tok.merges)


def _gpt2_merges(ranks):
    return {pair: i for pair, i in BPETokenizer.from_tiktoken("gpt2").merges.items() if i < len(ranks)}


SHORTCUTS = [
    ("check_merge_repair", _package_merge, r"gpt2lite\.tokenizer\._merge"),
    ("check_merge_repair", lambda ids, pair, new_id: merge(ids, pair, new_id), r"merge"),
    ("check_merge_repair", lambda ids, pair, new_id: ch2._merge(ids, pair, new_id),
     r"gpt2lite\.checks\.tokenization\._merge"),
    ("check_stream_decode", lambda ids, vocab: ch2._stream(ids, vocab), r"gpt2lite\.checks\.tokenization\._stream"),
    ("check_recover_merges", _gpt2_merges, r"gpt2lite\.tokenizer\.(BPETokenizer\.)?from_tiktoken"),
    ("check_recover_merges", lambda ranks: ch2._recover(ranks), r"gpt2lite\.checks\.tokenization\._recover"),
    ("check_digit_bpe", (_package_trainer, digit_pattern), r"gpt2lite\.tokenizer\.(BPETokenizer\.)?__init__"),
    ("check_digit_bpe", (lambda text, n, pattern: ch2._train(text, n, pattern), digit_pattern),
     r"gpt2lite\.checks\.tokenization\._train"),
    ("check_digit_bpe", (train_bpe, lambda: ch2._digit_pattern()), r"gpt2lite\.checks\.tokenization\._digit_pattern"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    'check_sizes': 'counting lengths of strings and lists; there is nothing to call',
}
