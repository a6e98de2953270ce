"""The rendered book in a real browser: headless Chromium, driven by Playwright, on the built pages served locally.

For every page: HTTP 200, no console errors and no failed requests, nothing fetched from outside 127.0.0.1 (the
book works offline: MathJax is shipped with it), every image loaded with a non-zero size, every internal link and
anchor resolves, the math is typeset by MathJax, each notebook's Colab button opens that notebook, and exercise
solutions start collapsed and open on a click. Two pages get the same checks at phone width (400 px).
Screenshots and a JSON report with the counts go to `_build/browser/` (or $GPT2LITE_BROWSER_ARTIFACTS).

Needs Debian's Chromium (`apt-get install chromium`); `.ci/run` installs it and sets GPT2LITE_REQUIRE_BROWSER=1,
so there a missing browser fails instead of skipping. Playwright's own browser download is not used.
"""

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")
ARTIFACTS = Path(os.environ.get("GPT2LITE_BROWSER_ARTIFACTS", ROOT / "_build" / "browser"))
SITE = ARTIFACTS / "site" / "_build" / "html"  # where the fixture builds the book
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 400, "height": 860}
CHAPTER_PAGES = sorted(f"book/{p.stem}.html" for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
SCREENSHOTS = {  # page: (file name, what to scroll to the top of the picture)
    "book/intro.html": ("intro", None),
    "book/04_self_attention.html": ("attention-math", "div.math"),
    "book/08_sampling.html": ("sampling-figure", "div.cell_output img"),
    # every chapter at its opening picture, drawn by gpt2lite.draw
    **{page + "#fig": (Path(page).stem, "figure") for page in CHAPTER_PAGES},
}
PHONE_PAGES = ["book/intro.html", *CHAPTER_PAGES]  # every chapter, at 400 px
COLAB = "https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"


def _unavailable(message: str) -> None:
    if os.environ.get("GPT2LITE_REQUIRE_BROWSER") == "1":  # CI: never skip
        raise RuntimeError(message)
    pytest.skip(message, allow_module_level=True)


if CHROMIUM is None:
    _unavailable("needs Debian's Chromium: apt-get install chromium (or set CHROMIUM to a Chromium binary)")
try:
    from playwright import sync_api
except ImportError:
    _unavailable("needs Playwright: pip install -r requirements.txt")


def _build_pages() -> list[str]:
    return sorted(
        str(p.relative_to(SITE)) for p in SITE.rglob("*.html") if not p.relative_to(SITE).parts[0].startswith("_")
    )


COUNTS = ("pages", "links", "anchors", "images", "figures", "drawings", "interactive", "math", "solutions",
          "colab_buttons")
VENDOR_OF = {"tokenizer": "js-tiktoken", "generation": "onnxruntime-web"}  # the npm package a figure loads
REPORT = {"desktop": dict.fromkeys(COUNTS, 0), "phone": dict.fromkeys(COUNTS, 0), "screenshots": [],
          "figures_per_page": {}}
TARGETS = set()  # every internal link target (with its #anchor) seen on a checked page


@pytest.fixture(scope="module")
def site():
    """Build the book (strictly), serve it on 127.0.0.1, yield its base URL."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    result = subprocess.run(
        [JUPYTER_BOOK, "build", "-W", "-n", "--keep-going", str(ROOT), "--path-output", str(ARTIFACTS / "site")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    REPORT["distinct_links"] = len(TARGETS)
    REPORT["distinct_pages_linked"] = len({urldefrag(t)[0] for t in TARGETS})
    (ARTIFACTS / "report.json").write_text(json.dumps(REPORT, indent=2) + "\n")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(site):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class Visit:
    """One page in a fresh browser context, with every console message, failed request and outside request recorded."""

    def __init__(self, browser, base: str, path: str, viewport: dict, color_scheme: str = "light"):
        self.base, self.path = base, path
        self.context = browser.new_context(viewport=viewport, color_scheme=color_scheme)
        self.context.set_default_timeout(10_000)
        self.outside, self.failed, self.console, self.requested = [], [], [], []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.console.append(f"{m.text} ({m.location.get('url')})"))
        self.page.on("pageerror", lambda e: self.console.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url}: HTTP {r.status}"))
        self.response = self.page.goto(base + path, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        if self.page.locator(".math").count():  # let MathJax finish typesetting
            self.page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
            self.page.evaluate("MathJax.startup.promise")

    def _route(self, route):
        if route.request.url.startswith(self.base):
            self.requested.append(route.request.url.removeprefix(self.base))
            route.continue_()
        else:  # the book must not need the internet; record and refuse
            self.outside.append(route.request.url)
            route.abort()

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def link_status(site):
    """HTTP status and element ids of an internal URL (without its #anchor), each URL fetched once."""
    cache = {}

    def fetch(url: str) -> tuple[int, set[str]]:
        if url not in cache:
            try:
                with urllib.request.urlopen(url) as response:
                    body = response.read().decode("utf-8", errors="replace")
                    ids = set(re.findall(r'\bid="([^"]+)"', body)) if "html" in response.headers["Content-Type"] else set()
                    cache[url] = (response.status, ids)
            except urllib.error.HTTPError as error:
                cache[url] = (error.code, set())
        return cache[url]

    return fetch


def check_page(visit: Visit, link_status, site: str, tally: dict) -> None:
    """Every check a page must pass, at any width; counts what it checked in `tally`."""
    page, where = visit.page, visit.path
    assert visit.response is not None and visit.response.status == 200, f"{where}: HTTP {visit.response and visit.response.status}"

    # math: MathJax (from our own copy) has typeset every formula, without TeX errors
    n_math = page.locator(".math").count()
    if n_math:
        typeset = page.locator(".math mjx-container").count()
        assert typeset == n_math, f"{where}: MathJax typeset {typeset} of {n_math} formulas"
        assert page.locator("mjx-merror").count() == 0, f"{where}: MathJax reports a TeX error"
        assert page.evaluate("document.fonts.status") == "loaded"
        raw = page.evaluate(r"""[...document.querySelectorAll('.math')].map(e => e.innerText).filter(t => /\\\(|\\\[/.test(t))""")
        assert not raw, f"{where}: untypeset math: {raw[:3]}"
        scripts = page.evaluate("[...document.scripts].map(s => s.src).filter(s => s.includes('mathjax'))")
        assert scripts and all(s.startswith(site) for s in scripts), f"{where}: MathJax not loaded from the book: {scripts}"
        tally["math"] += n_math

    # images: loaded, with a non-zero size; those on screen (not in a collapsed solution) are drawn non-zero too
    images = page.evaluate("""[...document.images].map(i => ({src: i.currentSrc || i.src, complete: i.complete,
        w: i.naturalWidth, h: i.naturalHeight, shown: i.offsetParent !== null,
        rw: i.getBoundingClientRect().width, rh: i.getBoundingClientRect().height}))""")
    for image in images:
        assert image["complete"] and image["w"] > 0 and image["h"] > 0, f"{where}: image not loaded: {image['src']}"
        if image["shown"]:
            assert image["rw"] > 0 and image["rh"] > 0, f"{where}: image drawn at zero size: {image['src']}"
    figures = page.evaluate("""[...document.querySelectorAll('figure, div.cell_output img')]
        .filter(f => !f.closest('figure.is-live .gpt2lite-still'))  // a live figure hides its still picture
        .map(f => f.getBoundingClientRect().width * f.getBoundingClientRect().height)""")
    assert all(area > 0 for area in figures), f"{where}: a figure has zero size"
    tally["images"] += len(images)

    # figures: every picture in the text has alternative text and sits in a numbered figure with its caption;
    # the drawings (gpt2lite.draw's SVG) are counted per page, at least three in every chapter
    shown = page.evaluate("""[...document.querySelectorAll('article img')].map(i => ({src: i.currentSrc || i.src,
        alt: i.getAttribute('alt') || '', figure: !!i.closest('figure'),
        caption: (i.closest('figure')?.querySelector('figcaption')?.innerText || '').trim(),
        wide: i.getBoundingClientRect().right - document.documentElement.clientWidth,
        scale: i.getBoundingClientRect().width / i.naturalWidth}))""")
    for image in shown:
        assert len(image["alt"].split()) >= 5, f"{where}: an image without alternative text: {image['src']}"
        assert image["figure"] and image["caption"], f"{where}: an image without a caption: {image['src']}"
        assert image["wide"] <= 1, f"{where}: a figure runs off the screen by {image['wide']:.0f} px: {image['src']}"
    drawings = [i for i in shown if i["src"].endswith(".svg")]
    if where in CHAPTER_PAGES:
        assert len(drawings) >= 3, f"{where}: {len(drawings)} drawings"
    width = page.viewport_size["width"]
    REPORT["figures_per_page"][f"{where} at {width} px"] = {  # scale: shown size / the drawing's own size
        "figures": len(shown), "drawings": len(drawings),
        "smallest_scale": round(min((i["scale"] for i in drawings), default=1.0), 2),
    }
    tally["figures"] += len(shown)
    tally["drawings"] += len(drawings)

    # interactive figures (gpt2lite.interactive): each one draws itself, and the page fetches only the npm files
    # its figures need (_static/vendor/, copied by book/_ext/offline_assets.py)
    kinds = page.evaluate("[...document.querySelectorAll('figure.gpt2lite-interactive')].map(f => f.dataset.figure)")
    if kinds:
        page.wait_for_function("[...document.querySelectorAll('figure.gpt2lite-interactive')]"
                               ".every(f => f.dataset.ready)", timeout=30_000)
        states = page.evaluate("[...document.querySelectorAll('figure.gpt2lite-interactive')]"
                               ".map(f => f.id + ': ' + f.dataset.ready)")
        assert all(state.endswith(": yes") for state in states), f"{where}: interactive figures {states}"
    vendor = sorted({url.split("_static/vendor/")[1].split("/")[0] for url in visit.requested
                     if "_static/vendor/" in url} & set(VENDOR_OF.values()))  # (the theme's fonts are there too)
    needs = {VENDOR_OF[k] for k in kinds if k in VENDOR_OF}
    assert set(vendor) <= needs, f"{where}: loads {vendor} from _static/vendor/ for figures {kinds}"
    tally["interactive"] += len(kinds)

    # internal links: every target exists, and so does every #anchor in it
    hrefs = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
    internal = [h for h in hrefs if h.startswith(site)]
    for href in internal:
        url, fragment = urldefrag(href)
        status, ids = link_status(url)
        TARGETS.add(href)
        assert status == 200, f"{where}: broken link {href}"
        if fragment and url.endswith(".html"):
            assert unquote(fragment) in ids, f"{where}: link to a missing anchor {href}"
            tally["anchors"] += 1
    tally["links"] += len(internal)

    # Colab: a page made from a notebook has a launch button that opens that very notebook
    source = ROOT / Path(where).with_suffix(".ipynb")
    colab = page.locator('a[href^="https://colab.research.google.com/"]')
    if source.exists():
        repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
        expected = COLAB.format(repo=repo, branch=CONFIG["repository"]["branch"], path=source.relative_to(ROOT).as_posix())
        assert colab.count() == 1 and colab.get_attribute("href") == expected, f"{where}: Colab button {colab.count()}"
        page.locator(".dropdown-launch-buttons button").click()
        colab.wait_for(state="visible")
        tally["colab_buttons"] += 1
    else:
        assert colab.count() == 0, f"{where}: a Colab button on a page that has no notebook"

    # solutions: folded at first; a click on the title's text (a link to the exercise) opens one, the arrow folds
    # it and opens it again
    solutions = page.locator(".solution.dropdown")
    for i in range(solutions.count()):
        solution = solutions.nth(i)
        body, arrow = solution.locator("section").first, solution.locator("button.toggle-button")
        solution.scroll_into_view_if_needed()
        assert not body.is_visible(), f"{where}: solution {i + 1} starts open"
        solution.locator(".admonition-title a").click()
        body.wait_for(state="visible")
        assert body.bounding_box()["height"] > 0
        arrow.click()
        body.wait_for(state="hidden")
        arrow.click()
        body.wait_for(state="visible")
    tally["solutions"] += solutions.count()

    # nothing from outside, nothing missing, nothing logged as an error
    assert not visit.outside, f"{where}: requests outside the book: {visit.outside[:5]}"
    assert not visit.failed, f"{where}: failed requests: {visit.failed[:5]}"
    assert not visit.console, f"{where}: console errors: {visit.console[:5]}"


def _pages() -> list[str]:
    """The pages the book's toc builds, plus the index, search and genindex pages (known before building)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return ["index.html", "genindex.html", "search.html"] + [f"{f}.html" for f in files]


@pytest.mark.slow
@pytest.mark.parametrize("path", _pages())
def test_page_in_desktop_browser(browser, site, link_status, path):
    visit = Visit(browser, site, path, DESKTOP)
    try:
        if path == "index.html":  # Jupyter Book's root page redirects to the first chapter
            visit.page.wait_for_url(site + "book/intro.html")
            assert visit.page.title().endswith(CONFIG["title"])
        for key in (path, path + "#fig"):
            if key in SCREENSHOTS:
                name, target = SCREENSHOTS[key]
                if target:
                    visit.page.locator(target).first.evaluate("e => e.scrollIntoView({block: 'start'})")
                    visit.page.evaluate("window.scrollBy(0, -90)")  # below the sticky header
                shot = ARTIFACTS / f"desktop-{name}.png"
                visit.page.screenshot(path=shot)
                REPORT["screenshots"].append(shot.name)
        check_page(visit, link_status, site, REPORT["desktop"])
        if path == "search.html":  # the search box works offline too
            visit.page.goto(site + "search.html?q=attention")
            visit.page.locator("#search-results li").first.wait_for()
            assert visit.page.locator("#search-results li").count() >= 3
        sidebar, toggle = visit.page.locator("#pst-primary-sidebar"), visit.page.locator("button.primary-toggle:visible")
        if toggle.count():  # the button beside the title folds the table of contents away and back
            toggle.click()
            visit.page.wait_for_function("document.querySelector('#pst-primary-sidebar').getBoundingClientRect().right <= 0")
            toggle.click()
            visit.page.wait_for_function("document.querySelector('#pst-primary-sidebar').getBoundingClientRect().left >= 0")
            assert sidebar.locator("a[href]").count() >= 10
        REPORT["desktop"]["pages"] += 1
    finally:
        visit.close()


def test_every_built_page_is_visited(site):
    assert set(_build_pages()) == set(_pages()), "a page was built that the browser tests do not visit"


def test_interactive_figures_add_under_25_mb_to_the_site(site):
    """What the interactive figures add: the npm files in _static/vendor/ and each figure's HTML (its data, its
    still picture and its inlined JavaScript) in the pages."""
    vendor = {str(p.relative_to(SITE / "_static" / "vendor")): p.stat().st_size
              for package in sorted(set(VENDOR_OF.values()))  # (the theme keeps its fonts in _static/vendor/ too)
              for p in (SITE / "_static" / "vendor" / package).rglob("*") if p.is_file()}
    assert set(vendor) == {"js-tiktoken/gpt2.js", "onnxruntime-web/ort.wasm.min.js",
                           "onnxruntime-web/ort-wasm-simd-threaded.mjs", "onnxruntime-web/ort-wasm-simd-threaded.wasm"}
    figures = {}
    for page in _build_pages():
        text = (SITE / page).read_text()
        for match in re.finditer(r'<figure class="gpt2lite-interactive" id="([^"]+)".*?</figure>\s*<style>.*?</style>'
                                 r"\s*<script>.*?</script>", text, re.S):
            figures[f"{page}#{match.group(1)}"] = len(match.group(0).encode())
    assert len(figures) == 5, sorted(figures)
    total = sum(vendor.values()) + sum(figures.values())
    REPORT["interactive_bytes"] = {"vendor": vendor, "figures": figures, "total": total}
    assert total < 25 * 2**20, f"the interactive figures add {total / 2**20:.1f} MiB"


@pytest.mark.slow
@pytest.mark.parametrize("path", PHONE_PAGES)
def test_page_at_phone_width(browser, site, link_status, path):
    visit = Visit(browser, site, path, PHONE)
    try:
        check_page(visit, link_status, site, REPORT["phone"])
        page = visit.page
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path}: the page scrolls sideways by {overflow} px at {PHONE['width']} px"
        text_width = page.locator("article").bounding_box()["width"]
        assert text_width >= 0.8 * PHONE["width"], f"{path}: the text column is {text_width:.0f} px wide"
        page.evaluate("window.scrollTo(0, 0)")
        shot = ARTIFACTS / f"phone-{Path(path).stem}.png"
        page.screenshot(path=shot)
        REPORT["screenshots"].append(shot.name)
        if page.locator("article figure").count():  # the opening picture, as a phone shows it
            page.locator("article figure").first.evaluate("e => e.scrollIntoView({block: 'start'})")
            shot = ARTIFACTS / f"phone-{Path(path).stem}-figure.png"
            page.screenshot(path=shot)
            REPORT["screenshots"].append(shot.name)
            page.evaluate("window.scrollTo(0, 0)")
        # the two buttons at the top open the table of contents and the page's outline, as dialogs
        for side, shows in (("primary", "Self-attention"), ("secondary", "Contents")):
            dialog = page.locator(f"#pst-{side}-sidebar-modal")
            assert not dialog.is_visible()
            page.locator(f"button.{side}-toggle:visible").click()
            dialog.wait_for(state="visible")
            assert shows in dialog.inner_text() and dialog.locator("a[href]").count() >= (5 if side == "primary" else 3), f"{path}: {side} sidebar"
            if side == "primary":
                page.screenshot(path=ARTIFACTS / f"phone-{Path(path).stem}-contents.png")
            page.keyboard.press("Escape")
            dialog.wait_for(state="hidden")
        REPORT["phone"]["pages"] += 1
    finally:
        visit.close()


INTERACTIVE_PAGES = ["book/02_tokenization.html", "book/04_self_attention.html", "book/08_sampling.html",
                     "book/10_gpt_bert.html"]


def _stills_and_live(page) -> list[dict]:
    return page.evaluate("""[...document.querySelectorAll('figure.gpt2lite-interactive')].map(f => {
        const img = f.querySelector('.gpt2lite-still img'), live = f.querySelector('.gpt2lite-live');
        return {id: f.id, still: img.offsetParent !== null && img.naturalWidth > 0,
                live: live.offsetParent !== null && live.getBoundingClientRect().height > 0,
                caption: f.querySelector('figcaption').offsetParent !== null};
    })""")


@pytest.mark.slow
@pytest.mark.parametrize("path", INTERACTIVE_PAGES)
def test_interactive_figures_print_as_still_pictures_and_need_no_javascript(browser, site, path):
    """On screen a figure is live; printed, and in a browser without JavaScript, its still picture stands in."""
    visit = Visit(browser, site, path, DESKTOP)
    try:
        page = visit.page
        page.wait_for_function("[...document.querySelectorAll('figure.gpt2lite-interactive')].every(f => f.dataset.ready)")
        shown = _stills_and_live(page)
        assert shown and all(f["live"] and not f["still"] and f["caption"] for f in shown), shown
        page.emulate_media(media="print")
        printed = _stills_and_live(page)
        assert all(f["still"] and not f["live"] and f["caption"] for f in printed), printed
    finally:
        visit.close()
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(site) else route.abort())
        page.goto(site + path, wait_until="load")
        without = _stills_and_live(page)
        assert without and all(f["still"] and not f["live"] and f["caption"] for f in without), without
    finally:
        context.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", INTERACTIVE_PAGES)
def test_interactive_figures_run_from_the_notebook_outputs_as_in_jupyter(browser, site, path):
    """A notebook's stored outputs, alone in a page, as Jupyter and Colab show them: no book around them, so no
    _static/ folder. The sampling and attention figures run there as in the book; the tokenizer and the in-page
    GPT need an npm file the book serves, so they show their still picture and say where the live one runs."""
    notebook = json.loads((ROOT / Path(path).with_suffix(".ipynb")).read_text())
    outputs = ["".join(o["data"]["text/html"]) for c in notebook["cells"] if c["cell_type"] == "code"
               for o in c["outputs"] if 'class="gpt2lite-interactive"' in "".join(o.get("data", {}).get("text/html", ""))]
    bare = SITE / "_notebook_outputs" / Path(path).name  # (not a page of the book: test_every_built_page... skips _)
    bare.parent.mkdir(exist_ok=True)
    bare.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>\n" + "\n".join(outputs) + "</body></html>")
    visit = Visit(browser, site, f"_notebook_outputs/{Path(path).name}", DESKTOP)
    try:
        page = visit.page
        page.wait_for_function("[...document.querySelectorAll('figure.gpt2lite-interactive')].every(f => f.dataset.ready)")
        figures = page.evaluate("""[...document.querySelectorAll('figure.gpt2lite-interactive')].map(f => ({
            kind: f.dataset.figure, ready: f.dataset.ready, text: f.innerText,
            picture: [...f.querySelectorAll('img')].some(i => i.offsetParent !== null && i.naturalWidth > 0)}))""")
        assert len(figures) == len(outputs) and all(f["ready"] == "yes" for f in figures), figures
        for figure in figures:
            if figure["kind"] in VENDOR_OF:
                assert figure["picture"] and "book's" in figure["text"], figure["kind"]
        live = _stills_and_live(page)
        for figure, shown in zip(figures, live):
            if figure["kind"] not in VENDOR_OF:
                assert shown["live"] and not shown["still"], shown
        assert not any("_static/" in url for url in visit.requested)
        assert not visit.outside and not visit.failed and not visit.console, (visit.failed, visit.console)
    finally:
        visit.close()


@pytest.mark.slow
def test_drawings_in_dark_mode(browser, site, link_status):
    """In the dark theme the drawings sit on a light panel: their text stays dark on light."""
    from PIL import Image, ImageStat

    path = "book/04_self_attention.html"
    visit = Visit(browser, site, path, DESKTOP, color_scheme="dark")
    try:
        page = visit.page
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        figure = page.locator("article figure img[src$='.svg']").first
        figure.scroll_into_view_if_needed()
        shot = ARTIFACTS / "desktop-dark-04_self_attention.png"
        figure.screenshot(path=shot)
        REPORT["screenshots"].append(shot.name)
        grey = Image.open(shot).convert("L")
        assert ImageStat.Stat(grey).mean[0] > 180, "the drawing is not on a light panel in dark mode"
        assert grey.getextrema()[0] < 80, "the drawing's text is not dark"
        check_page(visit, link_status, site, {k: 0 for k in COUNTS})
    finally:
        visit.close()


# The interactive figures (gpt2lite.interactive), driven as a reader drives them and compared with Python's
# numbers: one module per figure, collected here so that they share this module's build of the book and browser.
from browser_attention import test_attention_explorer_shows_the_chapters_maps  # noqa: E402,F401
from browser_generation import (  # noqa: E402,F401
    test_generation_playground_runs_the_chapters_model_and_writes_torchs_greedy_text,
    test_generation_playground_works_at_phone_width,
)
from browser_sampling import (  # noqa: E402,F401
    test_sampling_explorer_shows_the_packages_probabilities,
    test_sampling_explorer_works_at_phone_width,
)
from browser_tokenizer import (  # noqa: E402,F401
    gpt2,
    shakespeare_slices,
    test_pointing_at_a_chip_shows_its_id_and_bytes,
    test_tokenizer_playground_gives_gpt2s_ids_for_typed_text,
    test_tokenizer_playground_works_at_phone_width,
)
