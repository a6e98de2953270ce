"""gpt2lite.quantize: fp32, bf16 and int8 copies for generation, their API, their kernel and their accuracy (not
their speed: see benchmarks/suite.py)."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from gpt2lite import GPT, GPTConfig, SamplingConfig, TrainConfig, train
from gpt2lite.data import load_shakespeare
from gpt2lite.linear import Linear
from gpt2lite.quantize import KINDS, StreamedLinear, greedy_agreement, logit_error, quantize

TINY = GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=64)


@pytest.fixture(scope="module")
def trained() -> tuple[GPT, torch.Tensor]:
    """A small character model trained for 150 steps on Tiny Shakespeare (about 5 s), and validation text."""
    train_ids, val_ids, _ = load_shakespeare("char")
    torch.manual_seed(0)
    model = GPT(TINY)
    cfg = TrainConfig(max_steps=150, batch_size=16, warmup_steps=10, eval_interval=150, eval_iters=2, progress=False,
                      seed=0)
    history = train(model, train_ids, val_ids, cfg)
    assert history.val_loss[-1] < 2.8, history.val_loss  # it has learned something: the uniform loss is 4.17
    return model.eval(), val_ids


@pytest.mark.parametrize("kind", KINDS)
def test_a_quantized_copy_generates_as_usual_and_leaves_the_model_alone(kind):
    torch.manual_seed(0)
    model = GPT(TINY).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    low = quantize(model, kind)
    assert not low.training and model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.lm_head.weight is model.transformer.wte.weight and isinstance(model.lm_head, Linear)
    assert not any(isinstance(m, Linear) for m in low.modules())
    prompt = torch.randint(0, TINY.vocab_size, (2, 5), generator=torch.Generator().manual_seed(1))
    out = low.generate(prompt, 20, temperature=0)
    assert out.shape == (2, 25) and torch.equal(out[:, :5], prompt)
    assert torch.equal(out, low.generate(prompt, 20, temperature=0, use_cache=False))  # the cache works in it
    sampled = low.generate(prompt, 70, SamplingConfig(temperature=0.8, top_k=10),  # past the context of 64
                           generator=torch.Generator().manual_seed(0))
    assert sampled.shape == (2, 75) and int(sampled.max()) < TINY.vocab_size
    assert [t.shape for t in low.stream(prompt, 3, temperature=0)] == [(2,)] * 3


def _linears(model: GPT) -> list[StreamedLinear]:
    found = [m for m in model.modules() if isinstance(m, StreamedLinear)]
    assert len(found) == 4 * TINY.n_layer + 1  # c_attn, attn.c_proj, c_fc, mlp.c_proj per block, and lm_head
    return found


def test_int8_holds_every_linear_weight_in_int8_with_a_scale_per_channel():
    model = GPT(TINY)
    low = quantize(model, "int8")
    originals = [m.weight for m in model.modules() if isinstance(m, Linear)]
    for layer, w in zip(_linears(low), originals):
        assert layer.weight.dtype == torch.int8 and layer.kind == "int8"
        assert int(layer.weight.abs().max()) == 127  # each row's largest weight uses the whole range
        assert layer.scale.shape == (w.size(0),)
        restored = layer.weight.float() * layer.scale[:, None]
        assert ((restored - w).abs() <= layer.scale[:, None] / 2 + 1e-7).all()  # rounded to the nearest step
    assert low.transformer.wte.weight.dtype == torch.float32  # the lookup stays float32
    assert low.lm_head.weight.data_ptr() != low.transformer.wte.weight.data_ptr()


def test_bf16_rounds_the_linear_weights_only():
    model = GPT(TINY)
    low = quantize(model, "bf16")
    for layer, w in zip(_linears(low), [m.weight for m in model.modules() if isinstance(m, Linear)]):
        assert layer.weight.dtype == torch.bfloat16 and torch.equal(layer.weight, w.bfloat16())
    assert {p.dtype for p in low.parameters()} == {torch.float32}  # embeddings and LayerNorms
    assert low.new_cache(1).k.dtype == torch.float32


def test_fp32_keeps_the_weights_and_the_tie():
    model = GPT(TINY)
    low = quantize(model, "fp32")
    for layer, w in zip(_linears(low), [m.weight for m in model.modules() if isinstance(m, Linear)]):
        assert torch.equal(layer.weight, w) and torch.equal(layer.scale, torch.ones_like(layer.scale))
    assert low.lm_head.weight.data_ptr() == low.transformer.wte.weight.data_ptr()  # one tensor, as in the model


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(KINDS), rows=st.integers(1, 12), n_in=st.integers(2, 70), n_out=st.integers(2, 70),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_the_streamed_product_is_the_product_with_the_stored_weights(kind, rows, n_in, n_out, bias, seed):
    """Up to 8 rows (FEW_ROWS) take the compiled kernel, more take F.linear: both compute x @ (scale * q).T + b."""
    g = torch.Generator().manual_seed(seed)
    layer = nn.Linear(n_in, n_out, bias=bias)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(n_out, n_in, generator=g))
        if bias:
            layer.bias.copy_(torch.randn(n_out, generator=g))
    streamed = StreamedLinear.from_linear(layer, kind)
    x = torch.randn(rows, 1, n_in, generator=g)
    weight = streamed.weight.float() * streamed.scale[:, None]  # what the layer stores, in float32
    want = x @ weight.T + (layer.bias.detach() if bias else 0)
    got = streamed(x)
    assert got.shape == (rows, 1, n_out) and got.dtype == torch.float32
    torch.testing.assert_close(got, want, atol=1e-4 * n_in ** 0.5, rtol=1e-4)


def test_the_streamed_product_keeps_the_callers_dtype_and_names_a_wrong_width():
    layer = StreamedLinear.from_linear(nn.Linear(4, 3), "int8")
    assert layer(torch.randn(2, 4, dtype=torch.bfloat16)).dtype == torch.bfloat16
    assert layer(torch.randn(4)).shape == (3,)
    with pytest.raises(ValueError, match=r"expected inputs with 4 features in the last dimension, got shape \(2, 5\)"):
        layer(torch.randn(2, 5))
    assert "kind=int8" in repr(layer)


@pytest.mark.parametrize("kind, low, high", [("fp32", 0, 1e-6), ("bf16", 1e-4, 0.01), ("int8", 1e-4, 0.03)])
def test_accuracy_on_a_trained_model(trained, kind, low, high):
    model, val_ids = trained
    copy = quantize(model, kind)
    error = logit_error(model, copy, val_ids[: 4 * 64].view(4, 64))
    shared = greedy_agreement(model, copy, val_ids[:16][None], 256)  # generation: the streamed kernel
    print(f"{kind}: max logit error {error:.2%} of the logits' range, {shared} of 256 greedy tokens shared")
    assert low <= error <= high  # the rounding shows (except in fp32), and stays small
    assert shared >= (256 if kind == "fp32" else 192)


def test_the_accuracy_measures_can_tell_models_apart(trained):
    model, val_ids = trained
    idx = val_ids[:64][None]
    assert logit_error(model, model, idx) == 0
    assert greedy_agreement(model, model, idx[:, :8], np.int64(50)) == 50
    other = GPT(TINY).eval()  # untrained
    assert logit_error(model, other, idx) > 0.1
    assert greedy_agreement(model, other, idx[:, :8], 50) < 50


def test_bad_requests_are_named():
    model = GPT(TINY)
    with pytest.raises(ValueError, match=r"kind must be one of \('fp32', 'bf16', 'int8'\), got 'int4'"):
        quantize(model, "int4")
    with pytest.raises(TypeError, match="kind must be one of"):
        quantize(model, torch.int8)
    with pytest.raises(TypeError, match="quantize expects a gpt2lite GPT, got Linear"):
        quantize(Linear(2, 2), "int8")
    with torch.device("meta"):
        elsewhere = GPT(TINY)
    with pytest.raises(ValueError, match="int8 runs on the CPU, but the model is on meta; use kind='bf16'"):
        quantize(elsewhere, "int8")
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        greedy_agreement(model, model, torch.zeros(1, 2, dtype=torch.long), 0)


def test_on_another_device_bf16_is_the_whole_model_and_fp32_the_model():
    with torch.device("meta"):
        model = GPT(TINY)
    assert {p.dtype for p in quantize(model, "bf16").parameters()} == {torch.bfloat16}
    same = quantize(model, "fp32")
    assert isinstance(same.lm_head, Linear) and {p.dtype for p in same.parameters()} == {torch.float32}
