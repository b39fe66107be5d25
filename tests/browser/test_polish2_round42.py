"""Chapter 08's "source" box keeps its label beside it, as wide as its word (not an 80 px column)
in a phone's window, and its row at 1280 px keeps the box 260 px wide (round 42's second polish).

(A first version also moved a figure's title clear of plotly's toolbar on every draw. The toolbar
shows only while the mouse is over the figure, and the extra relayout cost 25-30 ms a repaint in
chapters 03 and 06: it was taken out.)
"""

from __future__ import annotations

import pytest

from .lab import open_notebook, run_all, shutdown_kernels, wait_executed
from .test_polish_round42 import NOTEBOOK, PHONE, WIDE, notebook  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

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
