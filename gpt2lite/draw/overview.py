"""The book map, next-word suggestions as a phone keyboard, the bigram table lookup (chapter 1)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from functools import lru_cache

from ._args import count, fraction
from .canvas import Box, Drawing, piece_label, rounded as _r
from .style import FONT, MONO, SIZE

__all__: list[str] = ["book_map", "next_word_keyboard", "bigram_lookup"]

NOTE = SIZE - 1  # notes and shapes, 10 pt: legible on a phone up to 500 pt wide


# -- shared helpers ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _font(mono: bool):
    from matplotlib.font_manager import FontProperties, findfont, get_font

    return get_font(findfont(FontProperties(family=MONO if mono else FONT)))


def _safe(s: str, *, mono: bool = True) -> str:
    """``s`` with every character the font lacks replaced by U+FFFD, so that any text draws cleanly."""
    font = _font(mono)
    return "".join(c if c == "\n" or font.get_char_index(ord(c)) else "\ufffd" for c in s)


def _shown(piece: str, *, mono: bool = True, limit: int = 12) -> str:
    """A token's text as a label: visible spaces and newlines, glyphs the font has, at most ``limit`` characters."""
    s = _safe(piece_label(piece), mono=mono)
    return s if len(s) <= limit else s[: limit - 1] + "\u2026"


def _quote(s: str) -> str:
    return "'" + s + "'"


def _vocab_size(tokenizer) -> int | None:
    for name in ("vocab_size", "n_vocab"):
        v = getattr(tokenizer, name, None)
        if isinstance(v, numbers.Integral) and not isinstance(v, bool):
            return int(v)
    return None


def _check_tokenizer(tokenizer, what: str) -> None:
    if not (callable(getattr(tokenizer, "encode", None)) and callable(getattr(tokenizer, "decode", None))):
        raise TypeError(
            f"{what} needs a tokenizer with encode and decode (a CharTokenizer, a BPETokenizer or a tiktoken "
            f"Encoding), got {type(tokenizer).__name__}"
        )


def _tensor(values, name: str, ndim: int):
    import torch

    try:
        t = torch.as_tensor(values).detach().cpu().double()
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name} must be a tensor of numbers, got {type(values).__name__}") from e
    if t.ndim != ndim:
        want = "(V,), one probability per token" if ndim == 1 else "(V, V), row a holding what follows a"
        raise ValueError(f"{name} must have shape {want}; got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return t


# -- the book map ------------------------------------------------------------------------------------------------
# (chapter, short title) of the chapters the map points at
_CHAPTERS = {
    1: "a language model",
    2: "tokenization",
    3: "embeddings",
    4: "self-attention",
    5: "the decoder block",
    6: "the whole GPT-2",
    7: "training",
    8: "sampling",
    9: "OpenAI's weights",
    10: "GPT vs BERT",
}


def _token_rows(d: Drawing, pieces: list[str], width: float, max_lines: int) -> tuple[list[list[int]], int]:
    """Which pieces go on which line (indices), wrapping at ``width``; how many are left out."""
    gap = 4.0
    lines: list[list[int]] = [[]]
    used = 0.0
    for i, p in enumerate(pieces):
        w = max(d.measure(p, SIZE, mono=True)[0] + 8, 22)
        if lines[-1] and used + gap + w > width:
            if len(lines) == max_lines:
                break
            lines.append([])
            used = 0.0
        used += (gap if lines[-1] else 0) + w
        lines[-1].append(i)
    shown = sum(len(line) for line in lines)
    left = len(pieces) - shown
    if left:  # room on the last line for "… N more"
        more = f"\u2026 {left} more"
        while lines[-1] and used + gap + d.measure(more, NOTE)[0] > width:
            last = lines[-1].pop()
            w = max(d.measure(pieces[last], SIZE, mono=True)[0] + 8, 22)
            used -= w + (gap if lines[-1] else 0)
            left += 1
            more = f"\u2026 {left} more"
    return lines, left


def book_map(config, tokenizer=None, text: str | None = None, *, max_blocks: int = 4) -> Drawing:
    """The whole book on one page: text, token ids, embeddings, the stack of blocks, logits, the next token.

    Each stage is labelled with the chapter that builds it. The stack has ``config.n_layer`` blocks (at most
    ``max_blocks`` drawn; the rest are counted), and the shapes are ``config``'s. With a ``tokenizer`` and a
    ``text``, the map shows that text's real token pieces and ids.
    """
    for name in ("n_layer", "n_head", "n_embd", "vocab_size", "block_size"):
        v = getattr(config, name, None)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"book_map needs a GPTConfig (with n_layer, n_embd, ...), got {type(config).__name__}")
    if (tokenizer is None) != (text is None):
        raise ValueError("pass both a tokenizer and a text to show real tokens, or neither for the plain map")
    max_blocks = count("max_blocks", max_blocks, 3, expected="an integer of at least 3 (first, last and a gap)")
    ids: list[int] = []
    pieces: list[str] = []
    if tokenizer is not None:
        _check_tokenizer(tokenizer, "book_map")
        if not isinstance(text, str) or not text.strip():
            error = TypeError if not isinstance(text, str) else ValueError
            raise error(f"text must be a non-empty string such as 'The cat sat on the', got {text!r}")
        ids = list(tokenizer.encode(text))
        if len(ids) > config.block_size:
            raise ValueError(
                f"the text has {len(ids)} tokens, more than the model's context of {config.block_size} "
                "(config.block_size): pass a shorter text"
            )
        vs = _vocab_size(tokenizer)
        if vs is not None and vs > config.vocab_size:
            raise ValueError(
                f"the tokenizer has {vs:,} tokens but the config only {config.vocab_size:,} (vocab_size): "
                "pass a config whose vocab_size covers the tokenizer"
            )
        pieces = [_shown(tokenizer.decode([i])) for i in ids]

    W = 500.0
    d = Drawing(W, 10)  # for measuring; the drawing is made below, once its height is known
    X0, X1 = 14.0, 330.0  # the pipeline's column
    CX = (X0 + X1) / 2
    TAG_X = 352.0  # the chapter tags' column
    T = len(ids)
    C, V, L = config.n_embd, config.vocab_size, config.n_layer
    tags: list[tuple[float, float, int]] = []  # (x, y) a tag points at, and its chapter
    gap = 22.0
    ops: list = []  # (method, args, kwargs), replayed on the final drawing

    def put(method: str, *args, **kw) -> None:
        ops.append((method, args, kw))

    def arrow(x0: float, y0: float, x1: float, y1: float, **kw) -> None:
        put("arrow", (_r(x0), _r(y0)), (_r(x1), _r(y1)), **kw)

    def box(x: float, y: float, w: float, h: float, label: str | None, **kw) -> None:
        put("box", _r(x), _r(y), _r(w), _r(h), label, **kw)

    def note(x: float, y: float, s: str, **kw) -> None:
        put("note", _r(x), _r(y), s, size=NOTE, **kw)

    # 1. the text
    y = 8.0
    if text:
        shown_text = _safe(text.replace("\n", "\u21b5"), mono=False)
        label = _quote(shown_text if len(shown_text) <= 40 else shown_text[:39] + "\u2026")
    else:
        label = "text"
    tw = d.measure(label, SIZE)[0] + 16
    box(CX - tw / 2, y, tw, 24, label, concept="token")
    text_left = (CX - tw / 2, y + 12)
    y += 24
    # 2. tokens and their ids
    arrow(CX, y + 2, CX, y + gap - 2)
    y += gap
    if ids:
        lines, left = _token_rows(d, pieces, X1 - X0, max_lines=2)
        right = CX
        for n, line in enumerate(lines):
            widths = [max(d.measure(pieces[i], SIZE, mono=True)[0] + 8, 22) for i in line]
            more = f"\u2026 {left} more" if left and n == len(lines) - 1 else ""
            total = sum(widths) + 4 * (len(line) - 1) + (4 + d.measure(more, NOTE)[0] if more else 0)
            x = CX - total / 2
            for i, w in zip(line, widths):
                box(x, y, w, 20, pieces[i], concept="token", mono=True)
                note(x + w / 2, y + 30, str(ids[i]), mono=True)
                x += w + 4
            if more:
                note(x, y + 10, more, ha="left")
            right = max(right, CX + total / 2)
            tags.append((right + 6, y + 10, 2)) if n == 0 else None
            y += 42
        note(CX, y + 2, f"token ids (B, T) = (1, {T})")
        y += 10
    else:
        box(CX - 60, y, 120, 22, "token ids", concept="token")
        tags.append((CX + 66, y + 11, 2))
        y += 22
        note(CX, y + 10, "(B, T)")
        y += 14
    # 3. embeddings: the ids index wte, the positions index wpe; the two are added
    ew = 126.0
    wte_cx, wpe_cx = CX - 14 - ew / 2, CX + 14 + ew / 2
    arrow(CX, y + 2, CX, y + 8, head=False)
    put("line", [_r(CX), _r(wte_cx), _r(wte_cx)], [_r(y + 8), _r(y + 8), _r(y + 9)], lw=1.4)
    arrow(wte_cx, y + 8, wte_cx, y + gap - 2)
    pos = f"positions 0 \u2026 {T - 1}" if T > 1 else "position 0" if T else "positions 0 \u2026 T\u22121"
    note(wpe_cx, y + 4, pos)
    arrow(wpe_cx, y + 11, wpe_cx, y + gap - 2)
    y += gap
    box(CX - 14 - ew, y, ew, 24, "token emb. wte", concept="embedding")
    put("text", _r(CX), _r(y + 12), "+", size=SIZE + 3, weight="bold")
    box(CX + 14, y, ew, 24, "position emb. wpe", concept="position")
    tags.append((CX + 14 + ew + 6, y + 12, 3))
    y += 24
    note(CX, y + 11, f"(B, T, C) = (1, {T}, {C})" if T else f"(B, T, C), C = {C}")
    y += 18
    # 4. the stack of blocks: LayerNorm, attention, LayerNorm, MLP in each
    arrow(CX, y + 2, CX, y + gap - 8)
    y += gap - 6
    drawn = list(range(1, L + 1)) if L <= max_blocks else [*range(1, max_blocks - 1), None, L]
    stack_top = y
    bh, bgap = 34.0, 8.0
    sx0, sx1 = X0 + 24, X1 - 30
    for n, b in enumerate(drawn):
        if b is None:
            hidden = L - (max_blocks - 1)
            note(CX, y + 8, f"\u22ee  {hidden} more blocks, the same  \u22ee")
            y += 16 + bgap
            continue
        box(sx0, y, sx1 - sx0, bh, None, concept="residual", round_=6.0)
        put("text", _r(sx0 + 10), _r(y + bh / 2), f"block {b}", size=NOTE, ha="left")
        x = sx0 + 72
        parts = [("LN", "norm", 24.0), ("attention", "attention", 70.0), ("LN", "norm", 24.0), ("MLP", "mlp", 42.0)]
        for k, (lab, concept, w) in enumerate(parts):
            box(x, y + 7, w, 20, lab, concept=concept, size=NOTE)
            x += w
            if k < len(parts) - 1:
                arrow(x + 1, y + bh / 2, x + 9, y + bh / 2, lw=1.0)
                x += 10
        if n == 0:
            tags.append((sx1 + 4, y + bh / 2 - 8, 4))
            tags.append((sx1 + 4, y + bh / 2, 5))
            tags.append((sx1 + 4, y + bh / 2 + 8, 10))
        y += bh
        if n < len(drawn) - 1 and drawn[n + 1] is not None:
            arrow(CX, y + 1, CX, y + bgap - 1, lw=1.0)
        y += bgap
    stack_bottom = y - bgap
    bx = sx1 + 10  # the bracket that says how many
    put("line", [_r(bx - 4), _r(bx), _r(bx), _r(bx - 4)],
        [_r(stack_top), _r(stack_top), _r(stack_bottom), _r(stack_bottom)], concept="residual", lw=1.2)
    mid = (stack_top + stack_bottom) / 2
    if L > 1:
        put("text", _r(bx + 5), _r(mid), f"\u00d7 {L}", size=SIZE, weight="bold", ha="left",
            colour_="#334155")
    tags.append((bx + 40, mid + 14, 6))
    tags.append((bx + 40, mid + 14.1, 9))
    # 5. the final LayerNorm and the head, the logits, the probabilities
    arrow(CX, y - bgap + 2, CX, y + gap - 12)
    y += gap - 10
    hw = 210.0
    box(CX - hw / 2, y, hw, 24, "LayerNorm, then linear head", concept="norm")
    y += 24
    arrow(CX, y + 2, CX, y + gap - 2)
    y += gap
    box(CX - 70, y, 140, 24, "logits", concept="logits")
    y += 24
    note(CX, y + 11, f"(B, T, V) = (1, {T}, {V:,})" if T else f"(B, T, V), V = {V:,}")
    y += 18
    arrow(CX, y + 2, CX, y + gap - 2)
    note(CX + 8, y + gap / 2, "softmax", ha="left")
    y += gap
    box(CX - 70, y, 140, 24, "probabilities", concept="logits")
    tags.append((CX + 76, y + 12, 8))
    y += 24
    # 6. sample the next token (left) or score the real one (right)
    nt_cx, loss_cx = CX - 78, CX + 78
    arrow(CX - 20, y + 2, nt_cx, y + gap + 4)
    arrow(CX + 20, y + 2, loss_cx, y + gap + 4)
    note(nt_cx - 4, y + 11, "sample", ha="right")
    note(loss_cx + 4, y + 11, "train", ha="left")
    y += gap + 6
    box(nt_cx - 64, y, 128, 24, "next token", concept="logits", weight="bold")
    box(loss_cx - 64, y, 128, 24, "loss", concept="neutral")
    tags.append((loss_cx + 70, y + 6, 1))
    tags.append((loss_cx + 70, y + 18, 7))
    y += 24
    note(loss_cx, y + 11, "\u2212ln P(real next token)")
    # generating: the sampled token is appended to the text and the model runs again (dashed, on the left)
    loop_x = X0 - 6
    put("line", [_r(nt_cx - 64), _r(loop_x), _r(loop_x)], [_r(y - 12), _r(y - 12), _r(text_left[1])],
        dashed=True, lw=1.0)
    arrow(loop_x, text_left[1], text_left[0] - 2, text_left[1], dashed=True, lw=1.0)
    note(loop_x + 9, _r((text_left[1] + y) / 2), "appended to the text, and again", rotation=90)
    y += 18
    H = y + 8

    # the chapter tags, in the right column: top to bottom, pushed down so that none overlap
    placed: list[tuple[float, float, int, float]] = []  # (x, y) pointed at, chapter, the tag's top
    floor = 0.0
    for tx, ty, ch in sorted(tags, key=lambda t: (t[1], t[2])):
        h = 18.0
        top = max(ty - h / 2, floor)
        placed.append((tx, ty, ch, top))
        floor = top + h + 3
    H = max(H, floor + 4)
    final = Drawing(W, _r(H))
    for method, args, kw in ops:
        getattr(final, method)(*args, **kw)
    for tx, ty, ch, top in placed:
        label = f"{ch}  {_CHAPTERS[ch]}"
        b = final.fit_box(_r(TAG_X), _r(top), label, concept="neutral", size=NOTE, h=18.0, pad=5.0, round_=9.0)
        final.line([_r(tx + 3), _r(TAG_X - 8), _r(TAG_X)], [_r(ty), _r(b.cy), _r(b.cy)], lw=0.8,
                   concept="neutral", alpha=0.6)

    tokens_said = (f"the text {text!r} as {T} tokens ({', '.join(map(str, ids[:8]))}{', ...' if T > 8 else ''})"
                   if T else "a text as token ids")
    final.alt = (
        f"The map of the book: {tokens_said}, their token and position embeddings of width {C}, a stack of "
        f"{L} decoder blocks of attention and MLP, a final LayerNorm and head giving {V:,} logits per position, "
        "and the next token; each stage is tagged with the chapter that builds it, from tokenization "
        "(chapter 2) to sampling (chapter 8) and GPT vs BERT (chapter 10)."
    )
    return final


# -- shading ----------------------------------------------------------------------------------------------------
def _shaded(d: Drawing, x: float, y: float, w: float, h: float, v: float, *, concept: str,
            edge: str | None = None, lw: float = 1.0) -> Box:
    """A white rounded box tinted by ``v`` in [0, 1] with ``concept``'s dark colour, outlined in the edge colour
    of ``edge`` (by default ``concept``)."""
    from matplotlib.patches import FancyBboxPatch

    from .style import BACKGROUND, colour

    c = colour(concept)
    style = f"round,pad=0,rounding_size={_r(min(4.0, w / 2, h / 2))}"
    d.ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=style, facecolor=BACKGROUND, edgecolor="none"))
    d.ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=style, facecolor=c.edge, alpha=round(v, 2),
                                  edgecolor="none"))
    d.ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=style, facecolor="none",
                                  edgecolor=colour(edge or concept).edge, linewidth=lw))
    return Box(x, y, w, h)


def _ink(v: float) -> str:
    from .style import BACKGROUND, INK

    return BACKGROUND if v > 0.55 else INK


# -- next-word suggestions as a phone keyboard --------------------------------------------------------------------
_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def next_word_keyboard(probs, tokenizer, typed: str, *, k: int = 3, model: str = "the model",
                       seen: int | None = None) -> Drawing:
    """A phone keyboard whose suggestion bar offers a model's ``k`` likeliest next tokens, with their probabilities.

    ``probs`` is the model's distribution over the next token after ``typed`` (shape (V,), summing to 1) and
    ``tokenizer`` decodes its ids. Each letter key is tinted by the probability that the next token is that letter
    (either case), the space bar and return key by those of a space and a newline. With ``seen``, the last
    ``seen`` characters of ``typed`` are marked as all that ``model`` reads (1 for a bigram).
    """
    import torch

    p = _tensor(probs, "probs", 1)
    _check_tokenizer(tokenizer, "next_word_keyboard")
    if len(p) < 2:
        raise ValueError(f"probs needs a probability for each of at least 2 tokens, got shape {tuple(p.shape)}")
    if (p < 0).any() or abs(float(p.sum()) - 1.0) > 1e-3:
        raise ValueError(
            f"probs must be a probability distribution (non-negative, summing to 1), its sum is {float(p.sum()):.4f}:"
            " pass softmax(logits) or a row of the bigram table P, not raw counts or logits"
        )
    if not isinstance(typed, str) or not typed:
        error = TypeError if not isinstance(typed, str) else ValueError
        raise error(f"typed must be the non-empty text typed so far, such as 'we proceed any furt', got {typed!r}")
    k = count("k (how many suggestions)", k, 1, min(5, len(p)))
    if seen is not None:
        seen = count("seen", seen, 1, len(typed),
                     f"None or a number of characters from 1 to len(typed) = {len(typed)}")
    if not isinstance(model, str) or not model.strip():
        error = TypeError if not isinstance(model, str) else ValueError
        raise error(f"model must name the model, such as 'the bigram model', got {model!r}")

    pieces = [tokenizer.decode([i]) for i in range(len(p))]
    top = torch.topk(p, k)
    best = [(round(float(v), 2), int(i)) for v, i in zip(top.values, top.indices)]
    single = {}  # character -> its token's probability
    for i, s in enumerate(pieces):
        if len(s) == 1:
            single[s] = single.get(s, 0.0) + float(p[i])
    def key_p(ch: str) -> float:
        return single.get(ch, 0.0) + (single.get(ch.upper(), 0.0) if ch.isalpha() else 0.0)
    pmax = max(float(p.max()), 1e-12)

    W = 340.0
    d = Drawing(W, 10)
    X0, X1 = 24.0, W - 24.0
    ops: list = []
    put = lambda method, *a, **kw: ops.append((method, a, kw))  # noqa: E731

    # the text field: what was typed, the part the model reads marked, and the cursor
    y = 20.0
    field_h = 30.0
    put("box", X0, y, X1 - X0, field_h, None, concept="neutral", filled=False, round_=8.0)
    head = _safe(typed.replace("\n", "\u21b5"), mono=False)
    tail = head[len(head) - seen:] if seen else ""
    head = head[: len(head) - seen] if seen else head
    room = X1 - X0 - 24 - (d.measure(tail, SIZE + 1)[0] + 8 if tail else 0)
    while head and d.measure(head, SIZE + 1)[0] > room:
        head = "\u2026" + head[2:] if head[0] == "\u2026" else "\u2026" + head[1:]
    x = X0 + 10
    cy = y + field_h / 2
    if head:
        put("text", _r(x), _r(cy), head, size=SIZE + 1, ha="left")
        x += d.measure(head, SIZE + 1)[0] + 2
    if tail:
        tw = d.measure(tail, SIZE + 1)[0] + 6
        put("box", _r(x), _r(cy - 10), _r(tw), 20.0, tail, concept="token", size=SIZE + 1)
        x += tw + 1
    put("line", [_r(x + 1), _r(x + 1)], [_r(cy - 9), _r(cy + 9)], lw=1.4)  # the cursor
    y += field_h
    if seen:
        what = _quote(piece_label(tail)) if seen <= 3 else f"the last {seen} characters"
        put("note", _r(W / 2), _r(y + 11), f"{model} reads only {what}", size=NOTE)
        y += 18
    # the suggestion bar
    y += 10
    bar_h = 40.0
    put("box", X0, y, X1 - X0, bar_h, None, concept="neutral", round_=6.0)
    sw = (X1 - X0) / k
    for n, (v, i) in enumerate(best):
        cx = X0 + sw * (n + 0.5)
        label = _shown(pieces[i], limit=10 if k <= 3 else 6)
        put("text", _r(cx), _r(y + 15), label, size=SIZE + 3, mono=True, weight="bold" if n == 0 else "normal",
            colour_="#3f6212")
        put("note", _r(cx), _r(y + 31), f"{v:.2f}", size=NOTE, mono=True)
        if n:
            put("line", [_r(X0 + sw * n)] * 2, [_r(y + 8), _r(y + bar_h - 8)], concept="neutral", lw=0.8)
    y += bar_h + 10
    # the keyboard, each key tinted by its probability
    key_gap, key_h = 4.0, 32.0
    kw = (X1 - X0 - 9 * key_gap) / 10
    panel_top = y
    y += 8
    keys = []  # (x, y, w, h, label, v)
    for r, row in enumerate(_KEY_ROWS):
        x = X0 + 6 + r * (kw + key_gap) / 2
        kw_r = (X1 - X0 - 12 - 9 * key_gap) / 10
        for ch in row:
            keys.append((x, y, kw_r, key_h, ch, key_p(ch)))
            x += kw_r + key_gap
        y += key_h + 6
    space_w = (X1 - X0 - 12) * 0.64
    keys.append((X0 + 6 + (X1 - X0 - 12) * 0.16, y, space_w, key_h, "space", key_p(" ")))
    ret_x = X0 + 6 + (X1 - X0 - 12) * 0.16 + space_w + key_gap
    keys.append((ret_x, y, X1 - 6 - ret_x, key_h, "\u21b5", key_p("\n")))
    y += key_h + 8
    put("box", X0, _r(panel_top), X1 - X0, _r(y - panel_top), None, concept="neutral", round_=8.0)
    y += 6
    put("note", _r(W / 2), _r(y + 8), f"key shade: the probability of that key next (darkest = {pmax:.2f})",
        size=NOTE)
    y += 18
    H = y + 10

    final = Drawing(W, _r(H))
    # the phone
    final.box(8.0, 6.0, W - 16, _r(H - 12), None, concept="neutral", filled=False, round_=18.0, lw=1.6)
    for method, a, kwargs in ops:
        getattr(final, method)(*a, **kwargs)
    for x, ky, w, h, label, pk in keys:
        v = round(min(pk / pmax, 1.0), 2)
        _shaded(final, _r(x), _r(ky), _r(w), _r(h), v, concept="logits", edge="neutral", lw=0.8)
        final.text(_r(x + w / 2), _r(ky + h / 2), label, size=SIZE if len(label) > 1 else SIZE + 1,
                   colour_=_ink(v), va="center_baseline")
        final._labelled.append((Box(_r(x), _r(ky), _r(w), _r(h)), final._texts[-1]))
    said = ", ".join(f"{_quote(piece_label(pieces[i]))} ({v:.2f})" for v, i in best)
    final.alt = (
        f"A phone keyboard after typing {typed!r}: {model} suggests {said}; every key is shaded by the "
        f"probability that it comes next, the darkest at {pmax:.2f}."
    )
    return final


# -- the bigram table lookup --------------------------------------------------------------------------------------
def _strip(d: Drawing, x: float, y: float, values: Sequence[float], cw: float, ch: float, *, concept: str) -> Box:
    """A row of square-cornered cells, each tinted by its value in [0, 1] (a row of a heatmap)."""
    from matplotlib.patches import Rectangle

    from .style import BACKGROUND, colour

    c = colour(concept)
    d.ax.add_patch(Rectangle((x, y), cw * len(values), ch, facecolor=BACKGROUND, edgecolor="none"))
    for j, v in enumerate(values):
        if v > 0:
            d.ax.add_patch(Rectangle((_r(x + j * cw), y), cw, ch, facecolor=c.edge, alpha=round(v, 2),
                                     edgecolor="none"))
    d.ax.add_patch(Rectangle((x, y), cw * len(values), ch, facecolor="none", edgecolor=colour("neutral").edge,
                             linewidth=0.6))
    return Box(x, y, cw * len(values), ch)


def bigram_lookup(counts, tokenizer, current: str, *, k: int = 6, smoothing: float = 1,
                  generator=None) -> Drawing:
    """The bigram model at work: ``current`` picks its row of the count table, the row becomes probabilities, and
    the next character is picked from them.

    ``counts`` is the (V, V) table N whose row a, column b counts how often b follows a; ``tokenizer`` maps
    characters to ids (a CharTokenizer). The row's ``k`` largest counts are shown, the rest summed; each count
    gets ``smoothing`` added before the row is divided by its sum. The next character is the likeliest, or,
    with a ``torch.Generator``, drawn with ``torch.multinomial`` as the chapter samples.
    """
    import torch

    N = _tensor(counts, "counts", 2)
    V = N.shape[0]
    if N.shape[1] != V or V < 2:
        raise ValueError(f"counts must be a square (V, V) table with V >= 2, got shape {tuple(N.shape)}")
    if (N < 0).any() or (N != N.round()).any():
        raise ValueError("counts must hold whole, non-negative counts (the table N before it is normalised)")
    _check_tokenizer(tokenizer, "bigram_lookup")
    if not isinstance(current, str) or len(current) != 1:
        error = TypeError if not isinstance(current, str) else ValueError
        raise error(f"current must be a single character such as 't', got {current!r}")
    try:
        ids = list(tokenizer.encode(current))
    except (ValueError, KeyError) as e:
        raise ValueError(f"current {current!r} is not in the tokenizer's vocabulary: {e}") from None
    if len(ids) != 1 or not 0 <= ids[0] < V:
        raise ValueError(f"current {current!r} must be one token of the table's {V} (its id is {ids})")
    k = count("k (how many counts to show)", k, 1, min(7, V - 1))
    smoothing = fraction("smoothing", smoothing, lambda x: 0 <= x < math.inf,
                         "a number >= 0 (1 for add-one smoothing)")
    a = ids[0]
    row = N[a]
    total = float(row.sum()) + smoothing * V
    if total <= 0:
        raise ValueError(f"row {current!r} of counts is all zeros: with smoothing=0 it has no probabilities; "
                         "pass smoothing=1 or another character")
    probs = (row + smoothing) / total
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        picked = int(torch.multinomial(probs.float(), 1, generator=generator))
    else:
        picked = int(probs.argmax())
    order = [int(j) for j in torch.argsort(row, descending=True, stable=True)]
    cols = order[:k]
    if picked not in cols:
        cols = cols[:-1] + [picked]
    others = [j for j in range(V) if j not in cols]
    pieces = [tokenizer.decode([j]) for j in range(V)]
    lab = lambda j: _shown(pieces[j], limit=4)  # noqa: E731
    cur = lab(a)

    W = 500.0
    d = Drawing(W, 10)
    LX = 138.0  # the labels' right edge; the columns start after it
    ops: list = []
    put = lambda method, *args, **kw: ops.append((method, args, kw))  # noqa: E731
    later: list = []  # drawn with the private tinting helpers, once the drawing exists

    # A. the table: the rows around the current character, its row outlined
    y = 26.0
    window = [j for j in range(a - 2, a + 1) if 0 <= j < V]  # the current row last: its arrow leaves downwards
    cw = _r(min(5.0, (W - LX - 24) / V))
    gx = LX + 12
    put("note", _r(gx + cw * V / 2), 10.0,
        f"the count table N: {V} \u00d7 {V}, shaded by log count; next character across", size=NOTE)
    rh, rgap = 14.0, 4.0
    vmax = max(float(torch.log1p(N[window]).max()), 1e-9)
    if window[0] > 0:
        put("note", _r(LX - 4), _r(y + 4), "\u22ee", size=NOTE, ha="right")
    y += 12
    cur_y = y
    for j in window:
        vals = [round(float(v) / vmax, 2) for v in torch.log1p(N[j])]
        later.append(("strip", gx, _r(y), vals, cw, rh))
        put("text", _r(LX), _r(y + rh / 2), lab(j), size=NOTE, mono=True, ha="right",
            weight="bold" if j == a else "normal")
        if j == a:
            cur_y = y
        y += rh + rgap
    if window[-1] < V - 1:
        put("note", _r(LX - 4), _r(y + 2), "\u22ee", size=NOTE, ha="right")
        y += 10
    ox0, ox1, oy0, oy1 = _r(gx - 3), _r(gx + cw * V + 3), _r(cur_y - 3), _r(cur_y + rh + 3)
    put("line", [ox0, ox1, ox1, ox0, ox0], [oy0, oy0, oy1, oy1, oy0], concept="token", lw=1.6)
    # the current character, pointing at its row
    put("note", 34.0, _r(cur_y - 16), "current", size=NOTE)
    put("box", 20.0, _r(cur_y - 4), 28.0, 22.0, cur, concept="token", mono=True, weight="bold")
    put("arrow", (52.0, _r(cur_y + rh / 2)), (_r(LX - 14), _r(cur_y + rh / 2)), concept="token")
    y += 14
    # B. the row's counts, largest first, as bars
    col_w = _r((W - LX - 16) / (len(cols) + 1))
    xs = [LX + 10 + col_w * n for n in range(len(cols) + 1)]
    rest = float(row[others].sum()) if others else 0.0
    shown = [float(row[j]) for j in cols] + [rest]
    cmax = max(max(shown), 1.0)
    put("arrow", (_r(gx + cw * V / 2), _r(cur_y + rh + 3)), (_r(gx + cw * V / 2), _r(y + 2)), concept="token")
    y += 10
    bar_top, bar_h = y + 14, 56.0
    base = bar_top + bar_h
    put("text", _r(LX), _r(base - bar_h / 2 - 7), f"row {_quote(cur)}", size=NOTE, ha="right")
    put("note", _r(LX), _r(base - bar_h / 2 + 7), f"{int(row.sum()):,} pairs", ha="right", size=NOTE)
    for n, (x, c) in enumerate(zip(xs, shown)):
        h = _r(max(bar_h * c / cmax, 1.0))
        bw = col_w - 14
        is_rest = n == len(cols)
        put("box", _r(x + 7), _r(base - h), _r(bw), h, None, concept="neutral", round_=2.0, dashed=is_rest)
        put("note", _r(x + col_w / 2), _r(base - h - 8), f"{int(c):,}", size=NOTE, mono=True)
    y = base + 4
    for n, x in enumerate(xs):
        if n < len(cols):
            w = max(d.measure(lab(cols[n]), SIZE, mono=True)[0] + 8, 22)
            put("box", _r(x + col_w / 2 - w / 2), _r(y), _r(w), 20.0, lab(cols[n]), concept="token", mono=True,
                weight="bold" if cols[n] == picked else "normal")
        else:
            put("note", _r(x + col_w / 2), _r(y + 10), f"{len(others)} others", size=NOTE)
    y += 20
    # C. the probabilities
    add = f"+{smoothing:g} each, " if smoothing else ""
    put("note", _r(LX), _r(y + 16), f"{add}\u00f7 {total:,.0f}", size=NOTE, ha="right")
    put("arrow", (_r(LX + 4), _r(y + 6)), (_r(LX + 4), _r(y + 26)), lw=1.0)
    y += 32
    ps = [float(probs[j]) for j in cols] + [float(probs[others].sum()) if others else 0.0]
    pmax = max(ps[:-1])
    put("text", _r(LX), _r(y + 11), f"P(next | {_quote(cur)})", size=NOTE, ha="right")
    for n, (x, pv) in enumerate(zip(xs, ps)):
        v = round(min(pv / pmax, 1.0), 2) if n < len(cols) else 0.0
        later.append(("cell", _r(x + 4), _r(y), _r(col_w - 8), 22.0, v, f"{pv:.2f}", n == len(cols)))
    y += 22
    # D. the pick
    pn = cols.index(picked)
    px = xs[pn] + col_w / 2
    put("arrow", (_r(px), _r(y + 2)), (_r(px), _r(y + 22)), concept="logits")
    how = "drawn with torch.multinomial" if generator is not None else "the likeliest"
    y += 24
    nw = d.measure(f"next: {lab(picked)}", SIZE, mono=True, weight="bold")[0] + 14
    nx = min(max(px - nw / 2, LX + 10), W - nw - 8)
    put("box", _r(nx), _r(y), _r(nw), 22.0, f"next: {lab(picked)}", concept="token", mono=True, weight="bold")
    how_w = d.measure(how, NOTE)[0]
    if nx - 16 > how_w:
        put("note", _r(nx - 8), _r(y + 11), how, size=NOTE, ha="right")
    elif W - (nx + nw + 8) > how_w + 4:
        put("note", _r(nx + nw + 8), _r(y + 11), how, size=NOTE, ha="left")
    else:
        put("note", _r(min(max(nx + nw / 2, how_w / 2 + 6), W - how_w / 2 - 6)), _r(y + 33), how, size=NOTE)
        y += 20
    y += 22
    H = y + 10

    final = Drawing(W, _r(H))
    for item in later:
        if item[0] == "strip":
            _, x, sy, vals, c_w, r_h = item
            _strip(final, x, sy, vals, c_w, r_h, concept="neutral")
    for method, args, kw in ops:
        getattr(final, method)(*args, **kw)
    for item in later:
        if item[0] == "cell":
            _, x, cy, w, h, v, label, is_rest = item
            if is_rest:
                final.box(x, cy, w, h, label, concept="neutral", filled=False, dashed=True, size=NOTE, mono=True)
            else:
                _shaded(final, x, cy, w, h, v, concept="logits")
                final.text(_r(x + w / 2), _r(cy + h / 2), label, size=NOTE, mono=True, colour_=_ink(v))
                final._labelled.append((Box(x, cy, w, h), final._texts[-1]))
    top3 = ", ".join(f"{_quote(piece_label(pieces[j]))} ({int(row[j]):,})" for j in cols[:3])
    final.alt = (
        f"The bigram lookup for {_quote(piece_label(current))}: its row of the {V} \u00d7 {V} count table holds "
        f"{int(row.sum()):,} pairs, most often {top3}; adding {smoothing:g} to each count and dividing by "
        f"{total:,.0f} gives P({_quote(piece_label(pieces[picked]))} | {_quote(piece_label(current))}) = "
        f"{float(probs[picked]):.2f}, and the next character, {how}, is {_quote(piece_label(pieces[picked]))}."
    )
    return final
