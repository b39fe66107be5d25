"""FigureView (the anywidget that redraws with Plotly.react) and its JSON, without a browser."""

import json

import plotly.graph_objects as go
import torch
from transformer_course import figures
from transformer_course.widgets import FigureView, figure_json, plotly_library


def strict(text: str):
    """Parse as a browser would: NaN and Infinity are not JSON."""

    def refuse(name):
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(text, parse_constant=refuse)


def test_figure_json_is_strict_json_with_nan_as_null():
    scores = torch.tensor([[1.0, float("-inf")], [0.5, 2.0]])
    fig = figures.scores_heatmap(scores, ["a", "b"])  # -inf shown as a NaN gap
    spec = strict(figure_json(fig))
    assert spec["layout"]["title"]["text"] == "Scores"
    listed = go.Figure(go.Heatmap(z=[[1.0, float("nan")]]))  # NaN in a plain list
    assert strict(figure_json(listed))["data"][0]["z"] == [[1.0, None]]


def test_figure_json_matches_plotly_own_encoding():
    fig = figures.attention_heatmap(torch.softmax(torch.randn(3, 3), dim=-1), ["x", "y", "z"])
    ours, theirs = json.loads(figure_json(fig)), json.loads(fig.to_json())
    assert ours["data"][0]["type"] == theirs["data"][0]["type"] == "heatmap"
    assert ours["layout"]["yaxis"] == theirs["layout"]["yaxis"]


def test_show_sends_changed_figures_only():
    view = FigureView()
    fig = go.Figure(go.Bar(y=[1, 2, 3]))
    view.show(fig)
    assert view.figure is fig and view._revision == 1
    view.show(go.Figure(go.Bar(y=[1, 2, 3])))  # the same picture: nothing sent
    assert view._revision == 1
    view.show(go.Figure(go.Bar(y=[1, 2, 4])))
    assert view._revision == 2 and json.loads(view._spec)["data"][0]["y"][-1] == 4


def test_plotly_js_is_shared_once_per_kernel():
    a, b = FigureView(), FigureView()
    assert a._library is b._library is plotly_library()
    assert len(a._library.source) > 1_000_000 and "Plotly" in a._library.source[:2000]


def test_live_figures_use_the_export_toolbar_config_with_nothing_sent_to_the_cloud():
    from transformer_course.export import PLOTLY_CONFIG

    config = plotly_library().config
    assert config == PLOTLY_CONFIG
    assert config["showSendToCloud"] is False and config["displaylogo"] is False
    # plotly.js 3 has no link or Chart Studio button any more; a True would still be wrong.
    assert not config.get("showLink") and not config.get("showEditInChartStudio")
    assert {"sendChartToCloud", "editInChartStudio"} <= set(config["modeBarButtonsToRemove"])
    assert "toImage" not in config["modeBarButtonsToRemove"]  # download as PNG stays


def test_the_page_gets_the_dark_template_and_the_light_to_dark_colours():
    from transformer_course.figures import themes

    swap = plotly_library().themes
    assert swap["template"]["layout"]["paper_bgcolor"] == "rgb(17,17,17)"
    assert swap["colours"] == {
        themes.LIGHT.ink: themes.DARK.ink,
        themes.LIGHT.muted: themes.DARK.muted,
        themes.LIGHT.blank: themes.DARK.blank,
        themes.LIGHT.faint: themes.DARK.faint,
        themes.LIGHT.bold: themes.DARK.bold,
        **themes.dark_scale_colours(),
    }
    # Each light colour a figure draws is in its JSON as written, so the page can swap it.
    fig = figures.mask_heatmap(torch.eye(2, dtype=torch.bool), ["a", "b"])
    assert themes.LIGHT.blank in figure_json(fig)
    weights = figure_json(figures.attention_heatmap(torch.eye(2), ["a", "b"]))
    assert all(c in weights for c in themes.dark_scale_colours() if c in str(figures.palette.SEQUENTIAL))


def test_a_figure_shown_in_a_notebook_carries_the_same_config(monkeypatch):
    import plotly.io as pio
    from transformer_course.figures import base

    monkeypatch.setattr(base, "_DISPLAY", None)  # as without widgets: plotly's renderer
    shown = {}
    monkeypatch.setattr(pio.renderers, "render_on_display", True)
    monkeypatch.setattr(pio.renderers, "default", "plotly_mimetype")
    monkeypatch.setattr(pio, "show", lambda fig, **kw: shown.update(kw))
    figures.attention_heatmap(torch.eye(2), ["a", "b"])._ipython_display_()
    assert shown["config"] == plotly_library().config


def test_with_widgets_imported_a_figure_of_a_cell_is_drawn_by_a_figure_view(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    fig = figures.attention_heatmap(torch.eye(2), ["a", "b"])
    fig._ipython_display_()
    assert len(shown) == 1 and isinstance(shown[0], FigureView) and shown[0].figure is fig
    assert json.loads(shown[0]._spec)["data"][0]["type"] == "heatmap"


def test_tick_labels_are_not_measured_again_on_every_redraw():
    """plotly's default for numeric axes ("hide past div") measures every tick label at each
    redraw: over half of a heatmap's redraw in JupyterLab. Both themes turn it off."""
    from transformer_course.figures import themes

    for theme in (themes.LIGHT, themes.DARK):
        layout = theme.template.layout
        assert layout.xaxis.ticklabeloverflow == layout.yaxis.ticklabeloverflow == "allow", theme.name
    fig = figures.attention_heatmap(torch.softmax(torch.randn(3, 3), dim=-1), ["x", "y", "z"])
    template = json.loads(figure_json(fig))["layout"]["template"]["layout"]
    assert template["xaxis"]["ticklabeloverflow"] == "allow"


def test_an_explorer_sends_every_changed_figure_and_its_json_is_the_figure_on_screen():
    from transformer_course import widgets

    explorer = widgets.RepeatedProductExplorer(factor=0.9, steps=20)
    (name,) = explorer.figures
    before = explorer.views[name]._revision
    explorer.controls["factor"].value = 1.1
    view = explorer.views[name]
    assert view._revision == before + 1
    assert json.loads(view._spec) == json.loads(figure_json(view.figure))
