"""The architecture drawn: the decoder block, the residual stream, the MLP, the four GPT-2 sizes (chapters 5, 6).

Every function takes a `GPTConfig` (or several) and draws what that config builds: its number of blocks, its
width, its parameter counts (computed from the config exactly as `gpt2lite.model` allocates them), whether its
blocks are pre-LN or post-LN, and whether it has a final LayerNorm. Data flows upwards, as in the transformer
papers: the input at the bottom, the output at the top.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..config import PRESETS, GPTConfig
from ._args import count, flag
from .canvas import Drawing, rounded as _r
from .style import MUTED, SIZE, SMALL, colour

__all__ = ["decoder_block", "block_arrangements", "residual_stream", "mlp", "model_sizes", "parameter_groups",
           "parameter_areas", "tied_output"]

GAP = 14.0  # vertical space between two steps of a column
BOX_H = 24.0  # a box with one line of SIZE text
SUB_H = 30.0  # attention and MLP: the sub-layers, drawn a little taller than the LayerNorms
ADD_R = 8.0  # radius of the circled plus of a residual add
STREAM_LW = 2.4  # the residual stream's line width


# -- counting ---------------------------------------------------------------------------------------------------
def _check_config(config, fn: str) -> GPTConfig:
    if not isinstance(config, GPTConfig):
        raise TypeError(
            f"{fn} draws a GPTConfig, got {type(config).__name__}; pass one such as GPTConfig.from_name('gpt2')"
        )
    return config


def _counts(c: GPTConfig) -> dict[str, int]:
    """Parameters by part, as gpt2lite.model allocates them (biases only where ``c.bias``)."""
    C, b = c.n_embd, c.bias
    ln = 2 * C if b else C  # gain, and a bias
    attn = 4 * C * C + (4 * C if b else 0)  # c_attn C -> 3C, c_proj C -> C
    fc = 4 * C * C + (4 * C if b else 0)  # C -> 4C
    proj = 4 * C * C + (C if b else 0)  # 4C -> C
    return {
        "ln": ln, "attn": attn, "c_fc": fc, "c_proj": proj, "mlp": fc + proj,
        "block": 2 * ln + attn + fc + proj,
        "wte": c.vocab_size * C, "wpe": c.block_size * C, "ln_f": ln if c.pre_ln else 0,
    }


def _total(c: GPTConfig) -> int:
    n = _counts(c)
    return n["wte"] + n["wpe"] + c.n_layer * n["block"] + n["ln_f"]


def _short(n: int) -> str:
    """124,439,808 -> '124M', 1,557,611,200 -> '1.56B', 38,400 -> '38.4K'."""
    if n >= 10**9:
        return f"{n / 1e9:.2f}B"
    if n >= 10**8:
        return f"{n / 1e6:.0f}M"
    if n >= 10**6:
        return f"{n / 1e6:.1f}M"
    if n >= 10**4:
        return f"{n / 1e3:.1f}K"
    return f"{n:,}"




# -- the block, as a list of things to draw ---------------------------------------------------------------------
class _Plan:
    """Boxes, arrows and notes in the coordinates of one column, drawn later at an offset (several fit a page)."""

    def __init__(self) -> None:
        self.items: list[tuple] = []

    def add(self, kind: str, *args, **kw) -> None:
        self.items.append((kind, args, kw))

    def bounds(self, d: Drawing) -> tuple[float, float, float, float]:
        xs, ys = [], []
        for kind, a, kw in self.items:
            if kind == "box":
                xs += [a[0], a[0] + a[2]]
                ys += [a[1], a[1] + a[3]]
            elif kind in ("note", "text"):
                w, h = d.measure(a[2], kw.get("size", SIZE - 1))
                ha = kw.get("ha", "center")
                x0 = a[0] - w / 2 if ha == "center" else a[0] if ha == "left" else a[0] - w
                xs += [x0, x0 + w]
                ys += [a[1] - h / 2, a[1] + h / 2]
            elif kind == "arrow":
                xs += [a[0][0], a[1][0]]
                ys += [a[0][1], a[1][1]]
            elif kind in ("line", "dot"):
                xs += list(a[0])
                ys += list(a[1])
        return min(xs), min(ys), max(xs), max(ys)

    def draw(self, d: Drawing, dx: float, dy: float) -> None:
        for kind, a, kw in self.items:
            if kind == "box":
                d.box(_r(a[0] + dx), _r(a[1] + dy), _r(a[2]), _r(a[3]), *a[4:], **kw)
            elif kind == "note":
                d.note(_r(a[0] + dx), _r(a[1] + dy), a[2], **kw)
            elif kind == "text":
                d.text(_r(a[0] + dx), _r(a[1] + dy), a[2], **kw)
            elif kind == "arrow":
                d.arrow((_r(a[0][0] + dx), _r(a[0][1] + dy)), (_r(a[1][0] + dx), _r(a[1][1] + dy)), **kw)
            elif kind == "line":
                d.line([_r(x + dx) for x in a[0]], [_r(y + dy) for y in a[1]], **kw)
            elif kind == "dot":
                ln = d.line([_r(a[0][0] + dx)], [_r(a[1][0] + dy)], concept="residual")
                ln.set_marker("o")
                ln.set_markersize(4.5)


def _add_circle(p: _Plan, x: float, y: float) -> None:
    """The circled plus of a residual add, centred on (x, y)."""
    p.add("box", x - ADD_R, y - ADD_R, 2 * ADD_R, 2 * ADD_R, "+", concept="residual", round_=ADD_R, lw=1.4)


def _block_plan(d: Drawing, c: GPTConfig, pre_ln: bool, *, counts: bool) -> _Plan:
    """One decoder block, bottom (input) to top (output), with the stream at x = 0 and y growing downwards
    from an arbitrary origin (the plan is shifted onto the page later)."""
    n = _counts(c)
    attn_label = "self-attention"
    attn_note = f"{'causal, ' if c.causal else ''}{c.n_head} head{'s' if c.n_head > 1 else ''}"
    sub_w = max(d.measure(s)[0] for s in (attn_label, "MLP", "LayerNorm")) + 24
    ln_w = d.measure("LayerNorm")[0] + 16
    io_label = f"x  (B, T, {c.n_embd})"
    io_w = d.measure(io_label)[0] + 16
    # the branch column sits right of the stream, clear of a LayerNorm drawn on the stream (post-LN)
    xb = max(ln_w, io_w) / 2 + 22 + sub_w / 2
    p = _Plan()
    y = 0.0
    p.add("box", -io_w / 2, y - BOX_H, io_w, BOX_H, io_label, concept="residual")
    y -= BOX_H
    stream_from = y

    def note(x_box_right: float, y_mid: float, lines: list[str]) -> None:
        if counts:  # one note a line, so that each is left-aligned
            line_h = (SIZE - 1) * 1.25
            for k, s in enumerate(lines):
                p.add("note", x_box_right + 10, y_mid + (k - (len(lines) - 1) / 2) * line_h, s, ha="left")

    steps = [("attn", attn_label, "attention"), ("mlp", "MLP", "mlp")]
    for i, (part, label, concept) in enumerate(steps, start=1):
        y -= GAP
        tap = y
        p.add("line", [0, xb], [tap, tap], lw=1.3)
        p.add("dot", [0], [tap])
        top = tap - GAP
        if pre_ln:  # LayerNorm inside the branch: the stream itself is never normalised
            p.add("arrow", (xb, tap), (xb, top))
            p.add("box", xb - sub_w / 2, top - BOX_H, sub_w, BOX_H, "LayerNorm", concept="norm")
            note(xb + sub_w / 2, top - BOX_H / 2, [f"ln_{i}: {n['ln']:,} params"])
            top -= BOX_H
            p.add("arrow", (xb, top), (xb, top - GAP))
            top -= GAP
        else:
            p.add("arrow", (xb, tap), (xb, top))
        p.add("box", xb - sub_w / 2, top - SUB_H, sub_w, SUB_H, label, concept=concept)
        if part == "attn":
            note(xb + sub_w / 2, top - SUB_H / 2, [attn_note, f"{n['attn']:,} params"])
        else:
            widths = f"{c.n_embd} → {4 * c.n_embd} → {c.n_embd}"
            note(xb + sub_w / 2, top - SUB_H / 2, [widths, f"{n['mlp']:,} params"])
        top -= SUB_H
        y_add = top - GAP - ADD_R
        p.add("line", [xb, xb], [top, y_add], lw=1.3)
        p.add("arrow", (xb, y_add), (ADD_R, y_add))
        p.add("arrow", (0, stream_from), (0, y_add + ADD_R), concept="residual", lw=STREAM_LW)
        _add_circle(p, 0, y_add)
        y = y_add - ADD_R
        stream_from = y
        if not pre_ln:  # post-LN: the LayerNorm sits on the stream, after the add
            p.add("arrow", (0, y), (0, y - GAP), concept="residual", lw=STREAM_LW)
            y -= GAP
            p.add("box", -ln_w / 2, y - BOX_H, ln_w, BOX_H, "LayerNorm", concept="norm")
            y -= BOX_H
            stream_from = y
    y -= GAP
    p.add("arrow", (0, stream_from), (0, y), concept="residual", lw=STREAM_LW)
    p.add("box", -io_w / 2, y - BOX_H, io_w, BOX_H, io_label, concept="residual")
    return p


def _frame(p: _Plan, d: Drawing, c: GPTConfig, pre_ln: bool) -> None:
    """A dashed frame round the block (not its input and output), drawn first, and the stack's 'x L' beside it."""
    x0, y0, x1, y1 = p.bounds(d)
    top, bottom = y0 + BOX_H + 5, y1 - BOX_H - 5
    left = -ADD_R - 12 if pre_ln else -(d.measure("LayerNorm")[0] + 16) / 2 - 10  # clear of the LayerNorms
    p.items.insert(0, ("box", (left, top, x1 + 10 - left, bottom - top),
                       dict(concept="neutral", filled=False, dashed=True, lw=1.0, round_=8)))
    p.add("text", left - 8, (top + bottom) / 2, f"× {c.n_layer}", size=SIZE + 2, weight="bold", colour_=MUTED,
          ha="right")


def decoder_block(config: GPTConfig, pre_ln: bool | None = None) -> Drawing:
    """One decoder block of ``config`` as a data-flow diagram: the residual stream running up the left, the
    attention and MLP sub-layers branching off it and added back. ``pre_ln`` (default: ``config.pre_ln``)
    puts each LayerNorm inside the branch (GPT-2) or on the stream after the add (GPT-1). Beside each box:
    its parameter count, computed from the config; the frame's 'x L' is ``config.n_layer``."""
    c = _check_config(config, "decoder_block")
    if pre_ln is None:
        pre_ln = c.pre_ln
    pre_ln = flag("pre_ln", pre_ln, "True (GPT-2), False (GPT-1) or None (the config's)")
    probe = Drawing(10, 10)
    p = _block_plan(probe, c, pre_ln, counts=True)
    _frame(p, probe, c, pre_ln)
    x0, y0, x1, y1 = p.bounds(probe)
    per_block = _counts(c)["block"]
    note = f"{per_block:,} parameters per block"
    nw = probe.measure(note, SIZE - 1)[0]
    m = 12
    width = max(x1 - x0, nw) + 2 * m
    height = (y1 - y0) + 2 * m + 20
    d = Drawing(_r(width), _r(height), alt=(
        f"A {'pre-LN' if pre_ln else 'post-LN'} decoder block of width {c.n_embd}, drawn from its input at the "
        f"bottom to its output at the top: "
        + ("LayerNorm, self-attention and an add, then LayerNorm, MLP and an add; "
           if pre_ln else "self-attention, an add and a LayerNorm, then MLP, an add and a LayerNorm; ")
        + f"{c.n_layer} such blocks are stacked, each with {per_block:,} parameters."
    ))
    p.draw(d, m - x0, m - y0)
    d.note(_r(width - m), _r(height - m - 6), note, ha="right")
    return d


def block_arrangements(config: GPTConfig) -> Drawing:
    """The same block of ``config`` twice, side by side: pre-LN (GPT-2: LayerNorm at the input of each
    sub-layer, the stream never normalised) and post-LN (GPT-1: LayerNorm on the stream after each add)."""
    c = _check_config(config, "block_arrangements")
    probe = Drawing(10, 10)
    plans = [_block_plan(probe, c, True, counts=False), _block_plan(probe, c, False, counts=False)]
    heads = ["pre-LN (GPT-2)", "post-LN (GPT-1)"]
    bounds = [p.bounds(probe) for p in plans]
    m, gap, head_h = 12, 34, 26
    widths = [max(b[2] - b[0], probe.measure(h, SIZE, weight="bold")[0]) for b, h in zip(bounds, heads)]
    height = max(b[3] - b[1] for b in bounds) + 2 * m + head_h
    width = sum(widths) + gap + 2 * m
    d = Drawing(_r(width), _r(height), alt=(
        f"Two decoder blocks of width {c.n_embd} side by side. Left, pre-LN as in GPT-2: each sub-layer reads a "
        "LayerNorm of the stream and adds its output to it, so the stream is never normalised. Right, post-LN as "
        "in GPT-1: each sub-layer reads the stream, its output is added, and the sum is normalised."
    ))
    x = m
    for p, b, w, h in zip(plans, bounds, widths, heads):
        ox = x + (w - (b[2] - b[0])) / 2 - b[0]
        oy = height - m - b[3]  # both columns end at the bottom
        d.text(_r(x + w / 2), _r(m + 8), h, weight="bold")
        p.draw(d, ox, oy)
        x += w + gap
    return d


def _plus(d: Drawing, x: float, y: float, r: float) -> None:
    """A small circled plus (a residual add) drawn with lines, centred on (x, y)."""
    d.box(_r(x - r), _r(y - r), _r(2 * r), _r(2 * r), concept="residual", round_=r, lw=1.2)
    k = r * 0.55
    d.line([_r(x - k), _r(x + k)], [_r(y), _r(y)], concept="residual", lw=1.2)
    d.line([_r(x), _r(x)], [_r(y - k), _r(y + k)], concept="residual", lw=1.2)


def residual_stream(config: GPTConfig, max_blocks: int = 12) -> Drawing:
    """The residual stream of ``config`` as a vertical highway from the embeddings (bottom) to the logits
    (top). Each of the ``config.n_layer`` blocks reads it twice and writes to it twice: its attention on the
    left, its MLP on the right, each reading the stream (through its LayerNorm) and adding its output back.
    Over ``max_blocks`` blocks, the first ones and the last one are drawn and a note counts the rest."""
    c = _check_config(config, "residual_stream")
    if not c.pre_ln:
        raise ValueError(
            "residual_stream draws a pre-LN stack (GPT-2), whose stream is never normalised; this config has "
            "pre_ln=False, where a LayerNorm sits on the stream: draw it with decoder_block(config) instead"
        )
    max_blocks = count("max_blocks", max_blocks, 2, expected="an integer of at least 2")
    L = c.n_layer
    shown = list(range(1, L + 1)) if L <= max_blocks else [*range(1, max_blocks), L]
    size = SMALL
    probe = Drawing(10, 10)
    box_w = max(probe.measure(s, size)[0] for s in ("attention", "MLP")) + 12
    box_h, off, r = 15.0, 30.0, 5.0  # a sub-layer box; its distance from the stream; a plus's radius
    read_add, add_read, per_block = 12.0, 6.0, 38.0  # along the stream: read -> add, add -> next read
    label_w = probe.measure(f"block {L}", size)[0]
    emb_label, top_labels = "wte[ids] + wpe[pos]", ("ln_f", "logits = h @ wteᵀ")
    end_w = max(probe.measure(s, size)[0] for s in (emb_label, *top_labels)) + 14
    shape = f"(B, T, {c.n_embd})"
    shape_w = probe.measure(shape, SIZE - 1)[0]
    m = 12.0
    half = max(off + box_w + 8 + label_w, end_w / 2 + 10 + shape_w)
    xc = m + half
    width = 2 * half + 2 * m
    skip = 30.0 if len(shown) < L else 0.0  # the gap where the blocks not drawn would be
    body = len(shown) * per_block + skip
    end_h = 22.0
    height = m + 2 * end_h + 2 * GAP + body + end_h + GAP + 2 + m
    d = Drawing(_r(width), _r(height), alt=(
        f"The residual stream of a {L}-block model as a vertical line from the embeddings at the bottom to the "
        f"final LayerNorm and the logits at the top. Each block's attention (left) and MLP (right) reads the "
        f"stream and adds its output back to it: {2 * L} reads and {2 * L} writes of {c.n_embd} numbers per token."
        + (f" Blocks {max_blocks} to {L - 1} are left out." if len(shown) < L else "")
    ))
    # the two ends: embeddings at the bottom, ln_f and the logits at the top
    y_emb = height - m - end_h
    d.box(_r(xc - end_w / 2), _r(y_emb), _r(end_w), end_h, emb_label, concept="embedding", size=size)
    d.note(_r(xc + end_w / 2 + 8), _r(y_emb + end_h / 2), shape, ha="left")
    y_top = m
    d.box(_r(xc - end_w / 2), y_top, _r(end_w), end_h, top_labels[1], concept="logits", size=size)
    d.note(_r(xc + end_w / 2 + 8), _r(y_top + end_h / 2), f"(B, T, {c.vocab_size})", ha="left")
    y_lnf = y_top + end_h + GAP
    d.box(_r(xc - end_w / 2), _r(y_lnf), _r(end_w), end_h, top_labels[0], concept="norm", size=size, mono=True)
    d.arrow((_r(xc), _r(y_lnf)), (_r(xc), _r(y_top + end_h)), concept="residual", lw=STREAM_LW)
    # the blocks, bottom up
    y = y_emb - GAP  # the first read
    stream_from = y_emb
    for i, k in enumerate(shown):
        if skip and k == L:
            d.line([_r(xc), _r(xc)], [_r(stream_from), _r(y - skip + 6)], concept="residual", lw=STREAM_LW,
                   dashed=True)
            d.note(_r(xc - off), _r(y - skip / 2 + 3), f"… {L - len(shown)} more blocks", ha="right", size=size)
            stream_from = y - skip + 6
            y -= skip
        span = 2 * read_add + add_read  # from the attention's read to the MLP's add
        if i % 2 == 0:  # a pale band behind every other block groups its two sub-layers
            d.box(_r(m / 2), _r(y - span - (per_block - span) / 2), _r(width - m), _r(per_block),
                  concept="neutral", lw=0, round_=4)
        d.note(_r(xc - off - box_w - 8), _r(y - span / 2), f"block {k}", ha="right", size=size)
        for side, label, concept in ((-1, "attention", "attention"), (1, "MLP", "mlp")):
            y_read, y_add = y, y - read_add
            inner = xc + side * off
            bx = inner - box_w if side < 0 else inner
            by = (y_read + y_add) / 2 - box_h / 2
            d.box(_r(bx), _r(by), _r(box_w), box_h, label, concept=concept, size=size)
            d.arrow((_r(xc), _r(y_read)), (_r(inner), _r(y_read)), lw=1.0)
            d.arrow((_r(inner), _r(y_add)), (_r(xc + side * r), _r(y_add)), lw=1.0)
            d.line([_r(xc), _r(xc)], [_r(stream_from), _r(y_add + r)], concept="residual", lw=STREAM_LW)
            dot = d.line([_r(xc)], [_r(y_read)], concept="residual")
            dot.set_marker("o")
            dot.set_markersize(3.5)
            _plus(d, xc, y_add, r)
            stream_from = y_add - r
            y = y_add - add_read
        y -= per_block - 2 * (read_add + add_read)
    d.arrow((_r(xc), _r(stream_from)), (_r(xc), _r(y_lnf + end_h)), concept="residual", lw=STREAM_LW)
    return d


def mlp(config: GPTConfig) -> Drawing:
    """The MLP of ``config``'s blocks, left to right: a C-vector widened to 4C by ``c_fc``, GELU applied to
    each of the 4C numbers, and ``c_proj`` back to C. The vectors' heights are to scale; under each Linear,
    its parameters (weights + biases) computed from the config."""
    c = _check_config(config, "mlp")
    C, n = c.n_embd, _counts(c)
    m, bar_w, fan_w, gelu_w, arrow_w = 12.0, 20.0, 118.0, 62.0, 16.0
    h_small, h_big = 40.0, 160.0  # C and 4C, to scale
    top_note = 22.0
    width = 2 * m + 4 * bar_w + 2 * fan_w + gelu_w + 2 * arrow_w
    y_c = m + top_note + h_big / 2
    bottom = y_c + h_big / 2
    fc, proj = n["c_fc"], n["c_proj"]
    b = "" if c.bias else " (no biases)"
    d = Drawing(_r(width), _r(bottom + 82), alt=(
        f"The MLP of a block of width {C}: c_fc widens each token's {C} numbers to {4 * C} ({fc:,} parameters), "
        f"GELU is applied to each of them, and c_proj projects back to {C} ({proj:,} parameters){b}; "
        f"{n['mlp']:,} parameters in all."
    ))
    from matplotlib.patches import Polygon

    x = m
    bars = []
    for i, (h, concept, label) in enumerate([(h_small, "residual", f"C = {C}"), (h_big, "mlp", f"4C = {4 * C}"),
                                             (h_big, "mlp", f"4C = {4 * C}"), (h_small, "residual", f"C = {C}")]):
        bars.append((x, h))
        d.box(_r(x), _r(y_c - h / 2), bar_w, h, concept=concept, round_=3)
        ha, lx = ("left", x) if i == 0 else ("right", x + bar_w) if i == 3 else ("center", x + bar_w / 2)
        d.note(_r(lx), _r(y_c - h / 2 - 10), label, weight="bold", ha=ha)
        if i == 0:
            x += bar_w + fan_w
        elif i == 1:
            x += bar_w + 2 * arrow_w + gelu_w
        elif i == 2:
            x += bar_w + fan_w
    mlp_c = colour("mlp")
    for (xa, ha), (xb, hb), name, count, formula in [
        (bars[0], bars[1], "c_fc", fc, f"{C}·{4 * C}" + (f" + {4 * C}" if c.bias else "")),
        (bars[2], bars[3], "c_proj", proj, f"{4 * C}·{C}" + (f" + {C}" if c.bias else "")),
    ]:
        x0, x1 = xa + bar_w + 4, xb - 4
        pts = [(x0, y_c - ha / 2), (x1, y_c - hb / 2), (x1, y_c + hb / 2), (x0, y_c + ha / 2)]
        d.ax.add_patch(Polygon([(_r(px), _r(py)) for px, py in pts], closed=True, facecolor=mlp_c.fill,
                               edgecolor=mlp_c.edge, lw=1.0, alpha=0.55))
        cx = (x0 + x1) / 2
        d.text(_r(cx), _r(y_c - 8), name, mono=True, weight="bold")
        d.text(_r(cx), _r(y_c + 9), "Linear", size=SIZE - 1)
        d.note(_r(cx), _r(bottom + 16), formula)
        d.note(_r(cx), _r(bottom + 31), f"= {count:,}")
    # GELU: a box with the function drawn in it
    gx = bars[1][0] + bar_w + arrow_w
    gh = 58.0
    d.arrow((_r(gx - arrow_w), _r(y_c)), (_r(gx), _r(y_c)), lw=1.2)
    d.arrow((_r(gx + gelu_w), _r(y_c)), (_r(gx + gelu_w + arrow_w), _r(y_c)), lw=1.2)
    d.box(_r(gx), _r(y_c - gh / 2), gelu_w, gh, concept="mlp", round_=6)
    d.text(_r(gx + gelu_w / 2), _r(y_c - gh / 2 + 11), "GELU", size=SIZE - 1)
    xs = [-3 + 6 * i / 40 for i in range(41)]
    ys = [0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))) for v in xs]
    px0, pw, py0, ph = gx + 8, gelu_w - 16, y_c + gh / 2 - 6, 30.0
    d.line([_r(px0), _r(px0 + pw)], [_r(py0 - ph * 0.3 / 3.3), _r(py0 - ph * 0.3 / 3.3)], concept="neutral",
           lw=0.6)
    d.line([_r(px0 + (v + 3) / 6 * pw) for v in xs], [_r(py0 - (g + 0.3) / 3.3 * ph) for g in ys],
           concept="mlp", lw=1.6)
    d.note(_r(gx + gelu_w / 2), _r(bottom + 16), "no parameters")
    d.note(_r(bars[0][0]), _r(y_c + h_small / 2 + 12), "in", ha="left")
    d.note(_r(bars[3][0] + bar_w), _r(y_c + h_small / 2 + 12), "out", ha="right")
    total = f"MLP: {n['mlp']:,} parameters = 8C²" + (" + 5C" if c.bias else "") + f", C = {C}"
    d.text(_r(width / 2), _r(bottom + 56), total, size=SIZE)
    return d


def _named_configs(configs, fn: str) -> list[tuple[str, GPTConfig]]:
    """(name, config) pairs from a mapping or a sequence of configs; a preset's name where one matches."""
    if isinstance(configs, GPTConfig):
        configs = [configs]
    if isinstance(configs, Mapping):
        pairs = list(configs.items())
    elif isinstance(configs, Sequence) and not isinstance(configs, str):
        pairs = []
        for cfg in configs:
            name = next((k for k, v in PRESETS.items() if v == cfg), None) if isinstance(cfg, GPTConfig) else None
            pairs.append((name or f"model {len(pairs) + 1}", cfg))
    else:
        raise TypeError(f"{fn} takes a dict of name -> GPTConfig or a list of GPTConfigs, got "
                         f"{type(configs).__name__}")
    if not pairs:
        raise ValueError(f"{fn} needs at least one config; pass e.g. [GPTConfig.from_name('gpt2')]")
    for name, cfg in pairs:
        if not isinstance(cfg, GPTConfig):
            raise TypeError(f"{fn}: {name!r} is a {type(cfg).__name__}, not a GPTConfig; build it with "
                             "GPTConfig(...) or GPTConfig.from_name(...)")
    return [(str(k), v) for k, v in pairs]


def model_sizes(configs, max_models: int = 4) -> Drawing:
    """Models drawn to scale side by side, one column each: a column is a stack of ``n_layer`` slabs (one per
    block) whose width is proportional to ``n_embd``; each slab is split into its attention and its MLP in
    proportion to their parameters. Under each column: its name, depth, width and parameter count (computed
    from the config). ``configs``: a dict of name -> GPTConfig, or a list of configs."""
    pairs = _named_configs(configs, "model_sizes")
    max_models = count("max_models", max_models, 1)
    left_out = max(0, len(pairs) - max_models)
    pairs = pairs[:max_models]
    probe = Drawing(10, 10)
    m, gap, max_col_w, max_h = 14.0, 22.0, 110.0, 260.0
    max_c = max(cfg.n_embd for _, cfg in pairs)
    max_l = max(cfg.n_layer for _, cfg in pairs)
    labels = [(name, f"L = {cfg.n_layer}, C = {cfg.n_embd}", f"{_short(_total(cfg))} parameters")
              for name, cfg in pairs]
    label_w = [max(probe.measure(a, SIZE, weight="bold")[0], probe.measure(b)[0], probe.measure(t)[0])
               for a, b, t in labels]
    # one horizontal scale for every column, as wide as the page allows
    avail = 500 - 2 * m - gap * (len(pairs) - 1)
    sx = max_col_w / max_c
    while sum(max(cfg.n_embd * sx, w) for (_, cfg), w in zip(pairs, label_w)) > avail and sx > 1e-4:
        sx *= 0.95
    slab = min(7.0, max_h / max_l)
    sep = _r(slab * 0.25) if slab >= 3 else 0.0
    slots = [max(cfg.n_embd * sx, w) for (_, cfg), w in zip(pairs, label_w)]
    if len(pairs) > 1:  # wide labels: narrower gaps, so that the page stays 500 pt wide
        gap = max(8.0, min(gap, (500 - 2 * m - sum(slots)) / (len(pairs) - 1)))
    legend_h = 26.0
    col_top = m + legend_h + 18
    base = col_top + max_l * slab
    width = 2 * m + sum(slots) + gap * (len(pairs) - 1)
    legend_w = 20 + probe.measure("attention")[0] + 18 + 20 + probe.measure("MLP")[0] + 18 + probe.measure(
        "one slab per block, widths to scale", SIZE - 1)[0]
    width = max(width, legend_w + 2 * m)
    height = base + 54 + (18 if left_out else 0) + m
    d = Drawing(_r(width), _r(height), alt=(
        "Models drawn to scale, one column of blocks each, as tall as its number of blocks and as wide as its "
        "width: " + "; ".join(f"{name}, {cfg.n_layer} blocks of width {cfg.n_embd}, {_total(cfg):,} parameters"
                              for name, cfg in pairs) + "."
    ))
    # the legend: what a slab is made of
    lx = m
    for concept, text in (("attention", "attention"), ("mlp", "MLP")):
        d.box(_r(lx), m + 4, 14, 12, concept=concept, round_=2)
        d.text(_r(lx + 20), m + 10, text, ha="left")
        lx += 20 + probe.measure(text)[0] + 18
    d.note(_r(lx), m + 10, "one slab per block, widths to scale", ha="left")
    x = m + (width - 2 * m - sum(slots) - gap * (len(pairs) - 1)) / 2
    for (name, cfg), slot, (a, b, t) in zip(pairs, slots, labels):
        n = _counts(cfg)
        col_w = cfg.n_embd * sx
        cx = x + slot / 2
        x0 = cx - col_w / 2
        aw = col_w * n["attn"] / (n["attn"] + n["mlp"])
        for k in range(cfg.n_layer):
            y = base - (k + 1) * slab
            h = slab - sep
            d.box(_r(x0), _r(y + sep), _r(aw), _r(h), concept="attention", lw=0.5, round_=0.8)
            d.box(_r(x0 + aw), _r(y + sep), _r(col_w - aw), _r(h), concept="mlp", lw=0.5, round_=0.8)
        top = base - cfg.n_layer * slab
        d.note(_r(cx), _r(top - 9), f"{cfg.n_layer} blocks")
        d.text(_r(cx), _r(base + 12), a, weight="bold")
        d.note(_r(cx), _r(base + 27), b)
        d.note(_r(cx), _r(base + 41), t)
        x += slot + gap
    if left_out:
        d.note(_r(width / 2), _r(base + 60), f"… {left_out} more not drawn")
    return d


_GROUPS = (  # (name in the legend, concept, the label drawn inside its area)
    ("wte, token embedding = output layer", "embedding", "wte"),
    ("wpe, position embedding", "position", "wpe"),
    ("attention", "attention", "attention"),
    ("MLP", "mlp", "MLP"),
    ("LayerNorms", "norm", "LN"),
)


def parameter_groups(config: GPTConfig) -> dict[str, int]:
    """The parameters of ``GPT(config)`` in five groups (the tied wte counted once), from the config alone:
    what `parameter_areas` draws. The keys are the legend's names."""
    c = _check_config(config, "parameter_groups")
    n = _counts(c)
    values = [n["wte"], n["wpe"], c.n_layer * n["attn"], c.n_layer * n["mlp"], c.n_layer * 2 * n["ln"] + n["ln_f"]]
    return {g[0]: v for g, v in zip(_GROUPS, values)}


def parameter_areas(config: GPTConfig) -> Drawing:
    """Where the parameters of ``GPT(config)`` live, as areas proportional to their counts: the token
    embedding (also the output layer), the position embedding, and each block's attention and MLP (one row
    per block), with the LayerNorms as a sliver; a legend gives every count and share."""
    c = _check_config(config, "parameter_areas")
    groups = parameter_groups(c)
    total = sum(groups.values())
    vals = list(groups.values())
    m, W, H, top = 12.0, 440.0, 190.0, 30.0  # top: room for the names of the slivers above them
    legend_row = 17.0
    height = top + H + 16 + legend_row * len(vals) + m
    width = W + 2 * m
    shares = [v / total for v in vals]
    d = Drawing(_r(width), _r(height), alt=(
        f"The {total:,} parameters of a model with {c.n_layer} blocks of width {c.n_embd} and a vocabulary of "
        f"{c.vocab_size:,}, as areas: " + ", ".join(f"{g[2]} {v:,} ({100 * s:.1f}%)"
                                                    for g, v, s in zip(_GROUPS, vals, shares)) + "."
    ))
    # column 1: the embeddings (wte below, wpe on top), column 2: the blocks, column 3: the LayerNorms
    w_emb = W * (vals[0] + vals[1]) / total
    w_blocks = W * (vals[2] + vals[3]) / total
    w_ln = W * vals[4] / total
    x = m
    h_wpe = H * vals[1] / (vals[0] + vals[1])
    d.box(_r(x), _r(top + h_wpe), _r(w_emb), _r(H - h_wpe), concept="embedding", lw=0.8, round_=2)
    d.box(_r(x), top, _r(w_emb), _r(max(h_wpe, 0.3)), concept="position", lw=0.6, round_=0.5)

    def chip(cx: float, cy: float, label: str, concept: str, room: float) -> None:
        tw, th = d.measure(label)
        if tw + 16 < room:  # a label on a chip of its own colour, hiding the rows' edges behind it
            d.box(_r(cx - tw / 2 - 6), _r(cy - th / 2 - 3), _r(tw + 12), _r(th + 6), label, concept=concept,
                  lw=0.8)

    def sliver(x_at: float, label: str, ha: str) -> None:  # the name of an area too thin to hold it, above it
        d.line([_r(x_at), _r(x_at)], [top - 8, top - 1], lw=0.8)
        d.note(_r(x_at), top - 16, label, ha=ha)

    chip(x + w_emb / 2, top + h_wpe + (H - h_wpe) / 2, "wte", "embedding", w_emb)
    if h_wpe >= 16 and d.measure("wpe")[0] + 12 < w_emb:
        d.text(_r(x + w_emb / 2), _r(top + h_wpe / 2), "wpe")
    else:
        sliver(x + min(12.0, w_emb / 2), "wpe", "left")
    x += w_emb
    L = c.n_layer
    aw = w_blocks * vals[2] / (vals[2] + vals[3])
    rows = L if H / L >= 2.5 else 1
    rh = H / rows
    for k in range(rows):
        y = top + k * rh
        d.box(_r(x), _r(y), _r(aw), _r(rh), concept="attention", lw=0.6, round_=min(2.0, rh / 4))
        d.box(_r(x + aw), _r(y), _r(w_blocks - aw), _r(rh), concept="mlp", lw=0.6, round_=min(2.0, rh / 4))
    chip(x + aw / 2, top + H / 2, "attention", "attention", aw)
    chip(x + aw + (w_blocks - aw) / 2, top + H / 2, "MLP", "mlp", w_blocks - aw)
    x += w_blocks
    d.box(_r(x), top, _r(max(w_ln, 0.3)), H, concept="norm", lw=0.4, round_=0)
    sliver(x + max(w_ln, 0.3) / 2, "LayerNorms", "right")
    if rows > 1:
        d.note(_r(m + w_emb + w_blocks / 2), _r(top + H + 9), f"one row per block: {L} rows", size=SIZE - 1)
    # the legend: swatch, name, count, share
    y = top + H + 16 + legend_row / 2 + 2
    name_x = m + 22
    count_x = m + W - 60
    for (name, concept, _), v, s in zip(_GROUPS, vals, shares):
        d.box(m, _r(y - 6), 14, 12, concept=concept, round_=2)
        d.text(_r(name_x), _r(y), name, ha="left")
        d.text(_r(count_x), _r(y), f"{v:,}", ha="right")
        d.note(_r(m + W), _r(y), f"{100 * s:.2f}%", ha="right")
        y += legend_row
    return d


def tied_output(config: GPTConfig) -> Drawing:
    """The path of ``GPT(config)`` from token ids to logits, bottom to top, with the one matrix ``wte`` it
    uses twice: as a lookup table at the input (the row of each id) and, transposed, as the output layer
    (a dot product with every row). The final LayerNorm is drawn where the config has one (pre-LN)."""
    c = _check_config(config, "tied_output")
    n = _counts(c)
    steps = [("token ids", "token", "(B, T)"),
             ("wte[ids] + wpe[pos]", "embedding", f"(B, T, {c.n_embd})"),
             (f"{c.n_layer} decoder block{'s' if c.n_layer > 1 else ''}", "residual", f"(B, T, {c.n_embd})")]
    if c.pre_ln:
        steps.append(("ln_f", "norm", f"(B, T, {c.n_embd})"))
    steps += [("logits = h @ wteᵀ", "logits", f"(B, T, {c.vocab_size})")]
    probe = Drawing(10, 10)
    m, gap, bh = 14.0, 20.0, 24.0
    box_w = max(probe.measure(s)[0] for s, _, _ in steps) + 24
    shape_w = max(probe.measure(sh, SIZE - 1)[0] for _, _, sh in steps)
    x_box = m + shape_w + 10
    mat_w, mat_x = 100.0, x_box + box_w + 120
    width = mat_x + mat_w + m
    height = 2 * m + len(steps) * bh + (len(steps) - 1) * gap + 8
    d = Drawing(_r(width), _r(height), alt=(
        f"From token ids at the bottom to logits at the top: wte[ids] + wpe[pos], {c.n_layer} decoder blocks"
        + (", ln_f" if c.pre_ln else "") + f", then h @ wte transposed. One matrix wte of shape "
        f"({c.vocab_size}, {c.n_embd}) is drawn once, with an arrow to the lookup at the input and one to the "
        f"output layer: its {n['wte']:,} parameters are stored and counted once."
    ))
    boxes = []
    y = height - m - bh
    for label, concept, shape in steps:
        mono = label == "ln_f"
        b = d.box(_r(x_box), _r(y), _r(box_w), bh, label, concept=concept, mono=mono)
        d.note(_r(x_box - 10), _r(y + bh / 2), shape, ha="right")
        if boxes:
            d.arrow(boxes[-1].top, b.bottom, concept="residual" if concept != "embedding" else None, lw=1.6)
        boxes.append(b)
        y -= bh + gap
    lookup, out = boxes[1], boxes[-1]
    mat_top, mat_bottom = out.y, lookup.y + lookup.h
    mat = d.box(_r(mat_x), _r(mat_top), mat_w, _r(mat_bottom - mat_top), concept="embedding", round_=3)
    d.text(_r(mat.cx), _r(mat.cy - 2), "wte", mono=True, weight="bold")
    d.note(_r(mat.cx), _r(mat.y + mat.h / 2 + 16), f"({c.vocab_size}, {c.n_embd})")
    d.note(_r(mat.cx), _r(mat.y + mat.h / 2 + 30), f"{_short(n['wte'])} params")
    x_in = lookup.x + lookup.w
    d.arrow((_r(mat.x), _r(lookup.cy)), (_r(x_in + 2), _r(lookup.cy)), concept="embedding", lw=1.6, dashed=True)
    d.note(_r((x_in + mat.x) / 2), _r(lookup.cy - 9), "row of each id")
    d.arrow((_r(mat.x), _r(out.cy)), (_r(out.x + out.w + 2), _r(out.cy)), concept="embedding", lw=1.6,
            dashed=True)
    d.note(_r((x_in + mat.x) / 2), _r(out.cy - 9), "every row: a dot")
    d.note(_r((x_in + mat.x) / 2), _r(out.cy + 10), "product with h")
    return d
