"""nbgrader itself grades the chapters: `generate_assignment` strips the answers, `autograde` gives the answers full
marks, the untouched student copies zero, and an answer that hands back the library's own result zero for that
exercise. (nbgrader reads the metadata `python -m gpt2lite.course mark` writes.)"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gpt2lite import course

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = course.chapters(ROOT / "book")
# A student who answers by calling what the exercise asks them to write (each import style once): the check must
# refuse it, so nbgrader gives that exercise zero. Chapter: (exercise, the body put between the solution markers).
SHORTCUTS = {
    "04_self_attention": ("ex-04-gqa", "    import torch.nn.functional as F\n"
                          "    return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)\n"),
    "05_decoder_block": ("ex-05-rmsnorm", "    from torch.nn.functional import rms_norm\n"
                         "    return rms_norm(x, x.shape[-1:], gain, eps)\n"),
    "08_sampling": ("ex-08-filter-rows", "    from gpt2lite.generate import filter_logits\n"
                    "    return torch.cat([filter_logits(logits[i:i + 1], int(top_k[i]), float(top_p[i]))"
                    " for i in range(len(logits))])\n"),
}


def shortcut_copy(chapter: Path, label: str, body: str) -> dict:
    """The chapter with its answers, one of them replaced by `body` (the rest of that cell kept)."""
    notebook = json.loads(chapter.read_text())
    (ex,) = [e for e in course.exercises(notebook, chapter.name) if e.label == label]
    cell = notebook["cells"][ex.solution]
    before, rest = course.source(cell).split(course.BEGIN)
    after = rest.split(course.END)[1]
    cell["source"] = before + course.BEGIN + "\n" + body + "    " + course.END + after
    return notebook


def nbgrader(course_dir: Path, *args: str) -> None:
    # nbgrader runs `alembic` in a subprocess: the virtualenv's bin/ must be on PATH.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course_dir, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.slow
def test_generate_assignment_and_autograde(tmp_path):
    course_dir = tmp_path / "course"
    (course_dir / "source" / "book").mkdir(parents=True)
    for chapter in CHAPTERS:
        shutil.copy(chapter, course_dir / "source" / "book")
    (course_dir / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course_dir)!r}\n"
        "c.CourseDirectory.course_id = 'gpt2lite'\n"
        f"c.Exchange.root = {str(tmp_path / 'exchange')!r}\n"
        "c.Execute.timeout = 600\n"  # the training chapters run for a minute
        # nbgrader's own client must not miss a reply after a cell with ipywidgets (see nbclient_polling.py)
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import nbclient_polling; nbclient_polling.install()\n"
    )
    nbgrader(course_dir, "generate_assignment", "book", "--force")

    release = course_dir / "release" / "book"
    for chapter in CHAPTERS:
        source_nb = json.loads(chapter.read_text())
        released = json.loads((release / chapter.name).read_text())
        by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): course.source(c) for c in released["cells"]}
        for ex in course.exercises(source_nb, chapter.name):
            inside = course.source(source_nb["cells"][ex.solution]).split(course.BEGIN)[1].split(course.END)[0]
            stub = by_id[ex.label]
            shown = [line for line in inside.splitlines() if line.strip() and line in stub.splitlines()]
            assert not shown, f"{chapter.name} {ex.label}: nbgrader's student copy shows the answer: {shown[0]!r}"
            assert "raise NotImplementedError()" in stub and "### BEGIN SOLUTION" not in stub

    for student, folder in [("solutions", course_dir / "source" / "book"), ("untouched", release)]:
        shutil.copytree(folder, course_dir / "submitted" / student / "book")
    shortcuts = course_dir / "submitted" / "shortcuts" / "book"  # only these chapters: the rest count as missing
    shortcuts.mkdir(parents=True)
    for chapter in CHAPTERS:
        if chapter.stem in SHORTCUTS:
            copy = shortcut_copy(chapter, *SHORTCUTS[chapter.stem])
            (shortcuts / chapter.name).write_text(json.dumps(copy, indent=1, ensure_ascii=False) + "\n")
    nbgrader(course_dir, "autograde", "book", "--force")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        for chapter in CHAPTERS:
            found = course.exercises(json.loads(chapter.read_text()), chapter.name)
            points = sum(ex.points for ex in found)  # 1, 2 or 3 each, by difficulty
            assert points > len(found), f"{chapter.stem}: every exercise is worth the same"
            solved = gb.find_submission_notebook(chapter.stem, "book", "solutions")
            untouched = gb.find_submission_notebook(chapter.stem, "book", "untouched")
            assert solved.max_score == points
            assert solved.score == points, f"{chapter.stem}: the solutions scored {solved.score}/{points}"
            assert untouched.score == 0, f"{chapter.stem}: the untouched student copy scored {untouched.score}"
        for stem, (label, _) in SHORTCUTS.items():
            notebook = json.loads((ROOT / "book" / f"{stem}.ipynb").read_text())
            found = {ex.label: ex for ex in course.exercises(notebook, stem)}
            points = sum(ex.points for ex in found.values())
            shortcut = gb.find_grade(f"{label}-check", stem, "book", "shortcuts")
            assert shortcut.max_score == found[label].points
            assert shortcut.score == 0, f"{stem}: the shortcut answer to {label} scored {shortcut.score}"
            total = gb.find_submission_notebook(stem, "book", "shortcuts").score
            expected = points - found[label].points
            assert total == expected, f"{stem}: with one shortcut the answers scored {total}/{points}, not {expected}"
