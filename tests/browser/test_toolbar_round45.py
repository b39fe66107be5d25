"""Plotly's toolbar stood upright stays off the plot, live and exported, measured.

Where a long title leaves too little room left of plotly's toolbar, the toolbar stands upright
along the chart's right edge (static/column_labels.js: titleRoom). Shown while the mouse is over
the chart, it covered the plot's top right corner there: a heatmap's cell in JupyterLab's narrow
window, the end of chapter 09's bars on a slide, a cell of an exported heatmap in a phone's
window (64 px of it, before), and, once a slider drew the figure again, the end of chapter 09's
bars on a slide (16 px): plotly then lays the toolbar out anew in a container 0 px wide, its
buttons in one column running past the chart's edge. The plot area (each subplot's
``.nsewdrag``) and a colour bar now keep left of it, its buttons inside the chart, the mouse
still reaches the plot under its container, and the right margin is the figure's own again once
the toolbar lies across.
"""

from __future__ import annotations

import nbformat
import pytest
import torch
from transformer_course import figures

from .deck import slide_state, start_deck, stop_deck
from .lab import BUILD, open_notebook, run_all, shutdown_kernels, wait_executed
from .test_ch09_deck_round42 import CALL, SETUP
from .test_export_fifth import reader, settle  # noqa: F401 (reader: a fixture)
from .test_export_titles_round40 import COUNT_JS
from .test_slide_crowding import present_until
from .test_slides_round44 import LONG, page_path  # noqa: F401 (page_path: a fixture)
from .test_slides_sixth import write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SCREEN = {"width": 1280, "height": 720}
NARROW = {"width": 560, "height": 800}  # JupyterLab in half a laptop's screen
WIDE = {"width": 1920, "height": 1080}  # room for the long title left of the toolbar across
NOTEBOOK = "zz_toolbar_round45.ipynb"
EXPLORER_CELL, LONG_CELL = 3, 5
SHOTS = BUILD / "screenshots"
OWN_R = figures.matrix_heatmap(torch.rand(4, 5), title="t").layout.margin.r  # the long title's figure's

# Per chart: the toolbar's way and its buttons' union (plotly lays them out, hidden, before the
# mouse comes), and what it must not cover: each subplot's plot area and each colour bar.
PARTS_JS = """(root) => [...(root || document).querySelectorAll('.js-plotly-plot')].map(d => {
  const box = r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom});
  const buttons = [...d.querySelectorAll('.modebar-btn')].map(b => b.getBoundingClientRect())
    .filter(r => r.width > 0);
  const bar = buttons.length ? {left: Math.min(...buttons.map(b => b.left)),
    right: Math.max(...buttons.map(b => b.right)), top: Math.min(...buttons.map(b => b.top)),
    bottom: Math.max(...buttons.map(b => b.bottom))} : null;
  const parts = [...d.querySelectorAll('.nsewdrag, .colorbar')]
    .map(e => ({kind: e.classList.contains('colorbar') ? 'colour bar' : 'plot',
                ...box(e.getBoundingClientRect())}))
    .filter(p => p.right > p.left);
  return {title: (d.querySelector('.gtitle') || {}).textContent || '', way: d._fullLayout.modebar.orientation,
          chart: box(d.querySelector('.main-svg').getBoundingClientRect()),
          bar, parts, marginR: d._fullLayout.margin.r, asked: (d.layout.margin || {}).r ?? null,
          grown: d._tcToolbarMargin || null};
})"""


# What the mouse reaches at the plot's top right corner, under the upright toolbar's container.
UNDER_MOUSE_JS = """() => { const r = document.querySelector('.nsewdrag').getBoundingClientRect();
  const hit = document.elementFromPoint(r.right - 2, r.top + 2);
  return hit && hit.classList.contains('nsewdrag') ? 'plot' : (hit && hit.outerHTML.slice(0, 80)); }"""


def covered(a: dict, b: dict) -> float:
    """Pixels across that ``a`` covers of ``b`` where the two share rows, 0 when apart."""
    if a["top"] >= b["bottom"] - 0.5 or b["top"] >= a["bottom"] - 0.5:
        return 0.0
    return max(0.0, min(a["right"], b["right"]) - max(a["left"], b["left"]))


def under_upright_toolbars(charts: list[dict]) -> list[str]:
    """Each part of a chart that its upright toolbar covers, and by how many px."""
    return [
        f"{c['title'][:40]!r}: its {p['kind']} ({p['left']:.0f}..{p['right']:.0f} px) under the upright "
        f"toolbar ({c['bar']['left']:.0f}..{c['bar']['right']:.0f} px) by {covered(c['bar'], p):.1f} px"
        for c in charts
        if c["way"] == "v" and c["bar"]
        for p in c["parts"]
        if covered(c["bar"], p) > 0.5
    ]


def past_the_chart(charts: list[dict]) -> list[str]:
    """The charts whose toolbar runs past their own right edge (cut off by the page)."""
    return [
        f"{c['title'][:40]!r}: toolbar ({c['bar']['left']:.0f}..{c['bar']['right']:.0f} px) past the chart "
        f"({c['chart']['left']:.0f}..{c['chart']['right']:.0f} px)"
        for c in charts
        if c["bar"] and c["bar"]["right"] > c["chart"]["right"] + 0.5
    ]


def upright(charts: list[dict]) -> list[dict]:
    return [c for c in charts if c["way"] == "v" and c["bar"]]


@pytest.fixture(scope="module")
def notebook(lab):
    cells = [
        nbformat.v4.new_markdown_cell("# The toolbar"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_markdown_cell("## The model writing"),
        nbformat.v4.new_code_cell(CALL),
        nbformat.v4.new_markdown_cell("## A long title"),
        nbformat.v4.new_code_cell(LONG),
    ]
    kinds = ["slide", "skip", "slide", "subslide", "slide", "subslide"]
    return write_notebook(lab, NOTEBOOK, cells, kinds)


def shown(page, cell: int, chart: int = -1) -> list[dict]:
    """The cell's charts measured with the mouse over one of them (its toolbar shown)."""
    where = page.locator(".jp-Notebook-cell").nth(cell)
    where.locator(".js-plotly-plot").nth(chart).hover()
    page.wait_for_timeout(400)
    return where.evaluate(PARTS_JS)


def test_the_upright_toolbar_clears_the_plot_in_jupyterlab_and_on_slides(notebook, lab, browser):
    page = browser.new_page(viewport=NARROW)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        open_notebook(page, lab, notebook)
        run_all(page)
        wait_executed(page)
        page.locator(".jp-Notebook-cell").nth(LONG_CELL).scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        charts = shown(page, LONG_CELL)
        page.screenshot(path=str(SHOTS / "round45-lab-narrow.png"))
        assert upright(charts), f"the long title no longer stands the toolbar up at 560 px: {charts}"
        assert not under_upright_toolbars(charts), "\n".join(under_upright_toolbars(charts))
        # Wide: the toolbar lies across and the plot has its own right margin back.
        page.set_viewport_size(WIDE)
        page.wait_for_timeout(1500)
        wide = shown(page, LONG_CELL)
        assert [(c["way"], c["asked"]) for c in wide] == [("h", OWN_R)], wide
        # On a slide: the explorer's charts, a third of the slide each.
        page.set_viewport_size(SCREEN)
        start_deck(page)
        present_until(page, EXPLORER_CELL)
        page.wait_for_timeout(1000)
        assert EXPLORER_CELL in slide_state(page)["cells"]
        slide = shown(page, EXPLORER_CELL)
        page.screenshot(path=str(SHOTS / "round45-deck-explorer.png"))
        assert upright(slide), f"no chart on the slide stands its toolbar up: {slide}"
        assert not under_upright_toolbars(slide), "\n".join(under_upright_toolbars(slide))
        assert not past_the_chart(charts + slide), past_the_chart(charts + slide)
        # Another token looked at: every chart drawn again, its toolbar's way as fitted (plotly then
        # lays the upright toolbar out anew, in columns as tall as the figure).
        explorer = page.locator(".jp-Notebook-cell").nth(EXPLORER_CELL)
        explorer.locator(".widget-slider .noUi-handle").last.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(1500)
        moved = shown(page, EXPLORER_CELL, 0)
        page.screenshot(path=str(SHOTS / "round45-deck-explorer-moved.png"))
        assert [c["title"] for c in moved] != [c["title"] for c in slide], "the slider redrew nothing"
        assert upright(moved), f"no chart on the slide stands its toolbar up: {moved}"
        assert not under_upright_toolbars(moved), "\n".join(under_upright_toolbars(moved))
        assert not past_the_chart(moved), past_the_chart(moved)
    finally:
        stop_deck(page)
        page.close()
        shutdown_kernels(lab)


def test_an_exported_upright_toolbar_clears_the_plot_and_settles(page_path, reader):  # noqa: F811
    r = reader(page_path, 400)  # a phone's window: the title stands the toolbar up
    settle(r)
    r.page.locator(".js-plotly-plot").first.hover()
    settle(r)
    SHOTS.mkdir(parents=True, exist_ok=True)
    r.page.screenshot(path=str(SHOTS / "round45-export-400.png"))
    charts = r.page.evaluate(PARTS_JS)
    assert upright(charts), f"the title no longer stands the toolbar up at 400 px: {charts}"
    assert not under_upright_toolbars(charts), "\n".join(under_upright_toolbars(charts))
    assert not past_the_chart(charts), past_the_chart(charts)
    assert r.page.evaluate(UNDER_MOUSE_JS) == "plot", "the toolbar's container takes the mouse off the plot"
    r.page.evaluate(COUNT_JS)
    r.page.wait_for_timeout(1000)
    assert r.page.evaluate("() => window.tcRelayouts") == 0, "400 px: still relayouting"
    # Wider: the toolbar lies across, and the margin is the figure's own again.
    r.page.set_viewport_size({"width": 1280, "height": 900})
    settle(r)
    wide = r.page.evaluate(PARTS_JS)
    assert [(c["way"], c["asked"]) for c in wide] == [("h", OWN_R)], wide
    assert r.clean(), (r.requests, r.errors)
