"""The wrong answers learners write for ``loss``, as code: each Mistake's example.

``loss_by_hand`` has one switch per catalogued mistake; a gather-and-mask loss is the other correct
answer; then the averages, views and signs a learner gets wrong. ``loss`` (the exercise, its
reference and catalogue) imports this module; this module does not import ``loss``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def loss_by_hand(
    model,
    src,
    trg,
    pad_id,
    *,
    reads="shifted",
    labels="shifted",
    ignore=True,
    probs=False,
    reduction="mean",
    log=True,
    item=False,
    graph=True,
):
    """A learner's loss with one switch per catalogued mistake (all off: correct)."""
    inputs = {"shifted": trg[:, :-1], "whole": trg, "late": trg[:, 1:]}[reads]
    targets = {"shifted": trg[:, 1:], "same": trg[:, :-1], "whole": trg, "early": trg[:, :-1]}[labels]
    with torch.set_grad_enabled(graph):  # graph=False: as if copied from an evaluation loop
        logits = model(src, inputs)
    if probs:
        logits = logits.softmax(dim=-1)
    flat, flat_labels = logits.flatten(0, 1), targets.flatten()
    kwargs = {"ignore_index": pad_id} if ignore else {}
    if log:
        loss = F.cross_entropy(flat, flat_labels, reduction=reduction, **kwargs)
    else:
        loss = F.nll_loss(flat, flat_labels, **kwargs)
    return loss.item() if item else loss


# --- Other correct answers ---


def loss_one_row_at_a_time(model, src, trg, pad_id):
    """Log-probabilities picked by hand, padding left out with a mask, one mean at the end."""
    logp = model(src, trg[:, :-1]).log_softmax(dim=-1)  # (B, T-1, V)
    picked = logp.gather(-1, trg[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    real = trg[:, 1:] != pad_id
    return -(picked * real).sum() / real.sum()


def nll_of_log_softmax_in_float64(model, src, trg, pad_id):
    logp = model(src, trg[:, :-1]).double().log_softmax(-1)
    return F.nll_loss(logp.flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)


# --- The wrong answers, each a Mistake's example ---


def sums_each_story(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    each = F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id, reduction="none")
    return each.sum(dim=1).mean()  # (B, T-1) → one sum per story → their mean


def averages_over_every_position(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    losses = F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id, reduction="none")
    return losses.mean()  # the padding's losses are 0, but they still count in the mean


def views_the_logits(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.view(-1, logits.size(-1)), trg[:, 1:].view(-1), ignore_index=pad_id)


def slices_the_logits_late(model, src, trg, pad_id):
    logits = model(src, trg)  # (B, T, V): the whole target read
    return F.cross_entropy(logits[:, 1:].flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)


def averages_each_story(model, src, trg, pad_id):
    labels = trg[:, 1:]
    each = F.cross_entropy(model(src, trg[:, :-1]).transpose(1, 2), labels, reduction="none")
    real = (labels != pad_id).float()
    return ((each * real).sum(dim=1) / real.sum(dim=1)).mean()  # one mean per story, then theirs


def log_softmax_over_positions(model, src, trg, pad_id):
    logp = F.log_softmax(model(src, trg[:, :-1]), dim=1)  # (B, T-1, V): dim=1 is the positions
    return F.nll_loss(logp.flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)


def forgets_the_minus(model, src, trg, pad_id):
    logp = model(src, trg[:, :-1]).log_softmax(dim=-1)
    labels = trg[:, 1:]
    picked = logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    real = labels != pad_id
    return (picked * real).sum() / real.sum()  # the log-likelihood, not its negative


def writes_into_a_view(model, src, trg, pad_id):
    labels = trg[:, 1:]  # a view of trg, not a copy
    labels[labels == pad_id] = -100  # Hugging Face's "ignore me" label, written into trg too
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten())


def masks_the_inputs(model, src, trg, pad_id):
    inputs, labels = trg[:, :-1], trg[:, 1:]
    each = F.cross_entropy(model(src, inputs).transpose(1, 2), labels, reduction="none")
    real = (inputs != pad_id).float()  # the tokens read, not the tokens scored
    return (each * real).sum() / real.sum()


def keeps_the_padding(model, src, trg, pad_id):
    labels = trg[:, 1:]
    each = F.cross_entropy(model(src, trg[:, :-1]).transpose(1, 2), labels, reduction="none")
    mask = labels == pad_id  # "the mask of the padding"
    return (each * mask).sum() / mask.sum()


def sums_the_padding_too(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    total = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="sum")
    return total / (labels != pad_id).sum()


def log_softmax_over_the_batch(model, src, trg, pad_id):
    logp = torch.log_softmax(model(src, trg[:, :-1]), dim=0)  # dim=0: the stories
    return F.nll_loss(logp.transpose(1, 2), trg[:, 1:], ignore_index=pad_id)


def returns_the_perplexity(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    loss = F.cross_entropy(logits.flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)
    return torch.exp(loss)  # "easier to read"


def binary_cross_entropy(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    target = F.one_hot(trg[:, 1:], num_classes=logits.shape[-1]).float()
    return F.binary_cross_entropy_with_logits(logits, target)


def loss_per_position(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id, reduction="none")


def smooths_the_labels(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(
        logits.flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id, label_smoothing=0.1
    )


# --- The wrong answers met in the ninth audit (loss_more) ---


def slices_twice(model, src, trg, pad_id):
    inputs, labels = trg[:, :-1], trg[:, 1:]
    logits = model(src, inputs)[:, :-1]  # "drop the last prediction, it has no label"
    return F.cross_entropy(logits.flatten(0, 1), labels[:, :-1].flatten(), ignore_index=pad_id)


def predicts_two_ahead(model, src, trg, pad_id):
    logits = model(src, trg[:, :-2])
    return F.cross_entropy(logits.flatten(0, 1), trg[:, 2:].flatten(), ignore_index=pad_id)


def divides_by_the_length(model, src, trg, pad_id):
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    total = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=pad_id, reduction="sum")
    return total / labels.shape[1]  # per position… of one story


def leaves_out_the_eos(model, src, trg, pad_id):
    labels = trg[:, 1:]
    eos = trg[0][trg[0] != pad_id][-1]  # the token that ends every story
    keep = (labels != pad_id) & (labels != eos)
    each = F.cross_entropy(model(src, trg[:, :-1]).transpose(1, 2), labels, reduction="none")
    return (each * keep).sum() / keep.sum()


def squared_error(model, src, trg, pad_id):
    probs = model(src, trg[:, :-1]).softmax(dim=-1)
    return F.mse_loss(probs, F.one_hot(trg[:, 1:], probs.shape[-1]).float())


def averages_the_stories_only(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    each = F.cross_entropy(logits.transpose(1, 2), trg[:, 1:], ignore_index=pad_id, reduction="none")
    return each.mean(dim=0)  # (T-1,): one loss per position left


def divides_the_mean_again(model, src, trg, pad_id):
    labels = trg[:, 1:]
    loss = F.cross_entropy(model(src, trg[:, :-1]).flatten(0, 1), labels.flatten(), ignore_index=pad_id)
    return loss / (labels != pad_id).sum()  # as The Annotated Transformer divides by ntokens


def rolls_the_labels(model, src, trg, pad_id):
    labels = torch.roll(trg, shifts=-1, dims=1)  # "each token's next one", wrapping round
    return F.cross_entropy(model(src, trg).flatten(0, 1), labels.flatten(), ignore_index=pad_id)


# --- The wrong answers met in the tenth audit (loss_more) ---


def swaps_the_arguments(model, src, trg, pad_id):
    logits = model(trg[:, :-1], src)  # "the decoder's tokens, then what it attends to"
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id)


# --- The wrong answers met in the round-41 battery (loss_more, loss_errors) ---


def flattens_the_labels_by_column(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    labels = trg[:, 1:].T.reshape(-1)  # "(T-1, B), like the logits' time axis"
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels, ignore_index=pad_id)


def flattens_the_logits_time_first(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1]).transpose(0, 1)  # (T-1, B, V), "time first"
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id)


def pads_the_labels_in_front(model, src, trg, pad_id):
    logits = model(src, trg)  # the whole target read
    labels = torch.cat([torch.full_like(trg[:, :1], pad_id), trg[:, :-1]], dim=1)  # "shifted by one"
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=pad_id)


def shifts_the_source_too(model, src, trg, pad_id):
    logits = model(src[:, :-1], trg[:, :-1])  # "both shifted"
    return F.cross_entropy(logits.flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)


def in_base_ten(model, src, trg, pad_id):
    logp = torch.log10(model(src, trg[:, :-1]).softmax(dim=-1))  # "log" as on a calculator
    labels = trg[:, 1:]
    real = labels != pad_id
    return -(logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1) * real).sum() / real.sum()


def in_bits(model, src, trg, pad_id):
    logp = torch.log2(model(src, trg[:, :-1]).softmax(dim=-1))  # bits, as in information theory
    labels = trg[:, 1:]
    real = labels != pad_id
    return -(logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1) * real).sum() / real.sum()


def averages_over_the_vocabulary_too(model, src, trg, pad_id):
    logp = model(src, trg[:, :-1]).log_softmax(dim=-1)
    labels = trg[:, 1:]
    one_hot = F.one_hot(labels, logp.shape[-1]) * (labels != pad_id).unsqueeze(-1)
    return -(one_hot * logp).mean()  # a mean over (B, T-1, V): the vocabulary counted too


def uses_the_notebooks_model(model, src, trg, pad_id, *, notebook_model):
    logits = notebook_model(src, trg[:, :-1])  # `model` of the notebook, not the argument
    return F.cross_entropy(logits.flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)


def gathers_without_an_axis(model, src, trg, pad_id):
    logp = model(src, trg[:, :-1]).log_softmax(dim=-1)
    labels = trg[:, 1:]
    picked = logp.gather(-1, labels).squeeze(-1)  # labels (B, T-1) for logp (B, T-1, V)
    real = labels != pad_id
    return -(picked * real).sum() / real.sum()


def indexes_with_two_aranges(model, src, trg, pad_id):
    logp = model(src, trg[:, :-1]).log_softmax(dim=-1)
    labels = trg[:, 1:]
    batch, length = labels.shape
    picked = logp[torch.arange(batch), torch.arange(length), labels]  # (B,) and (T-1,) do not pair up
    real = labels != pad_id
    return -(picked * real).sum() / real.sum()


def slices_the_stories(model, src, trg, pad_id):
    logits = model(src, trg[:-1])  # the first axis: stories, not positions
    return F.cross_entropy(logits.flatten(0, 1), trg[1:].flatten(), ignore_index=pad_id)


def calls_the_decoder_alone(model, src, trg, pad_id):
    logits = model(trg[:, :-1])  # "a language model reads the target"
    return F.cross_entropy(logits.flatten(0, 1), trg[:, 1:].flatten(), ignore_index=pad_id)


def cross_entropy_labels_first(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(trg[:, 1:].flatten(), logits.flatten(0, 1), ignore_index=pad_id)


def labels_as_floats(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), trg[:, 1:].flatten().float(), ignore_index=pad_id)


def reshapes_to_the_length_of_trg(model, src, trg, pad_id):
    batch, length = trg.shape  # T, where the decoder made T-1 predictions
    logits = model(src, trg[:, :-1])
    return F.cross_entropy(logits.reshape(batch * length, -1), trg[:, 1:].reshape(-1), ignore_index=pad_id)


# --- Round 43: another right answer, in a style not registered before ---
def masked_mean_of_every_token(model, src, trg, pad_id):
    """Every token's loss (reduction="none"), then the mean over the real ones by hand."""
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    per_token = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")  # (B, T-1)
    real = (labels != pad_id).float()
    return (per_token * real).sum() / real.sum()


# --- The wrong answers met in round 50's review (loss_round50b) ---


def reshapes_to_the_vocabulary_first(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.reshape(vocab, -1).T, trg[:, 1:].reshape(-1), ignore_index=pad_id)
