"""The drawing module's page: its palette, its boxes and labels, its checks, and its SVG."""

import re

import pytest
import torch

from gpt2lite import draw
from gpt2lite.draw import Drawing, piece_label
from gpt2lite.draw.style import INK, MUTED, PALETTE, allowed_colours


def test_one_colour_per_concept():
    fills = [c.fill for c in PALETTE.values()]
    edges = [c.edge for c in PALETTE.values()]
    assert len(set(fills)) == len(fills) and len(set(edges)) == len(edges)  # no two concepts share a colour
    for concept in ("token", "embedding", "query", "key", "value", "residual", "attention"):
        assert concept in PALETTE
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in allowed_colours())


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@pytest.mark.parametrize("concept", list(PALETTE))
def test_text_is_readable_on_every_fill(concept):
    """Ink on a concept's fill, and its edge colour on white, keep WCAG's 4.5:1 contrast."""
    def contrast(a, b):
        la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
        return (la + 0.05) / (lb + 0.05)

    assert contrast(INK, PALETTE[concept].fill) >= 4.5
    assert contrast(PALETTE[concept].edge, "#ffffff") >= 4.5
    assert contrast(MUTED, "#ffffff") >= 4.5


def test_an_unknown_concept_is_named_in_the_error():
    d = Drawing(100, 50)
    with pytest.raises(ValueError, match="unknown concept 'kee'.*key"):
        d.box(0, 0, 10, 10, concept="kee")


def test_a_clean_drawing_has_no_problems_and_renders_the_same_svg_twice():
    d = Drawing(300, 120, alt="two boxes")
    a = d.fit_box(10, 10, "token ids", concept="token")
    b = d.fit_box(150, 10, "wte", concept="embedding", mono=True)
    d.arrow(a.right, b.left)
    d.grid(10, 50, torch.tensor([[1.0, 0.0], [0.5, 0.5]]), hidden=torch.tensor([[0, 1], [0, 0]]), numbers=".1f")
    assert d.problems() == []
    svg = d.svg()
    assert svg.startswith("<?xml") and "<svg" in svg and svg == d.svg()
    assert "<text" not in svg  # text is drawn as outlines: no font needed on the reader's side
    assert d.labels() == ["token ids", "wte", "1.0", "0.5", "0.5"]  # the hidden cell prints nothing


def test_fit_box_is_as_wide_as_its_label():
    d = Drawing(400, 60)
    short, long = d.fit_box(0, 0, "x"), d.fit_box(0, 30, "a much longer label")
    assert long.w > 3 * short.w
    assert d.problems() == []


def test_problems_finds_overlapping_labels():
    d = Drawing(200, 60)
    d.text(50, 20, "keys")
    d.text(56, 22, "values")
    assert d.problems() == ["labels 'keys' and 'values' overlap"]


def test_problems_finds_a_label_too_wide_for_its_box_and_one_off_the_page():
    d = Drawing(200, 60)
    d.box(175, 20, 20, 20, "a long label", concept="query")
    found = d.problems()
    assert "label 'a long label' does not fit in its box" in found
    assert "label 'a long label' leaves the page" in found


def test_problems_finds_text_too_small_on_a_phone():
    d = Drawing(800, 100)
    d.text(400, 50, "fine print", size=9)
    (found,) = d.problems()
    assert "renders at 4.5 px on a 400 px phone" in found


def test_problems_finds_colours_outside_the_palette():
    d = Drawing(200, 60)
    d.text(100, 30, "red", colour_="#ff0000")
    assert d.problems() == ["colours outside the palette: ['#ff0000']"]


def test_problems_finds_a_glyph_the_font_lacks():
    d = Drawing(200, 60)
    d.text(100, 30, "\u4e2d")
    assert d.problems() == ["the font has no glyph for '\u4e2d'"]


def test_grid_rejects_values_outside_0_1():
    with pytest.raises(ValueError, match=r"\[0, 1\]; cell \(0, 1\) is 2.0"):
        Drawing(100, 100).grid(0, 0, [[0.5, 2.0]])


def test_a_drawing_needs_a_size():
    with pytest.raises(ValueError, match="positive size"):
        Drawing(0, 10)


def test_piece_label_makes_white_space_visible():
    assert piece_label(" the\n") == "\u2423the\u21b5"


def test_save_writes_svg_and_png(tmp_path):
    d = Drawing(100, 40)
    d.fit_box(5, 5, "ok")
    d.save(tmp_path / "a.svg")
    d.save(tmp_path / "a.png")
    assert (tmp_path / "a.svg").read_text() == d.svg()
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_every_drawing_function_is_exported():
    names = [n for n in draw.__all__ if n not in {"Box", "Drawing", "PALETTE", "colour", "piece_label"}]
    assert len(names) == len(set(names))
    functions = [n for n in names if not n.isupper()]  # constants (a table such as FAMILY) are upper case
    assert len(functions) >= 30 and all(callable(getattr(draw, n)) for n in functions)


def test_dollar_signs_are_text_not_mathematics():
    d = Drawing(200, 60)
    d.fit_box(10, 10, "$$ and $x$", mono=True)
    assert d.problems() == [] and d.labels() == ["$$ and $x$"]
