"""Every exercise of the course, in chapter order: the list the contract test runs.

A new exercise module goes into ``MODULES``; a module's ``EXERCISES`` tuple lists its
exercises (an idea can have several, as attention has the scores and one head).
"""

from __future__ import annotations

from . import attention, embeddings, generation, layers, masks, multi_head, positions, softmax
from .harness import Exercise

MODULES = (embeddings, positions, softmax, attention, multi_head, masks, layers, generation)

# Sorted by chapter; within a chapter, in the order of MODULES (04: softmax, then one head).
EXERCISES: tuple[Exercise, ...] = tuple(
    sorted((ex for module in MODULES for ex in module.EXERCISES), key=lambda ex: ex.chapter)
)


def exercise(name: str) -> Exercise:
    """The registered exercise called ``name`` (the function the learner writes)."""
    for ex in EXERCISES:
        if ex.name == name:
            return ex
    raise ValueError(f"name must be one of {[ex.name for ex in EXERCISES]}, got {name!r}")
