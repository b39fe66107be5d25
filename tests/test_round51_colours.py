"""Review 51 R2's colour leftovers in chapters 08 and 09 (F10).

M4: on the dark page chapter 09's "each step" loss line was a slate thread on #111111 (2.9:1),
kept that faint because the running mean over it, in the loss blue, reaches only 3.6:1 there.
L6: the StoryExplorer's key line under the story inherited the widget's 28 px line height.
L1: chapter 09 called the chosen token's vermillion bar "orange", the distractor's colour.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import tinycss2
import transformer_course
from test_figures_package import _contrast_over, _rgba
from transformer_course import figures
from transformer_course.figures import palette, themes

ROOT = Path(__file__).resolve().parents[1]
STATIC = Path(transformer_course.__file__).parent / "static"


def _pair(theme: themes.Theme) -> tuple[float, float]:
    """(each step's line, the running mean): contrast against ``theme``'s page."""
    paper = theme.template.layout.paper_bgcolor
    return _contrast_over(theme.faint, paper), _contrast_over(theme.bold, paper)


def test_each_step_shows_on_the_dark_page_and_the_running_mean_stands_out_over_it():
    faint, bold = _pair(themes.DARK)
    assert faint >= 3.0, f"each step's line at {faint:.2f}:1 on #111111"
    # The mean at least twice the faint line's contrast, as on white (5.2 against 2.1:1).
    assert bold >= 2 * faint, (faint, bold)
    light_faint, light_bold = _pair(themes.LIGHT)
    assert light_bold >= 2 * light_faint and light_faint <= faint, (light_faint, light_bold)


def _dark_spec(fig) -> dict:
    """``fig`` as static/theme_swap.js's darkSpec redraws it on the dark page (run in node)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = (
        "const vm = require('vm'), fs = require('fs');"
        "vm.runInThisContext(fs.readFileSync(process.argv[1], 'utf8'));"
        "const [text, themes] = JSON.parse(fs.readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(darkSpec(text, themes).data));"
    )
    sent = json.dumps([fig.to_json(), themes.theme_swap()])
    done = subprocess.run(
        [node, "-e", script, str(STATIC / "theme_swap.js")],
        input=sent,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def test_the_dark_page_brightens_the_running_mean_and_no_other_blue_line():
    fig = figures.loss_curve_figure([1, 2, 3], [3.0, 2.0, 1.0], smoothed=[3.0, 2.5, 2.0])
    raw, mean = fig.data
    assert (raw.line.color, mean.line.color) == (themes.LIGHT.faint, themes.LIGHT.bold)
    # On the light page the mean is the loss blue, as before: only its spelling is its own.
    assert _rgba(mean.line.color) == _rgba(palette.LOSS_COLOUR)
    dark = _dark_spec(fig)
    assert [t["line"]["color"] for t in dark] == [themes.DARK.faint, themes.DARK.bold]
    # A loss-blue line elsewhere (a measurement's progress) keeps its blue on the dark page.
    progress = _dark_spec(figures.progress_curve_figure([0, 10], [0.5, 0.9], current=10))
    assert progress[0]["line"]["color"] == palette.LOSS_COLOUR


def _declarations(selector: str) -> dict[str, str]:
    """The declarations of course.css's rules for exactly ``selector``, later ones winning."""
    css = (STATIC / "course.css").read_text()
    found = {}
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type != "qualified-rule" or tinycss2.serialize(rule.prelude).strip() != selector:
            continue
        for decl in tinycss2.parse_declaration_list(rule.content, skip_comments=True, skip_whitespace=True):
            if decl.type == "declaration":
                found[decl.lower_name] = tinycss2.serialize(decl.value).strip()
    return found


def test_the_story_explorers_key_line_keeps_a_text_line_height():
    # lab-light-cell36.png: "looked at." 25 px below "Plain: your prompt…" (28 px lines at 0.9em).
    height = _declarations(".tc-story-key").get("line-height")
    assert height is not None and re.fullmatch(r"1(\.\d+)?", height) and float(height) <= 1.6, height


def _markdown_before(source: str, code: str) -> str:
    """The markdown cell just before the code cell that contains ``code`` (jupytext percent)."""
    cells = re.split(r"^# %%", source, flags=re.M)
    at = next(i for i, cell in enumerate(cells) if code in cell)
    return next(cells[i] for i in range(at - 1, -1, -1) if cells[i].lstrip().startswith("[markdown]"))


def test_chapter_09_names_the_chosen_bar_by_its_own_colour():
    # palette: the chosen token is vermillion (chapter 04 calls it red-orange); "orange" is the
    # distractor's (DISTRACTOR_COLOUR, Okabe–Ito's orange on the dark page).
    assert palette.CHOSEN_COLOUR == palette.VERMILLION
    assert themes.ON_DARK[palette.DISTRACTOR_COLOUR] == palette.ORANGE
    source = (ROOT / "chapters" / "09_a_gpt_that_writes.py").read_text()
    prose = _markdown_before(source, "figures.likeliest_tokens_figure(probs")
    assert "red-orange bar" in prose and not re.search(r"(?<!red-)orange", prose), prose
