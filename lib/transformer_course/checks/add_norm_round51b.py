"""Round 51 (review R3, F13): ``add_norm`` with dropout on the residual x as well as on the
sublayer's output, ``block.norm(block.dropout(x) + block.dropout(sublayer(x)))``. Its sibling,
dropout on the sum, is named in ``add_norm``; this one got "differs at index". The harness seeds
each call alike, so the learner's draws are these; both orders of the two draws are caught.
"""

from __future__ import annotations

from .harness import Mistake

HINT = (
    "Dropout belongs on the sublayer's output only: norm(x + dropout(sublayer(x))) (pre-norm: "
    "x + dropout(sublayer(norm(x)))). Yours drops parts of x too: the residual x passes through "
    "untouched, so that the block can always fall back on it."
)


def _residual_dropped(block, x, sublayer, *, x_first: bool = True):
    """The sublayer's output and x, each through block.dropout (x's draw first, or second)."""
    inner = block.norm(x) if block.norm_first else x
    if x_first:
        kept = block.dropout(x)
        added = kept + block.dropout(sublayer(inner))
    else:
        out = block.dropout(sublayer(inner))
        added = block.dropout(x) + out
    return added if block.norm_first else block.norm(added)


def _residual_dropped_second(block, x, sublayer):
    return _residual_dropped(block, x, sublayer, x_first=False)


def _learner_drops_the_residual(block, x, sublayer):
    if block.norm_first:
        return block.dropout(x) + block.dropout(sublayer(block.norm(x)))
    return block.norm(block.dropout(x) + block.dropout(sublayer(x)))


def _learner_drops_the_residual_second(block, x, sublayer):
    if block.norm_first:
        h = block.dropout(sublayer(block.norm(x)))
        return h + block.dropout(x)
    h = block.dropout(sublayer(x))
    return block.norm(h + block.dropout(x))


ROUND_51B = (
    Mistake(
        name="dropout on the residual too",
        hint=HINT,
        compute=_residual_dropped,
        example=_learner_drops_the_residual,
    ),
    Mistake(
        name="dropout on the residual too, drawn second",
        hint=HINT,
        compute=_residual_dropped_second,
        example=_learner_drops_the_residual_second,
    ),
)
