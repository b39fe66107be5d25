"""Shared timing helpers: alternate the contenders, keep every sample, report medians.

Every benchmark returns a list of ``Row``: one measured quantity, how it was measured,
and (when the issue sets one) its goal and whether the goal was met. ``bench.__main__``
turns the rows into the markdown table of bench/RESULTS.md.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field


@dataclass
class Row:
    """One line of the results table."""

    item: str  # what was measured, e.g. "lib fused / nn.MHA, L=512"
    value: str  # the headline figure, e.g. "0.58×" or "123 ms"
    spread: str = ""  # median (min–max) of the raw samples behind it
    goal: str = ""  # e.g. "≤ 0.65×"; empty when the issue sets none
    met: bool | None = None  # None: no goal, or not measurable here
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Section:
    """The rows of one benchmark plus the lines that explain how they were taken."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def compare(
    contenders: Mapping[str, Callable[[], object]], *, rounds: int = 15, warmup: int = 2
) -> dict[str, list[float]]:
    """Time each callable ``rounds`` times, alternating them, in seconds.

    Round r runs the contenders in an order rotated by r, so neither always goes first
    (a busy machine slows whole stretches of time: alternating spreads that over all).
    """
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            contenders[name]()
            samples[name].append(time.perf_counter() - start)
    return samples


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def spread_ms(xs: list[float]) -> str:
    """'12.3 ms (11.8–15.0)': median and min–max of the samples, in ms."""
    return f"{median(xs) * 1e3:.1f} ms ({min(xs) * 1e3:.1f}–{max(xs) * 1e3:.1f})"


def spread_s(xs: list[float]) -> str:
    return f"{median(xs):.2f} s ({min(xs):.2f}–{max(xs):.2f})"


def ratio_row(
    item: str, mine: list[float], theirs: list[float], *, goal: float | None = None, note: str = ""
) -> Row:
    """Row for the ratio mine / theirs: the median of the per-round ratios.

    Both lists come from the same ``compare`` call, so sample i of each was taken in the
    same round, moments apart: pairing them cancels most of a busy machine's slow
    stretches, which a ratio of the two medians would not. The details column gives both
    medians (min–max) and the ratio of medians.
    """
    ratio = median([a / b for a, b in zip(mine, theirs)])
    spread = (
        f"{spread_ms(mine)} vs {spread_ms(theirs)}; ratio of medians {median(mine) / median(theirs):.2f}×"
    )
    if goal is None:
        return Row(item, f"{ratio:.2f}×", spread, note=note)
    return Row(item, f"{ratio:.2f}×", spread, goal=f"≤ {goal:.2f}×", met=ratio <= goal, note=note)


def speedup_row(
    item: str, slow: list[float], fast: list[float], *, goal: float | None = None, note: str = ""
) -> Row:
    """Row for how many times faster ``fast`` is than ``slow``: the median of the per-round
    ratios slow / fast (paired as in ``ratio_row``); the goal, when given, is a minimum."""
    ratio = median([s / f for s, f in zip(slow, fast)])
    spread = f"{spread_ms(fast)} vs {spread_ms(slow)}; ratio of medians {median(slow) / median(fast):.2f}×"
    if goal is None:
        return Row(item, f"{ratio:.2f}×", spread, note=note)
    return Row(item, f"{ratio:.2f}×", spread, goal=f"≥ {goal:.2f}×", met=ratio >= goal, note=note)


def machine() -> dict[str, str]:
    """What the numbers were taken on: CPU, cores, torch threads, load."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "torch": torch.__version__,
        "torch threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
        "load average (1/5/15 min)": load,
    }
