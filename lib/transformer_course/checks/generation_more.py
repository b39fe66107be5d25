"""More of ``generation``'s catalogue: the wrong answers met in the ninth audit (the new token
put after the prompt each time, or added to every id) and the tenth (the second-to-last
position read), each with what it computes, its hint and a learner-style example (in
``generation_learners``).
"""

from __future__ import annotations

import torch

from . import generation_learners as learner
from .harness import Mistake


def _grown(logits_fn, prompt, max_new_tokens, eos_id, *, grow, position=lambda t: -1):
    """Greedy decoding whose sequence grows by ``grow(ids, prompt, token)``, the token read at
    ``position(t)`` of the t logits."""
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, position(ids.numel())].argmax()
        ids = grow(ids, prompt, token)
        if int(token) == eos_id:
            break
    return ids


def _onto_the_prompt(logits_fn, prompt, max_new_tokens, eos_id):
    return _grown(logits_fn, prompt, max_new_tokens, eos_id, grow=lambda i, p, t: torch.cat([p, t.view(1)]))


def _second_to_last(logits_fn, prompt, max_new_tokens, eos_id):
    """The token read at position -2 (at 0 while there is only one)."""
    return _grown(
        logits_fn, prompt, max_new_tokens, eos_id,
        grow=lambda i, p, t: torch.cat([i, t.view(1)]), position=lambda t: max(-2, -t),
    )  # fmt: skip


def _token_added(logits_fn, prompt, max_new_tokens, eos_id):
    return _grown(logits_fn, prompt, max_new_tokens, eos_id, grow=lambda i, p, t: i + t)


MORE_MISTAKES = (
    Mistake(
        name="each token put after the prompt",
        hint="Each step put the new token after the PROMPT, torch.cat([prompt, token]), so the "
        "token before it is lost and the sequence never grows past prompt + 1. Grow the "
        "sequence so far: ids = torch.cat([ids, token.view(1)]).",
        compute=_onto_the_prompt,
        example=learner.grows_the_prompt_each_time,
    ),
    Mistake(
        name="token added to every id",
        hint="ids + token ADDS the token's id to every id (tensors add element by element; only "
        "a Python list grows with +). Append it: ids = torch.cat([ids, token.view(1)]).",
        compute=_token_added,
        example=learner.adds_the_token,
    ),
    Mistake(
        name="the second-to-last position read",
        hint="You read the logits at the second-to-last position, logits[0, -2]: what it "
        "predicts is the token already LAST in the sequence, not a new one. The next token is "
        "predicted at the last position: logits[0, -1].argmax().",
        compute=_second_to_last,
        example=learner.reads_the_second_to_last,
    ),
)
