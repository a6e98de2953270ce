"""The sampling explorer's Python side (gpt2lite.interactive.sampling): its data, its still picture, its errors.

The data are the model's float32 next-token logits after each prompt, which the page reshapes with its sliders;
the page's JavaScript (js/sampling.js) is driven in Chromium by tests/test_browser_sampling.py, which compares
its probabilities with `filter_logits` and a softmax.
"""

import json
import re

import pytest
import torch

from gpt2lite import GPT, GPTConfig
from gpt2lite.data import CharTokenizer
from gpt2lite.interactive import Interactive, sampling_explorer
from gpt2lite.tokenizer import BPETokenizer

TOK = CharTokenizer("\nabcdefgh ijklmnopqrstuvwxyz,.:ROMEJULIT!?")
PROMPTS = ["ROMEO:\n", "to be, or not", "a" * 40]  # the last one is longer than the context


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=TOK.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()


def data_of(page: str) -> dict:
    block = re.search(r'<script type="application/json" class="gpt2lite-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1).replace("<\\/", "</"))


def test_data_hold_each_prompts_float32_logits_and_the_labels(model):
    figure = sampling_explorer(model, TOK, PROMPTS)
    assert isinstance(figure, Interactive) and figure.kind == "sampling" and figure.name == "sampling-explorer"
    data = data_of(figure.html())
    assert data["labels"] == TOK.chars and data["block_size"] == 16
    assert [p["text"] for p in data["prompts"]] == PROMPTS
    for prompt in data["prompts"]:
        ids = torch.tensor([TOK.encode(prompt["text"])[-16:]])  # cropped to the context, as generate does
        with torch.no_grad():
            expected = model(ids, last_only=True)[0, -1]  # (V,) float32: what generate samples from
            every_position = model(ids)[0, -1]  # the same up to rounding (another matrix product)
        exported = torch.tensor(prompt["logits"], dtype=torch.float32)
        assert exported.shape == (TOK.vocab_size,)
        assert torch.equal(exported, expected), "9 digits must give back the very float32 logits"
        torch.testing.assert_close(exported, every_position, atol=1e-6, rtol=0)


def test_the_same_bytes_every_run_and_the_models_mode_is_kept(model):
    model.train()
    try:
        first = sampling_explorer(model, TOK, PROMPTS, name="other-name").html()
        assert model.training, "the explorer must put the model back in training mode"
    finally:
        model.eval()
    assert first == sampling_explorer(model, TOK, PROMPTS, name="other-name").html()  # no dropout, no randomness
    assert 'id="other-name"' in first


def test_still_picture_is_the_first_prompts_cuts(model):
    page = sampling_explorer(model, TOK, PROMPTS).html()
    assert re.search(r'<img alt="[^"]*ROMEO[^"]*" src="data:image/svg\+xml;base64,', page)
    assert "<figcaption>Pick a prompt and move the sliders" in page


@pytest.mark.parametrize("prompts, error, message", [
    ([""], ValueError, "prompt 0 is empty"),
    (["ROMEO:\n", "héllo"], ValueError, "prompt 1 ('héllo') has the character 'é' (U+00E9)"),
    (["ROMEO 🙂"], ValueError, "'🙂' (U+1F642)"),
    ("ROMEO:\n", TypeError, "prompts must be a list of strings"),
    ([], ValueError, "pass 1 to 8 prompts"),
    (["a"] * 2, ValueError, "prompts must be distinct"),
    ([str(i) for i in "abcdefghi"], ValueError, "pass 1 to 8 prompts"),
    ([42], TypeError, "prompt 0 must be a string"),
])
def test_bad_prompts_are_refused_with_what_to_pass(model, prompts, error, message):
    with pytest.raises(error, match=re.escape(message)):
        sampling_explorer(model, TOK, prompts)


def test_a_model_and_tokenizer_that_do_not_fit_are_refused(model):
    with pytest.raises(TypeError, match="model must be a gpt2lite GPT"):
        sampling_explorer(torch.nn.Linear(2, 2), TOK, PROMPTS)
    with pytest.raises(TypeError, match="character tokenizer with a .chars list"):
        sampling_explorer(model, BPETokenizer(), PROMPTS)
    with pytest.raises(ValueError, match=f"has 3 characters but the model predicts {TOK.vocab_size}"):
        sampling_explorer(model, CharTokenizer("abc"), ["abc"])
    with pytest.raises(ValueError, match="lower-case letters"):
        sampling_explorer(model, TOK, PROMPTS, name="Not An Id")
