"""Round 51: the built-in note's blind spots, as a learner meets them (``built_ins``).

1. A lib module's own tensors read, not called: ``SinusoidalPositionalEncoding(d, max_len=L).pe``,
   ``pe_module.pe[:L]`` of one built before the function (in the notebook, in a dict of them).
   The tensors an instance of a class the exercise names holds itself (its buffers, parameters
   and tensor attributes; not its sub-modules', which an exercise may hand the learner) count
   as that class's output: from the call that built it, where the learner's function built
   it; from where the learner's code reads them otherwise (``lib_tensors``, ``own_tensors``).
2. The built-in's numbers laundered through Python: ``torch.tensor(x.tolist())``, ``x.numpy()``
   then ``torch.tensor`` or ``torch.from_numpy``, ``.item()`` one number at a time. The lists,
   arrays and numbers a marked tensor turns into keep its marks (``keep``, ``laundered``).
3. A built-in compiled, ``torch.jit.script(F.softmax)`` or ``torch.jit.trace``: the compiled
   code calls torch in C++, where no mode or hook sees it. A compiled function the learner's
   code reaches is looked into (its graph) and, where it runs one of the exercise's built-ins,
   stands in for it while the learner's function runs (``compiled_stand_ins``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType, FunctionType

import torch
from torch import nn

try:  # numpy is optional for torch
    import numpy as np

    _ARRAY: tuple[type, ...] = (np.ndarray,)
except ImportError:  # pragma: no cover
    _ARRAY = ()

_SCAN_DEPTH = 2  # a global dict of modules, a list of them: one level of containers down


# --- 1. a lib module's own tensors ---


def own_tensors(obj: object) -> list[torch.Tensor]:
    """The tensors ``obj`` holds itself: an nn.Module's own buffers and parameters (not its
    sub-modules'), and any tensor attribute."""
    found: list[torch.Tensor] = []
    if isinstance(obj, nn.Module):
        found += [t for _, t in obj.named_buffers(recurse=False)]
        found += [t for _, t in obj.named_parameters(recurse=False)]
    found += [v for v in getattr(obj, "__dict__", {}).values() if isinstance(v, torch.Tensor)]
    return found


def _names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return names


def reached(learner_fn: Callable) -> Iterator[object]:
    """What the learner's function reaches by name: the globals its code (and its inner
    functions' code) names, its closure and its defaults, one level of containers down."""
    fn = inspect.unwrap(learner_fn)
    while isinstance(fn, functools.partial):
        fn = fn.func
    if not isinstance(fn, FunctionType):
        return
    values = [fn.__globals__[n] for n in _names(fn.__code__) if n in fn.__globals__]
    values += [c.cell_contents for c in fn.__closure__ or () if _has_contents(c)]
    values += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    yield from _down(values, _SCAN_DEPTH)


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (an empty cell raises)
    except ValueError:
        return False
    return True


def _down(values: list, depth: int) -> Iterator[object]:
    for value in values:
        yield value
        if depth > 0 and isinstance(value, dict):
            yield from _down(list(value.values())[:1000], depth - 1)
        elif depth > 0 and isinstance(value, list | tuple):
            yield from _down(list(value)[:1000], depth - 1)


def lib_tensors(learner_fn: Callable, classes: tuple[type, ...]) -> list[tuple[torch.Tensor, str]]:
    """The own tensors of the instances of ``classes`` the learner's function reaches (built
    before it runs), each with what the verdict calls it: "lib's SinusoidalPositionalEncoding"."""
    if not classes:
        return []
    found = []
    for value in reached(learner_fn):
        if isinstance(value, classes):
            found += [(t, f"lib's {type(value).__name__}") for t in own_tensors(value)]
    return found


# --- 2. laundered through Python ---

_LAUNDERED = (list, float, *_ARRAY)  # what .tolist(), .item() and .numpy() give


def keep(kept: dict, out: object, sources: frozenset) -> None:
    """``out`` (a list, a number or an array a marked tensor turned into) keeps ``sources``,
    and so do its rows (a slice of the list keeps them)."""
    if isinstance(out, bool) or not isinstance(out, _LAUNDERED):
        return
    kept[id(out)] = (out, sources)
    if isinstance(out, list):
        for row in out:
            if isinstance(row, list):
                kept[id(row)] = (row, sources)


def laundered(kept: dict, value: object, depth: int = 0) -> frozenset:
    """The marks of what ``value`` holds among ``kept``'s lists, numbers and arrays (an array's
    bases too: a slice of it), a few levels down."""
    found: frozenset = frozenset()
    item = value
    while item is not None:
        entry = kept.get(id(item))
        if entry is not None and entry[0] is item:
            return entry[1]
        item = getattr(item, "base", None) if _ARRAY and isinstance(item, _ARRAY) else None
    if depth < 3 and isinstance(value, list | tuple):
        for v in value:
            found |= laundered(kept, v, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for v in value.values():
            found |= laundered(kept, v, depth + 1)
    return found


def shares_storage(t: torch.Tensor, marked: dict) -> frozenset:
    """The marks of a marked tensor whose memory ``t`` shows (torch.from_numpy(x.numpy()))."""
    try:
        ptr = t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return frozenset()
    found: frozenset = frozenset()
    for other, sources in marked.values():
        try:
            if ptr and other.untyped_storage().data_ptr() == ptr:
                found |= sources
        except (RuntimeError, NotImplementedError):
            continue
    return found


# --- 3. compiled ---

_COMPILED = (torch.jit.ScriptFunction, torch.jit.ScriptModule)


def _graph_ops(compiled: object) -> set[str]:
    """The aten ops a compiled function's (inlined) graph runs: {"softmax", "layer_norm", …}."""
    try:
        graph = getattr(compiled, "inlined_graph", None) or compiled.graph
        kinds = set(_kinds(graph.nodes()))
    except (AttributeError, RuntimeError):
        return set()
    return {k.split("::", 1)[1] for k in kinds if k.startswith("aten::")}


def _kinds(nodes) -> Iterator[str]:
    for node in nodes:  # an if's branches, a loop's body: blocks inside the node
        yield node.kind()
        for block in node.blocks():
            yield from _kinds(block.nodes())


def _lib_name(compiled: object, lib_names: dict[str, str]) -> str | None:
    qualified = getattr(compiled, "qualified_name", "") or ""
    return next((said for name, said in lib_names.items() if qualified.endswith("." + name)), None)


@contextmanager
def compiled_stand_ins(
    learner_fn: Callable, torch_names: dict[str, str], lib_names: dict[str, str], mark: Callable
) -> Iterator[None]:
    """While the block runs, each compiled function among the learner's function's globals
    that runs one of ``torch_names`` (an aten op, as ``TorchFunctionMode`` names the torch
    function) or is one of ``lib_names`` (function name → its name in the verdict) is replaced
    by a stand-in that calls it and gives its result to ``mark(result, said, frame of the
    call)``; put back after."""
    fn = inspect.unwrap(learner_fn)
    while isinstance(fn, functools.partial):
        fn = fn.func
    swapped: list[tuple[dict, str, object]] = []
    if isinstance(fn, FunctionType):
        space = fn.__globals__
        for name in _names(fn.__code__):
            compiled = space.get(name)
            if not isinstance(compiled, _COMPILED):
                continue
            said = _lib_name(compiled, lib_names)
            said = said or next((op for op in sorted(_graph_ops(compiled)) if op in torch_names), None)
            if said is not None:
                swapped.append((space, name, compiled))
                space[name] = _stand_in(compiled, said, mark)
    try:
        yield
    finally:
        for space, name, compiled in reversed(swapped):
            space[name] = compiled


def _stand_in(compiled: object, said: str, mark: Callable) -> Callable:
    def stand_in(*args, **kwargs):
        out = compiled(*args, **kwargs)
        mark(out, said, inspect.currentframe().f_back)
        return out

    return stand_in
