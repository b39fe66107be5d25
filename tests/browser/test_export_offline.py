"""`make html` output works offline: one chapter is exported, then opened in Chromium with
every network request refused, and its figures (static and explorer snapshots) draw."""

from __future__ import annotations

import pytest
from transformer_course import export

from .lab import BUILD, CHAPTERS

pytestmark = pytest.mark.browser

CHAPTER = "01_embeddings"


@pytest.fixture(scope="module")
def exported():
    return export.export_notebook(CHAPTERS / f"{CHAPTER}.ipynb", BUILD / "html-test")


def test_exported_chapter_draws_its_figures_offline(browser, exported):
    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 900})
    requests: list[str] = []

    def refuse(route):
        requests.append(route.request.url)
        route.abort()

    context.route("http://**/*", refuse)
    context.route("https://**/*", refuse)
    page = context.new_page()
    try:
        page.goto(exported.as_uri())
        page.wait_for_function(
            "() => window.Plotly && document.querySelectorAll('.js-plotly-plot .main-svg').length > 0",
            timeout=30_000,
        )
        charts = page.locator(".js-plotly-plot")
        drawn = page.evaluate(
            "() => [...document.querySelectorAll('.js-plotly-plot')]"
            ".filter(d => d.querySelector('.main-svg')).length"
        )
        assert drawn == charts.count() >= 4, (drawn, charts.count())
        # The explorer is there in its last state, with both of its figures.
        snapshot = page.locator(".tc-snapshot").first
        assert "the cat saw the dog" in snapshot.inner_text()
        assert snapshot.locator(".js-plotly-plot .main-svg").count() >= 2
        assert requests == [], f"the page tried the network: {requests}"
        snapshot.scroll_into_view_if_needed()
        (BUILD / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(BUILD / "screenshots" / f"export-{CHAPTER}.png"))
    finally:
        context.close()
