"""The attention explorer's Python side: its data are the maps it was given (to 6 digits), a causal model's
future is flagged as masked, the still picture is layer 0, head 0, and bad input gets a message saying what to
pass. (tests/test_browser_attention.py drives the figure itself in Chromium.)"""

import json
import re

import pytest
import torch

from gpt2lite import GPT, GPTConfig, draw
from gpt2lite.draw.canvas import Drawing
from gpt2lite.interactive import Interactive, attention_explorer
from gpt2lite.interactive.attention import MAX_TOKENS

TEXT = "To be, or not"


def weights(n_layer: int = 2, n_head: int = 3, T: int = len(TEXT), *, causal: bool = True, seed: int = 0):
    """Softmax weights (n_layer, n_head, T, T) of random scores, with or without the causal mask."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(n_layer, n_head, T, T, generator=g) * 2
    if causal:
        allowed = torch.ones(T, T, dtype=torch.bool).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1)


def page_data(figure: Interactive) -> dict:
    """The JSON block of the figure's HTML, as the page reads it."""
    block = re.search(r'<script type="application/json" class="gpt2lite-data">(.*?)</script>', figure.html(), re.S)
    return json.loads(block.group(1).replace("<\\/", "</"))


def test_data_are_the_maps_to_six_digits():
    maps = weights()
    figure = attention_explorer(maps, list(TEXT))
    data = page_data(figure)
    assert data == figure.data  # the page reads what Python made
    assert data["tokens"] == list(TEXT) and data["n_layer"] == 2 and data["n_head"] == 3 and data["digits"] == 6
    (model,) = data["models"]
    assert model["name"] == "" and model["causal"] is True
    shown = torch.tensor(model["weights"], dtype=torch.float64)
    assert shown.shape == maps.shape
    # 6 significant digits: within half a unit of the 6th digit of each weight, and not the raw float32 text
    error = (shown - maps.double()).abs()
    assert (error <= 5e-6 * maps.double()).all() and error.max() > 0
    assert max(len(repr(v)) for row in model["weights"][0][0] for v in row) <= len("0.000123456")
    # the future of a causal model is the mask's exact zeros; the page draws it as masked
    assert (shown[..., torch.ones(len(TEXT), len(TEXT), dtype=torch.bool).triu(1)] == 0).all()


def test_two_models_side_by_side_from_attention_maps():
    """Chapter 10's case: a causal and a bidirectional GPT, their maps as GPT.attention_maps returns them."""
    cfg = GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16)
    idx = torch.randint(20, (1, 10), generator=torch.Generator().manual_seed(1))
    maps = {}
    for name, causal in (("GPT", True), ("BERT", False)):
        torch.manual_seed(0)
        maps[name] = GPT(cfg.replace(causal=causal)).eval().attention_maps(idx)  # (n_layer, 1, n_head, T, T)
    tokens = [f"t{i}" for i in range(10)]
    figure = attention_explorer(maps, tokens, name="two-models")
    data = page_data(figure)
    assert [m["name"] for m in data["models"]] == ["GPT", "BERT"]
    assert [m["causal"] for m in data["models"]] == [True, False]
    for model, m in zip(data["models"], maps.values()):
        torch.testing.assert_close(torch.tensor(model["weights"]), m[:, 0], rtol=0, atol=1e-6)
    assert f'id="two-models" data-figure="attention"' in figure.html()
    # the still picture: layer 0, head 0 of both models, one panel each
    assert isinstance(figure.still, Drawing)
    expected = draw.attention_lines(torch.stack([m[0, 0, 0] for m in maps.values()]), tokens, ["GPT", "BERT"])
    assert figure.still.svg() == expected.svg()
    assert "GPT" in figure.alt and "BERT" in figure.alt


def test_causal_flag_can_be_given_and_is_checked():
    maps = weights(causal=False)
    assert page_data(attention_explorer(maps, list(TEXT)))["models"][0]["causal"] is False
    with pytest.raises(ValueError, match="said to be causal but puts weight on later positions"):
        attention_explorer(maps, list(TEXT), causal=True)
    # a causal model may be shown as if bidirectional (its zeros drawn as weights) when asked
    figure = attention_explorer({"a": weights(), "b": maps}, list(TEXT), causal={"a": False})
    assert [m["causal"] for m in figure.data["models"]] == [False, False]
    with pytest.raises(ValueError, match="not among the models"):
        attention_explorer({"a": weights()}, list(TEXT), causal={"c": True})
    with pytest.raises(TypeError, match="causal must be None"):
        attention_explorer(maps, list(TEXT), causal="yes")


def test_html_is_deterministic_and_carries_the_still():
    a = attention_explorer(weights(), list(TEXT)).html()
    b = attention_explorer(weights(), list(TEXT)).html()
    assert a == b
    assert '<img alt="Attention explorer for a model with 2 layers of 3 heads' in a
    assert "layer 0, head 0" in a and "<figcaption>" in a and "grey cells are the future" in a
    assert "grey cells" not in attention_explorer(weights(causal=False), list(TEXT)).caption


def test_the_limit_on_tokens():
    T = MAX_TOKENS
    attention_explorer(weights(1, 1, T), ["x"] * T)  # at the limit: fine
    with pytest.raises(ValueError, match=f"at most {MAX_TOKENS}"):
        attention_explorer(weights(1, 1, T + 1), ["x"] * (T + 1))


@pytest.mark.parametrize("bad, tokens, error, message", [
    (weights(), list(TEXT)[:-1], ValueError, "cover 13 x 13 positions but there are 12 tokens"),
    (weights()[0], list(TEXT), ValueError, r"must have shape \(n_layer, n_head, T, T\)"),
    (weights()[None].expand(2, -1, -1, -1, -1).transpose(0, 1), list(TEXT), ValueError, "hold 2 sequences"),
    (weights().masked_fill(torch.ones(13, 13, dtype=torch.bool).triu(1), float("-inf")), list(TEXT),
     ValueError, "inf or nan"),
    (weights() * 0.5, list(TEXT), ValueError, r"row 0 of layer 0, head 0 sums to 0.5000, not 1"),
    (torch.randn(2, 3, 13, 13), list(TEXT), ValueError, "outside \\[0, 1\\]"),
    ("weights", list(TEXT), TypeError, "must be a tensor"),
    (object(), list(TEXT), TypeError, "must be a tensor"),
    ({}, list(TEXT), ValueError, "empty dict"),
    ({"": weights()}, list(TEXT), ValueError, "model names must be non-empty strings"),
    ({3: weights()}, list(TEXT), TypeError, "model names must be non-empty strings"),
    ({f"m{i}": weights() for i in range(5)}, list(TEXT), ValueError, "at most 4"),
    ({"a": weights(2, 3), "b": weights(1, 3)}, list(TEXT), ValueError, "same number of layers and heads"),
    (weights(), TEXT, TypeError, "not one string"),
    (weights(), [], ValueError, "tokens is empty"),
    (weights(), list(TEXT)[:-1] + [""], ValueError, "non-empty string"),
    (weights(), list(TEXT)[:-1] + [7], TypeError, "non-empty string"),
    (torch.zeros(0, 3, 13, 13), list(TEXT), ValueError, "no layer or no head"),
])
def test_bad_input_says_what_to_pass(bad, tokens, error, message):
    with pytest.raises(error, match=message):
        attention_explorer(bad, tokens)


def test_a_bad_name_is_refused():
    with pytest.raises(ValueError, match="HTML id"):
        attention_explorer(weights(), list(TEXT), name="Attention Explorer")
    with pytest.raises(TypeError, match="name must be a str, got int"):
        attention_explorer(weights(), list(TEXT), name=3)
    with pytest.raises(TypeError, match="caption must be a str, got list"):
        attention_explorer(weights(), list(TEXT), caption=["a caption"])


def test_causal_flags_may_be_numpy_bools_but_not_numbers():
    import numpy as np

    causal = attention_explorer(weights(), list(TEXT), causal=np.True_)
    assert causal.html() == attention_explorer(weights(), list(TEXT), causal=True).html()
    assert attention_explorer({"a": weights()}, list(TEXT), causal={"a": np.True_}).data["models"][0]["causal"] is True
    with pytest.raises(TypeError, match=r"causal\['a'\] must be True or False, got int 1"):
        attention_explorer({"a": weights()}, list(TEXT), causal={"a": 1})
