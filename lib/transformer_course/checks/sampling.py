"""Exercise 08d: sampling the next token with a temperature and top-k.

``fn(logits (B, V), temperature > 0, top_k (None or 1 … V)) → ids (B,)``: divide the logits by
the temperature, keep the k largest (the others get probability 0), softmax, draw one token
per row.

A draw is random, so the checker does not compare ids. It gives the learner's function the
same two rows of logits thousands of times and compares how often each token comes out with
the probabilities it should be drawn with: a correct sampler lands within a few hundredths
of them, whatever way it draws (multinomial, Categorical, the Gumbel trick…), and each
catalogued mistake lands near its own, different distribution.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from ..generation import next_token_probs
from . import asked_for
from . import sampling_learners as learner
from .built_ins import note_built_ins
from .harness import LEARNER_ERRORS, WRONG, Exercise, Mistake, Result, check_function
from .sampling_draws import ATOL, ROWS, NotIds, returned
from .sampling_draws import frequencies as _frequencies  # the name tests import from here
from .sampling_learners import by_hand
from .sampling_more import KEEPDIM, MASKED_PROBABILITIES, MORE_MISTAKES, took_the_kth_value
from .sampling_round50 import NONE_KEEPS_ONE, ROUND_50, note_reseeding
from .sampling_round50b import ROUND_50B
from .sampling_round51 import ROUND_51, probe
from .sampling_slips import KTHVALUE, SLIP_MISTAKES
from .stale import learner_check

# --- The learner's side: the starter, a worked solution (more answers: sampling_learners) ---


def starter(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """logits (B, V) → one sampled token id per row, (B,)."""
    raise NotImplementedError


def solution(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """logits (B, V) → one sampled token id per row, (B,)."""
    logits = logits / temperature  # T < 1 sharpens, T > 1 flattens
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1): each row's k-th largest
        logits = logits.masked_fill(logits < kth, float("-inf"))  # the rest: probability 0
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1).squeeze(-1)  # (B, 1) → (B,)


ALTERNATIVES = {
    "lib's next_token_probs, multinomial": lambda logits, t, k: torch.multinomial(
        next_token_probs(logits, temperature=t, top_k=k), 1
    ).view(-1),
    "torch.distributions.Categorical": learner.with_categorical,
    "the Gumbel-max trick, float64": learner.gumbel_max,
    "by hand, every switch off": by_hand,
    "an exponential race": learner.exponential_race,
}


# --- The checker's side: what is drawn, test cases, the catalogue of mistakes ---


def distribution(
    logits,
    temperature,
    top_k,
    *,
    temp="divide",
    keep=0,
    fill=-math.inf,
    pick="sample",
    index="vocab",
    uniform=False,
):
    """The probabilities each distinct row's token is drawn with, (2, V), right or mistaken.

    ``logits`` is the (2·ROWS, V) batch the learner gets; its rows 0 and ROWS are the two
    distinct ones.
    """
    rows = logits[[0, ROWS]].double()
    if temp == "divide":
        rows = rows / temperature
    elif temp == "multiply":
        rows = rows * temperature
    if pick == "argmax":
        return F.one_hot(rows.argmax(dim=-1), rows.shape[-1]).double()
    if top_k is None:
        return torch.softmax(rows, dim=-1)
    top = rows.topk(top_k + keep, dim=-1)
    if uniform:  # each of the k largest equally likely
        return torch.zeros_like(rows).scatter(-1, top.indices, 1.0 / top_k)
    if index == "position":  # ids 0 … k-1 stand for the positions in the sorted top k
        return F.pad(torch.softmax(top.values, dim=-1), (0, rows.shape[-1] - top_k - keep))
    kept = rows.masked_fill(rows < top.values[:, -1:], fill)
    return torch.softmax(kept, dim=-1)


def _cases() -> list[tuple]:
    # Two different rows of logits (different winners, one with a heavy tail), each repeated
    # ROWS times, chosen so that the right distribution and every mistake's are at least 0.1
    # apart wherever they differ (tests/test_exercises.py checks it): at T = 0.5 or 2 a
    # temperature that does nothing or multiplies is far off; with top_k = 3 or 2 of 6, a
    # top-k off by one, ignored or filled with 0 moves a whole token's probability.
    a = torch.tensor([1.3, -1.4, 2.4, -0.3, 0.4, 0.0])
    b = torch.tensor([-1.8, 2.7, 1.9, 2.3, 2.8, 2.9])
    logits = torch.cat([a.expand(ROWS, -1), b.expand(ROWS, -1)])
    return [(logits, 2.0, None), (logits, 0.5, None), (logits, 1.0, 3), (logits, 2.5, 2)]


MULTINOMIAL_HINT = "torch.multinomial needs probabilities (≥ 0)"
EMPTIED_ROW = Mistake(
    name="top-k empties a row",
    hint="Your sampler draws without top_k, but with it torch.multinomial refuses: your top-k left "
    "a row with no token at all, and every logit −∞ gives a softmax of NaN. The threshold must "
    "be each row's OWN k-th largest logit, logits.topk(k, dim=-1).values[:, -1:], not one taken "
    "over the whole batch.",
    compute=None,  # named by check_sample_next_token: multinomial failing only where top_k is set
    example=learner.thresholds_the_whole_batch,
)


def _learner_forgets_to_return(logits, temperature, top_k):
    ids = solution(logits, temperature, top_k)  # noqa: F841 (the missing line: return ids)


MISTAKES = (
    Mistake(
        name="ids of shape (B, 1)",
        hint="Your ids have shape (B, 1): torch.multinomial(probs, 1) keeps an axis for the "
        "samples. Drop it with .squeeze(-1), so there is one id per row, (B,).",
        compute=None,
        recognise=returned(lambda got, bv: got.is_tensor((bv[0], 1), floating=False)),
        example=partial(by_hand, shape="column"),
    ),
    Mistake(
        name="returned the probabilities",
        hint="You returned the probabilities, (B, V): the last step is to DRAW one token per row "
        "from them, torch.multinomial(probs, 1).squeeze(-1).",
        compute=None,
        recognise=returned(lambda got, bv: got.is_tensor(bv, floating=True)),
        example=partial(by_hand, shape="probs"),
    ),
    Mistake(
        name="returned nothing",
        hint="Your function returned None: is its `return` line missing? Return the ids drawn, "
        "one per row of logits, shape (B,).",
        compute=None,
        recognise=lambda fn, case, got: isinstance(got, NotIds) and got.value is None,
        example=lambda logits, temperature, top_k: _learner_forgets_to_return(logits, temperature, top_k),
    ),
    Mistake(
        name="not ids",
        hint="Return one token id per row of logits: a tensor of shape (B,) holding integers from "
        "0 to V-1, such as torch.multinomial(probs, 1).squeeze(-1).",
        compute=None,
        recognise=returned(lambda got, bv: True),
        example=lambda logits, temperature, top_k: solution(logits, temperature, top_k).tolist(),
    ),
    Mistake(
        name="multinomial on logits",
        hint=f"{MULTINOMIAL_HINT}: apply the softmax to the logits first, then draw from the result.",
        compute=None,
        error="probability tensor contains",
        example=lambda logits, temperature, top_k: torch.multinomial(logits / temperature, 1).squeeze(-1),
    ),
    EMPTIED_ROW,
    MASKED_PROBABILITIES,  # named by check_sample_next_token too
    Mistake(
        name="Categorical given the logits as probs",
        hint="Categorical(x) reads x as PROBABILITIES (its first parameter is probs), and logits "
        "are not: some are negative. Name them, torch.distributions.Categorical(logits=logits).",
        compute=None,
        error=r"Expected parameter probs .*Categorical",
        example=learner.categorical_of_logits,
    ),
    Mistake(
        name=".item() on a batch",
        hint=".item() turns a tensor of ONE number into a Python number, and there is one id per "
        "row of logits: return the (B,) tensor itself, torch.multinomial(probs, 1).squeeze(-1).",
        compute=None,
        error=r"Tensor with \d+ elements cannot be converted to Scalar",
        example=learner.takes_the_item,
    ),
    Mistake(
        name="top-k keeps only the largest",
        hint="Your top-k keeps only the single largest logit, so it always draws the same token: "
        "you compared with the LARGEST of the top k (values[:, 0], or [:, :1]) instead of the "
        "k-th largest. topk sorts from largest to smallest, so the k-th is the last: "
        "logits.topk(k).values[:, -1:].",
        compute=lambda logits, temperature, top_k: distribution(logits, temperature, top_k and 1),
        example=lambda logits, t, k: learner.compares_with_the_largest(logits, t, k),
    ),
    Mistake(
        name="argmax",
        hint="You took the most likely token every time (argmax): that is greedy decoding. "
        "Sampling DRAWS from the probabilities: torch.multinomial(probs, 1).",
        compute=partial(distribution, pick="argmax"),
        example=partial(by_hand, pick="argmax"),
    ),
    Mistake(
        name="temperature has no effect",
        hint="Your temperature changes nothing: it must divide the LOGITS before the softmax. "
        "(Dividing the probabilities after the softmax changes nothing once they are "
        "renormalised, and neither does adding it to every logit.)",
        compute=partial(distribution, temp="none"),
        example=partial(by_hand, temp="after"),
    ),
    Mistake(
        name="temperature multiplied",
        hint="You multiplied the logits by the temperature (or, the same after renormalising, "
        "raised the probabilities to the power T); divide the logits: logits / T, so that "
        "T > 1 flattens the distribution and T < 1 sharpens it.",
        compute=partial(distribution, temp="multiply"),
        example=partial(by_hand, temp="multiply"),
    ),
    Mistake(
        name="top-k keeps k+1",
        hint="Your top-k keeps one token too many (k + 1): keep exactly the k largest logits, "
        "logits.topk(k).values[:, -1:] is the k-th largest, and everything below it goes.",
        compute=partial(distribution, keep=1),
        example=partial(by_hand, keep=1),
    ),
    Mistake(
        name="top-k keeps k-1",
        hint="Your top-k keeps one token too few (k - 1): the k-th largest logit itself stays. "
        "Block only what is strictly below it, logits < kth.",
        compute=partial(distribution, keep=-1),
        example=partial(by_hand, keep=-1),
    ),
    Mistake(
        name="top-k ignored",
        hint="top_k has no effect: tokens outside the k largest logits are still drawn. Set their "
        "logits to -inf before the softmax.",
        compute=lambda logits, temperature, top_k: distribution(logits, temperature, None),
        example=lambda logits, temperature, top_k: solution(logits, temperature, None),
    ),
    Mistake(
        name="top-k filled with 0",
        hint="You set the dropped logits to 0, and exp(0) = 1 still gives them probability. Set "
        "them to float('-inf'), whose exp is 0.",
        compute=partial(distribution, fill=0.0),
        example=partial(by_hand, fill=0.0),
    ),
    Mistake(
        name="the k-th largest without its axis",
        hint="The k-th largest logit of each row has shape (B,), and comparing it with the (B, V) "
        "logits lines it up with the wrong axis. Keep one axis per row: "
        "logits.topk(k).values[:, -1:] (or [..., -1, None]), shape (B, 1).",
        compute=None,
        error=rf"must match the size of tensor b \({2 * ROWS}\)",
        failed_at=took_the_kth_value,
        example=learner.keeps_no_axis,
    ),
    Mistake(
        name="top_k None not handled",
        hint="top_k may be None, which means no top-k at all: every token stays. Filter only when "
        "it is given: if top_k is not None: ….",
        compute=None,
        error=r"must be int, not NoneType",
        example=learner.forgets_none,
    ),
    Mistake(
        name="uniform over the top k",
        hint="You drew uniformly among the k largest: each of them must keep its own softmax "
        "probability. Set the logits outside the top k to -inf, then softmax and "
        "torch.multinomial over all V.",
        compute=partial(distribution, uniform=True),
        example=learner.picks_any_of_the_top_k,
    ),
    Mistake(
        name="position in the top k",
        hint="You returned the position within the top k (0 … k-1), not the token's id: map it "
        "back through topk's .indices, or mask the logits outside the top k and draw from all V.",
        compute=partial(distribution, index="position"),
        example=partial(by_hand, index="position"),
    ),
)
MISTAKES += MORE_MISTAKES  # met in the ninth audit: sampling_more
# Round 42's battery (sampling_slips): kthvalue first, as it keeps k + 1 where k = V/2.
MISTAKES = (KTHVALUE, KEEPDIM, *MISTAKES, *SLIP_MISTAKES)  # KEEPDIM: round 47c
MISTAKES = (NONE_KEEPS_ONE, *MISTAKES, *ROUND_50, *ROUND_50B)  # round 50: sampling_round50, _round50b
MISTAKES = (*ROUND_51, *MISTAKES)  # round 51: B draws per row, named by a small batch first


@learner_check
def check_sample_next_token(learner_fn: Callable) -> Result:
    """Exercise 08d: ``fn(logits (B, V), temperature, top_k) → ids (B,)``, one token drawn per row
    from softmax(logits / T) restricted to the top k. Compared by how often each token is drawn."""
    if not callable(learner_fn):
        raise ValueError(f"learner_fn must be a function, got {type(learner_fn).__name__}")
    cases = _cases()
    drawn_per_row = probe(learner_fn, *cases[0])  # before 20,000 rows: multinomial(probs, B)
    if drawn_per_row:
        return Result(WRONG, drawn_per_row)
    result = check_function(
        _frequencies(learner_fn),
        distribution,
        cases,
        name="sample_next_token",
        mistakes=MISTAKES,
        atol=ATOL,
    )
    emptied = re.search(r"\(sample_next_token raised \w+ on input #(\d+)", result.message)
    if result.message.startswith(MULTINOMIAL_HINT) and emptied and cases[int(emptied[1]) - 1][2]:
        # The cases without top_k came first and drew fine: the filtering broke the probabilities,
        # for the batch only (a row left empty) or for each row (−∞ or NaN among them).
        case = cases[int(emptied[1]) - 1]
        named = MASKED_PROBABILITIES if _raises(learner_fn, case[0][:1].clone(), *case[1:]) else EMPTIED_ROW
        return Result(WRONG, f"{named.hint} {result.message[emptied.start() :]}")
    differs = re.match(r"sample_next_token differs from the reference on input #(\d+)", result.message)
    if result.status != WRONG or differs is None:
        noted = note_built_ins(result, learner_fn, cases, asked_for.SAMPLE_NEXT_TOKEN)
        return note_reseeding(noted, learner_fn)  # round 50: torch.manual_seed inside
    # The generic message points into a table of frequencies the learner never sees: say it
    # in draws instead, with the knobs of that input.
    number = int(differs.group(1))
    return Result(WRONG, _draws_differ(learner_fn, cases[number - 1], number) or result.message)


def _raises(learner_fn: Callable, *args) -> bool:
    """Whether the learner's sampler raises on ``args`` (drawing from a forked random state)."""
    try:
        with torch.random.fork_rng(devices=[]):
            learner_fn(*args)
    except LEARNER_ERRORS:
        return True
    return False


def _draws_differ(learner_fn: Callable, case: tuple, number: int) -> str | None:
    """The token drawn furthest from its rate on ``case``, in words (None if it cannot be
    measured again: the function raised, or returned no ids this time)."""
    logits, temperature, top_k = case
    try:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(0)  # as check_function seeds each call
            got = _frequencies(learner_fn)(logits.clone(), temperature, top_k)
    except LEARNER_ERRORS:
        return None
    if isinstance(got, NotIds):
        return None
    want = distribution(logits, temperature, top_k)  # (2, V)
    row, token = divmod(int((got - want).abs().argmax()), want.shape[-1])
    knobs = f"temperature {temperature:g}, top_k {top_k}"
    values = [round(x, 1) for x in logits[row * ROWS].tolist()]
    # The row of the two the learner can tell apart, not its index in the tiled batch.
    return (
        f"sample_next_token differs from the reference on input #{number} ({knobs}): for logits "
        f"row {row} (of 2 distinct rows, each repeated {ROWS:,} times), {values}, token {token} "
        f"came out in {float(got[row, token]):.1%} of {ROWS:,} draws, where it should come out in "
        f"{float(want[row, token]):.1%}. Check each step: divide the logits by the temperature, "
        "keep the top_k largest (the others −∞), softmax over the vocabulary (dim=-1), then draw "
        "one token per row."
    )


EXERCISES = (
    Exercise(
        name="sample_next_token",
        chapter="08",
        check=check_sample_next_token,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
