"""The book: its chapters are executed, well formed, agree with _config.yml, and build without a warning.

(nbval, run on book/ by the same pytest command, re-executes every chapter and compares its outputs.)
"""

import difflib
import html as html_lib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gpt2lite import checks, course

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
TOC_FILES = [c["file"] for part in TOC["parts"] for c in part["chapters"]]
NOTEBOOKS = [ROOT / f"{f}.ipynb" for f in TOC_FILES if (ROOT / f"{f}.ipynb").exists()]
CHAPTERS = [p for p in NOTEBOOKS if p.name[0].isdigit()]  # the numbered chapters, with exercises; the rest are appendices
REPO_URL = CONFIG["repository"]["url"]
JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")  # the one installed beside this Python


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def code_cells(path: Path) -> list[dict]:
    return [c for c in cells(path) if c["cell_type"] == "code"]


def test_every_toc_entry_exists():
    missing = [f for f in TOC_FILES if not any((ROOT / f"{f}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert not missing
    assert len(CHAPTERS) == 10 and len(NOTEBOOKS) == 11  # and the appendix "How fast is it?"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_is_executed_in_order_without_errors(path):
    executed = [c for c in code_cells(path) if "skip-execution" not in c["metadata"].get("tags", [])]
    counts = [c["execution_count"] for c in executed]
    assert all(n is not None for n in counts), "execute the notebook top to bottom before committing it"
    assert counts == list(range(1, len(counts) + 1)), "cells were run out of order: re-run it in a fresh kernel"
    errors = [o for c in executed for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_cell_agrees_with_config(path):
    setup = code_cells(path)[0]
    # the page shows no setup code before the chapter's picture: the Colab button and "Running the book" explain it
    assert "remove-input" in setup["metadata"].get("tags", [])
    assert f'REPO_URL = "{REPO_URL}"' in source(setup)
    assert setup["outputs"] == [], "the setup cell must be silent outside Colab"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_fits_the_page(path):
    """No code line over 88 characters, in code cells or in the code blocks of the text (a bug hunt's code): a wider
    one makes the reader scroll sideways."""
    shown = [block for c in cells(path) if c["cell_type"] == "markdown"
             for block in re.findall(r"```python\n(.*?)```", source(c), flags=re.S)]
    wide = [line for text in [source(c) for c in code_cells(path)] + shown for line in text.splitlines()
            if len(line) > 88]
    assert not wide, f"{path.stem}: {len(wide)} code lines over 88 characters, e.g. {wide[0]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_chapter_leans_on_the_test_machines(path):
    """What passes here must pass in Colab: no chapter reads a variable or a folder that only test machines have
    (tests/test_colab.py runs every chapter without them)."""
    code = "\n".join(source(c) for c in code_cells(path))
    for name in ("GPT2LITE_", "TIKTOKEN_CACHE_DIR", "HF_HUB_OFFLINE", "shared/", "\"gpt2_vocab\""):
        assert name not in code, f"{path.stem} mentions {name!r}"


def figure_cells(path: Path) -> list[dict]:
    """Code cells that show a picture: a drawing (SVG) or a data plot (PNG)."""
    return [c for c in code_cells(path)
            if any(k.startswith("image/") for o in c["outputs"] for k in o.get("data", {}))]


def drawing_cells(path: Path) -> list[dict]:
    """Cells that show a drawing of gpt2lite.draw (SVG), as opposed to a data plot."""
    return [c for c in figure_cells(path)
            if "draw." in source(c) and any("image/svg+xml" in o.get("data", {}) for o in c["outputs"])]


def interactive_cells(path: Path) -> list[dict]:
    """Cells that show an interactive figure of gpt2lite.interactive (HTML with its data and its JavaScript)."""
    return [c for c in code_cells(path)
            if any('class="gpt2lite-interactive"' in "".join(o.get("data", {}).get("text/html", ""))
                   for o in c["outputs"])]


def visible_input(cell: dict) -> bool:
    tags = cell["metadata"].get("tags", [])
    return not {"hide-input", "remove-input", "remove-cell", "hide-cell"} & set(tags)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_alt_text_and_a_caption(path):
    """myst-nb puts a cell's `mystnb.image.alt` on the image and `mystnb.figure.caption` under it."""
    names = []
    for cell in figure_cells(path):
        meta = cell["metadata"].get("mystnb", {})
        alt, caption = meta.get("image", {}).get("alt", ""), meta.get("figure", {}).get("caption", "")
        first = source(cell).splitlines()[0]
        assert len(alt.split()) >= 5, f"{path.stem}: the figure of cell {first!r} needs alt text that says what it shows"
        assert len(caption.split()) >= 3, f"{path.stem}: the figure of cell {first!r} needs a caption"
        names.append(meta.get("figure", {}).get("name"))
    assert all(names) and len(set(names)) == len(names), f"{path.stem}: figures need distinct names: {names}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_with_its_picture_and_draws_its_ideas(path):
    """At least three drawings from gpt2lite.draw; the first comes before any code the reader sees, its own code
    hidden; no chapter hand-codes a diagram."""
    drawings = drawing_cells(path)
    assert len(drawings) >= 3, f"{path.stem}: {len(drawings)} drawings"
    code = code_cells(path)
    opening = code.index(drawings[0])
    assert "remove-input" in drawings[0]["metadata"].get("tags", []), f"{path.stem}: the opening picture shows code"
    shown_before = [source(c).splitlines()[0] for c in code[:opening] if visible_input(c)]
    assert not shown_before, f"{path.stem}: code comes before the opening picture: {shown_before}"
    everything = "\n".join(source(c) for c in code)
    for hand_drawn in ("Drawing(", "matplotlib.patches", "FancyArrow", "FancyBboxPatch"):
        assert hand_drawn not in everything, f"{path.stem} draws by hand ({hand_drawn}): add a function to gpt2lite.draw"


INTERACTIVE = {  # chapter: the kinds of interactive figure it shows (issue 13)
    "02_tokenization": ["tokenizer"],
    "04_self_attention": ["attention"],
    "08_sampling": ["sampling", "generation"],
    "10_gpt_bert": ["attention"],
}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_interactive_figures_are_where_readers_play(path):
    """Each interactive figure is shown once, by a cell of gpt2lite.interactive, with alt text and a caption;
    its still picture (for print and for a page without JavaScript) is there too."""
    kinds = []
    for cell in interactive_cells(path):
        output = next("".join(o["data"]["text/html"]) for o in cell["outputs"] if "text/html" in o.get("data", {}))
        kinds += re.findall(r'<figure class="gpt2lite-interactive" id="[^"]+" data-figure="([a-z]+)">', output)
        assert "interactive." in source(cell), f"{path.stem}: an interactive figure not made by gpt2lite.interactive"
        assert re.search(r'<img alt="(?:[^"\s]+\s+){4,}[^"]*" src="data:image/svg\+xml;base64,', output)
        assert re.search(r"<figcaption>(?:\S+\s+){2,}\S+", output), f"{path.stem}: an interactive figure's caption"
    assert kinds == INTERACTIVE.get(path.stem, []), f"{path.stem}: interactive figures {kinds}"


def test_the_book_has_forty_drawings():
    per_chapter = {p.stem: len(drawing_cells(p)) for p in CHAPTERS}
    assert sum(per_chapter.values()) >= 40, per_chapter


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercises_are_checkable(path):
    """3 to 5 exercises, easy to hard, each labelled with its minutes and kind; each has one solution cell in a
    dropdown, with the answer between nbgrader's markers and a hint for the student's stub, then a check cell that
    calls a gpt2lite.checks function and passed."""
    all_cells = cells(path)
    labels = [m for c in all_cells if c["cell_type"] == "markdown"
              for m in re.findall(r"```+\{exercise\}[^\n]*\n:label: (\S+)", source(c))]
    found = course.exercises(json.loads(path.read_text()), path.name)  # raises if one is laid out wrongly
    assert [ex.label for ex in found] == labels and 3 <= len(labels) <= 5, labels
    levels = [course.LEVELS[ex.level] for ex in found]
    assert levels == sorted(levels), f"exercises go from easy to hard: {[ex.level for ex in found]}"
    assert all(5 <= ex.minutes <= 90 for ex in found), [ex.minutes for ex in found]
    assert len({ex.kind for ex in found}) >= 2, f"one kind of exercise only: {[ex.kind for ex in found]}"
    for ex in found:
        assert ":class: dropdown" in source(all_cells[ex.solution - 1])
        assert all(hasattr(checks, name) for name in ex.checks), f"{ex.label}: unknown check {ex.checks}"
        outputs = "".join(course.source({"source": o.get("text", "")}) for o in all_cells[ex.check]["outputs"])
        assert outputs.startswith("✓ "), f"{ex.label}: the check cell must run and report success"


def _code_lines(text: str) -> list[str]:
    """The lines that carry code: comments, blank lines, imports and lines under 8 characters dropped, spaces
    removed (so that renaming nothing but the layout does not hide a copy)."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"\s+", "", line.split("#")[0]) if "#" in line and "'" not in line and '"' not in line \
            else re.sub(r"\s+", "", line)
        if len(line) >= 8 and not line.startswith(("import", "from", "@")):
            out.append(line)
    return out


def _answer(cell: dict) -> str:
    text = source(cell)
    return text.split(course.BEGIN, 1)[1].split(course.END, 1)[0]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_solutions_are_not_copies_of_the_chapter(path):
    """An exercise asks for what the chapter has not shown. Measured: the share of an answer's code lines that
    stand nearly to the letter (difflib ratio >= 0.85) in one code cell of the chapter outside the exercises; more
    than 40% is a copy, and so is a one-line answer found anywhere in the chapter."""
    nb = json.loads(path.read_text())
    found = course.exercises(nb, path.name)
    exercise_cells = {i for ex in found for i in (ex.solution, ex.check)}
    shown = [_code_lines(source(c)) for i, c in enumerate(nb["cells"])
             if c["cell_type"] == "code" and i not in exercise_cells]
    copies = {}
    for ex in found:
        answer = _code_lines(_answer(nb["cells"][ex.solution]))
        assert answer, f"{ex.label}: the answer has no code"

        def copied(cell_lines, answer=answer):
            return [a for a in answer
                    if any(difflib.SequenceMatcher(None, a, b).ratio() >= 0.85 for b in cell_lines)]

        share = max((len(copied(lines)) / len(answer) for lines in shown), default=0.0)
        if share > 0.4 or (len(answer) == 1 and share > 0):
            copies[ex.label] = f"{share:.0%} of {len(answer)} lines"
    assert not copies, f"answers that retype the chapter's code: {copies}"


def test_the_book_asks_for_every_kind_of_exercise():
    """Variations, derivations, measurements and bug hunts, at least five of each; no exercise repeats another (one
    title, one check each)."""
    found = [ex for p in CHAPTERS for ex in course.exercises(json.loads(p.read_text()), p.name)]
    per_kind = {kind: sum(ex.kind == kind for ex in found) for kind in course.KINDS}
    assert all(n >= 5 for n in per_kind.values()), per_kind
    titles = [ex.title.lower() for ex in found]
    assert len(set(titles)) == len(titles), sorted(t for t in titles if titles.count(t) > 1)
    used = [name for ex in found for name in ex.checks]
    assert len(set(used)) == len(used), sorted(n for n in used if used.count(n) > 1)
    assert set(used) == set(checks._WHERE), set(checks._WHERE) ^ set(used)
    plural = {"variation": "variations", "derivation": "derivations", "measurement": "measurements",
              "bug hunt": "bug hunts"}
    said = ", ".join(f"{per_kind[k]} {plural[k]}" for k in course.KINDS[:-1]) + f" and {per_kind['bug hunt']} bug hunts"
    assert f"Every exercise ({len(found)}, in ten chapters: {said})" in (ROOT / "README.md").read_text()


def test_nbgrader_metadata_is_up_to_date():
    """`python -m gpt2lite.course mark book/` has been run: nbgrader sees every solution and check cell."""
    assert course.main(["mark", "--check", str(ROOT / "book")]) == 0


@pytest.mark.slow
def test_book_builds_strictly(tmp_path):
    result = subprocess.run(
        [JUPYTER_BOOK, "build", "-W", "-n", "--keep-going", "--all", str(ROOT), "--path-output", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = tmp_path / "_build" / "html"
    for path in CHAPTERS:
        page = (html / "book" / f"{path.stem}.html").read_text()
        colab = f"https://colab.research.google.com/github/{REPO_URL.removeprefix('https://github.com/')}/blob/main/book/{path.name}"
        assert colab in page, f"{path.stem}: no Colab button pointing at its notebook"
        assert 'class="solution dropdown' in page
        number = int(path.stem.split("_")[0])  # exercises are numbered within their chapter: Exercise 4.2
        found = course.exercises(json.loads(path.read_text()), path.name)
        shown = sorted(set(re.findall(rf"Exercise {number}\.(\d+)", page)), key=int)
        assert shown == [str(i) for i in range(1, len(found) + 1)], f"{path.stem}: exercises numbered {shown}"
        assert f'<span class="section-number">{number}. </span>' in page, f"{path.stem}: not chapter {number}"
        assert "### BEGIN SOLUTION" not in page and "### END SOLUTION" not in page, "nbgrader markers must not show"
        # figures: each picture a numbered figure with its caption, each image with its alt text
        images = [i for i in re.findall(r"<img [^>]*>", page) if "_images/" in i]  # the chapter's own pictures
        assert images and all(re.search(r'alt="[^"]{20,}"', i) for i in images), f"{path.stem}: an image lacks alt text"
        n_figures = len(figure_cells(path)) + len(interactive_cells(path))
        assert page.count("<figcaption") == n_figures, f"{path.stem}: a figure lacks its caption"
        # offline: every script and stylesheet is the book's own (MathJax comes from node_modules, see package.json)
        outside = re.findall(r'<(?:script|link)[^>]*(?:src|href)="(https?://[^"]+)"[^>]*>', page)
        assert not outside, f"{path.stem}: the page loads {outside}"
        assert '<script defer="defer" src="../_static/mathjax/tex-mml-chtml.js"></script>' in page
    assert (html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2" / "MathJax_Main-Regular.woff").is_file()


def visible_text(page: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", page)))


def visible_code(page: str) -> str:
    """The text of the page's code blocks."""
    return "\n".join(html_lib.unescape(re.sub(r"<[^>]+>", "", block)) for block in re.findall(r"<pre.*?</pre>", page, re.S))


@pytest.mark.slow
def test_book_builds_without_solutions(tmp_path):
    """One switch (GPT2LITE_HIDE_SOLUTIONS=1) leaves every solution out of the pages, and keeps exercises and checks."""
    env = {**os.environ, "GPT2LITE_HIDE_SOLUTIONS": "1"}
    result = subprocess.run(
        [JUPYTER_BOOK, "build", "-W", "-n", "--keep-going", "--all", str(ROOT), "--path-output", str(tmp_path)],
        capture_output=True, text=True, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    verified = 0  # exercises whose answer has a line of its own, which must then be absent from the page
    for path in CHAPTERS:
        page = (tmp_path / "_build" / "html" / "book" / f"{path.stem}.html").read_text()
        text = visible_text(page)
        assert 'class="solution' not in page, f"{path.stem}: a solution is still in the page"
        all_cells = cells(path)
        for ex in course.exercises(json.loads(path.read_text()), path.name):
            # lines the reader is given anyway: the chapter's other code, and the exercise's own text (a bug hunt
            # shows the code to repair, most of whose lines the repaired answer keeps)
            given = [source(c) for i, c in enumerate(all_cells) if i != ex.solution and c["cell_type"] == "code"]
            elsewhere = "\n".join(given + [source(all_cells[ex.solution - 2])])
            answer = source(all_cells[ex.solution]).split(course.BEGIN)[1].split(course.END)[0]
            only_here = [line.strip() for line in answer.splitlines()
                         if len(line.strip()) > 12 and line.strip() not in elsewhere]  # lines only the answer has
            verified += bool(only_here)
            shown = [line for line in only_here if line in visible_code(page)]
            assert not shown, f"{ex.label}: answer code is visible: {shown[0]!r}"
            assert any(name in text for name in ex.checks), f"{ex.label}: its check cell is missing"
    assert verified >= 35, f"only {verified} answers could be looked for in the pages"
