"""More of ``generation``'s catalogue (greedy decoding): the wrong answers met in round 42b's
battery (the runner-up token, the scores of all positions combined), each with what it computes
and its hint; the learner-style examples are in ``generation_learners``. (A prefix fed without its
batch axis is named by the model's own error, which tests pin as an error, not a wrong answer.)
"""

from __future__ import annotations

import torch

from . import generation_learners as learner
from .harness import Mistake, fresh


def _greedy(pick):
    """Greedy decoding with ``pick(logits (1, t, V))`` choosing each next token."""

    def decode(logits_fn, prompt, max_new_tokens, eos_id):
        ids = prompt.clone()
        for _ in range(max_new_tokens):
            token = int(pick(logits_fn(ids.unsqueeze(0))))
            ids = torch.cat([ids, torch.tensor([token])])
            if token == eos_id:
                break
        return ids

    return decode


SLIPS = (
    Mistake(
        name="the runner-up token",
        hint="Your tokens are the SECOND likeliest (topk(2).indices[1], or sort(...).indices[-2]): "
        "greedy decoding takes the likeliest, the argmax of the last position's scores, "
        "logits[0, -1].argmax() (topk(1).indices[0] is the same).",
        compute=_greedy(lambda logits: logits[0, -1].topk(2).indices[1]),
        example=learner.takes_the_runner_up,
    ),
    Mistake(
        name="the scores of all positions combined",
        hint="You combined the scores of every position (their sum or mean) before the argmax: "
        "position i scores the token that comes after token i, so only the LAST position scores "
        "the next token: logits[0, -1].argmax().",
        compute=None,
        recognise=lambda fn, case, got: any(
            isinstance(got, torch.Tensor) and got.shape == want.shape and torch.equal(got, want)
            for want in (
                _greedy(lambda logits: logits[0].sum(0).argmax())(*fresh(case)),
                _greedy(lambda logits: logits[0].mean(0).argmax())(*fresh(case)),
            )
        ),
        example=learner.sums_the_positions,
    ),
)
