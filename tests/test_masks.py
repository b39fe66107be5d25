import pytest
import torch
from transformer_course.masks import (
    additive_mask,
    causal_mask,
    combine_masks,
    padding_mask,
    to_blocked,
)


def test_causal_mask_of_i_love_deep_learning():
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(causal_mask(4), expected)


def test_padding_mask_shape_and_values():
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    mask = padding_mask(ids, pad_id=0)
    assert mask.shape == (2, 1, 1, 3)
    assert mask[:, 0, 0].tolist() == [[True, True, False], [True, False, False]]


def test_combine_broadcasts_causal_and_padding():
    ids = torch.tensor([[5, 6, 0]])
    both = combine_masks(causal_mask(3), padding_mask(ids, 0), None)
    assert both.shape == (1, 1, 3, 3)
    assert both[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]
    assert combine_masks(None) is None


def test_additive_and_blocked_conventions():
    mask = causal_mask(3)
    add = additive_mask(mask)
    assert add[0, 0] == 0 and add[0, 1] == float("-inf")
    assert torch.equal(to_blocked(mask), ~mask)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: causal_mask(0), "length"),
        (lambda: padding_mask(torch.zeros(3, dtype=torch.long), 0), "ids"),
        (lambda: padding_mask(torch.zeros(2, 3), 0), "ids"),
        (lambda: combine_masks(torch.ones(2, 2)), "masks"),
        (lambda: to_blocked(torch.ones(2)), "mask"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call()
