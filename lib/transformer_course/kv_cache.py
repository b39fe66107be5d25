"""A KV cache: write the next token without recomputing every earlier one.

A decoder-only model writes one token at a time. Without a cache, each step runs the
whole prefix (B, t) through every layer again, although under the causal mask the
first t - 1 positions compute exactly what they computed one step before: only the new
token is new. What the new token needs from the earlier ones is their keys (its query
is compared with each) and their values (its output mixes them), so those are what we
keep, per layer:

    new token x (B, 1, d_model)  →  q, k, v, each (B, h, 1, d_head)
    keys   = [cached keys   (B, h, t, d_head) | k]   →  (B, h, t + 1, d_head)
    values = [cached values (B, h, t, d_head) | v]   →  (B, h, t + 1, d_head)
    out    = softmax(q · keysᵀ / √d_head) · values   →  (B, h, 1, d_head)

No mask is needed for that one query: every cached position is in its past. A step
then does one position's work per layer instead of t; the price is memory,
2 · layers · B · t · d_model numbers. ``DecoderOnlyTransformer.step`` fills the cache
with the prompt and grows it by one position per generated token.

Growing the keys with ``torch.cat`` would copy all t cached positions at every step,
work that grows with t. Instead each layer's first ``append`` makes a buffer with room
for ``max_len`` positions (so that memory is taken from the start); a step writes its
new positions after the t filled ones, and ``keys[i]`` is the filled part, a view
(B, h, t, d_head) of the buffer. The cache is made for generation, without gradients
(``step`` runs under ``torch.no_grad()``); where a gradient does flow through it (a layer's
``forward_cached`` on inputs that require one), the keys are joined with ``torch.cat``, as
autograd cannot differentiate a step once a later step has written into the same buffer.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from copy import deepcopy

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from . import _validate


class KVCache:
    """Per layer, the keys and values of every position so far, and the ids they came from.

    ``keys[i]`` and ``values[i]``: layer i's, each (B, h, t, d_head), or None while empty.
    ``ids``: (B, t), the tokens cached so far; the model reads padding from them and
    places the next token at position t = ``length``.

    ``torch.compile(model.step, fullgraph=True)`` compiles the cached step whole, the cache an
    argument (three graphs: the prompt's, then two steps', after which t is dynamic and no step
    compiles again). One thing it cannot do:
    a cache filled under ``torch.inference_mode()`` (``cached_logits_fn`` fills its own so) is
    copied out of it by its next eager step,
    but a compiled step cannot ask (dynamo cannot call ``is_inference()``) and PyTorch refuses
    its write ("Inplace update to inference tensor outside InferenceMode"): continue such a
    cache under ``torch.inference_mode()``, or with one eager step first.
    """

    def __init__(self, num_layers: int, max_len: int):
        # Python ints from here on: numpy's would wrap around in the products below (np.int64 max × 3)
        self.num_layers = num_layers = _validate.positive_int("num_layers", num_layers)
        self.max_len = _validate.positive_int("max_len", max_len)
        # three lists of num_layers entries: 10**12 layers would fill the memory before any key
        _validate.fits_in_memory("num_layers", 3 * num_layers, bytes_each=8)
        self.ids: torch.Tensor | None = None
        self.keys: list[torch.Tensor | None] = [None] * num_layers
        self.values: list[torch.Tensor | None] = [None] * num_layers
        # Layer i's room for max_len keys and values, (B, h, max_len, d_head) each; keys[i] and
        # values[i] are views of its first t positions. Made by layer i's first append.
        self._buffers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * num_layers
        self._owner: Callable[[], object] | None = None  # weakref to the model whose keys these are
        # Layer i's W_Q, W_K, W_V stacked for its steps, and what they were made from (``_stacked``).
        self._weights: list[tuple[tuple, tuple] | None] = [None] * num_layers

    def __deepcopy__(self, memo: dict) -> KVCache:
        """A copy whose owner is the copy of its model when that is copied along (deepcopy of
        (model, cache)), else none: a weakref copied as it is would still name the original,
        and the copied model would refuse its own cache."""
        copy = KVCache.__new__(KVCache)
        memo[id(self)] = copy
        for name, value in vars(self).items():
            if name not in ("_owner", "_weights"):
                setattr(copy, name, deepcopy(_detached(value), memo))
        copy._weights = [None] * self.num_layers  # made again from the copy's model, if it steps
        owner = self._owner() if self._owner is not None else None
        copied = memo.get(id(owner)) if owner is not None else None
        copy._owner = weakref.ref(copied) if copied is not None else None
        return copy

    def __copy__(self) -> KVCache:
        """A shallow copy keeps its owner (``__getstate__`` drops it, for pickle only): an unowned
        copy would be taken by any model of the same sizes, which ``step`` refuses by design."""
        copy = KVCache.__new__(KVCache)
        copy.__dict__.update(vars(self))
        return copy

    def __getstate__(self) -> dict:
        """What pickle (and torch.save) keeps: everything but the owner, a weakref, which pickle
        cannot take ("cannot pickle 'weakref.ReferenceType' object"). The loaded cache belongs to
        no model, as a deepcopy made without its model does."""
        return {**vars(self), "_owner": None, "_weights": [None] * self.num_layers}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "_weights" not in state:  # pickled before it had them
            self._weights = [None] * self.num_layers

    @property
    def length(self) -> int:
        """t, the number of positions cached (0 when empty)."""
        return 0 if self.ids is None else self.ids.shape[1]

    def __repr__(self) -> str:
        shape = None if self.keys[0] is None else tuple(self.keys[0].shape)
        return f"KVCache({self.num_layers} layers, {self.length} of {self.max_len} positions, keys {shape})"

    def add_ids(self, ids: torch.Tensor) -> int:
        """Record the new tokens ids (B, T) and return the position of the first, t.

        Checked first, so a refused call leaves the cache as it was: the batch size and
        device must be the cache's, and t + T must fit in ``max_len``.
        """
        _validate.tensor("ids", ids, ndim=2, floating=False)
        start = self.length
        if self.ids is not None:
            _validate.size("ids", ids, 0, self.ids.shape[0], "the batch size of the cache")
            _validate.same_device("ids", ids, self.ids.device, "the cache")
        _check_room("ids", start, ids.shape[1], self.max_len)
        self.ids = ids if self.ids is None else torch.cat([self.ids, ids], dim=1)  # (B, t + T): a few ints
        return start

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer ``layer``'s keys and values of the new positions, k and v (B, h, T, d_head),
        → every position's so far, each (B, h, t + T, d_head), which the cache keeps."""
        layer = _validate.integer("layer", layer, low=0, high=self.num_layers)
        _validate.tensor("k", k, ndim=4, floating=True)
        _validate.tensor("v", v, ndim=4, floating=True)
        _validate.like("v", v, k, "k")
        if v.shape != k.shape:
            raise ValueError(f"v must have the shape of k {tuple(k.shape)}, got {tuple(v.shape)}")
        past = self.keys[layer]
        t = 0 if past is None else past.shape[2]
        if past is not None and (past.shape[:2], past.shape[3]) != (k.shape[:2], k.shape[3]):
            raise ValueError(
                f"k must be (B, h, T, d_head) with the cached (B, h) = {tuple(past.shape[:2])} and "
                f"d_head = {past.shape[3]}, got shape {tuple(k.shape)}"
            )
        if past is not None:
            _validate.like("k", k, past, "the cached keys")
        _check_room("k", t, k.shape[2], self.max_len)
        self._check_layers_agree(layer, t, t + k.shape[2])
        return self._append(layer, k, v)

    def _check_layers_agree(self, layer: int, t: int, end: int) -> None:
        """Appended by hand (``model.step`` appends each layer in turn), every layer must come to
        hold the same positions: one behind the others catches up with them in one append, and
        one level with them goes on only once none is behind. Layers never filled do not count."""
        held = {i: keys.shape[2] for i, keys in enumerate(self.keys) if keys is not None and i != layer}
        if not held:
            return
        ahead, behind = max(held, key=held.get), min(held, key=held.get)
        if t < held[ahead] and end != held[ahead]:
            raise ValueError(
                f"k would leave layer {layer} with {end} positions, but layer {ahead} holds "
                f"{held[ahead]}: every layer must cache the same positions (append to layer {layer} "
                f"the keys of the {held[ahead] - t} positions it lacks, at once)"
            )
        if t >= held[ahead] and held[behind] < t:
            raise ValueError(
                f"k would take layer {layer} past its {t} positions, but layer {behind} holds "
                f"{held[behind]}: every layer must cache the same positions (append layer "
                f"{behind}'s keys of the ones it lacks first)"
            )

    def _append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``append`` for keys and values an attention layer has just made (their shapes are right)."""
        past_k, past_v = self.keys[layer], self.values[layer]
        if torch.is_grad_enabled() and any(x is not None and x.requires_grad for x in (k, v, past_k, past_v)):
            # A gradient flows through the cache: a write into the buffer would change the keys
            # an earlier step's backward reads ("modified by an inplace operation"). Joined out of
            # place instead, and the buffer dropped (a later step without gradients makes a new one).
            self._buffers[layer] = None
            if past_k is not None:
                k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
            self.keys[layer], self.values[layer] = k, v
            return k, v
        if self._buffers[layer] is None:
            room = (k.shape[0], k.shape[1], self.max_len, k.shape[3])  # (B, h, max_len, d_head)
            # Keys and values for max_len positions, taken once per layer: checked before they are.
            numel = 2 * room[0] * room[1] * room[2] * room[3]
            _validate.fits_in_memory("2 × B × h × max_len × d_head", numel, bytes_each=k.element_size())
            self._buffers[layer] = (k.new_empty(room), v.new_empty(room))
            if past_k is not None:  # joined out of place until now: the buffer starts with them
                self._buffers[layer][0][:, :, : past_k.shape[2]] = past_k
                self._buffers[layer][1][:, :, : past_v.shape[2]] = past_v
        key_room, value_room = self._buffers[layer]
        if _inference_outside(key_room):
            # Filled under torch.inference_mode(): its tensors cannot be written outside it (a raw
            # RuntimeError). One copy makes them ordinary tensors, and the cache goes on.
            key_room, value_room = self._buffers[layer] = (key_room.clone(), value_room.clone())
        past = self.keys[layer]
        t = 0 if past is None else past.shape[2]
        end = t + k.shape[2]
        key_room[:, :, t:end] = k  # the new positions go after the t cached: nothing else is copied
        value_room[:, :, t:end] = v
        self.keys[layer], self.values[layer] = key_room[:, :, :end], value_room[:, :, :end]
        return self.keys[layer], self.values[layer]  # (B, h, t + T, d_head) each

    def _stacked(self, layer: int, projections: tuple, stack: Callable) -> tuple:
        """Layer ``layer``'s projections' weights stacked, ``stack(*projections)`` (the attention's
        W_Q, W_K, W_V: (3·d, d) and (3·d,) or None). Under ``torch.inference_mode()``, where
        ``cached_logits_fn`` runs its steps, made at the layer's first step and kept while every
        weight has the storage and version counter it had (a load or an in-place write bumps it)
        and no optimiser has stepped (``optimiser_steps``): stacking three (d, d) matrices again at
        every token took a tenth of a cached step of bench's GPT. Kept on the same terms as
        ``cached_logits_fn`` keeps its cache, so with the same blind spot: a write through
        ``p.data``. Elsewhere (``model.step``, a step with gradients, torch.compile tracing, which
        cannot read data_ptr) made afresh at every step, exact whatever changed; so for weights
        that are inference tensors (a model made under inference_mode), which keep no version
        counter: a load into them there changed nothing the check reads, and kept W_Q, W_K, W_V
        were the old ones."""
        if torch.compiler.is_compiling() or not torch.is_inference_mode_enabled():
            return stack(*projections)
        params = [p for proj in projections for p in (proj.weight, proj.bias) if p is not None]
        if any(p.is_inference() for p in params):
            return stack(*projections)
        made_from = (optimiser_steps(), *((p.data_ptr(), p._version) for p in params))
        kept = self._weights[layer]
        if kept is None or kept[0] != made_from:
            kept = self._weights[layer] = (made_from, stack(*projections))
        return kept[1]

    def numbers(self) -> int:
        """How many numbers the cache holds: 2 · layers · B · t · d_model."""
        return sum(t.numel() for t in self.keys + self.values if t is not None)


def optimiser_steps() -> int:
    """How many optimiser steps (any ``torch.optim`` optimiser's) this process has taken. A fused
    optimiser (``AdamW(fused=True)``, the course's ``lm_training.gpt_optimiser``) writes the
    weights without bumping their version counters, so what a cache was made with is judged by
    this count too: a cache kept across a training step is stale."""
    return _OPTIMISER_STEPS[0]


_OPTIMISER_STEPS = [0]


def _count_step(optimizer, args, kwargs) -> None:
    _OPTIMISER_STEPS[0] += 1


register_optimizer_step_post_hook(_count_step)  # once, at import


def _detached(value: object) -> object:
    """``value`` (a list of keys or values) with its tensors that are part of a graph (filled by a
    layer's ``forward_cached`` while gradients were on) detached: deepcopy refuses them ("Only
    Tensors created explicitly by the user (graph leaves) support the deepcopy protocol"). A
    copy keeps the keys' values; the graph stays with the original."""
    if isinstance(value, list):
        return [_detached(v) for v in value]
    if isinstance(value, torch.Tensor) and value.grad_fn is not None:
        return value.detach()
    return value


def _inference_outside(buffer: torch.Tensor) -> bool:
    """Whether ``buffer`` was made under torch.inference_mode() and is written outside it.
    Not asked while torch.compile traces: dynamo cannot call is_inference() (a graph break
    it calls fundamental), so a compiled step does not copy such a buffer (see ``KVCache``)."""
    if torch.compiler.is_compiling():
        return False
    return buffer.is_inference() and not torch.is_inference_mode_enabled()


def _key_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype of the keys a layer projects from x (or from inputs in the dtype of x): x's own,
    or autocast's while it is on for x's device, as it casts every float but float64 for a
    matmul. A cache filled under autocast holds keys in that dtype, not in the weights'."""
    device = x.device.type
    if x.dtype != torch.float64 and torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return x.dtype


def _check_room(name: str, t: int, new: int, max_len: int) -> None:
    """t cached positions and ``new`` more must fit in max_len."""
    if t + new > max_len:
        raise ValueError(
            f"{name} adds {new} positions to a cache of {t}: {t + new} "
            f"would exceed max_len ({max_len}), the longest sequence the model knows"
        )
