"""Benchmarks of the course: lib against PyTorch's own layers, and the course's own speed.

Run ``make bench`` (all) or ``make bench BENCH=attention,widgets`` (a subset); results go
to bench/RESULTS.md. Modules: attention (1), training (2), memory (3), course (4:
chapters and widgets); _common holds the timing helpers.
"""
