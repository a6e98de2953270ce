"""Chapter 4's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import math

import pytest
import torch

from gpt2lite.checks import (
    CheckFailed,
    check_causal_attention,
    check_causal_mask,
    check_masked_softmax,
    check_split_merge_heads,
)
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import scaled_dot_product_attention as sdpa
import gpt2lite.attention
from gpt2lite.attention import causal_mask, explicit_attention
from gpt2lite.checks import attention as ch4


def causal_mask_for(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


def masked_softmax(scores, allowed):
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


def split_heads(x, n_head):
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads(y):
    B, n_head, T, head_dim = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, n_head * head_dim)


def attention(q, k, v, *, scale=True, mask_after=False, diagonal=0, dim=-1, use_mask=True):
    """Causal attention, with switches that reproduce the classic mistakes."""
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(q.size(-1))
    allowed = torch.ones(T, T, dtype=torch.bool).tril(diagonal)
    if not use_mask:
        return torch.softmax(scores, dim=dim) @ v
    if mask_after:
        return (torch.softmax(scores, dim=dim) * allowed) @ v
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=dim) @ v


def stub(*args):
    raise NotImplementedError("mask, scale, softmax")


def test_causal_mask(capsys):
    check_causal_mask(causal_mask_for)
    assert capsys.readouterr().out.startswith("✓ ")


@pytest.mark.parametrize("wrong, hint", [
    (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "hides the diagonal"),
    (lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "upper-triangular"),
    (lambda T: torch.ones(T, T, dtype=torch.bool).tril(1), "off-by-one"),
    (lambda T: ~torch.ones(T, T, dtype=torch.bool).tril(), "inverse of the mask"),
    (lambda T: torch.ones(T, T).tril(), "torch.bool"),
    (stub, "not written yet"),
])
def test_causal_mask_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_causal_mask(wrong)


def test_masked_softmax(capsys):
    check_masked_softmax(masked_softmax)
    assert "✓ masked_softmax is right" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda s, a: torch.softmax(s, dim=-1) * a, "after the softmax"),
    (lambda s, a: torch.softmax(s.masked_fill(~a, float("-inf")), dim=-2), "wrong axis"),
    (lambda s, a: torch.softmax(s.masked_fill(~a, 0.0), dim=-1), "set to 0, not -inf"),
    (lambda s, a: torch.softmax(s.masked_fill(a, float("-inf")), dim=-1), "mask is inverted"),
    (lambda s, a: torch.softmax(s.masked_fill(~a, -30.0), dim=-1), "exactly 0"),
    (stub, "not written yet"),
])
def test_masked_softmax_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_masked_softmax(wrong)


def test_split_merge_heads(capsys):
    check_split_merge_heads(split_heads, merge_heads)
    assert capsys.readouterr().out.startswith("✓ ")


def test_split_heads_with_the_wrong_view():
    def wrong(x, n_head):
        B, T, C = x.shape
        return x.view(B, T, C // n_head, n_head).permute(0, 3, 1, 2)

    with pytest.raises(CheckFailed, match=r"view as \(B, T, n_head, head_dim\)"):
        check_split_merge_heads(wrong, merge_heads)


def test_split_heads_with_a_plain_reshape():
    with pytest.raises(CheckFailed, match="mixes positions and heads"):
        check_split_merge_heads(lambda x, n: x.reshape(x.shape[0], n, x.shape[1], -1), merge_heads)


def test_merge_heads_without_the_transpose():
    with pytest.raises(CheckFailed, match="without the transpose"):
        check_split_merge_heads(split_heads, lambda y: y.reshape(y.shape[0], y.shape[2], -1))


def test_causal_attention(capsys):
    check_causal_attention(attention)
    assert "✓ causal attention matches" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, hint", [
    (dict(scale=False), "scale is missing"),
    (dict(mask_after=True), "mask is applied after the softmax"),
    (dict(diagonal=-1), "hides the diagonal"),
    (dict(diagonal=1), "one key too far"),
    (dict(use_mask=False), "no causal mask"),
    (dict(dim=-2), "softmax runs over the queries"),
])
def test_causal_attention_catches(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_causal_attention(lambda q, k, v: attention(q, k, v, **mistake))


def test_causal_attention_divided_by_head_dim():
    def wrong(q, k, v):
        return attention(q * math.sqrt(q.size(-1)) / q.size(-1), k, v)

    with pytest.raises(CheckFailed, match="divided by head_dim, not by sqrt"):
        check_causal_attention(wrong)


def test_causal_attention_reports_a_crash_with_the_input():
    def crashes(q, k, v):
        return q @ k  # (T, hd) @ (T, hd) only works when T == hd
    with pytest.raises(CheckFailed, match=r"shape \(1, 1, 1, 4\)\n  raised RuntimeError"):
        check_causal_attention(crashes)


def test_causal_attention_stub():
    with pytest.raises(CheckFailed, match=r"causal_attention|stub is not written yet \(mask, scale, softmax\)"):
        check_causal_attention(stub)


def test_checks_are_importable_by_name():
    import gpt2lite.checks as checks

    assert all(callable(getattr(checks, name)) for name in ["check_causal_attention", "check_causal_mask"])
    with pytest.raises(AttributeError, match="no attribute 'check_nothing'"):
        checks.check_nothing


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _mha(q, k, v):
    B, H, T, hd = q.shape
    mha = nn.MultiheadAttention(H * hd, H, batch_first=True)
    return mha(q, k, v)[0]


SHORTCUTS = [
    ("check_causal_mask", lambda T: causal_mask(T, T), r"gpt2lite\.attention\.causal_mask"),
    ("check_causal_mask", lambda T: gpt2lite.attention.causal_mask(T, T), r"gpt2lite\.attention\.causal_mask"),
    ("check_causal_attention", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     r"F\.scaled_dot_product_attention"),
    ("check_causal_attention", lambda q, k, v: sdpa(q, k, v, is_causal=True), r"F\.scaled_dot_product_attention"),
    ("check_causal_attention", lambda q, k, v: torch._C._nn.scaled_dot_product_attention(q, k, v, is_causal=True),
     r"F\.scaled_dot_product_attention"),
    ("check_causal_attention", lambda q, k, v: explicit_attention(q, k, v)[0],
     r"gpt2lite\.attention\.explicit_attention"),
    ("check_causal_attention", lambda q, k, v: gpt2lite.attention.explicit_attention(q, k, v)[0],
     r"gpt2lite\.attention\.explicit_attention"),
    ("check_causal_attention", _mha, r"nn\.MultiheadAttention"),
    ("check_causal_attention", lambda q, k, v: ch4._attention_mistakes(q, k, v),
     r"gpt2lite\.checks\.attention\._attention_mistakes"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    'check_masked_softmax': 'softmax itself is allowed; the exercise is where the mask goes',
    'check_split_merge_heads': 'view and transpose are the answer, not a shortcut to it',
}
