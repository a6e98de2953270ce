"""Chapter 8's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import pytest
import torch
import torch.nn.functional as F

from gpt2lite.checks import (
    CheckFailed,
    check_apply_temperature,
    check_greedy_decode,
    check_top_k_filter,
    check_top_p_filter,
)

NEG_INF = float("-inf")


def stub(*args):
    raise NotImplementedError("your code here")


# --------------------------------------------------------------------------- ex-08-temperature
def apply_temperature(logits, temperature):
    if temperature == 0:
        return F.one_hot(logits.argmax(dim=-1), logits.size(-1)).to(logits.dtype)
    return torch.softmax(logits / temperature, dim=-1)


def with_greedy(greedy):
    """The right answer for T > 0, a wrong one (`greedy(logits)`) at T = 0."""
    return lambda logits, T: greedy(logits) if T == 0 else apply_temperature(logits, T)


def all_largest(logits):
    return (logits == logits.max(dim=-1, keepdim=True).values).float()


def test_apply_temperature(capsys):
    check_apply_temperature(apply_temperature)
    assert capsys.readouterr().out.startswith("✓ apply_temperature matches")


@pytest.mark.parametrize("wrong, hint", [
    (lambda z, T: torch.softmax(z * T, dim=-1), "multiplied by the temperature"),
    (lambda z, T: torch.softmax(z / T if T else z, dim=0), r"over the batch \(dim=0\)"),
    (lambda z, T: z / T if T else apply_temperature(z, T), "apply a softmax"),
    (lambda z, T: torch.softmax(z, dim=-1), "the temperature is ignored"),
    (lambda z, T: torch.softmax(z / T, dim=-1), "handle temperature == 0 first"),
    (with_greedy(lambda z: z.argmax(dim=-1)), "this is the argmax itself"),
    (with_greedy(lambda z: F.one_hot(z.argmax(dim=-1), z.size(-1))), "F.one_hot gives integers"),
    (with_greedy(all_largest), "every tied largest logit got probability 1"),
    (with_greedy(lambda z: all_largest(z) / all_largest(z).sum(-1, keepdim=True)), "shared among tied"),
    (stub, "not written yet"),
])
def test_apply_temperature_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_apply_temperature(wrong)


# --------------------------------------------------------------------------------- ex-08-topk
def top_k_filter(logits, k, *, keep_all_when_large=True, kth_index=-1, strict=True, fill=NEG_INF, ties=True,
                 inverted=False):
    """The top-k filter, with switches that reproduce the classic mistakes."""
    if keep_all_when_large and k >= logits.size(-1):
        return logits
    top = torch.topk(logits, k, dim=-1)
    if not ties:
        return torch.full_like(logits, NEG_INF).scatter(-1, top.indices, top.values)
    kth = top.values[:, kth_index:][:, :1]  # (B, 1)
    drop = logits < kth if strict else logits <= kth
    return logits.masked_fill(~drop if inverted else drop, fill)


def test_top_k_filter(capsys):
    check_top_k_filter(top_k_filter)
    assert capsys.readouterr().out.startswith("✓ top_k_filter matches")


@pytest.mark.parametrize("mistake, hint", [
    (dict(strict=False), r"\(<, not <=\)"),
    (dict(kth_index=0), "only the largest logit is kept"),
    (dict(ties=False), "ties with the k-th largest must be kept"),
    (dict(fill=0.0), "must be -inf"),
    (dict(inverted=True), "the filter is inverted"),
    (dict(keep_all_when_large=False), "for k >= V return the logits unchanged"),
])
def test_top_k_filter_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_top_k_filter(lambda logits, k: top_k_filter(logits, k, **mistake))


def test_top_k_filter_catches_a_stub_and_a_lost_dimension():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_top_k_filter(stub)

    def flat_kth(logits, k):  # values[:, -1] is (B,): it broadcasts along the wrong axis, or not at all
        if k >= logits.size(-1):
            return logits
        return logits.masked_fill(logits < torch.topk(logits, k, dim=-1).values[:, -1], NEG_INF)

    with pytest.raises(CheckFailed, match=r"RuntimeError(.|\n)*values\[:, -1:\]"):
        check_top_k_filter(flat_kth)


# --------------------------------------------------------------------------------- ex-08-topp
def top_p_filter(logits, p, *, keep_all_at_one=True, descending=True, mass="above", softmax_dim=-1, unsort=True,
                 inverted=False, fill=NEG_INF):
    """The top-p filter, with switches that reproduce the classic mistakes."""
    if keep_all_at_one and p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=descending)
    if mass == "logits":
        cumulative = torch.cumsum(sorted_logits, dim=-1) - sorted_logits
    else:
        probs = torch.softmax(sorted_logits, dim=softmax_dim)
        cumulative = torch.cumsum(probs, dim=-1) - (probs if mass == "above" else 0)
    drop = cumulative >= p if mass != "including" else cumulative > p
    kept = sorted_logits.masked_fill(~drop if inverted else drop, fill)
    if not unsort:
        return kept
    return torch.full_like(logits, fill).scatter(-1, order, kept)


def test_top_p_filter(capsys):
    check_top_p_filter(top_p_filter)
    assert capsys.readouterr().out.startswith("✓ top_p_filter matches")


@pytest.mark.parametrize("mistake, hint", [
    (dict(mass="including"), "the token that crosses p was dropped"),
    (dict(keep_all_at_one=False), "p = 1 must keep every token"),
    (dict(unsort=False), "still in sorted order"),
    (dict(descending=False), "the sort must be descending"),
    (dict(mass="logits"), "the cumulative sum runs over logits"),
    (dict(softmax_dim=0), r"over the batch \(dim=0\)"),
    (dict(inverted=True), "the filter is inverted"),
    (dict(fill=0.0), "must be -inf"),
])
def test_top_p_filter_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_top_p_filter(lambda logits, p: top_p_filter(logits, p, **mistake))


def test_top_p_filter_catches_a_stub():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_top_p_filter(stub)


# ------------------------------------------------------------------------------- ex-08-greedy
def greedy_decode(model, idx, n, *, crop="last", position=-1, grad=False, only_new=False):
    """Greedy decoding, with switches that reproduce the classic mistakes."""
    block = model.config.block_size
    window = {"last": lambda s: s[:, -block:], "first": lambda s: s[:, :block], "short": lambda s: s[:, -(block - 1):],
              "none": lambda s: s}[crop]
    seq = idx
    with torch.set_grad_enabled(grad):
        for _ in range(n):
            logits = model(window(seq))[:, position]  # (B, V)
            seq = torch.cat([seq, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return seq[:, idx.size(1):] if only_new else seq


def test_greedy_decode(capsys):
    check_greedy_decode(greedy_decode)
    assert capsys.readouterr().out.startswith("✓ greedy_decode matches")


@pytest.mark.parametrize("mistake, hint", [
    (dict(only_new=True), "this is only the new tokens"),
    (dict(position=0), "the logits of the first position"),
    (dict(crop="first"), r"cropped to its \*first\* block_size tokens"),
    (dict(crop="short"), "the window is one token short"),
    (dict(crop="none"), r"exceeds the context(.|\n)*crop the input to its last block_size tokens at every step"),
    (dict(grad=True), "no_grad"),
])
def test_greedy_decode_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_greedy_decode(lambda model, idx, n: greedy_decode(model, idx, n, **mistake))


def test_greedy_decode_catches_a_stub_and_generate():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_greedy_decode(stub)
    with pytest.raises(CheckFailed, match="no generate"):
        check_greedy_decode(lambda model, idx, n: model.generate(idx, n, temperature=0))
