"""The sampling explorer (chapter 8) in Chromium: its probabilities are gpt2lite's sampler's.

For every prompt of the figure and 180 slider settings (each slider at both ends and between), the page's bars
(`data-p`, full precision) are compared with `filter_logits` and a softmax computed in Python from the exported
logits, in float32 and in float64, within 1e-6; the cut tokens must be the ones the package cuts. The exported
logits must be the ones stored in the chapter's notebook. Screenshots: interactive-sampling-explorer-*.png.
"""

import itertools
import json
import re
from pathlib import Path

import pytest
import torch

from gpt2lite.generate import filter_logits
from test_browser import ARTIFACTS, DESKTOP, PHONE, Visit, browser, site, link_status  # noqa: F401 (its fixtures)

ROOT = Path(__file__).resolve().parents[1]
PAGE = "book/08_sampling.html"
FIGURE = "#sampling-explorer"
TEMPERATURES = [0, 0.05, 0.5, 1, 1.75, 3]  # 0 (greedy) and 3 are the slider's ends
TOP_K = [1, 2, 5, 20, 65]  # 1 and 65 (no cut) are the ends
TOP_P = [0.01, 0.3, 0.9, 0.95, 0.99, 1]  # 0.01 and 1 (no cut) are the ends
SETTINGS = list(itertools.product(TEMPERATURES, TOP_K, TOP_P))  # 180


def _figure_data(html_text: str, name: str) -> dict:
    figure = re.search(rf'<figure class="gpt2lite-interactive" id="{name}" data-figure="[a-z]+">\s*'
                       r'<script type="application/json" class="gpt2lite-data">(.*?)</script>', html_text, re.S)
    assert figure, f"no figure {name}"
    return json.loads(figure.group(1).replace("<\\/", "</"))


def _notebook_data(name: str) -> dict:
    notebook = json.loads((ROOT / "book" / "08_sampling.ipynb").read_text())
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            page = "".join(output.get("data", {}).get("text/html", ""))
            if f'id="{name}"' in page:
                return _figure_data(page, name)
    raise AssertionError(f"the notebook shows no figure {name}")


def _python(logits: list[float], temperature: float, k: int, p: float, dtype: torch.dtype):
    """gpt2lite's sampler on one row: (probabilities, kept) as sample_next would draw from them."""
    z = torch.tensor([logits], dtype=torch.float32)  # (1, V): the exported values are float32s
    if temperature == 0:  # sample_next: greedy, argmax
        probs = torch.zeros_like(z[0], dtype=dtype)
        probs[z[0].argmax()] = 1
        return probs, probs > 0
    scaled = z.to(dtype) / temperature
    kept = filter_logits(scaled, top_k=k, top_p=p)[0]
    return torch.softmax(kept, dim=-1), kept > float("-inf")


def _set_and_read(page, prompt: int, temperature, k, p) -> dict:
    return page.evaluate("""([name, settings]) => {
        const figure = document.querySelector(name);
        const set = (selector, value, event) => {
            const input = figure.querySelector(selector);
            input.value = String(value);
            input.dispatchEvent(new Event(event, {bubbles: true}));
            return input.value;
        };
        const values = [set('select[name=prompt]', settings[0], 'change'), set('input[name=temperature]', settings[1], 'input'),
                        set('input[name=top-k]', settings[2], 'input'), set('input[name=top-p]', settings[3], 'input')];
        const rows = [...figure.querySelectorAll('[data-token]')];
        return {values, status: figure.querySelector('.g2l-status').textContent,
                tokens: rows.map(r => Number(r.dataset.token)), p: rows.map(r => Number(r.dataset.p)),
                kept: rows.map(r => r.dataset.kept === 'yes')};
    }""", [FIGURE, [prompt, temperature, k, p]])


@pytest.mark.slow
def test_sampling_explorer_shows_the_packages_probabilities(browser, site):
    visit = Visit(browser, site, PAGE, DESKTOP)
    try:
        page = visit.page
        page.wait_for_selector(f"{FIGURE}[data-ready=yes]")
        data = json.loads(page.locator(f"{FIGURE} script.gpt2lite-data").text_content())
        assert data == _notebook_data("sampling-explorer"), "the page must hold the logits stored in the notebook"
        assert len(data["prompts"]) >= 3 and len(data["labels"]) == 65
        compared, greedy_checked = 0, 0
        for n, prompt in enumerate(data["prompts"]):
            logits = prompt["logits"]
            assert len(logits) == 65 and len(set(logits)) == 65, "ties would leave torch.sort's order open"
            for temperature, k, p in SETTINGS:
                shown = _set_and_read(page, n, temperature, k, p)
                assert shown["values"] == [str(n), str(temperature), str(k), str(p)], shown["values"]
                assert sorted(shown["tokens"]) == list(range(65))
                page_p = torch.zeros(65, dtype=torch.float64)
                page_p[shown["tokens"]] = torch.tensor(shown["p"], dtype=torch.float64)
                page_kept = torch.zeros(65, dtype=torch.bool)
                page_kept[shown["tokens"]] = torch.tensor(shown["kept"])
                for dtype in (torch.float32, torch.float64):
                    probs, kept = _python(logits, temperature, k, p, dtype)
                    where = f"prompt {prompt['text']!r}, T={temperature}, k={k}, p={p}, {dtype}"
                    assert torch.equal(page_kept, kept), f"{where}: the page cuts other tokens"
                    diff = (page_p - probs.double()).abs().max().item()
                    assert diff <= 1e-6, f"{where}: max |page - python| = {diff:.2e}"
                    compared += 1
                assert abs(page_p.sum().item() - 1) < 1e-12
                if temperature == 0:
                    greedy_checked += 1
                    assert "greedy decoding" in shown["status"]
                if temperature == 3:
                    assert "Temperature 3 is the slider's end" in shown["status"]
                if k == 65:
                    assert "no top-k cut" in shown["status"]
                if k == 1 and temperature > 0:
                    assert "only the most likely character" in shown["status"]
                    assert page_kept.sum() == 1
                if p == 1:
                    assert "no top-p cut" in shown["status"]
                if p == 0.01 and temperature > 0:
                    assert "slider's start" in shown["status"]
        assert compared == 2 * len(SETTINGS) * len(data["prompts"]) and greedy_checked
        # the keyboard moves a slider, and the bars follow
        _set_and_read(page, 0, 1, 65, 1)
        before = page.locator(f"{FIGURE} [data-token]").first.get_attribute("data-p")
        slider = page.locator(f"{FIGURE} input[name=temperature]")
        slider.focus()
        page.keyboard.press("ArrowLeft")
        assert slider.input_value() == "0.95"
        assert page.locator(f"{FIGURE} [data-token]").first.get_attribute("data-p") != before
        assert page.locator(f"{FIGURE} label", has_text="Temperature").locator("output").inner_text() == "0.95"
        _set_and_read(page, 0, 0.8, 10, 0.9)
        page.locator(FIGURE).screenshot(path=ARTIFACTS / "interactive-sampling-explorer-desktop.png")
        assert not visit.console and not visit.failed and not visit.outside, (visit.console, visit.failed, visit.outside)
    finally:
        visit.close()


@pytest.mark.slow
def test_sampling_explorer_works_at_phone_width(browser, site):
    visit = Visit(browser, site, PAGE, PHONE)
    try:
        page = visit.page
        page.wait_for_selector(f"{FIGURE}[data-ready=yes]")
        page.locator(FIGURE).scroll_into_view_if_needed()
        box = page.locator(FIGURE).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        for control in ("select[name=prompt]", "input[name=temperature]", "input[name=top-k]", "input[name=top-p]"):
            control_box = page.locator(f"{FIGURE} {control}").bounding_box()
            assert control_box["width"] >= 120 and control_box["x"] + control_box["width"] <= PHONE["width"]
        shown = _set_and_read(page, 1, 0.8, 10, 0.9)
        probs, _ = _python(_notebook_data("sampling-explorer")["prompts"][1]["logits"], 0.8, 10, 0.9, torch.float64)
        assert abs(max(shown["p"]) - probs.max().item()) < 1e-6
        # the figure at the top of the screen, below the theme's sticky header
        page.locator(FIGURE).evaluate("e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -64); }")
        page.screenshot(path=ARTIFACTS / "interactive-sampling-explorer-phone.png")
        assert not visit.console and not visit.failed and not visit.outside
    finally:
        visit.close()
