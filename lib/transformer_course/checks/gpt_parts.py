"""The GPT's forward pass (exercise 09a) as the checker sees it: the parts handed to the learner,
the reference forward pass with a switch per mistake, and the test cases.

``GptParts.of(model)`` takes the parts from lib's ``DecoderOnlyTransformer``; ``gpt_forward`` (the
exercise, its learner's side and catalogue) imports the rest from here and re-exports
``GptParts``, as does ``checks`` itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..model import DecoderOnlyTransformer, TransformerConfig


@dataclass(frozen=True)
class GptParts:
    """What a GPT is made of, handed to the learner one by one.

    token: ``nn.Embedding`` (V, d_model), the token table, NOT yet scaled; it is also the
    output layer's matrix (tied). positions: ``nn.Embedding`` (max_len, d_model), one learned
    vector per position. blocks: the blocks in order, each
    ``block(x (B, L, d_model), mask (L, L) bool, True = may attend) → (B, L, d_model)``, residual
    connections included. norm: the final ``nn.LayerNorm``.
    """

    token: nn.Embedding
    positions: nn.Embedding
    blocks: tuple[nn.Module, ...]
    norm: nn.LayerNorm

    @classmethod
    def of(cls, model: DecoderOnlyTransformer) -> GptParts:
        """The parts of a lib ``DecoderOnlyTransformer`` with learned positions, a final norm
        and its output tied to the token table (chapter 09's model)."""
        if not isinstance(model, DecoderOnlyTransformer):
            raise ValueError(f"model must be a DecoderOnlyTransformer, got {type(model).__name__}")
        c = model.config
        if c.positional != "learned" or not c.final_norm or not c.tie_embeddings:
            raise ValueError(
                "model must have learned positions, a final norm and tied embeddings "
                f"(positional='learned', final_norm=True, tie_embeddings=True), got positional="
                f"{c.positional!r}, final_norm={c.final_norm}, tie_embeddings={c.tie_embeddings}"
            )
        blocks = tuple(model.blocks.layers)
        return cls(model.embed.token.lookup, model.embed.position.table, blocks, model.blocks.norm)


def forward(
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
    """The forward pass, or one of its usual mistakes (each switch off: correct). The mask is
    built by hand here, so that the checker does not share the learner-side code.

    scale: "sqrt" (right), "none", "divide", "d", "after"; positions: "index" (right),
    "from 1", "ids", "none"; mask: "causal" (right), "inverted", "transposed", "strict",
    "none"; feed: "chain" (right), "first", "embeddings", "first each time", "reversed";
    final_norm: True (right), False, "plain", "first" (on the embeddings),
    "each block"; returns: "logits" (right), "hidden", "scaled logits", "probabilities",
    "log-probabilities"."""
    length, d = ids.shape[1], parts.token.embedding_dim
    v = parts.token.num_embeddings
    factor = {
        "sqrt": math.sqrt(d),
        "none": 1.0,
        "divide": 1 / math.sqrt(d),
        "d": float(d),
        "vocab": math.sqrt(v),
    }
    factor = factor.get(scale, 1.0)
    rows = {
        "index": parts.positions.weight[:length],
        "from 1": parts.positions.weight[1 : length + 1],
        "ids": parts.positions.weight[ids],
        "none": 0.0,
        "after": 0.0,  # added after the blocks, below
    }
    x = parts.token.weight[ids] * factor + rows[positions]  # (B, L, d)
    x = x * math.sqrt(d) if scale == "after" else x
    lower = torch.ones(length, length, dtype=torch.bool).tril()
    strict = torch.ones(length, length, dtype=torch.bool).tril(diagonal=-1)  # i sees 0 … i-1
    sees = {"causal": lower, "inverted": ~lower, "strict": strict, "transposed": lower.T, "none": None}[mask]
    h = parts.norm(x) if final_norm == "first" else x
    blocks = parts.blocks[::-1] if feed == "reversed" else parts.blocks
    for i, block in enumerate(blocks):
        if feed == "first" and i > 0:
            break
        block = parts.blocks[0] if feed == "first each time" else block
        out = block(x if feed == "embeddings" else h, sees)
        h = h + out if residual else out
        h = parts.norm(h) if final_norm == "each block" else h
    h = h + parts.positions.weight[:length] if positions == "after" else h
    if final_norm == "plain":  # normalised, but without the norm's learned weight and bias
        h = torch.nn.functional.layer_norm(h, h.shape[-1:], eps=parts.norm.eps)
    elif final_norm is True:
        h = parts.norm(h)
    if returns == "hidden":  # the output layer forgotten
        return h
    logits = h @ parts.token.weight.T  # (B, L, V)
    if returns == "scaled logits":  # the output matrix scaled by √d_model, as the embedding is
        logits = logits * math.sqrt(d)
    logits = logits[:, -1] if last_only else logits
    normalise = {"probabilities": torch.softmax, "log-probabilities": torch.log_softmax}.get(returns)
    return logits if normalise is None else normalise(logits, dim=-1)


def one_position_fewer(got: object, parts, ids) -> bool:
    """Logits (B, L - 1, V): the last position dropped, as the loss's shift does to its inputs."""
    batch, length = ids.shape
    want = (batch, length - 1, parts.token.num_embeddings)
    return isinstance(got, torch.Tensor) and tuple(got.shape) == want


# The first case's sizes (B = 2 stories of L = 7 tokens, V = 12, d_model = 16, positions up to
# max_len = 20), which a broadcasting error quotes: the hints and their patterns use these names.
CASE_B, CASE_L, CASE_V, CASE_D, CASE_MAX_LEN = 2, 7, 12, 16, 20


def cases() -> list[tuple]:
    # Two blocks, so that the mistakes in the loop over blocks show; ids without <pad> (0),
    # and below max_len so that token ids used as positions still run and are named.
    config = TransformerConfig(
        vocab_size=CASE_V, d_model=CASE_D, num_heads=2, num_decoder_layers=2, d_ff=32, dropout=0.0,
        max_len=CASE_MAX_LEN, norm_first=True, activation="gelu", positional="learned",
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(93)
        model = DecoderOnlyTransformer(config).eval()
        # Every LayerNorm as training leaves it, not at its initial weight 1 and bias 0: a
        # final norm of the learner's own (F.layer_norm, a new nn.LayerNorm) would pass else.
        for norm in (m for m in model.modules() if isinstance(m, nn.LayerNorm)):
            nn.init.normal_(norm.weight, mean=1.0, std=0.3)
            nn.init.normal_(norm.bias, std=0.3)
        parts = GptParts.of(model)
    ids_a = torch.tensor([[1, 5, 3, 7, 2, 9, 4], [2, 2, 8, 11, 6, 3, 1]])  # (CASE_B, CASE_L)
    ids_b = torch.tensor([[4, 10, 1], [7, 3, 3], [11, 6, 9]])
    return [(parts, ids_a), (parts, ids_b)]
