"""More of ``loss``'s catalogue (``teacher_forcing_loss``): the wrong answers met in round 43b's
battery (pad_id passed by position as the weight, a sign slip in the log-sum-exp by hand, a count
plus one, logits transposed before they are flattened, a log-softmax over the flattened rows),
each with what it computes, its hint and a learner-style example; and ``reaches_no_weight``, for
a loss with the right value whose gradient never reaches the model (``DETACHED_LOGITS``).
``loss.py`` is nearly full: the mistakes reach its catalogue through ``loss_more.MORE_MISTAKES``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .harness import Mistake

# Said by check_teacher_forcing_loss when a loss with the right value and a graph of its own
# reaches none of the model's weights (NO_GRADIENT names a loss with no graph at all).
DETACHED_LOGITS = (
    "Your loss has the right value and a grad_fn, but its gradient never reaches the model's "
    "weights: the logits were cut from the model before the loss (.detach(), .data, or a new "
    "tensor made from them, with requires_grad_() on it). Training would then change nothing. "
    "Compute the loss straight from the model's output, model(src, trg[:, :-1])."
)


def reaches_no_weight(got: object, model: torch.nn.Module) -> bool:
    """A loss whose graph reaches none of ``model``'s trainable weights (its gradients all None);
    torch.autograd.grad leaves every .grad as it was."""
    weights = [p for p in model.parameters() if p.requires_grad]
    if not isinstance(got, torch.Tensor) or got.grad_fn is None or not weights:
        return False
    try:
        grads = torch.autograd.grad(got.sum(), weights, allow_unused=True, retain_graph=True)
    except RuntimeError:  # a graph already freed (backward called inside) or changed in place
        return False
    return all(g is None for g in grads)


def _pieces(model, src, trg, pad_id):
    """logits (B, T-1, V), labels (B, T-1) and the real labels' mask (B, T-1)."""
    labels = trg[:, 1:]
    return model(src, trg[:, :-1]), labels, labels != pad_id


def _lse_plus_label(model, src, trg, pad_id):
    """logsumexp(z) + z_label, the label's score added, not subtracted, over the real tokens."""
    logits, labels, real = _pieces(model, src, trg, pad_id)
    each = logits.logsumexp(dim=-1) + logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return each[real].mean()


def _count_plus_one(model, src, trg, pad_id):
    """The real tokens' summed loss over their number plus one."""
    logits, labels, real = _pieces(model, src, trg, pad_id)
    total = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=pad_id, reduction="sum")
    return total / (real.sum() + 1)


def _transposed_then_flattened(model, src, trg, pad_id):
    """(B, V, T-1) reshaped to (-1, V): each row mixes positions' scores."""
    logits, labels, _ = _pieces(model, src, trg, pad_id)
    rows = logits.transpose(1, 2).reshape(-1, logits.shape[-1])
    return F.cross_entropy(rows, labels.flatten(), ignore_index=pad_id)


def _log_softmax_down_the_rows(model, src, trg, pad_id):
    """log_softmax(dim=0) of the flattened (B·(T-1), V) logits: over the positions, every story's."""
    logits, labels, _ = _pieces(model, src, trg, pad_id)
    logp = logits.flatten(0, 1).log_softmax(dim=0)
    return F.nll_loss(logp, labels.flatten(), ignore_index=pad_id)


def adds_the_labels_score(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    targets = trg[:, 1:]
    picked = torch.gather(logits, 2, targets[..., None])[..., 0]
    nll = torch.logsumexp(logits, 2) + picked  # −log p = logsumexp − z… sign slipped
    keep = targets != pad_id
    return (nll * keep).sum() / keep.sum()


def divides_by_the_count_plus_one(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    labels = trg[:, 1:].reshape(-1)
    losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels, reduction="none")
    mask = (labels != pad_id).float()
    return (losses * mask).sum() / (mask.sum() + 1)  # + 1 "in case there are no tokens"


def flattens_the_transposed_logits(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1]).permute(0, 2, 1)  # (B, V, T-1), as cross_entropy likes it
    vocab = logits.shape[1]
    return F.cross_entropy(logits.reshape(-1, vocab), trg[:, 1:].reshape(-1), ignore_index=pad_id)


def normalises_the_flat_rows(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    flat = logits.view(-1, logits.shape[-1])
    logp = F.log_softmax(flat, dim=0)
    return F.nll_loss(logp, trg[:, 1:].flatten(), ignore_index=pad_id)


def passes_pad_id_by_position(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    loss_fn = torch.nn.CrossEntropyLoss(pad_id)  # the first argument is weight, not ignore_index
    return loss_fn(logits.flatten(0, 1), trg[:, 1:].flatten())


ROUND_43B = (
    Mistake(
        name="pad_id passed as the weight",
        hint="You passed pad_id by position, and the first free argument of "
        "nn.CrossEntropyLoss(...) (the third of F.cross_entropy(logits, labels, ...)) is weight, "
        "a tensor of one weight per class, not ignore_index. Name it: "
        "F.cross_entropy(logits, labels, ignore_index=pad_id).",
        compute=None,
        error=r"argument 'weight' \(position 3\) must be Tensor, not int|cannot assign 'int' object to "
        r"buffer 'weight'",
        example=passes_pad_id_by_position,
    ),
    Mistake(
        name="log-sum-exp plus the label's score",
        hint="Your cross-entropy by hand ADDS the label's score to the log-sum-exp: "
        "−log softmax(z)[y] = logsumexp(z) − z[y], a minus. Subtract it, or let "
        "F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=pad_id) do it.",
        compute=_lse_plus_label,
        example=adds_the_labels_score,
    ),
    Mistake(
        name="count plus one",
        hint="You divided the summed loss by the number of real tokens PLUS ONE (to avoid a "
        "division by zero?): the mean is over exactly that number, (labels != pad_id).sum(). "
        "A batch always holds real tokens; if you want a guard, .clamp(min=1) leaves the count "
        "alone otherwise. Or let F.cross_entropy(..., ignore_index=pad_id) average.",
        compute=_count_plus_one,
        example=divides_by_the_count_plus_one,
    ),
    Mistake(
        name="transposed logits flattened",
        hint="You flattened the logits after moving the vocabulary to dim 1, (B, V, T-1).reshape(-1, "
        "V): each row then mixes several positions' scores. Either flatten the (B, T-1, V) "
        "logits as they come, logits.reshape(-1, V), or keep (B, V, T-1) unflattened with (B, "
        "T-1) labels: F.cross_entropy accepts both.",
        compute=_transposed_then_flattened,
        example=flattens_the_transposed_logits,
    ),
    Mistake(
        name="log-softmax down the flattened rows",
        hint="Your log-softmax ran over dim=0 of the flattened (B·(T-1), V) logits, across every "
        "position of every sequence: each ROW is one position's scores over the vocabulary, so "
        "normalise over the last axis, log_softmax(dim=-1) (F.cross_entropy does it for you).",
        compute=_log_softmax_down_the_rows,
        example=normalises_the_flat_rows,
    ),
)
