"""gpt2lite.interactive's core: the `Interactive` figure, its HTML, its data and the JavaScript it inlines.

(Each figure's own data and checks are tested in tests/test_interactive_<figure>.py; the figures themselves are
driven in Chromium by tests/test_browser.py.)
"""

import base64
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gpt2lite import GPTConfig, draw
from gpt2lite.draw.style import PALETTE
from gpt2lite.interactive import KINDS, Interactive, rounded

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "gpt2lite" / "interactive" / "js"
STILL = draw.decoder_block(GPTConfig(n_layer=1, n_head=2, n_embd=8, vocab_size=10, block_size=4))
ALT = "A decoder block, drawn for a one-layer test config."


def figure(**changes) -> Interactive:
    kwargs = dict(kind="sampling", data={"logits": [0.5, -1.0]}, still=STILL, alt=ALT,
                  caption="Move the sliders.", name="test-figure")
    kwargs.update(changes)
    kind = kwargs.pop("kind")
    data = kwargs.pop("data")
    return Interactive(kind, data, **kwargs)


def data_of(page: str) -> dict:
    block = re.search(r'<script type="application/json" class="gpt2lite-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1).replace("<\\/", "</"))


def test_html_carries_data_still_caption_styles_and_scripts():
    data = {"logits": [0.5, -1.0], "text": "a </script> inside", "labels": ["é", "\n"]}
    page = figure(data=data).html()
    assert page.startswith('<figure class="gpt2lite-interactive" id="test-figure" data-figure="sampling">')
    assert data_of(page) == data
    assert page.count("</script>") == 2  # the data block and the code: the text's "</script>" is escaped
    still = re.search(r'<img alt="([^"]+)" src="data:image/svg\+xml;base64,([^"]+)">', page)
    assert html.unescape(still.group(1)) == ALT
    assert base64.b64decode(still.group(2)).decode() == STILL.svg()
    assert "<figcaption>Move the sliders.</figcaption>" in page
    for concept, colour in PALETTE.items():  # the page's colours are the drawings' colours
        assert f"--g2l-{concept}-fill: {colour.fill};" in page and f"--g2l-{concept}-edge: {colour.edge};" in page
    assert (JS / "runtime.js").read_text() in page and (JS / "sampling.js").read_text() in page
    assert (JS / "attention.js").read_text() not in page  # a figure inlines its own module only
    assert page == figure(data=data).html()  # the same bytes every run: nbval compares stored outputs
    assert figure()._repr_html_() == figure().html()


@pytest.mark.parametrize("changes, error, message", [
    ({"kind": "heatmap"}, ValueError, "unknown interactive figure 'heatmap'"),
    ({"data": [1, 2]}, TypeError, "data must be a dict"),
    ({"still": "<svg/>"}, TypeError, "still must be a gpt2lite.draw Drawing"),
    ({"alt": "a figure"}, ValueError, "alt text must describe"),
    ({"caption": "  "}, ValueError, "caption must not be empty"),
    ({"name": "Figure 1"}, ValueError, "name must be lower-case"),
    ({"data": {"p": float("nan")}}, ValueError, "Out of range float"),
    ({"data": {"ids": {1, 2}}}, TypeError, "not JSON serializable"),
])
def test_bad_figures_are_refused_in_python_not_in_the_browser(changes, error, message):
    with pytest.raises(error, match=re.escape(message)):
        figure(**changes)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_rounded_keeps_every_float32_exactly(values):
    x = torch.tensor(values, dtype=torch.float32)
    back = torch.tensor(rounded(x), dtype=torch.float32)
    assert torch.equal(back, x)
    digits = [re.sub(r"e.*|[-.]", "", json.dumps(v)).strip("0") for v in rounded(x)]
    assert all(len(d) <= 9 for d in digits), digits  # 9 significant digits, not 17


def test_rounded_keeps_shapes_and_refuses_infinity():
    assert rounded(np.array([[1.0, 2.5], [3.0, 1 / 3]])) == [[1.0, 2.5], [3.0, 0.333333333]]
    assert rounded([1, "a", None]) == [1, "a", None]
    with pytest.raises(ValueError, match="JSON has no -inf"):
        rounded(torch.tensor([0.0, float("-inf")]))


@pytest.mark.parametrize("kind", KINDS)
def test_each_figure_has_one_javascript_module_that_parses(kind):
    node = shutil.which("node")
    assert node, "Node.js is needed (it comes with npm, which the book's build needs too)"
    module = JS / f"{kind}.js"
    assert f'gpt2lite.define("{kind}"' in module.read_text(), f"{module.name} never registers its figure"
    # as a page runs it: the runtime, then the module, in one classic script
    program = (JS / "runtime.js").read_text() + "\n" + module.read_text()
    result = subprocess.run([node, "--check", "-"], input=program, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_javascript_and_css_ship_with_the_package():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the test extra brings tomli
        import tomli as tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "gpt2lite.interactive" in config["packages"]
    assert config["package-data"]["gpt2lite.interactive"] == ["js/*.js", "js/*.css"]
    assert {p.name for p in JS.iterdir()} == {"runtime.js", "interactive.css", *(f"{k}.js" for k in KINDS)}
