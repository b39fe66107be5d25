"""The figures added for the chapters' claims: gradients against distance, several metrics
over training, where each head looks, bar labels, and the waves of a learned table."""

import pytest
import torch
from transformer_course import figures


def test_gradient_distance_figure_has_one_log_line_per_model():
    fig = figures.gradient_distance_figure({"rnn": 0.5 ** torch.arange(6.0), "attention": torch.ones(6)})
    assert [t.name for t in fig.data] == ["rnn", "attention"]
    assert list(fig.data[0].x) == list(range(6)) and fig.layout.yaxis.type == "log"
    assert "steps back" in fig.layout.xaxis.title.text


def test_progress_curves_figure_marks_the_current_step():
    fig = figures.progress_curves_figure([0, 5], {"a": [0.1, 0.2], "b": [0.3, 0.9]}, current=5)
    assert [t.name for t in fig.data] == ["a", "b"] and list(fig.data[1].y) == pytest.approx([30.0, 90.0])
    assert fig.layout.shapes[0].x0 == 5
    raw = figures.progress_curves_figure([0, 5], {"a": [0.1, 0.2]}, percent=False)
    assert list(raw.data[0].y) == pytest.approx([0.1, 0.2]) and not raw.layout.shapes


def test_head_jobs_figure_groups_bars_by_head():
    fig = figures.head_jobs_figure(torch.tensor([[0.8, 0.1], [0.0, 0.9]]), ["left", "right"])
    assert fig.layout.barmode == "group" and [t.name for t in fig.data] == ["left", "right"]
    assert list(fig.data[0].x) == ["head 0", "head 1"] and list(fig.data[1].text) == ["0.10", "0.90"]


def test_bar_figure_formats_its_labels():
    fig = figures.bar_figure(torch.tensor([12.345, 0.0]), ["a", "b"], text_format=".1f")
    assert list(fig.data[0].text) == ["12.3", "0.0"]


def test_waves_of_a_learned_table_are_not_called_sines():
    pe = torch.randn(10, 8) * 3
    learned = figures.waves_figure(pe, [0, 1], sinusoidal=False)
    assert [t.name for t in learned.data] == ["dim 0", "dim 1"] and learned.layout.yaxis.range is None
    sines = figures.waves_figure(pe.clamp(-1, 1), [0, 1])
    assert [t.name for t in sines.data] == ["dim 0 (sin)", "dim 1 (cos)"]


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: figures.gradient_distance_figure({}), "values"),
        (lambda: figures.gradient_distance_figure({"a": torch.ones(2, 2)}), "values"),
        (lambda: figures.progress_curves_figure([0, 1], {"a": [0.1]}), "series"),
        (lambda: figures.progress_curves_figure([0, 1], {}), "series"),
        (lambda: figures.head_jobs_figure(torch.rand(3), ["a"]), "shares"),
        (lambda: figures.head_jobs_figure(torch.rand(2, 3), ["a", "b"]), "jobs"),
        (lambda: figures.bar_figure(torch.rand(2), ["a", "b"], text_format="%d"), "text_format"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()
