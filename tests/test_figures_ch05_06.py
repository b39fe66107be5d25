"""Chapters 05-06 figures and the cost measurement behind the cost figure."""

import numpy as np
import pytest
import torch
from transformer_course import cost as cost_module
from transformer_course import figures
from transformer_course.cost import (
    AttentionCost,
    growth_exponent,
    measure_attention_cost,
    peak_memory,
    process_peak_memory,
)
from transformer_course.figures.panels import head_of_grid

TOKENS = ["i", "love", "deep", "learning"]


def test_head_grid_lays_out_rows_and_columns():
    w = torch.softmax(torch.randn(8, 4, 4), -1)
    fig = figures.head_grid_figure(w, TOKENS, columns=4, marks={2: "A"})
    assert len(fig.data) == 1 and fig.layout.coloraxis.cmax == 1.0  # one heatmap, tiled
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2 * 5 - 1, 4 * 5 - 1)  # 2 rows × 4 columns of 4×4, one empty line between
    assert np.isnan(z[4]).all() and np.isnan(z[:, 4]).all()
    assert fig.layout.annotations[2].text == "head 2 (A)"
    # Head 4 starts the second row, below head 0; head 3 ends the first, right of head 2.
    assert fig.layout.annotations[4].y > fig.layout.annotations[0].y
    assert fig.layout.annotations[3].x > fig.layout.annotations[2].x
    for head in range(8):
        torch.testing.assert_close(torch.tensor(head_of_grid(fig, head)), w[head].double())
    assert list(fig.layout.xaxis.ticktext) == TOKENS * 4 and list(fig.layout.yaxis.ticktext) == TOKENS * 2
    assert fig.layout.yaxis.autorange == "reversed"


def test_head_grid_picks_heads_and_shrinks_columns():
    w = torch.softmax(torch.randn(4, 3, 5), -1)
    fig = figures.head_grid_figure(w, ["a", "b", "c"], list("vwxyz"), heads=[3, 1])
    assert [t[0] for t in fig.layout.meta["tiles"]] == [3, 1]
    assert np.asarray(fig.data[0].z).shape == (3, 2 * 6 - 1)  # two columns, one row
    assert torch.allclose(torch.tensor(head_of_grid(fig, 3)), w[3].double())
    with pytest.raises(ValueError, match="head"):
        head_of_grid(fig, 0)  # not drawn


def test_head_difference_is_a_minus_b_centred_on_zero():
    a, b = torch.softmax(torch.randn(2, 4, 4), -1)
    fig = figures.head_difference_figure(a, b, TOKENS)
    assert torch.allclose(torch.tensor(fig.data[0].z), a - b, atol=1e-6)
    assert fig.data[0].zmid == 0 and fig.data[0].zmax == pytest.approx(float((a - b).abs().max()))


def test_cost_figure_has_both_paths_and_a_square_guide():
    cost = AttentionCost(
        [10, 20, 40],
        [1.0, 3.0, 9.0],
        [1.0, 2.0, 4.0],
        [400, 1600, 6400],
        [100, 200, 400],
        num_heads=1,
        d_head=4,
        batch=1,
        device="cpu",
    )
    fig = figures.attention_cost_figure(cost)
    names = [t.name for t in fig.data]
    assert names.count("weights stored") == 2 and names.count("fused kernel") == 2
    guide = [t for t in fig.data if t.name == "∝ L²"][0]
    assert list(guide.y) == pytest.approx([9.0 / 16, 9.0 / 4, 9.0])
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis2.type == "log"


def test_measured_memory_grows_as_length_squared_only_when_weights_are_stored():
    torch.set_num_threads(2)  # the tests run on one thread; the measurement must restore two
    try:
        cost = measure_attention_cost(
            (64, 128, 256), num_heads=2, d_head=8, repeats=1, budget_s=10, memory="tensors"
        )
        assert torch.get_num_threads() == 2  # the one-thread timing setting is undone
    finally:
        torch.set_num_threads(1)
    assert cost.lengths == [64, 128, 256]
    assert growth_exponent(cost.lengths, cost.explicit_bytes) == pytest.approx(2.0, abs=0.15)
    assert growth_exponent(cost.lengths, cost.fused_bytes) == pytest.approx(1.0, abs=0.15)
    # The stored path holds at least the weights tensor (B, h, L, L) in float32.
    assert all(e >= cost.weights_bytes(n) for n, e in zip(cost.lengths, cost.explicit_bytes))
    assert all(t > 0 for t in cost.explicit_ms + cost.fused_ms)


def test_tensor_meter_sees_only_the_output_of_the_fused_path():
    cost = measure_attention_cost((128, 256), num_heads=2, d_head=8, repeats=1, memory="tensors")
    assert cost.memory == "tensors" and "Python" in cost.memory_note
    assert cost.fused_bytes == [cost.output_bytes(n) for n in cost.lengths]


needs_process_meter = pytest.mark.skipif(
    not cost_module._process_meter_available(), reason="the process meter needs Linux with glibc"
)


@needs_process_meter
def test_process_meter_sees_a_big_allocation_and_memory_freed_earlier():
    _, peak = process_peak_memory(lambda: torch.ones(4_000_000))  # 16 MB, alive at the end
    assert 15e6 <= peak < 20e6  # 16 MB, give or take pages the process frees meanwhile
    big = torch.ones(4_000_000)
    del big  # malloc may keep these pages; the meter must still count them when reused
    _, again = process_peak_memory(lambda: torch.ones(4_000_000).sum())
    assert 15e6 <= again < 20e6
    _, small = process_peak_memory(lambda: torch.ones(100).sum())
    assert small < 1e6


@needs_process_meter
def test_process_meter_measures_the_real_peak_of_attention():
    cost = measure_attention_cost((256, 512, 1024), num_heads=4, d_head=16, repeats=1, budget_s=30)
    assert cost.memory == "process" and "real peak" in cost.memory_note
    assert growth_exponent(cost.lengths, cost.explicit_bytes) == pytest.approx(2.0, abs=0.15)
    assert all(e >= cost.weights_bytes(n) for n, e in zip(cost.lengths, cost.explicit_bytes))
    # the fused kernel: its output plus a working space that does not grow as L²
    assert all(f <= cost.output_bytes(n) + 2**21 for n, f in zip(cost.lengths, cost.fused_bytes))
    assert cost.fused_bytes[-1] < cost.explicit_bytes[-1] / 10


def test_the_meter_is_checked():
    with pytest.raises(ValueError, match="memory"):
        measure_attention_cost((8, 16), memory="rss")
    with pytest.raises(ValueError, match="fn"):
        process_peak_memory(3)
    with pytest.raises(ValueError, match="process|meter"):
        process_peak_memory(lambda: None, device="meta")


def test_budget_cuts_the_longest_lengths():
    cost = measure_attention_cost((16, 32, 64, 128), repeats=1, budget_s=1e-9)
    assert cost.lengths == [16]


def test_peak_memory_counts_live_tensors_only():
    def make():
        a = torch.ones(1000)  # 4000 bytes, freed before b exists
        del a
        return torch.ones(500)  # 2000 bytes

    out, peak = peak_memory(make)
    assert out.shape == (500,) and peak == 4000


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: figures.head_grid_figure(torch.ones(4, 4), TOKENS), "weights"),
        (lambda: figures.head_grid_figure(torch.ones(2, 4, 4), TOKENS, heads=[2]), "heads"),
        (lambda: figures.head_grid_figure(torch.ones(2, 4, 4), TOKENS, heads=[]), "heads"),
        (lambda: figures.head_grid_figure(torch.ones(2, 4, 4), ["a"]), "query_tokens"),
        (lambda: figures.head_difference_figure(torch.ones(2, 2), torch.ones(3, 3), ["a", "b"]), "weights_b"),
        (lambda: figures.attention_cost_figure([1, 2]), "cost"),
        (lambda: measure_attention_cost(()), "lengths"),
        (lambda: measure_attention_cost((0, 8)), "lengths"),
        (lambda: measure_attention_cost((8,), budget_s=0), "budget_s"),
        (lambda: growth_exponent([1], [1.0]), "lengths"),
        (lambda: peak_memory(3), "fn"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call()
