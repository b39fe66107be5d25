"""Chapter 09, run once in JupyterLab and then measured every way the deck and theme tests measure.

Running chapter 09 trains its GPT: about 30 s of the kernel's one thread, nearer a minute beside
a browser. The whole-deck test, two slide tests and the theme test each ran it again, four runs
and more than three minutes of a CI budget of thirty. Here one page runs it once and each check
reads that page in turn, in this order (pytest runs a module's tests as written):

0. Run All, timed as every chapter's is (test_chapters_in_lab.timed_run_all: the latency report);
1. the whole deck at 1280 × 720, from its first cell (test_present.every_slide_fits);
2. the slide of the training curve, with the story printed after training
   (test_decks_round42.full_slide_fits);
3. the slide of the checkpoints' table and its paragraph
   (test_ch09_deck_round42.checkpoints_slide_fits);
4. every control of every explorer moved, each repainting a figure, timed
   (test_chapters_in_lab.every_control_repaints): after the deck, which must see the figures as
   Run All left them;
5. JupyterLab Dark, then Light, and the charts' toolbars (test_theme). Last: it types an unknown
   word into the explorer's prompt and leaves the lab in Light.

Each check leaves the deck, pass or fail, so a failure is its own and the next check starts from
the notebook.
"""

from __future__ import annotations

import pytest

from .lab import open_notebook
from .test_ch09_deck_round42 import checkpoints_slide_fits
from .test_chapters_in_lab import WINDOW, every_control_repaints, timed_run_all
from .test_decks_round42 import CH09_SLIDE, full_slide_fits
from .test_present import every_slide_fits
from .test_theme import close_in_light, no_chart_offers_to_share, ready_to_measure, text_and_figures_read

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

NOTEBOOK = "09_a_gpt_that_writes.ipynb"
STEM = NOTEBOOK.removesuffix(".ipynb")


@pytest.fixture(scope="module")
def page(lab, browser, latency):
    page = browser.new_page(viewport=WINDOW)  # as test_chapters_in_lab runs every chapter
    try:
        open_notebook(page, lab, NOTEBOOK)
        timed_run_all(page, latency.setdefault(STEM, {}), timeout_s=300)
        yield page
    finally:
        close_in_light(page, lab)  # also stops the kernels


def test_every_slide_fits_a_projector_and_reads_from_the_back(page):
    every_slide_fits(page, STEM)


def test_the_slide_of_the_training_curve_fits_and_keeps_clear_of_the_arrows(page):
    full_slide_fits(page, NOTEBOOK, CH09_SLIDE)


def test_the_checkpoints_slide_fits_with_its_paragraph(page):
    checkpoints_slide_fits(page)


def test_every_control_repaints(page, latency):
    every_control_repaints(page, STEM, latency[STEM])


@pytest.fixture(scope="module")
def measured(page):
    ready_to_measure(page, "09")
    return page


@pytest.mark.parametrize("theme, light", [("JupyterLab Dark", False), ("JupyterLab Light", True)])
def test_text_and_figures_read_at_4_5_to_1(measured, theme, light):
    text_and_figures_read(measured, theme, light)


def test_no_chart_in_the_live_lab_offers_to_share_or_upload(measured):
    no_chart_offers_to_share(measured)
