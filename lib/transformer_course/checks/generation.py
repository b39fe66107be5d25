"""Exercise 08: greedy decoding of one sequence.

``fn(logits_fn, prompt (t0,), max_new_tokens, eos_id) → ids (t0 + n,)`` with
``logits_fn(prefix (1, t)) → logits (1, t, V)``: feed the whole sequence so far, take the
argmax over the vocabulary at the last position, append it, stop after ``eos_id`` (kept)
or after ``max_new_tokens`` new tokens; return the prompt followed by the new ids.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from ..generation import generate
from . import asked_for
from . import generation_learners as learner
from .built_ins import note_built_ins
from .generation_learners import by_hand
from .generation_more import MORE_MISTAKES
from .generation_slips import ROUND_43B, ROUND_43B_FIRST, SLIPS
from .harness import Exercise, Mistake, Result, check_function, varies_between_calls
from .stale import learner_check

# --- The learner's side: the starter, a worked solution (more answers: generation_learners) ---


def starter(logits_fn, prompt: torch.Tensor, max_new_tokens: int, eos_id: int) -> torch.Tensor:
    """Greedy decoding of one sequence: prompt (t0,) → prompt + new ids, (t0 + n,)."""
    raise NotImplementedError


def solution(logits_fn, prompt: torch.Tensor, max_new_tokens: int, eos_id: int) -> torch.Tensor:
    """Greedy decoding of one sequence: prompt (t0,) → prompt + new ids, (t0 + n,)."""
    ids = prompt.clone()
    for _ in range(max_new_tokens):
        token = logits_fn(ids.unsqueeze(0))[0, -1].argmax(dim=-1)  # last position, over the vocabulary
        ids = torch.cat([ids, token.view(1)])
        if int(token) == eos_id:
            break
    return ids


ALTERNATIVES = {
    "lib's generate": lambda f, p, n, e: generate(f, p, max_new_tokens=n, eos_id=e).ids,
    "by hand, every switch off": by_hand,
    "a Python list and a while loop": learner.python_list,
    "a generator of tokens, islice": learner.from_a_generator_of_tokens,
}


# --- The checker's side: a fake model, reference, test cases, the catalogue of mistakes ---


class CountingModel:
    """A fake language model for the greedy-decoding exercise (no training needed).

    prefix (1, t) → logits (1, t, V). Row i favours one next token that depends on the
    whole prefix up to i (a weighted sum of the ids, so order and history matter), and
    it writes <eos> (id 1) once the prefix is ``stop_at`` tokens long. The winner leads the
    others by little (its probability is about 0.3), so that a decoder that samples instead
    of taking the argmax goes astray within a few steps, whatever its random numbers.
    """

    vocab_size = 9
    eos_id = 1
    max_calls = 100  # a right answer calls it at most max_new_tokens times (≤ 8 in _cases)

    def __init__(self, stop_at: int):
        self.stop_at = stop_at
        self.calls = 0  # per answer: the checker gives every call its own copy

    def next_id(self, ids: list[int]) -> int:
        if len(ids) >= self.stop_at:
            return self.eos_id
        return 2 + (sum((k + 1) * i for k, i in enumerate(ids)) + len(ids)) % (self.vocab_size - 2)

    def __call__(self, prefix: torch.Tensor) -> torch.Tensor:
        if not isinstance(prefix, torch.Tensor) or prefix.dim() != 2 or prefix.shape[0] != 1:
            got = tuple(prefix.shape) if isinstance(prefix, torch.Tensor) else type(prefix).__name__
            raise ValueError(f"logits_fn expects the prefix as a (1, t) tensor of ids, got {got}")
        if prefix.is_floating_point() or prefix.dtype == torch.bool:  # a model looks ids up in a table
            raise ValueError(
                f"logits_fn expects the ids as integers (torch.long), got {prefix.dtype}: keep them "
                "long, e.g. torch.cat([ids, token.view(1)]) with token from argmax, not a float"
            )
        self.calls += 1
        if self.calls > self.max_calls:  # a loop that never ends would hang the notebook
            raise RuntimeError(
                f"logits_fn was called more than {self.max_calls} times for one answer: the loop "
                "does not stop"
            )
        ids = prefix[0].tolist()
        t = len(ids)
        # A fixed, uneven background so no two entries tie, plus a clear winner per row.
        background = torch.arange(t * self.vocab_size, dtype=torch.float32).reshape(t, self.vocab_size)
        logits = torch.sin(background * 1.7) * 0.5
        for i in range(t):
            logits[i, self.next_id(ids[: i + 1])] += 1.2
        return logits.unsqueeze(0)


def reference(
    logits_fn,
    prompt,
    max_new_tokens,
    eos_id,
    *,
    history=True,
    append=True,
    stop=True,
    pick=lambda logits: logits[0, -1].argmax(),
    budget=lambda max_new_tokens, prompt: max_new_tokens,
):
    """Greedy decoding, or one of its usual mistakes."""
    ids = prompt.clone()
    fed = prompt.clone()
    for _ in range(budget(max_new_tokens, prompt)):
        logits = logits_fn((fed if history else fed[-1:]).unsqueeze(0))
        token = int(pick(logits))
        ids = torch.cat([ids, torch.tensor([token])])
        if append == "new only":  # the prompt once, then only the token just chosen
            fed = torch.tensor([token])
        elif append:
            fed = ids
        if stop == "anywhere" and eos_id in ids.tolist():
            break
        if stop == "late" and ids.numel() - prompt.numel() > 1 and int(ids[-2]) == eos_id:
            break  # one token written after the <eos>
        if stop in (True, "anywhere") and token == eos_id:
            break
    return ids


def _cases():
    return [
        (CountingModel(stop_at=6), torch.tensor([3, 5]), 8, 1),
        (CountingModel(stop_at=20), torch.tensor([4, 2, 7]), 4, 1),  # stops at max_new_tokens
        (CountingModel(stop_at=20), torch.tensor([2]), 5, 1),
        (CountingModel(stop_at=5), torch.tensor([4, 2, 7]), 6, 1),
        # a prompt that holds an <eos> (a story ended, the next begins): the loop goes on
        (CountingModel(stop_at=7), torch.tensor([3, 1, 6]), 6, 1),
        # … even when the prompt ends with it: the first new token comes after the <eos>
        (CountingModel(stop_at=6), torch.tensor([5, 1]), 6, 1),
    ]


IDS_AS_FLOATS = Mistake(
    name="ids as floats",
    hint="Your ids are floats (1.0, 7.0…): token ids are whole numbers, and nn.Embedding refuses "
    "floats. Keep the prompt's dtype (torch.cat onto prompt.clone()), or build the buffer with "
    "dtype=torch.long.",
    compute=None,
    # Whole numbers only: floats that are not (a score in place of its index) are another mistake.
    recognise=lambda fn, case, got: (
        isinstance(got, torch.Tensor) and got.is_floating_point() and bool(torch.equal(got, got.round()))
    ),
    example=learner.collects_floats,
)


def _stops_at_the_prompts_end(logits_fn, prompt, max_new_tokens, eos_id):
    """Nothing written after a prompt that ends with <eos>; greedy decoding otherwise."""
    if prompt.numel() and int(prompt[-1]) == eos_id:
        return prompt.clone()
    return reference(logits_fn, prompt, max_new_tokens, eos_id)


def _strip_eos(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    return ids[:-1] if ids.numel() and int(ids[-1]) == eos_id else ids


MISTAKES = (
    Mistake(
        name="token never fed back",
        hint="Your loop never adds the chosen token to what it feeds the model, so the model sees "
        "the same prompt every time and repeats itself. After choosing, append the token "
        "(ids = torch.cat([ids, token])) and feed the grown sequence next step.",
        compute=partial(reference, append=False),
        example=partial(by_hand, append=False),
    ),
    Mistake(
        name="last token only",
        hint="You fed the model only the last token, without the history: each step must see the "
        "whole sequence so far (prompt + everything generated), not just ids[-1:].",
        compute=partial(reference, history=False),
        example=partial(by_hand, history=False),
    ),
    Mistake(
        name="only the new token fed back",
        hint="After the first step you fed the model only the token just chosen, as if it kept "
        "a cache of the earlier ones: this model keeps nothing between calls, so each step must "
        "see the whole sequence so far, logits_fn(ids.unsqueeze(0)) with the new token appended "
        "to ids.",
        compute=partial(reference, append="new only"),
        example=learner.feeds_the_new_token_only,
    ),
    Mistake(
        name="argmin",
        hint="You took the argmin, the LEAST likely token: greedy decoding takes the most likely, "
        "logits[0, -1].argmax().",
        compute=partial(reference, pick=lambda lg: lg[0, -1].argmin()),
        example=lambda f, p, n, e: learner.takes_the_least_likely(f, p, n, e),
    ),
    Mistake(
        name="append on a tensor",
        hint="A tensor has no .append (lists do): either keep the ids in a Python list, ids = "
        "prompt.tolist(), append int(token), and return torch.tensor(ids); or grow the tensor, "
        "ids = torch.cat([ids, token.view(1)]).",
        compute=None,
        error=r"'Tensor' object has no attribute 'append'",
        example=learner.appends_to_a_tensor,
    ),
    Mistake(
        name="no stop at <eos>",
        hint="Your output goes on after <eos>: stop the loop as soon as the chosen token is eos_id "
        "(keep the eos itself in the output).",
        compute=partial(reference, stop=False),
        example=partial(by_hand, stop=False),
    ),
    Mistake(
        name="one token past <eos>",
        hint="Your output goes one token past <eos>: the loop writes the next token before it "
        "stops. Stop right after appending the <eos>: ids = torch.cat([ids, token.view(1)]), "
        "then if int(token) == eos_id: break, in the same step.",
        compute=partial(reference, stop="late"),
        example=learner.stops_one_step_late,
    ),
    Mistake(
        name="stops at an <eos> in the prompt",
        hint="Your loop stopped because eos_id is somewhere in the ids, the prompt included: a "
        "prompt may hold an <eos> (one sequence ended, the next begins). Stop when the token just "
        "chosen is eos_id: if int(token) == eos_id.",
        compute=partial(reference, stop="anywhere"),
        example=lambda f, p, n, e: learner.looks_for_eos_anywhere(f, p, n, e),
    ),
    Mistake(
        name="stops after a prompt that ends with <eos>",
        hint="Your loop wrote nothing after a prompt that ends with <eos>: it tests the LAST id, "
        "which is the prompt's own before anything is generated. A prompt may end with <eos> "
        "(one sequence ended, the next begins). Stop on the token just chosen: generate, append, "
        "then if int(token) == eos_id: break.",
        compute=_stops_at_the_prompts_end,
        example=learner.checks_the_last_id_first,
    ),
    Mistake(
        name="a 0-d token concatenated",
        hint="argmax gives a 0-d tensor, a single number with no axis, and torch.cat joins tensors "
        "along an axis: give the token one, torch.cat([ids, token.view(1)]) (or token.unsqueeze(0), "
        "or argmax(dim=-1, keepdim=True)).",
        compute=None,
        error=r"zero-dimensional tensor .*cannot be concatenated",
        example=learner.cats_a_number,
    ),
    Mistake(
        name="<eos> dropped",
        hint="Your output leaves out <eos>: when the model writes eos_id, append it, then stop; "
        "the output ends with the eos token.",
        compute=lambda f, p, n, e: _strip_eos(reference(f, p, n, e), e),
        example=partial(by_hand, eos_kept=False),
    ),
    Mistake(
        name="argmax over the positions",
        hint="argmax over the wrong axis: logits are (1, t, V), and the next token is the argmax "
        "over the vocabulary (the last axis, dim=-1) at the last position, logits[0, -1].",
        compute=partial(reference, pick=lambda lg: lg[0].argmax(dim=0)[-1]),
        example=partial(by_hand, pick="axis"),
    ),
    Mistake(
        name="argmax without a dim",
        hint="argmax without a dim flattens the (1, t, V) logits, so you get a position × vocabulary "
        "index, not a token id. Take logits[0, -1].argmax() (the last position's row).",
        compute=partial(reference, pick=lambda lg: lg.argmax()),
        example=partial(by_hand, pick="flat"),
    ),
    Mistake(
        name="first position",
        hint="You read the scores of the first position (logits[0, 0]); the next token is predicted "
        "at the LAST position: logits[0, -1].",
        compute=partial(reference, pick=lambda lg: lg[0, 0].argmax()),
        example=partial(by_hand, pick="first"),
    ),
    Mistake(
        name="samples",
        hint="Your decoder gives different answers from one call to the next: it draws at random. "
        "Greedy decoding takes the most likely token every time: logits[0, -1].argmax().",
        compute=None,
        recognise=varies_between_calls,
        example=partial(by_hand, pick="sample"),
    ),
    Mistake(
        name="max_new_tokens counts the prompt",
        hint="Your output stops short: max_new_tokens counts only the NEW tokens, not the "
        "prompt. Loop max_new_tokens times (or until <eos>), whatever the prompt's length.",
        compute=partial(reference, budget=lambda n, p: n - p.shape[0]),
        example=partial(by_hand, count_prompt=True),
    ),
    Mistake(
        name="one new token too few",
        hint="Your output stops one token short: range(max_new_tokens - 1) (or a while loop "
        "that stops one step early) writes max_new_tokens - 1 tokens. Loop exactly "
        "max_new_tokens times, unless <eos> comes first.",
        compute=partial(reference, budget=lambda n, p: n - 1),
        example=lambda f, p, n, e: by_hand(f, p, n - 1, e),
    ),
    Mistake(
        name="one new token too many",
        hint="Your output runs one token past the limit: max_new_tokens is how many NEW tokens "
        "may be written, at most. Loop max_new_tokens times (range(max_new_tokens)), unless "
        "<eos> comes first.",
        compute=partial(reference, budget=lambda n, p: n + 1),
        example=lambda f, p, n, e: learner.counts_to_the_limit(f, p, n, e),
    ),
    Mistake(
        name="no max_new_tokens limit",
        hint="Your loop runs until <eos> and never stops at max_new_tokens: no limit at all, or a "
        "counter that is never increased (while n < max_new_tokens: … without n += 1). A model "
        "need not ever write <eos>, so stop after max_new_tokens new tokens as well "
        "(for _ in range(max_new_tokens): … break at <eos>).",
        compute=partial(reference, budget=lambda n, p: 10**6),
        example=partial(by_hand, bounded=False),
    ),
    Mistake(
        name="a loop that never ends",
        hint="Your loop never ends: it asked the model for a next token over and over without "
        "reaching <eos> or the limit. Loop at most max_new_tokens times, and feed the whole "
        "sequence so far back each time (with the new token), so the model sees it grow.",
        compute=None,
        error=r"called more than \d+ times for one answer",
        example=partial(by_hand, bounded=False, history=False),
    ),
    Mistake(
        name="new tokens only",
        hint="Return the prompt followed by the new tokens, not only the new tokens.",
        compute=lambda f, p, n, e: reference(f, p, n, e)[p.shape[0] :],
        example=partial(by_hand, whole=False),
    ),
    IDS_AS_FLOATS,  # last: floats are never the ids, right values or not
)
MISTAKES += ROUND_43B_FIRST + MORE_MISTAKES  # the ninth audit: generation_more (43b's: _slips)
MISTAKES += SLIPS + ROUND_43B  # round 42b's and 43b's batteries: generation_slips


@learner_check
def check_greedy_decode(learner_fn: Callable) -> Result:
    """Exercise 08: ``fn(logits_fn, prompt (t0,), max_new_tokens, eos_id) → ids (t0 + n,)``.

    ``logits_fn(prefix (1, t)) → logits (1, t, V)``. Greedy: feed the whole sequence so
    far, take the argmax over the vocabulary at the last position, append it, stop after
    ``eos_id`` or ``max_new_tokens`` new tokens; return the prompt followed by the new ids.
    """
    cases = _cases()
    result = check_function(learner_fn, reference, cases, name="greedy_decode", mistakes=MISTAKES)
    return note_built_ins(result, learner_fn, cases, asked_for.GREEDY_DECODE)


EXERCISES = (
    Exercise(
        name="greedy_decode",
        chapter="08",
        check=check_greedy_decode,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
