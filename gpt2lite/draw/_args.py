"""Argument checks the drawings and the interactive figures share, on top of `gpt2lite.validate`.

Each returns the value as a plain Python int, float or bool (so ``np.int64(3)`` draws as 3 and goes into JSON),
or raises a TypeError for a wrong type and a ValueError for a wrong value, with a message naming the argument.
"""

from __future__ import annotations

import numpy as np

from ..validate import in_range, integer, number


def count(name: str, value: object, lo: int, hi: int | None = None, expected: str | None = None) -> int:
    """`value` as an int from `lo` to `hi` (no upper end when None); `expected` words the range in the error."""
    n = integer(name, value)
    if expected is None:
        expected = f"an integer >= {lo}" if hi is None else f"an integer from {lo} to {hi}"
    in_range(name, n, n >= lo and (hi is None or n <= hi), expected)
    return n


def fraction(name: str, value: object, ok, expected: str) -> float:
    """`value` as a float for which `ok(value)` holds; a TypeError if it is no number, else a ValueError."""
    x = number(name, value)
    in_range(name, x, bool(ok(x)), expected)
    return x


def flag(name: str, value: object, expected: str = "True or False") -> bool:
    """`value` as a bool (numpy's bool too); a TypeError for anything else, an int included."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    return bool(value)
