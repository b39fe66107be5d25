"""The figures once built with go.Figure + update_*/add_*/make_subplots: the same picture, one build.

Each test pins what the former version drew (traces, axis types, ranges, titles, the
lines and labels over the plot), in the course's palette.
"""

import math

import pytest
import torch
from transformer_course import figures
from transformer_course.cost import AttentionCost
from transformer_course.figures import palette
from transformer_course.softmax import saturation_experiment

LIGHT = figures.LIGHT


def test_repeated_product_is_a_log_line_with_one_marked():
    fig = figures.repeated_product_figure(0.9 ** torch.arange(30.0), 0.9)
    (line,) = fig.data
    assert line.type == "scatter" and line.mode == "lines+markers" and list(line.x) == list(range(30))
    assert line.y[29] == pytest.approx(0.9**29, rel=1e-5) and line.name == "0.90^t"
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.exponentformat == "power"
    assert fig.layout.yaxis.title.text == "value (log scale)"
    assert fig.layout.xaxis.title.text == "t (steps back through the sequence)"
    assert fig.layout.title.text == "0.90 to the power t" and fig.layout.title.x == 0.5
    (one,) = fig.layout.shapes
    assert (one.y0, one.y1, one.xref, one.x0, one.x1) == (1.0, 1.0, "x domain", 0, 1)
    assert one.line.color == LIGHT.muted and one.line.dash == "dot"
    assert fig.layout.showlegend is False and fig.layout.height == 320
    assert figures.repeated_product_figure(torch.ones(2), 1.0, title="mine").layout.title.text == "mine"


def cost(lengths=(10, 20, 40)):
    n = len(lengths)
    ms, mb = [1.0, 3.0, 9.0][:n], [400, 1600, 6400][:n]
    return AttentionCost(list(lengths), ms, [1.0, 2.0, 4.0][:n], mb, [100, 200, 400][:n], 1, 4, 1, "cpu")


def test_cost_figure_is_two_log_log_panels_side_by_side():
    fig = figures.attention_cost_figure(cost())
    assert [t.name for t in fig.data] == ["weights stored", "fused kernel", "∝ L²"] * 2
    assert [t.xaxis for t in fig.data] == ["x"] * 3 + ["x2"] * 3
    assert [t.yaxis for t in fig.data] == ["y"] * 3 + ["y2"] * 3
    assert [t.showlegend for t in fig.data] == [True] * 3 + [False] * 3  # one legend entry per name
    explicit_mb = fig.data[3]
    assert list(explicit_mb.y) == pytest.approx([4e-4, 1.6e-3, 6.4e-3])  # bytes → MB
    assert [t.line.color for t in fig.data[:3]] == [
        palette.EXPLICIT_COLOUR,
        palette.FUSED_COLOUR,
        LIGHT.muted,
    ]
    layout = fig.layout
    assert list(layout.xaxis.domain) == pytest.approx([0.0, 0.43])
    assert list(layout.xaxis2.domain) == pytest.approx([0.57, 1.0])
    assert (layout.xaxis2.anchor, layout.yaxis2.anchor) == ("y2", "x2")
    for axis in (layout.xaxis, layout.xaxis2):
        assert axis.type == "log" and list(axis.tickvals) == [10, 20, 40]
        assert axis.title.text == "sequence length L"
    for axis in (layout.yaxis, layout.yaxis2):
        assert axis.type == "log" and axis.dtick == 1 and axis.exponentformat == "power"
    titles = [(a.text, a.x) for a in layout.annotations]
    assert titles == [
        ("time per call (ms)", pytest.approx(0.215)),
        ("peak memory (MB)", pytest.approx(0.785)),
    ]
    assert layout.legend.orientation == "h" and layout.height == 380


def test_depth_figure_draws_one_line_per_variant_on_a_log_axis():
    values = {"post-norm": torch.tensor([1.0, 10.0, 100.0]), "pre-norm": torch.tensor([1.0, 1.5, 2.0])}
    fig = figures.depth_figure(values, title="t", y_title="size")
    assert [t.name for t in fig.data] == ["post-norm", "pre-norm"]
    assert list(fig.data[0].x) == [0, 1, 2] and list(fig.data[0].y) == [1.0, 10.0, 100.0]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text == "size"
    assert fig.layout.xaxis.title.text == "block (0 = closest to the input)"
    assert fig.layout.legend.orientation == "h" and fig.layout.height == 360
    assert all(t.line.color is None for t in fig.data)  # the template's Okabe–Ito cycle colours them
    assert figures.depth_figure(values, log=False).layout.yaxis.type == "linear"
    with pytest.raises(ValueError, match="values"):
        figures.depth_figure({})


def test_loss_curve_draws_the_steps_faint_and_the_mean_bold():
    fig = figures.loss_curve_figure([1, 2, 3], [3.0, 2.0, 1.0], smoothed=[3.0, 2.5, 2.0], total_steps=100)
    raw, mean = fig.data
    assert (raw.name, mean.name) == ("each step", "running mean")
    assert list(raw.x) == [1, 2, 3] and list(mean.y) == [3.0, 2.5, 2.0]
    assert (raw.line.color, raw.line.width) == (palette.RAW_COLOUR, 1.5)
    assert (mean.line.color, mean.line.width) == (palette.MEAN_COLOUR, 2.5)  # the loss blue, opaque
    assert list(fig.layout.xaxis.range) == [0, 100] and fig.layout.xaxis.title.text == "training step"
    assert fig.layout.yaxis.type == "linear" and fig.layout.yaxis.rangemode == "tozero"
    assert fig.layout.yaxis.title.text == "loss"
    log = figures.loss_curve_figure([1, 2], [1.0, 0.5], log_y=True)
    assert len(log.data) == 1 and log.layout.yaxis.type == "log" and log.layout.yaxis.rangemode is None
    assert log.layout.yaxis.title.text == "loss (log scale)" and log.layout.xaxis.range is None


def test_loss_curve_draws_the_floor_and_held_out_points():
    fig = figures.loss_curve_figure(
        [1, 2, 3], [3.0, 2.0, 1.0], floor=0.46, floor_label="generator", validation=[(1, 2.5), (3, 0.9)]
    )
    raw, held = fig.data
    assert held.name == "held-out" and list(held.x) == [1, 3] and list(held.y) == [2.5, 0.9]
    assert held.mode == "markers" and held.marker.color == palette.VALIDATION_COLOUR
    (line,) = fig.layout.shapes
    assert line.y0 == line.y1 == 0.46 and line.xref == "x domain"
    assert fig.layout.annotations[0].text == "generator 0.460"
    plain = figures.loss_curve_figure([1], [1.0])
    assert not plain.layout.shapes and not plain.layout.annotations
    with pytest.raises(ValueError, match="floor"):
        figures.loss_curve_figure([1], [1.0], floor=0.0, log_y=True)
    with pytest.raises(ValueError, match="validation"):
        figures.loss_curve_figure([1], [1.0], validation=[1.0])


def test_the_floor_label_sits_on_its_line_on_a_log_axis_too():
    # plotly places shapes on a log axis at the value, annotations at its log10: a label at
    # y=0.46 on a log axis would float at 10^0.46 ≈ 2.9 (seen in chapter 09's curve).
    linear = figures.loss_curve_figure([1, 2], [3.0, 1.0], floor=0.46)
    log = figures.loss_curve_figure([1, 2], [3.0, 1.0], floor=0.46, log_y=True)
    assert linear.layout.annotations[0].y == 0.46
    assert log.layout.annotations[0].y == pytest.approx(math.log10(0.46))
    assert log.layout.shapes[0].y0 == 0.46  # the line itself is drawn at the value


def test_progress_curve_marks_the_current_step():
    fig = figures.progress_curve_figure([0, 10, 20], [0.1, 0.5, 0.9], current=10, y_title="accuracy")
    assert list(fig.data[0].y) == pytest.approx([10.0, 50.0, 90.0])
    (mark,) = fig.layout.shapes
    assert (mark.x0, mark.x1, mark.yref, mark.line.color) == (10, 10, "y domain", LIGHT.ink)
    assert list(fig.layout.yaxis.range) == [0, 105]
    assert figures.progress_curve_figure([0], [0.5]).layout.shapes == ()


def test_saturation_figure_keeps_its_axes_and_the_uniform_line():
    result = saturation_experiment((2, 8, 32), rows=16)
    fig = figures.saturation_figure(result, "entropy")
    assert [t.line.color for t in fig.data] == [palette.UNSCALED_COLOUR, palette.SCALED_COLOUR]
    assert list(fig.data[1].y) == pytest.approx(result.scaled_entropy.tolist())
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.ticktext) == ["2", "8", "32"]
    assert list(fig.layout.yaxis.range) == pytest.approx([0, 1.12 * math.log(16)])
    (label,) = fig.layout.annotations
    assert (
        label.text == "uniform over 16 keys" and label.yanchor == "top" and label.y == fig.layout.shapes[0].y0
    )
    grad = figures.saturation_figure(result, "grad_norm")
    assert grad.layout.yaxis.type == "log" and grad.layout.shapes == () and grad.layout.yaxis.range is None


def test_entropy_figure_labels_the_uniform_line_above_it():
    fig = figures.entropy_figure(torch.tensor([0.1, 1.0, 0.5]), list("abc"), 4)
    (line,), (label,) = fig.layout.shapes, fig.layout.annotations
    assert line.y0 == pytest.approx(math.log(4)) and label.yanchor == "bottom"
    assert label.text == "uniform (all keys equal)" and fig.layout.xaxis.title.text == "query"
    assert list(fig.layout.yaxis.range) == pytest.approx([0, 1.3 * math.log(4)])
    assert list(fig.layout.xaxis.ticktext) == list("abc")


def test_scores_row_heatmap_outlines_the_row_in_the_theme_ink():
    fig = figures.scores_row_heatmap(torch.tensor([[1.0, float("-inf")], [0.5, 3.0]]), ["x", "y"], 0)
    outline, frame = fig.layout.shapes
    assert (outline.type, outline.x0, outline.x1, outline.y0, outline.y1) == ("rect", -0.5, 1.5, -0.5, 0.5)
    assert outline.line.color == LIGHT.ink and fig.data[0].zmax == 3.0
    # An unseen line of the same width around the whole matrix: the axes do not depend on the row.
    assert (frame.x0, frame.x1, frame.y0, frame.y1) == (-0.5, 1.5, -0.5, 1.5)
    assert frame.line.width == outline.line.width and frame.line.color == palette.TRANSPARENT
    assert fig.data[0].z[0][1] != fig.data[0].z[0][1]  # the masked cell is a gap (NaN), as in scores_heatmap


def test_generation_figure_rings_the_chosen_tokens_without_cell_text():
    probs = torch.softmax(torch.randn(3, 5), -1)
    fig = figures.generation_figure(probs, ["1: a", "2: b", "3: c"], list("abcde"), [0, 4, 2])
    heat, rings = fig.data
    assert heat.type == "heatmap" and heat.texttemplate is None and (heat.zmin, heat.zmax) == (0.0, 1.0)
    assert "probability: %{z:.2f}" in heat.hovertemplate and heat.colorbar.title.text == "probability"
    assert rings.type == "scatter" and list(rings.x) == [0, 4, 2] and list(rings.y) == [0, 1, 2]
    assert rings.marker.symbol == "circle-open" and rings.marker.color == palette.CHOSEN_COLOUR
    assert rings.showlegend is False and rings.hoverinfo == "skip"
    assert fig.layout.yaxis.autorange == "reversed" and list(fig.layout.yaxis.ticktext) == [
        "1: a",
        "2: b",
        "3: c",
    ]
    assert fig.layout.xaxis.title.text == "next token" and fig.layout.yaxis.title.text == "step: chosen"
    with pytest.raises(ValueError, match="chosen"):
        figures.generation_figure(probs, ["1", "2", "3"], list("abcde"), [0])


def test_head_grid_is_one_plain_heatmap_on_one_colour_axis():
    w = torch.softmax(torch.randn(3, 4, 4), -1)
    fig = figures.head_grid_figure(w, list("abcd"), columns=2)
    assert [t.type for t in fig.data] == ["heatmap"] and fig.data[0].coloraxis == "coloraxis"
    assert fig.layout.coloraxis.colorscale == figures.attention_heatmap(w[0], list("abcd")).data[0].colorscale
    # Two rows of two: head 2 alone in the second row, the cell beside it empty.
    assert fig.layout.meta["tiles"] == [[0, 0, 0], [1, 0, 5], [2, 5, 0]]
    z = fig.data[0].z
    assert all(v is None or v != v for v in list(z[5][5:]))  # NaN: nothing drawn there
    assert fig.layout.xaxis.automargin is False and fig.layout.yaxis.automargin is False


def test_pointer_and_next_token_bars_take_the_palettes_roles():
    pointer = figures.pointer_figure(
        torch.tensor([0.1, 0.6, 0.2, 0.1]), list("abcd"), referent=1, distractor=2
    )
    assert list(pointer.data[0].marker.color) == [
        palette.OTHER_COLOUR,
        palette.REFERENT_COLOUR,
        palette.DISTRACTOR_COLOUR,
        palette.OTHER_COLOUR,
    ]
    mentions = figures.pointer_figure(  # a noun named twice: both mentions take its colour
        torch.tensor([0.1, 0.6, 0.2, 0.1]), list("abcd"), referent=(0, 3), distractor=[2]
    )
    assert list(mentions.data[0].marker.color) == [
        palette.REFERENT_COLOUR,
        palette.OTHER_COLOUR,
        palette.DISTRACTOR_COLOUR,
        palette.REFERENT_COLOUR,
    ]
    nxt = figures.next_token_figure(torch.tensor([0.2, 0.8]), ["a", "b"], chosen=1)
    assert list(nxt.data[0].marker.color) == [palette.LOSS_COLOUR, palette.CHOSEN_COLOUR]


def test_likeliest_tokens_shows_the_top_tokens_the_chosen_one_and_the_truth():
    probs = torch.tensor([0.05, 0.5, 0.3, 0.1, 0.05])
    truth = torch.tensor([0.0, 0.2, 0.0, 0.0, 0.8])
    fig = figures.likeliest_tokens_figure(probs, list("abcde"), chosen=0, true_probs=truth, top=3)
    bars, marks, values = fig.data
    # top 3 by max(model, truth): e (0.8), b (0.5), c (0.3); the chosen a replaces the last
    assert list(bars.customdata) == ["e", "b", "a"]
    assert list(bars.y) == pytest.approx([0.05, 0.5, 0.05]) and list(marks.y) == pytest.approx(
        [0.8, 0.2, 0.0]
    )
    # the model's values are written above the bar or the mark, whichever is higher, with
    # room for the mark's stroke
    assert list(values.text) == ["0.05", "0.50", "0.05"] and not bars.text
    assert list(values.y) == pytest.approx([0.83, 0.53, 0.08])
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert legend == ["model", "the stories' own probability"]
    assert bars.marker.color[2] != bars.marker.color[1]  # the chosen bar stands out
    alone = figures.likeliest_tokens_figure(probs, list("abcde"), top=2)
    assert len(alone.data) == 1 and list(alone.data[0].customdata) == ["b", "c"]
    assert list(alone.data[0].text) == ["0.50", "0.30"]
    with pytest.raises(ValueError, match="true_probs must have the shape"):
        figures.likeliest_tokens_figure(probs, list("abcde"), true_probs=truth[:3])
    with pytest.raises(ValueError, match="chosen"):
        figures.likeliest_tokens_figure(probs, list("abcde"), chosen=9)
    with pytest.raises(ValueError, match="top"):
        figures.likeliest_tokens_figure(probs, list("abcde"), top=0)


def test_log_axes_write_their_ticks_as_plain_numbers_at_full_size():
    """Over a few decades plotly labels 2 and 5 in a smaller font (about 9 px) and the powers as
    10⁻¹; the course's log axes write 0.02, 0.05, 0.1 … at the axis's own size."""
    losses = {"a": [3.5, 1.0, 0.1, 0.018], "b": [3.0, 2.0, 1.5, 1.0]}
    axis = figures.loss_comparison_figure(losses).layout.yaxis
    assert axis.type == "log" and axis.tickmode == "array"
    assert list(axis.ticktext) == ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5"]
    assert list(axis.tickvals) == pytest.approx([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5])
    curve = figures.loss_curve_figure([1, 2, 3], [4.0, 1.0, 0.6], log_y=True, floor=0.15).layout.yaxis
    assert "0.2" in curve.ticktext and "2" in curve.ticktext  # the floor counts too
    # a range too wide to write out keeps plotly's own ticks
    wide = figures.gradient_distance_figure({"rnn": torch.tensor([1.0, 1e-12, 1e-30])}).layout.yaxis
    assert wide.tickmode is None and wide.exponentformat == "power"
    assert figures.loss_curve_figure([1, 2], [2.0, 1.0]).layout.yaxis.tickvals is None  # linear
    # within a decade plotly's own ticks are plain already; a fixed list could miss the data
    for narrow in ([0.48, 0.31], [1.1, 0.9], [0.019, 0.011], [2.9, 2.1], [4.5, 1.5]):
        assert figures.loss_comparison_figure({"a": narrow}).layout.yaxis.tickvals is None, narrow


def test_entropy_values_sit_inside_tall_bars_clear_of_the_uniform_line():
    """Rows near uniform end just under the dotted line: their values, written above the bar,
    sat on the line and under its label. Inside a tall bar, above a short one (0 included)."""
    fig = figures.entropy_figure(torch.tensor([2.3, 2.1, 0.5, 0.0]), ["a", "b", "c", "d"], 11)
    bars = fig.data[0]
    assert list(bars.textposition) == ["inside", "inside", "outside", "outside"]
    assert list(bars.text) == ["2.30", "2.10", "0.50", "0.00"] and bars.insidetextanchor == "end"
    assert bars.textangle == 0  # level: plotly turned them on end in a slide's narrow bars
