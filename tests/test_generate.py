"""Generation: sampling rules, the KV cache, cropping and the sliding window, streaming, stop tokens."""

import copy

import pytest
import torch

from gpt2lite import GPT, GPTConfig
from gpt2lite.generate import filter_logits, sample_next

TINY = GPTConfig(vocab_size=61, block_size=16, n_layer=2, n_head=2, n_embd=32)


@pytest.fixture
def model() -> GPT:
    torch.manual_seed(0)
    model = GPT(TINY)
    # Larger weights than GPT-2's init make sharper, more varied predictions, so a wrong cache shows up.
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(8)
    return model.eval()


def prompt(b: int = 2, t: int = 5, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, TINY.vocab_size, (b, t), generator=torch.Generator().manual_seed(seed))


def test_cache_logits_equal_uncached_logits(model):
    idx = prompt(t=4)
    cache = model.new_cache(2)
    model(idx[:, :3], cache=cache)
    step = model(idx[:, 3:], cache=cache)[:, -1]
    torch.testing.assert_close(step, model(idx)[:, -1], atol=1e-5, rtol=0)
    several = model(torch.randint(0, 61, (2, 3)), cache=cache)  # several new tokens after a cached prefix
    assert several.shape == (2, 3, TINY.vocab_size) and cache.pos == 7


def test_greedy_cached_equals_uncached_past_the_context(model):
    idx = prompt(t=5)
    fast = model.generate(idx, 40, temperature=0, use_cache=True)  # 45 tokens > block_size 16
    slow = model.generate(idx, 40, temperature=0, use_cache=False)
    assert fast.shape == (2, 45)
    assert torch.equal(fast, slow)
    assert torch.equal(fast[:, :5], idx)


def test_each_step_uses_the_last_block_size_tokens(model):
    out = model.generate(prompt(b=1, t=3), 30, temperature=0)
    for end in range(TINY.block_size + 1, out.size(1)):
        window = out[:, end - TINY.block_size : end]
        assert model(window)[0, -1].argmax().item() == out[0, end].item()


def test_long_prompt_is_cropped(model):
    long = prompt(b=1, t=40)
    out = model.generate(long, 3, temperature=0)
    assert out.shape == (1, 43)
    assert torch.equal(out[:, 40:], model.generate(long[:, -16:], 3, temperature=0)[:, 16:])


def test_seeded_sampling_is_reproducible(model):
    idx = prompt()
    a = model.generate(idx, 20, temperature=1.0, top_k=10, generator=torch.Generator().manual_seed(42))
    b = model.generate(idx, 20, temperature=1.0, top_k=10, generator=torch.Generator().manual_seed(42))
    c = model.generate(idx, 20, temperature=1.0, top_k=10, generator=torch.Generator().manual_seed(43))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_sampled_cached_equals_uncached_with_same_seed(model):
    idx = prompt()
    kw = dict(temperature=0.8, top_p=0.9)
    a = model.generate(idx, 25, use_cache=True, generator=torch.Generator().manual_seed(0), **kw)
    b = model.generate(idx, 25, use_cache=False, generator=torch.Generator().manual_seed(0), **kw)
    assert torch.equal(a, b)


def test_stream_yields_the_same_tokens_as_generate(model):
    idx = prompt()
    tokens = list(model.stream(idx, 12, temperature=0))
    assert len(tokens) == 12 and tokens[0].shape == (2,)
    assert torch.equal(torch.cat([idx, torch.stack(tokens, 1)], 1), model.generate(idx, 12, temperature=0))


def test_stop_token_ends_generation(model):
    idx = prompt(b=1)
    free = model.generate(idx, 20, temperature=0)
    stop = free[0, 5 + 3].item()  # the 4th generated token
    out = model.generate(idx, 20, temperature=0, stop_token=stop)
    first = (free[0, 5:] == stop).nonzero()[0].item()
    assert out.size(1) == 5 + first + 1 and out[0, -1].item() == stop


def test_stopped_rows_repeat_the_stop_token(model):
    idx = prompt(b=2)
    free = model.generate(idx, 10, temperature=0)
    stop = free[0, 6].item()
    out = model.generate(idx, 10, temperature=0, stop_token=stop)
    row = out[0, 5:]
    hit = (row == stop).nonzero()[0].item()
    assert torch.all(row[hit:] == stop)


def test_generate_restores_training_mode(model):
    model.train()
    model.generate(prompt(), 2)
    assert model.training


def test_generation_stays_in_vocabulary(model):
    out = model.generate(prompt(), 50, temperature=2.0, generator=torch.Generator().manual_seed(0))
    assert out.min() >= 0 and out.max() < TINY.vocab_size


def test_zero_new_tokens_returns_prompt(model):
    idx = prompt()
    assert torch.equal(model.generate(idx, 0), idx)


# ---------------------------------------------------------------------------- sampling rules
def test_top_k_keeps_k_tokens():
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0, 2.0]])
    kept = filter_logits(logits, top_k=2).isfinite()
    assert kept.tolist() == [[False, True, False, True, False]]


def test_top_p_keeps_the_smallest_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    assert filter_logits(logits, top_p=0.7).isfinite().tolist() == [[True, True, False, False]]
    assert filter_logits(logits, top_p=0.8).isfinite().tolist() == [[True, True, False, False]]
    assert filter_logits(logits, top_p=0.81).isfinite().tolist() == [[True, True, True, False]]
    assert filter_logits(logits, top_p=0.01).isfinite().tolist() == [[True, False, False, False]]


def test_top_p_sampling_frequencies():
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log().expand(20000, 4)
    draws = sample_next(logits, top_p=0.8, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=4).float() / 20000
    torch.testing.assert_close(freq, torch.tensor([0.625, 0.375, 0.0, 0.0]), atol=0.015, rtol=0)


def test_temperature_sharpens_and_greedy_is_argmax():
    logits = torch.tensor([[1.0, 2.0, 0.5]])
    assert sample_next(logits, temperature=0).tolist() == [1]
    g = torch.Generator().manual_seed(0)
    cold = sample_next(logits.expand(2000, 3), temperature=0.1, generator=g)
    assert (cold == 1).float().mean() > 0.99


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(temperature=-0.1), "temperature must be a number >= 0"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(top_p=0.0), r"top_p must be None or in \(0, 1\]"),
        (dict(top_p=1.5), "top_p"),
        (dict(top_k=0), "top_k must be an integer >= 1"),
        (dict(max_new_tokens=-1), "max_new_tokens"),
        (dict(stop_token=61), "stop_token 61 is outside"),
    ],
)
def test_bad_sampling_arguments(model, kwargs, message):
    kwargs = {"max_new_tokens": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        model.generate(prompt(), **kwargs)
    with pytest.raises(ValueError, match=message):
        model.stream(prompt(), **kwargs)  # checked at once, not at the first next()


def test_bad_prompt_ids(model):
    with pytest.raises(ValueError, match="token id 99 is outside"):
        model.generate(torch.tensor([[1, 99]]), 3)


def test_bidirectional_model_generates_without_a_cache():
    torch.manual_seed(0)
    model = GPT(TINY.replace(causal=False)).eval()
    idx = prompt(t=4)
    with_cache = model.generate(idx, 8, temperature=0, use_cache=True)
    assert torch.equal(with_cache, model.generate(idx, 8, temperature=0, use_cache=False))
    seq = idx
    for _ in range(8):  # every step sees the whole (growing) sequence at once
        seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(with_cache, seq)


def test_last_only_logits_are_the_last_position(model):
    idx = torch.randint(0, model.config.vocab_size, (3, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full, last = model(idx), model(idx, last_only=True)
    assert last.shape == (3, 1, model.config.vocab_size)
    torch.testing.assert_close(last[:, 0], full[:, -1], rtol=1e-5, atol=1e-6)


def test_bf16_inference_follows_fp32():
    """The opt-in low-precision mode: bf16 weights (and cache) give nearly the fp32 model's greedy tokens."""
    from gpt2lite.device import inference_dtype

    assert inference_dtype("cpu") in (torch.bfloat16, torch.float32)
    torch.manual_seed(0)
    fp32 = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=2, n_embd=32)).eval()
    with torch.no_grad():
        for p in fp32.parameters():
            p.mul_(4)  # sharper predictions: a fair test of rounding
    bf16 = copy.deepcopy(fp32).to(torch.bfloat16)
    prompt = torch.randint(0, 64, (4, 5), generator=torch.Generator().manual_seed(2))
    assert bf16.new_cache(4).k.dtype == torch.bfloat16
    with torch.no_grad():
        diff = (bf16(prompt).float() - fp32(prompt)).abs().max().item()
    assert diff < 0.5, diff  # bf16 keeps 8 bits of mantissa: logits agree to about 1%
    a, b = fp32.generate(prompt, 8, temperature=0), bf16.generate(prompt, 8, temperature=0)
    assert (a[:, 5:6] == b[:, 5:6]).all()  # the first new token, from the same prompt, agrees


def test_numpy_integers_and_floats_are_accepted_where_python_ones_are(model):
    """Settings computed with numpy (np.int64 from an argmax, np.float64 from a mean) work like Python's."""
    import numpy as np

    idx = torch.tensor([[1, 2, 3]])
    plain = model.generate(idx, 5, temperature=0.7, top_k=10, top_p=0.9, generator=torch.Generator().manual_seed(1))
    numpy = model.generate(idx, np.int64(5), temperature=np.float64(0.7), top_k=np.int64(10), top_p=np.float32(0.9),
                           generator=torch.Generator().manual_seed(1), stop_token=np.int64(0))
    assert plain.shape == (1, 8) and numpy.shape[1] <= 8
    if not (plain[0, 3:] == 0).any():  # the stop token never came: the same draws
        assert torch.equal(plain, numpy)


# ------------------------------------------------------------------ one sampling config
def test_a_sampling_config_and_its_fields_by_name_give_the_same_tokens(model):
    from gpt2lite.generate import SamplingConfig

    settings = dict(temperature=0.7, top_k=9, top_p=0.9)
    by_name = model.generate(prompt(), 12, generator=torch.Generator().manual_seed(3), **settings)
    config = SamplingConfig(**settings)
    assert torch.equal(model.generate(prompt(), 12, config, generator=torch.Generator().manual_seed(3)), by_name)
    # keywords replace the config's fields; the config itself never changes (it is frozen)
    greedy = model.generate(prompt(), 12, config, temperature=0)
    assert torch.equal(greedy, model.generate(prompt(), 12, temperature=0))
    assert config.temperature == 0.7
    with pytest.raises(AttributeError):
        config.temperature = 0  # type: ignore[misc]
    assert hash(config) == hash(SamplingConfig(**settings))


def test_sampling_config_normalises_numpy_numbers_and_refuses_bad_ones():
    import numpy as np

    from gpt2lite.generate import SamplingConfig

    config = SamplingConfig(temperature=np.float32(0.5), top_k=np.int64(4), top_p=np.float64(0.5), stop_token=np.int8(3))
    assert (config.temperature, config.top_k, config.top_p, config.stop_token) == (0.5, 4, 0.5, 3)
    assert all(type(v) in (int, float) for v in (config.temperature, config.top_k, config.top_p, config.stop_token))
    for bad, error in [(dict(temperature="hot"), TypeError), (dict(temperature=-1), ValueError),
                       (dict(top_k=2.0), TypeError), (dict(top_k=0), ValueError), (dict(top_p=0), ValueError),
                       (dict(top_p=float("nan")), ValueError), (dict(stop_token=True), TypeError)]:
        with pytest.raises(error):
            SamplingConfig(**bad)


def test_a_sampling_mistake_is_named_before_any_token(model):
    with pytest.raises(TypeError, match=r"unknown sampling setting temprature: the settings are temperature, top_k"):
        model.generate(prompt(), 3, temprature=0.8)
    with pytest.raises(TypeError, match=r"sampling must be a SamplingConfig or None, got float 0\.8; pass settings by"):
        model.generate(prompt(), 3, 0.8)  # the old positional temperature
    with pytest.raises(TypeError, match="unknown sampling setting"):
        sample_next(torch.zeros(1, 5), topk=3)


def test_one_shift_by_the_largest_logit_keeps_the_distribution():
    # A shift by a constant changes no probability; without the shift a temperature of 1e-39 would overflow to nan.
    logits = torch.tensor([[0.0, 1.0, 2.5, 2.0]])
    for t in (1.0, 0.5, 2.0):
        g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
        draws = sample_next(logits.expand(4000, 4), temperature=t, generator=g1)
        frequencies = torch.bincount(draws, minlength=4) / 4000
        torch.testing.assert_close(frequencies, torch.softmax(logits[0] / t, -1), atol=0.03, rtol=0)
        assert torch.equal(sample_next(logits.expand(50, 4) + 64.0, temperature=t, generator=g2),
                           sample_next(logits.expand(50, 4), temperature=t, generator=torch.Generator().manual_seed(0)))
    assert sample_next(logits, temperature=1e-39).tolist() == [2]


# ------------------------------------------------------------------ the cache and positions
def test_a_cache_slides_by_dropping_its_oldest_positions():
    from gpt2lite.attention import KVCache

    cache = KVCache(TINY, 1)
    cache.k[:, :, :, :5] = torch.arange(5.0)[:, None]  # slot s holds s
    cache.v[:, :, :, :5] = -torch.arange(5.0)[:, None]
    cache.pos = 5
    cache.slide(2)
    assert cache.pos == 3
    assert cache.k[0, 0, 0, :3, 0].tolist() == [2.0, 3.0, 4.0] and cache.v[1, 0, 1, :3, 0].tolist() == [-2.0, -3.0, -4.0]
    with pytest.raises(ValueError, match="can slide by 0 to 3 positions"):
        cache.slide(4)


def test_each_layer_writes_into_its_own_view_of_the_cache(model):
    cache = model.new_cache(2)
    views = cache.layers()
    assert len(views) == TINY.n_layer and all(v.k.data_ptr() == cache.k[i].data_ptr() for i, v in enumerate(views))
    model(prompt(t=3), cache=cache)
    assert cache.pos == 3
    assert cache.k[:, :, :, :3].abs().sum(dim=(1, 2, 3, 4)).gt(0).all()  # every layer stored its keys
    assert cache.k[:, :, :, 3:].eq(0).all()


def test_past_the_context_the_model_decides_whether_the_cache_slides(model):
    fed = []
    hook = model.register_forward_pre_hook(lambda module, args: fed.append(args[0].size(1)))
    model.generate(prompt(b=1, t=3), 20, temperature=0)  # 23 tokens > block_size 16
    assert not model.cache_can_slide
    assert fed[-1] == TINY.block_size  # GPT-2's absolute positions: the cache is refilled with the whole window

    class Sliding(GPT):
        cache_can_slide = True  # as if its positions were relative: past the context it feeds one token a step

    sliding = Sliding(TINY).eval()
    sliding.load_state_dict(model.state_dict())
    fed.clear()
    hook.remove()
    hook = sliding.register_forward_pre_hook(lambda module, args: fed.append(args[0].size(1)))
    sliding.generate(prompt(b=1, t=3), 20, temperature=0)
    hook.remove()
    assert fed == [3] + [1] * 19


def test_attention_takes_positions_and_masks_from_them(model):
    attn = model.transformer.h[0].attn
    x = torch.randn(2, 6, TINY.n_embd)
    full, _ = attn(x)  # positions 0 .. 5
    explicit, weights = attn(x, torch.arange(6), None, True)
    torch.testing.assert_close(explicit, full, atol=1e-6, rtol=0)
    assert torch.equal(weights[0, 0] > 0, torch.ones(6, 6, dtype=torch.bool).tril())
    cache = model.new_cache(2)
    view = cache.layers()[0]
    attn(x[:, :4], torch.arange(4), view)
    view.pos = 4
    tail, _ = attn(x[:, 4:], torch.arange(4, 6), view)  # two queries after a cached prefix of 4
    torch.testing.assert_close(tail, full[:, 4:], atol=1e-6, rtol=0)
