"""The wrong answers learners write for ``cached_step``, as code: each Mistake's example.

A cached step with one switch per mistake (``by_hand``), lib's KVCache, einsum and a loop over
the heads as correct answers, then the cache built, tested or returned the wrong way. Apart from
``cached_step`` (the exercise and its checker), which imports it; it does not import that module.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..kv_cache import KVCache


def by_hand(
    q,
    k_new,
    v_new,
    past_k,
    past_v,
    *,
    scale="root",
    dim=-1,
    mask=False,
    stored=None,
    order="after",
    axis=2,
    returns="new cache",
):
    """A learner's cached step with one switch per catalogued mistake (all off: correct)."""
    given_k, given_v = past_k, past_v
    if past_k is None:  # an empty cache: zero positions so far
        past_k, past_v = k_new[:, :, :0], v_new[:, :, :0]
    key_in = q if stored == "q as key" else k_new
    value_in = k_new if stored == "k as value" else v_new
    pair_k, pair_v = (past_k, key_in), (past_v, value_in)
    if order == "before":
        pair_k, pair_v = pair_k[::-1], pair_v[::-1]
    keys, values = torch.cat(pair_k, dim=axis), torch.cat(pair_v, dim=axis)
    scores = q @ keys.transpose(-2, -1)
    if scale == "root":
        scores = scores / math.sqrt(q.shape[-1])
    elif scale == "times":
        scores = scores * math.sqrt(q.shape[-1])
    elif scale == "d_model":  # the paper's √d_k read as the model's width, h · d_head
        scores = scores / math.sqrt(q.shape[1] * q.shape[-1])
    elif scale == "d":  # the root forgotten
        scores = scores / q.shape[-1]
    elif scale == "keys":  # √ of the number of keys, keys.shape[2]
        scores = scores / math.sqrt(keys.shape[2])
    if mask:  # the causal mask from training, built for one row: it hides all but the first key
        hidden = torch.triu(torch.ones(scores.shape[-2], scores.shape[-1], dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(hidden, float("-inf"))
    weights = torch.softmax(scores, dim=dim)
    if returns == "old cache" and given_k is not None:  # attended right, but kept the cache as it was
        return weights @ values, given_k, given_v
    return weights @ values, keys, values


# --- Other correct answers ---


def with_kv_cache(q, k_new, v_new, past_k, past_v):
    """lib's KVCache keeps the keys and values; PyTorch's fused kernel attends."""
    cache = KVCache(num_layers=1, max_len=64)
    if past_k is not None:
        cache.append(0, past_k, past_v)
    keys, values = cache.append(0, k_new, v_new)
    return F.scaled_dot_product_attention(q, keys, values), keys.clone(), values.clone()


def with_einsum(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat((past_k, k_new), dim=-2)
    values = v_new if past_v is None else torch.cat((past_v, v_new), dim=-2)
    weights = torch.einsum("bhqd,bhkd->bhqk", q / q.shape[-1] ** 0.5, keys).softmax(dim=-1)
    return torch.einsum("bhqk,bhkd->bhqd", weights, values), keys, values


def head_by_head(q, k_new, v_new, past_k, past_v):
    B, h = q.shape[:2]
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    out = torch.empty_like(q)
    for b in range(B):
        for j in range(h):
            w = torch.softmax(keys[b, j] @ q[b, j, 0] / math.sqrt(q.shape[-1]), dim=0)  # (t + 1,)
            out[b, j, 0] = w @ values[b, j]
    return out, keys, values


# --- The wrong answers, each a Mistake's example ---


def hides_its_own_key(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, h, 1, t + 1)
    if past_k is not None:
        scores[..., -1] = float("-inf")  # "a token should not look at itself"
    return torch.softmax(scores, dim=-1) @ values, keys, values


def always_concatenates(q, k_new, v_new, past_k, past_v):
    keys, values = torch.cat([past_k, k_new], dim=2), torch.cat([past_v, v_new], dim=2)
    w = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ values, keys, values


def untransposed(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    w = torch.softmax(q @ keys / math.sqrt(q.shape[-1]), dim=-1)
    return w @ values, keys, values


def returns_the_weights(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights, keys, values  # the product with the values forgotten


def returns_the_update(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    out = F.scaled_dot_product_attention(q, keys, values)
    return out, k_new, v_new  # "what to add to the cache"


def stacks(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.stack([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.stack([past_v, v_new], dim=2)
    w = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ values, keys, values


def tests_the_cache_as_a_bool(q, k_new, v_new, past_k, past_v):
    if not past_k:  # "no cache yet"
        keys, values = k_new, v_new
    else:
        keys, values = torch.cat([past_k, k_new], dim=2), torch.cat([past_v, v_new], dim=2)
    w = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ values, keys, values


def with_dropout(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    return F.scaled_dot_product_attention(q, keys, values, dropout_p=0.1), keys, values  # training's p


def softmax_without_dim(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    weights = F.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=1)  # as F.softmax(x)
    return weights @ values, keys, values


def scales_by_the_heads(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    d_k = q.size(1)  # (B, h, 1, d_head): the heads, not d_head
    return torch.softmax(q @ keys.mT / math.sqrt(d_k), dim=-1) @ values, keys, values


def mixes_the_keys(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ keys, keys, values  # keys where the values belong


def starts_with_zeros(q, k_new, v_new, past_k, past_v):
    if past_k is None:  # "an empty cache"
        past_k, past_v = torch.zeros_like(k_new), torch.zeros_like(v_new)
    keys, values = torch.cat([past_k, k_new], dim=2), torch.cat([past_v, v_new], dim=2)
    return F.scaled_dot_product_attention(q, keys, values), keys, values


# --- The wrong answers met in the ninth audit (cached_step_more) ---


def softmax_down_the_batch(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=0) @ values, keys, values  # dim=0: the batch


def forgets_the_softmax(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores @ values, keys, values  # the scores used as weights


def adds_to_the_cache(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else past_k + k_new  # "add the new key to the cache"
    values = v_new if past_v is None else past_v + v_new
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ values, keys, values


def cats_without_a_list(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        keys, values = k_new, v_new
    else:
        keys, values = torch.cat(past_k, k_new, dim=2), torch.cat(past_v, v_new, dim=2)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ values, keys, values


def appends_to_a_tensor(q, k_new, v_new, past_k, past_v):
    if past_k is None:
        past_k, past_v = [], []
    past_k.append(k_new)  # as with a list of tokens
    past_v.append(v_new)
    keys, values = torch.cat(past_k, dim=2), torch.cat(past_v, dim=2)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ values, keys, values


# --- The wrong answers met in the forty-first round (cached_step_more) ---


def scales_after_the_softmax(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    weights = torch.softmax(q @ keys.transpose(-2, -1), dim=-1) / math.sqrt(q.shape[-1])  # too late
    return weights @ values, keys, values


def log_softmax_weights(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    weights = F.log_softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)  # "stabler"
    return weights @ values, keys, values


def returns_the_cache_first(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    return keys, values, F.scaled_dot_product_attention(q, keys, values)  # "the cache, then out"


def merges_the_heads(q, k_new, v_new, past_k, past_v):
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    out = F.scaled_dot_product_attention(q, keys, values)  # (B, h, 1, d_head)
    batch = out.shape[0]
    return out.transpose(1, 2).reshape(batch, 1, -1), keys, values  # as a whole layer would


# --- Round 43: another right answer, in a style not registered before ---
def one_query_as_a_sum(q, k_new, v_new, past_k, past_v):
    """One query: its scores as (q * keys).sum(-1), the output as a weighted sum of the values."""
    keys = k_new if past_k is None else torch.cat([past_k, k_new], dim=2)
    values = v_new if past_v is None else torch.cat([past_v, v_new], dim=2)
    scores = (q * keys).sum(-1) / math.sqrt(q.shape[-1])  # (B, h, t + 1)
    weights = scores.softmax(-1).unsqueeze(-1)  # (B, h, t + 1, 1)
    return (weights * values).sum(dim=2, keepdim=True), keys, values


# --- The wrong answers met in round 50's review (cached_step_round50) ---


def _grown(k_new, v_new, past_k, past_v):
    if past_k is None:
        return k_new, v_new
    return torch.cat([past_k, k_new], dim=2), torch.cat([past_v, v_new], dim=2)


def masks_with_trainings_mask(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(k_new, v_new, past_k, past_v)
    T = keys.shape[2]
    s = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])
    s = s.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf"))  # chapter 06's (T, T) mask
    return F.softmax(s, dim=-1) @ values, keys, values


def gives_sdpa_trainings_mask(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(k_new, v_new, past_k, past_v)
    T = keys.shape[2]
    mask = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T) against one query's (1, T) scores
    return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask), keys, values


def swaps_keys_and_values(q, k_new, v_new, past_k, past_v):
    keys, values = _grown(k_new, v_new, past_k, past_v)
    return F.scaled_dot_product_attention(q, values, keys), keys, values  # meant (q, keys, values)
