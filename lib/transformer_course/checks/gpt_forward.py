"""Exercise 09a: the GPT's forward pass, from its parts.

``fn(parts, ids (B, L)) → logits (B, L, V)``: embed (token vector × √d_model + the learned
vector of each position 0 … L-1), run the blocks in order under the causal mask, apply the
final LayerNorm, and score every token with the token table itself (the output layer is
tied to the embedding). ``parts`` is a ``GptParts``; ``of(model)`` takes them from lib's
``DecoderOnlyTransformer``, whose forward is then the right answer on ids without <pad>.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch

from . import gpt_forward_learners as learner
from . import layer_errors
from .gpt_forward_learners import by_hand
from .gpt_forward_more import MORE_MISTAKES, NEW_OUTPUT_LAYER, OR_CAUSAL_MASK
from .gpt_forward_round50b import ROUND_50B
from .gpt_parts import CASE_B, CASE_D, CASE_L, CASE_MAX_LEN, CASE_V, GptParts, forward, one_position_fewer
from .gpt_parts import cases as _cases  # every exercise module's name for its cases
from .harness import Exercise, Mistake, Result, check_function, draws_at_random
from .stale import learner_check

# --- The learner's side: the starter, a worked solution (more answers: gpt_forward_learners) ---


def starter(parts: GptParts, ids: torch.Tensor) -> torch.Tensor:
    """ids (B, L), no <pad> → next-token logits (B, L, V)."""
    raise NotImplementedError


def solution(parts: GptParts, ids: torch.Tensor) -> torch.Tensor:
    """ids (B, L), no <pad> → next-token logits (B, L, V)."""
    length, d_model = ids.shape[1], parts.token.embedding_dim
    where = torch.arange(length)  # (L,): the positions 0 … L-1
    x = parts.token(ids) * math.sqrt(d_model) + parts.positions(where)  # (B, L, d_model)
    sees = torch.ones(length, length, dtype=torch.bool).tril()  # (L, L): i sees 0 … i
    for block in parts.blocks:
        x = block(x, sees)
    return parts.norm(x) @ parts.token.weight.T  # (B, L, V): tied, the token table scores


ALTERNATIVES = {
    "by hand, every switch off": by_hand,
    "causal=True, F.linear for the output": learner.with_is_causal,
    "a mask per story, the final norm by hand": learner.one_mask_per_story,
    "functools.reduce over the blocks": learner.reduce_over_the_blocks,
}


# --- The checker's side: the catalogue of mistakes (reference, test cases: gpt_parts) ---


MISTAKES = (
    Mistake(
        name="output matrix not transposed",
        hint="The token table is stored (V, d_model), one row per token: to score every token, "
        "multiply by its transpose, parts.norm(x) @ parts.token.weight.T, (B, L, d) → (B, L, V).",
        compute=None,
        error=r"shapes cannot be multiplied",
        example=learner.untransposed,
    ),
    Mistake(
        name="the blocks called as one",
        hint="parts.blocks is a tuple of blocks, not one module: run them one after the other, "
        "for block in parts.blocks: x = block(x, mask).",
        compute=None,
        error=r"'tuple' object is not callable",
        example=lambda parts, ids: learner.calls_the_tuple(parts, ids),
    ),
    Mistake(
        name="a float mask",
        hint="lib's masks are bool, True = may attend (chapter 06): not floats, neither the "
        "1.0/0.0 of torch.ones(L, L).tril() nor the −∞ masks of nn.Transformer. Make it bool: "
        f"torch.ones(L, L, dtype=torch.bool).tril(), {OR_CAUSAL_MASK}.",
        compute=None,
        error=layer_errors.FLOAT_MASK,
        example=learner.float_mask,
    ),
    Mistake(
        name="no causal mask",
        hint="The blocks get no causal mask, so every position sees the tokens after it: the "
        "model could read the very token it must predict. Give each block "
        "torch.ones(L, L, dtype=torch.bool).tril().",
        compute=partial(forward, mask="none"),
        example=partial(by_hand, mask="none"),
    ),
    Mistake(
        name="mask upside down",
        hint="Your mask hides the past and shows the future: in lib a mask's True means MAY "
        "attend (the opposite of nn.Transformer's bool masks). Position i sees 0 … i: .tril(), "
        "not .triu(1).",
        compute=partial(forward, mask="inverted"),
        example=learner.upside_down,
    ),
    Mistake(
        name="mask transposed",
        hint="Your mask lets each position see itself and the tokens AFTER it, none before: it is "
        "the causal mask transposed (.triu() where .tril() is due, or True read as 'hidden'). In "
        "lib True means MAY attend, and position i sees 0 … i: torch.ones(L, L, "
        "dtype=torch.bool).tril().",
        compute=partial(forward, mask="transposed"),
        example=learner.transposed,
    ),
    Mistake(
        name="the diagonal hidden",
        hint="Your mask hides each position from itself, so the first position sees nothing: "
        "position i sees 0 … i, itself included. .tril() keeps the diagonal; .tril(-1) drops it.",
        compute=partial(forward, mask="strict"),
        example=learner.diagonal_hidden,
    ),
    Mistake(
        name="positions looked up by token id",
        hint="You looked up the position table with the token ids: each token got the vector of "
        "the position numbered like its id. Look it up with the positions 0 … L-1, "
        "parts.positions(torch.arange(L)).",
        compute=partial(forward, positions="ids"),
        example=partial(by_hand, positions="ids"),
    ),
    Mistake(
        name="positions counted from 1",
        hint="You counted the positions from 1: the first token is at position 0, so look up "
        "rows 0 … L-1 of the position table, parts.positions(torch.arange(L)).",
        compute=partial(forward, positions="from 1"),
        example=learner.embeds_with(lambda v, d: v * math.sqrt(d), start=1),
    ),
    Mistake(
        name="B taken for the length",
        hint="Your length is the number of stories, B: len(ids) and ids.shape[0] count the rows of "
        "the (B, L) batch. The length of each story is ids.shape[1] (or ids.shape[-1]): "
        "positions torch.arange(L), mask (L, L).",
        compute=None,
        error=rf"size of tensor a \({CASE_L}\) must match the size of tensor b \({CASE_B}\) at "
        "non-singleton dimension 1",
        example=learner.counts_stories_as_length,
    ),
    Mistake(
        name="positions given the length",
        hint="parts.positions is an nn.Embedding, a table looked up with a TENSOR of indices: give "
        "it the positions 0 … L-1, parts.positions(torch.arange(L)), not the length L itself.",
        compute=None,
        error=r"embedding\(\): argument 'indices' .*must be Tensor, not int",
        example=learner.looks_up_the_length,
    ),
    Mistake(
        name="the whole position table",
        hint="You added the whole position table, parts.positions.weight, one row per position "
        f"up to max_len ({CASE_MAX_LEN} here): a story of L tokens takes its first L rows, "
        "parts.positions.weight[:L] (or parts.positions(torch.arange(L))).",
        compute=None,
        error=rf"size of tensor a \({CASE_L}\) must match the size of tensor b \({CASE_MAX_LEN}\) at "
        "non-singleton dimension 1",
        example=learner.adds_the_whole_table,
    ),
    Mistake(
        name="positions after the blocks",
        hint="You added the positions after the blocks: attention inside them then never knew which "
        "token came first. Add them to the token vectors BEFORE the first block: x = "
        "parts.token(ids) * √d_model + parts.positions(torch.arange(L)).",
        compute=partial(forward, positions="after"),
        example=learner.positions_last,
    ),
    Mistake(
        name="no positions",
        hint="The position vectors are missing: add parts.positions(torch.arange(L)), or the "
        "model cannot tell which token came first.",
        compute=partial(forward, positions="none"),
        example=partial(by_hand, positions="none"),
    ),
    Mistake(
        name="no √d_model",
        hint="The token vectors are not scaled. GPT-2 does not scale them, but lib's embedding, "
        "like the paper's (chapter 01), multiplies them by √d_model before the positions are "
        "added: parts.token(ids) * math.sqrt(d_model).",
        compute=partial(forward, scale="none"),
        example=partial(by_hand, scale="none"),
    ),
    Mistake(
        name="× √V",
        hint="You scaled by √V, the number of tokens, math.sqrt(parts.token.num_embeddings): an "
        "nn.Embedding(V, d_model) has num_embeddings = V rows and embedding_dim = d_model "
        "columns, and the scale is √d_model, math.sqrt(parts.token.embedding_dim).",
        compute=partial(forward, scale="vocab"),
        example=learner.scales_by_the_vocabulary,
    ),
    Mistake(
        name="÷ √d_model",
        hint="You divided the token vectors by √d_model: they are MULTIPLIED by it (attention "
        "divides its scores by √d_head; the embedding scales up), parts.token(ids) * "
        "math.sqrt(d_model).",
        compute=partial(forward, scale="divide"),
        example=learner.embeds_with(lambda v, d: v / math.sqrt(d)),
    ),
    Mistake(
        name="× d_model",
        hint="You multiplied the token vectors by d_model itself: the scale is its square root, "
        "parts.token(ids) * math.sqrt(d_model).",
        compute=partial(forward, scale="d"),
        example=learner.embeds_with(lambda v, d: v * d),
    ),
    Mistake(
        name="√d_model after the positions",
        hint="You scaled after adding the positions, (token + position) × √d_model: only the "
        "token vectors are scaled, parts.token(ids) * √d_model + the positions.",
        compute=partial(forward, scale="after"),
        example=partial(by_hand, scale="after"),
    ),
    Mistake(
        name="only the first block",
        hint="Not every block ran (here, only the first did): either a `return` indented inside "
        "the loop over parts.blocks ends it after one block, or the loop runs over part of them "
        "(parts.blocks[:-1], range(len(parts.blocks) - 1)). Run every block, "
        "for block in parts.blocks: x = block(x, mask), then the final norm and the output.",
        compute=partial(forward, feed="first"),
        example=learner.loop_returns_early,
    ),
    Mistake(
        name="every block reads the embeddings",
        hint="Only the last block's work reached the output: every block read the embeddings "
        "(or only parts.blocks[-1] ran). Run every block in turn, each on the previous block's "
        "output: for block in parts.blocks: x = block(x, mask).",
        compute=partial(forward, feed="embeddings"),
        example=partial(by_hand, feed="embeddings"),
    ),
    Mistake(
        name="residual added twice",
        hint="You added x to each block's output, x = x + block(x, mask): a block already adds "
        "its input back (its residual connections, chapter 07), so x = block(x, mask).",
        compute=partial(forward, residual=True),
        example=partial(by_hand, residual=True),
    ),
    Mistake(
        name="no final LayerNorm",
        hint="The final LayerNorm is missing: in a pre-norm GPT the last block's output has not "
        "been normalised yet, so apply parts.norm before the output layer.",
        compute=partial(forward, final_norm=False),
        example=partial(by_hand, final_norm=False),
    ),
    Mistake(
        name="final norm after every block",
        hint="You applied the final LayerNorm after every block: it runs once, after the last "
        "block (each block normalises its own inputs inside). Run the blocks, then "
        "parts.norm(x), then the output layer.",
        compute=partial(forward, final_norm="each block"),
        example=learner.norms_every_block,
    ),
    Mistake(
        name="final norm on the embeddings",
        hint="You applied the final LayerNorm to the embeddings, before the blocks: it comes "
        "AFTER the last block, just before the output layer (each pre-norm block already "
        "normalises its own inputs).",
        compute=partial(forward, final_norm="first"),
        example=learner.norms_the_embeddings,
    ),
    Mistake(
        name="a LayerNorm of your own",
        hint="You normalised with a LayerNorm of your own (F.layer_norm, or a new nn.LayerNorm): "
        "it has weight 1 and bias 0, not the weight and bias the model learned. Use the model's "
        "own final norm, parts.norm(x).",
        compute=partial(forward, final_norm="plain"),
        example=partial(by_hand, final_norm="own"),
    ),
    Mistake(
        name="the last position only",
        hint="You returned the scores after the last position only, (B, V): the model scores "
        "the next token at EVERY position, (B, L, V), so that one story trains all of them "
        "at once. Generation picks the last row itself.",
        compute=partial(forward, last_only=True),
        example=partial(by_hand, last_only=True),
    ),
    Mistake(
        name="the last position dropped",
        hint="Your logits have one position fewer than ids: the model scores every position; the "
        "shift (ids[:, :-1] against ids[:, 1:]) belongs to the loss.",
        compute=None,
        recognise=lambda fn, case, got: one_position_fewer(got, *case),
        example=learner.drops_the_last_position,
    ),
    Mistake(
        name="output layer × √d_model",
        hint="Your logits are √d_model times too large: only the input embeddings are scaled; the "
        "output layer uses the table as it is, @ parts.token.weight.T.",
        compute=partial(forward, returns="scaled logits"),
        example=learner.scales_the_output_layer,
    ),
    Mistake(
        name="no output layer",
        hint="You returned the normalised hidden states, (B, L, d_model): score every token with "
        "the token table, parts.norm(x) @ parts.token.weight.T, (B, L, V).",
        compute=partial(forward, returns="hidden"),
        example=learner.forgets_the_output,
    ),
    Mistake(
        name="final norm on the logits",
        hint="You applied the final LayerNorm to the logits, (B, L, V): it normalises the hidden "
        "states, d_model wide. Normalise first, then score: parts.norm(x) @ parts.token.weight.T.",
        compute=None,
        error=rf"normalized_shape=\[{CASE_D}\].*got input of size ?\[{CASE_B}, {CASE_L}, {CASE_V}\]",
        example=learner.norms_the_logits,
    ),
    Mistake(
        name="softmax on the logits",
        hint="You returned probabilities (a softmax): the model returns the raw logits, and the "
        "loss (cross-entropy) applies its own log-softmax.",
        compute=partial(forward, returns="probabilities"),
        example=partial(by_hand, returns="probabilities"),
    ),
    Mistake(
        name="log-softmax on the logits",
        hint="You returned log-probabilities (a log-softmax): the model returns the raw logits. "
        "F.cross_entropy applies the log-softmax itself (on log-probabilities, use F.nll_loss).",
        compute=partial(forward, returns="log-probabilities"),
        example=partial(by_hand, returns="log-probabilities"),
    ),
    # GPT-2's embedding dropout, copied with F.dropout: on unless told training=False.
    draws_at_random(
        lambda parts, ids: learner.with_embedding_dropout(parts, ids),
        parts="the blocks",
        also="Or a layer made inside your function (nn.Linear(…)) starts from new random weights "
        "at every call: use only the parts given; the output layer is the token table, "
        "x @ parts.token.weight.T.",
    ),
)
# Met in the ninth audit (gpt_forward_more); a new output layer draws too, so it comes before
# the dropout that draws_at_random names.
MISTAKES = (NEW_OUTPUT_LAYER, *MISTAKES, *MORE_MISTAKES, *ROUND_50B)  # round 50b: gpt_forward_round50b


@learner_check
def check_gpt_forward(learner_fn: Callable) -> Result:
    """Exercise 09a: ``fn(parts: GptParts, ids (B, L)) → logits (B, L, V)``."""
    with torch.no_grad():
        return check_function(
            learner_fn, forward, _cases(), name="gpt_forward", mistakes=MISTAKES, atol=1e-4, needs_grad=True
        )


EXERCISES = (
    Exercise(
        name="gpt_forward",
        chapter="09",
        check=check_gpt_forward,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
