"""Text on an exported page, as a projector shows it (static/course.css), light and dark.

1. A printed line wider than its cell wraps between words. JupyterLab's rule for printed output
   (word-break: break-all) cut words at the cell's edge on a page: chapter 09's stories at
   1280 px read "the kids lo" / "oked at lily", "it w" / "as thick", "sh" / "e clapped".
2. A fenced code block in prose has room around its code, and a line of space under it: chapter
   03's einsum line had no padding inside its grey and "Read it letter by letter:" sat right
   on it.

A small notebook, its outputs written here (no kernel), goes through the exporter's page
(export.to_html) and opens in Chromium.
"""

from __future__ import annotations

import nbformat
import pytest
from transformer_course import export

from .test_export_fourth import reader  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

v4 = nbformat.v4

# Chapter 09's stories, as its training cell printed them (the exported page of the last CI run).
STORIES = (
    "step  100 (NOT a story): one day lily and the kids went to the garden . the kids bought a "
    "bread . lily looked at lily and they cheered . the kids looked at lily and they cheered .\n"
    "step  300 (a story): one day squatch and lily went to the garden . squatch found a soup in "
    "the oven . she sang . squatch liked the soup because it was thick .\n"
    "   mia and squatch were in the kitchen . squatch made a pizza . squatch liked the pizza "
    "because it was crispy . squatch gave the pizza to mia and she clapped .\n"
)
# Chapter 03's prose around its fenced code block.
PROSE = """A popular from-scratch implementation writes the scores as

```python
energy = torch.einsum("nqhd,nkhd->nhqk", [queries, keys])
```

Read it letter by letter:"""

# Every word of the printed lines that the page draws on more than one line.
SPLIT_WORDS_JS = """() => {
  const pre = [...document.querySelectorAll('.jp-OutputArea-output pre')]
    .find(p => p.textContent.includes('squatch'));
  const text = pre.firstChild.nodeType === 3 ? pre.firstChild : pre.querySelector('span').firstChild;
  const split = [], lines = new Set();
  for (const m of text.textContent.matchAll(/\\S+/g)) {
    const range = document.createRange();
    range.setStart(text, m.index);
    range.setEnd(text, m.index + m[0].length);
    const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    tops.forEach(t => lines.add(t));
    if (tops.size > 1) split.push(m[0]);
  }
  return {lines: lines.size, split};
}"""

# The fenced block: the space inside its grey around the code, and under it to the next line.
FENCED_JS = """() => {
  const block = document.querySelector('.jp-RenderedMarkdown > .highlight');
  const pre = block.querySelector('pre'), next = block.nextElementSibling;
  const code = document.createRange();
  code.selectNodeContents(pre);
  const box = block.getBoundingClientRect(), text = code.getBoundingClientRect();
  return {left: text.left - box.left, top: text.top - box.top, bottom: box.bottom - text.bottom,
          under: next.getBoundingClientRect().top - box.bottom, next: next.textContent};
}"""


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    printed = v4.new_code_cell("train(model)")
    printed.outputs = [v4.new_output("stream", name="stdout", text=STORIES)]
    printed.execution_count = 1
    nb = v4.new_notebook(cells=[v4.new_markdown_cell(PROSE), printed])
    path = tmp_path_factory.mktemp("export-text") / "text.html"
    path.write_text(export.to_html(nb, "09 · Text"), encoding="utf-8")
    return path


@pytest.mark.parametrize(("width", "scheme"), [(1280, "light"), (1280, "dark"), (800, "light")])
def test_a_printed_line_wraps_between_words(page_path, reader, width, scheme):  # noqa: F811
    r = reader(page_path, width, scheme)
    seen = r.page.evaluate(SPLIT_WORDS_JS)
    assert seen["lines"] > 3, f"{width} px: the three lines did not wrap: nothing measured ({seen})"
    assert seen["split"] == [], f"{width} px, {scheme}: words cut across two lines: {seen['split']}"
    assert r.clean(), (r.requests, r.errors)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_fenced_code_block_in_prose_has_room_around_its_code(page_path, reader, scheme):  # noqa: F811
    r = reader(page_path, 1280, scheme)
    fenced = r.page.evaluate(FENCED_JS)
    assert fenced["next"] == "Read it letter by letter:"
    assert min(fenced["left"], fenced["top"], fenced["bottom"]) >= 4, f"code on the grey's edge: {fenced}"
    assert fenced["under"] >= 10, f"the next sentence sits on the code block: {fenced}"
