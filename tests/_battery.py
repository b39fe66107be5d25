"""A checker battery's register of learner answers: each test file makes one ``Battery`` and
marks each learner-style function ``@battery.wrong(exercise, mistake)`` or ``@battery.right(exercise)``;
its tests are parametrized over ``battery.wrong_answers`` and ``battery.right_answers``."""

import pytest


class Battery:
    def __init__(self):
        self.wrong_answers = []  # (exercise, the mistake it must be named, the learner's function)
        self.right_answers = []  # (exercise, the learner's function)

    def wrong(self, name, mistake):
        def register(fn):
            self.wrong_answers.append(pytest.param(name, mistake, fn, id=f"{name}: {fn.__name__}"))
            return fn

        return register

    def right(self, name):
        def register(fn):
            self.right_answers.append(pytest.param(name, fn, id=f"{name}: {fn.__name__}"))
            return fn

        return register
