"""The Transformer diagram (assets/transformer.svg) as an instructor shows it on a 1280×720 slide.

course.css caps a presented picture's height at ``100vh - <chrome>px``, so on a 720 px slide a
drawing is scaled to that height: a portrait drawing with 12.5-unit text came out at 6 px. The
drawing must be landscape, with text large enough to stay at 11 px or more there, and it must
still show every box and colour that chapter 00's prose points the learner to.
"""

import colorsys
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SVG_PATH = ROOT / "assets" / "transformer.svg"
CSS_PATH = ROOT / "lib" / "transformer_course" / "static" / "course.css"
CHAPTER_00 = ROOT / "chapters" / "00_welcome.py"
NS = "{http://www.w3.org/2000/svg}"

SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720
OUTPUT_WIDTH = 1100  # a slide's output area: the slide less JupyterLab's prompt column and padding
MIN_UNITS, MIN_PX = 16, 11

# Each colour chapter 00's prose names, the hues (degrees) that read as that colour, and a label
# drawn inside a box of that colour.
COLOURS = [
    ("pink", (310, 350), "Embedding · √d_model"),
    ("orange", (15, 45), "Masked multi-head"),
    ("orange", (15, 45), "cross-attention"),
    ("blue", (195, 235), "Feed-forward"),
    ("yellow", (45, 65), "Add & Norm"),
    ("purple", (250, 290), "Linear: output projection"),
    ("green", (120, 160), "Softmax"),
]


def svg_root() -> ET.Element:
    return ET.parse(SVG_PATH).getroot()


def view_box(root: ET.Element) -> tuple[float, float]:
    """The viewBox's width and height, in SVG units."""
    _, _, width, height = (float(v) for v in root.get("viewBox").replace(",", " ").split())
    return width, height


def css_rules(root: ET.Element) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) for every rule in the drawing's <style>, in order.

    Only type (``text``) and class (``.small``) selectors are understood; anything else fails
    here, so that a richer stylesheet cannot slip a font size past the check below.
    """
    css = "".join(style.text or "" for style in root.iter(f"{NS}style"))
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        declarations = dict(
            (name.strip(), value.strip())
            for name, _, value in (d.partition(":") for d in body.split(";"))
            if value.strip()
        )
        for selector in selectors.split(","):
            selector = selector.strip()
            assert re.fullmatch(r"\.?[\w-]+", selector), f"unsupported CSS selector {selector!r}"
            rules.append((selector, declarations))
    return rules


def own_property(element: ET.Element, name: str, rules) -> str | None:
    """The value ``element`` sets itself (not inherited): style attribute, then CSS, then attribute.

    In SVG a presentation attribute loses to any CSS rule, and a class rule beats a type rule.
    """
    style = dict(
        (k.strip(), v.strip()) for k, _, v in (d.partition(":") for d in element.get("style", "").split(";"))
    )
    if name in style:
        return style[name]
    classes = element.get("class", "").split()
    tag = element.tag.removeprefix(NS)
    by_class = [d[name] for s, d in rules if name in d and s.startswith(".") and s[1:] in classes]
    by_type = [d[name] for s, d in rules if name in d and s == tag]
    return (by_class or by_type or [element.get(name)])[-1]


def font_size_units(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(px)?", value.strip())
    assert match, f"font-size must be in SVG units or px, got {value!r}"
    return float(match.group(1))


def texts_with_font_size(root: ET.Element) -> list[tuple[str, float]]:
    """(text, font size in SVG units) of every <text> and <tspan>, following inheritance."""
    rules, found = css_rules(root), []

    def walk(element: ET.Element, inherited: float) -> None:
        own = own_property(element, "font-size", rules)
        size = font_size_units(own) if own else inherited
        if element.tag in (f"{NS}text", f"{NS}tspan"):
            found.append(("".join(element.itertext()).strip(), size))
        for child in element:
            walk(child, size)

    walk(root, 16.0)  # a browser's default, in case the root sets none
    return found


def slide_chrome_px() -> int:
    """The height course.css keeps free above a presented picture (``100vh - Npx``)."""
    css = CSS_PATH.read_text(encoding="utf-8")
    rule = re.search(r'presenting"\][^{]*\bimg\s*\{([^}]*)\}', css)
    assert rule, f"{CSS_PATH.name} must have a presenting-mode rule for output images"
    cap = re.search(r"max-height:\s*calc\(100vh\s*-\s*(\d+)px\)", rule.group(1))
    assert cap, f"the presenting img rule must cap max-height as calc(100vh - Npx), got {rule.group(1)!r}"
    return int(cap.group(1))


def test_the_diagram_is_landscape():
    width, height = view_box(svg_root())
    assert width > height, f"viewBox must be landscape for a 16:9 slide, got {width:g}×{height:g}"


def test_every_text_is_at_least_16_units():
    small = [(text, size) for text, size in texts_with_font_size(svg_root()) if size < MIN_UNITS]
    assert not small, f"text under {MIN_UNITS} units (font-size) in {SVG_PATH.name}: {small}"


def test_the_smallest_text_is_readable_on_a_720_px_slide():
    root = svg_root()
    width, height = view_box(root)
    # The picture is as tall as the CSS allows, unless that makes it wider than the output area.
    scale = min((SLIDE_HEIGHT - slide_chrome_px()) / height, OUTPUT_WIDTH / width)
    text, size = min(texts_with_font_size(root), key=lambda pair: pair[1])
    assert size * scale >= MIN_PX, (
        f"the smallest text ({text!r}, {size:g} units) is {size * scale:.1f} px on a "
        f"{SLIDE_WIDTH}×{SLIDE_HEIGHT} slide; it must be at least {MIN_PX} px"
    )


def diagram_prose() -> str:
    """Chapter 00's paragraph that walks the learner through the picture."""
    source = CHAPTER_00.read_text(encoding="utf-8")
    start = source.index("## The whole model on one page")
    return " ".join(line.lstrip("# ") for line in source[start:].split("\n\n")[0].splitlines())


def texts(root: ET.Element) -> dict[str, ET.Element]:
    return {"".join(t.itertext()).strip(): t for t in root.iter(f"{NS}text")}


@pytest.mark.parametrize(
    "label",
    [
        "Encoder",
        "Decoder",
        "N×",
        "Masked multi-head",
        "cross-attention",
        "Feed-forward",
        "Add & Norm",
        "Linear: output projection",
        "Softmax",
        "Q",
        "K, V",
        "positional",
        "encoding",
    ],
)
def test_each_part_the_prose_names_is_labelled(label):
    assert label in texts(svg_root()), f"{SVG_PATH.name} must label {label!r}"


def box_around(root: ET.Element, text: ET.Element) -> ET.Element:
    """The smallest coloured <rect> (not a stack's grey panel) that holds the text's anchor point."""
    x, y = float(text.get("x")), float(text.get("y"))
    boxes = [
        r
        for r in root.iter(f"{NS}rect")
        if r.get("class") not in (None, "stack")
        and float(r.get("x")) <= x <= float(r.get("x")) + float(r.get("width"))
        and float(r.get("y")) <= y <= float(r.get("y")) + float(r.get("height"))
    ]
    assert boxes, f"no coloured box around {''.join(text.itertext())!r} at ({x:g}, {y:g})"
    return min(boxes, key=lambda r: float(r.get("width")) * float(r.get("height")))


def hue(colour: str) -> float:
    """The hue in degrees of a #rrggbb colour."""
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", colour), f"expected a #rrggbb colour, got {colour!r}"
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


@pytest.mark.parametrize("word, hues, label", COLOURS)
def test_each_colour_the_prose_names_fills_its_box(word, hues, label):
    assert re.search(rf"\b{word}\b", diagram_prose()), f"chapter 00 no longer says '{word}'; update COLOURS"
    root = svg_root()
    box = box_around(root, texts(root)[label])
    fill = own_property(box, "fill", css_rules(root))
    assert hues[0] <= hue(fill) <= hues[1], f"the box of {label!r} must be {word}, its fill is {fill}"


def path_end(d: str) -> tuple[float, float]:
    """Where a path of straight segments (M, L, H, V, absolute or relative) ends."""
    x = y = 0.0
    for command, numbers in re.findall(r"([MLHVmlhv])([^MLHVmlhv]*)", d):
        values = [float(n) for n in re.findall(r"-?[\d.]+", numbers)]
        dx, dy = (x, y) if command.islower() else (0.0, 0.0)
        if command in "MLml":
            x, y = dx + values[-2], dy + values[-1]
        elif command in "Hh":
            x = dx + values[-1]
        else:
            y = dy + values[-1]
    return x, y


def test_the_red_arrow_carries_the_encoder_output_to_cross_attention():
    root = svg_root()
    rules = css_rules(root)
    red = [p for p in root.iter(f"{NS}path") if p.get("class") == "cross"]
    assert len(red) == 1 and hue(own_property(red[0], "stroke", rules)) < 10, "one red 'cross' arrow"
    end_x, end_y = path_end(red[0].get("d"))
    box = box_around(root, texts(root)["cross-attention"])
    left, top = float(box.get("x")), float(box.get("y"))
    assert left - 6 <= end_x <= left and top <= end_y <= top + float(box.get("height")), (
        f"the red arrow must end at the cross-attention box's left edge, ends at ({end_x:g}, {end_y:g})"
    )


def test_the_pink_waves_are_the_positional_encodings():
    root = svg_root()
    rules = css_rules(root)
    strokes = [own_property(p, "stroke", rules) for p in root.iter(f"{NS}path")]
    pink = [s for s in strokes if s and s.startswith("#") and 310 <= hue(s) <= 350]
    assert len(pink) >= 2, f"a pink wave beside each embedding (positional encoding), got strokes {strokes}"


def test_encoder_left_decoder_right_output_on_top():
    root = svg_root()
    labels = texts(root)
    assert float(labels["Encoder"].get("x")) < float(labels["Decoder"].get("x")), (
        "encoder left, decoder right"
    )
    head = {box_around(root, labels[name]) for name in ("Linear: output projection", "Softmax")}
    layers = [r for r in root.iter(f"{NS}rect") if r.get("class") in ("attn", "ff", "norm", "embed")]
    legend = [r for r in layers if float(r.get("width")) < 40]  # the legend's swatches
    lowest_head = max(float(r.get("y")) + float(r.get("height")) for r in head)
    highest_layer = min(float(r.get("y")) for r in layers if r not in legend)
    assert lowest_head < highest_layer, "the output projection and softmax must sit above every layer"
