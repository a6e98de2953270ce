"""One place for argument checks: a wrong type is a TypeError, a wrong value a ValueError, everywhere.

numpy's integers (``np.int64``) count as integers and numpy's floats as numbers, as a reader would expect; a bool is
neither, although Python says it is an int (``top_k=True`` is a mistake, not 1). Each check returns the plain Python
value (``int``, ``float``, ``bool``, ``str``), so that what is stored prints, hashes and goes to JSON as usual.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np


def integer(name: str, value: object, minimum: int | None = None) -> int:
    """`value` as an int, or a TypeError (not an integer) / ValueError (below `minimum`) naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def number(name: str, value: object) -> float:
    """`value` as a finite-or-not float, or a TypeError naming `name` (the caller checks the range)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def in_range(name: str, value: float, ok: bool, expected: str) -> None:
    """A ValueError naming `name`, what was `expected` and what came, unless `ok` (nan is never ok)."""
    if not ok or math.isnan(value):
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def boolean(name: str, value: object) -> bool:
    """`value` as a bool (``np.bool_`` too), or a TypeError naming `name`: the string "False" would count as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def choice(name: str, value: object, options: Sequence[str]) -> str:
    """`value` if it is one of the strings `options`: a TypeError if it is no string, else a ValueError."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {tuple(options)}, got {type(value).__name__} {value!r}")
    if value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return str(value)


def item(value: object) -> object:
    """A 0-d tensor or array (such as ``ids[0]`` of a 1-D tensor) as the Python number it holds; anything else as is.

    For the checks above, which take Python and numpy numbers but not tensors: ``integer("id", item(x))``.
    """
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        return value.item()
    return value
