"""Training a GPT on stories: the next-token loss, batches of stories, AdamW, and how good it got.

A decoder-only model reads a story ``<bos> w1 … wn <eos>`` and at every position predicts
the token after it. With ids (B, T) holding ``<bos> … <eos>`` then ``<pad>``:

    inputs = ids[:, :-1]   (B, T-1)   <bos> w1 … wn            (the last token is never read)
    labels = ids[:, 1:]    (B, T-1)   w1 … wn <eos>            (<bos> is never predicted)

and the loss is the cross-entropy at every position whose label is not ``<pad>``. These
are exactly the tokens ``StoryGenerator.entropy_per_token`` counts (every token after
``<bos>``, ``<eos>`` included), so ``validation_loss`` in nats per token is comparable with
that floor; ``floor_on`` gives the generator's own loss on the same stories, the floor as
measured on them (the two agree for a model that predicts the generator's exact
distribution, which the tests check).

- ``next_token_loss(model, ids)``: the mean loss over the batch's predicted tokens.
- ``story_batch_fn(ids)``: item indices → those rows, cut after the batch's longest story.
- ``gpt_optimiser``: AdamW as GPT-2/GPT-3 train with it, betas (0.9, 0.95) and weight decay
  on the matrices only; ``training.train(..., warmup=…, decay=True)`` supplies the
  schedule: a linear warm-up, then a half cosine down to a floor of lr/10.
- ``sample_stories``: many stories at once with the KV cache, at a temperature, top-k, top-p;
  ``acceptance`` the share of them the generator could have written (``is_story``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate
from .logits_fns import output_vocab
from .lr_schedule import _check_lr
from .model import DecoderOnlyTransformer
from .modes import evaluating
from .sampling import check_options, choose
from .stories import Story, StoryGenerator, check_count, story_vocab
from .tokenizer import BOS, EOS
from .training import _not_finite_message, check_pad_id, release_freed_memory

GPT_BETAS = (0.9, 0.95)  # GPT-3 (Brown et al., 2020, appendix B); nanoGPT uses the same
# AdamW's fused kernel, one per tensor, where PyTorch has it. Otherwise, on the CPU, each step
# is a Python loop of about ten small operations per tensor: 0.5-0.7 ms a step for chapter
# 09's GPT (20 tensors), against 0.13 ms fused.
_FUSED_DEVICES = ("cpu", "cuda")
_FUSED_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def _check_ids(ids: object) -> torch.Tensor:
    _validate.tensor("ids", ids, ndim=2, floating=False)
    _validate.stored("ids", ids)  # its values are read to find the labels
    if ids.shape[1] < 2:
        raise ValueError(
            f"ids must hold at least 2 tokens per row (<bos> and one more), got {tuple(ids.shape)}"
        )
    return ids


def _check_model(model: object) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a torch.nn.Module (a decoder-only model), got {type(model).__name__}"
        )


def _check_decoder(model: object) -> None:
    """A model called as model(ids): an encoder-decoder fails inside torch, missing trg_in."""
    _check_model(model)
    _validate.takes("model", model, 1, "(ids), a decoder-only model such as DecoderOnlyTransformer")


# What ``model`` must be, said where one fails inside torch (an nn.Linear given ids, say).
_DECODER = "a decoder-only model of ids (B, T) → logits (B, T, V), such as DecoderOnlyTransformer"


def _check_stories(stories: object) -> None:
    if (
        isinstance(stories, (Story, str))
        or not isinstance(stories, Sequence)
        or not len(stories)
        or not all(isinstance(s, Story) for s in stories)
    ):
        raise ValueError(
            f"stories must be a non-empty list of Story, got {_describe(stories, Story, 'stories')}"
        )


def _describe(value: object, want: type | None = None, name: str = "") -> str:
    """What ``value`` is, for a message: a list by its first element that is not a ``want``
    (the bad one, "a list holding int (stories[0][1] = 3)"), else by its first element."""
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value):
        kind = type(value).__name__
        at = next((i for i, v in enumerate(value) if not isinstance(v, want)), None) if want else None
        if at is None:
            return f"a {kind} of {type(value[0]).__name__}"
        shown = _validate.shown(value[at])
        return f"a {kind} holding {type(value[at]).__name__} ({name}[{at}] = {shown})"
    return repr(value) if isinstance(value, str) and len(value) < 40 else type(value).__name__


def _check_pad_in_vocab(pad_id: int, vocab_size: int | None, what: str = "the model's vocabulary") -> None:
    """pad_id as an id of ``vocab_size`` tokens: one past it never matches a label, so the loss
    would score the padding as tokens to predict (4.39 instead of 4.61), without a word."""
    if vocab_size is not None and pad_id >= vocab_size:
        raise ValueError(f"pad_id must be an id of {what}, in [0, {vocab_size}), got {pad_id}")


def next_token_loss(model: nn.Module, ids: torch.Tensor, *, pad_id: int = 0) -> torch.Tensor:
    """ids (B, T) → the mean cross-entropy (nats) of predicting ids[:, 1:] from ids[:, :-1],
    over the positions whose label is not ``pad_id`` (an id of the model's vocabulary): a scalar
    tensor that can ``backward()``. A loss that is not finite from a model whose weights hold NaN
    is refused, naming them; from finite weights it is returned (``train`` stops there)."""
    _check_decoder(model)
    _check_ids(ids)
    check_pad_id(pad_id)
    _check_pad_in_vocab(pad_id, output_vocab(model))  # a course model's: before it runs
    labels = ids[:, 1:]  # (B, T-1): the token that comes next
    if not bool((labels != pad_id).any()):
        raise ValueError(f"ids has no token to predict: every label (ids[:, 1:]) is the padding id {pad_id}")
    # (B, T-1, V): row i has read ids[:, : i + 1]
    logits = _validate.model_call("model", model, ids[:, :-1], what=_DECODER)
    _check_pad_in_vocab(pad_id, logits.shape[-1])  # any other model's, from what it returned
    # the model checked the ids it read; the last column is only a label: check it too
    _validate.ids_in_range("ids (its labels ids[:, 1:])", labels, logits.shape[-1])
    # .long(): int32 ids (which the model reads) as cross_entropy's labels; int64 ones as they are
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long(), ignore_index=pad_id
    )
    # The weights are looked at only when the loss is not finite (train reads the loss at once
    # anyway): a NaN weight is named; finite weights whose loss overflowed go back to train, which
    # stops there ("diverged") and keeps the weights of the step before.
    if not bool(torch.isfinite(loss.detach())) and _validate.nonfinite_weight(model) is not None:
        raise ValueError(_not_finite_message("model", model))
    return loss


def story_loss_fn(pad_id: int = 0) -> Callable[[nn.Module, torch.Tensor], torch.Tensor]:
    """``next_token_loss`` as a ``loss_fn(model, batch)`` for ``training.train``."""
    check_pad_id(pad_id)
    return lambda model, ids: next_token_loss(model, ids, pad_id=pad_id)


def story_batch_fn(ids: torch.Tensor, *, pad_id: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
    """ids (N, T), encoded stories → a ``batch_fn(indices (B,))`` for ``training.train`` that
    returns those rows (B, T') as int64, cut after the longest story among them (less padding
    to run). ``ids`` may be stored in any integer type: a vocabulary of up to 256 tokens fits
    uint8, an eighth of the memory of int64 for a large training set. A ``pad_id`` that no row of
    ``ids`` holds must be an id of ``story_vocab()``."""
    _check_ids(ids)
    check_pad_id(pad_id)
    most = torch.iinfo(ids.dtype).max
    if pad_id > most:  # ids != pad_id would wrap it into the dtype (uint8: 300 → 44), cutting rows
        raise ValueError(f"pad_id must fit the ids' dtype {ids.dtype} (at most {most}), got {pad_id}")
    if ids.shape[0] == 0:  # else every batch would fail, asking for indices in [0, 0)
        raise ValueError(f"ids must hold at least one story, got shape {tuple(ids.shape)}")
    if not bool((ids == pad_id).any()):  # no vocabulary here: an id no story pads with is checked
        _check_pad_in_vocab(pad_id, len(story_vocab()), "the story vocabulary (story_vocab())")
    lengths = (ids != pad_id).sum(dim=1)  # (N,): <bos> … <eos>, the padding comes last

    def batch_fn(indices: torch.Tensor) -> torch.Tensor:
        _validate.tensor("indices", indices, ndim=1, floating=False)
        _validate.index_dtype("indices", indices)  # uint8 would pick stories as a mask, not by index
        if len(indices) == 0:
            raise ValueError("indices must hold at least one story's index, got none")
        _validate.ids_in_range("indices", indices, len(ids))
        return ids[indices, : int(lengths[indices].max())].long()

    return batch_fn


def gpt_optimiser(
    *, weight_decay: float = 0.1, betas: tuple[float, float] = GPT_BETAS
) -> Callable[[nn.Module, float], torch.optim.AdamW]:
    """An ``optimiser(model, lr)`` for ``training.train``: AdamW with GPT's betas, the weight
    decay on matrices (embeddings, projections) and none on biases and LayerNorm gains.

    β2 = 0.95 rather than Adam's 0.999: the running average of squared gradients forgets
    faster, so a sudden large gradient is not divided by a stale, small average (a spike).
    """
    # A float: a Fraction passed the check, then failed inside AdamW's step (_fused_adamw_).
    weight_decay = _validate.finite_number("weight_decay", weight_decay, at_least=0)
    real = lambda b: isinstance(b, int | float) and not isinstance(b, bool)  # noqa: E731
    if not (isinstance(betas, tuple) and len(betas) == 2 and all(real(b) and 0 <= b < 1 for b in betas)):
        raise ValueError(f"betas must be a pair (β1, β2), each in [0, 1), got {betas!r}")

    def make(model: nn.Module, lr: float) -> torch.optim.AdamW:
        _check_model(model)
        _check_lr(lr)  # as train checks it: at most MAX_LR
        if lr * weight_decay >= 1:  # AdamW's decay factor 1 - lr·wd: zero, or a sign flip each step
            raise ValueError(
                f"weight_decay must be below 1 / lr ({1 / lr:g}): AdamW multiplies every matrix by "
                f"1 - lr × weight_decay each step, {1 - lr * weight_decay:g} here, which zeroes or flips "
                f"the weights; got {weight_decay:g} (GPT-3 used 0.1)"
            )
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:  # AdamW's own message, "empty parameter list", names no argument
            raise ValueError(
                f"model must have trainable parameters, got {type(model).__name__}, which has none"
            )
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        fused = all(p.device.type in _FUSED_DEVICES and p.dtype in _FUSED_DTYPES for p in params)
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=betas, fused=fused or None)

    return make


@torch.no_grad()
def validation_loss(model: nn.Module, ids: torch.Tensor, *, pad_id: int = 0, batch_size: int = 64) -> float:
    """The model's loss on ids (N, T), in nats per predicted token: the sum over every story of
    −ln p(label) at its non-padding labels, divided by how many there are (a story of 40
    tokens weighs twice one of 20, as in ``StoryGenerator.entropy_per_token``). Small batches
    by default: the memory a large batch's temporaries took stays with the process."""
    _check_decoder(model)
    _check_ids(ids)
    check_pad_id(pad_id)
    batch_size = _validate.positive_int("batch_size", batch_size)
    _check_pad_in_vocab(pad_id, output_vocab(model))
    if not bool((ids[:, 1:] != pad_id).any()):
        raise ValueError(
            f"ids has no token to predict (got shape {tuple(ids.shape)}; every label is padding)"
        )
    with evaluating(model):
        total, count = 0.0, 0
        device = _validate.weights_device("model", model)
        for start in range(0, ids.shape[0], batch_size):
            part = ids[start : start + batch_size].to(device)
            logits = _validate.model_call("model", model, part[:, :-1], what=_DECODER)  # (b, T-1, V)
            labels = part[:, 1:]
            _check_pad_in_vocab(pad_id, logits.shape[-1])
            _validate.ids_in_range("ids (its labels ids[:, 1:])", labels, logits.shape[-1])
            total += F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                labels.reshape(-1).long(),
                ignore_index=pad_id,
                reduction="sum",
            ).item()
            count += int((labels != pad_id).sum())
    if not math.isfinite(total):  # NaN weights, or finite ones so large that the logits overflow
        raise ValueError(_not_finite_message("model", model))
    return total / count


def floor_on(stories: Sequence[Story]) -> float:
    """The generator's own loss on ``stories``, in nats per predicted token: −Σ ln p(story) over
    Σ tokens predicted. Its mean over many stories is ``entropy_per_token``; on a given set
    it is the loss of a model that knows the generator's exact distribution."""
    _check_stories(stories)
    # num_predicted counts the tokens after <bos>: without one, a story's first word went uncounted
    wrong = next((i for i, s in enumerate(stories) if s.tokens and s.tokens[0] != BOS), None)
    if wrong is not None:
        raise ValueError(
            f"stories[{wrong}].tokens[0] is {stories[wrong].tokens[0]!r:.40}: a story's tokens start "
            "with <bos> (StoryGenerator.parse(tokens) makes the Story)"
        )
    predicted = sum(s.num_predicted for s in stories)
    if not predicted:  # else a ZeroDivisionError: stories of <bos> alone, made by hand
        raise ValueError("stories must hold at least one token after <bos> to predict, got none")
    return -sum(s.log_prob for s in stories) / predicted


@torch.no_grad()
def sample_stories(
    model: DecoderOnlyTransformer,
    num_stories: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    batch_size: int = 100,
) -> list[list[str]]:
    """``num_stories`` stories written from ``<bos>``, ``batch_size`` at a time with the KV cache,
    each until its ``<eos>`` or ``config.max_len`` tokens: one list of tokens per story
    (``<bos>`` first, ``<eos>`` last when it wrote one). Seeded, without touching the global
    random state. (The cache takes room for ``config.max_len`` positions of every story of a
    batch at once: smaller batches, less memory; what it freed goes back to the system at
    the end, ``training.release_freed_memory``.)"""
    if not isinstance(model, DecoderOnlyTransformer):
        raise ValueError(f"model must be a DecoderOnlyTransformer, got {type(model).__name__}")
    check_count("num_stories", num_stories)  # a billion would run for days
    batch_size = _validate.positive_int("batch_size", batch_size)
    seed = _validate.seed("seed", seed)  # an int: manual_seed refuses numpy's
    check_options(temperature, top_k, model.config.vocab_size, top_p=top_p)
    if model.config.vocab_size != len(story_vocab()):  # its ids would be read as other words
        raise ValueError(
            f"model must be a story model, with vocab_size len(story_vocab()) = {len(story_vocab())}, "
            f"got vocab_size {model.config.vocab_size}"
        )
    device = _validate.weights_device("model", model)
    _check_cache_fits(model, min(num_stories, batch_size))
    with evaluating(model):
        generator = torch.Generator(device=device).manual_seed(seed)
        out = []
        for start in range(0, num_stories, batch_size):
            n = min(batch_size, num_stories - start)
            out += _sample_batch(model, n, temperature, top_k, top_p, generator, device)
    release_freed_memory()  # every step's cache grew by a position: tensors of many sizes
    return out


def _check_cache_fits(model: DecoderOnlyTransformer, n: int) -> None:
    """The KV cache of a batch of n stories: keys and values of every layer for max_len
    positions, refused before the first step rather than failing inside it."""
    config = model.config
    numel = 2 * config.num_decoder_layers * n * config.max_len * config.d_model
    element = next(model.parameters()).element_size()
    _validate.fits_in_memory(
        "min(num_stories, batch_size) × config.max_len × d_model", numel, bytes_each=element
    )


def _sample_batch(model, n, temperature, top_k, top_p, generator, device) -> list[list[str]]:
    vocab = story_vocab()
    ids = torch.full((n, 1), vocab.bos_id, dtype=torch.long, device=device)  # (n, 1)
    cache, new = model.new_cache(), ids
    done = torch.zeros(n, dtype=torch.bool, device=device)
    for _ in range(model.config.max_len - 1):
        logits = model.step(new, cache)[:, -1]  # (n, V): the next token's scores
        try:
            chosen, _ = choose(
                logits,
                strategy="sample",
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                generator=generator,
            )  # temperature 0: the argmax
        except ValueError:  # NaN logits: name the model, not "logits", which the caller never passed
            if bool(logits.isnan().any() or logits.isposinf().any()):
                raise ValueError(_not_finite_message("model", model)) from None
            raise
        new = chosen.unsqueeze(1)  # (n, 1)
        ids = torch.cat([ids, new], dim=1)
        done |= new[:, 0] == vocab.eos_id
        if bool(done.all()):
            break
    tokens, width, out = vocab.tokens(ids.reshape(-1).tolist()), ids.shape[1], []
    for i in range(n):
        story = tokens[i * width : (i + 1) * width]
        out.append(story[: story.index(EOS) + 1] if EOS in story else story)
    return out


def acceptance(generator: StoryGenerator, stories: Sequence[Sequence[str]]) -> float:
    """The share of ``stories`` (lists of tokens, texts or Story objects) that ``generator``
    could have written."""
    if not isinstance(generator, StoryGenerator):
        raise ValueError(f"generator must be a StoryGenerator, got {type(generator).__name__}")
    if isinstance(stories, str) or not isinstance(stories, Sequence) or not len(stories):
        raise ValueError(f"stories must be a non-empty list of token lists, got {_describe(stories)}")
    for i, story in enumerate(stories):  # is_story would name one "story", not where it is
        tokens = isinstance(story, Sequence) and all(isinstance(w, str) for w in story)
        if not (isinstance(story, str | Story) or tokens):
            raise ValueError(
                f"stories[{i}] must be a list of token strings (or a text, or a Story), "
                f"got {_describe(story, str, f'stories[{i}]')}"
            )
    return sum(generator.is_story(s) for s in stories) / len(stories)
