"""Training drawn: the training step as a cycle, input and target windows shifted by one, a batch of random
windows from the training text (chapter 7).

Every label comes from the objects passed in: `training_step` reads a real `TrainConfig` (and the model, when
given) and draws its own learning-rate schedule with `lr_at`; `shifted_windows` decodes the real token ids;
`batch_windows` draws its windows with the same generator calls as `get_batch`, and checks that it did.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._args import count
from .canvas import Box, Drawing, piece_label, rounded as _r
from .style import INK, MUTED, SIZE

__all__ = ["training_step", "shifted_windows", "batch_windows"]

NOTE = SIZE - 1  # 10 pt: secondary text; a drawing 500 pt wide keeps it legible on a phone
WIDTH = 500.0  # the widest these drawings get: NOTE * 50
MARGIN = 10.0


# ------------------------------------------------------------------------------------------------- helpers
def _columns_that_fit(widths: list[float], room: float, more_w: float, gap: float) -> tuple[int, float]:
    """How many columns of `widths` (each followed by `gap`) fit in `room`, leaving space for a note of `more_w`
    after them unless all fit; and the width the shown ones take."""
    shown, used = 0, 0.0
    for c, w in enumerate(widths):
        rest = 0 if c == len(widths) - 1 else more_w
        if used + w + rest > room:
            break
        used += w + gap
        shown += 1
    return shown, used


def _count(n: int) -> str:
    """An integer with thousands separators: 1,003,854."""
    return f"{int(n):,}"


def _rate(x: float) -> str:
    """A learning rate as a book writes it: 3e-3, 1.5e-4, 0.1, 0."""
    if x == 0:
        return "0"
    if 1e-2 <= abs(x) < 1e3:
        return f"{x:.3g}"
    mantissa, exponent = f"{x:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _num(x: float) -> str:
    """A setting as it was typed: 1.0, 0.1, 0.95 (floats keep their decimal point)."""
    return str(float(x)) if isinstance(x, float) else str(x)




@dataclass
class _Card:
    """A station of a diagram: a title and a few lines of real values, in one concept's colours."""

    title: str
    lines: list[tuple[str, bool]]  # (text, monospace)
    concept: str = "neutral"
    extra_h: float = 0.0  # room for a small picture under the title (the lr schedule)
    min_w: float = 0.0

    def size(self, d: Drawing) -> tuple[float, float]:
        widths = [d.measure(self.title, SIZE, weight="bold")[0]]
        widths += [d.measure(s, NOTE, mono=m)[0] for s, m in self.lines]
        w = max(max(widths) + 14, self.min_w)
        h = 8 + SIZE * 1.2 + self.extra_h + len(self.lines) * NOTE * 1.25 + 8
        return _r(w), _r(h)


def _draw_card(d: Drawing, card: _Card, x: float, y: float, w: float, h: float) -> Box:
    """Draw ``card`` with its top-left corner at (x, y); returns its box (the picture slot is left empty)."""
    box = d.box(_r(x), _r(y), w, h, concept=card.concept, round_=6)
    content_h = SIZE * 1.2 + card.extra_h + len(card.lines) * NOTE * 1.25
    top = y + (h - content_h) / 2
    d.text(_r(box.cx), _r(top + SIZE * 0.6), card.title, size=SIZE, weight="bold")
    ly = top + SIZE * 1.2 + card.extra_h
    for s, mono in card.lines:
        d.text(_r(box.cx), _r(ly + NOTE * 0.625), s, size=NOTE, mono=mono, colour_=INK)
        ly += NOTE * 1.25
    return box


def _ids_of(source, tokenizer, what: str) -> list[int]:
    """A text or a sequence of token ids, as a list of ids (a clear error for anything else)."""
    if isinstance(source, str):
        if not source:
            raise ValueError(f"{what}: the text is empty; pass a text or its token ids, e.g. tok.encode(text)")
        return list(tokenizer.encode(source))
    if isinstance(source, torch.Tensor):
        if source.dim() != 1 or source.is_floating_point() or source.dtype == torch.bool:
            error = ValueError if source.dim() != 1 else TypeError
            raise error(
                f"{what}: token ids must be a 1-D tensor of integers, got shape {tuple(source.shape)} "
                f"and dtype {source.dtype}; pass one sequence, e.g. train_ids or x[0]"
            )
        return source.tolist()
    if isinstance(source, Sequence) and all(isinstance(i, numbers.Integral) and not isinstance(i, bool)
                                            for i in source):
        return [int(i) for i in source]
    raise TypeError(f"{what}: pass a text (str) or its token ids (a list of ints or a 1-D tensor), "
                     f"got {type(source).__name__}")


def _check_tokenizer(tokenizer, what: str) -> None:
    if not (hasattr(tokenizer, "encode") and hasattr(tokenizer, "decode")):
        raise TypeError(f"{what}: tokenizer must have encode and decode (a CharTokenizer or BPETokenizer), "
                         f"got {type(tokenizer).__name__}")


def _check_count(name: str, value, smallest: int = 1) -> int:
    return count(name, value, smallest)


def _pieces(tokenizer, ids: list[int]) -> list[str]:
    """How each id is shown: its text, with a visible space and newline."""
    return [piece_label(tokenizer.decode([i])) or "\u2205" for i in ids]


# ----------------------------------------------------------------------------------------- the training step
def training_step(cfg, model=None) -> Drawing:
    """One optimizer step of `train()` as a cycle, with the real settings of ``cfg`` (a `TrainConfig`).

    batch -> forward -> loss -> backward -> clip -> AdamW -> learning-rate schedule -> the next batch. The
    boxes show cfg's batch size, block size, clip norm, betas, weight decay and warmup; the schedule box draws
    `lr_at` over cfg's steps. ``model`` (a GPT), when given, adds the shape of its logits and its parameter
    count, and supplies the block size when cfg leaves it to the model.
    """
    from ..training import TrainConfig, lr_at

    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"training_step draws a TrainConfig, got {type(cfg).__name__}; "
                         "pass e.g. TrainConfig(batch_size=16, block_size=64)")
    mcfg = getattr(model, "config", None)
    if model is not None and (mcfg is None or not hasattr(model, "parameters")):
        raise TypeError(f"model must be a GPT (with .config), got {type(model).__name__}; or leave it out")
    T = cfg.block_size or (mcfg.block_size if mcfg is not None else None)
    if T is None:
        raise ValueError("cfg.block_size is None (use the model's context), but no model was given; "
                         "pass the model too, or set TrainConfig(block_size=...)")
    B, k = cfg.batch_size, cfg.grad_accum_steps
    n_params = sum(p.numel() for p in model.parameters()) if model is not None else None
    V = _count(mcfg.vocab_size) if mcfg is not None else "V"

    d = Drawing(WIDTH, 100)  # resized below, once the layout is known
    lr_peak, lr_min = _rate(cfg.learning_rate), _rate(cfg.min_lr)
    warm = cfg.warmup_steps
    cards = {
        "batch": _Card("batch", [(f"{B} windows", False), (f"of {T} tokens", False)], "token"),
        "forward": _Card("forward", [("logits", False), (f"({B}, {T}, {V})", False)], "neutral"),
        "loss": _Card("loss", [("cross-entropy", False), (f"{_count(B * T * k)} targets", False)], "logits"),
        "backward": _Card("backward", [("loss.backward()", True),
                                       (f"{_count(n_params)} grads" if n_params else "a grad per weight", False)]),
        "clip": _Card("clip", [("grad norm", False), (f"\u2264 {_num(cfg.grad_clip)}", False)] if cfg.grad_clip > 0
                      else [("off", False), ("(grad_clip 0)", False)]),
        "adamw": _Card("AdamW", [(f"betas ({_num(cfg.betas[0])}, {_num(cfg.betas[1])})", False),
                                 (f"weight decay {_num(cfg.weight_decay)}", False)]),
        "lr": _Card("lr schedule", [(f"{warm} warmup steps to {lr_peak}" if warm else f"no warmup: {lr_peak}",
                                     False), (f"then cosine to {lr_min}", False)], extra_h=30, min_w=120),
    }
    sizes = {name: c.size(d) for name, c in cards.items()}
    top, bottom = ["batch", "forward", "loss", "backward"], ["lr", "adamw", "clip"]
    inner = WIDTH - 2 * MARGIN
    top_gap = (inner - sum(sizes[n][0] for n in top)) / 3
    bottom_gap = (inner - sum(sizes[n][0] for n in bottom)) / 2
    if min(top_gap, bottom_gap) < 16:
        raise ValueError("these settings make labels too long to draw in one figure "
                         f"(batch {B}, block {T}, vocabulary {V}); draw a smaller configuration")
    top_h = max(sizes[n][1] for n in top)
    bottom_h = max(sizes[n][1] for n in bottom)

    # The middle of the loop: what one step is, and how many of them the run takes.
    centre = [("one optimizer step", SIZE, "bold"),
              (f"\u00d7 {_count(cfg.max_steps)} steps", NOTE, "normal"),
              (f"{_count(B * T * k)} tokens each", NOTE, "normal")]
    accum_h = 30 if k > 1 else 0
    middle_h = accum_h + 16 + sum(s * 1.25 for _, s, _ in centre) + 16
    y_top, y_bottom = MARGIN, MARGIN + top_h + middle_h
    height = y_bottom + bottom_h + MARGIN
    d = Drawing(WIDTH, _r(height))

    boxes: dict[str, Box] = {}
    x = MARGIN
    for n in top:
        w, _ = sizes[n]
        boxes[n] = _draw_card(d, cards[n], x, y_top, w, top_h)
        x += w + top_gap
    x = MARGIN
    for n in bottom:
        w, _ = sizes[n]
        boxes[n] = _draw_card(d, cards[n], x, y_bottom, w, bottom_h)
        x += w + bottom_gap

    # The schedule itself, from lr_at: a small curve in the lr box.
    lb = boxes["lr"]
    sx0, sx1 = lb.x + 14, lb.x + lb.w - 14
    content_h = SIZE * 1.2 + cards["lr"].extra_h + len(cards["lr"].lines) * NOTE * 1.25
    sy1 = lb.y + (lb.h - content_h) / 2 + SIZE * 1.2 + cards["lr"].extra_h - 5  # the curve's baseline
    sy0 = sy1 - cards["lr"].extra_h + 10
    n_pts = 80
    steps = [round(i * (cfg.max_steps - 1) / (n_pts - 1)) for i in range(n_pts)]
    if warm:
        steps = sorted(set(steps) | {0, min(warm, cfg.max_steps - 1)})  # the corner at the end of warmup
    xs = [_r(sx0 + (sx1 - sx0) * s / max(cfg.max_steps - 1, 1)) for s in steps]
    ys = [_r(sy1 - (sy1 - sy0) * lr_at(s, cfg) / cfg.learning_rate) for s in steps]
    d.line([sx0, sx1], [_r(sy1), _r(sy1)], concept="neutral", lw=0.8)
    d.line(xs, ys, lw=1.6)

    # The cycle's arrows: left to right along the top, down, right to left along the bottom, and up.
    for a, b in zip(top, top[1:]):
        d.arrow(boxes[a].right, (boxes[b].x - 1, boxes[a].cy))
    for a, b in (("clip", "adamw"), ("adamw", "lr")):
        d.arrow(boxes[a].left, (boxes[b].x + boxes[b].w + 1, boxes[a].cy))
    xr = _r(WIDTH - MARGIN - min(boxes["backward"].w, boxes["clip"].w) / 2)
    d.arrow((xr, boxes["backward"].y + top_h), (xr, y_bottom - 1))
    xl = _r(MARGIN + min(boxes["batch"].w, boxes["lr"].w) / 2)
    d.arrow((xl, y_bottom), (xl, y_top + top_h + 1))
    mid = _r(y_top + top_h + middle_h / 2)
    d.note(xr - 6, mid, "gradients", ha="right")
    d.note(xl + 6, mid, "next step", ha="left")
    if k > 1:  # gradient accumulation: forward and backward run k times before the update
        f, bw = boxes["forward"], boxes["backward"]
        ya = y_top + top_h
        d.arrow((bw.cx, ya + 2), (f.cx, ya + 2), bend=-0.25, dashed=True)
        d.note(_r((f.cx + bw.cx) / 2), _r(ya + accum_h - 2), f"\u00d7 {k} micro-batches", va="bottom")

    cy = y_top + top_h + accum_h + 16
    for s, size, weight in centre:
        d.text(WIDTH / 2, _r(cy + size * 0.625), s, size=size, weight=weight,
               colour_=INK if weight == "bold" else MUTED)
        cy += size * 1.25

    clip = f"clips the gradient norm to {_num(cfg.grad_clip)}" if cfg.grad_clip > 0 else "does not clip"
    d.alt = (
        f"The training step as a cycle: a batch of {B} windows of {T} tokens, forward to logits, the "
        f"cross-entropy loss, backward to gradients; the step {clip}, takes an AdamW step with betas "
        f"({_num(cfg.betas[0])}, {_num(cfg.betas[1])}) and weight decay {_num(cfg.weight_decay)}, and sets the "
        "learning "
        f"rate by the schedule ({warm} warmup steps to {lr_peak}, cosine decay to {lr_min}); "
        f"then the next batch, {_count(cfg.max_steps)} times."
    )
    return d


# ------------------------------------------------------------------------------------ input and target windows
def shifted_windows(tokenizer, source, block_size: int, start: int = 0) -> Drawing:
    """The input x and the target y of one training window, drawn from real token ids.

    ``source`` is a text or its token ids (e.g. ``train_ids``); the window is ``ids[start : start + T + 1]``
    with ``T = block_size``. x = ids[start : start + T] on top, y = ids[start + 1 : start + T + 1] below, each
    target under the input position that predicts it; a faint diagonal shows each token moving one place
    left. A long window is cut after as many positions as fit, with a note of how many more there are.
    """
    what = "shifted_windows"
    _check_tokenizer(tokenizer, what)
    T = _check_count("block_size", block_size)
    start = _check_count("start", start, smallest=0)
    ids = _ids_of(source, tokenizer, what)
    if len(ids) < start + T + 1:
        raise ValueError(
            f"{what}: a window of block_size={T} from start={start} needs {start + T + 1} tokens (the inputs "
            f"plus one target), but there are {len(ids)}; pass a longer text or a smaller block_size or start"
        )
    window = ids[start:start + T + 1]
    pieces = _pieces(tokenizer, window)
    d = Drawing(WIDTH, 100)
    label_w = max(d.measure(s, SIZE, weight="bold")[0] for s in ("input x", "target y")) + 12
    pad, gap = 5.0, 4.0
    cell_h = SIZE * 1.2 + 6
    widths = [max(d.measure(pieces[t], SIZE, mono=True)[0], d.measure(pieces[t + 1], SIZE, mono=True)[0])
              + 2 * pad for t in range(T)]
    widths = [_r(max(w, 18.0)) for w in widths]
    more_w = d.measure(f"\u2026 {T} more", NOTE)[0] + 8
    room = WIDTH - 2 * MARGIN - label_w
    shown, used = _columns_that_fit(widths, room, more_w, gap)
    if shown == 0:
        raise ValueError(f"{what}: the first token {pieces[0]!r} is too long to draw; start elsewhere")
    hidden = T - shown
    content_w = label_w + used + (more_w if hidden else 0)
    width = _r(max(300.0, min(WIDTH, MARGIN * 2 + content_w)))

    y_idx = MARGIN + NOTE * 0.6
    y_x = MARGIN + NOTE * 1.2 + 4
    y_y = y_x + cell_h + 26
    y_notes = y_y + cell_h + 10
    height = y_notes + 2 * NOTE * 1.25 + MARGIN
    d = Drawing(width, _r(height))
    x0 = MARGIN + label_w
    xs_boxes, ys_boxes = [], []
    x = x0
    for t in range(shown):
        w = widths[t]
        d.note(_r(x + w / 2), _r(y_idx), str(t))
        xs_boxes.append(d.box(_r(x), _r(y_x), w, cell_h, pieces[t], concept="token", mono=True))
        ys_boxes.append(d.box(_r(x), _r(y_y), w, cell_h, pieces[t + 1], concept="logits", mono=True))
        x += w + gap
    d.text(MARGIN, _r(y_x + cell_h / 2), "input x", ha="left", weight="bold")
    d.text(MARGIN, _r(y_y + cell_h / 2), "target y", ha="left", weight="bold")
    d.note(MARGIN, _r(y_idx), "t", ha="left", style="italic")
    for xb, yb in zip(xs_boxes, ys_boxes):  # each input position predicts the target under it
        d.arrow((xb.cx, _r(xb.y + xb.h + 3)), (yb.cx, _r(yb.y - 3)), concept="logits", lw=1.3)
    d.note(MARGIN, _r((y_x + cell_h + y_y) / 2), "predicts", ha="left")
    if hidden:
        d.note(_r(x + 2), _r(y_x + cell_h / 2), f"\u2026 {hidden} more", ha="left")
        d.note(_r(x + 2), _r(y_y + cell_h / 2), f"\u2026 {hidden} more", ha="left")
    d.note(MARGIN, _r(y_notes + NOTE * 0.625), f"x = ids[{start} : {start + T}],  y = ids[{start + 1} : "
           f"{start + T + 1}]:  ({T},) each", ha="left")
    long = "y[t] is the token after x[t]: the model sees x[0 .. t] and predicts y[t]"
    fits = d.measure(long, NOTE)[0] <= width - 2 * MARGIN
    d.note(MARGIN, _r(y_notes + NOTE * 1.875), long if fits else "y[t] is the token after x[t]", ha="left")

    shown_x = "".join(tokenizer.decode([i]) for i in window[:T])
    d.alt = (
        f"Input and target windows of {T} tokens: x is {shown_x!r} and y is the same text shifted left by "
        f"one, {tokenizer.decode(window[1:])!r}; each target sits under the input position that predicts it"
        + (f" (the first {shown} positions are drawn)." if hidden else ".")
    )
    return d


# ------------------------------------------------------------------------------------------- a batch of windows
def batch_windows(tokenizer, data, batch_size: int, block_size: int, *, seed: int = 0, val_data=None,
                  max_rows: int = 8, max_cols: int = 24) -> Drawing:
    """A batch as `get_batch` draws it: ``batch_size`` random windows of ``block_size`` tokens from ``data``.

    ``data`` is the 1-D tensor of training ids; the windows come from a generator seeded with ``seed``, so
    ``get_batch(data, batch_size, block_size, torch.Generator().manual_seed(seed))`` returns exactly the x
    drawn (the function checks it). A bar stands for the whole text, a tick for each window's start; below,
    the (B, T) grid of x, its rows in the token colour, each row's next token (the end of y) in lime.
    ``val_data``, when given, adds the validation part at the end of the bar, where no window starts.
    """
    from ..data import get_batch

    what = "batch_windows"
    _check_tokenizer(tokenizer, what)
    B, T = _check_count("batch_size", batch_size), _check_count("block_size", block_size)
    seed = _check_count("seed", seed, smallest=0)
    max_rows, max_cols = _check_count("max_rows", max_rows), _check_count("max_cols", max_cols)
    if not isinstance(data, torch.Tensor) or data.dim() != 1 or data.is_floating_point():
        error = ValueError if isinstance(data, torch.Tensor) and not data.is_floating_point() else TypeError
        raise error(f"{what}: data must be a 1-D tensor of token ids, e.g. train_ids or "
                         "torch.tensor(tok.encode(text))")
    if len(data) < T + 1:
        raise ValueError(f"{what}: data has {len(data)} tokens, but a window of block_size={T} needs {T + 1}; "
                         "use more data or a smaller block_size")
    if val_data is not None and (not isinstance(val_data, torch.Tensor) or val_data.dim() != 1):
        error = ValueError if isinstance(val_data, torch.Tensor) else TypeError
        raise error(f"{what}: val_data must be a 1-D tensor of token ids (e.g. val_ids), or None")

    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(len(data) - T, (B,), generator=g).tolist()  # get_batch's own draw
    x, y = get_batch(data, B, T, torch.Generator().manual_seed(seed))
    offsets = torch.tensor(starts)[:, None] + torch.arange(T)
    if not torch.equal(data[offsets], x):
        raise RuntimeError("batch_windows no longer draws the windows get_batch draws; update it to match")

    rows = min(B, max_rows)
    cols = min(T, max_cols)
    pieces = [_pieces(tokenizer, x[b, :cols].tolist()) for b in range(rows)]
    nexts = [_pieces(tokenizer, [int(y[b, -1])])[0] for b in range(rows)]
    d = Drawing(WIDTH, 100)
    pad, gap = 3.0, 2.0
    col_w = [_r(max(max(d.measure(pieces[b][c], SIZE, mono=True)[0] for b in range(rows)) + 2 * pad, 15.0))
             for c in range(cols)]
    next_w = _r(max(max(d.measure(s, SIZE, mono=True)[0] for s in nexts) + 2 * pad, 15.0))
    label_w = d.measure(f"x[{rows - 1}]", SIZE, mono=True)[0] + 10
    more_w = d.measure(f"\u2026 {T} more", NOTE)[0] + 8
    room = WIDTH - 2 * MARGIN - label_w - next_w - 12
    shown, used = _columns_that_fit(col_w, room - gap, more_w, gap)
    if shown == 0:
        raise ValueError(f"{what}: the tokens are too long to draw; pass a smaller block_size or max_cols")
    hidden_cols = T - shown
    grid_w = label_w + used + (more_w if hidden_cols else 0) + 10 + next_w
    width = _r(max(360.0, min(WIDTH, 2 * MARGIN + grid_w)))

    cell_h = SIZE * 1.2 + 5
    n_train, n_val = len(data), (len(val_data) if val_data is not None else 0)
    bar_y = MARGIN + NOTE * 1.25 + 4 + 16  # room for the bar's labels and the tick numbers
    bar_h = 12.0
    grid_y = bar_y + bar_h + NOTE * 1.25 + 20
    height = grid_y + 2 + rows * (cell_h + 3) + (NOTE * 1.25 + 4 if B > rows else 0) + NOTE * 1.25 + 6 + MARGIN
    d = Drawing(width, _r(height))

    # The whole text as a bar: the training part, the validation part if given, and where each window starts.
    bar_x0, bar_x1 = MARGIN, width - MARGIN
    total = n_train + n_val
    split_x = _r(bar_x0 + (bar_x1 - bar_x0) * n_train / total)
    d.box(bar_x0, _r(bar_y), _r(split_x - bar_x0), bar_h, concept="token", round_=3)
    d.note(bar_x0, _r(MARGIN + NOTE * 0.625), f"training ids: {_count(n_train)} tokens", ha="left")
    if n_val:
        d.box(split_x, _r(bar_y), _r(bar_x1 - split_x), bar_h, concept="mask", round_=3)
        d.note(bar_x1, _r(MARGIN + NOTE * 0.625), f"validation: {_count(n_val)}", ha="right")
    placed: list[list[tuple[float, float]]] = [[], []]  # the tick labels' spans, on two levels
    for b in range(rows):
        sx = _r(bar_x0 + (bar_x1 - bar_x0) * starts[b] / total)
        d.line([sx, sx], [_r(bar_y - 3), _r(bar_y + bar_h + 3)], lw=1.6)
        lw_ = d.measure(str(b), NOTE)[0] + 4
        span = (sx - lw_ / 2, sx + lw_ / 2)
        level = 0 if all(span[1] < a or span[0] > z for a, z in placed[0]) else 1
        if level == 1 and not all(span[1] < a or span[0] > z for a, z in placed[1]):
            level = -1  # no room above: the tick goes unnumbered, its row says where it starts
        if level >= 0:
            placed[level].append(span)
            ty = bar_y - 9 - level * (NOTE * 1.2) if level == 0 else bar_y + bar_h + 9
            d.text(sx, _r(ty), str(b), size=NOTE, colour_=INK)

    # The grid: one row per window, x in the token colour, then the token after it (the end of y) in lime.
    gx0 = MARGIN + label_w
    d.note(gx0, _r(grid_y - NOTE * 0.625 - 2), f"x: ({B}, {T})", ha="left")
    next_x = gx0 + used + (more_w if hidden_cols else 0) + 10
    d.note(_r(next_x + next_w / 2), _r(grid_y - NOTE * 0.625 - 2), "next", ha="center")
    ry = grid_y + 2
    for b in range(rows):
        d.text(MARGIN, _r(ry + cell_h / 2), f"x[{b}]", ha="left", mono=True, size=SIZE)
        cx = gx0
        for c in range(shown):
            d.box(_r(cx), _r(ry), col_w[c], cell_h, pieces[b][c], concept="token", mono=True, round_=2, lw=0.8)
            cx += col_w[c] + gap
        if hidden_cols:
            d.note(_r(cx + 2), _r(ry + cell_h / 2), f"\u2026 {hidden_cols} more", ha="left")
        d.box(_r(next_x), _r(ry), next_w, cell_h, nexts[b], concept="logits", mono=True, round_=2, lw=0.8)
        ry += cell_h + 3
    if B > rows:
        d.note(MARGIN, _r(ry + NOTE * 0.625 + 2), f"\u2026 {B - rows} more windows", ha="left")
        ry += NOTE * 1.25 + 4
    d.note(MARGIN, _r(ry + NOTE * 0.625 + 6), f"y: the same windows one token later, ({B}, {T})", ha="left")

    where = ", ".join(_count(s) for s in starts[:rows]) + (f" and {B - rows} more" if B > rows else "")
    texts = "; ".join(repr(tokenizer.decode(x[b].tolist())) for b in range(min(rows, 4)))
    d.alt = (
        f"A batch of {B} random windows of {T} tokens from {_count(n_train)} training tokens"
        + (f" (no window comes from the {_count(n_val)} validation tokens after them)" if n_val else "")
        + f", starting at {where}: {texts}" + ("; ..." if rows > 4 else "")
        + ". Each row's next token, the end of y, is drawn after it."
    )
    return d
