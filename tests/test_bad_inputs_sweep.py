"""A systematic sweep of bad input over lib's public API: every public function and class of
the core modules (and their methods) is called once with arguments that work, then once for
each argument replaced by a hostile value (None, a str, a bool, NaN, ±inf, -1, 0, 10**30, a
float for an int, a list or numpy array for a tensor, a tensor of another rank or dtype, an
empty one, a meta one).

Each call must either succeed, where the value is one a PyTorch user may rightly pass (a numpy
int, int32 ids, None where None means "the default"), or raise a ValueError or TypeError whose
message names the argument. Anything else (an IndexError or RuntimeError from inside torch, an
OverflowError, a hang, a silent NaN, a message naming another argument) is a finding.
``test_every_public_callable_is_swept`` keeps the table in step with lib: a new public name
must be added to it.

What the sweep found, each now refused by name: an nn.Linear as ``model`` or ``batch_fn``
("mat1 and mat2 must have the same dtype" from inside the training step or the loss); uint8
indices, which torch reads as a mask of rows (an IndexError, or the wrong rows silently); a
model on the meta device ("META device type not an accelerator", "Cannot copy out of meta
tensor"); a meta ``it_pos`` or ``ids`` in the pronoun pointer; ``i`` and ``length`` on two
devices; 10**400 as a Story's log_prob or an eval's value (OverflowError); a Table of no entry
or of None (IndexError, AttributeError) and a seed as ``Table.draw``'s rng; hand-made
SequenceTask and PronounTask of any field; ``model_fits(target="no")``; the checks that copy
PyTorch's layers given something else as ``mine`` or ``layer`` (AttributeError); a message that
said "ids" for decoder_logits_fn's ``prefix``, "tgt" for a 1-D ``src``, "it_pos" for a 1-D ``ids``.
"""

from __future__ import annotations

import copy
import fractions
import importlib
import inspect
import math
import random
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from refusals import SMALL, assert_refused, each_case
from torch import nn
from transformer_course import (
    alignment,
    attention,
    attention_inputs,
    cost,
    data,
    embeddings,
    examples,
    generation,
    history,
    kv_cache,
    layers,
    lm_training,
    logits_fns,
    lr_schedule,
    masks,
    model,
    narrow_heads,
    neighbours,
    pointer,
    positional,
    pronoun_heads,
    recurrence,
    sampling,
    softmax,
    stacks,
    stories,
    story_ids,
    story_record,
    story_world,
    tokenizer,
    torch_layers,
    training,
)
from transformer_course import config as config_module

MODULES = (
    "attention attention_inputs embeddings positional masks softmax layers stacks model model_base "
    "narrow_heads kv_cache generation sampling logits_fns training lm_training lr_schedule data "
    "tokenizer stories story_ids story_world story_record pronoun_heads neighbours recurrence cost "
    "alignment pointer history examples config torch_layers assets modes"
).split()
# The package's other modules, and why no row sweeps them: none is a function a notebook calls
# with a learner's values. The workspace modules move the learner's files by paths lib computes
# (workspace_record's rename_new and move_new, workspace_reset's Leftovers), so a hostile value
# there is a bug in lib, not a learner's mistake; their own tests (test_workspace*.py) cover them.
NOT_SWEPT = {
    "_validate": "private: the checks every row above reaches",
    "kernel_memory": "a command line (make memory), run by an instructor",
    "lab_server": "a Jupyter server class, made by the server",
    **{
        name: "the workspace command line and its parts (python -m transformer_course.workspace)"
        for name in (
            "workspace workspace_advice workspace_backups workspace_folder workspace_git "
            "workspace_lab workspace_record workspace_reset workspace_status workspace_sync"
        ).split()
    },
}

torch.manual_seed(0)
B, L, D = 2, 4, 8
X = torch.randn(B, L, D)
Q = torch.randn(B, 2, L, 4)
IDS = torch.tensor([[1, 5, 7, 0], [2, 3, 0, 0]])
MASK = torch.ones(L, L, dtype=torch.bool).tril()
LOGITS = torch.randn(12)
WEIGHTS = torch.softmax(torch.randn(B, L, L), -1)

GPT = model.DecoderOnlyTransformer(SMALL).eval()
SEQ2SEQ = model.Transformer(SMALL).eval()
BERT = model.EncoderOnlyTransformer(SMALL).eval()
MHA = attention.MultiHeadAttention(D, 2).eval()
TASK = data.sequence_task("reverse", num_train=20, num_test=6, max_len=5)
SEQ_MODEL = model.Transformer(SMALL.replace(vocab_size=len(TASK.vocab))).eval()
PTASK = data.pronoun_task(num_train=8, num_test=4)
POINTER = pointer.PronounPointer(SMALL.replace(vocab_size=len(PTASK.vocab))).eval()
GEN = stories.StoryGenerator()
STORIES = GEN.sample(4, seed=0)
STORY_IDS = story_ids.encode(STORIES)
STORY_GPT = model.DecoderOnlyTransformer(
    SMALL.replace(vocab_size=len(story_ids.story_vocab()), max_len=64)
).eval()
READING = pronoun_heads.pronoun_attention(STORY_GPT, STORIES)
HEADS = pronoun_heads.find_pronoun_heads(STORY_GPT, STORIES)
VOCAB = tokenizer.course_vocab()
READER = neighbours.NeighbourReader().eval()
ROWS = neighbours.neighbour_rows(3)
SATURATION = softmax.saturation_experiment((2, 4), rows=4)
TORCH_MHA = nn.MultiheadAttention(D, 2, batch_first=True)
TORCH_ENC = nn.TransformerEncoderLayer(D, 2, 16, 0.0, batch_first=True)
TORCH_DEC = nn.TransformerDecoderLayer(D, 2, 16, 0.0, batch_first=True)
TORCH_TRANSFORMER = nn.Transformer(D, 2, 1, 1, 16, 0.0, batch_first=True)
ENTRY = STORIES[0].sentences[0]
A_CHAR, B_CHAR = story_world.cast_pairs()[0]
FOOD = "pizza"


class Fresh:
    """A valid argument built anew for each call (a cache that a call fills)."""

    def __init__(self, build: Callable):
        self.build = build


def _train_args():
    return {
        "model": STORY_GPT,
        "loss_fn": lm_training.story_loss_fn(),
        "batch_fn": lm_training.story_batch_fn(STORY_IDS),
        "num_items": 4,
        "steps": 1,
        "batch_size": 2,
        "lr": 1e-9,
        "seed": 0,
        "warmup": 0,
        "decay": False,
        "snapshot_fn": None,
        "snapshot_steps": (),
        "callback": None,
        "callback_every": 25,
        "progress": False,
        "description": "training",
        "history": None,
        "optimiser": None,
    }


# (id, function called with the keyword arguments, the keyword arguments of a call that works)
ENTRIES: list[tuple[str, Callable, dict]] = [
    # --- attention ---
    ("attention.attention_scores", attention.attention_scores, {"q": Q, "k": Q, "scale": None}),
    (
        "attention.scaled_dot_product_attention",
        attention.scaled_dot_product_attention,
        {
            "q": Q,
            "k": Q,
            "v": Q,
            "mask": MASK,
            "scale": None,
            "need_weights": True,
            "dropout_p": 0.0,
            "causal": False,
        },
    ),
    (
        "attention.SingleHeadAttention",
        attention.SingleHeadAttention,
        {"d_model": D, "d_k": 4, "d_v": 4, "bias": False},
    ),
    (
        "attention.SingleHeadAttention.forward",
        lambda x, context, mask: attention.SingleHeadAttention(D, 4)(x, context, mask),
        {"x": X, "context": X, "mask": MASK},
    ),
    (
        "attention.MultiHeadAttention",
        attention.MultiHeadAttention,
        {"d_model": D, "num_heads": 2, "bias": True, "dropout": 0.0, "kdim": None, "vdim": None},
    ),
    ("attention.MultiHeadAttention.split_heads", lambda x: MHA.split_heads(x), {"x": X}),
    ("attention.MultiHeadAttention.merge_heads", lambda x: MHA.merge_heads(x), {"x": Q}),
    (
        "attention.MultiHeadAttention.forward",
        lambda query, key, value, mask, need_weights, causal: MHA(
            query, key, value, mask, need_weights=need_weights, causal=causal
        ),
        {"query": X, "key": X, "value": X, "mask": MASK, "need_weights": True, "causal": False},
    ),
    (
        "attention.MultiHeadAttention.forward_cached",
        lambda x, cache, layer, mask, need_weights: MHA.forward_cached(
            x, cache, layer, mask, need_weights=need_weights
        ),
        {
            "x": X,
            "cache": Fresh(lambda: kv_cache.KVCache(1, 8)),
            "layer": 0,
            "mask": None,
            "need_weights": False,
        },
    ),
    (
        "attention.MultiHeadAttention.load_from_torch",
        lambda mha, name: attention.MultiHeadAttention(D, 2).load_from_torch(mha, name),
        {"mha": TORCH_MHA, "name": "mha"},
    ),
    # --- attention_inputs (the checks attention calls) ---
    ("attention_inputs.check_weights_fit", attention_inputs.check_weights_fit, {"q": Q, "k": Q}),
    ("attention_inputs.check_qk", attention_inputs.check_qk, {"q": Q, "k": Q}),
    ("attention_inputs.check_scale", attention_inputs.check_scale, {"scale": 0.5}),
    (
        "attention_inputs.check_mask",
        attention_inputs.check_mask,
        {"mask": MASK, "scores_shape": (B, 2, L, L), "device": torch.device("cpu"), "name": "mask"},
    ),
    (
        "attention_inputs.check_sequences",
        lambda d_model, weight, x: attention_inputs.check_sequences(d_model, weight, x=x),
        {"d_model": D, "weight": MHA.q_proj.weight, "x": X},
    ),
    (
        "attention_inputs.check_torch_mha",
        attention_inputs.check_torch_mha,
        {"mine": MHA, "mha": TORCH_MHA, "name": "mha"},
    ),
    # --- embeddings ---
    (
        "embeddings.TokenEmbedding",
        embeddings.TokenEmbedding,
        {"vocab_size": 12, "d_model": D, "scale": True, "padding_idx": None},
    ),
    ("embeddings.TokenEmbedding.forward", lambda ids: embeddings.TokenEmbedding(12, D)(ids), {"ids": IDS}),
    ("embeddings.one_hot_embed", embeddings.one_hot_embed, {"ids": IDS, "weight": torch.randn(12, D)}),
    ("embeddings.similarity_matrix", embeddings.similarity_matrix, {"vectors": X[0], "kind": "cosine"}),
    # --- positional ---
    (
        "positional.sinusoidal_encoding",
        positional.sinusoidal_encoding,
        {"length": L, "d_model": D, "base": 10000.0, "dtype": torch.float32, "device": None},
    ),
    (
        "positional.shift_matrix",
        positional.shift_matrix,
        {"k": 2, "d_model": D, "base": 10000.0, "dtype": torch.float32},
    ),
    (
        "positional.SinusoidalPositionalEncoding",
        positional.SinusoidalPositionalEncoding,
        {"d_model": D, "max_len": 16, "base": 10000.0},
    ),
    (
        "positional.SinusoidalPositionalEncoding.forward",
        lambda x, start: positional.SinusoidalPositionalEncoding(D, 16)(x, start=start),
        {"x": X, "start": 0},
    ),
    (
        "positional.LearnedPositionalEmbedding",
        positional.LearnedPositionalEmbedding,
        {"d_model": D, "max_len": 16},
    ),
    (
        "positional.LearnedPositionalEmbedding.forward",
        lambda x, start: positional.LearnedPositionalEmbedding(D, 16)(x, start=start),
        {"x": X, "start": 0},
    ),
    # --- masks ---
    ("masks.causal_mask", masks.causal_mask, {"length": L, "device": None}),
    ("masks.padding_mask", masks.padding_mask, {"ids": IDS, "pad_id": 0}),
    ("masks.combine_masks (each)", lambda a, b: masks.combine_masks(a, b), {"a": MASK, "b": MASK}),
    ("masks.additive_mask", masks.additive_mask, {"mask": MASK, "dtype": torch.float32}),
    ("masks.to_blocked", masks.to_blocked, {"mask": MASK}),
    # --- softmax ---
    ("softmax.naive_softmax", softmax.naive_softmax, {"scores": X, "dim": -1}),
    ("softmax.stable_softmax", softmax.stable_softmax, {"scores": X, "dim": -1}),
    ("softmax.entropy", softmax.entropy, {"weights": WEIGHTS, "dim": -1}),
    ("softmax.softmax_jacobian_norm", softmax.softmax_jacobian_norm, {"weights": WEIGHTS}),
    (
        "softmax.saturation_experiment",
        softmax.saturation_experiment,
        {"d_ks": (2, 4), "length": 4, "rows": 4, "seed": 0},
    ),
    (
        "softmax.SaturationResult",
        softmax.SaturationResult,
        {f: getattr(SATURATION, f) for f in inspect.signature(softmax.SaturationResult).parameters},
    ),
    # --- layers ---
    (
        "layers.FeedForward",
        layers.FeedForward,
        {"d_model": D, "d_ff": 16, "dropout": 0.0, "activation": "relu", "bias": True},
    ),
    ("layers.FeedForward.forward", lambda x: layers.FeedForward(D, 16)(x), {"x": X}),
    (
        "layers.AddNorm",
        layers.AddNorm,
        {"d_model": D, "dropout": 0.0, "norm_first": False, "eps": 1e-5, "bias": True},
    ),
    (
        "layers.AddNorm.forward",
        lambda x, sublayer: layers.AddNorm(D)(x, sublayer),
        {"x": X, "sublayer": lambda h: h * 2},
    ),
    (
        "layers.EncoderLayer",
        layers.EncoderLayer,
        {
            "d_model": D,
            "num_heads": 2,
            "d_ff": 16,
            "dropout": 0.0,
            "norm_first": False,
            "activation": "relu",
            "eps": 1e-5,
            "bias": True,
        },
    ),
    (
        "layers.EncoderLayer.forward",
        lambda x, mask, need_weights, causal: layers.EncoderLayer(D, 2, 16, 0.0)(
            x, mask, need_weights=need_weights, causal=causal
        ),
        {"x": X, "mask": MASK, "need_weights": False, "causal": False},
    ),
    (
        "layers.EncoderLayer.forward_cached",
        lambda x, cache, layer, mask, need_weights: layers.EncoderLayer(D, 2, 16, 0.0).forward_cached(
            x, cache, layer, mask, need_weights=need_weights
        ),
        {
            "x": X,
            "cache": Fresh(lambda: kv_cache.KVCache(1, 8)),
            "layer": 0,
            "mask": None,
            "need_weights": False,
        },
    ),
    (
        "layers.EncoderLayer.load_from_torch",
        lambda layer, name: layers.EncoderLayer(D, 2, 16, 0.0).load_from_torch(layer, name),
        {"layer": TORCH_ENC, "name": "layer"},
    ),
    (
        "layers.DecoderLayer",
        layers.DecoderLayer,
        {
            "d_model": D,
            "num_heads": 2,
            "d_ff": 16,
            "dropout": 0.0,
            "norm_first": False,
            "activation": "relu",
            "eps": 1e-5,
            "bias": True,
        },
    ),
    (
        "layers.DecoderLayer.forward",
        lambda x, memory, self_mask, cross_mask, need_weights: layers.DecoderLayer(D, 2, 16, 0.0)(
            x, memory, self_mask, cross_mask, need_weights=need_weights
        ),
        {"x": X, "memory": X, "self_mask": MASK, "cross_mask": None, "need_weights": False},
    ),
    (
        "layers.DecoderLayer.load_from_torch",
        lambda layer, name: layers.DecoderLayer(D, 2, 16, 0.0).load_from_torch(layer, name),
        {"layer": TORCH_DEC, "name": "layer"},
    ),
    ("layers.check_activation", layers.check_activation, {"activation": "gelu"}),
    # --- stacks ---
    (
        "stacks.Embed",
        stacks.Embed,
        {"token": embeddings.TokenEmbedding(12, D), "config": SMALL},
    ),
    (
        "stacks.Embed.forward",
        lambda ids, start: stacks.Embed(embeddings.TokenEmbedding(12, D), SMALL)(ids, start=start),
        {"ids": IDS, "start": 0},
    ),
    ("stacks.Encoder", stacks.Encoder, {"config": SMALL, "num_layers": 1}),
    (
        "stacks.Encoder.forward",
        lambda x, mask, need_weights, causal: stacks.Encoder(SMALL).eval()(
            x, mask, need_weights=need_weights, causal=causal
        ),
        {"x": X, "mask": MASK, "need_weights": False, "causal": False},
    ),
    (
        "stacks.Encoder.forward_cached",
        lambda x, cache, mask, need_weights: (
            stacks.Encoder(SMALL).eval().forward_cached(x, cache, mask, need_weights=need_weights)
        ),
        {"x": X, "cache": Fresh(lambda: kv_cache.KVCache(1, 8)), "mask": None, "need_weights": False},
    ),
    (
        "stacks.Encoder.load_from_torch",
        lambda stack, name: stacks.Encoder(SMALL).load_from_torch(stack, name),
        {"stack": TORCH_TRANSFORMER.encoder, "name": "stack"},
    ),
    ("stacks.Decoder", stacks.Decoder, {"config": SMALL, "num_layers": 1}),
    (
        "stacks.Decoder.load_from_torch",
        lambda stack, name: stacks.Decoder(SMALL).load_from_torch(stack, name),
        {"stack": TORCH_TRANSFORMER.decoder, "name": "stack"},
    ),
    (
        "stacks.Decoder.forward",
        lambda x, memory, self_mask, cross_mask, need_weights: stacks.Decoder(SMALL).eval()(
            x, memory, self_mask, cross_mask, need_weights=need_weights
        ),
        {"x": X, "memory": X, "self_mask": MASK, "cross_mask": None, "need_weights": False},
    ),
    # --- model ---
    ("model.count_parameters", model.count_parameters, {"model": GPT, "trainable_only": True}),
    ("model.Transformer", model.Transformer, {"config": SMALL}),
    (
        "model.Transformer.encode",
        lambda src, need_weights: SEQ2SEQ.encode(src, need_weights=need_weights),
        {"src": IDS, "need_weights": False},
    ),
    (
        "model.Transformer.decode",
        lambda trg_in, memory, src, need_weights: SEQ2SEQ.decode(
            trg_in, memory, src, need_weights=need_weights
        ),
        {"trg_in": IDS, "memory": X, "src": IDS, "need_weights": False},
    ),
    (
        "model.Transformer.forward",
        lambda src, trg_in, need_weights: SEQ2SEQ(src, trg_in, need_weights=need_weights),
        {"src": IDS, "trg_in": IDS, "need_weights": False},
    ),
    (
        "model.Transformer.load_from_torch",
        lambda transformer: model.Transformer(
            SMALL.replace(d_ff=16, final_norm=True, tie_embeddings=False)
        ).load_from_torch(transformer),
        {"transformer": TORCH_TRANSFORMER},
    ),
    ("model.DecoderOnlyTransformer", model.DecoderOnlyTransformer, {"config": SMALL}),
    (
        "model.DecoderOnlyTransformer.forward",
        lambda ids, need_weights: GPT(ids, need_weights=need_weights),
        {"ids": IDS, "need_weights": False},
    ),
    (
        "model.DecoderOnlyTransformer.step",
        lambda ids, cache, need_weights: GPT.step(ids, cache, need_weights=need_weights),
        {"ids": IDS, "cache": Fresh(GPT.new_cache), "need_weights": False},
    ),
    ("model.EncoderOnlyTransformer", model.EncoderOnlyTransformer, {"config": SMALL}),
    (
        "model.EncoderOnlyTransformer.encode",
        lambda ids, need_weights: BERT.encode(ids, need_weights=need_weights),
        {"ids": IDS, "need_weights": False},
    ),
    (
        "model.EncoderOnlyTransformer.forward",
        lambda ids, need_weights: BERT(ids, need_weights=need_weights),
        {"ids": IDS, "need_weights": False},
    ),
    ("model.shape_trace", model.shape_trace, {"model": SEQ2SEQ, "src": IDS, "trg_in": IDS}),
    ("model_base.padding_mask", lambda ids: GPT.padding_mask(ids), {"ids": IDS}),
    ("model_base.causal_padding_mask", lambda ids: GPT.causal_padding_mask(ids), {"ids": IDS}),
    # --- narrow_heads ---
    ("narrow_heads.suits", narrow_heads.suits, {"q": Q, "k": Q, "v": Q}),
    (
        "narrow_heads.attention",
        narrow_heads.attention,
        {"q": Q, "k": Q, "v": Q, "scale": 0.5, "mask": MASK, "causal": False},
    ),
    ("narrow_heads.mask_bias", narrow_heads.mask_bias, {"mask": MASK, "dtype": torch.float32}),
    # --- kv_cache ---
    ("kv_cache.KVCache", kv_cache.KVCache, {"num_layers": 1, "max_len": 8}),
    ("kv_cache.KVCache.add_ids", lambda ids: kv_cache.KVCache(1, 8).add_ids(ids), {"ids": IDS}),
    (
        "kv_cache.KVCache.append",
        lambda layer, k, v: kv_cache.KVCache(1, 8).append(layer, k, v),
        {"layer": 0, "k": Q, "v": Q},
    ),
    # --- generation ---
    (
        "generation.Step",
        generation.Step,
        {"prefix": torch.tensor([1, 2]), "probs": torch.softmax(LOGITS, -1), "chosen": 3},
    ),
    ("generation.Generation", generation.Generation, {"ids": torch.tensor([1, 2]), "steps": []}),
    (
        "generation.last_logits",
        generation.last_logits,
        {"logits_fn": logits_fns.decoder_logits_fn(GPT), "prefix": IDS},
    ),
    (
        "generation.generate",
        generation.generate,
        {
            "logits_fn": logits_fns.decoder_logits_fn(GPT),
            "prompt": torch.tensor([1, 2]),
            "max_new_tokens": 2,
            "strategy": "sample",
            "temperature": 1.0,
            "top_k": 5,
            "top_p": 0.9,
            "eos_id": 3,
            "seed": 0,
        },
    ),
    (
        "generation.greedy_decode",
        generation.greedy_decode,
        {
            "logits_fn": logits_fns.decoder_logits_fn(GPT),
            "prompt": IDS,
            "max_new_tokens": 2,
            "eos_id": 3,
            "pad_id": 0,
        },
    ),
    ("generation.strip", generation.strip, {"ids": IDS, "eos_id": 0, "skip": (1,)}),
    (
        "generation.sequence_accuracy",
        generation.sequence_accuracy,
        {"predicted": IDS, "target": IDS, "eos_id": 0, "skip": (1,)},
    ),
    (
        "generation.seq2seq_accuracy",
        generation.seq2seq_accuracy,
        {
            "model": SEQ_MODEL,
            "split": TASK.test,
            "bos_id": TASK.vocab.bos_id,
            "eos_id": TASK.vocab.eos_id,
            "pad_id": TASK.vocab.pad_id,
            "batch_size": 4,
        },
    ),
    # --- sampling ---
    (
        "sampling.check_options",
        sampling.check_options,
        {"temperature": 1.0, "top_k": 3, "vocab_size": 12, "top_p": 0.5},
    ),
    ("sampling.check_strategy", sampling.check_strategy, {"strategy": "greedy"}),
    ("sampling.check_logits", sampling.check_logits, {"logits": LOGITS}),
    (
        "sampling.next_token_probs",
        sampling.next_token_probs,
        {"logits": LOGITS, "temperature": 1.0, "top_k": 3, "top_p": 0.9},
    ),
    ("sampling.keep_top_p", sampling.keep_top_p, {"probs": torch.softmax(LOGITS, -1), "top_p": 0.9}),
    (
        "sampling.choose",
        sampling.choose,
        {
            "logits": LOGITS[None],
            "strategy": "sample",
            "temperature": 1.0,
            "top_k": 3,
            "top_p": 0.9,
            "generator": torch.Generator().manual_seed(0),
        },
    ),
    # --- logits_fns ---
    ("logits_fns.output_vocab", logits_fns.output_vocab, {"model": GPT}),
    ("logits_fns.max_positions", logits_fns.max_positions, {"model": GPT}),
    (
        "logits_fns.model_fits",
        logits_fns.model_fits,
        {"model": GPT, "ids": IDS, "what": "ids", "positions": 4, "target": False},
    ),
    ("logits_fns.seq2seq_logits_fn", logits_fns.seq2seq_logits_fn, {"model": SEQ2SEQ, "src": IDS}),
    (
        "logits_fns.seq2seq_logits_fn (call)",
        lambda prefix: logits_fns.seq2seq_logits_fn(SEQ2SEQ, IDS)(prefix),
        {"prefix": IDS},
    ),
    ("logits_fns.decoder_logits_fn", logits_fns.decoder_logits_fn, {"model": GPT}),
    (
        "logits_fns.decoder_logits_fn (call)",
        lambda prefix: logits_fns.decoder_logits_fn(GPT)(prefix),
        {"prefix": IDS},
    ),
    ("logits_fns.CachedLogits", logits_fns.CachedLogits, {"model": GPT, "need_weights": False}),
    ("logits_fns.CachedLogits (call)", lambda prefix: logits_fns.CachedLogits(GPT)(prefix), {"prefix": IDS}),
    ("logits_fns.cached_logits_fn", logits_fns.cached_logits_fn, {"model": GPT, "need_weights": True}),
    # --- training ---
    ("training.train", training.train, _train_args()),
    ("training.check_pad_id", training.check_pad_id, {"pad_id": 0}),
    (
        "training.seq2seq_loss",
        training.seq2seq_loss,
        {"model": SEQ_MODEL, "batch": training.split_batch_fn(TASK.train)(torch.tensor([0, 1])), "pad_id": 0},
    ),
    ("training.split_batch_fn", training.split_batch_fn, {"split": TASK.train}),
    (
        "training.split_batch_fn (call)",
        lambda idx: training.split_batch_fn(TASK.train)(idx),
        {"idx": torch.tensor([0, 1])},
    ),
    # --- lm_training ---
    (
        "lm_training.next_token_loss",
        lm_training.next_token_loss,
        {"model": STORY_GPT, "ids": STORY_IDS, "pad_id": 0},
    ),
    ("lm_training.story_loss_fn", lm_training.story_loss_fn, {"pad_id": 0}),
    (
        "lm_training.story_loss_fn (call)",
        lambda model, ids: lm_training.story_loss_fn()(model, ids),
        {"model": STORY_GPT, "ids": STORY_IDS},
    ),
    ("lm_training.story_batch_fn", lm_training.story_batch_fn, {"ids": STORY_IDS, "pad_id": 0}),
    (
        "lm_training.story_batch_fn (call)",
        lambda indices: lm_training.story_batch_fn(STORY_IDS)(indices),
        {"indices": torch.tensor([0, 1])},
    ),
    ("lm_training.gpt_optimiser", lm_training.gpt_optimiser, {"weight_decay": 0.1, "betas": (0.9, 0.95)}),
    (
        "lm_training.gpt_optimiser (call)",
        lambda model, lr: lm_training.gpt_optimiser()(model, lr),
        {"model": STORY_GPT, "lr": 1e-3},
    ),
    (
        "lm_training.validation_loss",
        lm_training.validation_loss,
        {"model": STORY_GPT, "ids": STORY_IDS, "pad_id": 0, "batch_size": 2},
    ),
    ("lm_training.floor_on", lm_training.floor_on, {"stories": STORIES}),
    (
        "lm_training.sample_stories",
        lm_training.sample_stories,
        {
            "model": STORY_GPT,
            "num_stories": 2,
            "temperature": 1.0,
            "top_k": 5,
            "top_p": 0.9,
            "seed": 0,
            "batch_size": 2,
        },
    ),
    (
        "lm_training.acceptance",
        lm_training.acceptance,
        {"generator": GEN, "stories": [s.tokens for s in STORIES]},
    ),
    # --- lr_schedule ---
    (
        "lr_schedule.learning_rates",
        lr_schedule.learning_rates,
        {"lr": 1e-3, "steps": 10, "warmup": 2, "decay": True},
    ),
    # --- data ---
    (
        "data.SequenceSplit",
        data.SequenceSplit,
        {"src": TASK.train.src, "tgt": TASK.train.tgt, "lengths": TASK.train.lengths},
    ),
    ("data.SequenceSplit[index]", lambda index: TASK.train[index], {"index": torch.tensor([0, 1])}),
    (
        "data.SequenceTask",
        data.SequenceTask,
        {
            "kind": "reverse",
            "vocab": TASK.vocab,
            "train": TASK.train,
            "test": TASK.test,
            "max_len": 5,
            "min_len": 3,
        },
    ),
    ("data.SequenceTask.encode", lambda symbols: TASK.encode(symbols), {"symbols": ["1", "2"]}),
    ("data.SequenceTask.answer", lambda symbols: TASK.answer(symbols), {"symbols": ["1", "2"]}),
    ("data.SequenceTask.decode", lambda ids: TASK.decode(ids), {"ids": TASK.test.tgt[0]}),
    (
        "data.sequence_task",
        data.sequence_task,
        {
            "kind": "reverse",
            "num_symbols": 5,
            "min_len": 3,
            "max_len": 5,
            "num_train": 8,
            "num_test": 4,
            "seed": 0,
        },
    ),
    (
        "data.PronounSplit",
        data.PronounSplit,
        {
            f: getattr(PTASK.train, f)
            for f in ("ids", "it_pos", "referent_pos", "distractor_pos", "sentences")
        },
    ),
    ("data.PronounSplit[index]", lambda index: PTASK.train[index], {"index": torch.tensor([0, 1])}),
    ("data.SequenceSplit[int]", lambda index: TASK.train[index], {"index": 1}),
    ("data.PronounSplit[int]", lambda index: PTASK.train[index], {"index": 1}),
    ("tokenizer.Vocab.__contains__", lambda token: token in VOCAB, {"token": "the"}),
    ("data.PronounTask", data.PronounTask, {"vocab": PTASK.vocab, "train": PTASK.train, "test": PTASK.test}),
    ("data.PronounTask.tokens", lambda split, i: PTASK.tokens(split, i), {"split": PTASK.test, "i": 1}),
    ("data.pronoun_task", data.pronoun_task, {"num_train": 4, "num_test": 2, "seed": 0}),
    (
        "data.batches",
        lambda num_items, batch_size, seed: next(data.batches(num_items, batch_size, seed=seed)),
        {"num_items": 5, "batch_size": 2, "seed": 0},
    ),
    # --- tokenizer ---
    ("tokenizer.tokenize", tokenizer.tokenize, {"text": "the cat sat."}),
    ("tokenizer.Vocab", tokenizer.Vocab, {"words": ["the", "cat"]}),
    (
        "tokenizer.Vocab.from_texts",
        tokenizer.Vocab.from_texts,
        {"texts": ["the cat", "a cat"], "min_freq": 1},
    ),
    ("tokenizer.Vocab.ids", lambda tokens: VOCAB.ids(tokens), {"tokens": ["the", "cat"]}),
    ("tokenizer.Vocab.tokens", lambda ids: VOCAB.tokens(ids), {"ids": IDS[0]}),
    ("tokenizer.Vocab.unknown", lambda text: VOCAB.unknown(text), {"text": "the cat zorp"}),
    (
        "tokenizer.Vocab.encode",
        lambda text, add_bos, add_eos: VOCAB.encode(text, add_bos=add_bos, add_eos=add_eos),
        {"text": "the cat", "add_bos": True, "add_eos": False},
    ),
    (
        "tokenizer.Vocab.encode_batch",
        lambda texts, add_bos, add_eos: VOCAB.encode_batch(texts, add_bos=add_bos, add_eos=add_eos),
        {"texts": ["the cat", "a dog sat"], "add_bos": True, "add_eos": False},
    ),
    (
        "tokenizer.Vocab.decode",
        lambda ids, skip_special: VOCAB.decode(ids, skip_special=skip_special),
        {"ids": IDS[0], "skip_special": True},
    ),
    # --- stories ---
    ("stories.Mistake", stories.Mistake, {"position": 1, "token": "tom", "allowed": {"lily": 1.0}}),
    ("stories.StoryGenerator", stories.StoryGenerator, {"min_events": 1, "max_events": 2}),
    (
        "stories.StoryGenerator.sample",
        lambda num_stories, seed: GEN.sample(num_stories, seed=seed),
        {"num_stories": 2, "seed": 0},
    ),
    ("stories.StoryGenerator.parse", lambda story: GEN.parse(story), {"story": STORIES[0].tokens}),
    ("stories.StoryGenerator.is_story", lambda story: GEN.is_story(story), {"story": STORIES[0].tokens}),
    (
        "stories.StoryGenerator.first_mistake",
        lambda story, finished: GEN.first_mistake(story, finished=finished),
        {"story": STORIES[0].tokens, "finished": True},
    ),
    ("stories.StoryGenerator.log_prob", lambda story: GEN.log_prob(story), {"story": STORIES[0].tokens}),
    (
        "stories.StoryGenerator.next_token_probs",
        lambda prefix: GEN.next_token_probs(prefix),
        {"prefix": STORIES[0].tokens[:3]},
    ),
    (
        "stories.StoryGenerator.next_token_tensor",
        lambda prefix, vocab: GEN.next_token_tensor(prefix, vocab),
        {"prefix": STORIES[0].tokens[:3], "vocab": None},
    ),
    ("stories.check_count", stories.check_count, {"name": "n", "value": 3}),
    ("stories.split", stories.split, {"generator": GEN, "num_train": 3, "num_test": 2, "seed": 0}),
    # --- story_ids ---
    ("story_ids.encode", story_ids.encode, {"stories": STORIES, "length": 64}),
    ("story_ids.decode", story_ids.decode, {"ids": STORY_IDS[0]}),
    # --- story_world ---
    (
        "story_world.Character",
        story_world.Character,
        {"name": ("tom",), "pronoun": "he", "actions": ("runs",)},
    ),
    (
        "story_world.Entry",
        story_world.Entry,
        {
            "tokens": ENTRY.tokens,
            "prob": ENTRY.prob,
            "mentions": ENTRY.mentions,
            "links": ENTRY.links,
            "state": ENTRY.state,
        },
    ),
    (
        "story_world.Table",
        story_world.Table,
        {"entries": [ENTRY.__class__(("a",), 1.0, (), ())], "what": "x"},
    ),
    ("story_world.Table.draw", lambda rng: story_world.intro_table().draw(rng), {"rng": random.Random(0)}),
    ("story_world.food_table", story_world.food_table, {"a": A_CHAR.key, "b": B_CHAR.key}),
    ("story_world.event_table", story_world.event_table, {"a": A_CHAR.key, "b": B_CHAR.key, "food": FOOD}),
    # --- story_record ---
    (
        "story_record.PronounLink",
        story_record.PronounLink,
        {
            "pronoun": 5,
            "referent": 2,
            "distractors": (3,),
            "query": 5,
            "word": "he",
            "referent_mentions": (2,),
            "distractor_mentions": ((3,),),
        },
    ),
    (
        "story_record.Story",
        story_record.Story,
        {"tokens": STORIES[0].tokens, "log_prob": STORIES[0].log_prob, "sentences": STORIES[0].sentences},
    ),
    # --- pronoun_heads ---
    (
        "pronoun_heads.PronounAttention",
        pronoun_heads.PronounAttention,
        {f: getattr(READING, f) for f in ("referent", "distractor", "story", "words", "num_stories", "at")},
    ),
    (
        "pronoun_heads.PronounAttention.stories_won",
        lambda heads: READING.stories_won(heads),
        {"heads": HEADS},
    ),
    (
        "pronoun_heads.PronounAttention.rate_by_word",
        lambda layer, head: READING.rate_by_word(layer, head),
        {"layer": 0, "head": 1},
    ),
    (
        "pronoun_heads.PronounHead",
        pronoun_heads.PronounHead,
        {"layer": 0, "head": 1, "selection_rate": 0.5, "at": "query"},
    ),
    (
        "pronoun_heads.pronoun_attention",
        pronoun_heads.pronoun_attention,
        {"model": STORY_GPT, "stories": STORIES, "at": "query", "batch_size": 2},
    ),
    (
        "pronoun_heads.pronoun_readings",
        pronoun_heads.pronoun_readings,
        {"model": STORY_GPT, "stories": STORIES, "at": ("query", "pronoun"), "batch_size": 2},
    ),
    (
        "pronoun_heads.find_pronoun_head",
        pronoun_heads.find_pronoun_head,
        {"model": STORY_GPT, "selection": STORIES, "at": "query"},
    ),
    (
        "pronoun_heads.find_pronoun_heads",
        pronoun_heads.find_pronoun_heads,
        {"model": STORY_GPT, "selection": STORIES, "at": "query"},
    ),
    (
        "pronoun_heads.stories_won",
        pronoun_heads.stories_won,
        {"readings": {"query": READING}, "heads": HEADS},
    ),
    # --- neighbours ---
    (
        "neighbours.neighbour_rows",
        neighbours.neighbour_rows,
        {"num_rows": 3, "length": 8, "num_symbols": 6, "seed": 0},
    ),
    ("neighbours.neighbour_targets", neighbours.neighbour_targets, {"ids": ROWS}),
    (
        "neighbours.NeighbourReader",
        neighbours.NeighbourReader,
        {"num_symbols": 6, "d_model": 24, "num_heads": 3, "max_len": 16},
    ),
    (
        "neighbours.NeighbourReader.forward",
        lambda ids, need_weights: READER(ids, need_weights=need_weights),
        {"ids": ROWS, "need_weights": True},
    ),
    ("neighbours.neighbour_loss", neighbours.neighbour_loss, {"model": READER, "ids": ROWS}),
    ("neighbours.neighbour_accuracy", neighbours.neighbour_accuracy, {"model": READER, "ids": ROWS}),
    ("neighbours.head_jobs", neighbours.head_jobs, {"weights": torch.softmax(torch.randn(3, 3, 8, 8), -1)}),
    # --- recurrence ---
    ("recurrence.tiny_rnn", recurrence.tiny_rnn, {"d_model": 4, "scale": 1.0, "seed": 0}),
    (
        "recurrence.rnn_gradients",
        recurrence.rnn_gradients,
        {"length": 5, "scale": 1.0, "d_model": 4, "seed": 0},
    ),
    (
        "recurrence.attention_gradients",
        recurrence.attention_gradients,
        {"length": 5, "d_model": 4, "num_heads": 2, "seed": 0},
    ),
    # --- cost ---
    ("cost.peak_memory", cost.peak_memory, {"fn": lambda: torch.ones(3)}),
    ("cost.process_peak_memory", cost.process_peak_memory, {"fn": lambda: torch.ones(3), "device": "cpu"}),
    (
        "cost.AttentionCost",
        cost.AttentionCost,
        {
            "lengths": [4, 8],
            "explicit_ms": [1.0, 2.0],
            "fused_ms": [1.0, 2.0],
            "explicit_bytes": [1, 2],
            "fused_bytes": [1, 2],
            "num_heads": 1,
            "d_head": 2,
            "batch": 1,
            "device": "cpu",
            "memory": "tensors",
        },
    ),
    (
        "cost.AttentionCost.weights_bytes",
        lambda length: cost.AttentionCost([4], [1.0], [1.0], [1], [1], 1, 2, 1, "cpu").weights_bytes(length),
        {"length": 4},
    ),
    (
        "cost.AttentionCost.output_bytes",
        lambda length: cost.AttentionCost([4], [1.0], [1.0], [1], [1], 1, 2, 1, "cpu").output_bytes(length),
        {"length": 4},
    ),
    (
        "cost.measure_attention_cost",
        cost.measure_attention_cost,
        {
            "lengths": (4, 8),
            "num_heads": 1,
            "d_head": 2,
            "batch": 1,
            "repeats": 1,
            "budget_s": 0.05,
            "threads": 1,
            "device": None,
            "seed": 0,
            "memory": "tensors",
        },
    ),
    ("cost.growth_exponent", cost.growth_exponent, {"lengths": [4, 8, 16], "values": [1.0, 4.0, 16.0]}),
    # --- alignment ---
    (
        "alignment.source_position",
        alignment.source_position,
        {"kind": "reverse", "i": torch.tensor([0, 1]), "length": torch.tensor([3, 4])},
    ),
    (
        "alignment.cross_attention",
        alignment.cross_attention,
        {"model": SEQ_MODEL, "split": TASK.test, "layer": 0},
    ),
    (
        "alignment.aligned_share",
        alignment.aligned_share,
        {"model": SEQ_MODEL, "split": TASK.test, "kind": "reverse", "layer": 0},
    ),
    (
        "alignment.share_on_source",
        alignment.share_on_source,
        {
            "weights": alignment.cross_attention(SEQ_MODEL, TASK.test),
            "lengths": TASK.test.lengths,
            "kind": "reverse",
        },
    ),
    # --- pointer ---
    (
        "pointer.PronounPointer",
        pointer.PronounPointer,
        {"config": SMALL.replace(vocab_size=len(PTASK.vocab)), "d_k": 4},
    ),
    (
        "pointer.PronounPointer.forward",
        lambda ids, it_pos, need_weights: POINTER(ids, it_pos, need_weights=need_weights),
        {"ids": PTASK.test.ids, "it_pos": PTASK.test.it_pos, "need_weights": False},
    ),
    ("pointer.pointer_loss", pointer.pointer_loss, {"model": POINTER, "batch": PTASK.test}),
    ("pointer.referent_wins", pointer.referent_wins, {"model": POINTER, "split": PTASK.test}),
    (
        "pointer.resolve",
        pointer.resolve,
        {"model": POINTER, "ids": PTASK.test.ids[0], "it_pos": int(PTASK.test.it_pos[0])},
    ),
    ("pointer.predicate_share", pointer.predicate_share, {"model": POINTER, "split": PTASK.test, "layer": 0}),
    ("pointer.snapshot", pointer.snapshot, {"model": POINTER, "shown": PTASK.test, "held_out": PTASK.test}),
    # --- history ---
    (
        "history.History",
        history.History,
        {
            "steps": [1, 2],
            "losses": [1.0, 0.5],
            "learning_rates": [1e-3, 1e-3],
            "evals": {},
            "snapshots": {},
            "seconds": 0.0,
        },
    ),
    (
        "history.History.smoothed",
        lambda window: history.History([1, 2], [1.0, 0.5]).smoothed(window),
        {"window": 2},
    ),
    (
        "history.History.add_eval",
        lambda name, step, value: history.History().add_eval(name, step, value),
        {"name": "test", "step": 1, "value": 0.5},
    ),
    # --- examples ---
    (
        "examples.VideoSearch",
        examples.VideoSearch,
        {
            f: getattr(examples.video_search(), f)
            for f in ("features", "query", "titles", "keys", "contents", "values")
        },
    ),
    (
        "examples.HandBuiltAttention",
        examples.HandBuiltAttention,
        {f: getattr(examples.cat_example(), f) for f in ("tokens", "features", "x", "w_q", "w_k", "w_v")},
    ),
    # --- config ---
    (
        "config.TransformerConfig",
        config_module.TransformerConfig,
        {
            f: getattr(SMALL, f)
            for f in (
                "vocab_size",
                "trg_vocab_size",
                "d_model",
                "num_heads",
                "num_encoder_layers",
                "num_decoder_layers",
                "d_ff",
                "dropout",
                "max_len",
                "pad_id",
                "norm_first",
                "final_norm",
                "activation",
                "tie_embeddings",
                "positional",
                "eps",
                "bias",
            )
        },
    ),
    ("config.TransformerConfig.replace", lambda d_model: SMALL.replace(d_model=d_model), {"d_model": 4}),
    ("config.check_depth", config_module.check_depth, {"name": "num_layers", "num_layers": 2}),
    ("config.check_config", config_module.check_config, {"config": SMALL}),
    # --- torch_layers ---
    (
        "torch_layers.check_same_design",
        torch_layers.check_same_design,
        {"mine": layers.EncoderLayer(D, 2, 16, 0.0), "layer": TORCH_ENC, "name": "layer"},
    ),
    ("torch_layers.activation_name", torch_layers.activation_name, {"activation": "relu"}),
    (
        "torch_layers.copy_parameters",
        torch_layers.copy_parameters,
        {"mine": nn.Linear(D, D), "theirs": nn.Linear(D, D), "name": "linear"},
    ),
    # --- assets (round 42: a bad width or alt failed inside int() or html.escape) ---
    (
        "assets.asset_image",
        lambda **kw: importlib.import_module("transformer_course.assets").asset_image(**kw),
        {"name": "transformer.svg", "width": 640, "alt": "the Transformer"},
    ),
    (
        "assets.asset_path",
        lambda **kw: importlib.import_module("transformer_course.assets").asset_path(**kw),
        {"name": "transformer.svg"},
    ),
    (
        "assets.dark_svg",
        lambda **kw: importlib.import_module("transformer_course.assets").dark_svg(**kw),
        {"svg": '<svg><rect fill="#ffffff"/></svg>'},
    ),
    # --- from_scratch (round 42b: copy_bias and check_holds_weights failed inside torch or Python) ---
    (
        "from_scratch.attention.AttentionDesign",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").AttentionDesign(**kw),
        {"shared_projections": False, "scale": "head_dim"},
    ),
    (
        "from_scratch.attention.SelfAttention",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").SelfAttention(**kw),
        {"embed_size": D, "heads": 2},
    ),
    (
        "from_scratch.attention.SelfAttention.forward",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").SelfAttention(D, 2)(**kw),
        {"values": X, "keys": X, "query": X, "mask": MASK},
    ),
    (
        "from_scratch.attention.SelfAttention.load_from_torch",
        lambda mha: (
            importlib.import_module("transformer_course.from_scratch")
            .SelfAttention(D, 2, design=importlib.import_module("transformer_course.from_scratch").PAPER)
            .load_from_torch(mha)
        ),
        {"mha": TORCH_MHA},
    ),
    (
        "from_scratch.attention.check_holds_weights",
        lambda **kw: importlib.import_module("transformer_course.from_scratch.attention").check_holds_weights(
            **kw
        ),
        {"name": "theirs", "theirs": TORCH_MHA, "mine": nn.Linear(D, D)},
    ),
    (
        "from_scratch.attention.copy_bias",
        lambda **kw: importlib.import_module("transformer_course.from_scratch.attention").copy_bias(**kw),
        {"linear": nn.Linear(D, 3), "bias": torch.randn(3)},
    ),
    (
        "from_scratch.blocks.TransformerBlock",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").TransformerBlock(**kw),
        {"embed_size": D, "heads": 2, "dropout": 0.0, "forward_expansion": 2},
    ),
    (
        "from_scratch.blocks.TransformerBlock.forward",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").TransformerBlock(
            D, 2, 0.0, 2
        )(**kw),
        {"value": X, "key": X, "query": X, "mask": MASK},
    ),
    (
        "from_scratch.blocks.DecoderBlock",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").DecoderBlock(**kw),
        {"embed_size": D, "heads": 2, "forward_expansion": 2, "dropout": 0.0},
    ),
    (
        "from_scratch.blocks.DecoderBlock.forward",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").DecoderBlock(D, 2, 2, 0.0)(
            **kw
        ),
        {"x": X, "value": X, "key": X, "src_mask": MASK, "trg_mask": MASK},
    ),
    (
        "from_scratch.model.Encoder",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").Encoder(**kw),
        {
            "src_vocab_size": 10,
            "embed_size": D,
            "num_layers": 1,
            "heads": 2,
            "forward_expansion": 2,
            "dropout": 0.0,
            "max_length": 8,
        },
    ),
    (
        "from_scratch.model.Encoder.forward",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").Encoder(
            10, D, 1, 2, 2, 0.0, 8
        )(**kw),
        {"x": IDS, "mask": MASK},
    ),
    (
        "from_scratch.model.Decoder.forward",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").Decoder(
            10, D, 1, 2, 2, 0.0, 8
        )(**kw),
        {"x": IDS, "enc_out": X, "src_mask": MASK, "trg_mask": MASK},
    ),
    (
        "from_scratch.model.Transformer",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").Transformer(**kw),
        {
            "src_vocab_size": 10,
            "trg_vocab_size": 10,
            "src_pad_idx": 0,
            "trg_pad_idx": 0,
            "embed_size": D,
            "num_layers": 1,
            "forward_expansion": 2,
            "heads": 2,
            "dropout": 0.0,
            "max_length": 8,
        },
    ),
    (
        "from_scratch.model.Transformer.forward",
        lambda **kw: importlib.import_module("transformer_course.from_scratch").Transformer(
            10, 10, 0, 0, D, 1, 2, 2
        )(**kw),
        {"src": IDS, "trg": IDS},
    ),
    (
        "modes.evaluating",
        lambda modules: _evaluate_in(importlib.import_module("transformer_course.modes").evaluating, modules),
        {"modules": nn.Linear(D, D)},
    ),
]


def _evaluate_in(evaluating: Callable, module: object) -> bool:
    """Enter and leave ``evaluating(module)`` (a context manager): was the module in eval mode?"""
    with evaluating(module):
        return not module.training


HUGE = 10**30


def _scalar_values(valid: object) -> list[tuple[str, object]]:
    """Hostile values for an int, float, bool or str argument."""
    common = [("None", None), ("a str", "3"), ("a list", [valid]), ("a dict", {})]
    if isinstance(valid, bool):
        return common + [("1", 1), ("2.5", 2.5), ("nan", math.nan), ("np.bool_", np.bool_(valid))]
    if isinstance(valid, int):
        return common + [
            ("True", True),
            ("2.5", 2.5),
            ("nan", math.nan),
            ("inf", math.inf),
            ("-1", -1),
            ("0", 0),
            ("10**30", HUGE),
            ("-10**30", -HUGE),
            ("np.int64", np.int64(valid)),
            ("np.uint64 max", np.uint64(2**64 - 1)),  # wraps around in numpy's own arithmetic
            ("np.float64", np.float64(2.5)),
            ("a tensor", torch.tensor([valid, valid])),
            ("a complex", 1 + 2j),
        ]
    if isinstance(valid, float):
        return common + [
            ("True", True),
            ("nan", math.nan),
            ("inf", math.inf),
            ("-inf", -math.inf),
            ("-1.0", -1.0),
            ("0.0", 0.0),
            ("1e30", 1e30),
            ("10**400", 10**400),
            ("np.float64", np.float64(valid)),
            ("a Fraction", fractions.Fraction(1, 2)),  # a numbers.Real that torch does not take
            ("a tensor", torch.tensor([valid, valid])),
            ("a complex", 1 + 2j),
        ]
    if isinstance(valid, str):
        return [
            ("None", None),
            ("an int", 3),
            ("empty str", ""),
            ("unknown str", "zzz-unknown"),
            ("a list of str", [valid]),
            ("np.str_", np.str_(valid)),
        ]
    return common + [("an int", 3), ("True", True), ("nan", math.nan), ("an object", object())]


def _tensor_values(valid: torch.Tensor) -> list[tuple[str, object]]:
    """Hostile values for a tensor argument: other types, ranks, dtypes, sizes and devices."""
    valid = valid.detach()
    out = [
        ("None", None),
        ("a str", "abc"),
        ("True", True),
        ("2.5", 2.5),
        ("a list", valid.tolist()),
        ("a numpy array", valid.numpy()),
        ("one more dim", valid[None]),
        ("0-d", valid.flatten()[0].clone()),
        ("empty", valid[:0]),
        ("meta", valid.to("meta")),
        ("complex", valid.to(torch.complex64)),
    ]
    if valid.dim() > 1:
        out.append(("one dim fewer", valid[0]))
    if valid.dim() > 0 and valid.shape[-1] > 0:  # one more in the last dimension (d_model, L …)
        out.append(("wider", torch.cat([valid, valid[..., :1]], dim=-1)))
    if valid.dim() > 0:  # one more row
        out.append(("longer", torch.cat([valid, valid[:1]], dim=0)))
    if valid.dtype == torch.bool:
        out += [("float", valid.float()), ("int", valid.long())]
    elif valid.is_floating_point():
        out += [
            ("int", valid.long()),
            ("bool", valid > 0),
            ("float64", valid.double()),
            ("float16", valid.half()),
        ]
    else:
        out += [
            ("float", valid.float()),
            ("bool", valid > 0),
            ("int32", valid.int()),
            ("uint8", valid.to(torch.uint8)),
            ("negative ids", valid - 100),
            ("huge ids", valid + 10**6),
        ]
    return out


def _object_values(valid: object) -> list[tuple[str, object]]:
    """Hostile values for anything else (a model, a function, a config, a list of stories …)."""
    out = [
        ("None", None),
        ("a str", "abc"),
        ("an int", 3),
        ("True", True),
        ("2.5", 2.5),
        ("an object", object()),
        ("a tensor", torch.ones(2, 3)),
    ]
    if isinstance(valid, list | tuple | dict):
        out += [("empty", type(valid)()), ("a list of None", [None, None])]
    if callable(valid):
        out.append(("an nn.Linear", nn.Linear(3, 3)))
    if isinstance(valid, nn.Module):  # a model of the other kind, and one with no weights to read
        out.append(
            ("another course model", SEQ2SEQ if isinstance(valid, model.DecoderOnlyTransformer) else GPT)
        )
        out.append(("a meta model", _on_meta(valid)))
    return out


def _on_meta(module: nn.Module) -> nn.Module:
    """A copy of ``module`` on the meta device, made once per module."""
    if id(module) not in _META:
        _META[id(module)] = copy.deepcopy(module).to("meta")
    return _META[id(module)]


_META: dict[int, nn.Module] = {}


def hostile_values(valid: object) -> list[tuple[str, object]]:
    if isinstance(valid, Fresh):
        return _object_values(valid.build())
    if isinstance(valid, torch.Tensor):
        return _tensor_values(valid)
    if isinstance(valid, bool | int | float | str) and not isinstance(valid, torch.dtype):
        return _scalar_values(valid)
    if isinstance(valid, torch.dtype):
        return [
            ("None", None),
            ("a str", "float32"),
            ("an int dtype", torch.int64),
            ("complex", torch.complex64),
            ("bool", torch.bool),
        ]
    return _object_values(valid)


# A hang is a call that never ends: 20 s, not 5, as a busy 2-core machine once took 5 s over a
# call that takes milliseconds (embeddings.similarity_matrix on a meta tensor, load average 8.5).
HANG_S = 20.0


class Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise Hang


def run_case(call: Callable, kwargs: dict, seconds: float = HANG_S):
    """Call with a time limit: (result, None) or (None, exception). The timer pytest-timeout may
    have set (on the same signal) is set again afterwards, less the time this call took."""
    built = {k: v.build() if isinstance(v, Fresh) else v for k, v in kwargs.items()}
    old = signal.signal(signal.SIGALRM, _on_alarm)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    began = time.monotonic()
    try:
        return call(**built), None
    except Exception as error:  # noqa: BLE001 - judged by the caller
        return None, error
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - began), 1e-3))


def _tensors(value: object):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, float):
        yield torch.tensor(value)


def has_nan(value: object) -> bool:
    return any(
        t.is_floating_point() and not t.is_meta and bool(torch.isnan(t).any()) for t in _tensors(value)
    )


# Results that store what they are given, as a dataclass does (the functions that make them
# pass checked values): a bad field is not refused when made, so only a crash counts there.
RECORDS = {
    "softmax.SaturationResult",
    "generation.Step",
    "generation.Generation",
    "examples.VideoSearch",
    "examples.HandBuiltAttention",
    "story_record.PronounLink",
    "story_world.Character",
    "story_world.Entry",
    "cost.AttentionCost",
    "stories.Mistake",
    "history.History",
}
# Functions that read whatever they are given, by design: None for a model that is not the course's.
ANY_VALUE = {
    ("logits_fns.output_vocab", "model"),
    ("logits_fns.max_positions", "model"),
    ("logits_fns.model_fits", "model"),
}
# Arguments lib computes itself and passes to its own checks (never a user's value): the scores'
# shape and the device of q that ``check_mask`` compares a mask with, the layer's own width and
# weight that ``check_sequences`` compares inputs with. Checking them would cost every attention call.
INTERNAL = {
    ("attention_inputs.check_mask", "scores_shape"),
    ("attention_inputs.check_mask", "device"),
    ("attention_inputs.check_sequences", "d_model"),
    ("attention_inputs.check_sequences", "weight"),
}
# Where the message rightly names the argument otherwise: a check told the caller's name for it,
# the position of a mask among combine_masks's arguments.
NAMES = {
    ("stories.check_count", "value"): "n",
    ("torch_layers.copy_parameters", "theirs"): "linear",
    ("torch_layers.copy_parameters", "mine"): "mine|linear",
    ("masks.combine_masks (each)", "a"): r"masks\[\d\]",
    ("masks.combine_masks (each)", "b"): r"masks\[\d\]",
    # load_from_torch's callers never passed "mine": the message names the module to copy into.
    ("from_scratch.attention.check_holds_weights", "mine"): r"mine|Linear",
}


# Values no argument of that kind should take silently: a success with one is a finding.
NEVER_RIGHT = {
    "tensor": {"None", "a str", "True", "2.5", "a list", "a numpy array", "complex"},
    "int": {"None", "a str", "a list", "a dict", "True", "2.5", "nan", "inf", "a complex", "a tensor"},
    "float": {"None", "a str", "a list", "a dict", "True", "nan", "inf", "-inf", "a complex", "a tensor"},
    "bool": {"None", "a str", "a list", "a dict", "1", "2.5", "nan"},
    "other": {"an object"},
}
# None where the argument is optional (None: no mask, self-attention, no limit, the default …).
OPTIONAL = {
    ("attention.scaled_dot_product_attention", "mask"),
    ("attention.SingleHeadAttention.forward", "context"),
    ("attention.SingleHeadAttention.forward", "mask"),
    ("attention.MultiHeadAttention.forward", "key"),
    ("attention.MultiHeadAttention.forward", "value"),
    ("attention.MultiHeadAttention.forward", "mask"),
    ("masks.combine_masks (each)", "a"),
    ("masks.combine_masks (each)", "b"),
    ("layers.EncoderLayer.forward", "mask"),
    ("layers.DecoderLayer.forward", "self_mask"),
    ("stacks.Encoder.forward", "mask"),
    ("stacks.Decoder.forward", "self_mask"),
    ("narrow_heads.attention", "mask"),
    ("attention.SingleHeadAttention", "d_k"),
    ("attention.SingleHeadAttention", "d_v"),
    ("attention_inputs.check_scale", "scale"),
    ("stacks.Encoder", "num_layers"),
    ("stacks.Decoder", "num_layers"),
    ("generation.generate", "top_k"),
    ("generation.generate", "top_p"),
    ("generation.generate", "eos_id"),
    ("generation.generate", "seed"),
    ("generation.greedy_decode", "eos_id"),
    ("sampling.check_options", "top_k"),
    ("sampling.check_options", "vocab_size"),
    ("sampling.check_options", "top_p"),
    ("sampling.next_token_probs", "top_k"),
    ("sampling.next_token_probs", "top_p"),
    ("sampling.choose", "top_k"),
    ("sampling.choose", "top_p"),
    ("lm_training.sample_stories", "top_k"),
    ("lm_training.sample_stories", "top_p"),
    ("story_ids.encode", "length"),
    ("cost.measure_attention_cost", "threads"),
    ("pointer.PronounPointer", "d_k"),
    *(
        ("from_scratch." + entry, name)
        for entry, names in (
            ("attention.SelfAttention.forward", ("mask",)),
            ("blocks.TransformerBlock.forward", ("mask",)),
            ("blocks.DecoderBlock.forward", ("src_mask", "trg_mask")),
            ("model.Encoder.forward", ("mask",)),
            ("model.Decoder.forward", ("src_mask", "trg_mask")),
        )
        for name in names
    ),
    ("from_scratch.attention.copy_bias", "bias"),  # PyTorch's layer built without biases
}
# Other values rightly taken: ids as a list or array (``Sequence[int] | Tensor``), a complex q
# where only its size is read, a non-finite measurement recorded as it was measured, -inf as
# the log of a probability of 0, rows of a split picked by a tensor of indices.
ACCEPTED = {
    *(
        (e, "ids", label)
        for e in ("data.SequenceTask.decode", "tokenizer.Vocab.tokens", "tokenizer.Vocab.decode")
        for label in ("a list", "a numpy array")
    ),
    *(
        ("narrow_heads.suits", arg, "complex") for arg in ("q", "k", "v")
    ),  # False: the fused path does not suit
    ("attention_inputs.check_weights_fit", "q", "complex"),
    ("attention_inputs.check_weights_fit", "k", "complex"),
    *(("history.History.add_eval", "value", label) for label in ("nan", "inf", "-inf")),
    ("story_record.Story", "log_prob", "-inf"),  # the log of a probability of 0
    ("data.SequenceSplit[int]", "index", "a tensor"),  # a split picks rows by tensor as by int
    ("data.PronounSplit[int]", "index", "a tensor"),
}


def _kind(valid: object) -> str:
    if isinstance(valid, torch.Tensor):
        return "tensor"
    return {bool: "bool", int: "int", float: "float"}.get(type(valid), "other")


def verdict(entry_id: str, argument: str, label: str, valid: object, result, error) -> str | None:
    """None when the outcome is acceptable, else what went wrong."""
    if isinstance(error, Hang):
        return f"hung for more than {HANG_S:g} s"
    if error is None:
        if has_nan(result):
            return "succeeded with a NaN result"
        taken = (
            entry_id in RECORDS
            or (entry_id, argument) in ANY_VALUE
            or (label == "None" and (entry_id, argument) in OPTIONAL)
            or (entry_id, argument, label) in ACCEPTED
        )
        if label in NEVER_RIGHT[_kind(valid)] | NEVER_RIGHT["other"] and not taken:
            return f"accepted {label} silently, returned {type(result).__name__}"
        return None
    if not isinstance(error, ValueError | TypeError):
        return f"{type(error).__name__}: {str(error)[:200]}"
    names = NAMES.get((entry_id, argument), re.escape(argument))
    if not re.search(rf"(?<![\w])({names})(?!\w)", str(error)):
        return f"{type(error).__name__} not naming {argument!r}: {str(error)[:200]}"
    return None


def _cases():
    for entry_id, call, valid in ENTRIES:
        for argument, value in valid.items():
            if (entry_id, argument) in INTERNAL:
                continue
            for label, bad in hostile_values(value):
                yield pytest.param(
                    entry_id, call, valid, argument, label, bad, id=f"{entry_id}-{argument}-{label}"
                )


@pytest.mark.parametrize(("entry_id", "call", "valid"), [pytest.param(*e, id=e[0]) for e in ENTRIES])
def test_the_valid_call_works(entry_id, call, valid):
    """Each row's own call succeeds, so that each bad value below is the only thing wrong."""
    result, error = run_case(call, valid)
    assert error is None, f"{entry_id}: {error!r}"
    assert not has_nan(result)


@pytest.mark.parametrize(("entry_id", "call", "valid", "argument", "label", "bad"), list(_cases()))
def test_bad_value_is_refused_by_name_or_accepted(entry_id, call, valid, argument, label, bad):
    result, error = run_case(call, {**valid, argument: bad})
    problem = verdict(entry_id, argument, label, valid[argument], result, error)
    assert problem is None, f"{entry_id}({argument}={label}): {problem}"


# Public callables with no argument to spoil (or properties read off an object).
NO_ARGUMENTS = {
    "training.release_freed_memory",
    "data.pronoun_sentences",
    "tokenizer.course_vocab",
    "story_ids.story_vocab",
    "story_world.cast_pairs",
    "story_world.intro_table",
    "story_world.opening_stats",
    "story_world.event_stats",
    "story_world.words",
    "examples.video_search",
    "examples.cat_example",
    "assets.assets_folder",
    "kv_cache.optimiser_steps",
}


def _public_callables() -> set[str]:
    names = set()
    for module_name in MODULES:
        module = importlib.import_module(f"transformer_course.{module_name}")
        for name, value in vars(module).items():
            if (
                not name.startswith("_")
                and callable(value)
                and getattr(value, "__module__", None) == module.__name__
            ):
                names.add(f"{module_name}.{name}")
    return names


def test_every_public_callable_is_swept():
    """A public function or class added to these modules must get a row (or be listed above)."""
    swept = {e[0].split(" ")[0] for e in ENTRIES} | NO_ARGUMENTS
    swept |= {".".join(name.split(".")[:2]) for name in swept}  # a method's row covers its class
    missing = sorted(_public_callables() - swept)
    assert not missing, f"no row in ENTRIES for {missing}"


def test_every_module_is_swept_or_left_out_with_a_reason():
    """A module added to the package is swept (MODULES) or named in NOT_SWEPT: none is left out
    by forgetting it, as the workspace modules were, unsaid, until round 45."""
    package = importlib.import_module("transformer_course")
    found = {p.stem for p in Path(package.__file__).parent.glob("*.py")} - {"__init__"}
    assert not found & set(NOT_SWEPT) & set(MODULES), "a module both swept and left out"
    unaccounted = sorted(found - set(MODULES) - set(NOT_SWEPT))
    assert not unaccounted, f"neither in MODULES nor in NOT_SWEPT: {unaccounted}"
    assert not set(NOT_SWEPT) - found, f"NOT_SWEPT names no module: {sorted(set(NOT_SWEPT) - found)}"


def _task(**change) -> data.SequenceTask:
    fields = ("kind", "vocab", "train", "test", "max_len", "min_len")
    return data.SequenceTask(**{**{f: getattr(TASK, f) for f in fields}, **change})


# Found by the sweep's values, with a message the rows above do not pin down: each was taken
# silently before, or failed inside torch or Python.
FOUND = [
    ("a task of kind 3", lambda: _task(kind=3), "kind", "one of"),
    ("a task of min_len > max_len", lambda: _task(min_len=4, max_len=2), "max_len", ">= min_len"),
    ("a task of max_len 2.5", lambda: _task(max_len=2.5), "max_len", "positive int"),
    ("a task without a Vocab", lambda: _task(vocab=None), "vocab", "Vocab"),
    (
        "model_fits, target 'no'",
        lambda: logits_fns.model_fits(GPT, IDS, "ids", 4, target="no"),
        "target",
        "True",
    ),
    (
        "split_batch_fn, uint8 indices (a mask to torch)",
        lambda: training.split_batch_fn(TASK.train[:2])(torch.tensor([0, 1], dtype=torch.uint8)),
        "idx",
        "int64",
    ),
    (
        "story_batch_fn, uint8 indices (a mask to torch)",
        lambda: lm_training.story_batch_fn(STORY_IDS[:2])(torch.tensor([0, 1], dtype=torch.uint8)),
        "indices",
        "int64",
    ),
    (
        "next_token_loss, an nn.Linear as model",
        lambda: lm_training.next_token_loss(nn.Linear(3, 3), STORY_IDS),
        "model",
        "decoder-only",
    ),
    ("Story, log_prob 10**400", lambda: story_record.Story(("<bos>",), 10**400, ()), "log_prob", "<= 0"),
    (
        "source_position, i and length on two devices",
        lambda: alignment.source_position("reverse", torch.tensor([0]).to("meta"), torch.tensor([3])),
        "length",
        "on cpu",
    ),
    (
        "resolve, no token",
        lambda: pointer.resolve(POINTER, torch.tensor([], dtype=torch.long), 0),
        "ids",
        "one token",
    ),
    (
        "copy_parameters into a meta layer (torch only warns, copying nothing)",
        lambda: torch_layers.copy_parameters(nn.Linear(D, D).to("meta"), nn.Linear(D, D), "linear"),
        "mine",
        "meta device",
    ),
    # numpy's int64 wraps around in the products that check the memory: 3 × (2**63 - 1) < 0
    (
        "KVCache, np.int64 max layers",
        lambda: kv_cache.KVCache(np.int64(2**63 - 1), 8),
        "num_layers",
        "smaller",
    ),
    (
        "neighbour_rows, np.int64 max rows",
        lambda: neighbours.neighbour_rows(np.int64(2**63 - 1)),
        "num_rows",
        "smaller",
    ),
    ("Table, no entry", lambda: story_world.Table([], "x"), "entries", "non-empty"),
    ("Table.draw, a seed for rng", lambda: story_world.intro_table().draw(0), "rng", "random.Random"),
    (
        "decoder_logits_fn's function, a float prefix",
        lambda: logits_fns.decoder_logits_fn(GPT)(IDS.float()),
        "prefix",
        "integer",
    ),
]


@each_case(FOUND)
def test_found_by_the_sweep_is_refused_by_name(call, argument, expected):
    assert_refused(call, argument, expected)


def test_uint8_indices_would_have_picked_rows_as_a_mask():
    """The reason uint8 indices are refused: torch reads them as a mask, so [0, 1] would have
    picked row 1 alone, silently; int64 and int32 indices pick rows 0 and 1."""
    batch_fn = training.split_batch_fn(TASK.train[:2])
    for dtype in (torch.int64, torch.int32):
        src, _ = batch_fn(torch.tensor([0, 1], dtype=dtype))
        assert src.shape[0] == 2
