"""What presenting chapters 02, 05, 07 and 08 slide by slide at 1280 × 720 found, read from
the notebooks' slide metadata (no browser).

1. A near-empty slide: one short paragraph alone on a slide, after the slide it comments on
   (chapter 02's clock of fast and slow hands, chapter 05's "Every head looks somewhere
   else"). The instructor pressed Space for two lines of text.
2. A lead-in alone: chapter 05's "Measured over all 500 held-out rows, ... :" closed a slide,
   and what it announced (the numbers and their chart) opened the next one.
3. A chart's commentary on the next slide, the chart gone from the screen while the instructor
   reads what it shows (chapter 08's "The buggy loss races to almost 0"; "At the start both
   heads ..." even sat over the next chart, a grid, that it does not describe): a paragraph
   that comments on a chart follows it as a fragment.

Charts squeezed by what shares their slide are measured in tests/browser/test_decks_round41.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
PRESENTED = ("02_", "05_", "07_", "08_")
NOTEBOOKS = sorted(p for p in CHAPTERS.glob("[0-9][0-9]_*.ipynb") if p.name.startswith(PRESENTED))
NEW_SLIDE = {"slide", "subslide"}
# Fewer words than this, with no heading and nothing else beside them, leave a slide nearly
# empty: at the deck's 20 px a line holds about 15 words, so under four lines of text.
LONE_WORDS = 50
# A top-level call of the lib's figures: the cell shows a chart.
DRAWS_A_CHART = re.compile(r"^figures\.\w+\(", re.MULTILINE)
# Commentary left on a slide of its own, named by its first words, with the reason; each is
# checked below to be still apart.
KEPT_APART = {
    "07_full_transformer": {
        "Pre-norm normalises only what goes": "the chart above it fills its slide under a heading and code",
    },
    "08_training_and_generation": {
        "What the race shows:": "three long findings: a slide of their own",
    },
}


def _cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


def _kind(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def _source(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def slides(cells: list[dict]) -> list[list[int]]:
    """The cells' indices, grouped by the slide or subslide they appear on."""
    groups: list[list[int]] = []
    for i, cell in enumerate(cells):
        if not groups or _kind(cell) in NEW_SLIDE:
            groups.append([])
        groups[-1].append(i)
    return groups


def test_the_chapters_are_found():
    assert [p.name[:3] for p in NOTEBOOKS] == list(PRESENTED), f"expected chapters {PRESENTED}: {NOTEBOOKS}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_slide_holds_only_a_short_paragraph(notebook):
    cells = _cells(notebook)
    lone = []
    for group in slides(cells):
        if len(group) != 1 or cells[group[0]]["cell_type"] != "markdown":
            continue
        text = _source(cells[group[0]]).strip()
        if not text.startswith("#") and len(text.split()) < LONE_WORDS:
            lone.append((group[0], text[:60]))
    assert not lone, (
        f"{notebook.name}: slides holding only a paragraph of under {LONE_WORDS} words "
        f"(cell, text): {lone}; give it to the slide it belongs with"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_lead_in_shares_its_slide_with_what_it_announces(notebook):
    cells = _cells(notebook)
    cut = [
        (i, _source(cell).strip()[-60:])
        for i, cell in enumerate(cells[:-1])
        if cell["cell_type"] == "markdown"
        and _source(cell).rstrip().endswith(":")
        and _kind(cells[i + 1]) in NEW_SLIDE
    ]
    assert not cut, (
        f"{notebook.name}: text ending in ':' whose next cell opens a new slide (cell, end): {cut}; "
        "mark the next cell 'fragment' or move the lead-in onto the next slide"
    )


def _alone_after_a_chart(cells: list[dict]) -> list[int]:
    """Paragraphs (no heading) alone on a slide whose previous slide ends with a chart."""
    groups = slides(cells)
    found = []
    for before, group in zip(groups, groups[1:]):
        last, cell = cells[before[-1]], cells[group[0]]
        if (
            len(group) == 1
            and cell["cell_type"] == "markdown"
            and not _source(cell).lstrip().startswith("#")
            and last["cell_type"] == "code"
            and DRAWS_A_CHART.search(_source(last))
        ):
            found.append(group[0])
    return found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_charts_commentary_shares_its_slide(notebook):
    cells = _cells(notebook)
    kept = KEPT_APART.get(notebook.stem, {})
    apart = [
        (i, _source(cells[i])[:60])
        for i in _alone_after_a_chart(cells)
        if not _source(cells[i]).startswith(tuple(kept))
    ]
    assert not apart, (
        f"{notebook.name}: paragraphs alone on the slide after a chart (cell, text): {apart}; "
        "mark them 'fragment' so they appear under the chart they comment on"
    )


@pytest.mark.parametrize("stem", KEPT_APART)
def test_each_commentary_kept_apart_still_is(stem):
    cells = _cells(next(CHAPTERS.glob(f"{stem}.ipynb")))
    apart = [_source(cells[i]) for i in _alone_after_a_chart(cells)]
    stale = [start for start in KEPT_APART[stem] if not any(a.startswith(start) for a in apart)]
    assert not stale, (
        f"{stem}: no paragraph alone after a chart starts with {stale}; drop them from KEPT_APART"
    )


def test_the_checks_find_what_they_look_for():
    def cell(kind, text, slide_type):
        return {"cell_type": kind, "source": [text], "metadata": {"slideshow": {"slide_type": slide_type}}}

    cells = [
        cell("code", "x = 1\nfigures.loss_figure(x)", "subslide"),
        cell("markdown", "The loss falls:", "subslide"),
        cell("code", "print(x)", "subslide"),
    ]
    assert slides(cells) == [[0], [1], [2]]
    assert _alone_after_a_chart(cells) == [1]
    cells[1]["metadata"]["slideshow"]["slide_type"] = "fragment"
    assert slides(cells) == [[0, 1], [2]]
    assert _alone_after_a_chart(cells) == []


# Paragraphs that describe one chart, by their first words, and the figure function drawing it.
COMMENTARY = [
    ("05_multi_head_attention", "Nobody told a head which job to take", "head_jobs_figure"),
    ("08_training_and_generation", "The buggy loss races to almost 0", "loss_comparison_figure"),
    ("08_training_and_generation", "At the start both heads give the predicate", "progress_curves_figure"),
]


@pytest.mark.parametrize("stem, start, draws", COMMENTARY, ids=[c[1][:24] for c in COMMENTARY])
def test_a_paragraph_about_a_chart_is_on_the_charts_slide(stem, start, draws):
    cells = _cells(next(CHAPTERS.glob(f"{stem}.ipynb")))
    texts = [i for i, c in enumerate(cells) if _source(c).startswith(start)]
    assert len(texts) == 1, f"{stem}: expected one cell starting {start!r}, found {texts}; update this test"
    slide = next(group for group in slides(cells) if texts[0] in group)
    charts = [
        i for i in slide if cells[i]["cell_type"] == "code" and f"figures.{draws}(" in _source(cells[i])
    ]
    assert charts and charts[-1] < texts[0], (
        f"{stem}: {start!r} (cell {texts[0]}) is on the slide of cells {slide}, not after the "
        f"figures.{draws} chart it describes; mark it 'fragment' right after that chart"
    )


def _toggle_rule(prop: str) -> str:
    """The value course.css gives ``prop`` of an explorer's chosen toggle button."""
    from test_deck_fixes_round40 import COURSE_CSS

    css = re.sub(r"/\*.*?\*/", "", COURSE_CSS.read_text(), flags=re.S)
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        if ".tc-explorer" in selectors and ".widget-toggle-button.mod-active" in selectors:
            m = re.search(rf"(?:^|;|\s){prop}\s*:\s*([^;]+)", body)
            if m:
                return m.group(1).replace("!important", "").strip()
    raise AssertionError(f"static/course.css sets no {prop} for an explorer's chosen toggle button")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_chosen_toggle_button_stands_out_on_either_theme(theme):
    """Chapter 08's greedy / sample pair: the chosen one was a grey 1.5:1 from the other in dark."""
    from test_deck_fixes_round40 import THEMES, _contrast, _resolve, _theme_variables

    if not THEMES.is_dir():
        pytest.skip("JupyterLab's themes are not installed here")
    variables = _theme_variables(theme)
    chosen = _resolve(_toggle_rule("background-color"), variables)
    text = _resolve(_toggle_rule("color"), variables)
    other = _resolve(variables["--jp-layout-color2"], variables)  # an unchosen button's ground
    assert _contrast(chosen, other) >= 3.0
    assert _contrast(text, chosen) >= 4.5
