"""Round 49: the lost-axis verdict (``checks.lost_axis``) for two ways of writing a reduction
that the last note left unnamed.

1. ``torch.sum(input=e, dim=-1)``: the tensor given by keyword was not seen as the reduction's
   input, so the axis it lost was not recorded and the plain "raised" verdict stayed.
2. A call spread over several lines (``e.sum(`` then ``dim=-1,`` …) was named without its quote;
   it is now quoted on one line, its indents and comments dropped, and a call too long to quote
   is still named by its line.
"""

from __future__ import annotations

import re

import torch
from _lost_axis import hint_for


def _normalised(e):
    return e / e.sum(-1, keepdim=True)  # (B, L, V): each row sums to 1


def test_a_tensor_given_by_keyword_is_the_reductions_input():
    hint = hint_for(lambda e: e / torch.sum(input=e, dim=-1), _normalised, torch.rand(2, 5, 7))
    assert hint is not None, "torch.sum(input=e) lost an axis and nothing named it"
    assert re.match(r"Your `torch.sum\(input=e, dim=-1\)` on line \d+ has no keepdim=True", hint), hint
    assert "as a 1: (2, 5, 1)" in hint, hint


def test_a_mean_given_its_tensor_by_keyword_is_named_too():
    def centred(x):
        return x - torch.mean(input=x, dim=-1)

    hint = hint_for(centred, lambda x: x - x.mean(-1, keepdim=True), torch.rand(2, 3, 4))
    assert hint is not None and hint.startswith("Your `torch.mean(input=x, dim=-1)` on line"), hint


def _over_three_lines(e):
    total = e.sum(
        dim=-1,  # over the keys
    )
    return e / total


def test_a_call_over_several_lines_is_quoted_on_one():
    hint = hint_for(_over_three_lines, _normalised, torch.rand(2, 5, 7))
    assert hint is not None and hint.startswith("Your `e.sum(dim=-1)` on line"), hint
    line = _over_three_lines.__code__.co_firstlineno + 1  # where the call opens
    assert f"on line {line} has no keepdim=True" in hint, hint


def _too_long_to_quote(e):
    total = torch.sum(
        e,
        dim=-1,
        dtype=e.dtype,  # a long call, its arguments one per line
        out=None,
    )
    return e / total


def test_a_call_too_long_to_quote_is_still_named():
    hint = hint_for(_too_long_to_quote, _normalised, torch.rand(2, 5, 7))
    assert hint is not None and "keepdim" in hint, hint
    assert "`" not in hint.split("has no keepdim")[0], hint  # named by its reduction, no quote


def _over_lines_with_a_tuple_and_a_hash(e):
    total = e.sum(
        dim=(-1,),  # "#" in a comment
    )
    return e / total


def test_a_one_element_tuple_keeps_its_comma_and_a_comment_goes():
    hint = hint_for(_over_lines_with_a_tuple_and_a_hash, _normalised, torch.rand(2, 5, 7))
    assert hint is not None and hint.startswith("Your `e.sum(dim=(-1,))` on line"), hint
