"""More of ``assembly``'s catalogue (the encoder-decoder forward): the slips met in the round-41
battery of wrong answers, each with what gives it away and its hint (the examples are in
``assembly_learners``). ``ROUND_43B``, round 43b's (its examples here): the causal mask upside down
or without its diagonal, a padding mask on the queries' axis, a position table of one's own
written wrong.
"""

from __future__ import annotations

import math

import torch

from . import assembly_learners as learner
from .assembly_positions import POSITION_MISTAKES, learners_forward
from .describe import same
from .harness import Mistake

EMBED = "parts.embedding(ids) * math.sqrt(d_model) + parts.positions[: ids.shape[1]]"


def _forward(
    parts, src, trg_in, *, factors=(None, None), positions=None, src_keys=None, trg_keys=None, causal=None
):
    """The forward pass with masks built here, the source and target embeddings scaled by
    ``factors`` (√d_model where None), ``positions(parts, ids)`` in place of the first L rows,
    the padding masks given as the keys each may see ("real" tokens, right, or "pad"; or a mask
    to use as it is), and ``causal(Lt)`` in place of the (Lt, Lt) lower triangle."""
    d = parts.embedding.embedding_dim
    rows = positions or (lambda parts, ids: parts.positions[: ids.shape[1]])

    def embed(ids, factor):
        return parts.embedding(ids) * (math.sqrt(d) if factor is None else factor) + rows(parts, ids)

    def keys(ids, which):
        return ((ids == parts.pad_id) if which == "pad" else (ids != parts.pad_id))[:, None, None, :]

    src_mask = src_keys if isinstance(src_keys, torch.Tensor) else keys(src, src_keys)
    memory = parts.encoder(embed(src, factors[0]), src_mask)
    length = trg_in.shape[1]
    own = trg_keys if trg_keys is not None and not isinstance(trg_keys, str) else keys(trg_in, trg_keys)
    trg_mask = (causal or _lower)(length) & own
    return parts.output(parts.decoder(embed(trg_in, factors[1]), memory, trg_mask, src_mask))


def _lower(length):
    return torch.ones(length, length, dtype=torch.bool).tril()


def _padding_inverted(fn, case, got) -> bool:
    """The source's, the target's or both padding masks with True on <pad>."""
    for src_keys, trg_keys in (("pad", "pad"), ("pad", None), (None, "pad")):
        if same(got, _forward(*case, src_keys=src_keys, trg_keys=trg_keys), 1e-4):
            return True
    return False


def _scaled_once(fn, case, got) -> bool:
    """√d_model on the target's embedding only, or on the source's only."""
    return any(same(got, _forward(*case, factors=f), 1e-4) for f in ((1.0, None), (None, 1.0)))


def _softmax_elsewhere(fn, case, got) -> bool:
    """Probabilities (a softmax or log-softmax) over the batch or the positions."""
    logits = _forward(*case)
    return any(
        same(got, norm(logits, dim=d), 1e-4) for norm in (torch.softmax, torch.log_softmax) for d in (0, 1)
    )


MORE = (
    # On the first input a sentence has 5 tokens and the batch 2: [: ids.shape[0]] gives 2 rows.
    Mistake(
        name="positions of the batch size",
        hint="You took ids.shape[0] rows of the positions, the batch size: ids is (B, L), and a "
        f"sentence of L tokens takes the first L rows, parts.positions[: ids.shape[1]]: {EMBED}.",
        compute=None,
        error=r"size of tensor a \(5\) must match the size of tensor b \(2\) at non-singleton dimension 1",
        example=learner.positions_of_the_batch_size,
    ),
    # On the first input: a (d_model, L) table, 16 × 5, rows cut to 5, meets the (B, 5, 16)
    # embedding at its last axis.
    Mistake(
        name="positions table the other way round",
        hint="Your positions table is (d_model, L), the other way round: sinusoidal_encoding takes "
        "(length, d_model). Simplest: the table you are given, parts.positions[: ids.shape[1]], "
        "(L, d_model).",
        compute=None,
        error=r"size of tensor a \(16\) must match the size of tensor b \(5\) at non-singleton dimension 2",
        example=learner.builds_the_table_the_other_way,
    ),
    Mistake(
        name="output weight not transposed",
        hint="A product with the output table does not fit: parts.output.weight (the same table as "
        "parts.embedding.weight) is (V, d_model), stored (out, in) as nn.Linear stores it: "
        "hidden @ parts.output.weight.T, or simply parts.output(hidden).",
        compute=None,
        error=r"shapes cannot be multiplied \(\d+x(\d+) and \d+x\1\)",
        example=learner.multiplies_by_the_output_weight,
    ),
    Mistake(
        name="positions looked up by token id",
        hint="You looked the positions up by the token ids, parts.positions[ids]: a token's position "
        "is where it stands in the sentence, 0 … L − 1, whatever the word: "
        "parts.positions[: ids.shape[1]].",
        compute=lambda parts, src, trg_in: _forward(
            parts, src, trg_in, positions=lambda p, ids: p.positions[ids]
        ),
        example=learner.positions_looked_up_by_id,
    ),
    Mistake(
        name="positions added twice",
        hint=f"You added the positions twice: each embedding gets them once, {EMBED}.",
        compute=lambda parts, src, trg_in: _forward(
            parts, src, trg_in, positions=lambda p, ids: 2 * p.positions[: ids.shape[1]]
        ),
        example=learner.positions_added_twice,
    ),
    Mistake(
        name="× √max_len",
        hint="You scaled by √(parts.positions.shape[0]), which is max_len: the positions table is "
        "(max_len, d_model), so d_model is its LAST axis, parts.positions.shape[-1], or "
        "parts.embedding.embedding_dim.",
        compute=lambda parts, src, trg_in: _forward(
            parts, src, trg_in, factors=(math.sqrt(parts.positions.shape[0]),) * 2
        ),
        example=learner.scales_by_max_len,
    ),
    Mistake(
        name="√d_model on one sentence only",
        hint="You scaled one sentence's token vectors by √d_model and not the other's: the source "
        f"and the target are embedded the same way, {EMBED}.",
        compute=None,
        recognise=_scaled_once,
        example=learner.scales_the_target_only,
    ),
    Mistake(
        name="padding mask inverted",
        hint="Your padding mask is True on <pad>, PyTorch's convention (True = blocked): in this "
        "course True means MAY attend, so the mask is True on the real tokens: "
        "padding_mask(ids, parts.pad_id), or (ids != parts.pad_id)[:, None, None, :].",
        compute=None,
        recognise=_padding_inverted,
        example=learner.masks_with_pytorchs_convention,
    ),
    Mistake(
        name="target masked by the source's padding",
        hint="Your decoder's self-attention mask takes the SOURCE's padding: its keys are the target "
        "tokens, so it takes the target's, causal_mask(Lt) & padding_mask(trg_in, parts.pad_id).",
        compute=lambda parts, src, trg_in: _forward(
            parts, src, trg_in, trg_keys=(src != parts.pad_id)[:, None, None, :]
        ),
        example=learner.masks_the_target_by_the_source,
    ),
    Mistake(
        name="target shifted again",
        hint="You shifted the target again: trg_in is already the decoder's input (<bos> …, without "
        "the last token), so use it as it is. The shift happens once, where the loss is computed.",
        compute=lambda parts, src, trg_in: _forward(parts, src, trg_in[:, :-1]),
        example=learner.shifts_the_target_again,
    ),
    Mistake(
        name="last position only",
        hint="You returned the last position's logits only (what generating the next word reads): "
        "the forward pass returns every position's, (B, Lt, V), one prediction per target token.",
        compute=lambda parts, src, trg_in: _forward(parts, src, trg_in)[:, -1],
        example=learner.returns_the_last_position,
    ),
    Mistake(
        name="softmax over another axis",
        hint="You returned probabilities, and over the wrong axis at that (the batch or the "
        "positions): the model returns the raw logits, parts.output(hidden); the loss "
        "(cross-entropy) applies its own log-softmax, over the vocabulary.",
        compute=None,
        recognise=_softmax_elsewhere,
        example=learner.softmax_over_positions,
    ),
)


# --- Round 43b's battery (examples here): the causal mask drawn wrong, a padding mask on the
# queries' axis; the positions' slips are in assembly_positions ---


def _on_the_queries(parts, src, trg_in):
    """The target's padding on the queries' axis, (B, 1, Lt, 1): rows of <pad> hidden, not columns."""
    return _forward(parts, src, trg_in, trg_keys=(trg_in != parts.pad_id)[:, None, :, None])


def _source_on_the_queries(parts, src, trg_in):
    """The source's padding as (B, 1, Ls, 1), for the encoder and the cross-attention alike."""
    return _forward(parts, src, trg_in, src_keys=(src != parts.pad_id)[:, None, :, None])


def masks_with_triu(parts, src, trg_in):
    return learners_forward(parts, src, trg_in, trg_mask=lambda n: torch.triu(torch.ones(n, n)).bool())


def masks_strictly_below(parts, src, trg_in):
    return learners_forward(parts, src, trg_in, trg_mask=lambda n: torch.ones(n, n).tril(-1) > 0)


def pads_the_queries(parts, src, trg_in):
    d_model = parts.embedding.embedding_dim
    embed = lambda ids: parts.embedding(ids) * d_model**0.5 + parts.positions[: ids.shape[1]]  # noqa: E731
    src_mask = (src != parts.pad_id)[:, None, None, :]
    memory = parts.encoder(embed(src), src_mask)
    keep = (trg_in != parts.pad_id)[:, None, :, None]  # (B, 1, Lt, 1)
    causal = torch.ones(trg_in.shape[1], trg_in.shape[1], dtype=torch.bool).tril()
    return parts.output(parts.decoder(embed(trg_in), memory, causal & keep, src_mask))


def pads_the_source_queries(parts, src, trg_in):
    d_model = parts.embedding.embedding_dim
    embed = lambda ids: parts.embedding(ids) * math.sqrt(d_model) + parts.positions[: ids.shape[1]]  # noqa: E731
    src_mask = (src != parts.pad_id).unsqueeze(1).unsqueeze(-1)  # (B, 1, Ls, 1)
    memory = parts.encoder(embed(src), src_mask)
    n = trg_in.shape[1]
    trg_mask = torch.tril(torch.ones(n, n, dtype=torch.bool)) & (trg_in != parts.pad_id)[:, None, None]
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


ROUND_43B = (
    Mistake(
        name="causal mask upside down",
        hint="Your target's causal mask is upper-triangular (triu): each token sees itself and the "
        "tokens AFTER it, the very ones it must predict. Position i may see 0 … i, the lower "
        "triangle: causal_mask(Lt), or torch.ones(Lt, Lt, dtype=torch.bool).tril().",
        compute=lambda parts, src, trg_in: _forward(parts, src, trg_in, causal=lambda n: _lower(n).T),
        example=masks_with_triu,
    ),
    Mistake(
        name="causal mask without the diagonal",
        hint="Your target's causal mask hides the diagonal too (tril(-1)): each token must see "
        "itself, and the first (<bos>) then sees nothing at all. Position i may see 0 … i: "
        "causal_mask(Lt), or torch.ones(Lt, Lt, dtype=torch.bool).tril().",
        compute=lambda parts, src, trg_in: _forward(parts, src, trg_in, causal=lambda n: _lower(n).tril(-1)),
        example=masks_strictly_below,
    ),
    Mistake(
        name="target padding on the queries' axis",
        hint="Your target's padding mask is (B, 1, Lt, 1): it hides the ROWS of <pad> (what a "
        "<pad> query may see), and every real token still reads the <pad> keys. A mask's last "
        "axis is the keys: padding_mask(trg_in, parts.pad_id), (B, 1, 1, Lt), or "
        "(trg_in != pad_id)[:, None, None, :].",
        compute=_on_the_queries,
        example=pads_the_queries,
    ),
    Mistake(
        name="source padding on the queries' axis",
        hint="Your source's padding mask is (B, 1, Ls, 1): it hides the ROWS of <pad> (what a <pad> "
        "query may see), and every token still reads the <pad> keys (in the decoder's "
        "cross-attention it only fits when Ls = Lt). A mask's last axis is the keys: "
        "padding_mask(src, parts.pad_id), (B, 1, 1, Ls), or (src != pad_id)[:, None, None, :].",
        compute=_source_on_the_queries,
        example=pads_the_source_queries,
    ),
    *POSITION_MISTAKES,  # a position table of their own, or the table misread: assembly_positions
)
