"""gpt2lite.quantize: bf16 and int8 copies for generation, their API and their accuracy (not their speed: see
benchmarks/suite.py)."""

import numpy as np
import pytest
import torch

from gpt2lite import GPT, GPTConfig, SamplingConfig, TrainConfig, train
from gpt2lite.data import load_shakespeare
from gpt2lite.linear import Linear
from gpt2lite.quantize import greedy_agreement, logit_error, quantize

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


@pytest.mark.parametrize("kind", ["bf16", "int8"])
def test_a_quantized_copy_generates_as_usual_and_leaves_the_model_alone(kind):
    torch.manual_seed(0)
    model = GPT(TINY).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    low = quantize(model, kind)
    assert not low.training and model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.lm_head.weight is model.transformer.wte.weight and isinstance(model.lm_head, Linear)
    assert not any(isinstance(m, Linear) for m in low.modules()) if kind == "int8" else True
    prompt = torch.randint(0, TINY.vocab_size, (2, 5), generator=torch.Generator().manual_seed(1))
    out = low.generate(prompt, 20, temperature=0)
    assert out.shape == (2, 25) and torch.equal(out[:, :5], prompt)
    assert torch.equal(out, low.generate(prompt, 20, temperature=0, use_cache=False))  # the cache works in it
    sampled = low.generate(prompt, 70, SamplingConfig(temperature=0.8, top_k=10),  # past the context of 64
                           generator=torch.Generator().manual_seed(0))
    assert sampled.shape == (2, 75) and int(sampled.max()) < TINY.vocab_size
    assert [t.shape for t in low.stream(prompt, 3, temperature=0)] == [(2,)] * 3


def test_int8_holds_every_linear_weight_in_int8_with_a_scale_per_channel():
    model = GPT(TINY)
    low = quantize(model, "int8")
    from torch.ao.nn.quantized.dynamic import Linear as Int8Linear

    packed = [m.weight() for m in low.modules() if isinstance(m, Int8Linear)]
    assert len(packed) == 4 * TINY.n_layer + 1  # c_attn, attn.c_proj, c_fc, mlp.c_proj per block, and lm_head
    assert all(w.dtype == torch.qint8 and w.qscheme() == torch.per_channel_affine for w in packed)
    assert low.transformer.wte.weight.dtype == torch.float32  # the lookup stays float32


def test_bf16_holds_every_parameter_in_bfloat16():
    low = quantize(GPT(TINY), "bf16")
    assert {p.dtype for p in low.parameters()} == {torch.bfloat16}
    assert low.new_cache(1).k.dtype == torch.bfloat16


@pytest.mark.parametrize("kind, bound", [("bf16", 0.01), ("int8", 0.03)])
def test_accuracy_on_a_trained_model(trained, kind, bound):
    model, val_ids = trained
    low = quantize(model, kind)
    error = logit_error(model, low, val_ids[: 4 * 64].view(4, 64))
    shared = greedy_agreement(model, low, val_ids[:16][None], 256)
    print(f"{kind}: max logit error {error:.2%} of the logits' range, {shared} of 256 greedy tokens shared")
    assert 0 < error < bound
    assert shared >= 192


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
    with pytest.raises(ValueError, match=r"kind must be one of \('bf16', 'int8'\), got 'int4'"):
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
