"""The in-page GPT's Python side (gpt2lite.interactive.generation): `export_onnx` and the playground's data.

The ONNX graph is a trace, and the trace runs through Python branches (Linear's few-rows path, the attention's
causal cases), so it is checked against the torch model at every length from 1 to block_size, in ONNX Runtime's
Python package. The page itself (js/generation.js in ONNX Runtime Web) is driven by tests/test_browser_generation.py.
"""

import base64
import hashlib
import io
import json
import re
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from gpt2lite import GPT, GPTConfig
from gpt2lite.data import CharTokenizer
from gpt2lite.interactive import Interactive, export_onnx, generation_playground

TOK = CharTokenizer("\nabcdefgh ijklmnopqrstuvwxyz,.:ROMEJULIT!?")
BLOCK = 16
PROMPTS = ["ROMEO:\n", "t"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=TOK.vocab_size, block_size=BLOCK, n_layer=2, n_head=2, n_embd=16)).eval()


@pytest.fixture(scope="module")
def onnx_bytes(model):
    return export_onnx(model, io.BytesIO())


@pytest.fixture(scope="module")
def session(onnx_bytes):
    return ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])


def data_of(page: str) -> dict:
    block = re.search(r'<script type="application/json" class="gpt2lite-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1).replace("<\\/", "</"))


def onnx_greedy(session, ids: list[int], n: int) -> list[int]:
    ids = list(ids)
    for _ in range(n):
        window = np.array([ids[-BLOCK:]], dtype=np.int64)  # (1, T): the sliding window of generate
        ids.append(int(session.run(None, {"ids": window})[0][0].argmax()))
    return ids


def test_export_gives_the_same_bytes_every_run_to_a_path_or_a_buffer(model, onnx_bytes, tmp_path):
    buffer = io.BytesIO()
    assert export_onnx(model, buffer) == onnx_bytes == buffer.getvalue()
    assert export_onnx(model, tmp_path / "model.onnx") == onnx_bytes
    assert (tmp_path / "model.onnx").read_bytes() == onnx_bytes
    assert export_onnx(model, str(tmp_path / "again.onnx")) == onnx_bytes


def test_export_is_silent_and_leaves_the_model_as_it_was(model):
    model.train()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            export_onnx(model, io.BytesIO())
        assert not caught, [str(w.message)[:80] for w in caught]
        assert model.training
    finally:
        model.eval()


@pytest.mark.parametrize("T", range(1, BLOCK + 1))
def test_the_graph_gives_the_torch_models_last_logits_at_every_length(model, session, T):
    ids = torch.randint(0, TOK.vocab_size, (1, T), generator=torch.Generator().manual_seed(T))
    with torch.no_grad():
        expected = model(ids)[0, -1].numpy()  # (V,)
    (got,) = session.run(None, {"ids": ids.numpy()})
    assert got.shape == (1, TOK.vocab_size) and got.dtype == np.float32
    np.testing.assert_allclose(got[0], expected, atol=1e-5, rtol=0)


def test_the_graph_refuses_more_than_the_context(session):
    with pytest.raises(Exception):  # ONNX Runtime: the position table has BLOCK rows
        session.run(None, {"ids": np.zeros((1, BLOCK + 1), dtype=np.int64)})


def test_the_chapters_model_shape_exports_and_matches_at_1_2_17_and_32():
    """The chapter's shape (2 layers, width 64, 4 heads, context 32), random weights: the lengths the brief names."""
    torch.manual_seed(1)
    big = GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=64)).eval()
    first = export_onnx(big, io.BytesIO())
    assert hashlib.sha256(first).digest() == hashlib.sha256(export_onnx(big, io.BytesIO())).digest()
    session = ort.InferenceSession(first, providers=["CPUExecutionProvider"])
    for T in (1, 2, 17, 32):
        ids = torch.randint(0, 65, (1, T), generator=torch.Generator().manual_seed(T))
        with torch.no_grad():
            expected = big(ids)[0, -1].numpy()
        np.testing.assert_allclose(session.run(None, {"ids": ids.numpy()})[0][0], expected, atol=1e-5, rtol=0)


def test_playground_data_hold_the_model_the_vocabulary_and_torchs_greedy_text(model, onnx_bytes, session):
    figure = generation_playground(model, TOK, PROMPTS, max_new_tokens=30)
    assert isinstance(figure, Interactive) and figure.kind == "generation" and figure.name == "generation-playground"
    page = figure.html()
    data = data_of(page)
    assert base64.b64decode(data["model"]) == onnx_bytes
    assert data["chars"] == TOK.chars and data["block_size"] == BLOCK and data["max_new_tokens"] == 30
    for prompt, canned in zip(PROMPTS, data["prompts"]):
        ids = torch.tensor([TOK.encode(prompt)])
        greedy = TOK.decode(model.generate(ids, 30, temperature=0)[0, ids.size(1):].tolist())
        assert canned == {"text": prompt, "greedy": greedy}
        # the graph's greedy text is torch's, past the context too (30 + 7 > 16)
        assert TOK.decode(onnx_greedy(session, TOK.encode(prompt), 30)[len(prompt):]) == greedy
    assert re.search(r'<img alt="[^"]*ROMEO[^"]*" src="data:image/svg\+xml;base64,', page)
    assert page == generation_playground(model, TOK, PROMPTS, max_new_tokens=30).html()  # deterministic
    assert page == generation_playground(model, TOK, PROMPTS, max_new_tokens=np.int64(30)).html()  # numpy's int


def test_a_prompt_longer_than_the_context_is_continued_from_its_window(model, session):
    prompt = "to be, or not to be, that is the question"  # 41 > 16 characters
    ids = torch.tensor([TOK.encode(prompt)])
    expected = model.generate(ids, 20, temperature=0)[0].tolist()
    assert onnx_greedy(session, TOK.encode(prompt), 20) == expected


@pytest.mark.parametrize("prompts, max_new, error, message", [
    ([""], 10, ValueError, "prompt 0 is empty"),
    (["é"], 10, ValueError, "'é' (U+00E9), which is not among the model's"),
    ("ROMEO", 10, TypeError, "prompts must be a list of strings"),
    (PROMPTS, 0, ValueError, "max_new_tokens must be an integer from 1 to 500"),
    (PROMPTS, 501, ValueError, "max_new_tokens must be an integer from 1 to 500"),
    (PROMPTS, 2.5, TypeError, "max_new_tokens must be an integer, got float 2.5"),
    (PROMPTS, True, TypeError, "max_new_tokens must be an integer, got bool True"),
    (PROMPTS, "80", TypeError, "max_new_tokens must be an integer, got str '80'"),
])
def test_bad_playground_arguments_are_refused(model, prompts, max_new, error, message):
    with pytest.raises(error, match=re.escape(message)):
        generation_playground(model, TOK, prompts, max_new_tokens=max_new)


def test_bad_export_arguments_are_refused(model):
    with pytest.raises(TypeError, match="model must be a gpt2lite GPT"):
        export_onnx(torch.nn.Linear(2, 2), io.BytesIO())
    with pytest.raises(TypeError, match="path_or_buffer must be a file path or a binary buffer"):
        export_onnx(model, 42)
    bert = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8, causal=False))
    with pytest.raises(ValueError, match="bidirectional"):
        export_onnx(bert, io.BytesIO())
