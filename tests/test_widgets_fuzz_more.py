"""More hostile input, found by fuzzing every control of every explorer (and the loss curve's
``update``): a sentence that names the problem instead of "Could not update the figures", no
warning on stderr, a control never left holding a value it does not show, and the figures
updating again once the input is good.
"""

import warnings
from fractions import Fraction

import pytest
import torch
from test_widgets_fuzz import EXPLORERS, assert_healthy, is_error, live_curve, shown, text_of
from traitlets import TraitError
from transformer_course.training import History
from transformer_course.widgets import LiveLossCurve

GOOD = History(steps=[1, 2, 3], losses=[2.0, 1.0, 0.5])

# --- LiveLossCurve.update with a History filled by hand ---

MALFORMED = [
    (History(steps=[1, 2, 3], losses=[1.0]), "The history has 3 steps but 1 loss: record one loss per step."),
    (History(steps=[1], losses=[1.0, 2.0]), "The history has 1 step but 2 losses"),
    (History(steps=[1, 2], losses=["a", "b"]), "history.losses must hold plain numbers, got 'a'."),
    (History(steps=[1, 2], losses=[None, 1.0]), "history.losses must hold plain numbers, got None."),
    (History(steps=[1, float("nan")], losses=[1.0, 0.5]), "history.steps must hold plain numbers, got nan."),
    (
        History(steps=[1, 2], losses=[1.0, 0.5], evals={"held-out": "oops"}),
        "history.evals['held-out'] must be a list of (step, loss) pairs, got 'oops'.",
    ),
    (
        History(steps=[1, 2], losses=[1.0, 0.5], evals={"held-out": [(1,), 3]}),
        "history.evals['held-out'] must be a list of (step, loss) pairs",
    ),
    # Each of these reached the figure or the info line's format string (review of 2026-12-05)
    (
        History(steps=[1, 2], losses=[1.0, torch.tensor([0.5])]),
        "history.losses must hold plain numbers, got tensor",
    ),
    (History(steps=[1, 2], losses=[1.0, 10**400]), "history.losses must hold plain numbers, got 1000"),
    (History(steps=[1, 10**400], losses=[1.0, 0.5]), "history.steps must hold plain numbers, got 1000"),
    (History(steps=[1, 2], losses=[True, False]), "history.losses must hold plain numbers, got True."),
    (History(steps=[1, True], losses=[1.0, 0.5]), "history.steps must hold plain numbers, got True."),
    (History(steps=[1, 2], losses=[1.0, Fraction(1, 2)]), "got Fraction(1, 2)."),
    (
        History(steps=[1, torch.tensor([2])], losses=[1.0, 0.5]),
        "history.steps must hold plain numbers, got tensor([2]).",
    ),
]


@pytest.mark.parametrize("history, says", MALFORMED)
def test_a_malformed_history_is_named_and_the_curve_recovers(history, says):
    """Before: "Could not update the figures (ValueError: losses must have one value per step
    (3), got 1)", or a TypeError from += on a str, in the figure's words, not the history's."""
    curve = live_curve()
    before = shown(curve)
    curve.update(history)
    message = text_of(curve)
    assert is_error(curve) and says in message and "Could not update" not in message, message
    assert shown(curve) == before  # the last good curve stays
    curve.update(GOOD)
    assert not is_error(curve) and "step 3" in text_of(curve) and shown(curve) != before


def test_a_loss_tensor_that_needs_gradients_says_item_and_warns_nothing():
    """Before: PyTorch's "Converting a tensor with requires_grad=True to a scalar" warning on
    stderr, then "Could not update the figures (ValueError: losses must be a list of numbers…)"."""
    curve = live_curve()
    losses = [torch.tensor(1.0, requires_grad=True), torch.tensor(0.5, requires_grad=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        curve.update(History(steps=[1, 2], losses=losses))
    message = text_of(curve)
    assert is_error(curve) and "loss.item()" in message and "requires_grad=True" in message, message
    curve.update(History(steps=[1, 2], losses=[loss.item() for loss in losses]))
    assert not is_error(curve) and "step 2: loss 0.5000" in text_of(curve)
    curve.update(History(steps=[1, 2, 3], losses=[torch.tensor(1.0), 0.5, 0.25]))  # no gradients: fine
    assert not is_error(curve) and "step 3: loss 0.2500" in text_of(curve)
    assert_healthy(curve)


# --- the log scale ---


@pytest.mark.parametrize("history", [None, GOOD])
def test_a_floor_of_zero_on_a_log_scale_is_left_out_with_a_note(history):
    """Before: ticking 'log scale' under a floor of 0 (accepted by the constructor) gave "Could
    not update the figures (ValueError: floor must be a finite number > 0, got 0.0)", and the
    curve stayed linear until it was unticked."""
    curve = LiveLossCurve(total_steps=10, floor=0.0, floor_label="best possible")
    curve.update(history)
    before = shown(curve)
    curve.controls["log"].value = True
    message = text_of(curve)
    assert not is_error(curve) and "'best possible' line at 0 cannot be drawn on a log scale" in message
    assert curve.figures["loss"].layout.yaxis.type == "log" and not curve.figures["loss"].layout.shapes
    assert shown(curve) != before
    curve.controls["log"].value = False
    assert "log scale" not in text_of(curve) and len(curve.figures["loss"].layout.shapes) == 1
    above = LiveLossCurve(total_steps=10, floor=0.5)  # a floor above 0 stays on the log scale
    above.update(history)
    above.controls["log"].value = True
    assert not is_error(above) and len(above.figures["loss"].layout.shapes) == 1
    assert "cannot be drawn" not in text_of(above)


def test_losses_a_log_scale_cannot_show_are_counted():
    """Before: a loss of 0 (a perfect fit) vanished from the log-scale curve without a word."""
    curve = live_curve()
    curve.update(History(steps=[1, 2, 3], losses=[1.0, 0.0, 0.0]))
    assert "cannot be drawn" not in text_of(curve)  # linear: every loss is drawn
    curve.controls["log"].value = True
    assert "2 steps with a loss of 0 or below cannot be drawn on a log scale" in text_of(curve)
    curve.update(GOOD)
    assert "cannot be drawn" not in text_of(curve)


# --- a SelectionSlider set to None ---


@pytest.mark.parametrize("name, control", [("ScalingExplorer", "d_k"), ("AttentionHistoryExplorer", "step")])
def test_a_selection_slider_refuses_none_and_keeps_its_value(name, control):
    """Before: ipywidgets took None as the value, then raised a TraitError about 'index' before
    the explorer heard of the change: the slider still showed its option while its value was
    None, and the next change of any other control said "Nothing is picked in 'd_k'"."""
    explorer = EXPLORERS[name]()
    slider = explorer.controls[control]
    value, before = slider.value, shown(explorer)
    with pytest.raises(TraitError, match=f"'{slider.description}' always points at one of its options"):
        slider.value = None
    assert slider.value == value and slider.options[slider.index] == value
    explorer.refresh()  # what the next change of another control does
    assert not is_error(explorer) and shown(explorer) == before, text_of(explorer)
    slider.value = slider.options[-1]
    assert not is_error(explorer) and shown(explorer) != before


# --- top-k at the end of its slider: every token ---


def test_top_k_at_the_vocabulary_size_says_it_changes_nothing():
    """Before: GenerationExplorer's top-k dragged to its end (10, the vocabulary) drew the very
    same figures as 0 and said nothing, as if the slider were broken."""
    explorer = EXPLORERS["GenerationExplorer"]()
    explorer.controls["strategy"].value = "sample"
    before, said = shown(explorer), text_of(explorer)
    explorer.controls["top_k"].value = explorer.controls["top_k"].max
    assert shown(explorer) == before  # nothing to draw differently: so the line says why
    assert "top-k 10 keeps every token of the vocabulary, as 0 does" in text_of(explorer) != said
    explorer.controls["top_k"].value = 2
    assert "keeps every token" not in text_of(explorer) and not is_error(explorer)


def test_story_top_k_at_the_vocabulary_size_is_not_called_a_reshaping():
    """Before: "drawn … from the model's distribution reshaped by top-k 94", from all 94 tokens."""
    explorer = EXPLORERS["StoryExplorer"]()
    top_k = explorer.controls["top_k"]
    top_k.value = top_k.max
    message = text_of(explorer)
    assert f"top-k {top_k.max} keeps every token" in message and "reshaped" not in message, message
    top_k.value = 5
    assert "reshaped by top-k 5" in text_of(explorer) and "keeps every token" not in text_of(explorer)
