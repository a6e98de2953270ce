"""Embeddings drawn: ids picking rows of wte, positions picking rows of wpe, their sum, weight tying (chapter 3).

- `embedding_lookup`: a text's token ids pick rows of the tall token table ``wte``, its positions 0..T-1 pick the
  first rows of the position table ``wpe``, and the two add up to the first block's input, with the real shapes.
- `onehot_lookup`: a small table's lookup as a matrix product, one-hot rows times the table, with its numbers.
- `embedding_broadcast`: the shapes of ``wte(idx) + wpe(pos)``: one (T, C) position table added to each of the
  B sequences of a batch.
- `weight_tying`: one matrix, used by the lookup at the input and by ``h @ Wᵀ`` at the output, and what sharing
  it saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._args import count
from .canvas import Box, Drawing, piece_label
from .style import SIZE, SMALL, colour

if TYPE_CHECKING:
    import torch

    from ..config import GPTConfig
    from ..model import GPT

__all__ = ["embedding_lookup", "onehot_lookup", "embedding_broadcast", "weight_tying"]

_WIDE = 450.0  # the widest these drawings get: 9 pt notes stay legible on a 400 px phone up to 450 pt


# -- shared helpers -----------------------------------------------------------------------------------------------
def _config_of(model_or_config: Any) -> GPTConfig:
    """The GPTConfig of a GPT, or the config itself; a clear error for anything else."""
    from ..config import GPTConfig

    if isinstance(model_or_config, GPTConfig):
        return model_or_config
    config = getattr(model_or_config, "config", None)
    if isinstance(config, GPTConfig):
        return config
    raise TypeError(
        f"expected a GPT model or a GPTConfig, got {type(model_or_config).__name__}; "
        "pass e.g. GPTConfig.from_name('gpt2') or the model itself"
    )


def _n(x: int) -> str:
    """An integer with thousands separators: 50257 -> '50,257'."""
    return f"{x:,}"


def _short(piece: str, limit: int) -> str:
    """A token's text as drawn (visible spaces), cut to ``limit`` characters with an ellipsis."""
    s = piece_label(piece)
    s = s if len(s) <= limit else s[: limit - 1] + "\u2026"
    return s


def _as_id_list(ids: Any, name: str = "ids") -> tuple[list[list[int]], tuple[int, ...]]:
    """Token ids as a list of sequences (a batch), and the shape they came in: (T,) or (B, T)."""
    import numbers

    if hasattr(ids, "tolist") and hasattr(ids, "shape"):  # a tensor or an array
        shape = tuple(int(s) for s in ids.shape)
        if len(shape) not in (1, 2):
            raise ValueError(f"{name} must be 1-D (T,) or 2-D (B, T), got shape {shape}")
        dtype = str(getattr(ids, "dtype", ""))
        if "float" in dtype or "complex" in dtype or "bool" in dtype:
            raise TypeError(f"{name} must hold integer token ids, got dtype {dtype}; try ids.long()")
        rows = ids.tolist()
        rows = [rows] if len(shape) == 1 else rows
    elif isinstance(ids, Sequence) and not isinstance(ids, (str, bytes)):
        nested = bool(ids) and all(isinstance(r, Sequence) and not isinstance(r, (str, bytes)) for r in ids)
        rows = [list(r) for r in ids] if nested else [list(ids)]
        if len({len(r) for r in rows}) > 1:
            raise ValueError(f"every sequence of {name} must have the same length, got {[len(r) for r in rows]}")
        shape = (len(rows), len(rows[0])) if nested else (len(rows[0]),)
    else:
        raise TypeError(f"{name} must be a list or tensor of token ids, got {type(ids).__name__}")
    if not rows or not rows[0]:
        raise ValueError(f"{name} is empty: pass at least one token id, e.g. tokenizer.encode('Hello')")
    for r in rows:
        for i in r:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral):
                raise TypeError(f"{name} must hold integer token ids, got {i!r} ({type(i).__name__})")
    return [[int(i) for i in r] for r in rows], shape


def _ids_and_pieces(
    config: GPTConfig, ids: Any, tokenizer: Any, text: str | None
) -> tuple[list[list[int]], tuple[int, ...], list[str] | None]:
    """The batch of ids to draw, their shape, and the first sequence's pieces (None without a tokenizer)."""
    if ids is not None and text is not None:
        raise ValueError("pass either ids or a tokenizer and a text, not both")
    if ids is None:
        if tokenizer is None or text is None:
            raise ValueError("pass the token ids, or a tokenizer and a text: tokenizer=tok, text='The cat sat'")
        if not isinstance(text, str) or not text:
            error = TypeError if not isinstance(text, str) else ValueError
            raise error(f"text must be a non-empty string, got {text!r}")
        if not callable(getattr(tokenizer, "encode", None)):
            raise TypeError(f"tokenizer must have an encode(text) method, got {type(tokenizer).__name__}")
        ids = tokenizer.encode(text)
        if not ids:
            raise ValueError(f"the tokenizer turned {text!r} into no tokens: pass a text with some characters")
    rows, shape = _as_id_list(ids)
    for r in rows:
        for i in r:
            if not 0 <= i < config.vocab_size:
                raise ValueError(
                    f"token id {i} is outside the table: wte has rows 0 to {config.vocab_size - 1} "
                    f"(vocab_size={config.vocab_size})"
                )
    T = len(rows[0])
    if T > config.block_size:
        raise ValueError(
            f"{T} tokens do not fit the context: wpe has rows for positions 0 to {config.block_size - 1} "
            f"(block_size={config.block_size}); pass at most {config.block_size} ids"
        )
    pieces = None
    if tokenizer is not None:
        pieces = [tokenizer.decode([i]) for i in rows[0]]
    return rows, shape, pieces


def _curve(d: Drawing, start: tuple[float, float], end: tuple[float, float], *, concept: str,
           lw: float = 1.0) -> None:
    """A smooth S-shaped arrow that leaves ``start`` and reaches ``end`` horizontally (a fan of lookups)."""
    (x0, y0), (x1, y1) = start, end
    k = (x1 - x0) * 0.45
    xs, ys = [], []
    for j in range(25):
        t = j / 24
        a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
        xs.append(round(a * x0 + b * (x0 + k) + c * (x1 - k) + e * x1, 2))
        ys.append(round(a * y0 + b * y0 + c * y1 + e * y1, 2))
    d.line(xs, ys, concept=concept, lw=lw)
    step = 5.0 if x1 < x0 else -5.0
    d.arrow((round(x1 + step, 2), round(y1, 2)), (round(x1, 2), round(y1, 2)), concept=concept, lw=lw)


def _plus(d: Drawing, cx: float, cy: float, r: float = 9.0) -> Box:
    """A small round ⊕ node at (cx, cy)."""
    return d.box(cx - r, cy - r, 2 * r, 2 * r, "+", concept="residual", round_=r, size=SIZE, weight="bold")


# -- 1. the lookup ------------------------------------------------------------------------------------------------
def embedding_lookup(
    model_or_config: GPT | GPTConfig,
    ids: Sequence[int] | Sequence[Sequence[int]] | torch.Tensor | None = None,
    *,
    tokenizer: Any = None,
    text: str | None = None,
    max_tokens: int = 12,
) -> Drawing:
    """Token ids picking rows of ``wte``, positions 0..T-1 picking rows of ``wpe``, and their sum.

    Draws the first sequence of ``ids`` (or of ``tokenizer.encode(text)``) as a column of tokens: each id points
    at its row of the tall token table (vocab_size rows; the rows between the picked ones are elided), each
    position at its row of the position table. Below, the two lookups add up to the first block's input, with
    the real (B, T, C). At most ``max_tokens`` tokens are drawn; a note says how many more there are.
    """
    config = _config_of(model_or_config)
    max_tokens = count("max_tokens", max_tokens, 1, 16)
    rows, shape, pieces = _ids_and_pieces(config, ids, tokenizer, text)
    B, T, C, V, P = len(rows), len(rows[0]), config.n_embd, config.vocab_size, config.block_size
    seq = rows[0][:max_tokens]
    n = len(seq)
    more = T - n

    probe = Drawing(10, 10)
    mono_w = probe.measure("0", SIZE, mono=True)[0]
    small_mono_w = probe.measure("0", SMALL, mono=True)[0]
    rh, bh = 20.0, 16.0  # row pitch and stripe/box height
    gap_h = 11.0  # an elided run of rows in a table: a '⋮'

    # the token table: the distinct picked rows in order, elided runs between them, row 0 and row V-1 at the ends
    picked = sorted(set(seq))
    items: list[tuple[str, int]] = []  # ("row", id) or ("gap", 0)
    shown = ([0] if picked[0] != 0 else []) + picked + ([V - 1] if picked[-1] != V - 1 else [])
    for k, r in enumerate(shown):
        if k and r > shown[k - 1] + 1:
            items.append(("gap", 0))
        items.append(("row", r))

    # columns, left to right: wte row numbers | wte | fan | id | token | position | arrow | wpe | wpe row numbers.
    # The tables and the fan shrink, then the token texts are cut shorter, until the drawing fits _WIDE.
    x = 6.0
    num_w = len(str(V - 1)) * small_mono_w
    id_w = max(len(str(i)) for i in seq) * mono_w
    digits_w = len(str(n - 1)) * mono_w
    pos_w = max(digits_w, probe.measure("position", SMALL)[0])  # the column, as wide as its head
    pnum_w = len(str(P - 1)) * small_mono_w
    for wte_w, fan_w, wpe_w, limit in ((84.0, 58.0, 70.0, 9), (72.0, 44.0, 60.0, 9), (64.0, 36.0, 52.0, 8),
                                       (60.0, 32.0, 48.0, 6), (56.0, 30.0, 44.0, 4)):
        x_wte = x + num_w + 5
        x_fan = x_wte + wte_w
        x_id_right = x_fan + fan_w + 6 + id_w
        labels = None if pieces is None else [_short(p, limit) for p in pieces[:n]]
        piece_w = 0.0 if labels is None else max(
            [probe.measure(s, SIZE, mono=True)[0] + 12 for s in labels] + [probe.measure("token", SMALL)[0] + 8])
        x_piece = x_id_right + 8
        x_pos = x_piece + piece_w + (10 if labels is not None else 4)
        x_pos_right = x_pos + (pos_w + digits_w) / 2
        x_wpe = x_pos_right + 30
        width = max(x_wpe + wpe_w + 5 + pnum_w + 6, 300.0)
        if width <= _WIDE:
            break

    top = 44.0  # room for the tables' names and shapes
    token_rows = [top + 6 + k * rh for k in range(n)]  # top of each token's row
    # the token table's height, and where each of its rows sits
    wte_rows: dict[int, float] = {}
    y = top + 4
    for kind, r in items:
        if kind == "gap":
            y += gap_h
        else:
            wte_rows[r] = y
            y += bh + 2
    wte_bottom = y + 2
    # the position table: rows 0..n-1 beside their tokens, then the rest elided, then row P-1
    wpe_rows = list(token_rows)
    y = token_rows[-1] + rh
    wpe_tail = []
    if P > n:
        if P > n + 1:
            y += gap_h - (rh - bh - 2)
            wpe_tail.append(("gap", y - gap_h))
        wpe_tail.append(("row", y))
        y += bh + 2
    wpe_bottom = y + 2
    tokens_bottom = token_rows[-1] + rh + (14 if more else 0)

    mid = max(wte_bottom, wpe_bottom, tokens_bottom) + 26
    height = mid + 152
    first = ", ".join(str(i) for i in seq[:5]) + (", …" if T > 5 else "")
    source = f" of {text!r}" if text is not None else ""
    alt = (
        f"Token ids {first}{source} pick rows of the token table wte ({_n(V)} × {_n(C)}); positions 0 to {T - 1} "
        f"pick the first {T} rows of the position table wpe ({_n(P)} × {_n(C)}); their sum, the input to the "
        f"first block, has shape (B, T, C) = ({B}, {T}, {C})."
    )
    d = Drawing(round(width, 1), round(height, 1), alt=alt)
    emb, pos = colour("embedding"), colour("position")

    # the token table
    d.text(x_wte + wte_w / 2, 16, "wte", weight="bold", mono=True, colour_=emb.edge, va="baseline")
    d.note(x_wte + wte_w / 2, 28, f"{_n(V)} × {_n(C)}", size=SMALL)
    d.box(x_wte, top, wte_w, wte_bottom - top, concept="embedding", filled=False)
    for kind, r in items:
        if kind == "row":
            yy = wte_rows[r]
            hit = r in set(seq)
            d.box(x_wte + 4, yy, wte_w - 8, bh, concept="embedding" if hit else "neutral",
                  filled=hit, lw=1.0 if hit else 0.6, round_=2)
            d.text(x_wte - 4, yy + bh / 2, str(r), size=SMALL, mono=True, ha="right",
                   colour_=emb.edge if hit else colour("neutral").edge)
    ys_gap = [wte_rows[items[k + 1][1]] - gap_h / 2 - 1 for k, (kind, _) in enumerate(items) if kind == "gap"]
    for yy in ys_gap:
        d.note(x_wte + wte_w / 2, yy, "\u22ee", size=SMALL)

    # the tokens: id, text, position
    for k, i in enumerate(seq):
        yy = token_rows[k]
        cy = yy + bh / 2
        d.text(x_id_right, cy, str(i), mono=True, ha="right", colour_=colour("token").edge)
        if labels is not None:
            d.box(x_piece, yy, piece_w, bh, labels[k], concept="token", mono=True, round_=3)
        d.text(x_pos_right, cy, str(k), mono=True, ha="right", colour_=pos.edge)
        # the id picks its row of wte (leftwards), the position its row of wpe (rightwards)
        _curve(d, (x_id_right - id_w - 4, cy), (x_wte + wte_w - 3, wte_rows[i] + bh / 2), concept="embedding")
        d.arrow((x_pos_right + 4, cy), (x_wpe + 3, cy), concept="position", lw=1.0)
    head_y = 28
    d.note(x_id_right - id_w / 2, head_y, "id", size=SMALL)
    if labels is not None:
        d.note(x_piece + piece_w / 2, head_y, "token", size=SMALL)
    d.note(x_pos + pos_w / 2, head_y, "position", size=SMALL)
    if more:
        d.note(x_piece if labels is not None else x_id_right - id_w, token_rows[-1] + rh + 5,
               f"… {more} more", size=SMALL, ha="left")

    # the position table
    d.text(x_wpe + wpe_w / 2, 16, "wpe", weight="bold", mono=True, colour_=pos.edge, va="baseline")
    d.note(x_wpe + wpe_w / 2 + 2, 28, f"{_n(P)} × {_n(C)}", size=SMALL)
    d.box(x_wpe, top, wpe_w, wpe_bottom - top, concept="position", filled=False)
    for k, yy in enumerate(wpe_rows):
        d.box(x_wpe + 4, yy, wpe_w - 8, bh, concept="position", lw=1.0, round_=2)
        d.text(x_wpe + wpe_w + 4, yy + bh / 2, str(k), size=SMALL, mono=True, ha="left", colour_=pos.edge)
    for kind, yy in wpe_tail:
        if kind == "gap":
            d.note(x_wpe + wpe_w / 2, yy + gap_h / 2 - 1, "\u22ee", size=SMALL)
        else:
            d.box(x_wpe + 4, yy, wpe_w - 8, bh, concept="neutral", filled=False, lw=0.6, round_=2)
            d.text(x_wpe + wpe_w + 4, yy + bh / 2, str(P - 1), size=SMALL, mono=True, ha="left",
                   colour_=colour("neutral").edge)

    # the sum: wte[ids] + wpe[0:T] = x
    by = mid
    tok_label, pos_label = "wte[ids]", f"wpe[0:{T}]"
    tb_w = d.measure(tok_label, SIZE, mono=True)[0] + 12
    pb_w = d.measure(pos_label, SIZE, mono=True)[0] + 12
    tok_cx = x_wte + wte_w / 2
    pos_cx = x_wpe + wpe_w / 2
    tb = d.box(max(6.0, tok_cx - tb_w / 2), by, tb_w, 22, tok_label, concept="embedding", mono=True)
    pb = d.box(min(width - 6 - pb_w, pos_cx - pb_w / 2), by, pb_w, 22, pos_label, concept="position", mono=True)
    d.arrow((tok_cx, wte_bottom + 1), (tok_cx, by - 1), concept="embedding")
    d.arrow((pos_cx, wpe_bottom + 1), (pos_cx, by - 1), concept="position")
    d.note(tb.cx, by + 34, f"(B, T, C) = ({B}, {T}, {C})", size=SMALL)
    d.note(pb.cx, by + 34, f"(T, C) = ({T}, {C})", size=SMALL)
    plus_cx, plus_cy = (tb.cx + pb.cx) / 2, by + 64
    node = _plus(d, plus_cx, plus_cy)
    d.arrow((tb.cx, by + 45), (node.x - 1, plus_cy), concept="embedding", bend=0.3)
    d.arrow((pb.cx, by + 45), (node.x + node.w + 1, plus_cy), concept="position", bend=-0.3)
    xbox = d.box(plus_cx - 22, plus_cy + 26, 44, 22, "x", concept="residual", mono=True)
    d.arrow((plus_cx, node.y + node.h + 1), (plus_cx, xbox.y - 1))
    d.note(plus_cx, xbox.y + xbox.h + 12, f"(B, T, C) = ({B}, {T}, {C})", size=SMALL)
    d.note(plus_cx, xbox.y + xbox.h + 26, "the first block's input", size=SMALL)
    return d


# -- 2. weight tying ----------------------------------------------------------------------------------------------
def _tied_total(model_or_config: Any, config: GPTConfig) -> int:
    """The parameter count of the tied model: the model's own, or one built on the meta device (no numbers)."""
    import torch

    from ..model import GPT

    if isinstance(model_or_config, GPT):
        return model_or_config.num_parameters()
    with torch.device("meta"):
        return GPT(config).num_parameters()


def weight_tying(model_or_config: GPT | GPTConfig) -> Drawing:
    """One matrix used twice: its rows are the input lookup ``W[ids]``, its transpose the output ``h @ Wᵀ``.

    Draws the model's path from token ids to logits, bottom to top, with the shared (vocab_size, n_embd) matrix
    beside it feeding both ends, and the parameters that sharing saves, computed from the config. Given a model
    (not a config) it checks that ``lm_head.weight`` and ``wte.weight`` are the same tensor and says so.
    """
    from ..model import GPT

    config = _config_of(model_or_config)
    V, C, L = config.vocab_size, config.n_embd, config.n_layer
    proof = "GPT ties them: lm_head.weight = wte.weight"
    if isinstance(model_or_config, GPT):
        a, b = model_or_config.lm_head.weight, model_or_config.transformer.wte.weight
        same = a is b or (a.device.type != "meta" and a.data_ptr() == b.data_ptr() and a.shape == b.shape)
        if not same:
            raise ValueError(
                "this model's lm_head.weight is not its wte.weight (they are two tensors), so it is not tied; "
                "tie them with model.lm_head.weight = model.transformer.wte.weight, or pass its config"
            )
        proof = "lm_head.weight is wte.weight: one tensor" + (
            "" if a.device.type == "meta" else ", one data_ptr"
        )
    saved = V * C
    tied = _tied_total(model_or_config, config)
    untied = tied + saved
    emb = colour("embedding")

    width, bw, bh, pitch = 430.0, 150.0, 24.0, 40.0
    x0 = 20.0
    levels: list[tuple[str, str]] = [("token ids", "token"), ("wte: W[ids]", "embedding"),
                                     (f"{L} decoder block{'s' if L != 1 else ''}", "neutral")]
    if config.pre_ln:
        levels.append(("ln_f", "norm"))
    levels += [("lm_head: h @ W\u1d40", "logits"), ("logits", "logits")]
    n = len(levels)
    top = 14.0
    height = top + (n - 1) * pitch + bh + 74
    alt = (
        f"The token table wte, one {_n(V)} × {_n(C)} matrix W, is used twice: its rows give the input vectors "
        f"W[ids] and its transpose gives the output scores h @ W\u1d40. Sharing it saves {_n(saved)} parameters: "
        f"{_n(tied)} instead of {_n(untied)}."
    )
    d = Drawing(width, round(height, 1), alt=alt)
    boxes: list[Box] = []
    for k, (label, concept) in enumerate(levels):  # bottom to top: ids first
        y = top + (n - 1 - k) * pitch
        small = k in (0, n - 1)
        w = d.measure(label, SIZE, mono=True)[0] + 16 if small else bw
        boxes.append(d.box(x0 + (bw - w) / 2, y, w, bh, label, concept=concept, mono=True,
                           lw=1.6 if concept == "embedding" else 1.2))
    for lo, hi in zip(boxes, boxes[1:]):
        d.arrow(lo.top, (hi.cx, hi.y + hi.h))
    d.note(boxes[0].x + boxes[0].w + 8, boxes[0].cy, "(B, T)", size=SMALL, ha="left")
    d.note(boxes[-1].x + boxes[-1].w + 8, boxes[-1].cy, f"(B, T, {_n(V)})", size=SMALL, ha="left")

    # the shared matrix, between the two boxes that use it
    lookup, head = boxes[1], boxes[-2]
    sw, sh = 116.0, 62.0
    sx, sy = width - sw - 14, (lookup.cy + head.cy) / 2 - sh / 2
    shared = d.box(sx, sy, sw, sh, concept="embedding", lw=1.8)
    d.text(shared.cx, sy + 17, "W", weight="bold", mono=True, size=SIZE + 2)
    d.text(shared.cx, sy + 35, "wte.weight", mono=True, size=SMALL)
    d.text(shared.cx, sy + 50, f"{_n(V)} × {_n(C)}", size=SMALL)
    # an elbow from the matrix to each use: up to the output, down to the input
    for use, y_join, word in ((head, sy, "W\u1d40: a score per token"), (lookup, sy + sh, "rows: a vector per token")):
        xs = [shared.cx, shared.cx, use.x + use.w + 6]
        ys = [y_join, use.cy, use.cy]
        d.line(xs[:2] + [xs[2] + 2], ys, concept="embedding", lw=1.6)
        d.arrow((xs[2] + 7, use.cy), (use.x + use.w + 1, use.cy), concept="embedding", lw=1.6)
        d.text((use.x + use.w + 6 + shared.x) / 2, use.cy - 9, word, size=SMALL, colour_=emb.edge)  # left of W

    ny = top + (n - 1) * pitch + bh + 26
    d.note(width / 2, ny, proof, size=SMALL)
    d.note(width / 2, ny + 16,
           f"sharing saves {_n(V)} × {_n(C)} = {_n(saved)} parameters", size=SMALL)
    d.note(width / 2, ny + 32,
           f"{_n(tied)} instead of {_n(untied)}: {saved / untied:.0%} fewer", size=SMALL)
    return d


# -- 3. a lookup is a matrix product ------------------------------------------------------------------------------
def _num(v: float) -> str:
    """A table entry as printed: two decimals, and no '-0.00'."""
    s = f"{v:.2f}"
    return "0.00" if s == "-0.00" else s


def onehot_lookup(weight: torch.Tensor | Sequence[Sequence[float]], ids: Sequence[int] | torch.Tensor) -> Drawing:
    """``one_hot(ids) @ W == W[ids]``, drawn with the real numbers of a small table ``W`` (at most 10 rows).

    Left, the one-hot rows of ``ids`` (a 1 in column ``id``); middle, the table with the rows they pick
    highlighted; right, the result: exactly those rows, in the order of ``ids``. At most 8 ids and as many
    columns as fit are drawn; notes say what was left out.
    """
    import torch

    try:
        W = torch.as_tensor(weight.detach() if hasattr(weight, "detach") else weight, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"weight must be a 2-D (V, C) table of numbers, got {type(weight).__name__}; "
                        "try emb.weight") from None
    if W.dim() != 2 or W.shape[0] < 1 or W.shape[1] < 1:
        raise ValueError(f"weight must be a 2-D (V, C) table, got shape {tuple(W.shape)}; try emb.weight")
    V, C = (int(s) for s in W.shape)
    if V > 10:
        raise ValueError(
            f"this picture prints every row of the table, so it takes at most 10 rows, got {V}; "
            "pass a toy table such as nn.Embedding(5, 3).weight (embedding_lookup draws a real one)"
        )
    if not torch.isfinite(W).all():
        raise ValueError("weight holds inf or nan: pass a table of finite numbers")
    rows, shape = _as_id_list(ids)
    if len(shape) != 1:
        raise ValueError(f"ids must be 1-D (T,), got shape {shape}; pass one sequence, e.g. ids[0]")
    seq = rows[0]
    for i in seq:
        if not 0 <= i < V:
            raise ValueError(f"id {i} has no row in a table of {V} rows: ids must lie in 0 to {V - 1}")
    T = len(seq)
    t_drawn = seq[:8]
    n = len(t_drawn)

    probe = Drawing(10, 10)
    nsize, cell = 10.0, 20.0  # the numbers' size; one-hot cells are cell x cell
    values = [[_num(float(v)) for v in r] for r in W.tolist()]
    num_w = max(probe.measure(v, nsize, mono=True)[0] for r in values for v in r) + 10
    label_w = probe.measure(str(V - 1), SIZE, mono=True)[0] + 6  # the row numbers left of a matrix
    sym_w = 30.0  # room for '@' and '='
    footer = "row k of the product is row ids[k] of W: the 1 in column i keeps row i"

    def title_w(title: str, shape: str) -> float:
        return max(probe.measure(title, SIZE, mono=True, weight="bold")[0], probe.measure(shape, SMALL)[0]) + 4

    titles = [("one_hot(ids)", f"(T, V) = ({T}, {V})"), ("W", f"(V, C) = ({V}, {C})"),
              ("W[ids]", f"(T, C) = ({T}, {C})")]
    oh_w = label_w + V * cell
    fixed = 16 + max(oh_w, title_w(*titles[0])) + 2 * sym_w + label_w
    cols = max(1, min(C, int((_WIDE - fixed - 8) // (2 * num_w))))
    cut = C - cols
    mw = cols * num_w + (16 if cut else 0)  # a matrix's width, with a '⋯' column when cut
    blocks = [oh_w, label_w + mw, mw]  # each matrix with the row numbers left of it
    slots = [max(w_, title_w(*t)) for w_, t in zip(blocks, titles)]
    content = sum(slots) + 2 * sym_w
    width = max(content + 16, probe.measure(footer, SMALL)[0] + 16, 200.0)
    top = 48.0
    height = top + max(V, n) * cell + 34 + (14 if T > n or cut else 0)

    alt = (
        f"The one-hot rows of ids {', '.join(map(str, seq))} ({T} × {V}) times the table W ({V} × {C}) pick rows "
        f"{', '.join(map(str, seq))} of W: the product is W[ids], {T} × {C}, the same numbers as the lookup."
    )
    d = Drawing(round(width, 1), round(height, 1), alt=alt)
    tok, emb, neu = colour("token"), colour("embedding"), colour("neutral")
    starts = [(width - content) / 2]
    for w_ in slots[:-1]:
        starts.append(starts[-1] + w_ + sym_w)
    # each block centred in its slot; a block's matrix starts after its row numbers
    x1, xw, xr = (round(st + (sl - bl) / 2 + (label_w if k < 2 else 0), 2)
                  for k, (st, sl, bl) in enumerate(zip(starts, slots, blocks)))
    mid_y = top + min(V, n) * cell / 2
    for k, (title, shape) in enumerate(titles):
        cx = starts[k] + slots[k] / 2
        d.text(cx, 12, title, mono=True, weight="bold", colour_=tok.edge if k == 0 else emb.edge)
        d.note(cx, 28, shape, size=SMALL)
        if k < 2:
            d.text(starts[k] + slots[k] + sym_w / 2, mid_y, "@" if k == 0 else "=", size=SIZE + 3)

    # one-hot (T, V): a 1 in column id
    one_hot = [[1.0 if j == i else 0.0 for j in range(V)] for i in t_drawn]
    grid = d.grid(x1, top, one_hot, cell=cell, concept="token", numbers=".0f", size=SMALL)
    gx0, gy0, gx1, gy1 = grid.x, grid.y, grid.x + grid.w, grid.y + grid.h
    d.line([gx0, gx1, gx1, gx0, gx0], [gy0, gy0, gy1, gy1, gy0], concept="token", lw=1.0)  # its outline
    for j in range(V):
        d.text(x1 + (j + 0.5) * cell, top - 8, str(j), size=SMALL, mono=True, colour_=tok.edge)
    for k, i in enumerate(t_drawn):
        d.text(x1 - 5, top + (k + 0.5) * cell, str(i), mono=True, ha="right", colour_=tok.edge)

    # W (V, C): the picked rows in the embedding's colours
    hit = set(t_drawn)
    for r in range(V):
        on = r in hit
        for c in range(cols):
            d.box(xw + c * num_w, top + r * cell, num_w, cell, values[r][c], concept="embedding" if on else "neutral",
                  filled=on, mono=True, size=nsize, lw=1.0 if on else 0.6, round_=1.5)
        if cut:
            d.text(xw + cols * num_w + 8, top + (r + 0.5) * cell, "\u22ef", size=SMALL, colour_=neu.edge)
        d.text(xw - 5, top + (r + 0.5) * cell, str(r), mono=True, ha="right",
               colour_=emb.edge if on else neu.edge)

    # W[ids] (T, C): those rows, in the order of ids
    for k, i in enumerate(t_drawn):
        for c in range(cols):
            d.box(xr + c * num_w, top + k * cell, num_w, cell, values[i][c], concept="embedding", mono=True,
                  size=nsize, lw=1.0, round_=1.5)
        if cut:
            d.text(xr + cols * num_w + 8, top + (k + 0.5) * cell, "\u22ef", size=SMALL, colour_=neu.edge)

    y = top + max(V, n) * cell + 18
    d.note(width / 2, y, footer, size=SMALL)
    left = []
    if T > n:
        left.append(f"{T - n} more ids not drawn")
    if cut:
        left.append(f"{cut} more column{'s' if cut > 1 else ''} not drawn")
    if left:
        d.note(width / 2, y + 15, "; ".join(left), size=SMALL)
    return d


# -- 4. the sum, broadcast over the batch -------------------------------------------------------------------------
def _deck(d: Drawing, x: float, y: float, w: float, h: float, layers: int, label: str, concept: str, *,
          ghosts: bool = False, step: float = 9.0) -> Box:
    """A stack of ``layers`` sheets, the front one at (x, y) with ``label``; the others up and to the right.

    With ``ghosts`` the sheets behind are dashed outlines: the same sheet, reused (broadcast), not stored.
    """
    for k in range(layers - 1, 0, -1):  # back to front
        d.box(round(x + k * step, 2), round(y - k * step, 2), w, h, concept=concept, filled=not ghosts,
              dashed=ghosts, lw=1.0)
    front = d.box(x, y, w, h, concept=concept, lw=1.4)
    d.text(front.cx, front.cy - 6, label, mono=True)  # the name a little above the middle, the size below
    return front


def embedding_broadcast(tok_emb: torch.Tensor, pos_emb: torch.Tensor) -> Drawing:
    """The shapes of ``tok_emb + pos_emb``: (B, T, C) plus (T, C) gives (B, T, C).

    Draws the B token-embedding sheets of a batch, the one (T, C) position sheet that broadcasting adds to every
    one of them (its B - 1 reuses dashed), and the B sheets of the sum, from the real tensors' shapes.
    """
    for name, t, dims in (("tok_emb", tok_emb, 3), ("pos_emb", pos_emb, 2)):
        if not hasattr(t, "shape"):
            raise TypeError(f"{name} must be a tensor, got {type(t).__name__}")
        if len(t.shape) != dims:
            want = "(B, T, C), e.g. wte(idx)" if dims == 3 else "(T, C), e.g. wpe(torch.arange(T))"
            raise ValueError(f"{name} must be {want}; got shape {tuple(t.shape)}")
    B, T, C = (int(s) for s in tok_emb.shape)
    if tuple(int(s) for s in pos_emb.shape) != (T, C):
        raise ValueError(
            f"pos_emb has shape {tuple(pos_emb.shape)} but tok_emb is (B, T, C) = ({B}, {T}, {C}): "
            f"the position table to add must be (T, C) = ({T}, {C}); use wpe(torch.arange({T}))"
        )
    if min(B, T, C) < 1:
        raise ValueError(f"tok_emb is empty, shape ({B}, {T}, {C}): pass at least one token")
    layers = min(B, 5)
    step = 9.0
    sym = 34.0
    w, h = min(92.0, (_WIDE - 24 - 2 * sym) / 3 - (layers - 1) * step), 66.0
    deck_w = w + (layers - 1) * step
    width = 12 + 3 * deck_w + 2 * sym + 12
    top = 24 + (layers - 1) * step
    height = top + h + 50 + (14 if B > layers else 0)
    alt = (
        f"Token embeddings of shape (B, T, C) = ({B}, {T}, {C}) plus position embeddings of shape (T, C) = "
        f"({T}, {C}): broadcasting adds the one position table to each of the {B} sequences, and the sum has "
        f"shape ({B}, {T}, {C})."
    )
    d = Drawing(round(width, 1), round(height, 1), alt=alt)
    x = 12.0
    specs = (("wte(idx)", "embedding", False, f"(B, T, C) = ({B}, {T}, {C})"),
             ("wpe(pos)", "position", True, f"(T, C) = ({T}, {C})"),
             ("x", "residual", False, f"(B, T, C) = ({B}, {T}, {C})"))
    decks = []
    for k, (label, concept, ghosts, shape) in enumerate(specs):
        front = _deck(d, x, top, w, h, layers, label, concept, ghosts=ghosts, step=step)
        decks.append(front)
        d.note(x + deck_w / 2, top + h + 16, shape, size=SMALL)
        if k < 2:
            d.text(x + deck_w + sym / 2, top + h / 2, "+" if k == 0 else "=", size=SIZE + 5)
        x += deck_w + sym
    tok_deck, pos_deck, sum_deck = decks
    for front in (tok_deck, sum_deck):  # how deep the stack is
        d.note(front.cx + (layers - 1) * step, top - (layers - 1) * step - 10,
               f"B = {B} sequence{'s' if B != 1 else ''}", size=SMALL)
        d.note(front.cx, front.cy + 16, f"{T} × {C} each", size=SMALL)
    d.note(pos_deck.cx, pos_deck.cy + 16, f"{T} × {C}", size=SMALL)
    if B > layers:
        d.note(sum_deck.x + deck_w / 2, top + h + 30, f"({layers} of the {B} sequences drawn)", size=SMALL)
    d.note(pos_deck.x + deck_w / 2, top + h + 32 + (14 if B > layers else 0),
           f"one table, added to each of the B = {B} sequences" if B > 1 else "one table, for the one sequence",
           size=SMALL)
    return d
