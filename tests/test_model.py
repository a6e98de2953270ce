"""The model: parameter counts, the two attention paths, the config switches, and clear errors."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt2lite import GPT, GPTConfig
from gpt2lite.attention import causal_mask, explicit_attention

TINY = GPTConfig(vocab_size=97, block_size=32, n_layer=2, n_head=4, n_embd=32)


def tiny(seed: int = 0, **changes) -> GPT:
    torch.manual_seed(seed)
    return GPT(TINY.replace(**changes)).eval()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("gpt2", 124_439_808),
        ("gpt2-medium", 354_823_168),
        ("gpt2-large", 774_030_080),
        ("gpt2-xl", 1_557_611_200),
        ("gpt1", 116_534_784),  # same as transformers' OpenAIGPTLMHeadModel
    ],
)
def test_preset_parameter_counts(name, expected):
    with torch.device("meta"):  # counts shapes without allocating 6 GB for gpt2-xl
        model = GPT(GPTConfig.from_name(name))
    assert model.num_parameters() == expected


def test_parameter_count_by_hand():
    c = TINY
    block = 2 * 2 * c.n_embd + (c.n_embd * 3 * c.n_embd + 3 * c.n_embd) + (c.n_embd**2 + c.n_embd)
    block += (c.n_embd * 4 * c.n_embd + 4 * c.n_embd) + (4 * c.n_embd * c.n_embd + c.n_embd)
    expected = c.vocab_size * c.n_embd + c.block_size * c.n_embd + c.n_layer * block + 2 * c.n_embd
    assert tiny().num_parameters() == expected


def test_output_layer_is_tied_to_token_embedding():
    model = tiny()
    assert model.lm_head.weight is model.transformer.wte.weight


def test_gpt2_initialisation_scales():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=5000, block_size=64, n_layer=8, n_head=4, n_embd=256))
    assert model.transformer.wte.weight.std().item() == pytest.approx(0.02, rel=0.05)
    proj = model.transformer.h[0].mlp.c_proj.weight.std().item()
    assert proj == pytest.approx(0.02 / math.sqrt(2 * 8), rel=0.05)
    assert torch.all(model.transformer.h[0].attn.c_attn.bias == 0)


def test_forward_shape_and_untrained_loss_near_uniform():
    model = tiny()
    idx = torch.randint(0, TINY.vocab_size, (3, 20))
    logits = model(idx)
    assert logits.shape == (3, 20, TINY.vocab_size)
    # Random targets: with tied embeddings an untrained model slightly favours repeating its input token.
    targets = torch.randint(0, TINY.vocab_size, (3, 20))
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    assert abs(loss.item() - math.log(TINY.vocab_size)) < 0.1


def test_sdpa_and_explicit_paths_agree():
    fast = tiny(attn_impl="sdpa")
    slow = tiny(attn_impl="explicit")
    slow.load_state_dict(fast.state_dict())
    idx = torch.randint(0, TINY.vocab_size, (2, TINY.block_size))
    torch.testing.assert_close(fast(idx), slow(idx), atol=1e-5, rtol=0)


def test_explicit_attention_equals_sdpa_function():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 7, 8).unbind(0)
    for causal in (True, False):
        ours, weights = explicit_attention(q, k, v, causal=causal)
        torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, is_causal=causal))
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 7))


def test_causal_mask_with_offset_queries():
    assert causal_mask(3, 3).tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    # two new queries after three cached keys sit at positions 3 and 4
    assert causal_mask(2, 5).tolist() == [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]


def test_causal_model_never_looks_ahead():
    model = tiny()
    idx = torch.randint(0, TINY.vocab_size, (1, 16))
    changed = idx.clone()
    changed[0, 10:] = (changed[0, 10:] + 1) % TINY.vocab_size
    torch.testing.assert_close(model(idx)[:, :10], model(changed)[:, :10])
    assert not torch.allclose(model(idx)[:, 10:], model(changed)[:, 10:])


def test_bidirectional_model_looks_ahead():
    model = tiny(causal=False)
    idx = torch.randint(0, TINY.vocab_size, (1, 16))
    changed = idx.clone()
    changed[0, -1] = (changed[0, -1] + 1) % TINY.vocab_size
    assert not torch.allclose(model(idx)[:, 0], model(changed)[:, 0])
    maps = model.attention_maps(idx)
    assert (maps[..., 0, 1:] > 0).all()  # the first token attends to later ones


def test_attention_maps_are_causal_rows_of_probabilities():
    model = tiny()
    maps = model.attention_maps(torch.randint(0, TINY.vocab_size, (2, 9)))
    assert maps.shape == (TINY.n_layer, 2, TINY.n_head, 9, 9)
    torch.testing.assert_close(maps.sum(-1), torch.ones(TINY.n_layer, 2, TINY.n_head, 9))
    assert torch.all(maps.triu(diagonal=1) == 0)


def test_post_ln_block_normalises_the_output():
    model = tiny(pre_ln=False)
    assert isinstance(model.transformer.ln_f, torch.nn.Identity)
    x = torch.randn(2, 5, TINY.n_embd)
    out, _ = model.transformer.h[0](x)
    # post-LN: the block's output is a LayerNorm output (weight 1, bias 0 at init): mean 0, variance 1
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(-1, unbiased=False), torch.ones(2, 5), atol=1e-3, rtol=0)


def test_no_bias_switch_drops_biases():
    model = tiny(bias=False)
    assert not [n for n, _ in model.named_parameters() if n.endswith("bias")]


def test_dropout_is_active_only_in_training():
    model = tiny(dropout=0.5)
    idx = torch.randint(0, TINY.vocab_size, (1, 8))
    torch.testing.assert_close(model(idx), model(idx))
    model.train()
    assert not torch.allclose(model(idx), model(idx))


def test_fp64_forward():
    model = tiny().double()
    assert model(torch.randint(0, TINY.vocab_size, (1, 4))).dtype == torch.float64


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "fields, error, message",
    [
        (dict(n_embd=30, n_head=4), ValueError, "divisible by n_head"),
        (dict(n_layer=0), ValueError, "n_layer must be a positive integer"),
        (dict(vocab_size=2.5), TypeError, "vocab_size must be an integer, got float 2.5"),
        (dict(dropout=1.0), ValueError, "dropout"),
        (dict(attn_impl="flash"), ValueError, "attn_impl"),
        (dict(layer_norm_eps=0.0), ValueError, "layer_norm_eps"),
    ],
)
def test_bad_config(fields, error, message):
    with pytest.raises(error, match=message):
        TINY.replace(**fields)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'gpt3'.*gpt2-medium"):
        GPTConfig.from_name("gpt3")


def test_configs_are_frozen_and_presets_cannot_change():
    import dataclasses

    from gpt2lite.config import PRESETS

    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["gpt2"].n_layer = 1
    config = GPTConfig(n_layer=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.n_head = 5  # would have skipped the n_embd % n_head check
    assert config.replace(n_layer=3).n_layer == 3 and config.n_layer == 2
    with pytest.raises(ValueError, match="divisible by n_head"):
        config.replace(n_head=5)  # a changed copy is validated like a new one
    assert {GPTConfig(): 1}[GPTConfig()] == 1  # equal configs are one key


def test_preset_overrides():
    assert GPTConfig.from_name("openai-community/gpt2", dropout=0.1).dropout == 0.1


@pytest.mark.parametrize(
    "idx, error, message",
    [
        (torch.tensor([[1, 2, 97]]), ValueError, r"token id 97 is outside the vocabulary \[0, 97\)"),
        (torch.tensor([[-1, 2]]), ValueError, "token id -1 is outside"),
        (torch.zeros(1, 33, dtype=torch.long), ValueError, "exceeds the context of 32 tokens"),
        (torch.tensor([1, 2, 3]), ValueError, r"unsqueeze\(0\)"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, "empty"),
        (torch.tensor([[0.5, 1.0]]), TypeError, "integer token ids"),
        ([[1, 2]], TypeError, "LongTensor"),
    ],
)
def test_bad_input_ids(idx, error, message):
    with pytest.raises(error, match=message):
        tiny()(idx)


def test_model_needs_a_config():
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT({"n_layer": 2})


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 16), (1, 1, 16), (2, 16), (3, 1, 16), (8, 16), (9, 16), (2, 5, 16), (0, 16)])
def test_linear_matches_nn_linear_for_any_number_of_rows(shape, bias):
    """gpt2lite.linear.Linear's path for few rows gives nn.Linear's numbers, shape and gradients."""
    from gpt2lite.linear import Linear

    torch.manual_seed(0)
    ours = Linear(16, 24, bias=bias)
    reference = nn.Linear(16, 24, bias=bias)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(shape, requires_grad=True)
    y = ours(x)
    assert y.shape == (*shape[:-1], 24) and y.is_contiguous()
    torch.testing.assert_close(y, reference(x), rtol=1e-5, atol=1e-6)
    if x.numel():
        y.square().sum().backward()
        grad, x.grad = x.grad, None
        reference(x).square().sum().backward()
        torch.testing.assert_close(grad, x.grad, rtol=1e-5, atol=1e-6)


def _syncs(fn) -> int:
    """How many times `fn` reads a tensor's value back to Python (`aten::_local_scalar_dense`: on a GPU, each one
    waits for the device)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return sum(e.count for e in prof.key_averages() if e.key == "aten::_local_scalar_dense")


def test_the_forward_reads_nothing_back_and_generation_once_per_prompt():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=32, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = torch.randint(0, 50, (2, 8))
    with torch.no_grad():
        assert _syncs(lambda: model(idx)) == 0
        cache = model.new_cache(2)
        assert _syncs(lambda: model(idx, cache=cache)) == 0
    assert _syncs(lambda: model.generate(idx, 16, temperature=0)) <= 1 + 16  # the prompt's check, then <= 1 a token
    assert _syncs(lambda: model.generate(idx, 16, temperature=0)) >= 1  # (the profile does see the prompt check)
    assert _syncs(lambda: model.check_token_ids(idx)) == 1


def test_the_top_level_holds_the_functions_not_their_modules():
    import inspect

    import gpt2lite
    import gpt2lite.generate
    import gpt2lite.training

    assert inspect.isfunction(gpt2lite.train) and gpt2lite.train is gpt2lite.training.train
    assert gpt2lite.TrainConfig is gpt2lite.training.TrainConfig
    assert gpt2lite.SamplingConfig is gpt2lite.generate.SamplingConfig
    assert set(gpt2lite.__all__) <= set(vars(gpt2lite))


def test_a_cache_is_made_for_a_whole_number_of_sequences():
    import numpy as np

    model = GPT(TINY)
    assert model.new_cache(np.int64(2)).k.shape[1] == 2
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        model.new_cache(2.0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        model.new_cache(0)
