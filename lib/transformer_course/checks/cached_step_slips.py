"""More of ``cached_step``'s catalogue: the slips met in the round-43a battery (a cache kept at
its size by dropping its oldest position, the values grown from the past keys, the new position
appended twice), each with what it computes, its hint and a learner-style example."""

from __future__ import annotations

import math

import torch

from .cached_step_reference import grown
from .describe import same
from .harness import Mistake


def _attended(q, keys, values):
    """softmax(q Kᵀ / √d_head) V and the cache: (B, h, 1, d_head), keys, values."""
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ values, keys, values


def _oldest_dropped(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        return _attended(q, k_new, v_new)
    return _attended(q, grown(past_k[:, :, 1:], k_new), grown(past_v[:, :, 1:], v_new))


def _values_from_the_keys(q, k_new, v_new, past_k, past_v):
    return _attended(q, grown(past_k, k_new), grown(past_k, v_new))


def _appended_twice(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    if past_k is None:  # a first step alone that doubles its token is another slip, not named
        return _attended(q, keys, values)  # here (tests/test_checks_audit.py): the right step
    return _attended(q, grown(keys, k_new), grown(values, v_new))


def _learner_keeps_the_size(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        keys, values = k_new, v_new
    else:  # "a fixed-size cache: drop the oldest, add the newest"
        keys = torch.cat((past_k, k_new), dim=-2)[:, :, 1:]
        values = torch.cat((past_v, v_new), dim=-2)[:, :, 1:]
    out = torch.softmax(q @ keys.mT * q.shape[-1] ** -0.5, dim=-1) @ values
    return out, keys, values


def _learner_copies_the_keys_line(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_k is None else torch.cat([past_k, v_new], dim=2)  # past_v meant
    out = torch.softmax(q @ keys.mT / math.sqrt(q.shape[-1]), dim=-1) @ values
    return out, keys, values


def _learner_appends_twice(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    keys, values = torch.cat([keys, k_new], dim=2), torch.cat([values, v_new], dim=2)  # again
    out = torch.softmax(q @ keys.mT / math.sqrt(q.shape[-1]), dim=-1) @ values
    return out, keys, values


_RIGHT = "keys = torch.cat([past_k, k_new], dim=2), values = torch.cat([past_v, v_new], dim=2)"

SLIPS = (
    Mistake(
        name="oldest position dropped",
        hint="Your cache drops its oldest position to stay the same size: the first token's key "
        "and value are lost, and the new token no longer attends to it. The cache grows by one "
        f"position each step, t → t + 1: {_RIGHT}.",
        compute=_oldest_dropped,
        example=_learner_keeps_the_size,
    ),
    Mistake(
        name="past keys cached as values",
        hint="Your values are grown from the past KEYS (past_k where past_v belongs, a line copied "
        f"from the keys'): the weights then gather keys for the old positions. {_RIGHT}.",
        compute=_values_from_the_keys,
        example=_learner_copies_the_keys_line,
    ),
    Mistake(
        name="the new key appended twice",
        hint="Your cache holds the new position twice (t + 2 positions): it was appended, then "
        "appended again. Append k_new and v_new once, at the end: "
        f"{_RIGHT}.",
        compute=_appended_twice,
        example=_learner_appends_twice,
    ),
)


def _heads_and_query_swapped(fn, case, got) -> bool:
    """The right out as (B, 1, h, d_head), the heads' axis swapped with the query's, as a layer
    lays it out just before merging the heads; the cache right."""
    if not isinstance(got, tuple | list) or len(got) != 3 or not isinstance(got[0], torch.Tensor):
        return False
    out, keys, values = _right(*case)
    return same(got[0], out.transpose(1, 2), 1e-5) and same(tuple(got[1:]), (keys, values), 1e-5)


def _right(q, k_new, v_new, past_k, past_v):
    return _attended(q, grown(past_k, k_new), grown(past_v, v_new))


def _learner_lays_out_for_the_merge(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    out = torch.softmax(q @ keys.mT / math.sqrt(q.shape[-1]), dim=-1) @ values
    return out.permute(0, 2, 1, 3), keys, values  # "(B, 1, h, d_head), ready for the merge"


SLIPS += (
    Mistake(
        name="heads and query swapped",
        hint="Your out is (B, 1, h, d_head): its heads' and query's axes were swapped (a "
        ".transpose(1, 2), as before merging the heads). The step returns it as the heads "
        "computed it, (B, h, 1, d_head): weights @ values, with no transpose.",
        compute=None,
        recognise=_heads_and_query_swapped,
        example=_learner_lays_out_for_the_merge,
    ),
)


def _last_overwritten(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        return _right(q, k_new, v_new, past_k, past_v)
    keys = torch.cat([past_k[:, :, :-1], k_new], dim=2)  # position t - 1 replaced
    values = torch.cat([past_v[:, :, :-1], v_new], dim=2)
    return _attended(q, keys, values)


def _learner_overwrites_the_last(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        keys, values = k_new, v_new
    else:
        keys, values = past_k.clone(), past_v.clone()
        keys[:, :, -1] = k_new[:, :, 0]  # "write the new token at the end"
        values[:, :, -1] = v_new[:, :, 0]
    out = torch.softmax(q @ keys.mT / math.sqrt(q.shape[-1]), dim=-1) @ values
    return out, keys, values


SLIPS += (
    Mistake(
        name="last position overwritten",
        hint="You wrote the new key and value over the cache's LAST position: the cache keeps t "
        "positions and loses token t - 1. Append a new position instead, t → t + 1: "
        f"{_RIGHT}.",
        compute=_last_overwritten,
        example=_learner_overwrites_the_last,
    ),
)


def _learner_queries_with_the_key(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    scores = k_new @ keys.transpose(-2, -1) / math.sqrt(k_new.shape[-1])  # k_new for q
    return torch.softmax(scores, dim=-1) @ values, keys, values


SLIPS += (
    Mistake(
        name="new key used as the query",
        hint="Your scores compare the NEW KEY with the cached keys (k_new @ keys.T): the new "
        "token asks its question with its query, q @ keys.transpose(-2, -1) / √d_head.",
        compute=lambda q, k_new, v_new, past_k, past_v: _right(k_new, k_new, v_new, past_k, past_v),
        example=_learner_queries_with_the_key,
    ),
)
