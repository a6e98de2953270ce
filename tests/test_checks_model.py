"""The answer checks of chapter 6: right answers pass, the common mistakes fail with their own hint."""

import math

import pytest
import torch

from gpt2lite.checks import (
    CheckFailed,
    check_count_parameters,
    check_lm_loss,
    check_uniform_loss,
    check_weight_bytes,
)
import torch.nn.functional as F
import gpt2lite.train
from gpt2lite import GPT
from gpt2lite.checks._core import meta_model
from gpt2lite.train import next_token_loss


def stub(*args):
    raise NotImplementedError("write this function")


# ---------------------------------------------------------------------- ex-06-memory
def parameters(config, *, tied_twice=False, final_ln=True):
    V, T, C, L = config.vocab_size, config.block_size, config.n_embd, config.n_layer
    return V * C * (2 if tied_twice else 1) + T * C + L * (12 * C**2 + 13 * C) + (2 * C if final_ln else 0)


def weight_bytes(config, dtype):
    return parameters(config) * torch.tensor([], dtype=dtype).element_size()


def test_weight_bytes_passes(capsys):
    check_weight_bytes(weight_bytes)
    assert capsys.readouterr().out.startswith("✓ weight_bytes matches")


@pytest.mark.parametrize("wrong, message", [
    (lambda cfg, dtype: parameters(cfg, tied_twice=True) * torch.tensor([], dtype=dtype).element_size(),
     "weight tying"),
    (lambda cfg, dtype: parameters(cfg) * torch.finfo(dtype).bits, "that is in bits"),
    (lambda cfg, dtype: parameters(cfg) * 4, "assumes 4 bytes per number: torch.float16 takes 2"),
    (lambda cfg, dtype: parameters(cfg), "that is the parameter count"),
    (lambda cfg, dtype: parameters(cfg, final_ln=False) * torch.tensor([], dtype=dtype).element_size(),
     "the final LayerNorm"),
    (lambda cfg, dtype: weight_bytes(cfg, dtype) / 1, "it is a float"),
    (lambda cfg, dtype: weight_bytes(cfg, dtype) - 1, "times the element size"),
    (stub, "not written yet"),
])
def test_weight_bytes_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_weight_bytes(wrong)


# ---------------------------------------------------------------------- ex-06-uniform
def test_uniform_loss_passes(capsys):
    check_uniform_loss(lambda vocab_size: math.log(vocab_size))
    assert capsys.readouterr().out == "✓ uniform_loss matches cross_entropy of equal logits\n"


@pytest.mark.parametrize("wrong, message", [
    (lambda v: math.log2(v), "in bits"),
    (lambda v: math.log10(v), "log base 10"),
    (lambda v: 1 / v, "the probability 1/V itself"),
    (lambda v: math.log(1 / v), "the sign is wrong"),
    (lambda v: torch.log(torch.tensor(float(v))), "a Python float"),
    (lambda v: math.log(v + 1), "every target gets probability 1/V"),
    (stub, "not written yet"),
])
def test_uniform_loss_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_uniform_loss(wrong)


# ---------------------------------------------------------------------- ex-06-logits-loss
def lm_loss(logits, targets):
    logp = logits.log_softmax(dim=-1)  # (B, T, V)
    return -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).mean()


def picked(logp, targets):
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)


def test_lm_loss_passes(capsys):
    check_lm_loss(lm_loss)
    assert capsys.readouterr().out == "✓ lm_loss matches gpt2lite.train.next_token_loss\n"


@pytest.mark.parametrize("wrong, message", [
    (lambda lg, t: -picked(lg.log_softmax(-1), t).sum(), "the sum over positions"),
    (lambda lg, t: picked(lg.log_softmax(-1), t).mean(), "the minus sign is missing"),
    (lambda lg, t: -picked(lg.log_softmax(1), t).mean(), "over the positions \\(dim=1\\)"),
    (lambda lg, t: -picked(lg, t).mean(), "picks the raw logits"),
    (lambda lg, t: -picked(lg.softmax(-1), t).mean(), "the probability, not its log"),
    (lambda lg, t: -picked(lg.log_softmax(-1), t).sum(-1).mean(), "average over all B \\* T"),
    (lambda lg, t: -picked(lg.log_softmax(-1), t).mean(-1, keepdim=True).mean(0), "a 0-d tensor"),
    (lambda lg, t: -picked(lg.log_softmax(-1), t).mean() + 0.1, "gather each target's log-probability"),
    (stub, "not written yet"),
])
def test_lm_loss_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_lm_loss(wrong)


# ---------------------------------------------------------------------- ex-06-count
def count_parameters(config, *, ignore_bias=False, no_ln_gains=False, ln_bias_kept=False, post_ln_final=False,
                     tied_twice=False, no_final_ln=False):
    V, T, C, L = config.vocab_size, config.block_size, config.n_embd, config.n_layer
    bias = config.bias or ignore_bias
    if bias:
        small = 13 * C
    elif ln_bias_kept:
        small = 4 * C
    else:
        small = 0 if no_ln_gains else 2 * C
    final_ln = (2 * C if bias or ln_bias_kept else 0 if no_ln_gains else C)
    if not (config.pre_ln or post_ln_final) or no_final_ln:
        final_ln = 0
    return V * C * (2 if tied_twice else 1) + T * C + L * (12 * C**2 + small) + final_ln


def test_count_parameters_passes(capsys):
    check_count_parameters(count_parameters)
    assert capsys.readouterr().out == "✓ count_parameters matches num_parameters() on 9 configs\n"


@pytest.mark.parametrize("mistake, message", [
    ({"tied_twice": True}, "counted twice"),
    ({"no_final_ln": True}, "the final LayerNorm \\(ln_f\\) is missing"),
    ({"post_ln_final": True}, "pre_ln=False \\(GPT-1\\) has no final LayerNorm"),
    ({"ignore_bias": True}, "bias=False removes the Linear and LayerNorm biases"),
    ({"no_ln_gains": True}, "bias=False keeps the LayerNorm gains"),
    ({"ln_bias_kept": True}, "removes the LayerNorm biases too"),
])
def test_count_parameters_catches(mistake, message):
    with pytest.raises(CheckFailed, match=message):
        check_count_parameters(lambda config: count_parameters(config, **mistake))


@pytest.mark.parametrize("wrong, message", [
    (lambda config: float(count_parameters(config)), "it is a float"),
    (lambda config: count_parameters(config) + config.n_layer, "bias=False keeps only the LN gains"),
    (stub, "not written yet"),
])
def test_count_parameters_catches_other(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_count_parameters(wrong)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

SHORTCUTS = [
    ("check_weight_bytes", lambda cfg, dtype: meta_model(cfg).num_parameters() * dtype.itemsize, r"meta_model"),
    ("check_weight_bytes", lambda cfg, dtype: GPT(cfg).num_parameters() * dtype.itemsize, r"GPT"),
    ("check_lm_loss", lambda lg, t: F.cross_entropy(lg.flatten(0, 1), t.flatten()), r"F\.cross_entropy"),
    ("check_lm_loss", lambda lg, t: torch._C._nn.cross_entropy_loss(lg.flatten(0, 1), t.flatten()),
     r"torch\._C\._nn\.cross_entropy_loss"),
    ("check_lm_loss", lambda lg, t: next_token_loss(lambda x: lg, None, t), r"gpt2lite\.train\.next_token_loss"),
    ("check_lm_loss", lambda lg, t: gpt2lite.train.next_token_loss(lambda x: lg, None, t),
     r"gpt2lite\.train\.next_token_loss"),
    ("check_count_parameters", lambda cfg: meta_model(cfg).num_parameters(), r"meta_model"),
    ("check_count_parameters", lambda cfg: GPT(cfg).num_parameters(), r"GPT"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {
    'check_uniform_loss': 'log(V) is arithmetic on the config; nothing ready-made computes it',
}
