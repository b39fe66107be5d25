"""The blocks a Transformer is stacked from: feed-forward, Add & Norm, encoder and decoder layers.

Shapes, batch first everywhere: x (B, L, d_model). Masks follow the course's one
convention, True = may attend (``masks.to_blocked`` converts for PyTorch's modules).

Each layer can keep the attention weights it computed: call it with
``need_weights=True`` and read ``layer.self_attn_weights`` (and, in a decoder layer,
``layer.cross_attn_weights``), each (B, h, Lq, Lk). Without it the layers take
PyTorch's fused attention kernel and store None.

``EncoderLayer.forward_cached`` runs the layer on new positions only, reading the
earlier ones' keys and values from a ``kv_cache.KVCache``: a GPT block writing its next token.

Inputs are checked once, where they come in: each ``forward`` checks its arguments and
calls its twin ``_forward``, which trusts them; a layer that has checked x calls its
parts' twins (why: see ``attention``).

``load_from_torch`` copies the weights of ``nn.TransformerEncoderLayer`` /
``nn.TransformerDecoderLayer`` so the tests (and chapter 07) can check that these
layers compute exactly what PyTorch's do. ``bias=False`` builds PyTorch's layers of the
same option: no bias in any Linear or LayerNorm.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate
from .attention import MultiHeadAttention
from .kv_cache import KVCache
from .torch_layers import activation_name, check_same_design, copy_parameters

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"relu": F.relu, "gelu": F.gelu}


class FeedForward(nn.Module):
    """Position-wise feed-forward network: (B, L, d_model) → (B, L, d_model).

    FFN(x) = W₂ · act(W₁ x + b₁) + b₂, applied to every position on its own (the same
    weights at each position, no mixing between positions: that is attention's job).
    The paper widens d_model = 512 to d_ff = 2048 and back, with a ReLU between.
    ``bias=False``: no b₁, b₂.
    """

    def __init__(
        self,
        d_model: int,
        d_ff: int,
        dropout: float = 0.0,
        *,
        activation: str | Callable = "relu",
        bias: bool = True,
    ):
        super().__init__()
        self.d_model = _validate.positive_int("d_model", d_model)
        self.d_ff = _validate.positive_int("d_ff", d_ff)
        self.activation = check_activation(activation)
        _validate.boolean("bias", bias)
        # W₁ (d_ff, d_model) and W₂ (d_model, d_ff), checked before nn.Linear allocates them.
        _validate.fits_in_memory("2 × d_model × d_ff", 2 * self.d_model * self.d_ff)
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias)
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(_validate.dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_hidden("x", x, self.d_model, self.linear1.weight, norm=False)  # Linears only
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        h = ACTIVATIONS[self.activation](self.linear1(x))  # (B, L, d_ff)
        return self.linear2(_dropout(self.dropout, h))  # (B, L, d_model)


class AddNorm(nn.Module):
    """Residual connection plus layer normalisation around one sublayer.

    Post-norm (the paper, ``norm_first=False``): LayerNorm(x + Dropout(sublayer(x))).
    Pre-norm (``norm_first=True``, GPT-2 and most models since): x + Dropout(sublayer(LayerNorm(x))).
    Either way the sublayer only has to learn a *change* to x, and the gradient has a
    direct path back through the ``x +``: that is what lets deep stacks train.
    ``bias=False``: a LayerNorm with a learned scale and no shift.
    """

    def __init__(
        self,
        d_model: int,
        dropout: float = 0.0,
        *,
        norm_first: bool = False,
        eps: float = 1e-5,
        bias: bool = True,
    ):
        super().__init__()
        self.d_model = _validate.positive_int("d_model", d_model)
        self.norm_first = _validate.boolean("norm_first", norm_first)
        eps = _validate.finite_number("eps", eps, above=0)
        _validate.boolean("bias", bias)
        _validate.fits_in_memory("2 × d_model", 2 * self.d_model)  # the LayerNorm's scale and shift
        self.norm = nn.LayerNorm(d_model, eps=eps, bias=bias)
        self.dropout = nn.Dropout(_validate.dropout(dropout))

    def forward(self, x: torch.Tensor, sublayer: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """x (B, L, d_model); ``sublayer`` maps (B, L, d_model) → (B, L, d_model)."""
        _check_hidden("x", x, self.d_model, self.norm.weight)
        _validate.function("sublayer", sublayer, "of one tensor (B, L, d_model)")
        # One that needs two arguments would fail inside, with a TypeError naming its own parameter.
        _validate.takes("sublayer", sublayer, 1, "one argument, a tensor (B, L, d_model)")
        return self._forward(x, lambda h: _sublayer_output(sublayer, h))

    def _forward(self, x: torch.Tensor, sublayer: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        if self.norm_first:
            return x + _dropout(self.dropout, sublayer(self.norm(x)))
        return self.norm(x + _dropout(self.dropout, sublayer(x)))


class _Layer(nn.Module):
    """What both layers share: self-attention (and cross-attention in a decoder layer), the
    feed-forward network, an Add & Norm around each, and copying PyTorch's layer of the same
    design. ``bias=False``: no bias in any Linear or LayerNorm (PyTorch's ``bias=False``)."""

    torch_class: type[nn.Module]  # PyTorch's layer of the same design, for load_from_torch
    attentions: tuple[tuple[str, str], ...] = (("self_attn", "self_attn"),)  # (lib's name, PyTorch's)

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        *,
        norm_first: bool = False,
        activation: str | Callable = "relu",
        eps: float = 1e-5,
        bias: bool = True,
    ):
        super().__init__()
        self.d_model = _validate.positive_int("d_model", d_model)
        for mine, _ in self.attentions:
            setattr(self, mine, MultiHeadAttention(d_model, num_heads, bias=bias, dropout=dropout))
        self.feed_forward = FeedForward(d_model, d_ff, dropout, activation=activation, bias=bias)
        for i in range(1, len(self.attentions) + 2):  # one around each attention, one around the FFN
            setattr(
                self, f"add_norm{i}", AddNorm(d_model, dropout, norm_first=norm_first, eps=eps, bias=bias)
            )
        self.self_attn_weights: torch.Tensor | None = None

    def __getstate__(self) -> dict:
        """What a copy (``copy.deepcopy``, pickle) takes: the attention weights kept by a call with
        ``need_weights=True`` while gradients were on are part of a graph, and deepcopy refuses
        such a tensor ("Only Tensors created explicitly by the user (graph leaves) support the
        deepcopy protocol"): ``copy.deepcopy(model)``, to keep the best model so far, failed. The
        copy keeps their values, detached; the layer itself keeps its own as they are."""
        state = super().__getstate__()
        for name in ("self_attn_weights", "cross_attn_weights"):
            weights = state.get(name)
            if isinstance(weights, torch.Tensor) and weights.grad_fn is not None:
                state[name] = weights.detach()
        return state

    @property
    def norm_first(self) -> bool:
        return self.add_norm1.norm_first

    @property
    def bias(self) -> bool:
        """Whether the Linears and LayerNorms have biases (PyTorch's ``bias`` option)."""
        return self.feed_forward.linear1.bias is not None

    @property
    def norm1(self) -> nn.LayerNorm:
        """The LayerNorm of the self-attention's Add & Norm (PyTorch's name for it)."""
        return self.add_norm1.norm

    @property
    def norm2(self) -> nn.LayerNorm:
        """The LayerNorm of the next Add & Norm: the feed-forward's (encoder), cross-attention's (decoder)."""
        return self.add_norm2.norm

    @torch.no_grad()
    def load_from_torch(self, layer: nn.Module, name: str = "layer") -> _Layer:
        """Copy the weights of PyTorch's layer of the same design (``nn.TransformerEncoderLayer``
        into an ``EncoderLayer``, ``nn.TransformerDecoderLayer`` into a ``DecoderLayer``).

        ``name``: what the messages call ``layer`` (a stack passes e.g. "transformer.encoder.layers[0]")."""
        _validate.text("name", name)
        if not isinstance(layer, self.torch_class):
            raise ValueError(f"{name} must be an nn.{self.torch_class.__name__}, got {type(layer).__name__}")
        check_same_design(self, layer, name)
        for mine, theirs in self.attentions:
            getattr(self, mine).load_from_torch(getattr(layer, theirs), f"{name}.{theirs}")
        parts = {"linear1": self.feed_forward.linear1, "linear2": self.feed_forward.linear2}
        for i in range(1, len(self.attentions) + 2):
            parts[f"norm{i}"] = getattr(self, f"add_norm{i}").norm
        for part, mine in parts.items():  # PyTorch's names
            copy_parameters(mine, getattr(layer, part), f"{name}.{part}")
        return self


class EncoderLayer(_Layer):
    """Self-attention then feed-forward, each wrapped in Add & Norm: (B, L, d) → (B, L, d).

    ``mask``: True = may attend, broadcastable to (B, h, L, L); usually the padding mask
    (B, 1, 1, L). With a causal mask the same layer is a GPT block. ``bias=False``: no bias
    in any Linear or LayerNorm (PyTorch's ``bias=False``).
    """

    torch_class = nn.TransformerEncoderLayer

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
        causal: bool = False,
    ) -> torch.Tensor:
        """x (B, L, d_model) → (B, L, d_model); with ``need_weights`` keeps (B, h, L, L).

        ``causal=True``: position i attends to positions 0 … i only (with ``mask``, both apply).
        """
        _check_block_input(x, self.d_model, self.norm1.weight)
        mask = self.self_attn._mask_for_scores(mask, x, x)  # (B, 1|h, 1|L, L) or None
        _validate.boolean("causal", causal)
        _validate.boolean("need_weights", need_weights)
        return self._forward(x, mask, need_weights=need_weights, causal=causal)

    def _forward(self, x, mask=None, *, need_weights=False, causal=False):
        """``forward`` on inputs already checked (a mask already made 4-D)."""
        return self._block(
            x, lambda h: self.self_attn._attend(h, h, h, mask, need_weights=need_weights, causal=causal)
        )

    def forward_cached(
        self,
        x: torch.Tensor,
        cache: KVCache,
        layer: int,
        mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
    ) -> torch.Tensor:
        """The new positions x (B, T, d_model) → (B, T, d_model), attending over the t
        positions in ``cache`` (this is layer ``layer``) and themselves; keeps (B, h, T, t + T)
        with ``need_weights``. Every other part of the block works on each position alone."""
        _check_block_input(x, self.d_model, self.norm1.weight)
        self.self_attn._check_cached(x, cache, layer, mask)
        _validate.boolean("need_weights", need_weights)
        return self._forward_cached(x, cache, layer, mask, need_weights=need_weights)

    def _forward_cached(self, x, cache, layer, mask=None, *, need_weights=False):
        """``forward_cached`` on inputs already checked."""
        return self._block(
            x, lambda h: self.self_attn._attend_cached(h, cache, layer, mask, need_weights=need_weights)
        )

    def _block(self, x: torch.Tensor, attention: Callable) -> torch.Tensor:
        """Add & Norm around ``attention`` (h → (out, weights)), then around the feed-forward."""

        def attend(h: torch.Tensor) -> torch.Tensor:
            out, self.self_attn_weights = attention(h)
            return out

        x = self.add_norm1._forward(x, attend)
        return self.add_norm2._forward(x, self.feed_forward._forward)


class DecoderLayer(_Layer):
    """Masked self-attention, cross-attention to the encoder, feed-forward; each with Add & Norm.

    x (B, Lt, d_model), memory (B, Ls, d_model) → (B, Lt, d_model).
    ``self_mask`` (True = may attend) broadcastable to (B, h, Lt, Lt): the causal mask,
    combined with the target's padding. ``cross_mask`` broadcastable to (B, h, Lt, Ls):
    the source's padding mask. In cross-attention the queries come from the decoder (x)
    and the keys and values from the encoder output (memory).
    """

    torch_class = nn.TransformerDecoderLayer
    attentions = (("self_attn", "self_attn"), ("cross_attn", "multihead_attn"))
    cross_attn_weights: torch.Tensor | None = None  # (B, h, Lt, Ls) after need_weights=True

    @property
    def norm3(self) -> nn.LayerNorm:
        """The LayerNorm after the feed-forward network."""
        return self.add_norm3.norm

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        cross_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
    ) -> torch.Tensor:
        """x (B, Lt, d_model), memory (B, Ls, d_model) → (B, Lt, d_model)."""
        _check_block_input(x, self.d_model, self.norm1.weight)
        # memory meets only the cross-attention's matmuls, no LayerNorm
        _check_hidden("memory", memory, self.d_model, self.norm1.weight, norm=False)
        if memory.shape[0] != x.shape[0]:
            raise ValueError(
                f"memory must have the batch size of x ({x.shape[0]}), got shape {tuple(memory.shape)}"
            )
        # Each mask checked here, under its own name (the attention layers would call both "mask").
        self_mask = self.self_attn._mask_for_scores(self_mask, x, x, "self_mask")
        cross_mask = self.cross_attn._mask_for_scores(cross_mask, x, memory, "cross_mask")
        _validate.boolean("need_weights", need_weights)
        self.self_attn_weights = self.cross_attn_weights = None

        def attend_self(h: torch.Tensor) -> torch.Tensor:
            out, self.self_attn_weights = self.self_attn._attend(
                h, h, h, self_mask, need_weights=need_weights
            )
            return out

        def attend_memory(h: torch.Tensor) -> torch.Tensor:
            # Queries from the decoder, keys and values from the encoder's output.
            out, self.cross_attn_weights = self.cross_attn._attend(
                h, memory, memory, cross_mask, need_weights=need_weights
            )
            return out

        x = self.add_norm1._forward(x, attend_self)
        x = self.add_norm2._forward(x, attend_memory)
        return self.add_norm3._forward(x, self.feed_forward._forward)


def _check_hidden(
    name: str, x: torch.Tensor, d_model: int, weight: torch.Tensor, *, norm: bool = True
) -> None:
    """(B, L, d_model), on the device and in the dtype of the layer's ``weight``, or in one that
    autocast casts (``_validate.like_weights``; ``norm``: x goes through a LayerNorm)."""
    _validate.tensor(name, x, ndim=3, floating=True)
    _validate.size(name, x, -1, d_model, "d_model")
    _validate.like_weights(name, x, weight, norm=norm)


def _check_block_input(x: torch.Tensor, d_model: int, weight: torch.Tensor) -> None:
    """``_check_hidden`` for the x of an encoder or decoder layer, whose attention and
    feed-forward outputs, in autocast's dtype, are added to x before a LayerNorm of ``weight``'s
    dtype: a half-precision layer under the CPU's autocast in the other half is refused by name
    (``_validate.norm_after_autocast``). AddNorm does not ask: its sublayer keeps x's dtype."""
    _check_hidden("x", x, d_model, weight)
    _validate.norm_after_autocast(x, weight)


def _dropout(dropout: nn.Dropout, x: torch.Tensor) -> torch.Tensor:
    """dropout(x), without the call when it would return x unchanged (evaluating, or p = 0):
    a generated token passes a dozen of them, and each call costs about what a small matmul does."""
    return dropout(x) if dropout.training and dropout.p > 0 else x


def _sublayer_output(sublayer: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Run ``sublayer`` on x and check it kept x's shape: the residual adds the two."""
    try:
        out = sublayer(x)
    except RuntimeError as error:  # torch's, from inside: e.g. an nn.Linear of another width
        if isinstance(error, torch.OutOfMemoryError | NotImplementedError):  # the starter's own, say
            raise
        raise ValueError(
            f"sublayer must map a tensor (B, L, d_model) to one of the same shape; on x of shape "
            f"{tuple(x.shape)} it failed: {error}"
        ) from error
    if isinstance(out, torch.Tensor) and out.shape == x.shape:
        if out.dtype != x.dtype or out.device != x.device:
            raise ValueError(
                f"sublayer must return a tensor of its input's dtype and device ({x.dtype}, {x.device}), "
                f"got {out.dtype} on {out.device}"
            )
        return out
    got = f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
    hint = (
        " (attention returns (output, weights): pass lambda h: attn(h)[0])" if isinstance(out, tuple) else ""
    )
    raise ValueError(f"sublayer must return a tensor of its input's shape {tuple(x.shape)}, got {got}{hint}")


def check_activation(activation: object) -> str:
    """The activation's name, "relu" or "gelu", from the name or from what PyTorch's layers
    also take for it (F.relu, F.gelu, nn.ReLU(), nn.GELU()): one function, two spellings."""
    name = activation if isinstance(activation, str) else activation_name(activation)
    if name not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)} (or F.relu, F.gelu, nn.ReLU(), nn.GELU()), "
            f"got {activation!r}"
        )
    return name
