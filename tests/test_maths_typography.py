"""Maths in the prose of chapters 01–06 reads as maths in JupyterLab and in the offline export.

Inline maths is written with HTML <sup>/<sub> and Unicode symbols (√, ·, ×, ≈, −, ᵀ): both
JupyterLab's markdown renderer and the export's (nbconvert, offline, no MathJax) draw them
without fetching anything. Plain-text maths such as `10000^(2i/d_model)`, `e^x`, `sqrt(d_k)`
or `x ** 2` shows its carets, underscores and stars to the learner. Display formulas stay
LaTeX ($$…$$): MathJax draws them in JupyterLab, the export turns them into MathML.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from transformer_course import export

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))
NOTEBOOKS = sorted(CHAPTERS.glob("0[1-6]_*.ipynb"))

# What a learner would read as raw markup instead of maths, once code is left out.
PLAIN_MATHS = {
    "a caret power (e^x, 10^17, 10000^(2i/d))": re.compile(r"[\w)]\^[\w(−-]"),
    "a ** power (x ** 2, x**2)": re.compile(r"[\w)](?: \*\* |\*\*)[\d(]"),
    "sqrt(…) for a square root": re.compile(r"\bsqrt\s*\("),
    "an underscore subscript (d_k, W_Q, q_i)": re.compile(
        r"(?<![\w`])(?:d|W|M|q|k|L)_(?:k|v|model|head|Q|K|V|O|i|j|target|source)\b"
    ),
}
CODE = re.compile(r"^```.*?^```|`[^`]*`", re.M | re.S)  # fenced blocks, then code spans
LATEX = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)  # drawn by MathJax / MathML


def prose(cell_source: str) -> str:
    """A markdown cell's text without its code and its LaTeX: what the reader sees as text."""
    return LATEX.sub(" ", CODE.sub(" ", cell_source))


def markdown_cells(path: Path) -> list[tuple[int, str]]:
    nb = nbformat.read(path, as_version=4)
    return [(n, c.source) for n, c in enumerate(nb.cells, start=1) if c.cell_type == "markdown"]


def test_chapters_01_to_06_are_found():
    assert len(NOTEBOOKS) == 6, f"expected chapters 01–06 in {CHAPTERS}, found {[p.name for p in NOTEBOOKS]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_plain_text_maths_in_the_prose(path):
    found = [
        f"cell {n}: {what}: {m.group(0)!r} in …{prose(source)[max(m.start() - 30, 0) : m.end() + 30]!r}…"
        for n, source in markdown_cells(path)
        for what, pattern in PLAIN_MATHS.items()
        for m in pattern.finditer(prose(source))
    ]
    assert not found, f"{path.name} writes maths as plain text (use <sup>, <sub>, √):\n" + "\n".join(found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_sup_and_sub_tags_are_balanced_in_every_cell(path):
    """An unclosed <sup> raises the rest of the paragraph; a stray </sub> shows as nothing."""
    for n, source in markdown_cells(path):
        text = prose(source)
        for tag in ("sup", "sub"):
            opened, closed = text.count(f"<{tag}>"), text.count(f"</{tag}>")
            assert opened == closed, f"{path.name} cell {n}: {opened} <{tag}> but {closed} </{tag}>"


def test_positional_encoding_prose_gives_the_frequency_the_code_uses():
    """lib: angle = pos / base ** (two_i / d_model), two_i = 0, 2, 4 …: the exponent is 2i/d_model."""
    (path,) = CHAPTERS.glob("02_*.ipynb")
    text = "\n".join(source for _, source in markdown_cells(path))
    assert "10000<sup>2i/d<sub>model</sub></sup>" in text


class _Tags(HTMLParser):
    """Collects the text of each <sup> and <sub> element of a page (nested tags flattened)."""

    def __init__(self):
        super().__init__()
        self.text: dict[str, list[str]] = {"sup": [], "sub": []}
        self._open: list[tuple[str, int]] = []  # (tag, index into text[tag]) still open

    def handle_starttag(self, tag, attrs):
        if tag in self.text:
            self.text[tag].append("")
            self._open.append((tag, len(self.text[tag]) - 1))

    def handle_endtag(self, tag):
        if tag in self.text and self._open:
            self._open.pop()

    def handle_data(self, data):
        for tag, i in self._open:
            self.text[tag][i] += data


def test_export_keeps_sup_and_sub_of_a_chapter_cell_as_elements():
    """The export's markdown renderer (nbconvert + mistune, no sanitiser) must draw the tags,
    not escape them to "&lt;sup&gt;" text or drop them."""
    (path,) = CHAPTERS.glob("02_*.ipynb")
    formula = "10000<sup>2i/d<sub>model</sub></sup>"
    cell = next((source for _, source in markdown_cells(path) if formula in source), None)
    assert cell is not None, f"no markdown cell of {path.name} writes {formula}"
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(export.math_to_mathml(cell)))
    page = export.to_html(nb, "maths")
    assert "&lt;sup&gt;" not in page and "&lt;sub&gt;" not in page, "the export escaped the tags to text"
    tags = _Tags()
    tags.feed(page)
    assert "2i/dmodel" in tags.text["sup"], f"no <sup> holding 2i/d<sub>model</sub>: {tags.text}"
    assert "model" in tags.text["sub"], f"no <sub>model</sub> element in the page: {tags.text}"
