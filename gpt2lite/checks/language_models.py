"""Checks for chapter 1's exercises: a pair's probability, the uniform guess's loss, temperature, a trigram model."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F

from gpt2lite.data import CharTokenizer

from ._core import call, describe, expect_close, expect_raises, fail, forbid_helpers, loss_functions, passed

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


def check_pair_probability(fn: Callable[[str, torch.Tensor, CharTokenizer], float]) -> None:
    """`fn(pair, P, tok)` returns, as a Python float, P[first char, second char] of the bigram table `P`; it raises
    ValueError unless `pair` has exactly 2 characters."""
    tok, P = _bigram()
    toy_tok = CharTokenizer("abc")
    toy_P = torch.tensor([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4], [1.0, 0.0, 0.0]])  # (3, 3), rows sum to 1
    cases = [(pair, P, tok, "a bigram table of a short text") for pair in ["th", "qu", "qz", "\n\n", "e ", "zz"]]
    cases += [(pair, toy_P, toy_tok, "toy_P, toy_tok (CharTokenizer('abc'))") for pair in ["ac", "ca", "ba"]]
    for pair, table, t, what in cases:
        text = f"{fn.__name__}({pair!r}, P, tok) with {what}"
        got = call(fn, pair, table.clone(), t, call_text=text)
        a, b = t.stoi[pair[0]], t.stoi[pair[1]]
        expected = table[a, b].item()
        expect_close(text, got, expected, atol=1e-7, rtol=1e-6, mistakes={
            "row and column are swapped: the row is the first character, the column the second, P[a, b]":
                lambda: table[b, a].item(),
            "this is ln p: return the probability itself": lambda: math.log(expected),
        }, hint="look up P[id of the first character, id of the second character]")
        if not isinstance(got, float):
            fail(text, f"a Python float: {expected!r}", f"a {type(got).__name__}: {describe(got)}",
                 "turn the 0-d tensor into a Python float with .item()")
    for bad in ["", "t", "the"]:
        expect_raises(f"{fn.__name__}({bad!r}, P, tok)", lambda pair: fn(pair, P.clone(), tok), [bad], ValueError,
                      "check the length first: raise ValueError when len(pair) != 2")
    passed("pair_probability reads the right entry of the bigram table, and rejects pairs of the wrong length")


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


def check_bigram_temperature(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """`fn(P, tau)` returns the (V, V) table with P[a, b]^(1/tau), each row renormalised to sum to 1 (stable for a
    tiny tau), and raises ValueError for tau <= 0."""
    _, P = _bigram()
    toy_P = torch.tensor([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4], [1.0, 0.0, 0.0]])  # a zero must stay zero
    cases = [(P, "P", tau) for tau in [1.0, 0.5, 2.0, 0.001, 1000.0]] + [(toy_P, "toy_P", tau) for tau in [0.5, 3.0]]
    for table, name, tau in cases:
        V = table.size(0)
        text = f"{fn.__name__}({name}, {tau}) with {name} of shape {tuple(table.shape)}"
        given = table.clone()
        got = call(fn, given, tau, call_text=text)
        if not torch.equal(given, table):
            fail(text, f"{name} left as it was", f"{name} changed in place",
                 "compute a new tensor: in-place operations (pow_, div_, /=) overwrite the caller's table")
        if isinstance(got, torch.Tensor) and got.shape == table.shape and not torch.isfinite(got).all():
            fail(text, "finite probabilities", "nan or inf",
                 "p^(1/tau) underflows to 0 for a small tau (and 0 / 0 = nan): work with log-probabilities, "
                 "e.g. a softmax of P.log() / tau over each row")
        log_scaled = table.double().log() / tau  # (V, V)
        expected = torch.softmax(log_scaled, dim=1)
        expect_close(text, got, expected, atol=1e-6, rtol=1e-3, mistakes={
            "the exponent is 1/tau, not tau: divide the log-probabilities by tau":
                lambda: torch.softmax(table.double().log() * tau, dim=1),
            "the rows are not renormalised: divide each row by its sum (or use a softmax)":
                lambda: table.double() ** (1 / tau),
            "the columns sum to 1, not the rows: normalise over dim=1 (the next character)":
                lambda: torch.softmax(log_scaled, dim=0),
            "these are log-probabilities: return probabilities (softmax, not log_softmax)":
                lambda: torch.log_softmax(log_scaled, dim=1),
        }, hint=f"P^(1/tau) renormalised per row; rows must sum to 1: every row of shape ({V},) is a distribution")
    for bad in [0, 0.0, -1.0]:
        expect_raises(f"{fn.__name__}(P, {bad})", lambda tau: fn(P.clone(), tau), [bad], ValueError,
                      "raise ValueError when tau <= 0 (tau = 0 included)")
    passed("with_temperature sharpens and flattens the bigram rows correctly, even at tau = 0.001")


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
