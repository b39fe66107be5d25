"""Legends above a plot never run into the figure's title, however narrow the figure; and the
live view clears panel titles broken onto two lines of the title in one relayout.

``progress_curves_figure`` (chapters 08, 09 and the attention-history explorer) put its legend
in rows just above the plot, anchored to the plot's top, in a top margin of fixed height (90
px). In a narrow figure the names wrapped onto more rows than that held, and the legend grew
upwards into the title: chapter 09's eight names in a 600 px live view, chapter 08's five in a
354 px chart of an exported page. plotly's ``title.automargin`` (suggested) changes nothing
here: it keeps the title inside the figure but does not add the legend's rows to it. The
legend now hangs from just under the title (``base.head_legend``) and plotly sets its rows'
height aside above the plot; ``waves_figure``'s too (round 41: chapter 02's three waves wrapped
into the title below 400 px). ``likeliest_tokens_figure``, whose two names stand one a row and
never wrap, is measured the same way.

Drawn by plotly.js in the run's one Chromium (``browser``, tests/conftest.py), at a page's
13 px text and a slide's 16, with plotly's automargin off (the live view) and on (the
export and the deck), as tests/test_depth_charts.py draws its charts.
"""

from __future__ import annotations

import itertools

import plotly.graph_objects as go
import pytest
import torch
from test_depth_charts import PAGE_TEXT_PX, SLIDE_TEXT_PX, WIDTHS, draw, overlap
from transformer_course import figures
from transformer_course.figures.base import head_legend

DECK_MIN_HEIGHT = 220  # figure_view.js: the shortest a figure is drawn on a slide

# Chapter 09's eight lines: its two designs and a line per word, the longest names it draws.
LONG_NAMES = ["stories, a head per word", "stories, one head"] + [
    f"'{word}' → its referent" for word in ("dog", "cat", "girl", "boy", "pizza", "ball")
]
STEPS = list(range(0, 1000, 100))


def above_plot_charts() -> dict:
    """Each figure whose legend sits above its plot, as the course draws it."""
    rising = {
        name: [min(1.0, 0.1 + 0.08 * i * (k + 1) / 4) for i in range(len(STEPS))]
        for k, name in enumerate(LONG_NAMES)
    }
    heads = {f"head {h}": rising[LONG_NAMES[h]] for h in range(4)} | {
        "mean of the heads": rising[LONG_NAMES[4]]
    }
    pe = torch.sin(torch.arange(64.0)[:, None] / (1 + torch.arange(32.0)))
    probs = torch.softmax(torch.linspace(3, -3, 20), dim=0)
    vocab = [f"word{i}" for i in range(20)]
    return {
        "progress, 8 long names": figures.progress_curves_figure(
            STEPS, rising, title="Held-out: the chosen heads prefer the referent", y_title="%"
        ),
        "progress, chapter 08's heads": figures.progress_curves_figure(
            STEPS,
            heads,
            title='Share of "it"\'s encoder attention on the words after it (held-out)',
            y_title="% of the row's weight",
        ),
        "waves, chapter 02's three": figures.waves_figure(
            pe, [0, 10, 20], title="Sines of pairs 0, 5 and 10: fast to slow"
        ),
        "waves, the explorer's four": figures.waves_figure(pe, [0, 4, 10, 20]),
        "likeliest tokens": figures.likeliest_tokens_figure(
            probs,
            vocab,
            chosen=2,
            top=4,
            true_probs=probs.flip(0),
            title='After "… and it was": the next token',
        ),
    }


# Chapter 02's three waves kept the legend anchored to the plot's top, in a top margin of one
# row: below 400 px at a slide's text their names wrap onto a second row, which reached 13 px
# into the title (an expected failure in round 40). They hang from under the title now.
CHARTS = list(above_plot_charts())


@pytest.fixture(scope="module")
def page(browser):
    """A tab of the run's one Chromium with plotly.js loaded."""
    from plotly.offline import get_plotlyjs

    tab = browser.new_page(viewport=dict(width=1400, height=900))
    tab.set_content(
        f"<html><body style='margin:0'><div id=f></div><script>{get_plotlyjs()}</script></body></html>"
    )
    yield tab
    tab.close()


def crowding(got: dict) -> list[str]:
    """What the legend runs into: the title, the plot, or past the figure's top.

    A legend taller than plotly lets it be (half the figure) scrolls, and plotly keeps the
    plot at least 64 px tall: there it may cover the plot's top, never the title.
    """
    parts = ("title",) if got["legendScrolls"] else ("title", "plot")
    problems = [
        f"the legend reaches {overlap(got['legend'], got[part]):.0f} px into the {part}"
        for part in parts
        if overlap(got["legend"], got[part]) > 0
    ]
    if got["legend"]["top"] < got["figure"]["top"]:
        problems.append("the legend runs past the figure's top")
    return problems


def test_the_crowding_check_can_fail():
    box = {"left": 0, "right": 100, "top": 40, "bottom": 60}
    clear = {"legend": box, "title": {**box, "top": 10, "bottom": 38}, "legendScrolls": False,
             "plot": {**box, "top": 62, "bottom": 300}, "figure": {**box, "top": 0}}  # fmt: skip
    assert crowding(clear) == []
    assert crowding({**clear, "title": {**box, "top": 10, "bottom": 45}}) != []
    assert crowding({**clear, "plot": {**box, "top": 55, "bottom": 300}}) != []
    assert crowding({**clear, "plot": {**box, "top": 55, "bottom": 300}, "legendScrolls": True}) == []


@pytest.mark.parametrize("name", CHARTS)
@pytest.mark.parametrize("auto", [False, True], ids=["live", "automargin"])
def test_a_legend_above_the_plot_never_runs_into_the_title(page, name, auto):
    fig = above_plot_charts()[name]
    problems = []
    for width, font in itertools.product([*WIDTHS, 600], (PAGE_TEXT_PX, SLIDE_TEXT_PX)):
        got = draw(page, fig, width, font, auto)
        assert got["legend"] and got["title"], f"{name}, {width} px: nothing drawn: {got}"
        problems += [f"{width} px, {font} px text: {p}" for p in crowding(got)]
    assert not problems, f"{name} ({'automargin' if auto else 'live'}): " + "; ".join(problems)


DECK_PLOT_ROOM = 110  # figure_view.js: the px a slide keeps for the plot under a hung legend


def as_the_deck_draws(fig: go.Figure, height: int) -> go.Figure:
    """``fig`` drawn ``height`` px tall, as the deck does (figure_view.js): a legend hung from
    under the title keeps its px from the figure's top, and scrolls where it would leave the
    plot less than DECK_PLOT_ROOM px (keepUnderTitle)."""
    drawn = go.Figure(fig).update_layout(height=height)
    legend, asked = fig.layout.legend, fig.layout.height or 450
    if legend.yref == "container" and legend.yanchor == "top" and legend.y is not None and asked > height:
        top = (1 - legend.y) * asked
        room = max(30, min(height / 2, height - top - DECK_PLOT_ROOM))
        drawn.update_layout(legend_y=max(0, 1 - top / height), legend_maxheight=room)
    return drawn


@pytest.mark.parametrize("name", CHARTS)
def test_a_legend_above_the_plot_clears_the_title_on_the_shortest_slide(page, name):
    """The deck draws a figure as short as DECK_MIN_HEIGHT (figure_view.js) to fit a slide;
    tests/browser/test_figures_round41.py draws one so in the live view itself."""
    fig = as_the_deck_draws(above_plot_charts()[name], DECK_MIN_HEIGHT)
    problems = []
    for width in (400, 1280):
        got = draw(page, fig, width, SLIDE_TEXT_PX, auto=True)
        problems += [f"{width} px: {p}" for p in crowding(got)]
    assert not problems, f"{name} at {DECK_MIN_HEIGHT} px: " + "; ".join(problems)


@pytest.mark.parametrize("height", [0, -5, 2.5, "320", None])
def test_head_legend_names_a_bad_height(height):
    with pytest.raises(ValueError, match="height"):
        head_legend(height)


# --- The live view (static/figure_view.js): panel titles broken onto two lines, clear of the title ---

# A stand-in for the kernel's models (anywidget's model API as figure_view.js uses it), as in
# tests/browser/test_figure_view_redraw.py; every Plotly.relayout that sets the top margin is counted.
VIEW_JS = """
class Model {
  constructor(attrs, manager) { this.attrs = attrs; this.handlers = {}; this.widget_manager = manager; }
  get(key) { return this.attrs[key]; }
  on(event, callback) { (this.handlers[event] ||= []).push(callback); }
  set(key, value) { this.attrs[key] = value; for (const f of this.handlers['change:' + key] || []) f(); }
}
window.__tcModel = Model;
"""
SHOW_JS = """async ([spec, width]) => {
  const el = document.createElement('div');
  el.style.width = width + 'px';
  document.body.appendChild(el);
  const attrs = {_library: 'IPY_MODEL_library', _spec: spec, _revision: 1};
  window.__tcMargins = [];
  await window.__tcView.render({model: new window.__tcModel(attrs, window.__tcManager), el});
  const div = el.querySelector('.tc-figure');
  while (div.dataset.tcRevision !== '1' || div.dataset.tcBusy) await new Promise(r => setTimeout(r, 5));
  const box = e => { const r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const panels = [...div.querySelectorAll('g.annotation[data-index]')]
    .map(g => ({...box(g), lines: g.querySelectorAll('tspan.line').length}));
  const got = {title: box(div.querySelector('.gtitle')), margins: window.__tcMargins, panels};
  el.remove();
  return got;
}"""
COUNT_JS = """async () => {
  const { Plotly } = await globalThis.__tcPlotly, relayout = Plotly.relayout;
  Plotly.relayout = (div, update, ...rest) => {
    if (update && 'margin.t' in update) window.__tcMargins.push(update['margin.t']);
    return relayout.call(Plotly, div, update, ...rest);
  };
}"""


@pytest.fixture(scope="module")
def live(browser):
    """A tab with the live view's module (theme_swap.js, figure_view.js) and plotly.js."""
    import json

    from plotly.offline import get_plotlyjs
    from transformer_course.figures.themes import theme_swap
    from transformer_course.widgets.view import STATIC, view_js

    tab = browser.new_page(viewport={"width": 1300, "height": 900})
    tab.set_content("<html><body data-jp-theme-light='true'></body></html>")
    tab.add_script_tag(content=VIEW_JS)
    tab.add_script_tag(content=view_js() + "\nwindow.__tcView = { render };", type="module")
    tab.wait_for_function("() => window.__tcView")
    library = {
        "source": get_plotlyjs(),
        "config": json.loads((STATIC / "plotly_config.json").read_text(encoding="utf-8")),
        "themes": theme_swap(),
        "css": "",
    }
    tab.evaluate(
        "(library) => { const lib = new window.__tcModel(library, null);"
        " window.__tcManager = { get_model: async () => lib }; }",
        library,
    )
    first = figures.loss_comparison_figure({"a": [1.0, 0.5]})
    tab.evaluate(SHOW_JS, [first.to_json(), 400])  # loads plotly.js
    tab.evaluate(COUNT_JS)
    yield tab
    tab.close()


def qkv(title: str):
    """Chapter 03's Q, K, V chart (d_model = 8, d_k = 4), with the explorer's title."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(5, d, generator=g) for d in (4, 4, 8))
    fig = figures.qkv_figure(q, k, v, ["I'm", "playing", "with", "a", "cat"])
    fig.layout.title.text = title
    return fig


@pytest.mark.parametrize("placed", ["centred in the margin", "at the figure's top"])
@pytest.mark.parametrize("width", [320, 360])
def test_the_live_view_clears_two_line_panel_titles_of_the_title_in_one_relayout(live, placed, width):
    fig = qkv("Q, K, V: 5 tokens × d<sub>k</sub> = 4")
    if placed == "at the figure's top":
        fig.layout.title.update(y=0.98, yref="container", yanchor="top")
    got = live.evaluate(SHOW_JS, [fig.to_json(), width])
    assert any(p["lines"] > 1 for p in got["panels"]), f"{width} px: no panel title was broken: {got}"
    covering = [p for p in got["panels"] if overlap(p, got["title"]) > 0]
    assert not covering, f"{width} px, title {placed}: panel titles {covering} cover the title {got['title']}"
    # A resize puts the sent margin back (titlesAsSent) and fits again: one relayout each time.
    sent, margins = fig.layout.margin.t, got["margins"]
    again = [(a, b) for a, b in zip(margins, margins[1:]) if a != sent and b != sent]
    assert margins and not again, f"{width} px, title {placed}: the top margin grown step by step: {margins}"
