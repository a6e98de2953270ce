"""Chapter 10's answer checks pass the right answers and catch the usual wrong ones, naming the mistake."""

import pytest
import torch

from gpt2lite.checks import (
    CheckFailed,
    check_bert_mask,
    check_masked_lm_loss,
    check_next_token_cheat,
    check_padding_mask,
)
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import nll_loss
import gpt2lite.attention
import gpt2lite.training
from gpt2lite import GPT, GPTConfig
from gpt2lite.attention import causal_mask
from gpt2lite.checks import gpt_bert
from gpt2lite.data import get_batch
from gpt2lite.training import TrainConfig, train


def stub(*args, **kwargs):
    raise NotImplementedError("your code here")


def padding_mask(lengths, T, causal=False, *, keep=0, rows=False, both=False, always_causal=False,
                 never_causal=False, flat=False):
    """The book's solution, with switches that reproduce the classic mistakes."""
    position = torch.arange(T)
    real = position[None, :] < lengths[:, None] + keep  # (B, T)
    if flat:
        return real
    allowed = real[:, :, None] if rows else real[:, None, :]
    if both:
        allowed = allowed & real[:, :, None]
    if (causal or always_causal) and not never_causal:
        allowed = allowed & (position[None, :, None] >= position[None, None, :])
    return allowed.expand(-1, T, T)


def test_padding_mask(capsys):
    check_padding_mask(padding_mask)
    assert capsys.readouterr().out.startswith("✓ padding masks match")


def test_padding_mask_with_a_loop(capsys):
    def loop(lengths, T, causal=False):
        out = torch.zeros(len(lengths), T, T, dtype=torch.bool)
        for b, n in enumerate(lengths.tolist()):
            for i in range(T):
                for j in range(n):
                    out[b, i, j] = j <= i or not causal
        return out

    check_padding_mask(loop)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, hint", [
    (dict(keep=1), r"one pad key too many \(<=, not <\)"),
    (dict(rows=True), r"hides pad queries \(rows\), not pad keys"),
    (dict(both=True), "its softmax row is all -inf"),
    (dict(always_causal=True), "the causal mask even with causal=False"),
    (dict(never_causal=True), "combine the padding with j <= i"),
    (dict(flat=True), r"repeat it for every query, shape \(B, T, T\)"),
])
def test_padding_mask_catches(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_padding_mask(lambda lengths, T, causal=False: padding_mask(lengths, T, causal, **mistake))


def test_padding_mask_catches_the_inverse_ints_and_a_stub():
    with pytest.raises(CheckFailed, match="inverse of the mask"):
        check_padding_mask(lambda lengths, T, causal=False: ~padding_mask(lengths, T, causal))
    with pytest.raises(CheckFailed, match="torch.bool"):
        check_padding_mask(lambda lengths, T, causal=False: padding_mask(lengths, T, causal).int())
    with pytest.raises(CheckFailed, match="not written yet"):
        check_padding_mask(stub)


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


def next_token_cheat(config, data, steps, batch_size=32, lr=1e-2, seed=0, *, seed_once=False, shared=False,
                     zero_grad=True, targets_are_inputs=False, drop_last=False):
    """The book's solution written as two separate runs, with switches that reproduce the classic mistakes."""
    curves = []
    if seed_once:
        torch.manual_seed(seed)
    batches = torch.Generator().manual_seed(seed)
    for causal in (True, False):
        if not seed_once:
            torch.manual_seed(seed)
        model = GPT(config.replace(causal=causal))
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
        if not shared:
            batches = torch.Generator().manual_seed(seed)
        curve = []
        for _ in range(steps):
            x, y = get_batch(data, batch_size, config.block_size, batches)
            loss = F.cross_entropy(model(x).flatten(0, 1), (x if targets_are_inputs else y).flatten())
            if zero_grad:
                opt.zero_grad()
            loss.backward()
            opt.step()
            curve.append(loss.item())
        curves.append(curve[:-1] if drop_last else curve)
    return tuple(curves)


def test_next_token_cheat(capsys):
    check_next_token_cheat(next_token_cheat)
    out = capsys.readouterr().out
    assert out.startswith("✓ your run on random tokens reproduces: after 40 steps")
    # the figures it prints are the ends of this very run
    data = torch.randint(16, (5000,), generator=torch.Generator().manual_seed(0))
    config = GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=32)
    causal, bidirectional = next_token_cheat(config, data, 40)
    assert f"causal model's loss is {causal[-1]:.2f} nats" in out
    assert f"the bidirectional one's {bidirectional[-1]:.2f}" in out
    assert bidirectional[-1] < 0.5 * causal[-1]  # the cheat the exercise measures


@pytest.mark.parametrize("mistake, hint", [
    (dict(seed_once=True), r"starts from other weights: call torch.manual_seed\(seed\)"),
    (dict(shared=True), "the second model sees other batches"),
    (dict(zero_grad=False), r"gradients pile up .*zero_grad\(\)"),
    (dict(targets_are_inputs=True), "the targets are the inputs themselves"),
    (dict(drop_last=True), "one value per optimizer step"),
])
def test_next_token_cheat_catches(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_next_token_cheat(lambda *args, **kwargs: next_token_cheat(*args, **kwargs, **mistake))


def test_next_token_cheat_catches_other_settings_a_swap_and_a_stub():
    def fixed(config, data, steps, batch_size=32, lr=1e-2, seed=0):  # ignores lr and seed
        return next_token_cheat(config, data, steps, batch_size)

    with pytest.raises(CheckFailed, match="seed=1.*the causal losses"):
        check_next_token_cheat(fixed)
    with pytest.raises(CheckFailed, match="the causal losses"):
        check_next_token_cheat(lambda *args, **kwargs: next_token_cheat(*args, **kwargs)[::-1])
    with pytest.raises(CheckFailed, match="a pair"):
        check_next_token_cheat(lambda *args, **kwargs: next_token_cheat(*args, **kwargs)[0])
    with pytest.raises(CheckFailed, match="not written yet"):
        check_next_token_cheat(stub)


def test_checks_leave_the_global_random_state_alone():
    before = torch.random.get_rng_state()
    check_padding_mask(padding_mask)
    check_bert_mask(bert_mask)
    check_masked_lm_loss(masked_lm_loss)
    check_next_token_cheat(next_token_cheat)
    assert torch.equal(torch.random.get_rng_state(), before)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _masked_nll(logits, targets):
    return nll_loss(logits.log_softmax(-1).flatten(0, 1), targets.flatten(), ignore_index=-100)


def _via_causal_mask(lengths, T, causal=False):
    keys = padding_mask(lengths, T)
    return keys & causal_mask(T, T) if causal else keys


def _via_explicit_attention(lengths, T, causal=False):
    q = torch.zeros(1, 1, T, 1)
    gpt2lite.attention.explicit_attention(q, q, q, causal=causal)
    return padding_mask(lengths, T, causal)


def _via_train(config, data, steps, batch_size=32, lr=1e-2, seed=0):
    cfg = TrainConfig(max_steps=steps, batch_size=batch_size, learning_rate=lr, device="cpu", progress=False)
    runs = [train(GPT(config.replace(causal=c)), data, data, cfg) for c in (True, False)]
    return tuple(run.train_loss for run in runs)


def _via_module_train(config, data, steps, batch_size=32, lr=1e-2, seed=0):
    cfg = TrainConfig(max_steps=steps, batch_size=batch_size, learning_rate=lr, device="cpu", progress=False)
    return gpt2lite.training.train(GPT(config), data, data, cfg).train_loss, []


def _via_reference(config, data, steps, batch_size=32, lr=1e-2, seed=0):
    return gpt_bert._next_token_run(config, data, steps, batch_size, lr, seed)


SHORTCUTS = [
    ("check_padding_mask", _via_causal_mask, r"gpt2lite\.attention\.causal_mask"),
    ("check_padding_mask", lambda lengths, T, causal=False: padding_mask(lengths, T) & gpt2lite.attention.causal_mask(
        T, T), r"gpt2lite\.attention\.causal_mask"),
    ("check_padding_mask", _via_explicit_attention, r"gpt2lite\.attention\.explicit_attention"),
    ("check_masked_lm_loss", lambda lg, t: F.cross_entropy(lg.flatten(0, 1), t.flatten(), ignore_index=-100),
     r"F\.cross_entropy"),
    ("check_masked_lm_loss", _masked_nll, r"F\.nll_loss"),
    ("check_masked_lm_loss", lambda lg, t: nn.CrossEntropyLoss()(lg.flatten(0, 1), t.flatten()),
     r"nn\.CrossEntropyLoss"),
    ("check_next_token_cheat", _via_train, r"gpt2lite\.training\.train"),
    ("check_next_token_cheat", _via_module_train, r"gpt2lite\.training\.train"),
    ("check_next_token_cheat", _via_reference, r"gpt2lite\.checks\.gpt_bert\._next_token_run"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    'check_bert_mask': "random masking of the reader's own design; nothing ready-made does it",
}
