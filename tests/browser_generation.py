"""The small GPT in the page (chapter 8) in Chromium: ONNX Runtime Web writes torch's greedy text.

The torch model is rebuilt here exactly as the chapter trains it (about 15 s on one CPU thread), and
`export_onnx` of it must give the very bytes the page holds: so the page runs the chapter's model, and the held-out
prompts can be compared with torch. The page types 10 prompts (the figure's examples and held-out ones: single
characters, a newline, one longer than the context) and generates greedily; its text must equal
`model.generate(..., temperature=0)`. Also: sampled text uses only the model's characters, bad input gets its
message, the figure works at phone width, and ONNX Runtime's files come from _static/vendor/ on this page only.
Screenshots: interactive-generation-playground-*.png.
"""

import base64
import functools
import io
import json
import re
from pathlib import Path

import pytest
import torch

from test_browser import ARTIFACTS, DESKTOP, PHONE, Visit, browser, site, link_status  # noqa: F401 (its fixtures)

ROOT = Path(__file__).resolve().parents[1]
PAGE = "book/08_sampling.html"
FIGURE = "#generation-playground"
VENDOR = "_static/vendor/onnxruntime-web/"
HELD_OUT = [
    "a",
    "\n",
    "Z",
    "?",
    "First Citizen:\nBefore we proceed any further, hear me speak.",  # 60 characters > the 32 of the context
    "MENENIUS:\nWhat work's, my countrymen, in hand?",
]


@functools.lru_cache(maxsize=1)
def chapter_model():
    """The chapter's model, trained as "A small model to sample from" trains it, and its tokenizer."""
    from gpt2lite import GPT, GPTConfig
    from gpt2lite.data import load_shakespeare
    from gpt2lite.training import TrainConfig, train

    train_ids, val_ids, tok = load_shakespeare("char")
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=4, n_embd=64)
    model = GPT(config)
    train(model, train_ids, val_ids,
          TrainConfig(max_steps=800, batch_size=32, learning_rate=1e-2, min_lr=1e-3, warmup_steps=80,
                      eval_interval=400, eval_iters=10, device="cpu", progress=False))
    return model.eval(), tok


def _torch_greedy(prompt: str, n: int) -> str:
    model, tok = chapter_model()
    ids = torch.tensor([tok.encode(prompt)])
    return tok.decode(model.generate(ids, n, temperature=0)[0, ids.size(1):].tolist())


def _generate(page, prompt: str, temperature, length) -> dict:
    """Type the prompt, set the sliders, press Generate, wait for the end: the text written and what was seen."""
    page.locator(f"{FIGURE} textarea[name=prompt]").fill(prompt)
    page.evaluate("""([name, t, n]) => {
        const figure = document.querySelector(name);
        for (const [input, value] of [['temperature', t], ['length', n]]) {
            const slider = figure.querySelector(`input[name=${input}]`);
            slider.value = String(value);
            slider.dispatchEvent(new Event('input', {bubbles: true}));
        }
        figure.dataset.state = '';
        const written = figure.querySelector('.g2l-generated');
        window.g2lLengths = [];  // the text's length after each change: one character at a time
        if (window.g2lObserver) window.g2lObserver.disconnect();
        window.g2lObserver = new MutationObserver(() => window.g2lLengths.push(written.textContent.length));
        window.g2lObserver.observe(written, {childList: true, characterData: true, subtree: true});
    }""", [FIGURE, temperature, length])
    page.locator(f"{FIGURE} button[name=generate]").click()
    page.wait_for_function(f"['done', 'error'].includes(document.querySelector('{FIGURE}').dataset.state)",
                           timeout=60_000)
    return page.evaluate("""(name) => {
        const figure = document.querySelector(name);
        return {state: figure.dataset.state, text: figure.querySelector('.g2l-generated').textContent,
                prompt: figure.querySelector('.g2l-prompt-text').textContent, lengths: window.g2lLengths,
                status: figure.querySelector('.g2l-status').textContent,
                error: figure.querySelector('.g2l-status').classList.contains('g2l-error')};
    }""", FIGURE)


def _resources(page) -> list[str]:
    return page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")


@pytest.mark.slow
def test_generation_playground_runs_the_chapters_model_and_writes_torchs_greedy_text(browser, site):
    from gpt2lite.interactive import export_onnx

    model, tok = chapter_model()
    visit = Visit(browser, site, PAGE, DESKTOP)
    try:
        page = visit.page
        page.wait_for_selector(f"{FIGURE}[data-ready=yes]", timeout=30_000)
        data = json.loads(page.locator(f"{FIGURE} script.gpt2lite-data").text_content())
        assert base64.b64decode(data["model"]) == export_onnx(model, io.BytesIO()), "not the chapter's model"
        assert data["chars"] == tok.chars and data["block_size"] == 32
        # the sampling explorer's logits are this model's too
        sampling = json.loads(page.locator("#sampling-explorer script.gpt2lite-data").text_content())
        for prompt in sampling["prompts"]:
            with torch.no_grad():
                logits = model(torch.tensor([tok.encode(prompt["text"])[-32:]]), last_only=True)[0, -1]
            assert torch.equal(torch.tensor(prompt["logits"], dtype=torch.float32), logits)

        n = data["max_new_tokens"]
        canned = {p["text"]: p["greedy"] for p in data["prompts"]}
        # while ONNX Runtime loaded, the page showed torch's text for the first example
        assert len(canned) >= 3 and all(_torch_greedy(text, n) == greedy for text, greedy in canned.items())
        prompts = [*canned, *HELD_OUT]
        assert len(prompts) >= 8 and any(len(p) > 32 for p in prompts) and any(len(p) == 1 for p in prompts)
        for prompt in prompts:
            shown = _generate(page, prompt, 0, n)
            assert shown["state"] == "done" and not shown["error"], shown
            assert shown["prompt"] == prompt
            assert shown["text"] == _torch_greedy(prompt, n), f"greedy text after {prompt!r}"
            assert shown["lengths"][-1] == n and len(set(shown["lengths"])) >= n, "not written character by character"
        page.locator(FIGURE).screenshot(path=ARTIFACTS / "interactive-generation-playground-desktop.png")

        # temperature > 0: text from the model's characters only; a new seed at every press
        first = _generate(page, "ROMEO:\n", 1.5, 200)
        second = _generate(page, "ROMEO:\n", 1.5, 200)
        for shown in (first, second):
            assert shown["state"] == "done" and len(shown["text"]) == 200 and set(shown["text"]) <= set(tok.chars)
            assert "seeded JavaScript generator" in page.locator(f"{FIGURE} .g2l-generation-source").inner_text()
            assert "200 characters is the slider's end" in shown["status"]
        assert first["text"] != second["text"] and first["text"] != _torch_greedy("ROMEO:\n", 200)
        shown = _generate(page, "JULIET:\n", 2, 1)  # both slider ends at once
        assert len(shown["text"]) == 1 and shown["text"] in tok.chars
        assert "Temperature 2 is the slider's end" in shown["status"] and "single character" in shown["status"]
        shown = _generate(page, "KING:\n", 0, 30)
        assert "Temperature 0 is greedy decoding" in shown["status"]

        # Stop ends the loop early
        page.evaluate(f"""() => {{
            const figure = document.querySelector('{FIGURE}');
            figure.querySelector('input[name=length]').value = '200';
            figure.dataset.state = '';
            figure.querySelector('button[name=generate]').click();
            setTimeout(() => figure.querySelector('button[name=stop]').click(), 30);
        }}""")
        page.wait_for_function(f"document.querySelector('{FIGURE}').dataset.state === 'done'")
        status = page.locator(f"{FIGURE} .g2l-status").inner_text()
        assert re.fullmatch(r"Stopped after \d+ characters\.", status), status
        assert len(page.locator(f"{FIGURE} .g2l-generated").text_content()) < 200

        # bad input: a clear message in the status line, nothing written
        for prompt, message in [("", "Type a prompt first"),
                                ("Café", "does not know the character “é” (U+00E9, character 4 of the prompt)"),
                                ("Hi 🙂", "“🙂” (U+1F642, character 4"),
                                ("tab\there", "does not know the character tab (U+0009")]:
            before = page.locator(f"{FIGURE} .g2l-generated").text_content()
            shown = _generate(page, prompt, 0, 10)
            assert shown["state"] == "error" and shown["error"] and message in shown["status"], (prompt, shown)
            assert shown["text"] == before, "bad input must not write"

        # ONNX Runtime came from the book's own _static/vendor/, nothing from outside, no console error
        ort_files = [url for url in _resources(page) if "onnxruntime" in url or url.endswith(".wasm")]
        assert sorted(u.removeprefix(site + VENDOR) for u in ort_files) == sorted(
            ["ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]), ort_files
        assert not visit.outside and not visit.failed and not visit.console, (visit.outside, visit.failed, visit.console)
    finally:
        visit.close()


@pytest.mark.slow
def test_generation_playground_works_at_phone_width(browser, site):
    visit = Visit(browser, site, PAGE, PHONE)
    try:
        page = visit.page
        page.wait_for_selector(f"{FIGURE}[data-ready=yes]", timeout=30_000)
        page.locator(FIGURE).scroll_into_view_if_needed()
        box = page.locator(FIGURE).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        for control in ("textarea[name=prompt]", "input[name=temperature]", "input[name=length]",
                        "button[name=generate]", "button[name=stop]"):
            control_box = page.locator(f"{FIGURE} {control}").bounding_box()
            assert control_box["width"] >= 40 and control_box["x"] + control_box["width"] <= PHONE["width"], control
        shown = _generate(page, "To be, or not to b", 0, 80)
        assert shown["text"] == _torch_greedy("To be, or not to b", 80)
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        # the figure at the top of the screen, below the theme's sticky header
        page.locator(FIGURE).evaluate("e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -64); }")
        page.screenshot(path=ARTIFACTS / "interactive-generation-playground-phone.png")
        assert not visit.outside and not visit.failed and not visit.console
    finally:
        visit.close()
