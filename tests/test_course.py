"""The course generator: student notebooks without answers, an instructor copy, a summary, stable output."""

import json
from pathlib import Path

import pytest

from gpt2lite import course

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def md(text):
    return {"cell_type": "markdown", "id": f"m{abs(hash(text)) % 10**8}", "metadata": {}, "source": text}


def code(text, outputs=(), metadata=None, count=1):
    return {"cell_type": "code", "execution_count": count, "id": f"c{abs(hash(text)) % 10**8}",
            "metadata": dict(metadata or {}), "outputs": list(outputs), "source": text}


ANSWER = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"


def toy_notebook(solution=ANSWER, hint="multiply by two", title="Easy, 5 min, variation: Double it",
                 check="from gpt2lite.checks import check_x\n\ncheck_x(double)"):
    return {"cells": [
        md("# A chapter"),
        code("print('kept')", outputs=[{"output_type": "stream", "name": "stdout", "text": "kept\n"}]),
        md(f"````{{exercise}} {title}\n:label: ex-99-double\n\nWrite `double(x)`.\n````"),
        md("````{solution-start} ex-99-double\n:class: dropdown\n````"),
        code(solution, metadata={"gpt2lite": {"hint": hint}, "execution": {"iopub.status.idle": "2026-11-28T03:00:00Z"}}),
        md("````{solution-end}\n````"),
        code(check, outputs=[{"output_type": "stream", "name": "stdout", "text": "✓ ok\n"}]),
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_finds_the_exercise():
    [ex] = course.exercises(toy_notebook())
    assert (ex.label, ex.title, ex.level, ex.minutes, ex.kind, ex.solution, ex.check, ex.checks, ex.hint) == (
        "ex-99-double", "Double it", "Easy", 5, "variation", 4, 6, ("check_x",), "multiply by two")
    assert ex.points == 1


def test_points_follow_difficulty():
    [hard] = course.exercises(toy_notebook(title="Hard, 45 min, bug hunt: Double it"))
    assert (hard.level, hard.minutes, hard.kind, hard.points) == ("Hard", 45, "bug hunt", 3)
    marked = course.mark(toy_notebook(title="Medium, 20 min, measurement: Double it"))
    assert marked["cells"][6]["metadata"]["nbgrader"]["points"] == 2


def test_student_version():
    student = course.student_version(toy_notebook())
    sources = [course.source(c) for c in student["cells"]]
    assert not any("solution-start" in s or "solution-end" in s for s in sources), "the dropdown markers go"
    assert sources[3] == 'def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("multiply by two")\n'
    solution, check = student["cells"][3], student["cells"][4]
    assert solution["outputs"] == check["outputs"] == [] and solution["execution_count"] is None
    assert check["source"] == toy_notebook()["cells"][6]["source"], "the check cell is kept as it is"
    assert student["cells"][1]["outputs"], "cells outside the exercises keep their outputs"
    assert solution["metadata"]["nbgrader"]["solution"] and check["metadata"]["nbgrader"]["grade"]
    assert "execution" not in solution["metadata"], "no run timestamps"
    namespace = {}
    exec(sources[3], namespace)
    with pytest.raises(NotImplementedError, match="multiply by two"):
        namespace["double"](1)


def test_stub_keeps_the_code_outside_the_markers():
    text = "import math\n\n\ndef f(x):\n    ### BEGIN SOLUTION\n    y = x\n    return y\n    ### END SOLUTION\n\n\ndef g():\n        ### BEGIN SOLUTION\n        pass\n        ### END SOLUTION"
    assert course.stub_solution(text, "hi") == (
        'import math\n\n\ndef f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("hi")\n\n\n'
        'def g():\n        # YOUR CODE HERE\n        raise NotImplementedError("hi")')


def test_instructor_version_keeps_the_answers():
    instructor = course.instructor_version(toy_notebook())
    assert course.source(instructor["cells"][4]) == ANSWER
    assert len(instructor["cells"]) == 7 and instructor["cells"][4]["outputs"] == []
    assert instructor["cells"][6]["metadata"]["nbgrader"] == {
        "grade": True, "grade_id": "ex-99-double-check", "locked": True, "points": 1, "schema_version": 3,
        "solution": False, "task": False}


@pytest.mark.parametrize("change, message", [
    (dict(solution="def double(x):\n    return 2 * x\n"), "no '### BEGIN SOLUTION'"),
    (dict(hint=""), "one-line hint"),
    (dict(hint="two\nlines"), "one-line hint"),
    (dict(check="assert double(2) == 4"), "calls no gpt2lite.checks"),
    (dict(title="Easy: Double it"), "must read '<difficulty>, <minutes> min, <kind>: <title>'"),
    (dict(title="Tricky, 5 min, variation: Double it"), "a difficulty in Easy, Medium, Hard"),
    (dict(title="Easy, 5 min, puzzle: Double it"), "a kind in variation, derivation, measurement, bug hunt"),
])
def test_bad_layouts_are_named(change, message):
    with pytest.raises(course.CourseError, match=f"chapter.ipynb, exercise ex-99-double: .*{message}"):
        course.exercises(toy_notebook(**change), "chapter.ipynb")


def test_missing_cells_are_named():
    nb = toy_notebook()
    del nb["cells"][5]  # no solution-end
    with pytest.raises(course.CourseError, match="solution-start, one solution code cell, solution-end"):
        course.student_version(nb, "chapter.ipynb")


@pytest.mark.parametrize("text, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without a"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
])
def test_broken_markers(text, message):
    with pytest.raises(course.CourseError, match=message):
        course.stub_solution(text, "hint")


@pytest.mark.parametrize("nb, error, message", [
    ("chapter.ipynb", TypeError, "a notebook is the dict that json.load gives for an .ipynb file, got str"),
    ([], TypeError, "a notebook is the dict that json.load gives .*, got list"),
    ({"metadata": {}}, course.CourseError, "chapter.ipynb: not a notebook: it has no list of cells"),
    ({"cells": "x"}, course.CourseError, "chapter.ipynb: not a notebook: it has no list of cells"),
])
def test_what_is_not_a_notebook_is_refused(nb, error, message):
    with pytest.raises(error, match=message):
        course.exercises(nb, "chapter.ipynb")
    assert issubclass(course.CourseError, ValueError)  # a notebook's content is a value: a wrong one, a ValueError


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    assert course.main(["student", str(tmp_path), str(tmp_path / "out")]) == 2
    assert "no notebooks in" in capsys.readouterr().err


def test_the_book_gives_stable_student_and_instructor_copies(tmp_path):
    """Generating twice gives identical files; the student copies hold no answer line and no dropdown."""
    assert course.main(["student", str(BOOK), str(tmp_path / "a")]) == 0
    assert course.main(["student", str(BOOK), str(tmp_path / "b")]) == 0
    course.write_course(BOOK, tmp_path / "a")  # again, over the first output
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 2 * len(course.chapters(BOOK)) + 1
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    total = 0
    for chapter in course.chapters(BOOK):
        source_nb = json.loads(chapter.read_text())
        student = json.loads((tmp_path / "a" / "student" / chapter.name).read_text())
        found = course.exercises(source_nb, chapter.name)
        total += len(found)
        text = "\n".join(course.source(c) for c in student["cells"])
        assert "{solution-start}" not in text and "### BEGIN SOLUTION" not in text
        assert text.count("raise NotImplementedError(") >= len(found)
        by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): course.source(c) for c in student["cells"]}
        for ex in found:
            inside = course.source(source_nb["cells"][ex.solution]).split(course.BEGIN)[1].split(course.END)[0]
            stub = by_id[ex.label].splitlines()
            shown = [line for line in inside.splitlines() if line.strip() and line in stub]
            assert not shown, f"{chapter.name} {ex.label}: the student copy shows {shown[0].strip()!r}"
            assert f"raise NotImplementedError({json.dumps(ex.hint, ensure_ascii=False)})" in by_id[ex.label]
        instructor = json.loads((tmp_path / "a" / "instructor" / chapter.name).read_text())
        assert [course.source(c) for c in instructor["cells"]] == [course.source(c) for c in source_nb["cells"]]
    summary = (tmp_path / "a" / "EXERCISES.md").read_text()
    assert f"{total} exercises in all: " in summary and "| measurement |" in summary
    names = {name for c in course.chapters(BOOK)
             for ex in course.exercises(json.loads(c.read_text())) for name in ex.checks}
    assert names and all(f"`{name}`" in summary for name in names), names
