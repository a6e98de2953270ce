"""Sphinx extension for the book's exercises.

- Readers see clean solutions: the nbgrader markers (`### BEGIN SOLUTION` / `### END SOLUTION`) that the course tools
  need are removed from the rendered code.
- One switch builds the book without solutions, for a course that does not want them online:
  `GPT2LITE_HIDE_SOLUTIONS=1 jupyter-book build .` (or `gpt2lite_hide_solutions: true` under `sphinx: config:` in
  `_config.yml`). Every solution dropdown, with the code inside it, is left out of the pages; the exercises and their
  check cells stay. (sphinx-exercise's own `hide_solutions` does not cover the gated `solution-start`/`solution-end`
  form the notebooks use, so this extension does it after the gated solutions are merged.)
"""

import os
import re

from docutils import nodes
from sphinx_exercise.nodes import solution_node

MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def _strip_markers(doctree: nodes.document) -> None:
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        if MARKER.search(text):
            clean = MARKER.sub("", text)
            block.children = [nodes.Text(clean)]
            block.rawsource = clean


def _process(app, doctree: nodes.document) -> None:
    _strip_markers(doctree)
    if app.config.gpt2lite_hide_solutions:
        for node in list(doctree.findall(solution_node)):
            node.parent.remove(node)


def setup(app):
    default = os.environ.get("GPT2LITE_HIDE_SOLUTIONS", "").lower() not in ("", "0", "false", "no")
    app.add_config_value("gpt2lite_hide_solutions", default, "env")
    app.connect("doctree-read", _process)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
