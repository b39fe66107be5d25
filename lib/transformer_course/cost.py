"""What attention costs: time and memory of the explicit-weights path vs the fused path.

Every query meets every key, so the weights matrix of one head holds L × L numbers:
double the length, four times the work and four times the memory. The explicit path
(``need_weights=True``) stores that matrix; PyTorch's fused kernel
(``F.scaled_dot_product_attention``) computes the same output block by block and never
keeps it whole.

Memory is measured without a profiler: a ``TorchFunctionMode`` sees every tensor a torch
function hands back, adds its bytes while it lives, subtracts them once it is freed,
and keeps the peak. It counts the tensors Python can see, not scratch space a kernel
uses inside, and works the same on CPU and CUDA. (A ``TorchDispatchMode`` would see
deeper, but its first use imports torch._dynamo, which costs seconds.)
"""

from __future__ import annotations

import functools
import math
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree

from . import _validate
from .attention import scaled_dot_product_attention


class _PeakTensorMemory(TorchFunctionMode):
    """Tracks the bytes of the tensors created while it is active; ``peak`` is the maximum."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage address → [bytes, tensors using it]
        self.current = 0
        self.peak = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in _pytree.tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key, size = storage.data_ptr(), storage.nbytes()
            if size == 0:
                continue
            if key in self.live:  # a view of memory already counted
                self.live[key][1] += 1
            else:
                self.live[key] = [size, 1]
                self.current += size
                self.peak = max(self.peak, self.current)
            weakref.finalize(t, self._release, key)
        return out

    def _release(self, key: int) -> None:
        # The memory is free once the last tensor seen using it is gone.
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= self.live.pop(key)[0]


def peak_memory(fn: Callable[[], object]) -> tuple[object, int]:
    """Run ``fn()`` and return (its result, the peak bytes of tensors it created)."""
    if not callable(fn):
        raise ValueError(f"fn must be a function of no arguments, got {type(fn).__name__}")
    tracker = _PeakTensorMemory()
    with tracker:
        result = fn()
    return result, tracker.peak


@dataclass(frozen=True)
class AttentionCost:
    """Measurements for growing lengths; lists are aligned with ``lengths``."""

    lengths: list[int]  # sequence lengths measured (the last ones may be cut by the budget)
    explicit_ms: list[float]  # fastest of ``repeats`` calls, in ms, weights stored (need_weights=True)
    fused_ms: list[float]  # fastest of ``repeats`` calls, in ms, fused kernel (need_weights=False)
    explicit_bytes: list[int]  # peak bytes of tensors created by one explicit call
    fused_bytes: list[int]  # peak bytes of tensors created by one fused call
    num_heads: int
    d_head: int
    batch: int
    device: str

    def weights_bytes(self, length: int) -> int:
        """Bytes of one float32 weights tensor (batch, heads, L, L): the part that grows as L²."""
        return 4 * self.batch * self.num_heads * length * length


def measure_attention_cost(
    lengths: Sequence[int] = (64, 128, 256, 512, 1024),
    *,
    num_heads: int = 4,
    d_head: int = 16,
    batch: int = 1,
    repeats: int = 3,
    budget_s: float = 3.0,
    threads: int | None = 1,
    device: torch.device | str | None = None,
    seed: int = 0,
) -> AttentionCost:
    """Time and peak memory of attention over q, k, v (batch, num_heads, L, d_head) per length.

    Lengths are measured in increasing order; once ``budget_s`` seconds have been spent,
    the remaining (longer) lengths are skipped, so a slow machine still answers in a few
    seconds. Each time is the fastest of ``repeats`` calls after one warm-up call (the
    fastest, not the mean: on a busy machine other programs only ever add time).
    On CPU, ``threads`` (default 1) caps torch's threads while measuring: with several
    threads, a machine busy with other work adds stalls larger than the attention
    itself. ``threads=None`` keeps torch's setting. The growth with L is the same.
    """
    lengths = sorted(lengths)
    if not lengths:
        raise ValueError("lengths must hold at least one positive int")
    for n in lengths:
        _validate.positive_int("lengths", n)
    for name, value in (("num_heads", num_heads), ("d_head", d_head), ("batch", batch), ("repeats", repeats)):
        _validate.positive_int(name, value)
    _validate.finite_number("budget_s", budget_s, above=0, note=" (seconds)")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if threads is not None:
        _validate.positive_int("threads", threads)
    g = torch.Generator(device=device).manual_seed(seed)
    saved_threads = torch.get_num_threads()
    if threads is not None and device.type == "cpu":
        torch.set_num_threads(threads)
    try:
        done = _measure(lengths, num_heads, d_head, batch, repeats, budget_s, device, g)
    finally:
        torch.set_num_threads(saved_threads)
    return AttentionCost(
        done["lengths"],
        done["e_ms"],
        done["f_ms"],
        done["e_b"],
        done["f_b"],
        num_heads=num_heads,
        d_head=d_head,
        batch=batch,
        device=str(device),
    )


def _measure(lengths, num_heads, d_head, batch, repeats, budget_s, device, g) -> dict[str, list]:
    done: dict[str, list] = {k: [] for k in ("lengths", "e_ms", "f_ms", "e_b", "f_b")}
    start = time.perf_counter()
    for length in lengths:
        if done["lengths"] and time.perf_counter() - start > budget_s:
            break
        q, k, v = (
            torch.randn(batch, num_heads, length, d_head, generator=g, device=device) for _ in range(3)
        )
        with torch.no_grad():
            explicit = functools.partial(scaled_dot_product_attention, q, k, v)
            fused = functools.partial(scaled_dot_product_attention, q, k, v, need_weights=False)
            done["e_b"].append(peak_memory(explicit)[1])
            done["f_b"].append(peak_memory(fused)[1])
            done["e_ms"].append(_best_ms(explicit, repeats, device))
            done["f_ms"].append(_best_ms(fused, repeats, device))
        done["lengths"].append(length)
    return done


def growth_exponent(lengths: Sequence[int], values: Sequence[float]) -> float:
    """Slope of log(value) against log(length) between the two longest lengths: 2 means ∝ L²."""
    if len(lengths) < 2 or len(values) != len(lengths):
        raise ValueError("lengths and values must have the same size, at least 2")
    (l1, l2), (v1, v2) = lengths[-2:], values[-2:]
    for name, x in (("lengths", l1), ("lengths", l2), ("values", v1), ("values", v2)):
        _validate.finite_number(name, x, above=0)
    if l1 == l2:
        raise ValueError(f"lengths must end with two distinct lengths, got {l1} twice")
    return math.log(v2 / v1) / math.log(l2 / l1)


def _best_ms(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1000)
    return min(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
