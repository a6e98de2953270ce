"""gpt2lite.validate: the checks every module uses; a wrong type is a TypeError, a wrong value a ValueError."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gpt2lite.validate import boolean, choice, in_range, integer, item, number

NUMPY_INTS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
NUMPY_FLOATS = (np.float16, np.float32, np.float64)


@given(st.integers(), st.sampled_from((int, *NUMPY_INTS)), st.one_of(st.none(), st.integers(-100, 100)))
def test_integer_takes_python_and_numpy_ints_alike(value, kind, minimum):
    try:
        value = kind(value)
    except OverflowError:  # hypothesis's int does not fit this numpy type
        return
    if minimum is not None and value < minimum:
        with pytest.raises(ValueError, match=rf"n must be an integer >= {minimum}, got"):
            integer("n", value, minimum)
    else:
        result = integer("n", value, minimum)
        assert type(result) is int and result == value


@given(st.one_of(st.floats(), st.text(), st.booleans(), st.none(), st.lists(st.integers()),
                 st.floats().map(np.float64), st.booleans().map(np.bool_)))
def test_integer_refuses_everything_else_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^n must be an integer, got \w+ "):
        integer("n", value, minimum=0)  # the type is checked first, whatever the value


@given(st.one_of(st.integers(), st.floats(allow_nan=False)), st.sampled_from((int, float, *NUMPY_INTS, *NUMPY_FLOATS)))
def test_number_takes_python_and_numpy_numbers_alike(value, kind):
    try:
        with np.errstate(over="ignore"):  # a large float becomes inf in float16: still a number
            cast = kind(value)
    except (OverflowError, ValueError):  # e.g. a float into a numpy int type, or out of range
        return
    result = number("x", cast)
    assert type(result) is float and (result == float(cast) or math.isnan(result))


@given(st.one_of(st.text(), st.booleans(), st.none(), st.complex_numbers(), st.booleans().map(np.bool_)))
def test_number_refuses_everything_else_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^x must be a number, got \w+ "):
        number("x", value)


def test_in_range_never_accepts_nan():
    in_range("p", 0.5, True, "in (0, 1]")
    with pytest.raises(ValueError, match=r"^p must be in \(0, 1\], got 1\.5$"):
        in_range("p", 1.5, False, "in (0, 1]")
    with pytest.raises(ValueError, match="got nan"):
        in_range("p", math.nan, True, "in (0, 1]")


def test_boolean():
    assert boolean("flag", True) is True and boolean("flag", np.bool_(False)) is False
    for bad in ("False", 0, 1, None, 1.0):
        with pytest.raises(TypeError, match=r"^flag must be True or False, got \w+ "):
            boolean("flag", bad)


def test_choice():
    assert choice("mode", "b", ("a", "b")) == "b"
    assert type(choice("mode", np.str_("a"), ("a", "b"))) is str
    with pytest.raises(ValueError, match=r"^mode must be one of \('a', 'b'\), got 'c'$"):
        choice("mode", "c", ("a", "b"))
    with pytest.raises(TypeError, match=r"^mode must be one of \('a', 'b'\), got int 1$"):
        choice("mode", 1, ("a", "b"))


def test_item_unwraps_zero_dimensional_tensors_and_arrays_only():
    assert item(torch.tensor(3)) == 3 and type(item(torch.tensor(3))) is int
    assert type(item(np.int64(3))) is int and type(item(np.array(2.5))) is float
    vector = torch.tensor([1, 2])
    assert item(vector) is vector and item("a") == "a" and item(None) is None
