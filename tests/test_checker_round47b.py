"""Round 47b: six verdicts that were untrue of the wrong answer they named, from a reviewer's pass.

- cached_attention_step: "k not transposed" was named by any shape error's text; now only where
  the product that failed took the keys untransposed (a broadcast weights * values without the
  weights transposed, or scores over k_new alone, are no longer told to transpose the keys);
- keep_top_p: "sum without keepdim" was named by any broadcast error; now only where the
  operation that failed took a sum over the last axis made without keepdim;
- the pass warning of an in-place answer suggested probs.zero(…) and probs.fill(…), methods torch
  does not have: now an out-of-place form that exists, or a copy first;
- gpt_forward: logits over the position table are named so (they were "a model other than the
  parts"); the loop over parts.blocks[:-1] is no longer asked about an indented return alone; the
  mask hints' causal_mask(L) says how to import it, and a NameError for it is named.

The wrong answers are written apart from the catalogue's own examples, as a learner types them.
"""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from transformer_course.checks.harness import WRONG
from transformer_course.checks.registry import exercise

STEP, TOP_P, GPT = "cached_attention_step", "keep_top_p", "gpt_forward"


def hint_of(exercise_name, mistake_name):
    return {m.name: m.hint for m in exercise(exercise_name).mistakes}[mistake_name]


def named(verdict, exercise_name, mistake_name):
    """The verdict is WRONG and gives that mistake's hint (an error's is followed by what was raised)."""
    return verdict.status == WRONG and verdict.message.startswith(hint_of(exercise_name, mistake_name))


def no_hint(verdict, exercise_name):
    """The verdict names none of the exercise's mistakes."""
    return not [m.name for m in exercise(exercise_name).mistakes if m.hint in verdict.message]


# --- 1. cached_attention_step: "k not transposed" only for keys multiplied as they are ---


def _grow(past, new):
    return new if past is None else torch.cat([past, new], dim=2)


def _weights(q, keys):
    return torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)  # (B, h, 1, t + 1)


def weighted_sum_untransposed(q, k_new, v_new, past_k, past_v):
    keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
    return (_weights(q, keys) * values).sum(dim=-2, keepdim=True), keys, values  # weights need .mT


def scores_of_the_new_key_only(q, k_new, v_new, past_k, past_v):
    keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
    return _weights(q, k_new) @ values, keys, values


@pytest.mark.parametrize("step", [weighted_sum_untransposed, scores_of_the_new_key_only])
def test_a_shape_error_elsewhere_is_not_blamed_on_the_transpose(step):
    verdict = exercise(STEP).check(step)
    assert not verdict.passed and no_hint(verdict, STEP), verdict.message
    assert "raised RuntimeError" in verdict.message


@pytest.mark.filterwarnings("ignore:The use of `x.T`:UserWarning")
@pytest.mark.parametrize(
    "keys_as",
    [
        lambda q, k: q @ k,
        lambda q, k: torch.matmul(q / math.sqrt(q.shape[-1]), k.T),
        lambda q, k: q @ k.permute(0, 3, 1, 2),  # (B, d_head, h, t + 1)
        lambda q, k: k @ q,  # the other way round, q not transposed either
    ],
)
def test_keys_multiplied_untransposed_are_still_named(keys_as):
    def step(q, k_new, v_new, past_k, past_v):
        keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
        w = torch.softmax(keys_as(q, keys) / math.sqrt(q.shape[-1]), dim=-1)
        return w @ values, keys, values

    assert named(exercise(STEP).check(step), STEP, "k not transposed")


def test_right_cached_steps_in_other_styles_pass():
    def by_broadcasting(q, k_new, v_new, past_k, past_v):
        keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
        weights = _weights(q, keys).transpose(-2, -1)  # (B, h, t + 1, 1)
        return (weights * values).sum(dim=-2, keepdim=True), keys, values

    def by_sdpa(q, k_new, v_new, past_k, past_v):
        keys, values = _grow(past_k, k_new), _grow(past_v, v_new)
        return F.scaled_dot_product_attention(q, keys, values), keys, values

    for step in (by_broadcasting, by_sdpa):
        verdict = exercise(STEP).check(step)
        assert verdict.passed and "beware" not in verdict.message, verdict.message


# --- 2. keep_top_p: "sum without keepdim" only where such a sum broke the broadcast ---


def threshold_lost_its_axis(probs, top_p):
    ranked, _ = probs.sort(dim=-1, descending=True)
    size = ((ranked.cumsum(-1) - ranked) < top_p).sum(-1)  # (B,): the nucleus's size, no keepdim needed
    smallest = ranked.gather(-1, (size - 1).unsqueeze(-1)).squeeze(-1)  # (B,): the axis dropped
    kept = torch.where(probs >= smallest, probs, 0.0)  # (B, V) against (B,)
    return kept / kept.sum(dim=-1, keepdim=True)


def _nucleus(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(-1) - ranked >= top_p, 0.0)
    return torch.zeros_like(probs).scatter(-1, order, ranked)


def test_a_broadcast_error_elsewhere_is_not_blamed_on_keepdim():
    verdict = exercise(TOP_P).check(threshold_lost_its_axis)
    assert not verdict.passed and no_hint(verdict, TOP_P), verdict.message


@pytest.mark.parametrize(
    "total",
    [lambda k: k.sum(-1), lambda k: torch.sum(k, dim=1), lambda k: k.sum(dim=[-1])],
)
def test_a_sum_without_keepdim_is_still_named(total):
    def top_p(probs, p):
        kept = _nucleus(probs, p)
        return kept / total(kept)

    assert named(exercise(TOP_P).check(top_p), TOP_P, "sum without keepdim")


def test_right_nuclei_in_other_styles_pass():
    def sum_then_unsqueeze(probs, p):
        kept = _nucleus(probs, p)
        return kept / kept.sum(-1).unsqueeze(-1)  # a sum without keepdim, its axis put back

    def by_threshold(probs, p):
        ranked, _ = probs.sort(dim=-1, descending=True)
        size = ((ranked.cumsum(-1) - ranked) < p).sum(-1, keepdim=True)  # (B, 1)
        kept = torch.where(probs >= ranked.gather(-1, size - 1), probs, 0.0)
        return kept / kept.sum(dim=-1, keepdim=True)

    for fn in (sum_then_unsqueeze, by_threshold):
        verdict = exercise(TOP_P).check(fn)
        assert verdict.passed, verdict.message


# --- 3. the in-place warning suggests only methods and functions torch has ---


def top_p_zeroing_its_input(probs, top_p):
    s, o = probs.sort(dim=-1, descending=True)
    keep = s.cumsum(-1) - s < top_p
    probs.zero_().scatter_(-1, o, s * keep)  # reuses the argument's storage
    return probs / probs.sum(-1, keepdim=True)


def top_p_filling_its_input(probs, top_p):
    s, o = probs.sort(dim=-1, descending=True)
    keep = s.cumsum(-1) - s < top_p
    probs.fill_(0.0)
    probs.scatter_(-1, o, s * keep)
    return probs / probs.sum(-1, keepdim=True)


def top_p_copying_into_its_input(probs, top_p):
    s, o = probs.sort(dim=-1, descending=True)
    kept = torch.zeros_like(probs).scatter(-1, o, s * (s.cumsum(-1) - s < top_p))
    probs.copy_(kept)
    return probs / probs.sum(-1, keepdim=True)


def top_p_normal_on_its_input(probs, top_p):
    kept = _nucleus(probs, top_p)
    probs.normal_()  # scratch space, as they think
    return kept / kept.sum(-1, keepdim=True)


def _suggestion(message):
    return message.split("Compute into a new tensor instead: ", 1)[1]


@pytest.mark.parametrize(
    ("fn", "wanted"),
    [
        (top_p_zeroing_its_input, "probs = torch.zeros_like(probs)"),
        (top_p_filling_its_input, "probs = torch.full_like(probs, 0.0)"),
        (top_p_copying_into_its_input, "probs = kept.clone()"),
        (top_p_normal_on_its_input, "probs = probs.clone()"),
    ],
)
def test_the_in_place_warning_suggests_what_exists(fn, wanted):
    verdict = exercise(TOP_P).check(fn)
    assert verdict.passed and "beware" in verdict.message, verdict.message
    suggestion = _suggestion(verdict.message)
    assert wanted in suggestion, suggestion
    for method in re.findall(r"(?<!torch)\.(\w+)\(", suggestion):  # every method it names, torch has
        assert hasattr(torch.Tensor, method), method
    for function in re.findall(r"torch\.(\w+)\(", suggestion):
        assert hasattr(torch, function), function


def test_an_in_place_method_with_a_twin_keeps_its_suggestion():
    def top_p(probs, p):
        kept = _nucleus(probs, p)
        probs.div_(1.0)  # changes nothing: no warning, whatever the code says
        return kept.div_(kept.sum(-1, keepdim=True))

    assert exercise(TOP_P).check(top_p).passed

    def dividing_its_input(probs, p):
        probs.div_(probs.sum(-1, keepdim=True) * 2)
        kept = _nucleus(probs * 2, p)
        return kept / kept.sum(-1, keepdim=True)

    verdict = exercise(TOP_P).check(dividing_its_input)
    assert verdict.passed and "probs = probs.div(…)" in _suggestion(verdict.message), verdict.message


# --- 4-6. gpt_forward: the position table, a part of the blocks, causal_mask's import ---


def _gpt(*, table="token", blocks=lambda parts: parts.blocks, mask=None):
    def gpt_forward(parts, ids):
        length, d = ids.shape[1], parts.token.embedding_dim
        x = parts.token(ids) * math.sqrt(d) + parts.positions(torch.arange(length))
        sees = torch.ones(length, length, dtype=torch.bool).tril() if mask is None else mask(length)
        for block in blocks(parts):
            x = block(x, sees)
        return parts.norm(x) @ getattr(parts, table).weight.T

    return gpt_forward


def test_logits_over_the_position_table_are_named_so():
    verdict = exercise(GPT).check(_gpt(table="positions"))
    assert named(verdict, GPT, "scored with the position table"), verdict.message
    assert "parts.token.weight.T" in verdict.message


def test_a_model_of_another_vocabulary_keeps_its_name():
    def calls_another_model(parts, ids):
        return torch.zeros(*ids.shape, parts.token.num_embeddings + 5)  # as a model of 17 tokens

    assert named(exercise(GPT).check(calls_another_model), GPT, "a model other than the parts")


def test_the_blocks_loop_over_a_slice_is_told_so():
    verdict = exercise(GPT).check(_gpt(blocks=lambda parts: parts.blocks[:-1]))
    assert named(verdict, GPT, "only the first block"), verdict.message
    assert "parts.blocks[:-1]" in verdict.message and "return" in verdict.message


def test_a_return_inside_the_loop_is_still_named():
    def gpt_forward(parts, ids):
        length = ids.shape[1]
        x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(torch.arange(length))
        for block in parts.blocks:
            x = block(x, torch.ones(length, length, dtype=torch.bool).tril())
            return parts.norm(x) @ parts.token.weight.T  # one level too deep

    assert named(exercise(GPT).check(gpt_forward), GPT, "only the first block")


def test_every_causal_mask_hint_says_how_to_import_it():
    offered = [m for m in exercise(GPT).mistakes if "causal_mask(L)" in m.hint]
    assert offered
    for m in offered:
        statement = re.search(r"from transformer_course\.masks import causal_mask", m.hint)
        assert statement, m.name
        namespace = {}
        exec(statement.group(0), namespace)  # as the learner would, in a cell of its own
        assert torch.equal(namespace["causal_mask"](4), torch.ones(4, 4, dtype=torch.bool).tril())


def test_causal_mask_not_imported_is_named():
    chapter_cell = (  # the namespace of chapter 09: math and torch, no causal_mask
        "def gpt_forward(parts, ids):\n"
        "    L, d = ids.shape[1], parts.token.embedding_dim\n"
        "    x = parts.token(ids) * math.sqrt(d) + parts.positions(torch.arange(L))\n"
        "    for block in parts.blocks:\n"
        "        x = block(x, causal_mask(L))\n"
        "    return parts.norm(x) @ parts.token.weight.T\n"
    )
    namespace = {"math": math, "torch": torch}
    exec(chapter_cell, namespace)
    verdict = exercise(GPT).check(namespace["gpt_forward"])
    assert named(verdict, GPT, "causal_mask not imported"), verdict.message


def test_right_forward_passes_in_other_styles_pass():
    from transformer_course.masks import causal_mask  # as the hint says

    for fn in (_gpt(mask=causal_mask), _gpt(blocks=lambda parts: list(parts.blocks))):
        verdict = exercise(GPT).check(fn)
        assert verdict.passed, verdict.message
