"""No check can be passed by handing back the library's own answer: every check whose answer exists ready-made (in
gpt2lite, in torch, or in the check's own reference) refuses a solution that calls it, naming the call, however it
was imported. And the chapters' own solutions still pass every check.

Each chapter's shortcuts live beside its other check tests, in tests/test_checks_<module>.py: a list SHORTCUTS of
(check, answer, the call the failure must name) and a dict NO_SHORTCUT of the checks with nothing ready-made to
refuse, each with the reason. This file collects them."""

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gpt2lite.checks
from gpt2lite import course
from gpt2lite.checks import CheckFailed
from solutions_script import _solutions_script

BOOK = Path(__file__).resolve().parents[1] / "book"
MODULES = sorted(set(gpt2lite.checks._WHERE.values()))
TABLES = {m: importlib.import_module(f"test_checks_{m}") for m in MODULES}
SHORTCUTS = [entry for m in MODULES for entry in TABLES[m].SHORTCUTS]
NO_SHORTCUT = {check: why for m in MODULES for check, why in TABLES[m].NO_SHORTCUT.items()}

@pytest.mark.parametrize("check, answer, call", SHORTCUTS,
                         ids=[f"{check}-{i}" for i, (check, _, _) in enumerate(SHORTCUTS)])
def test_a_shortcut_fails_naming_the_call(check, answer, call):
    answers = answer if isinstance(answer, tuple) else (answer,)
    with pytest.raises(CheckFailed, match=rf"called (\S+\.)?{call}\S*\(\.\.\.\), which this exercise does not "
                                          r"allow\n  hint:     \S"):
        getattr(gpt2lite.checks, check)(*answers)
    assert sys.getprofile() is None  # the guard is gone


def test_every_check_is_either_guarded_or_listed_as_having_no_shortcut():
    guarded = {check for check, _, _ in SHORTCUTS}
    assert guarded | set(NO_SHORTCUT) == set(gpt2lite.checks._WHERE) and not guarded & set(NO_SHORTCUT)
    for m in MODULES:  # each chapter lists its own checks only
        listed = {check for check, _, _ in TABLES[m].SHORTCUTS} | set(TABLES[m].NO_SHORTCUT)
        assert {gpt2lite.checks._WHERE[c] for c in listed} <= {m}, (m, listed)
    assert all(len(why) > 20 for why in NO_SHORTCUT.values())


@pytest.mark.slow
def test_every_chapters_own_solutions_pass_their_checks(tmp_path):
    """All chapters in one fresh process (each in its own namespace): every check prints its ✓ line."""
    chapters = course.chapters(BOOK)
    runner = textwrap.dedent("""
        import json, sys
        for name, script in json.loads(sys.stdin.read()):
            print(f"== {name}", flush=True)
            exec(compile(script, name, "exec"), {"__name__": "__main__"})
    """)
    scripts = json.dumps([(c.name, _solutions_script(c)) for c in chapters])
    result = subprocess.run([sys.executable, "-c", runner], input=scripts, capture_output=True, text=True,
                            cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    ticks = [line for line in result.stdout.splitlines() if line.startswith("✓")]
    assert len(ticks) == sum(len(course.exercises(json.loads(c.read_text()))) for c in chapters), result.stdout
