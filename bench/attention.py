"""Benchmark 1: lib ``MultiHeadAttention`` forward vs ``nn.MultiheadAttention``.

Both modules hold the same weights (``load_from_torch``), run in eval mode under
``torch.no_grad()`` on the same input, alternating. The baseline is
``nn.MultiheadAttention`` called as people usually call it: ``mha(x, x, x)``, which
returns the head-averaged weights (``need_weights=True`` is its default). Two
like-for-like ratios are given too, without a goal: the fused path against
``nn.MultiheadAttention(..., need_weights=False)``, and the teaching path against
``average_attn_weights=False`` (per-head weights, as lib returns).
"""

from __future__ import annotations

import torch
from torch import nn
from transformer_course.attention import MultiHeadAttention

from ._common import Section, compare, ratio_row

GOAL_LENGTH = 512
GOAL_FUSED = 0.65  # lib need_weights=False vs nn.MultiheadAttention
GOAL_WEIGHTS = 1.9  # lib need_weights=True vs nn.MultiheadAttention


def measure(batch: int, d_model: int, heads: int, length: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per forward of each contender, alternating, same weights and input."""
    torch.manual_seed(0)
    x = torch.randn(batch, length, d_model)
    ref = nn.MultiheadAttention(d_model, heads, batch_first=True).eval()
    lib = MultiHeadAttention(d_model, heads).eval().load_from_torch(ref)
    with torch.no_grad():
        return compare(
            {
                "lib_weights": lambda: lib(x),
                "lib_fused": lambda: lib(x, need_weights=False),
                "torch_default": lambda: ref(x, x, x),
                "torch_no_weights": lambda: ref(x, x, x, need_weights=False),
                "torch_per_head": lambda: ref(x, x, x, average_attn_weights=False),
            },
            rounds=rounds,
        )


def run(
    *, batch: int = 8, d_model: int = 256, heads: int = 8, lengths=(128, 512), rounds: int = 15
) -> Section:
    section = Section("attention", "1 · Multi-head attention forward: lib vs nn.MultiheadAttention")
    section.notes.append(
        f"batch {batch}, d_model {d_model}, {heads} heads, float32, eval mode, torch.no_grad(); "
        f"{rounds} rounds per length, each timing every contender once, moments apart. "
        "Baseline 'nn.MHA' = nn.MultiheadAttention called with its defaults (need_weights=True, "
        "head-averaged weights). Ratio = median over rounds of lib / PyTorch. "
        "Details: median (min–max) of lib vs of PyTorch, then the ratio of the medians."
    )
    for length in lengths:
        t = measure(batch, d_model, heads, length, rounds)
        goal = length == GOAL_LENGTH
        section.rows += [
            ratio_row(
                f"fused path (need_weights=False) / nn.MHA, L={length}",
                t["lib_fused"],
                t["torch_default"],
                goal=GOAL_FUSED if goal else None,
            ),
            ratio_row(
                f"with weights (teaching path) / nn.MHA, L={length}",
                t["lib_weights"],
                t["torch_default"],
                goal=GOAL_WEIGHTS if goal else None,
            ),
            ratio_row(
                f"like for like: fused / nn.MHA need_weights=False, L={length}",
                t["lib_fused"],
                t["torch_no_weights"],
            ),
            ratio_row(
                f"like for like: with weights / nn.MHA per-head weights, L={length}",
                t["lib_weights"],
                t["torch_per_head"],
            ),
        ]
    return section
