"""`make html` output, opened in Chromium with every network request refused.

Every chapter is exported once per session by the real command (the whole run takes
about a minute), then each page is opened at 1280 px and at 800 px: every plotly chart
must fit its box as soon as the page has loaded (and again after a window resize), no
worked solution may be in the page, no toolbar may offer to share or upload, the page
makes no request, and the index and previous / next links lead where they should.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from transformer_course import export

from .lab import BUILD, CHAPTERS

# The first test also waits for the session's export of every chapter: about a minute
# alone, several on a loaded machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

OUT = BUILD / "html-test"
WIDTHS = (1280, 800)
CHAPTER_LIST = export.find_chapters(CHAPTERS)
NAMES = [c.path.stem for c in CHAPTER_LIST]

# Per chart: how plotly laid it out, how big its <svg> is drawn, and the box it sits in.
MEASURE = """() => [...document.querySelectorAll('.js-plotly-plot')].map(div => {
  const svg = div.querySelector('.main-svg');
  const area = div.closest('.jp-OutputArea-output') || document.body;
  const shown = svg ? svg.getBoundingClientRect() : null, box = area.getBoundingClientRect();
  return {
    id: div.id, drawn: !!svg && !!div._fullLayout,
    layout_w: div._fullLayout ? Math.round(div._fullLayout.width) : null,
    svg_w: svg ? +svg.getAttribute('width') : null, svg_h: svg ? +svg.getAttribute('height') : null,
    shown_w: shown ? Math.round(shown.width) : null, shown_h: shown ? Math.round(shown.height) : null,
    box_w: div.clientWidth, parent_w: div.parentElement.clientWidth,
    right: shown ? Math.round(shown.right) : null, area_right: Math.round(box.right),
    area_scrolls: area.scrollWidth > area.clientWidth + 1,
  };
})"""


def misfits(charts: list[dict]) -> list[dict]:
    """The charts that do not fit: laid out for another width than their box's (wider: cut
    off; narrower: not refitted), drawn wider than the box, squeezed by CSS (drawn at
    another size than laid out, so part of it is cut off), or past the output area."""
    return [
        c
        for c in charts
        if not c["drawn"]
        or abs(c["layout_w"] - c["box_w"]) > 1
        or c["svg_w"] > min(c["box_w"], c["parent_w"]) + 1
        or abs(c["shown_w"] - c["svg_w"]) > 1
        or abs(c["shown_h"] - c["svg_h"]) > 1
        or c["right"] > c["area_right"] + 1
        or c["area_scrolls"]
    ]


@pytest.fixture(scope="session")
def site(browser) -> Path:
    """Every chapter exported once, by the command `make html` runs."""
    lib = str(Path(export.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([lib, os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "transformer_course.export", str(CHAPTERS), str(OUT)],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return OUT


class Page:
    """A page opened offline; every request it tries (other than its own file) is
    recorded, and refused."""

    def __init__(self, browser, path: Path, width: int, color_scheme: str = "light"):
        self.context = browser.new_context(
            offline=True, viewport={"width": width, "height": 900}, color_scheme=color_scheme
        )
        self.requests: list[str] = []
        self.context.route(re.compile(r"^(?!file:|data:|blob:|about:)"), lambda route: route.abort())
        self.page = self.context.new_page()
        self.page.on("request", self._note)
        self.page.goto(path.as_uri())

    def _note(self, request):
        if not request.url.startswith(("file:", "data:", "blob:", "about:")):
            self.requests.append(request.url)

    def charts_fitted(self) -> list[dict]:
        """Wait (≤ 5 s) until plotly is there and every chart is drawn and fits; return the
        measurements either way."""
        from playwright.sync_api import TimeoutError as Timeout

        try:
            self.page.wait_for_function(
                f"() => window.Plotly && ({MEASURE})().every(c => c.drawn"
                " && Math.abs(c.layout_w - c.box_w) <= 1 && Math.abs(c.shown_w - c.svg_w) <= 1)",
                timeout=5_000,
            )
        except Timeout:
            pass  # the assertion that follows names the charts that do not fit
        return self.page.evaluate(MEASURE)

    def close(self):
        self.context.close()


@pytest.fixture
def open_page(browser):
    pages = []

    def opener(path: Path, width: int = 1280, color_scheme: str = "light") -> Page:
        pages.append(Page(browser, path, width, color_scheme))
        return pages[-1]

    yield opener
    for page in pages:
        page.close()


def solution_lines(name: str) -> list[str]:
    """The first line of code of every cell the chapter tags as a worked solution."""
    nb = nbformat.read(CHAPTERS / f"{name}.ipynb", as_version=4)
    cells = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    return [next(line for line in c.source.splitlines() if line.strip()) for c in cells]


TOOLBARS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(div => ({
  cartesian: div._fullLayout._has('cartesian'),
  links: div.querySelectorAll('.modebar a[href]').length,
  titles: [...div.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title'))}))"""


def check_toolbars(page: Page, name: str) -> None:
    """Nothing that shares, uploads or links out; zoom, pan, reset and PNG download kept."""
    toolbars = page.page.evaluate(TOOLBARS)
    assert toolbars or name == "00_welcome", f"{name} has no chart"
    for bar in toolbars:
        cloud = [t for t in bar["titles"] if re.search(r"share|cloud|upload|studio|send|edit", t, re.I)]
        assert not cloud and bar["links"] == 0, f"{name}: {bar}"  # a link: plotly's logo
        needed = {"Download plot as a PNG"} | ({"Zoom", "Pan", "Reset axes"} if bar["cartesian"] else set())
        assert needed <= set(bar["titles"]), f"{name}: {bar}"


def check_solutions_hidden(page: Page, name: str) -> None:
    text = page.page.evaluate("() => document.body.textContent")
    hidden = solution_lines(name)
    assert not [line for line in hidden if line in text], f"{name} shows a worked solution"
    assert page.page.locator(".celltag_solution").count() == 0
    assert page.page.locator(".celltag_solution-hidden").count() == len(hidden)


def check_neighbour_links(page: Page, name: str) -> None:
    i = NAMES.index(name)
    for where in ("top", "bottom"):
        links = {
            cls: page.page.locator(f"nav.tc-nav-{where} a.{cls}").get_attribute("href")
            if page.page.locator(f"nav.tc-nav-{where} a.{cls}").count()
            else None
            for cls in ("tc-prev", "tc-index", "tc-next")
        }
        assert links == {
            "tc-prev": f"{NAMES[i - 1]}.html" if i else None,
            "tc-index": "index.html",
            "tc-next": f"{NAMES[i + 1]}.html" if i + 1 < len(NAMES) else None,
        }, f"{name}, {where} links"


@pytest.mark.parametrize("name", NAMES)
def test_exported_chapter(site, open_page, name):
    """Its charts fit at load at both widths and after a resize either way; no solution,
    no cloud button, links to its neighbours, not one network request."""
    pages = {}
    for width in WIDTHS:
        pages[width] = page = open_page(site / f"{name}.html", width)
        charts = page.charts_fitted()
        assert not misfits(charts), f"{name} at {width} px: {misfits(charts)}"
    wide, narrow = max(WIDTHS), min(WIDTHS)
    check_solutions_hidden(pages[wide], name)
    check_toolbars(pages[wide], name)
    check_neighbour_links(pages[wide], name)
    for page, width in ((pages[wide], narrow), (pages[narrow], wide)):
        page.page.set_viewport_size({"width": width, "height": 900})
        charts = page.charts_fitted()
        assert not misfits(charts), f"{name} resized to {width} px: {misfits(charts)}"
    for page in pages.values():
        assert page.requests == [], f"{name} tried the network: {page.requests}"


def test_index_lists_the_chapters_in_order_and_the_links_work(site, open_page):
    page = open_page(site / "index.html").page
    items = page.locator("ol.tc-chapters li a")
    assert items.all_inner_texts() == [c.title for c in CHAPTER_LIST]
    assert [items.nth(i).get_attribute("href") for i in range(items.count())] == [
        c.page for c in CHAPTER_LIST
    ]
    # Walk: index → first chapter → next → previous → index, by clicking.
    items.first.click()
    page.wait_for_url(re.compile(rf"{NAMES[0]}\.html$"))
    page.locator("nav.tc-nav-top a.tc-next").click()
    page.wait_for_url(re.compile(rf"{NAMES[1]}\.html$"))
    assert page.title() == CHAPTER_LIST[1].title
    page.locator("nav.tc-nav-bottom a.tc-prev").click()
    page.wait_for_url(re.compile(rf"{NAMES[0]}\.html$"))
    page.locator("nav.tc-nav-top a.tc-index").click()
    page.wait_for_url(re.compile(r"index\.html$"))


def test_explorer_snapshot_is_drawn_and_screenshots_are_taken(site, open_page):
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page = open_page(site / "01_embeddings.html")
    assert not misfits(page.charts_fitted())
    snapshot = page.page.locator(".tc-snapshot").first
    assert "the cat saw the dog" in snapshot.inner_text()
    assert snapshot.locator(".js-plotly-plot .main-svg").count() >= 2
    snapshot.scroll_into_view_if_needed()
    page.page.screenshot(path=str(shots / "export-01_embeddings.png"))
    # Chapter 04's explorer: a heatmap and a bar chart side by side in half-width columns.
    page = open_page(site / "04_softmax_and_scaling.html")
    assert not misfits(page.charts_fitted())
    page.page.locator(".tc-snapshot").first.scroll_into_view_if_needed()
    page.page.screenshot(path=str(shots / "export-04_softmax_and_scaling.png"))


# Every text on the page (charts aside: plotly draws them) whose colour reads at less than
# 4.5:1 against what lies behind it (3:1 for large text), WCAG's measure for body text.
LOW_CONTRAST = r"""() => {
  const rgba = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = (c) => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  const behind = (el) => {  // the background colours down to an opaque one, blended
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = layers.length && layers[layers.length - 1][3] >= 1 ? layers.pop().slice(0, 3) : [255, 255, 255];
    while (layers.length) { const c = layers.pop(); out = out.map((v, i) => v * (1 - c[3]) + c[i] * c[3]); }
    return out;
  };
  const low = [], seen = new Set(), walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || seen.has(el)) continue;
    if (el.closest("svg, script, style, .js-plotly-plot")) continue;
    seen.add(el);
    const css = getComputedStyle(el), box = el.getBoundingClientRect(), fg = rgba(css.color);
    if (!fg || !box.width || css.visibility === "hidden") continue;
    const bg = behind(el), ink = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
    const [a, b] = [lum(ink), lum(bg)].sort((x, y) => y - x), ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(css.fontSize), large = size >= 24 || (size >= 18.66 && +css.fontWeight >= 700);
    const what = `${n.textContent.trim().slice(0, 30)} (${css.color} on rgb(${bg.map(Math.round)})`;
    if (ratio < (large ? 3 : 4.5)) low.push(`${what}, ${ratio.toFixed(2)}:1)`);
  }
  return low;
}"""

# The page's theme as the reader sees it: <body>'s flag, its background, each chart's paper.
THEME = """() => ({light: document.body.dataset.jpThemeLight,
  page: getComputedStyle(document.body).backgroundColor,
  charts: [...document.querySelectorAll('.js-plotly-plot')].map(d => d._fullLayout.paper_bgcolor),
  button: document.querySelector('nav.tc-nav-top .tc-theme-toggle').textContent})"""


def test_a_page_follows_a_dark_system_and_the_readers_pick(site, open_page):
    """A reader whose system is dark gets JupyterLab Dark and dark charts; the button in the
    chapter bar switches to light, charts included, and the pick holds on the next page."""
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page = open_page(site / "04_softmax_and_scaling.html", color_scheme="dark")
    assert not misfits(page.charts_fitted())
    dark = page.page.evaluate(THEME)
    assert dark["light"] == "false" and dark["page"] == "rgb(17, 17, 17)", dark
    assert dark["charts"] and set(dark["charts"]) == {"rgb(17,17,17)"}, dark
    assert "Light" in dark["button"]
    assert page.page.evaluate(LOW_CONTRAST) == []  # code, checks, snapshots: all readable
    page.page.locator(".tc-snapshot").first.scroll_into_view_if_needed()
    page.page.screenshot(path=str(shots / "export-04-dark.png"))
    page.page.locator("nav.tc-nav-top .tc-theme-toggle").click()
    page.page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
    light = page.page.evaluate(THEME)
    assert light["page"] == "rgb(255, 255, 255)" and set(light["charts"]) == {"white"}, light
    assert page.page.evaluate(LOW_CONTRAST) == []
    assert not misfits(page.charts_fitted())
    page.page.locator("nav.tc-nav-top a.tc-next").click()  # the pick holds on the next chapter
    following = NAMES[NAMES.index("04_softmax_and_scaling") + 1]
    page.page.wait_for_url(re.compile(rf"{following}\.html$"))
    page.page.wait_for_load_state()
    assert page.page.evaluate(THEME)["light"] == "true"  # its system is still dark
