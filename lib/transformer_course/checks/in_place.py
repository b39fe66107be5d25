"""Whether a learner's function changed the arguments it was given, and the warning that says so.

The harness hands every call a deep copy of its inputs, so a function that changes them in place
(``x.sub_(…)``, ``x /= …``, ``scores.masked_fill_(…)``) still computes the right numbers and
passes. In the learner's notebook it is a bug waiting: the caller's tensor changes too, and a
later cell sees other numbers. So the harness keeps each copy it handed over, compares it with the
case after the call (``changed_arguments``), and a pass says what changed (``in_place_warning``).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable

import torch

# What changes a tensor in place, as a learner writes it: a method ending in one underscore
# (x.sub_(m), scores.masked_fill_(mask, v)), an augmented assignment (x /= n, x[0] -= 1), or an
# assignment into an item or a slice (x[:, 0] = 0), or a new tensor put in as its .data
# (past_k.data = keys, also after a ; on one line).
_METHOD = re.compile(r"\b(\w+)\.((?!requires_grad_)[a-z][a-z0-9_]*[a-z0-9]_|[a-z]_)\(")
_AUGMENTED = re.compile(r"\b(\w+)(\[[^\]\n]*\])?\s*(\*\*|//|[-+*/@%])=")
_ITEM = re.compile(r"^\s*(\w+)\[[^\]\n]*\]\s*=(?!=)", re.MULTILINE)
_DATA = re.compile(r"(?:^|;)\s*(\w+)\.data\s*=(?!=)", re.MULTILINE)


def changed_arguments(fn: Callable, given: tuple, case: tuple, reference: tuple | None = None) -> list[str]:
    """The names (in ``fn``'s own signature) of the arguments that differ, after the call, from
    the case they were copied from: a tensor's values, shape or dtype, a module's weights."""
    names = parameter_names(fn, len(case))
    theirs = case if reference is None else reference  # how the reference's call left them
    return [
        name
        for name, after, before, ref in zip(names, given, case, theirs, strict=True)
        if _differs(after, before) and _differs(after, ref)
    ]


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def parameter_names(fn: Callable, count: int) -> list[str]:
    """The names of ``fn``'s first ``count`` parameters ("argument #3" past them, or for *args)."""
    try:
        called = fn.forward if isinstance(fn, torch.nn.Module) else fn  # its __call__ takes *args
        params = [p.name for p in inspect.signature(called).parameters.values() if p.kind in _POSITIONAL]
    except (TypeError, ValueError):  # a builtin or a callable object without a signature
        params = []
    return [params[i] if i < len(params) else f"argument #{i + 1}" for i in range(count)]


def _differs(after: object, before: object) -> bool:
    if isinstance(before, torch.Tensor):
        return not isinstance(after, torch.Tensor) or not _same_tensor(after, before)
    if isinstance(before, torch.nn.Module):
        # Weights compared by value: layer.double() (a float64 answer) keeps them all.
        mine, theirs = after.state_dict(), before.state_dict()
        return mine.keys() != theirs.keys() or any(
            not _same_tensor(mine[k].to(theirs[k].dtype), theirs[k]) for k in theirs
        )
    if isinstance(before, list | tuple):
        return len(after) != len(before) or any(map(_differs, after, before))
    return False  # numbers, strings, generators, configs: nothing a learner would change by mistake


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal shape, dtype and values, a NaN equal to a NaN (an input may hold one on purpose)."""
    if b.layout != torch.strided or b.is_nested or b.is_meta:
        return True  # nothing to compare entry by entry: never a false warning
    if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
        return False
    with torch.no_grad():
        return bool(((a == b) | (a.isnan() & b.isnan()) if b.is_floating_point() else a == b).all())


def in_place_warning(fn: Callable, changed: list[str]) -> str:
    """What a passed verdict adds when ``fn`` changed its arguments ``changed``: which, by what
    operation in its code (where the code can be read), and how to compute into a new tensor."""
    names = list(dict.fromkeys(changed))  # each once, in order, though every input showed it
    what = " and ".join(f"its {n}" if n.startswith("argument #") else f"the {n} it was given" for n in names)
    op, fix = _operation(fn, names)
    return (
        f" But beware: it also changed {what} in place ({op}), so a caller's tensor, "
        f"a variable of your notebook, changes too and later cells see other numbers. Compute into "
        f"a new tensor instead: {fix}."
    )


def _learner_code(fn: Callable) -> Callable:
    """What holds the learner's code: the function under a checker's wrapper (``__wrapped__``),
    a partial's function, a module's ``forward``, or a callable object's ``__call__``."""
    fn = inspect.unwrap(fn)
    if isinstance(fn, functools.partial):
        return _learner_code(fn.func)
    if isinstance(fn, torch.nn.Module):  # its __call__ is torch's: the learner wrote forward
        return type(fn).forward
    if not inspect.isroutine(fn) and callable(fn):
        return type(fn).__call__
    return fn


def learner_source(fn: Callable) -> str:
    """The code of the learner's function (``_learner_code``), or "" where there is none to read
    (typed at a prompt, a builtin)."""
    try:
        return inspect.getsource(_learner_code(fn))
    except (OSError, TypeError):
        return ""


# A view keeps the argument's storage: what a name made from it this way writes into it.
_VIEW = (
    r"(?=[ \t]*(?:#|$)|\[|\."
    r"(?:view|reshape|transpose|permute|unsqueeze|squeeze|flatten|float|to|contiguous|T|mT|t)\b)"
)


def _aliases(source: str, names: list[str]) -> set[str]:
    """The names the code gives an argument, or a view of it, without copying it (v = vectors,
    labels = trg[:, 1:]): writing into them writes into the argument."""
    args = "|".join(re.escape(n) for n in names if n.isidentifier())
    if not args:
        return set()
    made = re.compile(rf"^\s*(\w+)\s*=\s*(?:{args})\b{_VIEW}", re.MULTILINE)
    return {m.group(1) for m in made.finditer(source)}


def _operation(fn: Callable, names: list[str]) -> tuple[str, str]:
    """The in-place operation found in ``fn``'s code, on one of ``names`` where possible, and
    its out-of-place form."""
    source = learner_source(fn)
    patterns = (_METHOD, _AUGMENTED, _ITEM, _DATA)
    found = [(m.start(), m) for pattern in patterns for m in pattern.finditer(source)]
    aliases = _aliases(source, names)
    # The argument's own operations first, then those on another name for it, then the rest.
    found.sort(key=lambda pair: (pair[1].group(1) not in names, pair[1].group(1) not in aliases, pair[0]))
    if not found:
        return (
            "a method ending in _, such as .sub_(), or x -= …",
            "the same method without the underscore, its result kept (x = x.sub(m)), or x = x - m",
        )
    match = found[0][1]
    var = match.group(1)
    if match.re is _METHOD:
        method = match.group(2)
        return f"{var}.{method}(…)", _out_of_place(var, method, source[match.end() :])
    if match.re is _AUGMENTED and not match.group(2):
        sign = match.group(3)
        return f"{var} {sign}= …", f"{var} = {var} {sign} … makes a new tensor"
    if match.re is _DATA:  # the caller's tensor now holds the new numbers: no method, no sign
        return (
            f"{var}.data = …, which puts the new tensor inside the caller's",
            f"keep it under a name of its own and return that, leaving {var}.data alone",
        )
    written = f"{match.group(3)}=" if match.re is _AUGMENTED else "="
    return f"{var}[…] {written} …", f"copy it first, {var} = {var}.clone(), then write into the copy"


# In-place methods without an out-of-place twin of the same name (torch.Tensor has no .zero,
# .fill, .copy): what makes the new tensor instead.
_NEW_TENSOR = {
    "zero_": "{var} = torch.zeros_like({var}), a new tensor of zeros",
    "fill_": "{var} = torch.full_like({var}, {arg}), a new tensor of that value",
    "copy_": "{var} = {arg}.clone(), a new tensor with the same numbers",
}


def _out_of_place(var: str, method: str, rest: str) -> str:
    """How to write ``var.method(…)`` without changing ``var``: the method without its underscore
    where torch.Tensor has one, else a function that makes a new tensor, else a copy first."""
    if hasattr(torch.Tensor, method[:-1]):
        # An assignment, not the bare call: without the underscore the result is a new tensor,
        # and a line that drops it (scores.masked_fill(…) alone) leaves the scores unmasked.
        return f"{var} = {var}.{method[:-1]}(…): without the underscore it returns a new one"
    argument = re.match(r"\s*([^(),\n]+?)\s*\)", rest)  # one simple argument, as written: 0.0, other
    if method in _NEW_TENSOR and (method == "zero_" or argument):
        return _NEW_TENSOR[method].format(var=var, arg=argument.group(1) if argument else "")
    return f"copy it first, {var} = {var}.clone(), then call .{method}(…) on the copy"
