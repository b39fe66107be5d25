"""Round 43 of hostile input for the explorers: each one built exactly as its chapter builds it,
driven the way the page drives it, and every constructor argument given odd values.

The earlier rounds (test_widgets_fuzz*.py) built the explorers with small stand-ins and set
``control.value`` from code. Here:

- the chapters' own arguments: chapter 03's query 0, chapter 04's d_k 64, chapter 06's three
  sentences, chapter 08's reverser (8 symbols, rows of 3 to 6, d_model 32, max_len 16) and chapter
  09's GPT config (16 heads of 4 dimensions, GELU, learned positions, max_len 256), untrained;
- the page's path: the browser sends ``set_state`` (a menu's ``index``, not its value), and what
  the page draws is each view's ``_spec``: after toggling back it must be the first draw's, and
  after 50 values in a row it must be what a fresh explorer set to the last one draws;
- every keyword argument of every constructor given odd values (None, NaN, tensors, NumPy
  scalars, 10,000 characters …): a ValueError naming the argument, or an explorer that draws.

The walk found:

- a control moved away and back did not draw what it drew: a render that narrows another
  control's range clamped that control's value and kept it clamped once the range was wide
  again. d_model 32 → 4 → 32 left chapter 02's 'wave pair i' at 1, not the learner's pick; a
  one-word sentence and back left chapter 03's query at 0, a batch of fewer lines chapter 06's
  sentence, a short story chapter 08's and 09's step, the decoder's one layer the model
  explorer's encoder layer. The explorer now keeps the learner's pick (``Explorer.pick``,
  ``fit_slider``) and gives it back once the range holds it;
- ``ScalingExplorer(d_k=torch.tensor([1, 2]))`` failed inside torch ("Boolean value of Tensor
  with more than one value is ambiguous"), and NumPy's ``True`` and ``float32(64)`` passed the
  check as d_k 1 and 64 (Python's True and 64.0 are refused);
- a ``LiveLossCurve`` handed losses on the meta device (a model made with ``device="meta"``)
  said "Could not update the figures (ValueError: losses must hold numbers …)", naming no
  history; now the message names ``history.losses`` and does not advise ``loss.item()``, which
  fails on such a tensor.
"""

import inspect
import math
import random
from decimal import Decimal
from fractions import Fraction

import ipywidgets as w
import numpy as np
import pytest
import torch
from test_widgets_fuzz import (
    GENERATOR,
    STORY_VOCAB,
    TASK,
    VOCAB,
    is_error,
    reverse_model,
    shown,
    small_transformer,
    story_model,
    text_of,
)
from test_widgets_fuzz_fourth import (
    TEXTS,
    assert_clean,
    found_controls,
    hostile_values,
    names_control,
    put,
    restore,
    tracebacks,
)
from traitlets import TraitError
from transformer_course import widgets
from transformer_course.attention import MultiHeadAttention, SingleHeadAttention
from transformer_course.data import sequence_task
from transformer_course.embeddings import TokenEmbedding
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
from transformer_course.training import History
from transformer_course.widgets import FigureView

# --- the explorers, with their chapters' arguments ---------------------------------------------

SENTENCE = "the pizza came out of the oven and it tasted good"  # chapters 04 and 05
CH06_SENTENCES = ("I love deep learning", "the cat sat", "tell me about pizza and cheese")
CH08_TASK = sequence_task("reverse", num_symbols=8, min_len=3, max_len=6, num_train=40, num_test=10, seed=0)


def _embedding(d_model: int) -> TokenEmbedding:
    return TokenEmbedding(len(VOCAB), d_model, scale=False)


def chapter_08_generation():
    """Chapter 08's reverser, untrained: its config and its task's symbols 0-7."""
    config = TransformerConfig(
        vocab_size=len(CH08_TASK.vocab), d_model=32, num_heads=2, num_encoder_layers=1,
        num_decoder_layers=1, d_ff=64, dropout=0.0, max_len=16,
    )  # fmt: skip
    return widgets.GenerationExplorer(Transformer(config), CH08_TASK, text="3 1 4 1 5")


def chapter_09_story():
    """Chapter 09's GPT config (the trained model costs minutes: an untrained one of that shape)."""
    config = TransformerConfig(
        vocab_size=len(STORY_VOCAB), d_model=64, num_heads=16, num_decoder_layers=1, d_ff=128,
        dropout=0.0, max_len=256, norm_first=True, activation="gelu", positional="learned",
    )  # fmt: skip
    return widgets.StoryExplorer(DecoderOnlyTransformer(config), STORY_VOCAB, generator=GENERATOR)


CHAPTERS = {
    "00 repeated product": lambda: widgets.RepeatedProductExplorer(factor=0.9, steps=50),
    "00 path length": lambda: widgets.PathLengthExplorer(length=50, scale=1.0),
    "01 embeddings": lambda: widgets.EmbeddingExplorer(VOCAB, _embedding(8), text="the cat saw the dog"),
    "02 word order": lambda: widgets.WordOrderExplorer(
        VOCAB,
        _embedding(16),
        MultiHeadAttention(16, num_heads=2),
        text_a="Squatch eats pizza",
        text_b="Pizza eats Squatch",
    ),
    "02 positional": lambda: widgets.PositionalExplorer(length=24, d_model=32),
    "03 qkv": lambda: widgets.QKVExplorer(
        VOCAB, _embedding(8), SingleHeadAttention(8, d_k=4), text="I'm playing with a cat", query=0
    ),
    "04 scaling": lambda: widgets.ScalingExplorer(
        VOCAB, _embedding(32), SENTENCE, d_k=64, temperature=1.0, scaled=True
    ),
    "05 head grid": lambda: widgets.HeadGridExplorer(
        VOCAB, _embedding(32), MultiHeadAttention(32, 8), text=SENTENCE
    ),
    "06 masks": lambda: widgets.MaskExplorer(
        VOCAB, _embedding(16), SingleHeadAttention(16), sentences=CH06_SENTENCES
    ),
    "08 generation": chapter_08_generation,
    "09 story": chapter_09_story,
}

# A good value other than the chapter's, per text box: what a learner types to get out of a
# bad state (a word order explorer's B stays a reordering of A).
OTHER_TEXT = {
    "02 word order": {"text_a": "eats Squatch pizza", "text_b": "eats pizza Squatch"},
    "06 masks": {"sentences": "the cat sat\nI love pizza"},
    "08 generation": {"text": "1 2 3 4"},
    "09 story": {"text": "lily and tom were in the park ."},
}
# Controls that draw the same whatever their value in the state the chapter builds: greedy
# decoding (chapter 08 starts there) reads no temperature, top-k or seed; it says so.
INERT = {("08 generation", name) for name in ("temperature", "top_k", "seed")}


def build(name):
    torch.manual_seed(0)  # two builds of one explorer draw the very same figures
    return CHAPTERS[name]()


def page(explorer) -> dict[str, str]:
    """What the page draws: each figure view's JSON as sent (``_spec``), each HTML view's markup."""
    return {n: v._spec if isinstance(v, FigureView) else v.value for n, v in explorer.views.items()}


def _options(control) -> list:
    return [o[1] if isinstance(o, tuple) else o for o in control.options]


def good_values(control, name: str, explorer_name: str) -> list:
    """Good values of a control, its ends first: each one draws."""
    if isinstance(control, w.Text | w.Textarea):
        return [OTHER_TEXT.get(explorer_name, {}).get(name, "the dog saw the cat")]
    if isinstance(control, w.SelectMultiple):
        values = _options(control)
        return [tuple(values[:1]), tuple(values[-1:]), tuple(values)]
    if hasattr(control, "options"):
        return _options(control)
    if isinstance(control, w.Checkbox):
        return [True, False]
    if isinstance(control, w.FloatLogSlider):
        low, high = control.min, control.max
        return [control.base ** (low + f * (high - low)) for f in (0, 0.5, 1)]
    step = control.step
    count = round((control.max - control.min) / step)
    values = [control.min + step * k for k in sorted({0, count // 3, count // 2, count})]
    return [round(v, 10) if isinstance(step, float) else v for v in values]


def test_the_chapters_build_what_their_prose_describes():
    """Guards the builds above: chapter 08's task has symbols 0-7 and rows of 3 to 6, chapter
    09's model 16 heads; each explorer starts without a message of error."""
    assert CH08_TASK.min_len == 3 and CH08_TASK.max_len == 6
    assert build("09 story").model.config.num_heads == 16
    for name in CHAPTERS:
        explorer = build(name)
        assert not is_error(explorer) and not tracebacks(explorer), (name, text_of(explorer))


# --- every hostile value on every control, as the chapter builds the explorer -----------------


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_hostile_values_are_named_and_toggling_back_redraws_the_first_page(name):
    explorer = build(name)
    good = {n: c.value for n, c in explorer.controls.items()}
    first, first_page = shown(explorer), page(explorer)
    for control_name, control in found_controls(explorer).items():
        for value in hostile_values(control):
            put(control, value)
            what = f"{name}.{control_name} = {value!r:.40}"
            assert_clean(explorer, what)
            explorer._repr_mimebundle_()  # what the notebook asks to display the widget
            if is_error(explorer):  # the message names the control, the last good page stays
                assert names_control(text_of(explorer), (control_name, control)), (what, text_of(explorer))
                assert page(explorer) == first_page, what
            restore(explorer, good)
            assert not is_error(explorer), (what, text_of(explorer))
            assert shown(explorer) == first and page(explorer) == first_page, what


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_every_control_moves_the_figures_and_back(name):
    """Each good value of each control draws, and a value other than the chapter's changes a
    figure or an HTML view (not only the line under the controls)."""
    explorer = build(name)
    good = {n: c.value for n, c in explorer.controls.items()}
    first_page = page(explorer)
    for control_name, control in explorer.controls.items():
        pages = []
        for value in good_values(control, control_name, name):
            put(control, value)
            assert not is_error(explorer), (control_name, value, text_of(explorer))
            pages.append(page(explorer))
        if (name, control_name) not in INERT:
            assert any(p != first_page for p in pages), control_name
        put(control, good[control_name])  # this control alone back: the others were not touched
        assert page(explorer) == first_page, (control_name, text_of(explorer))
        assert {n: c.value for n, c in explorer.controls.items()} == good, control_name


# --- the page's own path: set_state --------------------------------------------------------------


def page_states(control) -> list[dict]:
    """What the browser may send for a control: a menu sends its index (or indices), the
    others their value as JSON (an IntSlider's as an int, a text box's as a str)."""
    if isinstance(control, w.SelectMultiple):
        n = len(control.options)
        return [{"index": ()}, {"index": tuple(range(n))}, {"index": (n,)}, {"index": (0, 0)}]
    if hasattr(control, "options"):
        n = len(control.options)
        return [{"index": 0}, {"index": n - 1}, {"index": n}, {"index": -1}, {"index": None}]
    if isinstance(control, w.Text | w.Textarea):
        return [{"value": text} for text in ("", "x" * 10_000, "🍕 مرحبا", "qwzx flurb")]
    if isinstance(control, w.Checkbox):
        return [{"value": True}, {"value": False}]
    return [{"value": control.min}, {"value": control.max}, {"value": None}, {"value": 1e400}]


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_what_the_page_sends_is_named_or_drawn(name):
    explorer = build(name)
    good = {n: c.value for n, c in explorer.controls.items()}
    first_page = page(explorer)
    for control_name, control in explorer.controls.items():
        for state in page_states(control):
            try:
                control.set_state(state)
            except TraitError:  # ipywidgets refuses it: the control holds what it held
                pass
            what = f"{name}.{control_name} ← {state!r:.40}"
            assert_clean(explorer, what)
            if is_error(explorer):
                assert names_control(text_of(explorer), (control_name, control)), (what, text_of(explorer))
            restore(explorer, good)
            assert not is_error(explorer) and page(explorer) == first_page, what


# --- 50 values in a row ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_the_last_of_fifty_values_is_what_the_page_shows(name):
    """A slider dragged across its range sends a value per pixel: after 50 of them, good and
    hostile mixed, the page shows what a fresh explorer set to the last one shows."""
    explorer = build(name)
    good = {n: c.value for n, c in explorer.controls.items()}
    rng = random.Random(f"round 43 {name}")
    for control_name, control in explorer.controls.items():
        pool = good_values(control, control_name, name) + hostile_values(control)
        for value in rng.choices(pool, k=49):
            put(control, value)
        last = rng.choice(good_values(control, control_name, name))
        put(control, last)
        assert not is_error(explorer), (control_name, last, text_of(explorer))
        fresh = build(name)
        restore(fresh, {**good, control_name: last})
        assert page(explorer) == page(fresh), (control_name, last)
        restore(explorer, good)


# --- a bad start, then a good value -------------------------------------------------------------

TEXT_ARGS = {
    "01 embeddings": ("text", "text"),
    "03 qkv": ("text", "text"),
    "04 scaling": ("text", "text"),
    "05 head grid": ("text", "text"),
    "08 generation": ("text", "text"),
    "09 story": ("prompt", "text"),
}


def _rebuild(name, **kw):
    """The chapter's explorer with keyword arguments changed."""
    torch.manual_seed(0)
    if name == "08 generation":
        return widgets.GenerationExplorer(build(name).model, CH08_TASK, **{"text": "3 1 4 1 5", **kw})
    if name == "09 story":
        return widgets.StoryExplorer(build(name).model, STORY_VOCAB, generator=GENERATOR, **kw)
    explorer = build(name)  # its modules, with the chapter's seed
    modules = [explorer.embedding, *([explorer.attention] if hasattr(explorer, "attention") else [])]
    return type(explorer)(VOCAB, *modules, **kw)


HOSTILE_STARTS = ["", " \t", "x" * 10_000, "🍕🐱 👨‍👩‍👧", "שלום עולם", "qwzx flurb", "y " * 5000]


@pytest.mark.parametrize("name", list(TEXT_ARGS))
@pytest.mark.parametrize("text", HOSTILE_STARTS)
def test_an_explorer_built_on_a_hostile_text_says_so_then_draws_the_good_one(name, text):
    arg, box = TEXT_ARGS[name]
    explorer = _rebuild(name, **{arg: text})
    assert_clean_start(explorer, name)
    good = OTHER_TEXT.get(name, {}).get(box, "the dog saw the cat")
    explorer.controls[box].value = good
    fresh = _rebuild(name, **{arg: good})
    assert not is_error(explorer) and not is_error(fresh), text_of(explorer)
    assert shown(explorer) == shown(fresh) and text_of(explorer) == text_of(fresh)


def assert_clean_start(explorer, name):
    """No traceback and a readable message; a figure not drawn yet is None (nothing to draw)."""
    assert not tracebacks(explorer), name
    assert len(text_of(explorer)) <= 1300 and "Could not update" not in text_of(explorer)
    explorer._repr_mimebundle_()


# --- every keyword argument, odd values --------------------------------------------------------

ODD = [
    None, True, False, 0, -1, 3, 10**9, 2**70, 0.5, -0.0, math.nan, math.inf, 1e-320,
    "", "5", "x" * 10_000, "🍕", [], [1], {}, np.int64(3), np.float32(64.0), np.float64(math.nan),
    np.bool_(True), torch.tensor(3), torch.tensor(0.5), torch.tensor([1, 2]), Fraction(1, 2),
    Decimal("NaN"), 1 + 2j, b"abc", object(),
]  # fmt: skip
E8, E32 = _embedding(8), _embedding(32)
CONSTRUCTORS = {
    "RepeatedProductExplorer": lambda **kw: widgets.RepeatedProductExplorer(**kw),
    "PathLengthExplorer": lambda **kw: widgets.PathLengthExplorer(**kw),
    "PositionalExplorer": lambda **kw: widgets.PositionalExplorer(**kw),
    "EmbeddingExplorer": lambda **kw: widgets.EmbeddingExplorer(VOCAB, E8, **kw),
    "QKVExplorer": lambda **kw: widgets.QKVExplorer(VOCAB, E8, SingleHeadAttention(8, 4), **kw),
    "ScalingExplorer": lambda **kw: widgets.ScalingExplorer(VOCAB, E32, **kw),
    "HeadGridExplorer": lambda **kw: widgets.HeadGridExplorer(VOCAB, E32, MultiHeadAttention(32, 8), **kw),
    "MaskExplorer": lambda **kw: widgets.MaskExplorer(VOCAB, _embedding(16), SingleHeadAttention(16), **kw),
    "WordOrderExplorer": lambda **kw: widgets.WordOrderExplorer(
        VOCAB, _embedding(16), MultiHeadAttention(16, 2), **kw
    ),
    "ModelExplorer": lambda **kw: widgets.ModelExplorer(small_transformer(), VOCAB, **kw),
    "LiveLossCurve": lambda **kw: widgets.LiveLossCurve(**kw),
    "GenerationExplorer": lambda **kw: widgets.GenerationExplorer(reverse_model(), TASK, **kw),
    "StoryExplorer": lambda **kw: widgets.StoryExplorer(
        story_model(), STORY_VOCAB, generator=GENERATOR, **{"max_new_tokens": 4, **kw}
    ),
}
KEYWORDS = [
    (cls, p.name)
    for cls in CONSTRUCTORS
    for p in list(inspect.signature(getattr(widgets, cls).__init__).parameters.values())[1:]
    if p.default is not inspect.Parameter.empty and p.name != "generator"
]


@pytest.mark.parametrize("cls, arg", KEYWORDS)
def test_an_odd_keyword_argument_is_refused_by_name_or_draws(cls, arg):
    for value in ODD:
        try:
            explorer = CONSTRUCTORS[cls](**{arg: value})
        except ValueError as err:
            assert arg in str(err), (arg, value, str(err)[:200])
            continue
        assert not tracebacks(explorer) and "Could not update" not in text_of(explorer), (arg, value)


@pytest.mark.parametrize(
    "d_k", [torch.tensor([1, 2]), torch.tensor(64), np.bool_(True), np.float32(64.0), np.float64(64.0)]
)
def test_scaling_d_k_is_an_int_among_the_sliders_values(d_k):
    """Before: a tensor of two values failed inside torch ("Boolean value of Tensor with more
    than one value is ambiguous"), NumPy's True and float32 64.0 were taken as 1 and 64."""
    with pytest.raises(ValueError, match=r"d_k must be one of \(1, 2, 4"):
        CONSTRUCTORS["ScalingExplorer"](d_k=d_k)
    assert CONSTRUCTORS["ScalingExplorer"](d_k=np.int64(64)).value("d_k") == 64  # NumPy's int is an int


def test_losses_on_the_meta_device_name_the_history():
    """Before: "Could not update the figures (ValueError: losses must hold numbers, got
    tensor(..., device='meta'…) at losses[0])", naming no history and no fix."""
    curve = widgets.LiveLossCurve(total_steps=100)
    curve.update(History(steps=[1, 2], losses=[2.0, 1.0]))
    before = shown(curve)
    meta = [torch.tensor(2.0, device="meta"), torch.tensor(1.0, device="meta")]
    curve.update(History(steps=[1, 2], losses=meta))
    message = text_of(curve)
    assert is_error(curve) and "history.losses must hold plain numbers" in message, message
    assert "meta device holds no value" in message and "loss.item()" not in message
    assert shown(curve) == before
    curve.update(History(steps=[1, 2], losses=[2.0, 1.0], evals={"held-out": [(2, meta[0])]}))
    assert is_error(curve) and "history.evals['held-out'] must be a list" in text_of(curve)
    curve.update(History(steps=[1, 2, 3], losses=[2.0, 1.0, 0.5]))
    assert not is_error(curve) and shown(curve) != before


def test_a_text_argument_of_every_hostile_kind_is_a_message_not_a_traceback():
    """Each explorer's text argument set to each of the fourth round's texts at construction."""
    for name, (arg, _box) in TEXT_ARGS.items():
        for text in TEXTS[:8]:
            assert_clean_start(_rebuild(name, **{arg: text}), f"{name}({arg}={text!r:.20})")


# --- a narrower range keeps the learner's pick --------------------------------------------------


def _away_and_back(explorer, name, away):
    """Control ``name`` to ``away`` and back → (page, control values) before and after."""
    before = (page(explorer), {n: c.value for n, c in explorer.controls.items()})
    first = explorer.value(name)
    put(explorer.controls[name], away)
    assert not is_error(explorer), text_of(explorer)
    put(explorer.controls[name], first)
    return before, (page(explorer), {n: c.value for n, c in explorer.controls.items()})


NARROWED = [
    # (explorer, the pick, the control that narrows its range, a value that does)
    ("02 positional", ("pair", 5), "d_model", 4),
    ("03 qkv", ("query", 4), "text", "x" * 10_000),
    ("06 masks", ("sentence", 2), "sentences", "the cat sat\nI love pizza"),
]


@pytest.mark.parametrize("name, pick, control, narrow", NARROWED)
def test_a_control_moved_away_and_back_gives_the_learners_pick_back(name, pick, control, narrow):
    """Before: d_model 32 → 4 → 32 left 'wave pair i' at 1 (the 4-wide encoding's last pair),
    not the 5 the learner chose, and drew another figure than before; a one-word sentence left
    chapter 03's query at 0, one line fewer chapter 06's sentence at 1."""
    explorer = build(name)
    put(explorer.controls[pick[0]], pick[1])
    before, after = _away_and_back(explorer, control, narrow)
    assert after == before and explorer.value(pick[0]) == pick[1]


def test_a_pick_made_while_the_range_is_narrow_is_kept():
    explorer = build("02 positional")
    put(explorer.controls["pair"], 5)
    put(explorer.controls["d_model"], 4)
    assert explorer.value("pair") == 1  # the last pair of 4 dims
    put(explorer.controls["pair"], 0)  # the learner's new pick
    put(explorer.controls["d_model"], 32)
    assert explorer.value("pair") == 0 and not is_error(explorer)
    fresh = build("02 positional")
    restore(fresh, {"pair": 0})
    assert page(explorer) == page(fresh)


def test_a_layer_picked_in_a_deeper_stack_comes_back_with_it():
    """Chapter 07's explorer over a model of 4 encoder layers and 1 decoder layer: the decoder's
    attention kinds narrow 'layer' to 0; the encoder's gives layer 3 back."""
    config = TransformerConfig(
        vocab_size=len(VOCAB), d_model=16, num_heads=2, num_encoder_layers=4, num_decoder_layers=1,
        d_ff=32, dropout=0.0, max_len=32,
    )  # fmt: skip
    torch.manual_seed(0)
    explorer = widgets.ModelExplorer(Transformer(config), VOCAB)
    put(explorer.controls["kind"], "encoder_self")
    put(explorer.controls["layer"], 3)
    other = next(v for v in _options(explorer.controls["kind"]) if v != "encoder_self")
    before, after = _away_and_back(explorer, "kind", other)
    assert after == before and explorer.value("layer") == 3


def test_the_token_looked_at_comes_back_with_the_longer_story():
    """Before: a seed whose story ended after one token moved 'look at new token' to 1, and the
    first seed's story of 8 tokens came back with token 1 in view, not the 8th."""
    torch.manual_seed(0)
    explorer = widgets.StoryExplorer(story_model(), STORY_VOCAB, generator=GENERATOR, max_new_tokens=8)
    assert len(explorer.generation.steps) == 8
    put(explorer.controls["step"], 8)
    put(explorer.controls["seed"], 1)
    assert len(explorer.generation.steps) == 1 and explorer.value("step") == 1  # a one-token story
    put(explorer.controls["seed"], 0)
    assert explorer.value("step") == 8 and "New token 8 of 8" in text_of(explorer)


def test_fit_slider_takes_an_int_slider_and_a_reachable_max():
    explorer = build("02 positional")
    with pytest.raises(ValueError, match=r"controls\['kind'\] must be a IntSlider"):
        explorer.fit_slider("kind", 3)
    for high in (-1, 2.5, "3", None):  # below the slider's min 0, or no int
        with pytest.raises(ValueError, match="high must be an int >= 0"):
            explorer.fit_slider("pair", high)
    with pytest.raises(KeyError, match="no control named 'nope'"):
        explorer.pick("nope")


def test_the_step_looked_at_comes_back_with_the_longer_answer():
    """Chapter 08's explorer, sampling hot: seed 4 stops after 2 steps, seed 0 writes 6. Before,
    step 6 became 2 and stayed there once seed 0 was back."""
    torch.manual_seed(0)
    explorer = widgets.GenerationExplorer(reverse_model(), TASK, text="3 1 4 1 5")
    restore(explorer, {"strategy": "sample", "temperature": 3.0, "seed": 0})
    assert len(explorer.generation.steps) == 6
    put(explorer.controls["step"], 6)
    before, after = _away_and_back(explorer, "seed", 4)
    assert after == before and explorer.value("step") == 6
