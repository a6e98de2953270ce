"""The book's visual language: one colour per concept, one font, one box and arrow style.

Every drawing in `gpt2lite.draw` takes its colours from `PALETTE`, so "keys" are the same orange in chapter 4
and in chapter 8, and a test can check that no drawing invents a colour of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Colour:
    """A concept's colours: a light ``fill`` for boxes, a dark ``edge`` for outlines, arrows and its text."""

    fill: str
    edge: str


# Colour-blind-safe pairs (light fill, dark edge); the edges keep a 4.5:1 contrast on white.
PALETTE: dict[str, Colour] = {
    "token": Colour("#fde68a", "#92400e"),  # token ids and the text they come from: amber
    "embedding": Colour("#bbf7d0", "#166534"),  # wte, token embeddings: green
    "position": Colour("#a5f3fc", "#155e75"),  # wpe, position embeddings: cyan
    "query": Colour("#bfdbfe", "#1d4ed8"),  # blue
    "key": Colour("#fed7aa", "#c2410c"),  # orange
    "value": Colour("#e9d5ff", "#7e22ce"),  # purple
    "attention": Colour("#fecdd3", "#be123c"),  # attention scores and weights: rose
    "residual": Colour("#e2e8f0", "#334155"),  # the residual stream: slate
    "norm": Colour("#fef9c3", "#854d0e"),  # LayerNorm: pale yellow, brown edge
    "mlp": Colour("#fbcfe8", "#9d174d"),  # the MLP: pink
    "logits": Colour("#d9f99d", "#3f6212"),  # logits, probabilities, the next token: lime
    "neutral": Colour("#f3f4f6", "#374151"),  # anything else: grey
    "mask": Colour("#d1d5db", "#4b5563"),  # what is hidden: the masked future, a [MASK]: dark grey
}
INK = "#111827"  # the text colour
MUTED = "#6b7280"  # secondary text: shapes, counts, notes
BACKGROUND = "#ffffff"  # figures sit on white, in the light and the dark theme

FONT = "DejaVu Sans"  # ships with matplotlib: nothing is downloaded
MONO = "DejaVu Sans Mono"
SIZE = 11.0  # points; a drawing's units are points, so sizes read directly against its width
SMALL = 9.0
PHONE_PX = 400  # the narrowest page the book is read on
MIN_PHONE_PX = 8.0  # no text may render smaller than this on it


def allowed_colours() -> set[str]:
    """Every colour a drawing may use (as lower-case ``#rrggbb``)."""
    colours = {INK, MUTED, BACKGROUND}
    for c in PALETTE.values():
        colours |= {c.fill, c.edge}
    return colours


def colour(concept: str) -> Colour:
    """The colours of ``concept``; a clear error for a concept the palette lacks."""
    if not isinstance(concept, str):
        raise TypeError(f"concept must be a str naming a palette entry ({', '.join(PALETTE)}), "
                        f"got {type(concept).__name__}")
    try:
        return PALETTE[concept]
    except KeyError:
        raise ValueError(f"unknown concept {concept!r}; the palette has {', '.join(PALETTE)}") from None
