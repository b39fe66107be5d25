"""A learner's function that is not the one on their screen: its cell last stopped with an error.

In a notebook, a cell that fails to compile (a bracket left open) defines nothing, so the
name still holds the function from the run before, perhaps a right answer. A checker run
next would judge that old function: "✔ passed" under code that does not parse. Each
``check_<name>`` is wrapped in ``learner_check``, which compares two cell numbers: the cell
the learner's function was compiled in, and the newest cell that defines its name. When the
newer cell stopped with an error, the function is older than the code on the screen, and the
check says so instead of judging it. This holds however many cells ran in between (the check
run again, a scratch cell, a front end's silent requests). A function that was not compiled
from a cell (imported, %run, exec, a cell magic's own compile) is never refused. Outside
IPython (scripts, tests) nothing changes.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable

from .harness import ERROR, Result, defaults_kept


def learner_check(check: Callable[[Callable], Result]) -> Callable[[Callable], Result]:
    """``check`` (a ``check_<name>(learner_fn)``), first refusing a function its cell failed to
    define again."""

    @functools.wraps(check)
    def run(learner_fn: Callable) -> Result:
        with defaults_kept():  # every call of the learner's function, the notes' after the check too
            stale = stale_definition(learner_fn)
            return stale if stale is not None else check(learner_fn)

    return run


def stale_definition(learner_fn: Callable) -> Result | None:
    """An ERROR result when a cell run after the one that compiled ``learner_fn`` defines its
    name and stopped with an error; None otherwise (and outside IPython)."""
    shell = _shell()
    name = getattr(learner_fn, "__name__", None)
    if shell is None or not isinstance(name, str) or not name.isidentifier():
        return None
    born = _cell_of(shell, learner_fn)
    if born is None:
        return None  # not compiled from a cell: a module, a %run file, exec, %%time
    error = _failed_since(shell, name, born)
    if error is None:
        return None
    return Result(
        ERROR,
        f"The cell that defines {name} stopped with {error} when you last ran it, so {name} is "
        "still the version from before: this check would judge that one, not the code on your "
        "screen. Mend that cell and run it, then run this one again.",
    )


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:  # lib without IPython: scripts
        return None
    return get_ipython()


def _defines(source: str, name: str) -> bool:
    pattern = rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*[\[(]"  # ( or [T](
    return re.search(pattern, source, re.M) is not None


def _cell_of(shell, learner_fn: Callable) -> int | None:
    """The execution count of the cell ``learner_fn`` was compiled in; None if not a cell.

    Decorators made with functools.wraps (``@torch.no_grad()``) are looked through. IPython's
    compiler (ipykernel's too) maps each cell's code name to its count as it compiles it."""
    code = getattr(inspect.unwrap(learner_fn), "__code__", None)
    cells = getattr(getattr(shell, "compile", None), "_filename_map", None)
    if code is None or not isinstance(cells, dict):
        return None
    number = cells.get(code.co_filename)
    return number if isinstance(number, int) else None


def _failed_since(shell, name: str, born: int) -> str | None:
    """The error's type name, if the newest cell after cell ``born`` that defines ``name``
    stopped with one; None if that cell ran cleanly or no later cell defines ``name``."""
    history = getattr(shell, "history_manager", None)
    sources = getattr(history, "input_hist_raw", None)
    if not isinstance(sources, list):
        return None
    errors = getattr(history, "exceptions", None)  # IPython ≥ 9: every failed cell, by number
    for number in range(len(sources) - 1, born, -1):
        if not _defines(sources[number], name):
            continue
        if isinstance(errors, dict):
            stored = errors.get(number)
            return stored.get("ename", "an error") if isinstance(stored, dict) else None
        return _last_cell_error(shell, number)  # older IPython: only the last cell is known
    return None


def _last_cell_error(shell, number: int) -> str | None:
    last = getattr(shell, "last_execution_result", None)
    if last is None or last.success or last.execution_count != number:
        return None
    error = last.error_before_exec or last.error_in_exec
    return type(error).__name__ if error is not None else "an error"
