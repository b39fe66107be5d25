"""Benchmark 3: peak memory of one attention forward, explicit weights vs fused kernel.

Each (length, path) runs in a fresh Python process, so no allocator cache or earlier
peak hides the cost. Measured: growth of the process's peak resident set size (RSS)
during the forward, i.e. peak RSS after the call minus RSS just before it. On Linux the
peak is reset right before the call (``/proc/self/clear_refs`` ← 5, then ``VmHWM``);
elsewhere ``ru_maxrss`` is used, which can only under-report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ._common import Row, Section

MiB = 1024 * 1024


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak() -> int:
    try:
        with open("/proc/self/status") as f:
            line = next(x for x in f if x.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(length: int, path: str, batch: int, d_model: int, heads: int) -> dict:
    """Runs inside the fresh process: one forward, returns the peak RSS growth in bytes."""
    import torch
    from transformer_course.attention import MultiHeadAttention

    torch.manual_seed(0)
    mha = MultiHeadAttention(d_model, heads).eval()
    x = torch.randn(batch, length, d_model)
    with torch.no_grad():
        mha(torch.randn(1, 4, d_model))  # load kernels outside the measurement
        reset = _reset_peak()
        before = _rss()
        out, weights = mha(x, need_weights=path == "explicit")
        peak = _peak()
    return {
        "growth": peak - before,
        "reset": reset,
        "out": tuple(out.shape),
        "weights": None if weights is None else tuple(weights.shape),
    }


def run(*, batch: int = 8, d_model: int = 256, heads: int = 8, lengths=(512, 1024, 2048)) -> Section:
    section = Section("memory", "3 · Peak memory of one attention forward (fresh process each)")
    section.notes.append(
        f"batch {batch}, d_model {d_model}, {heads} heads, float32, torch.no_grad(). Measured: growth "
        "of the process's peak resident set size (peak RSS, from /proc/self/status VmHWM after "
        "resetting it) during one lib MultiHeadAttention forward, each in a fresh subprocess. "
        "'weights tensor' is the size of the (B, h, L, L) matrix the explicit path returns."
    )
    for length in lengths:
        growth = {}
        for path in ("explicit", "fused"):
            code = (
                "import json, sys; from bench.memory import child; "
                f"print(json.dumps(child({length}, {path!r}, {batch}, {d_model}, {heads})))"
            )
            proc = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            )
            if proc.returncode:
                raise RuntimeError(f"memory child failed (L={length}, {path}):\n{proc.stderr[-2000:]}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            growth[path] = result["growth"]
        weights_mib = batch * heads * length * length * 4 / MiB
        explicit, fused = growth["explicit"] / MiB, growth["fused"] / MiB
        ratio = f"{explicit / fused:.0f}× more" if fused >= 1 else "—"
        section.rows.append(
            Row(
                f"peak RSS growth, L={length}: explicit vs fused",
                f"{explicit:.0f} MiB vs {fused:.1f} MiB",
                f"explicit/fused: {ratio}; weights tensor {weights_mib:.0f} MiB",
            )
        )
    return section
