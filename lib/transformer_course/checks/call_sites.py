"""Where in a learner's code a torch function was called, and that call made with keepdim=True.

``lost_axis`` re-runs a learner's call with keepdim=True on one reduction. A reduction is named by
its call site, the position of the call expression in the learner's source (Python 3.11's
``co_positions``: line and columns), not by its order among the calls: a helper such as
``total(t) = t.sum(-1)`` called twice, or a loop, is one site, and the verdict's advice ("add
keepdim=True to that .sum") changes every call made there.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from types import CodeType

import torch

# Frames between the learner's call and the recorder: torch's Python wrappers (F.softmax's
# handle_torch_function) and the recorder's own.
_SKIP = (os.path.dirname(torch.__file__) + os.sep, os.path.join(os.path.dirname(__file__), "failure.py"))
# Where keepdim sits among a reduction's positional arguments, the tensor first: x.sum(-1, False).
_KEEPDIM_AT = {"norm": 3, "var": 3, "std": 3}  # x.norm(2, -1, False), torch.var(x, -1, True, False)


@lru_cache(maxsize=512)
def _positions(code: CodeType) -> tuple:
    return tuple(code.co_positions())


def call_site() -> tuple | None:
    """The code object and source position of the innermost call outside torch and the recorder:
    the expression the learner wrote (None where there is none, a call from C)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_SKIP):
        frame = frame.f_back
    if frame is None:
        return None
    try:
        return frame.f_code, _positions(frame.f_code)[frame.f_lasti // 2]
    except (IndexError, AttributeError):  # no position table: the line
        return frame.f_code, frame.f_lineno


def with_keepdim(name: str, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """A reduction's arguments with keepdim=True, given by keyword or where it was positional."""
    at = _KEEPDIM_AT.get(name, 2)
    if len(args) > at and isinstance(args[at], bool):
        return (*args[:at], True, *args[at + 1 :]), kwargs
    return args, {**kwargs, "keepdim": True}
