"""Test cases: a fresh deep copy for every call, and data from an explicit generator."""

from __future__ import annotations

import copy

import torch


def fresh(case: tuple) -> tuple:
    """A deep copy of one test case: new tensors and new modules for every call."""
    return copy.deepcopy(case)


def randn(*shape: int, gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Standard-normal test data from an explicit generator (never the global one)."""
    return torch.randn(*shape, generator=gen) * scale
