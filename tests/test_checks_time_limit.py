"""A learner's function that never returns gets a verdict, not a kernel busy until interrupted."""

from __future__ import annotations

import signal
import sys
import threading
import time

import pytest
import torch
from transformer_course.checks import harness
from transformer_course.checks.registry import exercise

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no interval timer (Windows)")


@pytest.fixture
def short_limit(monkeypatch):
    monkeypatch.setattr(harness, "LIMIT_S", 0.3)


def _nucleus_never_counting(probs, top_p):
    kept = torch.zeros_like(probs)
    for row in range(probs.shape[0]):
        ranked, order = probs[row].sort(descending=True)
        k = 1
        while ranked[:k].sum() < top_p:
            pass  # k += 1 forgotten: the sum never grows
        kept[row, order[:k]] = ranked[:k]
    return kept / kept.sum(dim=-1, keepdim=True)


def _softmax_swallowing_everything(scores):
    while True:
        try:
            time.sleep(0.01)
        except Exception:  # a learner's catch-all inside the loop must not swallow the limit
            pass


def _softmax_with_a_bare_except(scores):
    while True:
        try:
            time.sleep(0.01)
        except:  # noqa: E722 (a learner's bare except catches the first ring: the next one ends it)
            pass


def _swallow_everything():
    try:
        time.sleep(0.01)
    except:  # noqa: E722
        pass


def _softmax_with_bare_excepts_two_deep(scores):
    while True:
        try:
            _swallow_everything()  # a helper that swallows the ring too
        except:  # noqa: E722
            pass


def _softmax_with_nested_bare_excepts(scores):
    while True:
        try:
            try:
                time.sleep(0.01)
            except:  # noqa: E722
                pass
        except:  # noqa: E722
            pass


def _softmax_endless_on_batches(scores):
    while scores.dim() > 2:
        pass
    return scores.softmax(dim=-1)


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("keep_top_p", _nucleus_never_counting),
        ("softmax", _softmax_swallowing_everything),
        ("softmax", _softmax_with_a_bare_except),
        ("softmax", _softmax_with_bare_excepts_two_deep),
        ("softmax", _softmax_with_nested_bare_excepts),
    ],
)
def test_an_endless_loop_is_stopped_and_named(short_limit, name, fn):
    start, tracer = time.monotonic(), sys.gettrace()
    result = exercise(name).check(fn)
    assert sys.gettrace() is tracer  # a debugger's or coverage's tracing is back
    assert exercise(name).check(exercise(name).solution).passed  # and the checker is whole
    assert time.monotonic() - start < 5
    assert result.status == harness.ERROR
    assert "still running after 0.3 s on input #1" in result.message
    assert "loop that never ends" in result.message


def test_an_alarm_already_set_is_kept(short_limit):
    """pytest-timeout (or a learner's own alarm) keeps its handler and the time it had left."""
    rang = []

    def theirs(*_):
        rang.append(True)

    previous = signal.signal(signal.SIGALRM, theirs)
    signal.setitimer(signal.ITIMER_REAL, 20.0)
    try:
        exercise("softmax").check(_softmax_swallowing_everything)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 15 < left < 20
        assert signal.getsignal(signal.SIGALRM) is theirs
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        time.sleep(0.2)
        assert rang == [True]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_right_answer_is_untouched_by_the_limit(short_limit):
    assert exercise("softmax").check(lambda scores: scores.softmax(dim=-1)).passed


def test_outside_the_main_thread_there_is_no_limit_and_no_error(short_limit):
    """signal handlers can only be set in the main thread: elsewhere the check runs unlimited."""
    seen = []

    def slow_but_right(scores):
        time.sleep(0.4)  # past the limit, once per case
        return scores.softmax(dim=-1)

    worker = threading.Thread(target=lambda: seen.append(exercise("softmax").check(slow_but_right)))
    worker.start()
    worker.join(60)
    assert seen and seen[0].passed


def test_a_loop_endless_on_batches_only_is_named_as_such(short_limit):
    """Right on every matrix, endless on a batch: the timeout, on the batched input, and not the
    hint for a 2-D idiom (which this learner did not write)."""
    result = exercise("softmax").check(_softmax_endless_on_batches)
    assert result.status == harness.ERROR and result.timed_out
    # Named as the learner named it (its name holds the exercise's): what they look for.
    assert result.message.startswith(
        "_softmax_endless_on_batches was still running after 0.3 s on batched input #1"
    )


def test_a_recogniser_that_calls_the_function_again_is_limited_too(short_limit):
    """The "draws at random" mistake calls the learner's function again from other seeds: a
    function that loops forever only then must not hang the check there."""

    def endless_unless_seed_zero(x, weight, bias, eps):
        while torch.initial_seed() != 0:  # the check's own call is seeded with 0, the recogniser's not
            pass
        return x * 2.0  # wrong, so the catalogue's recognisers run

    start = time.monotonic()
    result = exercise("layer_norm").check(endless_unless_seed_zero)
    assert time.monotonic() - start < 10
    assert result.status == harness.WRONG


def test_a_ring_while_the_limit_is_taken_down_is_ignored(monkeypatch):
    """The timer may ring just as the learner's function returns, while time_limit restores
    what it changed: that ring must neither raise nor leave the handler or tracing changed."""
    real = signal.setitimer
    rang = []

    def ring_now_when_cancelled(which, seconds, interval=0.0):
        if seconds == 0 and not rang:
            rang.append(True)
            signal.raise_signal(signal.SIGALRM)  # rings inside time_limit's own cleanup
        return real(which, seconds, interval)

    monkeypatch.setattr(signal, "setitimer", ring_now_when_cancelled)
    before, tracer = signal.getsignal(signal.SIGALRM), sys.gettrace()
    result = exercise("softmax").check(lambda scores: scores.softmax(dim=-1))
    assert rang and result.passed
    assert signal.getsignal(signal.SIGALRM) is before and sys.gettrace() is tracer
