"""Hostile input for every explorer: each control set to what a learner (or a learner's code)
can put there. No exception may reach the caller, a problem becomes a readable message that
names it, the last good figures stay, and the figures update again once the value is good.
"""

import html
import random
import re

import ipywidgets as w
import plotly.graph_objects as go
import pytest
import torch
from traitlets import TraitError
from transformer_course import stories
from transformer_course.attention import MultiHeadAttention, SingleHeadAttention
from transformer_course.data import sequence_task
from transformer_course.embeddings import TokenEmbedding
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
from transformer_course.tokenizer import course_vocab
from transformer_course.training import History
from transformer_course.widgets import (
    AttentionHistoryExplorer,
    EmbeddingExplorer,
    GenerationExplorer,
    HeadGridExplorer,
    LiveLossCurve,
    MaskExplorer,
    ModelExplorer,
    PathLengthExplorer,
    PositionalExplorer,
    QKVExplorer,
    RepeatedProductExplorer,
    ScalingExplorer,
    StoryExplorer,
    WordOrderExplorer,
    figure_json,
)
from transformer_course.widgets.kit import (
    MAX_LABEL,
    MAX_MESSAGE,
    Explorer,
    control_problem,
    quote_list,
    shown_word,
)

VOCAB = course_vocab()
STORY_VOCAB = stories.story_vocab()
GENERATOR = stories.StoryGenerator()
TASK = sequence_task("reverse", num_symbols=6, min_len=2, max_len=5, num_train=50, num_test=10)

LONG_WORD = "x" * 5000
TEXTS = [
    "",
    "   ",
    "\n\t",
    LONG_WORD,
    "word " * 1000,
    "the " * 70,  # longer than every explorer's limit and than the story model's max_len
    "🍕🐱 pizza 🍕",
    "مرحبا بالعالم",
    "e\u0301\u0301 cafe\u0301",
    "\u200b\u200b",
    "tell\u200bme\u202eabout",
    "qwzx flurb glorp",
    "!!! ??? ...",
    "<b>bold</b> &amp;",
    "<bos> <eos> <pad> <unk>",
    "3 1 4 1 5",
]
NUMBERS = [0, -1, 10**6, -(10**6), 2**63, -(2**63), 0.5, float("nan"), float("inf"), float("-inf"), True]


def small_transformer():
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(VOCAB), d_model=32, num_heads=4, num_encoder_layers=2, num_decoder_layers=3,
        d_ff=64, dropout=0.1, max_len=64,
    )  # fmt: skip
    return Transformer(config)


def reverse_model():
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(TASK.vocab), d_model=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=1,
        d_ff=32, dropout=0.0, max_len=16,
    )  # fmt: skip
    return Transformer(config).eval()


def story_model():
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(STORY_VOCAB), d_model=32, num_heads=2, num_decoder_layers=2, d_ff=64,
        max_len=GENERATOR.max_tokens(), dropout=0.0, norm_first=True, positional="learned",
    )  # fmt: skip
    return DecoderOnlyTransformer(config).eval()


def history_explorer():
    """Two made-up training steps of two sentences: enough for every control."""
    g = torch.Generator().manual_seed(0)
    sentences = [["the", "dog", "saw", "it", "run"], ["a", "cat", "and", "it", "sat"]]
    snaps = {
        step: {
            "pointer": torch.rand(2, 5, generator=g).softmax(-1),
            "encoder": torch.rand(2, 2, 5, 5, generator=g).softmax(-1),
            "wins": 0.5 + step / 100,
            "predicate": torch.rand(2, generator=g),
        }
        for step in (0, 10)
    }
    return AttentionHistoryExplorer(snaps, sentences, [3, 3], [1, 1], [0, 0])


def live_curve():
    curve = LiveLossCurve(total_steps=100)
    curve.update(History(steps=list(range(1, 31)), losses=[3.0 / (1 + 0.2 * s) for s in range(30)]))
    return curve


# Every explorer, built as its chapter builds it (small models, the chapter's arguments).
EXPLORERS = {
    "RepeatedProductExplorer": lambda: RepeatedProductExplorer(factor=0.9, steps=50),
    "PathLengthExplorer": lambda: PathLengthExplorer(length=20, scale=1.0),
    "EmbeddingExplorer": lambda: EmbeddingExplorer(
        VOCAB, TokenEmbedding(len(VOCAB), 8), text="the cat saw the dog"
    ),
    "WordOrderExplorer": lambda: WordOrderExplorer(
        VOCAB, TokenEmbedding(len(VOCAB), 16, scale=False), MultiHeadAttention(16, 2)
    ),
    "PositionalExplorer": lambda: PositionalExplorer(length=24, d_model=32),
    "QKVExplorer": lambda: QKVExplorer(
        VOCAB, TokenEmbedding(len(VOCAB), 8, scale=False), SingleHeadAttention(8, 4)
    ),
    "ScalingExplorer": lambda: ScalingExplorer(VOCAB, TokenEmbedding(len(VOCAB), 32, scale=False)),
    "HeadGridExplorer": lambda: HeadGridExplorer(
        VOCAB, TokenEmbedding(len(VOCAB), 32, scale=False), MultiHeadAttention(32, 8)
    ),
    "MaskExplorer": lambda: MaskExplorer(
        VOCAB, TokenEmbedding(len(VOCAB), 16, scale=False), SingleHeadAttention(16)
    ),
    "ModelExplorer": lambda: ModelExplorer(small_transformer(), VOCAB),
    "LiveLossCurve": live_curve,
    "AttentionHistoryExplorer": history_explorer,
    "GenerationExplorer": lambda: GenerationExplorer(reverse_model(), TASK, text="3 1 4 1 5"),
    "StoryExplorer": lambda: StoryExplorer(story_model(), STORY_VOCAB, generator=GENERATOR, max_new_tokens=8),
}


def shown(explorer) -> dict[str, str]:
    """Every view's content: figures as JSON, HTML views as their markup."""
    out = {}
    for name, view in explorer.views.items():
        out[name] = view.value if isinstance(view, w.HTML) else explorer.figures[name].to_json()
    return out


def text_of(explorer) -> str:
    """The message line as a learner reads it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", explorer.message.value))


def is_error(explorer) -> bool:
    return "⚠" in explorer.message.value


def assert_healthy(explorer):
    """Figures that plotly.js can draw, and a message a learner can read."""
    for name, fig in explorer.figures.items():
        assert isinstance(fig, go.Figure), name
        figure_json(fig)
        margin = fig.layout.margin
        assert (margin.l or 0) < 400 and (margin.b or 0) < 400, (name, margin)
        for axis in (fig.layout.xaxis, fig.layout.yaxis):
            assert all(len(str(t)) <= MAX_LABEL for t in axis.ticktext or ()), (name, axis.ticktext)
    message = text_of(explorer)
    assert len(message) <= MAX_MESSAGE + 2, message[:200]
    assert "Could not update" not in message, message  # every problem found here has its own words
    assert "\u200b" not in message and "\u202e" not in message  # invisible characters spelled out


def hostile_values(control) -> list:
    if isinstance(control, w.Text | w.Textarea):
        return TEXTS
    if isinstance(control, w.SelectMultiple):
        values = [v for _, v in control.options]
        return [(), (values[-1],), tuple(values)]
    if hasattr(control, "options"):
        values = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return [*values, None]
    if isinstance(control, w.Checkbox):
        return [True, False]
    return NUMBERS


def set_value(control, value) -> bool:
    """Set ``control`` as code may; False where ipywidgets itself refuses the value."""
    try:
        control.value = value
    except TraitError:
        return False
    return True


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_every_control_survives_hostile_values_and_recovers(name):
    explorer = EXPLORERS[name]()
    assert not is_error(explorer), text_of(explorer)
    start, good = shown(explorer), {n: c.value for n, c in explorer.controls.items()}
    for control_name, control in explorer.controls.items():
        for value in hostile_values(control):
            set_value(control, value)  # any other exception fails the test: it would be a traceback
            assert_healthy(explorer)
            for n, v in good.items():
                explorer.controls[n].value = v
            assert not is_error(explorer), (control_name, value, text_of(explorer))
    explorer.refresh()
    assert shown(explorer) == start  # the good values draw the very same figures again


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_rapid_random_changes_end_where_the_good_values_draw(name):
    explorer = EXPLORERS[name]()
    start, good = shown(explorer), {n: c.value for n, c in explorer.controls.items()}
    rng = random.Random(0)
    controls = list(explorer.controls.items())
    for _ in range(30):
        control_name, control = rng.choice(controls)
        set_value(control, rng.choice(hostile_values(control)))
        assert_healthy(explorer)
    for n, v in good.items():
        explorer.controls[n].value = v
    explorer.refresh()
    assert not is_error(explorer) and shown(explorer) == start


# --- a list with nothing picked ---

NOTHING_PICKED = [
    ("EmbeddingExplorer", "similarity", "Similarity", "dot"),
    ("PositionalExplorer", "kind", "encoding", "learned (untrained)"),
    ("QKVExplorer", "query", "Query token", 4),
    ("HeadGridExplorer", "head_a", "head A", 3),
    ("HeadGridExplorer", "head_b", "head B", 5),
    ("ModelExplorer", "kind", "attention", "encoder_self"),
    ("ModelExplorer", "head", "head", -1),
    ("AttentionHistoryExplorer", "sentence", "sentence", 1),
    ("GenerationExplorer", "strategy", "strategy", "sample"),
]


@pytest.mark.parametrize("name, control, label, other", NOTHING_PICKED)
def test_nothing_picked_is_a_message_naming_the_list(name, control, label, other):
    """Before: a TypeError/KeyError deep in render, shown as "Could not update the figures"."""
    explorer = EXPLORERS[name]()
    before = shown(explorer)
    explorer.controls[control].value = None
    message = text_of(explorer)
    assert is_error(explorer) and f"Nothing is picked in '{label}'" in message, message
    first = explorer.controls[control].options[0]
    assert f"'{first[0] if isinstance(first, tuple) else first}'" in message  # the choices are listed
    assert shown(explorer) == before  # the last good figures stay
    explorer.controls[control].value = other
    assert not is_error(explorer) and shown(explorer) != before  # and they follow the list again


def test_a_long_option_is_listed_readably():
    explorer = EXPLORERS["ModelExplorer"]()
    explorer.controls["kind"].value = None
    assert "'cross-attention (decoder → encoder)'" in text_of(explorer)


# --- NaN on a slider (ipywidgets clamps ±inf, not NaN) ---

NAN_SLIDERS = [
    ("RepeatedProductExplorer", "factor", "'factor' is nan", "between 0.5 and 1.5", 1.2),
    ("PathLengthExplorer", "scale", "'RNN scale' is nan", "between 0.5 and 3", 2.0),
    ("ScalingExplorer", "temperature", "'temperature' is nan", "between 0.1 and 10", 3.0),
    ("GenerationExplorer", "temperature", "'temperature' is nan", "between 0 and 3", 2.5),
    ("StoryExplorer", "temperature", "'temperature (0 = greedy)' is nan", "between 0 and 2", 0.0),
    ("StoryExplorer", "top_p", "'top-p (1 = all)' is nan", "between 0.05 and 1", 0.1),
]


@pytest.mark.parametrize("name, control, says, where, other", NAN_SLIDERS)
def test_nan_on_a_slider_is_a_message_naming_it(name, control, says, where, other):
    """Before: RepeatedProduct drew a curve of NaN with no word of warning; the others said
    "Could not update the figures (ValueError: ...)"."""
    explorer = EXPLORERS[name]()
    if name == "GenerationExplorer":
        explorer.controls["strategy"].value = "sample"  # greedy ignores the temperature
    before = shown(explorer)
    explorer.controls[control].value = float("nan")
    message = text_of(explorer)
    assert is_error(explorer) and says in message and where in message, message
    assert shown(explorer) == before
    explorer.controls[control].value = other
    assert not is_error(explorer) and shown(explorer) != before


def test_infinity_is_clamped_to_the_slider_end():
    explorer = EXPLORERS["RepeatedProductExplorer"]()
    explorer.controls["factor"].value = float("inf")
    assert explorer.value("factor") == 1.5 and "1.50 multiplied" in text_of(explorer)


# --- long and invisible words ---


@pytest.mark.parametrize(
    "name, box", [("EmbeddingExplorer", "text"), ("QKVExplorer", "text"), ("ModelExplorer", "source")]
)
def test_a_pasted_long_word_is_cut_in_labels_and_message(name, box):
    """Before: the 5,000-character word was printed whole in the message (5,000+ characters,
    three times in QKVExplorer's) and as a tick label with a 37,514 px left margin."""
    explorer = EXPLORERS[name]()
    before = shown(explorer)
    explorer.controls[box].value = f"tell me {LONG_WORD}"
    message = text_of(explorer)
    assert not is_error(explorer) and "'xxxxxxxxxxxxxxxxxxx…'" in message and len(message) < 400, message
    after = shown(explorer)
    assert after != before and LONG_WORD not in "".join(after.values())
    assert_healthy(explorer)
    explorer.controls[box].value = "tell me about pizza"
    assert "…" not in text_of(explorer) and shown(explorer) != after


def test_a_long_word_in_the_wrong_order_sentence_is_cut():
    explorer = EXPLORERS["WordOrderExplorer"]()
    explorer.controls["text_b"].value = f"pizza eats {LONG_WORD}"
    message = text_of(explorer)
    assert is_error(explorer) and "only in B: 'xxxxxxxxxxxxxxxxxxx…'" in message and len(message) < 300


def test_many_unknown_words_are_counted_not_all_listed():
    explorer = EXPLORERS["EmbeddingExplorer"]()
    explorer.controls["text"].value = " ".join(f"zz{i}" for i in range(12))
    assert "'zz7' and 4 more." in text_of(explorer) and "zz8" not in text_of(explorer)


def test_invisible_characters_are_spelled_out():
    """Before: a zero-width space was named as '' and a right-to-left override turned the rest
    of the message line around."""
    explorer = EXPLORERS["QKVExplorer"]()
    explorer.controls["text"].value = "tell\u200bme \u202eabout"
    message = text_of(explorer)
    assert r"'\u200b'" in message and r"'\u202e'" in message and "\u202e" not in message
    labels = [label for label, _ in explorer.controls["query"].options]
    assert labels[1] == r"1 · \u200b"
    ticks = explorer.figures["scores"].layout.xaxis.ticktext
    assert r"\u202e" in ticks and "\u202e" not in "".join(ticks)


def test_a_long_bad_symbol_is_cut_and_named():
    """Before: the task's own error listed the 5,000-character symbol in full."""
    explorer = EXPLORERS["GenerationExplorer"]()
    before = shown(explorer)
    explorer.controls["text"].value = f"1 2 {LONG_WORD} {LONG_WORD}"
    message = text_of(explorer)
    assert is_error(explorer) and "'xxxxxxxxxxxxxxxxxxx…'" in message and "0 1 2 3 4 5" in message
    assert message.count("'xxx") == 1 and len(message) < 300 and shown(explorer) == before
    explorer.controls["text"].value = "1 2 3"
    assert not is_error(explorer) and shown(explorer) != before


# --- LiveLossCurve.update ---


@pytest.mark.parametrize("bad", ["abc", 3, {"losses": [1.0]}])
def test_update_with_something_else_than_a_history_names_it(bad):
    """Before: "Could not update the figures (AttributeError: 'str' object has no attribute
    'smoothed')"."""
    curve = live_curve()
    before = shown(curve)
    curve.update(bad)
    message = text_of(curve)
    assert is_error(curve) and "training.History" in message and type(bad).__name__ in message
    assert shown(curve) == before
    curve.update(History(steps=[1, 2, 3], losses=[2.0, 1.0, 0.5]))
    assert not is_error(curve) and "step 3" in text_of(curve) and shown(curve) != before


def test_update_with_none_waits():
    curve = live_curve()
    curve.update(None)
    assert "Waiting" in text_of(curve) and not is_error(curve)


def test_a_diverged_loss_is_said_plainly():
    """Before: "loss 1590283743140088328307…(300 digits).0000" for a loss of 1e308."""
    curve = live_curve()
    curve.update(History(steps=[1, 2, 3], losses=[2.0, 1e308, float("nan")]))
    message = text_of(curve)
    assert "loss nan" in message and "diverged" in message and len(message) < 200
    assert_healthy(curve)
    curve.update(History(steps=[1, 2], losses=[1e12, 1e13]))
    assert "loss 1e+13" in text_of(curve)


# --- the kit's helpers ---


def test_shown_word():
    assert shown_word("pizza") == "pizza"
    assert shown_word("x" * 30) == "x" * (MAX_LABEL - 1) + "…"
    assert shown_word("a\u200bb\x00") == r"a\u200bb\x00"
    assert shown_word("e\u0301 🍕 مرحبا") == "e\u0301 🍕 مرحبا"  # what draws stays as typed


def test_quote_list():
    assert quote_list(["a", "b"]) == "'a', 'b'"
    assert quote_list([str(i) for i in range(10)], most=3) == "'0', '1', '2' and 7 more"


def test_control_problem():
    assert control_problem("x", w.FloatSlider(value=1.0, min=0.0, max=2.0)) is None
    nan = w.FloatSlider(value=1.0, min=0.0, max=2.0, description="scale")
    nan.value = float("nan")
    assert (
        control_problem("x", nan)
        == "'scale' is nan, which is not a number it can use: set it between 0 and 2."
    )
    log = w.FloatLogSlider(value=1.0, base=10, min=-1, max=1)
    log.value = float("nan")
    assert "between 0.1 and 10" in control_problem("t", log)  # the range, not the exponents
    picked = w.Dropdown(options=[("one", 1), ("two", 2)], value=None)
    assert control_problem("pick", picked) == "Nothing is picked in 'pick': choose one of 'one', 'two'."


def test_a_huge_message_is_cut():
    class Loud(Explorer):
        def __init__(self):
            super().__init__(controls={"n": w.IntSlider(value=1, min=0, max=3)}, views={})

        def render(self):
            self.note("y" * 10_000)
            return {}

    message = text_of(Loud())
    assert len(message) <= MAX_MESSAGE + 2 and message.endswith("…")
