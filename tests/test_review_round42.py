"""Reproducers of the s42 review's findings, as tests: each fails on HEAD (76f66b4) and passes
with the patches the review suggests (/tmp/s42/review/fix)."""

import re

import pytest
import torch
from torch import nn
from transformer_course import checks
from transformer_course.attention import scaled_dot_product_attention
from transformer_course.checks import check_function
from transformer_course.masks import additive_mask, causal_mask


def test_a_module_updating_its_own_buffers_as_the_reference_does_is_no_in_place_slip():
    # BatchNorm in training mode updates its running statistics in forward: the reference
    # does it too, so the learner changed nothing the reference would not.
    torch.manual_seed(0)
    case = (nn.BatchNorm1d(4).train(), torch.randn(8, 4))

    def reference(bn, x):
        return bn(x)

    result = check_function(reference, reference, [case], name="norm")
    assert result.passed and not result.warning, result.message


def test_a_real_in_place_edit_is_still_warned():
    def reference(x):
        return x * 2

    def doubles_in_place(x):
        x *= 2
        return x

    result = check_function(doubles_in_place, reference, [(torch.randn(3),)], name="double")
    assert result.passed and "the x it was given" in result.warning, result.message


def _masked(scores, ids, pad_id):
    length = ids.shape[1]
    return torch.tril(torch.ones(length, length, dtype=torch.bool)) & (ids != pad_id)[:, None, :]


def test_the_in_place_advice_keeps_the_result_and_the_mask_hint_does_not_send_back():
    def in_place(scores, ids, pad_id):
        scores.masked_fill_(~_masked(scores, ids, pad_id), float("-inf"))
        return torch.softmax(scores, dim=-1)

    def advice_followed(scores, ids, pad_id):  # the underscore dropped, the result dropped too
        scores.masked_fill(~_masked(scores, ids, pad_id), float("-inf"))
        return torch.softmax(scores, dim=-1)

    warned = checks.check_causal_masked_weights(in_place)
    assert warned.passed and "scores = scores.masked_fill(" in warned.warning, warned.message
    hint = checks.check_causal_masked_weights(advice_followed)
    assert not hint.passed and "masked_fill_" not in hint.message, hint.message


@pytest.mark.parametrize(
    "mask",
    [torch.tril(torch.ones(4, 4)), additive_mask(causal_mask(4))],
    ids=["ones and zeros", "zeros and -inf"],
)
def test_the_float_mask_conversion_the_message_advises_gives_the_right_mask(mask):
    q = torch.randn(4, 8)
    with pytest.raises(ValueError) as err:
        scaled_dot_product_attention(q, q, q, mask=mask)
    advised = re.findall(r"converts with (mask(?: == 0|\.bool\(\)))", str(err.value))
    assert len(advised) == 1, str(err.value)
    converted = eval(advised[0], {"mask": mask})  # noqa: S307 (the message's own expression)
    assert torch.equal(converted, causal_mask(4)), (advised[0], str(err.value))


def test_a_check_leaves_the_notebooks_cuda_random_state_alone(monkeypatch):
    # torch.manual_seed seeds every device; a checker seeds only the CPU generator it forked.
    from transformer_course.checks import sampling_learners as learners

    seeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", seeded.append)
    for name in dir(learners):  # right and wrong answers alike: every path a verdict takes
        answer = getattr(learners, name)
        if callable(answer) and getattr(answer, "__module__", "") == learners.__name__:
            checks.check_sample_next_token(answer)
    assert seeded == [], seeded
