"""Running a learner's model to measure or draw it, without changing how it trains.

Measuring a model (its held-out loss, its attention, its samples) wants eval mode: dropout
off, so the numbers are the model's own and nothing is drawn from torch's random generator.
A learner goes on training the same model afterwards, so ``evaluating`` hands every module
back in the mode it came in, also when the measurement stops with an error (a bad input
refused halfway). Each submodule gets back its own flag: ``model.train(was)`` would also
switch on a part the learner had put in eval mode on purpose (a frozen encoder).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def evaluating(*modules: torch.nn.Module) -> Iterator[None]:
    """Run ``modules`` in eval mode and without gradients; then give each submodule back its
    own ``training`` flag, error or not."""
    for module in modules:  # else an AttributeError on .modules(), naming nothing
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"modules must be torch.nn.Module instances, got {type(module).__name__}")
    flags = [(m, m.training) for module in modules for m in module.modules()]
    # Only what is in train mode is switched, and only what changed is set back: a module's
    # attribute write is slow (nn.Module.__setattr__), and ``eval()`` of chapter 09's GPT, 27
    # modules, took 64 µs. A logits function runs in this at every token, mostly on a model
    # already in eval mode, where it now only lists the flags.
    try:
        if any(training for _, training in flags):
            for module in modules:
                module.eval()
        with torch.no_grad():
            yield
    finally:
        for m, training in flags:
            if m.training != training:
                m.training = training
