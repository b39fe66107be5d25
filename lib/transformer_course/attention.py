"""Attention(Q, K, V) = softmax(QKᵀ / √d_k) V: one function, one head, many heads.

Mask convention, everywhere in this course: a boolean ``mask`` is True where a query
MAY attend to a key (as in ``F.scaled_dot_product_attention``). ``nn.MultiheadAttention``
uses the opposite (True = blocked); ``masks.to_blocked`` converts.

Every function returns the attention weights it computed, so figures show the real
numbers. Asking for no weights (``need_weights=False``) takes PyTorch's fused kernel,
which gives the same output without storing the (Lq, Lk) matrix (training narrow heads on
the CPU takes ``narrow_heads`` instead: twice as fast there, see that module). ``causal=True`` says
"query i sees keys 0 … i" without a mask tensor: the fused kernel then needs no (Lq, Lk)
mask to build or read, and can skip the keys after each block of queries.

``MultiHeadAttention.forward_cached`` is self-attention for new positions only, their
keys and values added to a ``kv_cache.KVCache``: how a GPT writes its next token.

Inputs are checked once, where they come in: each public function checks its arguments,
then calls a private twin (``_attention``, ``_attend``, …) that trusts them, as do the
layers that checked theirs. A generated token is little work in many layers: checking
the same tensors again in each of them took an eighth of its time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate, narrow_heads
from .kv_cache import KVCache, _check_room, _key_dtype


def attention_scores(q: torch.Tensor, k: torch.Tensor, *, scale: float | None = None) -> torch.Tensor:
    """q (..., Lq, d_k), k (..., Lk, d_k) → scores (..., Lq, Lk) = q kᵀ · scale.

    ``scale`` defaults to 1/√d_k. Scaling q before the product costs Lq·d_k
    multiplications instead of Lq·Lk, and gives the same scores.
    """
    _check_qk(q, k)
    return _scores(q, k, _check_scale(scale))


def _scores(q: torch.Tensor, k: torch.Tensor, scale: float | None) -> torch.Tensor:
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return (q * scale) @ k.transpose(-2, -1)  # (..., Lq, d_k) @ (..., d_k, Lk) → (..., Lq, Lk)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    need_weights: bool = True,
    dropout_p: float = 0.0,
    causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q kᵀ · scale) v, returning (output, weights).

    Shapes: q (..., Lq, d_k), k (..., Lk, d_k), v (..., Lk, d_v), mask bool broadcastable
    to (..., Lq, Lk) with True = may attend. Output (..., Lq, d_v); weights (..., Lq, Lk),
    each row summing to 1 (a row whose keys are all masked gets zeros, as in PyTorch),
    or None when ``need_weights=False`` (the fused path). ``causal=True`` lets query i
    see keys 0 … i only, as ``masks.causal_mask(L)`` would (with ``mask``: both apply).
    """
    _check_qk(q, k)
    _validate.tensor("v", v, floating=True)
    if v.dim() < 2 or v.shape[-2] != k.shape[-2]:
        raise ValueError(f"v must have as many rows as k (Lk = {k.shape[-2]}), got shape {tuple(v.shape)}")
    _validate.like("v", v, q, "q")
    _validate.broadcastable("v's batch dimensions", v.shape[:-2], "q's", q.shape[:-2])
    if mask is not None:
        scores = (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2])
        _check_mask(mask, scores, q.device)
    _validate.dropout(dropout_p, "dropout_p")
    _check_scale(scale)
    causal = _validate.boolean("causal", causal)
    _validate.boolean("need_weights", need_weights)
    return _attention(
        q, k, v, mask, scale=scale, need_weights=need_weights, dropout_p=dropout_p, causal=causal
    )


def _attention(q, k, v, mask, *, scale=None, need_weights=True, dropout_p=0.0, causal=False):
    """``scaled_dot_product_attention`` on inputs already checked."""
    if not need_weights and dropout_p == 0.0 and narrow_heads._suits(q, k, v):
        # Many narrow heads (a small GPT's): the same numbers, about twice as fast to train.
        scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
        return narrow_heads._attend(q, k, v, scale, mask, causal=causal), None
    if causal and (need_weights or mask is not None):
        # The explicit path (and PyTorch's kernel, given a mask) needs the causal mask as a tensor.
        tril = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
        mask, causal = (tril if mask is None else mask & tril), False
    if not need_weights:
        if mask is not None and mask.dim() < 2:  # a mask (Lk,) or (): PyTorch's kernel wants 2-D
            mask = mask.expand(q.shape[-2], k.shape[-2])
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale, is_causal=causal
        )
        return out, None
    _check_weights_fit(q, k)
    scores = _scores(q, k, scale)  # (..., Lq, Lk)
    # ``scores`` is a fresh (..., Lq, Lk) tensor nobody else holds, so the mask and (when no
    # gradient is wanted) the softmax can write into it: a second matrix of that size costs
    # more to allocate than the softmax itself (seen: 35 ms vs 10 ms at 8×8×512×512).
    empty = None
    if mask is not None:
        empty = _empty_rows(mask)
        if empty is not None:
            # softmax over a row of only -inf is NaN, and so is its gradient even once the row
            # is zeroed: such a row is let see every key, then zeroed, as PyTorch's kernel does.
            mask = mask | empty
        scores.add_(narrow_heads._mask_bias(mask, scores.dtype))  # exp(-inf) = 0: no weight at all
    if scores.requires_grad:
        weights = torch.softmax(scores, dim=-1)
    else:
        weights = torch.softmax(scores, dim=-1, out=scores)
    if empty is not None:
        weights = weights.masked_fill(empty, 0.0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights


class SingleHeadAttention(nn.Module):
    """One head: x (B, Lq, d_model), context (B, Lk, d_model) → (B, Lq, d_v), weights (B, Lq, Lk).

    Q = x W_Q, K = context W_K, V = context W_V: three learned views of the input.
    Without ``context`` it is self-attention (context = x).
    """

    def __init__(self, d_model: int, d_k: int | None = None, d_v: int | None = None, *, bias: bool = False):
        super().__init__()
        self.d_model = _validate.positive_int("d_model", d_model)
        # "is None", not "or": d_k=0 is a mistake to report, not a request for the default.
        self.d_k = _validate.positive_int("d_k", d_model if d_k is None else d_k)
        self.d_v = _validate.positive_int("d_v", self.d_k if d_v is None else d_v)
        _validate.boolean("bias", bias)
        # W_Q, W_K (d_model, d_k) and W_V (d_model, d_v), checked before nn.Linear allocates them.
        d_model = self.d_model
        _validate.fits_in_memory("d_model × (2·d_k + d_v)", d_model * (2 * self.d_k + self.d_v))
        self.w_q = nn.Linear(d_model, self.d_k, bias=bias)
        self.w_k = nn.Linear(d_model, self.d_k, bias=bias)
        self.w_v = nn.Linear(d_model, self.d_v, bias=bias)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        context = x if context is None else context
        _check_sequences(self.d_model, self.w_q.weight, x=x, context=context)
        q, k, v = self.w_q(x), self.w_k(context), self.w_v(context)
        return scaled_dot_product_attention(q, k, v, mask)


class MultiHeadAttention(nn.Module):
    """h heads side by side: (B, Lq, d_model) → (B, Lq, d_model), weights (B, h, Lq, Lk).

    Head i has its own projections of size d_head = d_model / h. They are stored stacked:
    rows i·d_head … (i+1)·d_head of ``q_proj.weight`` are head i's W_Q, so one matmul
    computes every head's queries. The heads' outputs are concatenated and mixed by W_O
    (``out_proj``). Same parameter count as one head of full width d_model.
    """

    def __init__(self, d_model: int, num_heads: int, *, bias: bool = True, dropout: float = 0.0):
        super().__init__()
        self.d_model = _validate.positive_int("d_model", d_model)
        self.num_heads = _validate.positive_int("num_heads", num_heads)
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        self.d_head = d_model // num_heads
        self.dropout = _validate.dropout(dropout)
        _validate.boolean("bias", bias)
        # Four (d_model, d_model) projections, checked before nn.Linear allocates them.
        d_model = self.d_model
        _validate.fits_in_memory("4 × d_model × d_model", 4 * d_model * d_model)
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, d_model) → (B, h, L, d_head): each head gets its own slice of the features."""
        _validate.tensor("x", x, ndim=3, floating=True)  # vectors (queries, keys …), not ids
        _validate.size("x", x, -1, self.d_model, "d_model")
        return self._split(x)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, length, _ = x.shape
        # (B, L, d_model) → (B, L, h, d_head) → (B, h, L, d_head)
        return x.view(b, length, self.num_heads, self.d_head).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, h, L, d_head) → (B, L, d_model): concatenate the heads' outputs."""
        _validate.tensor("x", x, ndim=4, floating=True)
        _validate.size("x", x, 1, self.num_heads, "num_heads")
        _validate.size("x", x, -1, self.d_head, "d_head = d_model / num_heads")
        return self._merge(x)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        b, _, length, _ = x.shape
        # (B, h, L, d_head) → (B, L, h, d_head) → (B, L, d_model)
        return x.transpose(1, 2).reshape(b, length, self.d_model)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        *,
        need_weights: bool = True,
        causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Self-attention when only ``query`` is given; cross-attention with ``key`` (= value).

        mask: bool, True = may attend, shaped (Lq, Lk), (B, Lq, Lk) or (B, 1|h, 1|Lq, Lk).
        causal: query i sees keys 0 … i only (with ``mask``, both apply).
        """
        key = query if key is None else key
        value = key if value is None else value
        _check_sequences(self.d_model, self.q_proj.weight, query=query, key=key, value=value)
        mask = self._mask_for_scores(mask, query, key)
        _validate.boolean("causal", causal)
        _validate.boolean("need_weights", need_weights)
        return self._attend(query, key, value, mask, need_weights=need_weights, causal=causal)

    def _mask_for_scores(self, mask, query, key, name="mask"):
        """Checks ``mask`` (called ``name`` in the message) against the scores (B, h, Lq, Lk)
        of query and key."""
        if mask is None:
            return None
        if _validate.bool_mask(name, mask).dim() == 3:
            mask = mask.unsqueeze(1)  # (B, Lq, Lk) → (B, 1, Lq, Lk): same mask for every head
        shape = (query.shape[0], self.num_heads, query.shape[1], key.shape[1])
        _check_mask(mask, shape, query.device, name)
        return mask

    def _attend(self, query, key, value, mask=None, *, need_weights=True, causal=False):
        """``forward`` on inputs already checked (a mask from ``_mask_for_scores``)."""
        q, k, v = self._project(query, key, value)  # each (B, h, L, d_head)
        p = self.dropout if self.training else 0.0
        out, weights = _attention(q, k, v, mask, need_weights=need_weights, dropout_p=p, causal=causal)
        return self.out_proj(self._merge(out)), weights  # (B, Lq, d_model)

    def forward_cached(
        self,
        x: torch.Tensor,
        cache: KVCache,
        layer: int,
        mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Self-attention of the new positions x (B, T, d_model) over all positions so far.

        Only the new positions are projected: their keys and values join the t that layer
        ``layer`` of ``cache`` holds, and their queries attend over all t + T. Returns
        (B, T, d_model) and weights (B, h, T, t + T), or None without ``need_weights``.
        ``mask`` (True = may attend) broadcastable to (B, h, T, t + T); one new token (T = 1)
        needs none, as every cached position is in its past.
        """
        _check_sequences(self.d_model, self.q_proj.weight, x=x)
        self._check_cached(x, cache, layer, mask)
        _validate.boolean("need_weights", need_weights)
        return self._attend_cached(x, cache, layer, mask, need_weights=need_weights)

    def _check_cached(self, x, cache, layer, mask):
        """The arguments of ``forward_cached`` besides x: a KVCache, one of its layers, and a
        mask broadcastable to (B, h, T, t + T), checked before anything joins the cache."""
        if not isinstance(cache, KVCache):
            raise ValueError(f"cache must be a KVCache (model.new_cache()), got {type(cache).__name__}")
        _validate.integer("layer", layer, low=0, high=cache.num_layers)
        past = cache.keys[layer]  # (B, h, t, d_head), or None while empty
        t = 0 if past is None else past.shape[2]
        if past is not None:
            want = (x.shape[0], self.num_heads, t, self.d_head)
            if past.shape != want:
                raise ValueError(f"cache must hold keys {want} in layer {layer}, got {tuple(past.shape)}")
            _validate.same_device("x", x, past.device, "the cache's keys")
            # x's keys join the cached ones: the same dtype (under autocast, autocast's for both).
            if past.dtype != _key_dtype(x):
                raise ValueError(
                    f"x makes keys of dtype {_key_dtype(x)}, but the cache holds {past.dtype} in layer "
                    f"{layer}: continue a cache in the dtype (and autocast) it was filled in"
                )
        _check_room("x", t, x.shape[1], cache.max_len)
        if mask is not None:
            _check_mask(mask, (x.shape[0], self.num_heads, x.shape[1], t + x.shape[1]), x.device)

    def _attend_cached(self, x, cache, layer, mask=None, *, need_weights=False):
        """``forward_cached`` on inputs already checked (``_check_cached``)."""
        q, k, v = self._project(x, x, x)  # each (B, h, T, d_head)
        k, v = cache._append(layer, k, v)  # (B, h, t + T, d_head): the cached positions, then the new
        p = self.dropout if self.training else 0.0
        out, weights = _attention(q, k, v, mask, need_weights=need_weights, dropout_p=p)
        return self.out_proj(self._merge(out)), weights  # (B, T, d_model)

    def _project(self, query, key, value):
        """query (B, Lq, d_model), key and value (B, Lk, d_model) → q (B, h, Lq, d_head),
        k and v (B, h, Lk, d_head)."""
        if query is key and key is value:
            # Self-attention: one matmul for Q, K and V together is faster than three.
            w = torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight])  # (3·d, d)
            b = (
                None
                if self.q_proj.bias is None
                else torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias])
            )
            q, k, v = F.linear(query, w, b).chunk(3, dim=-1)  # (B, L, 3·d_model) → 3 × (B, L, d_model)
        else:
            q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        return self._split(q), self._split(k), self._split(v)

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention, name: str = "mha") -> MultiHeadAttention:
        """Copy the weights of an ``nn.MultiheadAttention`` of the same size into this module.

        ``name``: what the messages call ``mha`` (a layer loading its attention passes its own,
        e.g. "layer.self_attn")."""
        _validate.text("name", name)
        if not isinstance(mha, nn.MultiheadAttention):
            raise ValueError(f"{name} must be an nn.MultiheadAttention, got {type(mha).__name__}")
        if any(p.is_meta for p in mha.parameters()):
            raise ValueError(f"{name} must hold weights to copy, got a module on the meta device")
        if (mha.embed_dim, mha.num_heads) != (self.d_model, self.num_heads):
            raise ValueError(
                f"{name} must have embed_dim={self.d_model}, num_heads={self.num_heads}; "
                f"got {mha.embed_dim}, {mha.num_heads}"
            )
        if mha.in_proj_weight is None or mha.bias_k is not None:
            raise ValueError(
                f"{name} must project queries, keys and values of size embed_dim with one in_proj_weight "
                "(no kdim, vdim or add_bias_kv): this module has no place for the rest"
            )
        if mha.add_zero_attn:  # a key and value of zeros added to every sequence: not computed here
            raise ValueError(
                f"{name} must have add_zero_attn=False: this module attends to the keys it is given only"
            )
        if (mha.in_proj_bias is None) != (self.q_proj.bias is None):
            raise ValueError(
                f"{name} must have bias={self.q_proj.bias is not None}, as this module has; "
                f"got bias={mha.in_proj_bias is not None}"
            )
        for proj, w in zip((self.q_proj, self.k_proj, self.v_proj), mha.in_proj_weight.chunk(3)):
            proj.weight.copy_(w)
        if self.q_proj.bias is not None and mha.in_proj_bias is not None:
            for proj, b in zip((self.q_proj, self.k_proj, self.v_proj), mha.in_proj_bias.chunk(3)):
                proj.bias.copy_(b)
        self.out_proj.load_state_dict(mha.out_proj.state_dict())
        return self


def _check_weights_fit(q: torch.Tensor, k: torch.Tensor) -> None:
    """The weights (..., Lq, Lk) of q (..., Lq, d_k) and k (..., Lk, d_k) fit in memory: a long
    sequence's are refused by name, not half allocated (torch's "can't allocate memory")."""
    lead = [max(a, b) for a, b in zip(reversed(q.shape[:-2]), reversed(k.shape[:-2]))]
    longer = q.shape[:-2] if q.dim() > k.dim() else k.shape[:-2]
    numel = math.prod(lead) * math.prod(longer[: len(longer) - len(lead)]) * q.shape[-2] * k.shape[-2]
    what = "Lq × Lk (the queries' and keys' lengths: the attention weights are (..., Lq, Lk))"
    _validate.fits_in_memory(what, numel, bytes_each=q.element_size())


def _empty_rows(mask: torch.Tensor) -> torch.Tensor | None:
    """(..., Lq, 1): True where a query may attend to no key (PyTorch's kernel gives it zero
    weights); None when every query has a key, the usual case."""
    empty = ~mask.any(dim=-1, keepdim=True)
    return empty if empty.any() else None


def _check_qk(q: torch.Tensor, k: torch.Tensor) -> None:
    _validate.tensor("q", q, floating=True)
    _validate.tensor("k", k, floating=True)
    if q.dim() < 2 or k.dim() < 2:
        raise ValueError(
            f"q and k must be at least 2-D (..., L, d_k), got {tuple(q.shape)} and {tuple(k.shape)}"
        )
    if q.shape[-1] == 0:
        raise ValueError(f"q must have a last dimension d_k >= 1, got shape {tuple(q.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"k must have the same last dimension as q (d_k = {q.shape[-1]}), got shape {tuple(k.shape)}"
        )
    _validate.like("k", k, q, "q")
    # The dimensions before (L, d_k) are batch and heads: k's must match q's (or be 1).
    _validate.broadcastable("k's batch dimensions", k.shape[:-2], "q's", q.shape[:-2])


def _check_scale(scale: float | None) -> float | None:
    if scale is not None:
        _validate.finite_number("scale", scale, above=0, note=" (None: 1/√d_k)")
    return scale


def _check_mask(
    mask: torch.Tensor, scores_shape: tuple[int, ...], device: torch.device, name: str = "mask"
) -> None:
    _validate.bool_mask(name, mask)
    _validate.same_device(name, mask, device, "q")
    # The mask must broadcast *to* the scores (each of its dimensions 1 or the scores'): one
    # that would widen them fails inside the masking ("output with shape … doesn't match the
    # broadcast shape").
    fits = all(m == s or m == 1 for m, s in zip(reversed(mask.shape), reversed(scores_shape)))
    if mask.dim() > len(scores_shape) or not fits:
        raise ValueError(
            f"{name} of shape {tuple(mask.shape)} does not broadcast to the "
            f"scores' shape {tuple(scores_shape)} (..., Lq, Lk)"
        )


def _check_sequences(d_model: int, weight: torch.Tensor, **inputs: torch.Tensor) -> None:
    """(B, L, d_model) inputs with the first one's batch size, on the device and in the dtype of
    ``weight``; a ``value`` has as many positions as its ``key``."""
    first, batch = next(iter(inputs.items()))
    seen: list[torch.Tensor] = []
    for name, x in inputs.items():
        if any(x is s for s in seen):
            continue  # self-attention passes one tensor as query, key and value: check it once
        seen.append(x)
        _validate.tensor(name, x, ndim=3, floating=True)
        _validate.size(name, x, -1, d_model, "d_model")
        _validate.size(name, x, 0, batch.shape[0], f"the batch size of {first}")
        _validate.like_weights(name, x, weight)
    if "value" in inputs:
        _validate.size("value", inputs["value"], 1, inputs["key"].shape[1], "as many positions as key")
