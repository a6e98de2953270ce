"""The family drawn: encoder, decoder and encoder-decoder with their masks, objectives, the family tree (chapter 10).

The masks are the real ones (`gpt2lite.attention.causal_mask` for the decoders, all-true for the encoder and for
cross-attention), the objectives are drawn from a real sentence and the positions a real masking run chose, and
the family tree comes from a small table (`FAMILY`) whose entries name their papers in the book's references.bib.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._args import count
from .canvas import Box, Drawing, rounded as _r
from .style import SIZE

__all__ = ["FAMILY", "Model", "architectures", "objectives", "family_tree"]

FS = SIZE  # 11 pt everywhere: legible on a phone in a drawing up to 550 pt wide
MARGIN = 8.0
WIDTH = 550.0




def _short(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _label(token: str) -> str:
    from .canvas import piece_label

    return piece_label(token)


def _tokens(tokens: Any, what: str, *, at_least: int = 1) -> list[str]:
    if isinstance(tokens, str):
        tokens = list(tokens)
    if not isinstance(tokens, Sequence) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"{what} must be a list of token strings (or a str, one token per character), "
                        f"got {tokens!r:.60}")
    if len(tokens) < at_least:
        raise ValueError(f"{what} needs at least {at_least} token(s), got {len(tokens)}: pass e.g. 'the king is dead'.split()")
    if any(t == "" for t in tokens):
        raise ValueError(f"{what} holds an empty token; every token needs some text")
    return list(tokens)


# ---------------------------------------------------------------------------- the three architectures
def _mask_grid(d: Drawing, x: float, y: float, allowed, rows: list[str], cols: list[str], *, cell: float,
               row_labels: bool, caption: str) -> Box:
    """A mask: rose where a query (row) may attend to a key (column), grey where it may not, with token labels."""
    import torch

    allowed = torch.as_tensor(allowed, dtype=torch.bool)
    shade = [[0.55 if a else 0.0 for a in r] for r in allowed.tolist()]
    col_h = max(d.measure(c, FS, mono=True)[0] for c in cols) + 4
    upright = col_h - 4 <= cell  # one-character tokens stand upright; longer ones are turned
    gy = y + col_h
    g = d.grid(_r(x), _r(gy), shade, cell=cell, concept="attention", hidden=(~allowed).tolist())
    for j, c in enumerate(cols):
        d.text(_r(x + (j + 0.5) * cell), _r(gy - 3), c, mono=True, rotation=0 if upright else 90, va="bottom",
               ha="center")
    if row_labels:
        for i, r in enumerate(rows):
            d.text(_r(x - 4), _r(gy + (i + 0.5) * cell), r, mono=True, ha="right")
    d.note(_r(x + g.w / 2), _r(gy + g.h + 10), caption, size=FS)
    return g


def _stack(d: Drawing, x: float, y: float, w: float, layers: list[tuple[str, str]], *, n_label: str) -> list[Box]:
    """A stack of sub-layer boxes (top to bottom) in a frame marked "N ×"; returns the boxes."""
    bh, gap = 22.0, 8.0
    frame_h = len(layers) * (bh + gap) + gap
    d.box(_r(x), _r(y), _r(w), _r(frame_h), concept="residual", filled=False, lw=1.0, round_=6)
    d.note(_r(x + w - 4), _r(y + frame_h + 11), n_label, size=FS, ha="right")  # below the frame, by the arrow
    boxes = []
    yy = y + gap
    for label, concept in layers:
        boxes.append(d.box(_r(x + 6), _r(yy), _r(w - 12), bh, label, concept=concept))
        yy += bh + gap
    return boxes


def architectures(tokens: Any, *, target: Any = None, max_tokens: int = 5) -> Drawing:
    """Encoder (BERT), decoder (GPT) and encoder-decoder (the original Transformer) side by side, with their masks.

    ``tokens`` is the input sentence (a list of tokens, or a str read one character per token); ``target`` is
    the encoder-decoder's output sentence (say, a translation; ``tokens`` again when not given). Each model is a
    stack of blocks; below it, its attention mask, built as the models build it: bidirectional (every query sees
    every key), causal (`gpt2lite.attention.causal_mask`), and the decoder's cross-attention to the encoder's
    tokens. At most ``max_tokens`` tokens of each sentence are drawn.
    """
    import torch

    from gpt2lite.attention import causal_mask

    max_tokens = count("max_tokens", max_tokens, 2, 6, "an int from 2 to 6 (the masks must fit the page)")
    src = _tokens(tokens, "tokens")
    tgt = _tokens(target, "target") if target is not None else list(src)
    s_lab = [_short(_label(t), 5) for t in src[:max_tokens]]
    t_lab = [_short(_label(t), 5) for t in tgt[:max_tokens]]
    S, T = len(s_lab), len(t_lab)
    bidirectional = torch.ones(S, S, dtype=torch.bool)
    causal_src = causal_mask(S, S)
    causal_tgt = causal_mask(T, T)
    cross = torch.ones(T, S, dtype=torch.bool)  # every target query sees every source key

    cell = 14.0
    probe = Drawing(10, 10)
    lab_w = max(probe.measure(t, FS, mono=True)[0] for t in s_lab + t_lab)
    gap = 12.0
    ew, dw = 88.0, 98.0  # the encoder's and the decoder's stack, side by side
    cap_w = (probe.measure("causal", FS)[0] + probe.measure("cross", FS)[0]) / 2 + 8
    mask_gap = max(12.0, cap_w - (T + S) * cell / 2)  # between the decoder's two masks: room for their captions
    w3 = max(ew + 10 + dw, lab_w + 4 + T * cell + mask_gap + S * cell + 8)
    w1 = w2 = (WIDTH - 2 * MARGIN - 2 * gap - w3) / 2
    if w1 < max(lab_w + 4 + S * cell + 8, 140):
        raise ValueError("the tokens are too long to draw three masks side by side; pass shorter tokens")
    x1, x2 = MARGIN, MARGIN + w1 + gap
    x3 = x2 + w2 + gap

    top = MARGIN
    stack_y = top + 68
    enc_layers = [("self-attention", "attention"), ("MLP", "mlp")]
    dec_layers = [("self-attention", "attention"), ("cross-attention", "attention"), ("MLP", "mlp")]
    stack_h3 = len(dec_layers) * 30 + 8
    mask_y = stack_y + stack_h3 + 62
    col_h = max(probe.measure(c, FS, mono=True)[0] for c in s_lab + t_lab) + 4
    height = mask_y + col_h + max(S, T) * cell + 24 + 34 + MARGIN
    alt = (
        f"Three architectures side by side: an encoder (BERT) whose mask lets each of the {S} tokens "
        f"{' '.join(s_lab)} see all of them, a decoder (GPT) whose causal mask lets a token see only itself and "
        f"the tokens before it, and an encoder-decoder (the original Transformer) whose decoder attends causally to "
        f"{' '.join(t_lab)} and, through cross-attention, to every encoder token."
    )
    d = Drawing(WIDTH, _r(height), alt=alt)

    def title(x: float, w: float, name: str, who: str) -> None:
        d.text(_r(x + w / 2), top + 8, name, weight="bold")
        d.note(_r(x + w / 2), top + 24, who, size=FS)

    title(x1, w1, "encoder", "BERT, 2018")
    title(x2, w2, "decoder", "GPT, 2018")
    title(x3, w3, "encoder-decoder", "Transformer, 2017")

    def in_out(x: float, w: float, boxes: list[Box], out: str, inp: str) -> None:
        # input below the stack, output above it: the data flows upwards, as in the papers
        ftop = boxes[0].y - 8
        fbot = boxes[-1].y + boxes[-1].h + 8
        b_in = d.box(_r(x + 6), _r(fbot + 22), _r(w - 12), 20, inp, concept="token")
        d.arrow(b_in.top, (_r(x + w / 2), _r(fbot)))
        for a, b in zip(boxes[1:], boxes[:-1]):
            d.arrow((a.cx, a.y), (b.cx, b.y + b.h), lw=1.1)
        return ftop, b_in

    # 1. encoder
    sw = min(w1 - 16, 120.0)
    sx = x1 + (w1 - sw) / 2
    boxes = _stack(d, sx, stack_y + 30, sw, enc_layers[::-1], n_label="N ×")
    # 2. decoder
    sx2 = x2 + (w2 - sw) / 2
    boxes2 = _stack(d, sx2, stack_y + 30, sw, enc_layers[::-1], n_label="N ×")
    # 3. encoder and decoder
    x3 += (w3 - (ew + 10 + dw)) / 2
    boxes3e = _stack(d, x3, stack_y + 30, ew, enc_layers[::-1], n_label="N ×")
    boxes3d = _stack(d, x3 + ew + 10, stack_y, dw, dec_layers[::-1], n_label="N ×")
    for bx, xx, ww, out, inp in ((boxes, sx, sw, "masked tokens", "tokens"), (boxes2, sx2, sw, "next token", "tokens"),
                                 (boxes3e, x3, ew, None, "source"), (boxes3d, x3 + ew + 10, dw, "next token", "target")):
        ftop, b_in = in_out(xx, ww, bx, out, inp)
        if out is not None:
            b_out = d.box(_r(xx + 6), _r(ftop - 30), _r(ww - 12), 20, out, concept="logits")
            d.arrow((b_out.cx, _r(ftop)), (b_out.cx, _r(b_out.y + b_out.h)))
    # the encoder's output feeds every decoder block's cross-attention
    # (its keys and values): up out of the encoder, across, into the cross-attention
    enc_top = boxes3e[0].y - 8
    xatt = boxes3d[1]
    ecx, turn_y, turn_x = boxes3e[0].cx, enc_top - 12, x3 + ew + 5
    d.line([ecx, ecx, turn_x, turn_x], [_r(enc_top), _r(turn_y), _r(turn_y), _r(xatt.cy)], concept="key", lw=1.4)
    d.arrow((_r(turn_x), _r(xatt.cy)), (_r(xatt.x - 1), _r(xatt.cy)), concept="key")

    # the masks
    def place(x: float, w: float, n_cols: int) -> float:
        return x + (w - (lab_w + 4 + n_cols * cell)) / 2 + lab_w + 4

    _mask_grid(d, place(x1, w1, S), mask_y, bidirectional, s_lab, s_lab, cell=cell, row_labels=True,
               caption="bidirectional")
    _mask_grid(d, place(x2, w2, S), mask_y, causal_src, s_lab, s_lab, cell=cell, row_labels=True, caption="causal")
    gx = x3 + (w3 - (lab_w + 4 + T * cell + mask_gap + S * cell)) / 2 + lab_w + 4
    _mask_grid(d, gx, mask_y, causal_tgt, t_lab, t_lab, cell=cell, row_labels=True, caption="causal")
    _mask_grid(d, gx + T * cell + mask_gap, mask_y, cross, t_lab, s_lab, cell=cell, row_labels=False, caption="cross")
    y = height - MARGIN - 22
    more = [f"{len(seq) - max_tokens} more tokens not drawn" for seq in (src, tgt) if len(seq) > max_tokens]
    d.note(MARGIN, _r(y), "masks: a row is a query, a column a key; rose: may attend, grey: hidden", size=FS,
           ha="left")
    if more:
        d.note(MARGIN, _r(y + 16), f"(first {max_tokens} tokens shown: {more[0]})", size=FS, ha="left")
    return d


# ---------------------------------------------------------------------------- the two objectives
def _positions(masked: Any, n: int) -> list[bool]:
    import torch

    if masked is None:
        raise ValueError("objectives needs the masked positions: a bool per token, or a list of indices")
    if isinstance(masked, (list, tuple)) and not masked:
        raise ValueError("no position is masked: BERT would have no target; mask at least one token")
    try:
        t = torch.as_tensor(masked)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"masked must be a bool per token, or a list of int positions, got {type(masked).__name__}"
                        ) from None
    if t.dtype == torch.bool:
        if t.dim() == 2 and t.size(0) == 1:
            t = t[0]
        if t.dim() != 1 or t.numel() != n:
            raise ValueError(f"masked must hold one bool per token ({n}), got shape {tuple(t.shape)}")
        flags = t.tolist()
    else:
        if t.is_floating_point() or t.dim() != 1:
            error = TypeError if t.is_floating_point() else ValueError
            raise error(f"masked must be a bool per token, or a 1-D list of int positions, got {t.dtype} of shape "
                        f"{tuple(t.shape)}")
        idx = t.tolist()
        if any(not 0 <= i < n for i in idx):
            raise ValueError(f"masked positions must lie in 0..{n - 1}, got {idx}")
        flags = [i in set(idx) for i in range(n)]
    if not any(flags):
        raise ValueError("no position is masked: BERT would have no target; mask at least one token")
    return flags


def objectives(tokens: Any, masked: Any, *, max_tokens: int = 48) -> Drawing:
    """The next-token (GPT) and masked-token (BERT) objectives on one real sentence: which positions are targets.

    ``tokens`` is the sentence (a list of tokens, or a str read one character per token); ``masked`` says which
    positions BERT hides: a bool per token (e.g. ``targets[0] >= 0`` from a masking run) or a list of indices.
    The GPT's targets are the inputs shifted by one, at every position; BERT's input shows ``_`` (its [MASK])
    at the hidden positions, and only those positions have a target. Long sentences wrap; at most
    ``max_tokens`` tokens are drawn.
    """
    toks = _tokens(tokens, "tokens", at_least=2)
    max_tokens = count("max_tokens", max_tokens, 2, expected="an int of at least 2")
    flags = _positions(masked, len(toks))
    n_all, n_masked_all = len(toks), sum(flags)
    toks, flags = toks[:max_tokens], flags[:max_tokens]
    T = len(toks)
    labels = [_short(_label(t), 10) for t in toks]
    probe = Drawing(10, 10)
    lab_x = MARGIN + max(probe.measure(s, FS)[0] for s in ("input", "target")) + 8
    widths = []
    for i in range(T):
        cand = [labels[i], "_"] + ([labels[i + 1]] if i + 1 < T else [])
        widths.append(max(14.0, max(probe.measure(c, FS, mono=True)[0] for c in cand) + 6))
    gap = 2.0
    avail = WIDTH - MARGIN - lab_x
    lines, cur, used = [], [], 0.0
    for i, w in enumerate(widths):
        if cur and used + w > avail:
            lines.append(cur)
            cur, used = [], 0.0
        cur.append(i)
        used += w + gap
    lines.append(cur)
    if len(lines) > 1:  # the same number of tokens on each line, when they fit
        per = -(-T // len(lines))
        even = [list(range(i, min(i + per, T))) for i in range(0, T, per)]
        if all(sum(widths[i] + gap for i in ln) <= avail for ln in even):
            lines = even

    bh, inner = 18.0, 12.0
    line_h = bh + inner + bh + 14
    panel_h = 26 + len(lines) * line_h
    height = MARGIN + 2 * panel_h + 14 + (18 if n_all > T else 0) + MARGIN
    n_gpt = n_all - 1
    alt = (
        f"The two objectives on the {n_all} tokens of {''.join(toks) if all(len(t) == 1 for t in toks) else ' '.join(toks)!r}: "
        f"the GPT predicts the next token at every one of {n_gpt} positions, BERT hides {n_masked_all} tokens behind "
        "[MASK] and predicts only those."
    )
    d = Drawing(WIDTH, _r(height), alt=alt)

    def panel(y0: float, name: str, note: str, inputs: list[tuple[str, str]], targets: list[str | None]) -> None:
        d.text(MARGIN, _r(y0 + 8), name, ha="left", weight="bold")
        d.note(MARGIN + d.measure(name, FS, weight="bold")[0] + 10, _r(y0 + 8), note, size=FS, ha="left")
        y = y0 + 26
        for line in lines:
            d.note(MARGIN, _r(y + bh / 2), "input", size=FS, ha="left")
            d.note(MARGIN, _r(y + bh + inner + bh / 2), "target", size=FS, ha="left")
            x = lab_x
            for i in line:
                w = widths[i]
                if inputs[i] is not None:
                    text, concept = inputs[i]
                    d.box(_r(x), _r(y), _r(w), bh, text, concept=concept, mono=True, size=FS)
                if targets[i] is not None:
                    d.arrow((_r(x + w / 2), _r(y + bh)), (_r(x + w / 2), _r(y + bh + inner - 1)), lw=1.0)
                    d.box(_r(x), _r(y + bh + inner), _r(w), bh, targets[i], concept="logits", mono=True, size=FS)
                x += w + gap
            y += line_h

    gpt_in = [(labels[i], "token") if i + 1 < T else None for i in range(T)]
    gpt_tg = [labels[i + 1] if i + 1 < T else None for i in range(T)]
    panel(MARGIN, "next token (GPT)", f"every position is a target: {n_gpt} of {n_gpt}", gpt_in, gpt_tg)
    bert_in = [("_", "mask") if f else (labels[i], "token") for i, f in enumerate(flags)]
    bert_tg = [labels[i] if f else None for i, f in enumerate(flags)]
    panel(MARGIN + panel_h + 14, "masked token (BERT)",
          f"only the hidden positions are targets: {n_masked_all} of {n_all}   (_ = [MASK])", bert_in, bert_tg)
    if n_all > T:
        d.note(MARGIN, _r(height - MARGIN - 8), f"… {n_all - T} more tokens not drawn", size=FS, ha="left")
    return d


# ---------------------------------------------------------------------------- the family tree
@dataclass(frozen=True)
class Model:
    """One model of the family: its name, year, the key of its paper in references.bib, its lane, its parents."""

    name: str
    year: int
    cite: str
    lane: str  # "causal" (decoders), "encoder-decoder", or "both sides" (reads left and right context)
    note: str
    parents: tuple[str, ...] = ()


FAMILY: tuple[Model, ...] = (
    Model("Transformer", 2017, "vaswani2017attention", "encoder-decoder", "encoder-decoder"),
    Model("GPT", 2018, "radford2018improving", "causal", "decoder, post-LN", ("Transformer",)),
    Model("BERT", 2018, "devlin2019bert", "both sides", "encoder, masked LM", ("Transformer", "GPT")),
    Model("GPT-2", 2019, "radford2019language", "causal", "decoder, pre-LN", ("GPT",)),
    Model("Transformer-XL", 2019, "dai2019transformerxl", "causal", "decoder + memory", ("Transformer",)),
    Model("XLNet", 2019, "yang2019xlnet", "both sides", "permutation LM", ("Transformer-XL", "BERT")),
)
LANES = ("causal", "encoder-decoder", "both sides")


def family_tree(models: Sequence[Model] = FAMILY) -> Drawing:
    """The family tree of GPT-2: each model at its year, in its lane (causal, encoder-decoder, both sides).

    ``models`` is a table of `Model` entries (by default `FAMILY`: the Transformer, GPT, BERT, GPT-2,
    Transformer-XL and XLNet, with the references.bib keys of their papers); an arrow runs from each parent to
    the model that built on it. Columns are years, so another table draws another tree.
    """
    models = list(models)
    if not models or not all(isinstance(m, Model) for m in models):
        error = ValueError if not models else TypeError
        raise error("family_tree takes a non-empty list of draw.Model entries (see draw.FAMILY)")
    by_name = {m.name: m for m in models}
    if len(by_name) != len(models):
        raise ValueError("two models share a name; every entry needs its own")
    for m in models:
        if m.lane not in LANES:
            raise ValueError(f"{m.name}: lane {m.lane!r} is none of {LANES}")
        if isinstance(m.year, bool) or not isinstance(m.year, numbers.Integral):
            raise TypeError(f"{m.name}: the year must be an int, got {m.year!r}")
        for p in m.parents:
            if p not in by_name:
                raise ValueError(f"{m.name}'s parent {p!r} is not in the table; add it, or drop the link")
            if by_name[p].year > m.year:
                raise ValueError(f"{m.name} ({m.year}) cannot build on {p} ({by_name[p].year}), which came later")
    years = sorted({m.year for m in models})
    if len(years) > 4:
        raise ValueError(f"the tree spans {len(years)} years; at most 4 columns fit the page")
    cells: dict[tuple[int, str], list[Model]] = {}
    for m in models:
        cells.setdefault((m.year, m.lane), []).append(m)

    probe = Drawing(10, 10)
    box_w = max(max(probe.measure(m.name, FS, weight="bold")[0], probe.measure(m.note, FS)[0]) for m in models) + 16
    col_w = (WIDTH - 2 * MARGIN) / len(years)
    if box_w > col_w - 24:
        raise ValueError("a model's name or note is too long for its column; shorten it")
    bh, sub_gap, lane_gap = 36.0, 10.0, 26.0
    lane_rows = {lane: max((len(v) for (y, ln), v in cells.items() if ln == lane), default=0) for lane in LANES}
    y = MARGIN + 30
    lane_y = {}
    for lane in LANES:
        if lane_rows[lane]:
            lane_y[lane] = y
            y += lane_rows[lane] * (bh + sub_gap) - sub_gap + lane_gap
    height = y - lane_gap + 8 + MARGIN
    alt = "The family tree: " + "; ".join(
        f"{m.name} ({m.year})" + (f" from {', '.join(m.parents)}" if m.parents else "") for m in models
    ) + "."
    d = Drawing(WIDTH, _r(height), alt=alt)
    col_x = {yr: MARGIN + (i + 0.5) * col_w for i, yr in enumerate(years)}
    for yr, cx in col_x.items():
        d.text(_r(cx), MARGIN + 8, str(yr), weight="bold")
    d.line([MARGIN, WIDTH - MARGIN], [MARGIN + 20, MARGIN + 20], concept="neutral", lw=0.8)
    lane_names = {"causal": "causal: left to right", "encoder-decoder": "encoder-decoder",
                  "both sides": "reads both sides"}
    for lane, ly in lane_y.items():  # the lane's name, in the first column where it is free
        free = next((yr for yr in years if (yr, lane) not in cells), None)
        if free is not None and lane != "encoder-decoder":  # the Transformer's own note says it
            d.note(_r(col_x[free]), _r(ly + bh / 2), lane_names[lane], size=FS, style="italic")
    boxes: dict[str, Box] = {}
    for (yr, lane), ms in cells.items():
        for k, m in enumerate(ms):
            by = lane_y[lane] + k * (bh + sub_gap)
            b = d.box(_r(col_x[yr] - box_w / 2), _r(by), _r(box_w), bh,
                      concept="residual" if lane == "encoder-decoder" else "neutral", lw=1.3)
            d.text(b.cx, _r(by + 12), m.name, weight="bold")
            d.note(b.cx, _r(by + 27), m.note, size=FS)
            boxes[m.name] = b
    for m in models:
        for p in m.parents:
            a, b = boxes[p], boxes[m.name]
            if by_name[p].year == m.year:  # same column: top to bottom
                start, end = (a.bottom, b.top) if a.y < b.y else (a.top, (b.cx, b.y + b.h))
                d.arrow((start[0] - 20, start[1]), (end[0] - 20, end[1] - 1), lw=1.2)
            else:
                d.arrow(a.right, (b.x - 1, b.cy), lw=1.2, bend=0.0)
    return d
