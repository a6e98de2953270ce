"""Byte-level BPE, the tokenizer of GPT-2: load GPT-2's exact vocabulary, or train your own.

Text becomes ids in three steps:

1. a regex splits the text into chunks (words, numbers, punctuation runs, whitespace), so merges never cross
   a word boundary and " dog", " dog." and " dog!" all share the token " dog";
2. each chunk becomes its UTF-8 bytes, and each byte its base token (so any text at all can be encoded);
3. adjacent pairs of tokens are merged into new tokens, always the pair that was learned earliest first,
   until no learned pair is left.

Training (``BPETokenizer.train``) learns those merges: start from bytes, and repeatedly merge the most
frequent adjacent pair of the training text into a new token.

``BPETokenizer.from_tiktoken("gpt2")`` gives the same ids as tiktoken, with one caveat: the ``regex`` package may
know a newer Unicode version than tiktoken's Rust regex, so characters assigned only recently (e.g. Unicode 17's
CJK Extension J) can be letters here and not there, and split differently.
"""

from __future__ import annotations

import heapq
import json
import numbers
import os
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import regex

from .validate import choice, in_range, integer, item

if TYPE_CHECKING:
    import tiktoken

# GPT-2's pre-tokenizer: English contractions, letters, digits, other symbols (each optionally led by one space),
# then whitespace. "\s+(?!\S)" leaves the last space of a run to start the next word: "a   b" -> "a", "  ", " b".
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

_FILE_FORMAT = "gpt2lite-bpe-v1"
_CACHE_SIZE = 1 << 16  # chunks remembered by encode; the cache is emptied when full, so memory stays bounded

Pair = tuple[int, int]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to 256 printable characters.

    encoder.json and vocab.bpe store tokens as text. Bytes that are printable characters ("!".."~", "¡".."¬",
    "®".."ÿ") stand for themselves; the other 68 (controls, space, ...) are moved to chr(256) and up, so a space
    is written "Ġ" and a newline "Ċ". The dict lists the printable bytes first: that is also the order of
    GPT-2's base token ids 0..255.
    """
    ranges = [("!", "~"), ("¡", "¬"), ("®", "ÿ")]
    printable = [b for first, last in ranges for b in range(ord(first), ord(last) + 1)]
    table = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in table]
    table.update({b: chr(256 + n) for n, b in enumerate(others)})
    return table


def _merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace each occurrence of pair in ids, scanning left to right, by new_id."""
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _pairs(ids: list[int]) -> Iterator[Pair]:
    """The adjacent pairs of ids: [1, 2, 3] -> (1, 2), (2, 3)."""
    return zip(ids, ids[1:])


def bpe_by_rank(ids: list[int], merges: dict[Pair, int]) -> list[int]:
    """BPE the plain way: repeatedly merge, everywhere, the adjacent pair learned first (lowest rank).

    The reference for BPETokenizer's heap-based encoder, which gives the same ids in O(n log n) instead of
    O(n^2); a property test checks that they agree. A merged pair's new id is its rank, as in GPT-2.
    """
    ids = list(ids)
    while len(ids) >= 2:
        pair = min(_pairs(ids), key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            return ids  # nothing left to merge
        ids = _merge(ids, pair, merges[pair])
    return ids


def _count_pairs(words: list[list[int]], counts: list[int]) -> Counter[Pair]:
    """How often each adjacent pair occurs in the text, given its distinct words and how often each occurs."""
    stats: Counter[Pair] = Counter()
    for word, count in zip(words, counts):
        for pair in _pairs(word):
            stats[pair] += count
    return stats


def _learn_by_recount(
    words: list[list[int]], counts: list[int], num_merges: int
) -> Iterator[tuple[Pair, int, int]]:
    """Yield (pair, new id, count) for each merge, recounting every pair of every word before each merge.

    Simple, and slow: each merge costs a pass over the whole (deduplicated) text.
    """
    for new_id in range(256, 256 + num_merges):
        stats = _count_pairs(words, counts)
        if not stats:
            return
        pair = min(stats, key=lambda p: (-stats[p], p))  # most frequent; ties go to the smallest pair
        yield pair, new_id, stats[pair]
        words = [_merge(word, pair, new_id) for word in words]


def _learn_incrementally(
    words: list[list[int]], counts: list[int], num_merges: int
) -> Iterator[tuple[Pair, int, int]]:
    """Yield the same merges as _learn_by_recount, updating the counts instead of recounting them.

    We keep, for each pair, its count and the set of words that contain it. A merge then only revisits the
    words that contain the merged pair: their old pairs are uncounted and their new pairs counted. A heap of
    (-count, pair) finds the most frequent pair; entries whose count has changed since are skipped when popped.
    """
    words = [list(word) for word in words]  # a copy: merged words replace the caller's ones here
    stats = _count_pairs(words, counts)
    where: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> indices of the words that contain it
    for w, word in enumerate(words):
        for pair in _pairs(word):
            where[pair].add(w)
    heap = [(-count, pair) for pair, count in stats.items()]
    heapq.heapify(heap)

    for new_id in range(256, 256 + num_merges):
        while heap and stats.get(heap[0][1]) != -heap[0][0]:
            heapq.heappop(heap)  # a stale entry: that pair's count has changed since it was pushed
        if not heap:
            return
        neg_count, pair = heapq.heappop(heap)  # most frequent; ties go to the smallest pair, as in recount
        yield pair, new_id, -neg_count

        changed = set()
        for w in where.pop(pair):
            old, new = words[w], _merge(words[w], pair, new_id)
            words[w] = new
            for p in _pairs(old):
                stats[p] -= counts[w]
            for p in _pairs(new):
                stats[p] += counts[w]
                where[p].add(w)
            old_pairs, new_pairs = set(_pairs(old)), set(_pairs(new))
            for p in old_pairs - new_pairs - {pair}:
                where[p].discard(w)
            changed |= old_pairs | new_pairs
        for p in changed:
            if stats[p] > 0:
                heapq.heappush(heap, (-stats[p], p))
            else:
                del stats[p]


def _replace_lone_surrogates(text: str) -> str:
    """Make text encodable as UTF-8 as tiktoken does: join surrogate pairs, turn lone surrogates into U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _problem_with_saved(data: dict) -> str | None:
    """What is wrong with the contents of a file written by BPETokenizer.save, or None if nothing is."""
    if not isinstance(data.get("pattern"), str):
        return "'pattern' must be a string"
    try:
        regex.compile(data["pattern"])
    except regex.error as exc:
        return f"'pattern' is not a valid regex ({exc})"
    byte_to_id = data.get("byte_to_id")
    byte_ids_ok = isinstance(byte_to_id, list) and len(byte_to_id) == 256 and all(map(_is_id, byte_to_id))
    if not byte_ids_ok or len(set(byte_to_id)) != 256:
        return "'byte_to_id' must list 256 different token ids, one for each byte value"
    merges = data.get("merges")
    if not isinstance(merges, dict):
        return "'merges' must map \"left right\" id pairs to new ids"
    known, last = set(byte_to_id), -1
    for pair, new_id in merges.items():
        parts = pair.split(" ")
        if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts) or not _is_id(new_id):
            return f"merge {pair!r}: {new_id!r} is not of the form \"left right\": new id"
        if not known.issuperset(map(int, parts)):
            return f"merge {pair!r} joins an id that no byte or earlier merge gives"
        if new_id in known or new_id < last:
            return f"merge {pair!r} gives id {new_id}: merged ids must be new, and grow in the order of the merges"
        known.add(new_id)
        last = new_id
    special = data.get("special_tokens")
    if not isinstance(special, dict) or not all(isinstance(t, str) and t and _is_id(i) for t, i in special.items()):
        return "'special_tokens' must map non-empty strings to token ids"
    return None


@lru_cache(maxsize=None)  # built once per name, as tiktoken.get_encoding does
def tiktoken_encoding(name: str = "gpt2") -> tiktoken.Encoding:
    """tiktoken's Encoding called name; for "gpt2", built from the files gpt2lite.data.gpt2_vocab_files fetches.

    For "gpt2" this is the object tiktoken.get_encoding("gpt2") builds (the same ranks, split pattern and
    special token, and tiktoken's own encoder), but its files come through gpt2lite's downloader: cached,
    checked against their sha256, and found in tiktoken's cache when tiktoken already has them.
    """
    if not isinstance(name, str):
        raise TypeError(f"a tiktoken encoding is named by a str such as 'gpt2', got {type(name).__name__}")
    try:
        import tiktoken
        from tiktoken_ext import openai_public
    except ImportError as e:
        raise ImportError("this needs tiktoken: pip install tiktoken") from e
    if name != "gpt2":
        return tiktoken.get_encoding(name)
    # tiktoken's spelling of the split pattern; versions before it was a named constant used GPT-2's own
    pattern = getattr(openai_public, "r50k_pat_str", GPT2_SPLIT_PATTERN)
    eot = "<|endoftext|>"
    from .data import gpt2_vocab_files  # here, so that the tokenizer alone does not import torch

    encoder_json, _ = gpt2_vocab_files()  # the ranks are encoder.json's ids; vocab.bpe lists the same merges
    encoder: dict[str, int] = json.loads(encoder_json.read_text(encoding="utf-8"))
    char_to_byte = {ch: b for b, ch in bytes_to_unicode().items()}
    ranks = {bytes(char_to_byte[ch] for ch in token): i for token, i in encoder.items() if token != eot}
    return tiktoken.Encoding(
        name="gpt2", pat_str=pattern, mergeable_ranks=ranks, special_tokens={eot: encoder[eot]},
        explicit_n_vocab=len(encoder),
    )


class BPETokenizer:
    """A byte-level BPE tokenizer: a split pattern, a base token per byte, merges, and special tokens.

    Attributes:
        pattern: the regex that splits text into chunks before BPE.
        byte_to_id: the id of each byte value's base token (256 entries).
        merges: (left id, right id) -> id of the merged token, in the order learned. Merged ids grow with
            that order, so a merge's id is also its rank: encoding merges the pair with the lowest id first.
        vocab: id -> the bytes that token stands for (special tokens included).
        special_tokens: special string -> id, e.g. {"<|endoftext|>": 50256}.
    """

    def __init__(self, pattern: str = GPT2_SPLIT_PATTERN) -> None:
        self.pattern = pattern
        self.byte_to_id: list[int] = list(range(256))
        self.merges: dict[Pair, int] = {}
        self.special_tokens: dict[str, int] = {}
        self._build_vocab()

    def _build_vocab(self) -> None:
        """Recompute what derives from the pattern, byte_to_id, merges and special_tokens; empty the cache."""
        self._split = regex.compile(self.pattern)
        self.vocab: dict[int, bytes] = {i: bytes([b]) for b, i in enumerate(self.byte_to_id)}
        for (left, right), new_id in self.merges.items():
            self.vocab[new_id] = self.vocab[left] + self.vocab[right]
        for text, i in self.special_tokens.items():
            self.vocab[i] = text.encode("utf-8")
        self._cache: dict[str, list[int]] = {}

    # ---- loading GPT-2 ---------------------------------------------------------------------------------------

    @classmethod
    def from_tiktoken(cls, encoding_name: str = "gpt2") -> BPETokenizer:
        """GPT-2's exact tokenizer (or another tiktoken byte-level BPE), rebuilt from tiktoken's data.

        tiktoken stores no merges, only each token's bytes and rank (= id). We recover them in rank order:
        encoding a token's bytes with the merges of lower rank found so far must leave exactly two tokens,
        and those two are the pair that merges into it. The split pattern is the encoding's own (for "gpt2",
        tiktoken's faster spelling of GPT2_SPLIT_PATTERN, which splits text the same way).
        """
        enc = tiktoken_encoding(encoding_name)
        ranks: dict[bytes, int] = enc._mergeable_ranks
        tok = cls(pattern=enc._pat_str)
        tok.byte_to_id = [ranks[bytes([b])] for b in range(256)]
        for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
            if len(token) == 1:
                continue
            parts = tok._bpe(token)
            if len(parts) != 2:
                raise ValueError(f"token {token!r} (rank {rank}) is not a merge of two tokens of lower rank")
            tok.merges[parts[0], parts[1]] = rank
        tok.special_tokens = dict(enc._special_tokens)
        tok._build_vocab()
        return tok

    @classmethod
    def from_gpt2_files(cls, encoder_json: str | os.PathLike, vocab_bpe: str | os.PathLike) -> BPETokenizer:
        """GPT-2's tokenizer from OpenAI's files: encoder.json (token -> id) and vocab.bpe (one merge per line).

        Both write tokens as text through bytes_to_unicode. vocab.bpe's first line is a version header; each
        other line is a merge "left right", in order. Ids of encoder.json that are neither bytes nor merges are
        special tokens.
        """
        encoder: dict[str, int] = json.loads(Path(encoder_json).read_text(encoding="utf-8"))
        merge_lines = Path(vocab_bpe).read_text(encoding="utf-8").splitlines()[1:]
        byte_to_char = bytes_to_unicode()
        tok = cls()
        tok.byte_to_id = [encoder[byte_to_char[b]] for b in range(256)]
        for line in merge_lines:
            if line:
                left, right = line.split(" ")
                tok.merges[encoder[left], encoder[right]] = encoder[left + right]
        known_ids = set(tok.byte_to_id) | set(tok.merges.values())
        tok.special_tokens = {text: i for text, i in encoder.items() if i not in known_ids}
        tok._build_vocab()
        return tok

    # ---- training --------------------------------------------------------------------------------------------

    def train(self, text: str, vocab_size: int, method: str = "incremental", verbose: bool = False) -> None:
        """Learn vocab_size - 256 merges from text, replacing everything but the split pattern.

        The text is split with self.pattern, and each distinct chunk is kept once with its count. Then, again
        and again, the most frequent adjacent pair becomes a new token; among pairs of equal count the smallest
        pair (as a tuple of ids) wins, so training is deterministic. Byte b gets id b and merge i id 256 + i.
        Training stops early if no pair is left (a tiny text).

        method="recount" recounts all pairs before each merge (simple, slow); method="incremental" updates
        only the counts that a merge changes (fast). Both learn exactly the same merges.
        """
        if not isinstance(text, str):
            raise TypeError(f"train expects a str, got {type(text).__name__}")
        vocab_size = integer("vocab_size", vocab_size)
        in_range("vocab_size", vocab_size, vocab_size >= 256, "an integer >= 256 (the 256 byte tokens)")
        learners = {"incremental": _learn_incrementally, "recount": _learn_by_recount}
        method = choice("method", method, tuple(learners))

        chunk_counts = Counter(self._split.findall(_replace_lone_surrogates(text)))
        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
        self.byte_to_id, self.merges, self.special_tokens = list(range(256)), {}, {}
        self._build_vocab()
        num_merges = vocab_size - 256
        learned = learners[method](words, list(chunk_counts.values()), num_merges)
        for i, (pair, new_id, count) in enumerate(learned, start=1):
            self.merges[pair] = new_id
            self.vocab[new_id] = self.vocab[pair[0]] + self.vocab[pair[1]]
            if verbose:
                print(f"merge {i}/{num_merges}: {pair} -> {new_id} {self.vocab[new_id]!r} ({count} times)")
        self._build_vocab()

    def register_special_tokens(self, special_tokens: dict[str, int]) -> None:
        """Add special tokens, e.g. {"<|endoftext|>": 300}. Their ids must not already be taken."""
        if not isinstance(special_tokens, Mapping):
            raise TypeError(f"special_tokens must be a dict of strings to ids, e.g. {{'<|endoftext|>': 300}}, "
                            f"got {type(special_tokens).__name__}")
        taken, added = dict(self.vocab), {}
        for text, i in special_tokens.items():
            if not isinstance(text, str):
                raise TypeError(f"a special token must be a non-empty string, got {type(text).__name__} {text!r}")
            if not text:
                raise ValueError(f"a special token must be a non-empty string, got {text!r}")
            i = integer(f"the id of {text!r}", item(i))
            in_range(f"the id of {text!r}", i, i >= 0, "a non-negative integer")
            if i in taken and self.special_tokens.get(text) != i:
                raise ValueError(f"id {i} for {text!r} is already the id of {taken[i]!r}")
            taken[i], added[text] = text.encode("utf-8"), i  # a plain int id, so that save() writes JSON
        self.special_tokens.update(added)
        self._build_vocab()

    # ---- encoding and decoding -------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """One more than the largest id: the number of rows an embedding table needs."""
        return max(self.vocab) + 1

    @property
    def eot_token(self) -> int | None:
        """The id of "<|endoftext|>", or None if this tokenizer has no such special token."""
        return self.special_tokens.get("<|endoftext|>")

    def encode(self, text: str, allowed_special: str | Collection[str] = "none") -> list[int]:
        """Encode text to token ids.

        By default special-token strings are ordinary text, as in tiktoken's encode_ordinary. With
        allowed_special="all" (or a set of special strings) those strings become their single special id.
        Lone surrogates, which UTF-8 cannot encode, become U+FFFD as in tiktoken.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        text = _replace_lone_surrogates(text)
        special = self._allowed_special(allowed_special)
        if not special:
            return self._encode_ordinary(text)
        # Longest first, so that a special string that contains another one wins.
        alternatives = "|".join(regex.escape(s) for s in sorted(special, key=len, reverse=True))
        ids = []
        for i, part in enumerate(regex.split(f"({alternatives})", text)):
            if i % 2 == 1:  # split() puts the matched separators at the odd positions
                ids.append(self.special_tokens[part])
            else:
                ids.extend(self._encode_ordinary(part))
        return ids

    def _allowed_special(self, allowed_special: str | Collection[str]) -> set[str]:
        """The set of special strings that allowed_special ("all", "none" or a set of strings) stands for."""
        if allowed_special == "all":
            return set(self.special_tokens)
        if allowed_special == "none":
            return set()
        if isinstance(allowed_special, str):
            raise ValueError(f"allowed_special must be 'all', 'none' or a set of strings, got {allowed_special!r}")
        if not isinstance(allowed_special, Iterable) or not all(isinstance(s, str) for s in allowed_special):
            raise TypeError(f"allowed_special must be 'all', 'none' or a set of strings, got {allowed_special!r}")
        allowed = set(allowed_special)
        unknown = allowed - self.special_tokens.keys()
        if unknown:
            known = sorted(self.special_tokens)
            raise ValueError(f"unknown special tokens {sorted(unknown)}; this tokenizer has {known}")
        return allowed

    def _encode_ordinary(self, text: str) -> list[int]:
        """Encode text with no special tokens: split it into chunks and BPE each chunk (cached)."""
        ids = []
        for chunk in self._split.findall(text):
            chunk_ids = self._cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = self._bpe(chunk.encode("utf-8"))
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.clear()
                self._cache[chunk] = chunk_ids
            ids.extend(chunk_ids)
        return ids

    def _bpe(self, data: bytes) -> list[int]:
        """BPE one chunk: start from its bytes' tokens and merge the earliest-learned pair until none is left.

        The plain loop (`bpe_by_rank`: find the best pair, merge it everywhere, repeat) costs O(n^2) on one long
        chunk, such as a megabyte without spaces. So the tokens sit in a linked list and the mergeable pairs in a heap ordered
        by (rank, position): each merge is O(log n), and ties go left to right, exactly as in the plain loop.
        """
        ids: list[int | None] = [self.byte_to_id[b] for b in data]  # None marks a token merged into its left
        n = len(ids)
        nxt = list(range(1, n + 1))  # index of the next live token (n: none)
        prv = list(range(-1, n - 1))  # index of the previous live token (-1: none)
        heap = [(self.merges[pair], i) for i, pair in enumerate(_pairs(ids)) if pair in self.merges]
        heapq.heapify(heap)
        while heap:
            rank, i = heapq.heappop(heap)
            j = nxt[i]
            if ids[i] is None or j == n or self.merges.get((ids[i], ids[j])) != rank:
                continue  # stale: a neighbouring merge changed this pair since it was pushed
            ids[i], ids[j] = rank, None  # a merged token's id is its rank
            nxt[i] = nxt[j]
            if nxt[j] < n:
                prv[nxt[j]] = i
            for left in (prv[i], i):  # the two pairs the new token now belongs to
                if left >= 0 and nxt[left] < n:
                    new_rank = self.merges.get((ids[left], ids[nxt[left]]))
                    if new_rank is not None:
                        heapq.heappush(heap, (new_rank, left))
        return [t for t in ids if t is not None]

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes that the token ids stand for, concatenated. Accepts a list, or a tensor/array of ints."""
        if hasattr(ids, "tolist"):  # torch tensors, numpy arrays
            ids = ids.tolist()
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise TypeError(f"decode expects a sequence of token ids (a list or a 1-D tensor), got {type(ids).__name__}")
        ids = list(ids)
        if all(type(i) is int for i in ids):  # the usual case, fast: plain ints (a bool is no id)
            try:
                return b"".join([self.vocab[i] for i in ids])
            except KeyError:
                pass  # the loop below names the id that is not a token
        parts = []
        for i in ids:
            if isinstance(i, list):
                raise ValueError("decode takes one sequence of ids, not a batch (a 2-D tensor or a list of lists); "
                                 "decode each row, e.g. tok.decode(out[0])")
            i = item(i)  # a 0-d tensor, as iterating over a tensor gives
            if isinstance(i, bool) or not isinstance(i, numbers.Integral):  # a wrong type; below, a wrong value
                raise TypeError(f"invalid token id {i!r}: ids are integers in 0..{self.vocab_size - 1}")
            if int(i) not in self.vocab:
                raise ValueError(f"invalid token id {int(i)}: ids are integers in 0..{self.vocab_size - 1}")
            parts.append(self.vocab[int(i)])
        return b"".join(parts)

    def decode(self, ids: Iterable[int]) -> str:
        """The text that the token ids stand for. Bytes that are not valid UTF-8 (a character split between
        tokens, cut off at the end) become U+FFFD, as in GPT-2."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # ---- saving ----------------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as JSON: pattern, special tokens, byte -> id table, and merges in order."""
        data = {
            "format": _FILE_FORMAT,
            "pattern": self.pattern,
            "special_tokens": self.special_tokens,
            "byte_to_id": self.byte_to_id,
            "merges": {f"{left} {right}": new_id for (left, right), new_id in self.merges.items()},
        }
        Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        """Read a tokenizer written by save(); a file that is not one, or is damaged, is a ValueError that says why."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} is not a tokenizer saved by BPETokenizer.save: not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != _FILE_FORMAT:
            raise ValueError(f"{path} is not a tokenizer saved by BPETokenizer.save ({_FILE_FORMAT})")
        problem = _problem_with_saved(data)
        if problem is not None:
            raise ValueError(f"{path} is a damaged tokenizer file: {problem}")
        tok = cls(data["pattern"])
        tok.byte_to_id = data["byte_to_id"]
        tok.merges = {tuple(map(int, pair.split())): new_id for pair, new_id in data["merges"].items()}
        tok.special_tokens = data["special_tokens"]
        tok._build_vocab()
        return tok

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"special_tokens={len(self.special_tokens)})"
        )
