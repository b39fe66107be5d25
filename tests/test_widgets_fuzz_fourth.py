"""Fourth round of hostile input for the explorers: a systematic walk over every control.

The earlier rounds (test_widgets_fuzz*.py, test_bad_inputs_explorers.py) set chosen values on the
controls an explorer lists in ``controls``. Here the controls are found as a page would find
them, by walking the widget tree (every widget with a ``value`` under the explorer's boxes), each
explorer is built as its chapter builds it, and every control gets every hostile value of its
kind: a slider its ends, past its ends, NaN and ±inf; a text box nothing, whitespace, 10,000
characters, emoji, right-to-left text, combining marks, zero-width characters, HTML and
``<script>``, unknown words, punctuation alone; a list every option and None. Then 50 random
values in a row, every pair of controls at their extremes together, and a control moved while
another is bad. After each change: nothing escapes but ipywidgets' own TraitError (which leaves
the value as it was), no traceback anywhere on the page, a problem is one line that names the
control, the last good figures stay, and a good value draws again: exactly what that value draws,
different from the bad state. (No explorer has a FloatText or IntText: a slider is the only
number a learner types.)
"""

import itertools
import math
import random

import ipywidgets as w
import pytest
import torch
from test_bad_inputs_explorers import _history
from test_widgets_fuzz import EXPLORERS as ROUND_ONE
from test_widgets_fuzz import (
    GENERATOR,
    STORY_VOCAB,
    VOCAB,
    assert_healthy,
    is_error,
    shown,
    story_model,
    text_of,
)
from traitlets import TraitError
from transformer_course import pointer
from transformer_course.data import pronoun_task
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.training import History
from transformer_course.widgets import (
    AttentionHistoryExplorer,
    LiveLossCurve,
    ModelExplorer,
    PathLengthExplorer,
    StoryExplorer,
)
from transformer_course.widgets.kit import Explorer

# --- the explorers, as the chapters build them ---------------------------------------------------


def chapter_07_model():
    """Chapter 07's explorer model: d_model 32, 4 heads, 2 + 2 layers, dropout 0.1."""
    config = TransformerConfig(
        vocab_size=len(VOCAB), d_model=32, num_heads=4, num_encoder_layers=2, num_decoder_layers=2,
        d_ff=64, dropout=0.1, max_len=64,
    )  # fmt: skip
    return ModelExplorer(
        Transformer(config), VOCAB, source="the pizza came out of the oven", target="it tasted good"
    )


def chapter_08_history():
    """Two snapshots of real pointers (pointer.snapshot), of two sentences of the pronoun task."""
    task = pronoun_task(num_train=8, num_test=8)
    shown_rows = task.train[:2]
    config = TransformerConfig(
        vocab_size=len(task.vocab), d_model=8, num_heads=2, num_encoder_layers=1, num_decoder_layers=1,
        d_ff=16, dropout=0.0, max_len=16,
    )  # fmt: skip
    snaps = {}
    for step in (0, 100):
        torch.manual_seed(step)
        with torch.no_grad():
            snaps[step] = pointer.snapshot(pointer.PronounPointer(config), shown_rows, task.test)
    _, sentences, it_pos, referent_pos, distractor_pos = _history()
    return AttentionHistoryExplorer(snaps, sentences, it_pos, referent_pos, distractor_pos)


def chapter_09_curve():
    """Chapter 09's curve: a floor and held-out losses."""
    curve = LiveLossCurve(total_steps=200, title="A GPT learning stories", floor=0.8, floor_label="floor")
    steps = list(range(1, 41))
    losses = [3.0 / (1 + 0.1 * s) + 0.8 for s in steps]
    curve.update(History(steps=steps, losses=losses, evals={"held-out": [(20, 2.0), (40, 1.6)]}))
    return curve


def sampling_generation():
    """Chapter 08's GenerationExplorer, switched to sampling: every knob then moves the figures."""
    explorer = ROUND_ONE["GenerationExplorer"]()
    explorer.controls["strategy"].value = "sample"
    return explorer


# The first round's explorers are built with the chapters' arguments; where a chapter builds
# one otherwise (a longer path, another model, a curve before or after training), both are here.
EXPLORERS = {
    **{name: make for name, make in ROUND_ONE.items() if name not in ("GenerationExplorer", "StoryExplorer")},
    "PathLengthExplorer (chapter 00)": lambda: PathLengthExplorer(length=50, scale=1.0),
    "ModelExplorer (chapter 07)": chapter_07_model,
    "LiveLossCurve (before training)": lambda: LiveLossCurve(
        total_steps=200, title="Reversing: training loss"
    ),
    "LiveLossCurve (chapter 09)": chapter_09_curve,
    "AttentionHistoryExplorer (chapter 08)": chapter_08_history,
    "GenerationExplorer (sampling)": sampling_generation,
    "StoryExplorer (chapter 09)": lambda: StoryExplorer(story_model(), STORY_VOCAB, generator=GENERATOR),
}

# A good value other than the one each explorer starts with, for each text box: a sentence the
# explorer draws (a word order explorer's B stays a reordering of A).
OTHER_TEXT = {
    "text": "the dog saw the cat",
    "text_a": "eats Squatch pizza",
    "text_b": "eats pizza Squatch",
    "sentences": "the cat sat\nI love pizza",
    "source": "the cat sat",
    "target": "it was good",
}
OTHER_SYMBOLS = "1 2 3"  # GenerationExplorer's source box
OTHER_PROMPT = "lily and tom were in the park ."  # StoryExplorer's
# Controls that draw the same whatever their value, in the state the explorer starts in.
INERT = {("LiveLossCurve (before training)", "smoothing")}
# The words a message may name a control by, besides its name and its description.
ALIASES = {"sentences": ("sentence on line",)}


def build(name):
    torch.manual_seed(0)  # two builds of one explorer draw the very same figures
    return EXPLORERS[name]()


# --- the walk ------------------------------------------------------------------------------------

DISPLAY_ONLY = (w.HTML, w.HTMLMath, w.Label)  # values the explorer writes, no learner sets


def walk(widget):
    """``widget`` and every widget below it, through the children of its boxes."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def found_controls(explorer) -> dict[str, w.ValueWidget]:
    """Every control a learner can set, found in the widget tree → its name in ``controls``
    ("?" for one the explorer does not list, so does not listen to)."""
    names = {id(c): n for n, c in explorer.controls.items()}
    found = [
        x
        for x in walk(explorer)
        if x is not explorer and "value" in x.trait_names() and not isinstance(x, DISPLAY_ONLY)
    ]
    return {names.get(id(x), f"?{type(x).__name__}"): x for x in found}


def tracebacks(explorer) -> list[str]:
    """Anything on the page that looks like a traceback: in the message line, an HTML view, or the
    outputs of an Output widget."""
    bad = []
    for x in walk(explorer):
        texts = [x.value] if isinstance(x, w.HTML) else []
        if isinstance(x, w.Output):
            texts += [str(o) for o in x.outputs]
            bad += [str(o)[:200] for o in x.outputs if o.get("output_type") == "error"]
        bad += [t[:200] for t in texts if "Traceback" in t or 'File "' in t]
    return bad


# --- values --------------------------------------------------------------------------------------

TEXTS = [
    "",
    " ",
    "\t\n \r\n",
    "x" * 10_000,
    "y " * 5_000,  # 10,000 characters of one-letter words
    "🍕🐱 pizza 👍🏽 👨‍👩‍👧",
    "שלום עולם",
    "مرحبا بالعالم",
    "e\u0301\u0301 cafe\u0301 n\u0303",
    "\u200b\u200c\u200d\ufeff",
    "tell\u200bme \u202eabout\u202c pizza",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)"> <b>bold</b> <br> &amp; &lt;',
    "qwzx flurb glorp",
    "!!! ??? ... ,;:",
    ".",
    "\x00\x07\x1b[31m",
    "<bos> <eos> <pad> <unk>",
    "ＴＨＥ ＣＡＴ",
    "3 1 4 1 5",
]


def _options(control) -> list:
    return [o[1] if isinstance(o, tuple) else o for o in control.options]


def _on_step(control, value: float) -> float:
    return round(round((value - control.min) / control.step) * control.step + control.min, 10)


def hostile_values(control) -> list:
    """Every hostile value of the control's kind."""
    if isinstance(control, w.Text | w.Textarea):
        return TEXTS
    if isinstance(control, w.SelectMultiple):
        values = _options(control)
        return [(), *[(v,) for v in values], tuple(values), tuple(reversed(values)), ("no such head",)]
    if hasattr(control, "options"):  # Dropdown, ToggleButtons, SelectionSlider
        return [*_options(control), None, "no such option", -1]
    if isinstance(control, w.Checkbox):
        return [True, False, None, "no", 2]
    if isinstance(control, w.FloatLogSlider):
        low, high = control.base**control.min, control.base**control.max
        return [low, high, low / 10, high * 10, 0.0, -1.0, math.nan, math.inf, -math.inf, 5e-324]
    if isinstance(control, w.FloatSlider):
        lo, hi = control.min, control.max
        return [lo, hi, lo - 1, hi + 1, -1e308, 1e308, math.nan, math.inf, -math.inf, 5e-324, -0.0, "0.5"]
    if isinstance(control, w.IntSlider):
        lo, hi = control.min, control.max
        between = [lo + 1, hi - 1] if control.step > 1 else []  # code can set what the page cannot
        return [lo, hi, lo - 1, hi + 1, *between, -(10**9), 10**9, 2**70, 2.7, math.nan, "3", None]
    raise AssertionError(f"no hostile values for a {type(control).__name__}")


def extremes(control, good) -> list:
    """The ends of a control (and one bad value): what two controls are set to together."""
    if isinstance(control, w.Text | w.Textarea):
        words = good.split() or ["x"]
        return ["", words[0], " ".join([good] * 8), f"zzqq {good}"]  # 10,000 x's: hostile_values
    if isinstance(control, w.SelectMultiple):
        return [(), (_options(control)[-1],), tuple(_options(control))]
    if hasattr(control, "options"):
        return [_options(control)[0], _options(control)[-1], None]
    if isinstance(control, w.Checkbox):
        return [True, False]
    if isinstance(control, w.FloatLogSlider):
        return [control.base**control.min, control.base**control.max, math.nan]
    if isinstance(control, w.FloatSlider):
        return [control.min, control.max, math.nan]
    return [control.min, control.max]


def other_value(explorer_name, name, control, good):
    """A good value other than ``good``: what the learner sets to get out of a bad state."""
    if isinstance(control, w.Text | w.Textarea):
        if explorer_name.startswith("Generation"):
            return OTHER_SYMBOLS
        return OTHER_PROMPT if explorer_name.startswith("Story") else OTHER_TEXT[name]
    if isinstance(control, w.SelectMultiple):
        last = (_options(control)[-1],)
        return last if tuple(good) != last else tuple(_options(control))
    if hasattr(control, "options"):
        values = _options(control)
        return values[-1] if good != values[-1] else values[0]
    if isinstance(control, w.Checkbox):
        return not good
    if isinstance(control, w.FloatLogSlider):
        return control.base ** (control.min + 0.75 * (control.max - control.min))
    value = _on_step(control, control.min + 0.6 * (control.max - control.min))
    return value if value != good else control.max


def put(control, value) -> bool:
    """Set ``control`` as code may; False where ipywidgets refuses the value (a TraitError): the
    control must then hold what it held. Any other exception fails the test: a traceback."""
    before = control.value
    try:
        control.value = value
    except TraitError:
        assert control.value == before or (before != before and control.value != control.value), value
        return False
    return True


def restore(explorer, values: dict) -> None:
    """Every control back to ``values``, in the explorer's order (a sentence before the menus
    it fills, a d_model before the slider it bounds)."""
    for name, value in values.items():
        put(explorer.controls[name], value)


def names_control(message: str, *controls: tuple[str, w.ValueWidget]) -> bool:
    """Whether ``message`` names one of ``controls`` (name, widget): by its name, its description
    or its alias (a line of the batch box is named as "sentence on line 2")."""
    said = message.lower()
    for name, control in controls:
        words = {name, name.replace("_", " "), getattr(control, "description", ""), *ALIASES.get(name, ())}
        if any(word and word.lower() in said for word in words):
            return True
    return False


def assert_clean(explorer, what: str) -> None:
    """No traceback on the page, figures plotly can draw, a readable message line; the page's
    HTML carries no markup the learner typed."""
    assert not tracebacks(explorer), (what, tracebacks(explorer))
    assert_healthy(explorer)
    markup = explorer.message.value + "".join(
        v.value for v in explorer.views.values() if isinstance(v, w.HTML)
    )
    assert "<script" not in markup and "<img" not in markup, (what, markup[:300])


class State:
    """An explorer with its good values and what they draw, for comparisons."""

    def __init__(self, name):
        self.name, self.explorer = name, build(name)
        assert not is_error(self.explorer), text_of(self.explorer)
        self.good = {n: c.value for n, c in self.explorer.controls.items()}
        self.start, self.said = shown(self.explorer), text_of(self.explorer)
        self._drawn: dict = {}

    def back_to_good(self) -> None:
        restore(self.explorer, self.good)
        assert not is_error(self.explorer) and shown(self.explorer) == self.start, text_of(self.explorer)

    def drawn_with(self, name, value) -> dict:
        """What the good values draw with control ``name`` at ``value``, from a fresh build."""
        if (name, value) not in self._drawn:
            fresh = build(self.name)
            restore(fresh, {**self.good, name: value})
            assert not is_error(fresh), (name, value, text_of(fresh))
            self._drawn[name, value] = shown(fresh)
        return self._drawn[name, value]


# --- the walk finds the controls -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_every_control_on_the_page_is_one_the_explorer_listens_to(name):
    """A control found in the widget tree but not in ``controls`` would be one whose changes
    nobody hears: the learner moves it and nothing happens."""
    explorer = build(name)
    found = found_controls(explorer)
    assert set(found) == set(explorer.controls), sorted(found)
    assert all(found[n] is explorer.controls[n] for n in found)
    assert not tracebacks(explorer)


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_every_control_moves_what_is_drawn(name):
    """What makes the recovery checks below mean something: each control's other good value
    draws something else than its first (the figures, an HTML view, or the line under them)."""
    state = State(name)
    for control_name, control in state.explorer.controls.items():
        if (name, control_name) in INERT:
            continue
        other = other_value(name, control_name, control, state.good[control_name])
        put(control, other)
        moved = shown(state.explorer) != state.start or text_of(state.explorer) != state.said
        assert moved and not is_error(state.explorer), (control_name, other, text_of(state.explorer))
        state.back_to_good()


# --- every hostile value on every control --------------------------------------------------------


def _check_bad_state(state, control_name, control, value, before):
    explorer = state.explorer
    what = f"{state.name}.{control_name} = {value!r:.40}"
    assert_clean(explorer, what)
    if is_error(explorer):
        message = text_of(explorer)
        assert names_control(message, (control_name, control)), (what, message)
        assert shown(explorer) == before, what  # the last good figures stay


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_every_hostile_value_on_every_control_then_a_good_one_draws_again(name):
    state = State(name)
    explorer = state.explorer
    for control_name, control in found_controls(explorer).items():
        good = state.good[control_name]
        other = other_value(name, control_name, control, good)
        drawn = {good: state.start, other: state.drawn_with(control_name, other)}
        for value in hostile_values(control):
            put(control, value)
            _check_bad_state(state, control_name, control, value, state.start)
            bad = shown(explorer)
            # Out of it with a good value that draws something else than the bad state.
            target = other if drawn[other] != bad else good
            restore(explorer, {**state.good, control_name: target})
            assert not is_error(explorer), (control_name, value, text_of(explorer))
            assert shown(explorer) == drawn[target], (control_name, value, target)
            if (name, control_name) not in INERT:
                assert shown(explorer) != bad, (control_name, value)
            state.back_to_good()


# --- 50 values in a row --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_fifty_random_values_in_a_row(name):
    state = State(name)
    explorer = state.explorer
    rng = random.Random(f"fourth round {name}")
    controls = list(explorer.controls.items())
    for _ in range(50):
        control_name, control = rng.choice(controls)
        pool = hostile_values(control) + extremes(control, state.good[control_name])
        value = rng.choice([*pool, state.good[control_name]])
        put(control, value)
        assert_clean(explorer, f"{name}.{control_name} = {value!r:.40}")
        if is_error(explorer):
            assert any(names_control(text_of(explorer), c) for c in controls), text_of(explorer)
    state.back_to_good()


# --- two controls at their extremes together -----------------------------------------------------


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_every_pair_of_controls_at_their_extremes(name):
    state = State(name)
    explorer = state.explorer
    for (name_a, a), (name_b, b) in itertools.combinations(explorer.controls.items(), 2):
        for value_a, value_b in itertools.product(
            extremes(a, state.good[name_a]), extremes(b, state.good[name_b])
        ):
            put(a, value_a)
            put(b, value_b)
            what = f"{name}: {name_a} = {value_a!r:.30}, {name_b} = {value_b!r:.30}"
            assert_clean(explorer, what)
            if is_error(explorer):
                assert names_control(text_of(explorer), (name_a, a), (name_b, b)), (what, text_of(explorer))
        state.back_to_good()  # after all the ends of a and b, the good values draw as at the start


def _bad_value(control):
    """A value that makes the explorer say so (None where there is none)."""
    if isinstance(control, w.Text | w.Textarea):
        return ""
    if isinstance(control, w.SelectMultiple):
        return ()
    if isinstance(control, w.Dropdown | w.ToggleButtons):
        return None
    if isinstance(control, w.FloatSlider | w.FloatLogSlider):
        return math.nan
    return None


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_a_control_moved_while_another_is_bad_counts_once_that_one_is_fixed(name):
    """The learner empties the box, moves a slider, then types again: the figures are those of
    the slider's new value, as if it had been moved with a good sentence."""
    state = State(name)
    explorer = state.explorer
    for (name_a, a), (name_b, b) in itertools.permutations(explorer.controls.items(), 2):
        bad = _bad_value(a)
        if bad is None or (name, name_b) in INERT:
            continue
        put(a, bad)
        assert is_error(explorer), (name_a, bad)
        other = other_value(name, name_b, b, state.good[name_b])
        put(b, other)
        assert is_error(explorer) and shown(explorer) == state.start, (name_a, name_b)
        put(a, state.good[name_a])
        assert not is_error(explorer), (name_a, name_b, text_of(explorer))
        assert shown(explorer) == state.drawn_with(name_b, other), (name_a, name_b, other)
        state.back_to_good()


# --- what the walk found -------------------------------------------------------------------------


def test_a_symbol_the_task_lacks_is_named_as_the_source_box():
    """Before: "symbols must come from 0 1 2 3 4 5; got 'zzqq'", the task's words, which named
    no box of the explorer."""
    explorer = ROUND_ONE["GenerationExplorer"]()
    before = shown(explorer)
    explorer.controls["text"].value = "3 zzqq 4"
    message = text_of(explorer)
    assert is_error(explorer) and message.startswith(
        "⚠ In the source box, symbols must come from 0 1 2 3 4 5"
    )
    assert "got 'zzqq'" in message and shown(explorer) == before
    explorer.controls["text"].value = "3 4"
    assert not is_error(explorer) and shown(explorer) != before


def test_a_head_picked_twice_from_code_is_shown_and_counted_once():
    """Before: ``heads.value = (3, 3, 3)`` (code can repeat a head; the page cannot) drew head 3
    three times in the grid, titled "3 of 8 heads", and the mean "of the 3 heads shown"."""
    explorer = build("HeadGridExplorer")
    explorer.controls["heads"].value = (3,)
    once = shown(explorer)
    explorer.controls["heads"].value = (3, 3, 3)
    assert shown(explorer) == once and "1 of 8 heads" in explorer.figures["grid"].layout.title.text
    assert explorer.figures["average"].layout.title.text == "Mean of the 1 head shown"
    explorer.controls["heads"].value = (5, 3, 5)
    assert "2 of 8 heads" in explorer.figures["grid"].layout.title.text


def test_an_int_slider_set_between_its_steps_is_a_message_naming_it():
    """Before: d_model = 7 from code (the slider moves in steps of 2; ipywidgets clamps a value
    to the range, not to the steps) drew a 7-dimensional "sinusoidal" encoding whose last sine
    has no cosine, which the constructor refuses ("d_model must be an even int")."""
    explorer = build("PositionalExplorer")
    before = shown(explorer)
    explorer.controls["d_model"].value = 7
    message = text_of(explorer)
    assert is_error(explorer) and "'d_model' is 7, between the steps of its slider" in message, message
    assert "set it to 6 or 8." in message and shown(explorer) == before
    explorer.controls["d_model"].value = 255
    assert "set it to 254 or 256." in text_of(explorer)
    explorer.controls["d_model"].value = 8
    assert not is_error(explorer) and shown(explorer) != before
    assert explorer.figures["encoding"].layout.title.text == "sinusoidal: 24 positions × 8 dims"


# --- the walk's own checks can fail ----------------------------------------------------------


class _Deaf(Explorer):
    """An explorer with a text box on the page that it does not list in ``controls``."""

    def __init__(self):
        super().__init__(controls={"n": w.IntSlider(value=1, min=0, max=3)}, views={})
        self.children = (*self.children, w.HBox([w.Text(value="nobody hears me")]))

    def render(self):
        return {}


def test_the_walk_finds_a_control_the_explorer_does_not_listen_to():
    assert set(found_controls(_Deaf())) == {"n", "?Text"}


def test_a_traceback_in_an_output_widget_is_found():
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []}
    printed = {
        "output_type": "stream",
        "name": "stderr",
        "text": 'Traceback (most recent call last):\n  File "x"',
    }
    assert len(tracebacks(w.VBox([w.Output(outputs=(error,))]))) == 1
    assert len(tracebacks(w.VBox([w.HBox([w.Output(outputs=(printed,))])]))) == 1
    assert not tracebacks(
        w.VBox([w.Output(outputs=({"output_type": "stream", "name": "stdout", "text": "ok"},))])
    )
