"""More of ``add_norm``'s catalogue: the slips met in the round-41 battery of wrong answers, each
with what gives it away and its hint (the examples are in ``add_norm_learners``).

The two forms swapped (norm_first read the other way round) stay with "always pre-norm", whose
hint says what to do when they are (the tryout test pins that verdict).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import add_norm_learners as learner
from .describe import same
from .harness import Mistake, fresh
from .layer_errors import no_self

POST, PRE = "norm(x + dropout(sublayer(x)))", "x + dropout(sublayer(norm(x)))"


def _own_p(fn, case, got) -> bool:
    """Dropout in training mode with a p other than the block's (the paper's 0.1, say)."""
    block, x, sublayer = case
    if not block.training:
        return False
    for p in (0.1, 0.2, 0.3, 0.25):
        if p == block.dropout.p:
            continue
        b, x, sublayer = fresh(case)
        torch.default_generator.manual_seed(0)
        drop = lambda h, p=p: F.dropout(h, p)  # noqa: E731
        want = x + drop(sublayer(b.norm(x))) if b.norm_first else b.norm(x + drop(sublayer(x)))
        if same(got, want, 1e-4):
            return True
    return False


def _scaled_only(block, h):
    """block.norm without its bias."""
    norm = block.norm
    return F.layer_norm(h, norm.normalized_shape, norm.weight, None, norm.eps)


def _one_form(wrong_pre=None, wrong_post=None):
    """The lib's AddNorm, with ``wrong_pre(block, x, sublayer)`` in place of pre-norm or
    ``wrong_post`` in place of post-norm."""

    def add_norm(block, x, sublayer):
        wrong = wrong_pre if block.norm_first else wrong_post
        return block(x, sublayer) if wrong is None else wrong(block, x, sublayer)

    return add_norm


MORE = (
    Mistake(
        name="sublayer not called",
        hint="You passed the sublayer itself, a module, where its OUTPUT belongs: call it, "
        "sublayer(x) in post-norm, sublayer(block.norm(x)) in pre-norm.",
        compute=None,
        error=r"must be Tensor, not (FeedForward|function)|for [-+*]: ('\w+' and )?'(FeedForward|function)'",
        example=learner.forgets_to_call_the_sublayer,
    ),
    no_self(learner.writes_self, owner="block", parts="block.norm, block.dropout, block.norm_first"),
    Mistake(
        name="norm given two tensors",
        hint="block.norm takes one tensor: add first, then normalise the sum, "
        "block.norm(x + block.dropout(sublayer(x))).",
        compute=None,
        error=r"LayerNorm\.forward\(\) takes 2 positional arguments but 3",
        example=learner.gives_the_norm_two_tensors,
    ),
    Mistake(
        name="LayerNorm without its shift",
        hint="Your LayerNorm scales by block.norm.weight but does not shift by block.norm.bias: use "
        "the block's own norm, block.norm(…), which does both.",
        compute=_one_form(
            lambda b, x, s: x + b.dropout(s(_scaled_only(b, x))),
            lambda b, x, s: _scaled_only(b, x + b.dropout(s(x))),
        ),
        example=learner.norms_without_the_shift,
    ),
    Mistake(
        name="dropout of its own p",
        hint="Your dropout uses a p of its own: use the block's, block.dropout(…), which drops "
        "with block.dropout.p in training and turns itself off in eval mode.",
        compute=None,
        recognise=_own_p,
        example=learner.dropout_of_its_own_p,
    ),
    Mistake(
        name="dropout twice",
        hint="You applied dropout twice: the sublayer's output goes through block.dropout once, "
        f"before the add: {POST} (pre-norm: {PRE}).",
        compute=lambda block, x, sublayer: _one_form(
            lambda b, x, s: x + b.dropout(b.dropout(s(b.norm(x)))),
            lambda b, x, s: b.norm(x + b.dropout(b.dropout(s(x)))),
        )(block, x, sublayer),
        example=learner.drops_twice,
    ),
    Mistake(
        name="dropout on the sublayer's input",
        hint="Your pre-norm block drops parts of the sublayer's INPUT: dropout belongs on its "
        f"output, before the add: {PRE}.",
        compute=_one_form(wrong_pre=lambda b, x, s: x + s(b.dropout(b.norm(x)))),
        example=learner.drops_the_normalised_input,
    ),
    Mistake(
        name="post-norm normalises the input too",
        hint="Your post-norm block normalises twice, the sublayer's input AND the sum: post-norm "
        f"normalises only the sum, {POST}; the sublayer reads x itself.",
        compute=_one_form(wrong_post=lambda b, x, s: b.norm(x + b.dropout(s(b.norm(x))))),
        example=learner.normalises_twice_in_post_norm,
    ),
    Mistake(
        name="sublayer subtracted",
        hint=f"You subtracted the sublayer's output: the residual ADDS it to x, {POST} (pre-norm: {PRE}).",
        compute=_one_form(
            lambda b, x, s: x - b.dropout(s(b.norm(x))), lambda b, x, s: b.norm(x - b.dropout(s(x)))
        ),
        example=learner.subtracts_the_sublayer,
    ),
    Mistake(
        name="pre-norm adds to the normalised x",
        hint="Your pre-norm block adds the sublayer of the RAW x to norm(x): the norm goes on the "
        f"sublayer's input, and the raw x is added back: {PRE}.",
        compute=_one_form(wrong_pre=lambda b, x, s: b.norm(x) + b.dropout(s(x))),
        example=learner.adds_to_the_normalised_x_in_pre_norm,
    ),
    Mistake(
        name="pre-norm without its norm",
        hint="Your pre-norm block never normalises: when block.norm_first is True the sublayer "
        f"reads the NORMALISED x, {PRE}.",
        compute=_one_form(wrong_pre=lambda b, x, s: x + b.dropout(s(x))),
        example=learner.forgets_the_norm_in_pre_norm,
    ),
    Mistake(
        name="pre-norm drops the sum",
        hint="Your pre-norm block applies dropout to the sum, so x itself is dropped too: dropout "
        f"belongs on the sublayer's output only, {PRE}.",
        compute=_one_form(wrong_pre=lambda b, x, s: b.dropout(x + s(b.norm(x)))),
        example=learner.drops_the_sum_in_pre_norm,
    ),
)


def _mode_switched(fn, case, got) -> bool:
    """block.eval() (or .train()) inside the function: the block leaves in another mode than it
    came in, so its dropout, and the caller's model, no longer follow the caller's mode."""
    block, x, sublayer = fresh(case)
    before = block.training
    try:
        fn(block, x, sublayer)
    except Exception:  # its own error is reported by the check itself
        return False
    return block.training != before


# First in the catalogue: switched to eval mode, its output is the "no dropout" slip's.
MODE_SWITCHED = Mistake(
    name="the block's mode switched",
    hint="Your add_norm switches the block's mode (block.eval(), block.train() or "
    "block.training = …): that changes the caller's block for good, and in training mode its "
    "dropout must stay on. Leave the mode to the caller and use block.dropout as it is: it drops "
    "in training mode and lets everything through in eval mode.",
    compute=None,
    recognise=_mode_switched,
    example=learner.switches_to_eval_mode,
)
