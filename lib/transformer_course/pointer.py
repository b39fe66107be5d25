"""Which noun does "it" mean? An encoder plus one attention head that points.

``PronounPointer`` reads a sentence with an encoder (every word sees every other word),
then one attention head asks, from the position of "it": which word do I refer to?
Its attention weights over the sentence ARE the answer, a probability for each
position, and training pushes the weight on the true referent up (cross-entropy on
the weights). So after training, "it" attends to "pizza" in "the pizza came out of
the oven and it tasted good", and to "oven" in "… and it was broken".

The head is the lib's ``SingleHeadAttention``: softmax(q kᵀ/√d_k) with the query from
"it" and the keys from every word, padding masked out. Because its weights are the
output the loss scores, "it" → "pizza" is trained directly. What the encoder does to
help is not: ``predicate_share`` measures it (each head's weight from "it" onto the
words after it, which decide what "it" means).
"""

from __future__ import annotations

import torch
from torch import nn

from . import _validate
from .attention import SingleHeadAttention
from .data import PronounSplit
from .model import EncoderOnlyTransformer, TransformerConfig
from .modes import evaluating


class PronounPointer(nn.Module):
    """ids (B, L), it_pos (B,) → pointer weights (B, L): attention from "it" to each word.

    ``encoder`` is an ``EncoderOnlyTransformer`` (its ``encode`` gives (B, L, d_model));
    ``head`` is a ``SingleHeadAttention`` whose weights are the output.
    """

    def __init__(self, config: TransformerConfig, d_k: int | None = None):
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise ValueError(f"config must be a TransformerConfig, got {type(config).__name__}")
        self.config = config
        self.encoder = EncoderOnlyTransformer(config)
        self.head = SingleHeadAttention(config.d_model, d_k)  # d_k None: d_model

    def forward(self, ids: torch.Tensor, it_pos: torch.Tensor, *, need_weights: bool = False) -> torch.Tensor:
        _validate.tensor("ids", ids, ndim=2, floating=False)
        if ids.shape[1] == 0 and ids.shape[0]:  # else it_pos is blamed: "positions in [0, 0)"
            raise ValueError(
                'ids must hold at least one token per sentence (a sentence with "it"), '
                f"got shape {tuple(ids.shape)}"
            )
        _validate.tensor("it_pos", it_pos, ndim=1, floating=False)
        _validate.stored("it_pos", it_pos)  # its values are read below
        _validate.index_dtype("it_pos", it_pos)  # uint8 would index as a mask of rows
        if it_pos.shape[0] != ids.shape[0]:
            raise ValueError(
                f"it_pos must have one entry per sentence of ids ({ids.shape[0]}), "
                f"got shape {tuple(it_pos.shape)}"
            )
        if it_pos.numel() and (int(it_pos.min()) < 0 or int(it_pos.max()) >= ids.shape[1]):
            raise ValueError(f"it_pos must hold positions in [0, {ids.shape[1]}), got {it_pos.tolist()}")
        hidden = self.encoder.encode(ids, need_weights=need_weights)  # (B, L, d)
        rows = torch.arange(ids.shape[0], device=ids.device)
        query = hidden[rows, it_pos].unsqueeze(1)  # (B, 1, d): the word "it"
        may_attend = (ids != self.config.pad_id).unsqueeze(1)  # (B, 1, L)
        may_attend = may_attend.clone()
        may_attend[rows, 0, it_pos] = False  # "it" cannot point at itself
        _, weights = self.head(query, hidden, may_attend)  # (B, 1, L)
        return weights[:, 0]

    def encoder_attention(self) -> list[torch.Tensor | None]:
        """Encoder self-attention of the last call with ``need_weights=True``: (B, h, L, L) per layer."""
        return self.encoder.attention_weights()["encoder_self"]


def pointer_loss(model: PronounPointer, batch: PronounSplit) -> torch.Tensor:
    """Cross-entropy of the pointer: −log(weight on the true referent), averaged."""
    _check_model(model)
    _check_split("batch", batch)
    weights = model(batch.ids, batch.it_pos)
    if not isinstance(weights, torch.Tensor) or tuple(weights.shape) != tuple(batch.ids.shape):
        got = f"shape {tuple(weights.shape)}" if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"model must return pointer weights (B, L) = {tuple(batch.ids.shape)}, got {got}")
    picked = weights.gather(1, batch.referent_pos.unsqueeze(1)).squeeze(1)
    return -torch.log(picked.clamp_min(1e-9)).mean()


@torch.no_grad()
def referent_wins(model: PronounPointer, split: PronounSplit) -> torch.Tensor:
    """(N,) bool: does the attention from "it" weigh the referent above the distractor?"""
    _check_model(model)
    _check_split("split", split)
    device = _validate.weights_device("model", model)
    with evaluating(model):
        weights = model(split.ids.to(device), split.it_pos.to(device)).cpu()
    rows = torch.arange(len(split))
    return weights[rows, split.referent_pos] > weights[rows, split.distractor_pos]


def resolve(model: PronounPointer, ids: torch.Tensor, it_pos: int) -> torch.Tensor:
    """One sentence: ids (L,) and the position of "it" → pointer weights (L,)."""
    _check_model(model)
    _validate.tensor("ids", ids, ndim=1, floating=False)
    _validate.stored("ids", ids)  # moved to the model's device below: a meta one has nothing to copy
    if len(ids) == 0:
        raise ValueError('ids must hold at least one token (a sentence with "it"), got shape (0,)')
    if isinstance(it_pos, torch.Tensor) and it_pos.dim() == 0 and not it_pos.is_meta:
        # split.it_pos[i], a 0-D tensor, read as the int it holds (the split's own positions)
        if not (it_pos.is_floating_point() or it_pos.is_complex() or it_pos.dtype == torch.bool):
            it_pos = int(it_pos)
    it_pos = _validate.integer("it_pos", it_pos, low=0, high=len(ids))  # a position in ids
    device = _validate.weights_device("model", model)
    with evaluating(model):  # dropout off: the same sentence always gets the same weights
        return model(ids.unsqueeze(0).to(device), torch.tensor([it_pos], device=device))[0].cpu()


@torch.no_grad()
def predicate_share(model: PronounPointer, split: PronounSplit, *, layer: int = 0) -> torch.Tensor:
    """(h,): for each head of encoder layer ``layer``, the mean share of the weight in the
    row of "it" that falls on the words after "it" (the predicate, which decides what "it" is).

    Nothing in the loss asks for this: the loss only scores the pointer head. It is what
    the encoder learns on its own, because the pointer needs "it" to carry its predicate.
    """
    if not isinstance(model, PronounPointer):  # called with need_weights, then encoder_attention()
        raise ValueError(f"model must be a PronounPointer, got {type(model).__name__}")
    _check_split("split", split)
    device = _validate.weights_device("model", model)
    with evaluating(model):
        model(split.ids.to(device), split.it_pos.to(device), need_weights=True)
        layers = model.encoder_attention()
        layer = _validate.integer("layer", layer, low=0, high=len(layers))
        weights = layers[layer].cpu()  # (N, h, L, L)
    rows = torch.arange(len(split))
    it_rows = weights[rows, :, split.it_pos]  # (N, h, L): where "it" looks, per head
    positions = torch.arange(split.ids.shape[1])
    after_it = (positions[None] > split.it_pos[:, None]) & (split.ids != model.config.pad_id)  # (N, L)
    return (it_rows * after_it[:, None]).sum(dim=-1).mean(dim=0)


def snapshot(model: PronounPointer, shown: PronounSplit, held_out: PronounSplit) -> dict:
    """What to keep at a training step, for the attention-history explorer.

    pointer: (n, L) attention from "it" in the ``shown`` sentences; encoder: (n, h, L, L)
    the encoder's first layer self-attention on them; wins: the fraction of ``held_out``
    where the referent outweighs the distractor; predicate: (h,) ``predicate_share`` of
    each encoder head on ``held_out``.
    """
    if not isinstance(model, PronounPointer):  # called with need_weights, then encoder_attention()
        raise ValueError(f"model must be a PronounPointer, got {type(model).__name__}")
    _check_split("shown", shown)
    _check_split("held_out", held_out)
    with evaluating(model):
        pointer = model(shown.ids, shown.it_pos, need_weights=True)
        encoder = model.encoder_attention()[0]
    return {
        "pointer": pointer.clone(),
        "encoder": encoder.clone(),
        "wins": float(referent_wins(model, held_out).float().mean()),
        "predicate": predicate_share(model, held_out),
    }


def _check_model(model: object) -> None:
    """A model called as model(ids, it_pos): another one fails inside torch's call machinery."""
    _validate.takes("model", model, 2, "(ids, it_pos), a PronounPointer")


def _check_split(name: str, split: object) -> None:
    if not isinstance(split, PronounSplit):
        raise ValueError(f"{name} must be a PronounSplit (e.g. task.train[:64]), got {type(split).__name__}")
    if split.ids.dim() != 2 or len(split) == 0:  # one sentence, split[i], or none: a mean over none is NaN
        raise ValueError(
            f"{name} must hold sentences (N, L), at least one (task.train[:64]), got ids of shape "
            f"{tuple(split.ids.shape)}"
        )
