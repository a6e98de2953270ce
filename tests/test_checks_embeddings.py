"""The answer checks of chapter 3: right answers pass, the common mistakes fail with their own hint."""

import pytest
import torch
import torch.nn.functional as F

from gpt2lite.checks import (
    CheckFailed,
    check_embed_onehot,
    check_chunk_embedding,
    check_nearest,
    check_shift_matrix,
)
import torch.nn as nn
from torch.nn.functional import embedding
from gpt2lite.checks import embeddings as ch3


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


# ---------------------------------------------------------------------- ex-03-chunk
def embed_chunk(idx, wte, wpe, start):
    positions = start + torch.ones_like(idx).cumsum(dim=1) - 1  # (B, T)
    return wte[idx] + wpe[positions]


def test_chunk_embedding_passes(capsys):
    check_chunk_embedding(embed_chunk)
    assert capsys.readouterr().out.startswith("✓ embed_chunk places every chunk at positions start")


def _chunk(dim=1, offset=-1, use_start=True, tokens=True, positions=True):
    """embed_chunk with the exercise's bugs (cumsum over dim=0, no - 1) and other mistakes switched on."""
    def embed_chunk(idx, wte, wpe, start):
        where = (start if use_start else 0) + torch.ones_like(idx).cumsum(dim=dim) + offset
        return (wte[idx] if tokens else 0) + (wpe[where] if positions else 0)
    return embed_chunk


@pytest.mark.parametrize("wrong, message", [
    (_chunk(dim=0, offset=0), "both bugs are still there"),
    (_chunk(dim=0), "count down the batch"),
    (_chunk(offset=0), "one too far"),
    (_chunk(use_start=False), "restart at 0"),
    (_chunk(positions=False), "position vectors are missing"),
    (_chunk(tokens=False), "token vectors are missing"),
    (lambda idx, wte, wpe, start: wte[idx] + wpe[start + 1:start + 1 + idx.shape[1]], "one too far|past wpe"),
    (stub, "not written yet"),
])
def test_chunk_embedding_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_chunk_embedding(wrong)


def test_chunk_embedding_names_an_index_past_the_table():
    with pytest.raises(CheckFailed, match=r"IndexError(.|\n)*an index past wpe's 16 rows"):
        check_chunk_embedding(lambda idx, wte, wpe, start:
            wte[idx] + wpe[start + len(wpe) + torch.arange(idx.shape[1])])


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
    ("check_chunk_embedding", lambda idx, wte, wpe, start: ch3._reference_chunk(idx, wte, wpe, start),
     r"gpt2lite\.checks\.embeddings\._reference_chunk"),
    ("check_nearest", lambda W, i, k: ch3._reference_nearest(F.normalize(W, dim=-1) @ F.normalize(W, dim=-1)[i], i, k),
     r"gpt2lite\.checks\.embeddings\._reference_nearest"),
    ("check_shift_matrix", _rotation, r"gpt2lite\.checks\.embeddings\._rotation"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {}
