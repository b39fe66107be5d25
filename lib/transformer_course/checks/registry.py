"""Every exercise of the course, in chapter order: the list the contract test runs.

A new exercise module goes into ``MODULES``; a module's ``EXERCISES`` tuple lists its
exercises (usually one; a module may hold several exercises on one idea).
"""

from __future__ import annotations

from . import (
    add_norm,
    assembly,
    attention,
    cached_step,
    embeddings,
    encoder_layer,
    feed_forward,
    generation,
    gpt_forward,
    head,
    layer_norm,
    layers,
    loss,
    masks,
    multi_head,
    nucleus,
    positions,
    sampling,
    softmax,
    train_step,
)
from .harness import Exercise

# In the order the chapters teach them: 04 softmax before one head; 07 the feed-forward network,
# layer normalisation and Add & Norm, the encoder layer, the decoder layer, the whole model;
# 08 the loss and the training step, greedy decoding, sampling; 09 the GPT's forward pass,
# the nucleus of top-p, one step with a KV cache.
MODULES = (
    embeddings,
    positions,
    attention,
    softmax,
    head,
    multi_head,
    masks,
    feed_forward,
    layer_norm,
    add_norm,
    encoder_layer,
    layers,
    assembly,
    loss,
    train_step,
    generation,
    sampling,
    gpt_forward,
    nucleus,
    cached_step,
)

# Sorted by chapter; within a chapter, in the order of MODULES.
EXERCISES: tuple[Exercise, ...] = tuple(
    sorted((ex for module in MODULES for ex in module.EXERCISES), key=lambda ex: ex.chapter)
)


def exercise(name: str) -> Exercise:
    """The registered exercise called ``name`` (the function the learner writes)."""
    for ex in EXERCISES:
        if ex.name == name:
            return ex
    raise ValueError(f"name must be one of {[ex.name for ex in EXERCISES]}, got {name!r}")
