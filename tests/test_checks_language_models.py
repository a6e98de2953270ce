"""Chapter 1's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import math

import pytest
import torch

from gpt2lite.checks import (
    CheckFailed,
    check_bigram_temperature,
    check_pair_probability,
    check_trigram,
    check_uniform_nll,
)
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import nll_loss
from gpt2lite.checks import language_models as ch1


def stub(*args):
    raise NotImplementedError("your code here")


# ---- ex-01-pair -------------------------------------------------------------------------------------------------

def pair_probability(pair, P, tok):
    if len(pair) != 2:
        raise ValueError(f"pair must be exactly 2 characters, got {pair!r}")
    a, b = tok.encode(pair)
    return P[a, b].item()


def test_pair_probability(capsys):
    check_pair_probability(pair_probability)
    assert capsys.readouterr().out.startswith("✓ pair_probability")


def _pair(lookup, check_length=True):
    """pair_probability with a switchable length check and a given way to read the table."""
    def pair_probability(pair, P, tok):
        if check_length and len(pair) != 2:
            raise ValueError("pair must be 2 characters")
        a, b = tok.stoi[pair[0]], tok.stoi[pair[1]]
        return lookup(P, a, b)
    return pair_probability


@pytest.mark.parametrize("wrong, hint", [
    (_pair(lambda P, a, b: P[b, a].item()), "row and column are swapped"),
    (_pair(lambda P, a, b: math.log(P[a, b].item())), "this is ln p"),
    (_pair(lambda P, a, b: P[a, b]), r"Python float with \.item\(\)"),
    (_pair(lambda P, a, b: P[a, b].item(), check_length=False), "raise ValueError when len\\(pair\\) != 2"),
    (stub, "not written yet"),
])
def test_pair_probability_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_pair_probability(wrong)


# ---- ex-01-uniform ----------------------------------------------------------------------------------------------

def uniform_loss(targets, vocab_size):
    probs = torch.full((len(targets), vocab_size), 1.0 / vocab_size, dtype=torch.float64)  # (N, V)
    p_true = probs[torch.arange(len(targets)), targets]  # (N,)
    return -p_true.log().mean().item()


def test_uniform_nll(capsys):
    check_uniform_nll(uniform_loss)
    assert capsys.readouterr().out.startswith("✓ the uniform guess scores ln V")


@pytest.mark.parametrize("wrong, hint", [
    (lambda t, V: -torch.full((len(t),), 1.0 / V).log().sum().item(), "sum over the targets"),
    (lambda t, V: -torch.full((len(t),), 1.0 / V).log2().mean().item(), "this is log2"),
    (lambda t, V: torch.full((len(t),), 1.0 / V).log().mean().item(), "the sign is wrong"),
    (lambda t, V: math.log(len(t)), r"not 1 / len\(targets\)"),
    (lambda t, V: 1 / V, "probability 1 / vocab_size itself"),
    (lambda t, V: -torch.full((len(t),), 1.0 / V, dtype=torch.float64).log().mean(), "Python float"),
    (stub, "not written yet"),
])
def test_uniform_nll_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_uniform_nll(wrong)


# ---- ex-01-temperature ------------------------------------------------------------------------------------------

def with_temperature(P, tau):
    if tau <= 0:
        raise ValueError(f"temperature must be positive, got {tau}")
    return torch.softmax(P.log() / tau, dim=-1)


def test_bigram_temperature(capsys):
    check_bigram_temperature(with_temperature)
    assert capsys.readouterr().out.startswith("✓ with_temperature")


def _checked(fn):
    """fn, with the right check of tau in front."""
    def with_temperature(P, tau):
        if tau <= 0:
            raise ValueError("tau must be positive")
        return fn(P, tau)
    return with_temperature


def _in_place(P, tau):
    P.pow_(1 / tau)
    return P / P.sum(dim=1, keepdim=True)


def _negative_only(P, tau):
    if tau < 0:
        raise ValueError("tau must not be negative")
    return torch.softmax(P.log() / tau, dim=-1)


@pytest.mark.parametrize("wrong, hint", [
    (_checked(lambda P, tau: torch.softmax(P.log() * tau, dim=-1)), "exponent is 1/tau, not tau"),
    (_checked(lambda P, tau: P ** (1 / tau)), "not renormalised"),
    (_checked(lambda P, tau: torch.softmax(P.log() / tau, dim=0)), "the columns sum to 1"),
    (_checked(lambda P, tau: torch.log_softmax(P.log() / tau, dim=-1)), "log-probabilities: return probabilities"),
    (_checked(lambda P, tau: P ** (1 / tau) / (P ** (1 / tau)).sum(dim=1, keepdim=True)), "underflows"),
    (_checked(_in_place), "changed in place"),
    (lambda P, tau: torch.softmax(P.log() / tau, dim=-1), "raise ValueError when tau <= 0"),
    (_negative_only, "tau = 0 included"),
    (stub, "not written yet"),
])
def test_bigram_temperature_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_bigram_temperature(wrong)


# ---- ex-01-trigram ----------------------------------------------------------------------------------------------

def trigram_probs(ids, V):
    a, b, c = ids[:-2], ids[1:-1], ids[2:]
    N3 = torch.bincount((a * V + b) * V + c, minlength=V**3).view(V, V, V)  # (V, V, V)
    P3 = (N3 + 1).float()
    return P3 / P3.sum(dim=-1, keepdim=True)


def trigram_loss(P3, ids):
    return -P3.log()[ids[:-2], ids[1:-1], ids[2:]].mean()


def test_trigram(capsys):
    check_trigram(trigram_probs, trigram_loss)
    assert capsys.readouterr().out.startswith("✓ trigram_probs and trigram_loss")


def _counts(ids, V, smoothing=1):
    a, b, c = ids[:-2], ids[1:-1], ids[2:]
    return (torch.bincount((a * V + b) * V + c, minlength=V**3).view(V, V, V) + smoothing).float()


@pytest.mark.parametrize("wrong, hint", [
    (lambda ids, V: _counts(ids, V, 0) / _counts(ids, V, 0).sum(dim=-1, keepdim=True), "no smoothing"),
    (lambda ids, V: _counts(ids, V) / _counts(ids, V).sum(dim=0, keepdim=True), "normalised over the wrong axis"),
    (lambda ids, V: _counts(ids, V) / _counts(ids, V).sum(), "normalised over the whole table"),
    (lambda ids, V: _counts(ids.flip(0), V) / _counts(ids.flip(0), V).sum(dim=-1, keepdim=True),
     "axes are in the wrong order"),
    (lambda ids, V: _counts(ids, V), "smoothed counts: divide"),
    (stub, "not written yet"),
])
def test_trigram_probs_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_trigram(wrong, trigram_loss)


@pytest.mark.parametrize("wrong, hint", [
    (lambda P3, ids: -P3.log()[ids[:-2], ids[1:-1], ids[2:]].sum() / len(ids), r"averaged over len\(ids\)"),
    (lambda P3, ids: P3.log()[ids[:-2], ids[1:-1], ids[2:]].mean(), "the sign is wrong"),
    (lambda P3, ids: -P3[ids[:-2], ids[1:-1], ids[2:]].mean(), "the log is missing"),
    (lambda P3, ids: -P3.log()[ids[1:-1], ids[:-2], ids[2:]].mean(), "the context is swapped"),
    (lambda P3, ids: -P3.log()[ids[:-3], ids[1:-2], ids[2:-1]].mean(), "the last triple is missing"),
    (lambda P3, ids: -P3.log()[ids[:-2], ids[1:-1], ids[2:]].mean().item(), "a 0-d tensor"),
    (stub, "not written yet"),
])
def test_trigram_loss_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_trigram(trigram_probs, wrong)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _own_trigram(ids, V):
    counts = torch.bincount((ids[:-2] * V + ids[1:-1]) * V + ids[2:], minlength=V**3).view(V, V, V) + 1.0
    return counts / counts.sum(-1, keepdim=True)


SHORTCUTS = [
    ("check_uniform_nll", lambda t, V: F.cross_entropy(torch.zeros(len(t), V), t).item(), r"F\.cross_entropy"),
    ("check_uniform_nll", lambda t, V: nll_loss(torch.full((len(t), V), -math.log(V)), t).item(), r"F\.nll_loss"),
    ("check_uniform_nll", lambda t, V: nn.CrossEntropyLoss()(torch.zeros(len(t), V), t).item(),
     r"nn\.CrossEntropyLoss"),
    ("check_trigram", (ch1._reference_trigram, lambda P3, ids: -P3.log()[ids[:-2], ids[1:-1], ids[2:]].mean()),
     r"gpt2lite\.checks\.language_models\._reference_trigram"),
    ("check_trigram", (_own_trigram, lambda P3, ids: F.nll_loss(P3.log()[ids[:-2], ids[1:-1]], ids[2:])),
     r"F\.nll_loss"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    'check_pair_probability': "the answer is one entry of the chapter's own table P; no function computes it",
    'check_bigram_temperature': "a few tensor operations on the reader's table; nothing ready-made does it",
}
