"""Round 46: what an instructor saw that looked wrong.

- Chapter 00's Transformer diagram was a white card with dark text on every page, a glaring
  block in JupyterLab Dark, the exported page's dark mode and on a dark projector. Now the
  output carries a dark drawing too (assets.dark_svg), shown on a dark page; every text of
  either drawing reads at 4.5:1 or more on what it is drawn over.
- Chapter 09's held-out chart drew its sixth line ("they") in a deep orange beside the second
  ("stories, one head") in vermillion: 25 apart in CIELAB on the light page, 33 on the dark.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import pytest
from _colour_vision import distance
from transformer_course import assets, figures
from transformer_course.figures import palette, themes

NS = "{http://www.w3.org/2000/svg}"
LEAST = 4.5  # WCAG AA for text


def luminance(colour: str) -> float:
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    channels = [int(colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def class_fills(root: ET.Element) -> list[tuple[str, str]]:
    """(class or type, fill) of every rule of the drawing's <style> that sets a fill, in order."""
    css = "".join(style.text or "" for style in root.iter(f"{NS}style"))
    found = []
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        fill = re.search(r"(?:^|;)\s*fill:\s*(#[0-9a-fA-F]{3,6})", body)
        if fill:
            found += [(s.strip(), fill.group(1)) for s in selectors.split(",")]
    return found


def fill_of(element: ET.Element, rules, inherited: str | None) -> str | None:
    """The element's fill: a class rule (the last that matches) beats a type rule beats the attribute."""
    classes = element.get("class", "").split()
    tag = element.tag.removeprefix(NS)
    by_class = [f for s, f in rules if s.startswith(".") and s[1:] in classes]
    by_type = [f for s, f in rules if s == tag]
    return (by_class or by_type or [element.get("fill") or inherited])[-1]


def texts_on_backgrounds(svg: str) -> list[tuple[str, str, str]]:
    """(text, its fill, the fill of the smallest filled rect under its anchor) for every <text>."""
    root = ET.fromstring(svg)
    rules = class_fills(root)
    rects, texts = [], []

    def walk(element: ET.Element, dx: float, dy: float, fill: str | None) -> None:
        move = re.fullmatch(r"translate\(([-\d.]+)[ ,]+([-\d.]+)\)", element.get("transform", ""))
        if move:
            dx, dy = dx + float(move.group(1)), dy + float(move.group(2))
        fill = fill_of(element, rules, fill)
        tag = element.tag.removeprefix(NS)
        if tag == "rect" and fill and fill.startswith("#"):
            x, y = dx + float(element.get("x", 0)), dy + float(element.get("y", 0))
            rects.append((x, y, float(element.get("width")), float(element.get("height")), fill))
        if tag == "text":
            at = (dx + float(element.get("x")), dy + float(element.get("y")))
            texts.append(("".join(element.itertext()).strip(), fill, at))
        for child in element:
            if child.tag.removeprefix(NS) not in ("defs", "marker", "style", "title"):
                walk(child, dx, dy, fill)

    walk(root, 0.0, 0.0, None)
    found = []
    for text, fill, (x, y) in texts:
        under = [r for r in rects if r[0] <= x <= r[0] + r[2] and r[1] <= y <= r[1] + r[3]]
        assert under, f"{text!r} at ({x:g}, {y:g}) is on no rect: the card should be under everything"
        found.append((text, fill, min(under, key=lambda r: r[2] * r[3])[4]))
    return found


def diagram() -> str:
    return assets.asset_path("transformer.svg").read_text(encoding="utf-8")


def test_the_contrast_measure_can_fail():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    # the diagram's old dark text on a dark page
    assert contrast("#111827", "#111111") < 1.2
    found = texts_on_backgrounds(diagram().replace("#b91c1c", "#dc2626"))  # the red before
    assert min(contrast(f, b) for _, f, b in found) < LEAST  # the red "K, V" on the grey stack: 4.4


@pytest.mark.parametrize("page", ["light", "dark"])
def test_every_text_of_the_diagram_reads_on_what_it_is_drawn_over(page):
    svg = diagram() if page == "light" else assets.dark_svg(diagram())
    found = texts_on_backgrounds(svg)
    assert len(found) >= 30, found
    faint = [f"{t!r} {f} on {b}: {contrast(f, b):.2f}" for t, f, b in found if contrast(f, b) < LEAST]
    assert not faint, f"{page}: text under {LEAST}:1: {faint}"


def test_the_dark_drawing_is_dark():
    """Its card (the largest rect) is near black, and its text light: the light drawing's were
    white and near black."""
    found = texts_on_backgrounds(assets.dark_svg(diagram()))
    card = max(found, key=lambda x: luminance(x[2]))  # the lightest background
    assert luminance(card[2]) < 0.15, f"a dark drawing's backgrounds are dark (white: 1), {card}"
    assert all(luminance(f) > 0.3 for _, f, _ in found), "every text light"


def test_every_colour_of_every_diagram_has_a_dark_one():
    for path in assets.assets_folder().glob("*.svg"):
        colours = {c.lower() for c in assets.HEX.findall(path.read_text(encoding="utf-8"))}
        assert colours <= set(assets.ON_DARK), (
            f"{path.name}: no dark colour for {colours - set(assets.ON_DARK)}"
        )


def test_dark_svg_swaps_in_one_pass():
    # #6b7280 → #9ca3af, and #9ca3af → #737373: the first must not go on to #737373
    assert (
        assets.dark_svg('<a b="#6b7280" c="#9CA3AF" d="#123456">')
        == '<a b="#9ca3af" c="#737373" d="#123456">'
    )
    with pytest.raises(ValueError, match="svg"):
        assets.dark_svg(b"<svg/>")


def images(html: str) -> list[dict[str, str]]:
    return [dict(re.findall(r'(\w+)="([^"]*)"', tag)) for tag in re.findall(r"<img [^>]*>", html)]


def test_the_output_carries_both_drawings_and_the_theme_picks():
    html = assets.asset_image("transformer.svg", width=700, alt="the model").data
    light, dark = images(html)
    assert (light["class"], dark["class"]) == ("tc-on-light", "tc-on-dark")
    assert light["width"] == dark["width"] == "700" and light["alt"] == dark["alt"] == "the model"
    assert dark["style"] == "display: none"  # hidden unless the page's style says dark
    drawn = [base64.b64decode(i["src"].split(",", 1)[1]).decode() for i in (light, dark)]
    assert drawn == [diagram(), assets.dark_svg(diagram())]
    assert 'body[data-jp-theme-light="false"] img.tc-on-dark' in html


# --- chapter 09's held-out chart: six lines ---

CHAPTER_09 = ["stories, a head per word", "stories, one head", "word 1", "word 2", "word 3", "word 4"]


@pytest.mark.parametrize("theme", [themes.LIGHT, themes.DARK], ids=lambda t: t.name)
def test_six_lines_are_told_apart_by_colour(theme):
    fig = figures.progress_curves_figure([0, 1, 2], {n: [0.1, 0.5, 0.9] for n in CHAPTER_09})
    assert [t.line.color for t in fig.data] == [None] * 6  # left to the colorway
    colours = list(theme.template.layout.colorway[:6])
    close = [
        f"{CHAPTER_09[i]!r} {a} / {CHAPTER_09[j]!r} {b}: {distance(a, b):.0f}"
        for i, a in enumerate(colours)
        for j, b in enumerate(colours)
        if i < j and distance(a, b) < 38
    ]
    assert not close, f"{theme.name}: lines under 38 apart in CIELAB: {close}"


def test_the_colour_distance_can_fail():
    assert distance(palette.DEEP_ORANGE, palette.VERMILLION) < 38
