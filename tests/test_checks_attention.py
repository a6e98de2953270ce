"""Chapter 4's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import scaled_dot_product_attention as sdpa

import gpt2lite.attention
from gpt2lite.attention import causal_mask, explicit_attention
from gpt2lite.checks import (CheckFailed, check_causal_weights, check_grouped_query_attention, check_score_scale,
                             check_softmax_jacobian)
from gpt2lite.checks import attention as ch4


def stub(*args, **kwargs):
    raise NotImplementedError("the hint")


# ------------------------------------------------------------------------------- ex-04-offbyone (bug hunt)
def causal_weights(scores, *, step=0, fill=float("-inf"), dim=-1, after=False):
    """The repaired function; `step` moves the mask's edge (step=1 is the exercise's bug)."""
    T = scores.size(-1)
    ahead = torch.arange(T)[None, :] - torch.arange(T)[:, None]
    future = ahead > step
    if after:
        return torch.softmax(scores, dim=-1) * ~future
    return torch.softmax(scores.masked_fill(future, fill), dim=dim)


def test_causal_weights(capsys):
    check_causal_weights(causal_weights)
    assert capsys.readouterr().out.startswith("✓ causal_weights is repaired")


def test_causal_weights_with_tril():
    check_causal_weights(lambda s: torch.softmax(
        s.masked_fill(~torch.ones(s.size(-1), s.size(-1), dtype=torch.bool).tril(), float("-inf")), dim=-1))


@pytest.mark.parametrize("wrong, hint", [
    (lambda s: causal_weights(s, step=1), r"this is the bug: `ahead > 1` lets query i see key i \+ 1"),
    (lambda s: causal_weights(s, step=-1), "hides the diagonal too"),
    (lambda s: torch.softmax(s.masked_fill(torch.ones(s.shape[-2:], dtype=torch.bool).tril(-1), float("-inf")), -1),
     "mask is inverted"),
    (lambda s: causal_weights(s, after=True), "applied after the softmax"),
    (lambda s: causal_weights(s, dim=-2), "runs over the queries"),
    (lambda s: causal_weights(s, fill=0.0), "set to 0, not -inf"),
    (lambda s: causal_weights(s, fill=-40.0), "exactly 0"),
    (stub, r"not written yet \(the hint\)"),
])
def test_causal_weights_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_causal_weights(wrong)


def test_causal_weights_catches_a_leak_the_reference_cases_miss():
    def leaks(s):  # right on every square input, but the last key leaks into the query before it
        w = causal_weights(s)
        if s.shape == (6, 6):
            w = w.clone()
            w[-2] = torch.softmax(s[-2], dim=-1)
        return w

    with pytest.raises(CheckFailed, match="the mask leaks"):
        check_causal_weights(leaks)


# ---------------------------------------------------------------------------------- ex-04-scale (derivation)
def score_scale(d_k, sigma_q, sigma_k):
    return 1 / (sigma_q * sigma_k * math.sqrt(d_k))


def test_score_scale(capsys):
    check_score_scale(score_scale)
    out = capsys.readouterr().out
    assert out.startswith("✓ score_scale is right: for d_k=64, sigma_q=2.0, sigma_k=0.5 it gives 0.1250")


def test_score_scale_may_return_a_tensor():
    check_score_scale(lambda d, a, b: torch.tensor(float(d)).sqrt().mul(a * b).reciprocal())


@pytest.mark.parametrize("wrong, hint", [
    (lambda d, a, b: 1 / math.sqrt(d), "the chapter's 1/sqrt\\(d_k\\), right only for unit variances"),
    (lambda d, a, b: 1 / (a**2 * b**2 * math.sqrt(d)), "divides by the variances"),
    (lambda d, a, b: 1 / (a * b * d), "square root of d_k is missing"),
    (lambda d, a, b: 1 / math.sqrt(d * (a**2 + b**2)), "the variances add"),
    (lambda d, a, b: a * b * math.sqrt(d), "not the factor that undoes it"),
    (lambda d, a, b: 1 / (d * a**2 * b**2) if d > 1 and a * b != 1 else score_scale(d, a, b), "1 / Var"),
    (lambda d, a, b: score_scale(d, a, b) * 1.01, "E\\[q_i\\^2\\] E\\[k_i\\^2\\]"),
    (stub, r"not written yet \(the hint\)"),
])
def test_score_scale_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_score_scale(wrong)


# ------------------------------------------------------------------------------ ex-04-jacobian (measurement)
def softmax_jacobian(d_k, scaled, n_queries=500, n_keys=16, seed=0, *, scale=None, order="qk", shared=False,
                     what="jacobian"):
    """The experiment; the keywords reproduce a wrong run."""
    gen = torch.Generator().manual_seed(seed)
    if order == "qk":
        q = torch.randn(n_queries, d_k, generator=gen)
        k = torch.randn(*((n_keys, d_k) if shared else (n_queries, n_keys, d_k)), generator=gen)
    else:
        k = torch.randn(n_queries, n_keys, d_k, generator=gen)
        q = torch.randn(n_queries, d_k, generator=gen)
    s = torch.einsum("nd,nkd->nk", q, k.expand(n_queries, n_keys, d_k))
    if scaled:
        s = s / (scale if scale is not None else math.sqrt(d_k))
    p = torch.softmax(s, dim=-1)
    if what == "max":
        return p.max(-1).values.mean().item()
    jac = torch.diag_embed(p) - (0 if what == "diag" else p[:, :, None] * p[:, None, :])
    return jac.flatten(1).norm(dim=1).mean().item()


def test_softmax_jacobian(capsys):
    check_softmax_jacobian(softmax_jacobian)
    out = capsys.readouterr().out
    assert out.startswith("✓ softmax_jacobian re-run (500 queries, 16 keys)")
    # the figures printed are the run's: the check's own experiment gives the same
    raw = ch4._jacobian_norm(1024, False, 500, 16, 0)
    assert f"without it {raw:.3f} at d_k=1024" in out


def test_softmax_jacobian_by_autograd_passes():
    def by_autograd(d_k, scaled, n_queries=500, n_keys=16, seed=0):
        gen = torch.Generator().manual_seed(seed)
        q = torch.randn(n_queries, d_k, generator=gen)
        k = torch.randn(n_queries, n_keys, d_k, generator=gen)
        s = (k @ q[:, :, None]).squeeze(-1) / (math.sqrt(d_k) if scaled else 1)
        jac = torch.autograd.functional.jacobian(lambda r: torch.softmax(r, -1).sum(0), s)  # (n_keys, n_q, n_keys)
        return jac.permute(1, 0, 2).flatten(1).norm(dim=1).mean().item()

    check_softmax_jacobian(by_autograd)


@pytest.mark.parametrize("wrong, hint", [
    (lambda d, sc, **kw: softmax_jacobian(d, False, **kw), "the scale is ignored"),
    (lambda d, sc, **kw: softmax_jacobian(d, sc, scale=d, **kw), "divided by d_k, not by sqrt"),
    (lambda d, sc, n_queries, n_keys, seed: softmax_jacobian(d, sc, n_queries, n_keys, 0), "the seed is ignored"),
    (lambda d, sc, **kw: softmax_jacobian(d, sc, order="kq", **kw), "the draws come in the wrong order"),
    (lambda d, sc, **kw: softmax_jacobian(d, sc, shared=True, **kw), "every query shares one set of keys"),
    (lambda d, sc, **kw: softmax_jacobian(d, sc, what="max", **kw), "the mean largest weight"),
    (lambda d, sc, **kw: softmax_jacobian(d, sc, what="diag", **kw), r"missing its -p p\^T term"),
    (lambda d, sc, **kw: softmax_jacobian(d, sc, **kw) * 1.01, r"q = randn\(n_queries, d_k\)"),  # a wrong figure
    (stub, r"not written yet \(the hint\)"),
])
def test_softmax_jacobian_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_softmax_jacobian(wrong)


def test_softmax_jacobian_must_return_a_number():
    with pytest.raises(CheckFailed, match="a number close to"):
        check_softmax_jacobian(lambda *a, **kw: [softmax_jacobian(*a, **kw)])


# -------------------------------------------------------------------------------- ex-04-gqa (variation)
def grouped(q, k, v, *, tile=False, scale=True, diagonal=0, dim=-1):
    """Grouped-query attention by repeating the kv heads; the keywords reproduce the classic mistakes."""
    group = q.size(1) // k.size(1)
    if tile:
        k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)
    else:
        k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
    T = q.size(-2)
    s = q @ k.transpose(-2, -1) / (math.sqrt(q.size(-1)) if scale else 1)
    if diagonal is not None:
        s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(diagonal), float("-inf"))
    return torch.softmax(s, dim=dim) @ v


def grouped_by_view(q, k, v):
    B, H, T, hd = q.shape
    n_kv = k.size(1)
    s = q.view(B, n_kv, H // n_kv, T, hd) @ k.unsqueeze(2).transpose(-2, -1) / math.sqrt(hd)
    future = torch.arange(T)[None, :] > torch.arange(T)[:, None]
    return (torch.softmax(s.masked_fill(future, float("-inf")), -1) @ v.unsqueeze(2)).view(B, H, T, hd)


@pytest.mark.parametrize("answer", [grouped, grouped_by_view])
def test_grouped_query_attention(answer, capsys):
    check_grouped_query_attention(answer)
    assert capsys.readouterr().out.startswith("✓ grouped_query_attention matches")


@pytest.mark.parametrize("mistake, hint", [
    (dict(tile=True), "the groups are interleaved"),
    (dict(scale=False), "scale is missing"),
    (dict(diagonal=None), "no causal mask"),
    (dict(diagonal=1), "see the next key too"),
    (dict(diagonal=-1), "hides the diagonal"),
    (dict(dim=-2), "softmax runs over the queries"),
])
def test_grouped_query_attention_catches(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_grouped_query_attention(lambda q, k, v: grouped(q, k, v, **mistake))


def test_grouped_query_attention_stub_and_crash():
    with pytest.raises(CheckFailed, match=r"not written yet \(the hint\)"):
        check_grouped_query_attention(stub)
    with pytest.raises(CheckFailed, match=r"k and v of shape \(1, 1, 1, 4\)\)\n  raised RuntimeError"):
        check_grouped_query_attention(lambda q, k, v: q @ k)  # (T, hd) @ (T, hd) only works when T == hd


def test_checks_are_importable_by_name():
    import gpt2lite.checks as checks

    assert all(callable(getattr(checks, n)) for n in ["check_causal_weights", "check_grouped_query_attention"])
    with pytest.raises(AttributeError, match="no attribute 'check_nothing'"):
        checks.check_nothing


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _mha(q, k, v):
    B, H, T, hd = q.shape
    mha = nn.MultiheadAttention(H * hd, H, batch_first=True)
    return mha(q, k, v)[0]


def _repeated(k, q):
    return k.repeat_interleave(q.size(1) // k.size(1), dim=1)


SHORTCUTS = [
    ("check_causal_weights", lambda s: torch.softmax(
        s.masked_fill(~causal_mask(s.size(-1), s.size(-1)), float("-inf")), -1), r"gpt2lite\.attention\.causal_mask"),
    ("check_causal_weights", lambda s: torch.softmax(s.masked_fill(
        ~gpt2lite.attention.causal_mask(s.size(-1), s.size(-1)), float("-inf")), -1),
     r"gpt2lite\.attention\.causal_mask"),
    ("check_causal_weights", lambda s: ch4._weights(s, ch4._ahead(s.size(-1)) > 0),
     r"gpt2lite\.checks\.attention\._(ahead|weights)"),
    ("check_score_scale", lambda d, a, b: ch4._scale(d, a, b), r"gpt2lite\.checks\.attention\._scale"),
    ("check_score_scale", lambda d, a, b: float(1 / (a * b * torch.randn(4000, d)).sum(-1).std()), r"torch\.randn"),
    ("check_score_scale", lambda d, a, b: float(1 / (a * torch.ones(d) * b).var()), r"Tensor\.var"),
    ("check_softmax_jacobian",
     lambda d, sc, n_queries, n_keys, seed: ch4._jacobian_norm(d, sc, n_queries, n_keys, seed),
     r"gpt2lite\.checks\.attention\._jacobian_norm"),
    ("check_grouped_query_attention",
     lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
     r"F\.scaled_dot_product_attention"),
    ("check_grouped_query_attention", lambda q, k, v: sdpa(q, k, v, is_causal=True, enable_gqa=True),
     r"F\.scaled_dot_product_attention"),
    ("check_grouped_query_attention", lambda q, k, v: torch._C._nn.scaled_dot_product_attention(
        q, _repeated(k, q), _repeated(v, q), is_causal=True), r"F\.scaled_dot_product_attention"),
    ("check_grouped_query_attention", lambda q, k, v: explicit_attention(q, _repeated(k, q), _repeated(v, q))[0],
     r"gpt2lite\.attention\.explicit_attention"),
    ("check_grouped_query_attention",
     lambda q, k, v: gpt2lite.attention.explicit_attention(q, _repeated(k, q), _repeated(v, q))[0],
     r"gpt2lite\.attention\.explicit_attention"),
    ("check_grouped_query_attention", lambda q, k, v: _mha(q, _repeated(k, q), _repeated(v, q)),
     r"nn\.MultiheadAttention"),
    ("check_grouped_query_attention", lambda q, k, v: ch4._grouped(q, k, v), r"gpt2lite\.checks\.attention\._grouped"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {}
