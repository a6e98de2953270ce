"""The answer checks of chapter 6: right answers pass, the common mistakes fail with their own hint."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import gpt2lite.training
from gpt2lite import GPT
from gpt2lite.attention import KVCache
from gpt2lite.checks import CheckFailed, check_count_parameters, check_memory_bytes, check_tying_ablation
from gpt2lite.checks import model as ch6
from gpt2lite.checks._core import meta_model


def stub(*args):
    raise NotImplementedError("write this function")


# ---------------------------------------------------------------------- ex-06-memory
def element(dtype):
    return torch.tensor([], dtype=dtype).element_size()


def memory_bytes(config, n_params, dtype, context, batch, *, keys_only=False, one_layer=False, no_batch=False,
                 full_context=False, times_heads=False, bits=False):
    size = element(dtype) * (8 if bits else 1)
    positions = config.block_size if full_context else context
    numbers = ((1 if keys_only else 2) * (1 if one_layer else config.n_layer) * (1 if no_batch else batch)
               * positions * config.n_embd * (config.n_head if times_heads else 1))
    return n_params * element(dtype), numbers * size


def test_memory_bytes_passes(capsys):
    check_memory_bytes(memory_bytes)
    assert capsys.readouterr().out.startswith("✓ memory_bytes matches the parameters and gpt2lite's KVCache")


@pytest.mark.parametrize("mistake, message", [
    ({"keys_only": True}, "a key AND a value"),
    ({"one_layer": True}, "one layer's cache"),
    ({"no_batch": True}, "the batch is missing"),
    ({"full_context": True}, "sized for block_size=1024"),
    ({"times_heads": True}, "multiplies by n_head"),
    ({"bits": True}, "KV cache\n.*\n.*\n  hint:     that is in bits"),
])
def test_memory_bytes_catches_cache_mistakes(mistake, message):
    with pytest.raises(CheckFailed, match=message):
        check_memory_bytes(lambda *args: memory_bytes(*args, **mistake))


@pytest.mark.parametrize("wrong, message", [
    (lambda cfg, n, dtype, context, batch: (n * 4, memory_bytes(cfg, n, dtype, context, batch)[1]),
     "assumes 4 bytes per number: torch.float16 takes 2"),
    (lambda cfg, n, dtype, context, batch: (n, memory_bytes(cfg, n, dtype, context, batch)[1]),
     "that is the parameter count"),
    (lambda cfg, n, dtype, context, batch: (n * element(dtype) / 1, memory_bytes(cfg, n, dtype, context, batch)[1]),
     "it is a float"),
    (lambda cfg, n, dtype, context, batch: [*memory_bytes(cfg, n, dtype, context, batch)], "return a tuple"),
    (lambda cfg, n, dtype, context, batch: (memory_bytes(cfg, n, dtype, context, batch)[0],
                                            2 * cfg.n_layer * batch * context * cfg.n_embd),
     "the number of numbers"),
    (stub, "not written yet"),
])
def test_memory_bytes_catches(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_memory_bytes(wrong)


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


# ---------------------------------------------------------------------- ex-06-tying
def tying_run(config, batches, tied, lr, seed, *, late_optimizer=False, no_zero_grad=False, after_step=False,
              never_untie=False, shared_count=False, wrong_seed=False):
    """A right answer written independently of the check's reference, with switches for the classic mistakes."""
    torch.manual_seed(seed + 1 if wrong_seed else seed)
    model = GPT(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr) if late_optimizer else None
    if not tied and not never_untie:
        model.lm_head.weight = nn.Parameter(model.transformer.wte.weight.detach().clone())
    opt = opt or torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for x, y in batches:
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        if not no_zero_grad:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if after_step:
            with torch.no_grad():
                loss = F.cross_entropy(model(x).view(-1, logits.size(-1)), y.view(-1))
        losses.append(loss.item())
    n = sum(p.numel() for p in model.parameters())
    return (n - (0 if tied else model.lm_head.weight.numel()) if shared_count else n), losses


def test_tying_ablation_passes_and_prints_the_figures(capsys):
    check_tying_ablation(tying_run)
    out = capsys.readouterr().out
    assert out.startswith("✓ tying_ablation reproduces both runs of 40 steps")
    assert "tied 34,176 parameters" in out and "untied 42,368 parameters" in out, out


def test_tying_ablation_leaves_the_global_random_state_alone():
    before = torch.random.get_rng_state()
    check_tying_ablation(tying_run)
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize("mistake, message", [
    ({"late_optimizer": True}, "the optimizer was made before lm_head got its own parameter"),
    ({"no_zero_grad": True}, "call optimizer.zero_grad\\(\\)"),
    ({"after_step": True}, "recorded after the update"),
    ({"never_untie": True}, "as many parameters as the tied one"),
    ({"shared_count": True}, "as many parameters as the tied one"),
    ({"wrong_seed": True}, "step 0\n(.*\n){2}.*the first loss differs: seed"),
])
def test_tying_ablation_catches(mistake, message):
    with pytest.raises(CheckFailed, match=message):
        check_tying_ablation(lambda *args: tying_run(*args, **mistake))


def test_tying_ablation_catches_a_made_up_curve():
    def made_up(config, batches, tied, lr, seed):  # the right count, a plausible curve that no run produced
        n = GPT(config).num_parameters() + (0 if tied else config.vocab_size * config.n_embd)
        return n, [5.5 - 0.02 * i for i in range(len(batches))]

    with pytest.raises(CheckFailed, match="the loss of step 0\n.*check's own run"):
        check_tying_ablation(made_up)


@pytest.mark.parametrize("wrong, message", [
    (lambda *args: tying_run(*args)[1], "a pair \\(n_params, losses\\)"),
    (lambda *args: (tying_run(*args)[0], tying_run(*args)[1][:-1]), "40 losses, one per batch"),
    (lambda *args: (tying_run(*args)[0], torch.tensor(tying_run(*args)[1])), "a list of 40 Python floats"),
    (stub, "not written yet"),
])
def test_tying_ablation_catches_the_wrong_answer_shape(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_tying_ablation(wrong)


# ------------------------------------------------------------ shortcuts (collected by test_checks_shortcuts.py)
# Calls that hand back the answer ready-made: (check, answer, the call the failure must name).

def _by_the_package_loop(config, batches, tied, lr, seed):
    gpt2lite.training.train(GPT(config), batches[0][0].flatten(), batches[0][1].flatten(), gpt2lite.training.TrainConfig())


SHORTCUTS = [
    ("check_memory_bytes", lambda cfg, n, dtype, context, batch: (
        n * dtype.itemsize, sum(t.nbytes for t in vars(KVCache(cfg.replace(block_size=context), batch,
                                                                device="meta", dtype=dtype)).values()
                                if isinstance(t, torch.Tensor))), r"gpt2lite\.attention\.KVCache"),
    ("check_memory_bytes", lambda cfg, n, dtype, context, batch: (
        n * dtype.itemsize, 2 * GPT(cfg).new_cache(batch).k.nbytes), r"GPT"),
    ("check_count_parameters", lambda cfg: meta_model(cfg).num_parameters(), r"meta_model"),
    ("check_count_parameters", lambda cfg: GPT(cfg).num_parameters(), r"GPT"),
    ("check_tying_ablation", lambda *args: ch6._tying_run(*args), r"gpt2lite\.checks\.model\._tying_run"),
    ("check_tying_ablation", _by_the_package_loop, r"gpt2lite\.training\.train"),
]

# Checks with no ready-made answer to refuse, and why.
NO_SHORTCUT = {}
