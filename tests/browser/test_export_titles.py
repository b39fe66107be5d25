"""A chart's title in the offline export fits its chart at any window width.

Plotly does not wrap a title: chapter 02's "How far outputs move, A → B (without positions)"
was clipped at both ends in a 400 px window. The exported page draws such a title again at
the size that fits, and back at the figure's own size when the window widens.
"""

from __future__ import annotations

import nbformat
import pytest
from transformer_course import export

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

v4 = nbformat.v4
TITLE = "How far outputs move, A → B (without positions), at every position of the sentence"
FIGURE = f"""import torch
from transformer_course import figures

figures.matrix_heatmap(torch.eye(3), ["a", "b", "c"], ["a", "b", "c"], title={TITLE!r})"""

# The title's box and the chart's, and the size it is drawn at.
TITLE_BOX = """() => {
  const div = document.querySelector('.js-plotly-plot'), title = div.querySelector('.gtitle');
  const t = title.getBoundingClientRect(), svg = div.querySelector('.main-svg').getBoundingClientRect();
  return {left: t.left, right: t.right, svg_left: svg.left, svg_right: svg.right,
          size: parseFloat(getComputedStyle(title).fontSize), text: title.textContent};
}"""


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-titles")
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# 01 · A long title"), v4.new_code_cell(FIGURE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "01_title.ipynb"
    nbformat.write(nb, source)
    nav = {"index": "index.html", "prev": None, "next": None}  # the chapter bar, its theme button
    target, failures = export.export_notebook(source, folder / "html", nav=nav)
    assert failures == [], failures
    return target


def open_page(browser, path, width: int, scheme: str = "light"):
    context = browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme)
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_function("() => window.Plotly && document.querySelector('.js-plotly-plot .gtitle')")
    page.wait_for_timeout(500)  # the refit after the first plot
    return context, page


def inside(box: dict) -> bool:
    return box["left"] >= box["svg_left"] - 0.5 and box["right"] <= box["svg_right"] + 0.5


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_long_title_fits_a_phone_and_grows_back_in_a_wide_window(browser, page_path, scheme):
    context, page = open_page(browser, page_path, 1280, scheme)
    try:
        wide = page.evaluate(TITLE_BOX)
        assert wide["text"] == TITLE and inside(wide), wide
        page.set_viewport_size({"width": 400, "height": 800})
        page.wait_for_timeout(800)  # the resize, the plot, the refit
        narrow = page.evaluate(TITLE_BOX)
        assert inside(narrow), f"the title is cut off at 400 px: {narrow}"
        assert 9 <= narrow["size"] < wide["size"], narrow
        page.set_viewport_size({"width": 1280, "height": 800})
        page.wait_for_timeout(800)
        again = page.evaluate(TITLE_BOX)
        assert inside(again) and again["size"] >= 0.9 * wide["size"], (wide, again)
    finally:
        context.close()


def test_the_theme_button_keeps_the_title_fitted(browser, page_path):
    context, page = open_page(browser, page_path, 400)
    try:
        assert inside(page.evaluate(TITLE_BOX))
        page.click(".tc-theme-toggle")  # the chart is drawn again, in the other theme
        page.wait_for_timeout(800)
        assert inside(page.evaluate(TITLE_BOX)), page.evaluate(TITLE_BOX)
    finally:
        context.close()
