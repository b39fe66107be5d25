"""A time limit on a learner's function: a loop that never ends gets a verdict, not a kernel
busy until the learner interrupts it.

``time_limit(seconds)`` raises ``TookTooLong`` in the code it wraps once ``seconds`` have
passed, by a SIGALRM timer in the main thread (where a notebook runs its cells); elsewhere,
and on systems without ``signal.setitimer`` (Windows), there is no limit. The harness wraps
each call of the learner's function in it, and names a ``TookTooLong`` as a loop that may
never end.
"""

from __future__ import annotations

import contextlib
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


REPEAT_S = 0.05  # past the limit, the ring comes back this often until the code has left


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``TookTooLong`` in the code run inside if it runs longer than ``seconds``.

    Only where a timer can interrupt it: the main thread on a system with ``signal.setitimer``
    (Linux, macOS; a notebook's cells run there), else no limit. A bare ``except:`` in the
    learner's code catches a ring, so from then on every line of each frame that was running
    raises it again (``_trap``), and the ring comes back every ``REPEAT_S`` besides: nested
    handlers, and helpers that swallow it, end too. An alarm already set (pytest's
    timeout, a check around this one) is kept: it keeps its handler and is set again with the
    time it had left; when it would ring first, it is left alone and this limit does not apply."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    theirs, interval = signal.getitimer(signal.ITIMER_REAL)
    if 0 < theirs <= seconds:  # theirs rings first anyway: leave it alone
        yield
        return
    caller = _with_statement_frame()

    def ring(signum, frame):
        frames = _running(frame, caller)
        if frames is None:
            return  # setting the limit up or taking it down: the learner's code is not running
        _trap(frames)
        raise TookTooLong

    start, handler = time.monotonic(), signal.getsignal(signal.SIGALRM)
    tracer, profiler = sys.gettrace(), sys.getprofile()
    try:
        signal.signal(signal.SIGALRM, ring)
        signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_S)
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)  # a ring from here on finds our own frames: ignored
        if sys.getprofile() is not profiler:  # a ring set ours: a profiler's, a debugger's back
            _put_back(profiler)
        sys.settrace(tracer)
        # None: a handler set from C, which Python cannot put back; the default is the nearest
        signal.signal(signal.SIGALRM, signal.SIG_DFL if handler is None else handler)
        if theirs > 0:
            left = max(theirs - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


def _with_statement_frame() -> FrameType | None:
    """The frame whose ``with time_limit(...)`` is being entered: past this generator's frame
    and contextlib's ``__enter__``. None when entered another way (an ExitStack): then a ring
    traps no frame, it only raises."""
    frame = sys._getframe(2)  # 0: this function, 1: time_limit's generator
    if frame is None or frame.f_code is not _ENTER:
        return None
    return frame.f_back


def _running(frame: FrameType | None, caller: FrameType | None) -> list[FrameType] | None:
    """The frames from ``frame`` up to (not including) ``caller``, the checker's: the code the
    limit is on. None when a ring finds the limit's own code running (being set up or taken
    down) or the checker's frame itself; [] when ``caller`` is not on the way up (nothing may
    be trapped then: the checker's frames and the notebook's must never raise)."""
    frames = []
    while frame is not None and frame is not caller:
        if frame.f_code in _OWN_CODE:
            return None
        frames.append(frame)
        frame = frame.f_back
    if not frames and frame is caller:
        return None
    return frames if caller is not None and frame is caller else []


def _trap(frames: list[FrameType]) -> None:
    """Make every line that ``frames`` run next raise ``TookTooLong``: an ``except:`` that caught
    the ring raises again from its handler. Tracing is switched on for these frames only: new
    frames get none. ``time_limit`` puts the tracer and profiler back."""
    if not frames:
        return

    def again(frame: FrameType, event: str, arg: object) -> Callable:
        if event == "line":
            raise TookTooLong  # Python then switches tracing off: ``rearm`` switches it back on
        return again

    def rearm(frame: FrameType | None = None, event: str = "", arg: object = None) -> None:
        # Python also drops the raising frame's own trace function. At every call of a builtin
        # (time.sleep, a tensor op) and every return both come back: a raise that an
        # ``except:`` caught is followed, at the loop's next turn, by one at a line outside
        # every try, which ends it.
        if sys.gettrace() is None:
            sys.settrace(_untraced)
            for f in frames:
                f.f_trace = again

    sys.setprofile(rearm)
    sys.settrace(None)
    rearm()


def _put_back(profiler: object) -> None:
    """``sys.setprofile(profiler)``, for one written in C too: cProfile's Profile (``%prun``) is
    no function that setprofile takes ("'Profile' object is not callable"), it enables itself."""
    if profiler is None or callable(profiler):
        sys.setprofile(profiler)
    elif callable(getattr(profiler, "enable", None)):
        profiler.enable()
    else:
        sys.setprofile(None)


def _untraced(frame: FrameType, event: str, arg: object) -> None:
    return None


_ENTER = contextlib._GeneratorContextManager.__enter__.__code__
# Code that runs while the limit is set up or taken down, where a ring must not raise.
_OWN_CODE = frozenset(
    {
        time_limit.__wrapped__.__code__,
        _ENTER,
        contextlib._GeneratorContextManager.__exit__.__code__,
    }
)
