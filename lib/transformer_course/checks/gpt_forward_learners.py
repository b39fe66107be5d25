"""The wrong answers learners write for ``gpt_forward``, as code: each Mistake's example.

``by_hand`` flips one catalogued mistake per switch (all off, it is a correct answer); the other
correct answers come next, then the mistakes a learner writes out in full. Kept apart so that
``gpt_forward`` reads as the exercise and its checker; it imports this module, never the reverse.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from ..masks import causal_mask


def by_hand(
    parts,
    ids,
    *,
    scale="sqrt",
    positions="index",
    mask="causal",
    feed="chain",
    residual=False,
    final_norm=True,
    last_only=False,
    returns="logits",
):
    """A learner's forward pass with one switch per catalogued mistake (all off: correct)."""
    length, d = ids.shape[1], parts.token.embedding_dim
    x = parts.token(ids) * {"sqrt": math.sqrt(d), "none": 1.0}.get(scale, 1.0)
    if positions == "index":
        x = x + parts.positions(torch.arange(length))
    elif positions == "ids":  # the token ids used as positions
        x = x + parts.positions(ids)
    if scale == "after":
        x = x * math.sqrt(d)
    sees = {
        "causal": causal_mask(length),
        "inverted": ~causal_mask(length),
        "strict": causal_mask(length) & ~torch.eye(length, dtype=torch.bool),
        "none": None,
    }[mask]
    h = x
    for block in parts.blocks:
        out = block(x if feed == "embeddings" else h, sees)
        h = h + out if residual else out
        if feed == "first":
            break
    if final_norm == "own":  # a new LayerNorm: weight 1, bias 0, not the model's
        h = nn.LayerNorm(h.shape[-1], eps=parts.norm.eps)(h)
    elif final_norm:
        h = parts.norm(h)
    logits = h @ parts.token.weight.T
    logits = logits[:, -1] if last_only else logits
    if returns == "probabilities":
        return logits.softmax(dim=-1)
    return logits.log_softmax(dim=-1) if returns == "log-probabilities" else logits


# --- Other correct answers ---


def with_is_causal(parts, ids):
    """The blocks told causal=True instead of given a mask; the output with F.linear."""
    x = parts.token.weight[ids] * parts.token.embedding_dim**0.5 + parts.positions.weight[: ids.shape[1]]
    for block in parts.blocks:
        x = block(x, causal=True)
    return torch.nn.functional.linear(parts.norm(x), parts.token.weight)


def one_mask_per_story(parts, ids):
    """A (B, 1, L, L) mask, and the layers' own norm arithmetic spelled out at the end."""
    b, length = ids.shape
    sees = torch.tril(torch.ones(b, 1, length, length)).bool()
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim)
    x = x + parts.positions.weight[torch.arange(length)].unsqueeze(0)
    for block in parts.blocks:
        x = block(x, sees)
    norm = parts.norm
    normed = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + norm.eps)
    return torch.einsum("bld,vd->blv", normed * norm.weight + norm.bias, parts.token.weight)


# --- The wrong answers, each a Mistake's example ---


def embed(parts, ids):
    """The embedding every learner example below gets right: scaled tokens + positions."""
    scaled = parts.token(ids) * math.sqrt(parts.token.embedding_dim)  # (B, L, d_model)
    return scaled + parts.positions(torch.arange(ids.shape[1]))


def loop_returns_early(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
        return parts.norm(x) @ parts.token.weight.T  # indented one level too far


def untransposed(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x) @ parts.token.weight  # (V, d_model): the table as it is stored


def masked(make_mask, parts, ids):
    """The right forward pass with the learner's own mask, ``make_mask(L)``."""
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, make_mask(ids.shape[1]))
    return parts.norm(x) @ parts.token.weight.T


def norms_every_block(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = parts.norm(block(x, causal_mask(ids.shape[1])))  # "normalise after each block"
    return x @ parts.token.weight.T


def norms_the_embeddings(parts, ids):
    x = parts.norm(embed(parts, ids))  # the final norm, applied first
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return x @ parts.token.weight.T


def embeds_with(scale: Callable[[torch.Tensor, int], torch.Tensor], start: int = 0) -> Callable:
    """The right forward pass but for the embedding: ``scale(token vectors, d_model)`` and the
    positions counted from ``start``."""

    def forward_pass(parts, ids):
        length = ids.shape[1]
        x = scale(parts.token(ids), parts.token.embedding_dim)
        x = x + parts.positions(torch.arange(start, start + length))
        for block in parts.blocks:
            x = block(x, causal_mask(length))
        return parts.norm(x) @ parts.token.weight.T

    return forward_pass


def scales_by_the_vocabulary(parts, ids):
    v = parts.token.num_embeddings  # the table's rows, V, taken for its width, d_model
    return embeds_with(lambda x, d: x * math.sqrt(v))(parts, ids)


def counts_stories_as_length(parts, ids):
    length = len(ids)  # the number of rows: B, not L
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(torch.arange(length))
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.token.weight.T


def calls_the_tuple(parts, ids):
    x = parts.blocks(embed(parts, ids), causal_mask(ids.shape[1]))  # as nn.Sequential
    return parts.norm(x) @ parts.token.weight.T


float_mask = partial(  # as nn.Transformer's generate_square_subsequent_mask: −∞ above the diagonal
    masked, lambda n: torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
)
upside_down = partial(  # True read as "hidden", as in nn.Transformer's bool masks
    masked, lambda n: torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
)
diagonal_hidden = partial(  # "earlier tokens only"
    masked, lambda n: torch.tril(torch.ones(n, n), diagonal=-1).bool()
)
transposed = partial(  # True read as "hidden", the diagonal hidden too
    masked, lambda n: torch.triu(torch.ones(n, n, dtype=torch.bool))
)


def with_embedding_dropout(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(torch.arange(length))
    x = nn.functional.dropout(x, p=0.1)
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.token.weight.T


def looks_up_the_length(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(length)  # an int
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.token.weight.T


def adds_the_whole_table(parts, ids):
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions.weight  # (max_len, d)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x) @ parts.token.weight.T


def positions_last(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim)
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    x = x + parts.positions(torch.arange(length))  # "then where each token is"
    return parts.norm(x) @ parts.token.weight.T


def forgets_the_output(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x)  # (B, L, d_model): never scored against the tokens


def norms_the_logits(parts, ids):
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x @ parts.token.weight.T)  # the norm after the output layer


def drops_the_last_position(parts, ids):
    ids = ids[:, :-1]  # "the inputs are ids[:, :-1]", the loss's shift done inside the model
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x) @ parts.token.weight.T


def scales_the_output_layer(parts, ids):
    d = parts.token.embedding_dim
    x = embed(parts, ids)
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x) @ (parts.token.weight * math.sqrt(d)).T  # "tied, so scaled like the input"


# --- The wrong answers met in the ninth audit (gpt_forward_more) ---


def _embedded(parts, ids, where):
    return parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions(where)


def runs_the_first_block_each_time(parts, ids):
    length = ids.shape[1]
    x = _embedded(parts, ids, torch.arange(length))
    for _ in range(len(parts.blocks)):
        x = parts.blocks[0](x, causal_mask(length))  # the index never moves on
    return parts.norm(x) @ parts.token.weight.T


def numbers_one_position_too_few(parts, ids):
    length = ids.shape[1]
    x = _embedded(parts, ids, torch.arange(length - 1))  # "positions up to L-1"
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.token.weight.T


def makes_its_own_output_layer(parts, ids):
    length, d_model = ids.shape[1], parts.token.embedding_dim
    x = _embedded(parts, ids, torch.arange(length))
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    lm_head = nn.Linear(d_model, parts.token.num_embeddings, bias=False)  # a new, untrained layer
    return lm_head(parts.norm(x))


# --- The wrong answers met in the tenth audit (gpt_forward_more) ---


def runs_the_blocks_backwards(parts, ids):
    length = ids.shape[1]
    x = _embedded(parts, ids, torch.arange(length))
    for block in parts.blocks[::-1]:  # "from the top of the stack down"
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.token.weight.T


def looks_up_the_output(parts, ids):
    length = ids.shape[1]
    x = _embedded(parts, ids, torch.arange(length))
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.token(parts.norm(x))  # "the tied embedding as the output layer"


# --- The wrong answers met in the forty-first round (gpt_forward_more) ---


def scales_by_the_chapters_width(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * math.sqrt(64) + parts.positions(torch.arange(length))  # the chapter's d_model
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.token.weight.T


def norms_before_every_block(parts, ids):
    length = ids.shape[1]
    x = _embedded(parts, ids, torch.arange(length))
    for block in parts.blocks:
        x = block(parts.norm(x), causal_mask(length))  # "pre-norm: normalise, then the block"
    return parts.norm(x) @ parts.token.weight.T


def adds_the_positions_twice(parts, ids):
    where = torch.arange(ids.shape[1])
    x = _embedded(parts, ids, where) + parts.positions(where)  # already in _embedded
    for block in parts.blocks:
        x = block(x, causal_mask(ids.shape[1]))
    return parts.norm(x) @ parts.token.weight.T


def integer_mask(parts, ids):
    length = ids.shape[1]
    x = _embedded(parts, ids, torch.arange(length))
    for block in parts.blocks:
        x = block(x, torch.ones(length, length, dtype=torch.long).tril())  # 1 = may attend
    return parts.norm(x) @ parts.token.weight.T


def calls_a_model_of_its_own(parts, ids):
    """The chapter's model, a global, called instead of the parts (73 tokens, not the case's)."""
    from ..model import DecoderOnlyTransformer, TransformerConfig

    chapter_config = TransformerConfig(
        vocab_size=73, d_model=64, num_heads=16, num_decoder_layers=1, d_ff=128, dropout=0.0, max_len=256,
        norm_first=True, activation="gelu", positional="learned",
    )  # fmt: skip
    torch.manual_seed(0)
    return DecoderOnlyTransformer(chapter_config)(ids)  # `untrained(ids)` in the chapter


def calls_the_trained_model(parts, ids):
    return model(ids)  # noqa: F821 - the chapter's trained model, not made yet at the exercise


# --- Round 43: another right answer, in a style not registered before ---
def reduce_over_the_blocks(parts, ids):
    """F.embedding, the mask as NOT triu(1), the blocks folded in with functools.reduce."""
    from functools import reduce

    length = ids.size(-1)
    x = torch.nn.functional.embedding(ids, parts.token.weight) * math.sqrt(parts.token.embedding_dim)
    x = x + parts.positions(torch.arange(length).unsqueeze(0))
    sees = ~torch.ones(length, length, dtype=torch.bool).triu(1)
    x = reduce(lambda h, block: block(h, sees), parts.blocks, x)
    return parts.norm(x) @ parts.token.weight.mT


# --- The wrong answers met in round 50's review (gpt_forward_round50b) ---


def takes_the_last_position_rows(parts, ids):
    length = ids.shape[1]
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + parts.positions.weight[-length:]
    for block in parts.blocks:
        x = block(x, torch.ones(length, length, dtype=torch.bool).tril())
    return parts.norm(x) @ parts.token.weight.T


def numbers_the_stories(parts, ids):
    batch, length = ids.shape
    stories = parts.positions(torch.arange(batch))[:, None]  # (B, 1, d): one position per story
    x = parts.token(ids) * math.sqrt(parts.token.embedding_dim) + stories
    for block in parts.blocks:
        x = block(x, causal_mask(length))
    return parts.norm(x) @ parts.token.weight.T
