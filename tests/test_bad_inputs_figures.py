"""Bad input to the figure functions gets a ValueError naming the argument.

Before these checks, a float or a bool was taken as a position (``referent=1.5`` coloured
no bar, ``True`` the second), NaN probabilities drew an empty chart, a string of labels
was split into letters, ``zmin > zmax`` drew a blank heatmap and a ``None`` list of steps
failed with "object of type 'NoneType' has no len()".
"""

import pytest
import torch
from refusals import assert_refused, each_case
from transformer_course import figures

NAN = float("nan")
ROW = torch.tensor([0.1, 0.2, 0.3, 0.4])  # one attention row, or a next-token distribution
WORDS = ["the", "pizza", "and", "it"]
M = torch.rand(2, 3)

CASES = [
    ("referent a float", lambda: figures.pointer_figure(ROW, WORDS, referent=1.5), "referent", r"\[0, 4\)"),
    ("referent a bool", lambda: figures.pointer_figure(ROW, WORDS, referent=True), "referent", "position"),
    ("source too far", lambda: figures.pointer_figure(ROW, WORDS, source=4), "source", r"\[0, 4\)"),
    (
        "a mention too far",
        lambda: figures.pointer_figure(ROW, WORDS, referent=[1, 4]),
        r"referent\[1\]",
        r"\[0, 4\)",
    ),
    ("weights with NaN", lambda: figures.pointer_figure(ROW * NAN, WORDS), "weights", "finite"),
    ("negative probs", lambda: figures.next_token_figure(-ROW, WORDS), "probs", ">= 0"),
    ("chosen a float", lambda: figures.next_token_figure(ROW, WORDS, chosen=2.0), "chosen", "position"),
    ("labels a string", lambda: figures.next_token_figure(ROW, "abcd"), "labels", "list of 4 labels"),
    (
        "likeliest, chosen",
        lambda: figures.likeliest_tokens_figure(ROW, WORDS, chosen=-1),
        "chosen",
        "position",
    ),
    (
        "likeliest, true NaN",
        lambda: figures.likeliest_tokens_figure(ROW, WORDS, true_probs=ROW * NAN),
        "true_probs",
        "finite",
    ),
    ("steps None", lambda: figures.progress_curve_figure(None, [0.5]), "steps", "step numbers"),
    ("values None", lambda: figures.progress_curve_figure([1], None), "values", "list of numbers"),
    ("steps a string", lambda: figures.progress_curves_figure("abc", {"x": [1, 2, 3]}), "steps", "numbers"),
    (
        "series of words",
        lambda: figures.progress_curves_figure([1, 2], {"x": ["a", "b"]}),
        r"series\['x'\]",
        "numbers",
    ),
    (
        "percent a string",
        lambda: figures.progress_curves_figure([1], {"x": [0.5]}, percent="no"),
        "percent",
        "True or False",
    ),
    ("current a word", lambda: figures.progress_curve_figure([1], [0.5], current="now"), "current", "number"),
    ("zmin above zmax", lambda: figures.matrix_heatmap(M, zmin=1.0, zmax=0.0), "zmax", "greater than zmin"),
    ("zmid NaN", lambda: figures.matrix_heatmap(M, zmid=NAN), "zmid", "finite"),
    ("format a number", lambda: figures.matrix_heatmap(M, value_format=3), "value_format", "'.2f'"),
    ("complex values", lambda: figures.matrix_heatmap(M.to(torch.complex64)), "values", "real numbers"),
    (
        "chosen id too big",
        lambda: figures.generation_figure(torch.rand(2, 4), ["a", "b"], WORDS, [0, 4]),
        r"chosen\[1\]",
        r"\[0, 4\)",
    ),
]


@each_case(CASES)
def test_bad_input_names_the_argument_and_what_was_expected(call, argument, expected):
    assert_refused(call, argument, expected)


def test_positions_may_be_numpy_ints_or_one_element_integer_tensors():
    import numpy as np

    a = figures.next_token_figure(ROW, WORDS, chosen=np.int64(2))
    b = figures.next_token_figure(ROW, WORDS, chosen=torch.tensor(2))
    assert a.data[0].marker.color == b.data[0].marker.color
    assert figures.progress_curve_figure(np.arange(3), torch.tensor([0.1, 0.2, 0.3])).data[0].y[
        -1
    ] == pytest.approx(30.0)
