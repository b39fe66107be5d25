"""The deck helpers' own checks, on plain pages: STILL_JS (how long a deck step waits) and
BARS_JS (bar values past their plot area), which every presented slide relies on.

- STILL_JS replaced a fixed 0.6 s sleep after each key: it must wait for a change that comes
  after the key (the deck scrolls 100 ms later; figure_view.js refits a figure 80 ms after) and
  for a fade, and must not wait for an editor's blinking cursor (a CSS animation restarted at
  every step kept its first version waiting 1.2 s a step).
- BARS_JS checks each bar value against the plot area it stands over: in a column of subplots,
  the nearest one, not the first with the same x span.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import plotly
import pytest
from plotly.subplots import make_subplots

from .deck import BARS_JS, STILL_JS

pytestmark = pytest.mark.browser

STILL = [150, 250, 3000]  # as deck.settle asks: at least, without a change, at most (ms)

# As a deck step goes: the slide changes at the key, scrolls 100 ms later, a figure on it is
# refitted 200 ms after that, then fades in over 0.4 s; beside it a cursor blinks for ever.
STEP_PAGE = """<html><head><style>
  #cell { width: 400px; height: 100px; transition: opacity 0.4s; }
  .cursor { width: 2px; height: 20px; background: black; animation: blink 1.2s steps(1) infinite; }
  @keyframes blink { 50% { visibility: hidden; } }
</style></head><body>
<div class="jp-deck-mod-onscreen" id="cell"><div class="cursor"></div></div>
<script>
document.addEventListener('keydown', () => {
  cell.style.height = '120px';
  setTimeout(() => { cell.style.width = '500px'; setTimeout(() => {
    cell.style.width = '600px';
    setTimeout(() => { cell.style.opacity = '0.5'; window.faded = performance.now() + 400; }, 50);
  }, 200); }, 100);
});
</script></body></html>"""


def test_a_step_waits_for_each_change_and_a_fade_but_not_for_a_blinking_cursor(browser):
    page = browser.new_page()
    try:
        page.set_content(STEP_PAGE)
        start = time.monotonic()
        page.evaluate(STILL_JS, STILL)  # no key: nothing moves but the cursor
        assert time.monotonic() - start < 1.0, "the blinking cursor held the wait"
        page.keyboard.press("a")
        page.evaluate(STILL_JS, STILL)
        width, done, now = page.evaluate(
            "() => [cell.getBoundingClientRect().width, window.faded, performance.now()]"
        )
        assert width == 600, "the wait ended before the figure's refit"
        assert done is not None and now >= done, "the wait ended before the fade did"
    finally:
        page.close()


def _bars_page(tmp_path: Path, past: bool) -> str:
    """Two rows of bar charts, their values inside the bars; with ``past``, the second row's
    axis stops short of its tallest bar and that value is drawn above the plot area."""
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.2)
    fig.add_bar(x=["a", "b"], y=[0.2, 0.3], text=["0.20", "0.30"], textposition="inside", row=1, col=1)
    fig.add_bar(
        x=["a", "b"], y=[0.5, 0.8], text=["0.50", "0.80"], row=2, col=1,
        textposition="outside" if past else "inside", cliponaxis=False,
    )  # fmt: skip
    if past:
        fig.update_yaxes(range=[0, 0.85], row=2, col=1)
    fig.update_layout(width=600, height=500, title="two rows")
    spec = json.loads(fig.to_json())
    js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    page = tmp_path / f"bars-{past}.html"
    page.write_text(
        f"<html><body><script src='{js.as_uri()}'></script>"
        "<div class='jp-deck-mod-onscreen'><div id='g'></div></div>"
        f"<script>Plotly.newPlot('g', {json.dumps(spec['data'])}, {json.dumps(spec['layout'])})</script>"
        "</body></html>"
    )
    return page.as_uri()


@pytest.mark.parametrize("past", [False, True], ids=["inside", "past"])
def test_a_bar_value_is_checked_against_the_plot_area_it_stands_over(browser, tmp_path, past):
    page = browser.new_page()
    try:
        page.goto(_bars_page(tmp_path, past))
        page.wait_for_selector(".bartext")
        bars = page.evaluate(BARS_JS)
        assert bars["checked"] == 4, bars
        assert [b["text"] for b in bars["past"]] == (["0.80"] if past else []), bars
    finally:
        page.close()
