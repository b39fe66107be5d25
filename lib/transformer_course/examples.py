"""The hand-built examples of chapters 03 and 04, small enough to read every number.

Chapter 03 builds them cell by cell and checks that they equal these; chapter 04 (which
starts from scratch, like every chapter) takes them from here and carries them through
the softmax and the values to an output.

- ``video_search``: a query ("movie reviews"), four video titles as keys, and what each
  video holds as its value, each described by a few readable features.
- ``cat_example``: "I'm playing with a cat" with four readable features per word, and
  projections W_Q, W_K, W_V chosen by hand so that "i'm" finds "cat" although the two
  words share no feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class VideoSearch:
    """query (F,), keys (N, F): features of the query and of each title; values (N, C):
    what each video holds, one column per kind of content."""

    features: tuple[str, ...]  # what the F columns of the query and the keys mean
    query: torch.Tensor
    titles: tuple[str, ...]  # the N videos
    keys: torch.Tensor
    contents: tuple[str, ...]  # what the C columns of the values mean
    values: torch.Tensor


def video_search() -> VideoSearch:
    """Chapter 03's search for "movie reviews" among four videos."""
    return VideoSearch(
        features=("movies", "opinion", "food"),
        query=torch.tensor([1.0, 1.0, 0.0]),  # "movie reviews"
        titles=(
            "Top 10 films of the year, reviewed",
            "Dune, official trailer",
            "Is this pizza worth 30 euros?",
            "Pasta in ten minutes",
        ),
        keys=torch.tensor(
            [
                [1.0, 1.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 1.0],
                [0.0, 0.0, 1.0],
            ]
        ),
        contents=("film scenes", "someone talking", "cooking"),
        # Minutes of each kind of content in each video: what you get when you watch it.
        values=torch.tensor(
            [
                [6.0, 8.0, 0.0],
                [3.0, 0.0, 0.0],
                [0.0, 5.0, 2.0],
                [0.0, 2.0, 8.0],
            ]
        ),
    )


@dataclass(frozen=True)
class HandBuiltAttention:
    """x (T, F): one row of readable features per token; w_q, w_k (F, d_k), w_v (F, d_v):
    projections used as ``x @ w``."""

    tokens: tuple[str, ...]
    features: tuple[str, ...]
    x: torch.Tensor
    w_q: torch.Tensor
    w_k: torch.Tensor
    w_v: torch.Tensor


def cat_example() -> HandBuiltAttention:
    """Chapter 03's "I'm playing with a cat", with projections chosen by hand.

    Query dimension 0 asks "I want a companion", dimension 1 "I want someone who acts";
    the keys answer in the same two dimensions. The values hand over each word's own
    four features (W_V is the identity), so an output reads as features.
    """
    person, animal, action, small = range(4)
    x = torch.zeros(5, 4)
    for row, feature in enumerate((person, action, small, small, animal)):  # i'm playing with a cat
        x[row, feature] = 1.0
    w_q = torch.zeros(4, 2)
    w_q[person, 0] = 1.0  # a person asks for a companion
    w_q[action, 1] = 1.0  # an action asks for its doer
    w_k = torch.zeros(4, 2)
    w_k[animal, 0] = 1.0  # an animal offers itself as a companion
    w_k[person, 1] = 1.0  # a person offers itself as a doer
    return HandBuiltAttention(
        tokens=("i'm", "playing", "with", "a", "cat"),
        features=("person", "animal", "action", "small word"),
        x=x,
        w_q=w_q,
        w_k=w_k,
        w_v=torch.eye(4),
    )
