"""The wrong answers learners write for ``nucleus``, as code: each Mistake's example.

Two other correct answers (a loop, an unsorted mask), then nuclei cut, sorted or renormalised the
wrong way, and one worked out in the caller's own tensor. ``by_hand`` stays in ``nucleus``: its
catalogue computes mistakes with it. ``nucleus`` imports this module; this module does not import
``nucleus``.
"""

from __future__ import annotations

import math

import torch

# --- Other correct answers ---


def a_loop(probs, top_p):
    """Row by row, token by token, as the definition reads."""
    out = torch.zeros_like(probs)
    for b, row in enumerate(probs):
        total = 0.0
        for i in row.argsort(descending=True).tolist():
            if total >= top_p:
                break
            out[b, i] = row[i]
            total += float(row[i])
    return out / out.sum(dim=-1, keepdim=True)


def unsorted_with_gather(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    cumulative = ranked.cumsum(dim=-1)
    before = torch.cat([torch.zeros_like(cumulative[:, :1]), cumulative[:, :-1]], dim=-1)
    keep = (before < top_p).float()
    keep_by_id = keep.gather(-1, order.argsort(dim=-1))  # the inverse permutation
    kept = probs * keep_by_id
    return kept / kept.sum(dim=-1, keepdim=True)


# --- The wrong answers, each a Mistake's example ---


def stops_before_the_crossing_token(probs, top_p):
    sorted_probs, idx = torch.sort(probs, descending=True)
    mask = torch.cumsum(sorted_probs, dim=-1) <= top_p  # "while the total is at most p"
    sorted_probs = sorted_probs * mask
    kept = torch.zeros_like(probs).scatter_(-1, idx, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def forgets_to_renormalise(probs, top_p):
    sorted_probs, idx = torch.sort(probs, descending=True)
    cum = torch.cumsum(sorted_probs, dim=-1)
    sorted_probs[cum - sorted_probs >= top_p] = 0.0
    return torch.zeros_like(probs).scatter_(-1, idx, sorted_probs)


def never_sorts(probs, top_p):
    cum = probs.cumsum(dim=-1)  # in vocabulary order
    kept = torch.where(cum - probs < top_p, probs, torch.zeros_like(probs))
    return kept / kept.sum(dim=-1, keepdim=True)


def sorts_ascending(probs, top_p):
    sorted_probs, idx = probs.sort(dim=-1)  # ascending by default
    cum = sorted_probs.cumsum(dim=-1)
    sorted_probs = sorted_probs.masked_fill(cum - sorted_probs >= top_p, 0)
    kept = torch.zeros_like(probs).scatter(-1, idx, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def keeps_ranked_order(probs, top_p):
    sorted_probs, _ = probs.sort(dim=-1, descending=True)
    cum = sorted_probs.cumsum(dim=-1)
    kept = sorted_probs.masked_fill(cum - sorted_probs >= top_p, 0)
    return kept / kept.sum(dim=-1, keepdim=True)  # still most likely first


def drops_only_above(probs, top_p):
    sorted_probs, idx = probs.sort(dim=-1, descending=True)
    cum = sorted_probs.cumsum(dim=-1)
    sorted_probs = sorted_probs.masked_fill(cum - sorted_probs > top_p, 0)  # > where >= is due
    kept = torch.zeros_like(probs).scatter(-1, idx, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def sums_down_the_batch(probs, top_p):
    sorted_probs, idx = probs.sort(dim=-1, descending=True)
    cum = sorted_probs.cumsum(dim=0)
    sorted_probs = sorted_probs.masked_fill(cum - sorted_probs >= top_p, 0)
    kept = torch.zeros_like(probs).scatter(-1, idx, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def discards_the_mask(probs, top_p):
    sorted_probs, idx = probs.sort(dim=-1, descending=True)
    cum = sorted_probs.cumsum(dim=-1)
    sorted_probs.masked_fill(cum - sorted_probs >= top_p, 0.0)  # returns a new tensor, unused
    kept = torch.zeros_like(probs).scatter(-1, idx, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def keeps_a_share_of_tokens(probs, top_p):
    k = math.ceil(top_p * probs.shape[-1])  # "top 90 %" of the vocabulary
    kth = probs.topk(k, dim=-1).values[:, -1:]
    kept = probs.masked_fill(probs < kth, 0)
    return kept / kept.sum(dim=-1, keepdim=True)


def keeps_the_first_but_not_the_crossing_token(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    remove = ranked.cumsum(dim=-1) > top_p
    remove[..., 0] = False  # "always keep at least one token"
    kept = torch.zeros_like(probs).scatter(-1, order, ranked.masked_fill(remove, 0.0))
    return kept / kept.sum(dim=-1, keepdim=True)


def masks_the_unsorted_probs(probs, top_p):
    sorted_probs, _ = torch.sort(probs, descending=True)
    keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p
    kept = torch.where(keep, probs, torch.zeros_like(probs))
    return kept / kept.sum(dim=-1, keepdim=True)


def softmaxes_the_probabilities(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    drop = ranked.cumsum(dim=-1) - ranked >= top_p
    dropped = torch.zeros_like(drop).scatter(-1, order, drop)
    return torch.softmax(probs.masked_fill(dropped, float("-inf")), dim=-1)


def gathers_back(probs, top_p):
    sorted_probs, idx = probs.sort(dim=-1, descending=True)
    sorted_probs = sorted_probs * (sorted_probs.cumsum(dim=-1) - sorted_probs < top_p)
    kept = sorted_probs.gather(-1, idx)  # "put them back at idx"
    return kept / kept.sum(dim=-1, keepdim=True)


def softmaxes_the_zeros(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    return torch.softmax(torch.zeros_like(probs).scatter(-1, order, ranked), dim=-1)  # "renormalise"


def sums_without_keepdim(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1)


def fills_with_minus_infinity(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, float("-inf"))  # as top-k
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


def argsorts_ascending(probs, top_p):
    ranked = probs.sort(dim=-1, descending=True).values
    ids = probs.argsort(dim=-1)  # ascending by default
    ranked = ranked * (ranked.cumsum(dim=-1) - ranked < top_p)
    kept = torch.zeros_like(probs).scatter(-1, ids, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


def scatters_along_the_batch(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    kept = torch.zeros_like(probs).scatter(0, order, ranked)  # dim=0: the rows
    return kept / kept.sum(dim=-1, keepdim=True)


def one_cut_for_the_batch(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    cum = ranked.cumsum(dim=-1)
    k = int((cum[0] - ranked[0] < top_p).sum())  # how many tokens the nucleus holds, on row 0
    ranked[:, k:] = 0  # … cut at the same place in every row
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


def renormalises_the_mask(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    keep = (ranked.cumsum(dim=-1) - ranked < top_p).float()
    keep = keep / keep.sum(dim=-1, keepdim=True)  # "renormalise", on the mask
    return torch.zeros_like(probs).scatter(-1, order, keep)


# --- The wrong answers met in the ninth audit (nucleus_more) ---


def renormalises_down_the_batch(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=0, keepdim=True)  # dim=0: down the rows


def returns_logits(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    drop = (ranked.cumsum(dim=-1) - ranked >= top_p).scatter(-1, order, ranked.cumsum(-1) - ranked >= top_p)
    return probs.log().masked_fill(drop, float("-inf"))  # "ready for the softmax"


def draws_a_token(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return torch.multinomial(kept / kept.sum(dim=-1, keepdim=True), 1)  # one step too far


# --- The wrong answers met in the forty-first round (nucleus_more) ---


def cuts_one_minus_top_p(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    above = ranked.cumsum(dim=-1) - ranked
    ranked = ranked.masked_fill(above >= 1 - top_p, 0.0)  # "cut the tail of 1 - p"
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


def keeps_the_tail(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    above = ranked.cumsum(dim=-1) - ranked
    ranked = ranked.masked_fill(above < top_p, 0.0)  # the mask of the tokens to KEEP, filled
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


# --- Round 42's battery: the examples of nucleus_slips ---


def compares_each_probability_with_top_p(probs, top_p):
    kept = probs * (probs >= top_p)  # "keep the tokens above p"
    return kept / kept.sum(dim=-1, keepdim=True)


def keeps_tokens_near_the_max(probs, top_p):
    biggest = probs.max(dim=-1, keepdim=True).values
    kept = probs.masked_fill(probs < top_p * biggest, 0.0)  # min-p, not top-p
    return kept / kept.sum(dim=-1, keepdim=True)


def returns_the_mask(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    keep = ranked.cumsum(dim=-1) - ranked < top_p
    return torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, keep)  # the mask, not probs


def keeps_one_token_too_many(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    cum = ranked.cumsum(dim=-1)
    crossing = torch.searchsorted(cum, torch.full_like(cum[:, :1], top_p))  # (B, 1)
    keep = torch.arange(probs.shape[-1]) <= crossing + 1  # one past the crossing token
    kept = torch.zeros_like(probs).scatter(-1, order, ranked * keep)
    return kept / kept.sum(dim=-1, keepdim=True)


def shifts_the_mask_onto_itself(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    remove = ranked.cumsum(dim=-1) > top_p
    remove[..., 1:] = remove[..., :-1]  # no .clone(): the two slices share memory
    remove[..., 0] = False
    kept = torch.zeros_like(probs).scatter(-1, order, ranked.masked_fill(remove, 0.0))
    return kept / kept.sum(dim=-1, keepdim=True)


NOTEBOOK_TOP_P = 0.9  # chapter 09's cells: keep_top_p(probs, 0.9), "T = 1, top-p 0.9"


def uses_the_notebooks_top_p(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= NOTEBOOK_TOP_P, 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


def scatters_the_probabilities_as_ids(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p, 0.0)
    kept = torch.zeros_like(probs).scatter(-1, ranked, order)  # index and values swapped
    return kept / kept.sum(dim=-1, keepdim=True)


def reads_top_p_as_a_percentage(probs, top_p):
    ranked, order = probs.sort(dim=-1, descending=True)
    ranked = ranked.masked_fill(ranked.cumsum(dim=-1) - ranked >= top_p / 100, 0.0)  # 90 → 0.9?
    kept = torch.zeros_like(probs).scatter(-1, order, ranked)
    return kept / kept.sum(dim=-1, keepdim=True)


# --- Round 43: another right answer, in a style not registered before ---
def shifted_removal_mask(probs, top_p):
    """Hugging Face's way: a removal mask in ranked order shifted right by one (the token that
    crosses top_p stays), scattered back to vocabulary order."""
    ranked, order = torch.sort(probs, dim=-1, descending=True)
    cum = ranked.cumsum(-1)
    drop = torch.zeros_like(cum, dtype=torch.bool)
    drop[:, 1:] = cum[:, :-1] >= top_p  # the tokens ranked above already hold top_p
    kept = probs.masked_fill(drop.scatter(-1, order, drop), 0.0)
    return kept / kept.sum(-1, keepdim=True)


# --- The wrong answers met in round 50's review (nucleus_round50) ---


def _ranked_nucleus(probs, top_p):
    ranked, order = probs.sort(-1, descending=True)
    return ranked.masked_fill(ranked.cumsum(-1) - ranked >= top_p, 0.0), order


def rows_indexed_without_an_axis(probs, top_p):
    ranked, order = _ranked_nucleus(probs, top_p)
    out = torch.zeros_like(probs)
    out[torch.arange(probs.shape[0]), order] = ranked  # (B,) against (B, V): no [:, None]
    return out / out.sum(-1, keepdim=True)


def every_rows_order_on_every_row(probs, top_p):
    ranked, order = _ranked_nucleus(probs, top_p)
    out = torch.zeros_like(probs)
    out[:, order] = ranked  # every row's order on every row: the last write wins
    return out / out.sum(-1, keepdim=True)


def first_rows_order_on_every_row(probs, top_p):
    ranked, order = _ranked_nucleus(probs, top_p)
    out = torch.zeros_like(probs)
    out[:, order[0]] = ranked  # row 0's order for every row
    return out / out.sum(-1, keepdim=True)


def keeps_a_share_of_the_tokens(probs, top_p):
    k = max(1, int(top_p * probs.shape[-1]))  # top-p read as "the top p of the vocabulary"
    values, ids = probs.topk(k, -1)
    out = torch.zeros_like(probs).scatter(-1, ids, values)
    return out / out.sum(-1, keepdim=True)


def first_rows_nucleus_for_all(probs, top_p):
    ranked, order = _ranked_nucleus(probs[0], top_p)
    out = torch.zeros_like(probs[0]).scatter(-1, order, ranked)
    return (out / out.sum()).expand_as(probs)
