"""Plotly's toolbar never covers a figure's title, in JupyterLab (round 42's second polish).

Plotly's toolbar (its modebar: zoom, pan, download) sits in each figure's top right corner, over
the top margin. At 1280 px chapter 09's StoryExplorer drew its bar chart's title under it: "Token
1: the likeliest next t[toolbar]kens". Now, where a title meets the toolbar, the top margin grows
and the title goes below the toolbar (figure_view.js: clearOfToolbar); the figure keeps its
height. Checked in chapter 09's StoryExplorer and chapter 08's GenerationExplorer, light and dark,
in a wide window (1280 px) and a phone's (390 px).

Also: chapter 08's "source" box keeps its label beside it, as wide as its word (not a 130 px
column) in a phone's window, and its row at 1280 px keeps the box 260 px wide.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .lab import open_notebook, run_all, shutdown_kernels, wait_executed
from .test_polish_round42 import NOTEBOOK, PHONE, WIDE, notebook  # noqa: F401 (a fixture)
from .test_theme import set_theme

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SHOTS = Path("/work/notes/s42/polish2")

# Each figure's title and toolbar boxes (the toolbar is there, see-through, until hovered).
TITLES_JS = """() => [...document.querySelectorAll('.tc-explorer .tc-figure')].map(d => {
  const box = el => { if (!el) return null; const r = el.getBoundingClientRect();
    return r.width ? {left: r.left, right: r.right, top: r.top, bottom: r.bottom} : null; };
  return {title: d.querySelector('.gtitle')?.textContent || '', title_box: box(d.querySelector('.gtitle')),
          toolbar: box(d.querySelector('.modebar')), height: d.getBoundingClientRect().height,
          asked: d.layout?.height ?? null, drawn: d._fullLayout?.height ?? null};
})"""
SOURCE_JS = """() => { const box = [...document.querySelectorAll('.tc-explorer .widget-text')]
    .find(b => b.querySelector('.widget-label')?.textContent.trim() === 'source');
  const r = el => el.getBoundingClientRect();
  const label = box.querySelector('.widget-label'), words = document.createRange();
  words.selectNodeContents(label);
  return {box: r(box).width, label: r(label).width, words: words.getBoundingClientRect().width,
          input: r(box.querySelector('input')).width}; }"""


@pytest.fixture
def page(browser, lab):
    page = browser.new_page(viewport=WIDE)
    yield page
    page.close()
    shutdown_kernels(lab)


def shown(page, lab, viewport: dict, light: bool, shot: str) -> list[dict]:
    """Runs both explorers in a window of ``viewport``, in the light or dark theme; their figures."""
    page.set_viewport_size(viewport)
    open_notebook(page, lab, NOTEBOOK)
    if not light:
        set_theme(page, "JupyterLab Dark", light=False)
    run_all(page)
    wait_executed(page)
    page.wait_for_function(
        "() => document.querySelectorAll('.tc-figure').length >= 2 && [...document.querySelectorAll("
        "'.tc-figure')].every(d => d.dataset.tcRevision && d.dataset.tcBusy !== '1')",
        timeout=60_000,
    )
    page.locator(".jp-Notebook").first.click()  # command mode: Ctrl+B reaches the lab
    page.keyboard.press("Control+b")  # the file browser off: the notebook takes the window
    page.wait_for_timeout(1200)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for i, explorer in enumerate(page.locator(".tc-explorer").all()):
        explorer.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / f"{shot}-{i}.png"))
    figures = page.evaluate(TITLES_JS)
    if not light:
        set_theme(page, "JupyterLab Light", light=True)  # as the next test expects the lab
    return figures


def under_toolbar(figures: list[dict]) -> list[str]:
    def meet(a, b):
        return (
            a["left"] < b["right"] - 1
            and b["left"] < a["right"] - 1
            and a["top"] < b["bottom"] - 1
            and (b["top"] < a["bottom"] - 1)
        )

    return [
        f"{f['title']!r}: title {f['title_box']}, toolbar {f['toolbar']}"
        for f in figures
        if f["title_box"] and f["toolbar"] and meet(f["title_box"], f["toolbar"])
    ]


@pytest.mark.parametrize(
    ("viewport", "light", "shot"),
    [
        (WIDE, True, "light-1280"),
        (WIDE, False, "dark-1280"),
        (PHONE, True, "light-390"),
        (PHONE, False, "dark-390"),
    ],
)
def test_no_figure_title_runs_under_the_toolbar(page, lab, notebook, viewport, light, shot):  # noqa: F811
    figures = shown(page, lab, viewport, light, shot)
    titles = [f["title"] for f in figures]
    assert any("likeliest next" in t for t in titles), titles  # chapter 09's bar chart is there
    assert len(figures) >= 3, titles  # and chapter 08's figures
    covered = under_toolbar(figures)
    assert not covered, f"{shot}: titles under plotly's toolbar: {covered}"
    # The figures keep the height they ask for (the plot gives the margin's room).
    changed = [
        f"{f['title']!r}: {f['drawn']} px, asked {f['asked']}"
        for f in figures
        if f["asked"] and f["drawn"] != f["asked"]
    ]
    assert not changed, changed


def test_the_source_label_is_as_wide_as_its_word(page, lab, notebook):  # noqa: F811
    for viewport in (PHONE, WIDE):
        page.set_viewport_size(viewport)
        open_notebook(page, lab, NOTEBOOK)
        run_all(page)
        wait_executed(page)
        source = page.evaluate(SOURCE_JS)
        # The label as wide as its word and its padding, no fixed column (ipywidgets' 80 px, 130 on a slide).
        assert source["label"] <= source["words"] + 12, (
            f"{viewport['width']} px: the 'source' label takes {source}"
        )
        assert source["input"] > 0.6 * source["box"], f"{viewport['width']} px: {source}"
    # 1280 px: the box keeps its 260 px, the label its word's width and the field the rest.
    assert abs(source["box"] - 260) <= 1, f"1280 px: the box is no longer 260 px: {source}"
