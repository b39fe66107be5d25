"""Chapter 05 presented at 1280 × 720: a chart squeezed by what shared its slide.

Chapter 05's chart of the three trained heads' jobs shared its slide with a 14-line code cell and
three printed lines, so the deck fitted it into about 200 px: the 0.99 over head 1's tallest bar
stood above the plot area and plotly cut it in half. On a slide of its own the chart keeps the
height it asks for, and every bar's value lies inside the plot area.
"""

from __future__ import annotations

import pytest

from .deck import press, start_deck, stop_deck
from .lab import open_notebook, run_all, shutdown_kernels, wait_executed

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SCREEN = {"width": 1280, "height": 720}
MAX_STEPS = 80
JOBS = ("05_multi_head_attention.ipynb", "Mean weight on each target")  # figures.head_jobs_figure

# The chart titled ``title`` on screen, if it is: its plot areas and bar values, as drawn.
CHART_JS = """(title) => {
  const div = [...document.querySelectorAll('.jp-deck-mod-onscreen .js-plotly-plot')]
      .find(d => (d.querySelector('.gtitle') || {}).textContent?.startsWith(title));
  if (!div) return null;
  const box = el => { const r = el.getBoundingClientRect();
      return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  // plotly's drag rectangles cover exactly the plot areas (inside the axes)
  return {plots: [...div.querySelectorAll('.draglayer .nsewdrag')].map(box),
          values: [...div.querySelectorAll('.bartext')].map(t => ({text: t.textContent, ...box(t)}))};
}"""


def _chart_on_its_slide(lab, browser, notebook: str, title: str) -> dict:
    """Present ``notebook`` from its first cell, Space until the chart ``title`` is on screen and
    fitted to its slide; what CHART_JS measures of it."""
    page = browser.new_page(viewport=SCREEN)
    try:
        open_notebook(page, lab, notebook)
        run_all(page)
        wait_executed(page)
        start_deck(page)
        for _ in range(MAX_STEPS):
            if page.evaluate(CHART_JS, title):
                page.wait_for_timeout(800)  # the deck fits the figure to its slide, plotly redraws
                return page.evaluate(CHART_JS, title)
            press(page, "Space")
        raise AssertionError(f"{notebook}: the chart {title!r} never came on screen in {MAX_STEPS} steps")
    finally:
        stop_deck(page)
        page.close()
        shutdown_kernels(lab)


def test_every_bar_value_of_the_head_jobs_chart_is_inside_its_plot(lab, browser):
    chart = _chart_on_its_slide(lab, browser, *JOBS)
    plot = chart["plots"][0]
    assert len(chart["values"]) >= 9, f"3 heads × 3 jobs and more: values drawn {chart['values']}"
    cut = [
        (v["text"], round(plot["top"] - v["top"]))
        for v in chart["values"]
        if v["top"] < plot["top"] - 1 or v["bottom"] > plot["bottom"] + 1
    ]
    assert not cut, (
        f"bar values drawn past the plot area of {JOBS[1]!r} (text, px over its top): {cut}; "
        f"plot area {round(plot['bottom'] - plot['top'])} px tall"
    )
