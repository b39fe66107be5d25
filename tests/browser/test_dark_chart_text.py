"""The numbers plotly prints inside heatmap cells read at 4.5:1 against their own cell, in
JupyterLab Dark and Light.

Plotly colours them #444 or white from a brightness threshold: on the mid blues of a weight
heatmap that was 3.1 to 4.4:1 (chapter 07's attention maps, chapter 09's table of heads).
static/theme_swap.js (readableCellText) paints each black or white, whichever contrasts more.
Measured from the pixels: each figure is screenshotted again with its text hidden, and each
label's colour is compared with the median pixel behind it. TC_CELL_TEXT=07_,09_ picks the
chapters (default 07_: a minute).
"""

from __future__ import annotations

import base64
import os

import pytest

from .lab import CHAPTERS, open_notebook, run_all, wait_executed
from .test_theme import close_in_light, set_theme

pytestmark = pytest.mark.browser

PREFIXES = tuple(os.environ.get("TC_CELL_TEXT", "07_").split(","))
CHOSEN = [p for p in sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb")) if p.stem.startswith(PREFIXES)]
AA = 4.5

LABELS_JS = """(fig) => { const box = fig.getBoundingClientRect();
  return [...fig.querySelectorAll('g.heatmap-label text')].filter(t => t.textContent.trim()).map(t => {
    const r = t.getBoundingClientRect(), m = getComputedStyle(t).fill.match(/[\\d.]+/g).map(Number);
    return {text: t.textContent.trim(), fill: m.slice(0, 3),
            box: [r.left - box.left, r.top - box.top, r.right - box.left, r.bottom - box.top]
                 .map(Math.round)};
  }); }"""
HIDE_JS = """(fig, hide) => { for (const t of fig.querySelectorAll('svg text'))
    t.style.visibility = hide ? 'hidden' : ''; }"""
# Per label: the median over the pixels of its box of the contrast of its colour with each pixel.
RATIOS_JS = """async ([png, labels]) => {
  const img = new Image(); img.src = 'data:image/png;base64,' + png; await img.decode();
  const cv = document.createElement('canvas'); cv.width = img.width; cv.height = img.height;
  const ctx = cv.getContext('2d'); ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = (r, g, b) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return labels.map(({fill, box: [x0, y0, x1, y1]}) => {
    const text = lum(...fill), ratios = [];
    for (let y = Math.max(0, y0); y < Math.min(img.height, y1); y++)
      for (let x = Math.max(0, x0); x < Math.min(img.width, x1); x++) {
        const i = 4 * (y * img.width + x), behind = lum(data[i], data[i + 1], data[i + 2]);
        ratios.push((Math.max(text, behind) + 0.05) / (Math.min(text, behind) + 0.05));
      }
    ratios.sort((a, b) => a - b);
    return ratios.length ? ratios[Math.floor(ratios.length / 2)] : null;
  }); }"""


def cell_text_contrast(page) -> list[tuple[float, str, int]]:
    """(ratio, label, figure) for every number printed in a heatmap cell on the page."""
    found = []
    figures = page.locator(".tc-figure")
    for i in range(figures.count()):
        fig = figures.nth(i)
        if not fig.locator("g.heatmap-label text").count():
            continue
        fig.scroll_into_view_if_needed()
        page.wait_for_timeout(100)
        labels = fig.evaluate(LABELS_JS)
        fig.evaluate(HIDE_JS, True)
        try:
            bare = base64.b64encode(fig.screenshot()).decode()
        finally:
            fig.evaluate(HIDE_JS, False)
        ratios = page.evaluate(RATIOS_JS, [bare, labels])
        found += [(r, lab["text"], i) for r, lab in zip(ratios, labels) if r is not None]
    return found


@pytest.fixture(scope="module", params=CHOSEN, ids=[p.stem[:2] for p in CHOSEN])
def chapter(request, lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_notebook(page, lab, request.param.name)
        run_all(page)
        wait_executed(page)
        yield page
    finally:
        close_in_light(page, lab)


@pytest.mark.parametrize("theme, light", [("JupyterLab Dark", False), ("JupyterLab Light", True)])
def test_numbers_in_heatmap_cells_read_at_4_5_to_1(chapter, theme, light):
    set_theme(chapter, theme, light)
    measured = cell_text_contrast(chapter)
    assert len(measured) >= 20, f"{theme}: expected numbers printed in heatmap cells, found {len(measured)}"
    low = sorted(m for m in measured if m[0] < AA)
    assert not low, f"{theme}: {len(low)} cell numbers under {AA}:1, lowest " + ", ".join(
        f"{text!r} in figure {fig} at {ratio:.2f}:1" for ratio, text, fig in low[:5]
    )


# A bare page: plotly and the course's theme_swap.js, one heatmap whose colours come from a
# reversed scale or from a shared colour axis, then readableCellText; the fill of each number.
CELL_FILLS = """async ([layout, trace]) => {
  const div = document.getElementById('chart');
  await Plotly.newPlot(div, [trace], layout);
  readableCellText(div);
  return [...div.querySelectorAll('g.heatmap-label text')].map(t => getComputedStyle(t).fill);
}"""
BLACK, WHITE = "rgb(0, 0, 0)", "rgb(255, 255, 255)"


PALE_TO_DARK = [[0, "#ffffff"], [1, "#08306b"]]  # white at 0, dark navy at 1


@pytest.mark.parametrize(
    "layout, trace",
    [
        ({}, dict(colorscale=PALE_TO_DARK, reversescale=True)),  # reversed: 0 dark, 1 white
        ({"coloraxis": {"colorscale": PALE_TO_DARK, "reversescale": True}}, dict(coloraxis="coloraxis")),
    ],
    ids=["reversescale", "coloraxis"],
)
def test_cell_numbers_follow_a_reversed_scale_and_a_colour_axis(browser, layout, trace):
    """The cell's colour is read from the scale as plotly draws it: reversed where reversescale
    is set (it was read unreversed: white on the palest cell at 1.4:1), and from the shared
    colour axis where the trace has one (it was left to plotly's cutoff)."""
    from plotly.offline import get_plotlyjs
    from transformer_course.export.charts import STATIC

    page = browser.new_page()
    try:
        page.set_content('<div id="chart" style="width:600px;height:300px"></div>')
        page.add_script_tag(content=get_plotlyjs())
        page.add_script_tag(content=(STATIC / "theme_swap.js").read_text())
        heatmap = dict(type="heatmap", z=[[0.0, 1.0]], texttemplate="%{z:.2f}", **trace)
        fills = page.evaluate(CELL_FILLS, [layout, heatmap])
        assert fills == [WHITE, BLACK], fills  # 0: the dark cell, 1: the white one
    finally:
        page.close()
