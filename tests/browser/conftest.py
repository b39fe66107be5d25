"""Fixtures for the browser suite: one JupyterLab, a report (Chromium: ``browser``, in tests/conftest.py).

Skipped when /usr/bin/chromium (or $TC_CHROMIUM) is missing; TC_REQUIRE_BROWSER=1 turns
that skip into a failure (CI sets it).
"""

from __future__ import annotations

import json
import os
import statistics

import pytest

from .lab import BUILD, start_lab


@pytest.fixture(scope="session")
def lab(browser):
    server = start_lab(BUILD / "browser-lab")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def latency():
    """Collects timings per chapter; written to build/browser-latency.json at the end."""
    report: dict[str, dict] = {}
    yield report
    if not report:
        return
    samples = [ms for r in report.values() for ms in r.get("control_to_repaint_ms", [])]
    summary = {
        "chapters": report,
        "median_control_to_repaint_ms": round(statistics.median(samples), 1) if samples else None,
        "max_run_all_to_first_plotly_figure_s": max(
            (
                r["run_all_to_first_plotly_figure_s"]
                for r in report.values()
                if r.get("run_all_to_first_plotly_figure_s") is not None
            ),
            default=None,
        ),
        "max_run_all_to_first_live_figure_s": max(
            (
                r["run_all_to_first_live_figure_s"]
                for r in report.values()
                if r.get("run_all_to_first_live_figure_s") is not None
            ),
            default=None,
        ),
        "median_control_to_repaint_ms_per_chapter": {
            name: r.get("median_control_to_repaint_ms") for name, r in report.items()
        },
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "goals": {
            "run_all_to_first_figure_s": 5.0,
            "median_control_to_repaint_ms": 100.0,
            "median_control_to_repaint_ms_per_chapter": 100.0,
        },
    }
    BUILD.mkdir(exist_ok=True)
    (BUILD / "browser-latency.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nbrowser latency written to {BUILD / 'browser-latency.json'}")
