"""The course's colours, by name: every figure takes its colours from here.

Lines and bars use the Okabe–Ito palette (Okabe & Ito, *Color Universal Design*, 2008):
eight colours that people with any common form of colour blindness can still tell apart.
Heatmaps use ColorBrewer's Blues and RdBu, which are colour-blind safe as well (they vary
in lightness, not only in hue). A figure names a colour by what it shows (``LOSS_COLOUR``,
``REFERENT_COLOUR``), so two figures that show the same thing agree.

A line or a marker reaches a contrast of 3:1 with the page it is drawn on (WCAG's non-text
contrast), on the white page and on the dark one (#111111). Five of Okabe–Ito's colours do on
both; orange, sky blue and yellow are too light for white (2.3, 2.3 and 1.3:1), so figures,
always built for the light page, draw a deeper shade of each (``DEEP_ORANGE``…), which the
dark theme swaps back for Okabe–Ito's own (``themes.ON_DARK``). The few colours that
depend on the background (outlines, reference lines, empty cells) belong to the theme
(``themes.Theme``), not here.
"""

from __future__ import annotations

from plotly.colors import get_colorscale

# --- Okabe–Ito ---
BLUE = "#0072B2"
ORANGE = "#E69F00"
BLUISH_GREEN = "#009E73"
VERMILLION = "#D55E00"
SKY_BLUE = "#56B4E9"
REDDISH_PURPLE = "#CC79A7"
YELLOW = "#F0E442"
# The light page's shades of the three (the same hue, darkened to 3:1 or more against white;
# 5.5:1 or more against the dark page too, should one ever be drawn there unswapped).
DEEP_ORANGE = "#C47F00"  # 3.3:1 on white
DEEP_YELLOW = "#9E9200"  # 3.2:1 on white: olive, as every yellow dark enough for 3:1 is
DEEP_SKY_BLUE = "#068CFE"  # 3.4:1 on white; bluer than sky blue, to stay apart from BLUE
# A neutral for "everything else", light enough that bluish green stands out from it
# to a deuteranope (the palette's own grey, #999999, has nearly bluish green's lightness).
LIGHT_GREY = "#BBBBBB"
# A line's grey: 3.5:1 against white and 5.4:1 against the dark page (#111111).
MID_GREY = "#888888"

# Lines without a colour of their own take these in turn (the light template's colorway; the
# dark one has Okabe–Ito's own orange, yellow and sky blue in their places: themes.ON_DARK).
# The first five are Okabe–Ito colours that keep a line's 3:1 contrast on both pages, one per
# hue: orange beside vermillion and sky blue beside blue were two pairs of lines a reader of a
# five-line chart could not tell apart, on the dark page most of all. The first three stay
# far apart under every simulated colour blindness; from four lines on, each line also takes
# a dash of its own (base.LINE_DASHES), since no five colours can. The six dashes start over
# at the seventh line: orange then shares the first line's solid stroke and sky blue the second
# line's dash, colours far from blue and from vermillion to every eye. The sixth
# is the yellow (52 apart from vermillion in CIELAB on the light page, 68 on the dark), not the
# orange (25 and 33): chapter 09's held-out chart drew its sixth line ("they") in orange beside
# its second ("stories, one head") in vermillion, two lines a reader could not tell apart.
COLORWAY = (BLUE, VERMILLION, REDDISH_PURPLE, BLUISH_GREEN, MID_GREY, DEEP_YELLOW, DEEP_ORANGE, DEEP_SKY_BLUE)


def faded(colour: str, alpha: float) -> str:
    """``colour`` ("#RRGGBB") at opacity ``alpha``, as a CSS rgba() string."""
    if not (isinstance(colour, str) and len(colour) == 7 and colour.startswith("#")):
        raise ValueError(f'colour must be a "#RRGGBB" string, got {colour!r}')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


# --- Roles: what a colour shows ---
LOSS_COLOUR = BLUE  # a training curve (and the bars of a distribution)
# The noisy per-step values behind a running mean, on a light page (themes.LIGHT.faint;
# see-through, so the dark page needs a colour of its own: themes.DARK.faint). Half opaque,
# 2.1:1 on white: at a quarter (1.4:1) its 1 px line and legend swatch vanished on a projector.
RAW_COLOUR = faded(LOSS_COLOUR, 0.5)
# The running mean drawn over it (themes.LIGHT.bold): the loss blue (#0072B2) spelt as rgb(), so
# that the dark theme brightens this one line (to sky blue, themes.DARK.bold) and no other blue.
MEAN_COLOUR = "rgb(0, 114, 178)"
VALIDATION_COLOUR = VERMILLION  # a loss measured on held-out data, beside the training curve
REFERENT_COLOUR = BLUISH_GREEN  # the right answer: the word "it" refers to
DISTRACTOR_COLOUR = DEEP_ORANGE  # the plausible wrong answer (Okabe–Ito orange on the dark page)
# Every other word: left light on purpose, behind the two that matter (1.9:1 on white; a
# bar's value is written above it where it fits). The only greys that reach 3:1 on white and
# stay apart from the referent's green to a deuteranope are near black, and would outweigh it.
OTHER_COLOUR = LIGHT_GREY
CHOSEN_COLOUR = VERMILLION  # the token generation picked, among the blue others (and its ring)
POSITIVE_COLOUR, NEGATIVE_COLOUR = BLUE, VERMILLION  # signed bars, as RdBu: blue > 0, red < 0
# Two variants of one measurement: the costly or unstable one warm, the remedy cool.
UNSCALED_COLOUR, SCALED_COLOUR = VERMILLION, BLUE  # QKᵀ without / with 1/√d_k
EXPLICIT_COLOUR, FUSED_COLOUR = VERMILLION, BLUE  # attention weights stored / fused kernel

# --- Heatmap colour scales ---
# Written out as plotly's lists of (position, colour), as plotly checking a figure would
# write them: an explorer's figures skip that check (base.unchecked), and plotly.js's own
# "RdBu" is another scale than plotly's.
SEQUENTIAL = get_colorscale("Blues")  # weights and probabilities in [0, 1]
DIVERGING = get_colorscale("RdBu")  # signed values centred on zero: red < 0 < blue
DIVERGING_REVERSED = get_colorscale("RdBu_r")  # a difference A − B: red where A is larger
TRANSPARENT = "rgba(0,0,0,0)"  # an outline drawn on every bar but shown on one

MASK_ALLOWED = "#2563eb"  # a mask's "may attend" cells (the others take the theme's blank)
# A masked cell of scores or weights (−∞, or the 0 it becomes), on no colour scale: a gap (the
# page's colour) or a 0.00 of the scale looked like a near-zero cell on either page. One grey
# for both pages, so no swap: 4.3:1 on white and on the light scales' zero, 4.4:1 on the dark
# page, 3.3:1 on dark RdBu's zero (#2b2b2b), 3.0:1 on dark Blues' (navy); black text on it 4.9:1.
MASKED_COLOUR = "#7a7a7a"
