"""Course tools: from the book's chapters (the single source), write student notebooks, an instructor copy and a
summary of the exercises, and keep the chapters' nbgrader metadata in order.

    python -m gpt2lite.course student book/ out/   # out/student/, out/instructor/, out/EXERCISES.md
    python -m gpt2lite.course mark book/           # (re)write the nbgrader metadata of every exercise
    python -m gpt2lite.course summary book/        # print the exercise table

An exercise in a chapter is five cells in a row: the `{exercise}` text, a `{solution-start}` marker, one solution
code cell, a `{solution-end}` marker and one check cell that calls a `gpt2lite.checks.check_*` function. In the
solution cell the answer sits between `### BEGIN SOLUTION` and `### END SOLUTION`, the markers nbgrader uses, and the
cell's metadata holds nbgrader's solution flags plus a one-line hint. A student copy replaces each answer by a stub
that raises `NotImplementedError(hint)`, drops the solution dropdowns and clears the exercise cells' outputs; the
check cells stay, so students check their own answers. An exercise's title line reads
"<difficulty>, <minutes> min, <kind>: <title>" (kind: variation, derivation, measurement or bug hunt); its
difficulty sets its nbgrader points, 1, 2 or 3. `nbgrader generate_assignment` and `nbgrader autograde`
read the same metadata.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
LEVELS = {"Easy": 1, "Medium": 2, "Hard": 3}  # difficulty -> the points nbgrader gives the exercise
KINDS = ("variation", "derivation", "measurement", "bug hunt")
_EXERCISE = re.compile(r"^(`{3,})\{exercise\}[ \t]*(.*)\n:label:\s*(\S+)", re.M)
# the title line: "<difficulty>, <minutes> min, <kind>: <title>", e.g. "Medium, 20 min, bug hunt: the mask off by one"
_TITLE = re.compile(rf"({'|'.join(LEVELS)}), (\d+) min, ({'|'.join(KINDS)}): (\S.*)")
_CHECK_CALL = re.compile(r"^\s*(check_\w+)\(", re.M)

Notebook = dict[str, Any]
Cell = dict[str, Any]


class CourseError(ValueError):
    """A chapter's exercises are not laid out as the course tools expect; the message says where and how."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter: where its cells are and what grades it."""

    label: str
    title: str
    level: str  # Easy, Medium or Hard
    minutes: int  # how long it takes a reader who has read the chapter
    kind: str  # one of KINDS
    solution: int  # index of the solution code cell
    check: int  # index of the check cell
    checks: tuple[str, ...]  # the gpt2lite.checks functions the check cell calls
    hint: str

    @property
    def points(self) -> int:
        """What nbgrader gives for it: 1, 2 or 3 by difficulty."""
        return LEVELS[self.level]


def source(cell: Cell) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _set_source(cell: Cell, text: str) -> None:
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def exercises(nb: Notebook, name: str = "notebook") -> list[Exercise]:
    """The exercises of a chapter, in order. Raises CourseError if one is not laid out as five cells with markers."""
    if not isinstance(nb, dict):
        raise TypeError(f"a notebook is the dict that json.load gives for an .ipynb file, got {type(nb).__name__}")
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise CourseError(f"{name}: not a notebook: it has no list of cells")
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for _fence, heading, label in _EXERCISE.findall(source(cell)):
            where = f"{name}, exercise {label}"
            parts = _TITLE.fullmatch(heading.strip())
            if not parts:
                raise CourseError(f"{where}: the title must read '<difficulty>, <minutes> min, <kind>: <title>' "
                                  f"with a difficulty in {', '.join(LEVELS)} and a kind in {', '.join(KINDS)}, "
                                  f"e.g. 'Medium, 20 min, bug hunt: the mask off by one'; got {heading.strip()!r}")
            level, minutes, kind, title = parts.groups()
            block = cells[i + 1 : i + 5]
            kinds = [c["cell_type"] for c in block]
            if (kinds != ["markdown", "code", "markdown", "code"]
                    or not re.search(r"\{solution-start\}\s+" + re.escape(label) + r"\b", source(block[0]))
                    or "{solution-end}" not in source(block[2])):
                raise CourseError(f"{where}: expected the cells solution-start, one solution code cell, "
                                  "solution-end and one check cell right after the exercise")
            solution = source(block[1])
            if BEGIN not in solution or END not in solution:
                raise CourseError(f"{where}: the solution cell has no '{BEGIN}' ... '{END}' region around the answer")
            checks = tuple(_CHECK_CALL.findall(source(block[3])))
            if not checks:
                raise CourseError(f"{where}: the check cell calls no gpt2lite.checks.check_* function")
            hint = block[1]["metadata"].get("gpt2lite", {}).get("hint", "").strip()
            if not hint or "\n" in hint:
                raise CourseError(f"{where}: the solution cell needs a one-line hint in its metadata "
                                  "(metadata.gpt2lite.hint) for the student's stub")
            found.append(Exercise(label, title.strip(), level, int(minutes), kind, i + 2, i + 4, checks, hint))
    return found


def _solution_metadata(label: str) -> dict[str, Any]:
    return {"grade": False, "grade_id": label, "locked": False, "schema_version": 3, "solution": True, "task": False}


def _check_metadata(label: str, points: int) -> dict[str, Any]:
    return {"grade": True, "grade_id": f"{label}-check", "locked": True, "points": points, "schema_version": 3,
            "solution": False, "task": False}


def mark(nb: Notebook, name: str = "notebook") -> Notebook:
    """Give every exercise's solution and check cells the nbgrader metadata that matches the book's layout."""
    for ex in exercises(nb, name):
        nb["cells"][ex.solution]["metadata"]["nbgrader"] = _solution_metadata(ex.label)
        nb["cells"][ex.check]["metadata"]["nbgrader"] = _check_metadata(ex.label, ex.points)
    return nb


def stub_solution(text: str, hint: str) -> str:
    """Replace every BEGIN/END SOLUTION region by a stub that raises NotImplementedError(hint), at its indentation."""
    out, inside = [], False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise CourseError(f"'{BEGIN}' inside another solution region")
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({json.dumps(hint, ensure_ascii=False)})"]
            inside = True
        elif stripped == END:
            if not inside:
                raise CourseError(f"'{END}' without a '{BEGIN}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise CourseError(f"a '{BEGIN}' region is never closed")
    return "\n".join(out)


def _clean(cell: Cell) -> None:
    """Drop per-run metadata (execution timestamps) so that the written files depend only on the source."""
    cell["metadata"].pop("execution", None)


def instructor_version(nb: Notebook, name: str = "notebook") -> Notebook:
    """The chapter as it is, solutions kept, nbgrader metadata in place, without run timestamps."""
    nb = mark(copy.deepcopy(nb), name)
    for cell in nb["cells"]:
        _clean(cell)
    return nb


def student_version(nb: Notebook, name: str = "notebook") -> Notebook:
    """The chapter for students: answers replaced by stubs, solution dropdowns removed, exercise outputs cleared."""
    nb = instructor_version(nb, name)
    drop = set()
    for ex in exercises(nb, name):
        solution, check = nb["cells"][ex.solution], nb["cells"][ex.check]
        _set_source(solution, stub_solution(source(solution), ex.hint))
        for cell in (solution, check):
            cell["outputs"], cell["execution_count"] = [], None
        drop |= {ex.solution - 1, ex.solution + 1}  # the {solution-start} and {solution-end} markers
    nb["cells"] = [c for i, c in enumerate(nb["cells"]) if i not in drop]
    return nb


def read_notebook(path: Path) -> Notebook:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_notebook(nb: Notebook, path: Path) -> None:
    """Write as Jupyter does (indent 1, sorted keys, a final newline), so equal notebooks give equal bytes."""
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def chapters(book: Path) -> list[Path]:
    """The chapter notebooks of the book folder (their names start with their number), in order. Appendix
    notebooks, which have no exercises, are not chapters."""
    found = sorted(Path(book).glob("[0-9]*.ipynb"))
    if not found:
        raise CourseError(f"no notebooks in {book}: pass the book's folder (book/)")
    return found


def summary(book: Path) -> str:
    """A Markdown summary: per chapter, each exercise's label, title, kind, difficulty, minutes, points and the
    check that grades it."""
    lines = ["# Exercises", "", "Each exercise is graded by the `gpt2lite.checks` function its check cell calls; "
             "under nbgrader it is worth " + ", ".join(f"{p} for {lv}" for lv, p in LEVELS.items()) + ".", ""]
    total = points = minutes = 0
    for path in chapters(book):
        found = exercises(read_notebook(path), path.name)
        if not found:
            continue
        total += len(found)
        points += sum(e.points for e in found)
        minutes += sum(e.minutes for e in found)
        lines += [f"## {path.stem}", "", "| exercise | title | kind | difficulty | minutes | points | graded by |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| `{e.label}` | {e.title} | {e.kind} | {e.level} | {e.minutes} | {e.points} | "
                  f"{', '.join(f'`{c}`' for c in e.checks)} |" for e in found]
        lines.append("")
    lines.append(f"{total} exercises in all: {points} points, about {minutes / 60:.0f} hours.")
    return "\n".join(lines) + "\n"


def write_course(book: Path, out: Path) -> dict[str, int]:
    """Write out/student/, out/instructor/ and out/EXERCISES.md from the chapters in `book`. Returns the number of
    exercises per chapter."""
    book, out = Path(book), Path(out)
    counts = {}
    for sub in ("student", "instructor"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for path in chapters(book):
        nb = read_notebook(path)
        counts[path.stem] = len(exercises(nb, path.name))
        write_notebook(student_version(nb, path.name), out / "student" / path.name)
        write_notebook(instructor_version(nb, path.name), out / "instructor" / path.name)
    (out / "EXERCISES.md").write_text(summary(book), encoding="utf-8")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpt2lite.course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    student = sub.add_parser("student", help="write student notebooks, an instructor copy and EXERCISES.md")
    student.add_argument("book", type=Path, help="the folder of chapter notebooks (book/)")
    student.add_argument("out", type=Path, help="where to write student/, instructor/ and EXERCISES.md")
    marker = sub.add_parser("mark", help="write nbgrader metadata into the chapters' exercise cells")
    marker.add_argument("book", type=Path)
    marker.add_argument("--check", action="store_true", help="change nothing; exit 1 if a chapter is out of date")
    summ = sub.add_parser("summary", help="print the exercises of every chapter as Markdown")
    summ.add_argument("book", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "student":
            counts = write_course(args.book, args.out)
            print(f"wrote {sum(counts.values())} exercises in {len(counts)} chapters to {args.out}/student, "
                  f"{args.out}/instructor and {args.out}/EXERCISES.md")
        elif args.command == "mark":
            stale = []
            for path in chapters(args.book):
                nb = read_notebook(path)
                marked = mark(copy.deepcopy(nb), path.name)
                if marked != nb:
                    stale.append(path.name)
                    if not args.check:
                        write_notebook(marked, path)
            verb = "out of date" if args.check else "updated"
            print(f"{verb}: {', '.join(stale)}" if stale else "every chapter's nbgrader metadata is up to date")
            return 1 if args.check and stale else 0
        else:
            sys.stdout.write(summary(args.book))
    except CourseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
