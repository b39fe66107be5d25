"""More of ``generation``'s catalogue: the wrong answers met in the ninth audit (the new token
put after the prompt each time, or added to every id), the tenth (the second-to-last
position read) and the round-41 battery (the prefix fed as a column, a (1, 1) token, a
softmax over the positions, scores appended, tokens put in front, the first one dropped, the whole
buffer fed), each with what it computes, its hint and a learner-style example (in
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


def _in_front(logits_fn, prompt, max_new_tokens, eos_id):
    return _grown(logits_fn, prompt, max_new_tokens, eos_id, grow=lambda i, p, t: torch.cat([t.view(1), i]))


def _softmax_over_positions(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0)).softmax(dim=1)[0, -1].argmax()
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids


def _first_dropped(logits_fn, prompt, max_new_tokens, eos_id):
    return _grown(logits_fn, prompt, max_new_tokens, eos_id, grow=lambda i, p, t: torch.cat([i, t.view(1)]))[
        1:
    ]


def _whole_buffer_fed(logits_fn, prompt, max_new_tokens, eos_id):
    """Ids written into a buffer of zeros, fed whole each step: its last position is a 0."""
    buffer = torch.zeros(prompt.numel() + max_new_tokens, dtype=prompt.dtype)
    buffer[: prompt.numel()] = prompt
    length = prompt.numel()
    for _ in range(max_new_tokens):
        token = logits_fn(buffer.unsqueeze(0))[0, -1].argmax()
        buffer[length] = token
        length += 1
        if int(token) == eos_id:
            break
    return buffer[:length]


def _scores_appended(fn, case, got) -> bool:
    """The prompt, then numbers that are not all whole: scores where ids belong."""
    prompt = case[1]
    if not isinstance(got, torch.Tensor) or got.dim() != 1 or not got.is_floating_point():
        return False
    start, new = got[: prompt.numel()], got[prompt.numel() :]
    return (
        bool(torch.equal(start, prompt.to(got.dtype)))
        and new.numel() > 0
        and not torch.equal(new, new.round())
    )


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
    # --- met in the round-41 battery ---
    Mistake(
        name="prefix as a column",
        hint="logits_fn takes the prefix as one ROW, (1, t): unsqueeze(1) (or ids[:, None]) made a "
        "column, (t, 1), t sequences of one token. Add the axis in front: ids.unsqueeze(0).",
        compute=None,
        error=r"expects the prefix as a \(1, t\) tensor of ids, got \(\d+, 1\)",
        example=learner.feeds_a_column,
    ),
    Mistake(
        name="a (1, 1) token concatenated",
        hint="Your token has two axes, (1, 1) (argmax with keepdim=True on (1, V) scores), and ids "
        "has one: torch.cat joins tensors with the same number of axes. Give it one axis, "
        "torch.cat([ids, token.view(1)]) (or token.reshape(1)).",
        compute=None,
        error=r"Tensors must have same number of dimensions: got 1 and 2",
        example=learner.keeps_two_axes,
    ),
    Mistake(
        name="softmax over the positions",
        hint="Your softmax ran over dim=1, the POSITIONS of the (1, t, V) logits: each position's "
        "scores must become probabilities over the vocabulary, the last axis, dim=-1. (Greedy "
        "needs no softmax at all: the largest logit is the largest probability, "
        "logits[0, -1].argmax().)",
        compute=_softmax_over_positions,
        example=learner.softmax_over_the_positions,
    ),
    Mistake(
        name="the largest score appended",
        hint="You appended the largest SCORE (.max(), or topk's .values), not its position in the "
        "vocabulary: the token id is WHERE the maximum is, logits[0, -1].argmax() (or "
        ".max(dim=-1).indices).",
        compute=None,
        recognise=_scores_appended,
        example=learner.appends_the_largest_score,
    ),
    Mistake(
        name="token put in front",
        hint="You put each new token in FRONT of the sequence, torch.cat([token, ids]): the text "
        "then runs backwards, and the model reads its newest token first. Append it at the end: "
        "ids = torch.cat([ids, token.view(1)]).",
        compute=_in_front,
        example=learner.puts_the_token_in_front,
    ),
    Mistake(
        name="first prompt token dropped",
        hint="Your output leaves out the first token of the prompt (ids[1:], to drop <bos>?): "
        "return the WHOLE prompt followed by the new tokens, the prompt's first token included.",
        compute=_first_dropped,
        example=learner.drops_the_first_token,
    ),
    Mistake(
        name="the whole buffer fed",
        hint="You fed the model the whole buffer, its unwritten zeros included: its last position "
        "is then a 0 at the end of the buffer, not the last token written, and the model "
        "predicts what follows that. Feed only what is written so far, "
        "buffer[:length].unsqueeze(0), or grow the sequence, torch.cat([ids, token.view(1)]).",
        compute=_whole_buffer_fed,
        example=learner.feeds_the_whole_buffer,
    ),
)
