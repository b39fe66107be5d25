"""Round 41's figure fixes, checked without a browser (tests/browser/test_figures_round41.py
draws them).

1. The column-label rule (``columnStep`` and its helpers) was written out twice, in the live
   view (static/figure_view.js) and the export (static/export_theme.js): a fix made in one
   (the <pad> measured as a tag) had to be made again in the other. It lives once, in
   static/column_labels.js, and both load it.
3. Chapter 09's progress chart kept 320 px for eight names: at 354-400 px they took a row each,
   and the legend scrolled over the lines. The figure grows by the rows its names take at the
   narrowest page (``base.legend_rows``); the browser test draws it.
4. In the dark theme RdBu was mirrored within each half: chapter 03's most negative score was
   drawn in RdBu's palest tint (#fddbc7, saturation 0.2), a cell that read as "no value". Now
   the further from zero, the brighter and more coloured, and zero is a grey near the page.
5. The colour-blindness simulation was written out twice (tests/test_palette_contrast.py,
   tests/test_figures_package.py): one copy now, tests/_colour_vision.py.
"""

from __future__ import annotations

import colorsys
import fnmatch
import inspect
import re
import tomllib
from pathlib import Path

import _colour_vision
import pytest
import test_figures_package
import test_palette_contrast
import torch
from test_palette_contrast import contrast, on, rgb
from transformer_course import figures
from transformer_course.export.page import EXPORT_SCRIPTS
from transformer_course.figures import palette, themes, training_curves
from transformer_course.figures.base import LEGEND_ROW_PX, TITLE_ROOM, legend_rows
from transformer_course.widgets.view import STATIC, VIEW_SCRIPTS, view_js

ROOT = Path(__file__).resolve().parents[1]
SHARED = "column_labels.js"
LABEL_RULE = ("columnStep", "autoAngle", "drawnText", "labelWidths")


def declared(source: str) -> list[str]:
    """The names of the functions a script declares, each time it declares one."""
    return re.findall(r"^\s*(?:async\s+)?function\s+(\w+)\s*\(", source, re.M)


def test_declared_finds_functions_at_any_depth():
    source = "function a(x) {}\n  function b() {}\nasync function c() {}\nconst d = function () {};"
    assert declared(source) == ["a", "b", "c"]


@pytest.mark.parametrize("scripts", [VIEW_SCRIPTS, EXPORT_SCRIPTS], ids=["live view", "export"])
def test_no_function_is_written_out_twice_in_what_the_page_loads(scripts):
    names = [n for f in scripts for n in declared((STATIC / f).read_text(encoding="utf-8"))]
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not twice, f"{scripts} declare {twice} more than once: keep one copy in {SHARED}"


def test_the_label_rule_lives_in_one_file_both_load_before_their_own():
    shared = declared((STATIC / SHARED).read_text(encoding="utf-8"))
    assert set(LABEL_RULE) <= set(shared), f"{SHARED} declares {shared}"
    for own, scripts in (("figure_view.js", VIEW_SCRIPTS), ("export_theme.js", EXPORT_SCRIPTS)):
        assert SHARED in scripts and scripts.index(SHARED) < scripts.index(own), scripts
        mine = declared((STATIC / own).read_text(encoding="utf-8"))
        assert not set(LABEL_RULE) & set(mine), f"{own} keeps its own copy of {set(LABEL_RULE) & set(mine)}"
    module = view_js()
    assert all(module.count(f"function {name}(") == 1 for name in LABEL_RULE)


def test_the_shared_script_declares_no_page_wide_variable():
    """The export inlines it into a classic <script>: a top-level let/const is a page-wide binding."""
    source = (STATIC / SHARED).read_text(encoding="utf-8")
    assert not re.findall(r"^(?:let|const|var)\s", source, re.M)


def test_the_shared_script_is_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["transformer_course"]
    assert any(fnmatch.fnmatch(f"static/{SHARED}", p) for p in patterns), patterns


def test_an_exported_page_carries_the_label_rule_once():
    from nbconvert import HTMLExporter
    from transformer_course.export.page import theme_resources

    script = theme_resources(HTMLExporter(template_name="lab"))["tc_theme_js"]
    assert all(script.count(f"function {name}(") == 1 for name in LABEL_RULE), "label rule missing or twice"
    assert script.index("function columnStep(") < script.index("function thinTicks(")


# --- 3. a progress chart as tall as its names need ---

EIGHT = ["stories, a head per word", "stories, one head"] + [f"'{w}' → its referent" for w in "abcdef"]


def test_legend_rows_counts_as_plotly_lays_names_out():
    assert legend_rows(["a", "b"]) == 1  # side by side
    assert legend_rows(EIGHT) == 8  # the widest takes a row, and so does each
    assert legend_rows(EIGHT, width=1200) == 2  # five of the widest's width a row
    assert legend_rows([f"head {h}" for h in range(4)]) == 2
    assert legend_rows([]) == 0


@pytest.mark.parametrize("width", [0, -3, float("nan"), "354", None])
def test_legend_rows_names_a_bad_width(width):
    with pytest.raises(ValueError, match="width"):
        legend_rows(["a"], width=width)


def progress(names: list[str]):
    return figures.progress_curves_figure([0, 1], {n: [0.1, 0.2] for n in names})


def test_a_progress_chart_grows_by_the_rows_its_names_take():
    base = training_curves.PROGRESS_HEIGHT
    assert progress(["a", "b"]).layout.height == base  # as before: two rows fit
    assert progress([f"head {h}" for h in range(4)]).layout.height == base  # the explorer's quarter
    tall = progress(EIGHT)
    assert tall.layout.height == base + LEGEND_ROW_PX * (8 - training_curves.PROGRESS_ROWS)
    legend = tall.layout.legend
    assert (1 - legend.y) * tall.layout.height == pytest.approx(TITLE_ROOM), "still hung from under the title"


@pytest.mark.parametrize("count", [2, 5, 8, 12, 30, 60])
def test_half_a_progress_chart_holds_its_rows_of_names(count):
    """Plotly scrolls a legend taller than half the figure (over the plot, in a narrow page)."""
    names = [f"'word {i}' → its referent" for i in range(count)]
    assert progress(names).layout.height / 2 >= LEGEND_ROW_PX * legend_rows(names) + 10


# --- 4. the diverging scale on the dark page ---

DARK_PAGE = themes.DARK.template.layout.plot_bgcolor
SATURATED, STANDS_OUT, FADES = 0.6, 4.5, 1.5  # HSV saturation; contrast with the page


def saturation(colour: str) -> float:
    return colorsys.rgb_to_hsv(*(rgb(colour) / 255))[1]


def scale_at(scale, t: float) -> str:
    """The colour plotly draws at ``t`` (0…1) of a scale [[position, colour], …]: interpolated."""
    for (p0, c0), (p1, c1) in zip(scale, scale[1:]):
        if p0 <= t <= p1:
            share = (t - p0) / (p1 - p0) if p1 > p0 else 0.0
            mixed = rgb(c0) + (rgb(c1) - rgb(c0)) * share
            return "#" + "".join(f"{round(v):02x}" for v in mixed)
    raise ValueError(f"t must lie in 0…1, got {t}")


def dark_scale(fig) -> list:
    """The first heatmap's colour scale as the dark page draws it (theme_swap's colours)."""
    return [[p, on(themes.DARK, c)] for p, c in fig.data[0].colorscale]


def chapter_03_scores():
    """Scores as chapter 03 draws them, its most negative as far from zero as its most positive."""
    scores = torch.tensor([[2.5, -0.4, 0.0], [-3.0, 1.2, 0.3], [0.8, -1.5, 3.0]])
    return figures.scores_heatmap(scores, ["tell", "me", "pizza"], title="Scores Q·Kᵀ")


def test_the_scale_helpers_can_fail():
    assert saturation("#fddbc7") < SATURATED <= saturation("#f0603f")
    assert scale_at([[0, "#000000"], [1, "#ffffff"]], 0.5) == "#808080"
    with pytest.raises(ValueError):
        scale_at([[0, "#000000"], [1, "#ffffff"]], 1.5)


@pytest.mark.parametrize("end", ["most negative", "most positive"])
def test_on_the_dark_page_the_largest_scores_are_saturated_and_stand_out(end):
    fig = chapter_03_scores()
    z = fig.data[0].z
    value = min(min(row) for row in z) if end == "most negative" else max(max(row) for row in z)
    t = (value - fig.data[0].zmin) / (fig.data[0].zmax - fig.data[0].zmin)
    colour = scale_at(dark_scale(fig), t)
    assert saturation(colour) >= SATURATED, f"the {end} score is drawn {colour}: a pale tint, not a colour"
    assert contrast(colour, DARK_PAGE) >= STANDS_OUT, f"the {end} score ({colour}) hardly stands out"


def test_on_the_dark_page_zero_is_a_neutral_near_the_page():
    fig = chapter_03_scores()
    zero = scale_at(dark_scale(fig), (0 - fig.data[0].zmin) / (fig.data[0].zmax - fig.data[0].zmin))
    assert saturation(zero) <= 0.05 and contrast(zero, DARK_PAGE) <= FADES, zero


@pytest.mark.parametrize("scale", [palette.DIVERGING, palette.DIVERGING_REVERSED], ids=["RdBu", "RdBu_r"])
def test_on_the_dark_page_the_further_from_zero_the_brighter_and_more_coloured(scale):
    dark = [[p, on(themes.DARK, c)] for p, c in scale]
    for side in ((0.5, 0.4, 0.3, 0.2, 0.1, 0.0), (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)):
        colours = [scale_at(dark, t) for t in side]
        shown = [(c, round(contrast(c, DARK_PAGE), 2), round(saturation(c), 2)) for c in colours]
        assert all(contrast(a, DARK_PAGE) < contrast(b, DARK_PAGE) for a, b in zip(colours, colours[1:])), (
            shown
        )
        assert all(saturation(a) < saturation(b) for a, b in zip(colours, colours[1:])), shown


def test_the_light_page_keeps_rdbu():
    fig = chapter_03_scores()
    assert [c for _, c in fig.data[0].colorscale] == [c for _, c in palette.DIVERGING]


@pytest.mark.parametrize("vision", sorted(_colour_vision.SIMULATIONS))
def test_on_the_dark_page_negative_and_positive_ends_differ_to_every_eye(vision):
    ends = [on(themes.DARK, c) for c in (palette.DIVERGING[0][1], palette.DIVERGING[-1][1])]
    assert _colour_vision.distance(*ends, vision) >= 20, f"{ends} look alike ({vision})"


# --- 5. one copy of the colour-blindness simulation ---


def test_the_colour_tests_share_one_simulation():
    for module in (test_palette_contrast, test_figures_package):
        assert module.SIMULATIONS is _colour_vision.SIMULATIONS, f"{module.__name__}: its own matrices"
        assert module.distance is _colour_vision.distance, f"{module.__name__} keeps its own distance"
        assert "0.152286" not in inspect.getsource(module), f"{module.__name__} writes the matrices out again"


def test_the_shared_simulation_can_fail_and_names_a_bad_vision():
    # The course's former referent green and distractor orange merge for a protanope.
    assert (
        _colour_vision.distance("#15803d", "#ea580c", "protanopia")
        < 20
        < _colour_vision.distance("#15803d", "#ea580c")
    )
    with pytest.raises(ValueError, match="vision"):
        _colour_vision.lab("#000000", "achromatopsia")
    with pytest.raises(ValueError, match="colour"):
        _colour_vision.rgb("rgba(0, 0, 0, 0.5)")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_figures_draw_tensors_of_a_half_precision_model(dtype):
    """A model converted with .half() or .bfloat16() hands its figures such tensors: NumPy has no
    bfloat16, and the figures failed with "unsupported ScalarType BFloat16"."""
    g = torch.Generator().manual_seed(0)
    pe = torch.randn(12, 8, generator=g).to(dtype)
    wave = figures.waves_figure(pe, [0, 1])
    assert list(wave.data[0].y) == pytest.approx(pe[:, 0].float().tolist())
    bars = figures.bar_figure(torch.rand(4, generator=g).to(dtype), ["a", "b", "c", "d"])
    assert len(bars.data[0].y) == 4
    product = figures.repeated_product_figure(torch.rand(5, generator=g).to(dtype), 0.5)
    assert len(product.data[0].y) == 5
    scores = figures.scores_heatmap(torch.randn(3, 3, generator=g).to(dtype), ["x", "y", "z"])
    assert scores.data


def test_a_value_over_a_bar_is_never_clipped_by_the_plot_area():
    """Chapter 05's head-jobs value "0.99" was cut in half when a slide shrank the plot: the text
    sits outside the bar, above the plot area plotly clips to."""
    bars = figures.bar_figure(torch.tensor([0.2, 0.99]), ["a", "b"], y_range=(0, 1))
    assert bars.data[0].cliponaxis is False
    jobs = figures.head_jobs_figure(torch.tensor([[0.99, 0.01], [0.5, 0.5]]), ["one", "two"])
    assert all(trace.cliponaxis is False for trace in jobs.data)
