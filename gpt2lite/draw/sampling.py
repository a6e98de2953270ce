"""Generation drawn: frames of a run, the KV cache filling, top-k and top-p cuts, the sliding window (chapter 8).

`record_frames` runs the package's own generation loop (`model.stream`) and writes down every step: the
sequence so far, how much of it the model reads, what the KV cache reused, what it computed anew, and the token
picked with its probability. `generation_frames` and `kv_cache` draw those frames; `top_k_top_p` draws the two
cuts on a real distribution, and `sliding_window` what is fed once a text is longer than the context.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..validate import integer
from ._args import count, fraction
from .canvas import Drawing, piece_label
from .style import SIZE

__all__ = ["GenerationFrame", "record_frames", "generation_frames", "kv_cache", "top_k_top_p", "sliding_window"]

WIDTH = 550.0  # the widest drawing; at 550 pt every label must be 11 pt to stay legible on a phone
CELL_H = 18.0  # height of a token cell
ROW_GAP = 10.0


@dataclass(frozen=True)
class GenerationFrame:
    """One step of a generation run, as `record_frames` wrote it down.

    ``ids`` is the whole sequence before the step and ``pieces`` its tokens' texts; the model reads the last
    ``fed`` of them (no more than ``context``). ``cached`` keys and values came from the KV cache and ``new`` tokens
    went through the model at this step. ``next_id`` (text ``next_piece``) is the token picked, which had
    probability ``prob`` under the model (temperature 1, no cut).
    """

    ids: tuple[int, ...]
    pieces: tuple[str, ...]
    fed: int
    cached: int
    new: int
    next_id: int
    next_piece: str
    prob: float
    context: int


def record_frames(model, ids: Sequence[int], n: int, tokenizer, **sampling) -> list[GenerationFrame]:
    """Run ``model.stream`` (the package's generation loop) on ``ids`` for ``n`` steps and record every step.

    ``tokenizer`` is anything with ``decode(list_of_ids) -> str``; ``sampling`` goes to ``model.stream``
    (``temperature=0`` for greedy, ``top_k``, ``top_p``, ``generator``, ``use_cache``). Batch of one.
    """
    import torch

    if isinstance(ids, torch.Tensor):
        if ids.dim() == 2 and ids.size(0) == 1:
            ids = ids[0]
        if ids.dim() != 1:
            raise ValueError(f"ids must be one sequence of token ids, got a tensor of shape {tuple(ids.shape)}")
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"ids must be the prompt's token ids, not a {type(ids).__name__}; "
                        "pass e.g. tokenizer.encode('A robot')")
    ids = [integer(f"ids[{j}]", i) for j, i in enumerate(ids)]
    if not ids:
        raise ValueError("ids is empty: pass the prompt's token ids, e.g. tokenizer.encode('A robot')")
    n = count("n", n, 1, expected="a positive number of steps")
    if not hasattr(tokenizer, "decode"):
        raise TypeError(f"tokenizer must have a decode(ids) method, got {type(tokenizer).__name__}")
    calls: list[dict] = []

    def before(module, args, kwargs):
        cache = kwargs.get("cache")
        calls.append({"new": int(args[0].size(1)), "cached": 0 if cache is None else int(cache.pos)})

    def after(module, args, kwargs, output):
        calls[-1]["probs"] = torch.softmax(output[0, -1].float(), dim=-1)

    hooks = [model.register_forward_pre_hook(before, with_kwargs=True),
             model.register_forward_hook(after, with_kwargs=True)]
    frames = []
    context = int(model.config.block_size)
    try:
        seq = list(ids)
        for step, token in enumerate(model.stream(torch.tensor([seq]), n, **sampling)):
            call, nxt = calls[step], int(token[0])
            frames.append(GenerationFrame(
                ids=tuple(seq), pieces=tuple(tokenizer.decode([i]) for i in seq), fed=min(len(seq), context),
                cached=call["cached"], new=call["new"], next_id=nxt, next_piece=tokenizer.decode([nxt]),
                prob=round(float(call["probs"][nxt]), 4), context=context,
            ))
            seq.append(nxt)
    finally:
        for h in hooks:
            h.remove()
    return frames


def _check_frames(frames) -> list[GenerationFrame]:
    frames = list(frames) if not isinstance(frames, GenerationFrame) else [frames]
    if not frames:
        raise ValueError("frames is empty: pass the list that draw.record_frames(model, ids, n, tokenizer) returns")
    for i, f in enumerate(frames):
        if not isinstance(f, GenerationFrame):
            raise TypeError(f"frame {i} is a {type(f).__name__}, not a GenerationFrame: use draw.record_frames")
        if not f.ids or len(f.pieces) != len(f.ids):
            raise ValueError(f"frame {i} has {len(f.ids)} ids but {len(f.pieces)} pieces; they must match")
        if not 1 <= f.fed <= min(len(f.ids), f.context):
            raise ValueError(f"frame {i} feeds {f.fed} tokens of {len(f.ids)} with a context of {f.context}")
        if not 0 <= f.prob <= 1:
            raise ValueError(f"frame {i} has probability {f.prob}, outside [0, 1]")
        if i and f.ids != frames[i - 1].ids + (frames[i - 1].next_id,):
            raise ValueError(
                f"frame {i} does not continue frame {i - 1} (its input is not the previous input plus the "
                "token picked there): pass the frames of one run, in order, as draw.record_frames returns them"
            )
    return frames


def _bracket(d: Drawing, x0: float, x1: float, y: float, label: str, *, below: bool = False, concept=None):
    """A square bracket from x0 to x1 at height y (ticks pointing at the cells), with a centred note beyond it."""
    tick = -4 if below else 4
    d.line([x0, x0, x1, x1], [y + tick, y, y, y + tick], concept=concept, lw=1.0)
    d.note((x0 + x1) / 2, y + (9 if below else -9), label, size=SIZE)


def _legend(d: Drawing, x: float, y: float, items, max_w: float) -> float:
    """Swatches with their labels, left to right, wrapped at ``max_w``; returns the height they take.

    ``items`` are (label, concept, dashed): a small box in the concept's colours (dashed or not), then the label;
    dashed None means a label alone, in the muted colour.
    """
    sw, x0, y0, line_h = 14.0, x, y, 20.0
    for label, concept, dashed in items:
        w = d.measure(label, SIZE)[0] + (0 if dashed is None else sw + 5)
        if x > x0 and x + w > x0 + max_w:
            x, y = x0, y + line_h
        if dashed is None:
            d.note(x, y + 7, label, ha="left", size=SIZE)
        elif dashed in ("dark", "light", "empty"):
            d.grid(x, y, [[1.0 if dashed == "dark" else 0.28]], cell=14, concept=concept,
                   hidden=[[dashed == "empty"]])
            d.text(x + sw + 5, y + 7, label, ha="left")
        else:
            d.box(x, y, sw, 14, concept=concept, dashed=dashed, round_=2.5)
            d.text(x + sw + 5, y + 7, label, ha="left")
        x += w + 16
    return y - y0 + line_h


def generation_frames(frames: Sequence[GenerationFrame], *, max_frames: int = 8) -> Drawing:
    """The steps of a real generation run, one row each: the sequence grows by the token picked at each step.

    From the frames `record_frames` returns. Prompt tokens are amber, tokens the model wrote are lime, the token
    picked at a step is the dashed box at the end of its row (its probability on the right), and tokens that have
    left the model's context are grey. Long sequences lose their first tokens to a "…"; at most ``max_frames``
    rows are drawn.
    """
    frames = _check_frames(frames)
    max_frames = count("max_frames", max_frames, 1, expected="a positive integer")
    shown, more = frames[:max_frames], max(0, len(frames) - max_frames)
    prompt_len = len(frames[0].ids)
    last = shown[-1]
    cols = [piece_label(p) for p in last.pieces + (last.next_piece,)]  # column j holds token j in every row
    probe = Drawing(10, 10)
    widths = [max(probe.measure(c, SIZE, mono=True)[0] + 3.4, 10.0) for c in cols]
    gap = 1.0
    step_w = probe.measure(f"{len(shown)}", SIZE)[0]
    p_w = probe.measure("0.00", SIZE)[0]
    left = 8 + step_w + 10
    budget = WIDTH - left - 14 - p_w - 8
    dots_w = probe.measure("…", SIZE, mono=True)[0] + 6
    first = 0  # the first column drawn; earlier ones become one "…" cell
    if sum(widths) + gap * len(widths) > budget:
        first = 1
        while sum(widths[first:]) + gap * (len(widths) - first) + dots_w + gap > budget:
            first += 1
    xs, x = {}, left + (dots_w + gap if first else 0)
    for j in range(first, len(cols)):
        xs[j] = x
        x += widths[j] + gap
    right = x - gap
    width = min(WIDTH, right + 14 + p_w + 8)
    crops = any(f.fed < len(f.ids) for f in shown)
    top = 40.0
    items = [("prompt", "token", False), ("written by the model", "logits", False),
             ("picked, with its probability p", "logits", True)]
    if crops:
        items.append((f"outside the {shown[0].context}-token context", "mask", False))
    if first:
        items.append((f"…: {first} earlier tokens", "mask", None))
    if more:
        items.append((f"{more} more steps not drawn", "mask", None))
    width = max(width, min(WIDTH, max(probe.measure(t, SIZE)[0] for t, _, _ in items) + 40))
    height = top + len(shown) * (CELL_H + ROW_GAP) - ROW_GAP + 14 + _legend(probe, 0, 0, items, width - 16)
    alt_ctx = f", reading at most the last {shown[0].context}" if crops else ""
    d = Drawing(width, height, alt=(
        f"{len(frames)} generation steps after a prompt of {prompt_len} tokens{alt_ctx}: at each step the model "
        f"picks the next token and it joins the input; it picks "
        + ", ".join(repr(f.next_piece) for f in shown) + (f" and {more} more" if more else "") + "."
    ))
    for r, f in enumerate(shown):
        y = top + r * (CELL_H + ROW_GAP)
        d.text(8 + step_w, y + CELL_H / 2, f"{r + 1}", ha="right", colour_="#6b7280")
        if first:
            d.box(left, y, dots_w, CELL_H, "…", concept="mask", mono=True, filled=False)
        start = len(f.ids) - f.fed
        for j in range(first, len(f.ids)):
            concept = "mask" if j < start else ("token" if j < prompt_len else "logits")
            d.box(xs[j], y, widths[j], CELL_H, cols[j], concept=concept, mono=True, round_=2.5)
        j = len(f.ids)
        d.box(xs[j], y, widths[j], CELL_H, piece_label(f.next_piece), concept="logits", mono=True, dashed=True,
              weight="bold", lw=1.4, round_=2.5)
        d.text(right + 14, y + CELL_H / 2, f"{f.prob:.2f}", ha="left", colour_="#3f6212")
    # annotations above the first row: what the model reads, what it no longer reads, and the probability
    f0 = shown[0]
    start0 = max(len(f0.ids) - f0.fed, first)
    last0 = len(f0.ids) - 1
    read = f"the model reads the last {f0.fed}" if f0.fed < len(f0.ids) else "the model reads all of it"
    if d.measure(read, SIZE)[0] > xs[last0] + widths[last0] - xs[start0] + 40:
        read = "read"
    _bracket(d, xs[start0], xs[last0] + widths[last0], top - 7, read)
    d.note(right + 14 + p_w / 2, top - 16, "p", size=SIZE)
    y = top + len(shown) * (CELL_H + ROW_GAP) - ROW_GAP + 14
    _legend(d, 8, y, items, width - 16)
    return d


def _pick_rows(n: int, max_rows: int) -> list[int | None]:
    """Which of n rows to draw: all of them, or the first few, None (a "⋮" row), and the last few."""
    if n <= max_rows:
        return list(range(n))
    head = (max_rows - 1) // 2
    tail = max_rows - 1 - head
    return list(range(head)) + [None] + list(range(n - tail, n))


def kv_cache(frames: Sequence[GenerationFrame], *, max_rows: int = 8) -> Drawing:
    """The KV cache of a real cached run, one row per step: keys (orange) and values (purple) per position.

    From the frames `record_frames` returns (``cached`` and ``new`` are what the run's cache held and what went
    through the model). Dark cells were computed at that step, light ones read from the cache, grey slots are
    still empty: the cache is allocated for the whole context at once. Past the context every step refills it.
    """
    frames = _check_frames(frames)
    max_rows = count("max_rows", max_rows, 3)
    context = frames[0].context
    for i, f in enumerate(frames):
        if f.cached + f.new > context or f.new < 1:
            raise ValueError(f"frame {i}: {f.cached} cached + {f.new} new tokens do not fit a context of {context}")
    rows = _pick_rows(len(frames), max_rows)
    probe = Drawing(10, 10)
    slots = min(context, 40)  # drawn slots; a longer context is drawn to scale, one cell per context / 40
    per = context / slots
    step_w = probe.measure(f"{len(frames)}", SIZE)[0]
    kv_w = probe.measure("K", SIZE)[0]
    left = 8 + step_w + 8 + kv_w + 5

    def note_of(f: GenerationFrame) -> str:
        if f.cached == 0 and f.new == context and len(f.ids) > context:
            return f"{f.new} new: refilled"
        return f"{f.new} new" + (f", {f.cached} cached" if f.cached else "")

    notes = [note_of(frames[r]) for r in rows if r is not None]
    note_w = max(probe.measure(s, SIZE)[0] for s in notes)
    cell = round(min(11.0, (WIDTH - left - 10 - note_w - 8) / slots), 2)
    inner = round(max(3.0, 14.5 - cell), 2)  # K and V labels need 14 pt between them
    grid_w = slots * cell
    width = min(WIDTH, left + grid_w + 10 + note_w + 8)
    slid = any(len(frames[r].ids) > context for r in rows if r is not None)
    header_chars = not slid and per == 1
    top = 34.0
    row_h, gap = 2 * cell + inner, 9.0
    items = [("computed at this step", "key", "dark"), ("read from the cache", "key", "light"),
             ("empty slot", "mask", "empty")]
    body_h = sum(row_h + gap if r is not None else 18 for r in rows) - gap
    height = top + body_h + 16 + _legend(probe, 0, 0, items, width - 16)
    d = Drawing(width, height, alt=(
        f"The KV cache over {len(frames)} generation steps with a context of {context}: the first step computes "
        f"the keys and values of {frames[0].new} tokens, later steps "
        + ", ".join(f"{frames[r].new} new and {frames[r].cached} cached" for r in rows[1:] if r is not None)
        + "."
    ))

    def cells(f: GenerationFrame, concept: str, y: float) -> None:
        vals = [[0.28 if s * per < f.cached else 1.0 for s in range(slots)]]
        hide = [[s * per >= f.cached + f.new for s in range(slots)]]
        d.grid(left, y, vals, cell=cell, concept=concept, hidden=hide)

    # the header: the tokens at each position (while nothing has slid), else position numbers
    if header_chars:
        last = frames[rows[-1]]
        for s, piece in enumerate(last.pieces[: last.cached + last.new]):
            d.text(left + s * cell + cell / 2, top - 10, piece_label(piece), mono=True, size=SIZE)
    else:
        for pos in sorted({0, *range(0, context, max(8, 8 * math.ceil(per))), context - 1}):
            if pos and pos < context - 1 and (context - 1 - pos) * cell / per < 24:
                continue
            d.note(left + (pos / per) * cell + cell / 2, top - 10, f"{pos}", size=SIZE)
        if left > 60:
            d.note(left - 5, top - 10, "position", ha="right", size=SIZE)
    y = top
    for r in rows:
        if r is None:
            d.text(left + grid_w / 2, y + 7, "⋮", colour_="#6b7280")
            y += 18
            continue
        f = frames[r]
        d.text(8 + step_w, y + row_h / 2, f"{r + 1}", ha="right", colour_="#6b7280")
        d.text(left - 5, y + cell / 2, "K", ha="right", colour_="#c2410c")
        d.text(left - 5, y + cell + inner + cell / 2, "V", ha="right", colour_="#7e22ce")
        cells(f, "key", y)
        cells(f, "value", y + cell + inner)
        d.text(left + grid_w + 10, y + row_h / 2, note_of(f), ha="left")
        y += row_h + gap
    _legend(d, 8, y - gap + 16, items, width - 16)
    return d


def _short(v: float) -> str:
    """A probability in two decimals without the leading zero: .23 (1.00 stays 1.00)."""
    s = f"{v:.2f}"
    return s[1:] if s.startswith("0") else s


def top_k_top_p(probs, k: int, p: float, labels: Sequence[str], *, max_bars: int = 16) -> Drawing:
    """The top-k and top-p cuts on one distribution: its tokens sorted by probability, where each filter cuts,
    and what each one keeps, renormalised.

    ``probs`` is the model's next-token distribution (V,) (a tensor or a list that sums to 1) and ``labels`` the
    V token texts. The cuts are gpt2lite's (``gpt2lite.generate.filter_logits``): top-k keeps the k most likely
    tokens (and ties with the k-th), top-p keeps every token whose more likely tokens hold less than p.
    At most ``max_bars`` tokens are drawn.
    """
    import torch

    from ..generate import filter_logits

    try:
        t = torch.as_tensor(probs, dtype=torch.float64) if not isinstance(probs, torch.Tensor) else probs.double()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"probs must be one distribution (V,), a tensor or a list of numbers, got "
                        f"{type(probs).__name__}") from None
    if t.dim() == 2 and t.size(0) == 1:
        t = t[0]
    if t.dim() != 1 or t.numel() < 2:
        raise ValueError(f"probs must be one distribution of shape (V,) with V >= 2, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()) or abs(float(t.sum()) - 1) > 1e-3:
        raise ValueError(f"probs must be probabilities (>= 0, summing to 1), they sum to {float(t.sum()):.4f}: "
                         "pass softmax(logits), not the logits")
    V = t.numel()
    if isinstance(labels, str) or not isinstance(labels, Sequence) or not all(isinstance(s, str) for s in labels):
        raise TypeError(f"labels must be a list of strings, one per token (e.g. tok.chars), got {labels!r:.60}")
    labels = list(labels)
    if len(labels) != V:
        raise ValueError(f"{len(labels)} labels for {V} probabilities: pass one label per token")
    k = count("k", k, 1, V)
    p = fraction("p", p, lambda x: 0 < x <= 1, "a number in (0, 1]")
    max_bars = count("max_bars", max_bars, 2)
    logits = torch.log(t.float())[None]
    order = torch.argsort(t, descending=True, stable=True)
    sorted_p = t[order]
    after = {}
    for name, kw in (("k", {"top_k": k}), ("p", {"top_p": float(p)})):
        kept = filter_logits(logits, **kw)[0]
        after[name] = torch.softmax(kept.double(), dim=-1)[order]
    n_k = int((after["k"] > 0).sum())
    n_p = int((after["p"] > 0).sum())
    n = min(V, max_bars, max(n_k, n_p) + 3)
    probe = Drawing(10, 10)
    shown_labels = [piece_label(str(labels[int(i)])) for i in order[:n]]
    shown_labels = [s if len(s) <= 7 else s[:6] + "…" for s in shown_labels]
    col = max([probe.measure("1.00" if sorted_p[0] > 0.995 else ".00", SIZE)[0] + 8, 24.0]
              + [probe.measure(s, SIZE, mono=True)[0] + 8 for s in shown_labels])
    n = max(2, min(n, int((WIDTH - 16) // col)))
    shown_labels = shown_labels[:n]
    left = 8.0
    more_note = f"+ {V - n} more tokens, {_short(float(sorted_p[n:].sum()))} together" if n < V else ""
    titles = ["the model's probabilities, most likely first",
              f"top-k, k = {k}: {n_k} tokens kept, renormalised",
              f"top-p, p = {p:g}: {n_p} tokens kept, renormalised"]
    width = min(WIDTH, max(left + n * col + 8, max(probe.measure(s, SIZE, weight="bold")[0] for s in titles + [more_note]) + 24))
    bar_max = 64.0
    scale = bar_max / max(float(after["k"].max()), float(after["p"].max()))
    cuts = [(f"k = {k}", n_k), (f"p = {p:g}", n_p)]
    cuts = [(text, c) for text, c in cuts if c < n]
    two_rows = len(cuts) == 2 and abs(cuts[0][1] - cuts[1][1]) * col < probe.measure(cuts[0][0], SIZE)[0] + 12
    head1 = 20 + 14 * (len(cuts) > 0) + 14 * two_rows  # title, then the cuts' labels
    strip_h = 20 + 14 + bar_max + 18  # title, values, bars, labels
    cum_h = 16 + 14  # the cumulative row and its note
    gap = 14.0
    height = 8 + head1 + 14 + bar_max + 18 + cum_h + 2 * (gap + strip_h) + (26 if more_note else 0) + 6
    cum = sorted_p.cumsum(0)
    d = Drawing(width, height, alt=(
        f"The {n} most likely of {V} tokens, sorted, starting " + ", ".join(
            f"{labels[int(i)]!r} {float(v):.2f}" for i, v in zip(order[:3], sorted_p[:3]))
        + f"; top-k with k = {k} keeps {n_k} of them and top-p with p = {p:g} keeps {n_p}, each renormalised so "
        f"that the kept probabilities add up to 1."
    ))

    def strip(y: float, head: float, title: str, values) -> float:
        d.text(left, y + 7, title, ha="left", weight="bold")
        base = y + head + 14 + bar_max
        for j in range(n):
            v = float(values[j])
            x = left + j * col
            if v > 0:
                h = round(max(v * scale, 1.0), 2)
                d.box(x + 4, base - h, col - 8, h, concept="logits", round_=1.5)
                d.text(x + col / 2, base - h - 8, _short(v), colour_="#3f6212")
            else:
                d.line([x + 4, x + col - 4], [base, base], concept="mask", lw=1.0)
            d.text(x + col / 2, base + 10, shown_labels[j], mono=True)
        return base

    y = 8.0
    base1 = strip(y, head1, titles[0], sorted_p)
    yc = base1 + 28  # the cumulative sum under the first strip
    for j in range(n):
        d.note(left + j * col + col / 2, yc, _short(min(float(cum[j]), 1.0)), size=SIZE)
    d.note(left, yc + 15, "cumulative", ha="left", size=SIZE)
    for r, (text, n_cut) in enumerate(cuts):
        x = left + n_cut * col
        ly = y + 27 + (14 * r if two_rows else 0)
        is_p = text.startswith("p")
        d.line([x, x], [ly - 6, yc + 7 if is_p else base1 + 2], lw=1.2, dashed=True)
        tw = d.measure(text, SIZE)[0]
        right_side = x + 4 + tw <= width - 4
        d.text(x + 4 if right_side else x - 4, ly, text, ha="left" if right_side else "right")
    y = yc + cum_h + gap - 8
    strip(y, 20, titles[1], after["k"])
    y += strip_h + gap
    strip(y, 20, titles[2], after["p"])
    if more_note:
        d.note(left, height - 14, more_note, ha="left", size=SIZE)
    return d


def sliding_window(n_tokens: int, block_size: int, *, steps: int = 3) -> Drawing:
    """What generation feeds the model once the text is longer than its context: only the last block_size tokens.

    Draws the last ``steps`` steps of a text that has grown to ``n_tokens`` tokens, one row each: the tokens fed
    (at positions 0 to block_size - 1, whatever their place in the text) and the older ones that are no longer fed.
    """
    n_tokens = count("n_tokens", n_tokens, 1, expected="a positive integer")
    block_size = count("block_size", block_size, 1, expected="a positive integer")
    steps = count("steps", steps, 1, expected="a positive integer")
    lengths = [L for L in range(n_tokens - steps + 1, n_tokens + 1) if L >= 1]
    probe = Drawing(10, 10)
    notes = [f"{L} tokens: " + (f"{L - block_size} not fed" if L > block_size else "all fed") for L in lengths]
    note_w = max(probe.measure(t, SIZE)[0] for t in notes)
    left = 8.0
    avail = WIDTH - left - 12 - note_w - 8
    unit = round(min(11.0, avail / n_tokens), 3)
    cells = unit >= 5  # one box per token; a longer text is drawn to scale, in two bars
    row_h, gap = CELL_H, 12.0
    top = 30.0
    height = top + len(lengths) * (row_h + gap) - gap + 50
    fed_n = min(n_tokens, block_size)
    label_w = probe.measure(f"fed: the last {fed_n}, at positions 0 to {fed_n - 1}", SIZE)[0]
    width = min(WIDTH, max(left + n_tokens * unit + 12 + note_w + 8, label_w + 16))
    fed_last = min(n_tokens, block_size)
    d = Drawing(width, height, alt=(
        f"A text growing to {n_tokens} tokens with a context of {block_size}: the model is fed only the last "
        f"{fed_last} tokens, at positions 0 to {fed_last - 1}"
        + (f", and the {n_tokens - block_size} older ones are no longer fed." if n_tokens > block_size else
           "; the whole text still fits.")
    ))
    for r, L in enumerate(lengths):
        y = top + r * (row_h + gap)
        start = max(0, L - block_size)
        if cells:
            for i in range(L):
                concept = "mask" if i < start else ("logits" if i == L - 1 and L > 1 else "token")
                d.box(left + i * unit + 0.5, y, round(unit - 1, 3), row_h, concept=concept, round_=1.5, lw=1.0)
        else:
            if start:
                d.box(left, y, round(start * unit, 3), row_h, concept="mask", round_=2)
            d.box(left + start * unit, y, round((L - start) * unit, 3), row_h, concept="token", round_=2)
        d.text(left + n_tokens * unit + 12, y + row_h / 2, notes[r], ha="left")
    # the last row's window: a bracket below it with the positions the fed tokens get
    L = lengths[-1]
    start = max(0, L - block_size)
    y = top + len(lengths) * (row_h + gap) - gap + 6
    x0, x1 = left + start * unit, left + L * unit
    d.line([x0, x0, x1, x1], [y, y + 4, y + 4, y], lw=1.0)
    d.note(x0, y + 14, "0", size=SIZE)
    if x1 - x0 > 30:
        d.note(x1 - unit / 2, y + 14, f"{min(L, block_size) - 1}", size=SIZE)
    label = f"fed: the last {min(L, block_size)}, at positions 0 to {min(L, block_size) - 1}"
    tw = d.measure(label, SIZE)[0]
    lx = min(max((x0 + x1) / 2, left + tw / 2), width - 8 - tw / 2)
    d.text(lx, y + 32, label)
    if start * unit > 80:
        d.note(left, top - 12, "no longer fed", ha="left", size=SIZE)
    return d
