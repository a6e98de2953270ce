"""`Interactive`: one figure a reader can play with, the same in the book's pages, in Jupyter and in Colab.

A figure is an HTML fragment that carries everything it needs:

- its data, computed by the chapter from the real objects (logits, attention maps, a model), as JSON;
- a still picture (a `gpt2lite.draw` drawing), shown where JavaScript is off and when the page is printed;
- the small JavaScript module that draws the live figure from the data (`js/<kind>.js`, after `js/runtime.js`),
  inlined, so the figure needs no server: the rendered page, Jupyter and Colab run the same code.

Only a library from npm (GPT-2's BPE ranks, ONNX Runtime Web) is not inlined: the book's extension
(`book/_ext/offline_assets.py`) serves it from the site's `_static/vendor/`, and a figure that needs one says so
where it is missing (in a notebook) and shows its still picture instead.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from importlib import resources
from typing import Any

from ..draw._args import count
from ..draw.canvas import Drawing
from ..draw.style import BACKGROUND, INK, MUTED, PALETTE

KINDS = ("tokenizer", "sampling", "attention", "generation")  # one JavaScript module each, in js/
_ID = re.compile(r"[a-z][a-z0-9-]*")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("js", name).read_text(encoding="utf-8")


def _css_variables() -> str:
    """The palette as CSS variables (``--g2l-key-fill``, ``--g2l-key-edge``, ...): one colour per concept."""
    lines = [f"--g2l-ink: {INK}; --g2l-muted: {MUTED}; --g2l-background: {BACKGROUND};"]
    lines += [f"--g2l-{name}-fill: {c.fill}; --g2l-{name}-edge: {c.edge};" for name, c in PALETTE.items()]
    return ".gpt2lite-interactive {\n  " + "\n  ".join(lines) + "\n}\n"


def rounded(values, digits: int = 9) -> Any:
    """Nested lists of floats with ``digits`` significant digits (9 round-trip a float32 exactly).

    Takes a tensor, an array or nested lists; keeps the JSON short and the same on every run.
    """
    digits = count("digits", digits, 1, 17)
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, (list, tuple)):
        return [rounded(v, digits) for v in values]
    if isinstance(values, float):
        if not math.isfinite(values):
            raise ValueError(f"JSON has no {values}: pass finite numbers (mask with a flag, not with -inf)")
        return float(f"{values:.{digits}g}")
    return values


def _json(data: dict) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("</", "<\\/")  # never ends the <script> it sits in


class Interactive:
    """A live figure: ``kind`` names its JavaScript module, ``data`` is what that module draws.

    ``still`` is the picture shown without JavaScript and in print; ``alt`` describes the figure to a screen
    reader; ``caption`` is printed under it. A notebook displays it as HTML (`_repr_html_`).
    """

    def __init__(self, kind: str, data: dict, *, still: Drawing, alt: str, caption: str, name: str):
        if kind not in KINDS:
            raise ValueError(f"unknown interactive figure {kind!r}; choose one of {', '.join(KINDS)}")
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict of JSON values, got {type(data).__name__}")
        if not isinstance(still, Drawing):
            raise TypeError(f"still must be a gpt2lite.draw Drawing, got {type(still).__name__}")
        for arg, value in (("alt", alt), ("caption", caption), ("name", name)):
            if not isinstance(value, str):
                raise TypeError(f"{arg} must be a str, got {type(value).__name__} {value!r:.60}")
        if len(alt.strip()) < 20:
            raise ValueError(f"alt text must describe the figure in a sentence (20 characters or more), got {alt!r}")
        if not caption.strip():
            raise ValueError("caption must not be empty: say what the reader can do with the figure")
        if not _ID.fullmatch(name):
            raise ValueError(f"name must be lower-case letters, digits and dashes (an HTML id), got {name!r}")
        self.kind, self.data, self.still, self.alt, self.caption, self.name = kind, data, still, alt, caption, name
        _json(data)  # fail here, with json's message, not in the browser

    def html(self) -> str:
        """The figure as one HTML fragment: data, still picture, caption, styles and scripts."""
        svg = base64.b64encode(self.still.svg().encode()).decode()
        return "\n".join([
            f'<figure class="gpt2lite-interactive" id="{self.name}" data-figure="{self.kind}">',
            f'<script type="application/json" class="gpt2lite-data">{_json(self.data)}</script>',
            f'<div class="gpt2lite-still"><img alt="{html.escape(self.alt)}" '
            f'src="data:image/svg+xml;base64,{svg}"></div>',
            f'<div class="gpt2lite-live" role="group" aria-label="{html.escape(self.alt)}" hidden></div>',
            f"<figcaption>{html.escape(self.caption)}</figcaption>",
            "</figure>",
            f"<style>{_css_variables()}{_asset('interactive.css')}</style>",
            f"<script>{_asset('runtime.js')}\n{_asset(self.kind + '.js')}</script>",
        ])

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return f"Interactive({self.kind!r}, name={self.name!r})"
