"""One place for argument checks: a wrong type is a TypeError, a wrong value a ValueError, everywhere.

numpy's integers (``np.int64``) count as integers and numpy's floats as numbers, as a reader would expect; a bool is
neither, although Python says it is an int (``top_k=True`` is a mistake, not 1).
"""

from __future__ import annotations

import math
import numbers


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
