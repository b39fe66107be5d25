"""Where a trained encoder-decoder reads the source: its cross-attention, measured (chapter 08).

To write output symbol i of a copy or reverse task, the decoder needs one source symbol:
symbol i (copy) or symbol n-1-i (reverse, n = the row's length). ``aligned_share``
measures, for each head of a decoder layer, the mean cross-attention weight the decoder
puts on exactly that symbol, over the rows of a split, with the right answer fed in
(teacher forcing, as in training). A head that does the job scores near 1; a head that
spreads its attention evenly scores about 1/n.
"""

from __future__ import annotations

import torch

from . import _validate
from .data import SequenceSplit
from .model import Transformer

ALIGNED_KINDS = ("copy", "reverse")


def source_position(kind: str, i: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """The source position output i copies: i (copy) or length-1-i (reverse); broadcasts."""
    if kind not in ALIGNED_KINDS:
        raise ValueError(f"kind must be one of {ALIGNED_KINDS} (sort has no fixed position), got {kind!r}")
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
    _validate.integer("layer", layer, low=0, high=len(model.decoder.layers))
    device = _validate.module_device("model", model)
    n = int(split.lengths.max())
    was_training = model.training
    model.eval()
    model(split.src[:, :n].to(device), split.tgt[:, : n + 1].to(device), need_weights=True)
    model.train(was_training)
    return model.attention_weights()["cross"][layer].cpu()


def aligned_share(
    model: Transformer, split: SequenceSplit, kind: str = "reverse", *, layer: int = 0
) -> torch.Tensor:
    """(h,): for each head, the mean cross-attention weight on the source symbol that the
    output being written copies, over the n answer positions of every row of ``split``."""
    source_position(kind, torch.zeros(1), torch.ones(1))  # checks kind first
    weights = cross_attention(model, split, layer=layer)  # (N, h, T, S)
    lengths = split.lengths  # (N,)
    i = torch.arange(weights.shape[2] - 1)  # decoder positions that write a symbol
    written = i[None] < lengths[:, None]  # (N, T-1): position i writes symbol i of the answer
    target = source_position(kind, i[None], lengths[:, None]).clamp(0, weights.shape[3] - 1)  # (N, T-1)
    rows = torch.arange(len(split))[:, None]
    picked = weights[:, :, :-1][rows, :, i[None], target]  # (N, T-1, h)
    return (picked * written[..., None]).sum(dim=(0, 1)) / written.sum()
