"""More of ``generation``'s catalogue (greedy decoding): the wrong answers met in round 42b's
battery (the runner-up token, the scores of all positions combined), each with what it computes
and its hint; the learner-style examples are in ``generation_learners``. (A prefix fed without its
batch axis is named by the model's own error, which tests pin as an error, not a wrong answer.)
Round 43b's, their examples here: the largest score cut to an int (``ROUND_43B_FIRST``), a token
per position, a buffer returned whole (``ROUND_43B``).
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


# --- Round 43b's battery (examples here) ---


def _buffer_returned_whole(logits_fn, prompt, max_new_tokens, eos_id):
    """The right ids, then zeros up to prompt + max_new_tokens: a buffer returned whole."""
    ids = _greedy(lambda logits: logits[0, -1].argmax())(logits_fn, prompt, max_new_tokens, eos_id)
    return torch.cat([ids, torch.zeros(prompt.numel() + max_new_tokens - ids.numel(), dtype=ids.dtype)])


_SCORE_AS_ID = _greedy(lambda logits: logits[0, -1].max())  # int() in _greedy cuts the score


def _equal(got, want) -> bool:
    return isinstance(got, torch.Tensor) and got.shape == want.shape and torch.equal(got, want)


def _scores_as_ids(fn, case, got) -> bool:
    """The largest scores cut to ints; confirmed with no <eos> to stop at (eos_id = -1), where
    a buffer fed whole, which can write the same ids until <eos>, writes others."""
    if not _equal(got, _SCORE_AS_ID(*fresh(case))):
        return False
    logits_fn, prompt, max_new_tokens, _ = case
    endless = (logits_fn, prompt, min(max_new_tokens, 3), -1)
    return _equal(fn(*fresh(endless)), _SCORE_AS_ID(*fresh(endless)))


def returns_the_whole_buffer(logits_fn, prompt, max_new_tokens, eos_id):
    out = torch.zeros(len(prompt) + max_new_tokens, dtype=torch.long)
    out[: len(prompt)] = prompt
    n = len(prompt)
    for _ in range(max_new_tokens):
        nxt = logits_fn(out[None, :n])[0, -1].argmax().item()
        out[n] = nxt
        n += 1
        if nxt == eos_id:
            break
    return out  # meant out[:n]


def appends_the_best_score_as_an_id(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.tolist()
    for _ in range(max_new_tokens):
        best = logits_fn(torch.tensor([ids]))[0, -1].max()  # the largest score…
        ids.append(int(best))  # …made an int to be an id
        if ids[-1] == eos_id:
            break
    return torch.tensor(ids)


ROUND_43B_FIRST = (  # before generation_more's "the whole buffer fed", which these zeros can match
    Mistake(
        name="the largest score appended, as an integer",
        hint="You appended the largest SCORE made an integer (int(logits.max()), or .max().long()): "
        "a score is not an id, and int() just cuts it to a small whole number. The token id is "
        "WHERE the maximum is: logits[0, -1].argmax() (or .max(dim=-1).indices).",
        compute=None,
        recognise=_scores_as_ids,
        example=appends_the_best_score_as_an_id,
    ),
)


def takes_the_batchs_last_row(logits_fn, prompt, max_new_tokens, eos_id):
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        nxt = logits_fn(ids[None]).argmax(-1)[-1]  # meant the last position: this is the last batch row
        ids = torch.cat((ids, nxt))
        if nxt.item() == eos_id:
            break
    return ids


def divides_by_a_zero_temperature(logits_fn, prompt, max_new_tokens, eos_id):
    temperature = 0.0  # "0 is greedy"
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        probs = torch.softmax(logits_fn(ids.unsqueeze(0))[0, -1] / temperature, dim=-1)
        token = torch.argmax(probs)
        ids = torch.cat([ids, token.unsqueeze(0)])
        if token.item() == eos_id:
            break
    return ids


ROUND_43B = (
    Mistake(
        name="divided by a temperature of 0",
        hint='You divided the scores by a temperature of 0 ("0 is greedy"): the scores become ±inf '
        "and nan, and the softmax's argmax is no longer the likeliest token. Greedy needs no "
        "temperature and no softmax: logits[0, -1].argmax().",
        compute=_greedy(lambda logits: (logits[0, -1] / 0.0).softmax(dim=-1).argmax()),
        example=divides_by_a_zero_temperature,
    ),
    Mistake(
        name="one token per position",
        hint="Your token holds several ids, one per position: the argmax over the vocabulary of the "
        "(1, t, V) logits is (1, t), and [-1] or [0] picks a row of the BATCH axis, not the last "
        "position. Index the position first: logits[0, -1].argmax() is the one next token.",
        compute=None,
        error=r"a Tensor with \d+ elements cannot be converted to Scalar|Boolean value of Tensor with more "
        r"than one value is ambiguous",
        example=takes_the_batchs_last_row,
    ),
    Mistake(
        name="the whole buffer returned",
        hint="You returned the whole buffer of prompt + max_new_tokens ids: when <eos> stops the "
        "loop early, its unwritten zeros come back as tokens. Return only what was written, "
        "buffer[:length] (or grow the sequence with torch.cat and return it).",
        compute=_buffer_returned_whole,
        example=returns_the_whole_buffer,
    ),
)
