"""Tokenization drawn: BPE merges of a word, the pre-tokenizer's chunks, the byte-to-unicode map (chapter 2).

Every drawing here is computed from the real tokenizer: `bpe_merges` replays the merges that
`BPETokenizer.encode` makes, `pretokenizer_chunks` draws what GPT-2's split regex returns, and `byte_to_unicode`
draws the table `gpt2lite.tokenizer.bytes_to_unicode` builds. `tokenization_pipeline` puts the steps together
for one sentence: text, chunks, bytes, merged tokens, ids.
"""

from __future__ import annotations

import math
import unicodedata
from functools import lru_cache

import regex

from ..tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer, bytes_to_unicode
from ._args import count, fraction
from .canvas import PAD, Drawing, piece_label, rounded as _r
from .style import FONT, MONO, SIZE, SMALL, colour

__all__ = ["tokenization_pipeline", "bpe_merges", "pretokenizer_chunks", "byte_to_unicode"]

MARGIN = 14.0
MAX_WIDTH = 560.0
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


# ---- helpers -----------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _charmap(family: str) -> frozenset[int]:
    """The code points the font ``family`` has a glyph for."""
    from matplotlib.font_manager import FontProperties, findfont
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(findfont(FontProperties(family=family))).get_charmap())


def _drawable(s: str, mono: bool = True) -> bool:
    """Whether every character of ``s`` has a glyph in the book's font and draws as it reads: not a control
    character, not right-to-left (Arabic, Hebrew), which the renderer would neither join nor reverse."""
    have = _charmap(MONO if mono else FONT)
    return all(
        ord(c) in have and c.isprintable() and unicodedata.bidirectional(c) not in ("R", "AL") for c in s
    )


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02X}" for b in data)


def _piece(data: bytes) -> str:
    """A token's bytes as a label: its text with a visible space (␣) and newline (↵); a byte that is not part
    of a whole UTF-8 character here (a token may hold part of one), or a character the font cannot show, is
    written in hex, e.g. " \\xf0\\x9f" -> "␣ F0 9F"."""
    parts: list[str] = []
    text = ""
    i = 0
    while i < len(data):
        for n in (1, 2, 3, 4):
            try:
                c = data[i:i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            break
        else:
            c, n = "", 1
        label = piece_label(c)
        if c and _drawable(label):
            text += label
        else:
            if text:
                parts.append(text)
                text = ""
            parts.append(_hex(data[i:i + n]))
        i += n
    if text:
        parts.append(text)
    return " ".join(parts)


def _char(c: str) -> str:
    """One character as a label: itself (space and newline made visible), or U+XXXX when it cannot be drawn."""
    label = piece_label(c)
    return label if _drawable(label) else f"U+{ord(c):04X}"


def _note_size(width: float) -> float:
    """The smallest text size that stays legible on a phone in a drawing ``width`` points wide."""
    return min(SIZE, max(SMALL, math.ceil(width / 50 * 10) / 10))




def _check_text(text: object, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}; pass e.g. \"Hello, world!\"")
    if not text:
        raise ValueError(f"{name} is empty; pass some text, e.g. \"Hello, world!\"")
    return text


def _check_tokenizer(tokenizer: object) -> BPETokenizer:
    if not isinstance(tokenizer, BPETokenizer):
        raise TypeError(
            f"tokenizer must be a gpt2lite.tokenizer.BPETokenizer, got {type(tokenizer).__name__}; pass e.g. "
            "BPETokenizer.from_tiktoken(\"gpt2\") or a BPETokenizer you trained"
        )
    return tokenizer


def _check_count(value: object, name: str, least: int) -> int:
    return count(name, value, least)


def _merge_steps(tokenizer: BPETokenizer, data: bytes) -> list[tuple[list[int], int | None, set[int]]]:
    """BPE on one chunk's bytes, step by step, as the tokenizer does it.

    Returns, for the start and after each merge, (ids, rank of the merge made or None at the start, indices of
    the pieces that merge made). Each step merges the adjacent pair with the lowest rank, every occurrence of
    it from left to right, until no adjacent pair is a merge.
    """
    ids = [tokenizer.byte_to_id[b] for b in data]
    steps: list[tuple[list[int], int | None, set[int]]] = [(ids, None, set())]
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: tokenizer.merges.get(p, math.inf))
        rank = tokenizer.merges.get(pair)
        if rank is None:
            break
        out: list[int] = []
        made: set[int] = set()
        i = 0
        while i < len(ids):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                made.add(len(out))
                out.append(rank)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        ids = out
        steps.append((ids, rank, made))
    return steps


def _chunks(text: str, pattern: str) -> list[str]:
    try:
        return regex.findall(pattern, text)
    except regex.error as e:
        raise ValueError(f"pattern is not a valid regex ({e}); pass e.g. GPT2_SPLIT_PATTERN") from None


def _kind(chunk: str) -> str:
    """What kind of chunk GPT-2's split regex made: 'contraction', 'word' (led by a space), 'bare word',
    'number', 'symbols' or 'space'."""
    if chunk in CONTRACTIONS:
        return "contraction"
    if chunk.isspace():
        return "space"
    if regex.fullmatch(r" \p{L}+", chunk):
        return "word"
    if regex.fullmatch(r"\p{L}+", chunk):
        return "bare word"
    if regex.fullmatch(r" ?\p{N}+", chunk):
        return "number"
    return "symbols"


# ---- bpe_merges ----------------------------------------------------------------------------------------------


def bpe_merges(tokenizer: BPETokenizer, word: str, *, max_bytes: int = 20) -> Drawing:
    """The BPE merges of one word, step by step, as ``tokenizer`` makes them.

    The top row is the word's bytes. Each row below merges the adjacent pair of lowest rank (drawn filled, with
    the rank and the pair on the right), until no adjacent pair is a merge; the ids of the final tokens are
    under the last row. ``word`` must be one chunk of the tokenizer's split pattern (" unbelievably", not
    "so unbelievably") of at most ``max_bytes`` bytes. The final pieces are those ``tokenizer.encode(word)``
    gives.
    """
    tokenizer = _check_tokenizer(tokenizer)
    word = _check_text(word, "word")
    max_bytes = _check_count(max_bytes, "max_bytes", 1)
    chunks = _chunks(word, tokenizer.pattern)
    if chunks != [word]:
        shown = ", ".join(repr(c) for c in chunks[:6]) + (", ..." if len(chunks) > 6 else "")
        raise ValueError(
            f"bpe_merges draws one pre-tokenizer chunk, and {word!r} splits into {len(chunks)}: {shown}; "
            "pass one of them"
        )
    data = word.encode("utf-8")
    if len(data) > max_bytes:
        raise ValueError(
            f"{word!r} has {len(data)} bytes, more than max_bytes={max_bytes} columns fit on a page; "
            "pass a shorter word"
        )
    steps = _merge_steps(tokenizer, data)
    final = steps[-1][0]
    vocab = tokenizer.vocab

    probe = Drawing(10, 10)
    size = SIZE
    gap = 3.0
    # Column width per byte: every piece of every row, and every final id, must fit in the columns it spans.
    cw = probe.measure("M", size, mono=True)[0] + 2 * PAD
    for ids, _, _ in steps:
        for i in ids:
            n = len(vocab[i])
            cw = max(cw, (probe.measure(_piece(vocab[i]), size, mono=True)[0] + 2 * 4 + gap) / n)
    for i in final:
        cw = max(cw, (probe.measure(str(i), size, mono=True)[0] + 4) / len(vocab[i]))  # ids are text, not boxes
    cw = math.ceil(cw)
    row_h, box_h = 24.0, 19.0

    wanted = {rank for _, rank, _ in steps[1:]}
    pair_of = {r: p for p, r in tokenizer.merges.items() if r in wanted}  # rank -> the pair it merges

    def pair_label(rank: int) -> str:
        left, right = pair_of[rank]
        return f"{_piece(vocab[left])} + {_piece(vocab[right])}"

    pair_texts = [pair_label(rank) for _, rank, _ in steps[1:]]
    rank_texts = [f"{rank:,}" for _, rank, _ in steps[1:]]
    step_texts = ["bytes"] + [f"step {k}" for k in range(1, len(steps))] + ["ids"]

    note = SIZE - 1
    left_w = max(probe.measure(s, note)[0] for s in step_texts) + 10
    rank_w = max([probe.measure(s, size, mono=True)[0] for s in rank_texts] + [probe.measure("rank", note)[0]])
    pair_w = max([probe.measure(s, size, mono=True)[0] for s in pair_texts] + [probe.measure("merges", note)[0]])
    n_final = len(final)
    end_text = ("one token: nothing is left to merge" if n_final == 1
                else f"{n_final} tokens: no adjacent pair is a merge")
    x0 = MARGIN + left_w
    grid_w = len(data) * cw
    x_rank = x0 + grid_w + 16
    x_pair = x_rank + rank_w + 14
    room = MAX_WIDTH - MARGIN - x_pair  # a long merge label is cut to the page, with an ellipsis
    if pair_w > room:
        def cut(text: str) -> str:
            while len(text) > 2 and probe.measure(text, size, mono=True)[0] > room:
                text = text[:-2] + "\u2026"
            return text

        pair_texts = [cut(t) for t in pair_texts]
        pair_w = max([probe.measure(t, size, mono=True)[0] for t in pair_texts] + [probe.measure("merges", note)[0]])
    width = max(x_pair + pair_w, x0 + probe.measure(end_text, note)[0]) + MARGIN
    note = max(note, _note_size(width))
    if width > MAX_WIDTH:
        raise ValueError(
            f"{word!r} is too wide to draw ({width:.0f} pt of at most {MAX_WIDTH:.0f}); pass a shorter word"
        )
    y_head = MARGIN + 6
    y0 = y_head + 14
    height = y0 + len(steps) * row_h + 2 + box_h + 22 + MARGIN

    ranks = [rank for _, rank, _ in steps[1:]]
    pieces = [_piece(vocab[i]) for i in final]
    if len(steps) == 1:
        how = "no merge applies"
    else:
        how = f"{len(steps) - 1} merges (ranks {', '.join(f'{r:,}' for r in ranks)})"
    alt = (
        f"BPE of {word!r} with a {tokenizer.vocab_size:,}-token vocabulary: it starts as {len(data)} bytes, and "
        f"{how} leave {n_final} token{'s' if n_final != 1 else ''}, {', '.join(pieces)}, ids "
        f"{', '.join(str(i) for i in final)}."
    )
    d = Drawing(_r(width), _r(height), alt=alt)
    d.note(x_rank + rank_w, y_head, "rank", size=note, ha="right")
    d.note(x_pair, y_head, "merges", size=note, ha="left")
    for k, (ids, rank, made) in enumerate(steps):
        y = y0 + k * row_h
        d.note(x0 - 10, y + box_h / 2, step_texts[k], size=note, ha="right")
        col = 0
        for j, i in enumerate(ids):
            n = len(vocab[i])
            new = j in made
            d.box(_r(x0 + col * cw), _r(y), _r(n * cw - gap), box_h, _piece(vocab[i]), concept="token",
                  mono=True, size=size, filled=new, lw=1.6 if new else 0.8)
            col += n
        if rank is not None:
            d.text(x_rank + rank_w, y + box_h / 2, rank_texts[k - 1], size=size, mono=True, ha="right",
                   colour_=colour("token").edge)
            d.text(x_pair, y + box_h / 2, pair_texts[k - 1], size=size, mono=True, ha="left")
    # the ids of the final tokens, under their pieces
    y = y0 + len(steps) * row_h + 2
    d.note(x0 - 10, y + box_h / 2, "ids", size=note, ha="right")
    col = 0
    for i in final:
        n = len(vocab[i])
        d.text(_r(x0 + col * cw + (n * cw - gap) / 2), y + box_h / 2, str(i), size=size, mono=True)
        col += n
    d.note(x0, y + box_h + 14, end_text, size=note, ha="left")
    return d


# ---- pretokenizer_chunks -------------------------------------------------------------------------------------

_CALLOUTS: dict[str, str | None] = {
    "word": "a space joins the next word",
    "bare word": None,
    "contraction": "contraction split off",
    "number": "digits apart",
    "symbols": "punctuation apart",
    "space": "leftover spaces",
}


def pretokenizer_chunks(text: str, pattern: str = GPT2_SPLIT_PATTERN, *, max_chunks: int = 40,
                        width: float = 540.0) -> Drawing:
    """The chunks the pre-tokenizer's regex (GPT-2's by default) cuts ``text`` into, one box each, in order.

    A space shows as ␣ and a newline as ↵, so the boxes read as the text itself. Rows wrap at ``width`` points;
    past ``max_chunks`` chunks a note counts the rest. Callouts point at the first chunk of each kind: a word
    with its leading space, a contraction, digits, punctuation, leftover whitespace.
    """
    text = _check_text(text)
    if not isinstance(pattern, str) or not pattern:
        error = TypeError if not isinstance(pattern, str) else ValueError
        raise error(f"pattern must be a non-empty regex string, got {pattern!r}; pass e.g. GPT2_SPLIT_PATTERN")
    max_chunks = _check_count(max_chunks, "max_chunks", 1)
    width = fraction("width", width, lambda w: 200 <= w <= MAX_WIDTH, f"between 200 and {MAX_WIDTH:g} points")
    chunks = _chunks(text, pattern)
    if not chunks:
        raise ValueError(f"the pattern finds no chunk in {text!r}; pass text it matches")
    shown = chunks[:max_chunks]
    probe = Drawing(10, 10)
    size, note = SIZE, max(SIZE - 1, _note_size(width))
    gap, box_h, pad = 5.0, 20.0, 5.0
    labels = [_piece(c.encode("utf-8")) for c in shown]
    widths = [probe.measure(s, size, mono=True)[0] + 2 * pad for s in labels]
    inner = width - 2 * MARGIN
    if max(widths) > inner:
        i = widths.index(max(widths))
        raise ValueError(f"chunk {shown[i]!r} is too long to draw in {width:g} points; pass a shorter text")
    # lines of chunks
    lines: list[list[int]] = [[]]
    x = 0.0
    for i, w in enumerate(widths):
        if lines[-1] and x + w > inner:
            lines.append([])
            x = 0.0
        lines[-1].append(i)
        x += w + gap
    # the first chunk of each kind gets a callout
    first: dict[str, int] = {}
    for i, c in enumerate(shown):
        first.setdefault(_kind(c), i)
    callout_of = {i: _CALLOUTS[k] for k, i in first.items() if _CALLOUTS[k]}

    level_h = note * 1.2 + 4
    # place everything, line by line
    placed_boxes = []  # (x, y, w, label, kind)
    placed_callouts = []  # (x_text, y_text, text, x_line, y_from, y_to)
    y = MARGIN
    for line in lines:
        x = MARGIN
        items = []
        for i in line:
            placed_boxes.append((x, y, widths[i], labels[i], _kind(shown[i])))
            if i in callout_of:
                items.append((x + widths[i] / 2, callout_of[i]))
            x += widths[i] + gap
        y_band = y + box_h + 8
        texts: list[tuple[float, float, int]] = []  # (x0, x1, level) of callouts placed in this band
        lines_at: list[tuple[float, int]] = []  # (x, level) of connectors
        max_level = -1
        # right to left, each callout starts at its connector: the leftmost ones climb to lower levels, so
        # no connector passes through a callout's text
        for cx, s in sorted(items, reverse=True):
            w = probe.measure(s, note)[0]
            x_text = min(max(cx - 3, MARGIN), width - MARGIN - w)
            level = 0
            for level in range(len(items) + 1):
                clash = any(lv == level and not (x_text + w + 8 <= a or x_text >= b + 8) for a, b, lv in texts)
                clash |= any(lv > level and x_text - 3 <= lx <= x_text + w + 3 for lx, lv in lines_at)
                clash |= any(lv < level and a - 3 <= cx <= b + 3 for a, b, lv in texts)
                if not clash:
                    break
            texts.append((x_text, x_text + w, level))
            lines_at.append((cx, level))
            max_level = max(max_level, level)
            y_text = y_band + 4 + level * level_h
            placed_callouts.append((x_text, y_text, s, cx, y + box_h, y_text - 1))
        y = y_band + (max_level + 1) * level_h + (6 if max_level >= 0 else 0)
    rest = len(chunks) - len(shown)
    n_chars = len(text)
    summary = (f"{len(chunks)} chunk{'s' if len(chunks) != 1 else ''} from {n_chars} character"
               f"{'s' if n_chars != 1 else ''}; BPE merges only inside a chunk")
    if rest:
        summary = f"… {rest} more chunks. " + summary
    y_summary = y + 4
    height = y_summary + note * 1.2 + MARGIN
    kinds = [k for k in _CALLOUTS if k in first and _CALLOUTS[k]]
    alt = (
        f"The pre-tokenizer cuts {text!r} into {len(chunks)} chunk{'s' if len(chunks) != 1 else ''}: "
        f"{', '.join(repr(c) for c in shown[:12])}{', ...' if len(chunks) > 12 else ''}. "
        + (f"Marked: {'; '.join(f'{_CALLOUTS[k]} ({shown[first[k]]!r})' for k in kinds)}." if kinds else "")
    ).strip()
    d = Drawing(_r(width), _r(height), alt=alt)
    for x, y, w, label, kind in placed_boxes:
        d.box(_r(x), _r(y), _r(w), box_h, label, concept="token", mono=True, size=size,
              filled=kind != "space", dashed=kind == "space")
    for x_text, y_text, s, cx, y_from, y_to in placed_callouts:
        d.line([_r(cx), _r(cx)], [_r(y_from + 1), _r(y_to)], lw=0.8, concept="neutral")
        d.note(_r(x_text), _r(y_text), s, size=note, ha="left", va="top")
    d.note(MARGIN, _r(y_summary), summary, size=note, ha="left", va="top")
    return d


# ---- byte_to_unicode -----------------------------------------------------------------------------------------


def byte_to_unicode(text: str = "Hi, naïve\n", *, max_bytes: int = 14) -> Drawing:
    """GPT-2's byte-to-unicode table (`gpt2lite.tokenizer.bytes_to_unicode`), with the bytes of ``text`` marked.

    On top, the first ``max_bytes`` bytes of ``text``: each character, its UTF-8 byte values, and the character
    each byte is written as in GPT-2's vocabulary files. Below, all 256 bytes in rows of 16 (byte = row +
    column): printable bytes stand for themselves, the 68 others (space, newline, control bytes, ...) are moved
    to chr(256 + n), so a space is written "Ġ" and a newline "Ċ".
    """
    text = _check_text(text)
    max_bytes = _check_count(max_bytes, "max_bytes", 1)
    table = bytes_to_unicode()
    moved = {b for b, c in table.items() if ord(c) != b}
    data = text.encode("utf-8")
    marked = set(data)
    size = SIZE
    cw, ch = 27.0, 20.0
    probe = Drawing(10, 10)
    note = SIZE - 1
    head_w = probe.measure("240", note)[0] + 10
    x0 = MARGIN + head_w
    width = x0 + 16 * cw + MARGIN
    note = max(note, _note_size(width))

    # the strip: characters, bytes, and how each byte is written
    strip_labels = ["text", "UTF-8 bytes", "written as"]
    lab_w = max(probe.measure(s, note)[0] for s in strip_labels) + 10
    avail = width - 2 * MARGIN - lab_w
    shown_chars: list[tuple[str, bytes, float]] = []  # (character, its bytes, the width of each byte's column)
    n_shown, used = 0, 0.0
    for c in text:
        b = c.encode("utf-8")
        span = max(30.0 * len(b), math.ceil(probe.measure(_char(c), size, mono=True)[0] + 12))
        if n_shown + len(b) > max_bytes or used + span > avail:
            break
        shown_chars.append((c, b, span / len(b)))
        n_shown += len(b)
        used += span
    if not shown_chars:
        raise ValueError(f"the first character of {text!r} has more bytes than max_bytes={max_bytes}; "
                         "pass a larger max_bytes")
    rest = len(data) - n_shown
    sx0 = MARGIN + lab_w
    row_h, box_h = 26.0, 20.0
    strip_top = MARGIN
    y_table = strip_top + 3 * row_h + (22 if rest else 8) + 18
    height = y_table + 16 * ch + 16 + 22 + MARGIN

    written = "".join(table[b] for b in data[:n_shown])
    moved_here = sorted({b for b in data if b in moved})
    alt = (
        f"GPT-2's byte-to-unicode table: {256 - len(moved)} printable bytes stand for themselves and "
        f"{len(moved)} others are moved to chr(256 + n). The text {text!r} is {len(data)} bytes, written "
        f"{written!r}{' ...' if rest else ''} in GPT-2's vocabulary files"
        + (f"; its moved bytes are {', '.join(f'{b} as {table[b]!r}' for b in moved_here)}." if moved_here
           else "; none of its bytes is moved.")
    )
    d = Drawing(_r(width), _r(height), alt=alt)
    for k, s in enumerate(strip_labels):
        d.note(sx0 - 10, strip_top + k * row_h + box_h / 2, s, size=note, ha="right")
    x = sx0
    for c, b, bw in shown_chars:
        d.box(_r(x), strip_top, _r(len(b) * bw - 3), box_h, _char(c), concept="token", mono=True, size=size,
              filled=False, lw=0.8)
        for j, byte in enumerate(b):
            xb = x + j * bw
            d.box(_r(xb), strip_top + row_h, bw - 3, box_h, str(byte), concept="neutral", mono=True, size=size,
                  filled=False, lw=0.8)
            d.arrow((_r(xb + (bw - 3) / 2), strip_top + row_h + box_h + 1),
                    (_r(xb + (bw - 3) / 2), strip_top + 2 * row_h - 1), lw=0.9)
            is_moved = byte in moved
            d.box(_r(xb), strip_top + 2 * row_h, bw - 3, box_h, table[byte], concept="mask" if is_moved
                  else "neutral", mono=True, size=size, filled=is_moved, lw=0.8)
        x += len(b) * bw
    if rest:
        d.note(sx0, strip_top + 3 * row_h + 2, f"… {rest} more bytes", size=note, ha="left", va="top")

    # the table: 16 rows of 16 bytes
    d.note(MARGIN + head_w - 8, y_table - 11, "row", size=note, ha="right")
    for j in range(16):
        d.note(_r(x0 + j * cw + cw / 2), y_table - 11, f"+{j}", size=note)
    for r in range(16):
        yy = y_table + r * ch
        d.note(MARGIN + head_w - 8, yy + ch / 2, str(16 * r), size=note, ha="right")
        for j in range(16):
            b = 16 * r + j
            concept = "token" if b in marked else "mask" if b in moved else "neutral"
            d.box(_r(x0 + j * cw + 1), _r(yy + 1), cw - 2, ch - 2, table[b], concept=concept, mono=True, size=size,
                  filled=b in marked or b in moved, lw=1.4 if b in marked else 0.4, round_=2.5)
    # legend
    yl = y_table + 16 * ch + 16
    x = x0
    for concept, filled, s in [
        ("neutral", False, f"stands for itself ({256 - len(moved)})"),
        ("mask", True, f"moved to chr(256 + n) ({len(moved)})"),
        ("token", True, "a byte of the text"),
    ]:
        d.box(_r(x), yl, 14, 12, concept=concept, filled=filled, lw=1.4 if concept == "token" else 0.6, round_=2)
        d.note(_r(x + 19), yl + 6, s, size=note, ha="left")
        x += 19 + probe.measure(s, note)[0] + 18
    return d


# ---- tokenization_pipeline ---------------------------------------------------------------------------------


def tokenization_pipeline(tokenizer: BPETokenizer, text: str, *, max_chunks: int = 12,
                          width: float = 540.0) -> Drawing:
    """Text to token ids in one picture, computed by ``tokenizer``: the text, its pre-tokenizer chunks, each
    chunk's bytes, the tokens BPE merges them into, and the tokens' ids, one column group per chunk.

    Groups wrap into several bands at ``width`` points; past ``max_chunks`` chunks a note counts the rest.
    The ids drawn are ``tokenizer.encode(text)``'s.
    """
    tokenizer = _check_tokenizer(tokenizer)
    text = _check_text(text)
    max_chunks = _check_count(max_chunks, "max_chunks", 1)
    width = fraction("width", width, lambda w: 300 <= w <= MAX_WIDTH, f"between 300 and {MAX_WIDTH:g} points")
    chunks = _chunks(text, tokenizer.pattern)
    if not chunks:
        raise ValueError(f"the tokenizer's pattern finds no chunk in {text!r}; pass other text")
    shown = chunks[:max_chunks]
    vocab = tokenizer.vocab
    probe = Drawing(10, 10)
    size = SIZE
    note = max(SIZE - 1, _note_size(width))
    gap, group_gap, box_h, row_h, pad = 2.0, 10.0, 19.0, 27.0, 4.0
    byte_w = probe.measure("M", size, mono=True)[0] + 2 * 3

    groups = []  # per chunk: (chunk label, [(token id, span width, [byte labels])], total width)
    for c in shown:
        data = c.encode("utf-8")
        ids = _merge_steps(tokenizer, data)[-1][0]
        toks = []
        for i in ids:
            b = vocab[i]
            blabels = [_piece(bytes([x])) for x in b]
            span = max(
                sum(max(byte_w, probe.measure(s, size, mono=True)[0] + 2 * 3) + gap for s in blabels),
                probe.measure(_piece(b), size, mono=True)[0] + 2 * pad + gap,
                probe.measure(str(i), size, mono=True)[0] + 2 * pad + gap,
            )
            toks.append((i, span, blabels))
        total = max(sum(t[1] for t in toks), probe.measure(_piece(data), size, mono=True)[0] + 2 * pad + gap)
        if total > sum(t[1] for t in toks):  # widen the tokens to the chunk's label
            k = total / sum(t[1] for t in toks)
            toks = [(i, span * k, bl) for i, span, bl in toks]
        groups.append((_piece(data), toks, total))

    row_names = ["chunks", "bytes", "tokens", "ids"]
    lab_w = max(probe.measure(s, note)[0] for s in row_names) + 12
    inner = width - 2 * MARGIN - lab_w
    if max(g[2] for g in groups) > inner:
        g = max(groups, key=lambda g: g[2])
        raise ValueError(f"the chunk {g[0]!r} is too long to draw in {width:g} points; pass a shorter text")
    bands: list[list[int]] = [[]]
    x = 0.0
    for k, g in enumerate(groups):
        if bands[-1] and x + g[2] > inner:
            bands.append([])
            x = 0.0
        bands[-1].append(k)
        x += g[2] + group_gap

    # the text on top, wrapped to the width
    text_lines = []
    line = ""
    for c in piece_label(text):
        label = c if _drawable(c) else _char(c)
        if probe.measure(line + label, size, mono=True)[0] > width - 2 * MARGIN - 2 * PAD:
            text_lines.append(line)
            line = ""
        line += label
    text_lines.append(line)
    text_lines = text_lines[:3] + (["…"] if len(text_lines) > 3 else [])
    y_text_h = len(text_lines) * size * 1.2 + PAD
    band_h = 4 * row_h
    y_bands = MARGIN + y_text_h + 26
    y_summary = y_bands + len(bands) * (band_h + 10) - 10 - row_h + box_h + 12
    height = y_summary + note * 1.2 + MARGIN

    all_ids = tokenizer.encode(text)
    n_bytes = len(text.encode("utf-8"))
    rest = len(chunks) - len(shown)
    summary = (f"{len(text)} characters → {len(chunks)} chunks → {n_bytes} bytes → {len(all_ids)} tokens")
    if rest:
        summary = f"… {rest} more chunks. " + summary
    alt = (
        f"Tokenizing {text!r}: the pre-tokenizer cuts it into {len(chunks)} chunks, their {n_bytes} bytes are "
        f"merged by BPE into {len(all_ids)} tokens "
        f"({', '.join(repr(vocab[i].decode('utf-8', 'replace')) for i in all_ids[:12])}"
        f"{', ...' if len(all_ids) > 12 else ''}) with ids "
        f"{', '.join(str(i) for i in all_ids[:12])}{', ...' if len(all_ids) > 12 else ''}."
    )
    d = Drawing(_r(width), _r(height), alt=alt)
    tb = d.box(MARGIN, MARGIN, _r(width - 2 * MARGIN), _r(y_text_h), "\n".join(text_lines), concept="neutral",
               mono=True, size=size)
    d.arrow((tb.cx, tb.y + tb.h + 2), (tb.cx, y_bands - 4))
    y = y_bands
    for band in bands:
        for r, name in enumerate(row_names):
            d.note(MARGIN + lab_w - 10, _r(y + r * row_h + box_h / 2), name, size=note, ha="right")
        x = MARGIN + lab_w
        for k in band:
            label, toks, total = groups[k]
            d.box(_r(x), _r(y), _r(total - gap), box_h, label, concept="token", mono=True, size=size,
                  filled=False, lw=1.0)
            xt = x
            for i, span, blabels in toks:
                bw = (span - gap) / len(blabels)
                for j, s in enumerate(blabels):
                    d.box(_r(xt + j * bw), _r(y + row_h), _r(bw - gap), box_h, s, concept="neutral", mono=True,
                          size=size, filled=False, lw=0.6, round_=2.5)
                d.box(_r(xt), _r(y + 2 * row_h), _r(span - gap), box_h, _piece(vocab[i]), concept="token",
                      mono=True, size=size, lw=1.2)
                d.text(_r(xt + (span - gap) / 2), _r(y + 3 * row_h + box_h / 2), str(i), size=size, mono=True,
                       colour_=colour("token").edge)
                xt += span
            x += total + group_gap
        y += band_h + 10
    d.note(MARGIN + lab_w, _r(y_summary), summary, size=note, ha="left", va="top")
    return d
