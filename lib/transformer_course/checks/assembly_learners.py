"""The wrong answers learners write for ``assembly``, as code: each Mistake's example.

The encoder-decoder forward pass with one switch per mistake (``by_hand``), a layer-by-layer loop
as a correct answer, then embeddings and masks written out wrong. ``assembly`` holds the exercise,
its reference and catalogue, and imports this module; the reverse import does not exist.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..masks import causal_mask, combine_masks, padding_mask
from ..positional import sinusoidal_encoding


def by_hand(
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
    dropout=False,
):
    """A learner's forward pass with one switch per catalogued mistake (all off: correct)."""
    d_model = parts.embedding.embedding_dim
    factor = {"sqrt": math.sqrt(d_model), "d": d_model, "divided": 1 / math.sqrt(d_model)}.get(scale, 1)

    def embed(ids):
        x = parts.embedding(ids) * factor
        if positions == "from 1":  # "position 1 is the first word"
            x = x + parts.positions[1 : ids.shape[1] + 1]
        elif positions:
            x = x + parts.positions[: ids.shape[1]]
        x = nn.functional.dropout(x, 0.1) if dropout else x  # the paper's, left on
        return x * math.sqrt(d_model) if scale == "after" else x

    src_mask = padding_mask(src, parts.pad_id) if src_padding else None
    encoder_mask = causal_mask(src.shape[1]) & src_mask if encoder_causal else src_mask  # "no peeking"
    memory = parts.encoder(embed(src), encoder_mask) if encode else embed(src)
    masks = [causal_mask(trg_in.shape[1])] if causal else []
    if trg_padding:
        masks.append(padding_mask(trg_in, parts.pad_id))
    trg_mask = combine_masks(*masks)
    cross_mask = {"padding": src_mask, "none": None, "causal": trg_mask}[cross]
    hidden = parts.decoder(embed(trg_in if reads == "trg" else src), memory, trg_mask, cross_mask)
    logits = parts.output(hidden) if project else hidden
    if softmax == "log":
        return logits.log_softmax(dim=-1)
    return logits.softmax(dim=-1) if softmax else logits


# --- Other correct answers ---


def one_stage_at_a_time(parts, src, trg_in):
    """Every layer of each stack in a loop, then the stack's final norm (as nn.Transformer)."""
    d = parts.positions.shape[1]
    x = parts.embedding(src) * d**0.5 + parts.positions[: src.shape[1]]
    src_keys = (src != parts.pad_id).view(src.shape[0], 1, 1, -1)
    for layer in parts.encoder.layers:
        x = layer(x, src_keys)
    memory = parts.encoder.norm(x)
    y = parts.embedding(trg_in) * d**0.5 + parts.positions[: trg_in.shape[1]]
    allowed = torch.tril(torch.ones(trg_in.shape[1], trg_in.shape[1])).bool()
    allowed = allowed & (trg_in != parts.pad_id).view(trg_in.shape[0], 1, 1, -1)
    for layer in parts.decoder.layers:
        y = layer(y, memory, allowed, src_keys)
    return parts.decoder.norm(y) @ parts.output.weight.T


# --- The wrong answers, each a Mistake's example ---


def combines_with_or(parts, src, trg_in):
    d = parts.embedding.embedding_dim
    memory = parts.encoder(
        parts.embedding(src) * d**0.5 + parts.positions[: src.shape[1]], padding_mask(src, parts.pad_id)
    )
    trg_mask = causal_mask(trg_in.shape[1]) | padding_mask(trg_in, parts.pad_id)  # "add" the masks
    y = parts.embedding(trg_in) * d**0.5 + parts.positions[: trg_in.shape[1]]
    return parts.output(parts.decoder(y, memory, trg_mask, padding_mask(src, parts.pad_id)))


def adds_every_position(parts, src, trg_in):
    d = parts.embedding.embedding_dim

    def embed(ids):
        return parts.embedding(ids) * math.sqrt(d) + parts.positions  # all max_len rows

    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(embed(src), src_mask)
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def scales_late(parts, src, trg_in):
    d = parts.embedding.embedding_dim

    def embed(ids):
        return (parts.embedding(ids) + parts.positions[: ids.shape[1]]) * math.sqrt(d)

    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(embed(src), src_mask)
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def with_flat_masks(parts, src, trg_in):
    d = parts.embedding.embedding_dim
    src_mask = src != parts.pad_id  # (B, Ls): does not broadcast over heads and queries
    memory = parts.encoder(parts.embedding(src) * d**0.5 + parts.positions[: src.shape[1]], src_mask)
    trg_mask = causal_mask(trg_in.shape[1]) & (trg_in != parts.pad_id)[:, None, :]
    y = parts.embedding(trg_in) * d**0.5 + parts.positions[: trg_in.shape[1]]
    return parts.output(parts.decoder(y, memory, trg_mask, src_mask))


def with_pytorchs_causal_mask(parts, src, trg_in):
    """nn.Transformer's float mask, 0 where seen and -inf where not, as the decoder's mask."""
    scale = math.sqrt(parts.embedding.embedding_dim)
    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(parts.embedding(src) * scale + parts.positions[: src.shape[1]], src_mask)
    trg_mask = nn.Transformer.generate_square_subsequent_mask(trg_in.shape[1])
    y = parts.embedding(trg_in) * scale + parts.positions[: trg_in.shape[1]]
    return parts.output(parts.decoder(y, memory, trg_mask, src_mask))


# --- Met in the seventh audit ---


def _embed(parts, ids, factor):
    return parts.embedding(ids) * factor + parts.positions[: ids.shape[1]]


def _masks(parts, src, trg_in):
    return padding_mask(src, parts.pad_id), causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)


def scales_by_the_vocabulary(parts, src, trg_in):
    factor = math.sqrt(parts.embedding.num_embeddings)  # meant embedding_dim, d_model
    src_mask, trg_mask = _masks(parts, src, trg_in)
    memory = parts.encoder(_embed(parts, src, factor), src_mask)
    return parts.output(parts.decoder(_embed(parts, trg_in, factor), memory, trg_mask, src_mask))


def projects_the_memory(parts, src, trg_in):
    src_mask, _ = _masks(parts, src, trg_in)
    memory = parts.encoder(_embed(parts, src, math.sqrt(parts.embedding.embedding_dim)), src_mask)
    return parts.output(memory)  # the decoder never run


def masks_the_memory_by_the_target(parts, src, trg_in):
    factor = math.sqrt(parts.embedding.embedding_dim)
    src_mask, trg_mask = _masks(parts, src, trg_in)
    memory = parts.encoder(_embed(parts, src, factor), src_mask)
    cross = padding_mask(trg_in, parts.pad_id)  # the target's padding, on the source's keys
    return parts.output(parts.decoder(_embed(parts, trg_in, factor), memory, trg_mask, cross))


def swaps_the_decoder_masks(parts, src, trg_in):
    factor = math.sqrt(parts.embedding.embedding_dim)
    src_mask, trg_mask = _masks(parts, src, trg_in)
    memory = parts.encoder(_embed(parts, src, factor), src_mask)
    return parts.output(parts.decoder(_embed(parts, trg_in, factor), memory, src_mask, trg_mask))


def returns_the_token_ids(parts, src, trg_in):
    factor = math.sqrt(parts.embedding.embedding_dim)
    src_mask, trg_mask = _masks(parts, src, trg_in)
    memory = parts.encoder(_embed(parts, src, factor), src_mask)
    logits = parts.output(parts.decoder(_embed(parts, trg_in, factor), memory, trg_mask, src_mask))
    return logits.argmax(dim=-1)  # the predicted tokens, not the logits


def leaves_the_encoder_unmasked(parts, src, trg_in):
    factor = math.sqrt(parts.embedding.embedding_dim)
    src_mask, trg_mask = _masks(parts, src, trg_in)
    memory = parts.encoder(_embed(parts, src, factor), None)  # the source's <pad> read by the encoder
    return parts.output(parts.decoder(_embed(parts, trg_in, factor), memory, trg_mask, src_mask))


def masks_no_padding(parts, src, trg_in):
    factor = math.sqrt(parts.embedding.embedding_dim)
    memory = parts.encoder(_embed(parts, src, factor), None)
    trg_mask = causal_mask(trg_in.shape[1])  # the causal mask only, <pad> nowhere hidden
    return parts.output(parts.decoder(_embed(parts, trg_in, factor), memory, trg_mask, None))


def causal_mask_of_the_source_length(parts, src, trg_in):
    factor = math.sqrt(parts.embedding.embedding_dim)
    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(_embed(parts, src, factor), src_mask)
    trg_mask = causal_mask(src.shape[1]) & padding_mask(trg_in, parts.pad_id)  # meant trg_in.shape[1]
    return parts.output(parts.decoder(_embed(parts, trg_in, factor), memory, trg_mask, src_mask))


# --- Met in the round-41 battery ---


def _forward(parts, src, trg_in, embed, src_mask=None, trg_mask=None):
    """The forward pass with the learner's ``embed`` and, where given, masks of their own."""
    src_mask = padding_mask(src, parts.pad_id) if src_mask is None else src_mask
    memory = parts.encoder(embed(src), src_mask)
    if trg_mask is None:
        trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def _scaled(parts, ids):
    return parts.embedding(ids) * math.sqrt(parts.embedding.embedding_dim)


def positions_of_the_batch_size(parts, src, trg_in):
    return _forward(parts, src, trg_in, lambda ids: _scaled(parts, ids) + parts.positions[: ids.shape[0]])


def positions_looked_up_by_id(parts, src, trg_in):
    return _forward(parts, src, trg_in, lambda ids: _scaled(parts, ids) + parts.positions[ids])


def positions_added_twice(parts, src, trg_in):
    def embed(ids):
        x = _scaled(parts, ids) + parts.positions[: ids.shape[1]]
        return x + parts.positions[: ids.shape[1]]  # once more, "to be sure"

    return _forward(parts, src, trg_in, embed)


def scales_by_max_len(parts, src, trg_in):
    d_model = parts.positions.shape[0]  # (max_len, d_model): the first axis is max_len

    def embed(ids):
        return parts.embedding(ids) * math.sqrt(d_model) + parts.positions[: ids.shape[1]]

    return _forward(parts, src, trg_in, embed)


def scales_the_target_only(parts, src, trg_in):
    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(parts.embedding(src) + parts.positions[: src.shape[1]], src_mask)  # no √d
    y = _scaled(parts, trg_in) + parts.positions[: trg_in.shape[1]]
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    return parts.output(parts.decoder(y, memory, trg_mask, src_mask))


def masks_with_pytorchs_convention(parts, src, trg_in):
    def embed(ids):
        return _scaled(parts, ids) + parts.positions[: ids.shape[1]]

    src_mask = (src == parts.pad_id)[:, None, None, :]  # True = <pad>, as nn.Transformer reads it
    trg_mask = causal_mask(trg_in.shape[1]) & (trg_in == parts.pad_id)[:, None, None, :]
    return _forward(parts, src, trg_in, embed, src_mask, trg_mask)


def masks_the_target_by_the_source(parts, src, trg_in):
    def embed(ids):
        return _scaled(parts, ids) + parts.positions[: ids.shape[1]]

    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(src, parts.pad_id)  # src: the wrong sentence
    return _forward(parts, src, trg_in, embed, trg_mask=trg_mask)


def shifts_the_target_again(parts, src, trg_in):
    trg_in = trg_in[:, :-1]  # "the decoder reads the target shifted right"
    return _forward(parts, src, trg_in, lambda ids: _scaled(parts, ids) + parts.positions[: ids.shape[1]])


def returns_the_last_position(parts, src, trg_in):
    logits = _forward(parts, src, trg_in, lambda ids: _scaled(parts, ids) + parts.positions[: ids.shape[1]])
    return logits[:, -1]  # what generation reads


def multiplies_by_the_output_weight(parts, src, trg_in):
    def embed(ids):
        return _scaled(parts, ids) + parts.positions[: ids.shape[1]]

    src_mask = padding_mask(src, parts.pad_id)
    memory = parts.encoder(embed(src), src_mask)
    trg_mask = causal_mask(trg_in.shape[1]) & padding_mask(trg_in, parts.pad_id)
    return parts.decoder(embed(trg_in), memory, trg_mask, src_mask) @ parts.output.weight  # (V, d)


def softmax_over_positions(parts, src, trg_in):
    logits = _forward(parts, src, trg_in, lambda ids: _scaled(parts, ids) + parts.positions[: ids.shape[1]])
    return torch.softmax(logits, dim=1)


# --- Right answers in other styles (round 41) ---


def functional_embedding(parts, src, trg_in):
    def embed(ids):  # the table itself, and d_model read from the positions' last axis
        d_model = parts.positions.shape[-1]
        return (
            nn.functional.embedding(ids, parts.embedding.weight) * d_model**0.5
            + parts.positions[: ids.shape[1]]
        )

    return _forward(parts, src, trg_in, embed)


def masks_by_hand(parts, src, trg_in):
    def embed(ids):
        return _scaled(parts, ids) + parts.positions[torch.arange(ids.shape[1])]

    src_mask = (src != parts.pad_id).unsqueeze(1).unsqueeze(2)
    length = trg_in.shape[1]
    allowed = torch.tril(torch.ones(length, length, dtype=torch.bool))
    trg_mask = torch.logical_and(allowed, (trg_in != parts.pad_id)[:, None, None, :])
    return _forward(parts, src, trg_in, embed, src_mask, trg_mask)


def builds_the_table_the_other_way(parts, src, trg_in):
    d_model = parts.embedding.embedding_dim

    def embed(ids):  # sinusoidal_encoding(length, d_model), arguments swapped
        return _scaled(parts, ids) + sinusoidal_encoding(d_model, ids.shape[1])[: ids.shape[1]]

    return _forward(parts, src, trg_in, embed)


# --- Round 43: another right answer, in a style not registered before ---
def table_indexed_masks_unsqueezed(parts, src, trg_in):
    """The token table indexed by the ids, masks by [:, None, None, :], the output by einsum."""
    d_model = parts.embedding.weight.shape[1]

    def embed(ids):  # (B, L) → (B, L, d_model)
        return parts.embedding.weight[ids] * d_model**0.5 + parts.positions[: ids.size(1)].unsqueeze(0)

    src_mask = (src != parts.pad_id)[:, None, None, :]  # (B, 1, 1, Ls)
    causal = torch.ones(trg_in.shape[1], trg_in.shape[1], dtype=torch.bool).tril()
    trg_mask = causal & (trg_in != parts.pad_id)[:, None, None, :]  # (B, 1, Lt, Lt)
    hidden = parts.decoder(embed(trg_in), parts.encoder(embed(src), src_mask), trg_mask, src_mask)
    logits = torch.einsum("btd,vd->btv", hidden, parts.output.weight)
    return logits if parts.output.bias is None else logits + parts.output.bias


def in_float64(parts, src, trg_in):
    """Everything in float64, the parts' own weights cast on the way (torch.func.functional_call),
    so that their gradients still flow back to them; cast back to float32 at the end."""

    def run(module, *args):
        return torch.func.functional_call(module, {n: p.double() for n, p in module.named_parameters()}, args)

    def embed(ids):  # (B, L) → (B, L, d_model), float64
        d_model = parts.embedding.embedding_dim
        return run(parts.embedding, ids) * math.sqrt(d_model) + parts.positions[: ids.shape[1]].double()

    src_mask = padding_mask(src, parts.pad_id)
    memory = run(parts.encoder, embed(src), src_mask)
    trg_mask = combine_masks(causal_mask(trg_in.shape[1]), padding_mask(trg_in, parts.pad_id))
    return run(parts.output, run(parts.decoder, embed(trg_in), memory, trg_mask, src_mask)).float()
