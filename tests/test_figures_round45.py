"""Round 45's figure fixes, read off the figures' specs.

The loss curve's held-out markers are drawn unclipped: the x range ends at the last step, where
the last marker sits, and plotly clipped it to half a diamond at the plot's right end (chapter
09's export, step 2000). Looked at in Chromium: whole after the fix.
"""

from transformer_course.figures.training_curves import loss_curve_figure


def test_the_last_held_out_marker_is_not_cut_at_the_plots_end():
    steps = list(range(1, 201))
    losses = [1.0 / s + 0.5 for s in steps]
    fig = loss_curve_figure(steps, losses, total_steps=200, validation=[(100, 0.6), (200, 0.55)])
    [held_out] = [t for t in fig.data if t.name == "held-out"]
    assert held_out.cliponaxis is False
    assert max(held_out.x) == fig.layout.xaxis.range[1] == 200  # on the plot's right end
    assert all(t.cliponaxis is not False for t in fig.data if t.name != "held-out")  # the lines stay clipped
