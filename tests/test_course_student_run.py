"""The student notebooks run: every check fails on its stub, saying the answer is not written yet, and nothing
else in the chapter fails. (The chapters themselves, with the answers, are run by nbval, every check passing.)"""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient_polling import PollingClient

from gpt2lite import course

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = course.chapters(BOOK)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_student_notebook_runs_with_every_check_failing(chapter, tmp_path):
    student = course.student_version(json.loads(chapter.read_text()), chapter.name)
    nb = nbformat.reads(json.dumps(student), as_version=4)  # sources as strings, as nbclient wants them
    PollingClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    failed_checks = 0
    for i, cell in enumerate(nb.cells):
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        is_check = cell["metadata"].get("nbgrader", {}).get("grade", False)
        if not is_check:
            assert not errors, f"cell {i} failed in the student copy: {errors[0]['ename']}: {errors[0]['evalue']}"
            continue
        assert len(errors) == 1, f"check cell {i} passed on a stub:\n{cell.source}"
        assert errors[0]["ename"] == "CheckFailed" and "is not written yet" in errors[0]["evalue"], errors[0]
        failed_checks += 1
    assert failed_checks == len(course.exercises(json.loads(chapter.read_text())))
