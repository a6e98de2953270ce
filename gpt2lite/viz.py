"""Pictures for the book: token boundaries, attention heatmaps, loss curves.

matplotlib is imported only when a plot is asked for, so the package itself does not need it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import torch

# Soft background colours that keep black text readable; neighbouring tokens always differ.
TOKEN_COLOURS = ("#fde68a", "#a7f3d0", "#bfdbfe", "#fbcfe8", "#ddd6fe", "#fed7aa")


def token_pieces(tokenizer, text: str) -> list[tuple[int, str]]:
    """(id, text) for every token of ``text``. A token holding part of a UTF-8 character shows as U+FFFD."""
    return [(i, tokenizer.decode([i])) for i in tokenizer.encode(text)]


def tokens_html(tokenizer, text: str) -> str:
    """HTML that colours each token of ``text`` (hover a token to see its id). Spaces are shown as '·'."""
    spans = []
    for n, (i, piece) in enumerate(token_pieces(tokenizer, text)):
        shown = html.escape(piece.replace(" ", "\u00b7")).replace("\n", "\u21b5<br>")
        colour = TOKEN_COLOURS[n % len(TOKEN_COLOURS)]
        spans.append(
            f'<span title="id {i}" style="background:{colour};color:#111;padding:1px 2px;margin:0 1px;'
            f'border-radius:3px;font-family:monospace;white-space:pre-wrap">{shown}</span>'
        )
    return '<div style="line-height:2">' + "".join(spans) + "</div>"


def show_tokens(tokenizer, text: str):
    """Display the colour-coded tokens in a notebook (returns an IPython HTML object)."""
    from IPython.display import HTML

    return HTML(tokens_html(tokenizer, text))


def plot_attention(weights: torch.Tensor, labels: Sequence[str] | None = None, ax=None, title: str | None = None):
    """Heatmap of one (T, T) attention matrix: row = the token that looks, column = the token looked at."""
    import matplotlib.pyplot as plt

    if isinstance(weights, np.ndarray):
        weights = torch.from_numpy(weights)
    if not isinstance(weights, torch.Tensor):
        raise TypeError(f"plot_attention takes one (T, T) matrix as a tensor or array, got {type(weights).__name__}")
    weights = weights.detach().float().cpu()
    if weights.dim() != 2 or weights.shape[0] != weights.shape[1]:
        raise ValueError(f"plot_attention takes one (T, T) matrix, got shape {tuple(weights.shape)}")
    if labels is not None and len(labels) != weights.shape[0]:
        raise ValueError(f"labels must name the {weights.shape[0]} tokens of the matrix, got {len(labels)} labels")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    image = ax.imshow(weights.numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
    if labels is not None:
        ticks = range(len(labels))
        ax.set_xticks(ticks, labels, rotation=90, fontsize=8)
        ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if title:
        ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_losses(history, ax=None, title: str | None = "Training"):
    """Loss curves of a ``gpt2lite.training.History``: noisy per-step loss, and the train/val estimates."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history.step, history.train_loss, color="#9ca3af", lw=0.8, label="train (one batch)")
    ax.plot(history.eval_step, history.eval_train_loss, "o-", color="#2563eb", label="train (estimate)")
    ax.plot(history.eval_step, history.val_loss, "o-", color="#dc2626", label="validation (estimate)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy loss (nats)")
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax
