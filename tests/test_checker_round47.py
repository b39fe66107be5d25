"""Round 47: checker gaps the last note left.

- cached_attention_step: an einsum over the cached keys alone (past_k) fails as one over the
  cached values does (the subscript's sizes 4 against 5), and was told "past_v (or past_k)";
  it is now named as the keys multiplied, as ``weights @ past_k`` is. An einsum over past_v
  keeps its own name, and einsums written right (operands apart or in one list) pass.
"""

from __future__ import annotations

import math

import pytest
import torch
from transformer_course.checks.harness import WRONG
from transformer_course.checks.registry import exercise


def hint_of(mistake_name):
    return {m.name: m.hint for m in exercise("cached_attention_step").mistakes}[mistake_name]


def _grown(k_new, v_new, past_k, past_v):
    if past_k is None:
        return k_new, v_new
    return torch.cat([past_k, k_new], dim=2), torch.cat([past_v, v_new], dim=2)


def einsum_step(gathered: str, *, as_list: bool = False):
    """A cached step whose output is an einsum of the weights with ``gathered``."""

    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _grown(k_new, v_new, past_k, past_v)
        scores = torch.einsum("bhqd,bhkd->bhqk", q, keys) / math.sqrt(q.shape[-1])
        weights = scores.softmax(dim=-1)
        other = {"past_k": past_k, "past_v": past_v, "values": values}[gathered]
        other = {"past_k": k_new, "past_v": v_new}.get(gathered) if other is None else other
        operands = [weights, other]
        if as_list:
            return torch.einsum("bhqk,bhkd->bhqd", operands), keys, values
        return torch.einsum("bhqk,bhkd->bhqd", *operands), keys, values

    return step


@pytest.mark.parametrize("as_list", [False, True], ids=["operands", "one list"])
def test_an_einsum_over_the_cached_keys_is_named_as_the_keys(as_list):
    verdict = exercise("cached_attention_step").check(einsum_step("past_k", as_list=as_list))
    assert verdict.status == WRONG and verdict.message.startswith(hint_of("weights @ k_new")), verdict.message
    assert "past_v (or past_k)" not in verdict.message


def test_an_einsum_over_the_cached_values_keeps_its_name():
    verdict = exercise("cached_attention_step").check(einsum_step("past_v"))
    mistake = "the cached values without the new token's"
    assert verdict.status == WRONG and verdict.message.startswith(hint_of(mistake)), verdict.message


@pytest.mark.parametrize("as_list", [False, True], ids=["operands", "one list"])
def test_an_einsum_over_the_grown_values_passes_quietly(as_list):
    verdict = exercise("cached_attention_step").check(einsum_step("values", as_list=as_list))
    assert verdict.passed and not verdict.warning, verdict.message
