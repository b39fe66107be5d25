"""More of the shifted-target loss's catalogue: the errors a learner's loss raises, met in the
round-41 battery, each named by a pattern in the error (``Mistake.error``) with its hint and a
learner-style example (in ``loss_learners``).

``loss`` holds the exercise and the rest of its catalogue; ``errors(batch, source_length)``
takes the first case's sizes, which the errors quote, so that this module does not import it.
"""

from __future__ import annotations

from . import loss_learners as learner
from .harness import Mistake


def errors(batch: int, source_length: int) -> tuple[Mistake, ...]:
    """The error mistakes, for a first case of ``batch`` stories whose sources hold
    ``source_length`` tokens."""
    return (
        Mistake(
            name="the stories sliced",
            hint="You sliced the first axis of trg, the STORIES (trg[:-1], trg[1:]): trg is (B, T), "
            "batch first, so the positions are its second axis. Slice that one: the decoder reads "
            "trg[:, :-1] and is scored on trg[:, 1:].",
            compute=None,
            error=rf"trg_in must have the batch size of src \({batch}\), got shape \({batch - 1}, ",
            example=learner.slices_the_stories,
        ),
        Mistake(
            name="tokens transposed",
            hint="The model takes its tokens batch first, (B, S) and (B, T): one row per sequence. You "
            "gave it a transposed tensor (.T, or position first), whose first axis is the positions. "
            "Keep src and trg as they come: model(src, trg[:, :-1]).",
            compute=None,
            error=rf"batch size of src \({source_length}\)|batch size of src \({batch}\), got shape "
            rf"\(\d+, {batch}\)",
            example=lambda model, src, trg, pad_id: learner.slices_the_stories(model, src.T, trg.T, pad_id),
        ),
        Mistake(
            name="the model given the target only",
            hint="This model is the encoder-decoder: it takes the source AND the tokens the decoder "
            "reads, model(src, trg[:, :-1]), and returns (B, T-1, V) logits.",
            compute=None,
            error=r"missing 1 required positional argument: 'trg_in'",
            example=learner.calls_the_decoder_alone,
        ),
        Mistake(
            name="cross_entropy's arguments swapped",
            hint="F.cross_entropy takes the logits first, then the labels: F.cross_entropy(logits "
            "(N, V), labels (N,), ignore_index=pad_id). Given the labels first, it tries to take a "
            "softmax of the token ids.",
            compute=None,
            error=r"not implemented for 'Long'",
            example=learner.cross_entropy_labels_first,
        ),
        Mistake(
            name="labels as floats",
            hint="Your labels are floats: F.cross_entropy wants the labels as token ids, integers "
            "(torch.long), one per row of logits. Leave out the .float(): trg[:, 1:].reshape(-1).",
            compute=None,
            error=r"expected target dtype to be Long|expected scalar type Long but found Float",
            example=learner.labels_as_floats,
        ),
        Mistake(
            name="gather without the label axis",
            hint="gather picks along a dimension with an index of the SAME number of dimensions: the "
            "log-probabilities are (B, T-1, V), so the labels need a last axis of size 1, "
            "logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).",
            compute=None,
            error=r"Index tensor must have the same number of dimensions as input tensor",
            example=learner.gathers_without_an_axis,
        ),
        Mistake(
            name="two aranges that do not pair up",
            hint="logp[torch.arange(B), torch.arange(T-1), labels] pairs up its index tensors element "
            "by element, and (B,) and (T-1,) do not pair up. Give the sequences their own axis, "
            "logp[torch.arange(B)[:, None], torch.arange(T-1), labels], or use "
            "logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).",
            compute=None,
            error=r"indexing tensors could not be broadcast together",
            example=learner.indexes_with_two_aranges,
        ),
        Mistake(
            name="reshaped to sizes that do not fit",
            hint="The sizes you gave .reshape (or .view) do not multiply to the number of numbers in "
            "the tensor: the decoder reads T-1 tokens, so there are B·(T-1) predictions, and V is the "
            "logits' own last size, not the notebook's vocabulary. Read the sizes from the tensor "
            "itself: logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).",
            compute=None,
            error=r"shape '\[[-\d, ]+\]' is invalid for input of size \d+",
            example=learner.reshapes_to_the_length_of_trg,
        ),
    )
