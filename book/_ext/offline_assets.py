"""Sphinx extension: the book's pages load nothing from the internet.

Sphinx's default fetches MathJax from a CDN at every page view, so offline (on a train, in a locked-down lab, in
the browser tests) the equations stay raw TeX. The book ships its own copy instead: `package.json` pins MathJax,
`npm ci` installs it under `node_modules/`, and this extension points `mathjax_path` at it and copies it into
`_build/html/_static/mathjax/` after the build. Nothing of it is committed.

The interactive figures (gpt2lite.interactive) inline their own JavaScript; the two npm libraries they need are
copied the same way, into `_static/vendor/`, and a page loads one only when its figure asks for it (`VENDOR`).

Without `node_modules/` the build warns (an error under `-W`, as in the tests) and falls back to the CDN.

It also drops repeated inline scripts from the pages: Sphinx 7 lists a body-only script twice when an extension
adds it after the builder starts (sphinx-thebe and sphinx-togglebutton do), and the second copy of
`const THEBE_JS_URL = ...` is an uncaught SyntaxError in every reader's console. (tests/test_browser.py watches it.)
"""

import shutil
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

ENTRY = "tex-mml-chtml.js"  # Sphinx's default component: TeX and MathML input, CommonHTML output
ON_DEMAND = ("a11y", "adaptors", "input", "output", "sre", "ui")  # what the entry loads later (fonts, menu, ...)
TARGET = "mathjax"  # the folder under _static/
VENDOR = {  # _static/vendor/<name>: its source under node_modules/ (package.json pins each version)
    # GPT-2's BPE ranks, for the tokenizer playground (chapter 2): an ES module with only data in it
    "js-tiktoken/gpt2.js": "js-tiktoken/dist/ranks/gpt2.js",
    # ONNX Runtime Web, CPU (WebAssembly) build only, for the small GPT in chapter 8: the script, the module it
    # imports and the WebAssembly binary that module fetches (SIMD; threads only where the page allows them)
    "onnxruntime-web/ort.wasm.min.js": "onnxruntime-web/dist/ort.wasm.min.js",
    "onnxruntime-web/ort-wasm-simd-threaded.mjs": "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
    "onnxruntime-web/ort-wasm-simd-threaded.wasm": "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
}


def _source(app) -> Path:
    return Path(app.srcdir) / app.config.gpt2lite_mathjax_dir


def _point_at_local_copy(app, config) -> None:
    source = _source(app)
    if not (source / ENTRY).is_file():
        logger.warning(
            f"MathJax is not installed at {source}: run `npm ci` in the repository root first "
            "(package.json pins the version). Until then the pages fetch MathJax from a CDN."
        )
        return
    config.mathjax_path = f"{TARGET}/{ENTRY}"  # relative: Sphinx resolves it under _static/


def _copy_vendor(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    modules = Path(app.srcdir) / "node_modules"
    missing = [source for source in VENDOR.values() if not (modules / source).is_file()]
    if missing:
        logger.warning(f"npm packages missing ({', '.join(missing)}): run `npm ci` in the repository root first. "
                       "Until then the tokenizer playground and the in-page GPT show their still pictures.")
        return
    for name, source in VENDOR.items():
        target = Path(app.outdir) / "_static" / "vendor" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(modules / source, target)


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html" or not app.config.mathjax_path.startswith(f"{TARGET}/"):
        return
    source, target = _source(app), Path(app.outdir) / "_static" / TARGET
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / ENTRY, target / ENTRY)
    for folder in ON_DEMAND:
        shutil.copytree(source / folder, target / folder, dirs_exist_ok=True)


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.add_config_value("gpt2lite_mathjax_dir", "node_modules/mathjax/es5", "html")
    app.connect("config-inited", _point_at_local_copy, priority=900)  # after the mathjax extension sets its default
    app.connect("html-page-context", _drop_repeated_scripts)
    app.connect("build-finished", _copy)
    app.connect("build-finished", _copy_vendor)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
