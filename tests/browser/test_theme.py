"""JupyterLab Light and Dark: a chapter's figures follow the theme and every text of its
explorers reads at a contrast of at least 4.5:1 (WCAG AA), measured from computed styles;
and nothing in the live lab's chart toolbars shares, uploads or links out.

Runs chapter 06 (an explorer with an info line, a table with a highlighted row, live
figures, figures of cells; TC_THEMES=all measures every chapter, TC_THEMES=02_,07_ the ones
named); chapter 09 (the story explorer, the live loss curve, the head grid, the pointer
figures) is measured with these functions by test_chapter09_once.py, on the page the deck's
checks ran. Each switches the theme from JupyterLab's Settings menu, measures, and leaves a
screenshot of each theme in build/screenshots/ (theme-06-dark.png, theme-06-light.png, …).
"""

from __future__ import annotations

import json
import os
import re

import pytest

from .lab import BUILD, CHAPTERS, open_notebook, run_all, shutdown_kernels, wait_executed
from .test_export_offline import TOOLBARS

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
# Chapter 09 is always measured, by test_chapter09_once.py on its one executed page.
PREFIXES = os.environ.get("TC_THEMES", "06_")
THEMED = [
    p
    for p in NOTEBOOKS
    if (PREFIXES == "all" or p.stem.startswith(tuple(PREFIXES.split(",")))) and not p.stem.startswith("09_")
]
AA = 4.5
UNKNOWN = "zzqx"  # a word no vocabulary has: the explorer says so in its info line

# Contrast (WCAG 2) of text against what is really behind it: background colours of the
# element and its ancestors composited (alpha included) up to the first opaque one, the
# text's own colour composited over that.
CONTRAST_JS = """() => {
  const LABELS = '.gtitle, .xtick text, .ytick text, .g-xtitle text, .g-ytitle text, .legendtext, '
               + '.annotation-text, .cbaxis text';
  const parse = s => { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const over = (top, bottom) => ({r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a), b: top.b * top.a + bottom.b * (1 - top.a), a: 1});
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = c => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05); };
  const behind = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
    return layers.reverse().reduce((acc, c) => over(c, acc), {r: 255, g: 255, b: 255, a: 1}); };
  const html = (selector) => [...document.querySelectorAll(selector)]
    .filter(el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
    .map(el => { const bg = behind(el), fg = over(parse(getComputedStyle(el).color), bg);
      return {text: el.textContent.trim().slice(0, 40), ratio: ratio(fg, bg)}; });
  const svg = [...document.querySelectorAll('.tc-figure')].flatMap(fig => {
    const paper = fig.querySelector('.main-svg'); if (!paper) return [];
    const none = {r: 255, g: 255, b: 255, a: 0};
    const bg = over(parse(getComputedStyle(paper).backgroundColor) || none, behind(fig));
    return [...fig.querySelectorAll(LABELS)].filter(t => t.textContent.trim()).map(t => {
      const s = getComputedStyle(t), c = parse(s.fill); c.a *= Number(s.fillOpacity || 1);
      return {text: t.textContent.trim().slice(0, 40), ratio: ratio(over(c, bg), bg), paper: lum(bg)}; }); });
  // Lines drawn over the data (a current step, a picked row, a reference line): against the
  // paper, as non-text graphics (WCAG's 3:1).
  const lines = [...document.querySelectorAll('.tc-figure')].flatMap(fig => {
    const paper = fig.querySelector('.main-svg'); if (!paper) return [];
    const none = {r: 255, g: 255, b: 255, a: 0};
    const bg = over(parse(getComputedStyle(paper).backgroundColor) || none, behind(fig));
    return [...fig.querySelectorAll('.shapelayer path')].map(p => {
      const c = parse(getComputedStyle(p).stroke); if (!c) return null;
      c.a *= Number(getComputedStyle(p).strokeOpacity || 1);
      return c.a > 0 ? {text: 'a line over the data', ratio: ratio(over(c, bg), bg)} : null;
    }).filter(Boolean); });
  return {info: html('.tc-message, .tc-message *'), highlighted: html('.tc-highlight, .tc-highlight *'),
          tables: html('.tc-explorer table, .tc-explorer table *'), figures: svg, lines};
}"""


def close_in_light(page, lab) -> None:
    """Close a chapter's page and its kernels, the lab set back to Light first if a test left it
    Dark: the lab's settings outlive the test."""
    try:
        if page.evaluate("document.body.dataset.jpThemeLight") == "false":
            set_theme(page, "JupyterLab Light", True)
    finally:
        page.close()
        shutdown_kernels(lab)


def set_theme(page, name: str, light: bool) -> None:
    """Settings → Theme → ``name``, as a learner would; waits for every figure to repaint."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=name).first.click()
    page.wait_for_selector(f"body[data-jp-theme-light='{str(light).lower()}']", state="attached")
    mode = "light" if light else "dark"
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('.tc-figure')]
            .every(d => (d.dataset.tcMode || '').startsWith('{mode}') && d.dataset.tcBusy !== '1')""",
        timeout=20_000,
    )
    page.wait_for_timeout(500)  # the theme's stylesheet settles


def worst(measured: dict) -> dict:
    return {kind: min(items, key=lambda m: m["ratio"]) if items else None for kind, items in measured.items()}


@pytest.fixture(scope="module", params=THEMED, ids=[p.stem[:2] for p in THEMED])
def chapter(request, lab, browser):
    notebook = request.param
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_notebook(page, lab, notebook.name)
        run_all(page)
        wait_executed(page)
        ready_to_measure(page, notebook.stem[:2])
        yield page
    finally:
        close_in_light(page, lab)


def ready_to_measure(page, chapter: str) -> None:
    """The executed chapter on ``page`` in a 1400 × 1000 window, an unknown word typed into its
    explorer's box if it has one (a message in the info line, to be measured too)."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.tc_chapter = chapter
    explorer = page.locator(".tc-explorer").last  # the chapter's own, after any exercise
    box = explorer.locator("textarea, input[type='text']").first
    page.tc_typed = bool(box.count())
    if page.tc_typed:
        lines = box.input_value().split("\n")
        box.fill("\n".join([f"{lines[0]} {UNKNOWN}", *lines[1:]]))
        box.press("Tab")
        messages = "[...document.querySelectorAll('.tc-message')]"
        said = f"{messages}.some(m => m.textContent.includes('{UNKNOWN}'))"
        page.wait_for_function(f"() => {said}", timeout=20_000)
    explorer.scroll_into_view_if_needed()


@pytest.mark.parametrize("theme, light", [("JupyterLab Dark", False), ("JupyterLab Light", True)])
def test_text_and_figures_read_at_4_5_to_1(chapter, theme, light):
    text_and_figures_read(chapter, theme, light)


def text_and_figures_read(page, theme: str, light: bool) -> None:
    """``theme`` set from the Settings menu on ``page`` (made ready_to_measure): every text of
    the explorers reads at 4.5:1, every line over the data at 3:1, the figures took the theme."""
    set_theme(page, theme, light)
    measured = page.evaluate(CONTRAST_JS)
    least = worst(measured)
    report = {k: (round(v["ratio"], 2), v["text"]) if v else None for k, v in least.items()}
    print(f"\n{theme}: lowest contrast {report}")
    BUILD.mkdir(exist_ok=True)
    path = BUILD / "browser-contrast.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[f"{page.tc_chapter} {theme}"] = report
    path.write_text(json.dumps(saved, indent=2) + "\n")
    page.locator(".tc-explorer").last.scroll_into_view_if_needed()
    (BUILD / "screenshots").mkdir(parents=True, exist_ok=True)
    shot = f"theme-{page.tc_chapter}-{'light' if light else 'dark'}.png"
    page.screenshot(path=str(BUILD / "screenshots" / shot))
    wanted = ["figures"] + ["info"] * page.tc_typed + ["highlighted"] * (page.tc_chapter == "06")
    for kind in wanted:
        assert measured[kind], f"{theme}: nothing of kind {kind} on the page to measure"
    for kind, item in least.items():
        need = 3.0 if kind == "lines" else AA  # graphics: 3:1; text: 4.5:1
        assert item is None or item["ratio"] >= need, (
            f"{theme}: {kind} text {item['text']!r} at {item['ratio']:.2f}:1"
        )
    papers = {round(m["paper"], 3) for m in measured["figures"]}
    # The figures took the theme: a dark page behind dark figures, a light one behind light ones.
    assert all(p < 0.05 for p in papers) if not light else all(p > 0.8 for p in papers), papers


def test_no_chart_in_the_live_lab_offers_to_share_or_upload(chapter):
    no_chart_offers_to_share(chapter)


def no_chart_offers_to_share(page) -> None:
    bars = page.evaluate(TOOLBARS)
    assert len(bars) >= 2, "expected the chapter's figures on the page"
    for bar in bars:
        cloud = [t for t in bar["titles"] if re.search(r"share|cloud|upload|studio|send|edit", t, re.I)]
        assert not cloud and bar["links"] == 0, bar  # a link: plotly's logo
        needed = {"Download plot as a PNG"} | ({"Zoom", "Pan", "Reset axes"} if bar["cartesian"] else set())
        assert needed <= set(bar["titles"]), bar
