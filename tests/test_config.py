"""GPTConfig's checks: a wrong type is a TypeError, a wrong value a ValueError, and numpy numbers are numbers."""

import dataclasses
import json
import math

import numpy as np
import pytest

from gpt2lite import GPTConfig

SMALL = dict(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=8)


def small(**fields) -> GPTConfig:
    return GPTConfig(**{**SMALL, **fields})


@pytest.mark.parametrize("fields, message", [
    (dict(n_layer=2.0), r"GPTConfig\.n_layer must be an integer, got float 2\.0"),
    (dict(block_size="8"), r"GPTConfig\.block_size must be an integer, got str '8'"),
    (dict(vocab_size=None), r"GPTConfig\.vocab_size must be an integer, got NoneType None"),
    (dict(n_head=True), r"GPTConfig\.n_head must be an integer, got bool True"),
    (dict(n_embd=np.float64(8.0)), r"GPTConfig\.n_embd must be an integer, got float64"),
    (dict(dropout="0.1"), r"GPTConfig\.dropout must be a number, got str '0\.1'"),
    (dict(dropout=None), r"GPTConfig\.dropout must be a number, got NoneType None"),
    (dict(layer_norm_eps=False), r"GPTConfig\.layer_norm_eps must be a number, got bool False"),
    (dict(bias="False"), r"GPTConfig\.bias must be True or False, got str 'False'"),
    (dict(pre_ln=1), r"GPTConfig\.pre_ln must be True or False, got int 1"),
    (dict(causal=None), r"GPTConfig\.causal must be True or False, got NoneType None"),
    (dict(attn_impl=None), r"attn_impl must be one of \('sdpa', 'explicit'\), got NoneType None"),
    (dict(n_embd=30, n_head="4"), r"GPTConfig\.n_head must be an integer"),  # the type, before the values
])
def test_a_wrong_type_is_a_type_error(fields, message):
    with pytest.raises(TypeError, match=message):
        small(**fields)


@pytest.mark.parametrize("fields, message", [
    (dict(n_layer=0), r"GPTConfig\.n_layer must be a positive integer, got 0"),
    (dict(vocab_size=-5), r"GPTConfig\.vocab_size must be a positive integer, got -5"),
    (dict(block_size=np.int64(0)), r"GPTConfig\.block_size must be a positive integer, got 0$"),
    (dict(n_embd=30, n_head=4), r"n_embd \(30\) must be divisible by n_head \(4\).*Try n_head=3"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\), got 1\.0"),
    (dict(dropout=-0.1), r"dropout must be in \[0, 1\), got -0\.1"),
    (dict(dropout=math.nan), r"dropout must be in \[0, 1\), got nan"),
    (dict(dropout=np.float32(1.5)), r"dropout must be in \[0, 1\), got 1\.5$"),
    (dict(layer_norm_eps=0.0), r"layer_norm_eps must be positive and finite, got 0\.0"),
    (dict(layer_norm_eps=math.inf), r"layer_norm_eps must be positive and finite, got inf"),
    (dict(attn_impl="flash"), r"attn_impl must be one of \('sdpa', 'explicit'\), got 'flash'"),
])
def test_a_wrong_value_is_a_value_error(fields, message):
    with pytest.raises(ValueError, match=message):
        small(**fields)


NUMPY_FIELDS = dict(
    vocab_size=np.int64(50), block_size=np.int32(8), n_layer=np.int16(1), n_head=np.uint8(2), n_embd=np.int64(8),
    dropout=np.float64(0.25), layer_norm_eps=np.float32(0.5), bias=np.bool_(False), attn_impl=np.str_("explicit"),
)


def test_numpy_numbers_give_the_same_config_as_python_numbers():
    from_numpy = GPTConfig(**NUMPY_FIELDS)
    plain = GPTConfig(**{name: value.item() for name, value in NUMPY_FIELDS.items()})
    assert from_numpy == plain and hash(from_numpy) == hash(plain)
    for field in dataclasses.fields(GPTConfig):  # stored as plain Python values
        assert type(getattr(from_numpy, field.name)) is type(getattr(plain, field.name)), field.name
    assert json.loads(json.dumps(dataclasses.asdict(from_numpy))) == dataclasses.asdict(plain)
    assert from_numpy.head_dim == 4 and type(from_numpy.head_dim) is int


def test_int_rates_are_stored_as_floats():
    config = small(dropout=0, layer_norm_eps=1)
    assert type(config.dropout) is float and type(config.layer_norm_eps) is float
    assert config == small(dropout=0.0, layer_norm_eps=1.0)


def test_replace_and_presets_check_their_fields_too():
    with pytest.raises(TypeError, match=r"GPTConfig\.n_layer must be an integer, got str '2'"):
        small().replace(n_layer="2")
    with pytest.raises(TypeError, match=r"GPTConfig\.dropout must be a number"):
        GPTConfig.from_name("gpt2", dropout="0.1")
    assert GPTConfig.from_name("gpt2", n_layer=np.int64(2)).n_layer == 2
    with pytest.raises(TypeError, match="a preset name is a string"):
        GPTConfig.from_name(2)
    with pytest.raises(ValueError, match="unknown preset 'gpt3'"):
        GPTConfig.from_name("gpt3")
