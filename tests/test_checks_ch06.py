"""Chapter 06's exercise: the causal-mask checker passes the reference, names each mistake."""

import pytest
import torch
from transformer_course.attention import scaled_dot_product_attention
from transformer_course.checks import NOT_ATTEMPTED, PASSED, WRONG, check_causal_masked_weights
from transformer_course.masks import causal_mask, combine_masks, padding_mask


def build(
    scores,
    ids,
    pad_id,
    *,
    after=False,
    diagonal=0,
    upper=False,
    query_axis=False,
    combine="and",
    causal=True,
    padding=True,
    inverted=False,
):
    """A learner-style implementation with one switch per mistake."""
    length = ids.shape[1]
    tri = torch.tril(torch.ones(length, length), diagonal=diagonal).bool()
    if upper:
        tri = torch.triu(torch.ones(length, length)).bool()
    real = (ids != pad_id).unsqueeze(-1) if query_axis else (ids != pad_id).unsqueeze(1)
    if causal and padding:
        allowed = tri | real if combine == "or" else tri & real
    elif causal:
        allowed = tri.expand(ids.shape[0], length, length)
    else:
        allowed = real.expand(ids.shape[0], length, length)
    if after:
        return torch.softmax(scores, dim=-1) * allowed
    blocked = allowed if inverted else ~allowed
    return torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)


def lib_version(scores, ids, pad_id):
    """The lib's masks; scores turned back into weights by the lib's attention (q = scores, k = I)."""
    mask = combine_masks(causal_mask(ids.shape[1]), padding_mask(ids, pad_id)[:, 0])
    eye = torch.eye(ids.shape[1]).expand(ids.shape[0], -1, -1)
    return scaled_dot_product_attention(scores, eye, eye, mask, scale=1.0)[1]


def test_reference_and_lib_pass():
    assert check_causal_masked_weights(build).status == PASSED
    assert check_causal_masked_weights(lib_version).passed


def test_unattempted_is_reported_not_raised():
    def learner(scores, ids, pad_id):
        raise NotImplementedError

    assert check_causal_masked_weights(learner).status == NOT_ATTEMPTED


MISTAKES = {
    "after softmax": (dict(after=True), "after the softmax"),
    "diagonal": (dict(diagonal=-1), "diagonal is masked too"),
    "upper": (dict(upper=True), "points the wrong way"),
    "query axis": (dict(query_axis=True), "padded QUERIES"),
    "or": (dict(combine="or"), "with OR"),
    "no padding": (dict(padding=False), "Only the causal mask"),
    "no causal": (dict(causal=False), "Only the padding mask"),
    "inverted": (dict(inverted=True), "convention is inverted"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_gets_its_own_hint(name):
    switches, words = MISTAKES[name]
    result = check_causal_masked_weights(lambda s, i, p: build(s, i, p, **switches))
    assert result.status == WRONG and words in result.message, result.message
    others = [w for n, (_, w) in MISTAKES.items() if n != name]
    assert not any(w in result.message for w in others)


def test_unknown_mistake_says_where_it_differs():
    result = check_causal_masked_weights(lambda s, i, p: build(s * 2, i, p))
    assert result.status == WRONG and "largest difference" in result.message
