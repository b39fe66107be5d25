"""A right answer that calls the very function its exercise asks the learner to write.

Some exercises ask for a function that PyTorch, or the course's own lib, already has, and
their instructions say not to use it: chapter 01's cosine similarity (not
``F.cosine_similarity`` nor lib's ``similarity_matrix``), 04's softmax (not ``torch.softmax``),
06's masked weights (no ``masks.py`` or ``attention.py``), 07's LayerNorm (written out, not
``F.layer_norm``); 05's multi-head attention is what ``nn.MultiheadAttention`` computes; and
the others whose answer lib has at hand, 02's encoding to 09's top-p (``asked_for``). Such
an answer gives the reference's numbers, so it passes; the verdict's note then quotes the call that
did the work, so the learner knows the exercise is still theirs to write.

The learner's function is run once more on each case, up to the first where it calls one: a
``TorchFunctionMode`` records the torch functions it calls, by name, and a profile hook the lib
functions it calls, by their module's file or their code; each where the learner's own code
called it (``call_sites``); what each returns is marked, and the marks pass on through every
torch function, so that only a call the answer is computed from counts. Not counted: a call
that only checks the answer (an assert, an allclose, a print), one whose every value the
learner's own numbers wrote over (``overwrites``), and one made inside lib (a module the
learner was handed, an allowed helper).
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import CodeType, FunctionType, ModuleType

import torch
from torch.overrides import TorchFunctionMode

from .built_ins_round51 import compiled_stand_ins, keep, laundered, lib_tensors, own_tensors, shares_storage
from .call_sites import site_of, source_of
from .cases import fresh
from .failure import torch_name
from .overwrites import EVERY, Overwrites, Region, overwrite
from .quietly import quietly
from .result import Result
from .time_limit import LIMIT_S, TookTooLong, time_limit

_LIB = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # transformer_course/
_TORCH = os.path.dirname(torch.__file__) + os.sep
ITSELF = "itself"  # the site of a call the learner's function IS: cosine_similarity = similarity_matrix


@dataclass(frozen=True)
class BuiltIns:
    """What an exercise asks the learner to write, where it already exists: ``torch``, torch
    function names as ``TorchFunctionMode`` sees them ("softmax" for torch.softmax, F.softmax,
    x.softmax and nn.Softmax alike) → how the verdict calls them; ``lib``, lib modules, classes
    or functions that compute the exercise's answer, or part of it; ``instead``, how to write it."""

    torch: dict[str, str]
    instead: str
    lib: tuple[ModuleType | type | Callable, ...] = ()

    def targets(self) -> tuple[frozenset[str], frozenset[CodeType]]:
        """The files of ``lib``'s modules and the code of its functions and of its classes'
        methods (unwrapped: a method under @torch.no_grad() shares its wrapper's code with every
        function so decorated in torch), as the profile hook sees them."""
        files = frozenset(os.path.abspath(m.__file__) for m in self.lib if isinstance(m, ModuleType))
        functions = [f for item in self.lib if isinstance(item, type) for f in vars(item).values()]
        functions += [f for f in self.lib if not isinstance(f, ModuleType | type)]
        codes = (getattr(inspect.unwrap(f), "__code__", None) for f in functions if callable(f))
        return files, frozenset(c for c in codes if c is not None and c.co_filename.startswith(_LIB))


def _site(frame) -> tuple | str | None:
    """Where the learner called a built-in whose own frame (or torch's dispatch) is above
    ``frame``: the first frame outside torch, as ``site_of`` gives it; ``ITSELF`` where that
    is ``calls_of`` (the learner's function is the built-in); None where it is lib's own code."""
    while frame is not None and frame.f_code.co_filename.startswith(_TORCH):
        frame = frame.f_back
    if frame is None:
        return None
    if frame.f_code is calls_of.__code__:
        return ITSELF
    return None if frame.f_code.co_filename.startswith(_LIB) else site_of(frame)


class _Flow:
    """Which of the learner's built-in calls each tensor was computed from: a call is (its
    order, what the verdict calls it, its site). A built-in that only checks the answer (an
    assert, an allclose, a print) reaches no tensor the learner's function returns."""

    def __init__(self) -> None:
        self.calls = 0
        self.of: dict[int, tuple[torch.Tensor, frozenset]] = {}  # id → (it, kept alive; its calls)
        self.overwrites = Overwrites()
        self.kept: dict[int, tuple[object, frozenset]] = {}  # lists, numbers, arrays: round 51
        self.owned: dict[int, tuple[torch.Tensor, str, tuple | None]] = {}  # a lib module's own

    def own(self, tensors: list[torch.Tensor], name: str, site: tuple | None) -> None:
        """``tensors``, a lib module's own, count as ``name``'s output (``site``: where the
        learner built it; None: where its code reads them)."""
        for t in tensors:
            self.owned.setdefault(id(t), (t, name, site))

    def read(self, value: object, frame) -> frozenset:
        """The calls a lib module's own tensors among ``value`` stand for, read by the learner's
        code (``frame``, or a torch frame above it), not by lib's."""
        found: frozenset = frozenset()
        for t in _tensors(value):
            entry = self.owned.get(id(t))
            if entry is not None and entry[0] is t:
                site = entry[2] or _site(frame)
                if site is not None and site != ITSELF:
                    found |= self.call(entry[1], site)
        return found

    def call(self, name: str, site: tuple | str) -> frozenset:
        self.calls += 1
        return frozenset({(self.calls, name, site)})

    def sources(self, value: object) -> frozenset:
        found: frozenset = laundered(self.kept, value) if self.kept else frozenset()
        for t in _tensors(value):
            entry = self.of.get(id(t))
            if entry is not None and entry[0] is t:
                found |= entry[1]
        return found

    def mark(self, value: object, sources: frozenset) -> None:
        for t in _tensors(value):
            entry = self.of.get(id(t))
            had = entry[1] if entry is not None and entry[0] is t else frozenset()
            self.of[id(t)] = (t, had | sources)

    def unmark(self, t: torch.Tensor) -> None:
        if self.sources(t):
            del self.of[id(t)]
        self.overwrites.forget(t)

    def write(self, target: torch.Tensor, region: Region, sources: frozenset, whole: bool) -> None:
        """``region`` of ``target`` written in place with values from ``sources`` (none: the
        learner's own): on ``target`` and the base it is a view of, whose storage it writes."""
        if whole:  # the old values, and their marks, are gone
            self.unmark(target)
        t = target
        while t is not None:
            if sources:
                self.mark(t, sources)
                self.overwrites.uncover(t, target, region)
            elif self.sources(t) and self.overwrites.cover(t, target, region):
                self.unmark(t)  # every element written over with the learner's own numbers
            t = t._base


def _tensors(value: object, depth: int = 0) -> list[torch.Tensor]:
    """The tensors in ``value``, those inside tuples, lists and dicts too (a few levels)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if depth < 3 and isinstance(value, tuple | list):
        return [t for v in value for t in _tensors(v, depth + 1)]
    if depth < 3 and isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v, depth + 1)]
    return []


# Functions whose tensors give a result only their shape or dtype, not their values: no marks
# from them (empty_like(ref), filled with the learner's own numbers, is not the built-in's).
_SHAPE_ONLY = frozenset(
    ("empty_like", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "randint_like")
    + ("new_empty", "new_zeros", "new_ones", "new_full")
)
_SHAPE_OF_THE_OTHER = frozenset(("view_as", "reshape_as", "expand_as", "type_as", "to"))  # mine.to(ref)


class _Calls(TorchFunctionMode):
    """Marks what the learner's calls of the torch functions in ``names`` return, and passes
    the marks on through every torch function after them (``_Flow``): to what it returns and,
    where it writes in place (``out[i] = …``, ``out.copy_(…)``), to the tensor written and the
    tensor a view of it shows; a tensor whose every element the learner's own values wrote over
    loses its marks (``overwrites``)."""

    def __init__(self, names: frozenset[str], flow: _Flow) -> None:
        super().__init__()
        self.names, self.flow = names, flow

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = torch_name(func)
        in_place = name == "__setitem__" or (name.endswith("_") and not name.startswith("_"))
        target = args[0] if in_place and args and isinstance(args[0], torch.Tensor) else None
        replaced = overwrite(name, args) if target is not None else None  # (region, whole)
        sources = self._passed_on(name, args[1:] if replaced else args, kwargs)
        if self.flow.owned:  # round 51: a lib module's own tensors, read
            sources |= self.flow.read((args, kwargs), sys._getframe(1))
        if name in self.names:
            site = _site(sys._getframe(1))
            if site is not None:
                sources |= self.flow.call(name, site)
        if target is not None and (sources or (replaced and self.flow.of)):
            region, whole = replaced or (EVERY, False)
            self.flow.write(target, region, sources, whole)
        if sources:
            keep(self.flow.kept, out, sources)  # round 51: .tolist(), .item(), .numpy()
            for t in _tensors(out):
                while t is not None:  # a view shows its base's storage
                    self.flow.mark(t, sources)
                    t = t._base
        return out

    def _passed_on(self, name: str, args: tuple, kwargs: dict) -> frozenset:
        """The marks ``name``'s result takes from its arguments (for a write such as
        ``out[i] = v``, from the index and the values written)."""
        if not (self.flow.of or self.flow.kept) or name in _SHAPE_ONLY:  # nothing marked: fast
            return frozenset()
        if name in _SHAPE_OF_THE_OTHER:
            return self.flow.sources(args[:1])
        return self.flow.sources((args, kwargs))


def _lib_hook(
    files: frozenset[str], codes: frozenset[CodeType], flow: _Flow, classes: tuple = ()
) -> Callable:
    """A profile hook that marks what the learner's calls of the functions in ``files`` or
    ``codes`` return (a module's forward: called where the learner called the module)."""
    pending: dict = {}  # the frame of a call the learner made → its call

    def hook(frame, event, arg):
        code = frame.f_code
        if not (code in codes or code.co_filename in files):
            return
        if event == "call":
            site = _site(frame.f_back)
            if site is not None:
                pending[frame] = flow.call(
                    f"lib's {code.co_qualname.split('.')[0]}", site
                )  # a method: its class
        elif event == "return" and frame in pending:
            call = pending.pop(frame)
            flow.mark(arg, call)
            built = frame.f_locals.get("self")  # round 51: its own tensors, read later (.pe)
            if classes and isinstance(built, classes):
                ((_, name, site),) = call
                flow.own(own_tensors(built), name, site)

    return hook


def calls_of(learner_fn: Callable, case: tuple, given: BuiltIns, seed: int = 0) -> dict[str, tuple | str]:
    """The functions of ``given`` that ``learner_fn(*case)`` computes its answer with, called
    from its own code: what the verdict calls each → where (its first such call). Nothing where
    it fails or runs out of time this time (it passed the check, so it failed at random: say
    nothing rather than half). Under a profiler or a debugger's profile hook, lib's functions
    are not looked for (one hook at a time)."""
    flow, classes = _Flow(), tuple(c for c in given.lib if isinstance(c, type))
    files, codes = given.targets()
    hook = _lib_hook(files, codes, flow, classes) if (files or codes) and sys.getprofile() is None else None
    for t, name in lib_tensors(learner_fn, classes):  # round 51: lib modules built before
        flow.own([t], name, None)

    def compiled(out, name, frame):  # round 51: a built-in compiled (torch.jit)
        site = _site(frame)
        if site is not None:
            flow.mark(out, flow.call(name, site))

    lib_names = {f.__name__: f"lib's {f.__name__}" for f in given.lib if isinstance(f, FunctionType)}
    try:
        with torch.random.fork_rng(devices=[]), time_limit(LIMIT_S), quietly():
            torch.default_generator.manual_seed(seed)  # the CPU's, forked: not the notebook's GPU
            if hook is not None:
                sys.setprofile(hook)
            try:
                with (
                    _Calls(frozenset(given.torch), flow),
                    compiled_stand_ins(learner_fn, given.torch, lib_names, compiled),
                ):
                    value = learner_fn(*fresh(case))
            finally:
                if hook is not None:
                    sys.setprofile(None)
    except (TookTooLong, Exception, SystemExit):
        return {}
    found: dict[str, tuple | str] = {}
    for _, name, site in sorted(flow.sources(value) | _returned_as_is(value, flow), key=lambda call: call[0]):
        found.setdefault(given.torch.get(name, name), site)
    return found


def _returned_as_is(value: object, flow: _Flow) -> frozenset:
    """Round 51: a lib module's own tensor returned as it is (built by the learner's call: its
    site is known), or a tensor showing a marked one's memory (torch.from_numpy(x.numpy()))."""
    found: frozenset = frozenset()
    for t in _tensors(value):
        base = t if t._base is None else t._base
        entry = flow.owned.get(id(base))
        if entry is not None and entry[0] is base and entry[2] is not None:
            found |= flow.call(entry[1], entry[2])
        elif not flow.sources(t) and flow.of:
            found |= shares_storage(t, flow.of)
    return found


def _quoted(name: str, site: tuple | str, learner: str) -> str:
    """How the verdict names a call: "your `nn.Softmax(-1)(s)` on line 3", "your `mha(x, x, x)`
    on line 5 (nn.MultiheadAttention)", "your function, which is lib's similarity_matrix itself"."""
    if site == ITSELF:
        return f"your function, which is {name} itself,"
    text, where = source_of(site), f" on line {site[2]}" + (f" (in {site[1]})" if site[1] != learner else "")
    if not text:
        return f"your call of {name}{where}"
    bare = name.split()[-1].split(".")[-1].lower().replace("_", "")  # "softmax", "layernorm"
    said = bare in text.lower().replace("_", "")  # nn.LayerNorm(d)(x) says F.layer_norm
    return f"your `{text}`{where}" + ("" if said else f" ({name})")


def note_built_ins(
    result: Result, learner_fn: Callable, cases: list, given: BuiltIns, seed: int = 0
) -> Result:
    """``result`` with a note added where it passed and the learner's function, on one of
    ``cases`` (tried in turn, up to the first that shows one), calls one of ``given``'s
    functions; otherwise ``result`` as it is. A note, not a warning: the code is right, and in
    a model of one's own the library's function is the better choice; it is the exercise that
    is left undone. It goes before a warning, which stays the message's end."""
    if not result.passed:
        return result
    found = next((f for f in (calls_of(learner_fn, case, given, seed) for case in cases) if f), {})
    if not found:
        return result
    learner = getattr(inspect.unwrap(learner_fn), "__qualname__", "")
    quotes = [_quoted(name, site, learner) for name, site in found.items()]
    listed = quotes[0] if len(quotes) == 1 else ", ".join(quotes[:-1]) + " and " + quotes[-1]
    note = f" But {listed} {'does' if len(quotes) == 1 else 'do'} the work this exercise asks you to "
    note += f"write yourself: {given.instead}"
    base = result.message[: len(result.message) - len(result.warning)]
    return replace(result, message=base + note + result.warning, note=result.note + note)
