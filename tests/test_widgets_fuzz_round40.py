"""Round 40 of hostile input for the explorers: their public methods called with bad arguments.

The earlier rounds (test_widgets_fuzz*.py) set every control to hostile values; the controls came
out clean. The methods an explorer offers to code (chapter 02 calls ``order.word_changes(
positions=False)``) took anything: a list of ids failed as "'list' object has no attribute 'to'",
a (1, T) batch for (T,) in a matmul, a negative d_k inside torch, the string "no" as True. Each is
now a ValueError naming the argument (a KeyError for a control name, as from a dict), and the
explorer draws as before afterwards.
"""

import re

import pytest
import torch
from test_widgets_fuzz import EXPLORERS, VOCAB, is_error, shown
from transformer_course.widgets import ScalingExplorer

BAD_IDS = [
    ("a list", [1, 2, 3], "must be a torch.Tensor"),
    ("None", None, "must be a torch.Tensor"),
    ("int16 ids", torch.tensor([1, 2], dtype=torch.int16), "int64"),
    ("an id past the vocabulary", torch.tensor([1, len(VOCAB)]), rf"ids in \[0, {len(VOCAB)}\)"),
    ("a negative id", torch.tensor([-1, 2]), rf"ids in \[0, {len(VOCAB)}\)"),
]


def build(name):
    torch.manual_seed(0)
    return EXPLORERS[name]()


# Each method that takes ids, with the shape it documents, and one good call.
ID_METHODS = {
    "HeadGridExplorer.head_weights": ("HeadGridExplorer", "head_weights", 1),
    "WordOrderExplorer.outputs": ("WordOrderExplorer", "outputs", 1),
    "MaskExplorer.attend": ("MaskExplorer", "attend", 2),
    "MaskExplorer.current_mask": ("MaskExplorer", "current_mask", 2),
    "EmbeddingExplorer.embed": ("EmbeddingExplorer", "embed", None),
}


def _batched(ids, ndim):
    """``ids`` (a bad value given as one sentence) as a batch of one where the method takes (B, T)."""
    if ndim != 2:
        return ids
    return ids[None] if isinstance(ids, torch.Tensor) else [ids] if isinstance(ids, list) else ids


def _call(explorer, method, ids):
    args = (ids, None) if method == "attend" else (ids,)
    return getattr(explorer, method)(*args)


def _good_ids(ndim):
    ids = torch.tensor(VOCAB.ids(["the", "cat", "sat"]))
    return ids[None] if ndim == 2 else ids


@pytest.mark.parametrize("what, ids, says", BAD_IDS, ids=[b[0] for b in BAD_IDS])
@pytest.mark.parametrize("method", list(ID_METHODS))
def test_bad_ids_are_a_value_error_naming_them(method, what, ids, says):
    name, attr, ndim = ID_METHODS[method]
    explorer = build(name)
    before = shown(explorer)
    with pytest.raises(ValueError, match=f"ids.*{says}|{says}"):
        _call(explorer, attr, _batched(ids, ndim))
    _call(explorer, attr, _good_ids(ndim))  # still works, and the page did not move
    assert shown(explorer) == before and not is_error(explorer)


@pytest.mark.parametrize(
    "method, ids",
    [
        ("HeadGridExplorer.head_weights", _good_ids(2)),
        ("WordOrderExplorer.outputs", _good_ids(2)),
        ("MaskExplorer.attend", _good_ids(1)),
        ("MaskExplorer.current_mask", _good_ids(1)),
    ],
)
def test_ids_of_the_wrong_shape_are_named_with_the_shape_expected(method, ids):
    """Before: "The size of tensor a (32) must match the size of tensor b (3)" from a (1, T) batch
    in head_weights, "tuple index out of range" from a (T,) sentence in current_mask."""
    name, attr, ndim = ID_METHODS[method]
    with pytest.raises(ValueError, match=re.escape(f"ids must be {ndim}-D, got shape {tuple(ids.shape)}")):
        _call(build(name), attr, ids)


def test_the_good_shapes_give_what_the_docstrings_say():
    grid = build("HeadGridExplorer")
    assert grid.head_weights(_good_ids(1)).shape == (8, 3, 3)
    out, weights = build("WordOrderExplorer").outputs(_good_ids(1))
    assert out.shape == (3, 16) and weights.shape == (3, 3)
    masks = build("MaskExplorer")
    scores, weights = masks.attend(_good_ids(2), masks.current_mask(_good_ids(2)))
    assert scores.shape == weights.shape == (1, 3, 3)
    assert build("EmbeddingExplorer").embed(_good_ids(2)).shape == (1, 3, 8)


@pytest.mark.parametrize("positions", ["no", 1, 0, torch.tensor(True), "False"])
def test_word_changes_takes_true_false_or_none(positions):
    """Before: word_changes(positions="no") added the encoding (a non-empty string is true), and a
    tensor failed with "Boolean value of Tensor with more than one value is ambiguous"."""
    order = build("WordOrderExplorer")
    with pytest.raises(ValueError, match="positions must be True or False"):
        order.word_changes(positions=positions)
    with pytest.raises(ValueError, match="positions must be True or False"):
        order.outputs(_good_ids(1), positions)
    # None follows the checkbox (off as built), True and False are what chapter 02 passes.
    assert torch.equal(order.word_changes(None), order.word_changes(positions=False))
    assert not torch.equal(order.word_changes(positions=True), order.word_changes(positions=False))


@pytest.mark.parametrize("d_k", [-1, 0, 2.5, True, None, torch.tensor(8), "8", 10**12])
def test_scaling_projections_refuse_a_bad_d_k_by_name(d_k):
    """Before: "negative dimension -1", "manual_seed expected a long, but got float", and for
    10**12 "DefaultCPUAllocator: can't allocate memory" after trying."""
    explorer = ScalingExplorer(VOCAB, build("ScalingExplorer").embedding)
    with pytest.raises(ValueError, match="d_k"):
        explorer.projections(d_k)
    w_q, w_k = explorer.projections(8)
    assert w_q.shape == w_k.shape == (32, 8)
    assert torch.equal(explorer.projections(8)[0], w_q)  # the same for a given d_k


def test_a_control_name_that_does_not_exist_lists_those_that_do():
    """Before: ``KeyError: 'dk'``, with nothing to say the control is called "d_k"."""
    explorer = build("ScalingExplorer")
    with pytest.raises(KeyError, match="no control named 'dk'.*text, d_k, temperature, scaled"):
        explorer.value("dk")
    assert explorer.value("d_k") == 64
