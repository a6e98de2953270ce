"""The machinery every exercise check shares: call the reader's code safely, compare, and fail with a message
that teaches.

A failed check raises `CheckFailed` (an `AssertionError`, so nbgrader and pytest count it as a failed test). Its
message names the call that went wrong, what was expected, what came back and, where the wrong answer matches a
known mistake, which mistake it is. A passed check prints one line starting with "✓".
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import math
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NoReturn

import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt2lite.config import PRESETS, GPTConfig
from gpt2lite.model import GPT, Block

__all__ = ["CheckFailed", "Forbidden", "call", "describe", "diagnose", "fail", "forbid", "forbid_helpers",
           "forbid_modules", "forbidding", "loss_functions", "model_building", "passed", "expect_close", "expect_count",
           "expect_equal", "expect_raises", "meta_model", "seeded_model", "show_config"]


class CheckFailed(AssertionError):
    """An exercise check found a wrong answer; the message says where, what and (often) why."""


def describe(value: Any, limit: int = 60) -> str:
    """A short, readable description of an argument or a result: tensors by shape and dtype, long text cut."""
    if isinstance(value, torch.Tensor):
        kind = "bool" if value.dtype == torch.bool else str(value.dtype).replace("torch.", "")
        if value.numel() <= 8:
            shown = value.tolist() if not value.is_floating_point() else value.double().round(decimals=4).tolist()
            return f"tensor({shown}, {kind})"
        return f"tensor of shape {tuple(value.shape)} ({kind})"
    if isinstance(value, tuple) and value and all(isinstance(v, torch.Tensor) for v in value):
        return "(" + ", ".join(describe(v, limit) for v in value) + ")"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...)"


def fail(call_text: str, expected: str, got: str, hint: str | None = None) -> NoReturn:
    """Raise `CheckFailed` with the standard four parts: the call, what was expected, what came back, a hint."""
    lines = [f"✗ {call_text}", f"  expected: {expected}", f"  got:      {got}"]
    if hint:
        lines.append(f"  hint:     {hint}")
    raise CheckFailed("\n".join(lines))


def passed(message: str) -> None:
    """Print the one line a check prints when every case passed."""
    print(f"✓ {message}")


# ------------------------------------------------------------------------------------------- forbidden calls
Shown = tuple[str, str]  # (the call as a message names it, what to use instead)


@dataclasses.dataclass(frozen=True)
class Forbidden:
    """Calls that a reader's answer may not make (the thing the exercise asks for, ready-made), each with the name
    a message gives it and what to use instead. Combine sets with `+`; build them with `forbid`,
    `forbid_modules` and `forbid_helpers`.

    Python functions are known by their code object, so an alias, a bound method or `from ... import` is the same
    function; C functions (torch.layer_norm) by identity; methods of C types (Tensor.index_select) by name and
    type, since each `t.index_select` is a new bound object; whole modules by their source file; and module
    instances (a block's ln_1) by identity, only to name them as the reader sees them.
    """

    codes: Mapping[int, Shown] = dataclasses.field(default_factory=dict)  # id(code object) ->
    builtins: Mapping[int, Shown] = dataclasses.field(default_factory=dict)  # id(C function) ->
    methods: Mapping[str, tuple[type, Shown]] = dataclasses.field(default_factory=dict)  # method name ->
    files: Mapping[str, Shown] = dataclasses.field(default_factory=dict)  # a module's source file -> (its name, ...)
    instances: Mapping[int, str] = dataclasses.field(default_factory=dict)  # id(nn.Module) -> "block.ln_1"
    keep: tuple[object, ...] = ()  # the objects behind the ids, alive so that no other object reuses an id

    def __add__(self, other: Forbidden) -> Forbidden:
        return Forbidden(*({**a, **b} for a, b in zip(self._maps(), other._maps())), keep=self.keep + other.keep)

    def _maps(self) -> tuple[Mapping, ...]:
        return self.codes, self.builtins, self.methods, self.files, self.instances

    def match(self, frame: types.FrameType, event: str, arg: Any) -> Shown | None:
        """The forbidden call that this profiler event starts, if it is one (see `sys.setprofile`)."""
        if event == "call":
            code = frame.f_code
            found = self.codes.get(id(code))
            if found is None and self.files and code.co_filename in self.files:  # named by the function itself
                module, instead = self.files[code.co_filename]
                found = (f"{module}.{getattr(code, 'co_qualname', code.co_name)}", instead)  # co_qualname: 3.11+
            if found is not None and self.instances:
                name = self.instances.get(id(frame.f_locals.get("self")))
                found = (name, found[1]) if name else found
            return found
        if event == "c_call":
            found = self.builtins.get(id(arg))
            if found is None and self.methods:
                kind, shown = self.methods.get(getattr(arg, "__name__", None), (None, None))
                found = shown if kind is not None and isinstance(getattr(arg, "__self__", None), kind) else None
            return found
        return None


def _python_functions(target: Any) -> list[types.FunctionType]:
    """The Python functions behind a function (unwrapped), a method, a static or class method, a property or a class
    (every function defined in its own body: __init__, forward, ...)."""
    if isinstance(target, (staticmethod, classmethod, types.MethodType)):
        target = target.__func__
    if isinstance(target, property):
        return [f for f in (target.fget, target.fset, target.fdel) if isinstance(f, types.FunctionType)]
    if isinstance(target, types.FunctionType):
        return [inspect.unwrap(target)]  # a decorator's wrapper (torch.no_grad's) is shared: forbid what it wraps
    if isinstance(target, type):
        return [f for value in vars(target).values() if not isinstance(value, type) for f in _python_functions(value)]
    return []


def _method_shown(target: Any, shown: str, function: types.FunctionType) -> str:
    """How a message names a call of `function`, part of `target` shown as `shown`: a class's methods other than
    building or calling it (__init__, forward) by their own name, as in GPT.from_pretrained."""
    if not isinstance(target, type) or function.__name__ in ("__init__", "__new__", "__call__", "forward"):
        return shown
    return f"{shown}.{function.__name__}"


def forbid(targets: Mapping[Any, str], instead: str) -> Forbidden:
    """Forbid each target, shown in messages under its name, with the hint `instead`: Python functions (the
    package's reference), classes (every method in their body, so an nn.Module's forward), C functions
    (torch.layer_norm), methods of C types (torch.Tensor.index_select) and modules (all of their functions)."""
    codes, builtins, methods, files = {}, {}, {}, {}
    for target, shown in targets.items():
        entry = (shown, instead)
        if isinstance(target, types.ModuleType):
            files[target.__file__] = entry
        elif isinstance(target, types.BuiltinFunctionType):
            builtins[id(target)] = entry
        elif isinstance(target, types.MethodDescriptorType):
            methods[target.__name__] = (target.__objclass__, entry)
        elif functions := _python_functions(target):
            codes.update({id(f.__code__): (_method_shown(target, shown, f), instead) for f in functions})
        else:
            raise TypeError(f"cannot forbid {target!r}: not a function, class, C function, method or module")
    return Forbidden(codes, builtins, methods, files, keep=tuple(targets))


def forbid_modules(root: nn.Module, name: str, instead: str) -> Forbidden:
    """Forbid calling the nn.Module `root` (named `name` in messages) or any of its sub-modules (named
    `name.sub`), and any other module of their classes (named by the class): their forward, however reached."""
    forwards = {type(m).forward: type(m).__name__ for _, m in root.named_modules()}
    instances = {id(m): f"{name}.{sub}" if sub else name for sub, m in root.named_modules()}
    return forbid(forwards, instead) + Forbidden(instances=instances, keep=(root,))


def forbid_helpers(module_name: str, instead: str = "that is the check's own reference: write the answer "
                                                    "yourself") -> Forbidden:
    """Forbid the module-level functions of a check module: the reference and the mistakes it computes."""
    module = importlib.import_module(module_name)
    return forbid({f: f"{module_name}.{n}" for n, f in vars(module).items()
                   if isinstance(f, types.FunctionType) and f.__module__ == module_name}, instead)


def model_building(instead: str) -> Forbidden:
    """Building a model (or a block) to count or measure what the exercise asks to compute from a config."""
    return forbid({GPT: "GPT", Block: "Block", meta_model: "meta_model", seeded_model: "seeded_model",
                   nn.Embedding: "nn.Embedding"}, instead)


def loss_functions(instead: str) -> Forbidden:
    """torch's ready-made losses, for an exercise that writes a loss from log-probabilities."""
    return forbid({F.cross_entropy: "F.cross_entropy", F.nll_loss: "F.nll_loss",
                   torch._C._nn.cross_entropy_loss: "torch._C._nn.cross_entropy_loss",
                   torch._C._nn.nll_loss: "torch._C._nn.nll_loss", torch._C._nn.nll_loss_nd: "torch._C._nn.nll_loss_nd",
                   nn.CrossEntropyLoss: "nn.CrossEntropyLoss", nn.NLLLoss: "nn.NLLLoss"}, instead)


def _refusal(call_text: str, shown: str, instead: str) -> CheckFailed:
    """The message of a forbidden call: the reader's call, the call it made, what to use instead."""
    return CheckFailed(f"✗ {call_text} called {shown}(...), which this exercise does not allow\n"
                       f"  hint:     {instead}")


def _restore_profiler(previous: Any) -> None:
    """Put back the profiler that ran before: a Python function, none, or a C profiler such as cProfile's."""
    if previous is None or callable(previous) or not hasattr(previous, "enable"):
        sys.setprofile(previous)
    else:
        sys.setprofile(None)
        previous.enable()


@contextlib.contextmanager
def forbidding(forbidden: Forbidden, call_text: str) -> Iterator[None]:
    """Run the body with `forbidden`'s calls refused: the first one raises CheckFailed where it is made, and again
    when the body ends, in case the reader's code caught it.

    A profile function (sys.setprofile) sees every Python call by its code object and every C call by its function
    object, in this thread, however the callee was imported or named. CPython drops a profile function that
    raises, so the guard records the refusal to raise it again at the end. The profiler in place before (an outer
    guard, a profiler) is called first from ours and restored afterwards.
    """
    previous = sys.getprofile()
    chained = previous if callable(previous) else None
    refused: list[CheckFailed] = []

    match = forbidden.match

    def guard(frame: types.FrameType, event: str, arg: Any) -> None:
        if chained is not None:
            chained(frame, event, arg)
        if event == "call" or event == "c_call":  # returns, the other half of the events, need no look-up
            found = match(frame, event, arg)
            if found is not None:
                refused.append(_refusal(call_text, *found))
                raise refused[-1]

    sys.setprofile(guard)
    try:
        yield
    finally:
        _restore_profiler(previous)
        if refused:
            raise refused[0]


def call(fn: Callable, *args: Any, call_text: str | None = None, crash_hint: str | None = None,
         forbidden: Forbidden | None = None, **kwargs: Any) -> Any:
    """Call the reader's `fn`, turning a stub's NotImplementedError or a crash into a `CheckFailed` that shows
    the call. `call_text` describes the call in the message (by default: the name and the arguments);
    `crash_hint`, if given, is added to the message of a crash (not to a stub's "not written yet"); `forbidden`,
    if given, are calls that fn may not make (see `forbidding`): only fn's own call runs under that guard."""
    name = getattr(fn, "__name__", "your function")
    if call_text is None:
        shown = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
        call_text = f"{name}({', '.join(shown)})"
    try:
        with forbidding(forbidden, call_text) if forbidden is not None else contextlib.nullcontext():
            return fn(*args, **kwargs)
    except NotImplementedError as e:
        todo = f" ({e})" if str(e) else ""
        raise CheckFailed(f"✗ {name} is not written yet{todo}: replace the `raise NotImplementedError` with your code.") from None
    except CheckFailed:
        raise
    except Exception as e:  # the reader's code crashed: show on which input, and the error itself
        message = f"✗ {call_text}\n  raised {type(e).__name__}: {e}"
        if crash_hint:
            message += f"\n  hint:     {crash_hint}"
        raise CheckFailed(message) from e


def _grid(t: torch.Tensor) -> str:
    """A small tensor printed on its own lines (booleans as 0/1), for masks and id matrices."""
    shown = t.int() if t.dtype == torch.bool else t
    return "\n" + "\n".join("    " + line for line in str(shown.tolist() if shown.dim() < 2 else shown.numpy()).splitlines())


def _as_tensor(value: Any) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def _difference(got: torch.Tensor, expected: torch.Tensor) -> str:
    """Where and by how much two tensors of the same shape differ."""
    g, e = got.detach().double(), expected.detach().double()
    bad_nan = torch.isnan(g) & ~torch.isnan(e)
    if bad_nan.any():
        where = tuple(torch.nonzero(bad_nan)[0].tolist())
        return f"nan at index {list(where)}, where {e[where].item():.6g} was expected"
    diff = (g - e).abs().nan_to_num(nan=0.0, posinf=math.inf)
    diff = torch.where(torch.isinf(g) & torch.isinf(e) & (g == e), torch.zeros_like(diff), diff)
    flat = int(diff.argmax()) if diff.numel() else 0
    where = list(torch.unravel_index(torch.tensor(flat), diff.shape)) if diff.dim() else []
    idx = tuple(int(i) for i in where)
    return (f"values that differ by up to {diff.max().item():.3g}: at index {list(idx)} "
            f"{g[idx].item():.6g} instead of {e[idx].item():.6g}")


def _matches(got: Any, candidate: Any, atol: float, rtol: float) -> bool:
    """Whether `got` is `candidate`: tensors (or a tensor and a number or list) by shape and values within
    tolerance, a number and a float within tolerance, anything else (sets, dicts, lists, tuples, strings) by ==."""
    try:
        if isinstance(candidate, torch.Tensor) or isinstance(got, torch.Tensor):
            g, c = _as_tensor(got).detach(), _as_tensor(candidate).detach()
            return g.shape == c.shape and torch.allclose(g.double(), c.double(), atol=atol, rtol=rtol, equal_nan=True)
        if isinstance(candidate, float) and isinstance(got, (int, float)):
            return math.isclose(got, candidate, rel_tol=rtol, abs_tol=atol)
        return bool(got == candidate)
    except Exception:  # a mistake that cannot even be compared is not this mistake
        return False


def diagnose(got: Any, mistakes: dict[str, Callable[[], Any]] | None, default: str | None = None,
             atol: float = 0.0, rtol: float = 0.0) -> str | None:
    """The hint of the first known mistake whose result matches `got` (see `_matches`), else `default`.

    `mistakes` maps a hint to a function computing what that mistake would return; they are tried in order.
    """
    for hint, wrong in (mistakes or {}).items():
        if _matches(got, wrong(), atol, rtol):
            return hint
    return default


def expect_close(call_text: str, got: Any, expected: torch.Tensor | float, *, atol: float = 1e-5, rtol: float = 1e-5,
                 mistakes: dict[str, Callable[[], Any]] | None = None, hint: str | None = None) -> None:
    """Fail unless `got` equals `expected` within tolerance (same shape for tensors).

    `mistakes` maps a hint to a function computing what a known mistake would return; when `got` matches one,
    that hint is shown instead of the generic `hint`.
    """
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            fail(call_text, f"a tensor of shape {tuple(expected.shape)}", f"a {type(got).__name__}: {describe(got)}",
                 "return a torch.Tensor")
        if got.shape != expected.shape:
            fail(call_text, f"shape {tuple(expected.shape)}", f"shape {tuple(got.shape)}",
                 diagnose(got, mistakes, hint, atol, rtol))
        if not torch.allclose(got.detach().double(), expected.detach().double(), atol=atol, rtol=rtol, equal_nan=True):
            fail(call_text, describe(expected) if expected.numel() <= 8 else "the reference's values",
                 _difference(got, expected), diagnose(got, mistakes, hint, atol, rtol))
        return
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got_value = got.item()
    elif isinstance(got, (int, float)) and not isinstance(got, bool):
        got_value = got
    else:
        fail(call_text, f"a number close to {expected:.6g}", f"{type(got).__name__}: {describe(got)}", hint)
    if not math.isclose(got_value, expected, rel_tol=rtol, abs_tol=atol):
        fail(call_text, f"{expected:.6g}", f"{got_value:.6g}", diagnose(got_value, mistakes, hint, atol, rtol))


def expect_equal(call_text: str, got: Any, expected: Any, *, mistakes: dict[str, Callable[[], Any]] | None = None,
                 hint: str | None = None) -> None:
    """Fail unless `got == expected` exactly (tensors: same shape, dtype kind and values)."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            fail(call_text, describe(expected), f"a {type(got).__name__}: {describe(got)}", "return a torch.Tensor")
        if expected.dtype == torch.bool and got.dtype != torch.bool:
            fail(call_text, "a torch.bool tensor", f"dtype {got.dtype}", "compare (<=, ==) or use .bool()")
        same = got.shape == expected.shape and torch.equal(got.to(expected.dtype), expected)
        if not same:
            shown = describe(got) if got.shape != expected.shape or got.numel() > 64 else _grid(got)
            want = describe(expected) if expected.numel() > 64 else _grid(expected)
            fail(call_text, want, shown, diagnose(got, mistakes, hint))
        return
    if got != expected or type(got) is not type(expected) and not (isinstance(got, int) and isinstance(expected, int)):
        fail(call_text, describe(expected, 200), describe(got, 200), diagnose(got, mistakes, hint))


def expect_count(call_text: str, got: Any, expected: int, *, mistakes: dict[str, Callable[[], Any]],
                 hint: str) -> None:
    """`expect_equal` for a count, which must come back as a Python int (a float is named as such)."""
    if isinstance(got, float) and got == expected:
        fail(call_text, f"the int {expected:,}", f"the float {got:,}",
             "the number is right but it is a float: use // instead of /, or int(...)")
    expect_equal(call_text, got, expected, mistakes=mistakes, hint=hint)


def expect_raises(call_text: str, fn: Callable, args: Sequence[Any], error: type[BaseException], hint: str) -> None:
    """Fail unless `fn(*args)` raises `error` (a stub's NotImplementedError still counts as not written)."""
    try:
        fn(*args)
    except NotImplementedError:
        call(fn, *args)  # reports "not written yet"
    except error:
        return
    except Exception as e:
        fail(call_text, f"{error.__name__}", f"{type(e).__name__}: {e}", hint)
    else:
        fail(call_text, f"{error.__name__}", "no error", hint)


def show_config(config: GPTConfig) -> str:
    """A config as the reader would write it: a preset with its overrides, or the fields that differ from defaults."""
    def changes(base: GPTConfig) -> list[str]:
        return [f"{f.name}={getattr(config, f.name)!r}" for f in dataclasses.fields(config)
                if getattr(config, f.name) != getattr(base, f.name)]

    name = min(PRESETS, key=lambda n: (len(changes(PRESETS[n])), n))
    if len(changes(PRESETS[name])) <= 1:
        return f"GPTConfig.from_name({', '.join([repr(name), *changes(PRESETS[name])])})"
    return f"GPTConfig({', '.join(changes(GPTConfig()))})"


_META_MODELS: dict[GPTConfig, GPT] = {}


def meta_model(config: GPTConfig) -> GPT:
    """GPT(config) on the meta device: real parameter shapes, no memory, no random numbers drawn. Built once per
    config (a frozen GPTConfig is its own key) and shared by every check."""
    if config not in _META_MODELS:
        with torch.device("meta"):
            _META_MODELS[config] = GPT(config)
    return _META_MODELS[config]


def seeded_model(config: GPTConfig, seed: int) -> GPT:
    """GPT(config) with the weights that `torch.manual_seed(seed)` gives, leaving the global random state alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPT(config)
