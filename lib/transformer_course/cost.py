"""What attention costs: time and memory of the explicit-weights path vs the fused path.

Every query meets every key, so the weights matrix of one head holds L × L numbers:
double the length, four times the work and four times the memory. The explicit path
(``need_weights=True``) stores that matrix; PyTorch's fused kernel
(``F.scaled_dot_product_attention``) computes the same output block by block and never
keeps it whole.

Memory is measured two ways (``measure_attention_cost(memory=...)``):

- ``"process"``: the real peak, scratch space inside kernels included. On a GPU, the
  peak of PyTorch's CUDA allocator. On Linux (glibc), the growth of the process's peak
  resident set size during the call, as ``bench/memory.py`` measures it, but in this
  process: ``mallopt`` first makes every allocation of 64 KiB or more a mapping of its own
  that goes back to the system when freed, and ``malloc_trim`` hands back the free pages
  malloc still holds (otherwise a call could reuse memory freed by earlier work without a
  new page, unseen); then the kernel's peak counter is reset (``/proc/self/clear_refs``)
  right before the call and read (``VmHWM``) right after. The ``mallopt`` setting stays
  for the rest of the process (a big tensor then always gets fresh pages: a little
  slower to allocate, nothing else changes).
- ``"tensors"``: a ``TorchFunctionMode`` sees every tensor a torch function hands back,
  adds its bytes while it lives, subtracts them once it is freed, and keeps the peak. It
  counts the tensors Python can see, not scratch space a kernel uses inside (so the
  fused path reads exactly as its output), and works everywhere. (A ``TorchDispatchMode``
  would see deeper, but its first use imports torch._dynamo, which costs seconds.)

``"auto"`` takes ``"process"`` where it can be measured, else ``"tensors"``.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import sys
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
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
    _validate.function("fn", fn, "of no arguments")
    _validate.takes("fn", fn, 0, "no arguments")  # a model wants its inputs: refused here, by name
    tracker = _PeakTensorMemory()
    with tracker:
        result = fn()
    return result, tracker.peak


MEMORY_METERS = ("auto", "process", "tensors")
_MMAP_THRESHOLD = 64 * 1024  # bytes; allocations from this size get a mapping of their own
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc's malloc.h)
_libc: ctypes.CDLL | None = None
_process_meter_ready: bool | None = None  # None: not tried yet


def _process_meter_available() -> bool:
    """Linux with glibc: set malloc up so that peak RSS tracks live memory (done once)."""
    global _process_meter_ready, _libc
    if _process_meter_ready is None:
        _process_meter_ready = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL("libc.so.6")
                if libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1:
                    _libc = libc
                    _reset_peak_rss()
                    _process_meter_ready = _peak_rss() > 0
            except (OSError, AttributeError, StopIteration, ValueError):
                pass
    return _process_meter_ready


def _give_back_free_memory() -> None:
    """Return the pages of memory malloc holds but nobody uses to the system.

    Without this, a call can reuse memory freed earlier (by this process's past work)
    without a single new page: its peak would not show in the process's RSS.
    """
    if _libc is not None:
        _libc.malloc_trim(0)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # 5: reset the peak resident set size to the current one


def _peak_rss() -> int:
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def process_peak_memory(fn: Callable[[], object], device: torch.device | str = "cpu") -> tuple[object, int]:
    """Run ``fn()`` and return (its result, the real peak bytes it added to the process).

    CUDA: the allocator's peak above what was allocated before the call. CPU on Linux:
    the growth of peak RSS (see the module's docstring). Elsewhere a ValueError says the
    meter is unavailable: use ``peak_memory``, which counts tensors.
    """
    _validate.function("fn", fn, "of no arguments")
    _validate.takes("fn", fn, 0, "no arguments")  # a model wants its inputs: refused here, by name
    _validate.device("device", device)
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        result = fn()
        torch.cuda.synchronize(device)
        return result, max(0, torch.cuda.max_memory_allocated(device) - before)
    if device.type != "cpu" or not _process_meter_available():
        raise ValueError(
            f"device {device} has no process memory meter here (it needs Linux with glibc, or CUDA); "
            "use peak_memory, which counts tensors"
        )
    _give_back_free_memory()
    _reset_peak_rss()
    before = _rss()
    result = fn()
    return result, max(0, _peak_rss() - before)


def _meter(memory: str, device: torch.device) -> str:
    """Which meter ``memory`` ("auto", "process", "tensors") means on ``device``."""
    if not isinstance(memory, str) or memory not in MEMORY_METERS:  # an array fails at `in`
        raise ValueError(f"memory must be one of {MEMORY_METERS}, got {memory!r}")
    can_measure = device.type == "cuda" or (device.type == "cpu" and _process_meter_available())
    if memory == "process" and not can_measure:
        raise ValueError(
            f"memory='process' needs Linux with glibc or a CUDA device, here ({sys.platform}, {device}) "
            "it cannot be measured; use memory='tensors'"
        )
    if memory == "auto":
        return "process" if can_measure else "tensors"
    return memory


MAX_REPEATS = 1000  # timed calls per length: more would run for hours at the longest lengths
MAX_THREADS = 1024  # torch.set_num_threads fails past int32, and no machine has more cores
METER_NOTES = {
    "process": "real peak of the process (kernels' scratch space included)",
    "tensors": "tensors the call hands back to Python (not a kernel's scratch space)",
}


@dataclass(frozen=True)
class AttentionCost:
    """Measurements for growing lengths; lists are aligned with ``lengths``."""

    lengths: list[int]  # sequence lengths measured (the last ones may be cut by the budget)
    explicit_ms: list[float]  # fastest of ``repeats`` calls, in ms, weights stored (need_weights=True)
    fused_ms: list[float]  # fastest of ``repeats`` calls, in ms, fused kernel (need_weights=False)
    explicit_bytes: list[int]  # peak bytes of one explicit call, measured by ``memory``'s meter
    fused_bytes: list[int]  # peak bytes of one fused call, measured by ``memory``'s meter
    num_heads: int
    d_head: int
    batch: int
    device: str
    memory: str = "tensors"  # the meter: "process" (real peak) or "tensors" (Python-visible)

    def __post_init__(self):
        # Checked when made, so that ``memory_note`` cannot fail later with a bare KeyError.
        if not isinstance(self.memory, str) or self.memory not in METER_NOTES:
            raise ValueError(f"memory must be one of {tuple(METER_NOTES)}, got {self.memory!r:.60}")
        for name in ("num_heads", "d_head", "batch"):  # the sizes weights_bytes multiplies
            _validate.positive_int(name, getattr(self, name))

    @property
    def memory_note(self) -> str:
        """What the memory numbers count, in words."""
        return METER_NOTES[self.memory]

    def weights_bytes(self, length: int) -> int:
        """Bytes of one float32 weights tensor (batch, heads, L, L): the part that grows as L²."""
        length = _validate.positive_int("length", length)
        return 4 * self.batch * self.num_heads * length * length

    def output_bytes(self, length: int) -> int:
        """Bytes of one float32 output (batch, heads, L, d_head): all the fused path must keep, ∝ L."""
        length = _validate.positive_int("length", length)
        return 4 * self.batch * self.num_heads * length * self.d_head


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
    memory: str = "auto",
) -> AttentionCost:
    """Time and peak memory of attention over q, k, v (batch, num_heads, L, d_head) per length.

    Lengths are measured in increasing order; once ``budget_s`` seconds have been spent,
    the remaining (longer) lengths are skipped, so a slow machine still answers in a few
    seconds. Each time is the fastest of ``repeats`` calls after one warm-up call (the
    fastest, not the mean: on a busy machine other programs only ever add time).
    On CPU, ``threads`` (default 1) caps torch's threads while measuring: with several
    threads, a machine busy with other work adds stalls larger than the attention
    itself. ``threads=None`` keeps torch's setting. The growth with L is the same.
    ``memory``: the meter, "process" (the real peak: CUDA's allocator, or RSS on Linux),
    "tensors" (tensors visible to Python) or "auto" (process where it can be measured).
    """
    lengths = sorted(_validate.positive_int("lengths", n) for n in _as_list("lengths", lengths, "ints"))
    if not lengths:
        raise ValueError("lengths must hold at least one positive int")
    for name, value in (("num_heads", num_heads), ("d_head", d_head), ("batch", batch), ("repeats", repeats)):
        _validate.positive_int(name, value)
    if repeats > MAX_REPEATS:  # each length is timed this many times, whatever budget_s says
        raise ValueError(f"repeats must be at most {MAX_REPEATS}, got {repeats:,}")
    # The explicit path's weights (batch, heads, L, L) at the longest L, and q, k, v, in float32:
    # checked before q, k, v are drawn (torch's own error would name no argument).
    biggest = int(batch) * int(num_heads) * lengths[-1] * (lengths[-1] + 4 * int(d_head))
    _validate.fits_in_memory("batch × num_heads × max(lengths) × (max(lengths) + 4 d_head)", biggest)
    _validate.finite_number("budget_s", budget_s, above=0, note=" (seconds)")
    _validate.device("device", device)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "meta":  # a meta tensor has a shape but no values: nothing runs, nothing to time
        raise ValueError(f"device must be one that computes, such as 'cpu' or 'cuda', got {str(device)!r}")
    if threads is not None:
        # torch overflows past MAX_THREADS
        threads = _validate.integer("threads", threads, low=1, high=MAX_THREADS + 1)
    seed = _validate.seed("seed", seed)  # an int: manual_seed refuses numpy's
    meter = _meter(memory, device)
    g = torch.Generator(device=device).manual_seed(seed)
    saved_threads = torch.get_num_threads()
    if threads is not None and device.type == "cpu":
        torch.set_num_threads(threads)
    try:
        done = _measure(lengths, num_heads, d_head, batch, repeats, budget_s, device, g, meter)
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
        memory=meter,
    )


def _measure(lengths, num_heads, d_head, batch, repeats, budget_s, device, g, meter) -> dict[str, list]:
    def peak_bytes(fn):
        return (process_peak_memory(fn, device) if meter == "process" else peak_memory(fn))[1]

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
            explicit(), fused()  # the first calls load kernels and grow caches: keep that out
            done["e_b"].append(peak_bytes(explicit))
            done["f_b"].append(peak_bytes(fused))
            done["e_ms"].append(_best_ms(explicit, repeats, device))
            done["f_ms"].append(_best_ms(fused, repeats, device))
        done["lengths"].append(length)
    return done


def growth_exponent(lengths: Sequence[int], values: Sequence[float]) -> float:
    """Slope of log(value) against log(length) between the two longest lengths: 2 means ∝ L²."""
    lengths, values = _as_list("lengths", lengths), _as_list("values", values)
    if len(lengths) < 2 or len(values) != len(lengths):
        raise ValueError("lengths and values must have the same size, at least 2")
    (l1, l2), (v1, v2) = lengths[-2:], values[-2:]
    for name, x in (("lengths", l1), ("lengths", l2), ("values", v1), ("values", v2)):
        _validate.finite_number(name, x, above=0)
    if l1 == l2:
        raise ValueError(f"lengths must end with two distinct lengths, got {l1} twice")
    return math.log(v2 / v1) / math.log(l2 / l1)


def _as_list(name: str, xs: object, what: str = "numbers") -> list:
    """A sequence of numbers as a list: a list, tuple, 1-D tensor or array, or any iterable
    (a generator too), but not a str or a dict (their items are characters or keys)."""
    if isinstance(xs, torch.Tensor):
        xs = _validate.tensor(name, xs, ndim=1).tolist()
    if isinstance(xs, Mapping):
        raise ValueError(f"{name} must be a list of positive {what}, got {type(xs).__name__}")
    return _validate.items(name, xs, f"a list of positive {what}")


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
