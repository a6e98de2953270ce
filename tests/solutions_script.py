"""A script that runs a chapter's own exercise solutions through their checks, away from the notebook: each
solution after the definitions (imports, functions, classes, literal constants) of the cells above it, then the
check calls of its check cell.

    python tests/solutions_script.py book/04_self_attention.ipynb   # runs it, printing each check's line
"""

import ast
import json
import sys
from pathlib import Path

from gpt2lite import course

def _definitions(source: str) -> str:
    """The imports, functions, classes and literal constants of a cell: what later cells may need, without
    running the chapter's computations (training, plots)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a cell with IPython magics
        return ""

    def literal(node: ast.AST) -> bool:
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return False
        return True

    kept = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
            or isinstance(n, ast.Assign) and literal(n)]
    return "\n".join(ast.get_source_segment(source, n) for n in kept)


def _solutions_script(chapter: Path) -> str:
    """A script that defines each exercise's solution (after the definitions of the cells above it) and calls the
    check of its check cell."""
    nb = json.loads(chapter.read_text())
    parts, done = ["import math", "import torch", "import torch.nn as nn", "import torch.nn.functional as F"], 0
    for ex in course.exercises(nb, chapter.name):
        parts += [_definitions(course.source(c)) for c in nb["cells"][done:ex.solution] if c["cell_type"] == "code"]
        parts.append(course.source(nb["cells"][ex.solution]))
        check = course.source(nb["cells"][ex.check]).splitlines()
        parts += [line for line in check if line.startswith(("from gpt2lite.checks", "check_"))]
        done = ex.check + 1
    return "\n".join(parts)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"== {name}", flush=True)
        exec(compile(_solutions_script(Path(name)), name, "exec"), {"__name__": "__main__"})
