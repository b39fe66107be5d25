"""Where a trained encoder-decoder reads the source: its cross-attention, measured (chapter 08).

To write output symbol i of a copy or reverse task, the decoder needs one source symbol:
symbol i (copy) or symbol n-1-i (reverse, n = the row's length). ``aligned_share``
measures, for each head of a decoder layer, the mean cross-attention weight the decoder
puts on exactly that symbol, over the rows of a split, with the right answer fed in
(teacher forcing, as in training). A head that does the job scores near 1; a head that
spreads its attention evenly scores about 1/n.
"""

from __future__ import annotations

import numbers

import torch

from . import _validate
from .data import SequenceSplit
from .logits_fns import model_fits
from .model import Transformer
from .modes import evaluating

ALIGNED_KINDS = ("copy", "reverse")


def source_position(kind: str, i: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """The source position output i copies: i (copy) or length-1-i (reverse); broadcasts."""
    if not isinstance(kind, str) or kind not in ALIGNED_KINDS:  # a numpy array fails at `in`
        raise ValueError(f"kind must be one of {ALIGNED_KINDS} (sort has no fixed position), got {kind!r}")
    for name, value in (("i", i), ("length", length)):  # a str would fail at "-", or come back as is
        if isinstance(value, torch.Tensor):
            _validate.tensor(name, value, floating=False)  # a position is a whole number
        elif isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be a tensor of positions or an int, got {type(value).__name__}")
        elif not -(2**62) <= value < 2**62:  # length - 1 - i overflows int64 inside torch
            raise ValueError(f"{name} must be a position, an int in [-2**62, 2**62), got {value!r:.30}")
    if isinstance(i, torch.Tensor) and isinstance(length, torch.Tensor):  # else "not on the expected device"
        _validate.same_device("length", length, i.device, "i")
    shapes = [tuple(v.shape) if isinstance(v, torch.Tensor) else () for v in (i, length)]
    _validate.broadcastable("i", shapes[0], "length", shapes[1])
    return i if kind == "copy" else length - 1 - i


@torch.no_grad()
def cross_attention(model: Transformer, split: SequenceSplit, *, layer: int = 0) -> torch.Tensor:
    """Cross-attention of decoder layer ``layer`` on every row of ``split``, teacher-forced:
    (N, h, T, S) with T = S + 1 decoder positions (``<bos>`` and the answer) and S = the
    longest source. Padding keys get no weight."""
    if not isinstance(model, Transformer):
        raise ValueError(f"model must be a Transformer (encoder-decoder), got {type(model).__name__}")
    if not isinstance(split, SequenceSplit) or len(split) == 0:
        raise ValueError(f"split must be a non-empty SequenceSplit (task.test), got {type(split).__name__}")
    layer = _validate.integer("layer", layer, low=0, high=len(model.decoder.layers))
    device = _validate.weights_device("model", model)
    n = int(split.lengths.max())
    model_fits(model, split.src, "split's sources", n)  # else the model names src and tgt
    model_fits(model, split.tgt, "split's targets", n + 1, target=True)
    with evaluating(model):
        model(split.src[:, :n].to(device), split.tgt[:, : n + 1].to(device), need_weights=True)
    return model.attention_weights()["cross"][layer].cpu()


def aligned_share(
    model: Transformer, split: SequenceSplit, kind: str = "reverse", *, layer: int = 0
) -> torch.Tensor:
    """(h,): for each head, the mean cross-attention weight on the source symbol that the
    output being written copies, over the n answer positions of every row of ``split``."""
    source_position(kind, 0, 1)  # checks kind before running the model
    return share_on_source(cross_attention(model, split, layer=layer), split.lengths, kind)


def share_on_source(weights: torch.Tensor, lengths: torch.Tensor, kind: str = "reverse") -> torch.Tensor:
    """weights (N, h, T, S) cross-attention with T ≥ max length, lengths (N,) → (h,): the mean
    weight on the copied source symbol at the n written positions of each row."""
    _validate.tensor("weights", weights, ndim=4, floating=True)
    _validate.tensor("lengths", lengths, ndim=1, floating=False)
    _validate.stored("weights", weights)  # its values are picked and summed
    _validate.stored("lengths", lengths)
    if lengths.shape[0] == 0:  # the min and max below, and the mean, need a row
        raise ValueError(f"lengths must hold at least one row, got shape {tuple(lengths.shape)}")
    if lengths.shape[0] != weights.shape[0]:
        raise ValueError(
            f"lengths must have one entry per row of weights ({weights.shape[0]}), got {lengths.shape[0]}"
        )
    if int(lengths.min()) < 1 or int(lengths.max()) > min(weights.shape[2], weights.shape[3]):
        raise ValueError(
            f"lengths must be in [1, {min(weights.shape[2], weights.shape[3])}] for weights of shape "
            f"{tuple(weights.shape)}, got {lengths.tolist()}"
        )
    i = torch.arange(weights.shape[2])  # decoder positions
    written = i[None] < lengths[:, None]  # (N, T): position i writes symbol i of the answer
    target = source_position(kind, i[None], lengths[:, None]).clamp(0, weights.shape[3] - 1)  # (N, T)
    rows = torch.arange(weights.shape[0])[:, None]
    picked = weights[rows, :, i[None], target]  # (N, T, h): advanced indices first, then the heads
    return (picked * written[..., None]).sum(dim=(0, 1)) / written.sum()
