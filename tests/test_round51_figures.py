"""Round 51 (task F1): figure and widget input guards.

Before: next_token_figure, pointer_figure, head_jobs_figure and generation_figure drew
probabilities above 1 (counts, exp(logits)) off the top of their fixed 0–1 axis, and rows that
summed to more than 1 (sigmoids) as a distribution, without a word; similarity_heatmap and
attention_heatmap named ``values``, matrix_heatmap's argument, for a ±inf the caller passed as
``similarity`` or ``weights`` (attention_heatmap with a mask, head_grid_figure and qkv_figure drew
it as a gap, taken for a NaN); AttentionHistoryExplorer took a sentence whose referent is its
distractor and failed at draw time.
"""

import pytest
import torch
from refusals import assert_refused, each_case
from test_bad_inputs_explorers import _history
from transformer_course import figures, widgets

INF = float("inf")
WORDS = ["the", "cat", "sat", "down"]
ROW = torch.tensor([0.1, 0.2, 0.3, 0.4])  # a distribution over WORDS
SQUARE = torch.softmax(torch.randn(4, 4, generator=torch.Generator().manual_seed(0)), -1)


def with_value(x: torch.Tensor, where: tuple, value: float) -> torch.Tensor:
    x = x.clone()
    x[where] = value
    return x


PROBABILITY_CASES = [
    (
        "next token, a count",
        lambda: figures.next_token_figure(ROW * 5, WORDS),
        "probs",
        r"in \[0, 1\].*got 2 at 3$",
    ),
    ("next token, sigmoids", lambda: figures.next_token_figure(ROW + 0.5, WORDS), "probs", "sum of 3"),
    ("pointer, above 1", lambda: figures.pointer_figure(ROW * 3, WORDS), "weights", r"in \[0, 1\]"),
    ("pointer, sums to 2", lambda: figures.pointer_figure(ROW * 2, WORDS), "weights", "sum of 2"),
    (
        "head jobs, above 1",
        lambda: figures.head_jobs_figure(torch.tensor([[0.5, 3.0], [0.1, 0.2]]), ["a", "b"]),
        "shares",
        r"in \[0, 1\].*got 3 at \(0, 1\)",
    ),
    (
        "head jobs, negative",
        lambda: figures.head_jobs_figure(torch.tensor([[-0.5, 0.3], [0.1, 0.2]]), ["a", "b"]),
        "shares",
        ">= 0",
    ),
    (
        "head jobs, NaN",
        lambda: figures.head_jobs_figure(torch.tensor([[float("nan"), 0.3], [0.1, 0.2]]), ["a", "b"]),
        "shares",
        "finite",
    ),
    (
        "generation, above 1",
        lambda: figures.generation_figure(SQUARE * 3, WORDS, WORDS, [0, 1, 2, 3]),
        "probs",
        r"in \[0, 1\]",
    ),
    (
        "likeliest, sigmoids",
        lambda: figures.likeliest_tokens_figure(ROW + 0.5, WORDS),
        "probs",
        "summing to at most 1",
    ),
]


@each_case(PROBABILITY_CASES)
def test_fixed_axis_figures_refuse_what_is_not_probabilities(call, argument, expected):
    assert_refused(call, argument, expected)


def test_probabilities_that_round_past_one_still_draw():
    """A float16 softmax sums to 1 ± a few thousandths, and its largest value may print as 1.0000001."""
    half = torch.softmax(torch.randn(50, generator=torch.Generator().manual_seed(1)), -1).half()
    figures.next_token_figure(half, [f"w{i}" for i in range(50)])
    figures.pointer_figure(torch.tensor([1.0000001, 0.0, 0.0, 0.0]), WORDS)
    figures.head_jobs_figure(torch.tensor([[0.8, 0.1], [0.0, 0.9]]), ["left", "right"])


INFINITY_CASES = [
    (
        f"{name}, {sign}inf",
        call(value),
        argument,
        rf"^{argument} must be finite or NaN \(a gap\), got {sign}inf",
    )
    for sign, value in (("", INF), ("-", -INF))
    for name, call, argument in (
        (
            "similarity",
            lambda v: lambda: figures.similarity_heatmap(with_value(SQUARE, (0, 1), v), WORDS),
            "similarity",
        ),
        (
            "similarity, not cosine",
            lambda v: lambda: figures.similarity_heatmap(with_value(SQUARE, (0, 1), v), WORDS, cosine=False),
            "similarity",
        ),
        (
            "attention",
            lambda v: lambda: figures.attention_heatmap(with_value(SQUARE, (2, 0), v), WORDS),
            "weights",
        ),
        (
            "attention with a mask",
            lambda v: (
                lambda: figures.attention_heatmap(
                    with_value(SQUARE, (2, 0), v), WORDS, mask=torch.ones(4, 4, dtype=torch.bool)
                )
            ),
            "weights",
        ),
        (
            "head grid",
            lambda v: (
                lambda: figures.head_grid_figure(
                    with_value(SQUARE[None].repeat(2, 1, 1), (1, 0, 1), v), WORDS
                )
            ),
            "weights",
        ),
        (
            "qkv, k",
            lambda v: lambda: figures.qkv_figure(SQUARE, with_value(SQUARE, (1, 1), v), SQUARE, WORDS),
            "k",
        ),
    )
]


@each_case(INFINITY_CASES)
def test_an_infinite_cell_is_named_by_the_callers_argument(call, argument, expected):
    with pytest.raises(ValueError, match=expected):
        call()


def test_matrix_heatmap_still_names_its_own_argument():
    with pytest.raises(ValueError, match=r"^values must be finite or NaN \(a gap\), got inf at \(0, 1\)"):
        figures.matrix_heatmap(with_value(SQUARE, (0, 1), INF), WORDS, WORDS)


def test_history_explorer_refuses_a_referent_that_is_its_distractor_by_name_and_sentence():
    snaps, sentences, it_pos, referent_pos, distractor_pos = _history()
    distractor_pos = list(distractor_pos)
    distractor_pos[1] = referent_pos[1]
    with pytest.raises(
        ValueError, match=r"^distractor_pos\[1\] must differ from referent_pos\[1\] \(sentence 1"
    ):
        widgets.AttentionHistoryExplorer(snaps, sentences, it_pos, referent_pos, distractor_pos)


def test_history_explorer_refuses_pointer_weights_above_one_by_name():
    """pointer_figure refuses them now: checked in __init__, not at draw time."""
    snaps, sentences, it_pos, referent_pos, distractor_pos = _history()
    bad = {0: dict(snaps[0], pointer=snaps[0]["pointer"] * 3)}
    with pytest.raises(ValueError, match=r"^snapshots\[0\]\['pointer'\] must be"):
        widgets.AttentionHistoryExplorer(bad, sentences, it_pos, referent_pos, distractor_pos)


# --- found by fuzzing the explorers (task F1): taken by __init__, refused at draw time ---


def test_history_explorer_refuses_a_predicate_share_outside_0_1_by_name():
    """Before: "Could not update the figures (ValueError: series['head 0'] must hold fractions …)"."""
    snaps, sentences, it_pos, referent_pos, distractor_pos = _history()
    heads = snaps[0]["predicate"].shape[0]
    for bad, said in ((3.0, "shares in \\[0, 1\\]"), (-0.5, ">= 0")):
        snap = dict(snaps[0], predicate=torch.full((heads,), bad))
        with pytest.raises(ValueError, match=rf"^snapshots\[0\]\['predicate'\] must .*{said}"):
            widgets.AttentionHistoryExplorer({0: snap}, sentences, it_pos, referent_pos, distractor_pos)


def test_history_explorer_refuses_a_negative_step_by_name():
    """Before: "Could not update the figures (ValueError: steps must be 0 or more …, got -5)"."""
    snaps, sentences, it_pos, referent_pos, distractor_pos = _history()
    with pytest.raises(ValueError, match=r"^every step of snapshots must be an int >= 0, got -5"):
        widgets.AttentionHistoryExplorer(
            {-5: snaps[0], 3: snaps[0]}, sentences, it_pos, referent_pos, distractor_pos
        )
