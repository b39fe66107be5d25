"""How colours look to each kind of eye, for the tests that ask two colours to stay apart
(tests/test_palette_contrast.py, tests/test_figures_package.py, tests/test_figures_round41.py):
one copy of the simulation matrices, so the tests cannot come to disagree on what a
colour-blind reader sees.

Machado, Oliveira & Fernandes (2009), severity 1: how linear RGB looks with each kind of
dichromacy; colours compared in CIELAB (ΔE76, D65 white).
"""

from __future__ import annotations

import re

import numpy as np

SIMULATIONS = {
    "typical": np.eye(3),
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
}


def rgb(colour: str) -> np.ndarray:
    """ "#RRGGBB", "rgb(r,g,b)" or a CSS name plotly's templates use → r, g, b in 0…255."""
    named = {"white": "#FFFFFF", "black": "#000000"}
    colour = named.get(colour, colour)
    if colour.startswith("#") and len(colour) == 7:
        return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)
    match = re.fullmatch(r"rgb\((\d+),\s*(\d+),\s*(\d+)\)", colour)
    if not match:
        raise ValueError(f"colour must be opaque #RRGGBB or rgb(r, g, b), got {colour!r}")
    return np.array([float(v) for v in match.groups()])


def linear(colour: str) -> np.ndarray:
    """``colour``'s linear RGB, each in 0…1 (sRGB's transfer function undone)."""
    c = rgb(colour) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(colour: str, vision: str) -> np.ndarray:
    """``colour`` in CIELAB as an eye of kind ``vision`` (a key of SIMULATIONS) sees it."""
    if vision not in SIMULATIONS:
        raise ValueError(f"vision must be one of {sorted(SIMULATIONS)}, got {vision!r}")
    seen = np.clip(np.asarray(SIMULATIONS[vision]) @ linear(colour), 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ seen
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def distance(a: str, b: str, vision: str = "typical") -> float:
    """How far apart two colours look to ``vision`` (ΔE76): 20 or more tells them apart."""
    return float(np.linalg.norm(lab(a, vision) - lab(b, vision)))
