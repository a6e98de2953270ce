"""The shared machinery of the answer checks: crash hints, mistake matching, counts, meta-device models and the
guard that refuses forbidden calls."""

import cProfile
import re
import sys
import types

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import layer_norm as imported_layer_norm

from gpt2lite import GPTConfig
from gpt2lite.checks._core import (CheckFailed, Forbidden, call, diagnose, expect_count, forbid, forbid_helpers,
                                   forbid_modules, forbidding, meta_model, show_config)


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
    assert meta_model(config.replace(vocab_size=12)) is not model and model.config.vocab_size == 11


# ------------------------------------------------------------------------------------------- forbidden calls
LAYER_NORMS = forbid({F.layer_norm: "F.layer_norm", torch.layer_norm: "torch.layer_norm", nn.LayerNorm: "nn.LayerNorm",
                      torch.Tensor.index_select: "Tensor.index_select"}, "use tensor operations")
assigned_before = F.layer_norm  # an alias made before any check ran


def by_hand(x):
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(((x - mean) ** 2).mean(-1, keepdim=True) + 1e-5)


@pytest.mark.parametrize("answer, shown", [
    (lambda x: F.layer_norm(x, (4,)), "F.layer_norm"),  # a module attribute
    (lambda x: imported_layer_norm(x, (4,)), "F.layer_norm"),  # from torch.nn.functional import layer_norm
    (lambda x: assigned_before(x, (4,)), "F.layer_norm"),  # an alias assigned before the check
    (lambda x: torch.layer_norm(x, (4,)), "torch.layer_norm"),  # a C function
    (lambda x: torch.nn.LayerNorm(4)(x), "nn.LayerNorm"),  # an nn.Module
    (lambda x: x.index_select(0, torch.tensor([0])), "Tensor.index_select"),  # a method of a C type
    (lambda x: torch.Tensor.index_select(x, 0, torch.tensor([0])), "Tensor.index_select"),
])
def test_a_forbidden_call_is_caught_however_it_is_reached(answer, shown):
    with pytest.raises(CheckFailed) as info:
        call(answer, torch.randn(2, 4), call_text="answer(x)", forbidden=LAYER_NORMS)
    assert str(info.value) == (f"✗ answer(x) called {shown}(...), which this exercise does not allow\n"
                               "  hint:     use tensor operations")


def test_the_readers_other_calls_and_the_checks_own_computation_are_unaffected():
    x = torch.randn(3, 4)
    got = call(by_hand, x, forbidden=LAYER_NORMS)  # mean, sqrt, pow, operators: all allowed
    assert torch.allclose(got, F.layer_norm(x, (4,)), atol=1e-5)  # the check's reference, after the guard
    assert torch.allclose(nn.LayerNorm(4)(x), got, atol=1e-5)
    assert sys.getprofile() is None


def test_a_refusal_that_the_reader_catches_still_fails():
    def catches(x):
        try:
            return F.layer_norm(x, (4,))
        except Exception:
            return by_hand(x)

    def raises_another(x):
        try:
            return torch.layer_norm(x, (4,))
        except Exception:
            raise ValueError("something else") from None

    for answer, shown in [(catches, "F.layer_norm"), (raises_another, "torch.layer_norm")]:
        with pytest.raises(CheckFailed, match=rf"called {shown}\(\.\.\.\)"):
            call(answer, torch.randn(2, 4), forbidden=LAYER_NORMS)


def test_the_refusal_stops_the_reader_at_the_call():
    ran = []

    def answer(x):
        y = F.layer_norm(x, (4,))
        ran.append("after")
        return y

    with pytest.raises(CheckFailed):
        call(answer, torch.randn(2, 4), forbidden=LAYER_NORMS)
    assert ran == []


def test_the_previous_profiler_is_chained_and_restored():
    events = []

    def profiler(frame, event, arg):
        events.append(event)

    sys.setprofile(profiler)
    try:
        call(by_hand, torch.randn(2, 4), forbidden=LAYER_NORMS)
        assert sys.getprofile() is profiler
        events.clear()
        with pytest.raises(CheckFailed):
            call(lambda x: F.layer_norm(x, (4,)), torch.randn(2, 4), forbidden=LAYER_NORMS)
        assert sys.getprofile() is profiler
        assert "call" in events  # the previous profiler kept seeing calls under the guard
    finally:
        sys.setprofile(None)


def test_a_tracer_is_left_alone():
    """Coverage tools and debuggers trace with sys.settrace: the guard neither replaces nor silences a tracer."""
    previous, lines = sys.gettrace(), []

    def tracer(frame, event, arg):
        lines.append(event)
        return tracer

    sys.settrace(tracer)
    try:
        with pytest.raises(CheckFailed):
            call(lambda x: F.layer_norm(by_hand(x), (4,)), torch.randn(2, 4), forbidden=LAYER_NORMS)
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)
    assert "line" in lines


def test_a_c_profiler_is_restored_too():
    profile = cProfile.Profile()
    profile.enable()
    try:
        call(by_hand, torch.randn(2, 4), forbidden=LAYER_NORMS)
        assert sys.getprofile() is profile
    finally:
        profile.disable()
    assert sys.getprofile() is None


def test_nested_guards_refuse_both_sets_inside_and_the_outer_one_after():
    outer = forbid({torch.softmax: "torch.softmax"}, "outer")
    inner = forbid({torch.tanh: "torch.tanh"}, "inner")
    x = torch.randn(3)
    with pytest.raises(CheckFailed, match=r"called torch\.softmax(.|\n)*outer"):
        with forbidding(outer, "outer call"):
            with forbidding(inner, "inner call"):
                torch.softmax(x, 0)
    with pytest.raises(CheckFailed, match=r"called torch\.tanh(.|\n)*inner"):
        with forbidding(outer, "outer call"):
            with forbidding(inner, "inner call"):
                torch.tanh(x)
    with pytest.raises(CheckFailed, match=r"called torch\.softmax"):
        with forbidding(outer, "outer call"):
            with forbidding(inner, "inner call"):
                torch.exp(x)
            torch.tanh(x)  # allowed again
            torch.softmax(x, 0)
    assert sys.getprofile() is None


def test_a_decorated_function_is_forbidden_by_what_it_wraps():
    """torch.no_grad's wrapper is one code object for every decorated function: only the wrapped one is refused."""
    @torch.no_grad()
    def reference(x):
        return x * 2

    @torch.no_grad()
    def readers(x):
        return x * 2

    rules = forbid({reference: "reference"}, "write it")
    assert torch.equal(call(readers, torch.ones(2), forbidden=rules), 2 * torch.ones(2))
    with pytest.raises(CheckFailed, match=r"called reference\(\.\.\.\)"):
        call(lambda x: reference(x), torch.ones(2), forbidden=rules)


def test_a_whole_module_and_a_class_method_are_named_by_their_function():
    import torch.optim.lr_scheduler

    rules = forbid({torch.optim.lr_scheduler: "torch.optim.lr_scheduler", GPTConfig: "GPTConfig"}, "by hand")

    def scheduler(_):  # refused as it starts, before it reads its optimizer
        return torch.optim.lr_scheduler.LambdaLR(None, lambda step: 0.5)

    with pytest.raises(CheckFailed, match=r"called torch\.optim\.lr_scheduler\.\S*(LambdaLR\.)?__init__\(\.\.\.\)"):
        call(scheduler, None, forbidden=rules)
    with pytest.raises(CheckFailed, match=r"called GPTConfig\.from_name\(\.\.\.\)"):
        call(lambda _: GPTConfig.from_name("gpt2"), None, forbidden=rules)


def test_forbid_modules_names_the_instance_the_reader_called():
    root = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    rules = forbid_modules(root, "model", "use the weights")
    x = torch.randn(2, 4)
    for answer, shown in [(lambda x: root(x), "model"), (lambda x: root[1](x), "model.1"),
                          (lambda x: root[0].forward(x), "model.0"), (lambda x: nn.LayerNorm(4)(x), "LayerNorm")]:
        with pytest.raises(CheckFailed, match=rf"called {re.escape(shown)}\(\.\.\.\)"):
            call(answer, x, forbidden=rules)
    assert torch.allclose(call(lambda x: x @ root[0].weight.T + root[0].bias, x, forbidden=rules), root[0](x))


def test_forbid_helpers_covers_a_check_modules_own_functions():
    rules = forbid_helpers("gpt2lite.checks.training")
    from gpt2lite.checks.training import _wsd
    from gpt2lite.training import TrainConfig

    with pytest.raises(CheckFailed, match=r"called gpt2lite\.checks\.training\._wsd(.|\n)*own reference"):
        call(lambda step, cfg: _wsd(step, cfg, 2), 0, TrainConfig(), forbidden=rules)


def test_forbidden_sets_add_up_and_refuse_what_cannot_be_forbidden():
    both = forbid({torch.tanh: "torch.tanh"}, "a") + forbid({F.layer_norm: "F.layer_norm"}, "b")
    assert isinstance(both, Forbidden) and len(both.builtins) == 1 and len(both.codes) == 1
    with pytest.raises(TypeError, match="cannot forbid"):
        forbid({42: "forty-two"}, "no")
    assert isinstance(forbid({types: "types"}, "a module").files, dict)
