"""Every colour a figure draws a line, a marker or a bar in reaches 3:1 against the page it is
drawn on, on the light page and on the dark one (WCAG's non-text contrast).

A visual check found chapter 09's six-line chart drawing its sixth line in Okabe–Ito's orange,
2.25:1 against white, and the pointer figures their distractor bar in it too. Figures are built
for the light page and redrawn for the dark one by static/theme_swap.js (``darkSpec``: the dark
template, and theme_swap()'s colours swapped light → dark); this test follows the same two
steps in Python. tests/browser/test_palette_contrast_browser.py checks that Chromium draws them.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from _colour_vision import SIMULATIONS, distance, linear, rgb
from transformer_course import figures
from transformer_course.figures import palette, themes
from transformer_course.figures.base import LINE_DASHES
from transformer_course.softmax import saturation_experiment
from transformer_course.widgets.view import figure_json

LEAST = 3.0  # WCAG 2.1, 1.4.11 non-text contrast
THEMES = {"light": themes.LIGHT, "dark": themes.DARK}


def contrast(a: str, b: str) -> float:
    low, high = sorted(float(np.dot([0.2126, 0.7152, 0.0722], linear(c))) for c in (a, b))
    return (high + 0.05) / (low + 0.05)


def pages(theme: themes.Theme) -> set[str]:
    """The backgrounds a figure's marks sit on: the plot area and the paper around it (legend)."""
    layout = theme.template.layout
    return {layout.plot_bgcolor, layout.paper_bgcolor}


def swap() -> dict[str, str]:
    """Light → dark, as static/theme_swap.js's darkSpec swaps them."""
    sent = themes.theme_swap()
    return {**sent["colours"], **sent.get("line_colours", {})}


def on(theme: themes.Theme, colour: str) -> str:
    """The colour a light figure's ``colour`` is drawn in under ``theme``."""
    return swap().get(colour, colour) if theme is themes.DARK else colour


# --- 1. the colour cycle of each theme ---


@pytest.mark.parametrize("name", sorted(THEMES))
def test_every_colour_of_the_cycle_stands_out_from_its_page(name):
    theme = THEMES[name]
    colorway = list(theme.template.layout.colorway)
    assert len(colorway) == len(palette.COLORWAY) == 8
    weak = [
        f"line {k + 1}: {c} on {page} is {contrast(c, page):.2f}:1"
        for k, c in enumerate(colorway)
        for page in pages(theme)
        if contrast(c, page) < LEAST
    ]
    assert not weak, f"{name} page: " + "; ".join(weak)


def test_a_line_keeps_its_place_and_its_colour_named_or_not():
    """A trace left to the colorway and one that names the same colour (as a figure drawing
    its lines one by one would) end up the same colour on the dark page."""
    light, dark = themes.LIGHT.template.layout.colorway, themes.DARK.template.layout.colorway
    assert list(light) == list(palette.COLORWAY)
    assert [on(themes.DARK, c) for c in light] == list(dark)


def hue(colour: str) -> float:
    r, g, b = rgb(colour) / 255
    high, low = max(r, g, b), min(r, g, b)
    if high == low:
        return float("nan")
    if high == r:
        h = (g - b) / (high - low) % 6
    elif high == g:
        h = (b - r) / (high - low) + 2
    else:
        h = (r - g) / (high - low) + 4
    return 60 * h


@pytest.mark.parametrize("k", range(len(palette.COLORWAY)))
def test_each_line_keeps_its_hue_from_one_page_to_the_other(k):
    """A deeper shade for white, not another colour: prose that says "the orange line" holds."""
    light, dark = palette.COLORWAY[k], themes.DARK.template.layout.colorway[k]
    if light == dark:
        return
    apart = abs(hue(light) - hue(dark)) % 360
    assert min(apart, 360 - apart) <= 10, f"line {k + 1}: {light} and {dark} are {apart:.0f}° apart"


# --- 2. every colour the figures draw, each theme ---

# The colours drawn on purpose below 3:1: a see-through faint line kept behind a bolder one
# (each step's loss behind the running mean), the light grey of "every other word" behind the
# referent and distractor (palette.OTHER_COLOUR says why), and nothing at all.
BACKGROUND = {palette.RAW_COLOUR, themes.LIGHT.faint, palette.OTHER_COLOUR, palette.TRANSPARENT}


def _lines(n: int) -> dict[str, list[float]]:
    return {f"line {k}": [0.1 * (k + 1), 0.5, 0.9 - 0.05 * k] for k in range(n)}


# Every figure that draws lines, markers or bars in colours of the palette, with the most
# lines it draws in the course (chapter 09's progress curves: six) and more.
FIGURES = {
    "progress_curves_figure, 8 lines": lambda: figures.progress_curves_figure(
        [0, 10, 20], _lines(8), current=10
    ),
    "loss_comparison_figure, 8 lines": lambda: figures.loss_comparison_figure(_lines(8)),
    "depth_figure, 8 lines": lambda: figures.depth_figure({f"v{k}": torch.rand(6) + 0.1 for k in range(8)}),
    "gradient_distance_figure, 8 lines": lambda: figures.gradient_distance_figure(
        {f"v{k}": torch.rand(5) + 0.1 for k in range(8)}
    ),
    "waves_figure, 8 lines": lambda: figures.waves_figure(torch.rand(8, 16) * 2 - 1, list(range(8))),
    "pointer_figure": lambda: figures.pointer_figure(
        torch.tensor([0.1, 0.5, 0.1, 0.2, 0.1]), list("abcde"), referent=1, distractor=3, source=4
    ),
    "next_token_figure": lambda: figures.next_token_figure(
        torch.tensor([0.2, 0.5, 0.3]), list("abc"), chosen=1
    ),
    "likeliest_tokens_figure": lambda: figures.likeliest_tokens_figure(
        torch.tensor([0.2, 0.5, 0.3]), list("abc"), chosen=1, true_probs=torch.tensor([0.3, 0.4, 0.3]), top=3
    ),
    "loss_curve_figure": lambda: figures.loss_curve_figure(
        [1, 2, 3], [3.0, 2.0, 1.5], smoothed=[3.0, 2.5, 2.0], validation=[(2, 2.2)]
    ),
    "query_row_figure": lambda: figures.query_row_figure(torch.tensor([1.0, -1.0, 0.5]), list("abc"), "a"),
    "saturation_figure": lambda: figures.saturation_figure(saturation_experiment((2, 8), rows=8), "entropy"),
    "generation_figure": lambda: figures.generation_figure(
        torch.softmax(torch.randn(3, 6), -1), list("xyz"), list("abcdef"), [0, 4, 5]
    ),
}


def _colours_of(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def drawn_colours(fig, theme: themes.Theme) -> set[str]:
    """Every colour ``fig``'s traces draw a line, a marker or a bar in under ``theme``: the
    colours it names, swapped as the page swaps them, and the colorway's for a trace that
    names none (plotly's rule: the trace's index in the colorway)."""
    spec = json.loads(figure_json(fig))
    colorway = theme.template.layout.colorway
    seen = set()
    for k, trace in enumerate(spec["data"]):
        if trace.get("type", "scatter") not in ("scatter", "bar"):
            continue
        marker, line = trace.get("marker") or {}, trace.get("line") or {}
        named = _colours_of(marker.get("color")) + _colours_of(line.get("color"))
        named += _colours_of((marker.get("line") or {}).get("color"))
        seen |= {on(theme, c) for c in named}
        if not _colours_of(marker.get("color")) and not _colours_of(line.get("color")):
            seen.add(colorway[k % len(colorway)])
    return seen


@pytest.mark.parametrize("name", sorted(THEMES))
@pytest.mark.parametrize("figure", sorted(FIGURES))
def test_every_mark_a_figure_draws_stands_out_from_its_page(figure, name):
    theme = THEMES[name]
    fig = FIGURES[figure]()
    background = {on(theme, c) for c in BACKGROUND}
    marks = drawn_colours(fig, theme) - background
    assert marks, f"{figure} draws nothing this test measures"
    weak = [
        f"{c} on {p}: {contrast(c, p):.2f}:1"
        for c in sorted(marks)
        for p in pages(theme)
        if contrast(c, p) < LEAST
    ]
    assert not weak, f"{figure}, {name} page: " + "; ".join(weak)


ROLES = [
    "LOSS_COLOUR",
    "VALIDATION_COLOUR",
    "REFERENT_COLOUR",
    "DISTRACTOR_COLOUR",
    "CHOSEN_COLOUR",
    "POSITIVE_COLOUR",
    "NEGATIVE_COLOUR",
    "UNSCALED_COLOUR",
    "SCALED_COLOUR",
    "EXPLICIT_COLOUR",
    "FUSED_COLOUR",
    "MASK_ALLOWED",
]


@pytest.mark.parametrize("name", sorted(THEMES))
@pytest.mark.parametrize("role", ROLES)
def test_every_role_stands_out_from_its_page(role, name):
    theme = THEMES[name]
    colour = on(theme, getattr(palette, role))
    for page in pages(theme):
        assert contrast(colour, page) >= LEAST, f"{role} {colour} on {page}: {contrast(colour, page):.2f}:1"


@pytest.mark.parametrize("name", sorted(THEMES))
def test_the_themes_own_marks_stand_out_from_its_page(name):
    theme = THEMES[name]
    for part in ("ink", "muted"):
        for page in pages(theme):
            assert contrast(getattr(theme, part), page) >= LEAST, f"{name}.{part} on {page}"


# --- 3. told apart where the dash is no help ---

# SIMULATIONS, lab and distance: tests/_colour_vision.py, shared with tests/test_figures_package.py.


@pytest.mark.parametrize("name", sorted(THEMES))
def test_lines_that_share_a_dash_differ_in_colour_to_every_eye(name):
    """The six dashes start over at the seventh line: it is drawn solid like the first, the
    eighth dashed like the second, and only their colours tell them apart."""
    colorway = THEMES[name].template.layout.colorway
    for k in range(len(LINE_DASHES), len(colorway)):
        a, b = colorway[k], colorway[k - len(LINE_DASHES)]
        for vision in SIMULATIONS:
            assert distance(a, b, vision) >= 20, (
                f"lines {k + 1} and {k + 1 - len(LINE_DASHES)}: {a}, {b} ({vision})"
            )


@pytest.mark.parametrize("name", sorted(THEMES))
def test_any_two_lines_differ_in_colour_to_a_typical_eye(name):
    colorway = THEMES[name].template.layout.colorway
    for a, b in itertools.combinations(colorway, 2):
        assert distance(a, b) >= 20, f"{a} and {b} are {distance(a, b):.0f} apart in CIELAB"


def test_the_measures_can_fail():
    # Okabe–Ito's orange on white, the sixth line before; beside vermillion, to a deuteranope.
    assert contrast("#E69F00", "white") < LEAST <= contrast("#E69F00", "rgb(17,17,17)")
    assert distance("#E69F00", "#D55E00", "deuteranopia") < 20 < distance("#E69F00", "#D55E00")
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21)
    with pytest.raises(ValueError, match="colour"):
        rgb("rgba(0, 0, 0, 0.5)")
