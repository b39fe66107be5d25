"""Head labels on a slide, and plotly's toolbar clear of long titles (live and exported), measured.

1. Presented at 1280 × 720, chapter 09's StoryExplorer drew "Each head's attention from …" with
   its sixteen row labels ("layer 0 head 3") at 12 px, the least figure_view.js shrank them to,
   every other one, beside 20 px prose. On a slide they are now at least 14 px (as many as fit
   that size: every other head there), and a model of one layer says "layer 0" once, in the
   axis's title, its rows "head 3". In JupyterLab the figure keeps its sixteen labels as sent.
   A grid of heads (chapters 05, 07, 08), its words asked at 11 px, drew them at 12 on a slide
   whatever the room: they grow too, every panel keeping the same words.
2. While the mouse is over a figure plotly shows its toolbar at the top right, and it covered
   the end of a long centred title: the title now keeps to the room left of the toolbar, or the
   toolbar stands upright at the right edge where that room is too narrow, live (JupyterLab, a
   slide) and in an exported page (a 400 px window), where the page settles (no relayout loop).
"""

from __future__ import annotations

import json

import nbformat
import pytest
import torch
from transformer_course import export, figures

from .deck import slide_state, start_deck, stop_deck
from .lab import BUILD, open_notebook, run_all, shutdown_kernels, wait_executed
from .test_ch09_deck_round42 import CALL, SETUP
from .test_export_fifth import reader, settle  # noqa: F401 (reader: a fixture)
from .test_export_titles_round40 import COUNT_JS
from .test_slide_crowding import present_until
from .test_slides_sixth import write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SCREEN = {"width": 1280, "height": 720}
NOTEBOOK = "zz_slides_round44.ipynb"
EXPLORER_CELL, LONG_CELL, GRID_CELL = 3, 5, 7
HEADS = 16  # the explorer's model: one layer of sixteen heads (chapter 09's)
READ_PX = 14  # figure_view.js: DECK_ROW_FONT
LONG_TITLE = "A long title that runs across the top of this figure, on to its very end, under the toolbar"
# In a phone's window (a 354 px chart) a title this long fits at 12 px or more left of the upright
# toolbar; LONG_TITLE would not, and stays centred at the size that fits the chart (a phone shows
# the toolbar only while a finger is on the chart).
PHONE_TITLE = "Each head's attention from the prompt's end"
LONG = f"""import torch
from transformer_course import figures

figures.matrix_heatmap(torch.rand(4, 5, generator=torch.Generator().manual_seed(0)), title="{LONG_TITLE}")"""

# A grid of eight heads over eleven words, two a row: its words asked at 11 px (head_grid_figure).
GRID = """import torch
from transformer_course import figures

w = torch.softmax(torch.rand(8, 11, 11, generator=torch.Generator().manual_seed(0)), -1)
figures.head_grid_figure(w, "the cat sat on the mat and then it ate a".split(), columns=2)"""

# Per chart: its title (text, box, px), its toolbar's buttons (their union's box: plotly draws
# them, hidden, before the mouse comes), its row labels (text, box, px) and its y axis's title.
CHARTS_JS = """(root) => [...(root || document).querySelectorAll('.js-plotly-plot')].map(div => {
  const box = el => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const title = div.querySelector('.gtitle');
  const buttons = [...div.querySelectorAll('.modebar-btn')].map(box).filter(b => b.right > b.left);
  const bar = buttons.length ? {left: Math.min(...buttons.map(b => b.left)),
    right: Math.max(...buttons.map(b => b.right)), top: Math.min(...buttons.map(b => b.top)),
    bottom: Math.max(...buttons.map(b => b.bottom))} : null;
  const rows = [...div.querySelectorAll('.ytick text')].filter(t => t.textContent.trim())
    .map(t => ({text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize), ...box(t)}));
  const heading = title && {text: title.textContent, size: parseFloat(getComputedStyle(title).fontSize),
                            ...box(title)};
  return {chart: box(div.querySelector('.main-svg')), title: heading, bar, rows,
          yTitle: (div.querySelector('.ytitle') || {}).textContent || ''};
})"""


def overlap(a: dict, b: dict) -> bool:
    return (
        a["left"] < b["right"] - 0.5
        and b["left"] < a["right"] - 0.5
        and (a["top"] < b["bottom"] - 0.5 and b["top"] < a["bottom"] - 0.5)
    )


def titles_under_toolbars(charts: list[dict]) -> list[str]:
    """The charts whose title the toolbar (shown while the mouse is over it) would cover."""
    return [
        f"{c['title']['text'][:40]!r} ({c['title']['left']:.0f}..{c['title']['right']:.0f} px) "
        f"under the toolbar ({c['bar']['left']:.0f}..{c['bar']['right']:.0f} px)"
        for c in charts
        if c["title"] and c["bar"] and c["title"]["text"].strip() and overlap(c["title"], c["bar"])
    ]


def titles_cut(charts: list[dict]) -> list[str]:
    """The charts whose title reaches past the chart's own box (cut there)."""
    return [
        f"{c['title']['text'][:40]!r} ({c['title']['left']:.0f}..{c['title']['right']:.0f} px) past "
        f"its chart ({c['chart']['left']:.0f}..{c['chart']['right']:.0f} px)"
        for c in charts
        if c["title"]
        and c["title"]["text"].strip()
        and (c["title"]["left"] < c["chart"]["left"] - 1 or c["title"]["right"] > c["chart"]["right"] + 1)
    ]


def head_chart(charts: list[dict]) -> dict:
    found = [c for c in charts if c["title"] and c["title"]["text"].startswith("Each head's attention")]
    assert found, f"no head chart among {[c['title'] for c in charts]}"
    return found[-1]


@pytest.fixture(scope="module")
def notebook(lab):
    cells = [
        nbformat.v4.new_markdown_cell("# Heads and titles"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_markdown_cell("## The model writing"),
        nbformat.v4.new_code_cell(CALL),
        nbformat.v4.new_markdown_cell("## A long title"),
        nbformat.v4.new_code_cell(LONG),
        nbformat.v4.new_markdown_cell("## A grid of heads"),
        nbformat.v4.new_code_cell(GRID),
    ]
    kinds = ["slide", "skip", "slide", "subslide", "slide", "subslide", "slide", "subslide"]
    return write_notebook(lab, NOTEBOOK, cells, kinds)


def on_slide(page, index: int) -> list[dict]:
    present_until(page, index)
    page.wait_for_timeout(800)  # the figures' layout on the new slide
    state = slide_state(page)
    assert index in state["cells"], f"cell {index} is not on the slide: {state}"
    cell = page.locator(".jp-Notebook-cell").nth(index)
    cell.locator(".js-plotly-plot").last.hover()  # the toolbar shown
    page.wait_for_timeout(300)
    return cell.evaluate(CHARTS_JS)


def test_head_labels_and_long_titles_in_jupyterlab_and_on_slides(notebook, lab, browser):
    page = browser.new_page(viewport=SCREEN)
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        open_notebook(page, lab, notebook)
        run_all(page)
        wait_executed(page)
        # JupyterLab: the sixteen heads as sent, the long title clear of the toolbar.
        page.locator(".jp-Notebook-cell").nth(LONG_CELL).locator(".js-plotly-plot").hover()
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots / "round44-lab-long-title.png"))
        charts = page.evaluate(CHARTS_JS)
        heads = head_chart(charts)
        assert [r["text"] for r in heads["rows"]] == [f"layer 0 head {i}" for i in range(HEADS)], heads
        assert not titles_under_toolbars(charts), titles_under_toolbars(charts)
        assert not titles_cut(charts), titles_cut(charts)
        long = [c for c in charts if c["title"] and c["title"]["text"] == LONG_TITLE]
        assert long and long[0]["title"]["size"] >= 13, f"the long title shrank too far: {long}"
        # On a slide: the heads' labels read, the titles clear the toolbar.
        start_deck(page)
        explorer = on_slide(page, EXPLORER_CELL)
        page.screenshot(path=str(shots / "round44-deck-heads.png"))
        heads = head_chart(explorer)
        rows = heads["rows"]
        small = [f"{r['text']!r} at {r['size']} px" for r in rows if r["size"] < READ_PX]
        assert not small, f"head labels smaller than {READ_PX} px on a slide: {small}"
        crowded = [f"{a['text']!r}/{b['text']!r}" for a, b in zip(rows, rows[1:]) if overlap(a, b)]
        assert not crowded, f"head labels on top of each other: {crowded}"
        assert len(rows) >= HEADS // 2, f"fewer than every other head labelled: {[r['text'] for r in rows]}"
        assert all(r["text"].startswith("head ") for r in rows), [r["text"] for r in rows]
        assert "layer 0" in heads["yTitle"], f"the axis no longer says which layer: {heads['yTitle']!r}"
        long = on_slide(page, LONG_CELL)
        page.screenshot(path=str(shots / "round44-deck-long-title.png"))
        under = titles_under_toolbars(explorer + long) + titles_cut(explorer + long)
        assert not under, "\n".join(under)
        # A grid of heads: its words grow as their rows allow, the same in every panel.
        grid = on_slide(page, GRID_CELL)[-1]
        page.screenshot(path=str(shots / "round44-deck-grid.png"))
        words = grid["rows"]
        small = [f"{r['text']!r} at {r['size']} px" for r in words if r["size"] < READ_PX]
        assert not small, f"the grid's words smaller than {READ_PX} px on a slide: {small}"
        panels = [words[i : i + len(words) // 4] for i in range(0, len(words), len(words) // 4)]
        assert len(words) % 4 == 0 and all(
            [r["text"] for r in p] == [r["text"] for r in panels[0]] for p in panels
        ), f"the panels keep different words: {[r['text'] for r in words]}"
    finally:
        stop_deck(page)
        page.close()
        shutdown_kernels(lab)


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    """A long title's figure as an exported page, its output written here (no kernel to run)."""
    fig = figures.matrix_heatmap(torch.rand(4, 5), title=PHONE_TITLE)
    cell = nbformat.v4.new_code_cell(LONG.replace(LONG_TITLE, PHONE_TITLE))
    # As export.execute makes a chart's output static: its <div> and script, plotly.js inlined once.
    chart = export.chart_html(json.loads(fig.to_json()))
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": chart})]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 04 · A long title"), cell])
    target = tmp_path_factory.mktemp("export-round44") / "04_long_title.html"
    target.write_text(export.to_html(nb, "04 · A long title"), encoding="utf-8")
    return target


def test_an_exported_title_clears_the_toolbar_and_settles(page_path, reader):  # noqa: F811
    width = 400  # a phone's window: the title, centred, ran under the toolbar
    r = reader(page_path, width)
    settle(r)
    r.page.locator(".js-plotly-plot").first.hover()
    settle(r)
    (BUILD / "screenshots").mkdir(parents=True, exist_ok=True)
    r.page.screenshot(path=str(BUILD / "screenshots" / "round44-export-400.png"))
    charts = r.page.evaluate(CHARTS_JS)
    assert charts and not titles_under_toolbars(charts), titles_under_toolbars(charts)
    assert not titles_cut(charts), titles_cut(charts)
    assert charts[0]["title"]["size"] >= 12, f"the title shrank too far: {charts[0]['title']}"
    r.page.evaluate(COUNT_JS)
    r.page.wait_for_timeout(1000)
    assert r.page.evaluate("() => window.tcRelayouts") == 0, f"{width} px: still relayouting"
    assert r.clean(), (r.requests, r.errors)


# Each chart's output area: whether it scrolls sideways, the toolbar's way, its container's width.
TOOLBAR_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(d => {
  const area = d.closest('.jp-OutputArea-output'), box = d.querySelector('.modebar-container');
  return {scrolls: area.scrollWidth > area.clientWidth + 1, way: d._fullLayout.modebar.orientation,
          width: box && box.style.width}; })"""


def test_the_toolbar_stood_upright_lies_across_again_in_a_wider_window(page_path, reader):  # noqa: F811
    """Plotly does not give the toolbar's container its width back when it turns across again:
    its buttons stacked in a 0 px box and ran past the chart (an exported chapter 05, 800 px wide
    and then 1280, scrolled sideways by 42 px)."""
    r = reader(page_path, 400)
    settle(r)
    ways = [c["way"] for c in r.page.evaluate(TOOLBAR_JS)]
    assert ways == ["v"], f"the title no longer stands the toolbar up: {ways}"
    r.page.set_viewport_size({"width": 1280, "height": 900})
    settle(r)
    charts = r.page.evaluate(TOOLBAR_JS)
    assert charts == [{"scrolls": False, "way": "h", "width": "100%"}], charts
