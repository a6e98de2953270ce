"""Bad input, one table: every mistake a user can make through the public API, and the error it gives.

``CASES`` lists each bad input with the exception it must raise and a regex its message must match: a clear Python
exception that names the problem, never a crash deep inside torch, a hang or silently wrong output. ``NASTY`` lists
inputs that look like trouble but are valid (odd text for the tokenizer): for those the expected behaviour is a
correct round trip, not an error. The README's section "Bad input" is ``markdown_table()`` of both lists, and a
test keeps the two identical; ``python tests/test_bad_input.py`` prints the table.

The message regexes use only escaped characters and ``.*`` (shown as "…" in the README), so that the README quotes
text the user really sees; the tests check that too.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import pickle
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from unittest import mock

import pytest
import torch
from safetensors.torch import load_file, save_file

from gpt2lite import GPT, BPETokenizer, GPTConfig
from gpt2lite.data import CharTokenizer, DownloadError, download, get_batch, tiny_shakespeare
from gpt2lite.training import (
    TrainConfig,
    TrainState,
    load_checkpoint,
    save_checkpoint,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = GPTConfig(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=8)
EOT = "<|endoftext|>"


@dataclass(frozen=True)
class Case:
    what: str  # the bad input, in words (the README's "input" column)
    call: Callable[[], object]  # does it, through the public API
    error: type[BaseException]
    message: str  # a regex the message must match: escaped characters and ".*" only


@dataclass(frozen=True)
class Nasty:
    what: str  # an input that looks like trouble but is valid
    text: Callable[[], str]
    expected: str | None = None  # what decode(encode(text)) gives, when that is not text itself
    timeout_s: float | None = None  # run in a subprocess that must finish within this time (a guard against hangs)


# ---------------------------------------------------------------------------------------------------- helpers
_SCRATCH = Path(tempfile.mkdtemp(prefix="gpt2lite-bad-input-"))
atexit.register(shutil.rmtree, _SCRATCH, True)


def _folder() -> Path:
    return Path(tempfile.mkdtemp(dir=_SCRATCH))


def _file(name: str, data: bytes) -> Path:
    path = _folder() / name
    path.write_bytes(data)
    return path


@cache
def _model() -> GPT:
    torch.manual_seed(0)
    return GPT(TINY).eval()


def _ids(*rows: list[int]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long)


@cache
def _gpt2() -> BPETokenizer:
    return BPETokenizer.from_tiktoken("gpt2")


@cache
def _trained() -> BPETokenizer:
    tok = BPETokenizer()
    tok.train("the cat sat on the mat; the dog sat on the log. " * 20, vocab_size=280)
    return tok


def _damaged_tokenizer_file() -> Path:
    path = _folder() / "tok.json"
    _trained().save(path)
    data = json.loads(path.read_text())
    data["merges"]["9999 97"] = 400
    path.write_text(json.dumps(data))
    return path


@cache
def _checkpoint() -> Path:
    """A valid Hugging Face checkpoint of the TINY model, the starting point of every broken one."""
    folder = _folder()
    _model().save_pretrained(folder)
    return folder


def _broken_checkpoint(
    weights: Callable[[dict], None] | None = None,
    weights_bytes: Callable[[bytes], bytes] | None = None,
    config: Callable[[dict], object] | None = None,
    config_bytes: bytes | None = None,
) -> Path:
    """A copy of _checkpoint() with its tensors, its file's bytes or its config.json edited."""
    folder = _folder()
    data = (_checkpoint() / "model.safetensors").read_bytes()
    if weights is not None:
        tensors = load_file(_checkpoint() / "model.safetensors")
        weights(tensors)
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    else:
        (folder / "model.safetensors").write_bytes(weights_bytes(data) if weights_bytes else data)
    hf = json.loads((_checkpoint() / "config.json").read_text())
    if config is not None:
        hf = config(hf)
    (folder / "config.json").write_bytes(config_bytes if config_bytes is not None else json.dumps(hf).encode())
    return folder


def _load(**broken) -> GPT:
    return GPT.from_pretrained(_broken_checkpoint(**broken))


def _changed(**fields) -> Callable[[dict], dict]:
    return lambda hf: {**hf, **fields}


def _without(key: str) -> Callable[[dict], dict]:
    return lambda hf: {k: v for k, v in hf.items() if k != key}


def _header(edit: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    """Rewrite the JSON header of a safetensors file (8-byte length, then JSON), keeping the tensor bytes."""

    def rewrite(data: bytes) -> bytes:
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8 : 8 + n])
        edit(header)
        new = json.dumps(header).encode()
        return struct.pack("<Q", len(new)) + new + data[8 + n :]

    return rewrite


def _tensor_entry(header: dict) -> dict:
    return header["transformer.wte.weight"]


def _load_pickle_that_runs_code() -> None:
    folder = _folder()
    marker = folder / "code-ran"

    class RunsCode:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))  # unpickling this would create the folder

    with open(folder / "pytorch_model.bin", "wb") as f:
        pickle.dump({"wte.weight": RunsCode()}, f)
    (folder / "config.json").write_text((_checkpoint() / "config.json").read_text())
    try:
        GPT.from_pretrained(folder)
    finally:
        assert not marker.exists(), "loading the checkpoint ran the code in its pickle"


def _load_bin(obj: object) -> GPT:
    folder = _folder()
    torch.save(obj, folder / "pytorch_model.bin")
    (folder / "config.json").write_text((_checkpoint() / "config.json").read_text())
    return GPT.from_pretrained(folder)


def _train_state(model: GPT) -> TrainState:
    return TrainState.fresh(model, TrainConfig(device="cpu", progress=False))


def _resume_from_damaged(damage: Callable[[Path], None]) -> None:
    """Save a training checkpoint, damage it, load it."""
    path = save_checkpoint(_train_state(_model()), TrainConfig(device="cpu"), _folder())
    damage(path)
    torch.manual_seed(1)
    load_checkpoint(_train_state(GPT(TINY)), path)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _shakespeare_with_wrong_checksum(through_env_var: bool) -> str:
    """A tinyshakespeare.txt that is not Tiny Shakespeare, in a fresh data folder; the network is off, so a
    re-download (were it tried) would fail loudly instead of passing silently."""
    folder = _folder()
    (folder / "tinyshakespeare.txt").write_text("To be, or not to be: that is the question.\n" * 100)
    offline = urllib.error.URLError("offline")
    with mock.patch("urllib.request.urlopen", side_effect=offline):
        if through_env_var:
            with mock.patch.dict(os.environ, {"GPT2LITE_DATA_DIR": str(folder)}):
                return tiny_shakespeare()
        return tiny_shakespeare(folder)


def _download_with_wrong_checksum() -> None:
    folder = _folder()
    source = folder / "source.txt"
    source.write_text("not what was promised")
    dest = folder / "out" / "file.txt"
    try:
        download(source.as_uri(), dest, "0" * 64)
    finally:
        assert not dest.exists() and list(dest.parent.iterdir()) == [], "an unverified download was kept"


def _train_on(train_ids: torch.Tensor) -> None:
    torch.manual_seed(0)
    cfg = TrainConfig(max_steps=1, batch_size=2, device="cpu", progress=False)
    train(GPT(TINY), train_ids, torch.arange(20) % 50, cfg)


def _cache_past_the_context() -> None:
    cache = _model().new_cache(1)
    _model()(_ids([1, 2, 3, 4, 5, 6]), cache=cache)
    _model()(_ids([7, 8, 9]), cache=cache)


def _generate(idx: torch.Tensor | None = None, max_new_tokens: int = 3, **kwargs) -> torch.Tensor:
    return _model().generate(_ids([1, 2, 3]) if idx is None else idx, max_new_tokens, **kwargs)


def _config(**fields) -> GPTConfig:
    return GPTConfig(**{**dict(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=8), **fields})


# ------------------------------------------------------------------------------------------------------ cases
CASES = [
    # --- model configuration
    Case("`GPTConfig(n_embd=30, n_head=4)`: width not divisible by the heads", lambda: _config(n_embd=30, n_head=4),
         ValueError, r"n_embd \(30\) must be divisible by n_head \(4\).*Try n_head=3"),
    Case("`GPTConfig(n_layer=0)`", lambda: _config(n_layer=0),
         ValueError, r"GPTConfig\.n_layer must be a positive integer, got 0"),
    Case("`GPTConfig(vocab_size=-5)`", lambda: _config(vocab_size=-5),
         ValueError, r"GPTConfig\.vocab_size must be a positive integer, got -5"),
    Case("`GPTConfig(block_size=16.0)`: a float size", lambda: _config(block_size=16.0),
         TypeError, r"GPTConfig\.block_size must be an integer, got float 16\.0"),
    Case("`GPTConfig(n_head='2')`: a string size", lambda: _config(n_head="2"),
         TypeError, r"GPTConfig\.n_head must be an integer, got str '2'"),
    Case("`GPTConfig(dropout='0.1')`: a string rate", lambda: _config(dropout="0.1"),
         TypeError, r"GPTConfig\.dropout must be a number, got str '0\.1'"),
    Case("`GPTConfig(dropout=1.0)`", lambda: _config(dropout=1.0),
         ValueError, r"dropout must be in \[0, 1\), got 1\.0"),
    Case("`GPTConfig(layer_norm_eps=0.0)`", lambda: _config(layer_norm_eps=0.0),
         ValueError, r"layer_norm_eps must be positive and finite, got 0\.0"),
    Case("`GPTConfig(bias='False')`: a string that would count as True", lambda: _config(bias="False"),
         TypeError, r"GPTConfig\.bias must be True or False, got str 'False'"),
    Case("`GPTConfig(attn_impl='flash')`", lambda: _config(attn_impl="flash"),
         ValueError, r"attn_impl must be one of \('sdpa', 'explicit'\), got 'flash'"),
    Case("`GPTConfig.from_name('gpt3')`: an unknown preset", lambda: GPTConfig.from_name("gpt3"),
         ValueError, r"unknown preset 'gpt3'; choose one of \['gpt1', 'gpt2'"),
    Case("`GPT({'n_layer': 2})`: a dict instead of a GPTConfig", lambda: GPT({"n_layer": 2}),
         TypeError, r"GPT expects a GPTConfig, got dict"),
    # --- token ids into the model
    Case("a token id equal to vocab_size", lambda: _model()(_ids([1, 50])),
         ValueError, r"token id 50 is outside the vocabulary \[0, 50\)"),
    Case("a negative token id", lambda: _model()(_ids([-1, 2])),
         ValueError, r"token id -1 is outside the vocabulary \[0, 50\)"),
    Case("float token ids", lambda: _model()(torch.tensor([[1.0, 2.0]])),
         TypeError, r"idx must hold integer token ids \(torch\.long\), got dtype torch\.float32"),
    Case("a Python list instead of a tensor", lambda: _model()([[1, 2]]),
         TypeError, r"idx must be a LongTensor of token ids, got list; use torch\.tensor\(\[ids\]\)"),
    Case("1-D ids, without the batch dimension", lambda: _model()(torch.tensor([1, 2, 3])),
         ValueError, r"idx must have shape \(B, T\), got \(3,\) \(add a batch dimension: idx\.unsqueeze\(0\)\)"),
    Case("no tokens: ids of shape (1, 0)", lambda: _model()(torch.zeros(1, 0, dtype=torch.long)),
         ValueError, r"idx is empty \(T == 0\): give the model at least one token"),
    Case("no sequences: ids of shape (0, 3)", lambda: _model()(torch.zeros(0, 3, dtype=torch.long)),
         ValueError, r"idx holds no sequences \(batch size B == 0\)"),
    Case("a KV cache made for another batch size", lambda: _model()(_ids([1], [2]), cache=_model().new_cache(1)),
         ValueError, r"the KV cache was made for a batch of 1 sequences but idx has 2.*model\.new_cache\(2\)"),
    # --- lengths
    Case("9 tokens into a model with an 8-token context", lambda: _model()(torch.zeros(1, 9, dtype=torch.long)),
         ValueError, r"sequence length 9 exceeds the context of 8 tokens \(block_size\); crop the input"),
    Case("a KV cache filled past the context (6 cached + 3 new tokens)", _cache_past_the_context,
         ValueError, r"sequence length 9 exceeds the context of 8 tokens"),
    # --- sampling parameters
    Case("`generate(temperature=-0.1)`", lambda: _generate(temperature=-0.1),
         ValueError, r"temperature must be a number >= 0 and finite \(0 means greedy\), got -0\.1"),
    Case("`generate(temperature=nan)`", lambda: _generate(temperature=math.nan),
         ValueError, r"temperature must be a number >= 0 and finite.*got nan"),
    Case("`generate(temperature=inf)`: would sample uniformly", lambda: _generate(temperature=math.inf),
         ValueError, r"temperature must be a number >= 0 and finite.*got inf"),
    Case("`generate(top_k=0)`", lambda: _generate(top_k=0),
         ValueError, r"top_k must be an integer >= 1, got 0"),
    Case("`generate(top_k=2.0)`: a float", lambda: _generate(top_k=2.0),
         TypeError, r"top_k must be an integer, got float 2\.0"),
    Case("`generate(top_k=True)`", lambda: _generate(top_k=True),
         TypeError, r"top_k must be an integer, got bool True"),
    Case("`generate(temperature='0.8')`: a string", lambda: _generate(temperature="0.8"),
         TypeError, r"temperature must be a number, got str '0\.8'"),
    Case("`generate(top_p=0)`", lambda: _generate(top_p=0.0),
         ValueError, r"top_p must be None or in \(0, 1\], got 0\.0"),
    Case("`generate(top_p=1.5)`", lambda: _generate(top_p=1.5),
         ValueError, r"top_p must be None or in \(0, 1\], got 1\.5"),
    Case("`generate(top_p=nan)`", lambda: _generate(top_p=math.nan),
         ValueError, r"top_p must be None or in \(0, 1\], got nan"),
    Case("`generate(max_new_tokens=-1)`", lambda: _generate(max_new_tokens=-1),
         ValueError, r"max_new_tokens must be an integer >= 0, got -1"),
    Case("`generate(max_new_tokens=2.5)`", lambda: _generate(max_new_tokens=2.5),
         TypeError, r"max_new_tokens must be an integer, got float 2\.5"),
    Case("`generate(stop_token=50)`: outside the vocabulary", lambda: _generate(stop_token=50),
         ValueError, r"stop_token 50 is outside the vocabulary \[0, 50\)"),
    Case("`generate(stop_token=1.5)`: not a token id", lambda: _generate(stop_token=1.5),
         TypeError, r"stop_token must be an integer, got float 1\.5"),
    Case("a prompt with a token id outside the vocabulary", lambda: _generate(_ids([1, 99])),
         ValueError, r"token id 99 is outside the vocabulary \[0, 50\)"),
    # --- tokenizer
    Case("`encode(b'bytes')`: bytes instead of str", lambda: _gpt2().encode(b"bytes"),
         TypeError, r"encode expects a str, got bytes"),
    Case("`encode(text, allowed_special={'<|pad|>'})`: an unknown special token",
         lambda: _gpt2().encode("hi", allowed_special={"<|pad|>"}),
         ValueError, r"unknown special tokens \['<\|pad\|>'\]; this tokenizer has \['<\|endoftext\|>'\]"),
    Case("`decode([50257])`: one past GPT-2's vocabulary", lambda: _gpt2().decode([50257]),
         ValueError, r"invalid token id 50257: ids are integers in 0\.\.50256"),
    Case("`decode([-1])`", lambda: _gpt2().decode([-1]),
         ValueError, r"invalid token id -1: ids are integers in 0\.\.50256"),
    Case("`decode([1.5])`: a float id", lambda: _gpt2().decode([1.5]),
         TypeError, r"invalid token id 1\.5: ids are integers in 0\.\.50256"),
    Case("`decode` of a 2-D tensor (a batch)", lambda: _gpt2().decode(torch.tensor([[1, 2]])),
         ValueError, r"decode takes one sequence of ids, not a batch.*tok\.decode\(out\[0\]\)"),
    Case("`decode(5)`: one id, not a sequence", lambda: _gpt2().decode(5),
         TypeError, r"decode expects a sequence of token ids \(a list or a 1-D tensor\), got int"),
    Case("`BPETokenizer().train(text, vocab_size=100)`", lambda: BPETokenizer().train("hello", 100),
         ValueError, r"vocab_size must be an integer >= 256 \(the 256 byte tokens\), got 100"),
    Case("`BPETokenizer().train(text, vocab_size=300.0)`: a float size", lambda: BPETokenizer().train("hello", 300.0),
         TypeError, r"vocab_size must be an integer, got float 300\.0"),
    Case("`BPETokenizer.load` of a file that is not JSON", lambda: BPETokenizer.load(_file("tok.json", b"{oops")),
         ValueError, r".*is not a tokenizer saved by BPETokenizer\.save: not valid JSON"),
    Case("`BPETokenizer.load` of a file whose merges use an unknown id",
         lambda: BPETokenizer.load(_damaged_tokenizer_file()),
         ValueError, r".*is a damaged tokenizer file: merge '9999 97' joins an id that no byte or earlier merge gives"),
    Case("`CharTokenizer('abc').encode('abz')`: an unknown character", lambda: CharTokenizer("abc").encode("abz"),
         ValueError, r"character 'z' \(U\+007A, at position 2\) is not in this tokenizer's vocabulary"),
    Case("`CharTokenizer('abc').decode([3])`", lambda: CharTokenizer("abc").decode([3]),
         ValueError, r"token id 3 is outside this tokenizer's vocabulary \[0, 3\)"),
    # --- Hugging Face checkpoints (GPT.from_pretrained)
    Case("a truncated model.safetensors", lambda: _load(weights_bytes=lambda b: b[: len(b) // 2]),
         ValueError, r".*is not a readable safetensors file \(corrupted or truncated\?\)"),
    Case("an empty model.safetensors", lambda: _load(weights_bytes=lambda b: b""),
         ValueError, r".*is not a readable safetensors file.*header too small"),
    Case("a safetensors header whose length field is larger than the file",
         lambda: _load(weights_bytes=lambda b: struct.pack("<Q", len(b)) + b[8:]),
         ValueError, r".*is not a readable safetensors file \(corrupted or truncated\?\)"),
    Case("a safetensors header that claims 2**60 bytes",
         lambda: _load(weights_bytes=lambda b: struct.pack("<Q", 2**60) + b[8:]),
         ValueError, r".*is not a readable safetensors file.*header too large"),
    Case("a safetensors header whose offsets point past the end of the file",
         lambda: _load(weights_bytes=_header(lambda h: _tensor_entry(h)["data_offsets"].__setitem__(1, 10**9))),
         ValueError, r".*is not a readable safetensors file.*invalid shape, data type, or offset for tensor"),
    Case("a safetensors header whose shape does not fit its byte range",
         lambda: _load(weights_bytes=_header(lambda h: _tensor_entry(h).__setitem__("shape", [50, 9]))),
         ValueError, r".*is not a readable safetensors file.*invalid shape, data type, or offset for tensor"),
    Case("a safetensors header with the wrong dtype (F64 for F32 bytes)",
         lambda: _load(weights_bytes=_header(lambda h: _tensor_entry(h).__setitem__("dtype", "F64"))),
         ValueError, r".*is not a readable safetensors file.*invalid shape, data type, or offset for tensor"),
    Case("a tensor of the wrong shape",
         lambda: _load(weights=lambda s: s.update({"transformer.h.0.mlp.c_fc.weight": torch.ones(8, 100)})),
         ValueError, r"tensor 'transformer\.h\.0\.mlp\.c_fc\.weight' has shape \(100, 8\) in the checkpoint but "
                     r"the model expects \(32, 8\)"),
    Case("a 3-D tensor where a matrix belongs",
         lambda: _load(weights=lambda s: s.update({"transformer.h.0.attn.c_attn.weight": torch.ones(8, 24, 1)})),
         ValueError, r"tensor 'transformer\.h\.0\.attn\.c_attn\.weight' has shape \(8, 24, 1\) in the checkpoint"),
    Case("an extra tensor", lambda: _load(weights=lambda s: s.update({"transformer.h.7.ln_1.weight": torch.ones(8)})),
         ValueError, r"checkpoint does not match the model: missing tensors \[\], "
                     r"unexpected tensors \['transformer\.h\.7\.ln_1\.weight'\]"),
    Case("a missing tensor", lambda: _load(weights=lambda s: s.pop("transformer.h.0.mlp.c_fc.bias")),
         ValueError, r"checkpoint does not match the model: missing tensors \['transformer\.h\.0\.mlp\.c_fc\.bias'\]"),
    Case("NaN in a weight", lambda: _load(weights=lambda s: s["transformer.wpe.weight"].__setitem__((0, 0), math.nan)),
         ValueError, r"tensor 'transformer\.wpe\.weight' holds NaN or infinite values"),
    Case("integer weights", lambda: _load(weights=lambda s: s.update({k: v.long() for k, v in s.items()})),
         ValueError, r"tensor 'transformer\.h\.0\.attn\.c_attn\.bias' has dtype torch\.int64 in the checkpoint; "
                     r"weights are floating point"),
    Case("an output layer that differs from the token embedding",
         lambda: _load(weights=lambda s: s.update({"lm_head.weight": torch.zeros(50, 8)})),
         ValueError, r"lm_head\.weight differs from transformer\.wte\.weight; gpt2lite ties the two"),
    Case("a pytorch_model.bin whose pickle would run code (a `__reduce__`; the test checks it never runs)",
         _load_pickle_that_runs_code,
         ValueError, r".*is not a plain tensor checkpoint \(corrupted, or it holds Python objects\)"),
    Case("a pytorch_model.bin that holds a list, not a state dict", lambda: _load_bin([torch.ones(2)]),
         ValueError, r".*is no GPT-2 checkpoint: it does not hold a state dict"),
    Case("a config.json that is not valid JSON", lambda: _load(config_bytes=b"{not json"),
         ValueError, r".*config\.json is not valid JSON"),
    Case("a config.json that is not UTF-8", lambda: _load(config_bytes=b"\xff\xfe{}"),
         ValueError, r".*config\.json is not valid JSON: 'utf-8' codec can't decode"),
    Case("a config.json that holds a list", lambda: _load(config=lambda hf: [hf]),
         ValueError, r"config\.json must hold a JSON object \(\{\.\.\.\}\), got a list"),
    Case("a config.json without n_embd", lambda: _load(config=_without("n_embd")),
         ValueError, r"config\.json lacks n_embd; a GPT-2 config\.json gives vocab_size, n_positions"),
    Case("a config.json with `\"n_head\": \"2\"`", lambda: _load(config=_changed(n_head="2")),
         ValueError, r"config\.json describes a model gpt2lite cannot build: GPTConfig\.n_head must be an integer"),
    Case("a config.json of another model type (`bert`)", lambda: _load(config=_changed(model_type="bert")),
         ValueError, r"not a GPT-2 checkpoint: config\.json has model_type='bert'"),
    Case("a config.json with an unsupported activation (`relu`)",
         lambda: _load(config=_changed(activation_function="relu")),
         ValueError, r"activation_function 'relu' is not supported"),
    Case("a config.json with an unsupported MLP width (`n_inner`)", lambda: _load(config=_changed(n_inner=100)),
         ValueError, r"n_inner=100 is not supported; gpt2lite's MLP is 4 \* n_embd wide"),
    Case("a config.json with unsupported attention scaling",
         lambda: _load(config=_changed(scale_attn_by_inverse_layer_idx=True)),
         ValueError, r"only GPT-2's attention scaling \(1/sqrt\(head_dim\)\) is supported"),
    Case("a config.json with untied embeddings", lambda: _load(config=_changed(tie_word_embeddings=False)),
         ValueError, r"untied input/output embeddings are not supported"),
    Case("a folder without a checkpoint", lambda: GPT.from_pretrained(_folder()),
         FileNotFoundError, r".*holds no checkpoint: expected config\.json and one of model\.safetensors"),
    Case("a path that does not exist", lambda: GPT.from_pretrained(_folder() / "missing"),
         FileNotFoundError, r"no checkpoint directory at"),
    # --- training checkpoints (train(..., resume=True), load_checkpoint)
    Case("a training checkpoint with a file missing",
         lambda: _resume_from_damaged(lambda p: (p / "train_state.safetensors").unlink()),
         FileNotFoundError, r".*is not a complete checkpoint: train_state\.safetensors missing"),
    Case("a training checkpoint with a truncated model.safetensors",
         lambda: _resume_from_damaged(lambda p: _truncate(p / "model.safetensors")),
         ValueError, r".*model\.safetensors is damaged.*resume from another checkpoint"),
    Case("a training checkpoint with a truncated train_state.json",
         lambda: _resume_from_damaged(lambda p: _truncate(p / "train_state.json")),
         ValueError, r".*train_state\.json is damaged \(not valid JSON"),
    Case("a training checkpoint of another model shape",
         lambda: load_checkpoint(_train_state(GPT(TINY.replace(n_layer=2))),
                                 save_checkpoint(_train_state(_model()), TrainConfig(), _folder())),
         ValueError, r".*was saved from a different model.*'n_layer': \(1, 2\)"),
    # --- data
    Case("a tinyshakespeare.txt with the wrong sha256 (data_dir argument)",
         lambda: _shakespeare_with_wrong_checksum(through_env_var=False),
         ValueError, r".*is not Tiny Shakespeare: its checksum is .*, expected 86c4e6aa.*Delete it"),
    Case("a tinyshakespeare.txt with the wrong sha256 (`$GPT2LITE_DATA_DIR`)",
         lambda: _shakespeare_with_wrong_checksum(through_env_var=True),
         ValueError, r".*is not Tiny Shakespeare: its checksum is .*, expected 86c4e6aa.*Delete it"),
    Case("a download whose sha256 is wrong (nothing is kept)", _download_with_wrong_checksum,
         DownloadError, r".*has checksum .*, expected 0000.*the download was corrupted"),
    Case("`get_batch` on 10 tokens with block_size=10",
         lambda: get_batch(torch.arange(10), batch_size=2, block_size=10),
         ValueError, r"data has 10 tokens, but a window of block_size=10 needs 11"),
    Case("`get_batch(data, batch_size=0, block_size=4)`", lambda: get_batch(torch.arange(10), 0, 4),
         ValueError, r"batch_size must be an integer >= 1, got 0"),
    Case("`train` on float data", lambda: _train_on(torch.rand(100)),
         ValueError, r"train_data must be a 1-D tensor of token ids"),
    Case("`train` on ids beyond the model's vocabulary", lambda: _train_on(torch.arange(100)),
         ValueError, r"train_data holds token ids up to 99.*vocab_size=tokenizer\.vocab_size"),
    Case("`TrainConfig(batch_size=0)`", lambda: TrainConfig(batch_size=0),
         ValueError, r"TrainConfig\.batch_size must be an integer >= 1, got 0"),
    Case("`TrainConfig(max_steps='10')`", lambda: TrainConfig(max_steps="10"),
         TypeError, r"TrainConfig\.max_steps must be an integer, got str '10'"),
    Case("`TrainConfig(learning_rate='1e-3')`", lambda: TrainConfig(learning_rate="1e-3"),
         TypeError, r"TrainConfig\.learning_rate must be a number, got str '1e-3'"),
    Case("`TrainConfig(learning_rate=0.0)`", lambda: TrainConfig(learning_rate=0.0),
         ValueError, r"TrainConfig\.learning_rate must be positive and finite.*got 0\.0"),
    Case("`TrainConfig(betas=None)`", lambda: TrainConfig(betas=None),
         TypeError, r"TrainConfig\.betas must be two numbers in \[0, 1\).*got NoneType None"),
    Case("`TrainConfig(log_interval=0)`", lambda: TrainConfig(log_interval=0),
         ValueError, r"TrainConfig\.log_interval must be an integer >= 1, got 0"),
]


def _letters(n: int) -> str:
    rng = random.Random(0)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ") for _ in range(n))


NASTY = [
    Nasty("the empty string", lambda: ""),
    Nasty("NUL bytes and other control characters", lambda: "\x00a\x00\x00b\x7f\x1b[31mred\x1b[0m\x08\x0c"),
    Nasty("every byte value 0..255, as text through latin-1", lambda: bytes(range(256)).decode("latin-1")),
    Nasty("mixed scripts, combining marks and emoji",
          lambda: "Ελληνικά русский 日本語 عربي עברית हिन्दी 한국어 e\u0301 😀 "
                  "👩\u200d👩\u200d👧 🇫🇷 \u202eRTL"),
    Nasty("noncharacters and private use code points", lambda: "\ufffe\uffff\U0010ffff\ue000\U000f0000"),
    Nasty("special-token text, not allowed as special", lambda: f"a{EOT}b<|endoftext"),
    Nasty("lone surrogates (UTF-8 cannot encode them)", lambda: "a\ud800b\udfff", expected="a\ufffdb\ufffd"),
    Nasty("a surrogate pair written as two code units", lambda: "\ud83d\ude00", expected="😀"),
    Nasty("1 MB of letters without a space (one regex chunk)", lambda: _letters(1_000_000), timeout_s=120),
]

_ROUND_TRIP_IN_A_CHILD = """
import sys
from pathlib import Path
from gpt2lite import BPETokenizer
text = Path(sys.argv[1]).read_text(encoding="utf-8")
tok = BPETokenizer.from_tiktoken("gpt2")
ids = tok.encode(text)
assert 0 <= min(ids) and max(ids) < tok.vocab_size, "an id outside the vocabulary"
assert tok.decode(ids) == text, "the round trip changed the text"
"""


# ------------------------------------------------------------------------------------------------------- tests
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the malicious pickle
@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_input_gives_a_clear_error(case):
    with pytest.raises(case.error, match=case.message) as info:
        case.call()
    # The README quotes the message: that text must really be there, and "…" must stand for anything left out first.
    message, pieces = str(info.value), [piece.strip() for piece in gist(case.message).split("…")]
    assert all(piece in message for piece in pieces), (pieces, message)
    assert case.message.startswith(".*") or message.startswith(pieces[0]), f"begin the regex with .*: {message}"


@pytest.mark.parametrize("case", NASTY, ids=[c.what for c in NASTY])
def test_nasty_but_valid_text_round_trips(case, tmp_path):
    text = case.text()
    expected = text if case.expected is None else case.expected
    if case.timeout_s is not None:  # in a child process, so that a hang fails the test instead of stalling the run
        (tmp_path / "text.txt").write_text(text, encoding="utf-8")
        child = subprocess.run(
            [sys.executable, "-c", _ROUND_TRIP_IN_A_CHILD, str(tmp_path / "text.txt")],
            cwd=ROOT, capture_output=True, text=True, timeout=case.timeout_s,
        )
        assert child.returncode == 0, child.stderr[-2000:]
        return
    for tok in (_gpt2(), _trained()):
        ids = tok.encode(text)
        vocab_size = tok.vocab_size
        assert all(isinstance(i, int) and 0 <= i < vocab_size for i in ids)
        assert tok.decode(ids) == expected
        assert tok.decode_bytes(ids) == expected.encode("utf-8")


# -------------------------------------------------------------------------------------------- the README table
def gist(message: str) -> str:
    """The text of a message regex: escapes undone, ".*" shown as "…"."""
    return re.sub(r"\\(.)", r"\1", re.sub(r" ?\.\* ?", " … ", message)).strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table() -> str:
    """The README's table: every case of CASES and NASTY, with what the user sees."""
    rows = ["| input | what you see |", "| --- | --- |"]
    for case in CASES:
        rows.append(f"| {_cell(case.what)} | `{case.error.__name__}`: {_cell(gist(case.message))} |")
    for nasty in NASTY:
        result = "the same text" if nasty.expected is None else f"`{nasty.expected!a}`"
        rows.append(f"| {_cell(nasty.what)} | no error: `decode(encode(text))` gives {_cell(result)} |")
    return "\n".join(rows) + "\n"


def test_readme_holds_exactly_this_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n## Bad input\n" in readme, "the README needs a section '## Bad input'"
    section = readme.split("\n## Bad input\n", 1)[1].split("\n## ", 1)[0]
    assert readme.index("\n## Bad input\n") < readme.index("\n## What is where\n")
    table = "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))
    assert table == markdown_table(), "the README's table differs: paste the output of python tests/test_bad_input.py"


def test_every_case_is_named_once():
    names = [c.what for c in CASES] + [n.what for n in NASTY]
    assert len(names) == len(set(names))


if __name__ == "__main__":
    print(markdown_table(), end="")
