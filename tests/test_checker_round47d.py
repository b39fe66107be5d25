"""Round 47d: the review of ``Mistake.failed_at`` (checks/failure.py), three false verdicts.

- An error the learner's own code caught is not where the call failed: the record is of the
  error that escaped (a step that tries ``q @ keys``, catches it and transposes, then fails at
  ``weights @ values.mT``, was told to transpose the keys).
- Keys transposed right whose heads were merged, (…, h · d_head, t + 1), were told the same.
- A re-run stopped by the time limit says nothing about where the call fails (it came back as
  a failure of no function, which the mask's predicate took for its own).
"""

from __future__ import annotations

import math

import pytest
import torch
from transformer_course.checks import failure
from transformer_course.checks.cached_step_transposed import TRANSPOSE_HINT
from transformer_course.checks.masks import MISTAKES as MASK_MISTAKES
from transformer_course.checks.registry import exercise


def _grown(past, new):
    return new if past is None else torch.cat([past, new], dim=2)


def caught_then_values_transposed(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    try:
        scores = q @ keys
    except RuntimeError:  # caught: the learner's code goes on with the keys transposed
        scores = q @ keys.transpose(-2, -1)
    weights = torch.softmax(scores / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ values.transpose(-2, -1), keys, values  # what escapes: the values transposed


def values_transposed(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ values.transpose(-2, -1), keys, values


def heads_merged(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    batch, heads, length, d = keys.shape
    merged = keys.transpose(1, 2).reshape(batch, length, heads * d)  # (B, t + 1, h · d_head)
    weights = torch.softmax(q @ merged.transpose(-2, -1) / math.sqrt(d), dim=-1)
    return weights @ values, keys, values


def keys_untransposed(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    weights = torch.softmax(q @ keys / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ values, keys, values


@pytest.mark.parametrize("fn", [caught_then_values_transposed, values_transposed, heads_merged])
def test_a_step_whose_keys_were_transposed_is_not_told_to_transpose_them(fn):
    verdict = exercise("cached_attention_step").check(fn)
    assert not verdict.passed
    assert not verdict.message.startswith(TRANSPOSE_HINT), verdict.message


def test_keys_left_as_they_are_are_still_named():
    verdict = exercise("cached_attention_step").check(keys_untransposed)
    assert verdict.message.startswith(TRANSPOSE_HINT), verdict.message


def test_the_failure_is_the_one_that_escaped_not_one_caught_before():
    a, b = torch.ones(2, 3), torch.ones(4, 5)

    def caught_then_other(x):
        try:
            a @ b  # (2, 3) @ (4, 5): raises, caught
        except RuntimeError:
            pass
        return torch.cat([x, b])  # raises: this is where the call failed

    seen = failure.rerun(caught_then_other, (torch.ones(2, 2),))
    assert seen.name == "cat" and failure.took(seen, b)


def test_a_python_error_raised_while_handling_a_torch_error_keeps_the_torch_one():
    def re_raises(x):
        try:
            return x @ torch.ones(5, 5)
        except RuntimeError as err:
            raise ValueError("my own words") from err

    seen = failure.rerun(re_raises, (torch.ones(2, 3),))
    assert seen.name in ("matmul", "__matmul__")


def test_a_rerun_out_of_time_says_nothing(monkeypatch):
    monkeypatch.setattr(failure, "LIMIT_S", 0.2)

    def never_ends(x):
        while True:
            x = x + 0

    assert failure.rerun(never_ends, (torch.ones(2),)) is None


def test_the_mask_is_not_blamed_where_no_torch_function_failed():
    mask = next(m for m in MASK_MISTAKES if m.name == "mask that does not line up with the scores")
    assert not mask.failed_at(failure.Failure(), ())
