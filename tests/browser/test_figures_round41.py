"""Round 41's figure fixes, drawn by plotly.js in the run's one Chromium (``browser``,
tests/conftest.py) at a page's 13 px text and a slide's 16, with plotly's automargin off (the
live view) and on (the export and the deck), as tests/test_legends_round40.py draws them.

3. Chapter 09's progress chart (eight names) at 354-400 px wide: the names took a row each,
   more than the half of the 320 px figure plotly gives a legend, and the legend scrolled over
   the plot's lines (the plot kept 44 px). The figure is now taller by the rows its names take
   at the narrowest page (``base.legend_rows``), and the names never cover a line.
"""

from __future__ import annotations

import itertools

import pytest
from test_depth_charts import PAGE_TEXT_PX, SLIDE_TEXT_PX, draw
from test_legends_round40 import LONG_NAMES, STEPS, live, page  # noqa: F401 (live, page: fixtures)
from transformer_course import figures

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# 354 px: the narrowest exported page the course is read in; 1280: a laptop, a slide.
PROGRESS_WIDTHS = [354, 360, 380, 400, 480, 560, 800, 1024, 1280]


def rising(names: list[str]) -> dict[str, list[float]]:
    """A line per name climbing to 100 % at different rates: some reach the plot's top."""
    return {
        name: [min(1.0, 0.1 + 0.08 * i * (k + 1) / 4) for i in range(len(STEPS))]
        for k, name in enumerate(names)
    }


def progress_charts() -> dict:
    """Chapter 09's chart with the longest names it draws, with its own words, and chapter 08's heads."""
    words = ["stories, a head per word", "stories, one head", "dog", "cat", "girl", "boy", "pizza", "ball"]
    heads = [f"head {h}" for h in range(4)] + ["mean of the heads"]
    return {
        "chapter 09, long names": figures.progress_curves_figure(
            STEPS, rising(LONG_NAMES), title="Held-out: the chosen heads prefer the referent", y_title="%"
        ),
        "chapter 09, its words": figures.progress_curves_figure(
            STEPS, rising(words), title="Held-out: the chosen heads prefer the referent", y_title="%"
        ),
        "chapter 08, heads": figures.progress_curves_figure(
            STEPS,
            rising(heads),
            title='Share of "it"\'s encoder attention on the words after it (held-out)',
            y_title="% of the row's weight",
        ),  # fmt: skip
    }


def covered(got: dict) -> list[str]:
    """How the legend covers the plot: it scrolls, reaches into the plot, or lies on a line's point."""
    legend, plot = got["legend"], got["plot"]
    problems = ["the legend scrolls"] if got["legendScrolls"] else []
    if legend["bottom"] > plot["top"] + 0.5:
        problems.append(f"the legend reaches {legend['bottom'] - plot['top']:.0f} px into the plot")
    under = [y for line in got["lines"] for y in line if legend["top"] - 3 <= y <= legend["bottom"] + 3]
    if under:
        problems.append(f"{len(under)} points of the lines lie under the legend")
    return problems


def test_the_covering_check_can_fail():
    box = {"left": 0, "right": 300, "top": 48, "bottom": 120}
    clear = {
        "legend": box,
        "plot": {**box, "top": 130, "bottom": 300},
        "legendScrolls": False,
        "lines": [[140]],
    }
    assert covered(clear) == []
    assert covered({**clear, "legendScrolls": True}) == ["the legend scrolls"]
    assert covered({**clear, "plot": {**box, "top": 100}})
    assert covered({**clear, "lines": [[140, 110]]}) == ["1 points of the lines lie under the legend"]


@pytest.mark.parametrize("name", list(progress_charts()))
@pytest.mark.parametrize("auto", [False, True], ids=["live", "automargin"])
def test_the_progress_legend_never_covers_the_lines(page, name, auto):  # noqa: F811
    fig = progress_charts()[name]
    problems = []
    for width, font in itertools.product(PROGRESS_WIDTHS, (PAGE_TEXT_PX, SLIDE_TEXT_PX)):
        got = draw(page, fig, width, font, auto)
        assert got["legend"] and got["lines"], f"{name}, {width} px: nothing drawn: {got}"
        problems += [f"{width} px, {font} px text: {p}" for p in covered(got)]
        plot = got["plot"]["bottom"] - got["plot"]["top"]
        if plot < 140:
            problems.append(f"{width} px, {font} px text: the plot keeps only {plot:.0f} px")
    assert not problems, f"{name} ({'automargin' if auto else 'live'}): " + "; ".join(problems)


# The deck (static/figure_view.js, presenting) draws a figure no taller than the slide has room
# for: 220 px at the least. There the live view kept a hung legend's fraction of the height, and
# chapter 09's 470 px chart put its names 22 px from the top, into a 22 px title.
DECK_JS = """async ([spec, width]) => {
  const el = document.createElement('div');
  el.style.width = width + 'px';
  document.body.appendChild(el);
  const attrs = {_library: 'IPY_MODEL_library', _spec: spec, _revision: 1};
  await window.__tcView.render({model: new window.__tcModel(attrs, window.__tcManager), el});
  const div = el.querySelector('.tc-figure');
  while (div.dataset.tcRevision !== '1' || div.dataset.tcBusy) await new Promise(r => setTimeout(r, 5));
  const box = sel => {
    const e = div.querySelector(sel), r = e && e.getBoundingClientRect();
    return r && {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
  };
  const got = {title: box('.gtitle'), legend: box('.legend rect.bg'), figure: box('.main-svg'),
               height: div._fullLayout && div._fullLayout.height};
  el.remove();
  return got;
}"""


@pytest.mark.parametrize("width", [400, 1280])
def test_on_the_shortest_slide_the_live_view_keeps_the_legend_under_the_title(live, width):  # noqa: F811
    from test_depth_charts import overlap

    fig = progress_charts()["chapter 09, long names"]
    assert fig.layout.height > 220, "the chart must be taller than the slide draws it"
    live.set_viewport_size({"width": 1300, "height": 220 + 56})  # figure_view.js: DECK_MARGIN
    live.evaluate("() => { document.body.dataset.jpDeckMode = 'presenting'; }")
    try:
        got = live.evaluate(DECK_JS, [fig.to_json(), width])
    finally:
        live.evaluate("() => { delete document.body.dataset.jpDeckMode; }")
        live.set_viewport_size({"width": 1300, "height": 900})
    assert got["height"] == 220 and got["legend"] and got["title"], f"{width} px: not drawn at 220 px: {got}"
    assert overlap(got["legend"], got["title"]) <= 0, f"{width} px: the legend runs into the title: {got}"
    assert got["legend"]["bottom"] <= got["figure"]["bottom"] - 60, (
        f"{width} px: no room left for the plot: {got}"
    )
