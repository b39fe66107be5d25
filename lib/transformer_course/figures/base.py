"""The one way a figure is built (``figure``), and the small pieces every figure shares.

A figure function validates its arguments, writes its traces and layout as plain dicts
and hands them to ``figure``, which plotly validates in one pass. It never calls
``update_layout``/``update_xaxes``/``add_trace``/``add_hline``/``make_subplots`` on a
built figure: each of those walks and re-validates the figure, and together they cost
several times more than building it once (about 15 ms against 1.5 ms for a 16×16
heatmap), which a widget pays on every update. ``hline``/``vline``/``line_label`` write
what ``add_hline``/``add_vline`` would add; ``panel_title`` what ``make_subplots`` writes
above a panel. Built this way, a figure never goes through plotly's parser of property
paths ("xaxis.title.text"), so caching that parser (as widgets once did by patching it)
buys nothing.

Heatmaps use numeric axes labelled with the tokens (tickvals/ticktext): a category axis
would merge repeated words such as the two "the" in "the pizza came out of the oven".
"""

from __future__ import annotations

import contextvars
import json
import math
import numbers
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set, Sized
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import torch

from .. import _validate
from . import themes
from .themes import FONT

# The toolbar of every chart, shown in JupyterLab or exported: zoom, pan, reset, download
# as PNG; no button or link that shares or uploads (see export/charts.py for each key).
PLOTLY_CONFIG: dict = json.loads(
    (Path(__file__).resolve().parents[1] / "static" / "plotly_config.json").read_text(encoding="utf-8")
)

# Values are printed inside cells only while they stay readable (in an explorer, which
# redraws on every move of a control, fewer: see ``printed_cells``).
MAX_CELLS_WITH_TEXT = 144


# How a figure shows itself in a notebook: set by ``widgets`` (``display_with``) to draw it
# in a live FigureView, which follows JupyterLab's dark theme and fits the screen when
# presenting; plotly's own renderer (with ``PLOTLY_CONFIG``) when nothing is set.
_DISPLAY: Callable[[go.Figure], None] | None = None


def display_with(show: Callable[[go.Figure], None] | None) -> None:
    """Show every course figure in a notebook with ``show(fig)`` (None: plotly's renderer)."""
    global _DISPLAY
    _DISPLAY = show


class CourseFigure(go.Figure):
    """A ``go.Figure`` that starts in the course's theme instead of plotly's default template.

    A plain ``go.Figure`` copies ``pio.templates.default`` into itself as it is built,
    with validation off, since that template was validated when it was registered. This
    one does the same with ``themes.theme().template``, validated once in ``themes.py``:
    passing the template in the layout instead makes plotly validate a fresh copy of it
    in every figure (about 4 ms, more than a whole heatmap), and setting plotly's default
    would change every other figure of the process. A figure given a template of its own
    keeps it. ``_initialize_layout_template`` is plotly's own (private) hook for this;
    tests/test_figures_package.py fails if a plotly release renames it.
    """

    def _ipython_display_(self) -> None:
        """Shown in a notebook by the course's live view (``display_with``), or else as
        ``go.Figure`` would be, with the course's toolbar (``PLOTLY_CONFIG``); plotly's
        renderer settings are left as they are."""
        if _DISPLAY is not None:
            _DISPLAY(self)
        elif pio.renderers.render_on_display and pio.renderers.default:
            pio.show(self, config=dict(PLOTLY_CONFIG))
        else:
            print(repr(self))

    def _initialize_layout_template(self) -> None:
        layout = self._layout_obj
        if layout._props.get("template") is not None:
            return
        layout._validate = False
        try:
            layout.template = themes.theme().template
        finally:
            layout._validate = self._validate


_CHECKED = contextvars.ContextVar("transformer_course_figures_checked", default=True)


@contextmanager
def unchecked() -> Iterator[None]:
    """Inside: ``figure`` builds without plotly's check of every property on the way in.

    An explorer redraws the same figures, from arguments its figure functions have already
    checked, on every move of a control; plotly's checks took 4-5 ms of each figure, five
    to ten times the rest of building it, and 14-16 ms of a three-figure update (chapters
    03, 05, 06). The figure is the same: tests/test_figures_unchecked.py compares the JSON
    of every explorer's figures built both ways. Figures built outside stay checked.
    """
    token = _CHECKED.set(False)
    try:
        yield
    finally:
        _CHECKED.reset(token)


# How many cells a heatmap may have and still print its values by default
# (``matrix_heatmap``'s ``show_text``): ``MAX_CELLS_WITH_TEXT``, or less inside ``printed_cells``.
_PRINTED_CELLS = contextvars.ContextVar("transformer_course_printed_cells", default=MAX_CELLS_WITH_TEXT)


@contextmanager
def printed_cells(limit: int) -> Iterator[None]:
    """Inside: a heatmap prints its values by default only while it has at most ``limit`` cells;
    a larger one shows a colour bar, and its values on hover.

    Explorers redraw their figures in the browser on every move of a control, and printed
    values are most of a heatmap's redraw there: plotly styles and places each one as its
    own text, about 0.12 ms a cell, 13 of the 25 ms of an 11 × 11 heatmap. Explorers print
    up to 10 × 10 (``widgets.kit.LIVE_PRINTED_CELLS``); figures drawn once keep
    ``MAX_CELLS_WITH_TEXT``.
    """
    _validate.integer("limit", limit, low=0)
    token = _PRINTED_CELLS.set(limit)
    try:
        yield
    finally:
        _PRINTED_CELLS.reset(token)


def max_printed_cells() -> int:
    """The most cells a heatmap prints its values in by default, here (``printed_cells``)."""
    return _PRINTED_CELLS.get()


def figure(
    traces: Sequence[dict],
    *,
    title: str = "",
    height: int | None = None,
    title_at_top: bool = False,
    **layout,
) -> go.Figure:
    """A figure from plain trace dicts and layout keywords, validated in one pass (none
    inside ``unchecked``).

    Title centred, ``FONT``, tight margins, the theme's template; ``layout`` keywords
    (``xaxis=dict(...)``, ``shapes=[...]``, ``margin=...``) are plotly's layout properties
    and override these defaults.
    """
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title must be a str, got {type(title).__name__} {_validate.shown(title)}")
    base = dict(title=dict(text=as_text(title), x=0.5), font=FONT, margin=dict(l=10, r=10, t=50, b=10))
    if title_at_top:  # at the top of the figure, leaving the rest of the top margin to a legend
        base["title"].update(y=0.98, yref="container", yanchor="top")
    if height is not None:
        base["height"] = height
    base.update(layout)
    spec = dict(data=list(traces), layout=base)
    if _CHECKED.get():
        return CourseFigure(spec)
    return CourseFigure(_without_none(spec), _validate=False)  # as a checked build drops them


def _without_none(obj):
    """A figure's dicts without their None values (plotly's check reads None as "not set");
    lists of numbers are left as they are, unread."""
    if isinstance(obj, dict):
        return {k: _without_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        return [_without_none(v) for v in obj]
    return obj


# --- Labels and ticks ---

# The tags plotly.js draws as markup in any text (bold, a line break, a link…): a word typed
# as "<b>" would vanish and bold the rest of its title. Written "&lt;b>", plotly shows it as
# typed; "<pad>" and the other tokens in angle brackets are not among them and stay as they are.
_PLOTLY_TAGS = re.compile(r"<(?=/?(?:b|i|em|sup|sub|br|a|span|s|u)\b)", re.IGNORECASE)


def as_text(label: str) -> str:
    """``label`` as plotly shows it literally: the few tags plotly would draw, escaped."""
    return _PLOTLY_TAGS.sub("&lt;", label) if isinstance(label, str) else label


def hover_labels(labels: Sequence[str]) -> list[str]:
    """``labels`` as plotly shows them literally on hover or along an axis (``as_text``, each):
    put raw into customdata, a learner's "<b>" bolded the rest of the hover label and "a<br>b"
    broke it in two."""
    return [as_text(label) for label in labels]


# A label is a word, or a short name: a longer one would widen its margin past the screen.
MAX_LABEL_CHARS = 200


def label_list(name: str, given: Sequence[str] | None, n: int) -> list[str]:
    """``given`` as n strings (the positions 0 … n-1 when None); ValueError naming ``name``
    otherwise: a str (it would be split into letters), a dict, a set (no order), a tensor or a
    0-d array (its items are not words), an item that is neither a str nor a number (drawn as
    its digits), or one over ``MAX_LABEL_CHARS`` characters."""
    if given is None:
        return index_labels(n)
    if (
        isinstance(given, str | bytes | Mapping | Set | torch.Tensor)
        or not isinstance(given, Iterable)
        or getattr(given, "ndim", 1) != 1
    ):
        # A string would be split into letters: "cat" as three labels c, a, t.
        raise ValueError(f"{name} must be a list of {n} labels, got {_validate.shown(given)}")
    # Counted before each is read: a list of 10**7 words for 4 rows is refused at once.
    given = list(given) if not isinstance(given, Sized) else given
    if len(given) != n:
        raise ValueError(f"{name} must have {n} entries (one per row/column), got {len(given)}")
    for i, label in enumerate(given):
        if isinstance(label, numbers.Real) and not isinstance(label, bool):
            continue  # a position or a symbol, 3 or np.int64(3): drawn as "3"
        if not isinstance(label, str):
            raise ValueError(
                f"{name}[{i}] must be a str (a word) or a number, got {type(label).__name__} {label!r:.40}"
            )
        if len(label) > MAX_LABEL_CHARS:
            raise ValueError(
                f"{name}[{i}] must be a label of at most {MAX_LABEL_CHARS} characters, got {len(label)}"
            )
    return [str(t) for t in given]


def index_labels(n: int) -> list[str]:
    return [str(i) for i in range(n)]


def ticks(tick_labels: list[str], n: int) -> dict:
    """Axis settings that label positions 0 … n-1 with ``tick_labels``."""
    # Plotly measures every tick label on every redraw (a 24 × 32 heatmap took 32 ms to
    # draw with a label per row and column, 13 ms without): labels that are just the
    # positions 0 … n-1 (beyond a dozen), or too many to read, get plotly's own sparser
    # numeric ticks.
    if n > 40 or (n > 12 and tick_labels == index_labels(n)):
        return dict(tickmode="auto")
    return dict(tickmode="array", tickvals=list(range(n)), ticktext=[as_text(t) for t in tick_labels])


def log_ticks(values: Iterable[float], *, length: int | None = None) -> dict:
    """Tick settings for a log axis over ``values``: 0.02, 0.05, 0.1, 0.2 … written out.

    Over a decade or more plotly labels 2 and 5 in a smaller font than the powers of ten
    (about 9 px: unreadable on a projector) and writes the powers as 10⁻¹. Between 10⁻⁴ and
    10⁵ a learner reads 0.05 at once: 1, 2 and 5 of each decade over up to three decades, the
    powers of ten over up to six, as plain numbers at the axis's font size. Within a decade
    plotly's own ticks are plain and full-size already (0.35, 0.4, 0.45), and a fixed list
    could miss the range altogether: those, wider ranges, and no positive finite value keep
    plotly's ticks (an empty dict).

    ``length``: the axis's length in pixels, when the figure knows it. Then the ticks are the
    densest of ``LOG_LADDERS`` whose labels stay ``LOG_TICK_GAP`` px apart, over any range
    but a sliver of a decade, with a label near each end of the data: where the ladder's
    nearest tick is further than that, a round number near the end (``_end_tick``). Within
    a decade plotly spaced its ticks evenly in value, which on a log axis crowds them at the
    top (0.35, 0.3 and 0.25 17 px apart on a slide) and left the bottom of the data (0.06)
    with no label under 0.1."""
    if length is not None:
        _validate.integer("length", length, low=1)
    seen = [float(v) for v in values if math.isfinite(float(v)) and float(v) > 0]
    if not seen:
        return {}
    low, high = min(seen), max(seen)
    decades = math.log10(high / low)
    if low < 1e-4 or high > 1e5 or decades > 6:
        return {}
    if length is not None:
        return _spaced_log_ticks(low, high, length)
    if decades < 1:
        return {}
    steps = (1, 2, 5) if decades <= 3 else (1,)
    first, last = math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1
    # One tick beyond each end: plotly pads the range, and draws only the ticks inside it.
    ticks = [m * 10.0**k for k in range(first, last + 1) for m in steps]
    ticks = [t for t in ticks if max(low / 2.5, 1e-4) <= t <= high * 2.5]
    if sum(low <= t <= high for t in ticks) < 2:  # too few on the data itself: plotly's are better
        return {}
    return _written_out(ticks)


# The ticks a log axis may have in each decade, densest first: each a set a reader knows
# (1-2-5, 1-3…), none of which leaves a stretch of the axis unlabelled beside crowded ones.
LOG_LADDERS = (
    (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8),
    (1, 1.5, 2, 3, 4, 5, 7),
    (1, 2, 3, 5),
    (1, 2, 5),
    (1, 3),
    (1,),
)
# Pixels from one tick label to the next, at the least: 16 px text (a slide's) with 12 px
# between labels. The last ladders space them further than that over any range up to six decades.
LOG_TICK_GAP = 28
# About how far plotly's autorange runs beyond the data, as a fraction of its span (the
# padding it leaves for markers): the axis's pixels are spread over that much more.
LOG_RANGE_PAD = 0.08


def _spaced_log_ticks(low: float, high: float, length: int) -> dict:
    """Ticks for a log axis of ``length`` px over [low, high] (0 < low ≤ high), all on the data
    (plotly's autorange keeps to it); {} when no ladder has two there (plotly's)."""
    per_decade = length / max(math.log10(high / low) * (1 + 2 * LOG_RANGE_PAD), 1e-12)
    # The densest ladder with two ticks on the data, spaced apart; else the sparsest with two.
    fits = [t for t in (_ladder_ticks(ladder, low, high) for ladder in LOG_LADDERS) if len(t) >= 2]
    if not fits:
        return {}  # a sliver of a decade: plotly's ticks, evenly spaced there, read well
    spaced = (
        t for t in fits if min(math.log10(b / a) for a, b in zip(t, t[1:])) * per_decade >= LOG_TICK_GAP
    )
    ticks = next(spaced, fits[-1])
    gap = LOG_TICK_GAP / per_decade  # in decades
    # An end of the data far from the ladder's nearest tick gets a label of its own (0.07 under
    # a lowest label of 0.1, where the curve falls to 0.064), at least a gap from that tick.
    if math.log10(ticks[0] / low) > gap:
        ticks.insert(0, _end_tick(math.log10(low), math.log10(ticks[0]) - gap, gap))
    if math.log10(high / ticks[-1]) > gap:
        ticks.append(_end_tick(math.log10(high), math.log10(ticks[-1]) + gap, gap))
    return _written_out([t for t in ticks if t is not None])


def _ladder_ticks(ladder: Sequence[float], low: float, high: float) -> list[float]:
    """The ticks of ``ladder`` (multiples of each power of ten) in [low, high]."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    # Rounded to 12 significant digits: 3 * 10**-2 is 0.030000000000000002.
    every = (float(f"{m * 10.0**k:.12g}") for k in range(first, last + 1) for m in ladder)
    # A value read from float32 (0.1 is 0.10000000149) still counts as on its tick.
    return [t for t in every if low * (1 - 1e-6) <= t <= high * (1 + 1e-6)]


def _end_tick(end: float, bound: float, gap: float) -> float | None:
    """A tick between ``end`` and ``bound`` (log10, either order), as near ``end`` as may be:
    the roundest number (one significant digit, else two) within ``gap`` of it, or the
    nearest; None when there is none between them."""
    lo, hi = min(end, bound), max(end, bound)
    candidates = [
        float(f"{m / 10 * 10.0**k:.12g}")
        for k in range(math.floor(lo) - 1, math.ceil(hi) + 1)
        for m in range(10, 100)
    ]
    candidates = [t for t in candidates if lo <= math.log10(t) <= hi]
    if not candidates:
        return None

    def digits(t: float) -> int:  # significant digits: 0.07 has one, 0.21 two
        return len(Decimal(f"{t:.12g}").normalize().as_tuple().digits)

    return min(
        candidates, key=lambda t: (abs(math.log10(t) - end) > gap, digits(t), abs(math.log10(t) - end))
    )


def _written_out(ticks: Sequence[float]) -> dict:
    return dict(tickmode="array", tickvals=list(ticks), ticktext=[f"{t:,.6g}" for t in ticks])


# --- Telling lines and values apart ---

# From ``DASHED_FROM`` lines on, colour alone asks too much of the reader: no five colours
# stay apart on both pages and to every colour-blind eye (palette.COLORWAY), so each line
# also takes a dash of its own, in this order (the first line stays solid).
# A legend in a row (or rows, in a narrow window) at the foot of the figure. Anchored to the
# figure (yref "container") rather than to the plot, it has its rows' height set aside below
# everything else, whatever the width: placed at y=-0.2 of the plot, it sat on the x axis's
# title in a phone's window (400 px), where five names took five rows. Above the plot it ran
# into the figure's title there instead.
FOOT_LEGEND = dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0.5, xanchor="center")

# The room from the figure's top that a title placed there (``figure``'s ``title_at_top``)
# takes on a slide (22 px text), in px of the figure's asked height; the deck may draw a
# figure shorter (down to 220 px of 320), title and legend together, and they still clear.
TITLE_ROOM = 48


def head_legend(height: int, **placement) -> dict:
    """A legend in rows just under a title at the figure's top (``title_at_top``), above the
    plot, in a figure ``height`` px tall; ``placement``: other legend properties (x, orientation…).

    Anchored to the figure (yref "container") under the title, it has its rows' height set
    aside above the plot by plotly, however many rows the names wrap onto. Anchored to the
    plot's top in a top margin of fixed height, it grew upwards into the title once a narrow
    figure (a 600 px live view, a 354 px chart in an exported page) wrapped it onto more rows.
    """
    # Room for the title and at least a row of names: a shorter figure put the legend below it.
    _validate.integer("height", height, low=TITLE_ROOM + 1)
    under_title = dict(yref="container", y=1 - TITLE_ROOM / height, yanchor="top")
    return dict(orientation="h", x=0.5, xanchor="center") | placement | under_title


# Where a legend of names in rows is narrowest: a phone's exported page (354 px) at a slide's
# 16 px text, the y axis's labels and title taking about 80 px of it. A character is taken as
# 0.55 em wide, more than most (Arial's average is about 0.45 em, Inter's 0.5), and each name
# has plotly's swatch and gaps around it (40 px, and 5 between two entries).
NARROWEST_PLOT_PX, LEGEND_TEXT_PX, EM_PER_CHARACTER, LEGEND_ENTRY_PX = 274, 16, 0.55, 45
# A row of names at 16 px text, with plotly's spacing (measured: 8 rows took 195 px, padding in).
LEGEND_ROW_PX = 25


def legend_rows(names: Iterable[str], width: float = NARROWEST_PLOT_PX) -> int:
    """How many rows a horizontal legend of ``names`` takes across a plot ``width`` px wide,
    at most (``LEGEND_TEXT_PX`` text). As plotly.js lays it out (legend/draw.js): one row if
    all fit side by side; else every entry takes the widest one's width, as many a row as fit.
    """
    width = _validate.finite_number("width", width, at_least=1)
    entries = [LEGEND_ENTRY_PX + EM_PER_CHARACTER * LEGEND_TEXT_PX * len(str(name)) for name in names]
    if not entries:
        return 0
    if sum(entries) + 5 * (len(entries) - 1) <= width:
        return 1
    per_row = max(1, int((width + 5) // (max(entries) + 5)))
    return -(-len(entries) // per_row)


LINE_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
DASHED_FROM = 4


def dashed_lines(traces: list[dict]) -> list[dict]:
    """``traces`` (line traces drawn in the colorway's colours), each with a dash of its own
    when there are ``DASHED_FROM`` or more of them; fewer are returned as they are."""
    if len(traces) < DASHED_FROM:
        return traces
    return [
        dict(t, line=dict(t.get("line") or {}, dash=LINE_DASHES[k % len(LINE_DASHES)]))
        for k, t in enumerate(traces)
    ]


# A value printed on a bar: plotly shrinks it to the bar's width, to 11 px on a slide of 31
# bars while the figure's font said 16, and a row of small values then ran together. Shrunk
# below this many px it is hidden instead (plotly's ``uniformtext``: the values left shown
# all take one size); the value stays on hover.
MIN_VALUE_TEXT = 12
VALUE_TEXT = dict(minsize=MIN_VALUE_TEXT, mode="hide")


# --- Lines and titles drawn over a plot (layout shapes and annotations) ---


def hline(y: float) -> dict:
    """A dotted reference line across the plot at height ``y`` (``add_hline``'s shape)."""
    line = dict(color=themes.theme().muted, dash="dot")
    return dict(type="line", x0=0, x1=1, xref="x domain", y0=y, y1=y, yref="y", line=line)


def vline(x: float) -> dict:
    """A dotted marker line from bottom to top at ``x`` (``add_vline``'s shape), in the theme's ink."""
    line = dict(color=themes.theme().ink, dash="dot")
    return dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain", line=line)


def line_label(y: float, text: str, *, above: bool, log: bool = False) -> dict:
    """``text`` at the right end of ``hline(y)``, just above or below it. ``log``: the y axis is
    logarithmic, where plotly places annotations (unlike shapes) at log10 of the value."""
    return dict(
        text=text,
        x=1,
        xanchor="right",
        xref="x domain",
        y=math.log10(y) if log else y,
        yanchor="bottom" if above else "top",
        yref="y",
        showarrow=False,
    )


def side_by_side(widths: Sequence[float], gap: float) -> list[list[float]]:
    """Domains [start, end] (paper coordinates) of panels in a row, ``gap`` apart, sized ∝ ``widths``.

    What ``make_subplots`` computes for a row of subplots, at a fraction of the cost.
    """
    total, room = float(sum(widths)), 1.0 - gap * (len(widths) - 1)
    domains, start = [], 0.0
    for w in widths:
        end = start + room * w / total
        domains.append([start, min(1.0, end)])
        start = end + gap
    return domains


def panel_title(text: str, x: float, *, y: float = 1.0, size: int = 16) -> dict:
    """A title centred at ``x`` (paper coordinates) just above a panel whose top is at ``y``."""
    return dict(
        text=text,
        x=x,
        y=y,
        xref="paper",
        yref="paper",
        xanchor="center",
        yanchor="bottom",
        showarrow=False,
        font=dict(size=size),
    )


# --- Results of experiments, checked by what they hold (figures import no maths module) ---


def require_fields(name: str, value: object, fields: Iterable[str], expected: str) -> None:
    """ValueError naming ``name`` unless ``value`` has every attribute in ``fields``."""
    missing = [f for f in fields if not hasattr(value, f)]
    if missing:
        raise ValueError(
            f"{name} must be {expected}, got {type(value).__name__} (without {', '.join(missing)})"
        )
