"""More of ``gpt_forward``'s catalogue: the wrong answers met in the ninth audit (a new output
layer, the first block run every time, one position too few or too many) and the tenth (the
blocks run backwards, the token table called on the hidden states) and the forty-first round (the
chapter's own width, 64, taken for d_model; the final norm also run before every block; the
positions added twice; a mask of integers), each with its hint and a learner-style example (in
``gpt_forward_learners``).
"""

from __future__ import annotations

import math
import types
from functools import partial

import torch

from ..masks import causal_mask
from . import gpt_forward_learners as learner
from .gpt_forward_slips import ROUND_43B
from .gpt_parts import CASE_D, CASE_L, CASE_MAX_LEN, CASE_V, forward
from .harness import Mistake, fresh, varies_between_calls


def _affine_in(hidden: torch.Tensor, got: torch.Tensor) -> bool:
    """``got`` (B, L, V) is an affine function of ``hidden`` (B, L, d), row by row: the
    least-squares fit of got ≈ [hidden, 1] @ A leaves (almost) nothing over."""
    h = hidden.detach().double().flatten(0, 1)
    x = torch.cat([h, torch.ones(h.shape[0], 1, dtype=h.dtype)], dim=1)
    y = got.detach().double().flatten(0, 1)
    fit = torch.linalg.lstsq(x, y).solution
    return bool((x @ fit - y).abs().max() < 1e-3 * (1 + y.abs().max()))


def _new_output_layer(fn, case, got) -> bool:
    """Logits that change from call to call, yet each an affine function of the last hidden
    state (normalised or not): a new, randomly initialised output layer, not dropout. Tested on
    a batch of more rows (B·L) than d_model + 1, so that not every output fits."""
    if not varies_between_calls(fn, case, got):
        return False
    parts = fresh(case)[0]
    ids = torch.randint(CASE_V, (4, CASE_MAX_LEN - 2), generator=torch.Generator().manual_seed(0))
    out = fn(*fresh((parts, ids)))
    if not isinstance(out, torch.Tensor) or out.shape != (*ids.shape, CASE_V):
        return False
    with torch.no_grad():
        hidden = [forward(parts, ids, returns="hidden", final_norm=norm) for norm in (True, False)]
    return any(_affine_in(h, out) for h in hidden)


NEW_OUTPUT_LAYER = Mistake(
    name="a new output layer",
    hint="Your result changes from call to call, and each time it is a linear function of the "
    "last hidden state: the output layer is a layer made inside your function (nn.Linear(…)), "
    "untrained and with new random weights at every call, not dropout. This GPT's output layer "
    "is TIED to the token table and has no weights of its own: x @ parts.token.weight.T, with "
    "x = parts.norm(…) of the last block's output.",
    compute=None,
    recognise=_new_output_layer,
    example=learner.makes_its_own_output_layer,
)

CHAPTER_D_MODEL = 64  # chapter 09's model, whose width a learner may write in by hand

# Chapter 09 does not import lib's causal_mask: a hint that offers it says how to get it.
CAUSAL_MASK_IMPORT = "from transformer_course.masks import causal_mask"
OR_CAUSAL_MASK = f"or causal_mask(L) after `{CAUSAL_MASK_IMPORT}` (chapter 09 does not import it)"


def _variant(
    parts, ids, *, scale=None, position_copies=1, norm_before_blocks=False, ahead=0, backwards=False
):
    """The forward pass with one of the forty-first round's mistakes: the token vectors × ``scale``
    (default √d_model), the positions added ``position_copies`` times, the final norm also
    applied to every block's input; round 45's: each position also sees ``ahead`` tokens after
    it, the positions numbered ``backwards`` (L-1 … 0)."""
    length = ids.shape[1]
    scale = math.sqrt(parts.token.embedding_dim) if scale is None else scale
    where = torch.arange(length).flip(0) if backwards else torch.arange(length)  # (L,)
    x = parts.token(ids) * scale + position_copies * parts.positions(where)
    sees = causal_mask(length) if ahead == 0 else torch.ones(length, length, dtype=torch.bool).tril(ahead)
    for block in parts.blocks:
        x = block(parts.norm(x) if norm_before_blocks else x, sees)
    return parts.norm(x) @ parts.token.weight.T


def _last_axis(case, got) -> int | None:
    """The size of the last axis of logits shaped (B, L, X), None for any other shape."""
    ids = case[1]
    if not isinstance(got, torch.Tensor) or got.dim() != 3 or tuple(got.shape[:2]) != tuple(ids.shape):
        return None
    return got.shape[-1]


def _scores_another_vocabulary(fn, case, got) -> bool:
    """Logits (B, L, X) for a vocabulary of X tokens other than the parts' (and other than
    d_model, which "no output layer" names, and max_len, "scored with the position table"):
    a model from outside the parts was called."""
    parts = case[0]
    known = (parts.token.num_embeddings, parts.token.embedding_dim, parts.positions.num_embeddings)
    return _last_axis(case, got) not in (None, *known)


def _scores_the_positions(fn, case, got) -> bool:
    """Logits (B, L, max_len): one score per row of the position table, x @ parts.positions.weight.T."""
    parts = case[0]
    return _last_axis(case, got) == parts.positions.num_embeddings != parts.token.num_embeddings


def _learner_scores_the_positions(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(torch.arange(length))
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.positions.weight.T  # the other table: (B, L, max_len)


def _learner_without_the_import(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(torch.arange(length))
    for block in parts.blocks:
        x = block(x, causal_mask(length))  # a name chapter 09 does not import
    return parts.norm(x) @ parts.token.weight.T


# Run with chapter 09's globals, math and torch imported, causal_mask not: as in its cell.
_learner_without_the_import = types.FunctionType(
    _learner_without_the_import.__code__, {"math": math, "torch": torch}, "gpt_forward"
)


def _learner_sees_the_next_token(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(torch.arange(length))
    sees = torch.ones(length, length, dtype=torch.bool).tril(diagonal=1)  # meant: "up to i"
    for block in parts.blocks:
        x = block(x, sees)
    return parts.norm(x) @ parts.token.weight.T


def _learner_counts_the_positions_down(parts, ids):
    length = ids.shape[1]
    where = torch.arange(length - 1, -1, -1)  # the distance from the newest token
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(where)
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.token.weight.T


MORE_MISTAKES = (
    Mistake(
        name="the first block every time",
        hint="You ran the FIRST block as many times as there are blocks (parts.blocks[0] in the "
        "loop, an index that never moves on): each block has its own weights and runs once. "
        "for block in parts.blocks: x = block(x, mask) (or parts.blocks[i] with i the loop's).",
        compute=partial(forward, feed="first each time"),
        example=learner.runs_the_first_block_each_time,
    ),
    Mistake(
        name="positions of the wrong count",
        hint="Your positions are not L in number: a story of L tokens has the positions 0 … L-1, "
        "torch.arange(L), which is L of them; torch.arange(L - 1) (or range(1, L)) makes one "
        "too few, and torch.arange(L + 1) one too many.",
        compute=None,
        error=rf"size of tensor a \({CASE_L}\) must match the size of tensor b \(({CASE_L - 1}|"
        rf"{CASE_L + 1})\) at non-singleton dimension 1",
        example=learner.numbers_one_position_too_few,
    ),
    Mistake(
        name="the blocks in reverse order",
        hint="You ran the blocks in reverse order (reversed(parts.blocks), or parts.blocks[::-1]): "
        "the first block is trained to read the embeddings and each next one the output of the "
        "block before it. Run them in the order given: for block in parts.blocks: "
        "x = block(x, mask).",
        compute=partial(forward, feed="reversed"),
        example=learner.runs_the_blocks_backwards,
    ),
    Mistake(
        name="an embedding given floats",
        hint="You gave an nn.Embedding floats: it looks its rows up by INTEGER ids. "
        "parts.token(x) on the hidden states does not score them against the vocabulary: the "
        "output layer is tied, logits = x @ parts.token.weight.T, with x = parts.norm(…) of the "
        "last block's output. (Positions, too, are integer ids: parts.positions(torch.arange(L)).)",
        compute=None,
        error=r"'indices' to have one of the following scalar types: Long, Int; but got "
        r"torch\.[\w.]*(Float|Double|Half|BFloat16)Tensor",  # torch.cuda.FloatTensor too
        example=learner.looks_up_the_output,
    ),
    Mistake(
        name="the chapter's d_model",
        hint=f"You scaled the token vectors by √{CHAPTER_D_MODEL}, the width of the chapter's model "
        f"(config.d_model): the parts you are given are {CASE_D} wide here. Read the width from "
        "them: math.sqrt(parts.token.embedding_dim).",
        compute=partial(_variant, scale=math.sqrt(CHAPTER_D_MODEL)),
        example=learner.scales_by_the_chapters_width,
    ),
    Mistake(
        name="final norm before every block",
        hint="You applied parts.norm to each block's input: a pre-norm block already normalises "
        "its input itself, inside, with its own LayerNorms (x + f(LN(x))). Give each block x as "
        "it is, x = block(x, mask), and apply parts.norm once, after the last block.",
        compute=partial(_variant, norm_before_blocks=True),
        example=learner.norms_before_every_block,
    ),
    Mistake(
        name="positions added twice",
        hint="You added the position vectors twice: add parts.positions(torch.arange(L)) once, "
        "to the scaled token vectors, before the first block.",
        compute=partial(_variant, position_copies=2),
        example=learner.adds_the_positions_twice,
    ),
    Mistake(
        name="an integer mask",
        hint="Your mask holds integers (dtype=torch.long, .int(), .long()): lib's masks are bool, "
        "True = may attend (chapter 06). Make it bool: torch.ones(L, L, dtype=torch.bool).tril(), "
        f"{OR_CAUSAL_MASK}.",
        compute=None,
        error=r"mask must be a bool tensor \(True = may attend\), got torch\.u?int",
        example=learner.integer_mask,
    ),
    Mistake(
        name="a model other than the parts",
        hint=f"Your logits score another vocabulary than the parts' ({CASE_V} tokens here): did you call "
        "a model of the chapter (untrained(ids), model(ids)), or use its config or vocab? The "
        "function must use only its arguments, parts and ids: the checker hands it a smaller model "
        "than the chapter's.",
        compute=None,
        recognise=_scores_another_vocabulary,
        example=learner.calls_a_model_of_its_own,
    ),
    Mistake(
        name="scored with the position table",
        hint="Your logits have one score per POSITION (max_len of them), not per token: you "
        "scored with the position table. The output projection is the TOKEN table, tied: "
        "parts.norm(x) @ parts.token.weight.T, (B, L, d) → (B, L, V); parts.positions only adds "
        "a vector per position at the start.",
        compute=None,
        recognise=_scores_the_positions,
        example=_learner_scores_the_positions,
    ),
    Mistake(
        name="causal_mask not imported",
        hint=f"causal_mask is lib's, and chapter 09 does not import it: `{CAUSAL_MASK_IMPORT}` "
        "first (it makes the (L, L) bool mask, True = may attend), or build the mask yourself: "
        "torch.ones(L, L, dtype=torch.bool).tril().",
        compute=None,
        error=r"NameError: name 'causal_mask' is not defined",
        example=_learner_without_the_import,
    ),
    Mistake(
        name="the chapter's model, not made yet",
        hint="`model` is not defined when the exercise runs: the chapter makes the model it trains "
        "later. And this function must use only its arguments: the parts (parts.token, "
        "parts.positions, parts.blocks, parts.norm) and ids.",
        compute=None,
        error=r"NameError: name 'model' is not defined",
        example=learner.calls_the_trained_model,
    ),
    *ROUND_43B,  # round 43b's battery: in gpt_forward_slips
    # --- round 45's adversarial pass ---
    Mistake(
        name="the next token seen",
        hint="Your mask lets each position see the token right AFTER it too (.tril(1), or "
        ".tril(diagonal=1)): the model then reads the very token it is asked to predict. "
        "Position i sees 0 … i, itself included and nothing after: .tril(), whose diagonal is 0.",
        compute=partial(_variant, ahead=1),
        example=_learner_sees_the_next_token,
    ),
    Mistake(
        name="positions numbered backwards",
        hint="You numbered the positions from the end, L-1 … 0 (torch.arange(L - 1, -1, -1), or "
        ".flip(0)): the first token is at position 0 and the last at L-1, so that a token keeps "
        "its position as the story grows. parts.positions(torch.arange(L)).",
        compute=partial(_variant, backwards=True),
        example=_learner_counts_the_positions_down,
    ),
)
