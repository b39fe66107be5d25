"""A learner's function that is not the one on their screen: its cell last stopped with an error.

In a notebook, a cell that fails to compile (a bracket left open) defines nothing, so the
name still holds the function from the run before, perhaps a right answer. A checker run
next would judge that old function: "✔ passed" under code that does not even parse. Each
``check_<name>`` is wrapped in ``learner_check``, which asks IPython whether the cell run
just before stopped with an error while it defined the learner's function, and if so says
so instead of checking. Outside IPython (scripts, tests) nothing changes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from .harness import ERROR, Result


def learner_check(check: Callable[[Callable], Result]) -> Callable[[Callable], Result]:
    """``check`` (a ``check_<name>(learner_fn)``), first refusing a function its cell failed to
    define again."""

    @functools.wraps(check)
    def run(learner_fn: Callable) -> Result:
        stale = stale_definition(learner_fn)
        return stale if stale is not None else check(learner_fn)

    return run


def stale_definition(learner_fn: Callable) -> Result | None:
    """An ERROR result when the cell run just before this one defines ``learner_fn``'s name but
    stopped with an error before (or while) defining it; None otherwise."""
    shell = _shell()
    name = getattr(learner_fn, "__name__", None)
    if shell is None or not isinstance(name, str) or not name.isidentifier():
        return None
    last = getattr(shell, "last_execution_result", None)
    if last is None or last.success:
        return None
    failed = getattr(last.info, "raw_cell", None) or ""
    if not _defines(failed, name) or _defines(_current_cell(shell), name):
        return None  # the failed cell is about something else, or this cell defines it anew
    if _defined_by(learner_fn, shell, last):
        return None  # the def ran; a line after it raised
    error = last.error_before_exec or last.error_in_exec
    what = type(error).__name__ if error is not None else "an error"
    return Result(
        ERROR,
        f"The cell that defines {name} stopped with {what} when you last ran it, so {name} is "
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
    return re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", source, re.M) is not None


def _current_cell(shell) -> str:
    """The source of the cell running now (IPython stores it before running it)."""
    try:
        return shell.history_manager.input_hist_raw[-1]
    except (AttributeError, IndexError, TypeError):
        return ""


def _defined_by(learner_fn: Callable, shell, last) -> bool:
    """Whether ``learner_fn``'s code was compiled from the failed cell itself."""
    code = getattr(learner_fn, "__code__", None)
    try:
        cell = shell.compile.get_code_name(
            last.info.raw_cell, last.info.transformed_cell, last.execution_count
        )
    except Exception:  # another front end's compiler: do not guess
        return True
    return code is not None and code.co_filename == cell
