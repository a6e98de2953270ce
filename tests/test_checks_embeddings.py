"""The answer checks of chapter 3: right answers pass, the common mistakes fail with their own hint."""

import pytest
import torch
import torch.nn.functional as F

from gpt2lite.checks import (
    CheckFailed,
    check_embed_onehot,
    check_embedding_params,
    check_nearest,
    check_shift_matrix,
)
import torch.nn as nn
from torch.nn.functional import embedding
from gpt2lite.checks import embeddings as ch3
from gpt2lite.checks._core import meta_model


def stub(*args):
    raise NotImplementedError("write this function")


# ---------------------------------------------------------------------- ex-03-onehot
def embed_onehot(idx, W):
    return F.one_hot(idx, num_classes=W.shape[0]).to(W.dtype) @ W  # (*idx.shape, C)


def onehot_without_num_classes(idx, W):
    return F.one_hot(idx).to(W.dtype) @ W


def onehot_integer(idx, W):
    return F.one_hot(idx, num_classes=W.shape[0]) @ W


def onehot_flat(idx, W):
    return F.one_hot(idx.reshape(-1), num_classes=W.shape[0]).to(W.dtype) @ W


def onehot_squeezed(idx, W):
    return (F.one_hot(idx, num_classes=W.shape[0]).to(W.dtype) @ W).squeeze()


def test_embed_onehot_passes(capsys):
    check_embed_onehot(embed_onehot)
    assert capsys.readouterr().out.startswith("✓ one-hot @ W equals the embedding lookup")


@pytest.mark.parametrize("wrong, message", [
    (onehot_without_num_classes, "without num_classes it is only"),
    (onehot_integer, r"\.to\(W\.dtype\)"),
    (onehot_flat, "the result is flat"),
    (onehot_squeezed, "one_hot\\(idx\\) has shape"),
    (stub, "not written yet"),
])
def test_embed_onehot_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_embed_onehot(wrong)


# ---------------------------------------------------------------------- ex-03-params
def embedding_params(config):
    return config.vocab_size * config.n_embd + config.block_size * config.n_embd


def test_embedding_params_passes(capsys):
    check_embedding_params(embedding_params)
    assert capsys.readouterr().out.startswith("✓ embedding_params matches")


@pytest.mark.parametrize("wrong, message", [
    (lambda cfg: cfg.vocab_size * cfg.n_embd, "token table alone"),
    (lambda cfg: cfg.block_size * cfg.n_embd, "position table alone"),
    (lambda cfg: 2 * cfg.vocab_size * cfg.n_embd + cfg.block_size * cfg.n_embd, "weight tying"),
    (lambda cfg: cfg.vocab_size + cfg.block_size, "n_embd columns"),
    (lambda cfg: (cfg.vocab_size + cfg.block_size) * cfg.n_embd / 1, "it is a float"),
    (lambda cfg: cfg.vocab_size * cfg.n_layer, "wte is vocab_size x n_embd"),
    (stub, "not written yet"),
])
def test_embedding_params_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_embedding_params(wrong)


# ---------------------------------------------------------------------- ex-03-neighbours
def cosine(W):
    Wn = F.normalize(W, dim=-1)
    return Wn @ Wn.T  # (n, n)


def nearest(W, i, k):
    sims = cosine(W)[i].clone()
    sims[i] = -float("inf")
    return sims.topk(k).indices.tolist()


def nearest_with_itself(W, i, k):
    return cosine(W)[i].topk(k).indices.tolist()


def nearest_by_dot(W, i, k):
    sims = (W @ W[i]).clone()
    sims[i] = -float("inf")
    return sims.topk(k).indices.tolist()


def nearest_ascending(W, i, k):
    sims = cosine(W)[i].clone()
    sims[i] = -float("inf")
    return sims.argsort()[-k:].tolist()


def nearest_removed_row(W, i, k):
    sims = cosine(W)[i]
    return torch.cat([sims[:i], sims[i + 1:]]).topk(k).indices.tolist()


def nearest_by_value(W, i, k):
    sims = cosine(W)[i].clone()
    sims[sims > 0.9999] = -float("inf")
    return sims.topk(k).indices.tolist()


def nearest_tensor(W, i, k):
    sims = cosine(W)[i].clone()
    sims[i] = -float("inf")
    return sims.topk(k).indices


def test_nearest_passes(capsys):
    check_nearest(nearest)
    assert capsys.readouterr().out.startswith("✓ nearest returns")


@pytest.mark.parametrize("wrong, message", [
    (nearest_with_itself, "row i itself is in the list"),
    (nearest_by_dot, "dot product"),
    (nearest_ascending, "ascending sort"),
    (nearest_removed_row, "one too low"),
    (nearest_by_value, "by its index, not by its similarity"),
    (nearest_tensor, r"use \.tolist\(\)"),
    (stub, "not written yet"),
])
def test_nearest_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_nearest(wrong)


# ---------------------------------------------------------------------- ex-03-shift
def rotation(k, C, freq, sin_ch, cos_ch, dtype=torch.float32):
    M = torch.zeros(C, C, dtype=torch.float64)
    M[sin_ch, sin_ch] = torch.cos(k * freq)
    M[cos_ch, sin_ch] = torch.sin(k * freq)
    M[sin_ch, cos_ch] = -torch.sin(k * freq)
    M[cos_ch, cos_ch] = torch.cos(k * freq)
    return M.to(dtype)


def frequencies(C):
    return 10000.0 ** (-torch.arange(0, C, 2, dtype=torch.float64) / C)


def shift_matrix(k, C):
    return rotation(k, C, frequencies(C), torch.arange(0, C, 2), torch.arange(1, C, 2))


def test_shift_matrix_passes(capsys):
    check_shift_matrix(shift_matrix)
    assert capsys.readouterr().out.startswith("✓ shift_matrix moves sinusoidal encodings")


@pytest.mark.parametrize("wrong, message", [
    (lambda k, C: shift_matrix(k, C).T, "this moves by -k"),
    (lambda k, C: rotation(k, C, 10000.0 ** (-torch.arange(C // 2, dtype=torch.float64) / C),
                           torch.arange(0, C, 2), torch.arange(1, C, 2)), "the frequencies are off"),
    (lambda k, C: rotation(k, C, 1 / frequencies(C), torch.arange(0, C, 2), torch.arange(1, C, 2)), "go up"),
    (lambda k, C: rotation(k, C, frequencies(C), torch.arange(C // 2), torch.arange(C // 2, C)), "interleaved"),
    (lambda k, C: shift_matrix(k, C).double(), "a float32 matrix"),
    (lambda k, C: shift_matrix(k, C)[: C // 2], "a tensor of shape"),
    (lambda k, C: 2 * shift_matrix(k, C), "angle-sum|sin\\(a \\+ b\\)"),
    (stub, "not written yet"),
])
def test_shift_matrix_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_shift_matrix(wrong)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _rotation(k, C):
    freq = 10000.0 ** (-torch.arange(0, C, 2, dtype=torch.float64) / C)
    return ch3._rotation(k, C, freq, (torch.arange(0, C, 2), torch.arange(1, C, 2))).float()


SHORTCUTS = [
    ("check_embed_onehot", lambda idx, W: F.embedding(idx, W), r"F\.embedding"),
    ("check_embed_onehot", lambda idx, W: embedding(idx, W), r"F\.embedding"),
    ("check_embed_onehot", lambda idx, W: torch.embedding(W, idx), r"torch\.embedding"),
    ("check_embed_onehot", lambda idx, W: nn.Embedding.from_pretrained(W)(idx), r"nn\.Embedding\.from_pretrained"),
    ("check_embed_onehot", lambda idx, W: W.index_select(0, idx.flatten()).view(*idx.shape, -1),
     r"Tensor\.index_select"),
    ("check_embedding_params", lambda cfg: meta_model(cfg).transformer.wte.weight.numel()
     + meta_model(cfg).transformer.wpe.weight.numel(), r"meta_model"),
    ("check_embedding_params", lambda cfg: nn.Embedding(cfg.vocab_size, cfg.n_embd, device="meta").weight.numel(),
     r"nn\.Embedding"),
    ("check_nearest", lambda W, i, k: ch3._reference_nearest(F.normalize(W, dim=-1) @ F.normalize(W, dim=-1)[i], i, k),
     r"gpt2lite\.checks\.embeddings\._reference_nearest"),
    ("check_shift_matrix", _rotation, r"gpt2lite\.checks\.embeddings\._rotation"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {}
