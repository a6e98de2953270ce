"""Chapter 8's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import pytest
import torch
import torch.nn.functional as F

from gpt2lite.attention import KVCache
from gpt2lite.checks import (
    CheckFailed,
    check_apply_temperature,
    check_greedy_decode,
    check_kv_generate,
    check_top_k_filter,
    check_top_p_filter,
)
from gpt2lite.generate import generate
import gpt2lite.generate
from gpt2lite.checks import sampling as ch8
from gpt2lite.generate import filter_logits

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
    with pytest.raises(CheckFailed, match=r"called model\.generate\(\.\.\.\)(.|\n)*write the loop yourself"):
        check_greedy_decode(lambda model, idx, n: model.generate(idx, n, temperature=0))
    with pytest.raises(CheckFailed, match=r"called model\.generate\(\.\.\.\)"):  # the cache-free path too
        check_greedy_decode(lambda model, idx, n: model.generate(idx, n, temperature=0, use_cache=False))


# ------------------------------------------------------------------------------ ex-08-kvcache
def kv_generate(model, idx, n, *, offset=True, all_layers=True, append="always", rerun=False, grad=False,
                only_new=False, feed_last=False, causal="prompt"):
    """Greedy generation with a KV cache per block, written by hand, with switches that reproduce the classic
    mistakes. append: "always" (right), "prompt" (the cache keeps the prompt only) or "never" (the caches stay
    empty tensors, and the positions, read from their length, restart at 0). causal: is_causal=True for the
    "prompt" pass only (right), for "every" pass (which masks all but the first key), or for "no" pass."""
    tr, H, C = model.transformer, model.config.n_head, model.config.n_embd
    B = idx.size(0)
    empty = torch.zeros(B, H, 0, C // H)
    caches = [(empty, empty) for _ in tr.h]  # per block: keys and values (B, H, t, hd)
    seq, fed, steps, done = idx, idx, [], 0
    with torch.set_grad_enabled(grad):
        for step in range(n + feed_last):
            if rerun:
                fed, caches = seq, [(empty, empty) for _ in tr.h]  # the whole sequence again, from scratch
            T = fed.size(1)
            past = caches[0][0].size(2) if append == "never" else 0 if rerun else done
            x = tr.wte(fed) + tr.wpe(torch.arange(past, past + T) if offset else torch.arange(T))
            for i, block in enumerate(tr.h):
                q, k, v = block.attn.c_attn(block.ln_1(x)).split(C, dim=2)
                q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
                cached = all_layers or i == len(tr.h) - 1
                if cached:
                    k, v = torch.cat([caches[i][0], k], dim=2), torch.cat([caches[i][1], v], dim=2)
                    if append == "always" or append == "prompt" and step == 0:
                        caches[i] = (k, v)
                is_causal = {"prompt": T > 1, "every": True, "no": False}[causal]  # T > 1: the prompt, no past
                y = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
                x = x + block.attn.c_proj(y.transpose(1, 2).reshape(B, T, C))
                x = x + block.mlp(block.ln_2(x))
            done += T
            logits = model.lm_head(tr.ln_f(x[:, -1]))  # (B, V)
            if step == n:  # feed_last: one pass too many, for the last new token
                break
            fed = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
            seq = torch.cat([seq, fed], dim=1)
            steps.append(logits)
    return seq[:, idx.size(1):] if only_new else seq, torch.stack(steps, dim=1)


@torch.no_grad()
def package_cached(model, idx, n):
    """The same through gpt2lite's own cache, which the check refuses."""
    cache = KVCache(model.config, idx.size(0))
    fed, steps = idx, []
    for _ in range(n):
        steps.append(model(fed, cache=cache)[:, -1])
        fed = steps[-1].argmax(dim=-1, keepdim=True)
    return generate(model, idx, n, temperature=0, use_cache=False), torch.stack(steps, dim=1)


@torch.no_grad()
def rerun_model(model, idx, n):
    """No cache: the whole sequence through model(...) at every step."""
    seq, steps = idx, []
    for _ in range(n):
        steps.append(model(seq)[:, -1])
        seq = torch.cat([seq, steps[-1].argmax(dim=-1, keepdim=True)], dim=1)
    return seq, torch.stack(steps, dim=1)


def test_kv_generate(capsys):
    check_kv_generate(lambda model, idx, n: kv_generate(model, idx, n))
    assert capsys.readouterr().out.startswith("✓ kv_generate matches")
    check_kv_generate(lambda model, idx, n: kv_generate(model, idx, n, feed_last=True))  # one pass too many is fine


@pytest.mark.parametrize("mistake, hint", [
    (dict(offset=False), "the position embedding restarts at 0 at every step"),
    (dict(all_layers=False), "only the last block keeps a cache"),
    (dict(append="prompt"), "not appended to: it still holds only the prompt's"),
    (dict(append="never"), "not appended to: the cache stays empty"),
    (dict(rerun=True), "the prompt is run again at every step"),
    (dict(causal="every"), "the new token sees only the first cached key"),
    (dict(causal="no"), "the prompt needs a causal mask"),
    (dict(only_new=True), "this is only the new tokens"),
    (dict(grad=True), "no_grad"),
])
def test_kv_generate_names_the_mistake(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_kv_generate(lambda model, idx, n: kv_generate(model, idx, n, **mistake))


def test_kv_generate_names_a_new_token_that_sees_only_itself():
    """A block.attn(x) on the new token alone, without a cache: the new token attends over itself only."""
    def no_cache(model, idx, n):
        with torch.no_grad():
            seq, fed, steps = idx, idx, []
            for start in [0, *range(idx.size(1), idx.size(1) + n - 1)]:
                x = model.transformer.wte(fed) + model.transformer.wpe(torch.arange(start, start + fed.size(1)))
                for block in model.transformer.h:
                    x = x + block.attn(block.ln_1(x))[0]
                    x = x + block.mlp(block.ln_2(x))
                steps.append(model.lm_head(model.transformer.ln_f(x[:, -1])))
                fed = steps[-1].argmax(dim=-1, keepdim=True)
                seq = torch.cat([seq, fed], dim=1)
        return seq, torch.stack(steps, dim=1)

    with pytest.raises(CheckFailed, match="not appended to: the new token attends over itself alone"):
        check_kv_generate(no_cache)


@pytest.mark.parametrize("answer, call", [
    (lambda model, idx, n: (model.generate(idx, n, temperature=0), None), r"called model\.generate"),
    (lambda model, idx, n: (generate(model, idx, n, temperature=0), None), r"called model\.generate"),
    (lambda model, idx, n: (model.new_cache(idx.size(0)), None), r"called model\.new_cache"),
    (package_cached, r"called gpt2lite\.attention\.KVCache"),
], ids=["model.generate", "gpt2lite.generate.generate", "model.new_cache", "model(..., cache=KVCache(...))"])
def test_kv_generate_refuses_the_package_cache(answer, call):
    with pytest.raises(CheckFailed, match=call + r"(.|\n)*write the cache yourself"):
        check_kv_generate(answer)


def test_kv_generate_refuses_a_cache_of_its_own_kind_passed_to_the_model():
    """A cache object made without KVCache or new_cache, passed to the attention: the hook refuses it."""
    def own_object(model, idx, n):
        x = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(idx.size(1)))
        model.transformer.h[0].attn(x, object(), 0)

    with pytest.raises(CheckFailed, match="a call to gpt2lite's own KV cache(.|\n)*write the cache yourself"):
        check_kv_generate(own_object)


def test_kv_generate_catches_a_stub_a_rerun_model_and_a_lone_tensor():
    with pytest.raises(CheckFailed, match="not written yet"):
        check_kv_generate(stub)
    with pytest.raises(CheckFailed, match="the prompt is run again at every step"):
        check_kv_generate(rerun_model)
    with pytest.raises(CheckFailed, match="return two tensors"):
        check_kv_generate(lambda model, idx, n: kv_generate(model, idx, n)[0])


def test_kv_generate_leaves_the_check_models_as_they_were():
    from gpt2lite.checks.sampling import _kv_models

    with pytest.raises(CheckFailed):
        check_kv_generate(lambda model, idx, n: (model.generate(idx, n, temperature=0), None))
    for model in _kv_models():
        assert "new_cache" not in vars(model)
        assert all(not m._forward_pre_hooks for m in model.modules())
        model.generate(torch.zeros(1, 1, dtype=torch.long), 2, temperature=0)  # the package's cache works again


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

SHORTCUTS = [
    ("check_top_k_filter", lambda logits, k: filter_logits(logits, top_k=k), r"gpt2lite\.generate\.filter_logits"),
    ("check_top_k_filter", lambda logits, k: gpt2lite.generate.filter_logits(logits, top_k=k),
     r"gpt2lite\.generate\.filter_logits"),
    ("check_top_p_filter", lambda logits, p: filter_logits(logits, top_p=p), r"gpt2lite\.generate\.filter_logits"),
    ("check_top_p_filter", lambda logits, p: gpt2lite.generate.filter_logits(logits, top_p=p),
     r"gpt2lite\.generate\.filter_logits"),
    ("check_top_p_filter", lambda logits, p: ch8._nucleus_mistakes(logits, p), r"_nucleus_mistakes"),
    ("check_greedy_decode", lambda model, idx, n: model.generate(idx, n, temperature=0, use_cache=False),
     r"model\.generate"),
    ("check_greedy_decode", lambda model, idx, n: gpt2lite.generate.generate(model, idx, n, temperature=0),
     r"model\.generate"),
    ("check_kv_generate", lambda model, idx, n: (model.generate(idx, n, temperature=0), None),
     r"model\.generate"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    'check_apply_temperature': 'softmax itself is allowed; the exercise is the division and the T=0 case',
}
