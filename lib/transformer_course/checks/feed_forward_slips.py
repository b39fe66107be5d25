"""More of ``feed_forward``'s catalogue: the slips met in the round-41 battery of wrong answers,
each with what gives it away and its hint (the examples are in ``feed_forward_learners``).

``FIRST`` goes to the front of the catalogue (it must be tried before a mistake that would
claim the same answer with another hint); ``MORE`` goes at the end.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import feed_forward_learners as learner
from .describe import same
from .failure import Failure, failed_in, took
from .harness import Mistake, fresh

RIGHT = "torch.relu(x @ w_1 + b_1) @ w_2 + b_2"


def _uses_torch_bmm(x, w_1, b_1, w_2, b_2):
    """Review R3's F10: W expanded to x's batch, for torch.bmm."""
    batch = x.shape[0]
    hidden = torch.relu(torch.bmm(x, w_1.expand(batch, *w_1.shape)) + b_1)
    return torch.bmm(hidden, w_2.expand(batch, *w_2.shape)) + b_2


def _ffn(x, w_1, b_1, w_2, b_2):
    return F.relu(x @ w_1 + b_1) @ w_2 + b_2


def _ignores_the_weights(fn, case, got) -> bool:
    """The same result with other weights: the function computes with layers or tensors of
    its own (a new nn.Linear draws its weights from the same seeded random state each call)."""
    if not isinstance(got, torch.Tensor):
        return False
    x, w_1, b_1, w_2, b_2 = fresh(case)
    torch.default_generator.manual_seed(0)  # the check's seed: the same draws as for ``got``
    other = fn(x, 2 * w_1 + 1, b_1 + 1, 2 * w_2 + 1, b_2 + 1)
    return isinstance(other, torch.Tensor) and same(other, got, 1e-6)


def _scaled(fn, case, got) -> bool:
    """The output (or the hidden layer) divided by √d_ff or √d_model, attention's scaling."""
    x, w_1, b_1, w_2, b_2 = case
    hidden = F.relu(x @ w_1 + b_1)
    for root in (math.sqrt(w_1.shape[1]), math.sqrt(w_1.shape[0])):
        answers = (hidden @ w_2 / root + b_2, (hidden @ w_2 + b_2) / root, hidden / root @ w_2 + b_2)
        if any(same(got, answer, 1e-4) for answer in answers):
            return True
    return False


def _last_position_left(fn, case, got) -> bool:
    """Every position right but the last, which is x itself or zeros: a loop one short."""
    want = _ffn(*case)
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        return False
    rows, right = got.reshape(-1, got.shape[-1]), want.reshape(-1, want.shape[-1])
    return len(rows) > 1 and same(rows[:-1], right[:-1], 1e-4) and not same(rows[-1], right[-1], 1e-4)


FIRST = (
    # On the first input d_model = 8 and d_ff = 32: a matrix product with 16 (the chapter's
    # d_model), 64 (its d_ff) or 512 (the paper's) on the other side comes from outside the
    # function. Before "weights transposed", which would claim it with another hint.
    Mistake(
        name="a size from outside the function",
        hint="A size from outside your function does not fit this input (d_model = 8 here): a "
        "number written in (the chapter's 16) or a notebook variable (ffn's weights). Read every "
        "size from the arguments (x.shape[-1], w_1.shape) and compute with w_1, b_1, w_2, b_2: "
        f"{RIGHT}.",
        compute=None,
        error=r"shapes cannot be multiplied \((\d+x(16|64|512) and 8x\d+|\d+x8 and (16|64|512)x\d+)\)",
        example=learner.writes_the_chapters_d_model,
    ),
    Mistake(
        name="weights not used",
        hint="Your result stays the same when w_1, b_1, w_2 and b_2 change: your function does "
        "not compute with the weights it is given (a new nn.Linear draws random weights of its "
        "own; a notebook variable such as ffn holds others). Compute with the arguments: "
        f"{RIGHT}.",
        compute=None,
        recognise=_ignores_the_weights,
        example=learner.uses_new_linear_layers,
    ),
    # x (2, 5, 8) * w_1 (8, 32) on the first input: the last axes, d_model and d_ff, meet.
    # (A swapped bias meets them the other way round: a (32), b (8).)
    Mistake(
        name="entry by entry",
        hint="You multiplied entry by entry, x * w_1: a layer is a matrix product, x @ w_1, in "
        f"which each hidden unit sums over all d_model inputs: {RIGHT}.",
        compute=None,
        error=r"size of tensor a \(8\) must match the size of tensor b \(32\) at non-singleton dimension 2",
        failed_at=lambda failure, case: _multiplies_a_weight(failure, case),
        example=learner.multiplies_entry_by_entry,
    ),
)

MORE = (
    Mistake(
        name="torch.max(h, 0)",
        hint="torch.max(h, 0) is not ReLU: it takes the largest entry ALONG dimension 0 and returns "
        "a pair (values, indices). ReLU compares each entry with 0: torch.relu(h), "
        "h.clamp(min=0) or torch.maximum(h, torch.zeros(1)).",
        compute=None,
        error=r"return_types\.max",
        example=learner.takes_torch_max,
    ),
    Mistake(
        name="Python's max",
        hint="Python's max (or an `if` on a tensor) cannot compare a whole tensor with 0: it needs "
        "one True or False. ReLU compares each entry on its own: torch.relu(h), or "
        "h.clamp(min=0).",
        compute=None,
        error=r"Boolean value of Tensor with more than one (value|values) is ambiguous",
        example=learner.takes_pythons_max,
    ),
    Mistake(
        name="torch.maximum with a number",
        hint="torch.maximum takes two tensors, not a tensor and 0: torch.maximum(h, torch.zeros(1)), "
        "or simply torch.relu(h).",
        compute=None,
        error=r"maximum\(\): argument 'other' .*must be Tensor",
        example=learner.takes_torch_maximum_of_a_number,
    ),
    Mistake(
        name="torch.mm on a batch",
        hint="torch.mm multiplies two 2-D matrices only, and x may be a batch (B, L, d_model): "
        f"use @ (torch.matmul), which works for x of any shape (..., d_model): {RIGHT}.",
        compute=None,
        error=r"self must be a matrix",
        example=learner.uses_torch_mm,
    ),
    Mistake(  # round 51 (review R3, F10): torch.bmm, 3-D only, over W expanded to the batch
        name="torch.bmm on an input that is not 3-D",
        hint="torch.bmm multiplies batches of matrices, exactly 3-D, and x may be of any shape "
        f"(..., d_model), a single (L, d_model) sentence too: use @ (torch.matmul), which "
        f"broadcasts W over every leading axis, no expand needed: {RIGHT}.",
        compute=None,
        error=r"batch[12] must be a 3D tensor",
        example=_uses_torch_bmm,
    ),
    Mistake(
        name="einsum subscripts the nn.Linear way",
        hint="Your einsum's subscripts do not fit the weights: here w_1 is stored (in, out), "
        "(d_model, d_ff), not (out, in) as nn.Linear stores it: "
        "torch.einsum('...d,df->...f', x, w_1), then '...f,fd->...d' with w_2.",
        compute=None,
        error=r"einsum\(\): subscript \w+ has size",
        example=learner.writes_einsum_the_linear_way,
    ),
    # The first input is (2, 5, 8) with d_ff = 32: 80 numbers cannot fill (2, 5, 32).
    Mistake(
        name="reshaped to d_ff",
        hint="Your reshape asks for d_ff numbers per position, w_2.shape[0]: the output has "
        "d_model, w_2.shape[1] (w_2 is (d_ff, d_model)), or reshape it to x.shape. With @ no "
        f"reshape is needed at all: {RIGHT}.",
        compute=None,
        error=r"shape '\[2, 5, 32\]' is invalid for input of size 80",
        example=learner.reshapes_to_d_ff,
    ),
    Mistake(
        name="w_1 reused",
        hint="Your second layer multiplies by w_1.T: it has weights of its own, w_2 "
        "(d_ff, d_model): hidden @ w_2 + b_2.",
        compute=lambda x, w_1, b_1, w_2, b_2: F.relu(x @ w_1 + b_1) @ w_1.T + b_2,
        example=learner.reuses_w_1,
    ),
    Mistake(
        name="ReLU on the input and the hidden layer",
        hint="You applied ReLU to the input x as well: only the hidden layer gets it. On x it "
        f"throws away every negative feature before the network has seen it: {RIGHT}.",
        compute=lambda x, w_1, b_1, w_2, b_2: F.relu(F.relu(x) @ w_1 + b_1) @ w_2 + b_2,
        example=learner.relu_on_input_and_hidden,
    ),
    Mistake(
        name="biases subtracted",
        hint=f"You subtracted the biases: a layer ADDS its bias, x @ w_1 + b_1 and h @ w_2 + b_2: {RIGHT}.",
        compute=lambda x, w_1, b_1, w_2, b_2: F.relu(x @ w_1 - b_1) @ w_2 - b_2,
        example=learner.subtracts_the_biases,
    ),
    Mistake(
        name="scaled like attention",
        hint="You divided by a square root (√d_ff or √d_model): that scaling belongs to "
        f"attention's scores. The feed-forward network has none: {RIGHT}.",
        compute=None,
        recognise=_scaled,
        example=learner.scales_like_attention,
    ),
    Mistake(
        name="loop one short",
        hint="Every position is right except the last one, which your loop never computed: it "
        "stops one short (range(n - 1), or [:-1]). Loop over every position, or use @, which "
        f"handles all positions at once: {RIGHT}.",
        compute=None,
        recognise=_last_position_left,
        example=learner.loop_stops_one_short,
    ),
)


def _multiplies_a_weight(failure: Failure, case: tuple) -> bool:
    """An entry-by-entry product failed that took w_1 or w_2: x * w_1, not x + relu(x @ w_1)."""
    _, w_1, _, w_2, _ = case
    muls = ("mul", "mul_", "multiply", "__rmul__", "__imul__")
    return failed_in(failure, *muls) and (took(failure, w_1) or took(failure, w_2))
