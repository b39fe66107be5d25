"""Attention for narrow heads on the CPU: the same numbers, about twice as fast to train.

A small GPT splits its width into many narrow heads (chapter 09: 16 heads of 4
dimensions). Each head's matrices are then tall and thin: Q, K, V are (L, d_head) and the
weights P are (L, L). On the CPU a batched product whose result is that thin,
P V (L, L) @ (L, d_head), runs several times slower than the same product computed
transposed, Vᵀ Pᵀ (d_head, L) @ (L, L) (seen at L = 44, d_head = 4: 1.3 ms against 0.3),
and PyTorch's fused kernel (``F.scaled_dot_product_attention``) takes longer still
forward and backward. ``attention`` computes softmax(Q Kᵀ · scale, masked) V and its
gradients with every thin product written the fast way round:

    forward   S = Q Kᵀ · scale, −∞ where masked,  P = softmax(S),  Oᵀ = Vᵀ Pᵀ
    backward  dVᵀ = Gᵀ P,  dP = G Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),
              dQᵀ = Kᵀ dSᵀ · scale,  dKᵀ = Qᵀ dS · scale

``attention._attention`` sends it what it is faster for (``suits``): training (a gradient
is wanted), no weights to return, no dropout, on the CPU, heads up to ``NARROW``
dimensions. Everywhere else the fused kernel stays: in inference it is about as fast and
never holds the (Lq, Lk) weights, which this path keeps for the backward pass. A row with
no key to attend to gives zeros, as PyTorch's kernel does.
"""

from __future__ import annotations

import math

import torch

from . import _validate

NARROW = 8  # widest head sent here: at d_head 16 PyTorch's kernel is about as fast
MAX_WEIGHTS = 2**25  # weights kept for the backward pass, at most (128 MiB in float32)


def suits(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> bool:
    """Whether ``attention`` is the faster way for q, k, v (see ``_suits``): False, not an
    error, for tensors it does not suit; anything but a tensor is refused by name."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        _validate.tensor(name, x)
    return _suits(q, k, v)


def _suits(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> bool:
    """True when ``attention`` is the faster way: a gradient is wanted (forward only, the
    fused kernel is about as fast and never holds the weights), q (..., Lq, d_k),
    k (..., Lk, d_k), v (..., Lk, d_v) with the same leading dimensions (no broadcasting), float32 or float64
    on the CPU, heads of at most ``NARROW`` dimensions, and the (..., Lq, Lk) weights it
    keeps for the backward pass not too large (the fused kernel keeps none: at long lengths
    it is the one that fits). Not while torch.jit.trace records: its check re-runs under
    no_grad, which takes the fused kernel, and the two graphs would differ; nor under
    torch.compile, which cannot trace this path's autograd.Function whole (its forward reads
    the scores to find rows with no key) and fuses the kernel's path itself."""
    return (
        torch.is_grad_enabled()
        and not torch.jit.is_tracing()
        and not torch.compiler.is_compiling()
        and (q.requires_grad or k.requires_grad or v.requires_grad)  # training: forward and backward
        and q.device.type == "cpu"
        and q.dtype in (torch.float32, torch.float64)
        and k.dtype == v.dtype == q.dtype
        and q.dim() >= 3
        and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
        and 0 < min(q.shape[-1], v.shape[-1]) <= max(q.shape[-1], v.shape[-1]) <= NARROW
        and 0 < math.prod(q.shape[:-1]) * k.shape[-2] <= MAX_WEIGHTS
    )


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float,
    mask: torch.Tensor | None = None,
    *,
    causal: bool = False,
) -> torch.Tensor:
    """q (..., Lq, d_k), k (..., Lk, d_k), v (..., Lk, d_v) → (..., Lq, d_v), every leading
    dimension the same in all three (no broadcasting).

    ``mask``: bool broadcastable to (..., Lq, Lk), True = may attend; ``causal``: query i
    sees keys 0 … i only (with ``mask``, both apply)."""
    _check(q, k, v, scale, mask)
    # As a float: a huge int (10**30) fails inside torch's multiplication ("int too big to convert").
    return _attend(q, k, v, float(scale), mask, causal=_validate.boolean("causal", causal))


def _attend(q, k, v, scale, mask=None, *, causal=False):
    """``attention`` on inputs already checked (``attention._attention`` checked them)."""
    bias = None
    if causal:
        bias = _mask_bias(
            torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril_(), q.dtype
        )
    if mask is not None:
        bias = _mask_bias(mask, q.dtype) if bias is None else bias + _mask_bias(mask, q.dtype)  # small
    return _Attention.apply(q, k, v, scale, bias)[0]


def mask_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A bool mask (True = may attend) → 0 where it is True, −∞ where not, in ``dtype``: added
    to the scores, it masks them ~10× faster than ``masked_fill_`` does over every head, as
    the mask is small and broadcasts."""
    _validate.bool_mask("mask", mask)
    _validate.float_dtype("dtype", dtype)  # −∞ exists only in floating point
    return _mask_bias(mask, dtype)


def _mask_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``mask_bias`` for a mask already checked (attention checks it once, where it comes in).
    (Out of place: under torch.vmap the mask may be mapped, the zeros are not.)"""
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))


def _empty_rows(mask: torch.Tensor) -> torch.Tensor | None:
    """(..., Lq, 1): True where a query may attend to no key (PyTorch's kernel gives it zero
    weights); None when every query has a key, the usual case. (``attention``'s weights path.)"""
    empty = ~mask.any(dim=-1, keepdim=True)
    # A mask that torch.vmap maps cannot be read ("data-dependent control flow"): its rows are
    # zeroed where empty all the same (a no-op on rows that have keys); so under torch.jit.trace,
    # whose graph would otherwise keep this run's answer for every later mask.
    return empty if _validate.mapped(empty) or torch.jit.is_tracing() or empty.any() else None


def _check(q, k, v, scale, mask) -> None:
    for name, x in (("q", q), ("k", k), ("v", v)):
        _validate.tensor(name, x, floating=True)
        if x.dim() < 2:
            raise ValueError(f"{name} must be at least 2-D (..., L, d), got shape {tuple(x.shape)}")
        if name != "q":
            _validate.like(name, x, q, "q")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"k must have q's last dimension (d_k = {q.shape[-1]}), got shape {tuple(k.shape)}")
    if q.shape[-1] == 0:
        raise ValueError(f"q must have a last dimension d_k >= 1, got shape {tuple(q.shape)}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"v must have as many rows as k (Lk = {k.shape[-2]}), got shape {tuple(v.shape)}")
    if not q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:
        raise ValueError(
            "q, k and v must have the same leading dimensions, got shapes "
            f"{tuple(q.shape)}, {tuple(k.shape)} and {tuple(v.shape)}"
        )
    # This path works on (n, L, d) matrices that hold something: no empty batch, no sequence
    # without a query or a key, no value of width 0 (scaled_dot_product_attention takes those).
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.numel() == 0:
            raise ValueError(
                f"{name} must have every dimension >= 1 here (use attention.scaled_dot_product_attention "
                f"for empty inputs), got shape {tuple(x.shape)}"
            )
    _validate.finite_number("scale", scale, above=0)
    # The (..., Lq, Lk) weights this path keeps, checked before torch tries to allocate them.
    weights = math.prod(q.shape[:-1]) * k.shape[-2]
    what = "Lq × Lk (the lengths of q and k: the weights kept are (..., Lq, Lk))"
    _validate.fits_in_memory(what, weights, bytes_each=q.element_size())
    if mask is not None:
        _validate.bool_mask("mask", mask)
        _validate.same_device("mask", mask, q.device, "q")
        scores = (*q.shape[:-1], k.shape[-2])
        # *To* the scores: each of its dimensions 1 or the scores' (one that would widen them, or
        # add a dimension, failed inside the in-place masking: "doesn't match the broadcast shape").
        fits = all(m in (s, 1) for m, s in zip(reversed(mask.shape), reversed(scores)))
        if mask.dim() > len(scores) or not fits:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' {scores}")


class _Attention(torch.autograd.Function):
    # In PyTorch's newer style (forward without ctx, then setup_context), so that torch.func
    # can run it (grad; vmap of grad: per-example gradients, with the rule below; jacrev,
    # jacfwd and hessian, with the forward-mode rule jvp).

    @staticmethod
    def forward(q, k, v, scale, bias):
        """bias: None or (..., Lq, Lk), 0 or −∞ → (out (..., Lq, d_v), weights (..., Lq, Lk))."""
        lead, lq, lk = q.shape[:-2], q.shape[-2], k.shape[-2]
        q3, k3, v3 = (x.reshape(-1, x.shape[-2], x.shape[-1]) for x in (q, k, v))  # (n, L, d)
        # Everything in place on one fresh (..., Lq, Lk) matrix: a second one that size costs
        # more to allocate than the softmax itself.
        weights = q.new_empty(*lead, lq, lk)
        scores = torch.bmm(q3, k3.transpose(1, 2), out=weights.view(-1, lq, lk)).mul_(scale)  # (n, Lq, Lk)
        if bias is not None:
            weights.add_(bias)
        torch.softmax(scores, dim=-1, out=scores)
        if bias is not None and bool(scores[:, :, 0].isnan().any()):  # 0/0: a row with no key, or NaN in
            weights.masked_fill_(torch.isinf(bias).all(dim=-1, keepdim=True), 0.0)  # zeros, as in PyTorch
        out_t = torch.bmm(v3.transpose(1, 2), scores.transpose(1, 2))  # (n, d_v, Lq) = (P V)ᵀ
        return out_t.transpose(1, 2).reshape(*lead, lq, v.shape[-1]), weights

    @staticmethod
    def setup_context(ctx, inputs, output):
        q, k, v, scale, bias = inputs
        ctx.save_for_backward(q, k, v, output[1])
        ctx.save_for_forward(q, k, v, output[1])  # for jvp, forward mode
        ctx.scale, ctx.bias = scale, bias
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def vmap(info, in_dims, q, k, v, scale, bias):
        """Under ``torch.vmap``: the mapped dimension becomes one more leading dimension."""
        size = info.batch_size

        def front(x, dim):  # the mapped dimension first, or the tensor repeated along it
            return x.expand(size, *x.shape) if dim is None else x.movedim(dim, 0)

        q, k, v = (front(x, d) for x, d in zip((q, k, v), in_dims[:3]))
        if bias is not None and in_dims[4] is not None:
            bias = bias.movedim(in_dims[4], 0)
            bias = bias.reshape(size, *[1] * (q.dim() - bias.dim()), *bias.shape[1:])
        return _Attention.apply(q, k, v, scale, bias), (0, 0)

    @staticmethod
    def jvp(ctx, dq, dk, dv, _scale, _bias):
        """Forward mode (``torch.func.jacfwd``, ``hessian``): the change of the output for a
        change dq, dk, dv of the inputs, dO = dP V + P dV with dP = P ⊙ (dS − rowsum(dS ⊙ P))
        and dS = (dQ Kᵀ + Q dKᵀ) · scale. The weights are not differentiable: no change."""
        q, k, v, weights = ctx.saved_tensors
        ds = torch.zeros_like(weights)
        if dq is not None:
            ds = ds + dq @ k.transpose(-2, -1) * ctx.scale
        if dk is not None:
            ds = ds + q @ dk.transpose(-2, -1) * ctx.scale
        dp = weights * (ds - (ds * weights).sum(dim=-1, keepdim=True))
        out = dp @ v if dv is None else dp @ v + weights @ dv
        # Laid out as forward's output is (d_v-major, then viewed back): forward-mode AD checks
        # that a tangent's strides match its primal's and stopped on an internal assert otherwise.
        return out.mT.contiguous().mT, None

    @staticmethod
    def backward(ctx, grad, _):
        q, k, v, weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a gradient of this gradient will be asked
            return (*_plain_gradients(q, k, v, ctx.scale, ctx.bias, grad), None, None)
        lead = grad.shape[:-2]
        q3, k3, v3 = (x.reshape(-1, x.shape[-2], x.shape[-1]) for x in (q, k, v))  # (n, L, d)
        g3 = grad.reshape(-1, grad.shape[-2], grad.shape[-1])  # (n, Lq, d_v)
        weights = weights.reshape(-1, *weights.shape[-2:])  # (n, Lq, Lk)
        dv_t = torch.bmm(g3.transpose(1, 2), weights)  # (n, d_v, Lk) = (Pᵀ G)ᵀ
        ds = torch.bmm(g3, v3.transpose(1, 2)).mul_(weights)  # dP ⊙ P, (n, Lq, Lk)
        ds.addcmul_(weights, ds.sum(dim=-1, keepdim=True), value=-1.0)  # − P · rowsum(dP ⊙ P)
        dq_t = torch.bmm(k3.transpose(1, 2), ds.transpose(1, 2)).mul_(ctx.scale)  # (n, d_k, Lq) = (dS K)ᵀ
        dk_t = torch.bmm(q3.transpose(1, 2), ds).mul_(ctx.scale)  # (n, d_k, Lk) = (dSᵀ Q)ᵀ

        def back(x_t: torch.Tensor) -> torch.Tensor:  # (n, d, L) → (..., L, d)
            return x_t.transpose(1, 2).reshape(*lead, x_t.shape[2], x_t.shape[1])

        return back(dq_t), back(dk_t), back(dv_t), None, None


def _plain_gradients(q, k, v, scale, bias, grad):
    """The gradients of softmax(q kᵀ · scale + bias) v with respect to q, k, v, written with
    ordinary differentiable operations (the formulas of the backward pass), so autograd can
    differentiate them once more. Not ``torch.autograd.grad`` of a forward rebuilt here: given
    one tensor as q, k and v (self-attention on x itself), it returned the whole gradient of x
    three times, and under ``torch.func.jacrev`` it found no graph at all."""
    weights = _plain_weights(q, k, scale, bias)  # (..., Lq, Lk), differentiable in q and k
    dv = weights.transpose(-2, -1) @ grad  # Pᵀ G
    dp = grad @ v.transpose(-2, -1)  # G Vᵀ
    ds = weights * (dp - (dp * weights).sum(dim=-1, keepdim=True))  # P ⊙ (dP − rowsum(dP ⊙ P))
    return (ds @ k) * scale, (ds.transpose(-2, -1) @ q) * scale, dv


def _plain_weights(q, k, scale, bias):
    """softmax(q kᵀ · scale + bias) with ordinary operations; a row with no key (all −∞) sees
    every key, then gets zeros, as in the forward (softmax of only −∞ is NaN, its gradient too)."""
    scores = q @ k.transpose(-2, -1) * scale
    if bias is None:
        return torch.softmax(scores, dim=-1)
    empty = torch.isinf(bias).all(dim=-1, keepdim=True)
    weights = torch.softmax(scores + bias.masked_fill(empty, 0.0), dim=-1)
    return weights.masked_fill(empty, 0.0)
