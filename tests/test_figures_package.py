"""The figures package as a whole: one way of building, one palette, one theme, no side effects."""

import ast
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import plotly.subplots
import pytest
import torch
from _colour_vision import SIMULATIONS, distance
from transformer_course import figures
from transformer_course.cost import AttentionCost
from transformer_course.figures import palette, themes
from transformer_course.softmax import saturation_experiment

PACKAGE = Path(figures.__file__).parent
TOKENS = ["the", "pizza", "and", "the", "oven"]
COST = AttentionCost(
    [10, 20, 40], [1.0, 3.0, 9.0], [1.0, 2.0, 4.0], [400, 1600, 6400], [100, 200, 400], 1, 4, 1, "cpu"
)


def weights(*shape):
    return torch.softmax(torch.randn(*shape), -1)


# One call of every public figure function, with the options that add the most to it.
EXAMPLES = {
    "matrix_heatmap": lambda: figures.matrix_heatmap(torch.randn(3, 4), list("abc"), None),
    "attention_heatmap": lambda: figures.attention_heatmap(weights(5, 5), TOKENS),
    "scores_heatmap": lambda: figures.scores_heatmap(torch.randn(5, 5), TOKENS),
    "scores_row_heatmap": lambda: figures.scores_row_heatmap(torch.randn(5, 5), TOKENS, 2),
    "mask_heatmap": lambda: figures.mask_heatmap(torch.ones(5, 5, dtype=torch.bool).tril(), TOKENS),
    "embedding_heatmap": lambda: figures.embedding_heatmap(torch.randn(5, 8), TOKENS),
    "similarity_heatmap": lambda: figures.similarity_heatmap(torch.rand(5, 5), TOKENS),
    "positional_heatmap": lambda: figures.positional_heatmap(torch.randn(24, 32)),
    "head_difference_figure": lambda: figures.head_difference_figure(weights(5, 5), weights(5, 5), TOKENS),
    "generation_figure": lambda: figures.generation_figure(
        weights(3, 6), list("xyz"), list("abcdef"), [0, 4, 5]
    ),
    "qkv_figure": lambda: figures.qkv_figure(torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 2), TOKENS),
    "head_grid_figure": lambda: figures.head_grid_figure(weights(6, 5, 5), TOKENS, marks={1: "A"}),
    "waves_figure": lambda: figures.waves_figure(torch.randn(10, 8).clamp(-1, 1), [0, 1, 4]),
    "repeated_product_figure": lambda: figures.repeated_product_figure(0.9 ** torch.arange(20.0), 0.9),
    "gradient_distance_figure": lambda: figures.gradient_distance_figure(
        {"rnn": 0.5 ** torch.arange(10.0), "attention": torch.full((10,), 0.1)}
    ),
    "progress_curves_figure": lambda: figures.progress_curves_figure(
        [0, 10, 20], {"head 0": [0.1, 0.2, 0.2], "head 1": [0.1, 0.5, 0.9]}, current=10
    ),
    "head_jobs_figure": lambda: figures.head_jobs_figure(torch.rand(3, 3), ["previous", "next", "first"]),
    "depth_figure": lambda: figures.depth_figure({"a": torch.rand(4) + 0.1, "b": torch.rand(4) + 0.1}),
    "loss_curve_figure": lambda: figures.loss_curve_figure(
        [1, 2, 3], [3.0, 2.0, 1.5], smoothed=[3.0, 2.5, 2.0]
    ),
    "loss_comparison_figure": lambda: figures.loss_comparison_figure({"a": [2.0, 1.0], "b": [2.0, 0.5]}),
    "progress_curve_figure": lambda: figures.progress_curve_figure([0, 10, 20], [0.1, 0.5, 0.9], current=10),
    "saturation_figure": lambda: figures.saturation_figure(saturation_experiment((2, 8), rows=8), "entropy"),
    "attention_cost_figure": lambda: figures.attention_cost_figure(COST),
    "bar_figure": lambda: figures.bar_figure(torch.rand(5), TOKENS, colors=[palette.BLUE] * 5),
    "query_row_figure": lambda: figures.query_row_figure(torch.randn(5), TOKENS, "pizza"),
    "entropy_figure": lambda: figures.entropy_figure(torch.rand(5), TOKENS, 5),
    "pointer_figure": lambda: figures.pointer_figure(
        weights(6), list("abcdef"), referent=1, distractor=3, source=5
    ),
    "next_token_figure": lambda: figures.next_token_figure(weights(6), list("abcdef"), chosen=2),
    "likeliest_tokens_figure": lambda: figures.likeliest_tokens_figure(
        weights(6), list("abcdef"), chosen=2, true_probs=weights(6), top=4
    ),
}


def public_figure_functions() -> set[str]:
    return {
        name
        for name, obj in vars(figures).items()
        if inspect.isfunction(obj) and not name.startswith("_") and name != "figure"
    }


def test_every_public_figure_function_has_an_example():
    assert public_figure_functions() == set(EXAMPLES)


def test_every_public_name_of_the_modules_is_reexported():
    """Every module of the package, a new one included: a figure function that figures does not
    export is one no chapter can reach the way the others are."""
    names = [m.name for m in pkgutil.iter_modules(figures.__path__) if not m.name.startswith("_")]
    assert {"bars", "curves", "heatmaps", "panels", "matrix", "distributions"} <= set(names)
    for module in (importlib.import_module(f"{figures.__name__}.{name}") for name in names):
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_"):
                if name.endswith(("_heatmap", "_figure")):
                    assert getattr(figures, name) is obj and name in figures.__all__, name


def test_heatmap_parts_takes_the_options_of_matrix_heatmap():
    # heatmap_parts is matrix_heatmap unbuilt, for figures that draw over a matrix: same defaults.
    def options(fn):
        return [
            (p.name, p.default) for p in inspect.signature(fn).parameters.values() if p.kind == p.KEYWORD_ONLY
        ]

    assert options(figures.heatmaps.heatmap_parts) == [
        o for o in options(figures.matrix_heatmap) if o[0] != "title"
    ]


UPDATES = [
    "update_layout", "update_xaxes", "update_yaxes", "update_traces", "add_trace", "add_traces",
    "add_shape", "add_annotation", "add_hline", "add_vline", "for_each_trace",
]  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_figure_is_built_in_one_validated_pass(name, monkeypatch):
    built = []

    def refuse(*args, **kwargs):
        raise AssertionError("figures must be built in one figure() call, not updated afterwards")

    for method in UPDATES:
        monkeypatch.setattr(go.Figure, method, refuse)
    monkeypatch.setattr(plotly.subplots, "make_subplots", refuse)
    original_init = go.Figure.__init__

    def counting_init(self, *args, **kwargs):
        built.append(type(self))
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(go.Figure, "__init__", counting_init)
    fig = EXAMPLES[name]()
    assert built == [figures.CourseFigure]  # one figure, validated once
    assert isinstance(fig, go.Figure) and fig.layout.template == figures.LIGHT.template
    drawn = {trace.type for trace in fig.data}
    assert drawn <= set(themes.TRACE_TYPES), f"add {drawn - set(themes.TRACE_TYPES)} to themes.TRACE_TYPES"


def test_importing_figures_changes_nothing_in_plotly():
    code = (
        "import plotly.basedatatypes as b, plotly.io as pio\n"
        "before = (pio.templates.default, sorted(pio.templates), b._str_to_dict_path_full)\n"
        "import transformer_course.figures\n"
        "after = (pio.templates.default, sorted(pio.templates), b._str_to_dict_path_full)\n"
        "assert before == after, (before, after)\n"
        "print(after[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "plotly"  # plotly's own default, untouched


def test_figures_carry_the_course_template_whatever_plotlys_default(monkeypatch):
    monkeypatch.setattr(pio.templates, "default", "plotly_dark")
    fig = figures.loss_curve_figure([1, 2], [1.0, 0.5])
    assert fig.layout.template.layout.paper_bgcolor == "white"
    assert list(fig.layout.template.layout.colorway) == list(palette.COLORWAY)
    # A template of the figure's own still wins, as with any plotly figure.
    assert figures.figure([], template="plotly_dark").layout.template.layout.paper_bgcolor == "rgb(17,17,17)"


def test_the_theme_is_one_place_a_dark_theme_can_plug_into(monkeypatch):
    dark = themes.Theme(
        "dark",
        themes.course_template("plotly_dark"),
        ink="#f9fafb",
        muted="#9ca3af",
        blank="#1f2937",
        faint="rgba(86, 180, 233, 0.4)",
        bold="#56B4E9",
    )
    monkeypatch.setattr(themes, "theme", lambda: dark)
    rows = figures.scores_row_heatmap(torch.randn(3, 3), list("abc"), 1)
    assert rows.layout.template.layout.paper_bgcolor == "rgb(17,17,17)"
    assert rows.layout.shapes[0].line.color == dark.ink
    assert figures.repeated_product_figure(torch.ones(3), 1.0).layout.shapes[0].line.color == dark.muted
    assert (
        figures.mask_heatmap(torch.eye(2, dtype=torch.bool), ["a", "b"]).data[0].colorscale[0][1]
        == dark.blank
    )
    pointer = figures.pointer_figure(weights(3), list("abc"), source=2)
    assert pointer.data[0].marker.line.color[2] == dark.ink
    assert figures.loss_curve_figure([1, 2], [1.0, 0.5]).data[0].line.color == dark.faint
    assert figures.loss_curve_figure([1, 2], [1.0, 0.5], smoothed=[1.0, 0.75]).data[1].line.color == dark.bold


def _rgba(colour: str) -> tuple[float, float, float, float]:
    """ "#rrggbb", "rgb(r,g,b)", "rgba(r, g, b, a)" or "white" → (r, g, b, a), r g b in 0…255."""
    if colour == "white":  # plotly_white's paper
        return (255.0, 255.0, 255.0, 1.0)
    if colour.startswith("#"):
        return (*(int(colour[i : i + 2], 16) for i in (1, 3, 5)), 1.0)
    parts = [float(p) for p in re.findall(r"[\d.]+", colour)]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def _contrast_over(colour: str, background: str) -> float:
    """WCAG contrast of ``colour``, composited over the opaque ``background``, against it."""
    *top, a = _rgba(colour)
    back = _rgba(background)[:3]
    mixed = [t * a + b * (1 - a) for t, b in zip(top, back)]

    def luminance(rgb):
        lin = [(v / 255 / 12.92) if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(mixed), luminance(back)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_a_faint_line_shows_on_the_dark_page_at_least_as_well_as_on_the_light():
    # Each step's loss behind the running mean is see-through: the light page's colour on
    # JupyterLab Dark's #111111 mixed to near black (1.25:1 against 1.43:1 on white).
    light = _contrast_over(themes.LIGHT.faint, themes.LIGHT.template.layout.paper_bgcolor)
    dark = _contrast_over(themes.DARK.faint, themes.DARK.template.layout.paper_bgcolor)
    assert 1.3 < light and light <= dark  # seen
    # and still behind the running mean, drawn in the dark theme's bold colour (sky blue: the
    # loss blue, 3.6:1 on #111111, kept the faint line under 3:1 and all but invisible)
    bold = _contrast_over(themes.DARK.bold, themes.DARK.template.layout.paper_bgcolor)
    assert dark < bold


def test_a_heatmap_on_the_dark_page_grows_brighter_with_its_value():
    # Blues on #111111 drew every weight near 0 as a bright block and the largest as the
    # darkest cell. Dark: 0 is close to the page, and the contrast against it grows with
    # the value (RdBu: with the distance from zero, either way, in red or blue).
    paper = themes.DARK.template.layout.paper_bgcolor
    swap = themes.theme_swap()["colours"]

    def dark_contrasts(scale):
        assert all(c in swap for _, c in scale), "a colour of the scale has no dark counterpart"
        return [_contrast_over(swap[c], paper) for _, c in scale]

    blues = dark_contrasts(palette.SEQUENTIAL)
    assert blues == sorted(blues) and blues[0] < 1.6 and blues[-1] > 15
    rdbu = dark_contrasts(palette.DIVERGING)
    middle = len(rdbu) // 2
    falling, rising = rdbu[: middle + 1], rdbu[middle:]
    assert falling == sorted(falling, reverse=True) and rising == sorted(rising)
    # The ends saturated colours that stand out, not pale tints (the most negative score read
    # as a blank cell): 4.5:1 at the least (tests/test_figures_round41.py: their saturation).
    assert rdbu[middle] < 1.5 and min(rdbu[0], rdbu[-1]) > 4.5
    assert [swap[c] for _, c in palette.DIVERGING_REVERSED] == [swap[c] for _, c in palette.DIVERGING][::-1]
    # The light page keeps plotly's scales: the swap is only for the dark one.
    assert themes.theme().name == "light" and palette.SEQUENTIAL[0][1] == "rgb(247,251,255)"


def colours_in(obj, key=""):
    """Every colour string in a figure's JSON but its colour scales (plotly's named scales, resolved)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from colours_in(v, k)
    elif isinstance(obj, (list, tuple, np.ndarray)) and key != "colorscale":  # scales: see below
        for v in obj:
            yield from colours_in(v, key)
    elif isinstance(obj, str) and "color" in key.lower() and re.match(r"#|rgb", obj):
        yield obj


def palette_colours() -> set[str]:
    named = {v for k, v in vars(palette).items() if k.isupper() and isinstance(v, str)}
    light = figures.LIGHT
    return named | {light.ink, light.muted, light.blank, light.faint}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_colour_a_figure_draws_is_named(name):
    spec = EXAMPLES[name]().to_plotly_json()
    spec["layout"].pop("template")
    stray = set(colours_in(spec)) - palette_colours()
    assert not stray, f"{name} draws colours that are not in palette or the theme: {stray}"


def test_heatmaps_use_the_palettes_scales():
    blues = figures.attention_heatmap(weights(2, 2), ["a", "b"]).data[0].colorscale
    assert blues == figures.matrix_heatmap(torch.ones(1, 1), colorscale="Blues").data[0].colorscale
    rdbu = figures.scores_heatmap(torch.randn(2, 2), ["a", "b"]).data[0].colorscale
    assert rdbu == figures.matrix_heatmap(torch.ones(1, 1), colorscale=palette.DIVERGING).data[0].colorscale
    mask = figures.mask_heatmap(torch.eye(2, dtype=torch.bool), ["a", "b"]).data[0].colorscale
    assert [c for _, c in mask] == [figures.LIGHT.blank, palette.MASK_ALLOWED]


def test_no_colour_is_written_out_in_a_figure_function():
    for path in PACKAGE.glob("*.py"):
        if path.name in ("palette.py", "themes.py"):
            continue
        source = path.read_text(encoding="utf-8")
        assert not re.findall(r"[\"']#[0-9a-fA-F]{3,8}[\"']|rgba?\(", source), (
            f"{path.name} writes out a colour"
        )


# Two colours that must be told apart stay ≥ 20 apart in CIELAB (ΔE76) to every eye of
# tests/_colour_vision.py's SIMULATIONS (Machado, Oliveira & Fernandes 2009, shared with
# tests/test_palette_contrast.py).
MUST_DIFFER = {
    "referent / distractor": (palette.REFERENT_COLOUR, palette.DISTRACTOR_COLOUR),
    "referent / other": (palette.REFERENT_COLOUR, palette.OTHER_COLOUR),
    "distractor / other": (palette.DISTRACTOR_COLOUR, palette.OTHER_COLOUR),
    "chosen / the other tokens": (palette.CHOSEN_COLOUR, palette.LOSS_COLOUR),
    "positive / negative": (palette.POSITIVE_COLOUR, palette.NEGATIVE_COLOUR),
    "unscaled / scaled": (palette.UNSCALED_COLOUR, palette.SCALED_COLOUR),
    "weights stored / fused": (palette.EXPLICIT_COLOUR, palette.FUSED_COLOUR),
    "lines 1 / 2": palette.COLORWAY[0:2],
    "lines 1 / 3": palette.COLORWAY[0:3:2],
    "lines 2 / 3": palette.COLORWAY[1:3],
}


@pytest.mark.parametrize("vision", sorted(SIMULATIONS))
@pytest.mark.parametrize("pair", sorted(MUST_DIFFER))
def test_colours_that_mean_different_things_stay_apart_in_colour_blindness(pair, vision):
    a, b = MUST_DIFFER[pair]
    assert distance(a, b, vision) >= 20


def test_the_colour_blindness_check_can_fail():
    # The course's former referent green and distractor orange merge for a protanope.
    assert distance("#15803d", "#ea580c", "protanopia") < 20
    assert distance("#15803d", "#ea580c", "typical") > 100


def test_faded_keeps_the_colour_and_checks_its_arguments():
    assert palette.faded("#0072B2", 0.25) == "rgba(0, 114, 178, 0.25)"
    with pytest.raises(ValueError, match="colour"):
        palette.faded("blue", 0.5)
    with pytest.raises(ValueError, match="alpha"):
        palette.faded("#0072B2", 2)


MATHS = {"tokenizer", "embeddings", "positional", "attention", "softmax", "cost", "masks", "layers",
         "model", "data", "pointer", "training", "generation"}  # fmt: skip


def package_imports(source: str) -> set[str]:
    """Modules of transformer_course outside figures that a figures file imports, at any depth."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level >= 2:  # from .. import x / from ..x import y
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("transformer_course"):
            parts = node.module.split(".")
            found |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("transformer_course.")}
    return found


def test_no_figures_module_imports_a_maths_module():
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        assert package_imports(path.read_text(encoding="utf-8")) <= {"_validate", "figures"}, path.name


def test_the_import_check_sees_maths_imports():
    source = (
        "from .. import _validate\nfrom .base import figure\nfrom ..softmax import SaturationResult\n"
        "def f():\n    from transformer_course.cost import AttentionCost\n"
        "    import transformer_course.masks\n"
    )
    assert package_imports(source) == {"_validate", "softmax", "cost", "masks"}
    assert package_imports(source) & MATHS == {"softmax", "cost", "masks"}


def test_results_are_read_by_their_fields_not_their_class():
    result = saturation_experiment((2, 8), rows=8)
    lookalike = SimpleNamespace(**vars(result))
    assert figures.saturation_figure(lookalike).to_json() == figures.saturation_figure(result).to_json()
    with pytest.raises(ValueError, match=r"result must be a SaturationResult.*without.*scaled_entropy"):
        figures.saturation_figure(
            SimpleNamespace(**{k: v for k, v in vars(result).items() if k != "scaled_entropy"})
        )
