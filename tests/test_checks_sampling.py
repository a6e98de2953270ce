"""Chapter 8's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import pytest
import torch
import torch.nn.functional as F

import gpt2lite.generate
from gpt2lite.checks import (CheckFailed, check_cached_greedy, check_filter_per_row, check_repetition_rates,
                             check_temper_probs)
from gpt2lite.checks import sampling as ch8
from gpt2lite.generate import filter_logits, generate, sample_next

NEG_INF = float("-inf")


def stub(*args):
    raise NotImplementedError("your code here")


# -------------------------------------------------------------------------------- ex-08-temper
def temper_probs(probs, temperature, *, shift=True):
    if temperature == 0:
        return F.one_hot(probs.argmax(dim=-1), probs.size(-1)).to(probs.dtype)
    scaled = probs / probs.max(dim=-1, keepdim=True).values if shift else probs
    powered = scaled ** (1 / temperature)
    return powered / powered.sum(dim=-1, keepdim=True)


def with_greedy(greedy):
    """The right answer for T > 0, a wrong one (`greedy(p)`) at T = 0."""
    return lambda p, T: greedy(p) if T == 0 else temper_probs(p, T)


def all_largest(p):
    return (p == p.max(dim=-1, keepdim=True).values).float()


def test_temper_probs(capsys):
    check_temper_probs(temper_probs)
    check_temper_probs(lambda p, T: temper_probs(p, T) if T == 0 else torch.softmax(p.log() / T, dim=-1))
    assert capsys.readouterr().out.startswith("✓ temper_probs matches")


@pytest.mark.parametrize("wrong, hint", [
    (lambda p, T: temper_probs(p, T, shift=False), r"underflowed in float32(.|\n)*largest probability first"),
    (lambda p, T: temper_probs(p, 1 / T) if T else temper_probs(p, T), "raised to the power T"),
    (lambda p, T: torch.softmax(p / T, dim=-1) if T else temper_probs(p, T), "treats the probabilities as logits"),
    (lambda p, T: (p / p.max(-1, keepdim=True).values) ** (1 / T) if T else temper_probs(p, T), "divide each row by "
                                                                                               "its sum"),
    (lambda p, T: (lambda w: w / w.sum(0, keepdim=True))(p ** (1 / T)) if T else temper_probs(p, T), r"dim=0"),
    (lambda p, T: p if T else temper_probs(p, T), "the temperature is ignored"),
    (lambda p, T: temper_probs(p, T) if T else p ** (1 / T), "handle temperature == 0 first"),
    (with_greedy(lambda p: p.argmax(dim=-1)), "this is the argmax itself"),
    (with_greedy(lambda p: F.one_hot(p.argmax(dim=-1), p.size(-1))), "F.one_hot gives integers"),
    (with_greedy(all_largest), "every tied largest probability got 1"),
    (with_greedy(lambda p: all_largest(p) / all_largest(p).sum(-1, keepdim=True)), "shared among tied"),
])
def test_temper_probs_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_temper_probs(wrong)


def test_temper_probs_catches_a_stub():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_temper_probs(stub)


# --------------------------------------------------------------------------- ex-08-filter-rows
def filter_per_row(logits, top_k, top_p, *, k_col=True, p_col=True, ties=True, kth_offset=1, renormalise=True,
                   tail="above", p_one=True, unsort=True, fill=NEG_INF, first_only=False):
    """Top-k then top-p with a setting per row, for all rows at once, with switches for the classic mistakes."""
    V = logits.size(-1)
    if first_only:
        top_k, top_p = top_k[:1].expand(len(top_k)), top_p[:1].expand(len(top_p))
    k = top_k.clamp(max=V)[:, None] if k_col else top_k.clamp(max=V)
    p = top_p[:, None] if p_col else top_p
    ordered, order = logits.sort(dim=-1, descending=True)  # (B, V)
    if ties:
        kth = ordered.gather(-1, (k - kth_offset).clamp(max=V - 1))  # (B, 1)
        kept = ordered.masked_fill(ordered < kth, NEG_INF)
    else:
        kept = ordered.masked_fill(torch.arange(V) >= k, NEG_INF)
    probs = (kept if renormalise else ordered).softmax(dim=-1)
    cumulative = probs.cumsum(dim=-1)
    cut = cumulative - probs >= p if tail == "above" else cumulative > p
    kept = kept.masked_fill(cut & (p < 1) if p_one else cut, NEG_INF)
    if fill != NEG_INF:
        kept = kept.masked_fill(kept == NEG_INF, fill)
    return torch.full_like(logits, fill).scatter(-1, order, kept) if unsort else kept


def test_filter_per_row(capsys):
    check_filter_per_row(filter_per_row)
    assert capsys.readouterr().out.startswith("✓ filter_per_row matches")


@pytest.mark.parametrize("mistake, hint", [
    (dict(first_only=True), "filtered with the first row's top_k and top_p"),
    (dict(renormalise=False), "the nucleus was measured on the full distribution"),
    (dict(ties=False), "ties with the k-th largest logit were dropped"),
    (dict(kth_offset=0), "one logit too many was kept"),
    (dict(tail="cumulative"), "the token that crosses p was dropped"),
    (dict(p_one=False), "p = 1 must keep every token"),
    (dict(unsort=False), "still in sorted order"),
    (dict(fill=0.0), "must be -inf"),
    (dict(k_col=False), r"RuntimeError(.|\n)*top_k\[:, None\]"),
])
def test_filter_per_row_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_filter_per_row(lambda logits, top_k, top_p: filter_per_row(logits, top_k, top_p, **mistake))


def test_filter_per_row_names_the_mistake_of_two_independent_filters():
    """Each filter on the original logits, then both masks: the nucleus of the full distribution."""
    def independent(logits, top_k, top_p):
        k_only = filter_per_row(logits, top_k, torch.ones_like(top_p))
        p_only = filter_per_row(logits, torch.full_like(top_k, logits.size(-1)), top_p)
        return logits.masked_fill(k_only.isinf() | p_only.isinf(), NEG_INF)

    with pytest.raises(CheckFailed, match="the nucleus was measured on the full distribution"):
        check_filter_per_row(independent)


def test_filter_per_row_catches_a_stub():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_filter_per_row(stub)


def per_row(fn):
    """An answer that hands each row to a ready-made function of gpt2lite.generate."""
    return lambda logits, top_k, top_p: torch.cat([fn(logits[i:i + 1], int(top_k[i]), float(top_p[i]))
                                                   for i in range(len(logits))])


def test_filter_per_row_refuses_every_function_of_gpt2lite_generate():
    with pytest.raises(CheckFailed, match=r"called gpt2lite\.generate\.sample_next\(\.\.\.\)"):
        check_filter_per_row(per_row(lambda row, k, p: sample_next(row, top_k=k, top_p=p)))
    with pytest.raises(CheckFailed, match=r"called gpt2lite\.generate\.filter_logits\(\.\.\.\)(.|\n)*for all rows "
                                          r"at once"):
        check_filter_per_row(per_row(lambda row, k, p: filter_logits(row, top_k=k, top_p=p)))


# ---------------------------------------------------------------------------- ex-08-repetition
def repetition_rates(model, prompt, n, temperatures, seed, *, shared=False, size=4, itself=False, per=None,
                     prompt_grams=True):
    """The measurement, with switches for the classic mistakes."""
    rates, generator = [], torch.Generator().manual_seed(seed)
    P = prompt.size(1)
    for T in temperatures:
        if not shared:
            generator = torch.Generator().manual_seed(seed)
        seq = model.generate(prompt, n, temperature=T, generator=generator)[0].tolist()
        earlier = set()
        repeats = 0
        for j in range(size - 1, len(seq)):
            gram = tuple(seq[j - size + 1:j + 1])
            if itself:
                earlier.add(gram)
            repeats += j >= P and gram in earlier
            if prompt_grams or j - size + 1 >= P:
                earlier.add(gram)
        rates.append(repeats / (n if per is None else per(P, n)) if per != "count" else repeats)
    return rates


def test_repetition_rates(capsys):
    check_repetition_rates(repetition_rates)
    out = capsys.readouterr().out
    assert out.startswith("✓ repetition_rates measured") and "T = 0: " in out


@pytest.mark.parametrize("mistake, hint", [
    (dict(shared=True), "seed a fresh torch.Generator"),
    (dict(itself=True), "found at its own position"),
    (dict(per="count"), "these are counts"),
    (dict(per=lambda P, n: P + n), "not P \\+ n"),
    (dict(prompt_grams=False), "the prompt's 4-grams count as earlier ones too"),
    (dict(size=3), "these are 3-grams"),
])
def test_repetition_rates_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_repetition_rates(lambda *args: repetition_rates(*args, **mistake))


def test_repetition_rates_catches_a_stub_made_up_numbers_and_a_wrong_length():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_repetition_rates(stub)
    with pytest.raises(CheckFailed, match="expected: \\[0\\.\\d{4}, "):
        check_repetition_rates(lambda model, prompt, n, temperatures, seed: [0.5] * len(temperatures))
    with pytest.raises(CheckFailed, match="one number per temperature"):
        check_repetition_rates(lambda *args: repetition_rates(*args)[:1])


# ------------------------------------------------------------------------------- ex-08-kv-bug
@torch.no_grad()
def cached_greedy(model, idx, n, *, advance="tokens", mask="shifted", only_new=False, rerun=False):
    """The exercise's loop, repaired (advance="tokens"), with switches for the bug and the other mistakes."""
    tr, cfg = model.transformer, model.config
    B, T = idx.shape
    H, C = cfg.n_head, cfg.n_embd
    keys = torch.zeros(cfg.n_layer, B, H, T + n, C // H)
    values = torch.zeros_like(keys)
    seq, fed, pos = idx, idx, 0
    for _ in range(n):
        if rerun:
            fed, pos = seq, 0
        t = fed.size(1)
        end = pos + t
        x = tr.wte(fed) + tr.wpe(torch.arange(pos, end))
        for i, block in enumerate(tr.h):
            qkv = block.attn.c_attn(block.ln_1(x)).view(B, t, 3, H, C // H)
            q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, t, head_dim)
            keys[i, :, :, pos:end], values[i, :, :, pos:end] = k, v
            if mask == "is_causal":
                y = F.scaled_dot_product_attention(q, keys[i, :, :, :end], values[i, :, :, :end], is_causal=True)
            else:
                allowed = torch.ones(t, end, dtype=torch.bool).tril(pos if mask == "shifted" else end)
                y = F.scaled_dot_product_attention(q, keys[i, :, :, :end], values[i, :, :, :end], attn_mask=allowed)
            x = x + block.attn.c_proj(y.transpose(1, 2).reshape(B, t, C))
            x = x + block.mlp(block.ln_2(x))
        pos = {"tokens": end, "one": pos + 1, "none": 0}[advance]
        logits = model.lm_head(tr.ln_f(x[:, -1]))  # (B, V)
        fed = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
        seq = torch.cat([seq, fed], dim=1)
    return seq[:, T:] if only_new else seq


def test_cached_greedy(capsys):
    check_cached_greedy(cached_greedy)
    assert capsys.readouterr().out.startswith("✓ cached_greedy matches")


@pytest.mark.parametrize("mistake, hint", [
    (dict(advance="one"), r"this is the bug itself, pos \+= 1"),
    (dict(advance="none"), "the cache position never moves"),
    (dict(only_new=True), "this is only the new tokens"),
    (dict(mask="is_causal"), "the new token sees only the first cached key"),
    (dict(mask="none"), "the prompt needs the causal mask"),
    (dict(rerun=True), "the prompt is run again at every step"),
])
def test_cached_greedy_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_cached_greedy(lambda model, idx, n: cached_greedy(model, idx, n, **mistake))


def test_cached_greedy_catches_a_stub():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_cached_greedy(stub)


@pytest.mark.parametrize("answer, shown", [
    (lambda model, idx, n: model.generate(idx, n, temperature=0), r"model\.generate"),
    (lambda model, idx, n: generate(model, idx, n, temperature=0, use_cache=False), r"model\.generate"),
    (lambda model, idx, n: model(idx), r"model"),
    (lambda model, idx, n: model.new_cache(idx.size(0)), r"model\.new_cache"),
], ids=["model.generate", "gpt2lite.generate.generate", "model(...)", "model.new_cache"])
def test_cached_greedy_refuses_the_package(answer, shown):
    with pytest.raises(CheckFailed, match=rf"called {shown}\(\.\.\.\)(.|\n)*repair the loop"):
        check_cached_greedy(answer)


def test_cached_greedy_refuses_a_cache_passed_to_the_attention():
    def own_object(model, idx, n):
        x = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(idx.size(1)))
        model.transformer.h[0].attn(x, None, object())

    with pytest.raises(CheckFailed, match="a call to gpt2lite's own KV cache(.|\n)*repair the loop"):
        check_cached_greedy(own_object)


def test_cached_greedy_leaves_the_check_models_as_they_were():
    with pytest.raises(CheckFailed):
        check_cached_greedy(lambda model, idx, n: model.generate(idx, n, temperature=0))
    for model in ch8._kv_models():
        assert all(not m._forward_pre_hooks for m in model.modules())
        model.generate(torch.zeros(1, 1, dtype=torch.long), 2, temperature=0)  # the package's cache works again


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

SHORTCUTS = [
    ("check_filter_per_row", per_row(lambda row, k, p: filter_logits(row, top_k=k, top_p=p)),
     r"gpt2lite\.generate\.filter_logits"),
    ("check_filter_per_row", per_row(lambda row, k, p: gpt2lite.generate.filter_logits(row, k, p)),
     r"gpt2lite\.generate\.filter_logits"),
    ("check_cached_greedy", lambda model, idx, n: model.generate(idx, n, temperature=0, use_cache=False),
     r"model\.generate"),
    ("check_cached_greedy", lambda model, idx, n: gpt2lite.generate.generate(model, idx, n, temperature=0),
     r"model\.generate"),
    ("check_repetition_rates", lambda model, prompt, n, temperatures, seed: ch8._repeats([0], 0), r"_repeats"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    "check_temper_probs": "neither gpt2lite nor torch tempers probabilities ready-made; softmax(log(p) / T) is a "
                          "right answer that the derivation leads to, not a shortcut",
}
