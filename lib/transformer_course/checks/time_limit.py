"""A time limit on a learner's function: a loop that never ends gets a verdict, not a kernel
busy until the learner interrupts it.

``time_limit(seconds)`` raises ``TookTooLong`` in the code it wraps once ``seconds`` have
passed, by a SIGALRM timer in the main thread (where a notebook runs its cells); elsewhere,
and on systems without ``signal.setitimer`` (Windows), there is no limit. The harness wraps
each call of the learner's function in it, and names a ``TookTooLong`` as a loop that may
never end.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

LIMIT_S = 30.0  # per call of a learner's function: every case is small, the references take ms


class TookTooLong(BaseException):
    """A learner's function ran past ``LIMIT_S``. A BaseException, so that a learner's own
    ``except Exception`` inside the endless loop does not swallow it and loop on."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``TookTooLong`` in the code run inside if it runs longer than ``seconds``.

    Only where a timer can interrupt it: the main thread on a system with ``signal.setitimer``
    (Linux, macOS; a notebook's cells run there), else no limit. A bare ``except:`` in the
    learner's loop catches the ring, so from then on every line of the frames that were
    running raises it again (``_trap``). An alarm already set (pytest's timeout, a check around
    this one) is kept: it keeps its handler and is set again with the time it had left; when
    it would ring first, it is left alone and this limit does not apply."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    theirs, interval = signal.getitimer(signal.ITIMER_REAL)
    if 0 < theirs <= seconds:  # theirs rings first anyway: leave it alone
        yield
        return

    caller = sys._getframe().f_back.f_back  # the frame of the with statement (past contextlib's)

    def ring(signum, frame):
        _trap(frame, caller)
        raise TookTooLong

    start, tracer = time.monotonic(), sys.gettrace()
    handler = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:  # a ring between the end of the block and here must not skip the restoring below
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            sys.settrace(tracer)  # a debugger's or coverage's, if a ring set ours
            # None: a handler set from C, which Python cannot put back; the default is the nearest
            signal.signal(signal.SIGALRM, signal.SIG_DFL if handler is None else handler)
            if theirs > 0:
                left = max(theirs - (time.monotonic() - start), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, left, interval)


def _trap(frame: FrameType | None, caller: FrameType | None) -> None:
    """Make each line that ``frame`` and its callers run next, up to (not including) ``caller``
    (the checker's, which set the limit), raise ``TookTooLong``: an ``except:`` that caught the
    ring then leaves at its handler's first line. Tracing is switched on for these frames
    only: new frames, and the checker's own, get none."""
    sys.settrace(_untraced)
    while frame is not None and frame is not caller:
        frame.f_trace = _raise_again
        frame = frame.f_back


def _untraced(frame: FrameType, event: str, arg: object) -> None:
    return None


def _raise_again(frame: FrameType, event: str, arg: object) -> Callable:
    if event == "line":
        raise TookTooLong
    return _raise_again
