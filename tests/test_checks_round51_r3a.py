"""Round 51, review R3 (task F7): chapters 06, 01 and 04's learner slips named wrongly or not at all.

- F1: masks in the BLOCKED convention joined with & were told "you combined with OR, use AND".
- F2: an additive mask (1 - allowed) * -inf (0 × -inf = NaN) and an integer mask inverted with ~
  (every score blocked) were told "you filled with +inf".
- F3: a catalogued masks slip whose NaN rows were set to 0 (nan_to_num) got "differs at index".
- F4: the mask laid on the scores transposed got "differs at index".
- F5: dim=-2 was quoted as dim=1; an integer 0/1 mask was told it held 1.0 and 0.0.
- F15: softmax with the row's max ADDED got "inf or NaN where the reference is finite".
- F16: cosine similarity with the example's 4 tokens or 3 features hard-coded got a shape or an index.
- N6: a learner's torch.set_default_dtype outlived the check.

Each slip is the learner code of the review's findings (/work/notes/s51/r3-findings.md), and each
group of tests runs two or more right answers of the same style through the same checker.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformer_course.checks import (
    PASSED,
    WRONG,
    check_causal_masked_weights,
    check_cosine_similarity,
    check_softmax,
)
from transformer_course.checks.harness import check_function

NEG = float("-inf")


def _allowed(ids, pad_id):
    length = ids.shape[1]
    return torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id).unsqueeze(1)


def _wrong_with(check, fn, *words):
    result = check(fn)
    assert result.status == WRONG, result.message
    for word in words:
        assert word in result.message, (word, result.message)
    return result.message


def _passes(check, fn):
    result = check(fn)
    assert result.status == PASSED, result.message


# --- F1: blocked masks joined with & (the same weights as allowed masks joined with |) ---


def blocked_joined_with_and(scores, ids, pad_id):
    length = ids.shape[1]
    blocked = torch.ones(length, length, dtype=torch.bool).triu(1) & (ids == pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(blocked, NEG), -1)


def allowed_joined_with_or(scores, ids, pad_id):
    length = ids.shape[1]
    allowed = torch.ones(length, length, dtype=torch.bool).tril() | (ids != pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(~allowed, NEG), -1)


def blocked_joined_with_or(scores, ids, pad_id):
    length = ids.shape[1]
    blocked = torch.ones(length, length, dtype=torch.bool).triu(1) | (ids == pad_id).unsqueeze(1)
    return torch.softmax(scores.masked_fill(blocked, NEG), -1)


def allowed_by_arange(scores, ids, pad_id):
    i = torch.arange(ids.shape[1])
    allowed = (i[None, :] <= i[:, None]) & (ids != pad_id)[:, None, :]
    return F.softmax(scores.masked_fill(allowed == 0, NEG), dim=-1)


def test_f1_blocked_masks_joined_with_and_are_told_to_use_or():
    _wrong_with(check_causal_masked_weights, blocked_joined_with_and, "BLOCKED", "triu(diagonal=1)", "OR (|)")


def test_f1_allowed_masks_joined_with_or_are_still_told_to_use_and():
    _wrong_with(check_causal_masked_weights, allowed_joined_with_or, "AND (&)", "MAY be seen")


@pytest.mark.parametrize("fn", [blocked_joined_with_or, allowed_by_arange])
def test_f1_right_masks_in_either_convention_pass(fn):
    _passes(check_causal_masked_weights, fn)


# --- F2: NaN from the mask itself, not from a +inf fill ---


def multiplies_by_minus_inf(scores, ids, pad_id):
    length = ids.shape[1]
    ok = (torch.ones(length, length).tril().bool() & (ids != pad_id).unsqueeze(1)).float()
    return torch.softmax(scores + (1 - ok) * float("-inf"), -1)


def inverts_an_integer_mask(scores, ids, pad_id):
    length = ids.shape[1]
    ok = torch.ones(length, length).tril().long() * (ids != pad_id).long().unsqueeze(1)
    return torch.softmax(scores.masked_fill((~ok).bool(), float("-inf")), -1)


def fills_with_plus_inf(scores, ids, pad_id):
    return torch.softmax(scores.masked_fill(~_allowed(ids, pad_id), float("inf")), -1)


def additive_minus_1e9(scores, ids, pad_id):
    ok = _allowed(ids, pad_id).float()
    return torch.softmax(scores + (1 - ok) * -1e9, -1)


def integer_mask_compared_with_zero(scores, ids, pad_id):
    length = ids.shape[1]
    ok = torch.ones(length, length).tril().long() * (ids != pad_id).long().unsqueeze(1)
    return torch.softmax(scores.masked_fill(ok == 0, float("-inf")), -1)


def additive_by_where(scores, ids, pad_id):
    bias = torch.where(_allowed(ids, pad_id), 0.0, float("-inf"))
    return torch.softmax(scores + bias, -1)


@pytest.mark.parametrize("fn", [multiplies_by_minus_inf, inverts_an_integer_mask])
def test_f2_nan_from_the_mask_is_not_called_a_plus_inf_fill(fn):
    message = _wrong_with(check_causal_masked_weights, fn, "0 × -inf", "~ on a 0/1 integer mask")
    assert "+inf" not in message


def test_f2_a_plus_inf_fill_keeps_its_hint():
    _wrong_with(check_causal_masked_weights, fills_with_plus_inf, "You filled the blocked scores with +inf")


@pytest.mark.parametrize("fn", [additive_minus_1e9, integer_mask_compared_with_zero, additive_by_where])
def test_f2_right_additive_and_integer_masks_pass(fn):
    _passes(check_causal_masked_weights, fn)


# --- F3: catalogued slips whose NaN were set to 0 afterwards ---


def diagonal_excluded_patched(scores, ids, pad_id):
    length = ids.shape[1]
    ok = torch.ones(length, length, dtype=torch.bool).tril(-1) & (ids != pad_id).unsqueeze(1)
    return torch.nan_to_num(torch.softmax(scores.masked_fill(~ok, NEG), -1))


def padding_on_the_queries_patched(scores, ids, pad_id):
    length = ids.shape[1]
    ok = torch.ones(length, length, dtype=torch.bool).tril() & (ids != pad_id).unsqueeze(2)
    return torch.nan_to_num(torch.softmax(scores.masked_fill(~ok, NEG), -1))


def over_the_queries_patched(scores, ids, pad_id):
    return torch.nan_to_num(torch.softmax(scores.masked_fill(~_allowed(ids, pad_id), NEG), 1))


def over_the_queries_patched_by_where(scores, ids, pad_id):
    w = torch.softmax(scores.masked_fill(~_allowed(ids, pad_id), NEG), 1)
    return torch.where(torch.isnan(w), 0.0, w)


def upper_triangle_allowed_patched(scores, ids, pad_id):
    length = ids.shape[1]
    ok = torch.ones(length, length, dtype=torch.bool).triu(1) & (ids != pad_id).unsqueeze(1)
    return torch.nan_to_num(torch.softmax(scores.masked_fill(~ok, NEG), -1))


def padding_inverted_patched(scores, ids, pad_id):
    length = ids.shape[1]
    ok = torch.ones(length, length, dtype=torch.bool).tril() & (ids == pad_id).unsqueeze(1)
    return torch.nan_to_num(torch.softmax(scores.masked_fill(~ok, NEG), -1))


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (diagonal_excluded_patched, "The diagonal is masked too"),
        (padding_on_the_queries_patched, "blocks the padded QUERIES (rows) instead of the padded KEYS"),
        (over_the_queries_patched, "Softmax over the wrong axis"),
        (over_the_queries_patched_by_where, "Softmax over the wrong axis"),
        (upper_triangle_allowed_patched, "Your causal mask is inverted"),
        (padding_inverted_patched, "Your padding mask is inverted"),
    ],
)
def test_f3_slips_patched_with_nan_to_num_keep_their_hint(fn, words):
    _wrong_with(check_causal_masked_weights, fn, words, "nan_to_num")


def right_then_nan_to_num(scores, ids, pad_id):
    return torch.nan_to_num(torch.softmax(scores.masked_fill(~_allowed(ids, pad_id), NEG), -1))


def right_then_where_isnan(scores, ids, pad_id):
    w = torch.softmax(torch.where(_allowed(ids, pad_id), scores, NEG), -1)
    return torch.where(w.isnan(), torch.zeros_like(w), w)


@pytest.mark.parametrize("fn", [right_then_nan_to_num, right_then_where_isnan])
def test_f3_right_answers_patched_with_nan_to_num_pass(fn):
    _passes(check_causal_masked_weights, fn)


# --- F4: the mask transposed ---


def mask_transposed(scores, ids, pad_id):
    return torch.softmax(scores.masked_fill(~_allowed(ids, pad_id).transpose(-2, -1), -1e9), -1)


def mask_transposed_minus_inf(scores, ids, pad_id):
    return torch.softmax(scores.masked_fill(~_allowed(ids, pad_id).mT, NEG), -1)


@pytest.mark.parametrize("fn", [mask_transposed, mask_transposed_minus_inf])
def test_f4_a_transposed_mask_is_named(fn):
    _wrong_with(check_causal_masked_weights, fn, "Your mask is transposed")


def transposed_twice(scores, ids, pad_id):
    allowed = _allowed(ids, pad_id).transpose(-2, -1)  # keys as rows, for a plot …
    return torch.softmax(scores.masked_fill(~allowed.transpose(-2, -1), -1e9), -1)  # … and back


def padding_from_the_right_axis(scores, ids, pad_id):
    length = ids.shape[1]
    blocked = torch.ones(length, length, dtype=torch.bool).triu(1) | (ids == pad_id)[:, None, :]
    return torch.softmax(scores.masked_fill(blocked, -1e9), -1)


@pytest.mark.parametrize("fn", [transposed_twice, padding_from_the_right_axis])
def test_f4_masks_laid_the_right_way_pass(fn):
    _passes(check_causal_masked_weights, fn)


# --- F5: wording ---


def over_dim_minus_two(scores, ids, pad_id):
    return torch.softmax(scores.masked_fill(~_allowed(ids, pad_id), -1e9), dim=-2)


def integer_mask_to_masked_fill(scores, ids, pad_id):
    length = ids.shape[1]
    ok = torch.ones(length, length, dtype=torch.long).tril() * (ids != pad_id).long().unsqueeze(1)
    return torch.softmax(scores.masked_fill(1 - ok, NEG), -1)


def test_f5_dim_minus_two_is_quoted_as_written():
    _wrong_with(check_causal_masked_weights, over_dim_minus_two, "dim=-2", "QUERIES")


def test_f5_an_integer_mask_is_not_said_to_hold_floats():
    message = _wrong_with(check_causal_masked_weights, integer_mask_to_masked_fill, "must be bool", "1 and 0")
    assert "1.0 and 0.0" not in message


# --- F15: softmax with the row's max added ---


def adds_the_max(s):
    e = (s + s.max(-1, keepdim=True).values).exp()
    return e / e.sum(-1, keepdim=True)


def flips_the_shift(s):
    e = (s.max(-1, keepdim=True).values - s).exp()
    return e / e.sum(-1, keepdim=True)


def test_f15_the_max_added_is_named():
    _wrong_with(check_softmax, adds_the_max, "You ADDED the row's max", "Subtract it")


def test_f15_exp_of_max_minus_x_keeps_its_own_hint():
    message = check_softmax(flips_the_shift).message
    assert "ADDED" not in message


@pytest.mark.parametrize(
    "fn",
    [
        lambda s: (s - s.logsumexp(-1, keepdim=True)).exp(),
        lambda s: (lambda e: e / e.sum(-1, keepdim=True))((s - s.amax(-1, keepdim=True)).exp()),
        lambda s: (lambda e: e / e.sum(-1, keepdim=True))((s + (-s.amax(-1, keepdim=True))).exp()),
    ],
)
def test_f15_right_shifts_pass(fn):
    _passes(check_softmax, fn)


# --- F16: the example's 4 tokens or 3 features hard-coded ---


def loops_over_four(v):
    out = torch.zeros(4, 4)
    for i in range(4):
        for j in range(4):
            out[i, j] = (v[i] @ v[j]) / (v[i].norm() * v[j].norm())
    return out


def sums_three_features(v):
    n = torch.sqrt(sum(v[:, k : k + 1] ** 2 for k in range(3)))
    u = v / n
    return u @ u.T


def first_three_features(v):
    u = v[:, :3] / v[:, :3].norm(dim=1, keepdim=True)
    return u @ u.T


def test_f16_a_fixed_token_count_is_named():
    _wrong_with(check_cosine_similarity, loops_over_four, "4 tokens", "vectors.shape")


@pytest.mark.parametrize("fn", [sums_three_features, first_three_features])
def test_f16_a_fixed_feature_count_is_named(fn):
    _wrong_with(check_cosine_similarity, fn, "first 3 features", "vectors.shape")


def loops_over_the_shape(v):
    t, d = v.shape
    out = torch.zeros(t, t)
    for i in range(t):
        for j in range(t):
            a, b = v[i], v[j]
            dot = sum(a[k] * b[k] for k in range(d))
            out[i, j] = dot / (
                torch.sqrt(sum(a[k] ** 2 for k in range(d))) * torch.sqrt(sum(b[k] ** 2 for k in range(d)))
            )
    return out


@pytest.mark.parametrize(
    "fn", [loops_over_the_shape, lambda v: F.normalize(v, dim=-1) @ F.normalize(v, dim=-1).T]
)
def test_f16_sizes_read_from_the_input_pass(fn):
    _passes(check_cosine_similarity, fn)


# --- N6: a learner's torch.set_default_dtype ends with the check ---


@pytest.fixture
def float32_default():
    was = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(was)


def _sets_float64_and_returns(value):
    def fn(*args):
        torch.set_default_dtype(torch.float64)
        return value(*args)

    return fn


@pytest.mark.usefixtures("float32_default")
@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_softmax, lambda s: s),
        (check_cosine_similarity, lambda v: v @ v.T),
        (check_causal_masked_weights, lambda s, i, p: torch.softmax(s, -1)),
    ],
)
def test_n6_a_wrong_answer_that_sets_the_default_dtype_leaves_it_as_it_was(check, value):
    result = check(_sets_float64_and_returns(value))
    assert result.status == WRONG, result.message
    assert torch.get_default_dtype() == torch.float32


@pytest.mark.usefixtures("float32_default")
def test_n6_check_function_keeps_the_default_dtype_and_grad_mode_for_a_right_answer():
    def learner(x):
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        return torch.softmax(x, -1)

    seen = []

    def reference(x):
        seen.append(torch.get_default_dtype())  # the reference runs under the caller's default
        return torch.softmax(x, -1)

    result = check_function(learner, reference, [(torch.randn(3, 4),)], name="softmax")
    assert result.status == PASSED, result.message
    assert torch.get_default_dtype() == torch.float32
    assert torch.is_grad_enabled()
    assert seen and set(seen) == {torch.float32}


@pytest.mark.usefixtures("float32_default")
@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_softmax, lambda s: torch.softmax(s, -1)),
        (check_cosine_similarity, lambda v: F.normalize(v, dim=-1) @ F.normalize(v, dim=-1).T),
    ],
)
def test_n6_a_right_answer_that_sets_the_default_dtype_leaves_it_as_it_was(check, value):
    """A right answer's function is called again after check_function (the built-in note, the
    gradient warning): the default dtype must come back after those calls too."""
    result = check(_sets_float64_and_returns(value))
    assert result.status == PASSED, result.message
    assert torch.get_default_dtype() == torch.float32
