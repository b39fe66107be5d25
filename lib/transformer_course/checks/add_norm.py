"""Exercise 07b: Add & Norm, post-norm and pre-norm.

``add_norm(block, x (B, L, d), sublayer) → (B, L, d)`` with the parts of the lib's ``AddNorm``
(``block.norm``, ``block.dropout``, ``block.norm_first``): post-norm
norm(x + dropout(sublayer(x))), or pre-norm x + dropout(sublayer(norm(x))).

``add_norm_chain`` runs x through several sublayers with Add & Norm, right or in one of the
usual wrong ways: the encoder and decoder layers' checkers build their catalogues from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import AddNorm, FeedForward
from . import add_norm_learners as learner
from . import asked_for
from .add_norm_more import MORE_MISTAKES, SLIPS_42
from .add_norm_round51b import ROUND_51B
from .add_norm_slips import MODE_SWITCHED, MORE
from .built_ins import note_built_ins
from .describe import same
from .harness import Exercise, Mistake, Result, check_function, fresh, randn, varies_between_calls
from .stale import learner_check

# --- The learner's side: the starter, a worked solution, other correct answers ---


def add_norm_starter(block: AddNorm, x: torch.Tensor, sublayer: Callable) -> torch.Tensor:
    """x (B, L, d_model) → (B, L, d_model): sublayer wrapped in a residual and a LayerNorm."""
    raise NotImplementedError


def add_norm_solution(block: AddNorm, x: torch.Tensor, sublayer: Callable) -> torch.Tensor:
    """x (B, L, d_model) → (B, L, d_model): sublayer wrapped in a residual and a LayerNorm."""
    if block.norm_first:  # pre-norm: normalise what goes in, add the raw x back
        return x + block.dropout(sublayer(block.norm(x)))
    return block.norm(x + block.dropout(sublayer(x)))  # post-norm, as in the paper


def add_norm_by_hand(block, x, sublayer, *, post="right", pre="right", dropout="module", bare_norm=False):
    """A learner's Add & Norm with one switch per catalogued mistake (all off: correct).

    post / pre: how the learner writes the post-norm and the pre-norm case ("right", or the
    name of a mistake); dropout: "module" (block.dropout), "functional" (F.dropout, always on)
    or "none"; bare_norm: F.layer_norm without the block's learned scale and shift.
    """
    drop = {
        "module": block.dropout,
        "functional": lambda h: F.dropout(h, block.dropout.p),  # training=True by default!
        "none": lambda h: h,
    }[dropout]
    norm = (lambda h: F.layer_norm(h, h.shape[-1:])) if bare_norm else block.norm
    way = pre if block.norm_first else post
    if way == "post" or (way == "right" and not block.norm_first):
        return norm(x + drop(sublayer(x)))
    if way == "pre" or way == "right":
        return x + drop(sublayer(norm(x)))
    h = norm(x)
    return {
        "norm x": lambda: h + drop(sublayer(x)),
        "inside": lambda: x + norm(drop(sublayer(x))),
        "no residual": lambda: norm(drop(sublayer(x))),
        "no norm": lambda: x + drop(sublayer(x)),
        "dropout on the sum": lambda: norm(drop(x + sublayer(x))),
        "normalised residual": lambda: h + drop(sublayer(h)),
    }[way]()


def _add_norm_functional(block, x, sublayer):
    """F.dropout with the module's own training flag, and F.layer_norm with its parameters."""
    norm = block.norm

    def layer_norm(h):
        return F.layer_norm(h, norm.normalized_shape, norm.weight, norm.bias, norm.eps)

    def drop(h):
        return F.dropout(h, block.dropout.p, training=block.training)

    if block.norm_first:
        return x + drop(sublayer(layer_norm(x)))
    return layer_norm(x + drop(sublayer(x)))


ADD_NORM_ALTERNATIVES = {
    "lib's AddNorm": lambda block, x, sublayer: block(x, sublayer),
    "by hand, every switch off": add_norm_by_hand,
    "F.layer_norm and F.dropout(training=...)": _add_norm_functional,
    "one path for both forms": learner.one_path_for_both,
    "the residual kept by name": learner.residual_kept_by_name,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def add_norm_chain(
    x: torch.Tensor,
    blocks: Sequence[Callable],
    norms: Sequence[Callable | None],
    *,
    wrap: str = "post",
    skip: Sequence[int] = (),
    from_input: bool = False,
    drop: Callable | None = None,
) -> torch.Tensor:
    """x through each block with Add & Norm, or one of the usual wrong ways to write it.

    wrap: "post" norm(x + f(x)), "pre" x + f(norm(x)), "inside" x + norm(f(x)),
    "norm x" norm(x) + f(x). skip: blocks without a residual, norm(f(x)). from_input: every
    residual adds the layer's input instead of the sublayer's. A None norm is no norm;
    drop: dropout on each block's output.
    """
    layer_input = x
    for i, (block, norm) in enumerate(zip(blocks, norms)):
        norm = norm or (lambda h: h)
        f = block if drop is None else (lambda h, block=block: drop(block(h)))
        residual = layer_input if from_input else x
        if wrap == "pre":
            x = residual + f(norm(x))
        elif wrap == "inside":
            x = residual + norm(f(x))
        elif wrap == "norm x":
            x = norm(x) + f(x)
        else:
            x = norm(f(x)) if i in skip else norm(residual + f(x))
    return x


def _add_norm(block, x, sublayer, **mistake):
    """The lib's AddNorm, or one of its usual wrong versions (the switches of ``add_norm_by_hand``)."""
    return add_norm_by_hand(block, x, sublayer, **mistake) if mistake else block(x, sublayer)


def _add_norm_cases() -> list[tuple]:
    # Post-norm and pre-norm blocks in eval mode (dropout off), then both in training mode with
    # dropout 0.5 (the harness seeds every call, so the learner's dropout draws the reference's
    # mask). The norms have non-trivial scales and shifts, and x is far from mean 0, std 1,
    # so that a misplaced or missing norm shows. Last, dropout 0.2: at 0.5, p and 1 - p agree.
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(72)
        sublayer = FeedForward(8, 16).eval()
        blocks = []
        forms = [(first, training, 0.5) for training in (False, True) for first in (False, True)]
        for norm_first, training, p in [*forms, (False, True, 0.2)]:
            block = AddNorm(8, p, norm_first=norm_first).train(training)
            with torch.no_grad():
                block.norm.weight.uniform_(0.5, 1.5), block.norm.bias.uniform_(-0.5, 0.5)
            blocks.append(block)
    g = torch.Generator().manual_seed(72)
    return [(block, randn(2, 5, 8, gen=g, scale=3.0) + 1.0, sublayer) for block in blocks]


def dropout_left_on(owner: str) -> str:
    """The hint for F.dropout(h, p) in eval mode, where ``owner`` is the module the learner got."""
    instead = (
        "use block.dropout, which turns itself off in eval mode,"
        if owner == "block"
        else "the layer's parts already apply their own dropout (off in eval mode): leave yours out,"
    )
    return (
        "Your result changes from call to call in eval mode: dropout is left on. F.dropout(h, p) "
        "drops with training=True unless told otherwise, and a new nn.Dropout(p) is in training "
        f"mode; {instead} or pass training={owner}.training."
    )


def layer_mistakes(by_hand: Callable, attention: str, pair_example: Callable) -> tuple[Mistake, ...]:
    """The mistakes every layer exercise shares: dropout left on in eval mode, an attention
    module's (output, weights) pair used as a tensor, and the mask passed where the key goes.
    ``by_hand(..., dropout=True)`` is the learner's layer with F.dropout after the feed-forward
    network, ``by_hand(..., mask_by_position=True)`` calls layer.self_attn(x, mask)."""
    return (
        Mistake(
            name="dropout left on",
            hint=dropout_left_on("layer"),
            compute=None,
            recognise=varies_between_calls,
            example=partial(by_hand, dropout=True),
        ),
        Mistake(
            name="attention's pair used as a tensor",
            hint=f"{attention} returns a pair (output, weights): unpack it before adding, "
            "attended, _ = layer.self_attn(x, mask=mask).",
            compute=None,
            error="'Tensor' and 'tuple'|'tuple' and 'Tensor'|tuple.*has no attribute",
            example=pair_example,
        ),
        Mistake(
            name="mask passed as the key",
            hint="The mask went in as the KEY: attention's arguments are (query, key, value, mask). "
            "Name it, layer.self_attn(x, mask=mask), so that it lands where it belongs.",
            compute=None,
            error="key must be",
            example=partial(by_hand, mask_by_position=True),
        ),
    )


def _with_norm(block, x, sublayer, norm: Callable) -> torch.Tensor:
    """Add & Norm with ``norm(h, block.norm)`` in place of block.norm."""
    if block.norm_first:
        return x + block.dropout(sublayer(norm(x, block.norm)))
    return norm(x + block.dropout(sublayer(x)), block.norm)


def _over(dims: tuple[int, ...], *, unbiased: bool = False, eps_outside: bool = False) -> Callable:
    """A LayerNorm written by hand: mean and spread over ``dims``, the block's scale and shift."""

    def norm(h, ln):
        centred = h - h.mean(dim=dims, keepdim=True)
        var = h.var(dim=dims, keepdim=True, unbiased=unbiased)
        spread = var.sqrt() + ln.eps if eps_outside else (var + ln.eps).sqrt()
        return centred / spread * ln.weight + ln.bias

    return norm


def _layer_norm_variants(*variants: Callable) -> Callable:
    """A ``recognise``: the learner's output is Add & Norm with one of these hand-made norms,
    with or without the block's scale and shift."""

    def recognise(fn, case, got) -> bool:
        bare = nn.LayerNorm(case[1].shape[-1], eps=case[0].norm.eps)  # scale 1, shift 0
        for norm in variants:
            for ln in (case[0].norm, bare):
                block, x, sublayer = fresh(case)
                torch.default_generator.manual_seed(0)  # the check's seed: the same dropout mask
                if same(got, _with_norm(block, x, sublayer, lambda h, _, n=norm, ln=ln: n(h, ln)), 1e-4):
                    return True
        return False

    return recognise


ADD_NORM_MISTAKES = (
    Mistake(
        name="dropout left on",
        hint=dropout_left_on("block"),
        compute=None,
        recognise=lambda fn, case, got: not case[0].training and varies_between_calls(fn, case),
        example=partial(add_norm_by_hand, dropout="functional"),
    ),
    Mistake(
        name="norm(x) + sublayer(x)",
        hint="You normalised x and then added the sublayer's output: norm(x) + sublayer(x). Add "
        "first, then normalise the sum: norm(x + sublayer(x)).",
        compute=partial(_add_norm, post="norm x"),
        example=partial(add_norm_by_hand, post="norm x"),
    ),
    Mistake(
        name="always post-norm",
        hint="Your pre-norm block normalises after the add. When block.norm_first is True the "
        "norm goes on the sublayer's INPUT: x + dropout(sublayer(norm(x))).",
        compute=partial(_add_norm, pre="post"),
        example=partial(add_norm_by_hand, pre="post"),
    ),
    Mistake(
        name="always pre-norm",
        hint="Your post-norm block normalises the sublayer's input. When block.norm_first is False "
        "(the paper), normalise the sum instead: norm(x + dropout(sublayer(x))). (If your "
        "pre-norm branch does post-norm, the two are swapped: norm_first=True means the norm "
        "comes first, on the sublayer's input.)",
        compute=partial(_add_norm, post="pre"),
        example=partial(add_norm_by_hand, post="pre"),
    ),
    Mistake(
        name="norm before the add",
        hint="You normalised the sublayer's output and then added x: x + norm(sublayer(x)). "
        "Post-norm normalises the SUM: norm(x + sublayer(x)).",
        compute=partial(_add_norm, post="inside"),
        example=partial(add_norm_by_hand, post="inside"),
    ),
    Mistake(
        name="no residual",
        hint="The residual is missing: nothing of x is added back. Post-norm is "
        "norm(x + sublayer(x)), not norm(sublayer(x)).",
        compute=partial(_add_norm, post="no residual"),
        example=partial(add_norm_by_hand, post="no residual"),
    ),
    Mistake(
        name="no norm",
        hint="The LayerNorm is missing: post-norm normalises the sum, block.norm(x + dropout(sublayer(x))).",
        compute=partial(_add_norm, post="no norm"),
        example=lambda block, x, sublayer: (
            x + block.dropout(sublayer(block.norm(x) if block.norm_first else x))
        ),
    ),
    Mistake(
        name="LayerNorm without its scale and shift",
        hint="Your LayerNorm has no learned scale and shift: use the block's own, block.norm(…), "
        "whose weight and bias are trained with the rest (F.layer_norm(h, shape) alone has none).",
        compute=partial(_add_norm, bare_norm=True),
        example=lambda block, x, sublayer: learner.with_bare_norm(block, x, sublayer),
    ),
    Mistake(
        name="LayerNorm over the wrong axes",
        hint="Your norm takes its mean and variance over more than the last axis (the whole "
        "tensor, or positions and features together). LayerNorm normalises each token on its "
        "own, over its d_model features: dim=-1, as block.norm does.",
        compute=None,
        recognise=_layer_norm_variants(_over((0, 1, 2)), _over((1, 2)), _over((1,))),
        example=learner.normalises_everything,
    ),
    Mistake(
        name="LayerNorm by hand with .std()",
        hint="Your hand-made LayerNorm differs from block.norm: .std() divides by d - 1 (PyTorch's "
        "unbiased default), and LayerNorm divides by d, with eps inside the root: "
        "(h - mean) / sqrt(var(unbiased=False) + eps). Simplest: use block.norm(…).",
        compute=None,
        recognise=_layer_norm_variants(
            _over((-1,), unbiased=True),
            _over((-1,), unbiased=True, eps_outside=True),
            _over((-1,), eps_outside=True),
        ),
        example=learner.uses_std,
    ),
    Mistake(
        name="pre-norm adds the normalised x",
        hint="In pre-norm the residual must carry the RAW x: x + sublayer(norm(x)). You added the "
        "normalised one, norm(x) + sublayer(norm(x)), so the main stream is renormalised at "
        "every layer.",
        compute=partial(_add_norm, pre="normalised residual"),
        example=partial(add_norm_by_hand, pre="normalised residual"),
    ),
    Mistake(
        name="no dropout",
        hint="In training mode the sublayer's output goes through dropout before it is added: "
        "block.dropout(sublayer(...)). (The module turns itself off in eval mode.)",
        compute=partial(_add_norm, dropout="none"),
        example=partial(add_norm_by_hand, dropout="none"),
    ),
    Mistake(
        name="dropout on the sum",
        hint="Dropout belongs on the sublayer's output only, before the add: "
        "norm(x + dropout(sublayer(x))). Yours drops parts of x too.",
        compute=partial(_add_norm, post="dropout on the sum"),
        example=partial(add_norm_by_hand, post="dropout on the sum"),
    ),
)


ADD_NORM_MISTAKES = (MODE_SWITCHED, *ADD_NORM_MISTAKES, *MORE_MISTAKES)  # seventh audit's: add_norm_more
ADD_NORM_MISTAKES += MORE  # the round-41 battery: in add_norm_slips
ADD_NORM_MISTAKES += SLIPS_42  # round 42's battery: in add_norm_more
ADD_NORM_MISTAKES += ROUND_51B  # dropout on the residual too: add_norm_round51b


@learner_check
def check_add_norm(learner_fn: Callable) -> Result:
    """Exercise 07b: ``fn(block: AddNorm, x (B, L, d), sublayer) → (B, L, d)``: post-norm
    norm(x + dropout(sublayer(x))) or, when ``block.norm_first``, pre-norm
    x + dropout(sublayer(norm(x))); checked in eval and in training mode."""
    cases = _add_norm_cases()
    result = check_function(
        learner_fn, _add_norm, cases, name="add_norm", mistakes=ADD_NORM_MISTAKES, atol=1e-4, needs_grad=True
    )
    return note_built_ins(result, learner_fn, cases, asked_for.ADD_NORM)


EXERCISES = (
    Exercise(
        name="add_norm",
        chapter="07",
        check=check_add_norm,
        solution=add_norm_solution,
        starter=add_norm_starter,
        alternatives=ADD_NORM_ALTERNATIVES,
        mistakes=ADD_NORM_MISTAKES,
    ),
)
