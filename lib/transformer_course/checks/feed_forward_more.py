"""More of ``feed_forward``'s catalogue: the wrong answers met in the eleventh audit, each
with what gives it away, its hint and a learner-style example; and ``SLIPS_42B``, met in round
42b's battery (a ReLU capped at 1, a gated activation, the hidden layer normalised), whose
examples are in ``feed_forward_learners``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import feed_forward_learners as learner
from .failure import Failure, failed_in, holds, took
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
        failed_at=lambda failure, case: weight_on_the_left(failure, case),
        example=_weights_on_the_left,
    ),
)


def _with_hidden(act):
    """The network with ``act(h)`` for the ReLU of the hidden layer h = x @ w_1 + b_1."""
    return lambda x, w_1, b_1, w_2, b_2: act(x @ w_1 + b_1) @ w_2 + b_2


_GATES = (F.silu, F.gelu)  # h · sigmoid(h) is SiLU itself: "another activation"


def _gated(fn, case, got) -> bool:
    """h · g(h) for a gate g (SiLU, GELU): a GLU's gate on the hidden layer itself."""
    return any(torch.allclose(got, _with_hidden(lambda h, g=g: h * g(h))(*case), atol=1e-4) for g in _GATES)


SLIPS_42B = (
    Mistake(
        name="ReLU capped at 1",
        hint="Your activation stops at 1 (clamp(0, 1), hardtanh(0, 1)): ReLU lets every positive "
        "value through unchanged, max(0, h), with no ceiling. Use torch.relu(h) or h.clamp(min=0).",
        compute=_with_hidden(lambda h: h.clamp(0, 1)),
        example=learner.caps_the_relu,
    ),
    Mistake(
        name="a gated activation",
        hint="Your hidden layer is h times a gate of itself (h * silu(h), h * gelu(h)): that is "
        "a GLU-style gate, as in LLaMA's SwiGLU, which has a third weight matrix of its own. The "
        "chapter's feed-forward network is ReLU(x W₁ + b₁) W₂ + b₂: torch.relu(h), nothing more.",
        compute=None,
        recognise=lambda fn, case, got: isinstance(got, torch.Tensor) and _gated(fn, case, got),
        example=learner.gates_the_hidden_layer,
    ),
    Mistake(
        name="hidden layer normalised",
        hint="You normalised the hidden layer (a LayerNorm inside the network): normalising is Add "
        "& Norm's job, around the sublayer, later in this chapter. The feed-forward network itself "
        "is only torch.relu(x @ w_1 + b_1) @ w_2 + b_2.",
        compute=_with_hidden(lambda h: F.layer_norm(F.relu(h), h.shape[-1:])),
        example=learner.normalises_the_hidden_layer,
    ),
)


# --- Round 45b: the whole Add & Norm written into the feed-forward network ---


def _with_add_and_norm(x, w_1, b_1, w_2, b_2):
    out = torch.relu(x @ w_1 + b_1) @ w_2 + b_2
    return F.layer_norm(x + out, x.shape[-1:])


def _learner_adds_and_normalises(x, w_1, b_1, w_2, b_2):
    hidden = torch.relu(x @ w_1 + b_1)
    out = x + (hidden @ w_2 + b_2)  # the residual, as in the encoder layer
    mean, std = out.mean(-1, keepdim=True), out.std(-1, unbiased=False, keepdim=True)
    return (out - mean) / (std + 1e-5)  # and its LayerNorm


ROUND_45B = (
    Mistake(
        name="Add & Norm inside",
        hint="You added x back and normalised the sum, LayerNorm(x + FFN(x)): that is the Add & "
        "Norm wrapped AROUND the feed-forward network in the encoder layer, not part of it. "
        "Return the network's output alone: torch.relu(x @ w_1 + b_1) @ w_2 + b_2.",
        compute=_with_add_and_norm,
        example=_learner_adds_and_normalises,
    ),
)


# --- Round 47c: each named where the function that failed took what its hint names ---

PRODUCTS = ("matmul", "mm", "bmm", "einsum", "linear")
ADDS = ("add", "add_", "addmm", "linear", "__radd__", "__iadd__")


def weight_on_the_left(failure: Failure, case: tuple) -> bool:
    """A product failed with w_1 or w_2 as its LEFT operand: w_1 @ x, not x.transpose(-2, -1) @ w_1."""
    _, w_1, _, w_2, _ = case
    left = failure.operands[:1]
    return failed_in(failure, *PRODUCTS) and any(holds(op, w) for op in left for w in (w_1, w_2))


def adds_a_bias(failure: Failure, case: tuple) -> bool:
    """An addition (or a linear's bias) failed that took b_1 or b_2: x @ w_1 + b_2, not h * w_2."""
    _, _, b_1, _, b_2 = case
    return failed_in(failure, *ADDS) and (took(failure, b_1) or took(failure, b_2))
