"""Chapter 1's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import math

import pytest
import torch

from gpt2lite.checks import (
    CheckFailed,
    check_fixed_bigram,
    check_smoothing_sweep,
    check_trigram,
    check_uniform_nll,
)
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import nll_loss
from gpt2lite.checks import language_models as ch1


def stub(*args):
    raise NotImplementedError("your code here")


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


# ---- ex-01-bigram-bug -------------------------------------------------------------------------------------------

def bigram_probs(ids, V):
    current, following = ids[:-1], ids[1:]
    N = torch.zeros(V, V)
    N.index_put_((current, following), torch.ones(len(current)), accumulate=True)
    P = N + 1
    return P / P.sum(dim=1, keepdim=True)


def test_fixed_bigram(capsys):
    check_fixed_bigram(bigram_probs)
    assert capsys.readouterr().out.startswith("✓ bigram_probs is repaired")


def _bigram(accumulate=True, keepdim=True, smoothing=1, dim=1, transpose=False):
    """bigram_probs with the exercise's bugs (and other mistakes) switched on one by one."""
    def bigram_probs(ids, V):
        current, following = ids[:-1], ids[1:]
        N = torch.zeros(V, V)
        N.index_put_((current, following), torch.ones(len(current)), accumulate=accumulate)
        P = N + smoothing
        P = P / P.sum(dim=dim, keepdim=keepdim)
        return P.T if transpose else P
    return bigram_probs


@pytest.mark.parametrize("wrong, hint", [
    (_bigram(accumulate=False, keepdim=False), "both bugs are still there"),
    (_bigram(accumulate=False), "accumulate=True"),
    (_bigram(keepdim=False), r"divides column b by the sum of row b"),
    (_bigram(dim=0), "the columns sum to 1"),
    (_bigram(transpose=True), "transposed"),
    (_bigram(smoothing=0), "no smoothing"),
    (lambda ids, V: _bigram()(ids, V).long(), "a float tensor"),
    (stub, "not written yet"),
])
def test_fixed_bigram_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_fixed_bigram(wrong)


# ---- ex-01-smoothing --------------------------------------------------------------------------------------------

def smoothing_sweep(train_ids, val_ids, V, alphas):
    N = torch.bincount(train_ids[:-1] * V + train_ids[1:], minlength=V * V).view(V, V).double()
    losses = []
    for alpha in alphas:
        logP = ((N + alpha) / (N + alpha).sum(dim=1, keepdim=True)).log()
        losses.append(-logP[val_ids[:-1], val_ids[1:]].mean().item())
    return losses


def test_smoothing_sweep(capsys):
    check_smoothing_sweep(smoothing_sweep)
    out = capsys.readouterr().out
    assert out.startswith("✓ smoothing_sweep: with 500 training tokens the best alpha is ")
    assert "with 50,000 it is" in out


def _sweep(fit=lambda tr, va: tr, score=lambda tr, va: va, alpha_of=lambda a: a, log=torch.log,
           row_total=lambda N, a, V: N.sum(dim=1, keepdim=True) + V * a, as_float=True):
    """smoothing_sweep with one mistake switched on."""
    def smoothing_sweep(train_ids, val_ids, V, alphas):
        fitted, scored = fit(train_ids, val_ids), score(train_ids, val_ids)
        N = torch.bincount(fitted[:-1] * V + fitted[1:], minlength=V * V).view(V, V).double()
        losses = []
        for alpha in alphas:
            a = alpha_of(alpha)
            loss = -log((N + a) / row_total(N, a, V))[scored[:-1], scored[1:]].mean()
            losses.append(loss.item() if as_float else loss)
        return losses
    return smoothing_sweep


@pytest.mark.parametrize("wrong, hint", [
    (_sweep(score=lambda tr, va: tr), "these are the training losses"),
    (_sweep(fit=lambda tr, va: torch.cat([tr, va])), "leaked into the counts"),
    (_sweep(alpha_of=lambda a: 1.0), "alpha is ignored"),
    (_sweep(row_total=lambda N, a, V: N.sum(dim=1, keepdim=True) + a), r"plus V \* alpha"),
    (_sweep(log=torch.log2), "this is log2"),
    (lambda tr, va, V, alphas: sorted(smoothing_sweep(tr, va, V, alphas)), "not in the order of alphas"),
    (_sweep(as_float=False), "Python floats"),
    (lambda tr, va, V, alphas: smoothing_sweep(tr, va, V, alphas)[:-1], "one loss per alpha"),
    (stub, "not written yet"),
])
def test_smoothing_sweep_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_smoothing_sweep(wrong)


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
    ("check_fixed_bigram", lambda ids, V: ch1._bigram_table(ids, V),
     r"gpt2lite\.checks\.language_models\._bigram_table"),
    ("check_smoothing_sweep", lambda tr, va, V, alphas: ch1._sweep(tr, va, V, tuple(alphas)),
     r"gpt2lite\.checks\.language_models\._sweep"),
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
NO_SHORTCUT = {}
