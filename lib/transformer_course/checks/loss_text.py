"""A loss returned as text: f"{loss.item():.2f}", str(round(loss.item(), 2)), str(loss).

``reads_as(text, want)`` tells whether a string spells the number ``want`` to the digits it
shows ("3.40" stands for anything from 3.395 to 3.405), so that a loss rounded for printing is
named whatever its rounding. ``loss`` (``RETURNED_TEXT``, through ``loss_more``) and
``train_step_more`` (the losses a training step returns) both use it.
"""

from __future__ import annotations

import re

import torch

from .cases import fresh
from .harness import Mistake
from .loss_reference import loss_reference

# A number as Python writes one: 3.40, .5, -2.1e-03; the text must be that number, bare, in
# tensor(…) as str(loss) writes it, or after a label ("loss: 3.40"). A text that only holds a
# number somewhere ("torch.Size([3, 6, 11])", "batch 3") is not the loss written out.
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
LOSS_TEXT = re.compile(rf"\s*(?:\w[\w ]*[:=]\s*)?(?:tensor\(\s*)?({NUMBER})\s*(?:(?:,[^)]*)?\))?\s*", re.S)


def reads_as(text: object, want: float) -> bool:
    """``text`` is a string that writes the number ``want`` rounded to the digits shown there:
    within half a unit of its last decimal, and float32's own error besides. A whole number
    ("3") counts only as itself: it is as likely a count or a size as a rounded loss."""
    if not isinstance(text, str):
        return False
    found = LOSS_TEXT.fullmatch(text)
    if found is None:
        return False
    number = found.group(1)
    mantissa, _, exponent = number.lower().partition("e")
    rounding = 0.0
    if "." in mantissa or exponent:
        rounding = 0.5 * 10.0 ** -(len(mantissa.partition(".")[2]) - int(exponent or 0))
    return abs(float(number) - want) <= rounding + 1e-4 * max(1.0, abs(want))


def _loss_as_text(fn, case, got) -> bool:
    """A string that reads as the right loss on ``case``."""
    if not isinstance(got, str):
        return False
    with torch.no_grad():
        return reads_as(got, float(loss_reference(*fresh(case))))


def _learner_returns_text(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id
    )
    return f"{loss.item():.2f}"  # "to read it in the notebook"


RETURNED_TEXT = Mistake(
    name="returned text",
    hint='You returned the loss as text (f"{loss.item():.2f}", str(round(loss.item(), 2))): a '
    "string, not a tensor, and training calls loss.backward() on what this function returns "
    "(a string has no .backward(), nor any gradient to follow). Return the loss tensor itself, "
    "and format it only where you print it.",
    compute=None,
    recognise=_loss_as_text,
    example=_learner_returns_text,
)
