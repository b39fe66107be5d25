"""More of ``feed_forward``'s catalogue: the wrong answers met in the eleventh audit, each
with what gives it away, its hint and a learner-style example.
"""

from __future__ import annotations

import torch

from .harness import Mistake


def _weights_on_the_left(x, w_1, b_1, w_2, b_2):
    """The column-vector formula, W₂ ReLU(W₁ x + b₁) + b₂, typed as it reads."""
    return w_2 @ torch.relu(w_1 @ x + b_1) + b_2


# Answers met in the eleventh audit: each names what it computes.
MORE_MISTAKES = (
    # A (d_model, d_ff) matrix on the left of a batch x (B, L, d_model): PyTorch broadcasts
    # it to a batch of matrices and refuses the batched product, naming "batch2".
    Mistake(
        name="weights on the left",
        hint="You put the weight on the left, w_1 @ x (the column-vector form W₁x): here x is a "
        "row vector, (…, d_model), on the LEFT of each product, as in the chapter's formula "
        "ReLU(x W₁ + b₁) W₂ + b₂: torch.relu(x @ w_1 + b_1) @ w_2 + b_2.",
        compute=None,
        error=r"batch2 tensor",
        example=_weights_on_the_left,
    ),
)
