"""An eighth audit of the checkers, chapter 09: the cached attention step, the nucleus of top-p
and the GPT's forward pass, each fed the answers a reviewer wrote as a learner.

Each wrong answer is written here the way a learner writes it, apart from the catalogue's own
``example``. Where the checker answered with "differs at index …", a bare shape, a hint that
points the wrong way, or a pass (an answer that overwrote its input), it now names the
mistake. Right answers written another way must still pass.
"""

import math

import torch
from transformer_course.checks import PASSED, WRONG, exercise
from transformer_course.checks import nucleus as nucleus_check
from transformer_course.masks import causal_mask


def says(result, *words):
    """The check failed (never passed, never crashed) and its message holds every phrase."""
    assert result.status == WRONG, result
    for word in words:
        assert word in result.message, result.message


def passes(name, fn):
    result = exercise(name).check(fn)
    assert result.status == PASSED, result.message


def _grown(past, new):
    return new if past is None else torch.cat([past, new], dim=2)


# --- 19 the cached step: a softmax over the single query's axis, laid out either way ---


def _step_keys_first(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    s = keys @ q.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, h, t + 1, 1)
    w = s.softmax(dim=-1)  # the last axis, as always… but here it is the query's
    return w.transpose(-1, -2) @ values, keys, values


def _step_softmax_down(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
    w = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2)
    return w @ values, keys, values


def test_a_softmax_over_the_query_axis_is_named_for_both_layouts():
    for fn in (_step_keys_first, _step_softmax_down):
        result = exercise("cached_attention_step").check(fn)
        says(result, "Every weight came out 1", "axis of size 1", "dim=-1 of q @ keys.transpose(-2, -1)")
        assert "dim=-2 makes" not in result.message, result.message


def test_the_keys_first_layout_done_right_passes():
    def keys_first(q, k_new, v_new, past_k, past_v):
        keys, values = _grown(past_k, k_new), _grown(past_v, v_new)
        s = keys @ q.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, h, t + 1, 1)
        return s.softmax(dim=-2).transpose(-1, -2) @ values, keys, values  # over the keys

    passes("cached_attention_step", keys_first)


# --- 20 top-p: one cut for the whole batch, and the mask renormalised ---


def _top_p_one_cut(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    cum = ranked.cumsum(dim=-1)
    k = int((cum[0] - ranked[0] < top_p).sum())  # counted on the first row
    ranked[:, k:] = 0
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


def _top_p_mask_renormalised(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    keep = (ranked.cumsum(dim=-1) - ranked < top_p).float()
    keep = keep / keep.sum(dim=-1, keepdim=True)  # "renormalise"
    return torch.zeros_like(probs).scatter(-1, order, keep)


def test_one_cut_for_the_whole_batch_is_named():
    says(exercise("keep_top_p").check(_top_p_one_cut), "Row 0 is right", "each row has its own nucleus")


def test_the_checker_has_rows_whose_nuclei_differ_in_size():
    """Else one cut for the batch would be right on every input, and pass."""
    sizes = [set((nucleus_check.reference(p, t) > 0).sum(dim=-1).tolist()) for p, t in nucleus_check._cases()]
    assert any(len(s) > 1 for s in sizes), sizes


def test_the_mask_renormalised_is_named():
    says(
        exercise("keep_top_p").check(_top_p_mask_renormalised),
        "same probability",
        "you renormalised the mask",
    )


def test_an_ascending_sort_then_flipped_passes():
    def flipped(probs, top_p):
        ranked, order = probs.sort(dim=-1)  # least likely first…
        ranked, order = ranked.flip(-1), order.flip(-1)  # … then turned round
        ranked = ranked * (ranked.cumsum(dim=-1) - ranked < top_p)
        kept = torch.zeros_like(probs).scatter(-1, order, ranked)
        return kept / kept.sum(dim=-1, keepdim=True)

    passes("keep_top_p", flipped)


# --- 21 top-p: a right answer worked in the caller's tensor still passes (the audit's contract) ---


def _top_p_in_place(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    probs.zero_().scatter_(-1, order, ranked)
    probs /= probs.sum(dim=-1, keepdim=True)
    return probs


def _top_p_zeroes_the_input(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    drop = ranked.cumsum(dim=-1) - ranked >= top_p  # in ranked order
    probs[drop.scatter(-1, order, drop)] = 0.0  # the caller's tensor, in vocabulary order
    return probs / probs.sum(dim=-1, keepdim=True)


def test_a_right_nucleus_worked_in_the_callers_tensor_passes():
    # Right values are right: tests/test_checks_audit.py's in-place answer passes too (the
    # harness hands every call a copy, so the learner's own tensor is never spoiled there).
    for fn in (_top_p_in_place, _top_p_zeroes_the_input):
        passes("keep_top_p", fn)


def test_working_in_place_on_a_copy_passes():
    def on_a_copy(probs, top_p):
        probs = probs.clone()  # the caller's tensor stays as it was
        ranked, order = probs.sort(dim=-1, descending=True)
        ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
        probs.zero_().scatter_(-1, order, ranked)
        probs /= probs.sum(dim=-1, keepdim=True)
        return probs

    passes("keep_top_p", on_a_copy)


# --- 22 the GPT's forward pass: the last position dropped, the output layer scaled ---


def _gpt(parts, ids, *, output_scale=1.0):
    length, d = ids.shape[1], parts.token.embedding_dim
    x = parts.token(ids) * math.sqrt(d) + parts.positions(torch.arange(length))
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.norm(x) @ (parts.token.weight * output_scale).T


def _gpt_drops_the_last_input(parts, ids):
    return _gpt(parts, ids[:, :-1])  # "the inputs are ids[:, :-1]"


def _gpt_drops_the_last_logits(parts, ids):
    return _gpt(parts, ids)[:, :-1]  # "the last position has no target"


def _gpt_scales_the_output(parts, ids):
    return _gpt(parts, ids, output_scale=math.sqrt(parts.token.embedding_dim))  # "tied: scale it too"


def test_dropping_the_last_position_is_named():
    for fn in (_gpt_drops_the_last_input, _gpt_drops_the_last_logits):
        says(exercise("gpt_forward").check(fn), "one position fewer than ids", "belongs to the loss")


def test_an_output_layer_scaled_by_root_d_model_is_named():
    says(exercise("gpt_forward").check(_gpt_scales_the_output), "√d_model times too large", "as it is")


def test_a_gpt_story_by_story_and_with_einsum_passes():
    def story_by_story(parts, ids):
        rows = []
        for story in ids:
            rows.append(_gpt(parts, story.unsqueeze(0))[0])
        return torch.stack(rows)

    def with_einsum(parts, ids):
        length = ids.shape[1]
        x = parts.token(ids) * parts.token.embedding_dim**0.5 + parts.positions.weight[:length]
        for block in parts.blocks:
            x = block(x, causal_mask(length))
        return torch.einsum("bld,vd->blv", parts.norm(x), parts.token.weight)

    passes("gpt_forward", story_by_story)
    passes("gpt_forward", with_einsum)
