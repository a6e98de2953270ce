"""`Drawing`: a blank page in points with the book's boxes, arrows, labels and grids, and the checks on them.

A drawing's units are points (1/72 inch), y grows downwards, and (0, 0) is the top-left corner. It renders to SVG
with its text as outlines, so it looks the same in every browser and needs no font on the reader's machine.
`Drawing.problems()` lists what would make it a bad figure: labels that overlap or leave the page, a label wider
than its box, text too small on a phone, a colour from outside the palette, a glyph the font lacks.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from ..validate import number
from .style import BACKGROUND, FONT, INK, MIN_PHONE_PX, MONO, MUTED, PHONE_PX, SIZE, allowed_colours, colour

PAD = 6.0  # space between a box's edge and its label


@dataclass(frozen=True)
class Box:
    """A drawn box: top-left corner (x, y), width w, height h, in points."""

    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def left(self) -> tuple[float, float]:
        return (self.x, self.cy)

    @property
    def right(self) -> tuple[float, float]:
        return (self.x + self.w, self.cy)

    @property
    def top(self) -> tuple[float, float]:
        return (self.cx, self.y)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.cx, self.y + self.h)

    @property
    def center(self) -> tuple[float, float]:
        return (self.cx, self.cy)


def rounded(v: float) -> float:
    """A coordinate or a shade rounded to 2 decimals, so that the SVG is the same bytes on every machine."""
    return round(float(v), 2)


def piece_label(piece: str) -> str:
    """A token's text as a drawing shows it: a space as '␣', a newline as '↵', a tab as '⇥'."""
    return piece.replace(" ", "\u2423").replace("\n", "\u21b5").replace("\t", "\u21e5")


def _hex(rgba) -> str | None:
    """'#rrggbb' of a matplotlib colour, None when it is fully transparent."""
    from matplotlib.colors import to_hex, to_rgba

    r, g, b, a = to_rgba(rgba)
    return None if a == 0 else to_hex((r, g, b))


def _glyph(message: str) -> str:
    """The character a matplotlib "Glyph N (...) missing from font" warning is about."""
    import re

    m = re.match(r"Glyph (\d+)", message)
    return chr(int(m.group(1))) if m else message


class Drawing:
    """A figure for the book. Drawing functions build one and return it; a notebook shows it as SVG."""

    def __init__(self, width: float, height: float, *, alt: str = ""):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        width, height = number("width", width), number("height", height)
        if not (0 < width < math.inf and 0 < height < math.inf):
            raise ValueError(f"a drawing needs a positive size, got {width} x {height} points")
        self.width, self.height = float(width), float(height)
        self.alt = alt  # a one-sentence description of what the drawing shows
        self.figure = Figure(figsize=(width / 72, height / 72), dpi=72, facecolor=BACKGROUND)
        FigureCanvasAgg(self.figure)  # a renderer, so that text can be measured
        self.ax = self.figure.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(height, 0)  # y grows downwards, as on a page
        self.ax.set_axis_off()
        self._texts = []  # every label: a matplotlib Text
        self._labelled = []  # (Box, Text): a label that must fit inside its box
        self._missing_glyphs: list[str] = []

    # -- measuring --------------------------------------------------------------------------------------------
    def measure(self, s: str, size: float = SIZE, *, mono: bool = False, weight: str = "normal") -> tuple[float, float]:
        """Width and height, in points, that ``s`` takes at ``size``."""
        from matplotlib.font_manager import FontProperties

        renderer = self.figure.canvas.get_renderer()
        prop = FontProperties(family=MONO if mono else FONT, size=size, weight=weight)
        lines = s.split("\n")
        widths = [renderer.get_text_width_height_descent(line or " ", prop, ismath=False)[0] for line in lines]
        line_h = size * 1.2
        return max(widths), line_h * len(lines)

    # -- drawing ----------------------------------------------------------------------------------------------
    def text(
        self, x: float, y: float, s: str, *, size: float = SIZE, colour_: str = INK, ha: str = "center",
        va: str = "center", weight: str = "normal", mono: bool = False, rotation: float = 0, style: str = "normal",
    ):
        """A label at (x, y). ``colour_`` is INK, MUTED or a concept's edge colour."""
        t = self.ax.text(
            x, y, s, fontsize=size, color=colour_, ha=ha, va=va, fontweight=weight, rotation=rotation,
            family=MONO if mono else FONT, fontstyle=style, linespacing=1.2, multialignment="center",
            parse_math=False,  # a token such as "$$" is text, never mathematics
        )
        self._texts.append(t)
        return t

    def box(
        self, x: float, y: float, w: float, h: float, label: str | None = None, *, concept: str = "neutral",
        size: float = SIZE, mono: bool = False, weight: str = "normal", filled: bool = True, dashed: bool = False,
        lw: float = 1.2, round_: float = 4.0,
    ) -> Box:
        """A box in ``concept``'s colours, with an optional centred label that must fit inside it."""
        from matplotlib.patches import FancyBboxPatch

        c = colour(concept)
        patch = FancyBboxPatch(
            (x, y), w, h, boxstyle=f"round,pad=0,rounding_size={min(round_, w / 2, h / 2)}",
            facecolor=c.fill if filled else BACKGROUND, edgecolor=c.edge, linewidth=lw,
            linestyle="--" if dashed else "-",
        )
        self.ax.add_patch(patch)
        b = Box(x, y, w, h)
        if label is not None:
            t = self.text(b.cx, b.cy, label, size=size, mono=mono, weight=weight)
            self._labelled.append((b, t))
        return b

    def fit_box(
        self, x: float, y: float, label: str, *, concept: str = "neutral", size: float = SIZE, mono: bool = False,
        weight: str = "normal", min_w: float = 0, h: float | None = None, pad: float = PAD, **kw,
    ) -> Box:
        """A box just big enough for ``label`` (at least ``min_w`` wide), its top-left corner at (x, y)."""
        tw, th = self.measure(label, size, mono=mono, weight=weight)
        w = max(tw + 2 * pad, min_w)
        return self.box(x, y, w, h or th + pad, label, concept=concept, size=size, mono=mono, weight=weight, **kw)

    def row(
        self, x: float, y: float, labels: Sequence[str], *, concept: str = "token", size: float = SIZE,
        mono: bool = True, gap: float = 4.0, min_w: float = 0, h: float | None = None, pad: float = 4.0,
    ) -> list[Box]:
        """Boxes side by side, each as wide as its label (tokens, ids): left to right from (x, y)."""
        boxes = []
        for label in labels:
            b = self.fit_box(x, y, label, concept=concept, size=size, mono=mono, min_w=min_w, h=h, pad=pad)
            boxes.append(b)
            x += b.w + gap
        return boxes

    def arrow(
        self, start: tuple[float, float], end: tuple[float, float], *, concept: str | None = None,
        lw: float = 1.4, bend: float = 0.0, head: bool = True, dashed: bool = False, alpha: float = 1.0,
    ):
        """An arrow from ``start`` to ``end`` (a plain line with ``head=False``); ``bend`` curves it."""
        from matplotlib.patches import FancyArrowPatch

        c = INK if concept is None else colour(concept).edge
        patch = FancyArrowPatch(
            start, end, arrowstyle="-|>,head_length=5,head_width=2.6" if head else "-",
            connectionstyle=f"arc3,rad={bend}", color=c, linewidth=lw, shrinkA=0, shrinkB=0,
            linestyle="--" if dashed else "-", alpha=alpha, mutation_scale=1,
        )
        self.ax.add_patch(patch)
        return patch

    def line(self, xs: Sequence[float], ys: Sequence[float], *, concept: str | None = None, lw: float = 1.2,
             dashed: bool = False, alpha: float = 1.0):
        """A polyline through the points (xs[i], ys[i])."""
        c = INK if concept is None else colour(concept).edge
        return self.ax.plot(xs, ys, color=c, lw=lw, ls="--" if dashed else "-", alpha=alpha,
                            solid_capstyle="round")[0]

    def grid(
        self, x: float, y: float, values, *, cell: float = 18.0, concept: str = "attention",
        numbers: str | None = None, size: float | None = None, hidden=None,
    ) -> Box:
        """A matrix of cells, each shaded by its value in [0, 1] in ``concept``'s colour.

        ``numbers`` is a format (".2f") to print each value in its cell; ``hidden`` is a same-shaped boolean
        matrix of cells drawn in the mask colour instead (the causal mask's future). Returns the grid's box.
        """
        from matplotlib.patches import Rectangle

        rows = [[float(v) for v in r] for r in (values.tolist() if hasattr(values, "tolist") else values)]
        hide = None if hidden is None else (hidden.tolist() if hasattr(hidden, "tolist") else hidden)
        c, m = colour(concept), colour("mask")
        size = size or min(SIZE, cell * 0.42)
        for i, r in enumerate(rows):
            for j, v in enumerate(r):
                if not 0.0 <= v <= 1.0 + 1e-6:
                    raise ValueError(f"grid values must lie in [0, 1]; cell ({i}, {j}) is {v}")
                cx, cy = x + j * cell, y + i * cell
                if hide is not None and hide[i][j]:
                    self.ax.add_patch(Rectangle((cx, cy), cell, cell, facecolor=m.fill, edgecolor=BACKGROUND, lw=1))
                    continue
                self.ax.add_patch(Rectangle((cx, cy), cell, cell, facecolor=BACKGROUND, edgecolor="none"))
                self.ax.add_patch(Rectangle((cx, cy), cell, cell, facecolor=c.edge, alpha=min(v, 1.0),
                                            edgecolor=BACKGROUND, lw=1))
                if numbers is not None:
                    ink = BACKGROUND if v > 0.55 else INK
                    self.text(cx + cell / 2, cy + cell / 2, format(v, numbers), size=size, colour_=ink)
        return Box(x, y, cell * (len(rows[0]) if rows else 0), cell * len(rows))

    def note(self, x: float, y: float, s: str, *, size: float = SIZE - 1, ha: str = "center", **kw):
        """Secondary text (a shape, a count) in the muted colour."""
        return self.text(x, y, s, size=size, colour_=MUTED, ha=ha, **kw)

    # -- what it holds, and its checks ------------------------------------------------------------------------
    def labels(self) -> list[str]:
        """The text of every label, in the order drawn."""
        return [t.get_text() for t in self._texts]

    def text_boxes(self) -> list[tuple[str, tuple[float, float, float, float]]]:
        """(label, (x0, y0, x1, y1)) of every non-empty label, in points, y downwards."""
        renderer = self.figure.canvas.get_renderer()
        out = []
        for t in self._texts:
            if not t.get_text().strip():
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a missing glyph is reported by problems(), once
                bb = t.get_window_extent(renderer)  # pixels = points at 72 dpi, y upwards
            out.append((t.get_text(), (bb.x0, self.height - bb.y1, bb.x1, self.height - bb.y0)))
        return out

    def colours(self) -> set[str]:
        """Every colour drawn: faces, edges, lines and text (fully transparent ones left out)."""
        found = set()
        for p in self.ax.patches:
            found |= {_hex(p.get_facecolor()), _hex(p.get_edgecolor())}
        for ln in self.ax.lines:
            found.add(_hex(ln.get_color()))
        for t in self._texts:
            found.add(_hex(t.get_color()))
        found.discard(None)
        return found

    def problems(self) -> list[str]:
        """What is wrong with this drawing as a figure; an empty list when nothing is."""
        found = []
        boxes = self.text_boxes()
        tol = 0.5  # points: touching is fine, overlapping is not
        for i, (a, (ax0, ay0, ax1, ay1)) in enumerate(boxes):
            if ax0 < -tol or ay0 < -tol or ax1 > self.width + tol or ay1 > self.height + tol:
                found.append(f"label {a!r} leaves the page")
            for b, (bx0, by0, bx1, by1) in boxes[i + 1:]:
                if min(ax1, bx1) - max(ax0, bx0) > tol and min(ay1, by1) - max(ay0, by0) > tol:
                    found.append(f"labels {a!r} and {b!r} overlap")
        renderer = self.figure.canvas.get_renderer()
        for box, t in self._labelled:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bb = t.get_window_extent(renderer)
            x0, x1, y0, y1 = bb.x0, bb.x1, self.height - bb.y1, self.height - bb.y0
            if x0 < box.x - tol or x1 > box.x + box.w + tol or y0 < box.y - tol or y1 > box.y + box.h + tol:
                found.append(f"label {t.get_text()!r} does not fit in its box")
        smallest = min((t.get_fontsize() for t in self._texts), default=SIZE)
        if smallest * PHONE_PX / self.width < MIN_PHONE_PX:
            found.append(
                f"{smallest:g} pt text in a {self.width:g} pt wide drawing renders at "
                f"{smallest * PHONE_PX / self.width:.1f} px on a {PHONE_PX} px phone (at least {MIN_PHONE_PX:g})"
            )
        stray = self.colours() - allowed_colours()
        if stray:
            found.append(f"colours outside the palette: {sorted(stray)}")
        self.svg()  # rendering reports the glyphs the font lacks
        found += [f"the font has no glyph for {g!r}" for g in self._missing_glyphs]
        return found

    # -- output -----------------------------------------------------------------------------------------------
    def svg(self) -> str:
        """The drawing as SVG, its text as outlines; the same bytes on every run."""
        import matplotlib

        buf = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "gpt2lite"}):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.figure.savefig(buf, format="svg", metadata={"Date": None}, facecolor=BACKGROUND)
        self._missing_glyphs = sorted(
            {_glyph(str(w.message)) for w in caught if "missing from font" in str(w.message)}
        )
        return buf.getvalue()

    def _repr_svg_(self) -> str:
        return self.svg()

    def save(self, path) -> None:
        """Write the drawing to ``path`` (SVG, or PNG by the suffix)."""
        if str(path).endswith(".png"):
            self.figure.savefig(path, dpi=144, facecolor=BACKGROUND)
        else:
            with open(path, "w") as f:
                f.write(self.svg())

    def __repr__(self) -> str:
        return f"Drawing({self.width:g} x {self.height:g} pt, {len(self._texts)} labels)"
