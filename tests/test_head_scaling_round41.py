"""check_attention (chapters 03 and 04) names four more slips met reading chapter 04: a d_k from
outside the function, d_k ** 1/2, q * k and q.T @ k; right answers in other styles still pass."""

import math

import pytest
import torch
from transformer_course import checks
from transformer_course.checks import head_scaling


def _head(product, divide):
    def my_attention(x, w_q, w_k, w_v):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        weights = torch.softmax(divide(product(q, k), q), dim=-1)
        return weights @ v, weights

    return my_attention


NOTEBOOK_D_K = 8  # chapter 04's own d_k when the exercise runs


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (head_scaling._learner_reads_the_notebooks_d_k, "outside the function"),
        (_head(lambda q, k: q @ k.T, lambda s, q: s / math.sqrt(NOTEBOOK_D_K)), "outside the function"),
        (_head(lambda q, k: q @ k.T, lambda s, q: s / 3.0), "outside the function"),
        (head_scaling._learner_halves_d_k, "d_k ** 1/2"),
        (_head(lambda q, k: q @ k.T, lambda s, q: s / q.shape[-1] ** 1 / 2), "d_k ** 1/2"),
        (head_scaling._learner_multiplies_entrywise, "entry by entry"),
        (head_scaling._learner_transposes_q, "q.T @ k compares"),
    ],
)
def test_each_slip_is_named(answer, named):
    result = checks.check_attention(answer)
    assert not result.passed
    assert named in result.message, result.message


@pytest.mark.parametrize(
    "answer",
    [
        _head(lambda q, k: q @ k.T, lambda s, q: s / math.sqrt(q.shape[-1])),
        _head(lambda q, k: q @ k.T, lambda s, q: s / q.shape[-1] ** 0.5),
        _head(lambda q, k: q @ k.T, lambda s, q: s * q.shape[-1] ** -0.5),
        _head(lambda q, k: torch.einsum("id,jd->ij", q, k), lambda s, q: s / math.sqrt(q.shape[1])),
        _head(lambda q, k: (q[:, None, :] * k[None, :, :]).sum(-1), lambda s, q: s / q.shape[-1] ** (1 / 2)),
    ],
)
def test_right_answers_in_other_styles_pass(answer):
    result = checks.check_attention(answer)
    assert result.passed, result.message


def test_no_scaling_and_sqrt_d_model_keep_their_own_names():
    none = checks.check_attention(_head(lambda q, k: q @ k.T, lambda s, q: s))
    assert not none.passed and "outside the function" not in none.message and "** 1/2" not in none.message
