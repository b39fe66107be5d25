"""Writing one token at a time: greedy and sampled decoding, with a trace a figure can show.

A model that generates is used through one small interface, a **logits function**:

    logits_fn(prefix)   prefix (B, t) long ids  →  logits (B, t, V)

Row i of the logits scores every vocabulary entry as the token that follows
``prefix[:, :i+1]``. Under the causal mask position i never sees later tokens, so only
the last row is new at each step; the others are what the model already said before.
``seq2seq_logits_fn`` and ``decoder_logits_fn`` wrap the course's models in it.

Each step: run the model on the tokens so far, turn the last row of logits into a
probability distribution and choose a token (``sampling``: greedy, temperature, top-k,
top-p), append it, and stop at ``<eos>`` or after ``max_new_tokens``.

Running the model on the whole prefix at every step recomputes, at each earlier position,
what it computed the step before. ``cached_logits_fn(model)`` is a logits function for a
``DecoderOnlyTransformer`` that runs only the new token and reads the others' keys and
values from a KV cache (``kv_cache``): ``generate`` then writes exactly the same tokens,
faster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from . import _validate
from .data import SequenceSplit
from .logits_fns import (
    CachedLogits,
    LogitsFn,
    cached_logits_fn,
    decoder_logits_fn,
    max_positions,
    model_fits,
    output_vocab,
    seq2seq_logits_fn,
)
from .modes import evaluating
from .sampling import (
    STRATEGIES,
    check_logits,
    check_options,
    check_strategy,
    choose,
    keep_top_p,
    next_token_probs,
)
from .training import _not_finite_message

__all__ = [  # the sampling functions are part of generation's interface too
    "STRATEGIES", "CachedLogits", "Generation", "LogitsFn", "Step", "cached_logits_fn", "check_options",
    "choose", "decoder_logits_fn", "generate", "greedy_decode", "keep_top_p", "last_logits", "max_positions",
    "next_token_probs", "seq2seq_accuracy", "seq2seq_logits_fn", "sequence_accuracy", "strip",
]  # fmt: skip


@dataclass(frozen=True)
class Step:
    """One generation step: the tokens so far (t,), the distribution (V,), the token chosen."""

    prefix: torch.Tensor
    probs: torch.Tensor
    chosen: int

    @property
    def chosen_prob(self) -> float:
        return float(self.probs[_validate.position("chosen", self.chosen, self.probs.shape[-1])])


@dataclass(frozen=True)
class Generation:
    """ids: (T,) the prompt followed by the generated tokens; steps: one ``Step`` per new token."""

    ids: torch.Tensor
    steps: list[Step] = field(default_factory=list)

    @property
    def new_ids(self) -> torch.Tensor:
        return self.ids[self.ids.shape[0] - len(self.steps) :]

    def probs(self) -> torch.Tensor:
        """The per-step distributions stacked, shape (steps, V)."""
        return torch.stack([s.probs for s in self.steps]) if self.steps else torch.empty(0, 0)


def last_logits(logits_fn: LogitsFn, prefix: torch.Tensor) -> torch.Tensor:
    """Run the model on prefix (B, t) and return the scores for the next token, (B, V)."""
    _check_logits_fn(logits_fn)
    _validate.tensor("prefix", prefix, ndim=2, floating=False)
    if prefix.shape[1] == 0:  # else the model names its own argument, "ids"
        raise ValueError(
            f"prefix must hold at least one token per row (e.g. <bos>), got shape {tuple(prefix.shape)}"
        )
    _check_ids(logits_fn, prefix, name="prefix")  # else the model names its own argument, "ids"
    return _last_logits(logits_fn, prefix)


def _last_logits(logits_fn: LogitsFn, prefix: torch.Tensor) -> torch.Tensor:
    """``last_logits`` for a logits function and a prefix the decoding loop has checked (the
    signature check alone, at every generated token, took a tenth of a small model's step);
    what the function returns is still checked at every step."""
    try:
        logits = logits_fn(prefix)
    except RuntimeError as error:  # torch's, from inside: a module of other inputs (nn.Linear), say
        if isinstance(error, torch.OutOfMemoryError | NotImplementedError):  # the starter's own, say
            raise
        raise ValueError(
            f"logits_fn must map prefix (B, t) of {prefix.dtype} ids to logits (B, t, V); "
            f"on a prefix of shape {tuple(prefix.shape)} it failed: {error}"
        ) from error
    if isinstance(logits, tuple):
        logits = logits[0]
    if (
        not isinstance(logits, torch.Tensor)
        or logits.dim() != 3
        or logits.shape[:2] != prefix.shape
        or logits.shape[2] == 0
    ):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(
            f"logits_fn must map prefix {tuple(prefix.shape)} to logits "
            f"({prefix.shape[0]}, {prefix.shape[1]}, V) with V >= 1, got {got}"
        )
    last = logits[:, -1, :]  # (B, V)
    try:
        check_logits(last)
    except ValueError:
        _blame_the_model(logits_fn, last)
        raise
    return last


def _blame_the_model(logits_fn: LogitsFn, last: torch.Tensor) -> None:
    """NaN or +inf logits from a course model's logits function: a ValueError naming the model
    (its weights hold NaN, or are so large that its products overflow) rather than ``logits``,
    which the caller never passed. Looked at only once the logits were refused: no cost per token."""
    model = getattr(logits_fn, "model", None)
    if isinstance(model, torch.nn.Module) and bool(last.isnan().any() or last.isposinf().any()):
        raise ValueError(_not_finite_message("model", model)) from None


@torch.no_grad()
def generate(
    logits_fn: LogitsFn,
    prompt: torch.Tensor,
    *,
    max_new_tokens: int,
    strategy: str = "greedy",
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    seed: int | None = None,
) -> Generation:
    """One sequence, one token at a time, keeping a trace of every step.

    prompt: (t0,) ids to start from (at least one, e.g. ``<bos>``). Returns the prompt plus
    up to ``max_new_tokens`` new ids, stopping after ``eos_id``. Sampling reshapes each
    distribution with ``temperature``, ``top_k`` and ``top_p`` (``sampling``); ``seed``
    makes it reproducible without touching the global random state. Each step keeps its
    prefix, so the trace grows with the square of the length: one that could not fit in
    memory is refused before the first step.
    """
    _check_logits_fn(logits_fn)
    _validate.tensor("prompt", prompt, ndim=1, floating=False)
    _validate.stored("prompt", prompt)
    if prompt.numel() == 0:
        raise ValueError("prompt must hold at least one token (e.g. <bos>)")
    max_new_tokens = _validate.positive_int("max_new_tokens", max_new_tokens)
    longest = prompt.shape[0] + max_new_tokens  # the steps' prefixes, int64: about longest² / 2
    _validate.fits_in_memory("max_new_tokens", longest * (longest + 1) // 2, bytes_each=8)
    _check_room(logits_fn, prompt.shape[0], max_new_tokens)
    check_strategy(strategy)
    check_options(temperature, top_k, _vocab(logits_fn), top_p=top_p)  # top_k > V: before any step
    _check_ids(logits_fn, prompt, eos_id=eos_id)
    if seed is not None:
        seed = _validate.seed("seed", seed)  # an int: manual_seed refuses numpy's ints
    generator = torch.Generator(device=prompt.device).manual_seed(seed) if seed is not None else None
    ids = prompt.clone()
    steps: list[Step] = []
    for _ in range(max_new_tokens):
        logits = _last_logits(logits_fn, ids.unsqueeze(0))  # (1, V)
        token, probs = choose(
            logits, strategy=strategy, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
        )
        steps.append(Step(ids.clone(), probs[0].cpu(), int(token)))
        ids = torch.cat([ids, token])  # append: it is history now
        if eos_id is not None and int(token) == eos_id:
            break
    return Generation(ids, steps)


@torch.no_grad()
def greedy_decode(
    logits_fn: LogitsFn,
    prompt: torch.Tensor,
    *,
    max_new_tokens: int,
    eos_id: int | None = None,
    pad_id: int = 0,
) -> torch.Tensor:
    """Batched greedy decoding for evaluation: prompt (B, t0) → (B, t0 + n), n ≤ max_new_tokens.

    Every row takes the argmax at each step; a row that has written ``eos_id`` gets
    ``pad_id`` afterwards, and decoding stops as soon as every row is finished.
    """
    _check_logits_fn(logits_fn)
    _validate.tensor("prompt", prompt, ndim=2, floating=False)
    _validate.stored("prompt", prompt)  # its ids are read below
    if prompt.shape[1] == 0:
        raise ValueError("prompt must hold at least one token per row (e.g. <bos>)")
    max_new_tokens = _validate.positive_int("max_new_tokens", max_new_tokens)
    _check_room(logits_fn, prompt.shape[1], max_new_tokens)
    pad_id = _validate.integer("pad_id", pad_id, low=0, high=_vocab(logits_fn))  # None fails in masked_fill
    _check_ids(logits_fn, prompt, eos_id=eos_id)  # pad_id: just above
    ids = prompt.clone()
    done = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    for _ in range(max_new_tokens):
        token = _last_logits(logits_fn, ids).argmax(dim=-1)  # (B,)
        if eos_id is not None:
            token = token.masked_fill(done, pad_id)  # rows that have finished write padding
        ids = torch.cat([ids, token.unsqueeze(1)], dim=1)
        if eos_id is not None:
            done |= token == eos_id
            if bool(done.all()):
                break
    return ids


def strip(ids: torch.Tensor, *, eos_id: int, skip: tuple[int, ...] = ()) -> list[list[int]]:
    """(B, T) ids → per row, the ids before the first ``eos_id``, leaving out ``skip`` ids."""
    _validate.tensor("ids", ids, ndim=2, floating=False)
    _validate.stored("ids", ids)  # read below, with tolist()
    eos_id = _validate.integer("eos_id", eos_id, low=0)  # an id: a negative one never ends a row
    if isinstance(skip, str | torch.Tensor) or not isinstance(skip, tuple | list | set | frozenset):
        raise ValueError(f"skip must be a tuple of ids to leave out, got {type(skip).__name__}")
    for i, s in enumerate(skip):
        _validate.integer(f"skip[{i}]", s)
    rows = []
    for row in ids.tolist():
        out = []
        for i in row:
            if i == eos_id:
                break
            if i not in skip:
                out.append(i)
        rows.append(out)
    return rows


def sequence_accuracy(
    predicted: torch.Tensor, target: torch.Tensor, *, eos_id: int, skip: tuple[int, ...] = ()
) -> float:
    """Fraction of rows whose tokens before ``<eos>`` match exactly (``skip`` ids ignored).

    predicted (B, T1), target (B, T2): the lengths may differ, e.g. a decoded row that
    stopped early. A row that never writes ``<eos>`` is compared on everything it wrote.
    """
    _validate.tensor("predicted", predicted, ndim=2, floating=False)
    _validate.tensor("target", target, ndim=2, floating=False)
    _validate.stored("predicted", predicted)  # else strip names its own argument, "ids"
    _validate.stored("target", target)
    if predicted.shape[0] != target.shape[0]:
        raise ValueError(
            f"predicted must have as many rows as target ({target.shape[0]}), "
            f"got shape {tuple(predicted.shape)}"
        )
    if predicted.shape[0] == 0:
        raise ValueError("predicted must hold at least one row")
    pred, want = strip(predicted, eos_id=eos_id, skip=skip), strip(target, eos_id=eos_id, skip=skip)
    return sum(p == w for p, w in zip(pred, want)) / len(want)


def _check_logits_fn(logits_fn: object) -> None:
    """A function of one prefix (an encoder-decoder, which wants two, fails inside torch)."""
    _validate.function("logits_fn", logits_fn, "of prefix (B, t) returning logits (B, t, V)")
    what = "one argument, prefix (B, t) (a model of (src, trg_in): wrap it with seq2seq_logits_fn)"
    _validate.takes("logits_fn", logits_fn, 1, what)


def _vocab(logits_fn: LogitsFn) -> int | None:
    """The vocabulary size a logits function made here carries (None for others)."""
    vocab = getattr(logits_fn, "vocab_size", None)
    return vocab if isinstance(vocab, int) and not isinstance(vocab, bool) else None


def _check_ids(logits_fn: LogitsFn, prompt: torch.Tensor, name: str = "prompt", **ids: int | None) -> None:
    """The prompt's ids (called ``name``) and the special ``ids`` (eos_id, pad_id) as ids of the
    model's vocabulary, where the logits function knows it (one made here from a course model);
    else the special ids as ints. An eos_id the model cannot write would never stop it."""
    vocab = _vocab(logits_fn)
    known = vocab is not None
    for special, value in ids.items():
        if value is not None:
            _validate.integer(special, value, low=0, high=vocab if known else None)
    if known:  # a course model: else it refuses them as "ids", an argument the caller never saw
        _validate.index_dtype(name, prompt)
        _validate.stored(name, prompt)
    if known and prompt.numel() and (int(prompt.min()) < 0 or int(prompt.max()) >= vocab):
        raise ValueError(
            f"{name} must hold ids the model knows, in [0, {vocab}), got values from "
            f"{int(prompt.min())} to {int(prompt.max())}"
        )


def _check_room(logits_fn: LogitsFn, prompt_len: int, max_new_tokens: int) -> None:
    """Refuse, before any work, a request for more positions than the model has: the
    prompt's t0 and up to ``max_new_tokens`` more must fit in its ``max_len`` (a logits
    function made here from a course model carries it; others are not checked)."""
    limit = getattr(logits_fn, "max_len", None)
    if not isinstance(limit, int):
        return
    if prompt_len > limit:
        raise ValueError(f"prompt has {prompt_len} tokens but the model has only max_len = {limit} positions")
    if prompt_len + max_new_tokens > limit:
        raise ValueError(
            f"max_new_tokens must be at most {limit - prompt_len}, got {max_new_tokens}: the prompt's "
            f"{prompt_len} tokens and the new ones must fit in the model's max_len ({limit} positions)"
        )


@torch.no_grad()
def seq2seq_accuracy(
    model: torch.nn.Module,
    split: SequenceSplit,
    *,
    bos_id: int,
    eos_id: int,
    pad_id: int = 0,
    batch_size: int = 1000,
) -> float:
    """Exact-match accuracy of batched greedy decoding on every row of ``split``."""
    batch_size = _validate.positive_int("batch_size", batch_size)
    for name, value in (("bos_id", bos_id), ("eos_id", eos_id), ("pad_id", pad_id)):
        _validate.integer(name, value, low=0)
    if not isinstance(split, SequenceSplit) or len(split) == 0:
        raise ValueError(f"split must be a non-empty SequenceSplit (task.test), got {type(split).__name__}")
    device = _validate.weights_device("model", model)
    _validate.takes("model", model, 2, "(src, trg_in), an encoder-decoder Transformer")
    vocab = output_vocab(model)
    if vocab is not None:  # else greedy_decode names its prompt, which the caller never saw
        bos_id = _validate.integer("bos_id", bos_id, low=0, high=vocab)
    longest = int(split.lengths.max())  # symbols; the target adds <bos> and <eos>
    model_fits(model, split.src, "split's sources", longest)
    model_fits(model, split.tgt, "split's targets", longest + 2, target=True)
    with evaluating(model):
        correct = 0
        for start in range(0, len(split), batch_size):
            part = split[start : start + batch_size]
            n = int(part.lengths.max())
            src = part.src[:, :n].to(device)
            prompt = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=device)
            out = greedy_decode(
                seq2seq_logits_fn(model, src), prompt, max_new_tokens=n + 1, eos_id=eos_id, pad_id=pad_id
            )
            correct += sequence_accuracy(out.cpu(), part.tgt, eos_id=eos_id, skip=(bos_id,)) * len(part)
    return correct / len(split)
