"""A right answer that calls the very function its exercise asks the learner to write.

Some exercises ask for a function that PyTorch, or the course's own lib, already has, and
their instructions say not to use it: chapter 01's cosine similarity (not
``F.cosine_similarity`` nor lib's ``similarity_matrix``), 04's softmax (not ``torch.softmax``),
06's masked weights (no ``masks.py`` or ``attention.py``), 07's LayerNorm (written out, not
``F.layer_norm``); 05's multi-head attention is what ``nn.MultiheadAttention`` computes. Such
an answer gives the reference's numbers, so it passes; the verdict's note then quotes the call that
did the work, so the learner knows the exercise is still theirs to write.

The learner's function is run once more on one case: a ``TorchFunctionMode`` records the
torch functions it calls, by name, and a profile hook the lib functions it calls, by their
module's file; each where the learner's own code called it (``call_sites``). A call made
inside lib (a module the learner was handed, an allowed helper) is not the learner's.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import CodeType, ModuleType

import torch
from torch.overrides import TorchFunctionMode

from .call_sites import call_site, site_of, source_of
from .cases import fresh
from .failure import torch_name
from .result import Result
from .time_limit import LIMIT_S, TookTooLong, time_limit

_LIB = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # transformer_course/
_TORCH = os.path.dirname(torch.__file__) + os.sep


@dataclass(frozen=True)
class BuiltIns:
    """What an exercise asks the learner to write, where it already exists: ``torch``, torch
    function names as ``TorchFunctionMode`` sees them ("softmax" for torch.softmax, F.softmax,
    x.softmax and nn.Softmax alike) → how the verdict calls them; ``lib``, lib modules whose
    every function is the exercise's answer, or part of it; ``instead``, how to write it."""

    torch: dict[str, str]
    instead: str
    lib: tuple[ModuleType | Callable, ...] = ()  # lib modules, or single functions of lib

    def targets(self) -> tuple[frozenset[str], frozenset[CodeType]]:
        """The files of ``lib``'s modules and the code of its functions, as the hook sees them."""
        files = frozenset(os.path.abspath(m.__file__) for m in self.lib if isinstance(m, ModuleType))
        codes = frozenset(f.__code__ for f in self.lib if hasattr(f, "__code__"))
        return files, codes


class _Calls(TorchFunctionMode):
    """Records the first call of each torch function in ``names`` made from outside lib."""

    def __init__(self, names: frozenset[str]) -> None:
        super().__init__()
        self.names = names
        self.found: dict[str, tuple | None] = {}  # what the verdict calls it → its call site

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = torch_name(func)
        if name in self.names and name not in self.found:
            site = call_site()
            if site is None or not site[0].startswith(_LIB):
                self.found[name] = site
        return func(*args, **(kwargs or {}))


def _lib_hook(files: frozenset[str], codes: frozenset[CodeType], found: dict) -> Callable:
    """A profile hook that records the first call of each function in ``files`` or ``codes``
    made from outside lib and torch (a module's __call__ calling its forward is torch's)."""

    def hook(frame, event, arg):
        code = frame.f_code
        if event != "call" or frame.f_back is None or not (code in codes or code.co_filename in files):
            return
        caller = frame.f_back
        if caller.f_code.co_filename.startswith(_TORCH):  # a module's forward, run by its __call__
            site = _outside(caller)
            if site is None:
                return
        elif caller.f_code.co_filename.startswith(_LIB):  # lib calling itself: not the learner
            return
        else:
            site = site_of(caller)
        found.setdefault(f"lib's {code.co_qualname.split('.')[0]}", site)  # a method: its class

    return hook


def _outside(frame) -> tuple | None:
    """The site of the first frame below ``frame`` outside torch, the learner's ``mha(x)`` for
    the forward torch's Module.__call__ runs; None where that frame is lib's own."""
    while frame is not None and frame.f_code.co_filename.startswith(_TORCH):
        frame = frame.f_back
    if frame is None or frame.f_code.co_filename.startswith(_LIB):
        return None
    return site_of(frame)


def calls_of(learner_fn: Callable, case: tuple, given: BuiltIns, seed: int = 0) -> dict[str, tuple | None]:
    """The functions of ``given`` that ``learner_fn(*case)`` calls from its own code: what the
    verdict calls each → where (None: not known). Nothing where it fails or runs out of time
    this time (it passed the check, so it failed at random: say nothing rather than half)."""
    calls = _Calls(frozenset(given.torch))
    files, codes = given.targets()
    found: dict[str, tuple | None] = {}
    before = sys.getprofile()
    try:
        quiet = contextlib.redirect_stdout(io.StringIO())  # its prints were shown once
        with torch.random.fork_rng(devices=[]), time_limit(LIMIT_S), quiet:
            torch.manual_seed(seed)
            sys.setprofile(_lib_hook(files, codes, found) if files or codes else before)
            try:
                with calls:
                    learner_fn(*fresh(case))
            finally:
                sys.setprofile(before)
    except (TookTooLong, Exception, SystemExit):
        return {}
    return {**{given.torch[name]: site for name, site in calls.found.items()}, **found}


def _quoted(name: str, site: tuple | None) -> str:
    """How the verdict names a call: "your `nn.Softmax(-1)(s)` on line 3", "your `mha(x, x, x)`
    on line 5 (nn.MultiheadAttention)", or "your call of torch.softmax"."""
    text = source_of(site)
    if not text:
        return f"your call of {name}"
    bare = name.split()[-1].split(".")[-1].lower().replace("_", "")  # "softmax", "layernorm"
    said = bare in text.lower().replace("_", "")  # nn.LayerNorm(d)(x) says F.layer_norm
    return f"your `{text}` on line {site[2]}" + ("" if said else f" ({name})")


def note_built_ins(
    result: Result, learner_fn: Callable, case: tuple, given: BuiltIns, seed: int = 0
) -> Result:
    """``result`` with a note added where it passed and the learner's function calls one of
    ``given``'s functions; otherwise ``result`` as it is. A note, not a warning: the code is
    right, and in a model of one's own the library's function is the better choice; it is the
    exercise that is left undone."""
    if not result.passed:
        return result
    found = calls_of(learner_fn, case, given, seed)
    if not found:
        return result
    quotes = [_quoted(name, site) for name, site in found.items()]
    listed = quotes[0] if len(quotes) == 1 else ", ".join(quotes[:-1]) + " and " + quotes[-1]
    note = (" Also, " if result.warning else " But ") + (
        f"{listed} {'does' if len(quotes) == 1 else 'do'} the work this exercise asks you to write "
        f"yourself: {given.instead}"
    )
    return replace(result, message=result.message + note, note=result.note + note)
