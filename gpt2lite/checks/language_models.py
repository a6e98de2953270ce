"""Checks for chapter 1's exercises: the uniform guess's loss, a repaired bigram table, a sweep of the smoothing
strength on held-out text, a trigram model."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F

from gpt2lite.data import CharTokenizer

from ._core import call, describe, expect_close, fail, forbid_helpers, loss_functions, passed

# A few lines in the style of Tiny Shakespeare: every check builds its own small model from them, offline.
_TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\n"
    "All:\nResolved. resolved.\n\n"
    "SICINIUS:\nWe hear not of him, neither need we fear him;\nHis remedies are tame i' the present peace\n"
    "And quietness of the people, which before\nWere in wild hurry; their zeal is quite quenched.\n"
)


@lru_cache(maxsize=1)
def _bigram() -> tuple[CharTokenizer, torch.Tensor]:
    """The chapter's bigram model of _TEXT: its tokenizer and P (V, V), add-one smoothed, row a = P(next | a)."""
    tok = CharTokenizer(_TEXT)
    ids = torch.tensor(tok.encode(_TEXT))
    V = tok.vocab_size
    counts = torch.bincount(ids[:-1] * V + ids[1:], minlength=V * V).view(V, V)  # (V, V)
    P = (counts + 1).float()
    return tok, P / P.sum(dim=1, keepdim=True)


def check_uniform_nll(fn: Callable[[torch.Tensor, int], float]) -> None:
    """`fn(targets, vocab_size)` returns, as a float, the average negative log-likelihood of the 1-D tensor of ids
    `targets` under the uniform guess (probability 1 / vocab_size for every token): ln(vocab_size)."""
    g = torch.Generator().manual_seed(0)
    cases = [
        (torch.randint(0, 65, (1000,), generator=g), 65),
        (torch.tensor([0, 0, 0]), 1),
        (torch.tensor([5, 50256, 17]), 50257),
        (torch.tensor([1]), 2),
    ]
    forbidden = loss_functions("build the model's probabilities, a (len(targets), vocab_size) tensor filled with "
                               "1 / vocab_size, pick each target's with probs[torch.arange(len(targets)), targets] "
                               "and average -log of them") + forbid_helpers(__name__)
    for targets, vocab_size in cases:
        text = f"{fn.__name__}({describe(targets)}, {vocab_size})"
        got = call(fn, targets.clone(), vocab_size, call_text=text, forbidden=forbidden)
        expected = F.cross_entropy(torch.zeros(len(targets), vocab_size, dtype=torch.float64), targets).item()
        n = len(targets)
        expect_close(text, got, expected, atol=1e-5, rtol=1e-6, mistakes={
            "this is the sum over the targets: average it (mean)": lambda: n * math.log(vocab_size),
            "this is log2: the loss uses the natural log (nats), math.log / torch.log": lambda: math.log2(vocab_size),
            "the sign is wrong: the negative log-likelihood is -ln p, which is >= 0": lambda: -math.log(vocab_size),
            "each token gets probability 1 / vocab_size, not 1 / len(targets)": lambda: math.log(n),
            "this is the probability 1 / vocab_size itself: take -ln of it": lambda: 1 / vocab_size,
        }, hint=f"every target has probability 1 / {vocab_size}: average -ln p over the targets")
        if not isinstance(got, float):
            fail(text, f"a Python float: {expected!r}", f"a {type(got).__name__}: {describe(got)}",
                 "turn the 0-d tensor into a Python float with .item()")
    passed("the uniform guess scores ln V, whatever the text")


def _bigram_table(ids: torch.Tensor, V: int, alpha: float = 1.0) -> torch.Tensor:
    """P (V, V) of the ids, add-alpha smoothed, counted the direct way: row a = P(next | a), float64."""
    counts = torch.zeros(V, V, dtype=torch.float64)
    for (a, b), n in Counter(zip(ids[:-1].tolist(), ids[1:].tolist())).items():
        counts[a, b] += n
    P = counts + alpha
    return P / P.sum(dim=1, keepdim=True)


def _pair_counts(ids: torch.Tensor, V: int) -> torch.Tensor:
    """The raw pair counts N (V, V) of the ids, float64."""
    return torch.bincount(ids[:-1] * V + ids[1:], minlength=V * V).view(V, V).double()


def check_fixed_bigram(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
    """`fn(ids, V)` returns the (V, V) float table P with P[a, b] = P(b | a), add-one smoothed, of the 1-D ids:
    the exercise's buggy bigram_probs repaired (repeated pairs added up, each row divided by its own sum)."""
    tok, _ = _bigram()
    g = torch.Generator().manual_seed(1)
    cases = [
        (torch.tensor(tok.encode(_TEXT)), tok.vocab_size, "a short text's ids"),
        (torch.tensor([0, 1, 0, 1, 1, 2]), 3, "[0, 1, 0, 1, 1, 2]"),
        (torch.randint(0, 7, (500,), generator=g), 7, "500 random ids"),
        (torch.tensor([2]), 4, "[2] (no pair at all)"),
        (torch.tensor([0, 0, 0]), 1, "[0, 0, 0]"),
    ]
    own = forbid_helpers(__name__)
    for ids, V, shown in cases:
        text = f"{fn.__name__}({shown}, {V})"
        given = ids.clone()
        got = call(fn, given, V, call_text=text, forbidden=own)
        if not torch.equal(given, ids):
            fail(text, "ids left as they were", "ids changed in place", "do not write into the caller's ids")
        if isinstance(got, torch.Tensor) and not got.is_floating_point():
            fail(text, "a float tensor of probabilities", f"dtype {got.dtype}", "turn the counts into floats")
        N = _pair_counts(ids, V)
        seen = (N > 0).double()
        expected = _bigram_table(ids, V)
        expect_close(text, got, expected, atol=1e-6, rtol=1e-5, mistakes={
            "both bugs are still there: repeated pairs overwrite each other (index_put_ needs accumulate=True) "
            "and P.sum(dim=1) without keepdim=True divides the columns, not the rows":
                lambda: (seen + 1) / (seen + 1).sum(dim=1),
            "repeated pairs are written, not added: index_put_ without accumulate=True sets every pair that "
            "occurs to 1, however often it occurs; pass accumulate=True":
                lambda: (seen + 1) / (seen + 1).sum(dim=1, keepdim=True),
            "P.sum(dim=1) has shape (V,): dividing by it divides column b by the sum of row b. Keep the "
            "dimension (keepdim=True), so that each row is divided by its own sum":
                lambda: (N + 1) / (N + 1).sum(dim=1),
            "the columns sum to 1, not the rows: normalise each row a over the next character (dim=1)":
                lambda: (N + 1) / (N + 1).sum(dim=0, keepdim=True),
            "the table is transposed: row a is the current character, column b the next one":
                lambda: expected.T,
            "no smoothing: add 1 to every count before normalising":
                lambda: N / N.sum(dim=1, keepdim=True),
        }, hint="count every pair (ids[i], ids[i + 1]) as often as it occurs, add 1, divide each row by its sum")
    passed("bigram_probs is repaired: every pair counted as often as it occurs, every row sums to 1")


def _markov_text(V: int, n: int, seed: int) -> torch.Tensor:
    """n ids drawn from a fixed random bigram source over V tokens (peaked rows, like a language's)."""
    g = torch.Generator().manual_seed(seed)
    source = torch.softmax(2.5 * torch.randn(V, V, generator=g, dtype=torch.float64), dim=1)  # (V, V)
    cumulative = source.cumsum(dim=1).tolist()
    draws = torch.rand(n, generator=g, dtype=torch.float64).tolist()
    out, current = [], 0
    for u in draws:
        current = min(bisect.bisect_right(cumulative[current], u), V - 1)
        out.append(current)
    return torch.tensor(out)


@lru_cache(maxsize=1)
def _sweep_data() -> tuple[torch.Tensor, torch.Tensor]:
    """50,000 training ids and 20,000 held-out ids from one bigram source over 27 tokens."""
    ids = _markov_text(27, 70_000, seed=0)
    return ids[:50_000], ids[50_000:]


_ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def _sweep(train_ids: torch.Tensor, val_ids: torch.Tensor, V: int, alphas: tuple[float, ...],
           log: Callable[[torch.Tensor], torch.Tensor] = torch.log, total: Callable | None = None) -> list[float]:
    """The validation loss of the add-alpha bigram table for each alpha; `log` and `total` (the row sums) switch
    on a mistake."""
    N = _pair_counts(train_ids, V)
    losses = []
    for alpha in alphas:
        sums = (N + alpha).sum(dim=1, keepdim=True) if total is None else total(N, alpha)
        logP = log((N + alpha) / sums)
        losses.append(-logP[val_ids[:-1], val_ids[1:]].mean().item())
    return losses


def check_smoothing_sweep(fn: Callable[[torch.Tensor, torch.Tensor, int, list[float]], list[float]]) -> None:
    """`fn(train_ids, val_ids, V, alphas)` fits an add-alpha bigram table on train_ids for each alpha > 0 and
    returns the list of its validation losses (mean -ln P[a, b] over val_ids' pairs), one float per alpha."""
    train_ids, val_ids = _sweep_data()
    cases = [
        (torch.tensor([0, 1, 0, 1, 2]), torch.tensor([1, 0, 2, 2, 1]), 3, [0.5, 1.0, 2.0], "toy"),
        (train_ids[:500], val_ids, 27, list(_ALPHAS), "500"),
        (train_ids, val_ids, 27, list(_ALPHAS), "50,000"),
    ]
    own = forbid_helpers(__name__)
    best = {}
    for tr, va, V, alphas, shown in cases:
        text = (f"{fn.__name__}(train_ids, val_ids, {V}, {alphas})" if shown == "toy" else
                f"{fn.__name__}({shown} training ids, {len(va):,} validation ids, {V}, {alphas})")
        if shown == "toy":
            text += f" with train_ids = {tr.tolist()}, val_ids = {va.tolist()}"
        got = call(fn, tr.clone(), va.clone(), V, list(alphas), call_text=text, forbidden=own)
        if not isinstance(got, list) or len(got) != len(alphas) or not all(isinstance(x, float) for x in got):
            fail(text, f"a list of {len(alphas)} Python floats, one loss per alpha", describe(got, 200),
                 "return [loss for each alpha], each a float (.item())")
        expected = _sweep(tr, va, V, tuple(alphas))
        V_alpha = lambda N, a: N.sum(dim=1, keepdim=True) + a  # noqa: E731
        expect_close(text, torch.tensor(got), torch.tensor(expected), atol=1e-5, rtol=1e-5, mistakes={
            "these are the training losses: fit on train_ids, but score val_ids":
                lambda: torch.tensor(_sweep(tr, tr, V, tuple(alphas))),
            "the validation text leaked into the counts: count the pairs of train_ids only":
                lambda: torch.tensor(_sweep(torch.cat([tr, va]), va, V, tuple(alphas))),
            "alpha is ignored: every loss is add-one's; add alpha (not 1) to every count":
                lambda: torch.tensor(_sweep(tr, va, V, (1.0,) * len(alphas))),
            "the rows do not sum to 1: a row's total is its count plus V * alpha (alpha for each of the V "
            "entries), not plus alpha": lambda: torch.tensor(_sweep(tr, va, V, tuple(alphas), total=V_alpha)),
            "this is log2: the loss uses the natural log (nats)":
                lambda: torch.tensor(_sweep(tr, va, V, tuple(alphas), log=torch.log2)),
            "the losses are not in the order of alphas: return one loss per alpha, in the order given":
                lambda: torch.tensor(sorted(expected)),
        }, hint="for each alpha: P = (N + alpha) / (row sums of N + alpha), loss = mean -ln P[a, b] over val's pairs")
        if shown != "toy":
            i = min(range(len(alphas)), key=lambda j: got[j])
            best[shown] = (alphas[i], got[i], got[alphas.index(1.0)])
    (a1, l1, one1), (a2, l2, one2) = best["500"], best["50,000"]
    passed(f"smoothing_sweep: with 500 training tokens the best alpha is {a1} (val loss {l1:.4f}; add-one "
           f"{one1:.4f}), with 50,000 it is {a2} ({l2:.4f}; add-one {one2:.4f})")


def _reference_trigram(ids: torch.Tensor, V: int) -> torch.Tensor:
    """P3 (V, V, V) counted the direct way, one triple at a time, add-one smoothed."""
    counts = torch.ones(V, V, V, dtype=torch.float64)
    for (a, b, c), n in Counter(zip(ids[:-2].tolist(), ids[1:-1].tolist(), ids[2:].tolist())).items():
        counts[a, b, c] += n
    return counts / counts.sum(dim=-1, keepdim=True)


def _raw_trigram_counts(ids: torch.Tensor, V: int) -> torch.Tensor:
    """The unsmoothed counts N3 (V, V, V) of the triples of ids."""
    return torch.bincount((ids[:-2] * V + ids[1:-1]) * V + ids[2:], minlength=V**3).view(V, V, V).double()


def check_trigram(trigram_probs: Callable[[torch.Tensor, int], torch.Tensor],
                  trigram_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """`trigram_probs(ids, V)` returns P3 (V, V, V) = P(c | a, b), add-one smoothed; `trigram_loss(P3, ids)` returns
    the average -ln P3[a, b, c] over every token from the third on, as a 0-d tensor."""
    tok, _ = _bigram()
    text_ids = torch.tensor(tok.encode(_TEXT))
    g = torch.Generator().manual_seed(0)
    cases = [
        (torch.tensor([0, 1, 2]), 3, "[0, 1, 2]"),
        (torch.tensor([2, 2, 2, 2, 0, 2, 2]), 3, "[2, 2, 2, 2, 0, 2, 2]"),
        (torch.tensor([1, 0]), 2, "[1, 0] (no triple at all)"),
        (torch.randint(0, 7, (3000,), generator=g), 7, "3000 random ids"),
        (text_ids, tok.vocab_size, "a short text's ids"),
    ]
    references = {}
    own = forbid_helpers(__name__)
    for ids, V, shown in cases:
        text = f"{trigram_probs.__name__}({shown}, {V})"
        got = call(trigram_probs, ids.clone(), V, call_text=text, forbidden=own)
        expected = references[shown] = _reference_trigram(ids, V)  # (V, V, V)
        counts = _raw_trigram_counts(ids, V)
        expect_close(text, got, expected, atol=1e-6, rtol=1e-4, mistakes={
            "no smoothing: add 1 to every count before normalising (add-one smoothing)":
                lambda: counts / counts.sum(dim=-1, keepdim=True),
            "normalised over the wrong axis: each (a, b) row over c (the last axis, dim=-1) must sum to 1":
                lambda: (counts + 1) / (counts + 1).sum(dim=0, keepdim=True),
            "normalised over the whole table: each (a, b) row over c must sum to 1 on its own":
                lambda: (counts + 1) / (counts + 1).sum(),
            "the axes are in the wrong order: P3[a, b, c] with a, b the two context ids and c the next id":
                lambda: (counts + 1).permute(2, 1, 0) / (counts + 1).permute(2, 1, 0).sum(dim=-1, keepdim=True),
            "these are the smoothed counts: divide each (a, b) row by its sum": lambda: counts + 1,
        }, hint="count each triple (ids[i], ids[i+1], ids[i+2]), add 1 everywhere, normalise over the last axis")
    no_loss = own + loss_functions("index log P3 with (ids[:-2], ids[1:-1], ids[2:]) and take minus the mean")
    for ids, V, shown in reversed(cases):  # the longest first: there, every mistake changes the loss
        if len(ids) < 3:
            continue
        P3 = references[shown]
        text = f"{trigram_loss.__name__}(P3, {shown}) with the right P3"
        got = call(trigram_loss, P3.float(), ids.clone(), call_text=text, forbidden=no_loss)
        lp = P3.log()
        a, b, c = ids[:-2], ids[1:-1], ids[2:]
        reference = -sum(math.log(P3[x, y, z]) for x, y, z in zip(a.tolist(), b.tolist(), c.tolist())) / len(c)
        expect_close(text, got, reference, atol=1e-6, rtol=1e-5, mistakes={
            "averaged over len(ids): only the len(ids) - 2 tokens from the third on are predicted":
                lambda: -lp[a, b, c].sum().item() / len(ids),
            "the sign is wrong: the loss is the average of -ln p": lambda: lp[a, b, c].mean().item(),
            "the log is missing: average -ln P3[a, b, c], not -P3[a, b, c]": lambda: -P3[a, b, c].mean().item(),
            "the context is swapped: predict ids[i + 2] from P3[ids[i], ids[i + 1]]":
                lambda: -lp[b, a, c].mean().item(),
            "the last triple is missing: the triples are (ids[i], ids[i + 1], ids[i + 2]) for i = 0 .. len(ids) - 3":
                lambda: -lp[a[:-1], b[:-1], c[:-1]].mean().item(),
        }, hint="index log P3 with (ids[:-2], ids[1:-1], ids[2:]) and take minus the mean")
        if not (isinstance(got, torch.Tensor) and got.dim() == 0):
            fail(text, "a 0-d tensor", f"a {type(got).__name__}: {describe(got)}",
                 "return the mean itself, a 0-d tensor (no .item(), no extra dimension)")
    passed("trigram_probs and trigram_loss match a direct count, one triple at a time, on 5 sequences")
