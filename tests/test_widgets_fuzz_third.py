"""Third round of hostile input for the explorers (audit of 2026-12-06): models with few positions,
histories and snapshots filled by hand, slider values a page cannot produce, and controls whose
move changes nothing without a word. Each test failed before its fix (the docstrings say how).
"""

import warnings

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from test_bad_inputs_explorers import _config, _history, _task, generation, history, model_explorer
from test_widgets_fuzz import EXPLORERS, assert_healthy, is_error, live_curve, shown, text_of
from transformer_course.model import DecoderOnlyTransformer, Transformer
from transformer_course.stories import story_vocab
from transformer_course.tokenizer import course_vocab
from transformer_course.training import History
from transformer_course.widgets import StoryExplorer
from transformer_course.widgets.generation import one_left_note
from transformer_course.widgets.kit import Explorer

V = course_vocab()


# --- a model that reads fewer positions than the explorer shows ---


def test_a_source_longer_than_the_model_reads_is_a_message():
    """Before: "Could not update the figures (ValueError: src has 7 positions (dimension 1) but
    config.max_len is 4)" for the default source of a model with max_len 4."""
    explorer = model_explorer(model=Transformer(_config(len(V), max_len=4)))
    message = text_of(explorer)
    assert is_error(explorer) and "Could not update" not in message, message
    assert "The source has 7 tokens; the model reads at most 4 positions" in message
    explorer.controls["source"].value = "the cat sat"
    explorer.controls["target"].value = "a b c d"
    message = text_of(explorer)
    assert "The target has 4 tokens" in message and "<bos> before the target: at most 3" in message
    explorer.controls["target"].value = "it was"
    assert not is_error(explorer) and explorer.figures["attention"] is not None
    assert_healthy(explorer)


def test_a_model_explorer_needs_room_for_bos_and_a_target_token():
    """Before: accepted, then every target was "too long" for a limit of 0 tokens."""
    with pytest.raises(ValueError, match=r"model must read at least 2 positions.*max_len 1"):
        model_explorer(model=Transformer(_config(len(V), max_len=1)))


@pytest.mark.parametrize("max_len", [1, 2])
def test_a_generation_model_shorter_than_the_task_rows_is_refused_by_name(max_len):
    """Before: max_len 1 raised traitlets' "setting max < min" from the step slider; max_len 2 drew
    "Could not update the figures (ValueError: src has 5 positions … but config.max_len is 2)"."""
    model = Transformer(_config(len(_task().vocab), max_len=max_len))
    with pytest.raises(ValueError, match=r"^model must read the task's longest rows \(8 symbols\)"):
        generation(model=model)


def test_an_empty_source_box_says_so():
    """Before: "symbols must hold at least one symbol", the task's words for its own argument."""
    explorer = EXPLORERS["GenerationExplorer"]()
    before = shown(explorer)
    for empty in ("", "   ", "\n\t"):
        explorer.controls["text"].value = empty
        assert text_of(explorer).startswith("⚠ The source box is empty: type at least one symbol"), text_of(
            explorer
        )
        assert shown(explorer) == before
    explorer.controls["text"].value = "1 2 3"
    assert not is_error(explorer) and shown(explorer) != before


def _story_model(max_len):
    return DecoderOnlyTransformer(_config(len(story_vocab()), max_len=max_len, positional="learned")).eval()


def test_a_story_model_needs_room_for_bos_a_word_and_a_new_token():
    """Before: accepted, then every prompt "has 21 tokens; this explorer shows at most 0"."""
    with pytest.raises(ValueError, match=r"model must read at least 3 positions.*max_len 2"):
        StoryExplorer(_story_model(2), story_vocab())


def test_a_prompt_longer_than_the_model_reads_names_the_model_limit():
    """Before: "The prompt has 21 tokens; this explorer shows at most 6", as if the explorer,
    not the model's positions, set the limit."""
    explorer = StoryExplorer(_story_model(8), story_vocab(), max_new_tokens=4)
    message = text_of(explorer)
    assert "the model reads at most 8 positions: <bos>, at most 6 of the prompt" in message, message
    explorer.controls["text"].value = "lily and tom were in the park"  # 7 tokens, still one too many
    assert "The prompt has 7 tokens" in text_of(explorer)
    explorer.controls["text"].value = "lily and tom"
    assert not is_error(explorer) and explorer.figures["distribution"] is not None


# --- LiveLossCurve.update with a History changed by hand after it was made ---


def _history_with(**fields):
    h = History(steps=[1, 2], losses=[1.0, 0.5])
    for name, value in fields.items():
        setattr(h, name, value)  # History checks its fields when made, not afterwards
    return h


HAND_MADE = [
    (
        _history_with(evals=None),
        "history.evals must be a dict name → list of (step, loss) pairs, got NoneType.",
    ),
    (_history_with(evals=[1]), "history.evals must be a dict name → list of (step, loss) pairs, got list."),
    (_history_with(evals={"held-out": [(float("nan"), 1.0)]}), "history.evals['held-out'] must be a list of"),
    (
        _history_with(losses=np.array([1.0, 0.5])),
        "history.losses must be a list with one number per step, got ndarray.",
    ),
    (_history_with(steps=None), "history.steps must be a list with one number per step, got NoneType."),
    (_history_with(losses="ab"), "history.losses must be a list with one number per step, got str."),
]


@pytest.mark.parametrize("history_, says", HAND_MADE)
def test_a_history_changed_by_hand_is_named(history_, says):
    """Before: "Could not update the figures (AttributeError: 'NoneType' object has no attribute
    'get')", "(ValueError: The truth value of an array … is ambiguous)", "(TypeError: object of
    type 'NoneType' has no len())", or the figure's own words for a NaN held-out step."""
    curve = live_curve()
    before = shown(curve)
    curve.update(history_)
    message = text_of(curve)
    assert is_error(curve) and says in message and "Could not update" not in message, message
    assert shown(curve) == before
    curve.update(History(steps=[1, 2, 3], losses=[2.0, 1.0, 0.5]))
    assert not is_error(curve) and shown(curve) != before


def test_a_window_wider_than_the_steps_so_far_says_why_the_curve_stays():
    """Before: with 30 steps, moving 'mean over' from 100 to 50 changed neither the curve nor the
    line under the controls ("mean of the last 30 steps" both times)."""
    curve = live_curve()  # 30 steps
    curve.controls["smoothing"].value = 100
    said, before = text_of(curve), shown(curve)
    assert "mean of all 30 steps so far, fewer than the 100 asked for" in said, said
    curve.controls["smoothing"].value = 50
    assert shown(curve) == before and "fewer than the 50 asked for" in text_of(curve)
    curve.controls["smoothing"].value = 10
    assert "mean of the last 10 steps" in text_of(curve) and "asked for" not in text_of(curve)
    assert shown(curve) != before


# --- AttentionHistoryExplorer's snapshots ---


def _snapshot(**changes):
    return {0: {**_history()[0][0], **changes}}


BAD_SNAPSHOTS = [
    (
        "a step that is a str",
        lambda: {0: _history()[0][0], "late": _history()[0][0]},
        "every step of snapshots must be an int >= 0, got 'late'",
    ),
    (
        "a NaN step",
        lambda: {0: _history()[0][0], float("nan"): _history()[0][0]},
        "every step of snapshots must be an int >= 0, got nan",
    ),
    (
        "wins a str",
        lambda: _snapshot(wins="most"),
        r"snapshots\[0\]\['wins'\] must be a finite number in \[0, 1\]",
    ),
    (
        "wins above 1",
        lambda: _snapshot(wins=3.0),
        r"snapshots\[0\]\['wins'\] must be a finite number in \[0, 1\]",
    ),
    ("encoder None", lambda: _snapshot(encoder=None), r"snapshots\[0\]\['encoder'\] must be a torch.Tensor"),
    (
        "encoder cut",
        lambda: _snapshot(encoder=_history()[0][0]["encoder"][:, :, :2, :2]),
        r"snapshots\[0\]\['encoder'\] must be \(n, h, L, L\)",
    ),
    (
        "predicate None",
        lambda: _snapshot(predicate=None),
        r"snapshots\[0\]\['predicate'\] must be a tensor of one share per head",
    ),
    (
        "predicate of other heads",
        lambda: _snapshot(predicate=torch.rand(7)),
        r"one share per head, \(2,\), got \(7,\)",
    ),
    (
        "pointer NaN",
        lambda: _snapshot(pointer=_history()[0][0]["pointer"] * float("nan")),
        r"snapshots\[0\]\['pointer'\] must be finite",
    ),
    (
        "pointer a list",
        lambda: _snapshot(pointer=[[0.5] * 11] * 2),
        r"snapshots\[0\]\['pointer'\] must be a torch.Tensor",
    ),
]


@pytest.mark.parametrize("label, snapshots, says", BAD_SNAPSHOTS, ids=[c[0] for c in BAD_SNAPSHOTS])
def test_a_bad_snapshot_is_refused_by_name(label, snapshots, says):
    """Before: a str step raised TypeError ('<' not supported) from sorting; the others were
    accepted and drew "Could not update the figures (…)" (a NaN step, wins a str, the encoder
    cut or None, the predicate None, a NaN pointer), or, for 7 shares of 2 heads, named 7 heads
    in the line under the controls; a list as the pointer was "at most the 0 sentences"."""
    with pytest.raises(ValueError, match=says):
        history(snapshots=snapshots())


def test_a_snapshot_with_gradients_draws_without_a_warning():
    """Before: PyTorch's "Converting a tensor with requires_grad=True to a scalar" UserWarning on
    stderr from the line under the controls (PyTorch gives it once a process: the explorer's
    snapshots are checked too, which kept the tensors as given)."""
    snap = _history()[0][0]
    needy = {k: v.clone().requires_grad_(True) if isinstance(v, torch.Tensor) else v for k, v in snap.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explorer = history(snapshots={0: needy, 5: snap})
        assert not is_error(explorer) and "Step 0:" in text_of(explorer), text_of(explorer)
        explorer.controls["step"].value = 5
        explorer.controls["step"].value = 0
    assert not is_error(explorer) and "Step 0:" in text_of(explorer)
    kept = explorer.snapshots[0]
    assert not any(kept[k].requires_grad for k in ("pointer", "encoder", "predicate"))


def test_a_long_word_of_a_history_sentence_is_cut():
    """Before: the line under the controls quoted the 5,000-character word twice, whole, and the
    sentence list showed " …" for its name."""
    sentences = _history()[1]
    long = [["x" * 5000] * len(sentences[0]), sentences[1]]
    explorer = history(sentences=long)
    message = text_of(explorer)
    assert "'xxxxxxxxxxxxxxxxxxx…' (the referent)" in message and len(message) < 600, message
    assert explorer.controls["sentence"].options[0][0].startswith("xxxxxxxxxxxxxxxxxxx…")
    assert_healthy(explorer)


# --- knobs that leave one token: the seed moves nothing, and the line says why ---


def test_story_top_p_that_leaves_one_token_says_the_seed_changes_nothing():
    """Before: at top-p 0.05 (or T = 1e-06) every seed drew the same story and nothing said why."""
    explorer = EXPLORERS["StoryExplorer"]()
    explorer.controls["top_p"].value = 0.05
    message = text_of(explorer)
    assert "Top-p 0.05 left only the likeliest token at every step, so the seed changes nothing" in message
    explorer.controls["top_p"].value = 1.0
    explorer.controls["temperature"].value = 1e-6
    assert "Temperature 1e-06 left only the likeliest token" in text_of(explorer)
    explorer.controls["temperature"].value = 1.0
    assert "left only" not in text_of(explorer)


def test_generation_tiny_temperature_says_the_seed_changes_nothing():
    explorer = EXPLORERS["GenerationExplorer"]()
    explorer.controls["strategy"].value = "sample"
    explorer.controls["temperature"].value = 1e-6
    assert "Temperature 1e-06 left only the likeliest token at every step" in text_of(explorer)
    explorer.controls["temperature"].value = 1.0
    assert "left only" not in text_of(explorer) and not is_error(explorer)


def test_the_one_token_note_blames_only_the_knobs_that_cut_the_distribution():
    """Top-k above 1 keeps several tokens: a model that sure at temperature 1 is itself the cause
    (it used to say "Top-k 5 left only the likeliest token")."""
    assert one_left_note(1.0, 1.0).startswith("The model's own distribution (it is that sure) left only")
    assert one_left_note(0.5, 0.2).startswith("Temperature 0.5 and top-p 0.2 left only")
    assert one_left_note(0.5, 0.2).endswith("raise the temperature or top-p to draw.")
    assert one_left_note(2.0, 0.05).startswith("Top-p 0.05 left only")


# --- what render returns, checked before the page is touched ---


class _Returns(Explorer):
    """An explorer whose render returns ``out``: a figure view "plot", an HTML view "table"."""

    def __init__(self, out):
        self.out = out
        super().__init__(
            controls={"n": w.IntSlider(value=1, min=0, max=3)}, views={"plot": "figure", "table": "html"}
        )

    def render(self):
        return self.out


@pytest.mark.parametrize(
    "out, got",
    [
        ({"plot": "<b>a table</b>"}, "got 'plot': str"),
        ({"table": 3}, "got 'table': int"),
        ({"chart": go.Figure()}, "got 'chart': Figure"),
        (None, "got None: NoneType"),
    ],
)
def test_what_render_returns_wrong_is_a_message_not_a_traceback(out, got):
    """Before: the exception escaped from the constructor (and from every control's change):
    plotly's ValueError for a str as a figure, a TraitError for an int as HTML, a KeyError for a
    view the explorer does not have, an AttributeError for None."""
    explorer = _Returns(out)
    message = text_of(explorer)
    assert is_error(explorer) and "render() must return a dict view name (plot, table)" in message
    assert got in message, message
    explorer.out = {"plot": go.Figure(go.Bar(y=[1, 2])), "table": "<p>ok</p>"}
    explorer.controls["n"].value = 2
    assert not is_error(explorer) and explorer.views["table"].value == "<p>ok</p>"
    assert explorer.figures["plot"] is not None
