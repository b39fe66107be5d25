"""What a learner reads when an answer is one number off, or a list inside a tuple is,
and what a chart's hover says about a learning rate (from reading chapter 08 as a learner)."""

import torch
from transformer_course import checks, figures
from transformer_course.checks.describe import describe_difference
from transformer_course.checks.harness import Result


def test_one_number_is_described_without_an_empty_index():
    message = describe_difference(torch.tensor(3.7162), torch.tensor(3.3989))
    assert "index ()" not in message
    assert "expected 3.3989, got 3.7162" in message and "0.317" in message


def test_several_wrong_items_of_a_list_are_named_once():
    got = ([1.0, 2.0, 3.0], torch.ones(2))
    want = ([0.0, 0.0, 0.0], torch.zeros(2))
    message = describe_difference(got, want, parts=("losses", "weights"))
    assert "items 1 and 2 of the list differ too" in message
    assert "item 1 of the list and item 2 of the list" not in message
    assert message.startswith("the losses (item 0) differs: item 0 of the list differs")
    assert message.endswith("; the weights (item 1) differs too")


def test_many_right_items_are_named_together():
    message = describe_difference([9.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0])
    assert message.endswith("; items 1, 2 and 3 of the list are right")


def test_a_learning_rate_hovers_with_its_digits():
    rates = [0.00067, 0.02, 0.002]
    one = figures.progress_curve_figure([1, 30, 200], rates, percent=False)
    many = figures.progress_curves_figure([1, 30, 200], {"lr": rates}, percent=False)
    for fig in (one, many):
        assert "%{y:.3g}" in fig.data[0].hovertemplate and ".1f" not in fig.data[0].hovertemplate


def test_a_percentage_hovers_as_one():
    fig = figures.progress_curve_figure([1, 2], [0.5, 0.975])
    assert "%{y:.1f}%" in fig.data[0].hovertemplate


def my_softmax(scores, dim=-1):
    raise NotImplementedError


def test_not_attempted_names_the_learners_own_function():
    result = checks.check_softmax(my_softmax)
    assert result.status == checks.NOT_ATTEMPTED
    assert result.message.startswith("my_softmax is not attempted yet")


def test_a_function_without_a_name_gets_the_exercises():
    def unnamed(scores, dim=-1):
        raise NotImplementedError

    unnamed.__name__ = "<lambda>"
    assert checks.check_softmax(unnamed).message.startswith("softmax is not attempted yet")


def test_code_in_a_verdict_is_drawn_as_code_not_backticks():
    page = checks.check_softmax(my_softmax)._repr_html_()
    assert "<code>raise NotImplementedError</code>" in page and "`" not in page


def test_code_spans_are_escaped_before_they_are_drawn():
    result = Result(checks.WRONG, "use `x < y` then `<b>`")
    page = result._repr_html_()
    assert "<code>x &lt; y</code>" in page and "<code>&lt;b&gt;</code>" in page and "<b>`" not in page


def test_a_function_named_otherwise_gets_the_exercises_name():
    def starter(scores, dim=-1):
        raise NotImplementedError

    assert checks.check_softmax(starter).message.startswith("softmax is not attempted yet")


def test_pytorchs_own_not_implemented_is_an_error_not_not_attempted():
    def my_softmax(scores, dim=-1):
        return torch.softmax(scores.long(), dim=dim)  # no softmax kernel for integers

    result = checks.check_softmax(my_softmax)
    assert result.status in (checks.WRONG, checks.ERROR), result.message
    assert "not implemented for" in result.message and "not attempted" not in result.message


def test_a_learners_own_not_implemented_with_a_message_is_still_not_attempted():
    def my_softmax(scores, dim=-1):
        raise NotImplementedError("I will write this after lunch")

    assert checks.check_softmax(my_softmax).status == checks.NOT_ATTEMPTED


def test_an_attention_cell_hovers_as_a_weight_not_a_value():
    """In an attention chapter "value" reads as the V vector."""
    weights = torch.softmax(torch.randn(3, 3), -1)
    fig = figures.attention_heatmap(weights, ["a", "b", "c"])
    assert "weight: %{z" in fig.data[0].hovertemplate and "value:" not in fig.data[0].hovertemplate
    scores = figures.scores_heatmap(torch.randn(3, 3), ["a", "b", "c"])
    assert "score: %{z" in scores.data[0].hovertemplate


def test_a_plain_matrix_still_hovers_its_values():
    fig = figures.matrix_heatmap(torch.randn(2, 2))
    assert "value: %{z" in fig.data[0].hovertemplate


def test_a_depth_chart_hovers_what_its_y_axis_measures():
    fig = figures.depth_figure({"pre-norm": torch.tensor([1.0, 2.0])}, y_title="gradient norm (log scale)")
    assert "block %{x}: gradient norm %{y:.3g}" in fig.data[0].hovertemplate


def test_a_decoder_layer_masked_with_the_sources_length_is_named():
    from transformer_course.masks import causal_mask

    def my_decoder_layer(layer, x, memory):
        x = layer.norm1(x + layer.self_attn(x, mask=causal_mask(memory.shape[1]))[0])
        x = layer.norm2(x + layer.cross_attn(x, memory, memory)[0])
        return layer.norm3(x + layer.feed_forward(x))

    result = checks.check_decoder_layer(my_decoder_layer)
    assert result.status == checks.WRONG and "causal_mask(x.shape[1])" in result.message


def test_the_wave_explorers_title_names_pairs_and_their_dims():
    from transformer_course import widgets

    explorer = widgets.PositionalExplorer()
    explorer.controls["pair"].value = 0
    assert explorer.figures["waves"].layout.title.text == "Pair 0 (dims 0, 1)"  # not "and pair i = 0"
    explorer.controls["pair"].value = 3
    assert explorer.figures["waves"].layout.title.text == "Pair 0 (dims 0, 1) and pair 3 (dims 6, 7)"


def test_a_learners_own_words_not_implemented_for_now_are_not_attempted():
    def my_softmax(scores, dim=-1):
        raise NotImplementedError("not implemented for now")

    assert checks.check_softmax(my_softmax).status == checks.NOT_ATTEMPTED


def test_a_curves_hover_keeps_the_authors_markup():
    fig = figures.depth_figure({"a": torch.tensor([1.0, 2.0])}, y_title="norm of W<sub>Q</sub> (log)")
    assert "norm of W<sub>Q</sub> %{y" in fig.data[0].hovertemplate


def test_a_head_legend_needs_room_for_its_title():
    import pytest
    from transformer_course.figures.base import TITLE_ROOM, head_legend

    with pytest.raises(ValueError, match="height"):
        head_legend(TITLE_ROOM)
    assert 0 < head_legend(320)["y"] < 1


def test_top_k_compared_whole_with_the_logits_is_told_so():
    """The hint covered only values[-1]; comparing with all of topk's values fails the same way."""
    import math

    def my_sample_next_token(logits, temperature, top_k):
        logits = logits / temperature
        if top_k is not None:
            values = logits.topk(top_k, dim=-1).values  # (B, k), meant values[:, -1:]
            logits = logits.masked_fill(logits < values, -math.inf)
        return torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1)

    result = checks.check_sample_next_token(my_sample_next_token)
    assert result.status == checks.WRONG and "topk's values, (B, k)" in result.message


def test_a_my_function_named_unlike_the_exercise_keeps_its_name():
    """Chapter 06 checks my_masked_weights as causal_masked_weights; chapter 08's sample_next_token
    checker wraps the learner's function: both verdicts name the function in the notebook."""

    def my_masked_weights(scores, ids, pad_id):
        raise NotImplementedError

    def my_sample_next_token(logits, temperature=1.0, top_k=None):
        raise NotImplementedError

    assert checks.check_causal_masked_weights(my_masked_weights).message.startswith(
        "my_masked_weights is not attempted yet"
    )
    assert checks.check_sample_next_token(my_sample_next_token).message.startswith(
        "my_sample_next_token is not attempted yet"
    )


def test_chapter_08s_my_train_step_is_named_so():
    def my_train_step(model, optimiser, loss_fn, batch):
        raise NotImplementedError

    assert checks.check_train_step(my_train_step).message.startswith("my_train_step is not attempted yet")
