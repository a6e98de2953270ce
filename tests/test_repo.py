"""The repository keeps its promises: CI runs the README's test command, pins stay pins, ranges stay loose."""

import re
import tomllib
from pathlib import Path

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


def test_no_shared_data_or_weights_are_committed():
    forbidden = {"tinyshakespeare.txt", "encoder.json", "vocab.bpe", "model.safetensors", "pytorch_model.bin"}
    found = [p for p in ROOT.rglob("*") if p.name in forbidden and ".venv" not in p.parts and ".git" not in p.parts]
    assert not found
