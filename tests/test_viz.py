"""The book's pictures: token colouring and plots run, and show what they claim."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from gpt2lite import GPT, GPTConfig
from gpt2lite.data import CharTokenizer
from gpt2lite.training import History
from gpt2lite.viz import plot_attention, plot_losses, token_pieces, tokens_html


def test_token_pieces_cover_the_text():
    tok = CharTokenizer("ab <&>\n")
    pieces = token_pieces(tok, "a <b>\n")
    assert "".join(p for _, p in pieces) == "a <b>\n"
    assert [i for i, _ in pieces] == tok.encode("a <b>\n")


def test_tokens_html_escapes_and_marks_every_token():
    tok = CharTokenizer("ab <&>\n")
    page = tokens_html(tok, "a <b>\n")
    assert page.count("<span") == 6
    assert "&lt;" in page and "<b>" not in page  # text is escaped, never interpreted as HTML
    assert "\u00b7" in page and "<br>" in page  # spaces and newlines are made visible


def test_plot_attention_draws_one_matrix():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8)).eval()
    maps = model.attention_maps(torch.tensor([[1, 2, 3, 4]]))
    ax = plot_attention(maps[0, 0, 1], labels=list("abcd"), title="head 1")
    assert ax.get_title() == "head 1" and [t.get_text() for t in ax.get_xticklabels()] == list("abcd")
    with pytest.raises(ValueError, match=r"one \(T, T\) matrix"):
        plot_attention(maps[0, 0])


def test_plot_losses_draws_the_three_curves():
    history = History()
    for step in range(3):
        history.log_step(step, 3.0 - step, 1e-3, 100.0)
    history.log_eval(0, {"train": 3.1, "val": 3.2})
    history.log_eval(3, {"train": 1.1, "val": 1.3})
    ax = plot_losses(history)
    assert [line.get_label() for line in ax.get_lines()] == ["train (one batch)", "train (estimate)", "validation (estimate)"]
    assert list(ax.get_lines()[2].get_ydata()) == [3.2, 1.3]


@pytest.mark.parametrize("weights, labels, error, message", [
    ([[1.0, 0.0], [0.5, 0.5]], None, TypeError, r"one \(T, T\) matrix as a tensor or array, got list"),
    (torch.ones(2, 3) / 3, None, ValueError, r"one \(T, T\) matrix, got shape \(2, 3\)"),
    (torch.ones(2, 2, 2), None, ValueError, r"one \(T, T\) matrix, got shape \(2, 2, 2\)"),
    (torch.eye(3), ["a", "b"], ValueError, "labels must name the 3 tokens of the matrix, got 2 labels"),
])
def test_plot_attention_refuses_what_is_not_one_square_map(weights, labels, error, message):
    with pytest.raises(error, match=message):
        plot_attention(weights, labels=labels)


def test_plot_attention_takes_a_numpy_array_as_a_tensor():
    import numpy as np

    weights = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    from_numpy, from_tensor = plot_attention(weights), plot_attention(torch.from_numpy(weights))
    assert (from_numpy.images[0].get_array() == from_tensor.images[0].get_array()).all()
