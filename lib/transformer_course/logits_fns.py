"""The course's models as **logits functions**, the one interface ``generation`` decodes with.

    logits_fn(prefix)   prefix (B, t) long ids  →  logits (B, t, V)

``seq2seq_logits_fn`` wraps an encoder-decoder with its source fixed, ``decoder_logits_fn`` a
decoder-only model run on the whole prefix at every call, and ``cached_logits_fn`` a
``DecoderOnlyTransformer`` that keeps a KV cache between calls and runs only the new tokens.
Each carries ``max_len`` and ``vocab_size`` so that ``generate`` can check a request up front,
and ``model``, so that a failure can name it. Each runs the model under ``modes.evaluating``:
dropout off (a model left in train mode would decode at random, "greedy" changing from run to
run) and no gradients, every module back in its own mode afterwards.
``model_fits`` checks that a course model knows every id it is given and has room for them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from . import _validate
from .kv_cache import KVCache, _key_dtype, optimiser_steps
from .model import DecoderOnlyTransformer, Transformer
from .modes import evaluating

LogitsFn = Callable[[torch.Tensor], torch.Tensor]


def output_vocab(model: torch.nn.Module) -> int | None:
    """A course model's output vocabulary (the target's, for an encoder-decoder); None for others."""
    size = getattr(getattr(model, "config", None), "target_vocab_size", None)
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def max_positions(model: torch.nn.Module) -> int | None:
    """A course model's ``config.max_len``, the most positions it can read; None for others."""
    limit = getattr(getattr(model, "config", None), "max_len", None)
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def model_fits(
    model: torch.nn.Module, ids: torch.Tensor, what: str, positions: int, *, target: bool = False
) -> None:
    """A course model (one with a ``config``) that knows every id of ``ids`` and has room for
    its positions: else the model's own check names an argument the caller never passed
    ("src must hold ids in [0, 12)"). ``positions``: how many it must read at once; ``target``:
    the ids are an encoder-decoder's output."""
    _validate.tensor(f"the {what}", ids, floating=False)  # named as the caller's argument
    _validate.stored(f"the {what}", ids)  # its largest id is read below
    positions = _validate.integer("positions", positions, low=0)  # the caller's own count: not a user's input
    _validate.boolean("target", target)  # a str such as "no" would read the output vocabulary
    config = getattr(model, "config", None)
    if config is None or not ids.numel():
        return
    vocab = output_vocab(model) if target else getattr(config, "vocab_size", None)
    top = int(ids.max())
    if isinstance(vocab, int) and top >= vocab:
        raise ValueError(
            f"model must know every token of the {what}: its vocab_size is {vocab}, "
            f"the {what} use ids up to {top}"
        )
    limit = max_positions(model)
    if limit is not None and positions > limit:
        raise ValueError(
            f"model must have room for the {what}: its max_len is {limit}, they take {positions} positions"
        )


def seq2seq_logits_fn(model: torch.nn.Module, src: torch.Tensor) -> LogitsFn:
    """An encoder-decoder ``model(src, tgt) → logits (B, T, V)`` as a logits function of tgt.

    The source is fixed; each call re-runs the model on the target written so far. ``src``
    has one row per prefix row, or one row shared by every prefix row. The model runs in eval
    mode and without gradients (``modes.evaluating``), then gets its own mode back.
    """
    _validate.takes("model", model, 2, "(src, trg_in), an encoder-decoder Transformer")
    _validate.tensor("src", src, ndim=2, floating=False)

    def logits_fn(prefix: torch.Tensor) -> torch.Tensor:
        _validate.tensor("prefix", prefix, ndim=2, floating=False)
        if src.shape[0] not in (1, prefix.shape[0]):
            raise ValueError(
                f"src must have 1 row or one per prefix row ({prefix.shape[0]}), got shape {tuple(src.shape)}"
            )
        source = src if src.shape[0] == prefix.shape[0] else src.expand(prefix.shape[0], -1)
        try:
            with evaluating(model):  # dropout off: decoding must not depend on the mode it was left in
                out = model(source, prefix)
        except ValueError as error:  # a course model names the prefix "trg_in", its own argument
            if isinstance(model, Transformer) and str(error).startswith("trg_in "):
                raise ValueError("prefix" + str(error)[len("trg_in") :]) from None
            raise
        return out[0] if isinstance(out, tuple) else out

    logits_fn.max_len = max_positions(model)  # the target's positions: generate checks them up front
    logits_fn.vocab_size = output_vocab(model)  # and the ids it is given and told to stop at
    logits_fn.model = model  # named where its logits come out NaN (generation._last_logits)
    return logits_fn


def decoder_logits_fn(model: torch.nn.Module) -> LogitsFn:
    """A decoder-only ``model(ids) → logits (B, T, V)`` as a logits function. The model runs in
    eval mode and without gradients (``modes.evaluating``), then gets its own mode back."""
    _validate.takes("model", model, 1, "(ids), a decoder-only model such as DecoderOnlyTransformer")

    def logits_fn(prefix: torch.Tensor) -> torch.Tensor:
        try:
            with evaluating(model):  # dropout off: decoding must not depend on the mode it was left in
                out = model(prefix)
        except ValueError as error:  # a course model names the prefix "ids", its own argument
            if isinstance(model, DecoderOnlyTransformer) and str(error).startswith("ids "):
                raise ValueError("prefix" + str(error)[len("ids") :].replace("ids.", "prefix.")) from None
            raise
        return out[0] if isinstance(out, tuple) else out

    logits_fn.max_len = max_positions(model)  # generate checks the positions asked for up front
    logits_fn.vocab_size = output_vocab(model)  # and the ids it is given and told to stop at
    logits_fn.model = model  # named where its logits come out NaN (generation._last_logits)
    return logits_fn


class CachedLogits:
    """A ``DecoderOnlyTransformer`` with a KV cache, as a logits function (use ``cached_logits_fn``).

    Called with prefix (B, t), it runs the model only on the tokens its ``cache`` does not
    hold yet (the whole prompt the first time, then the one new token) and returns the
    logits of the whole prefix (B, t, V), as a logits function must: the rows computed
    by earlier calls, kept in ``logits``, and the new ones. A prefix that does not continue
    the cached tokens (a new prompt, another batch) starts a fresh cache. Its steps run under
    ``torch.inference_mode()``: what it returns is copied out of it, but its ``cache`` holds
    inference tensors (continue it under inference_mode, or with ``model.step``, which copies
    it once). The model runs in eval mode (``modes.evaluating``: dropout off, so the cached keys
    and the tokens chosen do not depend on the mode it was left in), then gets its own mode back.
    """

    def __init__(self, model: DecoderOnlyTransformer, *, need_weights: bool = False):
        # torch.compile(model) wraps the model (an OptimizedModule) and keeps it as ``_orig_mod``:
        # its cached steps run that model, a token at a time, as they would uncompiled.
        original = getattr(model, "_orig_mod", None) if isinstance(model, torch.nn.Module) else None
        model = original if isinstance(original, DecoderOnlyTransformer) else model
        if not isinstance(model, DecoderOnlyTransformer):
            raise ValueError(
                f"model must be a DecoderOnlyTransformer (it has a KV cache), got {type(model).__name__}"
            )
        self.model = model
        self.max_len = max_positions(model)  # the cache's room: generate checks it up front
        self.vocab_size = output_vocab(model)  # the ids generate may be given
        self.need_weights = _validate.boolean("need_weights", need_weights)
        self.cache: KVCache = model.new_cache()
        self.logits: torch.Tensor | None = None  # (B, t, V): one row per cached token
        self._submodules = list(model.modules())  # listed once: walking them took 20 µs a token
        self._made_by = self._model_state()  # the weights and mode the cache was filled with
        self.weights: list[torch.Tensor] = []  # with need_weights: per layer (B, h, T, t), the last call's

    def __call__(self, prefix: torch.Tensor) -> torch.Tensor:
        _validate.tensor("prefix", prefix, ndim=2, floating=False)
        if prefix.shape[1] == 0:
            raise ValueError("prefix must hold at least one token per row (e.g. <bos>), got shape (B, 0)")
        state = self._model_state()  # the caller's modes: one switched starts afresh, as before
        with evaluating(self.model):
            return self._call(prefix, state)

    def _call(self, prefix: torch.Tensor, state: tuple) -> torch.Tensor:
        """``__call__`` on a prefix it checked, the model in eval mode; ``state``: ``_model_state``
        as the caller left the model."""
        if state != self._made_by or not self._continues(prefix):
            self.cache, self.logits, self._made_by = self.model.new_cache(), None, state
        t = self.cache.length
        if prefix.shape[1] > t:  # run the new tokens only: (B, T) → (B, T, V)
            new = self._step(prefix, t)  # made under inference_mode: copied out of it below
            self.logits = torch.cat([new] if self.logits is None else [self.logits, new], dim=1)
            if self.need_weights:  # copied out of inference_mode, for the caller and the model's layers
                self.weights = [w.clone() for w in self.model.attention_weights()["decoder_self"]]
                for layer, weights in zip(self.model.blocks.layers, self.weights, strict=True):
                    layer.self_attn_weights = weights
        return self.logits  # (B, t + T, V)

    def _step(self, prefix: torch.Tensor, t: int) -> torch.Tensor:
        """The model's ``step`` on the tokens of prefix after the t cached, its checks made here
        under the name the caller gave them (``step`` would call them "ids")."""
        self.model._check_ids("prefix", prefix[:, t:], self.vocab_size)
        if prefix.shape[1] > self.max_len:
            raise ValueError(
                f"prefix has {prefix.shape[1]} positions but the model's max_len is {self.max_len}"
            )
        self.model._check_cache(self.cache)
        # Without gradients, as step: a cache that kept every step's graph would only grow. Under
        # inference_mode rather than no_grad: it skips the version counters and view records of
        # a step's hundred small operations, a ninth of a token of bench's GPT. Its keys, values
        # and logits are inference tensors, which PyTorch lets no autograd or in-place write reach
        # outside it: the caller gets copies (__call__), and a step outside it copies the cache.
        with torch.inference_mode():
            return self.model._step(prefix[:, t:], self.cache, self.need_weights)

    def _model_state(self) -> tuple:
        """What the cached keys depend on besides the tokens: each module's mode (train or
        eval), each of its weights' storage and version counter, which every in-place write
        bumps (an optimiser's step, load_state_dict; with assign=True, a new storage), the
        process's count of optimiser steps (a fused optimiser bumps no version counter), and
        the dtype the keys are made in (autocast's, while it is on).
        Changed, the cache is stale: a function kept across training would write with old keys.
        (A write through ``p.data``, or a module added later, is not seen.) Weights that are
        inference tensors (a model made under inference_mode) keep no version counter: such a
        model gets a fresh cache at every call, right and as slow as without one."""
        # One flat list in plain loops: the nested generators this was took 0.2 ms a token, a
        # seventh of a cached step of bench's GPT (4 layers), for the same tuple of facts.
        state = [optimiser_steps()]  # a fused optimiser's step bumps no version counter
        # The dtype the keys are made in (autocast's, under autocast): a call in the other one
        # starts afresh, where the cache of the first refused its keys ("cache must come from
        # this model's new_cache()", a cache the caller never passed).
        weight = self.model.output.weight  # (on the meta device autocast cannot be asked: its dtype)
        state.append(
            _key_dtype(weight) if torch.amp.is_autocast_available(weight.device.type) else weight.dtype
        )
        for m in self._submodules:
            state.append(m.training)
            for p in m._parameters.values():
                if p is None:
                    continue
                if p.is_inference():  # no version counter: a load under inference_mode is unseen
                    return (object(),)  # equal to no other state: a fresh cache at every call
                state += (p.data_ptr(), p._version)
        return tuple(state)

    def _continues(self, prefix: torch.Tensor) -> bool:
        """Whether prefix (B, t') starts with the cached tokens (B, t), t ≤ t'."""
        ids = self.cache.ids
        if ids is None or prefix.device != ids.device or prefix.shape[0] != ids.shape[0]:
            return False
        return prefix.shape[1] >= ids.shape[1] and torch.equal(prefix[:, : ids.shape[1]], ids)

    def last_attention(self) -> list[torch.Tensor]:
        """The last token's attention over the whole prefix, one (B, h, t) per layer, from the
        last call (which needs ``need_weights=True``)."""
        if not self.need_weights:
            raise ValueError("need_weights must be True (cached_logits_fn(model, need_weights=True))")
        if not self.weights:
            raise ValueError("prefix: call the function on a prefix first, then ask for its attention")
        return [w[:, :, -1, :] for w in self.weights]  # (B, h, T, t) → the last row, (B, h, t)


def cached_logits_fn(model: DecoderOnlyTransformer, *, need_weights: bool = False) -> CachedLogits:
    """A decoder-only ``model`` as a logits function that keeps a KV cache between calls.

    ``generate(cached_logits_fn(model), prompt, ...)`` writes the same tokens as
    ``generate(decoder_logits_fn(model), prompt, ...)``, running the model on one new
    token per step instead of the whole prefix. With ``need_weights``, ``last_attention()``
    gives the newest token's attention over the prefix after each call. The model runs in eval
    mode (``modes.evaluating``), then gets its own mode back.
    """
    return CachedLogits(model, need_weights=need_weights)
