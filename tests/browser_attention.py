"""The attention explorer in Chromium (chapters 4 and 10), driven as a reader drives it.

At desktop and at phone width the test picks layers and heads with the menus and points at tokens (a click, the
mouse, keyboard focus and the arrow keys, Home and End, the first and the last token among them). After each
move it reads what the page shows, the heatmap's cells, the lines and the listed weights (their data-weight
attributes, the numbers the page prints), and compares them with the maps the chapter stored in its notebook,
to the 3 decimals shown. A causal model's future must show as masked, a bidirectional model's as weights. The
page's data block must be the notebook's. Nothing may scroll sideways at 400 px, and nothing goes to the console.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest

from test_browser import ARTIFACTS, DESKTOP, PHONE, Visit, browser, link_status, site  # noqa: F401 (its fixtures)

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {  # page: (notebook, figure id, (layer, head) pairs to visit)
    "book/04_self_attention.html": ("04_self_attention", "attention-explorer", [(0, 0), (0, 3), (1, 2), (1, 1)]),
    "book/10_gpt_bert.html": ("10_gpt_bert", "attention-gpt-bert", [(0, 0), (0, 1), (0, 2), (0, 3)]),
}
SHOWN = 0.0005 + 1e-6  # the page shows 3 decimals of weights it keeps to 6 significant digits
COMPARED = {"combinations": set(), "cells": 0, "lines": 0, "listed": 0, "masked": 0}


def stored_data(notebook: str, figure_id: str) -> dict:
    """The figure's data as the chapter stored it in the notebook's output."""
    nb = nbformat.read(ROOT / "book" / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            if f'id="{figure_id}" data-figure="attention"' in html:
                block = re.search(r'<script type="application/json" class="gpt2lite-data">(.*?)</script>', html, re.S)
                return json.loads(block.group(1))
    raise AssertionError(f"{notebook}: no stored output holds the figure {figure_id!r}")


SHOWN_STATE = """live => ({
  layer: +live.dataset.layer, head: +live.dataset.head, token: +live.dataset.token,
  pressed: [...live.querySelectorAll('.g2l-att-token')].map(b => b.getAttribute('aria-pressed') === 'true'),
  focused: document.activeElement?.classList.contains('g2l-att-token') ? +document.activeElement.dataset.index : null,
  panels: [...live.querySelectorAll('.g2l-att-panel')].map(p => ({
    model: p.dataset.model, causal: p.dataset.causal === 'yes',
    cells: [...p.querySelectorAll('.g2l-att-cell')].map(c => [+c.dataset.row, +c.dataset.col,
                                                          c.dataset.weight ?? null, c.dataset.masked === 'yes']),
    outlined: (() => {  // the heatmap row under the outline
      const y = +p.querySelector('.g2l-att-row').getAttribute('y') + 1;
      const cell = [...p.querySelectorAll('.g2l-att-cell[data-col="0"]')]
        .find(c => Math.abs(+c.getAttribute('y') - y) < 0.01);
      return cell ? +cell.dataset.row : null; })(),
    lines: [...p.querySelectorAll('.g2l-att-line')].map(l => [+l.dataset.key, l.dataset.weight]),
    masked_boxes: p.querySelectorAll('.g2l-att-box.is-masked').length,
    listed: [...p.querySelectorAll('.g2l-att-top li')].map(li => [+li.dataset.key, li.dataset.weight, li.innerText]),
    note: p.querySelector('.g2l-att-note').dataset.masked,
  })),
})"""


def check_shown(live, data: dict, layer: int, head: int, token: int) -> None:
    """What the page shows for (layer, head, token), in every model's panel, against the stored weights."""
    state = live.evaluate(SHOWN_STATE)
    T = len(data["tokens"])
    assert (state["layer"], state["head"], state["token"]) == (layer, head, token), state
    assert state["pressed"] == [i == token for i in range(T)], "the token pointed at is not the one pressed"
    assert [p["model"] for p in state["panels"]] == [m["name"] for m in data["models"]]
    for panel, model in zip(state["panels"], data["models"]):
        w = model["weights"][layer][head]  # (T, T)
        causal = model["causal"]
        assert panel["causal"] == causal
        where = f"{model['name'] or 'model'}, layer {layer}, head {head}, token {token}"

        # the heatmap: every cell of the head, the future of a causal model masked, the rest its weight
        assert len(panel["cells"]) == T * T, where
        for row, col, shown, masked in panel["cells"]:
            if causal and col > row:
                assert masked and shown is None, f"{where}: cell ({row}, {col}) of the future is not masked"
                COMPARED["masked"] += 1
            else:
                assert not masked and re.fullmatch(r"[01]\.\d{3}", shown), f"{where}: cell ({row}, {col}) {shown}"
                assert abs(float(shown) - w[row][col]) <= SHOWN, f"{where}: ({row}, {col}) {shown} != {w[row][col]}"
                COMPARED["cells"] += 1
        assert panel["outlined"] == token, f"{where}: the heatmap outlines row {panel['outlined']}"

        # the lines: one to every token it may read with a weight of at least 0.0005, none into the future
        allowed = [j for j in range(T) if not (causal and j > token)]
        keys = sorted(k for k, _ in panel["lines"])
        assert keys == sorted(j for j in allowed if w[token][j] >= 0.0005), f"{where}: lines to {keys}"
        for key, shown in panel["lines"]:
            assert abs(float(shown) - w[token][key]) <= SHOWN, f"{where}: line to {key}: {shown} != {w[token][key]}"
            COMPARED["lines"] += 1
        assert panel["masked_boxes"] == (T - 1 - token if causal else 0), f"{where}: masked tokens"
        assert int(panel["note"]) == (T - 1 - token if causal else 0)

        # the readout: the 5 largest weights, largest first, each printed as shown
        best = sorted(allowed, key=lambda j: -w[token][j])[:5]
        assert len(panel["listed"]) == len(best), where
        for (key, shown, text), expected in zip(panel["listed"], best):
            assert key in allowed, f"{where}: a listed token {key} lies in the masked future"
            assert abs(float(shown) - w[token][key]) <= SHOWN and shown in text, f"{where}: listed {key}: {shown}"
            assert abs(w[token][key] - w[token][expected]) <= 2 * SHOWN, f"{where}: {key} listed, not {expected}"
            COMPARED["listed"] += 1
        assert [float(s) for _, s, _ in panel["listed"]] == sorted((float(s) for _, s, _ in panel["listed"]),
                                                                   reverse=True)
        if causal and token == 0:  # the first token of a causal model: all its weight on itself
            assert panel["listed"][0][:2] == [0, "1.000"] and len(panel["listed"]) == 1
        COMPARED["combinations"].add((model["name"], layer, head, token))


def drive(visit: Visit, page_path: str, width: str) -> int:
    """Pick every (layer, head) pair of the page with the menus, point at tokens, check each state."""
    notebook, figure_id, pairs = FIGURES[page_path]
    page = visit.page
    data = stored_data(notebook, figure_id)
    figure = page.locator(f"figure#{figure_id}")
    page.wait_for_function(f"document.getElementById('{figure_id}').dataset.ready === 'yes'")
    shown_data = json.loads(figure.locator("script.gpt2lite-data").text_content())
    assert shown_data == data, "the page's data block is not the notebook's stored output"
    T = len(data["tokens"])
    live = figure.locator(".gpt2lite-live")
    tokens = figure.locator(".g2l-att-token")
    assert tokens.count() == T
    # at first: layer 0, head 0, the last token (it sees the whole text)
    check_shown(live, data, 0, 0, T - 1)
    states = 1
    for k, (layer, head) in enumerate(pairs):  # each pair points at other tokens too, at each width
        mid = (T // 2 + 3 * k + (width == "phone")) % T
        row = (T // 3 + 5 * k + 2 * (width == "phone")) % T
        figure.locator("select[name=layer]").select_option(str(layer))
        figure.locator("select[name=head]").select_option(str(head))
        steps = [("click", 0, 0), ("key", "End", T - 1), ("key", "Home", 0), ("key", "ArrowRight", 1),
                 ("key", "ArrowRight", 2), ("key", "ArrowLeft", 1), ("key", "ArrowLeft", 0), ("key", "ArrowLeft", 0),
                 ("click", T - 1, T - 1), ("key", "ArrowRight", T - 1), ("key", "ArrowUp", T - 2),
                 ("point", mid, mid)]
        for how, what, token in steps:
            if how == "click":
                tokens.nth(what).click()
            elif how == "key":  # the focused token moves, and the one focused is the one shown
                page.keyboard.press(what)
            elif width == "desktop":  # the mouse over a token points at it
                tokens.nth(what).hover()
            else:  # a phone: a tap
                tokens.nth(what).click()
            check_shown(live, data, layer, head, token)
            if how == "key":
                assert live.evaluate(SHOWN_STATE)["focused"] == token, "the arrow keys did not move the focus"
            states += 1
        # a click on a row of the heatmap points at that row's token too
        figure.locator(f".g2l-att-panel >> nth=0 >> .g2l-att-cell[data-row='{row}'][data-col='0']").click()
        check_shown(live, data, layer, head, row)
        states += 1
    # keyboard only: Tab reaches the token row (one stop), the arrows walk it
    figure.locator("select[name=head]").focus()
    page.keyboard.press("Tab")
    assert live.evaluate(SHOWN_STATE)["focused"] == row, "Tab does not land on the token pointed at"
    page.keyboard.press("ArrowLeft")
    check_shown(live, data, layer, head, max(row - 1, 0))
    states += 1
    return states


def check_phone_layout(visit: Visit, figure_id: str) -> None:
    page = visit.page
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {PHONE['width']} px"
    parts = ", ".join(f"#{figure_id} {p}" for p in ("select", ".g2l-att-token", "svg", ".g2l-att-readout"))
    boxes = page.evaluate("""selector => [...document.querySelectorAll(selector)].map(e => {
        const r = e.getBoundingClientRect();
        return {tag: e.tagName, left: r.left, right: r.right, width: r.width, height: r.height}; })""", parts)
    for box in boxes:
        assert box["left"] >= 0 and box["right"] <= PHONE["width"], f"{box} runs off a {PHONE['width']} px screen"
        if box["tag"] in ("SELECT", "BUTTON"):  # big enough for a finger
            assert box["width"] >= 24 and box["height"] >= 24, f"{box} is too small to tap"
    labels = page.evaluate(f"[...document.querySelectorAll('#{figure_id} label')].map(l => l.innerText)")
    assert labels == ["Layer", "Head"], labels


@pytest.mark.slow
@pytest.mark.parametrize("width", ["desktop", "phone"])
@pytest.mark.parametrize("path", list(FIGURES))
def test_attention_explorer_shows_the_chapters_maps(browser, site, path, width):  # noqa: F811
    notebook, figure_id, _ = FIGURES[path]
    visit = Visit(browser, site, path, DESKTOP if width == "desktop" else PHONE)
    try:
        page = visit.page
        figure = page.locator(f"figure#{figure_id}")
        if width == "phone":
            check_phone_layout(visit, figure_id)
        states = drive(visit, path, width)
        assert states >= 50
        # a picture of the figure as a reader leaves it, pointed at a token in the middle
        figure.locator(".g2l-att-token").nth(len(stored_data(notebook, figure_id)["tokens"]) // 2).click()
        figure.scroll_into_view_if_needed()
        figure.screenshot(path=ARTIFACTS / f"interactive-{figure_id}-{width}.png")
        if width == "phone":
            check_phone_layout(visit, figure_id)
        assert not visit.console, f"console errors: {visit.console[:5]}"
        assert not visit.outside and not visit.failed, (visit.outside[:3], visit.failed[:3])
        report = ARTIFACTS / "attention-compared.json"
        counts = {k: (len(v) if isinstance(v, set) else v) for k, v in COMPARED.items()}
        report.write_text(json.dumps(counts, indent=2) + "\n")
    finally:
        visit.close()
