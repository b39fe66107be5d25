"""Chapter 09 as slides (round 42), read from its notebook (no browser).

"Read the table of checkpoints (step 0 to step 2000)…", 110 words on how fast each word's head
formed and how the single head kept drifting, sat alone on the slide after the progress curves:
the table and the "from step 400 on" ranges it reads were two slides and one slide back. It now
comes in as a fragment under those ranges (the `reached = …` cell), before the curves' slide.

The StoryExplorer's prompt box is measured in tests/browser/test_ch09_deck_round42.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from test_decks_round41 import slides

NOTEBOOK = Path(__file__).resolve().parents[1] / "chapters" / "09_a_gpt_that_writes.ipynb"
PARAGRAPH = "Read the table of checkpoints"
RANGES = 'print(f"from step 400 on'  # the printout the paragraph compares
CURVES = "figures.progress_curves_figure(seen"


def _source(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def _only(cells: list[dict], text: str) -> int:
    found = [i for i, c in enumerate(cells) if text in _source(c)]
    assert len(found) == 1, f"chapter 09: expected one cell holding {text!r}, found {found}; update this test"
    return found[0]


def _slide_of(cells: list[dict], index: int) -> list[int]:
    return next(group for group in slides(cells) if index in group)


def _where(cells: list[dict]) -> tuple[list[int], int, int, int]:
    """(the paragraph's slide, the paragraph's cell, the ranges' cell, the curves' cell)."""
    paragraph, ranges, curves = (_only(cells, t) for t in (PARAGRAPH, RANGES, CURVES))
    return _slide_of(cells, paragraph), paragraph, ranges, curves


def test_the_checkpoints_paragraph_follows_the_ranges_it_reads():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    slide, paragraph, ranges, curves = _where(cells)
    assert ranges in slide and ranges < paragraph, (
        f"chapter 09: {PARAGRAPH!r} (cell {paragraph}) should come in under the 'from step 400 on' "
        f"ranges it compares (cell {ranges}), on their slide; its slide holds cells {slide}"
    )
    assert paragraph < curves and curves not in slide, (
        f"chapter 09: {PARAGRAPH!r} (cell {paragraph}) should come before the progress curves (cell "
        f"{curves}), off their slide: its nine lines do not fit under the chart"
    )


def test_the_checkpoints_paragraph_is_not_alone_on_a_slide():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    slide, paragraph, _, _ = _where(cells)
    assert slide != [paragraph], (
        f"chapter 09: {PARAGRAPH!r} (cell {paragraph}) is alone on its slide, away from the table and "
        "the ranges it reads; make it a fragment under the 'from step 400 on' ranges"
    )
