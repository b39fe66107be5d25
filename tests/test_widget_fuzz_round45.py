"""Round 45 of hostile input for the explorers: every control of every explorer, by every path.

Each explorer is built once as its chapter builds it (small models where the chapter trains one)
and every control found in its widget tree gets the values a learner or a fuzzer gives: for a text
box nothing, blanks, newlines, 5,000 characters, unknown words, emoji, right-to-left text and
punctuation alone; for a slider 0, negatives, NaN, ±inf, ±1e308, non-integers, its ends and just
past them; for a list every option and None. Each value goes in by three paths: ``control.value``
(code), ``set_trait`` (traitlets) and ``set_state`` (what the page sends). After each: nothing
escapes but ipywidgets' own TraitError, no traceback on the page, a value the explorer cannot draw
is an error message naming the control while the last good figures stay, and the good values
draw the very first figures again.

The walk found no value that escaped or left a traceback by these paths. It found two gaps where
a learner's code changes a control's own range, then picks from it:

- a slider whose ``min`` or ``max`` was moved (``slider.min = -5; slider.value = -5``) reached
  ``render`` with a value the constructor refuses, and the message was the kit's last resort,
  naming an internal error and no control: "Could not update the figures (IndexError: index -5
  is out of bounds for dimension 0 with size 3)" (chapter 06's sentence), "(ValueError: top_k
  must be at most the vocabulary size (73), got 222)" (chapter 09), "(RuntimeError: upper bound
  and lower bound inconsistent with step sign)" (chapter 00's steps): 13 sliders of 8 explorers.
  Others drew it unasked (chapter 02's d_model 25,700: a 12 MB figure, no word), d_model 771 was
  told to "set it to 770", and NaN under a max of infinity to "set it between 0.5 and inf";
- a list given an option no explorer builds and set to it ("zz", 999, 2.5): "Could not update the
  figures (ValueError: kind must be 'cosine' or 'dot', got 'zz')", "(KeyError: 999)" and the
  like in 10 lists of 6 explorers, chapter 02's encoding drew 999 as the learned one without a
  word, and an emptied list said "choose one of ." Chapter 03's query list, which each render
  rebuilds, took -1 or 'zz' as the learner's pick: "(TraitError: Invalid selection …)", and the
  good query 0 after it failed the same way.

The explorer now keeps each slider's range and each list's options as built (``Explorer._ranges``,
moved by ``fit_slider``; ``Explorer._choices``, moved by a render that rebuilds a list) and
``control_problem`` names the control and them before a render; chapter 03's query list takes
anything but a position as the first token.
"""

import functools
import math

import ipywidgets as w
import pytest
import torch
from test_widgets_fuzz import EXPLORERS as ROUND_ONE
from test_widgets_fuzz import is_error, shown, text_of
from test_widgets_fuzz_fourth import (
    assert_clean,
    chapter_07_model,
    chapter_08_history,
    chapter_09_curve,
    found_controls,
    names_control,
    sampling_generation,
    tracebacks,
)
from traitlets import TraitError
from transformer_course.widgets import PathLengthExplorer
from transformer_course.widgets.kit import choice_options, control_problem, slider_range

# --- the explorers: one of each, as its chapter builds it ------------------------------------

BUILDERS = {
    **ROUND_ONE,
    "PathLengthExplorer": lambda: PathLengthExplorer(length=50, scale=1.0),  # chapter 00's
    "ModelExplorer": chapter_07_model,
    "LiveLossCurve": chapter_09_curve,
    "AttentionHistoryExplorer": chapter_08_history,
    "GenerationExplorer": sampling_generation,  # sampling: temperature, top-k and seed all draw
}


@functools.cache
def explorer_of(name):
    """One explorer per kind for the whole file (a model each: building them is most of the
    time); every test puts each control back to its good value before it ends."""
    torch.manual_seed(0)
    explorer = BUILDERS[name]()
    good = {n: c.value for n, c in explorer.controls.items()}
    assert not is_error(explorer) and not tracebacks(explorer), (name, text_of(explorer))
    return explorer, good, shown(explorer)


def back_to_good(explorer, good, start, what) -> None:
    """Every control to its good value (in the explorer's order): the first figures again."""
    for name, value in good.items():
        explorer.controls[name].value = value
    assert not is_error(explorer), (what, text_of(explorer))
    assert shown(explorer) == start, what


# --- the values ----------------------------------------------------------------------------------

BLANK = ["", " ", "\n", "\t\n \r\n"]  # each an empty box: an error naming it
TOO_LONG = "word " * 1000  # 5,000 characters, 1,000 tokens: past every explorer's limit
UNKNOWN, EMOJI = "zzqv blorf", "🍕🐱 👍🏽"  # named in the message, as a note or an error
TEXTS = [*BLANK, TOO_LONG, "x" * 5000, UNKNOWN, EMOJI, "مرحبا بالعالم", "!!! ...", "?", "the\ncat\nsat"]


def numbers(control) -> list:
    """A slider's hostile numbers: its ends, just past them, non-numbers and non-integers."""
    low, high = slider_range(control)
    near = [low, high, low - 1, high + 1, low - 0.5, high + 0.5, low / 10, high * 10]
    return [0, -1, -7, 0.5, 2.5, math.nan, math.inf, -math.inf, 1e308, -1e308, True, *near]


def options(control) -> list:
    return [o[1] if isinstance(o, tuple) else o for o in control.options]


def values(control) -> list:
    """Every hostile value of the control's kind, by ``.value``."""
    if isinstance(control, w.Text | w.Textarea):
        return TEXTS
    if isinstance(control, w.SelectMultiple):
        return [(), tuple(options(control)), *[(v,) for v in options(control)], ("no such",)]
    if hasattr(control, "options"):
        return [*options(control), None, "no such option"]
    if isinstance(control, w.Checkbox):
        return [True, False, None, "no"]
    return numbers(control)


def page_states(control) -> list[dict]:
    """What the page may send: a list's index (past its end too), a box's text, a number."""
    if isinstance(control, w.SelectMultiple):
        n = len(control.options)
        return [{"index": i} for i in ((), (0,), tuple(range(n)), (n,))]
    if hasattr(control, "options"):
        n = len(control.options)
        return [{"index": i} for i in (*range(n), n, -1, None)]
    if isinstance(control, w.Text | w.Textarea):
        return [{"value": t} for t in TEXTS]
    if isinstance(control, w.Checkbox):
        return [{"value": v} for v in (True, False, None)]
    low, high = slider_range(control)
    return [{"value": v} for v in (low - 1, high + 1, 1e308, -1e308, 2.5, None, "abc")]


def paths(control):
    """(path, value, how to set it) for every hostile value and every path that takes it."""
    for value in values(control):
        yield "value", value, lambda c, v=value: setattr(c, "value", v)
    if isinstance(control, w.IntSlider | w.FloatSlider | w.FloatLogSlider):
        low, high = slider_range(control)  # the same validation as ``.value``: its worst values
        for value in (math.nan, -math.inf, high + 1, low - 0.5):
            yield "set_trait", value, lambda c, v=value: c.set_trait("value", v)
    for state in page_states(control):
        yield "set_state", state, lambda c, s=state: c.set_state(s)


# --- what a value must do -----------------------------------------------------------------------


def off_range(control) -> bool:
    """Whether a slider holds what it cannot draw: NaN, outside its range, between its steps."""
    value, (low, high) = control.value, slider_range(control)
    if not math.isfinite(value) or not low <= value <= high:
        return True
    return isinstance(control, w.IntSlider) and control.step > 1 and (value - low) % control.step != 0


def must_be_error(control) -> bool:
    """Whether the explorer must answer the control's value now with an error message."""
    if isinstance(control, w.Text | w.Textarea):
        return control.value in BLANK or control.value == TOO_LONG
    if isinstance(control, w.SelectMultiple):
        return control.value == ()
    if hasattr(control, "options"):
        return control.value is None
    if isinstance(control, w.Checkbox):
        return False
    return off_range(control)


def assert_answered(explorer, name, control, before, what) -> None:
    """No traceback; an error (when the value is one) names the control and keeps the figures;
    a typed unknown word or emoji is named, as a note or in the error."""
    assert_clean(explorer, what)
    message = text_of(explorer)
    if must_be_error(control):
        assert is_error(explorer), (what, message)
    if is_error(explorer):
        assert names_control(message, (name, control)), (what, message)
        assert shown(explorer) == before, what  # the last good figures stay
    if isinstance(control, w.Text | w.Textarea) and control.value in (UNKNOWN, EMOJI):
        assert control.value.split()[0][:1] in message, (what, message)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_control_answers_every_bad_value_by_every_path(name):
    explorer, good, start = explorer_of(name)
    for control_name, control in found_controls(explorer).items():
        for path, value, put in paths(control):
            what = f"{name}.{control_name} by {path}: {value!r:.40}"
            before = shown(explorer)
            try:
                put(control)
            except TraitError:  # ipywidgets refuses it: the control holds what it held
                pass
            assert_answered(explorer, control_name, control, before, what)
            back_to_good(explorer, good, start, what)


# --- a slider's range moved from code -------------------------------------------------------------

SLIDERS = [
    (name, control_name)
    for name in BUILDERS
    for control_name, control in explorer_of(name)[0].controls.items()
    if isinstance(control, w.IntSlider | w.FloatSlider | w.FloatLogSlider)
]


def widened(control) -> list[tuple[str, float]]:
    """(bound, new value) that move a slider's min below or its max above its range (for a
    FloatLogSlider: its exponents)."""
    return [("min", control.min - 5), ("max", control.max * 3 + 3)]


@pytest.mark.parametrize("name, control_name", SLIDERS)
def test_a_slider_moved_past_its_range_from_code_is_named_with_the_range_it_was_built_for(name, control_name):
    """Before: 13 of these failed deep in the explorer as "Could not update the figures
    (IndexError: index -5 is out of bounds …)" and the like, naming no control, and the others
    drew what the constructor refuses (chapter 02's d_model 25,700: a 12 MB figure)."""
    explorer, good, start = explorer_of(name)
    control = explorer.controls[control_name]
    built = slider_range(control)
    bounds = {"min": control.min, "max": control.max}
    for bound, value in widened(control):
        what = f"{name}.{control_name}.{bound} = {value}"
        before = shown(explorer)
        try:
            setattr(control, bound, value)
            control.value = slider_range(control)[0 if bound == "min" else 1]  # the new end
            assert_clean(explorer, what)  # "Could not update" is refused there
            message = text_of(explorer)
            assert is_error(explorer) and names_control(message, (control_name, control)), (what, message)
            assert f"between {built[0]:g} and {built[1]:g}" in message, (what, message)
            assert shown(explorer) == before, what
        finally:  # the shared explorer as built, even after a failure
            setattr(control, bound, bounds[bound])  # ipywidgets clamps the value back inside
        back_to_good(explorer, good, start, what)


def test_the_sentence_past_the_batch_names_the_slider_and_the_batch():
    """Chapter 06's sentence slider, its min moved to -5 and set there. Before: "Could not update
    the figures (IndexError: index -5 is out of bounds for dimension 0 with size 3)"."""
    explorer, good, start = explorer_of("MaskExplorer")
    slider = explorer.controls["sentence"]
    slider.min, slider.value = -5, -5
    assert is_error(explorer) and shown(explorer) == start
    assert "'sentence' is -5, outside the range this explorer draws: set it between 0 and 2" in text_of(
        explorer
    )
    slider.value = 1
    assert not is_error(explorer) and shown(explorer) != start  # a good value draws again
    slider.min = 0
    back_to_good(explorer, good, start, "sentence")


def test_nan_on_a_slider_whose_max_went_to_infinity_names_the_range_it_was_built_for():
    """Before: "'factor' is inf, which is not a number it can use: set it between 0.5 and inf"."""
    explorer, good, start = explorer_of("RepeatedProductExplorer")
    slider = explorer.controls["factor"]
    slider.max, slider.value = math.inf, math.inf
    assert is_error(explorer) and shown(explorer) == start
    assert text_of(explorer).endswith(
        "'factor' is inf, which is not a number it can use: set it between 0.5 and 1.5."
    )
    slider.max = 1.5
    back_to_good(explorer, good, start, "factor")


def test_control_problem_names_the_bounds_it_is_given():
    slider = w.FloatSlider(value=1.0, min=0.5, max=2.0, description="scale")
    slider.max, slider.value = math.inf, math.nan
    assert control_problem("s", slider).endswith("set it between 0.5 and inf.")  # its own bounds
    assert control_problem("s", slider, (0.5, 2.0)).endswith("set it between 0.5 and 2.")
    assert slider_range(w.FloatLogSlider(value=1.0, base=10, min=-1, max=1)) == (0.1, 10)
    assert slider_range(w.Dropdown(options=[1, 2])) is None


def test_fit_slider_moves_the_range_it_names():
    """A range a render narrowed (``fit_slider``: 'wave pair i' follows d_model) is the one named."""
    explorer, good, start = explorer_of("PositionalExplorer")
    explorer.controls["d_model"].value = 8  # pairs 0 to 3
    assert explorer._ranges["pair"] == (0, 3)
    explorer.controls["d_model"].value = good["d_model"]
    assert explorer._ranges["pair"] == (0, good["d_model"] // 2 - 1)
    back_to_good(explorer, good, start, "d_model")


# --- a list's options changed from code -----------------------------------------------------------

LISTS = [
    (name, control_name)
    for name in BUILDERS
    for control_name, control in explorer_of(name)[0].controls.items()
    if hasattr(control, "options")
]
ADDED = [999, -1, "zz", 2.5]  # options no explorer builds (-1 is chapter 07's "mean of heads")


@pytest.mark.parametrize("name, control_name", LISTS)
def test_an_option_added_from_code_and_picked_is_named_with_the_options_it_was_built_with(name, control_name):
    """Before: a render failed on it deep inside, "Could not update the figures (ValueError:
    kind must be 'cosine' or 'dot', got 'zz')", "(KeyError: 999)" and the like; chapter 02's
    encoding drew 999 as the learned one without a word."""
    explorer, good, start = explorer_of(name)
    control = explorer.controls[control_name]
    original = control.options
    built = [text for text, _ in choice_options(control)]
    for added in ADDED:
        if added in options(control):
            continue
        what = f"{name}.{control_name}: options + [{added!r}]"
        try:
            control.options = [*control.options, added]  # ipywidgets may move the value: a render
            before = shown(explorer)
            try:
                control.value = (added,) if isinstance(control, w.SelectMultiple) else added
            except TraitError:  # a render rebuilt the list (chapter 03's queries): refused, as ever
                continue
            message = text_of(explorer)
            assert is_error(explorer) and names_control(message, (control_name, control)), (what, message)
            assert all(f"'{text}'" in message for text in built[:8]), (what, message)
            assert_clean(explorer, what)
            assert shown(explorer) == before, what
        finally:  # the shared explorer as built, even after a failure
            control.options = original
        back_to_good(explorer, good, start, what)


def test_emptied_options_name_the_options_the_list_was_built_with():
    """Before: "Nothing is picked in 'Similarity': choose one of ." (the options it holds now)."""
    explorer, good, start = explorer_of("EmbeddingExplorer")
    menu = explorer.controls["similarity"]
    menu.options = []
    assert text_of(explorer).endswith("Nothing is picked in 'Similarity': choose one of 'cosine', 'dot'.")
    assert shown(explorer) == start
    menu.options = ["cosine", "dot"]
    back_to_good(explorer, good, start, "similarity")


def test_a_query_picked_from_added_options_gives_way_to_a_good_one():
    """Chapter 03's query list, rebuilt by each render from the sentence: -1 or 'zz' picked from
    options code added. Before: "Could not update the figures (TraitError: Invalid selection …)",
    then the good query 0 failed the same way (-1 stayed the learner's pick), until another query
    was picked."""
    explorer, good, start = explorer_of("QKVExplorer")
    query = explorer.controls["query"]
    original = query.options
    for added in (-1, "zz"):
        with explorer.hold_trait_notifications():  # both at once, no render in between
            query.options = [*original, (str(added), added)]
            query.value = added
        assert_clean(explorer, repr(added))
        query.options = original
        query.value = good["query"]
        assert not is_error(explorer) and shown(explorer) == start, (added, text_of(explorer))
