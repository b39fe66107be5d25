"""What presenting chapters 00, 01, 03, 04, 06 and 09 slide by slide at 1280 × 720 found, read
from the notebooks and from static/course.css (no browser).

1. Chapter 00's "A real RNN, measured" ran 18 px off the bottom of the screen once its last
   fragment, the paragraph on the printed gradients, came in under 15 lines of code. That
   paragraph ends by telling the learner which sliders to move: it now opens the widget's slide.
2. The closing text of a full slide ran under the deck's arrows in the bottom-right corner:
   course.css keeps the last cell's prose and printed lines clear of them.

Round 41's rules for slides (no lone short paragraph, a lead-in on the slide of what it
announces, a chart's commentary on the chart's slide) hold for these six chapters too; they are
checked here for them.

The slides themselves are measured in tests/browser/test_decks_round42.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import test_decks_round41 as round41
from test_decks_round41 import slides

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
COURSE_CSS = ROOT / "lib" / "transformer_course" / "static" / "course.css"

# Measured in the deck at 1280 × 720: the cells end at x = 1205; the deck's "<" button starts at
# x = 1152. Prose ending 8 px short of it reads apart from it.
CELLS_RIGHT_PX, ARROW_LEFT_PX, GAP_PX = 1205, 1152, 8


PRESENTED = ("00_", "01_", "03_", "04_", "06_", "09_")
NOTEBOOKS = sorted(p for p in CHAPTERS.glob("[0-9][0-9]_*.ipynb") if p.name.startswith(PRESENTED))
# Commentary left on a slide of its own after a chart, by its first words, with the reason. None
# now: 09's "Read the table of checkpoints…" moved above the chart (tests/test_ch09_deck_round42.py).
KEPT_APART: dict[str, dict[str, str]] = {}


def _source(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def _cells(stem: str) -> list[dict]:
    return json.loads((CHAPTERS / f"{stem}.ipynb").read_text())["cells"]


def _only(cells: list[dict], text: str) -> int:
    found = [i for i, c in enumerate(cells) if text in _source(c)]
    assert len(found) == 1, f"expected one cell holding {text!r}, found cells {found}; update this test"
    return found[0]


def _slide_of(cells: list[dict], index: int) -> list[int]:
    return next(group for group in slides(cells) if index in group)


def test_chapter_00s_rnn_slide_leaves_its_paragraph_to_the_widgets_slide():
    cells = _cells("00_welcome")
    measured = _only(cells, "rnn = rnn_gradients(50, scale=1.0)")
    paragraph = _only(cells, "In the RNN, the gradient from 49 steps back")
    widget = _only(cells, "widgets.PathLengthExplorer(")
    assert _slide_of(cells, paragraph) != _slide_of(cells, measured), (
        f"chapter 00: the paragraph on the RNN's gradients (cell {paragraph}) is on the slide of the "
        f"measurement (cell {measured}): under its heading, 15 lines of code and their printout, it "
        "ran 18 px off a 720 px screen"
    )
    assert _slide_of(cells, paragraph) == _slide_of(cells, widget) and paragraph < widget, (
        f"chapter 00: the paragraph on the RNN's gradients (cell {paragraph}) should open the slide of "
        f"the widget whose sliders it tells the learner to move (cell {widget})"
    )


def _padding_of_last_cell_text() -> dict[str, float]:
    """padding-right (px) that course.css gives, on a slide, the prose and the printed lines of the
    last cell on screen: {"prose": …, "printed": …} (0 where no rule sets it)."""
    css = re.sub(r"/\*.*?\*/", "", COURSE_CSS.read_text(encoding="utf-8"), flags=re.S)
    found = {"prose": 0.0, "printed": 0.0}
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        last = ":not(:has(~ .jp-deck-mod-onscreen))" in selectors and "presenting" in selectors
        m = re.search(r"padding-right\s*:\s*([\d.]+)px", body)
        if not (last and m):
            continue
        if ".jp-RenderedHTMLCommon" in selectors:
            found["prose"] = max(found["prose"], float(m.group(1)))
        if ".jp-OutputArea-output pre" in selectors:
            found["printed"] = max(found["printed"], float(m.group(1)))
    return found


@pytest.mark.parametrize("kind", ["prose", "printed"])
def test_the_last_cell_on_a_slide_keeps_its_text_clear_of_the_deck_arrows(kind):
    padding = _padding_of_last_cell_text()[kind]
    assert CELLS_RIGHT_PX - padding <= ARROW_LEFT_PX - GAP_PX, (
        f"static/course.css: the {kind} text of a slide's last cell may run to x = "
        f"{CELLS_RIGHT_PX - padding:.0f}, but the deck's '<' arrow starts at x = {ARROW_LEFT_PX}; give "
        f".jp-deck-mod-onscreen:not(:has(~ .jp-deck-mod-onscreen)) a padding-right of at least "
        f"{CELLS_RIGHT_PX - ARROW_LEFT_PX + GAP_PX} px"
    )


def test_the_chapters_are_found():
    assert [p.name[:3] for p in NOTEBOOKS] == list(PRESENTED), f"expected chapters {PRESENTED}: {NOTEBOOKS}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_slide_holds_only_a_short_paragraph(notebook):
    round41.test_no_slide_holds_only_a_short_paragraph(notebook)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_lead_in_shares_its_slide_with_what_it_announces(notebook):
    round41.test_a_lead_in_shares_its_slide_with_what_it_announces(notebook)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_charts_commentary_shares_its_slide(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    kept = tuple(KEPT_APART.get(notebook.stem, {}))
    apart = [
        (i, _source(cells[i])[:60])
        for i in round41._alone_after_a_chart(cells)
        if not kept or not _source(cells[i]).startswith(kept)
    ]
    assert not apart, (
        f"{notebook.name}: paragraphs alone on the slide after a chart (cell, text): {apart}; "
        "mark them 'fragment' so they appear under the chart they comment on"
    )


@pytest.mark.parametrize("stem", KEPT_APART)
def test_each_commentary_kept_apart_still_is(stem):
    cells = _cells(stem)
    apart = [_source(cells[i]) for i in round41._alone_after_a_chart(cells)]
    stale = [start for start in KEPT_APART[stem] if not any(a.startswith(start) for a in apart)]
    assert not stale, (
        f"{stem}: no paragraph alone after a chart starts with {stale}; drop them from KEPT_APART"
    )
