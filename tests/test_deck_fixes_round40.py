"""What a look at chapters 03, 04 and 06 on a 1280 × 720 projector found, checked without a browser
(the boxes' widths and the bars' values are measured in tests/browser/test_deck_fixes_round40.py).

1. A lead-in ending in ':' ("All three give the same output:") sat alone on its slide, the
   code it announced on the next one; so did a heading with a line or two (chapters 02, 05, 07
   and 08 too: "What if the targets are not shifted?", its code on the next slide).
2. An explorer's slider knob, white on the light theme's white, its track #bdbdbd (1.9:1): no
   one at the back of a room could find it. Both must reach 3:1 on either theme.
3. Chapter 06's batch box wrapped a long line into what read as one more sentence: a line of it
   must scroll sideways instead.
4. Chapter 04's saturation chart wrote d_k with an underscore, where the prose writes d with a
   subscript k.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from transformer_course import figures, widgets
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.softmax import saturation_experiment
from transformer_course.tokenizer import course_vocab

ROOT = Path(__file__).resolve().parents[1]
COURSE_CSS = ROOT / "lib" / "transformer_course" / "static" / "course.css"
THEMES = Path(sys.prefix) / "share" / "jupyter" / "lab" / "themes" / "@jupyterlab"
CHAPTER_NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
NEW_SLIDE = {"slide", "subslide"}
# Lead-ins left on a slide apart from what they announce, because that fills the screen; named by
# the first line of the lead-in's cell, with the reason. Checked below to exist still.
KEPT_APART = {
    "05_multi_head_attention": {
        "## Heads side by side": (
            "figure_view.js fits the eight-head grid to the screen under its code: any lead-in above "
            "would squeeze rows of labels that already sit 14 px apart"
        ),
    },
}
MIN_CONTROL_CONTRAST = 3.0  # WCAG 1.4.11: a control's parts against what is beside them


# --- 1. A lead-in and what it announces share a slide ---


def _slide_type(cell: dict) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type") or "-"


def _first_line(cell: dict) -> str:
    return "".join(cell["source"]).split("\n")[0]


def _lone_lead_ins(cells: list[dict], exempt=()) -> list[int]:
    """Markdown cells ending in ':' whose next shown cell starts a new slide; ``exempt``: first
    lines of such cells left apart on purpose (KEPT_APART)."""
    shown = [(i, c) for i, c in enumerate(cells) if _slide_type(c) not in {"skip", "notes"}]
    lone = []
    for (i, cell), (_, after) in zip(shown, shown[1:]):
        text = "".join(cell["source"]).rstrip()
        if cell["cell_type"] == "markdown" and text.endswith(":") and _slide_type(after) in NEW_SLIDE:
            if _first_line(cell) not in exempt:
                lone.append(i)
    return lone


@pytest.mark.parametrize("notebook", CHAPTER_NOTEBOOKS, ids=lambda p: p.stem)
def test_a_lead_in_shares_its_slide_with_what_it_announces(notebook):
    lone = _lone_lead_ins(json.loads(notebook.read_text())["cells"], KEPT_APART.get(notebook.stem, {}))
    assert not lone, (
        f"{notebook.name}: cells {lone} end in ':' and what they announce starts the next slide; "
        "make the next cell a 'fragment', or move the lead-in onto the next slide"
    )


def test_the_lead_in_check_finds_a_lone_lead_in():
    cells = [
        {
            "cell_type": "markdown",
            "source": ["All three give the same output:"],
            "metadata": {"slideshow": {"slide_type": "subslide"}},
        },
        {"cell_type": "code", "source": ["x = 1"], "metadata": {"slideshow": {"slide_type": "subslide"}}},
    ]
    assert _lone_lead_ins(cells) == [0]
    assert _short_lone_slides(cells) == [0]
    assert _lone_lead_ins(cells, exempt={"All three give the same output:"}) == []
    assert _short_lone_slides(cells, exempt={"All three give the same output:"}) == []
    cells[1]["source"] = ["widgets.MaskExplorer(vocab, embed, attention)"]
    assert _short_lone_slides(cells) == []  # an explorer keeps its slide to itself
    cells[1]["source"] = ["x = 1"]
    cells[1]["metadata"]["slideshow"]["slide_type"] = "fragment"
    assert _lone_lead_ins(cells) == []
    assert _short_lone_slides(cells) == []


@pytest.mark.parametrize("stem", KEPT_APART)
def test_each_lead_in_kept_apart_still_is(stem):
    """Each exemption names a cell that exists and still stands apart from what it announces."""
    cells = json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())["cells"]
    apart = {_first_line(cells[i]) for i in _lone_lead_ins(cells) + _short_lone_slides(cells)}
    stale = set(KEPT_APART[stem]) - apart
    assert not stale, f"{stem}: no lone lead-in starts with {sorted(stale)}; drop them from KEPT_APART"


# A few lines of prose alone on a slide, the code they introduce starting the next one (chapter
# 04's "The whole picture, for d_k from 1 to 1024" and one line, its chart on the next slide).
SHORT_LEAD_IN_CHARS = 400


def _explorer(cell: dict) -> bool:
    """An explorer gets a slide of its own (fitted to the screen), its 'Explore:' slide before
    it, in every chapter."""
    return cell["cell_type"] == "code" and bool(re.match(r"widgets\.\w+Explorer\(", "".join(cell["source"])))


def _short_lone_slides(cells: list[dict], exempt=()) -> list[int]:
    """First cells of slides of markdown alone, under SHORT_LEAD_IN_CHARS, followed by a
    slide that starts with code (not an explorer); ``exempt`` as for _lone_lead_ins."""
    slides: list[list[dict]] = []
    for i, cell in enumerate(cells):
        if _slide_type(cell) in {"skip", "notes"}:
            continue
        if _slide_type(cell) in NEW_SLIDE or not slides:
            slides.append([])
        slides[-1].append((i, cell))
    lone = []
    for slide, after in zip(slides, slides[1:]):
        prose = all(c["cell_type"] == "markdown" for _, c in slide)
        size = sum(len("".join(c["source"])) for _, c in slide)
        code_next = after[0][1]["cell_type"] == "code" and not _explorer(after[0][1])
        if prose and size < SHORT_LEAD_IN_CHARS and code_next and _first_line(slide[0][1]) not in exempt:
            lone.append(slide[0][0])
    return lone


@pytest.mark.parametrize("notebook", CHAPTER_NOTEBOOKS, ids=lambda p: p.stem)
def test_a_short_lead_in_is_not_alone_on_its_slide(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    lone = _short_lone_slides(cells, KEPT_APART.get(notebook.stem, {}))
    assert not lone, (
        f"{notebook.name}: the slides starting at cells {lone} hold only a few lines of prose, "
        "and the code they introduce starts the next slide"
    )


# --- 2. Slider knob and track, 3:1 on both themes ---


def _theme_variables(theme: str) -> dict[str, str]:
    css = (THEMES / f"theme-{theme}-extension" / "index.css").read_text()
    return dict(re.findall(r"(--jp-[\w-]+):\s*([^;}]+)", css))


def _resolve(value: str, variables: dict[str, str]) -> str:
    """A CSS value with var(--name[, fallback]) replaced, as the theme defines it."""
    for _ in range(10):
        m = re.search(r"var\((--[\w-]+)(?:\s*,\s*([^()]+))?\)", value)
        if not m:
            return value.strip()
        value = value.replace(m.group(0), variables.get(m.group(1), m.group(2) or ""))
    raise AssertionError(f"could not resolve {value!r}")


def _rgba(colour: str) -> tuple[float, float, float, float]:
    colour = colour.strip().lower()
    if colour == "white":
        return (255, 255, 255, 1.0)
    if colour.startswith("#"):
        h = colour[1:]
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 1.0)
    m = re.fullmatch(r"rgba?\(([^)]*)\)", colour)
    assert m, f"not a colour: {colour!r}"
    parts = [float(p) for p in m.group(1).split(",")]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def _over(colour: str, ground: str) -> tuple[float, float, float]:
    r, g, b, a = _rgba(colour)
    gr, gg, gb, _ = _rgba(ground)
    return (a * r + (1 - a) * gr, a * g + (1 - a) * gg, a * b + (1 - a) * gb)


def _luminance(rgb) -> float:
    def lin(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(colour: str, ground: str) -> float:
    lighter, darker = sorted((_luminance(_over(colour, ground)), _luminance(_over(ground, ground))))[::-1]
    return (lighter + 0.05) / (darker + 0.05)


def _explorer_slider_colour(part: str, prop: str) -> str:
    """The value course.css gives ``prop`` of a slider's ``part`` inside an explorer."""
    css = re.sub(r"/\*.*?\*/", "", COURSE_CSS.read_text(), flags=re.S)
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        if ".tc-explorer" in selectors and "slider" in selectors and part in selectors:
            m = re.search(rf"(?:^|;|\s){prop}\s*:\s*([^;]+)", body)
            if m:
                return m.group(1).replace("!important", "").strip()
    raise AssertionError(f"static/course.css sets no {prop} for an explorer's slider {part}")


@pytest.mark.skipif(not THEMES.is_dir(), reason="JupyterLab's themes are not installed here")
@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(
    "part, prop",
    [(".noUi-handle", "background-color"), (".noUi-connects", "background")],
    ids=["knob", "track"],
)
def test_an_explorers_slider_reads_on_either_theme(theme, part, prop):
    variables = _theme_variables(theme)
    colour = _resolve(_explorer_slider_colour(part, prop), variables)
    for ground_name in ("--jp-layout-color0", "--jp-layout-color1"):  # the page, a cell
        ground = _resolve(variables[ground_name], variables)
        ratio = _contrast(colour, ground)
        assert ratio >= MIN_CONTROL_CONTRAST, (
            f"{theme} theme: the slider's {part} ({colour}) on {ground_name} ({ground}) is "
            f"{ratio:.2f}:1, under {MIN_CONTROL_CONTRAST}:1"
        )


def test_the_contrast_sum_matches_a_known_pair():
    assert _contrast("#bdbdbd", "white") == pytest.approx(1.87, abs=0.01)  # the old track
    assert _contrast("rgba(0,0,0,.54)", "white") == pytest.approx(4.6, abs=0.1)


# --- 3. The batch box scrolls a long line ---


def test_chapter_06s_batch_box_scrolls_a_long_line_rather_than_wrap_it():
    vocab = course_vocab()
    explorer = widgets.MaskExplorer(
        vocab, TokenEmbedding(len(vocab), 16, scale=False), SingleHeadAttention(16)
    )
    classes = explorer.controls["sentences"]._dom_classes
    css = re.sub(r"/\*.*?\*/", "", COURSE_CSS.read_text(), flags=re.S)
    rules = [
        body
        for sel, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)
        if "textarea" in sel and any(f".{c}" in sel for c in classes)
    ]
    assert any(re.search(r"white-space\s*:\s*pre\s*;", body) for body in rules), (
        f"the batch box (classes {classes}) has no course.css rule keeping each sentence on one line"
    )


# --- 4. d with a subscript k in the saturation chart ---


@pytest.mark.parametrize("metric", ["entropy", "grad_norm"])
def test_the_saturation_chart_writes_d_k_as_the_prose_does(metric):
    fig = figures.saturation_figure(saturation_experiment((2, 8), rows=8), metric)
    texts = [t.name for t in fig.data] + [fig.layout.title.text, fig.layout.xaxis.title.text]
    written = [t for t in texts if "d_k" in t]
    assert not written, f"d_k written with an underscore in the {metric} chart: {written}"
