"""The tokenizer playground (chapter 2) in Chromium, driven as a reader does: typed text gives GPT-2's ids.

The page's JavaScript port of BPETokenizer.encode must give, id for id, what `BPETokenizer.from_tiktoken("gpt2")`
and tiktoken give. We type held-out texts into its text box (emoji with ZWJ sequences and skin tones, accents
precomposed and combining, CJK, whitespace of every kind, code, "<|endoftext|>", slices of Tiny Shakespeare, an
empty and a very long text), read the ids back from the page, and compare them exactly. Also: the count shown,
pointing at a chip by keyboard and by mouse, phone width, JavaScript off and print, and that only this chapter
loads GPT-2's rank table. Screenshots go to ARTIFACTS (interactive-tokenizer-playground-*.png).
"""

import json
import random

import pytest

from gpt2lite.data import tiny_shakespeare
from gpt2lite.tokenizer import BPETokenizer, tiktoken_encoding
from test_browser import ARTIFACTS, DESKTOP, PHONE, Visit, browser, site, link_status  # noqa: F401 (its fixtures)

PAGE = "book/02_tokenization.html"
FIGURE = "figure#tokenizer-playground"
RANKS = "_static/vendor/js-tiktoken/gpt2.js"
SHOTS = "interactive-tokenizer-playground"

HELD_OUT = [
    "",
    "I 🦙 llamas 👋🏽 and 🧬!",
    "family 👨‍👩‍👧‍👦, rainbow 🏳️‍🌈, coder 🧑🏽‍💻, kiss 👩‍❤️‍💋‍👨",
    "👍🏻👍🏼👍🏽👍🏾👍🏿 ✋🏿 🇯🇵🇫🇷 #️⃣ ❤️",
    "café naïve résumé Ångström jalapeño",
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030angstro\u0308m",  # the same, with combining accents
    "東京は日本の首都です。北京、서울, ｶﾀｶﾅ and ＦＵＬＬ",
    "  two  spaces\n\n\nnew lines\t\ttabs   \n  ",
    "a\u00a0b\u00a0\u00a0c\u3000d\u3000\u3000e \u3000 f",
    "x\u2028y\u2029z\u0085w\u1680v\u202fu\u205ft\u2000s\u200a!  ",
    "\ufeffBOM first, zero\u200bwidth\u200bspace, soft\u00adhyphen, joiner\u200dhere",
    "vertical\u000btab\u000cform feed\r\nwindows\rold mac\x00nul\x1fus",
    "def f(x):\n    return x ** 2  # square\n\tprint(f(3))\n",
    "const y = arr.map((v, i) => v * i);\nif (a !== b) { console.log(`${a}`); }\n",
    "<div class=\"x\">&amp; </div> SELECT * FROM t WHERE id=42; $ ls -la ~/.cache",
    "The end.<|endoftext|>Once upon",
    "<|endoftext|>",
    "I'm sure they've 3 dogs, you'll AGREE!! I'M  sure. DON'T it's 'quoted'",
    "In 1564, 3.14159 and 1,000,000 and -42e7 and 0x1F; ٣٤٥ ½ Ⅻ ²",
    "Ωμέγα, Москва, नमस्ते, مرحبا, שלום, ᚠᛇᚻ",
    "∮ E⋅da = Q, n → ∞, 𝔉𝔯𝔞𝔨𝔱𝔲𝔯, ﷽",
    "https://example.com/a?b=1&c=%20#top mail@example.org",
    "a" * 3000 + "🦙" * 300,  # one long chunk, then another
    "   \n\t  ",
    "hello ",
    "x",
]


@pytest.fixture(scope="module")
def gpt2():
    return BPETokenizer.from_tiktoken("gpt2")


@pytest.fixture(scope="module")
def shakespeare_slices():
    text = tiny_shakespeare()  # the public loader: $GPT2LITE_DATA_DIR, else the cache
    rng = random.Random(2)
    slices = [text[a:a + n] for a, n in ((rng.randrange(len(text) - 2000), rng.choice([1, 40, 300, 1500]))
                                         for _ in range(8))]
    return slices, text[300_000:420_000]  # eight short slices and one very long one (120,000 characters)


def open_figure(browser, site, viewport):
    visit = Visit(browser, site, PAGE, viewport)
    figure = visit.page.locator(FIGURE)
    figure.wait_for(state="attached")
    visit.page.wait_for_selector(f"{FIGURE}[data-ready]", state="attached")
    assert figure.get_attribute("data-ready") == "yes", f"the figure failed: {visit.console}"
    return visit, figure


def type_text(figure, text: str, *, keys: bool = False) -> dict:
    """Put text in the figure's box (fill, or key presses), wait for the page to show it, read what it shows."""
    box = figure.get_by_label("Type any text")
    done = int(figure.get_attribute("data-updates") or 0)
    if keys:
        box.fill("")
        box.press_sequentially(text, delay=5)
    elif len(text) > 5000:  # pasted: Playwright's fill types a long text far slower than a paste
        box.evaluate("(b, t) => { b.value = t; b.dispatchEvent(new InputEvent('input', {bubbles: true, "
                     "inputType: 'insertFromPaste'})); }", text)
    else:
        box.fill(text)
    figure.page.wait_for_function(
        "([f, n]) => Number(f.dataset.updates) > n && !f.dataset.busy", arg=[figure.element_handle(), done])
    shown = figure.evaluate("""f => ({
        ids: JSON.parse(f.querySelector('.g2l-tok-ids textarea').value),
        chips: [...f.querySelectorAll('.g2l-chip')].map(c => Number(c.dataset.id)),
        count: f.querySelector('.g2l-tok-count').textContent,
        tokens: Number(f.querySelector('.g2l-tok-count').dataset.tokens),
        status: f.querySelector('.g2l-status').textContent,
        value: f.querySelector('textarea').value})""")
    # a text box holds no "\r": the browser makes "\r\n" and "\r" a "\n", and the page encodes what it holds
    assert shown["value"] == text.replace("\r\n", "\n").replace("\r", "\n")
    return shown


def check_ids(shown: dict, text: str, gpt2) -> None:
    """The page's ids, count and chips for text are Python's (and tiktoken's) for what its box holds."""
    assert shown["value"] == text.replace("\r\n", "\n").replace("\r", "\n")
    text = shown["value"]
    expected = gpt2.encode(text)
    assert expected == tiktoken_encoding("gpt2").encode_ordinary(text)
    assert shown["ids"] == expected, f"{text[:80]!r}: the page's ids differ from Python's"
    assert shown["chips"] == expected[:500]
    assert shown["tokens"] == len(expected)
    assert shown["count"].startswith(f"{len(expected):,} token{'s' if len(expected) != 1 else ''} from ")


@pytest.mark.slow
def test_tokenizer_playground_gives_gpt2s_ids_for_typed_text(browser, site, gpt2, shakespeare_slices):
    slices, long_text = shakespeare_slices
    texts = HELD_OUT + slices + [long_text]
    assert len(texts) >= 25
    visit, figure = open_figure(browser, site, DESKTOP)
    try:
        page = visit.page
        start = json.loads(figure.locator("script.gpt2lite-data").text_content())
        shown = figure.evaluate("f => [...f.querySelectorAll('.g2l-chip')].map(c => Number(c.dataset.id))")
        assert shown == start["ids"] == gpt2.encode(start["text"])  # at once: the ids Python computed
        figure.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / f"{SHOTS}-desktop.png")
        for text in texts:
            shown = type_text(figure, text)
            check_ids(shown, text, gpt2)
            if text == "":
                assert "empty" in shown["status"]
            if "<|endoftext|>" in text:
                assert "ordinary text" in shown["status"] and 50256 not in shown["ids"]
            if len(text) > 100_000:
                assert "Showing the first 500" in shown["status"]
        # real key presses, with Enter for the newline, then Backspace
        text = "Hi there, 2 spaces  and 👋🏽\nnew line"
        check_ids(type_text(figure, text, keys=True), text, gpt2)
        figure.get_by_label("Type any text").press("Backspace")
        page.wait_for_function("f => !f.dataset.busy", arg=figure.element_handle())
        check_ids(type_text(figure, text[:-1]), text[:-1], gpt2)
        # and 300 random texts of the characters most likely to differ between two regex engines
        rng = random.Random(0)
        alphabet = list("aZ09 '.,!-_\n\t\r\x0b\x0c") + [
            "\xa0", "\u3000", "\x85", "\ufeff", "\u200d", "\u2028", "\u1680", "\u202f", "é", "e\u0301", "ß", "語",
            "🦙", "👋🏽", "👨‍👩‍👧", "🏳️‍🌈", "\x00", "\x1c", "٣", "½", "Ⅻ", "𝔉", "ǅ", "ʰ", "'s", "'S", "'ll", "  ", "\u00ad"]
        for _ in range(300):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))
            check_ids(type_text(figure, text), text, gpt2)
        assert not visit.console, visit.console
        assert not visit.failed and not visit.outside, (visit.failed, visit.outside)
    finally:
        visit.close()


@pytest.mark.slow
def test_pointing_at_a_chip_shows_its_id_and_bytes(browser, site, gpt2):
    visit, figure = open_figure(browser, site, DESKTOP)
    try:
        page = visit.page
        text = "Hello world 🦙"
        ids = type_text(figure, text)["ids"]
        detail = figure.locator(".g2l-tok-detail")
        figure.get_by_label("Type any text").focus()
        page.keyboard.press("Tab")  # from the box to the chips: one tab stop, then the arrow keys
        focused = page.evaluate("document.activeElement.dataset.id")
        assert focused == str(ids[0]) and f"has id {ids[0]};" in detail.text_content()
        assert "5 bytes: 48 65 6C 6C 6F" in detail.text_content()
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.activeElement.dataset.id") == str(ids[1])
        assert f"has id {ids[1]};" in detail.text_content() and "20 77 6F 72 6C 64" in detail.text_content()
        page.keyboard.press("End")
        last = gpt2.vocab[ids[-1]]
        assert f"has id {ids[-1]};" in detail.text_content() and "part of a character" in detail.text_content()
        assert " ".join(f"{b:02X}" for b in last) in detail.text_content()
        page.keyboard.press("Tab")  # the next tab stop is the list of ids, not the next chip
        assert page.evaluate("document.activeElement.getAttribute('name')") == "ids"
        figure.locator(".g2l-chip").nth(2).hover()
        assert f"has id {ids[2]};" in detail.text_content()
        figure.locator(".g2l-chip").nth(0).focus()
        figure.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / f"{SHOTS}-focus.png")
        assert not visit.console, visit.console
    finally:
        visit.close()


@pytest.mark.slow
def test_tokenizer_playground_works_at_phone_width(browser, site, gpt2):
    visit, figure = open_figure(browser, site, PHONE)
    try:
        page = visit.page
        text = "A very long line with no break: " + "x" * 300 + " https://example.com/" + "a/" * 60 + " 🦙 end"
        check_ids(type_text(figure, text), text, gpt2)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {PHONE['width']} px"
        box = figure.get_by_label("Type any text").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["width"] >= 250
        assert box["height"] >= 44  # a text box a thumb can hit
        widest = figure.evaluate("f => Math.max(...[...f.querySelectorAll('.g2l-chip, .gpt2lite-live')].map(c => "
                                 "c.getBoundingClientRect().right))")
        assert widest <= PHONE["width"]
        figure.get_by_label("Type any text").click()
        text = "Typed on a phone: 12345 hello Hello"
        check_ids(type_text(figure, text), text, gpt2)
        figure.scroll_into_view_if_needed()
        page.evaluate("document.querySelector('figure#tokenizer-playground').scrollIntoView({block: 'start'})")
        page.evaluate("window.scrollBy(0, -70)")
        page.screenshot(path=ARTIFACTS / f"{SHOTS}-phone.png")
        assert not visit.console, visit.console
    finally:
        visit.close()
