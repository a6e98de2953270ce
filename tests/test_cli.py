"""The `gpt2lite` command: train saves a model and its tokenizer, generate streams from it, params prints the
table; bad input is one clear line. (`python -m gpt2lite` is the same command.)"""

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gpt2lite import GPT, GPTConfig, cli
from gpt2lite.config import PRESETS
from gpt2lite.data import CharTokenizer


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "gpt2lite", *args], capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny char-level model trained for a few steps by the command itself."""
    folder = tmp_path_factory.mktemp("cli") / "tiny"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["train", "--steps", "3", "--layers", "1", "--width", "16", "--heads", "2", "--context",
                         "16", "--batch", "4", "--tokens", "20", "--save", str(folder), "--device", "cpu"]) == 0
    assert "validation loss:" in out.getvalue() and f"saved to {folder}" in out.getvalue()
    return folder


def test_train_saves_weights_and_tokenizer(saved):
    assert {p.name for p in saved.iterdir()} == {"config.json", "model.safetensors", "tokenizer.json"}
    tok = cli.load_tokenizer(saved)
    assert isinstance(tok, CharTokenizer) and tok.vocab_size == 65  # Tiny Shakespeare's characters


@pytest.mark.slow
def test_generate_streams_what_model_generate_writes(saved):
    """Through the installed console script, as a user types it."""
    script = Path(sys.executable).with_name("gpt2lite")
    assert script.exists() or shutil.which("gpt2lite"), "pip install -e . makes the gpt2lite command"
    result = subprocess.run([str(script), "generate", str(saved), "--prompt", "ROMEO:", "-n", "30", "--temperature",
                             "0", "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    model, tok = GPT.from_pretrained(saved), cli.load_tokenizer(saved)
    idx = torch.tensor([tok.encode("ROMEO:")])
    expected = tok.decode(model.generate(idx, 30, temperature=0)[0].tolist())
    assert result.stdout == expected + "\n"


def test_write_prints_each_token_as_it_comes():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=1, n_embd=8))
    tok = CharTokenizer("abcde")
    out = io.StringIO()
    writes = []
    out.write = lambda text, write=out.write: writes.append(text) or write(text)
    text = cli._write(model, tok, "ab", 6, temperature=1.0, top_k=None, top_p=None, seed=3, device="cpu", out=out)
    assert writes[0] == "ab" and len(writes) == 1 + 6 + 1 and "".join(writes) == text + "\n"
    expected = model.generate(torch.tensor([[0, 1]]), 6, generator=torch.Generator().manual_seed(3))
    assert text == tok.decode(expected[0].tolist())


def test_byte_pieces_wait_for_a_whole_character():
    class Bytes:  # a tokenizer whose tokens are single bytes: "é" is two of them
        def decode_bytes(self, ids):
            return bytes(ids)

    piece = cli._printer(Bytes())
    assert [piece(b) for b in "é!".encode()] == ["", "é", "!"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_params_table_of_every_preset(name, capsys):
    assert cli.main(["params", name]) == 0
    out = capsys.readouterr().out.splitlines()
    with torch.device("meta"):
        model = GPT(GPTConfig.from_name(name))
    assert out[0].split() == ["parameter", "shape", "count"]
    assert len(out) == 2 + len(list(model.named_parameters()))
    assert out[-1].startswith("total (lm_head.weight is tied to wte)")
    assert out[-1].split()[-1] == f"{model.num_parameters():,}"
    counts = [int(line.split()[-1].replace(",", "")) for line in out[1:-1]]
    assert sum(counts) == model.num_parameters()


@pytest.mark.slow
def test_options_alone_still_train():
    result = run("--steps", "2", "--layers", "1", "--width", "16", "--heads", "2", "--context", "8", "--batch",
                 "2", "--tokens", "0", "--device", "cpu")
    assert result.stdout.startswith("char-level GPT:") and "validation loss:" in result.stdout


@pytest.mark.slow
def test_help_lists_the_subcommands():
    out = run("--help").stdout
    assert all(c in out for c in cli.COMMANDS)


@pytest.mark.parametrize("args, message", [
    (["generate", "{saved}", "--prompt", ""], "the prompt is empty"),
    (["generate", "{saved}", "--prompt", "Zé"], "character 'é'"),
    (["generate", "{saved}", "--prompt", "a", "--temperature", "-1"], "temperature"),
    (["generate", "{saved}", "--prompt", "a", "--top-p", "1.5"], "top_p"),
    (["generate", "{saved}", "--prompt", "a", "-n", "0"], "must be positive"),
    (["generate", "{tmp}", "--prompt", "a"], "holds no checkpoint"),
    (["params", "gpt5"], "could not get 'gpt5'"),
    (["train", "--steps", "0"], "must be positive"),
])
def test_bad_input_is_one_clear_line(saved, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit:
        cli.main([a.format(saved=saved, tmp=tmp_path) for a in args])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # argparse's usage lines, then the one line that says what is wrong
    assert exit.value.code == 2 and message in last and "error:" in last and "Traceback" not in err, err


@pytest.mark.parametrize("args, message", [
    (["train", "--tokens", "-1"], "argument --tokens: must be >= 0, got -1"),
    (["train", "--seed", "-5"], "argument --seed: must be >= 0, got -5"),
    (["generate", "m", "-p", "a", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["train", "--lr", "nan"], "argument --lr: must be positive, got nan"),
    (["train", "--lr", "0"], "argument --lr: must be positive, got 0"),
    (["train", "--steps", "2.5"], "argument --steps: invalid int value: '2.5'"),
    (["generate", "m", "-p", "a", "--top-k", "x"], "argument --top-k: invalid int value: 'x'"),
])
def test_arguments_are_checked_before_anything_runs(capsys, args, message):
    with pytest.raises(SystemExit) as exit:
        cli.build_parser().parse_args(args)
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_zero_tokens_and_seed_zero_are_allowed():
    args = cli.build_parser().parse_args(["train", "--tokens", "0", "--seed", "0"])
    assert args.tokens == 0 and args.seed == 0
