"""Attention drawn: the filing cabinet, the causal mask, the attention pipeline, heads, attention lines (chapter 4).

- `filing_cabinet`: one query compared with every key, the scores, the softmax weights and the blend of values,
  with the real numbers.
- `causal_mask`: the mask with the tokens on both axes, the future hidden, optionally a head's real weights.
- `attention_pipeline`: scores, scale, mask, softmax and weighted sum, each stage with its real tensor shape.
- `split_heads`: C channels cut into n_head heads of head_size and glued back, as the tensor reshapes.
- `attention_lines`: attention as lines from each token to the tokens it looks at, thickness = the weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._args import count, flag, fraction
from .canvas import Box, Drawing, piece_label
from .style import MUTED, SIZE, colour

__all__ = ["filing_cabinet", "causal_mask", "attention_pipeline", "split_heads", "attention_lines"]

MARGIN = 12.0
NOTE = SIZE - 1  # 10 pt: notes in drawings up to 500 pt wide


# -- input checks and number formats ---------------------------------------------------------------------------
def _tensor(x, name: str, dims: int | tuple[int, ...], what: str) -> torch.Tensor:
    """``x`` as a float tensor with ``dims`` dimensions, finite: a TypeError if it holds no numbers, a ValueError
    for a wrong shape or inf/nan, saying what to pass."""
    if isinstance(x, str) or x is None:
        raise TypeError(f"{name} must be {what}, got {type(x).__name__}")
    try:
        t = torch.as_tensor(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be {what}, got {type(x).__name__}") from None
    allowed = (dims,) if isinstance(dims, int) else dims
    if t.dim() not in allowed:
        raise ValueError(f"{name} must be {what}, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); pass {what}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} holds inf or nan; pass finite numbers")
    return t


def _tokens(tokens, name: str = "tokens") -> list[str]:
    """``tokens`` as a list of non-empty strings (a token's text, e.g. ``[tokenizer.decode([i]) for i in ids]``)."""
    if isinstance(tokens, str):
        raise TypeError(f"{name} must be a list of token strings, not one string; try list({tokens[:12]!r})")
    try:
        out = list(tokens)
    except TypeError:
        raise TypeError(f"{name} must be a list of token strings, got {type(tokens).__name__}") from None
    if not out:
        raise ValueError(f"{name} is empty; pass at least one token string")
    for i, t in enumerate(out):
        if not isinstance(t, str) or t == "":
            error = TypeError if not isinstance(t, str) else ValueError
            raise error(f"{name}[{i}] is {t!r}; every token must be a non-empty string")
    return out


def _num(v: float) -> str:
    """A number in at most 2 decimals, trailing zeros dropped: 1.0 -> '1', 0.70 -> '0.7', -1.234 -> '-1.23'."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _vec(t: torch.Tensor, most: int = 4) -> str:
    """A short vector as '[1, 0.7, 0]'; a long one as its first entries, '…' and the last."""
    vals = [_num(float(v)) for v in t.tolist()]
    if len(vals) > most:
        vals = vals[: most - 1] + ["…", vals[-1]]
    return "[" + ", ".join(vals) + "]"


def _shorten(d: Drawing, s: str, width: float, size: float) -> str:
    """``s``, cut with '…' so that it is at most ``width`` points wide."""
    if d.measure(s, size)[0] <= width:
        return s
    while len(s) > 1 and d.measure(s + "…", size)[0] > width:
        s = s[:-1]
    return s.rstrip() + "…"


def _folder_label(s: str) -> str:
    """A folder's name as drawn: a token's outer spaces and newlines made visible, inner spaces kept."""
    inner = s.strip(" ")
    lead, trail = len(s) - len(s.lstrip(" ")), len(s) - len(s.rstrip(" "))
    return "\u2423" * lead + piece_label(inner).replace("\u2423", " ") + "\u2423" * trail


def _config_sizes(config) -> tuple[int, int, int, bool]:
    """(n_embd, n_head, head_size, causal) of a GPTConfig, or of anything with those attributes."""
    try:
        c, nh = config.n_embd, config.n_head
    except AttributeError:
        raise TypeError(
            f"pass a GPTConfig (with n_embd and n_head), got {type(config).__name__}; "
            "e.g. GPTConfig.from_name('gpt2')"
        ) from None
    c = count("config.n_embd", c, 1, expected="a positive integer")
    nh = count("config.n_head", nh, 1, expected="a positive integer")
    if c % nh:
        raise ValueError(f"config.n_embd ({c}) must be divisible by config.n_head ({nh})")
    return c, nh, c // nh, bool(getattr(config, "causal", True))


def _count(v, name: str, most: int | None = None) -> int:
    v = count(name, v, 1, expected="a positive integer")
    if most is not None and v > most:
        raise ValueError(f"{name} = {v} is more than the config's block_size ({most}); pass {name} <= {most}")
    return v


# -- 1. the filing cabinet ------------------------------------------------------------------------------------
def filing_cabinet(query, keys, values, labels: Sequence[str] | None = None, *, scale: bool = False,
                   most: int = 8) -> Drawing:
    """One query compared with every key: the scores, their softmax and the blend of the values.

    ``query`` is a (d,) vector, ``keys`` (n, d) and ``values`` (n, d_v), one row per folder; ``labels`` names
    the folders. Each row shows a key, its score q·k (divided by √d with ``scale=True``), its softmax weight as
    a bar and its value; the bottom row is the answer, the weighted sum of the values. At most ``most``
    folders are drawn (the answer always uses all of them).
    """
    q = _tensor(query, "query", 1, "one query vector of shape (d,)")
    k = _tensor(keys, "keys", 2, "a matrix of keys, one row per folder: shape (n, d)")
    v = _tensor(values, "values", 2, "a matrix of values, one row per folder: shape (n, d_v)")
    n, dim = k.shape
    if dim != q.numel():
        raise ValueError(f"keys have {dim} entries per row but the query has {q.numel()}; they must match")
    if v.size(0) != n:
        raise ValueError(f"{n} keys but {v.size(0)} values; pass one value row per key")
    if labels is None:
        labels = [f"folder {i}" for i in range(n)]
    labels = _tokens(labels, "labels")
    scale = flag("scale", scale)
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} folders; pass one label per key")
    most = count("most", most, 1, expected="a positive integer")
    scores = k @ q / (math.sqrt(dim) if scale else 1.0)
    weights = torch.softmax(scores, dim=0)
    answer = weights @ v
    w2 = [round(float(w), 2) for w in weights]

    shown = min(n, most)
    d = Drawing(100, 100)  # a scratch page for measuring
    names = [_folder_label(s) for s in labels[:shown]]
    name_w = min(max(d.measure(s)[0] for s in names + ["folder"]), 110.0)
    names = [_shorten(d, s, name_w, SIZE) for s in names]
    score_txt = [f"{float(s):.2f}" for s in scores[:shown]]
    score_w = max(d.measure(s)[0] for s in score_txt + ["q·k/√d" if scale else "q·k"]) + 12
    bar_w, num_w, gap = 80.0, d.measure("0.00")[0], 16.0
    row_h, row_gap = 22.0, 8.0
    for entries in (4, 3, 2):  # fewer entries of each vector until the rows fit on the page
        key_txt = [_vec(k[i], entries) for i in range(shown)]
        val_txt = [_vec(v[i], entries) for i in range(shown)]
        ans_txt = _vec(answer, entries)
        key_w = max(d.measure(s)[0] for s in key_txt + ["key k"]) + 12
        val_w = max(d.measure(s)[0] for s in val_txt + ["value v"]) + 12
        ans_w = d.measure(ans_txt)[0] + 12
        fixed = MARGIN + 10 + key_w + gap + score_w + gap + num_w + 4 + gap + max(val_w, ans_w) + MARGIN
        if fixed + 36 + 48 <= 548:
            break
    if fixed + name_w + bar_w > 548:  # still too wide: a shorter bar, then shorter names
        bar_w = max(48.0, 548 - fixed - name_w)
        name_w = min(name_w, max(36.0, 548 - fixed - bar_w))
        names = [_shorten(d, s, name_w, SIZE) for s in names]
    x_name = MARGIN
    x_key = x_name + name_w + 10
    x_score = x_key + key_w + gap
    x_bar = x_score + score_w + gap
    x_val = x_bar + bar_w + num_w + 4 + gap
    width = x_val + max(val_w, ans_w) + MARGIN
    top = MARGIN + 30  # the query box
    head_y = top + 40  # column headings
    y0 = head_y + 16
    more = n - shown
    rows_end = y0 + shown * (row_h + row_gap) - row_gap
    height = rows_end + (22 if more else 0) + 14 + row_h + 22 + MARGIN

    best = max(range(n), key=lambda i: float(weights[i]))
    alt = (
        f"A query {_vec(q)} is compared with {n} keys by dot products, giving scores "
        + ", ".join(f"{float(s):.2f}" for s in scores[:shown]) + (" …" if more else "")
        + "; a softmax turns them into weights " + ", ".join(f"{w:.2f}" for w in w2[:shown])
        + (" …" if more else "") + f", so folder {labels[best]!r} gets the most, and the answer is the weighted"
        f" sum of the values, {ans_txt}."
    )
    d = Drawing(round(width, 1), round(height, 1), alt=alt)
    note = NOTE if width <= 500 else SIZE  # at least width / 50, for a phone
    q_txt = f"query q = {_vec(q, entries)}"
    q_w = d.measure(q_txt)[0] + 16
    qbox = d.box(round(x_score + score_w / 2 - q_w / 2, 1), MARGIN, round(q_w, 1), 24, q_txt, concept="query")
    d.arrow(qbox.bottom, (qbox.cx, head_y - 9), concept="query")
    d.note(x_score + score_w + 6, (qbox.y + qbox.h + head_y - 9) / 2, "compared with every key", ha="left",
           size=note)
    for x, w, s in ((x_name, name_w, "folder"), (x_key, key_w, "key k"),
                    (x_score, score_w, "q·k/√d" if scale else "q·k"), (x_bar, bar_w + num_w, "softmax weight"),
                    (x_val, val_w, "value v")):
        d.note(x + w / 2 if s != "folder" else x, head_y, s, ha="center" if s != "folder" else "left", size=note)

    # one row per folder: key -> score -> weight -> value
    for i in range(shown):
        y = y0 + i * (row_h + row_gap)
        cy = y + row_h / 2
        d.text(x_name, cy, names[i], ha="left")
        kb = d.box(x_key, y, key_w, row_h, key_txt[i], concept="key")
        sb = d.box(x_score, y, score_w, row_h, score_txt[i], concept="attention", filled=False)
        d.arrow(kb.right, sb.left)
        bw = round(max(bar_w * w2[i], 1.5), 2)
        d.box(x_bar, y + 4, bar_w, row_h - 8, concept="neutral", filled=False, lw=0.6)
        d.box(x_bar, y + 4, bw, row_h - 8, concept="attention", lw=0.8, round_=2)
        d.text(x_bar + bar_w + 4, cy, f"{w2[i]:.2f}", ha="left", colour_=colour("attention").edge)
        d.arrow(sb.right, (x_bar - 2, cy))
        d.box(x_val, y, val_w, row_h, val_txt[i], concept="value")
    y = rows_end
    if more:
        rest = sum(w2[shown:])
        d.note(x_name, y + 12, f"… {more} more folders, weight {rest:.2f} in all", ha="left", size=note)
        y += 22
    # the answer: the weighted sum of all the values
    y += 14
    d.line([x_key, width - MARGIN], [y - 7, y - 7], lw=0.8)
    ab = d.box(round(x_val, 1), y, round(d.measure(ans_txt)[0] + 12, 1), row_h, ans_txt, concept="value", lw=2.0)
    d.text(x_val - 8, ab.cy, "answer = Σ weight × value", ha="right")
    d.note(x_val - 8, ab.y + ab.h + 11, "a blend of the folders' contents", ha="right", size=note)
    return d


# -- 2. the causal mask ---------------------------------------------------------------------------------------
def causal_mask(tokens: Sequence[str], weights=None, *, most: int = 16) -> Drawing:
    """The causal mask as a table: rows are the token that looks, columns the tokens it may look at.

    Cells above the diagonal (the future) are hidden. With ``weights``, a (T, T) tensor of one head's attention
    weights for these tokens, the allowed cells are shaded by the weight and show it. At most ``most`` tokens
    are drawn; a longer text shows its first ``most`` (a causal row never needs a later token).
    """
    toks = _tokens(tokens)
    T = len(toks)
    w = None
    if weights is not None:
        w = _tensor(weights, "weights", 2, f"one head's attention weights, a ({T}, {T}) tensor")
        if tuple(w.shape) != (T, T):
            raise ValueError(f"weights have shape {tuple(w.shape)} but there are {T} tokens; pass a ({T}, {T}) "
                             "tensor, e.g. maps[layer, 0, head]")
        if (w < -1e-6).any() or (w > 1 + 1e-6).any():
            raise ValueError("attention weights lie in [0, 1]; pass softmax outputs, not raw scores")
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        if T > 1 and w[future].abs().max() > 1e-4:
            raise ValueError("these weights look at future tokens (non-zero above the diagonal); "
                             "pass the weights of a causal head")
    most = count("most", most, 1, expected="a positive integer")
    n = min(T, most)
    shown = [piece_label(t) for t in toks[:n]]
    scratch = Drawing(100, 100)
    lab_w = max(scratch.measure(s, SIZE, mono=True)[0] for s in shown)
    cell = 30.0 if n <= 10 else 26.0
    rotate = lab_w > cell - 4
    head_h = (lab_w + 8) if rotate else 20
    corner = scratch.measure("looks ↓", NOTE)[0]
    block_w = max(lab_w, corner) + 10 + n * cell
    legend = ["the future: its score is set to −∞, so its weight is 0",
              "allowed: the token itself and the tokens before it" if w is None
              else "allowed: shaded by the weight; each row sums to 1"]
    if T > n:
        legend.append(f"the first {n} of {T} tokens")
    legend_w = 20 + max(scratch.measure(s, NOTE)[0] for s in legend)
    width = max(block_w, legend_w) + 2 * MARGIN
    num_size = 9.0 if width <= 450 else NOTE  # the smallest text a phone still shows (width / 50)
    numbers = w is not None and scratch.measure("0.00", num_size)[0] <= cell - 4
    x_left = MARGIN + (width - 2 * MARGIN - block_w) / 2
    x0 = x_left + max(lab_w, corner) + 10
    y0 = MARGIN + 18 + head_h
    legend_y = y0 + n * cell + 16
    height = legend_y + 20 * len(legend) + MARGIN - 4

    allowed = torch.ones(n, n, dtype=torch.bool).tril()
    if w is None:
        alt = (f"The causal mask for the {T} tokens {', '.join(repr(t) for t in toks[:n])}"
               + (" …" if T > n else "") + ": each row is a token, which may look at itself and the tokens before"
               f" it; the {n * (n - 1) // 2} cells above the diagonal, the future, are hidden.")
    else:
        top = [max(range(i + 1), key=lambda j: float(w[i, j])) for i in range(n)]
        alt = (f"One head's attention weights for the {T} tokens {', '.join(repr(t) for t in toks[:n])}"
               + (" …" if T > n else "") + ", with the future above the diagonal hidden; "
               + "; ".join(f"{toks[i]!r} looks most at {toks[top[i]]!r} ({float(w[i, top[i]]):.2f})"
                           for i in range(min(n, 4)))
               + ("; …" if n > 4 else "") + ".")
    d = Drawing(round(width, 1), round(height, 1), alt=alt)
    d.note(x_left, y0 - head_h - 10, "looks ↓", ha="left", size=NOTE)
    d.note(x0, y0 - head_h - 10, "looked at →", ha="left", size=NOTE)
    if w is None:
        vals = allowed.float() * 0.3
    else:
        vals = torch.round(w[:n, :n].clamp(0, 1) * 100) / 100
    d.grid(round(x0, 2), y0, vals, cell=cell, numbers=".2f" if numbers else None, size=num_size,
           hidden=~allowed)
    for i, s in enumerate(shown):
        d.text(x0 - 6, y0 + (i + 0.5) * cell, s, ha="right", mono=True)
        d.text(x0 + (i + 0.5) * cell, y0 - 4, s, mono=True, rotation=90 if rotate else 0, va="bottom")
    # the legend
    for i, s in enumerate(legend):
        y = legend_y + 20 * i
        if i < 2:
            d.box(MARGIN, y, 14, 14, concept="mask" if i == 0 else "attention", lw=0.6)
        d.note(MARGIN + 20, y + 7, s, ha="left", size=NOTE)
    return d


# -- 3. the attention pipeline --------------------------------------------------------------------------------
def attention_pipeline(config, T: int, B: int = 1) -> Drawing:
    """Scaled dot-product attention stage by stage, each with its real tensor shape.

    From a GPTConfig (n_head, head size n_embd // n_head, causal or not), a sequence length ``T`` and a batch
    size ``B``: q and k give the scores (B, n_head, T, T), which are divided by √head_size, masked (for a
    causal config), turned into weights by a softmax, and used to blend v into the output (B, n_head, T, hs).
    """
    _, nh, hs, causal = _config_sizes(config)
    T = _count(T, "T", getattr(config, "block_size", None))
    B = _count(B, "B")
    tt = f"({B}, {nh}, {T}, {T})"
    th = f"({B}, {nh}, {T}, {hs})"
    root = math.sqrt(hs)
    root_s = f"{root:.0f}" if root == int(root) else f"{root:.2f}"
    stages = [  # (label, concept, shape, what it does)
        ("scores = q @ kᵀ", "attention", tt, "a score per (query, key) pair"),
        (f"÷ √{hs} = ÷ {root_s}", "attention", tt, "keeps their variance near 1"),
    ]
    if causal:
        stages.append(("mask: future → −∞", "mask", tt, "no token looks ahead"))
    stages += [
        ("softmax over the keys", "attention", tt, "weights: rows sum to 1"),
        ("weights @ v", "value", th, "a blend of values per query"),
        ("output", "value", th, "next: merge the heads"),
    ]
    scratch = Drawing(100, 100)
    col_w = max(max(scratch.measure(s)[0], scratch.measure(shape)[0]) for s, _, shape, _ in stages) + 20
    note_w = max(scratch.measure(s[3])[0] for s in stages)
    in_w = scratch.measure(th)[0] + 14
    x_in = MARGIN
    x_col = x_in + in_w + 30
    x_note = x_col + col_w + 14
    box_h, gap, in_h = 40.0, 18.0, 34.0
    width = x_note + note_w + MARGIN
    y_first = MARGIN + 20 + in_h + 4 - box_h / 2 + 4
    height = y_first + len(stages) * (box_h + gap) - gap + MARGIN
    size = SIZE if width > 500 else NOTE  # notes stay legible on a phone (at least width / 50)

    alt = (f"Attention for {nh} heads of size {hs} on {T} tokens: q {th} and k {th} give scores {tt}, "
           f"divided by √{hs}, " + ("masked so no token sees the future, " if causal else "")
           + f"turned into weights {tt} by a softmax, which blend v {th} into the output {th}.")
    d = Drawing(round(width, 1), round(height, 1), alt=alt)
    d.note(MARGIN, MARGIN + 7, f"B = {B} sequence{'s' if B > 1 else ''}, {nh} heads, T = {T} tokens, "
           f"hs = {hs} channels per head", ha="left", size=size)

    def tensor(y: float, name: str, concept: str) -> Box:
        """An input tensor on the left: its name and its shape."""
        b = d.box(x_in, y, in_w, in_h, None, concept=concept)
        d.text(b.cx, y + 10, name, weight="bold", mono=True, colour_=colour(concept).edge)
        d.note(b.cx, y + 25, th, size=size)
        return b

    prev = None
    y = y_first
    for i, (label, concept, shape, what) in enumerate(stages):
        last = i == len(stages) - 1
        b = d.box(x_col, y, col_w, box_h, None, concept=concept, lw=2.0 if last else 1.2)
        d.text(b.cx, y + 13, label)
        d.note(b.cx, y + 28, shape, size=size)
        d.note(x_note, b.cy, what, ha="left", size=size)
        if prev is not None:
            d.arrow(prev.bottom, b.top)
        if i == 0:  # q and k fork into the scores
            qb = tensor(b.cy - 4 - in_h, "q", "query")
            kb = tensor(b.cy + 4, "k", "key")
            d.arrow(qb.right, (x_col, b.cy - 8), concept="query", bend=0.15)
            d.arrow(kb.right, (x_col, b.cy + 8), concept="key", bend=-0.15)
        if label == "weights @ v":  # v joins at the weighted sum
            vb = tensor(b.cy - in_h / 2, "v", "value")
            d.arrow(vb.right, b.left, concept="value")
        prev = b
        y += box_h + gap
    return d


# -- 4. splitting and merging heads ---------------------------------------------------------------------------
def _tensor_block(d: Drawing, x: float, y: float, w: float, h: float, rows: int, heads: list[int],
                  channels: int, concept: str, *, cut: bool) -> None:
    """A (rows, channels) tensor as a block: a line between rows, between channels when they are few, and a
    heavy cut between heads when ``cut``. ``heads`` are the heads it holds; every other head is tinted."""
    gw = w / len(heads)
    for g, head in enumerate(heads):
        d.box(round(x + g * gw, 2), y, round(gw, 2), h, concept=concept if head % 2 == 0 else "neutral",
              lw=0, round_=0, filled=head % 2 == 0)
    if rows <= 16:
        for r in range(1, rows):
            yy = round(y + r * h / rows, 2)
            d.line([x, x + w], [yy, yy], concept=concept, lw=0.4, alpha=0.5)
    if channels * 4 <= w:
        for ch in range(1, channels):
            xx = round(x + ch * w / channels, 2)
            d.line([xx, xx], [y, y + h], concept=concept, lw=0.3, alpha=0.35)
    if cut:
        for g in range(1, len(heads)):
            xx = round(x + g * gw, 2)
            d.line([xx, xx], [y - 3, y + h + 3], concept=concept, lw=1.4)
    x1, y1 = round(x + w, 2), round(y + h, 2)
    d.line([x, x1, x1, x, x], [y, y, y1, y1, y], concept=concept, lw=1.1)


def split_heads(config, T: int = 4, B: int = 1) -> Drawing:
    """C channels split into n_head heads and merged back, as the tensor reshapes of multi-head attention.

    From a GPTConfig (n_embd = C, n_head = nh, head size hs = C // nh) and ``T`` tokens: q (B, T, C) is viewed as
    (B, T, nh, hs), transposed to (B, nh, T, hs) so that each head is its own (T, hs) block, attended per head,
    then transposed back and viewed as (B, T, C) again. One row per token (at most 16 drawn), widths in
    proportion to the channels; every other head is tinted so that each can be followed.
    """
    C, nh, hs, _ = _config_sizes(config)
    T = _count(T, "T", getattr(config, "block_size", None))
    B = _count(B, "B")
    width = 500.0
    x0 = MARGIN + 4
    full = width - 2 * MARGIN - 8
    rows = min(T, 16)
    h = round(min(max(rows * 9.0, 18.0), 60.0), 2)
    hgap = 6.0 if nh <= 16 else 3.0
    head_w = round((full - (nh - 1) * hgap) / nh, 2)
    title_h, arrow_h = 18.0, 30.0
    stage_h = title_h + h + arrow_h
    height = MARGIN + 5 * stage_h - arrow_h + 22 + MARGIN
    alt = (f"Splitting into heads: q of shape (B, T, C) = ({B}, {T}, {C}) is viewed as ({B}, {T}, {nh}, {hs}), "
           f"{nh} groups of {hs} channels, then transposed to ({B}, {nh}, {T}, {hs}) so each of the {nh} heads "
           f"is its own block of {T} rows by {hs} channels; after attention the heads are transposed back and "
           f"merged into ({B}, {T}, {C}).")
    d = Drawing(width, round(height, 1), alt=alt)

    def head_labels(y: float, xs: list[float], w: float) -> None:
        """'head g' (or 'hg', or only the first and last) centred over each head."""
        names = [f"head {g}" for g in range(nh)]
        if d.measure(names[-1], NOTE)[0] > w - 4:
            names = [f"h{g}" for g in range(nh)]
        if d.measure(names[-1], NOTE)[0] > w - 2:
            names = [s if g in (0, nh - 1) else "" for g, s in enumerate(names)]
        for g, s in enumerate(names):
            if s:
                d.text(round(xs[g] + w / 2, 2), y, s, size=NOTE)

    stages = [  # (shape, what it is, concept, split into heads)
        (f"(B, T, C) = ({B}, {T}, {C})", f"{T} token{'s' if T > 1 else ''} × {C} channels", "query", "whole"),
        (f"(B, T, nh, hs) = ({B}, {T}, {nh}, {hs})", f"the same numbers, read as {nh} groups of {hs}", "query",
         "cut"),
        (f"(B, nh, T, hs) = ({B}, {nh}, {T}, {hs})", f"{nh} heads, each {T} × {hs}", "query", "apart"),
        (f"(B, nh, T, hs) = ({B}, {nh}, {T}, {hs})", "each head's blend of its values", "value", "apart"),
        (f"(B, T, C) = ({B}, {T}, {C})", "the heads side by side again", "value", "cut"),
    ]
    ops = [f"q.view(B, T, {nh}, {hs})", "q.transpose(1, 2)", "attention in every head",
           f"y.transpose(1, 2).contiguous().view(B, T, {C})"]
    y = MARGIN
    for i, (shape, what, concept, how) in enumerate(stages):
        d.text(x0, y + 7, shape, ha="left")
        d.note(x0 + full, y + 7, what, ha="right", size=NOTE)
        by = y + title_h
        if how == "apart":
            xs = [round(x0 + g * (head_w + hgap), 2) for g in range(nh)]
            for g in range(nh):
                _tensor_block(d, xs[g], by, head_w, h, rows, [g], hs, concept, cut=False)
            head_labels(by + h / 2, xs, head_w)
        else:
            _tensor_block(d, x0, by, full, h, rows, list(range(nh)) if how == "cut" else [0], C, concept,
                          cut=how == "cut")
        if i < len(ops):
            ay = by + h + 5
            d.arrow((x0 + 24, ay), (x0 + 24, ay + arrow_h - 10))
            d.text(x0 + 34, ay + (arrow_h - 10) / 2, ops[i], ha="left", mono=True, size=NOTE, colour_=MUTED)
        y += stage_h
    foot = (f"head h holds channels {hs}·h to {hs}·h + {hs - 1}" if nh > 1 else f"one head holds all {C} channels")
    d.note(x0, y - arrow_h + 12, foot, ha="left", size=NOTE)
    if T > rows:
        d.note(x0 + full, y - arrow_h + 12, f"{rows} of the {T} token rows drawn", ha="right", size=NOTE)
    return d


# -- 5. attention as lines ------------------------------------------------------------------------------------
def attention_lines(weights, tokens: Sequence[str], names: Sequence[str] | None = None, *,
                    min_weight: float = 0.1) -> Drawing:
    """Attention as lines: each token (top row) linked to the tokens it looks at (bottom row).

    ``weights`` is one head's (T, T) attention weights (row = the token that looks) or a few heads' (H, T, T),
    drawn one panel each and named by ``names``; ``tokens`` are the T tokens' texts. A line's thickness is its
    weight, rounded to 2 decimals; weights under ``min_weight`` are left out. A text too long for the page
    shows its first tokens.
    """
    toks = _tokens(tokens)
    T = len(toks)
    w = _tensor(weights, "weights", (2, 3), f"one head's attention weights (T, T) or a few heads' (H, T, T), "
                f"T = {T}")
    if w.dim() == 2:
        w = w[None]
    if tuple(w.shape[1:]) != (T, T):
        raise ValueError(f"weights have shape {tuple(w.shape)} but there are {T} tokens; "
                         f"pass ({T}, {T}) or (H, {T}, {T}), e.g. maps[layer, 0, head]")
    H = w.size(0)
    if H > 4:
        raise ValueError(f"{H} heads are too many for one drawing; pass at most 4, e.g. weights[:4]")
    if (w < -1e-6).any() or (w > 1 + 1e-6).any():
        raise ValueError("attention weights lie in [0, 1]; pass softmax outputs, not raw scores")
    if names is None:
        names = [f"head {h}" for h in range(H)] if H > 1 else []
    if isinstance(names, str) or not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names must be a list of strings, one per head, got {names!r:.60}")
    names = list(names)
    if names and len(names) != H:
        raise ValueError(f"{len(names)} names for {H} heads; pass one name per head")
    min_weight = fraction("min_weight", min_weight, lambda x: 0 < x < 1, "a number between 0 and 1")
    w = torch.round(w.clamp(0, 1) * 100) / 100

    shown = [piece_label(t) for t in toks]
    scratch = Drawing(100, 100)
    side_w = scratch.measure("looked at", SIZE)[0] + 10
    widths = [scratch.measure(s, SIZE, mono=True)[0] + 6 for s in shown]
    room = 550 - 2 * MARGIN - side_w
    gap = 2.0
    n, used = 0, 0.0
    for bw in widths:
        if used + bw > room:
            break
        used += bw + gap
        n += 1
    n = max(n, 1)
    rows_w = sum(widths[:n]) + gap * (n - 1)
    foot_w = scratch.measure(f"line thickness = attention weight; weights under {min_weight:g} left out")[0]
    width = max(MARGIN * 2 + side_w + rows_w, MARGIN * 2 + foot_w)
    size = SIZE if width > 450 else SIZE - 2  # at least width / 50
    box_h, span = 20.0, 96.0
    name_h = 20.0 if names else 0.0
    panel_h = name_h + box_h + span + box_h
    foot = 20.0 * (1 + (T > n))
    height = MARGIN + H * panel_h + (H - 1) * 22 + 12 + foot + MARGIN

    desc = []
    for h in range(H):
        strong = [(float(w[h, r, c]), r, c) for r in range(n) for c in range(n) if r != c]
        top = max(strong, default=(float(w[h, 0, 0]), 0, 0))
        desc.append((names[h] + ": " if names else "") + f"the strongest line, {top[0]:.2f}, runs from "
                    f"{toks[top[1]]!r} to {toks[top[2]]!r}")
    alt = (f"Attention drawn as lines from each of {n} tokens ({''.join(toks[:n])!r}) to the tokens it looks "
           f"at, thicker for larger weights; " + "; ".join(desc) + ".")
    d = Drawing(round(width, 1), round(height, 1), alt=alt)
    x_rows = round(MARGIN + side_w + (width - 2 * MARGIN - side_w - rows_w) / 2, 2)
    y = MARGIN
    for h in range(H):
        if names:
            d.text(MARGIN, y + 8, names[h], ha="left", weight="bold")
            y += name_h
        top_boxes = d.row(x_rows, y, shown[:n], concept="token", gap=gap, h=box_h, pad=3.0)
        bottom_y = y + box_h + span
        bottom = d.row(x_rows, bottom_y, shown[:n], concept="token", gap=gap, h=box_h, pad=3.0)
        d.note(MARGIN, y + box_h / 2, "looks", ha="left", size=size)
        d.note(MARGIN, bottom_y + box_h / 2, "looked at", ha="left", size=size)
        lines = sorted((float(w[h, r, c]), r, c) for r in range(n) for c in range(n)
                       if float(w[h, r, c]) >= min_weight)
        for wt, r, c in lines:  # the light ones first, so the strong ones lie on top
            a, b = top_boxes[r], bottom[c]
            d.line([a.cx, b.cx], [a.y + a.h + 1, b.y - 1], concept="attention",
                   lw=round(0.3 + 4.5 * wt, 2), alpha=round(0.25 + 0.75 * wt, 2))
        y = bottom_y + box_h + 22
    y += 2 - 22 + 12
    d.note(MARGIN, y + 7, f"line thickness = attention weight; weights under {min_weight:g} left out",
           ha="left", size=size)
    if T > n:
        d.note(MARGIN, y + 27, f"the first {n} of {T} tokens", ha="left", size=size)
    return d
