"""Round 44b: the checkers' gradient run closes three gaps.

1. A model that takes token ids only (gpt_forward, encoder_decoder_forward) has no input whose
   gradient can be compared: the gradients reaching the WEIGHTS of the parts it is handed are
   compared with the reference's, and the parts that get none (or another) are named.
2. An error raised where training would raise it (an in-place edit autograd refuses, a
   backward that fails) is a verdict, no longer "judges nothing".
3. train_step: a NumPy scalar (np.float32) is a number and passes; a 0-d NumPy array is not one
   (the chapter's torch.tensor(losses) refuses it) and is named, saying why.
"""

import math
import re

import numpy as np
import pytest
import torch
from transformer_course.checks import gradients
from transformer_course.checks.harness import PASSED, WRONG
from transformer_course.checks.registry import exercise
from transformer_course.masks import causal_mask, padding_mask

# --- 1. Weights of an id-only model ---


def _seq2seq(parts, src, trg_in, *, memory_detached=False, output_detached=False, indexed=False):
    """The encoder-decoder forward of exercise 07e, with a gradient cut where asked."""

    def embed(ids):  # (B, L) → (B, L, d_model); indexed: weight[ids], no padding_idx
        vectors = parts.embedding.weight[ids] if indexed else parts.embedding(ids)
        return vectors * math.sqrt(parts.embedding.embedding_dim) + parts.positions[: ids.shape[1]]

    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(embed(src), src_mask)  # (B, Ls, d_model)
    memory = memory.detach() if memory_detached else memory  # "the encoder is done"
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    hidden = parts.decoder(embed(trg_in), memory, trg_mask, src_mask)  # (B, Lt, d_model)
    weight = parts.output.weight.detach() if output_detached else parts.output.weight
    return torch.nn.functional.linear(hidden, weight, parts.output.bias)  # (B, Lt, V)


def _gpt(parts, ids, *, cut_before=None, table_detached_for_output=False, copied_output=False):
    """The GPT forward of exercise 09a; ``cut_before``: the block whose input is detached."""
    length = ids.shape[1]
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(torch.arange(length))
    sees = torch.ones(length, length, dtype=torch.bool).tril()
    for i, block in enumerate(parts.blocks):
        x = block(x.detach() if i == cut_before else x, sees)
    table = parts.token.weight.detach() if table_detached_for_output else parts.token.weight
    if copied_output:  # an output layer of its own, the table copied in: the copy would learn
        output = torch.nn.Linear(table.shape[1], table.shape[0], bias=False)
        with torch.no_grad():
            output.weight.copy_(table)
        return output(parts.norm(x))
    return parts.norm(x) @ table.T


WEIGHTS_CUT = [
    (
        "encoder_decoder_forward",
        lambda p, s, t: _seq2seq(p, s, t, memory_detached=True),
        "parts.encoder",
        "no",
    ),
    # The output layer's weight is the embedding's table (tied): it still gets the embedding's share.
    (
        "encoder_decoder_forward",
        lambda p, s, t: _seq2seq(p, s, t, output_detached=True),
        "parts.embedding (also parts.output.weight)",
        "another",
    ),
    ("gpt_forward", lambda p, ids: _gpt(p, ids, cut_before=0), "parts.positions", "no"),
    ("gpt_forward", lambda p, ids: _gpt(p, ids, cut_before=1), "parts.blocks[0]", "no"),
    ("gpt_forward", lambda p, ids: _gpt(p, ids, table_detached_for_output=True), "parts.token", "another"),
    ("gpt_forward", lambda p, ids: _gpt(p, ids, copied_output=True), "parts.token", "another"),
]


@pytest.mark.parametrize(("name", "fn", "part", "kind"), WEIGHTS_CUT)
def test_a_cut_that_leaves_weights_of_an_id_only_model_without_their_gradient_is_named(name, fn, part, kind):
    verdict = exercise(name).check(fn)
    assert verdict.status == WRONG, verdict.message
    named = re.search(f"the weights of (.*?) get {kind} gradient", verdict.message)
    assert named and part in named.group(1).split(" and "), verdict.message


def test_only_the_parts_whose_weights_lose_their_gradient_are_named():
    verdict = exercise("gpt_forward").check(lambda p, ids: _gpt(p, ids, cut_before=1))
    assert "parts.blocks[0]" in verdict.message and "parts.blocks[1]" not in verdict.message, verdict.message
    assert "parts.norm" not in verdict.message, verdict.message


def test_the_unmodified_answers_written_here_pass():
    # The helpers above with no cut are right: the tests that use them test the cut alone.
    assert exercise("encoder_decoder_forward").check(_seq2seq).status == PASSED
    assert exercise("gpt_forward").check(_gpt).status == PASSED


def test_a_table_indexed_by_hand_gives_the_pad_row_a_gradient_and_still_passes():
    # nn.Embedding(padding_idx=…) gives <pad>'s row no gradient; weight[ids] gives it one. The
    # entries the reference leaves at 0 are not compared: the answer is right.
    verdict = exercise("encoder_decoder_forward").check(lambda p, s, t: _seq2seq(p, s, t, indexed=True))
    assert verdict.status == PASSED, verdict.message


def test_a_float64_answer_through_deep_copies_of_the_parts_is_named():
    # dataclasses.astuple deep-copies the modules: the copies get the gradients, and the model's
    # own parts, which training steps, get none. (The registered float64 answer casts the parts'
    # own weights on the way instead, and passes: test_checker_round43.)
    from dataclasses import astuple

    def in_float64_by_astuple(parts, src, trg_in):
        copies = type(parts)(*(p.double() for p in astuple(parts)[:5]), parts.pad_id)
        return _seq2seq(copies, src, trg_in).float()

    verdict = exercise("encoder_decoder_forward").check(in_float64_by_astuple)
    assert verdict.status == WRONG and "the weights of parts.encoder" in verdict.message, verdict.message
    assert (
        exercise("encoder_decoder_forward")
        .check(exercise("encoder_decoder_forward").alternatives["in float64"])
        .passed
    )


def test_weights_passed_as_tensors_are_still_not_compared():
    # A function of an input and a weight TENSOR: the input's gradient alone is compared.
    case = (torch.randn(3, 4), torch.randn(4, 2))
    assert (
        gradients.without_gradients(lambda x, w: x @ w.detach(), lambda x, w: x @ w, case, name="f") is None
    )


# --- 2. An error where training would raise one ---


def layer_norm_divided_in_place(x, weight, bias, eps):
    centred = x - x.mean(dim=-1, keepdim=True)
    var = (centred**2).mean(dim=-1, keepdim=True)  # ** saves centred for backward …
    centred /= torch.sqrt(var + eps)  # … which this changes: backward refuses
    return centred * weight + bias


class _ReluNoBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h):
        return h.clamp(min=0)


def feed_forward_relu_without_backward(x, w_1, b_1, w_2, b_2):
    return _ReluNoBackward.apply(x @ w_1 + b_1) @ w_2 + b_2


def test_an_in_place_edit_that_breaks_backward_is_named():
    verdict = exercise("layer_norm").check(layer_norm_divided_in_place)
    assert verdict.status == WRONG, verdict.message
    assert "an in-place change (x += …, x[...] = …) broke the gradient" in verdict.message, verdict.message
    assert "modified by an inplace operation" in verdict.message  # what raised, quoted


def test_an_in_place_edit_of_a_view_refused_under_grad_is_named():
    def scores_unbound_and_scaled(q, k):
        rows = q.unbind(0)  # views of a function that returns several: in-place edits refused
        for row in rows:
            row /= math.sqrt(q.shape[-1])
        return torch.stack(rows) @ k.transpose(-2, -1)

    reference = lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # noqa: E731
    case = (torch.randn(3, 4), torch.randn(5, 4))
    hint = gradients.without_gradients(scores_unbound_and_scaled, reference, case, name="f")
    assert hint is not None and "in-place change" in hint, hint


def add_norm_residual_added_in_place(block, x, sublayer):
    if block.norm_first:
        x += block.dropout(sublayer(block.norm(x)))  # norm(x) kept x for backward: += overwrites it
        return x
    x += block.dropout(sublayer(x))
    return block.norm(x)


def test_backward_broken_by_changing_an_argument_in_place_is_said_beside_that_change():
    # The change of the caller's x is warned of already (in_place); that training would raise
    # too is added to the same warning, not a second verdict.
    verdict = exercise("add_norm").check(add_norm_residual_added_in_place)
    assert verdict.status == PASSED, verdict.message
    assert "changed the x it was given in place (x += …)" in verdict.warning, verdict.message
    assert "And in training, loss.backward() through it would raise (RuntimeError:" in verdict.warning
    assert verdict.message.endswith(verdict.warning) and verdict.warning.count("beware") == 1


def test_a_gradient_warning_stands_alone_where_no_other_warning_came():
    text = gradients.GradientWarning("RuntimeError: …").text(also=False)
    assert text.startswith(" But beware: in training, loss.backward() through it would raise")


def test_any_other_error_in_backward_is_named_with_what_raised():
    verdict = exercise("feed_forward").check(feed_forward_relu_without_backward)
    assert verdict.status == WRONG, verdict.message
    assert "loss.backward() through it raises" in verdict.message, verdict.message
    assert "backward" in verdict.message.split("raises", 1)[1]  # the error's own words follow


def test_numpy_keeps_its_own_verdict():
    def layer_norm_in_numpy(x, weight, bias, eps):
        a = x.numpy()
        out = (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + eps)
        return torch.from_numpy(out) * weight + bias

    verdict = exercise("layer_norm").check(layer_norm_in_numpy)
    assert verdict.status == WRONG and "NumPy (.numpy())" in verdict.message, verdict.message


def test_a_reference_that_fails_in_backward_judges_nothing():
    reference = lambda x: _ReluNoBackward.apply(x)  # noqa: E731
    case = (torch.randn(3, 4),)
    assert gradients.without_gradients(lambda x: x.clamp(min=0), reference, case, name="f") is None


# --- 3. train_step: NumPy scalars and 0-d arrays ---


def _step(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return loss


def test_train_step_returning_a_numpy_scalar_passes():
    # np.float32 is a real number: torch.tensor(losses), f"{loss:.2f}", round() all take it.
    verdict = exercise("train_step").check(lambda m, o, f, b: np.float32(_step(m, o, f, b).item()))
    assert verdict.status == PASSED, verdict.message
    verdict = exercise("train_step").check(lambda m, o, f, b: _step(m, o, f, b).detach().numpy()[()])
    assert verdict.status == PASSED, verdict.message


def test_train_step_returning_a_0d_numpy_array_is_named_with_why():
    verdict = exercise("train_step").check(lambda m, o, f, b: _step(m, o, f, b).detach().numpy())
    assert verdict.status == WRONG, verdict.message
    assert "0-d NumPy array" in verdict.message and "torch.tensor(losses)" in verdict.message, verdict.message


def test_what_the_hint_says_of_a_0d_array_and_a_numpy_scalar_is_true():
    # The reason the hint gives, checked: the chapter keeps the returned losses in a list and
    # calls torch.tensor(losses) on it.
    with pytest.raises(TypeError):
        torch.tensor([np.array(1.5, dtype=np.float32)] * 2)
    assert torch.tensor([np.float32(1.5)] * 2).tolist() == [1.5, 1.5]


def test_a_categorical_given_logits_is_named_after_torch_compile_has_run():
    """torch.compile turns torch.distributions' argument checks off for the whole process the
    first time it compiles; the checker turns them on while it runs, and back as they were."""
    from torch.distributions import Distribution
    from transformer_course.checks import sampling
    from transformer_course.checks import sampling_learners as learner

    torch.compile(lambda x: x + 1, backend="eager", fullgraph=True)(torch.ones(2))
    assert Distribution._validate_args is False  # what the compile left behind
    try:
        result = sampling.check_sample_next_token(learner.categorical_of_logits)
        assert result.status == "wrong" and "reads x as PROBABILITIES" in result.message, result.message
        assert Distribution._validate_args is False  # as the learner's process had it
    finally:
        Distribution.set_default_validate_args(True)
