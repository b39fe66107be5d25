"""The training loop: batches in, loss down, with a history to plot and attention snapshots.

``train`` is deliberately small: for each step it draws a batch, computes the loss,
back-propagates, and lets the optimiser (Adam) move every weight a little downhill. It
records the loss of every step in a ``History``, calls ``callback`` every
``callback_every`` steps (a live loss curve), and at the ``snapshot_steps`` it asks
``snapshot_fn`` for whatever should be watched as the model learns (usually attention
weights), stored in ``history.snapshots``. ``History`` is ``history``'s, the learning-rate
schedule (``learning_rates``) ``lr_schedule``'s; both can be imported from here too.

Deterministic: the batches come from a generator seeded with ``seed`` and the global
RNG (dropout) is seeded with it too, so the same call gives the same numbers.
"""

from __future__ import annotations

import ctypes
import math
import numbers
import sys
import time
import warnings
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate
from .data import SequenceSplit, batches
from .history import History, _check_continued
from .lr_schedule import MAX_LR, MAX_SCHEDULE, _check_lr, _check_warmup, _lr_factor, learning_rates
from .modes import evaluating

__all__ = [  # History and the schedule are part of training's interface too
    "MAX_LR", "MAX_SCHEDULE", "History", "learning_rates", "release_freed_memory", "seq2seq_loss",
    "split_batch_fn", "train",
]  # fmt: skip


# What ``batch_fn`` must be, said where one fails inside torch (an nn.Linear given indices).
_BATCH_FN = "a function of item indices (batch_size,) returning a batch"


def train(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, object], torch.Tensor],
    batch_fn: Callable[[torch.Tensor], object],
    num_items: int,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    warmup: int = 0,
    decay: bool = False,
    snapshot_fn: Callable[[nn.Module], object] | None = None,
    snapshot_steps: Iterable[int] = (),
    callback: Callable[[History], None] | None = None,
    callback_every: int = 25,
    progress: bool = True,
    description: str = "training",
    history: History | None = None,
    optimiser: Callable[[nn.Module, float], torch.optim.Optimizer] | None = None,
) -> History:
    """Train ``model`` for ``steps`` steps of Adam and return the ``History``.

    ``batch_fn(indices (batch_size,))`` builds a batch from item indices (0 … num_items-1);
    ``loss_fn(model, batch)`` returns a scalar loss. ``warmup`` steps (at most ``steps``) ramp
    the learning rate up linearly from 0, then it stays at ``lr``, or with ``decay`` glides down to
    ``lr``/10 along a half cosine (small final steps settle the weights). ``snapshot_fn(model)`` runs in eval
    mode without gradients at each step in ``snapshot_steps`` (0 = before the first step).
    ``optimiser(model, lr)``, when given, makes the optimiser instead of Adam (e.g. a GPT's
    AdamW, ``lm_training.gpt_optimiser``). When the run is over, the memory its steps freed
    goes back to the system (``release_freed_memory``). ``lr`` is at most ``MAX_LR`` (1e6).

    A loss that is NaN or infinite (training diverged: often a learning rate too large)
    ends the run at that step, before it updates the weights: the model keeps the last
    good ones, the history ends with that loss, the callback sees it, and a warning says so.
    A float16 model is refused for the default Adam, whose steps write NaN in float16.
    """
    _check_model(model)
    hooks = (
        ("loss_fn", loss_fn),
        ("optimiser", optimiser),
        ("snapshot_fn", snapshot_fn),
        ("callback", callback),
    )
    for name, fn in hooks:  # a model here: called with (model, …), or the history
        if isinstance(fn, nn.Module):
            raise ValueError(f"{name} must be a function of (model, …), got the module {type(fn).__name__}")
    _validate.function("loss_fn", loss_fn, "of (model, batch) returning a scalar loss")
    _validate.function("batch_fn", batch_fn, "of item indices (batch_size,) returning a batch")
    # called with one or two arguments below: another count fails there, naming neither
    _validate.takes("loss_fn", loss_fn, 2, "two arguments, (model, batch), and return a scalar loss")
    _validate.takes("batch_fn", batch_fn, 1, "one argument, the item indices (batch_size,)")
    counts = (("num_items", num_items), ("steps", steps), ("batch_size", batch_size))
    for name, value in (*counts, ("callback_every", callback_every)):
        _validate.positive_int(name, value)
    if steps > MAX_SCHEDULE:  # the history keeps numbers per step: 10**12 steps would never end
        raise ValueError(f"steps must be at most {MAX_SCHEDULE:,}, got {steps:,}")
    _check_lr(lr)
    warmup = _check_warmup(warmup, steps)
    seed = _validate.seed("seed", seed)  # an int: manual_seed refuses numpy's
    _validate.boolean("decay", decay)
    _validate.boolean("progress", progress)
    if not isinstance(description, str):
        got = type(description).__name__
        raise ValueError(f"description must be a str, the progress bar's label, got {got}")
    snapshot_steps = _check_snapshots(snapshot_steps, snapshot_fn, steps)
    if callback is not None:
        _validate.takes("callback", callback, 1, "one argument, the History")
    if optimiser is not None:
        _check_optimiser(optimiser)
    else:
        _check_adam_dtype(model)
    if history is not None and not isinstance(history, History):
        raise ValueError(f"history must be None or a History to continue, got {type(history).__name__}")
    if history is not None:
        _check_continued(history)

    torch.manual_seed(seed)  # dropout draws from the global generator
    history = History() if history is None else history
    start = history.steps[-1] if history.steps else 0
    own_optimiser = optimiser is not None
    if optimiser is None:
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        optimiser = optimiser(model, lr)
        if not isinstance(optimiser, torch.optim.Optimizer):
            raise ValueError(f"optimiser must return a torch.optim.Optimizer, got {type(optimiser).__name__}")
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: _lr_factor(s, steps, warmup, decay))
    wanted = set(snapshot_steps)
    if 0 in wanted:
        history.snapshots[start] = _snapshot(model, snapshot_fn)
    indices = batches(num_items, batch_size, seed=seed)
    bar = _progress_bar(steps, description, progress)
    began = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        batch = _validate.model_call("batch_fn", batch_fn, next(indices), what=_BATCH_FN)
        loss = _check_loss(loss_fn(model, _check_batch(batch)))
        value = loss.item()
        if not math.isfinite(value):  # one step more would write NaN into every weight
            _stop_diverged(history, start + step, value, optimiser, callback, _half_dtype(model))
            break
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if step == 1 and own_optimiser:
            _check_gradients_reach(optimiser)
        history.learning_rates.append(optimiser.param_groups[0]["lr"])
        optimiser.step()
        schedule.step()
        history.steps.append(start + step)
        history.losses.append(value)
        if step in wanted:
            history.snapshots[start + step] = _snapshot(model, snapshot_fn)
        if bar is not None and (step % 10 == 0 or step == steps):
            bar.set_postfix(loss=f"{history.losses[-1]:.3f}", refresh=False)
            bar.update(step - bar.n)
        if callback is not None and (step % callback_every == 0 or step == steps):
            callback(history)
    model.eval()
    history.seconds += time.perf_counter() - began
    if bar is not None:
        bar.close()
    release_freed_memory()
    return history


def _stop_diverged(
    history: History, step: int, loss: float, optimiser, callback, half: torch.dtype | None
) -> None:
    """Record the non-finite loss of ``step`` (no update made), show it, and warn; ``half``: the
    parameters' float16/bfloat16 dtype, if they have one (then the precision is the likely cause)."""
    history.steps.append(step)
    history.losses.append(loss)
    history.learning_rates.append(optimiser.param_groups[0]["lr"])
    if callback is not None:
        callback(history)
    # A 16-bit model diverges at any learning rate: small updates and squared gradients round
    # to 0 or overflow in 16 bits, and "a smaller learning rate" sent a learner astray.
    fix = (
        "train again with a smaller learning rate (lr)."
        if half is None
        else f"its parameters are {str(half).removeprefix('torch.')}, too coarse for small steps: "
        "train it in float32 (model.float()), and use torch.autocast for 16-bit speed."
    )
    warnings.warn(
        f"training stopped at step {step}: the loss is {loss} (diverged). The model keeps the "
        f"weights of the step before; {fix}",
        RuntimeWarning,
        stacklevel=3,
    )


def _check_adam_dtype(model: nn.Module) -> None:
    """Adam steps float16 weights to NaN at once, whatever the learning rate: its eps (1e-8) rounds
    to 0 in float16, so a weight with no gradient (an unseen token's row) gets 0/0, and a small
    gradient's square (1e-5² = 1e-10) rounds to 0 too: ±inf. bfloat16 holds them and trains."""
    if any(p.dtype == torch.float16 for p in model.parameters() if p.requires_grad):
        raise ValueError(
            "model must have float32 (or bfloat16) parameters for Adam, got float16: Adam's eps (1e-8) "
            "rounds to 0 in float16, and its first step writes NaN into the weights whatever the "
            "learning rate. Train it in float32 (model.float()), with torch.autocast for 16-bit speed"
        )


def _half_dtype(model: nn.Module) -> torch.dtype | None:
    """float16 or bfloat16 where the model's floating parameters hold one, else None."""
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    return next((d for d in (torch.float16, torch.bfloat16) if d in dtypes), None)


def _not_finite_message(name: str, model: nn.Module) -> str:
    """``_validate.overflow_message`` (NaN weights, or products that overflow), but for a 16-bit
    model its dtype named: a float16 model trained with its own Adam has NaN weights after one step
    whatever the learning rate, and "train with a smaller learning rate" sent a learner astray."""
    message = _validate.overflow_message(name, model)
    half = _half_dtype(model) if isinstance(model, nn.Module) else None
    if half is None:
        return message
    dtype = str(half).removeprefix("torch.")
    return (
        message.split(" Did its training diverge?")[0] + f" Its parameters are {dtype}, too coarse for "
        "training: 16-bit numbers overflow (float16 above 65,504) or round small updates to 0 (Adam's "
        "eps, 1e-8, is 0 in float16), whatever the learning rate. Train it in float32 (model.float()), "
        "with torch.autocast for 16-bit speed."
    )


def release_freed_memory() -> bool:
    """Hand the memory that training freed back to the system; True where it could.

    Every step allocates tensors of other sizes (a batch is cut to its longest story), and
    glibc keeps what they free inside the process for later, where no other process can use
    it. Asked once when a run is over, chapter 08's kernel holds 393 MiB after Run All
    instead of 403, chapter 09's 453 instead of 461 (400 once ``sample_stories`` and
    ``pronoun_readings`` ask too). On Linux this asks glibc to give back what is free
    (``malloc_trim``, a millisecond or two); elsewhere it does nothing.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process already runs on
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return False
    trim(0)
    return True


def _check_model(model: object) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"model must have parameters to train, got {type(model).__name__}, which has none")


def _check_optimiser(optimiser: object) -> None:
    """A function of (model, lr), not an optimiser class or one already made: those are the
    two ways PyTorch's own examples pass an optimiser around."""
    if isinstance(optimiser, type) and issubclass(optimiser, torch.optim.Optimizer):
        name = optimiser.__name__
        raise ValueError(
            f"optimiser must be a function of (model, lr) that makes one, got the class {name}: "
            f"pass lambda model, lr: torch.optim.{name}(model.parameters(), lr=lr)"
        )
    if isinstance(optimiser, torch.optim.Optimizer):
        raise ValueError(
            f"optimiser must be a function of (model, lr) that makes one, got an {type(optimiser).__name__} "
            "already made: train makes it, so that it holds the model's parameters at the learning rate lr"
        )
    _validate.function("optimiser", optimiser, "of (model, lr) returning a torch.optim.Optimizer")
    # called with two below: lambda model: … failed there, a TypeError naming neither
    _validate.takes(
        "optimiser", optimiser, 2, "two arguments, (model, lr), and return a torch.optim.Optimizer"
    )


def _check_gradients_reach(optimiser: torch.optim.Optimizer) -> None:
    """After the first backward: some parameter of the learner's optimiser has a gradient. One
    made from another model's parameters (a global ``model``, not its argument) trained nothing:
    the loss stayed where it was, step after step, without a word."""
    if not any(p.grad is not None for group in optimiser.param_groups for p in group["params"]):
        raise ValueError(
            "optimiser must return an optimiser of the parameters the loss depends on: the loss gave "
            "none of its parameters a gradient (did it use another model's, e.g. model.parameters() "
            "of a global model, rather than its argument's?)"
        )


def _check_snapshots(snapshot_steps: Iterable[int], snapshot_fn, steps: int) -> list[int]:
    """The steps sorted, each an int in [0, steps], with a function to call at them."""
    snapshot_steps = _validate.items("snapshot_steps", snapshot_steps, "a list of ints")
    bad = [
        s
        for s in snapshot_steps
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= s <= steps
    ]
    if bad:
        raise ValueError(f"snapshot_steps must be ints in [0, steps={steps}], got {bad}")
    if snapshot_steps and snapshot_fn is None:
        raise ValueError("snapshot_steps needs a snapshot_fn to call at those steps")
    if snapshot_fn is not None:
        _validate.takes("snapshot_fn", snapshot_fn, 1, "one argument, the model")
    return sorted({int(s) for s in snapshot_steps})


def _check_batch(batch: object) -> object:
    """batch_fn forgot to return: loss_fn would fail on None, naming its own argument."""
    if batch is None:
        raise ValueError("batch_fn must return a batch for loss_fn (e.g. a tensor of ids), got None")
    return batch


def _check_loss(loss: object) -> torch.Tensor:
    """What ``loss_fn`` returned must be one number that backward() can start from."""
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        got = f"shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(
            f"loss_fn must return a scalar tensor (one number, e.g. a .mean() over the batch), got {got}"
        )
    if loss.is_complex():  # backward needs a real number ("must be real number, not complex")
        raise ValueError(f"loss_fn must return a real loss, got dtype {loss.dtype} (take .abs() or .real?)")
    if not loss.requires_grad:
        raise ValueError(
            "loss_fn must return a loss computed from the model's weights (it has no gradient: "
            "was it computed under torch.no_grad(), detached, or rebuilt with torch.tensor?)"
        )
    return loss


def _snapshot(model: nn.Module, snapshot_fn: Callable[[nn.Module], object]) -> object:
    with evaluating(model):
        return snapshot_fn(model)


def _progress_bar(total: int, description: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=True)


# --- Sequence-to-sequence tasks (copy, reverse, sort) ---


def check_pad_id(pad_id: object) -> None:
    """An id: an int in int64's range (a larger one overflows when compared with the ids)."""
    pad_id = _validate.integer("pad_id", pad_id, low=0)
    if pad_id >= 2**63:
        raise ValueError(f"pad_id must be an id, below 2**63, got an int of {pad_id.bit_length()} bits")


def seq2seq_loss(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], *, pad_id: int = 0
) -> torch.Tensor:
    """Cross-entropy of next-token prediction with the shifted target.

    batch = (src (B, S), tgt (B, T)); the decoder reads ``tgt[:, :-1]`` and must predict
    ``tgt[:, 1:]``; padding positions do not count.
    """
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        raise ValueError(f"batch must be a pair (src (B, S), tgt (B, T)), got {type(batch).__name__}")
    src, tgt = batch
    _validate.takes("model", model, 2, "(src, trg_in), an encoder-decoder Transformer")
    _validate.tensor("tgt (batch[1])", tgt, ndim=2, floating=False)
    check_pad_id(pad_id)
    if tgt.shape[1] < 2:
        raise ValueError(
            f"tgt must hold at least 2 tokens per row (<bos> and one more), got shape {tuple(tgt.shape)}"
        )
    labels = tgt[:, 1:]  # (B, T-1)
    if not bool((labels != pad_id).any()):  # the mean over no label would be NaN
        raise ValueError(f"tgt has no token to predict: every label (tgt[:, 1:]) is the padding id {pad_id}")
    logits = model(src, tgt[:, :-1])  # (B, T-1, V)
    _check_logits(logits, labels.shape)
    if pad_id >= logits.shape[-1]:  # no label matches it: the padding was scored as tokens to predict
        raise ValueError(
            f"pad_id must be an id of the model's vocabulary, in [0, {logits.shape[-1]}), got {pad_id}"
        )
    _validate.ids_in_range("tgt (its labels tgt[:, 1:])", labels, logits.shape[-1])
    # One row per predicted position: (B·(T-1), V) scores against (B·(T-1),) labels.
    # .long(): int32 ids (which the model reads) as cross_entropy's labels; int64 ones as they are
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long(), ignore_index=pad_id
    )


def _check_logits(logits: object, labels: torch.Size) -> None:
    """What the model returned: one row of scores (B, T-1, V) per label (B, T-1)."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3 or logits.shape[:2] != labels:
        got = f"shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"model must return logits (B, T-1, V) = {(*labels, 'V')}, got {got}")


def split_batch_fn(split: SequenceSplit) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Indices → (src, tgt) of a ``SequenceSplit``, trimmed to the longest row in the batch."""
    if not isinstance(split, SequenceSplit):
        raise ValueError(f"split must be a SequenceSplit (e.g. task.train), got {type(split).__name__}")
    if len(split) == 0:  # else every batch would fail, asking for indices in [0, 0)
        raise ValueError(f"split must hold at least one row, got shape {tuple(split.src.shape)}")
    if split.src.dim() != 2:  # split[i]: its one row's tokens would be taken for rows
        raise ValueError(
            "split must be a split of rows (N, S), not one row (split[i]), got src of shape "
            f"{tuple(split.src.shape)}"
        )
    # The target's own length (<pad> is id 0): a hand-made split whose answers are longer than
    # their sources (n + 2 tokens, as copy, reverse and sort have) lost its <eos> to the cut.
    tgt_lengths = (split.tgt != 0).sum(dim=1)

    def batch_fn(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _validate.tensor("idx", idx, ndim=1, floating=False)
        _validate.index_dtype("idx", idx)  # uint8 would pick rows as a mask, not by index
        if len(idx) == 0:
            raise ValueError("idx must hold at least one row's index, got none")
        _validate.ids_in_range("idx", idx, len(split))
        n = int(split.lengths[idx].max())
        return split.src[idx, :n], split.tgt[idx, : max(n + 2, int(tgt_lengths[idx].max()))]

    return batch_fn
