"""The source's ``TransformerBlock`` (encoder layer; the decoder's cross-attention half) and
``DecoderBlock``, with ``load_from_torch`` from PyTorch's layers.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import _validate
from ..torch_layers import activation_name
from .attention import (
    SOURCE,
    AttentionDesign,
    SelfAttention,
    _check_mask_fits,
    check_holds_weights,
    copy_bias,
)


class TransformerBlock(nn.Module):
    """Attention, Add & Norm, feed-forward, Add & Norm (post-norm, as in the paper).

    value, key (N, key_len, embed_size), query (N, query_len, embed_size) → (N, query_len,
    embed_size). The residual adds the query: in a decoder this block is the
    cross-attention to the encoder, and the decoder's own stream must flow on through it.
    Keeps the weights of its last call in ``attention_weights`` (N, heads, query_len, key_len).
    """

    def __init__(
        self,
        embed_size: int,
        heads: int,
        dropout: float,
        forward_expansion: int,
        *,
        design: AttentionDesign = SOURCE,
    ):
        super().__init__()
        self.attention = SelfAttention(embed_size, heads, design=design)
        embed_size = self.attention.embed_size  # checked there: a Python int
        self.attention.input_names = ("value", "key", "query", "mask")  # as this block's caller names them
        self.norm1 = nn.LayerNorm(embed_size)
        self.norm2 = nn.LayerNorm(embed_size)
        hidden = _validate.positive_int("forward_expansion", forward_expansion) * embed_size
        _validate.fits_in_memory(
            "forward_expansion × embed_size²", 2 * hidden * embed_size
        )  # the two linears
        self.feed_forward = nn.Sequential(
            nn.Linear(embed_size, hidden), nn.ReLU(), nn.Linear(hidden, embed_size)
        )
        self.dropout = nn.Dropout(_validate.dropout(dropout))
        self.attention_weights: torch.Tensor | None = None

    def forward(
        self, value: torch.Tensor, key: torch.Tensor, query: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        attended, weights = self.attention(value, key, query, mask)
        self.attention_weights = weights.detach()  # kept for figures, without the graph
        x = self.dropout(self.norm1(attended + query))
        return self.dropout(self.norm2(self.feed_forward(x) + x))

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerEncoderLayer) -> TransformerBlock:
        """Copy a post-norm ReLU ``nn.TransformerEncoderLayer`` of the same sizes (needs PAPER)."""
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise ValueError(f"layer must be an nn.TransformerEncoderLayer, got {type(layer).__name__}")
        _check_torch_layer(layer, self)
        check_holds_weights("layer", layer, self)
        _copy_block(self, layer.self_attn, layer.norm1, layer.norm2, layer)
        return self


class DecoderBlock(nn.Module):
    """Masked self-attention with Add & Norm, then a ``TransformerBlock`` over the encoder's output.

    x (N, trg_len, embed_size); value, key: the encoder's output (N, src_len, embed_size);
    src_mask broadcastable to (N, heads, trg_len, src_len), trg_mask to (N, heads, trg_len,
    trg_len), both True = may attend → (N, trg_len, embed_size).
    """

    def __init__(
        self,
        embed_size: int,
        heads: int,
        forward_expansion: int,
        dropout: float,
        *,
        design: AttentionDesign = SOURCE,
    ):
        super().__init__()
        embed_size = _validate.positive_int("embed_size", embed_size)  # else nn.LayerNorm fails first
        _validate.fits_in_memory("embed_size × embed_size", 4 * embed_size * embed_size)
        self.norm = nn.LayerNorm(embed_size)
        self.attention = SelfAttention(embed_size, heads, design=design)
        self.attention.input_names = ("x", "x", "x", "trg_mask")  # self-attention over the decoder's x
        self.transformer_block = TransformerBlock(
            embed_size, heads, dropout, forward_expansion, design=design
        )
        self.transformer_block.attention.input_names = ("value", "key", "query", "src_mask")
        self.dropout = nn.Dropout(_validate.dropout(dropout))
        self.attention_weights: torch.Tensor | None = None  # the masked self-attention's, last call

    def forward(
        self,
        x: torch.Tensor,
        value: torch.Tensor,
        key: torch.Tensor,
        src_mask: torch.Tensor | None,
        trg_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        attended, weights = self.attention(x, x, x, trg_mask)  # checks x (and trg_mask) by name
        for name, memory in (("value", value), ("key", key)):
            # Else the cross-attention's check names "query", which the caller never passed.
            if isinstance(memory, torch.Tensor) and memory.dim() and memory.shape[0] != x.shape[0]:
                raise ValueError(
                    f"{name} must have the batch size of x ({x.shape[0]}), got shape {tuple(memory.shape)}"
                )
        if isinstance(src_mask, torch.Tensor) and isinstance(key, torch.Tensor) and key.dim() == 3:
            # Else the cross-attention's check names "query", which the caller never passed.
            _validate.bool_mask("src_mask", src_mask)
            shape = (x.shape[0], self.attention.heads, x.shape[1], key.shape[1])
            _check_mask_fits("src_mask", src_mask, shape, (("x", x), ("key", key)))
        self.attention_weights = weights.detach()
        query = self.dropout(self.norm(attended + x))
        return self.transformer_block(value, key, query, src_mask)

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerDecoderLayer) -> DecoderBlock:
        """Copy a post-norm ReLU ``nn.TransformerDecoderLayer`` of the same sizes (needs PAPER)."""
        if not isinstance(layer, nn.TransformerDecoderLayer):
            raise ValueError(f"layer must be an nn.TransformerDecoderLayer, got {type(layer).__name__}")
        block = self.transformer_block
        _check_torch_layer(layer, block)
        check_holds_weights("layer", layer, self)
        self.attention.load_from_torch(layer.self_attn)
        _copy(self.norm, layer.norm1)
        # PyTorch's cross-attention, norm2, feed-forward and norm3 are this design's inner block.
        _copy_block(block, layer.multihead_attn, layer.norm2, layer.norm3, layer)
        return self


def _copy_block(block: TransformerBlock, attn: nn.MultiheadAttention, norm_a, norm_b, layer) -> None:
    block.attention.load_from_torch(attn)
    for mine, theirs in ((block.norm1, norm_a), (block.norm2, norm_b)):
        _copy(mine, theirs)
    _copy(block.feed_forward[0], layer.linear1)
    _copy(block.feed_forward[2], layer.linear2)


def _copy(mine: nn.Module, theirs: nn.Module) -> None:
    """Copy the weight and bias of an nn.Linear or nn.LayerNorm. PyTorch's layer built with
    bias=False has none: a bias of zero here computes the same (load_state_dict failed inside,
    "Missing key(s) in state_dict: "bias"", half the block copied)."""
    mine.weight.copy_(theirs.weight)
    copy_bias(mine, theirs.bias)


def _check_torch_layer(layer: nn.Module, block: TransformerBlock) -> None:
    size, hidden = block.attention.embed_size, block.feed_forward[0].out_features
    if (layer.linear1.in_features, layer.linear1.out_features) != (size, hidden):
        raise ValueError(
            f"layer must have d_model={size}, dim_feedforward={hidden}; "
            f"got {layer.linear1.in_features}, {layer.linear1.out_features}"
        )
    # activation_name reads it as lib does: F.relu, torch.relu, or an nn.ReLU() module, all one ReLU.
    if layer.norm_first or activation_name(layer.activation) != "relu":
        raise ValueError(
            "layer must be post-norm (norm_first=False) with activation='relu', as this design is"
        )
    if layer.norm1.eps != block.norm1.eps:
        raise ValueError(f"layer's LayerNorms must have eps={block.norm1.eps}, got {layer.norm1.eps}")
