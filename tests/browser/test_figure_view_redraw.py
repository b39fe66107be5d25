"""FigureView's redraw in place (static/figure_view.js), in a plain page: every update of
every explorer draws exactly what plotly draws when handed the whole new figure, and an
update that only moves a mark does not recompute the figure's heatmap.

figure_view.js hands plotly back, as the very objects plotly drew from, the parts of a
figure equal to the last ones sent, so that ``Plotly.react`` redraws only what changed.
A mistake there would leave a stale part on screen. This test drives each explorer's
figures through the updates its controls make (each control moved and moved back, then a
switch to the dark theme and another update), with the page's real FigureView code and a
stand-in for the kernel's model. A second FigureView, the same code with nothing handed
back (every update a new figure for ``Plotly.react``), gets the same updates; after each
one the two SVGs must be the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs
from transformer_course.figures.themes import theme_swap
from transformer_course.widgets.view import STATIC, FigureView, view_js

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import course  # noqa: E402  (builds every explorer at its chapter's settings)

EXPLORERS = course.explorer_classes()

# A stand-in for the kernel's models (anywidget's model API as figure_view.js uses it) and
# the page's FigureView module, exposed as window.__tcView.
PAGE_JS = """
class Model {
  constructor(attrs, manager) { this.attrs = attrs; this.handlers = {}; this.widget_manager = manager; }
  get(key) { return this.attrs[key]; }
  on(event, callback) { (this.handlers[event] ||= []).push(callback); }
  set(key, value) { this.attrs[key] = value; for (const f of this.handlers['change:' + key] || []) f(); }
}
window.__tcModel = Model;
"""

# Structure and attributes of a figure's SVG, in a canonical order; plotly's random ids
# (the figure's and its traces') replaced by one name. Plotly redraws one annotation or
# shape of many by drawing it again at the end of its layer: siblings are compared in the
# order of their index in the figure.
CANON_JS = """(div) => {
  const ids = [div._fullLayout._uid, ...div._fullData.map(t => t.uid)].filter(Boolean);
  const clean = (v) => { for (const id of ids) v = v.split(id).join('ID'); return v; };
  const walk = (n) => {
    if (n.nodeType === 3) return n.textContent;
    if (n.nodeType !== 1) return '';
    // Only where an id can be: not in numbers (a path, a position) or an image's data.
    const NAMED = ['id', 'class', 'clip-path', 'fill', 'stroke', 'mask', 'filter', 'style'];
    const named = (a) => NAMED.includes(a.name) || (a.name === 'href' && a.value.startsWith('#'));
    const value = (a) => (a.name !== 'style' ? a.value
      : a.value.split(';').map(s => s.trim()).filter(Boolean).sort().join(';'));
    const attrs = [...n.attributes].map(a => a.name + '=' + (named(a) ? clean(value(a)) : value(a))).sort();
    const index = (c) => (c.nodeType === 1 && c.hasAttribute('data-index')
      ? Number(c.getAttribute('data-index')) : -1);
    const kind = (c) => (c.nodeType === 1 ? clean(c.getAttribute('class') || '') : '');
    const kids = [...n.childNodes].map((c, i) => [index(c), kind(c), i, c]).sort(
      (a, b) => a[0] - b[0] || a[1].localeCompare(b[1]) || a[2] - b[2]);
    return '<' + n.tagName + ' ' + attrs.join(' ') + '>' + kids.map(k => walk(k[3])).join('') + '</>';
  };
  return [...div.querySelectorAll('svg.main-svg')].map(walk).join('');
}"""


def _sent(explorer) -> dict[str, str]:
    return {name: v._spec for name, v in explorer.views.items() if isinstance(v, FigureView)}


def updates(cls) -> list[dict[str, str]]:
    """What the explorer's figure views send: at start, then after each control is moved
    and after it is moved back."""
    explorer = course.build_explorer(cls)
    sent = [_sent(explorer)]
    for control in explorer.controls.values():
        value, back = course.other_value(control), control.value
        if value is None:
            continue
        for v in (value, back):
            control.value = v
            sent.append(_sent(explorer))
    return sent


@pytest.fixture(scope="module")
def page(browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.set_content("<html><body data-jp-theme-light='true'></body></html>")
    page.add_script_tag(content=PAGE_JS)
    module = view_js()  # theme_swap.js, then figure_view.js
    page.add_script_tag(content=module + "\nwindow.__tcView = { render };", type="module")
    # The reference: the same module with keep() handing back nothing.
    assert module.count("function keep(fresh, before, live) {") == 1
    plain = module.replace(
        "function keep(fresh, before, live) {",
        "function keep(fresh) { return fresh; }\nfunction kept(fresh, before, live) {",
    )
    page.add_script_tag(content=plain + "\nwindow.__tcPlainView = { render };", type="module")
    page.wait_for_function("() => window.__tcView && window.__tcPlainView")
    library = {
        "source": get_plotlyjs(),
        "config": json.loads((STATIC / "plotly_config.json").read_text(encoding="utf-8")),
        "themes": theme_swap(),
        "css": "",
    }
    page.evaluate(
        """(library) => {
          const lib = new window.__tcModel(library, null);
          window.__tcManager = { get_model: async () => lib };
          window.__tcViews = {};
        }""",
        library,
    )
    yield page
    page.close()


# Show a figure in a FigureView (a new one under `key`, or the one there) and wait for it.
SHOW_JS = """async ([key, spec, revision, plain]) => {
  let view = window.__tcViews[key];
  if (!view) {
    const el = document.createElement('div');
    el.style.width = '600px';
    document.body.appendChild(el);
    const model = new window.__tcModel({_library: 'IPY_MODEL_library', _spec: spec, _revision: revision},
                                       window.__tcManager);
    view = window.__tcViews[key] = {el, model};
    await (plain ? window.__tcPlainView : window.__tcView).render({model, el});
  } else {
    view.model.attrs._revision = revision;
    view.model.set('_spec', spec);
  }
  const div = view.el.querySelector('.tc-figure');
  while (div.dataset.tcRevision !== String(revision) || div.dataset.tcBusy) {
    await new Promise(r => setTimeout(r, 5));
  }
  return true;
}"""


FIGURE_JS = "window.__tcViews[{}].el.querySelector('.tc-figure')"


def canonical(page, key: str) -> str:
    return page.evaluate(f"() => ({CANON_JS})({FIGURE_JS.format(json.dumps(key))})")


def show(page, key: str, spec: str, revision: int, *, plain: bool = False) -> None:
    page.evaluate(SHOW_JS, [key, spec, revision, plain])


def fresh(page, spec: str) -> str:
    """The SVG of a new FigureView drawing ``spec``; the view is removed after."""
    show(page, "fresh", spec, 1)
    svg = canonical(page, "fresh")
    page.evaluate("() => { window.__tcViews.fresh.el.remove(); delete window.__tcViews.fresh; }")
    return svg


def set_theme(page, dark: bool) -> None:
    page.evaluate(f"() => document.body.setAttribute('data-jp-theme-light', '{str(not dark).lower()}')")


@pytest.mark.parametrize("cls", EXPLORERS, ids=[c.__name__ for c in EXPLORERS])
def test_every_update_draws_what_plotly_draws_from_the_whole_figure(page, cls):
    sequence = updates(cls)
    assert len(sequence) > 2, "an explorer whose controls change its figures"
    set_theme(page, dark=False)
    steps = [(False, figures) for figures in sequence] + [(True, sequence[-2]), (True, sequence[-1])]
    last: dict[str, str] = {}
    for step, (dark, figures) in enumerate(steps):
        if dark:
            set_theme(page, dark=True)
        for name, spec in figures.items():
            key = f"{cls.__name__}.{name}"
            if last.get(key) == spec and not dark:
                continue  # the kernel sends no update for the same figure (FigureView.show)
            last[key] = spec
            show(page, key, spec, step + 1)
            show(page, key + ":plain", spec, step + 1, plain=True)
            drawn, reference = canonical(page, key), canonical(page, key + ":plain")
            assert drawn == reference, f"{key}, update {step} (dark: {dark})"
    set_theme(page, dark=False)
    page.evaluate("() => { Object.values(window.__tcViews).forEach(v => v.el.remove()); }")
    page.evaluate("() => { window.__tcViews = {}; }")


def test_moving_the_outlined_row_does_not_recompute_the_heatmap(page):
    """Chapter 03: another query token moves the outline on the score matrix; the heatmap's
    computed data (plotly's calcdata) stays the very same object."""
    explorer = course.build_explorer(next(c for c in EXPLORERS if c.__name__ == "QKVExplorer"))
    first = explorer.views["scores"]._spec
    explorer.controls["query"].value = 2
    moved = explorer.views["scores"]._spec
    assert json.loads(first)["data"] == json.loads(moved)["data"]
    show(page, "scores", first, 1)
    scores = FIGURE_JS.format('"scores"')
    page.evaluate(f"() => {{ window.__tcCalc = {scores}.calcdata; }}")
    show(page, "scores", moved, 2)
    kept = page.evaluate(f"() => {scores}.calcdata === window.__tcCalc")
    shape_y = page.evaluate(f"() => {scores}._fullLayout.shapes[0].y0")
    assert kept, "the heatmap was recomputed for a move of its outline"
    assert shape_y == json.loads(moved)["layout"]["shapes"][0]["y0"] == 1.5
    assert canonical(page, "scores") == fresh(page, moved)
    page.evaluate("() => { window.__tcViews.scores.el.remove(); delete window.__tcViews.scores; }")


def test_the_dark_theme_swaps_each_colour_once(page):
    """A line in the light theme's ink (the current step of a progress curve) is drawn in
    the dark theme's ink, not swapped a second time: the dark ink is also the light theme's
    blank grey, and a second swap made it the dark blank, nearly black on a black page."""
    from transformer_course import figures
    from transformer_course.figures.themes import DARK, LIGHT
    from transformer_course.widgets.view import figure_json

    assert DARK.ink == LIGHT.blank  # the colour that was swapped twice
    spec = figure_json(figures.progress_curves_figure([0, 10, 20], {"head 0": [0.1, 0.2, 0.3]}, current=10))
    set_theme(page, dark=True)
    try:
        show(page, "ink", spec, 1)
        div = FIGURE_JS.format(json.dumps("ink"))
        stroke = page.evaluate(f"() => {div}._fullLayout.shapes[0].line.color")
        assert stroke == DARK.ink, stroke
    finally:
        set_theme(page, dark=False)
        page.evaluate("() => { window.__tcViews.ink.el.remove(); delete window.__tcViews.ink; }")
