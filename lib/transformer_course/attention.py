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
from torch.autograd import forward_ad

from . import _validate, narrow_heads
from . import attention_inputs as inputs
from .kv_cache import KVCache, _check_room, _key_dtype


def attention_scores(q: torch.Tensor, k: torch.Tensor, *, scale: float | None = None) -> torch.Tensor:
    """q (..., Lq, d_k), k (..., Lk, d_k) → scores (..., Lq, Lk) = q kᵀ · scale.

    ``scale`` defaults to 1/√d_k. Scaling q before the product costs Lq·d_k
    multiplications instead of Lq·Lk, and gives the same scores.
    """
    inputs.check_qk(q, k)
    return _scores(q, k, inputs.check_scale(scale))


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
    The mask's last two dimensions are (Lq, Lk): a (B, Lk) padding mask is given as
    ``keep[:, None, :]`` for q (B, Lq, d_k), ``keep[:, None, None, :]`` for q (B, h, Lq, d_k).
    """
    inputs.check_qk(q, k)
    _validate.tensor("v", v, floating=True)
    if v.dim() < 2 or v.shape[-2] != k.shape[-2]:
        raise ValueError(f"v must have as many rows as k (Lk = {k.shape[-2]}), got shape {tuple(v.shape)}")
    _validate.like("v", v, q, "q")
    for name, x in (("q's", q), ("k's", k)):  # v's weighed by the weights of both
        _validate.broadcastable("v's batch dimensions", v.shape[:-2], name, x.shape[:-2])
    if mask is not None:
        scores = (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2])
        inputs.check_mask(mask, scores, q.device)
    dropout_p = _validate.dropout(dropout_p, "dropout_p")  # a float: F.dropout refuses a Fraction
    scale = inputs.check_scale(scale)
    causal = _validate.boolean("causal", causal)
    # Given an empty q, k or v, PyTorch's kernel returns q's batch shape, not the broadcast one
    # the weights' path gives (and documents): such inputs take that path, with or without weights.
    explicit = _validate.boolean("need_weights", need_weights) or 0 in (q.numel(), k.numel(), v.numel())
    out, weights = _attention(
        q, k, v, mask, scale=scale, need_weights=explicit, dropout_p=dropout_p, causal=causal
    )
    return out, weights if need_weights else None


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
        try:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale, is_causal=causal
            )
        except NotImplementedError as error:
            # PyTorch's CPU kernel has no forward-mode derivative (torch.func.jvp, jacfwd): the
            # weights' path computes the same output with one.
            if "forward AD" not in str(error):
                raise
            return _attention(q, k, v, mask, scale=scale, dropout_p=dropout_p, causal=causal)[0], None
        return out, None
    inputs.check_weights_fit(q, k)
    scores = _scores(q, k, scale)  # (..., Lq, Lk)
    # ``scores`` is a fresh (..., Lq, Lk) tensor nobody else holds, so the mask and (when no
    # gradient is wanted) the softmax can write into it: a second matrix of that size costs
    # more to allocate than the softmax itself (seen: 35 ms vs 10 ms at 8×8×512×512).
    empty = None
    if mask is not None:
        # A meta mask has no values to look at (shapes only, as PyTorch's kernel gives on meta).
        empty = None if mask.is_meta else narrow_heads._empty_rows(mask)
        if empty is not None:
            # softmax over a row of only -inf is NaN, and so is its gradient even once the row
            # is zeroed: such a row is let see every key, then zeroed, as PyTorch's kernel does.
            mask = mask | empty
        scores.add_(narrow_heads._mask_bias(mask, scores.dtype))  # exp(-inf) = 0: no weight at all
    if scores.requires_grad or not _plain(scores):
        weights = torch.softmax(scores, dim=-1)
    else:
        weights = torch.softmax(scores, dim=-1, out=scores)
    if empty is not None:
        weights = weights.masked_fill(empty, 0.0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights


def _plain(x: torch.Tensor) -> bool:
    """Whether ``x`` is an ordinary tensor that softmax can write into (``out=``): not one that
    torch.func maps or differentiates (vmap, jacfwd …), nor a dual tensor of forward-mode AD,
    where ``out=`` fails inside torch ("Batching rule not implemented for aten::softmax.int_out"),
    nor one torch.jit.trace records: its sanity check re-runs under no_grad, and a graph with
    ``out=`` there differs from the traced one ("Graphs differed across invocations"), nor
    under torch.compile, which cannot call the torch.func hook below (and plans memory itself)."""
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return False
    # Private hooks of torch.func and forward-mode AD: read defensively, a PyTorch without them
    # has none of these wrappers to refuse ``out=``.
    wrapped = getattr(getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor", None)
    return not (wrapped is not None and wrapped(x)) and getattr(forward_ad, "_current_level", -1) < 0


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
        inputs.check_sequences(self.d_model, self.w_q.weight, x=x, context=context)
        if mask is not None:  # here, where the message can name x and context (not q and k)
            scores = (x.shape[0], x.shape[1], context.shape[1])  # (B, Lq, Lk)
            inputs.check_mask(mask, scores, x.device, inputs=("x", "context"))
        q, k, v = self.w_q(x), self.w_k(context), self.w_v(context)
        return scaled_dot_product_attention(q, k, v, mask)


class MultiHeadAttention(nn.Module):
    """h heads side by side: (B, Lq, d_model) → (B, Lq, d_model), weights (B, h, Lq, Lk).

    Head i has its own projections of size d_head = d_model / h. They are stored stacked:
    rows i·d_head … (i+1)·d_head of ``q_proj.weight`` are head i's W_Q, so one matmul
    computes every head's queries. The heads' outputs are concatenated and mixed by W_O
    (``out_proj``). Same parameter count as one head of full width d_model.

    ``kdim`` and ``vdim`` (None: d_model), as in ``nn.MultiheadAttention``: the keys come in
    with kdim features, the values with vdim (a decoder attending to an encoder of another
    width); W_K is (kdim, d_model), W_V (vdim, d_model), and self-attention needs both = d_model.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        *,
        bias: bool = True,
        dropout: float = 0.0,
        kdim: int | None = None,
        vdim: int | None = None,
    ):
        super().__init__()
        self.d_model = _validate.positive_int("d_model", d_model)
        self.num_heads = _validate.positive_int("num_heads", num_heads)
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        self.d_head = d_model // num_heads
        # "is None", not "or": kdim=0 is a mistake to report, not a request for the default.
        self.kdim = _validate.positive_int("kdim", self.d_model if kdim is None else kdim)
        self.vdim = _validate.positive_int("vdim", self.d_model if vdim is None else vdim)
        self.dropout = _validate.dropout(dropout)
        _validate.boolean("bias", bias)
        # The four projections, checked before nn.Linear allocates them.
        d_model = self.d_model
        numel = d_model * (2 * d_model + self.kdim + self.vdim)
        _validate.fits_in_memory("d_model × (2·d_model + kdim + vdim)", numel)
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(self.kdim, d_model, bias=bias)  # (B, Lk, kdim) → (B, Lk, d_model)
        self.v_proj = nn.Linear(self.vdim, d_model, bias=bias)  # (B, Lk, vdim) → (B, Lk, d_model)
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

        query (B, Lq, d_model), key (B, Lk, kdim), value (B, Lk, vdim) → (B, Lq, d_model) and
        weights (B, h, Lq, Lk), or None without ``need_weights``.
        mask: bool, True = may attend, shaped (Lq, Lk), (B, Lq, Lk) (the same for every head),
        (B·h, Lq, Lk) as ``nn.MultiheadAttention``'s attn_mask (row b·h + i: batch b's head i;
        read so when h > 1, as a (B, Lq, Lk) mask has B rows) or (B, 1|h, 1|Lq, Lk).
        A 2-D mask is always (Lq, Lk): a (B, Lk) padding mask, as ``nn.MultiheadAttention``'s
        key_padding_mask holds one (there True = blocked), must be given as
        ``keep[:, None, None, :]`` (B, 1, 1, Lk), with keep = ~key_padding_mask (or
        ``masks.padding_mask(ids, pad_id)``); given as it is, it is read per query row when
        B == Lq, without an error.
        causal: query i sees keys 0 … i only (with ``mask``, both apply).
        """
        key = query if key is None else key
        value = key if value is None else value
        self._check_inputs(query, key, value)
        mask = self._mask_for_scores(mask, query, key, names=("query", "key"))
        _validate.boolean("causal", causal)
        _validate.boolean("need_weights", need_weights)
        return self._attend(query, key, value, mask, need_weights=need_weights, causal=causal)

    def _check_inputs(self, query, key, value):
        """query (B, Lq, d_model), key (B, Lk, kdim), value (B, Lk, vdim). A key or value that
        is the query (self-attention) needs kdim or vdim = d_model, a value that is the key
        vdim = kdim: said by name, before a size error that would not say why."""
        for name, x, dim, size in (("key", key, "kdim", self.kdim), ("value", value, "vdim", self.vdim)):
            if x is query and size != self.d_model:
                raise ValueError(
                    f"{name} must be given (B, Lk, {size}): self-attention ({name} = query) needs "
                    f"{dim} = d_model ({self.d_model}), and this module has {dim}={size}"
                )
        if value is key and self.vdim != self.kdim:
            raise ValueError(
                f"value must be given (B, Lk, {self.vdim}): this module has vdim={self.vdim}, "
                f"so the keys (kdim={self.kdim}) cannot be its values"
            )
        widths = {"key": (self.kdim, "kdim"), "value": (self.vdim, "vdim")}
        inputs.check_sequences(self.d_model, self.q_proj.weight, widths, query=query, key=key, value=value)

    def _mask_for_scores(self, mask, query, key, name="mask", names=None):
        """Checks ``mask`` (called ``name`` in the message) against the scores (B, h, Lq, Lk)
        of query and key. ``names`` names query and key where one is empty; by default as the
        layers and stacks call them: x, and x (self-attention) or memory."""
        if mask is None:
            return None
        b, h = query.shape[0], self.num_heads
        if _validate.bool_mask(name, mask).dim() == 3:
            if mask.shape[0] == b * h != b:
                # nn.MultiheadAttention's (B·h, Lq, Lk): its row b·h + i is batch b's head i.
                mask = mask.unflatten(0, (b, h))  # → (B, h, Lq, Lk)
            else:
                mask = mask.unsqueeze(1)  # (B, Lq, Lk) → (B, 1, Lq, Lk): same mask for every head
        shape = (b, h, query.shape[1], key.shape[1])
        names = names or ("x", "x" if key is query else "memory")
        inputs.check_mask(mask, shape, query.device, name, names)
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
        needs none, as every cached position is in its past. Self-attention: kdim = vdim = d_model.
        """
        if self.kdim != self.d_model or self.vdim != self.d_model:
            raise ValueError(
                f"forward_cached is self-attention, which needs kdim = vdim = d_model ({self.d_model}); "
                f"this module has kdim={self.kdim}, vdim={self.vdim}"
            )
        inputs.check_sequences(self.d_model, self.q_proj.weight, x=x)
        self._check_cached(x, cache, layer, mask)
        _validate.boolean("need_weights", need_weights)
        return self._attend_cached(x, cache, layer, mask, need_weights=need_weights)

    def _check_cached(self, x, cache, layer, mask):
        """The arguments of ``forward_cached`` besides x: a KVCache, one of its layers, and a
        mask broadcastable to (B, h, T, t + T), checked before anything joins the cache."""
        if not isinstance(cache, KVCache):
            raise ValueError(f"cache must be a KVCache (model.new_cache()), got {type(cache).__name__}")
        layer = _validate.integer("layer", layer, low=0, high=cache.num_layers)
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
            shape = (x.shape[0], self.num_heads, x.shape[1], t + x.shape[1])
            inputs.check_mask(mask, shape, x.device, inputs=("x", "x"))

    def _attend_cached(self, x, cache, layer, mask=None, *, need_weights=False):
        """``forward_cached`` on inputs already checked (``_check_cached``)."""
        w, b = cache._stacked(layer, (self.q_proj, self.k_proj, self.v_proj), _stacked)  # (3·d, d), (3·d,)
        q, k, v = (self._split(y) for y in F.linear(x, w, b).chunk(3, dim=-1))  # each (B, h, T, d_head)
        k, v = cache._append(layer, k, v)  # (B, h, t + T, d_head): the cached positions, then the new
        p = self.dropout if self.training else 0.0
        out, weights = _attention(q, k, v, mask, need_weights=need_weights, dropout_p=p)
        return self.out_proj(self._merge(out)), weights  # (B, T, d_model)

    def _project(self, query, key, value):
        """query (B, Lq, d_model), key (B, Lk, kdim), value (B, Lk, vdim) → q (B, h, Lq, d_head),
        k and v (B, h, Lk, d_head)."""
        if query is key and key is value:
            # Self-attention: one matmul for Q, K and V together is faster than three.
            w, b = _stacked(self.q_proj, self.k_proj, self.v_proj)  # (3·d, d), (3·d,) or None
            q, k, v = F.linear(query, w, b).chunk(3, dim=-1)  # (B, L, 3·d_model) → 3 × (B, L, d_model)
        else:
            q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        return self._split(q), self._split(k), self._split(v)

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention, name: str = "mha") -> MultiHeadAttention:
        """Copy the weights of an ``nn.MultiheadAttention`` of the same size (embed_dim,
        num_heads, kdim, vdim, bias) into this module.

        ``name``: what the messages call ``mha`` (a layer loading its attention passes its own,
        e.g. "layer.self_attn")."""
        inputs.check_torch_mha(self, mha, _validate.text("name", name))
        if any(p.is_meta for p in self.parameters()):  # copy_ and load_state_dict would copy nothing
            raise ValueError(
                "this module (the one to copy into) is on the meta device, where nothing can be "
                'copied: give it memory first with .to_empty(device="cpu")'
            )
        if mha.in_proj_weight is not None:  # kdim = vdim = embed_dim: W_Q, W_K, W_V stacked
            weights = mha.in_proj_weight.chunk(3)
        else:  # PyTorch keeps them apart when kdim or vdim differ (``_qkv_same_embed_dim`` False)
            weights = (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight)
        for proj, w in zip((self.q_proj, self.k_proj, self.v_proj), weights):
            proj.weight.copy_(w)
        if self.q_proj.bias is not None and mha.in_proj_bias is not None:  # (3·embed_dim,) either way
            for proj, b in zip((self.q_proj, self.k_proj, self.v_proj), mha.in_proj_bias.chunk(3)):
                proj.bias.copy_(b)
        self.out_proj.load_state_dict(mha.out_proj.state_dict())
        return self


def _stacked(*projections: nn.Linear) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The projections' weights, one on top of the other, and their biases (None without).
    Under autocast, out of it: its cat fails inside torch for weights in the other half precision
    ("Unexpected floating ScalarType in at::autocast::prioritize": float16 weights under
    bfloat16's autocast), which nn.MultiheadAttention, holding them stacked, never meets;
    F.linear casts them after. Asked once for both: a cached step calls this for every layer."""
    weights = [p.weight for p in projections]
    biases = None if projections[0].bias is None else [p.bias for p in projections]
    if _validate.autocast_on(weights[0]):
        with torch.autocast(weights[0].device.type, enabled=False):
            return torch.cat(weights), None if biases is None else torch.cat(biases)
    return torch.cat(weights), None if biases is None else torch.cat(biases)
