"""The shifted-target loss (exercise 08a) as the checker computes it: the reference, with a
switch per mistake.

``loss`` (the exercise, its cases and most of its catalogue) and ``loss_reductions`` (the
masks and reductions gone wrong) both compute their mistakes with it, so that each switch is
written once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def loss_reference(model, src, trg, pad_id, *, reads=slice(None, -1), labels=slice(1, None), **how):
    """Next-token cross-entropy, or one of its usual mistakes.

    reads / labels: the slices of trg the decoder reads and is scored on; how: ``probs`` (a
    softmax before the loss), ``ignore`` (padding left out), ``reduction`` ("mean", "sum", or
    "none": one loss per position, flattened, 0 where ignored), ``log`` (False: nll_loss on raw
    logits), ``mean_over_all``, ``per_story``, ``story_means`` (other means), ``over`` (the axis
    the log-softmax runs over: -1, the vocabulary, when right; 1 the positions, 0 the stories;
    ``over_positions=True`` is ``over=1``), ``smoothing`` (label smoothing).
    """
    logits = model(src, trg[:, reads])
    if how.get("probs"):
        logits = torch.softmax(logits, dim=-1)
    flat, target = logits.reshape(-1, logits.shape[-1]), trg[:, labels].reshape(-1)
    ignore = pad_id if how.get("ignore", True) else -100
    reduction = how.get("reduction", "mean")
    if how.get("mean_over_all"):  # the padding's zeros counted in the mean
        return F.cross_entropy(flat, target, ignore_index=ignore, reduction="none").mean()
    if how.get("per_story"):  # summed over each story's tokens, then averaged over the stories
        each = F.cross_entropy(flat, target, ignore_index=ignore, reduction="none")
        return each.view(trg.shape[0], -1).sum(dim=1).mean()
    if how.get("story_means"):  # each story's mean over its real tokens, then their mean
        each = F.cross_entropy(flat, target, ignore_index=ignore, reduction="none").view(trg.shape[0], -1)
        real = (trg[:, labels] != pad_id).to(each.dtype)
        return ((each * real).sum(dim=1) / real.sum(dim=1)).mean()
    over = 1 if how.get("over_positions") else how.get("over", -1)
    if over % logits.dim() != logits.dim() - 1:  # log-softmax over another axis than the vocabulary
        logp = logits.log_softmax(dim=over)  # (B, T', V)
        return F.nll_loss(logp.reshape(-1, logp.shape[-1]), target, ignore_index=ignore, reduction=reduction)
    if how.get("smoothing"):
        return F.cross_entropy(flat, target, ignore_index=ignore, label_smoothing=how["smoothing"])
    if how.get("log", True):
        return F.cross_entropy(flat, target, ignore_index=ignore, reduction=reduction)
    return F.nll_loss(flat, target, ignore_index=ignore)
