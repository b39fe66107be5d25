"""Chromium draws each line and bar in the colour meant for the page it is on, light and dark,
in the live view (static/figure_view.js, as JupyterLab shows it) and in the offline export
(static/export_theme.js), and each reaches 3:1 against that page.

Chapter 09's six-line chart drew its sixth line in Okabe–Ito's orange (2.25:1 on white); the
light page now has a deeper orange, yellow and sky blue, and the dark page Okabe–Ito's own
(figures/themes.py: ON_DARK, swapped by static/theme_swap.js). tests/test_palette_contrast.py
checks the colours themselves; here, that the pages really draw them.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
import torch
from test_palette_contrast import LEAST, contrast  # tests/, on the path as conftest.py's folder
from transformer_course import export, figures
from transformer_course.figures import palette, themes
from transformer_course.widgets.view import figure_json

from .test_export_fifth import reader, settle  # noqa: F401 (reader: a fixture)
from .test_figure_view_redraw import FIGURE_JS, page, set_theme, show  # noqa: F401 (page: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# As chapter 09's "Held-out: the chosen heads prefer the referent" (six lines), with the two
# more any figure may draw.
NAMES = ["stories, a head per word", "stories, one head", "it", "he", "she", "they", "him", "her"]
STEPS = [0, 100, 200, 400, 800, 1200, 2000]
SERIES = {n: [0.1 + 0.1 * k, 0.3 + 0.08 * k, 0.5 + 0.05 * k, 0.6 + 0.04 * k, 0.7, 0.75, 0.8 - 0.02 * k]
          for k, n in enumerate(NAMES)}  # fmt: skip
TITLE = "Held-out: the chosen heads prefer the referent"
WORDS = "lily made a pizza for tom because he was hungry and it".split()
WEIGHTS = [0.02, 0.02, 0.02, 0.55, 0.02, 0.25, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02]
REFERENT, DISTRACTOR = 3, 5


def curves():
    return figures.progress_curves_figure(STEPS, SERIES, title=TITLE, y_title="%")


def pointer():
    return figures.pointer_figure(
        torch.tensor(WEIGHTS), WORDS, referent=REFERENT, distractor=DISTRACTOR, source=len(WORDS) - 1
    )


# The same two figures, built by the exported notebook's kernel.
NOTEBOOK = f"""import torch
from transformer_course import figures

figures.progress_curves_figure({STEPS!r}, {SERIES!r}, title={TITLE!r}, y_title="%")
"""
POINTER = f"""figures.pointer_figure(torch.tensor({WEIGHTS!r}), {WORDS!r}, referent={REFERENT},
                       distractor={DISTRACTOR}, source={len(WORDS) - 1})"""

# Per chart: its paper and plot background as drawn, each line trace's stroke and each bar's fill.
DRAWN_JS = """(div) => {
  const fill = (el) => el ? getComputedStyle(el).fill : null;
  return {
    paper: getComputedStyle(div.querySelector('svg.main-svg')).backgroundColor,
    plot: fill(div.querySelector('rect.bg')) || div._fullLayout.plot_bgcolor,  // drawn where it differs
    lines: [...div.querySelectorAll('.scatterlayer .trace path.js-line')]
      .map(p => getComputedStyle(p).stroke),
    bars: [...div.querySelectorAll('.barlayer .trace .point path')].map(p => getComputedStyle(p).fill),
  };
}"""


def hex_of(css: str) -> str:
    """ "rgb(196, 127, 0)" (or "white": plotly_white's plot area, as plotly keeps it) → "#C47F00"."""
    css = {"white": "rgb(255, 255, 255)"}.get(css, css)
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return f"#{r:02X}{g:02X}{b:02X}"


def expected(dark: bool) -> dict:
    theme = themes.DARK if dark else themes.LIGHT
    sent = themes.theme_swap()
    swap = {**sent["colours"], **sent.get("line_colours", {})} if dark else {}
    return {
        "lines": [c.upper() for c in theme.template.layout.colorway],
        "distractor": swap.get(palette.DISTRACTOR_COLOUR, palette.DISTRACTOR_COLOUR),
        "referent": palette.REFERENT_COLOUR,
    }


def check(drawn: dict, dark: bool, what: str) -> None:
    """Every line or bar of ``drawn`` (DRAWN_JS) stands out from both backgrounds."""
    backgrounds = {hex_of(drawn["paper"]), hex_of(drawn["plot"])}
    assert backgrounds == {"#111111" if dark else "#FFFFFF"}, f"{what}: drawn on {backgrounds}"
    for colour in {hex_of(c) for c in drawn["lines"] + drawn["bars"]}:
        if colour in (palette.OTHER_COLOUR, "#000000"):  # light on purpose; a see-through bar reads black
            continue
        for page_colour in backgrounds:
            assert contrast(colour, page_colour) >= LEAST, f"{what}: {colour} on {page_colour}"


def check_curves(drawn: dict, dark: bool, what: str) -> None:
    lines = [hex_of(c) for c in drawn["lines"]]
    assert lines == expected(dark)["lines"][: len(NAMES)], f"{what}: lines drawn in {lines}"
    check(drawn, dark, what)


def check_pointer(drawn: dict, dark: bool, what: str) -> None:
    bars = [hex_of(c) for c in drawn["bars"]]
    want = expected(dark)
    assert bars[REFERENT] == want["referent"] and bars[DISTRACTOR] == want["distractor"], (
        f"{what}: bars {bars}"
    )
    check(drawn, dark, what)


# --- the live view, as JupyterLab draws it: <body data-jp-theme-light> says the page's theme ---


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_live_view_draws_each_line_in_its_pages_colour(page, dark, tmp_path):  # noqa: F811
    set_theme(page, dark=dark)
    try:
        for key, fig, checker in (("curves", curves(), check_curves), ("pointer", pointer(), check_pointer)):
            show(page, key, figure_json(fig), 1)
            div = page.evaluate_handle(f"() => {FIGURE_JS.format(json.dumps(key))}").as_element()
            checker(div.evaluate(DRAWN_JS), dark, f"live view, {key}, {'dark' if dark else 'light'}")
            div.screenshot(path=tmp_path / f"{key}.png")
    finally:
        set_theme(page, dark=False)
        page.evaluate(
            "() => { Object.values(window.__tcViews).forEach(v => v.el.remove()); window.__tcViews = {}; }"
        )


def test_the_live_view_repaints_a_line_when_the_theme_changes(page):  # noqa: F811
    """Chapter 09's sixth line, drawn light, then JupyterLab switched to dark under it."""
    fig = figures.progress_curves_figure([0, 1, 2], {n: [0.1, 0.5, 0.9] for n in NAMES[:6]})
    set_theme(page, dark=False)
    try:
        show(page, "switch", figure_json(fig), 1)
        div = page.evaluate_handle(f"() => {FIGURE_JS.format(json.dumps('switch'))}").as_element()
        light = div.evaluate(DRAWN_JS)
        assert hex_of(light["lines"][5]) == palette.COLORWAY[5]
        check(light, False, "live view, sixth line, light")
        set_theme(page, dark=True)
        paper = "(div) => getComputedStyle(div.querySelector('svg.main-svg')).backgroundColor"
        page.wait_for_function(f"(div) => ({paper})(div) === 'rgb(17, 17, 17)'", arg=div)
        dark = div.evaluate(DRAWN_JS)
        # a light page's deep shade, swapped for Okabe–Ito's own (the yellow since round 46)
        assert hex_of(dark["lines"][5]) == themes.DARK.template.layout.colorway[5] == palette.YELLOW
        check(dark, True, "live view, sixth line, dark")
    finally:
        set_theme(page, dark=False)
        page.evaluate(
            "() => { Object.values(window.__tcViews).forEach(v => v.el.remove()); window.__tcViews = {}; }"
        )


# --- the offline export, light and dark (the reader's system setting) ---


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-palette")
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell("# 09 · Line colours"),
        v4.new_code_cell(NOTEBOOK),
        v4.new_code_cell(POINTER),
    ]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "09_colours.ipynb"
    nbformat.write(nb, source)
    target, failures = export.export_notebook(source, folder / "html")
    assert failures == [], failures
    return target


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_export_draws_each_line_in_its_pages_colour(page_path, reader, scheme, tmp_path):  # noqa: F811
    r = reader(page_path, 1280, scheme)
    settle(r)
    charts = r.page.locator(".js-plotly-plot")
    assert charts.count() == 2, "the export must hold the curves and the pointer figure"
    dark = scheme == "dark"
    for k, (key, checker) in enumerate((("curves", check_curves), ("pointer", check_pointer))):
        drawn = charts.nth(k).evaluate(DRAWN_JS)
        checker(drawn, dark, f"export, {key}, {scheme}")
        charts.nth(k).screenshot(path=tmp_path / f"{key}.png")
    assert r.clean(), (r.requests, r.errors)
