"""The line of a learner's own code that raised an error, added to the error's message: where
two mistakes raise the same PyTorch message, the line tells them apart (and shows the learner
where to look)."""

from __future__ import annotations

import linecache
from collections.abc import Callable
from pathlib import Path

import torch


def naming_the_line(fn: Callable) -> Callable:
    """``fn``, whose broadcasting errors end with the line of the learner's code that raised
    them: the same message comes from a mask and from a row sum that do not line up, and the
    line tells which (and shows the learner where to look)."""

    def wrapped(*args):
        try:
            return fn(*args)
        except RuntimeError as err:
            broadcast = type(err) is RuntimeError and "must match the size of tensor" in str(err)
            line = _learner_line(err) if broadcast else None
            if line is None:
                raise
            raise RuntimeError(f"{err}, in the line `{line}`") from err

    wrapped.__wrapped__ = fn  # the learner's code, for the harness's warnings
    return wrapped


def _learner_line(err: BaseException) -> str | None:
    """The line of the learner's code that raised ``err``, caught in ``naming_the_line``: in
    the learner's function, or deeper in a helper of theirs, never inside torch or this
    course's lib. None where its source cannot be read."""
    lib = (Path(torch.__file__).parent, Path(__file__).parents[1])
    tb = err.__traceback__ and err.__traceback__.tb_next  # the frame after ours: the learner's function
    while tb is not None and tb.tb_next is not None:
        deeper = Path(tb.tb_next.tb_frame.f_code.co_filename)
        if any(deeper.is_relative_to(root) for root in lib):
            break
        tb = tb.tb_next
    if tb is None:
        return None
    text = linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno).strip()
    return text.replace("`", "'") or None
