"""Checkpoints drawn: tensor names to gpt2lite modules, the safetensors file layout, the loading steps (chapter 9).

Everything here is computed from a real checkpoint: its tensor names (and shapes), the bytes of its
``model.safetensors``, its ``config.json``. The mapping rules (which weights are ``Conv1D`` and must be
transposed, which tensors are buffers) come from `gpt2lite.pretrained`, so the figures follow the loader.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._args import count
from .canvas import Box, Drawing, rounded as _r
from .style import INK, SIZE

__all__ = ["checkpoint_names", "safetensors_layout", "loading_pipeline"]

FS = SIZE  # every label: 11 pt, legible on a phone in a drawing up to 550 pt wide
ROW = 19.0  # the height of one row of names
MARGIN = 8.0
_BLOCK = re.compile(r"(?:^|\.)h\.(\d+)\.")


# ---------------------------------------------------------------------------- helpers


def _n(x: int) -> str:
    return f"{x:,}"


def _bytes(n: int) -> str:
    """A byte count as a reader reads it: 768 B, 49 kB, 13.3 MB."""
    if n < 1000:
        return f"{n} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        if n < scale * 1000 or unit == "GB":
            v = n / scale
            return f"{v:.0f} {unit}" if v >= 100 else f"{v:.1f} {unit}"
    raise AssertionError  # unreachable


def _whole(x: object) -> bool:
    """Whether ``x`` is an integer (numpy's too), not a bool: a dimension of a shape."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _our_name(key: str) -> str:
    """gpt2lite's name for a checkpoint key: the rule of `gpt2lite.pretrained.hf_to_ours`."""
    return key if key.startswith(("transformer.", "lm_head.")) else f"transformer.{key}"


def _concept(name: str) -> str:
    """The palette concept of a tensor, by the module it belongs to."""
    from gpt2lite.pretrained import NON_WEIGHTS

    if name.endswith(NON_WEIGHTS):
        return "mask"
    if ".wte." in f".{name}":
        return "embedding"
    if ".wpe." in f".{name}":
        return "position"
    if re.search(r"(^|\.)ln_(1|2|f)\.", name):
        return "norm"
    if ".attn." in f".{name}":
        return "attention"
    if ".mlp." in f".{name}":
        return "mlp"
    if name.startswith("lm_head."):
        return "logits"
    return "neutral"


def _names_and_shapes(names_or_state: Any) -> tuple[list[str], dict[str, tuple[int, ...]]]:
    if isinstance(names_or_state, (str, bytes)):
        raise TypeError(
            f"checkpoint_names takes the tensor names (a list of str) or a state dict, got the single "
            f"{type(names_or_state).__name__} {names_or_state!r:.60}; pass e.g. list(state_dict)"
        )
    if isinstance(names_or_state, Mapping):
        names = list(names_or_state)
        shapes = {}
        for k, v in names_or_state.items():
            if hasattr(v, "shape"):
                shapes[k] = tuple(int(s) for s in v.shape)
            elif isinstance(v, (tuple, list)) and all(_whole(s) for s in v):
                shapes[k] = tuple(int(s) for s in v)  # a name -> shape dict, as safe_open gives
    elif isinstance(names_or_state, Iterable):
        names, shapes = list(names_or_state), {}
    else:
        raise TypeError(
            f"checkpoint_names takes the tensor names (a list of str) or a state dict, got a "
            f"{type(names_or_state).__name__}"
        )
    if not names:
        raise ValueError("the checkpoint has no tensors to draw: pass its names, e.g. list(load_file(path))")
    bad = [k for k in names if not isinstance(k, str)]
    if bad:
        raise TypeError(f"tensor names must be str, got {bad[0]!r} ({type(bad[0]).__name__})")
    return names, shapes


def _skeleton(n_layer: int):
    """A GPT with ``n_layer`` blocks on the meta device: its parameter names and module types, no memory."""
    import torch

    from gpt2lite import GPT, GPTConfig

    with torch.device("meta"):
        return GPT(GPTConfig(vocab_size=8, block_size=4, n_layer=n_layer, n_head=1, n_embd=4))


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# ---------------------------------------------------------------------------- names -> modules
def checkpoint_names(names_or_state: Any) -> Drawing:
    """A GPT-2 checkpoint's tensor names mapped onto gpt2lite's modules, drawn from the names themselves.

    ``names_or_state`` is a checkpoint's state dict (names to tensors, or names to shapes), or just its names,
    in Hugging Face's layout (with or without the ``transformer.`` prefix). The first block is drawn in full,
    the others are folded into one row; the four ``Conv1D`` weights that must be transposed are marked ⊤, the
    buffers that are dropped ✕, and ``lm_head`` is shown tied to ``wte`` when the file does not store it.
    Module types are read from a real (meta-device) `GPT` with as many blocks as the checkpoint.
    """
    from gpt2lite.pretrained import CONV1D_WEIGHTS, NON_WEIGHTS

    names, shapes = _names_and_shapes(names_or_state)
    blocks = sorted({int(m.group(1)) for k in names if (m := _BLOCK.search(_our_name(k)))})
    model = _skeleton(max(blocks) + 1 if blocks else 1)
    expected = list(model.state_dict())
    unknown = [k for k in names if not k.endswith(NON_WEIGHTS) and _our_name(k) not in expected]
    if unknown:
        raise ValueError(
            f"{unknown[0]!r} is not a GPT-2 tensor name ({len(unknown)} such names); pass the keys of a "
            "GPT-2 checkpoint in Hugging Face's layout, e.g. 'transformer.h.0.attn.c_attn.weight'"
        )
    shown = blocks[0] if blocks else None
    folded = [b for b in blocks if b != shown]
    prefix = f"transformer.h.{shown}."
    order = {name: i for i, name in enumerate(expected)}

    def rank(key: str) -> float:
        ours = _our_name(key)
        if ours in order:
            return order[ours]
        # a buffer (attn.bias, attn.masked_bias) sits after its block's attention weights
        return order[f"{ours.rsplit('.attn.', 1)[0]}.attn.c_proj.bias"] + 0.5 + 0.1 * key.endswith("masked_bias")

    in_shown = lambda k: (m := _BLOCK.search(_our_name(k))) is not None and int(m.group(1)) == shown  # noqa: E731
    outside = sorted((k for k in names if _BLOCK.search(_our_name(k)) is None), key=rank)
    before = [k for k in outside if rank(k) < order.get(f"{prefix}ln_1.weight", order["transformer.ln_f.weight"])]
    after = [k for k in outside if k not in before and not k.startswith("lm_head.")]
    block_keys = sorted((k for k in names if in_shown(k)), key=rank)
    head = [k for k in names if k.startswith("lm_head.")]
    n_transposed = sum(_our_name(k).endswith(CONV1D_WEIGHTS) for k in names)
    n_buffers = sum(k.endswith(NON_WEIGHTS) for k in names)
    n_prefixed = sum(_our_name(k) != k for k in names)

    # rows: (kind, left text, our name or None, checkpoint key or None)
    rows: list[tuple[str, str, str | None, str | None]] = []
    rows += [("tensor", k, _our_name(k), k) for k in before]
    if shown is not None:
        rows.append(("block", "", None, None))
        rows += [("tensor", k, _our_name(k), k) for k in block_keys]
    if folded:
        per_block = sum(in_shown(k) for k in names)
        rows.append(("fold", f"{_span(folded)}: {per_block} tensors each, the same way", None, None))
    rows += [("tensor", k, _our_name(k), k) for k in after]
    if head:
        rows += [("tensor", k, _our_name(k), k) for k in head]
    else:
        rows.append(("tied", "(not stored: tied to wte)", "lm_head.weight", None))

    probe = Drawing(10, 10)
    name_w = max(probe.measure(r[1], FS, mono=r[0] == "tensor")[0] for r in rows if r[0] in ("tensor", "tied"))
    shape_texts = [_shape(shapes[r[3]]) for r in rows if r[3] in shapes]
    shape_w = max((probe.measure(s, FS)[0] for s in shape_texts), default=0.0)
    modules = [_module_label(r[2], prefix) for r in rows if r[2] is not None and not r[1].endswith(NON_WEIGHTS)]
    box_w = max(probe.measure(m, FS, mono=True)[0] for m in modules) + 14
    type_w = max(probe.measure(t, FS)[0] for t in ("LayerNorm", "Embedding", "dropped", f"Block × {len(folded)}"))
    x_name = MARGIN + 6
    x_shape = x_name + name_w + 8
    x_arrow0 = x_shape + (shape_w + 6 if shape_w else 0)
    x_box = x_arrow0 + 36
    x_type = x_box + box_w + 6
    width = x_type + type_w + MARGIN + 4
    if width > 550:  # long names (many blocks, no room): fall back on a wider page would break the phone rule
        raise ValueError(f"the names are too long to draw legibly ({width:.0f} pt wide); pass shorter keys")

    header_h = 24.0
    y = MARGIN + header_h
    row_y: list[float] = []
    for kind, *_ in rows:
        if kind == "block":
            y += 4
        if kind == "fold":
            y += 8  # below the block's frame
        row_y.append(y)
        y += ROW + (6 if kind == "fold" else 0)
        if kind == "fold":
            y += 2
    legend = _legend(n_transposed, n_buffers, n_prefixed, len(blocks))
    width = max([width] + [probe.measure(line, FS)[0] + 2 * MARGIN + 8 for line in legend])
    height = y + 10 + len(legend) * 16 + MARGIN

    alt = (
        f"The {len(names)} tensors of a GPT-2 checkpoint with {len(blocks)} blocks, each name mapped onto a "
        f"gpt2lite module: block {shown} in full, {len(folded)} more blocks folded; {n_transposed} Conv1D "
        f"weights are transposed, {n_buffers} buffers dropped, and lm_head "
        + ("is stored." if head else "is tied to wte.")
    )
    d = Drawing(_r(width), _r(height), alt=alt)
    d.text(x_name, MARGIN + 9, "checkpoint tensor", ha="left", weight="bold")
    d.text(x_box, MARGIN + 9, "gpt2lite module", ha="left", weight="bold")

    # the block's frame, behind its rows
    if shown is not None:
        i0 = next(i for i, r in enumerate(rows) if r[0] == "block")
        i1 = i0 + len(block_keys)
        top, bottom = row_y[i0] - 2, row_y[i1] + ROW + 3
        d.box(_r(MARGIN), _r(top), _r(width - 2 * MARGIN), _r(bottom - top), concept="residual", filled=False,
              lw=1.0, round_=6)
        d.text(x_box, _r(row_y[i0] + ROW / 2), f"h.{shown}", ha="left", mono=True, weight="bold")
        d.note(x_box + d.measure(f"h.{shown}", FS, mono=True, weight="bold")[0] + 8, _r(row_y[i0] + ROW / 2),
               "Block", size=FS, ha="left")

    # each row's left side, and the arrow to its module
    groups: dict[str, list[int]] = {}
    for i, (kind, text, ours, key) in enumerate(rows):
        cy = _r(row_y[i] + ROW / 2)
        if kind == "tensor":
            d.text(x_name, cy, text, ha="left", mono=True)
            if key in shapes:
                d.note(x_shape, cy, _shape(shapes[key]), size=FS, ha="left")
            if key.endswith(NON_WEIGHTS):
                d.arrow((x_arrow0, cy), (x_box - 4, cy), head=False, dashed=True, concept="mask", lw=1.1)
                d.text(x_box + 2, cy, "✕", ha="left", colour_=_edge("mask"))
                d.note(x_box + 18, cy, "buffer, dropped", size=FS, ha="left")
                continue
            groups.setdefault(_module_label(ours, prefix), []).append(i)
        elif kind == "tied":
            d.note(x_name, cy, text, size=FS, ha="left")
            groups.setdefault(_module_label(ours, prefix), []).append(i)
        elif kind == "fold":
            d.note(x_name, cy, text, size=FS, ha="left")
            b = d.box(x_box, _r(row_y[i] + 1), _r(box_w), _r(ROW + 2), _span(folded),
                      concept="residual", mono=True, dashed=True)
            d.note(x_type, b.cy, f"Block × {len(folded)}", size=FS, ha="left")
            d.arrow((x_arrow0, cy), (x_box - 1, cy), lw=1.2)

    # the module boxes, each as tall as its rows; an arrow from each of its tensors
    for label, idx in groups.items():
        top, bottom = row_y[idx[0]] + 2, row_y[idx[-1]] + ROW - 2
        ours = rows[idx[0]][2]
        b = d.box(x_box, _r(top), _r(box_w), _r(bottom - top), label, concept=_concept(ours), mono=True)
        module = model.get_submodule(ours.rsplit(".", 1)[0])
        d.note(x_type, b.cy, type(module).__name__, size=FS, ha="left")
        for i in idx:
            kind, _, name, key = rows[i]
            cy = _r(row_y[i] + ROW / 2)
            transposed = name.endswith(CONV1D_WEIGHTS)
            d.arrow((x_arrow0, cy), (x_box - 1, cy), lw=1.6 if transposed else 1.1, dashed=kind == "tied")
            if transposed:
                mid = _r((x_arrow0 + x_box) / 2 - 8)
                d.box(mid, _r(cy - 8), 16, 16, "⊤", concept="neutral", weight="bold", lw=1.4)
    y = row_y[-1] + ROW + 14
    for line in legend:
        d.note(MARGIN + 6, _r(y), line, size=FS, ha="left")
        y += 16
    return d


def _span(blocks: list[int]) -> str:
    """'h.1' or 'h.1 … h.11': the folded blocks."""
    return f"h.{blocks[0]}" if len(blocks) == 1 else f"h.{blocks[0]} … h.{blocks[-1]}"


def _edge(concept: str) -> str:
    from .style import colour

    return colour(concept).edge


def _module_label(ours: str, prefix: str) -> str:
    """A module's label in the figure: relative to the shown block, or to ``transformer.``."""
    module = ours.rsplit(".", 1)[0]
    if ours.startswith(prefix):
        return module.removeprefix(prefix)
    return module.removeprefix("transformer.")


def _legend(n_transposed: int, n_buffers: int, n_prefixed: int, n_layer: int) -> list[str]:
    lines = []
    if n_transposed:
        per = f"{n_transposed // n_layer} per block, " if n_layer and n_transposed % n_layer == 0 else ""
        lines.append(f"⊤  Conv1D (in, out) → nn.Linear (out, in), transposed: {per}{n_transposed} in all")
    if n_buffers:
        lines.append(f"✕  {n_buffers} buffers (the causal mask, a constant) are not weights: dropped")
    if n_prefixed:
        lines.append(f"{n_prefixed} names lack the prefix 'transformer.': it is added")
    return lines


# ---------------------------------------------------------------------------- the safetensors file
def _read_header(path_or_bytes: Any) -> tuple[int, dict, int]:
    """(n, header, file size) of a safetensors file, from its path or its bytes; reads only the header."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
        size, start = len(data), data[:8]
        read = lambda n: data[8:8 + n]  # noqa: E731
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        path = Path(path_or_bytes)
        if path.is_dir():
            path = path / "model.safetensors"
        if not path.is_file():
            raise ValueError(f"no safetensors file at {path}: pass the path of a .safetensors file, or its bytes")
        size = path.stat().st_size
        with open(path, "rb") as f:
            start = f.read(8)
            n_guess = int.from_bytes(start, "little") if len(start) == 8 else 0
            body = f.read(n_guess) if 0 < n_guess <= size else b""
        read = lambda n: body  # noqa: E731
    else:
        raise TypeError(
            f"safetensors_layout takes a path to a .safetensors file or its bytes, got a {type(path_or_bytes).__name__}"
        )
    if size < 8:
        raise ValueError(f"a safetensors file starts with an 8-byte header length; this one has only {size} bytes")
    n = int.from_bytes(start, "little")
    if n == 0 or 8 + n > size:
        raise ValueError(
            f"the first 8 bytes give a header of {n:,} bytes, but the file has {size:,}: not a safetensors file "
            "(or a truncated one)"
        )
    try:
        header = json.loads(read(n))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"the {n:,}-byte header is not valid JSON ({exc}): not a safetensors file") from exc
    if not isinstance(header, dict):
        raise ValueError("the header must be a JSON object of tensor names: not a safetensors file")
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not (isinstance(entry, dict) and {"dtype", "shape", "data_offsets"} <= set(entry)):
            raise ValueError(f"header entry {name!r} lacks dtype, shape or data_offsets: not a safetensors file")
        s, e = entry["data_offsets"]
        if not 0 <= s <= e or 8 + n + e > size:
            raise ValueError(f"tensor {name!r} claims bytes {s}..{e} of the data, past the file's end (truncated?)")
    return n, header, size


def _tensors(header: dict) -> list[tuple[str, str, tuple[int, ...], int, int]]:
    """(name, dtype, shape, start, end) of each tensor, in the file's order; offsets relative to the data."""
    out = [(k, v["dtype"], tuple(v["shape"]), *v["data_offsets"]) for k, v in header.items() if k != "__metadata__"]
    return sorted(out, key=lambda t: (t[3], t[4]))


def safetensors_layout(path_or_bytes: Any, *, max_tensors: int = 11) -> Drawing:
    """The byte layout of a real ``.safetensors`` file: the 8-byte header length, the JSON header, each tensor.

    ``path_or_bytes`` is the file's path (or its checkpoint folder) or its bytes; only the header is read. A bar
    at the top shows the whole file to scale; below it, one row per part with its first byte and its size, read
    from the file. At most ``max_tensors`` tensors are listed (the first and the last ones); a row counts the rest.
    """
    max_tensors = count("max_tensors", max_tensors, 2, expected="an int of at least 2")
    n, header, size = _read_header(path_or_bytes)
    tensors = _tensors(header)
    if not tensors:
        raise ValueError("the header lists no tensors: there is no layout to draw")
    data0 = 8 + n
    width = 550.0
    probe = Drawing(10, 10)

    # the rows of the list: (label, detail, concept, first byte, size)
    parts = [(f"n = {_n(n)}", "the header's length: 8 bytes, little-endian", "neutral", 0, 8)]
    parts.append(("JSON header", f"{len(tensors)} tensors: dtype, shape, data_offsets", "neutral", 8, n))
    if len(tensors) > max_tensors:
        tail = max(1, min(3, max_tensors // 3))
        listed = tensors[: max_tensors - tail] + [None] + tensors[-tail:]
    else:
        listed = list(tensors)
    for t in listed:
        if t is None:
            hidden = tensors[max_tensors - tail: len(tensors) - tail]
            s, e = hidden[0][3], hidden[-1][4]
            parts.append((f"… {len(hidden)} more tensors", "", "fold", data0 + s, e - s))
        else:
            name, dtype, shape, s, e = t
            parts.append((name, f"{dtype} {_shape(shape)}", _concept(name), data0 + s, e - s))

    x_off = MARGIN + max([probe.measure(_n(p[3]), FS, mono=True)[0] for p in parts]
                         + [probe.measure("first byte", FS)[0]])
    x_box = x_off + 8
    size_w = max(probe.measure(_bytes(p[4]), FS)[0] for p in parts)
    box_w = width - MARGIN - size_w - 8 - x_box
    for label, det, *_ in parts:
        need = probe.measure(label, FS, mono=True)[0] + (probe.measure(det, FS)[0] + 10 if det else 0) + 16
        if need > box_w:
            raise ValueError(f"the tensor name {label!r} is too long to draw in a {width:g} pt wide figure")

    bar_y, bar_h = MARGIN + 16, 22.0
    list_y = bar_y + bar_h + 48
    row_h = 22.0
    height = list_y + len(parts) * row_h + 46
    biggest = max(tensors, key=lambda t: t[4] - t[3])
    share = (biggest[4] - biggest[3]) / size
    alt = (
        f"The layout of a {_n(size)}-byte safetensors file: an 8-byte header length n = {_n(n)}, the JSON header, "
        f"then the raw bytes of its {len(tensors)} tensors from byte {_n(data0)} on; {biggest[0]} alone takes "
        f"{share:.0%} of the file."
    )
    d = Drawing(width, _r(height), alt=alt)

    # the file to scale
    x0, x1 = MARGIN, width - MARGIN
    scale = (x1 - x0) / size
    d.note(x0, MARGIN + 5, "byte 0", size=FS, ha="left")
    d.note(x1, MARGIN + 5, f"{_n(size)}", size=FS, ha="right")
    d.box(x0, bar_y, _r(x1 - x0), bar_h, concept="neutral", lw=1.2, round_=0)
    for name, _, _, s, e in tensors:
        w = (e - s) * scale
        if w >= 0.3:
            d.box(_r(x0 + (data0 + s) * scale), bar_y, _r(w), bar_h, concept=_concept(name), lw=0.6, round_=0)
    for name, _, _, s, e in tensors:
        w = (e - s) * scale
        short = name.removeprefix("transformer.")
        if w > d.measure(short, FS, mono=True)[0] + 12:
            d.text(_r(x0 + (data0 + s + (e - s) / 2) * scale), _r(bar_y + bar_h / 2), short, mono=True)
    d.arrow((x0 + 1, bar_y + bar_h + 4), (x0 + 1, bar_y + bar_h + 20), head=True, lw=1.1)
    d.note(x0 + 8, _r(bar_y + bar_h + 14), f"the header and the first tensors, too thin to see at this scale, "
           "enlarged below", size=FS, ha="left")

    # the list
    d.note(x_off, _r(list_y - 10), "first byte", size=FS, ha="right")
    d.note(width - MARGIN, _r(list_y - 10), "size", size=FS, ha="right")
    for i, (label, det, concept, start, nbytes) in enumerate(parts):
        y = list_y + i * row_h
        cy = _r(y + row_h / 2 - 1)
        if i == 2:  # where the data starts: data_offsets count from here
            d.line([x_box - 4, width - MARGIN], [_r(y - 1), _r(y - 1)], concept="residual", dashed=True, lw=1.0)
        d.text(x_off, cy, _n(start), mono=True, ha="right", colour_=INK)
        if concept == "fold":
            d.note(x_box + 8, cy, label, size=FS, ha="left")
        else:
            d.box(_r(x_box), _r(y + 1), _r(box_w), row_h - 4, concept=concept, lw=1.0)
            d.text(x_box + 8, cy, label, mono=True, ha="left")
            if det:
                d.note(x_box + box_w - 8, cy, det, size=FS, ha="right")
        d.note(width - MARGIN, cy, _bytes(nbytes), size=FS, ha="right")
    y = list_y + len(parts) * row_h + 12
    d.note(MARGIN, _r(y), f"data_offsets in the header count from the end of the header, byte 8 + n = {_n(data0)}",
           size=FS, ha="left")
    d.note(MARGIN, _r(y + 17), "only numbers follow the header: no code, so loading it runs nothing", size=FS,
           ha="left")
    return d


# ---------------------------------------------------------------------------- the loading steps
def loading_pipeline(directory: str | os.PathLike, *, hub_name: str | None = None) -> Drawing:
    """How `GPT.from_pretrained` loads a checkpoint folder, with the counts of this folder's files.

    ``directory`` holds ``config.json`` and ``model.safetensors`` (a real checkpoint: only its config and the
    safetensors header are read). ``hub_name`` (e.g. "gpt2") adds the download from the Hugging Face Hub in front,
    drawn dashed: the step the book cannot run offline. Every number (file sizes, tensors renamed, buffers dropped,
    weights transposed, parameters) is computed from the files.
    """
    from gpt2lite.pretrained import CONV1D_WEIGHTS, NON_WEIGHTS, config_from_hf

    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"loading_pipeline takes a checkpoint folder (a path), got a {type(directory).__name__}")
    folder = Path(directory)
    config_path, weights_path = folder / "config.json", folder / "model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise ValueError(
            f"{folder} is no checkpoint folder: it needs config.json and model.safetensors "
            "(e.g. the folder that save_pretrained writes)"
        )
    if hub_name is not None and (not isinstance(hub_name, str) or not hub_name.strip()):
        error = TypeError if not isinstance(hub_name, str) else ValueError
        raise error(f"hub_name must be a model name on the Hub such as 'gpt2', got {hub_name!r}")
    try:
        hf = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{config_path} is not valid JSON: {exc}") from exc
    config = config_from_hf(hf)
    n, header, size = _read_header(weights_path)
    tensors = _tensors(header)
    names = [t[0] for t in tensors]
    n_renamed = sum(_our_name(k) != k for k in names)
    n_buffers = sum(k.endswith(NON_WEIGHTS) for k in names)
    n_transposed = sum(_our_name(k).endswith(CONV1D_WEIGHTS) and len(s) == 2 for k, _, s, _, _ in tensors)
    has_head = "lm_head.weight" in names
    n_params = sum(math.prod(s) for k, _, s, _, _ in tensors if not k.endswith(NON_WEIGHTS) and k != "lm_head.weight")
    n_entries = len(names) - n_buffers + (0 if has_head else 1)

    width = 540.0
    gap = 30.0
    lane_w = (width - 2 * MARGIN - gap) / 2
    xl, xr = MARGIN, MARGIN + lane_w + gap
    bh = 36.0  # a two-line box
    step = 22.0  # the space between boxes

    alt = (
        f"Loading the checkpoint folder {folder.name}: config.json ({_n(config_path.stat().st_size)} bytes) becomes a "
        f"GPTConfig with {config.n_layer} layers; model.safetensors ({_n(size)} bytes, {len(names)} tensors) is "
        f"renamed ({n_renamed} names), {n_buffers} buffers dropped, {n_transposed} Conv1D weights transposed and "
        f"lm_head tied to wte; load_state_dict then gives a GPT of {_n(n_params)} parameters."
    )
    y = MARGIN
    n_rows = (2 if hub_name else 1) + 1 + 4 + 1  # hub, folder, files, the longer lane, load_state_dict
    height = MARGIN + n_rows * (bh + step) + bh + MARGIN
    d = Drawing(width, _r(height), alt=alt)

    def two(x: float, yy: float, w: float, a: str, b: str, concept: str = "neutral", mono_a: bool = True,
            dashed: bool = False) -> Box:
        box = d.box(_r(x), _r(yy), _r(w), bh, concept=concept, dashed=dashed)
        d.text(_r(x + w / 2), _r(yy + 12), a, mono=mono_a)
        d.note(_r(x + w / 2), _r(yy + 26), b, size=FS)
        return box

    cx = width / 2
    if hub_name:
        hub = two(cx - 150, y, 300, f"Hugging Face Hub: {hub_name}", "download once (needs internet)", dashed=True)
        y += bh + step
        d.arrow(hub.bottom, (hub.cx, y - 1), dashed=True)
    folder_box = two(cx - 150, y, 300, f"{folder.name}/", "local folder" + (": the cache, after a download" if hub_name else ""))
    y += bh + step
    cfg_file = two(xl, y, lane_w, "config.json", f"{_n(config_path.stat().st_size)} bytes")
    weights = two(xr, y, lane_w, "model.safetensors", f"{_n(size)} bytes, {len(names)} tensors")
    d.arrow((folder_box.cx - 40, folder_box.y + bh), (cfg_file.cx, y - 1), bend=0.15)
    d.arrow((folder_box.cx + 40, folder_box.y + bh), (weights.cx, y - 1), bend=-0.15)
    y += bh + step

    # the config lane
    left = [
        ("config_from_hf", "n_positions → block_size, ...", "neutral"),
        (f"GPTConfig", f"{config.n_layer} layers, {config.n_head} heads, width {config.n_embd}", "neutral"),
        ("GPT(config) on meta", "shapes only, no memory", "residual"),
    ]
    right = [
        ("rename", f"add 'transformer.' to {n_renamed} names", "neutral"),
        ("drop buffers", f"{n_buffers} attn.bias / masked_bias", "mask"),
        ("transpose ⊤", f"{n_transposed} Conv1D weights", "neutral"),
        ("tie lm_head", "stored, must equal wte" if has_head else "to wte (not stored)", "logits"),
    ]
    prev_l, prev_r = cfg_file, weights
    yl = yr = y
    for a, b, concept in left:
        box = two(xl, yl, lane_w, a, b, concept)
        d.arrow(prev_l.bottom, (box.cx, yl - 1))
        prev_l, yl = box, yl + bh + step
    for a, b, concept in right:
        box = two(xr, yr, lane_w, a, b, concept)
        d.arrow(prev_r.bottom, (box.cx, yr - 1))
        prev_r, yr = box, yr + bh + step
    y = max(yl, yr)
    load = two(cx - 150, y, 300, "load_state_dict(assign=True)", f"{n_entries} entries, every name and shape checked")
    d.arrow(prev_l.bottom, (load.x + 60, y - 1), bend=0.2)
    d.arrow(prev_r.bottom, (load.x + load.w - 60, y - 1), bend=-0.2)
    y += bh + step
    out = two(cx - 150, y, 300, "GPT", f"{_n(n_params)} parameters, eval mode", "residual", mono_a=True)
    d.arrow(load.bottom, (out.cx, y - 1))
    return d
