"""The look every figure shares: the font, the plotly template, the background-dependent colours.

A ``Theme`` gathers everything in a figure that depends on the page's background: the
plotly template (background, text, grid and axis colours, the colour cycle) and five
colours figures draw themselves (outlines, reference lines, empty cells, a faint line and
the bolder one it is kept behind).
Figures ask ``themes.theme()`` for it each time one is built, and nowhere else: always
``LIGHT``.

``DARK`` is its twin for JupyterLab's dark themes. Figures are still built in ``LIGHT``;
the live view (``widgets/view.py`` + ``static/figure_view.js``) receives both themes
once (``theme_swap()``) and, when JupyterLab's ``<body data-jp-theme-light="false">``,
draws each figure with ``DARK``'s template and its ink, muted, blank, faint and bold colours in
place of ``LIGHT``'s, Okabe–Ito's bright orange, yellow and sky blue in place of the light
page's deeper shades (``ON_DARK``), and its heatmaps with scales that brighten with the value
(``dark_scale_colours``), repainting when the learner switches theme. So the kernel never
needs to know the page's theme, and a figure is the same JSON in both.

Nothing here touches plotly's global settings: ``pio.templates.default`` and the template
registry stay as the user left them, and ``base.figure`` attaches the theme's template
to each figure it builds.
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import plotly.io as pio

from .palette import (
    COLORWAY,
    DEEP_ORANGE,
    DEEP_SKY_BLUE,
    DEEP_YELLOW,
    DIVERGING,
    MEAN_COLOUR,
    ORANGE,
    RAW_COLOUR,
    SEQUENTIAL,
    SKY_BLUE,
    YELLOW,
    faded,
)

FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)

# The trace types the course's figures draw. The template keeps only their defaults:
# plotly copies the template into every figure and again into every figure it sends,
# and the 3-D, map, polar and ternary parts of plotly_white cost a fifth of a widget
# update for nothing. tests/test_figures_package.py checks that every figure's traces
# are listed here.
TRACE_TYPES = ("bar", "heatmap", "scatter")


@dataclass(frozen=True)
class Theme:
    """What a figure's colours depend on besides its data."""

    name: str
    template: go.layout.Template  # validated once, here; attached to every figure as is
    ink: str  # outlines and markers drawn over the data (the picked row, the current step)
    muted: str  # reference lines (y = 1, uniform entropy, ∝ L²)
    blank: str  # cells that hold nothing (a mask's blocked positions)
    faint: str  # a line kept behind a bolder one (each step's loss behind the running mean)
    bold: str  # the bolder line a faint one is kept behind (the running mean)


def course_template(base: str, *, colorway: tuple[str, ...] = COLORWAY) -> go.layout.Template:
    """Plotly's ``base`` template cut to ``TRACE_TYPES`` and 2-D axes; lines cycle through ``colorway``."""
    spec = pio.templates[base].to_plotly_json()
    spec["data"] = {kind: v for kind, v in spec["data"].items() if kind in TRACE_TYPES}
    for part in ("geo", "map", "mapbox", "polar", "scene", "ternary"):
        spec["layout"].pop(part, None)
    spec["layout"]["colorway"] = list(colorway)
    # Plotly's default for a numeric axis, "hide past div", measures every tick label on every
    # redraw to hide the ones past the figure's edge: over half of a heatmap's redraw in
    # JupyterLab (chapter 05's explorer: 426 of 837 ms of plotly's time over six updates).
    # The course's labels sit inside the figure.
    for axis in ("xaxis", "yaxis"):
        spec["layout"].setdefault(axis, {})["ticklabeloverflow"] = "allow"
    return go.layout.Template(spec)


# The light page's shades of orange, yellow and sky blue (3:1 against white) → Okabe–Ito's own,
# on the dark page: brighter there (8.4, 14.3 and 8.2:1 against #111111) and, to a colour-blind
# eye, further apart from vermillion and blue than the deep shades. A line takes the same place
# in both colorways, and a colour a figure names (palette.DISTRACTOR_COLOUR) is swapped
# (theme_swap's "line_colours").
ON_DARK = {DEEP_ORANGE: ORANGE, DEEP_YELLOW: YELLOW, DEEP_SKY_BLUE: SKY_BLUE}
DARK_COLORWAY = tuple(ON_DARK.get(c, c) for c in COLORWAY)

LIGHT = Theme(
    "light",
    course_template("plotly_white"),
    ink="#111827",
    muted="#6b7280",
    blank="#f3f4f6",
    faint=RAW_COLOUR,
    bold=MEAN_COLOUR,
)
# plotly_dark's background is #111111, JupyterLab Dark's --jp-layout-color0: a figure sits
# on the page without a frame. Its text (#f2f5fa) has a contrast of 17:1 there.
# A faint line is see-through: the light one, blue at half, mixed with #111111 is nearly
# black. On the dark page the pair is sky blue: the running mean opaque (8.2:1 against
# #111111; the loss blue is only 3.6:1 there) and each step's line at 0.6 (3.6:1), the mean
# 2.3 times its contrast as on white (5.2:1 against 2.1:1), and 2.5 px wide against 1.5.
# With the mean in the loss blue, each step's line had to stay under its 3.6:1: at 0.4
# (2.3:1) and at 0.5 (2.9:1) chapter 09's "each step" line and its legend swatch read as a
# dark slate thread on #111111, all but invisible on a projector.
DARK = Theme(
    "dark",
    course_template("plotly_dark", colorway=DARK_COLORWAY),
    ink="#f3f4f6",
    muted="#9ca3af",
    blank="#1f2937",
    faint=faded(SKY_BLUE, 0.6),
    bold=SKY_BLUE,
)


# A heatmap on the dark page. Blues runs from white (0) to navy (1): on #111111 every cell
# near zero would be a bright block and the largest weight the darkest, the reverse of what
# the eye reads as "more". In the dark theme each colour of the scale takes its mirror's, so
# 0 is navy, close to the page, and 1 is the brightest.
# RdBu: zero is DARK_MIDDLE, a grey a little lighter than the page (1.33:1), and each step away
# from it mixes in more of a saturated red (below zero) or blue (above), up to DARK_NEGATIVE and
# DARK_POSITIVE at the ends: the further from zero, the brighter and the more coloured, so small
# values fade into the page and large ones stand out in their colour. Mirrored within each half
# (as before), the ends were RdBu's palest tints (#fddbc7, #d1e5f0, saturation 0.2): chapter
# 03's most negative score read as a blank cell. (Per colour, so RdBu_r follows.) Written as
# "#hex", never as the "rgb(…)" strings being replaced: a swap never swaps a colour twice.
DARK_MIDDLE = "#2b2b2b"
DARK_NEGATIVE, DARK_POSITIVE = "#f0603f", "#4aa3ec"  # 5.8:1 and 7.0:1 on the page, saturation 0.7


def _hex(colour: str) -> str:
    """ "rgb(8, 48, 107)" → "#08306b"."""
    r, g, b = (int(v) for v in colour[colour.index("(") + 1 : -1].split(","))
    return f"#{r:02x}{g:02x}{b:02x}"


def _towards(end: str, share: float) -> str:
    """DARK_MIDDLE mixed with ``end`` ("#rrggbb"), ``share`` of the way (0: the middle, 1: end)."""
    a, b = (bytes.fromhex(c[1:]) for c in (DARK_MIDDLE, end))
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b))


def dark_scale_colours() -> dict[str, str]:
    """Each colour of the light theme's heatmap scales → the one it takes on the dark page."""
    blues = [c for _, c in SEQUENTIAL]
    swap = {c: _hex(m) for c, m in zip(blues, reversed(blues))}
    rdbu = [c for _, c in DIVERGING]
    half = len(rdbu) // 2  # 11 colours: 5 reds, the white middle, 5 blues
    for k in range(1, half + 1):  # k steps from the middle, each way
        swap[rdbu[half - k]] = _towards(DARK_NEGATIVE, k / half)
        swap[rdbu[half + k]] = _towards(DARK_POSITIVE, k / half)
    swap[rdbu[half]] = DARK_MIDDLE
    return swap


def theme() -> Theme:
    """The theme figures are drawn in (``LIGHT``): read by each figure as it is built."""
    return LIGHT


def theme_swap() -> dict:
    """What the live view and an exported page need to redraw a ``LIGHT`` figure in ``DARK``
    (sent to the page once per kernel): the dark template; the colours the theme gives figures
    (``colours``: ink, muted, blank, faint, bold, heatmap scales) and the deep shades of the light
    page's lines (``line_colours``: ``ON_DARK``), light → dark. static/theme_swap.js swaps
    both in one pass."""
    return {
        "template": DARK.template.to_plotly_json(),
        "colours": {
            LIGHT.ink: DARK.ink,
            LIGHT.muted: DARK.muted,
            LIGHT.blank: DARK.blank,
            LIGHT.faint: DARK.faint,
            LIGHT.bold: DARK.bold,
            **dark_scale_colours(),
        },
        "line_colours": dict(ON_DARK),
    }
