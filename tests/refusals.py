"""The check the bad-input tables share: a call is refused with a ValueError that names the
argument and says what was expected.

A table is a list of rows ``(id, call, argument, expected)``: ``argument`` and ``expected``
are regular expressions searched in the message (``argument`` as a whole name).
"""

import re

import pytest


def each_case(cases):
    """Parametrize a test over a table's rows, with each row's id."""
    rows, ids = [c[1:] for c in cases], [c[0] for c in cases]
    return pytest.mark.parametrize(("call", "argument", "expected"), rows, ids=ids)


def assert_refused(call, argument: str, expected: str) -> None:
    with pytest.raises(ValueError, match=rf"(?<![\w.]){argument}(?!\w)") as info:
        call()
    assert re.search(expected, str(info.value)), f"{info.value} does not say {expected!r}"
