"""Exercise 07e: the encoder-decoder forward pass, from the model's parts.

``fn(parts, src (B, Ls), trg_in (B, Lt)) → logits (B, Lt, V)``: embed both (token vector ×
√d_model + position), run the source through the encoder under its padding mask, the target
through the decoder (causal + padding mask on itself, the source's padding mask on the
memory), and project to the vocabulary. ``parts`` is a ``Seq2SeqParts``; ``of(model)`` takes
them from the lib's ``Transformer``, whose forward is then the right answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import torch
from torch import nn

from ..masks import causal_mask, padding_mask
from ..model import Transformer, TransformerConfig
from ..positional import sinusoidal_encoding
from . import assembly_learners as learner
from .assembly_learners import by_hand
from .assembly_more import MORE_MISTAKES, ROUND_45B
from .assembly_round48 import ROUND_48
from .assembly_round51 import ROUND_51
from .assembly_slips import MORE, ROUND_43B
from .harness import Exercise, Mistake, Result, check_function, draws_at_random
from .layer_errors import float_mask
from .stale import learner_check


@dataclass(frozen=True)
class Seq2SeqParts:
    """What an encoder-decoder model is made of, handed to the learner one by one.

    embedding: ``nn.Embedding`` (V, d_model), the token table shared by source and target,
    NOT yet scaled; positions: (max_len, d_model), the sinusoidal table of chapter 02;
    encoder: ``encoder(x (B, Ls, d), mask (B, 1, 1, Ls)) → memory (B, Ls, d)``; decoder:
    ``decoder(y (B, Lt, d), memory, self_mask (B, 1, Lt, Lt), cross_mask (B, 1, 1, Ls))``
    → (B, Lt, d); output: ``nn.Linear`` d_model → V; pad_id: the id of ``<pad>``.
    """

    embedding: nn.Embedding
    positions: torch.Tensor
    encoder: nn.Module
    decoder: nn.Module
    output: nn.Linear
    pad_id: int

    @classmethod
    def of(cls, model: Transformer) -> Seq2SeqParts:
        """The parts of a lib ``Transformer`` with one shared, sinusoidal-position embedding."""
        if not isinstance(model, Transformer):
            raise ValueError(f"model must be a Transformer, got {type(model).__name__}")
        c = model.config
        token = model.src_embed.token
        if token is not model.trg_embed.token or c.positional != "sinusoidal":
            raise ValueError("model must share one token table (tie_embeddings) and use sinusoidal positions")
        positions = sinusoidal_encoding(c.max_len, c.d_model)
        return cls(token.lookup, positions, model.encoder, model.decoder, model.output, c.pad_id)


# --- The learner's side: the starter, a worked solution (more answers: assembly_learners) ---


def starter(parts: Seq2SeqParts, src: torch.Tensor, trg_in: torch.Tensor) -> torch.Tensor:
    """src (B, Ls), trg_in (B, Lt) ids → logits (B, Lt, V)."""
    raise NotImplementedError


def solution(parts: Seq2SeqParts, src: torch.Tensor, trg_in: torch.Tensor) -> torch.Tensor:
    """src (B, Ls), trg_in (B, Lt) ids → logits (B, Lt, V)."""

    def embed(ids):  # (B, L) → (B, L, d_model)
        vectors = parts.embedding(ids) * math.sqrt(parts.embedding.embedding_dim)
        return vectors + parts.positions[: ids.shape[1]]

    src_mask = padding_mask(src, parts.pad_id)  # (B, 1, 1, Ls): never attend to <pad>
    memory = parts.encoder(embed(src), src_mask)  # (B, Ls, d_model)
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)  # (B, 1, Lt, Lt)
    hidden = parts.decoder(embed(trg_in), memory, trg_mask, src_mask)  # (B, Lt, d_model)
    return parts.output(hidden)  # (B, Lt, V)


ALTERNATIVES = {
    "by hand, every switch off": by_hand,
    "one layer at a time, output weight by hand": learner.one_stage_at_a_time,
    "F.embedding, d_model from the positions' last axis": learner.functional_embedding,
    "masks by hand": learner.masks_by_hand,
    # Not astuple(parts): it deep-copies the modules, whose weights then learn in the model's place.
    "in float64": learner.in_float64,
    "the table indexed, einsum for the output": learner.table_indexed_masks_unsqueezed,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def forward(
    parts,
    src,
    trg_in,
    *,
    scale="sqrt",
    positions=True,
    causal=True,
    trg_padding=True,
    src_padding=True,
    cross="padding",
    reads="trg",
    encode=True,
    project=True,
    softmax=False,
    encoder_causal=False,
    either=False,
):
    """The forward pass, or one of its usual mistakes (each switch off: correct). Masks built
    by hand here, so that the checker does not share the learner-side code."""
    d = parts.embedding.embedding_dim
    factor = {"sqrt": math.sqrt(d), "none": 1.0, "d": float(d), "divided": 1 / math.sqrt(d)}.get(scale, 1.0)
    first = 1 if positions == "from 1" else 0

    def embed(ids):
        x = parts.embedding(ids) * factor
        x = x + parts.positions[first : first + ids.shape[1]] if positions else x
        return x * math.sqrt(d) if scale == "after" else x

    src_mask = (src != parts.pad_id)[:, None, None, :] if src_padding else None
    encoder_mask = src_mask
    if encoder_causal:  # the decoder's causal mask given to the encoder too
        square = torch.ones(src.shape[1], src.shape[1], dtype=torch.bool).tril()
        encoder_mask = square if src_mask is None else square & src_mask
    memory = parts.encoder(embed(src), encoder_mask) if encode else embed(src)
    length = trg_in.shape[1]
    self_mask = torch.ones(length, length, dtype=torch.bool).tril() if causal else None
    if trg_padding:
        real = (trg_in != parts.pad_id)[:, None, None, :]
        self_mask = real if self_mask is None else (self_mask | real if either else self_mask & real)
    cross_mask = {"padding": src_mask, "none": None, "causal": self_mask}[cross]
    hidden = parts.decoder(embed(src if reads == "src" else trg_in), memory, self_mask, cross_mask)
    logits = parts.output(hidden) if project else hidden
    if softmax == "log":
        return torch.log_softmax(logits, dim=-1)
    return torch.softmax(logits, dim=-1) if softmax else logits


def _cases() -> list[tuple]:
    # Source and target padded (at the end, as the data sets pad), the source in the first
    # case as long as the target so that mistakes that mix them up still run and are named.
    # max_len ≠ d_model, so that √ of the positions' first axis (max_len) is named, not passed.
    config = TransformerConfig(
        vocab_size=12, d_model=16, num_heads=2, num_encoder_layers=2, num_decoder_layers=2, d_ff=32,
        dropout=0.0, max_len=20,
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(75)
        parts = Seq2SeqParts.of(Transformer(config).eval())
    src_a = torch.tensor([[4, 5, 6, 7, 8], [9, 10, 11, 0, 0]])
    trg_a = torch.tensor([[2, 7, 6, 5, 0], [2, 11, 10, 9, 4]])
    src_b = torch.tensor([[5, 4, 11, 6, 0, 0, 0], [7, 7, 8, 9, 10, 11, 4]])
    trg_b = torch.tensor([[2, 6, 11, 4], [2, 4, 11, 10]])
    with torch.random.fork_rng(devices=[]):  # a vocabulary whose <pad> is 1, and 0 a real token
        torch.default_generator.manual_seed(76)
        other = Seq2SeqParts.of(Transformer(config.replace(pad_id=1)).eval())
    src_c = torch.tensor([[4, 0, 6, 1, 1], [9, 10, 0, 5, 3]])
    trg_c = torch.tensor([[2, 7, 0, 1], [2, 11, 10, 0]])
    return [(parts, src_a, trg_a), (parts, src_b, trg_b), (other, src_c, trg_c)]


def _with_pad_id(pad_id: int) -> Callable:
    """The right forward pass, but with ``pad_id`` as <pad> whatever the parts say."""
    return lambda parts, src, trg_in: forward(replace(parts, pad_id=pad_id), src, trg_in)


MISTAKES = (
    Mistake(
        name="pad id hard-coded",
        hint="Your masks take <pad> to be id 0 (a number written in, or another vocabulary's "
        "pad id): use the model's own, parts.pad_id, padding_mask(src, parts.pad_id). Here "
        "<pad> is 1 and 0 is a real token.",
        compute=_with_pad_id(0),
        example=lambda parts, src, trg_in: solution(replace(parts, pad_id=0), src, trg_in),
    ),
    Mistake(
        name="mask of the wrong shape",
        hint="A mask does not fit the scores it should mask, (B, h, Lq, Lk). The padding masks are "
        "(B, 1, 1, L): padding_mask(ids, pad_id). The causal mask (Lt, Lt) belongs to the "
        "decoder's self-attention; cross-attention's scores are (Lt, Ls) and take the SOURCE's "
        "padding mask.",
        compute=None,
        error=r"mask.*broadcast",
        example=lambda parts, src, trg_in: learner.with_flat_masks(parts, src, trg_in),
    ),
    float_mask(
        learner.with_pytorchs_causal_mask,
        right="bool masks: padding_mask(src, parts.pad_id), and causal_mask(Lt) & "
        "padding_mask(trg_in, parts.pad_id) for the decoder",
    ),
    Mistake(
        name="every position added",
        hint="parts.positions has a row for each of max_len positions; a sentence of L tokens "
        "takes the first L: parts.positions[: ids.shape[1]].",
        compute=None,
        error=r"must match the size of tensor b \(20\) at non-singleton dimension 1",
        example=learner.adds_every_position,
    ),
    Mistake(
        name="no √d_model",
        hint="The token vectors are not scaled: multiply the embedding by √d_model before adding "
        "the positions (chapter 01), embedding(ids) * math.sqrt(d_model) + positions.",
        compute=partial(forward, scale="none"),
        example=partial(by_hand, scale="none"),
    ),
    Mistake(
        name="√d_model after the positions",
        hint="You scaled after adding the positions, (embedding + positions) × √d_model: only the "
        "token vectors are scaled, embedding(ids) * √d_model + positions.",
        compute=partial(forward, scale="after"),
        example=lambda parts, src, trg_in: learner.scales_late(parts, src, trg_in),
    ),
    Mistake(
        name="× d_model",
        hint="You multiplied the embedding by d_model; the factor is its square root, math.sqrt(d_model).",
        compute=partial(forward, scale="d"),
        example=partial(by_hand, scale="d"),
    ),
    Mistake(
        name="÷ √d_model",
        hint="You divided the token vectors by √d_model; multiply them: embedding(ids) * "
        "math.sqrt(d_model), so that they are not drowned by the positions added next.",
        compute=partial(forward, scale="divided"),
        example=partial(by_hand, scale="divided"),
    ),
    Mistake(
        name="positions counted from 1",
        hint="You counted the positions from 1: the first token takes row 0 of the table, so a "
        "sentence of L tokens adds parts.positions[:L] (rows 0 … L−1), not [1 : L + 1].",
        compute=partial(forward, positions="from 1"),
        example=partial(by_hand, positions="from 1"),
    ),
    Mistake(
        name="no positions",
        hint="The positions are missing: add parts.positions[:L] (one row per position) to the "
        "scaled token vectors, or the model cannot tell word order.",
        compute=partial(forward, positions=False),
        example=partial(by_hand, positions=False),
    ),
    Mistake(
        name="no causal mask",
        hint="The decoder's self-attention has no causal mask: each target position sees the "
        "tokens after it. Its mask is causal_mask(Lt) & padding_mask(trg_in, pad_id).",
        compute=partial(forward, causal=False),
        example=partial(by_hand, causal=False),
    ),
    Mistake(
        name="causal mask on the encoder",
        hint="Your encoder got a causal mask: it reads the whole source at once, every word "
        "seeing the words after it too (the answer may depend on them). Only the decoder is "
        "causal; the encoder's only mask is the source's padding, padding_mask(src, pad_id).",
        compute=partial(forward, encoder_causal=True),
        example=partial(by_hand, encoder_causal=True),
    ),
    Mistake(
        name="no target padding mask",
        hint="The decoder's self-attention sees the target's <pad> tokens: combine the causal "
        "mask with the target's padding mask, causal_mask(Lt) & padding_mask(trg_in, pad_id).",
        compute=partial(forward, trg_padding=False),
        example=partial(by_hand, trg_padding=False),
    ),
    # With | a position may attend wherever EITHER mask allows: every real key, the future too.
    Mistake(
        name="target masks combined with OR",
        hint="You combined the target's masks with | (or): a key is then visible if EITHER mask "
        "allows it, so every real token sees the future. Both must allow it: causal_mask(Lt) & "
        "padding_mask(trg_in, pad_id).",
        compute=partial(forward, either=True),
        example=learner.combines_with_or,
    ),
    Mistake(
        name="no source padding mask",
        hint="The source's <pad> tokens are attended to: give the encoder padding_mask(src, "
        "pad_id), and the decoder the same mask for its cross-attention.",
        compute=partial(forward, src_padding=False, cross="none"),
        example=partial(by_hand, src_padding=False, cross="none"),
    ),
    Mistake(
        name="no padding mask on cross-attention",
        hint="The encoder masks the source's <pad>, but the decoder's cross-attention still reads "
        "it: pass padding_mask(src, pad_id) as the decoder's cross mask too.",
        compute=partial(forward, cross="none"),
        example=partial(by_hand, cross="none"),
    ),
    Mistake(
        name="causal mask on cross-attention",
        hint="You gave the cross-attention the target's causal mask: each target position may read "
        "the WHOLE source. Its mask is the source's padding mask, padding_mask(src, pad_id).",
        compute=partial(forward, cross="causal"),
        example=partial(by_hand, cross="causal"),
    ),
    Mistake(
        name="decoder reads the source",
        hint="The decoder reads the embedded SOURCE: its input is the embedded target, "
        "embed(trg_in); the source reaches it only through the memory.",
        compute=partial(forward, reads="src"),
        example=partial(by_hand, reads="src"),
    ),
    Mistake(
        name="encoder skipped",
        hint="The memory is the embedded source itself: run it through the encoder first, "
        "memory = parts.encoder(embed(src), src_mask).",
        compute=partial(forward, encode=False),
        example=partial(by_hand, encode=False),
    ),
    Mistake(
        name="no output projection",
        hint="You returned the decoder's vectors (B, Lt, d_model): project them to one score per "
        "vocabulary word with parts.output, (B, Lt, V).",
        compute=partial(forward, project=False),
        example=partial(by_hand, project=False),
    ),
    Mistake(
        name="softmax on the logits",
        hint="You returned probabilities (a softmax): the model returns the raw logits, and the "
        "loss (cross-entropy) applies its own log-softmax.",
        compute=partial(forward, softmax=True),
        example=partial(by_hand, softmax=True),
    ),
    Mistake(
        name="log-softmax on the logits",
        hint="You returned log-probabilities (a log_softmax): the model returns the raw logits, "
        "parts.output(hidden); the loss (cross-entropy) applies its own log-softmax.",
        compute=partial(forward, softmax="log"),
        example=partial(by_hand, softmax="log"),
    ),
    draws_at_random(partial(by_hand, dropout=True), parts="the encoder's and decoder's layers"),
)


MISTAKES += MORE_MISTAKES  # met in the seventh audit: in assembly_more
MISTAKES += MORE + ROUND_43B  # met in the round-41 and 43b batteries: in assembly_slips
MISTAKES += ROUND_45B  # positions on one sentence, or counted on: assembly_more
MISTAKES += ROUND_48  # the source's mask made causal: assembly_round48
MISTAKES += ROUND_51  # a per-head mask, batch and head axes swapped (B == h): assembly_round51


@learner_check
def check_encoder_decoder_forward(learner_fn: Callable) -> Result:
    """Exercise 07e: ``fn(parts: Seq2SeqParts, src (B, Ls), trg_in (B, Lt)) → logits (B, Lt, V)``."""
    with torch.no_grad():
        return check_function(
            learner_fn,
            forward,
            _cases(),
            name="encoder_decoder_forward",
            mistakes=MISTAKES,
            atol=1e-4,
            needs_grad=True,
        )


EXERCISES = (
    Exercise(
        name="encoder_decoder_forward",
        chapter="07",
        check=check_encoder_decoder_forward,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
