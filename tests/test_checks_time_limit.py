"""A learner's function that never returns gets a verdict, not a kernel busy until interrupted."""

from __future__ import annotations

import signal
import threading
import time

import pytest
import torch
from transformer_course.checks import harness
from transformer_course.checks.registry import exercise


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


@pytest.mark.parametrize(
    ("name", "fn"),
    [("keep_top_p", _nucleus_never_counting), ("softmax", _softmax_swallowing_everything)],
)
def test_an_endless_loop_is_stopped_and_named(short_limit, name, fn):
    start = time.monotonic()
    result = exercise(name).check(fn)
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
