"""Every chapter runs top to bottom as it runs in Colab, with nothing of the test machine's to lean on.

For each notebook: a kernel where `google.colab` exists and gpt2lite is not installed (it sees this environment's
packages, but not the editable install); a fresh, empty home and temporary folder, so every cache starts empty;
an environment with none of the project's test variables (no vocabulary folder, no data folder, no tiktoken
cache, no offline switch); and a working folder with no `../shared` beside it. The setup cell clones the
repository (this checkout's committed HEAD stands in for GitHub) and pip-installs what Colab lacks (already here,
so nothing is downloaded). Where a chapter downloads, the package's real download code runs: only the host
differs, a server on 127.0.0.1 (`GPT2LITE_DOWNLOAD_MIRROR` for our downloads, `HF_ENDPOINT` for the Hub, which
serves a small random checkpoint as "gpt2"). Cells tagged skip-execution (they need internet) run too, as they
would for a reader in Colab.
"""

import json
import os
import sys
import sysconfig
import time
from pathlib import Path

import nbformat
import pytest
import torch
import yaml
from local_web import LocalWeb, internet_files
from nbclient_polling import PollingClient

from gpt2lite import GPT, GPTConfig, course
from gpt2lite.data import MIRROR_ENV
from gpt2lite.pretrained import save_pretrained

ROOT = Path(__file__).resolve().parents[1]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
TOC_FILES = [c["file"] for part in TOC["parts"] for c in part["chapters"]]
NOTEBOOKS = [ROOT / f"{f}.ipynb" for f in TOC_FILES if (ROOT / f"{f}.ipynb").exists()]
REPO_URL = "https://github.com/gpt2lite/gpt2lite"
REPORT = ROOT / "_build" / "colab"  # one JSON per chapter: its time and what it downloaded
# What the test machines set, and a reader's machine does not have.
TEST_VARIABLES = ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR", "HF_HUB_OFFLINE", "HF_HOME", "HF_HUB_CACHE",
                  "TRANSFORMERS_OFFLINE", "XDG_CACHE_HOME", "HF_ENDPOINT")


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The internet, as far as the book needs it: Tiny Shakespeare, GPT-2's vocabulary, and a hub with "gpt2"."""
    torch.manual_seed(0)
    tiny = GPT(GPTConfig(vocab_size=50257, block_size=128, n_layer=2, n_head=2, n_embd=32))  # GPT-2's vocabulary
    checkpoint = save_pretrained(tiny, tmp_path_factory.mktemp("hub"))
    hub = {"openai-community/gpt2": {f.name: f.read_bytes() for f in checkpoint.iterdir()}}
    with LocalWeb(internet_files(), hub) as server:
        yield server


def colab_kernel(folder: Path) -> str:
    """Register a kernel like Colab's under folder: google.colab importable, gpt2lite not."""
    boot = (
        f"import sys, types; sys.path.append({sysconfig.get_paths()['purelib']!r}); "
        "sys.modules['google.colab'] = types.ModuleType('google.colab'); "
        "from ipykernel import kernelapp; kernelapp.launch_new_instance()"
    )
    spec = folder / "kernels" / "colab"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-S", "-c", boot, "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Colab", "language": "python"}))
    return "colab"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_runs_as_in_colab(chapter, web, tmp_path, monkeypatch):
    content = tmp_path / "content"  # Colab's working folder
    clone = content / "gpt2lite"
    for name in [*TEST_VARIABLES, *(k for k in os.environ if k.startswith("GPT2LITE_"))]:
        monkeypatch.delenv(name, raising=False)
    for name in ("home", "tmp"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # tiktoken's default cache lives in the temporary folder
    monkeypatch.setenv(MIRROR_ENV, web.url)
    monkeypatch.setenv("HF_ENDPOINT", web.url)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    content.mkdir()

    nb = nbformat.read(chapter, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert "google.colab" in setup.source and "/content/gpt2lite" in setup.source
    setup.source = setup.source.replace(REPO_URL, str(ROOT)).replace("/content/gpt2lite", str(clone))
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os, gpt2lite\n"
        "print(gpt2lite.__file__)\n"
        "print(sorted(k for k in os.environ if k.startswith(('GPT2LITE_', 'TIKTOKEN', 'HF_HUB'))))"
    ))
    before = len(web.requests)
    start = time.perf_counter()
    PollingClient(
        nb, kernel_name=colab_kernel(tmp_path), timeout=900, skip_cells_with_tag="run-everything-in-colab",
        resources={"metadata": {"path": str(content)}},
    ).execute()
    seconds = time.perf_counter() - start

    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs).splitlines()
    assert Path(printed[0]).is_relative_to(clone), printed
    assert printed[1] == repr([MIRROR_ENV]), "the kernel saw a test variable"
    assert not (content / "shared").exists() and not (tmp_path / "shared").exists()
    if chapter.name[0].isdigit():
        for ex in course.exercises(json.loads(chapter.read_text()), chapter.name):
            checked = "".join(o.get("text", "") for o in nb.cells[ex.check].outputs)
            assert checked.startswith("✓ "), f"{ex.label}: {checked!r}"
    downloads = [path for method, path in web.requests[before:] if method == "GET" and "/api/" not in path]
    assert len(downloads) == len(set(downloads)), f"a file was downloaded twice: the cache did not work {downloads}"
    if chapter.stem == "09_pretrained":  # GPT.from_pretrained("gpt2") went through its real hub download
        assert any(p.endswith("/model.safetensors") for p in downloads), downloads
    REPORT.mkdir(parents=True, exist_ok=True)
    (REPORT / f"{chapter.stem}.json").write_text(json.dumps({"seconds": round(seconds, 1), "downloads": downloads}))
