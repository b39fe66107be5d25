"""Writing one token at a time: greedy and sampled decoding, with a trace a figure can show.

A model that generates is used through one small interface, a **logits function**:

    logits_fn(prefix)   prefix (B, t) long ids  →  logits (B, t, V)

Row i of the logits scores every vocabulary entry as the token that follows
``prefix[:, :i+1]``. Under the causal mask position i never sees later tokens, so only
the last row is new at each step; the others are what the model already said before.
``seq2seq_logits_fn`` and ``decoder_logits_fn`` wrap the course's models in it.

Each step: run the model on the tokens so far, turn the last row of logits into a
probability distribution (softmax, after dividing by the temperature and keeping the
top k), choose a token (the most likely one for greedy, a random draw for sampling),
append it, and stop at ``<eos>`` or after ``max_new_tokens``.

Logits of -inf block a token (its probability is 0). A row where every token is
blocked leaves nothing to choose: generation raises a ValueError that says so, rather
than dividing 0 by 0 (NaN probabilities) or silently picking token 0. (``stable_softmax``
returns zeros for such a row, which suits attention, where a query may see no key; a
generator must write something.) NaN or +inf logits are refused the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from . import _validate
from .data import SequenceSplit

LogitsFn = Callable[[torch.Tensor], torch.Tensor]
STRATEGIES = ("greedy", "sample")


@dataclass(frozen=True)
class Step:
    """One generation step: the tokens so far (t,), the distribution (V,), the token chosen."""

    prefix: torch.Tensor
    probs: torch.Tensor
    chosen: int

    @property
    def chosen_prob(self) -> float:
        return float(self.probs[self.chosen])


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


def check_options(temperature: float, top_k: int | None, vocab_size: int | None = None) -> None:
    """ValueError naming the argument for a temperature that is negative or not a finite
    number (NaN, inf), or a top_k outside 1 … V."""
    _validate.finite_number("temperature", temperature, at_least=0, note=" (0 = greedy)")
    if top_k is not None:
        _validate.integer("top_k", top_k, low=1)
        if vocab_size is not None and top_k > vocab_size:
            raise ValueError(f"top_k must be at most the vocabulary size ({vocab_size}), got {top_k}")


def _check_logits(logits: torch.Tensor) -> None:
    """Logits (..., V) a token can be chosen from: no NaN or +inf, and in every row at least
    one token that is not blocked (-inf)."""
    if logits.isnan().any() or logits.isposinf().any():
        raise ValueError("logits must hold finite numbers or -inf (a blocked token), got NaN or +inf")
    blocked = logits.isneginf().all(dim=-1)
    if blocked.any():
        raise ValueError(
            f"logits must leave at least one token allowed, but every token is blocked (-inf) in "
            f"{int(blocked.sum())} of {blocked.numel()} rows: there is nothing to choose"
        )


def next_token_probs(
    logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None
) -> torch.Tensor:
    """logits (..., V) → the distribution a sampler draws from, (..., V).

    Divide by ``temperature`` (below 1 sharpens, above 1 flattens), keep only the
    ``top_k`` largest logits (the rest get probability 0), softmax. Temperature 0 puts
    all the probability on the argmax: greedy. A row whose every logit is -inf raises a
    ValueError: no token can be chosen from it.
    """
    _validate.tensor("logits", logits, floating=True)
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(
            f"logits must have a last dimension of V >= 1 scores, got shape {tuple(logits.shape)}"
        )
    check_options(temperature, top_k, logits.shape[-1])
    _check_logits(logits)
    logits = logits.detach().float()
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits / temperature, dim=-1)


def choose(
    logits: torch.Tensor,
    *,
    strategy: str = "greedy",
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (B, V) → (chosen ids (B,), the distribution (B, V) they were chosen from).

    Greedy takes the argmax of the raw logits (temperature and top-k do not change it) and
    reports the model's distribution at temperature 1; sampling draws from
    ``next_token_probs`` with ``generator`` (seeded → reproducible).
    """
    _validate.tensor("logits", logits, ndim=2, floating=True)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be None or a torch.Generator, got {type(generator).__name__}")
    if strategy == "greedy":  # the model's own distribution; take its peak
        return logits.argmax(dim=-1), next_token_probs(logits)
    probs = next_token_probs(logits, temperature=temperature, top_k=top_k)
    if temperature == 0:
        return logits.argmax(dim=-1), probs
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1), probs


def last_logits(logits_fn: LogitsFn, prefix: torch.Tensor) -> torch.Tensor:
    """Run the model on prefix (B, t) and return the scores for the next token, (B, V)."""
    _validate.function("logits_fn", logits_fn, "of prefix (B, t) returning logits (B, t, V)")
    logits = logits_fn(prefix)
    if isinstance(logits, tuple):
        logits = logits[0]
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3 or logits.shape[:2] != prefix.shape:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(
            f"logits_fn must map prefix {tuple(prefix.shape)} to logits "
            f"({prefix.shape[0]}, {prefix.shape[1]}, V), got {got}"
        )
    _check_logits(logits[:, -1, :])
    return logits[:, -1, :]


@torch.no_grad()
def generate(
    logits_fn: LogitsFn,
    prompt: torch.Tensor,
    *,
    max_new_tokens: int,
    strategy: str = "greedy",
    temperature: float = 1.0,
    top_k: int | None = None,
    eos_id: int | None = None,
    seed: int | None = None,
) -> Generation:
    """One sequence, one token at a time, keeping a trace of every step.

    prompt: (t0,) ids to start from (at least one, e.g. ``<bos>``). Returns the prompt plus
    up to ``max_new_tokens`` new ids, stopping after ``eos_id``. ``seed`` makes sampling
    reproducible without touching the global random state.
    """
    _validate.tensor("prompt", prompt, ndim=1, floating=False)
    if prompt.numel() == 0:
        raise ValueError("prompt must hold at least one token (e.g. <bos>)")
    _validate.positive_int("max_new_tokens", max_new_tokens)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    check_options(temperature, top_k)
    _check_ints(eos_id=eos_id, seed=seed)
    generator = torch.Generator(device=prompt.device).manual_seed(seed) if seed is not None else None
    ids = prompt.clone()
    steps: list[Step] = []
    for _ in range(max_new_tokens):
        logits = last_logits(logits_fn, ids.unsqueeze(0))  # (1, V)
        token, probs = choose(
            logits, strategy=strategy, temperature=temperature, top_k=top_k, generator=generator
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
    _validate.tensor("prompt", prompt, ndim=2, floating=False)
    if prompt.shape[1] == 0:
        raise ValueError("prompt must hold at least one token per row (e.g. <bos>)")
    _validate.positive_int("max_new_tokens", max_new_tokens)
    _check_ints(eos_id=eos_id, pad_id=pad_id)
    ids = prompt.clone()
    done = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    for _ in range(max_new_tokens):
        token = last_logits(logits_fn, ids).argmax(dim=-1)  # (B,)
        token = token.masked_fill(done, pad_id)
        ids = torch.cat([ids, token.unsqueeze(1)], dim=1)
        if eos_id is not None:
            done |= token == eos_id
            if bool(done.all()):
                break
    return ids


def strip(ids: torch.Tensor, *, eos_id: int, skip: tuple[int, ...] = ()) -> list[list[int]]:
    """(B, T) ids → per row, the ids before the first ``eos_id``, leaving out ``skip`` ids."""
    _validate.tensor("ids", ids, ndim=2, floating=False)
    _validate.integer("eos_id", eos_id)
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
    if predicted.shape[0] != target.shape[0]:
        raise ValueError(
            f"predicted must have as many rows as target ({target.shape[0]}), "
            f"got shape {tuple(predicted.shape)}"
        )
    if predicted.shape[0] == 0:
        raise ValueError("predicted must hold at least one row")
    pred, want = strip(predicted, eos_id=eos_id, skip=skip), strip(target, eos_id=eos_id, skip=skip)
    return sum(p == w for p, w in zip(pred, want)) / len(want)


def _check_ints(**ids: int | None) -> None:
    for name, value in ids.items():
        if value is not None:
            _validate.integer(name, value)


def seq2seq_logits_fn(model: torch.nn.Module, src: torch.Tensor) -> LogitsFn:
    """An encoder-decoder ``model(src, tgt) → logits (B, T, V)`` as a logits function of tgt.

    The source is fixed; each call re-runs the model on the target written so far. ``src``
    has one row per prefix row, or one row shared by every prefix row.
    """
    _validate.function("model", model, "of (src, tgt) returning logits")
    _validate.tensor("src", src, ndim=2, floating=False)

    def logits_fn(prefix: torch.Tensor) -> torch.Tensor:
        if src.shape[0] not in (1, prefix.shape[0]):
            raise ValueError(
                f"src must have 1 row or one per prefix row ({prefix.shape[0]}), got shape {tuple(src.shape)}"
            )
        source = src if src.shape[0] == prefix.shape[0] else src.expand(prefix.shape[0], -1)
        out = model(source, prefix)
        return out[0] if isinstance(out, tuple) else out

    return logits_fn


def decoder_logits_fn(model: torch.nn.Module) -> LogitsFn:
    """A decoder-only ``model(ids) → logits (B, T, V)`` as a logits function."""
    _validate.function("model", model, "of ids (B, T) returning logits (B, T, V)")

    def logits_fn(prefix: torch.Tensor) -> torch.Tensor:
        out = model(prefix)
        return out[0] if isinstance(out, tuple) else out

    return logits_fn


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
    _validate.positive_int("batch_size", batch_size)
    if not isinstance(split, SequenceSplit) or len(split) == 0:
        raise ValueError(f"split must be a non-empty SequenceSplit (task.test), got {type(split).__name__}")
    device = _validate.module_device("model", model)
    was_training = model.training
    model.eval()
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
    model.train(was_training)
    return correct / len(split)
