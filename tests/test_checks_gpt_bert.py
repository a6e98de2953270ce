"""Chapter 10's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import pytest
import torch

from gpt2lite.checks import (
    CheckFailed,
    check_attention_mask,
    check_bert_mask,
    check_gpt_num_parameters,
    check_masked_lm_loss,
)
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import nll_loss
import gpt2lite.attention
from gpt2lite import GPT, GPTConfig
from gpt2lite.attention import causal_mask
from gpt2lite.checks._core import meta_model


def stub(*args, **kwargs):
    raise NotImplementedError("your code here")


def attention_mask(t_query, t_key, causal, *, shift=0, always_causal=False):
    """The book's solution; `shift` moves the diagonal, `always_causal` ignores the flag (classic mistakes)."""
    if not causal and not always_causal:
        return torch.ones(t_query, t_key, dtype=torch.bool)
    query_pos = torch.arange(t_key - t_query, t_key)[:, None]  # (t_query, 1)
    key_pos = torch.arange(t_key)[None, :]  # (1, t_key)
    return key_pos <= query_pos + shift


def test_attention_mask(capsys):
    check_attention_mask(attention_mask)
    assert capsys.readouterr().out.startswith("✓ causal and bidirectional masks match")


@pytest.mark.parametrize("wrong, hint", [
    (lambda tq, tk, causal: torch.ones(tq, tk, dtype=torch.bool).tril(0 if causal else tk),
     r"shift the diagonal by t_key - t_query"),
    (lambda tq, tk, causal: attention_mask(tq, tk, causal, shift=-1), r"<=, not <"),
    (lambda tq, tk, causal: attention_mask(tq, tk, causal, shift=1), "one key too far"),
    (lambda tq, tk, causal: ~attention_mask(tq, tk, causal), "inverse of the mask"),
    (lambda tq, tk, causal: attention_mask(tq, tk, causal, always_causal=True), "every query sees every key"),
    (lambda tq, tk, causal: attention_mask(tq, tk, causal).int(), "torch.bool"),
    (lambda tq, tk, causal: attention_mask(tk, tq, causal).T if causal else attention_mask(tq, tk, causal),
     "keeps the upper triangle"),
    (stub, "not written yet"),
])
def test_attention_mask_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_attention_mask(wrong)


def bert_mask(x, mask_id, vocab_size, p=0.15, seed=0, *, split=(0.8, 0.9), in_place=False, swap=False,
              use_seed=True, targets_from_inputs=False):
    """The book's solution, with switches that reproduce the classic mistakes."""
    g = torch.Generator().manual_seed(seed if use_seed else 0)
    chosen = torch.rand(x.shape, generator=g) < p
    if swap:
        chosen = ~chosen
    action = torch.rand(x.shape, generator=g)
    random_ids = torch.randint(vocab_size, x.shape, generator=g)
    inputs = x if in_place else x.clone()
    inputs[chosen & (action < split[0])] = mask_id
    randomised = chosen & (action >= split[0]) & (action < split[1])
    inputs[randomised] = random_ids[randomised]
    targets = (inputs if targets_from_inputs else x).masked_fill(~chosen, -100)
    return inputs, targets


def test_bert_mask(capsys):
    check_bert_mask(bert_mask)
    assert capsys.readouterr().out.startswith("✓ bert_mask chooses 15%")


def test_bert_mask_with_another_order_of_draws(capsys):
    def other_order(x, mask_id, vocab_size, p=0.15, seed=0):
        g = torch.Generator().manual_seed(seed)
        action = torch.rand(x.shape, generator=g)
        chosen = torch.rand(x.shape, generator=g) < p
        targets = torch.where(chosen, x, -100)
        random_ids = torch.randint(0, vocab_size, x.shape, generator=g)
        inputs = torch.where(chosen & (action < 0.8), mask_id, x)
        return torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, inputs), targets

    check_bert_mask(other_order)
    assert "✓" in capsys.readouterr().out


def global_rng(x, mask_id, vocab_size, p=0.15, seed=0):
    """Draws from the global generator, not from one seeded with `seed`: a new result every call."""
    return bert_mask(x, mask_id, vocab_size, p, seed=int(torch.randint(1 << 30, ())))


@pytest.mark.parametrize("wrong, hint", [
    (lambda *a, **k: bert_mask(*a, **k, in_place=True), "not in place"),
    (lambda *a, **k: bert_mask(*a, **k, swap=True), "chosen and unchosen are swapped"),
    (lambda *a, **k: bert_mask(*a, **k, targets_from_inputs=True), "targets keep the original ids"),
    (lambda x, m, v, p=0.15, seed=0: (bert_mask(x, m, v, p, seed)[0], x.clone()), "must be -100 at the positions"),
    (lambda *a, **k: bert_mask(*a, **k, split=(1.0, 1.0)), "the chapter's simple masking"),
    (lambda *a, **k: bert_mask(*a, **k, split=(0.8, 0.8)), "no chosen position got a random id"),
    (lambda *a, **k: bert_mask(*a, **k, split=(0.8, 1.0)), "no chosen position stayed unchanged"),
    (lambda *a, **k: bert_mask(*a, **k, split=(0.7, 0.9)), r"u < 0.8 -> mask_id"),
    (lambda *a, **k: bert_mask(*a, **k, use_seed=False), "seed the generator with the `seed` argument"),
    (global_rng, "pass generator= to every torch.rand"),
    (lambda x, m, v, p=0.15, seed=0: bert_mask(x, m, v, 0.15, seed), "p=0 chooses none"),
    (lambda x, m, v, p=0.15, seed=0: bert_mask(x, m, v + 5, p, seed), r"ids in \[0, 65\) or mask_id"),
    (stub, "not written yet"),
])
def test_bert_mask_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_bert_mask(wrong)


def masked_lm_loss(logits, targets):
    keep = targets != -100  # (B, T)
    if not keep.any():
        return torch.tensor(0.0)
    log_probs = logits[keep].log_softmax(dim=-1)  # (M, V)
    picked = log_probs.gather(1, targets[keep][:, None]).squeeze(1)  # (M,)
    return -picked.mean()


def per_position(logits, targets, dim=-1):
    """-log p(target) at every position (B, T), 0 where nothing is masked."""
    keep = targets != -100
    return -logits.log_softmax(dim).gather(-1, targets.clamp(min=0)[..., None]).squeeze(-1) * keep


def test_masked_lm_loss(capsys):
    check_masked_lm_loss(masked_lm_loss)
    assert capsys.readouterr().out.startswith("✓ masked_lm_loss matches F.cross_entropy")


@pytest.mark.parametrize("wrong, hint", [
    (lambda lg, t: per_position(lg, t).sum(1)[(t != -100).any(1)].div((t != -100).sum(1)[(t != -100).any(1)]).mean(),
     "mean of per-row means"),
    (lambda lg, t: per_position(lg, t).sum(), "this is a sum"),
    (lambda lg, t: per_position(lg, t).mean(), "divides by every position"),
    (lambda lg, t: per_position(lg, t, dim=1).sum() / (t != -100).sum(), "wrong axis"),
    (lambda lg, t: -lg[t != -100].gather(1, t[t != -100][:, None]).mean(), "take log_softmax of the logits first"),
    (lambda lg, t: -masked_lm_loss(lg, t), "the sign is wrong"),
    (lambda lg, t: -torch.log(lg[t != -100].softmax(-1).gather(1, t[t != -100][:, None]).mean()), "-log of the mean"),
    (lambda lg, t: masked_lm_loss(lg, t).detach(), "gradients can flow"),
    (lambda lg, t: -lg[t != -100].log_softmax(-1).gather(1, t[t != -100][:, None]).mean(), "not the mean of an empty"),
    (lambda lg, t: masked_lm_loss(lg, t) if (t != -100).any() else torch.tensor(1.0), "return torch.tensor"),
    (stub, "not written yet"),
])
def test_masked_lm_loss_catches(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_masked_lm_loss(wrong)


def gpt_num_parameters(vocab_size, block_size, n_layer, n_embd, pre_ln=True, *, tied=True, final=(True, False),
                       ln=2, biases=True, mlp=4, positions=True):
    """The book's solution, with switches that reproduce the classic mistakes."""
    C = n_embd
    b = 1 if biases else 0
    embeddings = vocab_size * C * (1 if tied else 2) + (block_size * C if positions else 0)
    layer_norms = 2 * ln * C
    attention = (C * 3 * C + b * 3 * C) + (C * C + b * C)
    feed_forward = (C * mlp * C + b * mlp * C) + (mlp * C * C + b * C)
    last = ln * C if final[0] and pre_ln or final[1] and not pre_ln else 0
    return embeddings + n_layer * (layer_norms + attention + feed_forward) + last


def test_gpt_num_parameters(capsys):
    check_gpt_num_parameters(gpt_num_parameters)
    assert capsys.readouterr().out.startswith("✓ the formula counts every preset")


@pytest.mark.parametrize("mistake, hint", [
    (dict(tied=False), "count the vocab_size x n_embd matrix once"),
    (dict(final=(True, True)), "post-LN models .* have no final LayerNorm"),
    (dict(final=(False, False)), "pre-LN models end with a final LayerNorm"),
    (dict(positions=False), "position embeddings"),
    (dict(ln=1), "each LayerNorm has a gain and a bias"),
    (dict(ln=0), "the LayerNorms are missing"),
    (dict(biases=False), "the biases of the four linear layers are missing"),
    (dict(mlp=1), "the MLP is 4x wide"),
    (dict(mlp=2), r"per block: two LayerNorms \(4C\)"),
])
def test_gpt_num_parameters_catches(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_gpt_num_parameters(lambda *args, **kwargs: gpt_num_parameters(*args, **kwargs, **mistake))


def test_gpt_num_parameters_catches_a_float_and_a_stub():
    with pytest.raises(CheckFailed, match="return an int"):
        check_gpt_num_parameters(lambda *args, **kwargs: float(gpt_num_parameters(*args, **kwargs)))
    with pytest.raises(CheckFailed, match="not written yet"):
        check_gpt_num_parameters(stub)


def test_checks_leave_the_global_random_state_alone():
    before = torch.random.get_rng_state()
    check_bert_mask(bert_mask)
    check_masked_lm_loss(masked_lm_loss)
    check_gpt_num_parameters(gpt_num_parameters)
    assert torch.equal(torch.random.get_rng_state(), before)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _masked_nll(logits, targets):
    return nll_loss(logits.log_softmax(-1).flatten(0, 1), targets.flatten(), ignore_index=-100)


def _meta_count(V, T, L, C, pre_ln=True):
    return meta_model(GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=1, n_embd=C, pre_ln=pre_ln)
                      ).num_parameters()


def _gpt_count(V, T, L, C, pre_ln=True):
    with torch.device("meta"):
        return GPT(GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=1, n_embd=C, pre_ln=pre_ln)).num_parameters()


SHORTCUTS = [
    ("check_attention_mask", lambda tq, tk, causal: causal_mask(tq, tk) if causal else torch.ones(tq, tk, dtype=bool),
     r"gpt2lite\.attention\.causal_mask"),
    ("check_attention_mask", lambda tq, tk, causal: gpt2lite.attention.causal_mask(tq, tk),
     r"gpt2lite\.attention\.causal_mask"),
    ("check_masked_lm_loss", lambda lg, t: F.cross_entropy(lg.flatten(0, 1), t.flatten(), ignore_index=-100),
     r"F\.cross_entropy"),
    ("check_masked_lm_loss", _masked_nll, r"F\.nll_loss"),
    ("check_masked_lm_loss", lambda lg, t: nn.CrossEntropyLoss()(lg.flatten(0, 1), t.flatten()),
     r"nn\.CrossEntropyLoss"),
    ("check_gpt_num_parameters", _meta_count, r"meta_model"),
    ("check_gpt_num_parameters", _gpt_count, r"GPT"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    'check_bert_mask': "random masking of the reader's own design; nothing ready-made does it",
}
