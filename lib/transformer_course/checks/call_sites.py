"""Where in a learner's code a torch function was called, and that call made with keepdim=True.

``lost_axis`` re-runs a learner's call with keepdim=True on one reduction. A reduction is named by
its call site, the position of the call expression in the learner's source (Python 3.11's
``co_positions``: line and columns), not by its order among the calls: a helper such as
``total(t) = t.sum(-1)`` called twice, or a loop, is one site, and the verdict's advice ("add
keepdim=True to that .sum") changes every call made there.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
from types import CodeType, FrameType

import torch

# Frames between the learner's call and the recorder: torch's Python wrappers (F.softmax's
# handle_torch_function) and the recorders' own.
_SKIP = (
    os.path.dirname(torch.__file__) + os.sep,
    *(os.path.join(os.path.dirname(__file__), f) for f in ("failure.py", "built_ins.py")),
)
# Where keepdim sits among a reduction's positional arguments, the tensor first: x.sum(-1, False).
_KEEPDIM_AT = {"norm": 3, "var": 3, "std": 3}  # x.norm(2, -1, False), torch.var(x, -1, True, False)


_MAX_LINES, _MAX_QUOTE = 4, 80  # a call over more lines, or longer once joined: its line only
_TIGHT = re.compile(r"(?<=[(\[]) +| +(?=[)\]])")  # what joining leaves: "sum( dim=-1 )"

_POSITIONS: dict[int, tuple] = {}  # id of a code object → (it, its positions): hashing a code
# object hashes its constants, 80 µs a call for a function of 3000 of them


def _positions(code: CodeType) -> tuple:
    entry = _POSITIONS.get(id(code))
    if entry is None or entry[0] is not code:
        if len(_POSITIONS) > 512:
            _POSITIONS.clear()
        entry = _POSITIONS[id(code)] = (code, tuple(code.co_positions()))
    return entry[1]


def call_site() -> tuple | None:
    """Where the innermost call outside torch and the recorder was written: (file, function,
    line, end line, column, end column) of the expression the learner wrote (None where there is
    none, a call from C). The file is part of it: two notebook cells' first lines are two sites."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_SKIP):
        frame = frame.f_back
    return None if frame is None else site_of(frame)


def site_of(frame: FrameType) -> tuple:
    """The call ``frame`` is making now, as ``call_site`` gives it."""
    code = frame.f_code
    try:
        position = _positions(code)[frame.f_lasti // 2]
    except IndexError:  # no position table: the line
        position = (frame.f_lineno, frame.f_lineno, None, None)
    return (code.co_filename, code.co_qualname, *position)


def source_of(site: tuple | None) -> str | None:
    """The call as the learner wrote it, ``e.sum(-1)``, from the site's file (IPython keeps its
    cells' sources there too); None where the source or the columns are not known."""
    if site is None:
        return None
    filename, _, line, end_line, col, end_col = site
    if line is None or end_line is None or end_line - line > _MAX_LINES or col is None or end_col is None:
        return None
    # The columns count UTF-8 bytes (a σ before the call is two).
    lines = [linecache.getline(filename, n).encode() for n in range(line, end_line + 1)]
    lines[-1] = lines[-1][:end_col]
    lines[0] = lines[0][col:]
    parts = [part.decode("utf-8", "replace") for part in lines]
    if len(parts) == 1:
        text = parts[0].strip()
    else:  # quoted on one line, without the indents, the comments and a last comma between
        kept = [p for p in (_code(part) for part in parts) if p]
        kept = [
            p[:-1] if p.endswith(",") and after[:1] in (")", "]") else p
            for p, after in zip(kept, [*kept[1:], ""])
        ]
        text = _TIGHT.sub("", " ".join(kept))
        text = text if len(text) <= _MAX_QUOTE else ""
    # A backtick would end the verdict's `code` span early.
    return text.replace("`", "'") or None


def _code(line: str) -> str:
    """A line of code without its comment (a # inside a string stays) or outer spaces."""
    quote = None
    for i, char in enumerate(line):
        if quote is None and char == "#":
            return line[:i].strip()
        if char in "'\"" and (i == 0 or line[i - 1] != "\\"):
            quote = char if quote is None else (None if char == quote else quote)
    return line.strip()


def with_keepdim(name: str, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """A reduction's arguments with keepdim=True, given by keyword or where it was positional."""
    at = _KEEPDIM_AT.get(name, 2)
    if len(args) > at and isinstance(args[at], bool):
        return (*args[:at], True, *args[at + 1 :]), kwargs
    return args, {**kwargs, "keepdim": True}
