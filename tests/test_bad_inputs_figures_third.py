"""A third audit of the figure functions (2026-12-05): each row failed deep inside torch,
numpy or plotly ("Cannot copy out of meta tensor", "abs_cpu not implemented for 'Bool'"),
blamed an argument the learner never passed ("row_labels must have 0 entries" for an empty
tensor, "values must hold real numbers" for complex weights), or drew something silently: a
complex tensor as its real part, ``heads="01"`` as heads 0 and 1, ``sinusoidal="no"`` as
True, ``dims=[True]`` as column 1, a range upside down. Now each gets a ValueError naming the
argument and saying what was expected (``figures/_args.py``: one ``values`` check of every
tensor a figure draws, ``labels``, ``positions`` …).
"""

import numpy as np
import pytest
import torch
from refusals import assert_refused, each_case
from transformer_course import figures
from transformer_course.cost import AttentionCost
from transformer_course.softmax import saturation_experiment

NAN = float("nan")
W = torch.softmax(torch.randn(4, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
ROW = W[0]
T = ["the", "cat", "sat", "down"]
H = torch.rand(3, 4, 4)  # three heads' weights
PE = torch.rand(4, 6)
META2, META1 = torch.empty(4, 4, device="meta"), torch.empty(4, device="meta")
COMPLEX2, COMPLEX1 = W.to(torch.complex64), ROW.to(torch.complex64)
EMPTY2, EMPTY1 = torch.empty(0, 0), torch.empty(0)
SAT = saturation_experiment((2, 4), rows=4)


def _cost(explicit_ms):
    return AttentionCost([8, 16], explicit_ms, [1.0, 1.5], [10, 40], [10, 20], 1, 2, 1, "cpu")


META = [
    ("attention, meta", lambda: figures.attention_heatmap(META2, T), "weights", "hold data.*meta"),
    ("scores, meta", lambda: figures.scores_heatmap(META2, T), "scores", "meta"),
    ("scores row, meta", lambda: figures.scores_row_heatmap(META2, T, 1), "scores", "meta"),
    ("embedding, meta", lambda: figures.embedding_heatmap(META2, T), "vectors", "meta"),
    ("similarity, meta", lambda: figures.similarity_heatmap(META2, T), "similarity", "meta"),
    ("positional, meta", lambda: figures.positional_heatmap(META2), "pe", "meta"),
    ("matrix, meta", lambda: figures.matrix_heatmap(META2), "values", "meta"),
    ("mask, meta", lambda: figures.mask_heatmap(META2.bool(), T), "mask", "meta"),
    ("difference, meta", lambda: figures.head_difference_figure(META2, W, T), "weights_a", "meta"),
    ("grid, meta", lambda: figures.head_grid_figure(H.to("meta"), T), "weights", "meta"),
    ("bars, meta", lambda: figures.bar_figure(META1, T), "values", "meta"),
    ("query row, meta", lambda: figures.query_row_figure(META1, T, "cat"), "scores_row", "meta"),
    ("entropy, meta", lambda: figures.entropy_figure(META1, T, 4), "entropies", "meta"),
    ("pointer, meta", lambda: figures.pointer_figure(META1, T), "weights", "meta"),
    ("next token, meta", lambda: figures.next_token_figure(META1, T), "probs", "meta"),
    ("likeliest, meta", lambda: figures.likeliest_tokens_figure(META1, T), "probs", "meta"),
    (
        "likeliest, true meta",
        lambda: figures.likeliest_tokens_figure(ROW, T, true_probs=META1),
        "true_probs",
        "meta",
    ),
    ("product, meta", lambda: figures.repeated_product_figure(META1, 0.9), "values", "meta"),
    ("waves, meta", lambda: figures.waves_figure(META2, [0]), "pe", "meta"),
    ("head jobs, meta", lambda: figures.head_jobs_figure(META2, T), "shares", "meta"),
    (
        "generation, meta",
        lambda: figures.generation_figure(META2, T, T, [0, 1, 2, 3]),
        "probs",
        "meta",
    ),
    ("qkv, meta", lambda: figures.qkv_figure(META2, W, W, T), "q", "meta"),
    ("depth, meta", lambda: figures.depth_figure({"a": META1}), r"values\['a'\]", "meta"),
    (
        "gradients, meta",
        lambda: figures.gradient_distance_figure({"a": META1}),
        r"values\['a'\]",
        "meta",
    ),
]

COMPLEX_AND_BOOL = [
    ("attention, complex", lambda: figures.attention_heatmap(COMPLEX2, T), "weights", "real numbers"),
    ("similarity, complex", lambda: figures.similarity_heatmap(COMPLEX2, T), "similarity", "real"),
    ("scores row, complex", lambda: figures.scores_row_heatmap(COMPLEX2, T, 1), "scores", "real"),
    (
        "generation, complex",
        lambda: figures.generation_figure(COMPLEX2, T, T, [0, 1, 2, 3]),
        "probs",
        "real",
    ),
    ("grid, complex", lambda: figures.head_grid_figure(H.to(torch.complex64), T), "weights", "real"),
    ("bars, complex", lambda: figures.bar_figure(COMPLEX1, T), "values", "real"),
    ("entropy, complex", lambda: figures.entropy_figure(COMPLEX1, T, 4), "entropies", "real"),
    ("product, complex", lambda: figures.repeated_product_figure(COMPLEX1, 0.9), "values", "real"),
    ("waves, complex", lambda: figures.waves_figure(PE.to(torch.complex64), [0]), "pe", "real"),
    ("head jobs, complex", lambda: figures.head_jobs_figure(COMPLEX2, T), "shares", "real"),
    ("qkv, complex v", lambda: figures.qkv_figure(W, W, COMPLEX2, T), "v", "real"),
    (
        "depth, complex",
        lambda: figures.depth_figure({"a": COMPLEX1}),
        r"values\['a'\]",
        "real",
    ),
    (
        "scores row, a bool matrix",
        lambda: figures.scores_row_heatmap(W > 0.2, T, 1),
        "scores",
        "real numbers.*bool",
    ),
    ("attention, a bool matrix", lambda: figures.attention_heatmap(W > 0.2, T), "weights", "bool"),
    ("pointer, bool weights", lambda: figures.pointer_figure(ROW > 0.2, T), "weights", "bool"),
]

EMPTY = [
    ("attention, empty", lambda: figures.attention_heatmap(EMPTY2, T), "weights", "at least one"),
    ("scores row, empty", lambda: figures.scores_row_heatmap(EMPTY2, T, 1), "scores", "at least one"),
    ("similarity, empty", lambda: figures.similarity_heatmap(EMPTY2, T), "similarity", "at least one"),
    ("matrix, empty", lambda: figures.matrix_heatmap(EMPTY2), "values", "at least one"),
    ("mask, empty", lambda: figures.mask_heatmap(EMPTY2.bool(), T), "mask", "at least one"),
    ("grid, empty", lambda: figures.head_grid_figure(torch.empty(0, 4, 4), T), "weights", "at least one"),
    ("bars, empty", lambda: figures.bar_figure(EMPTY1, T), "values", "at least one"),
    ("entropy, empty", lambda: figures.entropy_figure(EMPTY1, T, 4), "entropies", "at least one"),
    ("pointer, empty", lambda: figures.pointer_figure(EMPTY1, T), "weights", "at least one"),
    ("next token, empty", lambda: figures.next_token_figure(EMPTY1, T), "probs", "at least one"),
    ("likeliest, empty", lambda: figures.likeliest_tokens_figure(EMPTY1, T), "probs", "at least one"),
    ("product, empty", lambda: figures.repeated_product_figure(EMPTY1, 0.9), "values", "at least one"),
    ("waves, empty", lambda: figures.waves_figure(EMPTY2, [0]), "pe", "at least one"),
    ("head jobs, empty", lambda: figures.head_jobs_figure(EMPTY2, T), "shares", "at least one"),
    (
        "generation, empty",
        lambda: figures.generation_figure(EMPTY2, [], T, []),
        "probs",
        "at least one",
    ),
    (
        "qkv, empty",
        lambda: figures.qkv_figure(torch.rand(0, 2), torch.rand(0, 2), torch.rand(0, 2), []),
        "q",
        "at least one",
    ),
]

POSITIONS = [
    ("row a float", lambda: figures.scores_row_heatmap(W, T, 1.5), "row", r"\[0, 4\).*int"),
    ("row a bool", lambda: figures.scores_row_heatmap(W, T, True), "row", "int.*True"),
    ("row a word", lambda: figures.scores_row_heatmap(W, T, "a"), "row", "int"),
    ("row None", lambda: figures.scores_row_heatmap(W, T, None), "row", "int.*None"),
    ("dims a float", lambda: figures.waves_figure(PE, [1.5]), r"dims\[0\]", r"\[0, 6\).*int"),
    ("dims a bool", lambda: figures.waves_figure(PE, [True]), r"dims\[0\]", "int.*True"),
    ("dims None", lambda: figures.waves_figure(PE, None), "dims", "list of ints"),
    ("dims a string", lambda: figures.waves_figure(PE, "01"), "dims", "list of ints"),
    ("dims one int", lambda: figures.waves_figure(PE, 1), "dims", "list of ints"),
    ("heads a float", lambda: figures.head_grid_figure(H, T, heads=[1.5]), r"heads\[0\]", "int"),
    ("heads a bool", lambda: figures.head_grid_figure(H, T, heads=[True]), r"heads\[0\]", "int"),
    ("heads a word", lambda: figures.head_grid_figure(H, T, heads=["a"]), r"heads\[0\]", "int"),
    ("heads a string", lambda: figures.head_grid_figure(H, T, heads="01"), "heads", "list of ints"),
    ("heads one int", lambda: figures.head_grid_figure(H, T, heads=1), "heads", "list of ints"),
    ("marks a string", lambda: figures.head_grid_figure(H, T, marks="x"), "marks", "dict head → word"),
    ("marks a list", lambda: figures.head_grid_figure(H, T, marks=[1]), "marks", "dict"),
    (
        "marks a head too far",
        lambda: figures.head_grid_figure(H, T, marks={9: "A"}),
        "marks",
        r"heads in \[0, 3\).*9",
    ),
    ("marks a number", lambda: figures.head_grid_figure(H, T, marks={0: 5}), r"marks\[0\]", "str"),
]

NUMBERS = [
    ("factor None", lambda: figures.repeated_product_figure(ROW, None), "factor", "finite number"),
    ("factor a word", lambda: figures.repeated_product_figure(ROW, "a"), "factor", "finite number"),
    ("factor NaN", lambda: figures.repeated_product_figure(ROW, NAN), "factor", "finite"),
    ("factor a bool", lambda: figures.repeated_product_figure(ROW, True), "factor", "number"),
    ("n_keys a word", lambda: figures.entropy_figure(ROW, T, "a"), "n_keys", "positive int"),
    ("n_keys negative", lambda: figures.entropy_figure(ROW, T, -3), "n_keys", "positive int"),
    ("n_keys None", lambda: figures.entropy_figure(ROW, T, None), "n_keys", "positive int"),
    ("n_keys NaN", lambda: figures.entropy_figure(ROW, T, NAN), "n_keys", "positive int"),
    ("n_keys a fraction", lambda: figures.entropy_figure(ROW, T, 2.5), "n_keys", "positive int"),
    ("height 0", lambda: figures.matrix_heatmap(W, height=0), "height", ">= 10"),
    ("value_format unknown", lambda: figures.matrix_heatmap(W, value_format=".2q"), "value_format", "'.2f'"),
    ("y_range a string", lambda: figures.bar_figure(ROW, T, y_range="ab"), "y_range", "pair"),
    ("y_range one number", lambda: figures.bar_figure(ROW, T, y_range=(1,)), "y_range", "pair"),
    ("y_range NaN", lambda: figures.bar_figure(ROW, T, y_range=(NAN, 1)), r"y_range\[0\]", "finite"),
    ("y_range words", lambda: figures.bar_figure(ROW, T, y_range=("a", "b")), r"y_range\[0\]", "number"),
    ("y_range upside down", lambda: figures.bar_figure(ROW, T, y_range=(1, 0)), "y_range", "low < high"),
    ("colors too few", lambda: figures.bar_figure(ROW, T, colors=["red", "blue"]), "colors", "4 entries"),
    ("colors numbers", lambda: figures.bar_figure(ROW, T, colors=[1, 2, 3, 4]), r"colors\[0\]", "str"),
]

FLAGS_AND_WORDS = [
    (
        "sinusoidal a word",
        lambda: figures.waves_figure(PE, [0], sinusoidal="no"),
        "sinusoidal",
        "True or False",
    ),
    ("cosine a word", lambda: figures.similarity_heatmap(W, T, cosine="yes"), "cosine", "True or False"),
    (
        "dot products as cosines",
        lambda: figures.similarity_heatmap(W * 10, T),
        "similarity",
        r"\[-1, 1\].*cosine=False",
    ),
    ("axis_title None", lambda: figures.similarity_heatmap(W, T, axis_title=None), "axis_title", "str"),
    ("log a word", lambda: figures.depth_figure({"a": ROW}, log="no"), "log", "True or False"),
    (
        "comparison log_y a word",
        lambda: figures.loss_comparison_figure({"a": [1.0, 0.5]}, log_y="no"),
        "log_y",
        "True or False",
    ),
    ("metric a list", lambda: figures.saturation_figure(SAT, ["entropy"]), "metric", "one of"),
    ("metric a dict", lambda: figures.saturation_figure(SAT, {}), "metric", "one of"),
    ("query_token None", lambda: figures.query_row_figure(ROW, T, None), "query_token", "str"),
]

LOSS_CURVE = [
    ("steps None", lambda: figures.loss_curve_figure(None, [1.0]), "steps", "list of numbers"),
    ("losses None", lambda: figures.loss_curve_figure([1], None), "losses", "list of numbers"),
    ("steps a string", lambda: figures.loss_curve_figure("ab", [1.0, 2.0]), "steps", "list of numbers"),
    ("losses 2-D", lambda: figures.loss_curve_figure([1, 2], [[1.0], [2.0]]), "losses", "list of numbers"),
    ("losses words", lambda: figures.loss_curve_figure([1, 2], ["a", "b"]), "losses", "list of numbers"),
    ("log_y a word", lambda: figures.loss_curve_figure([1], [1.0], log_y="no"), "log_y", "True or False"),
    (
        "total_steps a word",
        lambda: figures.loss_curve_figure([1], [1.0], total_steps="a"),
        "total_steps",
        "int",
    ),
    (
        "total_steps negative",
        lambda: figures.loss_curve_figure([1], [1.0], total_steps=-5),
        "total_steps",
        "positive",
    ),
    (
        "validation a word",
        lambda: figures.loss_curve_figure([1], [1.0], validation=[(1, "a")]),
        "validation",
        r"\(step, loss\) pairs of numbers",
    ),
    (
        "floor_label None",
        lambda: figures.loss_curve_figure([1], [1.0], floor=0.5, floor_label=None),
        "floor_label",
        "str",
    ),
]

LABELS_AND_SHAPES = [
    ("attention, tokens None", lambda: figures.attention_heatmap(W, None), "query_tokens", "4 labels.*None"),
    ("bars, labels None", lambda: figures.bar_figure(ROW, None), "labels", "4 labels"),
    ("grid, tokens None", lambda: figures.head_grid_figure(H, None), "query_tokens", "4 labels"),
    ("pointer, tokens None", lambda: figures.pointer_figure(ROW, None), "tokens", "4 labels"),
    ("qkv, tokens None", lambda: figures.qkv_figure(W, W, W, None), "tokens", "4 labels"),
    ("embedding, tokens None", lambda: figures.embedding_heatmap(W, None), "tokens", "4 labels"),
    ("attention, no key tokens", lambda: figures.attention_heatmap(W, T, []), "key_tokens", "4 entries"),
    ("entropy, 3 tokens", lambda: figures.entropy_figure(ROW, T[:3], 4), "tokens", "4 entries"),
    ("query row, 3 keys", lambda: figures.query_row_figure(ROW, T[:3], "cat"), "key_tokens", "4 entries"),
    (
        "generation, one step label",
        lambda: figures.generation_figure(W[:2], ["a"], T, [0, 1]),
        "step_labels",
        "2 entries",
    ),
    (
        "difference, 3 key tokens",
        lambda: figures.head_difference_figure(W, W, T, T[:3]),
        "key_tokens",
        "4 entries",
    ),
    (
        "qkv, k of another width",
        lambda: figures.qkv_figure(W, W[:, :3], W, T),
        "k",
        r"size 4 in dimension 1.*d_k",
    ),
    (
        "cost, lists of other lengths",
        lambda: figures.attention_cost_figure(_cost([1.0])),
        r"cost\.explicit_ms",
        r"one value per length \(2\)",
    ),
]

CASES = (
    META + COMPLEX_AND_BOOL + EMPTY + POSITIONS + NUMBERS + FLAGS_AND_WORDS + LOSS_CURVE + LABELS_AND_SHAPES
)


@each_case(CASES)
def test_bad_input_names_the_argument_and_what_was_expected(call, argument, expected):
    assert_refused(call, argument, expected)


def test_what_is_right_is_still_taken():
    """The checks refuse only what is wrong: numpy ints as positions and sizes, integer tensors
    where real values are drawn, a tensor or an array of heads, NaN where it means a gap, and
    the documented None defaults."""
    ints = torch.tensor([[1, -2, 3, 0]] * 4)
    figures.scores_row_heatmap(ints, T, np.int64(1))  # failed with an int64 overflow
    figures.scores_row_heatmap(W, T, torch.tensor(2))
    figures.attention_heatmap(ints.abs(), T)
    figures.bar_figure(ints[0], T, y_range=(np.float32(-3), 4), colors=["red"] * 4)
    figures.qkv_figure(ints, ints, ints[:, :2], T)
    figures.head_grid_figure(H.long(), T, heads=np.array([0, 2]), marks={np.int64(2): "A"})
    figures.head_grid_figure(H, T, heads=torch.tensor([1]), key_tokens=None, marks=None)
    figures.waves_figure(PE, (0, np.int64(5)), sinusoidal=False)
    figures.waves_figure(PE, torch.tensor([1, 2]))
    figures.entropy_figure(ROW, T, np.int64(4))
    figures.repeated_product_figure(torch.tensor([1, 2, 4]), np.float32(2.0))
    figures.matrix_heatmap(W, None, None, height=400.0, value_format=".0%")
    figures.matrix_heatmap(W, value_format="+.2f")
    figures.pointer_figure(ROW, T, referent=torch.tensor([1, 2]), distractor=np.array([3]))
    figures.similarity_heatmap(W * 10, T, cosine=False)
    with_gap = figures.similarity_heatmap(torch.tensor([[1.0, NAN], [NAN, 1.0]]), ["a", "b"])
    assert with_gap.data[0].zmax == 1.0
    row = figures.query_row_figure(torch.tensor([1.0, NAN, -2.0, 0.5]), T, "cat")
    assert tuple(row.layout.yaxis.range) == pytest.approx((-2.5, 2.5))
    figures.loss_curve_figure([], [], total_steps=100)  # waiting for the first steps
    diverged = figures.loss_curve_figure(
        torch.arange(1, 4), torch.tensor([2.0, NAN, 1.0]), total_steps=np.int64(10), validation=[(2, NAN)]
    )
    assert diverged.layout.xaxis.range == (0, 10)
    figures.attention_cost_figure(_cost([1.0, 2.0]))
    figures.saturation_figure(SAT, "grad_norm")
