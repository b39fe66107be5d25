"""Exercise 07a: the position-wise feed-forward network.

``feed_forward(x (..., d_model), w_1 (d_model, d_ff), b_1 (d_ff,), w_2 (d_ff, d_model),
b_2 (d_model,)) → (..., d_model)``: ReLU(x W₁ + b₁) W₂ + b₂, the same weights at every position.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from ..layers import FeedForward
from . import asked_for
from . import feed_forward_learners as learner
from .built_ins import note_built_ins
from .describe import same
from .feed_forward_more import MORE_MISTAKES, ROUND_45B, SLIPS_42B, adds_a_bias
from .feed_forward_slips import FIRST, MORE
from .harness import Exercise, Mistake, Result, check_function, randn, varies_between_calls
from .stale import learner_check

# --- The learner's side: the starter, a worked solution, other correct answers ---


def ffn_starter(x, w_1, b_1, w_2, b_2):
    """x (..., d_model) → (..., d_model), through a hidden layer of width d_ff."""
    raise NotImplementedError


def ffn_solution(x, w_1, b_1, w_2, b_2):
    """x (..., d_model) → (..., d_model), through a hidden layer of width d_ff."""
    hidden = torch.relu(x @ w_1 + b_1)  # (..., d_ff): widen, keep the positive part
    return hidden @ w_2 + b_2  # (..., d_model): back to the model's width


def ffn_by_hand(
    x, w_1, b_1, w_2, b_2, *, act=torch.relu, relu_out=False, bias=(True, True), early=False, add=False
):
    """A learner's feed-forward network with one switch per catalogued mistake (all off: correct)."""
    h = x @ w_1
    h = act(h) + b_1 if early else act(h + b_1 if bias[0] else h)
    out = h @ w_2 + (b_2 if bias[1] else 0)
    out = torch.relu(out) if relu_out else out
    return x + out if add else out


def _ffn_with_linear_layers(x, w_1, b_1, w_2, b_2):
    """nn.Linear stores W transposed: F.linear(x, W.T, b) = x @ W + b."""
    return F.linear(F.relu(F.linear(x, w_1.T, b_1)), w_2.T, b_2)


def _ffn_with_lib_module(x, w_1, b_1, w_2, b_2):
    ffn = FeedForward(w_1.shape[0], w_1.shape[1])
    with torch.no_grad():
        ffn.linear1.weight.copy_(w_1.T), ffn.linear1.bias.copy_(b_1)
        ffn.linear2.weight.copy_(w_2.T), ffn.linear2.bias.copy_(b_2)
    return ffn(x) if x.dim() == 3 else ffn(x.unsqueeze(0))[0]  # with gradients, as in training


def _ffn_one_position_at_a_time(x, w_1, b_1, w_2, b_2):
    rows = x.reshape(-1, x.shape[-1])
    out = torch.stack([ffn_solution(row, w_1, b_1, w_2, b_2) for row in rows])
    return out.reshape(*x.shape[:-1], w_2.shape[1])


FFN_ALTERNATIVES = {
    "F.linear and F.relu": _ffn_with_linear_layers,
    "lib's FeedForward": _ffn_with_lib_module,
    "one position at a time": _ffn_one_position_at_a_time,
    "clamp(min=0), einsum": lambda x, w_1, b_1, w_2, b_2: (
        (torch.einsum("...d,df->...f", x, w_1) + b_1).clamp(min=0) @ w_2 + b_2
    ),
    "in float64": lambda *a: ffn_solution(*(t.double() for t in a)),
    "torch.where": learner.with_where,
    "tensordot, clamp": learner.with_tensordot,
    "nn.Sequential, weights copied": learner.with_sequential,
    "addmm on the rows": learner.addmm_on_flattened_rows,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def _ffn(x, w_1, b_1, w_2, b_2, *, act=F.relu, relu_out=False, b1=True, b2=True, early=False, add=False):
    h = x @ w_1
    h = act(h) + b_1 if early else act(h + b_1) if b1 else act(h)
    out = h @ w_2 + (b_2 if b2 else 0.0)
    out = F.relu(out) if relu_out else out
    return x + out if add else out


def _ffn_cases() -> list[tuple]:
    # Biases of the same size as the products, so that a missing bias or a ReLU before the
    # bias shows; d_ff ≠ d_model, so that a transposed weight cannot fit; a 2-D input too.
    g = torch.Generator().manual_seed(71)
    cases = []
    for shape, d_ff in (((2, 5, 8), 32), ((6, 4), 12), ((1, 3, 6), 10)):
        d = shape[-1]
        weights = (randn(d, d_ff, gen=g, scale=d**-0.5), randn(d_ff, gen=g))
        weights += (randn(d_ff, d, gen=g, scale=d_ff**-0.5), randn(d, gen=g))
        cases.append((randn(*shape, gen=g), *weights))
    # Large inputs: hidden values far past 6, so that an activation that caps them (ReLU6,
    # hardtanh) differs from ReLU somewhere.
    d, d_ff = 8, 16
    weights = (randn(d, d_ff, gen=g, scale=d**-0.5), randn(d_ff, gen=g))
    weights += (randn(d_ff, d, gen=g, scale=d_ff**-0.5), randn(d, gen=g))
    cases.append((randn(2, 3, d, gen=g, scale=10.0), *weights))
    return cases


_OTHER_ACTIVATIONS = (
    partial(F.gelu, approximate="tanh"),
    F.silu,
    torch.tanh,
    torch.sigmoid,
    F.leaky_relu,
    F.elu,
    F.relu6,  # the seventh audit: capped or smooth ReLUs, each another activation
    F.hardtanh,
    F.softplus,
    F.mish,
    F.selu,
    torch.abs,  # the round-41 battery: |h|, the squared ReLU, a 0/1 step
    lambda h: F.relu(h) ** 2,
    lambda h: (h > 0).to(h.dtype),
)


def _another_activation(fn, case, got) -> bool:
    """The network with an activation other than ReLU (and other than GELU, named on its own)."""
    return any(same(got, _ffn(*case, act=act), 1e-4) for act in _OTHER_ACTIVATIONS)


FFN_MISTAKES = (
    Mistake(
        name="dropout",
        hint="Your result changes from call to call: something draws random numbers, usually "
        "F.dropout (on unless training=False). This exercise has no dropout: the layer's "
        "nn.Dropout module handles it, and only in training.",
        compute=None,
        recognise=varies_between_calls,
        example=lambda x, w_1, b_1, w_2, b_2: F.dropout(torch.relu(x @ w_1 + b_1), 0.1) @ w_2 + b_2,
    ),
    Mistake(
        name="no ReLU",
        hint="There is no ReLU between the two layers: two linear maps in a row are just one "
        "linear map. Apply torch.relu to the hidden layer, relu(x @ w_1 + b_1).",
        compute=partial(_ffn, act=lambda h: h),
        example=partial(ffn_by_hand, act=lambda h: h),
    ),
    Mistake(
        name="ReLU on the output too",
        hint="You applied ReLU to the output as well: only the hidden layer gets it. The output "
        "h @ w_2 + b_2 must be able to be negative.",
        compute=partial(_ffn, relu_out=True),
        example=partial(ffn_by_hand, relu_out=True),
    ),
    Mistake(
        name="ReLU on the output only",
        hint="Your ReLU is on the output, not between the layers: the hidden vector gets it, "
        "relu(x @ w_1 + b_1) @ w_2 + b_2. Without it the two layers are one linear map, and the "
        "output must be able to be negative.",
        compute=lambda x, w_1, b_1, w_2, b_2: F.relu((x @ w_1 + b_1) @ w_2 + b_2),
        example=lambda x, w_1, b_1, w_2, b_2: torch.relu((x @ w_1 + b_1) @ w_2 + b_2),
    ),
    Mistake(
        name="ReLU on the input",
        hint="Your ReLU is on the input x, before the first layer: it belongs on the hidden "
        "vector, relu(x @ w_1 + b_1) @ w_2 + b_2. On x it throws away every negative feature "
        "before the network has seen it.",
        compute=lambda x, w_1, b_1, w_2, b_2: (F.relu(x) @ w_1 + b_1) @ w_2 + b_2,
        example=lambda x, w_1, b_1, w_2, b_2: (x.clamp(min=0) @ w_1 + b_1) @ w_2 + b_2,
    ),
    Mistake(
        name="ReLU before the bias",
        hint="You added b_1 after the ReLU: the bias belongs inside, relu(x @ w_1 + b_1), so it "
        "shifts where each hidden unit switches on.",
        compute=partial(_ffn, early=True),
        example=partial(ffn_by_hand, early=True),
    ),
    Mistake(
        name="no biases",
        hint="Both biases are missing: the layers are x @ w_1 + b_1 and h @ w_2 + b_2.",
        compute=partial(_ffn, b1=False, b2=False),
        example=partial(ffn_by_hand, bias=(False, False)),
    ),
    Mistake(
        name="no b_1",
        hint="The first bias is missing: the hidden layer is relu(x @ w_1 + b_1).",
        compute=partial(_ffn, b1=False),
        example=partial(ffn_by_hand, bias=(False, True)),
    ),
    Mistake(
        name="no b_2",
        hint="The second bias is missing: the output is h @ w_2 + b_2.",
        compute=partial(_ffn, b2=False),
        example=partial(ffn_by_hand, bias=(True, False)),
    ),
    Mistake(
        name="GELU",
        hint="You used GELU (BERT's and GPT's choice); the paper's feed-forward network, and the "
        "lib's default, use ReLU: torch.relu.",
        compute=partial(_ffn, act=F.gelu),
        example=partial(ffn_by_hand, act=F.gelu),
    ),
    Mistake(
        name="another activation",
        hint="Your hidden layer uses another activation (tanh, sigmoid, SiLU, a leaky ReLU…); the "
        "paper's feed-forward network uses ReLU, max(0, h): torch.relu(x @ w_1 + b_1).",
        compute=None,
        recognise=_another_activation,
        example=lambda x, w_1, b_1, w_2, b_2: torch.tanh(x @ w_1 + b_1) @ w_2 + b_2,
    ),
    Mistake(
        name="biases swapped",
        hint="A bias does not fit: b_1 has d_ff entries and belongs to the hidden layer, "
        "x @ w_1 + b_1; b_2 has d_model entries and belongs to the output, h @ w_2 + b_2.",
        compute=None,
        error=r"must match the size of tensor|must match the existing size",
        failed_at=adds_a_bias,
        example=lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1 + b_2) @ w_2 + b_1,
    ),
    Mistake(
        name="residual added",
        hint="You added x back: that residual is Add & Norm's job, around the feed-forward "
        "network. The network itself returns relu(x @ w_1 + b_1) @ w_2 + b_2.",
        compute=partial(_ffn, add=True),
        example=partial(ffn_by_hand, add=True),
    ),
    Mistake(
        name="weights transposed",
        hint="A matrix product does not fit: here the weights are stored (in, out), so it is "
        "x @ w_1 with w_1 (d_model, d_ff), then h @ w_2 with w_2 (d_ff, d_model), no transpose. "
        "(nn.Linear stores them the other way round, (out, in), which is why it computes x @ W.T.)",
        compute=None,
        error="shapes cannot be multiplied|size mismatch",
        example=lambda x, w_1, b_1, w_2, b_2: torch.relu(x @ w_1.T + b_1) @ w_2.T + b_2,
    ),
)


def _learner_softmaxes_the_hidden_layer(x, w_1, b_1, w_2, b_2):
    hidden = torch.softmax(x @ w_1 + b_1, dim=-1)  # attention's nonlinearity, not the FFN's
    return hidden @ w_2 + b_2


def _learner_keeps_the_negative_part(x, w_1, b_1, w_2, b_2):
    hidden = torch.min(x @ w_1 + b_1, torch.zeros(1))  # meant max(0, h)
    return hidden @ w_2 + b_2


def _learner_normalises_the_output(x, w_1, b_1, w_2, b_2):
    out = torch.relu(x @ w_1 + b_1) @ w_2 + b_2
    return F.layer_norm(out, out.shape[-1:])  # Add & Norm's job, not the FFN's


def _learner_stops_at_the_hidden_layer(x, w_1, b_1, w_2, b_2):
    return F.relu(x @ w_1 + b_1)  # (…, d_ff): the second layer forgotten


def _normalised(out: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(out, out.shape[-1:])


# Answers met in the seventh audit: each names what it computes.
FFN_MISTAKES += (
    Mistake(
        name="softmax as the activation",
        hint="Your hidden layer goes through a softmax: that is attention's nonlinearity. The "
        "feed-forward network uses ReLU, each hidden unit on its own: "
        "torch.relu(x @ w_1 + b_1) @ w_2 + b_2.",
        compute=partial(_ffn, act=lambda h: torch.softmax(h, dim=-1)),
        example=_learner_softmaxes_the_hidden_layer,
    ),
    Mistake(
        name="min instead of max",
        hint="Your hidden layer keeps the NEGATIVE part, min(h, 0): ReLU is max(0, h), "
        "torch.relu(h) or h.clamp(min=0).",
        compute=partial(_ffn, act=lambda h: h.clamp(max=0)),
        example=_learner_keeps_the_negative_part,
    ),
    Mistake(
        name="output normalised",
        hint="You normalised the output (a layer norm): that is Add & Norm's step, around the "
        "feed-forward network. The network itself ends with the second layer: "
        "hidden @ w_2 + b_2.",
        compute=lambda *case: _normalised(_ffn(*case)),
        example=_learner_normalises_the_output,
    ),
    Mistake(
        name="hidden layer returned",
        hint="You returned the hidden layer, (…, d_ff): the network goes back to the model's "
        "width with its second layer, relu(x @ w_1 + b_1) @ w_2 + b_2, (…, d_model).",
        compute=lambda x, w_1, b_1, w_2, b_2: F.relu(x @ w_1 + b_1),
        example=_learner_stops_at_the_hidden_layer,
    ),
)


FFN_MISTAKES += MORE_MISTAKES  # met in the eleventh audit: in feed_forward_more
# Met in the round-41 battery: FIRST must be tried before the mistakes that would claim the
# same answers (dropout for new nn.Linear layers, a swapped bias for x * w_1).
FFN_MISTAKES = FIRST + FFN_MISTAKES + MORE + SLIPS_42B  # and round 42b's, in feed_forward_more
FFN_MISTAKES += ROUND_45B  # the Add & Norm written inside: feed_forward_more


@learner_check
def check_feed_forward(learner_fn: Callable) -> Result:
    """Exercise 07a: ``fn(x (..., d_model), w_1 (d_model, d_ff), b_1, w_2 (d_ff, d_model), b_2)`` →
    ``(..., d_model)``, ReLU(x W₁ + b₁) W₂ + b₂ at every position."""
    cases = _ffn_cases()
    result = check_function(
        learner_fn, _ffn, cases, name="feed_forward", mistakes=FFN_MISTAKES, atol=1e-4, needs_grad=True
    )
    return note_built_ins(result, learner_fn, cases, asked_for.FEED_FORWARD)


EXERCISES = (
    Exercise(
        name="feed_forward",
        chapter="07",
        check=check_feed_forward,
        solution=ffn_solution,
        starter=ffn_starter,
        alternatives=FFN_ALTERNATIVES,
        mistakes=FFN_MISTAKES,
    ),
)
