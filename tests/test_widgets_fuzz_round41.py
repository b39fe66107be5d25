"""Round 41 of hostile input for the explorers: what the learner does to the model behind them.

The earlier rounds (test_widgets_fuzz*.py) set every control to hostile values and called the
public methods with bad ids; the explorers came out clean. Here the model changes under an
explorer already on the page, as it does in chapters 08 and 09:

- training that diverged leaves NaN in the weights: QKV, word order, the masks and the whole
  model drew blank (NaN) heatmaps with no word why, the others said "Could not update the
  figures (ValueError: vectors must be finite …)". Now one line names the module, its first bad
  weight and what to do, and the last good figures stay;
- a model trained on after the story explorer was shown: moving "look at new token" showed the
  story the old weights wrote beside the new weights' attention;
- a model converted with ``.double()``, ``.half()`` or ``.to(torch.bfloat16)``: the scaling
  explorer failed in its matmul, the head grid and the masks on the float32 positional encoding,
  bfloat16 in NumPy.

Then what earlier rounds left: the batch box names the line the learner sees (blank lines
counted), the kit's public methods refuse bad arguments by name (``to_device``, ``read``'s
``max_tokens``, ``attend``'s ``mask``, ``note``'s text, which escaped the control's observer as a
TypeError; ``token_table`` drew an id of 1.7 as 1, ``unknown_note`` listed a str letter by
letter), and a random walk of good values draws what a fresh explorer set to the same values
draws.
"""

import random
import re

import ipywidgets as w
import numpy as np
import pytest
import torch
from test_widgets_fuzz import EXPLORERS as ROUND_ONE
from test_widgets_fuzz import is_error, shown, text_of
from test_widgets_fuzz_fourth import EXPLORERS, other_value, put, restore, tracebacks
from transformer_course.widgets import Explorer, token_table, unknown_note
from transformer_course.widgets.kit import drawable, nonfinite_problem

# The explorers that run a learner's module (``MODULES``), as their chapters build them.
WITHOUT_MODULES = ("RepeatedProduct", "PathLength", "Positional", "LiveLossCurve", "AttentionHistory")
WITH_MODULES = [name for name in EXPLORERS if not name.startswith(WITHOUT_MODULES)]


def build(name):
    torch.manual_seed(0)  # two builds of one explorer draw the very same figures
    return EXPLORERS[name]()


def _modules(explorer) -> list[str]:
    """The attributes holding the learner's modules, the outermost last: a ModelExplorer's
    embedding is its model's own table."""
    have = [
        a
        for a in ("embedding", "attention", "model")
        if isinstance(getattr(explorer, a, None), torch.nn.Module)
    ]
    return ["model"] if "model" in have else have


def _last_weight(explorer) -> tuple[str, torch.nn.Parameter]:
    """The explorer's last module and its last weight: the first one a NaN reaches is checked
    for by name, not the first one of the model."""
    attr = _modules(explorer)[-1]
    name, param = list(getattr(explorer, attr).named_parameters())[-1]
    return f"{attr}.{name}", param


def _move_a_control(explorer) -> None:
    """Change one control to another good value, as a learner does after training."""
    name, control = next(
        (n, c) for n, c in explorer.controls.items() if not isinstance(c, w.Text | w.Textarea)
    )
    put(control, other_value(type(explorer).__name__, name, control, control.value))


# --- weights that went NaN -----------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("name", WITH_MODULES)
def test_a_diverged_model_is_named_and_the_last_good_figures_stay(name, bad):
    explorer = build(name)
    before, good = shown(explorer), {n: c.value for n, c in explorer.controls.items()}
    where, param = _last_weight(explorer)
    saved = param.detach().clone()
    with torch.no_grad():
        param.view(-1)[0] = bad
    _move_a_control(explorer)
    message = text_of(explorer)
    assert is_error(explorer) and "NaN or infinity" in message and where in message, message
    assert shown(explorer) == before and not tracebacks(explorer)
    with torch.no_grad():  # trained again: the same control values draw as before
        param.copy_(saved)
    restore(explorer, good)
    assert not is_error(explorer), text_of(explorer)
    assert shown(explorer) == before


def test_the_check_names_the_module_and_leaves_a_finite_one_alone():
    layer = torch.nn.Linear(2, 3)
    assert nonfinite_problem("attention", layer) is None
    assert nonfinite_problem("attention", "not a module") is None
    with torch.no_grad():  # finite, though their sum overflows float32
        layer.weight.fill_(3e38)
    assert nonfinite_problem("attention", layer) is None
    with torch.no_grad():
        layer.bias[1] = float("-inf")
    problem = nonfinite_problem("attention", layer)
    assert "attention's weights" in problem and "attention.bias" in problem and "weight," not in problem


# --- a model trained on under the story explorer ------------------------------------------------


def _story():
    return build("StoryExplorer (chapter 09)")


def test_the_step_slider_alone_looks_into_the_same_story():
    explorer = _story()
    written = explorer.generation
    explorer.controls["step"].value = 3
    assert explorer.generation is written and not is_error(explorer)


def test_a_story_is_written_again_once_the_model_trained_on():
    explorer = _story()
    written = explorer.generation
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # what an optimizer step does: every weight moved in place
        for p in explorer.model.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=g))
    explorer.controls["step"].value = 2
    assert explorer.generation is not written
    fresh = build("StoryExplorer (chapter 09)")
    fresh.model.load_state_dict(explorer.model.state_dict())
    fresh.controls["step"].value = 2
    assert shown(fresh) == shown(explorer) and text_of(fresh) == text_of(explorer)


# --- a model in another dtype --------------------------------------------------------------------

SENTENCE_EXPLORERS = [
    "EmbeddingExplorer",
    "WordOrderExplorer",
    "QKVExplorer",
    "ScalingExplorer",
    "HeadGridExplorer",
    "MaskExplorer",
]


def _converted(name, dtype):
    torch.manual_seed(0)
    explorer = ROUND_ONE[name]()
    for attr in _modules(explorer):
        getattr(explorer, attr).to(dtype)
    if "positions" in explorer.controls:  # the encoding is added too
        explorer.controls["positions"].value = True
    explorer.refresh()
    return explorer


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", SENTENCE_EXPLORERS)
def test_a_model_in_another_dtype_draws(name, dtype):
    explorer = _converted(name, dtype)
    assert not is_error(explorer), text_of(explorer)
    assert all(fig is not None for fig in explorer.figures.values())


def test_the_scaling_explorer_draws_a_double_embedding_as_its_float_one():
    """Its projections are its own, float32: the same vectors in float64 draw the same weights."""
    double, single = (
        _converted("ScalingExplorer", torch.float64),
        _converted("ScalingExplorer", torch.float32),
    )
    assert not is_error(double), text_of(double)
    assert shown(double) == shown(single) and text_of(double) == text_of(single)


def test_drawable_upcasts_only_half_precision():
    assert drawable(torch.ones(2, dtype=torch.bfloat16)).dtype == torch.float32
    assert drawable(torch.ones(2, dtype=torch.float16)).dtype == torch.float32
    assert drawable(torch.ones(2, dtype=torch.float64)).dtype == torch.float64
    assert drawable(torch.ones(2, dtype=torch.long)).dtype == torch.long


# --- the batch box names the line the learner sees -----------------------------------------------


@pytest.mark.parametrize(
    "text, line",
    [
        ("the cat sat\n\n\n" + "the " * 13, 4),
        ("\n   \nthe cat sat\n" + "the " * 13, 4),
        ("the cat sat\n" + "the " * 13, 2),
    ],
)
def test_a_long_sentence_of_the_batch_is_named_by_its_line(text, line):
    explorer = build("MaskExplorer")
    explorer.controls["sentences"].value = text
    assert is_error(explorer) and f"sentence on line {line} has 13 tokens" in text_of(explorer), text_of(
        explorer
    )


# --- public methods refuse bad arguments by name -------------------------------------------------


@pytest.mark.parametrize("bad", [[1, 2], None, 3, "ids"])
def test_to_device_takes_a_tensor(bad):
    with pytest.raises(ValueError, match="tensor must be a torch.Tensor"):
        build("EmbeddingExplorer").to_device(bad)


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"max_tokens": "5"}, "max_tokens"),
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": float("nan")}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 2.5}, "max_tokens"),
        ({"label": 3}, "label"),
        ({"why": torch.zeros(2)}, "why"),
    ],
)
def test_read_refuses_a_bad_argument_by_name(kwargs, named):
    explorer = build("EmbeddingExplorer")
    with pytest.raises(ValueError, match=f"^{named} must be"):
        explorer.read("the cat " * 10, **kwargs)
    assert explorer.read("the cat", max_tokens=2)[0] == ["the", "cat"]


@pytest.mark.parametrize("mask", ["causal", 1, True, [[True]], float("nan")])
def test_attend_takes_a_bool_mask_or_none(mask):
    explorer = build("MaskExplorer")
    ids = torch.tensor([[4, 5]])
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        explorer.attend(ids, mask)
    assert explorer.attend(ids, None)[1].shape == (1, 2, 2)


class _Notes(Explorer):
    """An explorer whose render writes a note that is no text."""

    def __init__(self):
        super().__init__({"n": w.IntSlider(value=1, min=0, max=5)}, {"html": "html"})

    def render(self):
        self.note(self.value("n") if self.value("n") > 1 else "fine")
        return {"html": f"<p>{self.value('n')}</p>"}


def test_a_note_that_is_no_text_is_a_message_not_an_escape():
    explorer = _Notes()
    assert not is_error(explorer)
    explorer.controls["n"].value = 3  # raised TypeError out of the observer before
    assert is_error(explorer) and "text must be a str" in text_of(explorer)
    assert explorer.views["html"].value == "<p>1</p>"
    explorer.controls["n"].value = 0
    assert not is_error(explorer) and explorer.views["html"].value == "<p>0</p>"


# --- a walk of good values draws what a fresh explorer draws -------------------------------------


def _good_values(explorer_name, name, control, start) -> list:
    if isinstance(control, w.Text | w.Textarea):
        return [start, other_value(explorer_name, name, control, start)]
    if isinstance(control, w.SelectMultiple):
        values = [v for _, v in control.options]
        return [tuple(values), (values[-1],), tuple(values[:2])]
    if hasattr(control, "options"):
        return [o[1] if isinstance(o, tuple) else o for o in control.options]
    if isinstance(control, w.Checkbox):
        return [True, False]
    if isinstance(control, w.FloatLogSlider):
        return [control.base**control.min, 1.0, control.base**control.max]
    if isinstance(control, w.FloatSlider):
        return [control.min, control.max, round(control.min + 3 * control.step, 10)]
    return sorted({control.min, control.max, control.min + control.step, control.value})


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_a_walk_of_good_values_draws_what_a_fresh_explorer_draws(name):
    """Nothing an update leaves behind (a clamped slider, a cache, the query list) shows in a
    later one: after 24 good values in a row, a fresh explorer set to the same values draws the
    same figures and the same line."""
    explorer = build(name)
    start = {n: c.value for n, c in explorer.controls.items()}
    rng = random.Random(f"round 41 {name}")
    for _ in range(24):
        control_name = rng.choice(list(explorer.controls))
        control = explorer.controls[control_name]
        put(control, rng.choice(_good_values(name, control_name, control, start[control_name])))
    if is_error(explorer):  # a good value of one box can be a bad partner of another
        return
    now = {n: c.value for n, c in explorer.controls.items()}
    fresh = build(name)
    restore(fresh, now)
    assert {n: c.value for n, c in fresh.controls.items()} == now
    assert shown(fresh) == shown(explorer) and text_of(fresh) == text_of(explorer)


# --- the kit's helpers take what they document --------------------------------------------------


@pytest.mark.parametrize(
    "ids, says",
    [
        (torch.tensor([1.7, 2.0]), "integer ids"),  # was drawn as 1 and 2
        ([1.7, 2], "integer ids"),
        ([True, 1], "integer ids"),
        (torch.zeros(2, 1, dtype=torch.long), "1-D"),
        ("xy", "got str"),
        (torch.tensor([1, 2, 3]), r"one id per token \(2\), got 3 ids"),
    ],
)
def test_token_table_takes_one_integer_id_per_token(ids, says):
    with pytest.raises(ValueError, match=f"^ids must.*{says}"):
        token_table(["a", "b"], ids)


@pytest.mark.parametrize("ids", [torch.tensor([3, 4]), [3, 4], np.array([3, 4]), (np.int64(3), 4)])
def test_token_table_shows_the_ids_it_is_given(ids):
    assert re.findall(r"<td[^>]*>(\d+)</td></tr>", token_table(["a", "b"], ids)) == ["3", "4"]


@pytest.mark.parametrize("unknown", ["quokka", None, [1]])
def test_unknown_note_takes_a_list_of_words(unknown):
    """A str was listed letter by letter: 'q', 'u', 'o', 'k', 'a'."""
    with pytest.raises(ValueError, match=r"^unknown(\[0\])? must be"):
        unknown_note(unknown)


def test_a_long_run_draws_at_most_a_few_thousand_steps_and_the_last_exactly():
    """Every redraw drew every step so far: 0.05 s at 1,000 steps, 3 s at 100,000, so a long run
    slowed with the square of its length. Past MAX_DRAWN, every k-th step is drawn, and the last."""
    from transformer_course.training import History
    from transformer_course.widgets import LiveLossCurve
    from transformer_course.widgets.loss_curve import MAX_DRAWN

    rng = random.Random(0)
    for n, drawn_all in ((MAX_DRAWN, True), (10 * MAX_DRAWN + 7, False)):
        history = History(steps=list(range(n)), losses=[1 + rng.random() for _ in range(n)])
        curve = LiveLossCurve(total_steps=2 * n, smoothing=10)
        curve.update(history)
        raw, smooth = curve.figures["loss"].data[:2]
        assert len(raw.x) == (n if drawn_all else len(raw.x)) and len(raw.x) <= MAX_DRAWN + 1
        assert raw.x[-1] == n - 1 and raw.y[-1] == history.losses[-1]
        assert smooth.y[-1] == pytest.approx(history.smoothed(10)[-1])
        assert list(raw.x) == sorted(raw.x)
