"""More of ``loss``'s catalogue, met in round 50's review (finding 11): the logits reshaped to
(V, B·T) and transposed back, ``logits.reshape(V, -1).T``, which has the right shape and the
wrong numbers in each row. (Without its .T the error is named in ``loss``.)
"""

from __future__ import annotations

import torch.nn.functional as F

from . import loss_learners as learner
from .harness import Mistake


def _reshaped_then_transposed(model, src, trg, pad_id):
    """(B, T-1, V) read in memory order into V rows, then .T: (B·(T-1), V) of scrambled scores."""
    logits = model(src, trg[:, :-1])  # (B, T-1, V)
    rows = logits.reshape(logits.shape[-1], -1).T  # (N, V): row i holds entries i, N + i, 2N + i, …
    return F.cross_entropy(rows, trg[:, 1:].reshape(-1), ignore_index=pad_id)


ROUND_50B = (
    Mistake(
        name="reshaped to (V, N), then .T",
        hint="You reshaped the logits to (V, B·T) and transposed them back: the shape is right, the "
        "rows are not. reshape reads the numbers in their memory order, position after position, "
        "so the V rows it makes cut across the positions, and .T only swaps the axes of that "
        "scramble: each row of yours mixes the scores of several positions. Flatten with the "
        "vocabulary last, as the logits come: logits.reshape(-1, V), labels.reshape(-1).",
        compute=_reshaped_then_transposed,
        example=learner.reshapes_to_the_vocabulary_first,
    ),
)
