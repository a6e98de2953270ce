"""The shared machinery of the answer checks: crash hints, mistake matching, counts and meta-device models."""

import pytest
import torch

from gpt2lite import GPTConfig
from gpt2lite.checks._core import CheckFailed, call, diagnose, expect_count, meta_model, show_config


def stub(*args):
    raise NotImplementedError("write this function")


def crash(x):
    raise ValueError("boom")


def test_call_adds_the_crash_hint_to_a_crash_only():
    with pytest.raises(CheckFailed) as info:
        call(crash, 1, call_text="crash(1)", crash_hint="look here")
    assert str(info.value) == "✗ crash(1)\n  raised ValueError: boom\n  hint:     look here"
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(CheckFailed) as info:
        call(crash, 1, call_text="crash(1)")
    assert str(info.value) == "✗ crash(1)\n  raised ValueError: boom"
    with pytest.raises(CheckFailed) as info:
        call(stub, 1, crash_hint="look here")
    assert "hint" not in str(info.value) and "not written yet" in str(info.value)


@pytest.mark.parametrize("got, wrong", [
    ({"a", "b"}, {"b", "a"}),
    ({(1, 2): 3}, {(1, 2): 3}),
    ([1, 2], [1, 2]),
    ((1, "x"), (1, "x")),
    ("text", "text"),
    (None, None),
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])),
    (2, 2.0),
])
def test_diagnose_matches_plain_values_and_tensors(got, wrong):
    assert diagnose(got, {"no": lambda: "other", "yes": lambda: wrong}, "default") == "yes"


def test_diagnose_falls_back_to_the_default():
    assert diagnose((1, 2), {"a list is not a tuple": lambda: [1, 2]}, "default") == "default"
    assert diagnose({1}, {"hint": lambda: {2}}) is None
    assert diagnose(torch.ones(2), None, "default") == "default"
    assert diagnose(torch.ones(2), {"shapes differ": lambda: torch.ones(3)}) is None
    assert diagnose(1.0, {"close": lambda: 1.0 + 1e-9}) is None
    assert diagnose(1.0, {"close": lambda: 1.0 + 1e-9}, atol=1e-6) == "close"


def test_expect_count_names_a_float():
    with pytest.raises(CheckFailed, match="the float 6.0"):
        expect_count("f()", 6.0, 6, mistakes={}, hint="h")
    with pytest.raises(CheckFailed, match="hint:     twice"):
        expect_count("f()", 12, 6, mistakes={"twice": lambda: 12}, hint="h")
    expect_count("f()", 6, 6, mistakes={}, hint="h")


def test_show_config():
    assert show_config(GPTConfig.from_name("gpt2")) == "GPTConfig.from_name('gpt2')"
    assert show_config(GPTConfig.from_name("gpt2", bias=False)) == "GPTConfig.from_name('gpt2', bias=False)"


def test_meta_model_is_cached_by_value_and_holds_no_memory():
    config = GPTConfig(vocab_size=11, block_size=5, n_layer=1, n_head=1, n_embd=4)
    model = meta_model(config)
    assert meta_model(GPTConfig(vocab_size=11, block_size=5, n_layer=1, n_head=1, n_embd=4)) is model
    assert {p.device.type for p in model.parameters()} == {"meta"}
    config.vocab_size = 12  # changing the caller's config later changes neither the cache nor the model
    assert model.config.vocab_size == 11 and meta_model(config) is not model
