"""Checks for chapter 3's exercises: lookup as a one-hot product, the positions of a continued chunk, nearest
neighbours by cosine similarity, and the rotation that shifts a sinusoidal encoding."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._core import Forbidden, call, describe, expect_close, expect_equal, fail, forbid, forbid_helpers, passed


def _no_lookup() -> Forbidden:
    """torch's embedding lookups and row selections: the exercise computes the lookup as one-hot vectors @ W."""
    lookups = {F.embedding: "F.embedding", torch.embedding: "torch.embedding", nn.Embedding: "nn.Embedding",
               F.embedding_bag: "F.embedding_bag", torch.embedding_bag: "torch.embedding_bag",
               nn.EmbeddingBag: "nn.EmbeddingBag"}
    for name in ["index_select", "gather", "take", "take_along_dim"]:
        lookups[getattr(torch, name)] = f"torch.{name}"
        lookups[getattr(torch.Tensor, name)] = f"Tensor.{name}"
    return forbid(lookups, "build the one-hot vectors with F.one_hot(idx, num_classes=W.shape[0]).to(W.dtype) and "
                           "multiply them by W with @") + forbid_helpers(__name__)


def check_embed_onehot(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """`fn(idx, W)` returns the embedding of the ids `idx` (any shape, even 0-d) in the (V, C) table `W`,
    computed as one-hot vectors @ W: shape (*idx.shape, C)."""
    g = torch.Generator().manual_seed(1)
    cases = [(V, C, shape) for V, C in [(5, 3), (65, 64), (1, 7)] for shape in [(), (4,), (2, 6), (2, 3, 4)]]
    cases += [(50257, 4, (1,)), (50257, 4, (3,))]  # the last ids of GPT-2's vocabulary
    forbidden = _no_lookup()
    for V, C, shape in cases:
        W = torch.randn(V, C, generator=g)
        idx = torch.randint(V, shape, generator=g) if V < 50257 else torch.arange(V - shape[0], V)
        text = f"{fn.__name__}(idx of shape {shape}, W of shape {(V, C)})"
        if idx.numel() <= 8:
            text = f"{fn.__name__}({describe(idx)}, W of shape {(V, C)})"
        got = call(fn, idx.clone(), W.clone(), call_text=text, forbidden=forbidden, crash_hint=(
            "build the one-hot with F.one_hot(idx, num_classes=W.shape[0]) (without num_classes it is only "
            "idx.max() + 1 wide) and turn it into W's dtype with .to(W.dtype) before the product"))
        expect_close(text, got, F.embedding(idx, W), mistakes={
            f"the result is flat: reshape it back to (*idx.shape, C) = {(*shape, C)}":
                lambda: F.embedding(idx.reshape(-1), W),
        }, hint="one_hot(idx) has shape (*idx.shape, V); @ W of shape (V, C) gives (*idx.shape, C)")
    passed("one-hot @ W equals the embedding lookup, for every shape of idx")


def _reference_chunk(idx: torch.Tensor, wte: torch.Tensor, wpe: torch.Tensor, start: int) -> torch.Tensor:
    """wte[idx] + wpe[start + t] for the chunk idx (B, T): its tokens stand at positions start .. start + T - 1."""
    positions = torch.arange(start, start + idx.shape[1])  # (T,)
    return wte[idx] + wpe[positions]


def check_chunk_embedding(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]) -> None:
    """`fn(idx, wte, wpe, start)` returns the (B, T, C) input vectors of the chunk idx (B, T) that continues, in every
    sequence of the batch, at position start: wte[idx[b, t]] + wpe[start + t]."""
    g = torch.Generator().manual_seed(2)
    V, block_size, C = 11, 16, 4
    wte = torch.randn(V, C, generator=g)
    wpe = torch.randn(block_size, C, generator=g)
    cases = [(2, 5, 0), (3, 4, 7), (1, 6, 5), (4, 1, 3), (2, 3, 13), (1, 16, 0)]  # (B, T, start)
    own = forbid_helpers(__name__)
    for B, T, start in cases:
        idx = torch.randint(V, (B, T), generator=g)
        text = f"{fn.__name__}(idx of shape {(B, T)}, wte {(V, C)}, wpe {(block_size, C)}, start={start})"
        got = call(fn, idx.clone(), wte.clone(), wpe.clone(), start, call_text=text, forbidden=own, crash_hint=(
            f"an index past wpe's {block_size} rows? The chunk's tokens stand at positions start .. start + T - 1, "
            f"here {start} .. {start + T - 1}"))
        rows = torch.arange(B)[:, None]  # (B, 1)
        t = torch.arange(T)[None, :]  # (1, T)

        def at(positions: torch.Tensor) -> torch.Tensor:
            """wte[idx] + wpe[positions], positions of shape (B, T), (1, T) or (B, 1), clipped into the table."""
            return wte[idx] + wpe[positions.clamp(max=block_size - 1).expand(B, T)]

        expect_close(text, got, _reference_chunk(idx, wte, wpe, start), atol=1e-6, rtol=1e-6, mistakes={
            "both bugs are still there: cumsum(dim=0) counts down the batch, and a cumsum of ones starts at 1":
                lambda: at(start + rows + 1 + 0 * t),
            "the positions count down the batch, not along the sequence: cumsum(dim=0) gives every token of "
            "sequence b the same position; count along the tokens, dim=1": lambda: at(start + rows + 0 * t),
            "the positions are one too far: a cumsum of ones starts at 1, but the chunk's first token stands at "
            "position start": lambda: at(start + t + 1),
            "the positions restart at 0: the chunk continues its texts, so its first token stands at position "
            "start": lambda: at(t),
            "the position vectors are missing: add wpe's rows for positions start .. start + T - 1":
                lambda: wte[idx],
            "the token vectors are missing: add wte[idx]": lambda: wpe[start:start + T].expand(B, T, C),
        }, hint="wte[idx] (B, T, C) plus wpe's rows for positions start, start + 1, ..., start + T - 1")
    passed("embed_chunk places every chunk at positions start .. start + T - 1, in every sequence of the batch")


def _reference_nearest(scores: torch.Tensor, i: int, k: int) -> list[int]:
    """The k indices with the highest score, row i left out, best first (ties keep the lower index first)."""
    scores = scores.clone()
    scores[i] = -float("inf")
    return torch.argsort(scores, descending=True, stable=True)[:k].tolist()


def check_nearest(fn: Callable[[torch.Tensor, int, int], list[int]]) -> None:
    """`fn(W, i, k)` returns a list of the k rows of W most cosine-similar to row i, most similar first,
    leaving out row i itself."""
    g = torch.Generator().manual_seed(3)
    cases = []
    for n, c, k in [(10, 4, 3), (20, 8, 19), (5, 2, 0), (30, 16, 1)]:
        W = torch.randn(n, c, generator=g, dtype=torch.float64)
        cases += [(W, i, k, f"W of shape {(n, c)}") for i in [0, n // 2, n - 1]]
    long_row = torch.tensor([[1.0, 0.0], [5.0, 0.1], [1.0, 1.0], [-1.0, 0.0]])  # cosine, not dot product
    twin = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # a row equal to row i is a neighbour
    cases += [(long_row, 0, 3, "W = [[1, 0], [5, 0.1], [1, 1], [-1, 0]]"), (twin, 0, 1, "W = [[1, 0], [1, 0], [0, 1]]")]
    own = forbid_helpers(__name__)  # _reference_nearest is the reference
    for W, i, k, shown in cases:
        text = f"{fn.__name__}({shown}, i={i}, k={k})"
        got = call(fn, W.clone(), i, k, call_text=text, forbidden=own)
        if not isinstance(got, list) or not all(isinstance(j, int) for j in got):
            fail(text, "a list of Python ints", f"a {type(got).__name__}: {describe(got)}", "use .tolist()")
        cos = F.normalize(W, dim=-1) @ F.normalize(W, dim=-1)[i]  # (n,) cosine similarity of every row to row i
        masked = cos.clone()
        masked[i] = -float("inf")
        expected = _reference_nearest(cos, i, k)
        others = torch.cat([cos[:i], cos[i + 1:]])
        expect_equal(text, got, expected, mistakes={
            "row i itself is in the list: leave it out (set its similarity to -inf before ranking)":
                lambda: torch.argsort(cos, descending=True, stable=True)[:k].tolist(),
            "this ranks by the dot product: normalise the rows first, so that long rows do not win":
                lambda: _reference_nearest(W @ W[i], i, k),
            "this is an ascending sort's last k entries: put the most similar first (descending), and mind "
            "that with k = 0, [-k:] is [0:], the whole list": lambda: torch.argsort(masked, stable=True)[-k:].tolist(),
            "these indices count the rows after i one too low: after removing row i from the scores, "
            "positions >= i no longer match row numbers; mask row i with -inf instead":
                lambda: torch.argsort(others, descending=True, stable=True)[:k].tolist(),
            "rows equal to row i were dropped too: leave out row i by its index, not by its similarity":
                lambda: _reference_nearest(cos.masked_fill(cos >= cos[i] - 1e-6, -float("inf")), i, k),
        }, hint="cosine similarity of row i with every row, row i masked out, the k highest, best first")
    passed("nearest returns the most cosine-similar rows, best first, without row i")


def _sinusoidal(T: int, C: int) -> torch.Tensor:
    """The chapter's `sinusoidal(T, C)`, (T, C): channel 2i holds sin(p w_i) and 2i + 1 cos(p w_i),
    with w_i = 10000^(-2i/C)."""
    pos = torch.arange(T, dtype=torch.float64)[:, None]  # (T, 1)
    freq = 10000.0 ** (-torch.arange(0, C, 2, dtype=torch.float64) / C)  # (C/2,)
    angles = pos * freq  # (T, C/2)
    pe = torch.empty(T, C, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe.float()


def _rotation(k: int, C: int, freq: torch.Tensor, pairs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The (C, C) matrix that rotates each (sin, cos) channel pair by k * freq, for row vectors (x @ M)."""
    sin_ch, cos_ch = pairs
    angle = k * freq
    M = torch.zeros(C, C, dtype=torch.float64)
    M[sin_ch, sin_ch] = torch.cos(angle)  # new sin = sin cos(kw) + cos sin(kw)
    M[cos_ch, sin_ch] = torch.sin(angle)
    M[sin_ch, cos_ch] = -torch.sin(angle)  # new cos = cos cos(kw) - sin sin(kw)
    M[cos_ch, cos_ch] = torch.cos(angle)
    return M.float()


def check_shift_matrix(fn: Callable[[int, int], torch.Tensor]) -> None:
    """`fn(k, C)` returns the float32 (C, C) matrix M_k with sinusoidal(T, C)[p + k] == sinusoidal(T, C)[p] @ M_k
    for every position p and any integer k, negative too."""
    own = forbid_helpers(__name__)  # _rotation is the reference
    for C in [2, 16, 64]:
        pe = _sinusoidal(200, C)  # (200, C)
        freq = 10000.0 ** (-torch.arange(0, C, 2, dtype=torch.float64) / C)  # (C/2,)
        interleaved = (torch.arange(0, C, 2), torch.arange(1, C, 2))
        for k in [0, 1, 7, 50, -3]:
            text = f"{fn.__name__}({k}, {C})"
            M = call(fn, k, C, forbidden=own)
            if not isinstance(M, torch.Tensor) or M.shape != (C, C):
                fail(text, f"a tensor of shape {(C, C)}", describe(M), "one row and one column per channel")
            if M.dtype != torch.float32:
                fail(text, "a float32 matrix, like sinusoidal's table", f"dtype {M.dtype}",
                     "end with .float(), so that sinusoidal(T, C)[p] @ M works")
            p = torch.arange(max(0, -k), min(200, 200 - k))  # positions with p and p + k both in the table
            wrong = {
                "this moves by -k: for row vectors (x @ M) the rotation is the transpose of the usual "
                "column-vector one; swap the signs of the sin entries": lambda: _rotation(-k, C, freq, interleaved),
                "the frequencies are off: w_i = 10000 ** (-2i / C), one per channel pair (2i, 2i + 1)":
                    lambda: _rotation(k, C, 10000.0 ** (-torch.arange(C // 2, dtype=torch.float64) / C), interleaved),
                "the frequencies go up instead of down: w_i = 10000 ** (-2i / C), with the minus sign":
                    lambda: _rotation(k, C, 10000.0 ** (torch.arange(0, C, 2, dtype=torch.float64) / C), interleaved),
                "the channels are interleaved: sin in channel 2i, cos in 2i + 1, not one half sin and the other cos":
                    lambda: _rotation(k, C, freq, (torch.arange(C // 2), torch.arange(C // 2, C))),
            }
            expect_close(f"sinusoidal(200, {C})[p] @ {text}, for every p", pe[p] @ M, pe[p + k], atol=1e-4, rtol=0,
                         mistakes={hint: (lambda m=m: pe[p] @ m()) for hint, m in wrong.items()},
                         hint="use sin(a + b) = sin a cos b + cos a sin b and cos(a + b) = cos a cos b - sin a sin b")
            expect_close(f"M @ M.T with M = {text}", M @ M.T, torch.eye(C), atol=1e-5, rtol=0,
                         hint="M_k is a rotation, so it must be orthogonal")
    def shift(k: int, C: int) -> torch.Tensor:
        return call(fn, k, C, forbidden=own)

    expect_close(f"{fn.__name__}(0, 8)", shift(0, 8), torch.eye(8), hint="shifting by 0 must be the identity")
    expect_close(f"{fn.__name__}(3, 8) @ {fn.__name__}(4, 8)", shift(3, 8) @ shift(4, 8), shift(7, 8),
                 atol=1e-5, rtol=0, hint="shifting by 3 then by 4 must equal shifting by 7")
    passed("shift_matrix moves sinusoidal encodings by k positions, backwards too")
