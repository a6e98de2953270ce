"""gpt2lite.device: the device, the precision and the seed, with TypeError for a wrong type, ValueError for a value."""

import random

import numpy as np
import pytest
import torch

from gpt2lite.device import autocast_dtype, get_device, inference_dtype, seed_everything

CPU = torch.device("cpu")


@pytest.mark.parametrize("call, error, message", [
    (lambda: get_device(0), TypeError, r"a device is a str such as 'cpu'.*or a torch\.device, got int 0"),
    (lambda: get_device(1.5), TypeError, r"a device is a str such as 'cpu'.*got float 1\.5"),
    (lambda: get_device("gpu"), ValueError, r"unknown device 'gpu'"),
    (lambda: autocast_dtype(CPU, "fp8"), ValueError, r"dtype must be one of \('auto', 'fp32', 'bf16', 'fp16'\)"),
    (lambda: autocast_dtype(CPU, None), TypeError, r"dtype must be one of .*, got NoneType None"),
    (lambda: autocast_dtype(CPU, "fp16"), ValueError, "fp16 mixed precision needs a CUDA GPU"),
    (lambda: autocast_dtype(3, "auto"), TypeError, "device must be a torch.device or a str such as 'cpu', got int"),
    (lambda: inference_dtype(None), TypeError, "device must be a torch.device or a str such as 'cpu', got NoneType"),
    (lambda: inference_dtype("gpu"), ValueError, "unknown device 'gpu'"),
    (lambda: seed_everything(1.5), TypeError, r"seed must be an integer, got float 1\.5"),
    (lambda: seed_everything("1"), TypeError, "seed must be an integer, got str '1'"),
    (lambda: seed_everything(True), TypeError, "seed must be an integer, got bool True"),
    (lambda: seed_everything(-1), ValueError, r"seed must be an integer in \[0, 2\*\*32\), got -1"),
    (lambda: seed_everything(2**32), ValueError, r"seed must be an integer in \[0, 2\*\*32\), got 4294967296"),
])
def test_bad_arguments_give_type_or_value_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_device_as_str_or_torch_device():
    assert get_device("cpu") == get_device(CPU) == CPU
    assert autocast_dtype("cpu", "fp32") is autocast_dtype(CPU, "fp32") is None
    assert autocast_dtype("cpu", "bf16") is torch.bfloat16
    assert inference_dtype("cpu") == inference_dtype(CPU)


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_a_numpy_seed_seeds_as_the_same_python_int():
    seed_everything(np.int64(7))
    from_numpy = _draws()
    seed_everything(7)
    assert _draws() == from_numpy
    seed_everything(np.uint32(2**32 - 1))  # the largest seed all three generators take
