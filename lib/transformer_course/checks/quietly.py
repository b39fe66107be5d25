"""A learner's function run once more by a checker, to look at how it computes (``failure.run``,
``built_ins.calls_of``): what it prints was shown on its first run, so this run prints nothing,
to stdout or stderr; and a ``breakpoint()`` in it is passed over, where it would stop the check
at a debugger prompt that its hidden output would not show."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Inside: prints go nowhere, breakpoint() does nothing; after: both as they were."""
    hook = sys.breakpointhook
    sys.breakpointhook = lambda *args, **kwargs: None
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        sys.breakpointhook = hook
