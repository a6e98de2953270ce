"""The tokenizer playground (chapter 2): type any text, see GPT-2's tokens, their ids and how many there are.

The page runs a small JavaScript port of `BPETokenizer.encode` (js/tokenizer.js): GPT-2's split regex, the
UTF-8 bytes of each chunk, then byte pair merges, lowest rank first. Only GPT-2's rank table comes from npm
(js-tiktoken's, served by the book from `_static/vendor/`), so the page's tokenizer is GPT-2's, with the same
50,257 tokens as the Python one. The data carry the starting text and the ids Python computed for it: the page
shows them at once, and checks its own ids against them when its table has loaded.
"""

from __future__ import annotations

import hashlib

import regex

from ..draw.canvas import Drawing
from ..draw.canvas import rounded as _r
from ..draw.style import SIZE, colour
from ..draw.tokens import _piece
from ..tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer
from .figure import Interactive

__all__ = ["tokenizer_playground"]

RANKS = "js-tiktoken/gpt2.js"  # the rank table the page loads: gpt2lite.vendor(RANKS)
GPT2_VOCAB_SIZE = 50_257
GPT2_SPECIAL = {"<|endoftext|>": 50256}
# sha256 of GPT-2's vocabulary, id by id (each token's length as 2 bytes, then its bytes): the table the page has
GPT2_VOCAB_SHA256 = "50533ab730aef809c773f9c23a02f40e2423b72be7e3e8e8e04e26f01e2cc843"
# Text that every part of GPT-2's split pattern cuts: contractions, letters, digits, symbols, whitespace runs
SPLIT_PROBE = "I'm sure they've 3 dogs, 1234 cats and   17.5% of you'll AGREE!! I'M  sure.\n\n\t x\u3000y\xa0z 🦙  "
MAX_CHARS = 2_000  # the starting text: the data hold its ids, the still picture its first tokens
MAX_DRAWN = 48  # tokens drawn in the still picture; a note counts the rest
MARGIN, WIDTH = 14.0, 540.0


def _vocab_digest(tokenizer: BPETokenizer) -> str:
    digest = hashlib.sha256()
    for i in range(tokenizer.vocab_size):
        data = tokenizer.vocab.get(i, b"")
        digest.update(len(data).to_bytes(2, "big") + data)
    return digest.hexdigest()


def _check_gpt2(tokenizer: object) -> BPETokenizer:
    """``tokenizer`` if it is GPT-2's, else a clear error: the page can only run GPT-2's own table."""
    if not isinstance(tokenizer, BPETokenizer):
        raise TypeError(
            f"tokenizer must be a gpt2lite.tokenizer.BPETokenizer, got {type(tokenizer).__name__}; "
            'pass BPETokenizer.from_tiktoken("gpt2")'
        )
    problem = None
    if tokenizer.vocab_size != GPT2_VOCAB_SIZE or tokenizer.special_tokens != GPT2_SPECIAL:
        problem = (f"it has {tokenizer.vocab_size:,} tokens and special tokens {tokenizer.special_tokens}, "
                   f"GPT-2 has {GPT2_VOCAB_SIZE:,} and {GPT2_SPECIAL}")
    elif _vocab_digest(tokenizer) != GPT2_VOCAB_SHA256:
        problem = "its vocabulary (the bytes of each id) is not GPT-2's"
    elif regex.findall(tokenizer.pattern, SPLIT_PROBE) != regex.findall(GPT2_SPLIT_PATTERN, SPLIT_PROBE):
        problem = "its split pattern cuts text differently from GPT-2's"
    if problem:
        raise ValueError(
            f"tokenizer_playground shows GPT-2's tokenizer (the page runs GPT-2's own rank table), and this "
            f"tokenizer is not GPT-2's: {problem}; pass BPETokenizer.from_tiktoken(\"gpt2\")"
        )
    return tokenizer


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}; pass e.g. \"Hello world!\"")
    if not text:
        raise ValueError("text is empty; pass the text the playground starts with, e.g. \"Hello world!\"")
    if len(text) > MAX_CHARS:
        raise ValueError(
            f"text has {len(text):,} characters; the starting text may have at most {MAX_CHARS:,} (its ids are "
            "stored in the notebook). Pass a shorter one: the reader can paste longer text in the page"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "text has a lone surrogate, which UTF-8 cannot encode (encode would read it as U+FFFD); "
            "pass text made of whole characters"
        ) from None
    return text


def _chips(tokenizer: BPETokenizer, text: str, ids: list[int]) -> Drawing:
    """The still picture: the tokens of ``text`` as chips, in rows, each with its id under it.

    The same view as the live figure (alternate chips filled, so neighbours stand apart; ␣ for a space, ↵ for a
    newline, hex for bytes that are part of a character), for print and for a page without JavaScript.
    """
    probe = Drawing(10, 10)
    size, gap, pad, box_h, id_h, row_gap = SIZE, 4.0, 4.0, 20.0, 15.0, 8.0
    inner = WIDTH - 2 * MARGIN
    shown = ids[:MAX_DRAWN]
    chips = []  # (label, id, width)
    for i in shown:
        label = _piece(tokenizer.vocab[i])
        while len(label) > 1 and probe.measure(label, size, mono=True)[0] + 2 * pad > inner:
            label = label[:-2] + "\u2026"  # a very long token is cut to the page
        w = max(probe.measure(label, size, mono=True)[0] + 2 * pad, probe.measure(str(i), size, mono=True)[0] + 4)
        chips.append((label, i, w))
    rows: list[list[int]] = [[]]
    x = 0.0
    for k, (_, _, w) in enumerate(chips):
        if rows[-1] and x + w > inner:
            rows.append([])
            x = 0.0
        rows[-1].append(k)
        x += w + gap
    n_chars, n_bytes = len(text), len(text.encode("utf-8"))
    summary = (f"{len(ids):,} token{'s' if len(ids) != 1 else ''} from {n_chars:,} character"
               f"{'s' if n_chars != 1 else ''} ({n_bytes:,} bytes)")
    if len(ids) > len(shown):
        summary = f"… {len(ids) - len(shown):,} more tokens. " + summary
    row_h = box_h + 2 + id_h + row_gap
    y_summary = MARGIN + len(rows) * row_h
    height = y_summary + size * 1.2 + MARGIN
    pieces = [tokenizer.decode([i]) for i in shown[:10]]
    alt = (
        f"GPT-2's tokens of {text[:60]!r}{'...' if len(text) > 60 else ''}: {len(ids)} tokens, "
        f"{', '.join(repr(p) for p in pieces)}{', ...' if len(ids) > 10 else ''}, with ids "
        f"{', '.join(str(i) for i in shown[:10])}{', ...' if len(ids) > 10 else ''}."
    )
    d = Drawing(_r(WIDTH), _r(height), alt=alt)
    edge = colour("token").edge
    k_all = 0
    for r, row in enumerate(rows):
        x, y = MARGIN, MARGIN + r * row_h
        for k in row:
            label, i, w = chips[k]
            d.box(_r(x), _r(y), _r(w), box_h, label, concept="token", mono=True, size=size,
                  filled=k_all % 2 == 0, lw=1.0)
            d.text(_r(x + w / 2), _r(y + box_h + 2 + id_h / 2), str(i), size=size, mono=True, colour_=edge)
            x += w + gap
            k_all += 1
    d.note(MARGIN, _r(y_summary + size * 0.6), summary, size=size, ha="left")
    return d


def tokenizer_playground(tokenizer: BPETokenizer, text: str, *, name: str = "tokenizer-playground") -> Interactive:
    """A text box in the page that shows GPT-2's tokens of whatever the reader types: chips with their ids, the
    counts, and the list of ids.

    ``tokenizer`` must be GPT-2's (``BPETokenizer.from_tiktoken("gpt2")``): the page runs GPT-2's own rank
    table, and the ids it shows are those of ``tokenizer.encode(text)`` (``"<|endoftext|>"`` is ordinary text,
    as in encode's default). ``text`` is where the box starts; its ids, computed here, are in the data, so the
    page shows them at once and checks its own against them. ``name`` is the figure's HTML id.
    """
    tokenizer = _check_gpt2(tokenizer)
    text = _check_text(text)
    ids = tokenizer.encode(text)
    data = {
        "text": text,
        "ids": ids,
        "bytes": [list(tokenizer.vocab[i]) for i in ids],  # each token's bytes, to show before the table loads
        "vocab_size": tokenizer.vocab_size,
        "ranks": RANKS,
    }
    still = _chips(tokenizer, text, ids)
    caption = ("GPT-2's tokenizer in the page: type or paste any text to see its tokens, their ids and how many "
               "there are. Point at a token, or tab to it, to see its bytes.")
    return Interactive("tokenizer", data, still=still, alt=still.alt, caption=caption, name=name)
