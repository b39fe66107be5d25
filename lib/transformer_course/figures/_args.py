"""The argument checks figure functions share, built on ``_validate``: each raises
``ValueError("<name> must be …, got …")`` and otherwise returns the value, ready to draw.

Every figure checks its tensors first with ``values`` (a tensor of that many dimensions,
holding data, real numbers, at least one value), its words with ``labels`` and its
positions with ``positions``, so that a bad argument is named before plotly or torch
fails on it deep inside (a meta tensor, a complex one silently drawn as its real part,
an empty one blamed on the labels).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence, Set
from numbers import Integral

import numpy as np
import torch

from .. import _validate
from .base import label_list

# The most values a figure draws from one tensor: a 1024 × 1024 heatmap, a line of 2**20 points
# (a 10**5 × 10**5 matrix, an ``expand``ed view that holds one number, would take 40 GB to copy
# out and a browser could not draw it), and the most bars: one per word of a large vocabulary.
MAX_VALUES = 2**20
MAX_BARS = 2**16


def stored(name: str, x: object, *, ndim: int, most: int = MAX_VALUES) -> torch.Tensor:
    """A tensor of ``ndim`` dimensions with values to read: not a meta tensor (shape only),
    not empty (there would be nothing to draw), of at most ``most`` values."""
    _validate.stored(name, _validate.tensor(name, x, ndim=ndim))
    if x.numel() == 0:
        raise ValueError(f"{name} must hold at least one value, got shape {tuple(x.shape)}")
    if x.numel() > most:
        raise ValueError(
            f"{name} must hold at most {most:,} values to draw, got shape {tuple(x.shape)} "
            f"({x.numel():,} values): draw a slice of it"
        )
    return x


# A model converted with .half() or .bfloat16() hands its figures these: drawn from float32.
HALF = (torch.float16, torch.bfloat16)


def values(
    name: str,
    x: object,
    *,
    ndim: int,
    finite: bool = False,
    at_least: float | None = None,
    most: int = MAX_VALUES,
) -> torch.Tensor:
    """``stored``, of real numbers (a bool tensor, a mask?, or a complex one is refused; an
    integer one comes back as float), every one finite (and >= ``at_least``) when asked."""
    x = _validate.real_values(name, stored(name, x, ndim=ndim, most=most))
    if x.dtype in HALF:  # NumPy has no bfloat16 ("Got unsupported ScalarType BFloat16")
        x = x.float()
    if finite or at_least is not None:
        _validate.finite_tensor(name, x, at_least=at_least)
    return x


def probabilities(
    name: str, x: object, *, ndim: int, most: int = MAX_VALUES, note: str = "", distribution: bool = False
) -> torch.Tensor:
    """``values``, each a probability in [0, 1] (NaN refused): bars drawn on a fixed 0–1.12 axis,
    where counts or exp(logits) ran off its top without a word. ``distribution``: each row (the
    last dimension) is one distribution, so it sums to at most 1 (sigmoids summed to 2.4 and every
    bar still fitted). ``note``: what the caller passes there, e.g. " (a softmax of the logits)"."""
    x = values(name, x, ndim=ndim, at_least=0.0, most=most)
    read = x.detach().double()
    where = tuple(int(i) for i in (read == read.max()).nonzero()[0])
    if float(read[where]) > 1 + 1e-6:  # slack for rounding: a softmax's largest value may print as 1.0000001
        raise ValueError(
            f"{name} must be probabilities in [0, 1]{note}, got {float(read[where]):g} at {_at(where)}"
        )
    if distribution:
        sums = read.sum(-1)
        row = tuple(int(i) for i in (sums == sums.max()).nonzero()[0]) if sums.ndim else ()
        if float(sums[row]) > 1 + 1e-2:  # slack for a 16-bit softmax
            place = f" (row {_at(row)})" if row else ""
            raise ValueError(
                f"{name} must be a probability distribution{note}, summing to at most 1, "
                f"got a sum of {float(sums[row]):.4g}{place}"
            )
    return x


def _at(where: tuple[int, ...]) -> str:
    """A position as a reader writes it: 3 for (3,), (1, 2) for (1, 2)."""
    return str(where[0]) if len(where) == 1 else str(where)


def no_infinity(name: str, x: torch.Tensor, note: str = "") -> torch.Tensor:
    """A matrix with no ±inf (NaN is a gap): plotly draws an infinite cell as a gap too, and the
    reader takes it for a NaN. ``note`` says where such values belong."""
    infinite = torch.isinf(x.detach())
    if bool(infinite.any()):
        where = tuple(int(i) for i in infinite.nonzero()[0])
        raise ValueError(f"{name} must be finite or NaN (a gap), got {float(x[where]):g} at {where}{note}")
    return x


def largest(x: torch.Tensor) -> float:
    """The largest |value| among the finite ones (NaN and ±inf left out), 0.0 if there are none."""
    finite = x.detach()[torch.isfinite(x.detach())]
    return float(finite.abs().max()) if finite.numel() else 0.0


def labels(name: str, given: object, n: int) -> list[str]:
    """``n`` labels, one per row, column or bar; None is refused (for an argument without a
    default: pass the words)."""
    if given is None:
        raise ValueError(f"{name} must be a list of {n} labels, got None")
    return label_list(name, given, n)


def positions(name: str, given: object, n: int, *, one: str) -> list[int]:
    """A non-empty list (tuple, 1-D tensor or array) of indices in [0, n), each ``one`` (e.g.
    "a head"): not one int, not a str, not a float or a bool among them."""
    if isinstance(given, torch.Tensor) and given.is_meta:
        raise ValueError(f"{name} must hold data, got a meta tensor of shape {tuple(given.shape)}")
    if isinstance(given, torch.Tensor | np.ndarray) and given.ndim == 1:
        given = given.tolist()
    if (
        isinstance(given, str | bytes | Mapping | Set | torch.Tensor | np.ndarray)  # a set has no order
        or not isinstance(given, Iterable)
    ):
        raise ValueError(f"{name} must be a list of ints in [0, {n}), each {one}, got {given!r:.60}")
    picked = [index(f"{name}[{k}]", v, n, one) for k, v in enumerate(given)]
    if not picked:
        raise ValueError(f"{name} must name at least one int in [0, {n}) ({one}), got an empty list")
    return picked


def index(name: str, value: object, n: int, one: str) -> int:
    """An int in [0, n) (numpy's ints and one-element integer tensors too, never a bool or a
    float); ``one`` says what it picks, e.g. "a head"."""
    try:
        return position(name, value, n)
    except ValueError:  # the same test, said with what the index picks
        raise ValueError(f"{name} must be in [0, {n}): an int, {one}; got {value!r}") from None


def position(name: str, value: object, n: int) -> int:
    """``_validate.position``, with a meta tensor refused by name (its ``.item()`` fails in torch)."""
    if isinstance(value, torch.Tensor) and value.is_meta:
        raise ValueError(f"{name} must be a position in [0, {n}), got a meta tensor (no value)")
    return _validate.position(name, value, n)


def text(name: str, value: object) -> str:
    """A str to write on the figure (an axis title, a name): a number, a list or a tensor plotly
    would refuse deep inside, or write as something else."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a str, got {type(value).__name__} {_validate.shown(value):.60}")
    return value


MAX_HEIGHT = 4000  # pixels: a few screens, already more than any figure of the course needs


def height(value: object) -> float:
    """A figure's height in pixels, in [10, ``MAX_HEIGHT``] (10**30 would draw a giant figure)."""
    value = _validate.finite_number("height", value, at_least=10, note=" (pixels)")
    if value > MAX_HEIGHT:
        raise ValueError(f"height must be at most {MAX_HEIGHT} (pixels), got {value:g}")
    return value


def title(value: object) -> str | None:
    """A figure's title: a str, or None where the figure writes its own (``title or ...``, which
    a tensor or an array cannot answer)."""
    return value if value is None else text("title", value)


def as_numbers(given: object) -> np.ndarray | None:
    """``given`` as an array of floats, or None when it does not hold real numbers (words,
    bools, None, a complex or meta tensor)."""
    if isinstance(given, torch.Tensor):
        if given.is_meta:
            return None
        given = given.detach().cpu()
        given = (given.float() if given.dtype in HALF else given).numpy()
    if isinstance(given, str | bytes):
        return None
    try:
        array = np.asarray(given)
    except (TypeError, ValueError, RuntimeError):
        return None
    if array.dtype.kind not in "iuf" and not (array.dtype.kind == "O" and _all_real(array)):
        return None
    return array.astype(float)


def _all_real(array: np.ndarray) -> bool:
    """An object array (numbers of several types, 0-D tensors) whose entries are all real numbers."""
    return all(is_number(v) for v in array.ravel().tolist())


def numbers(name: str, given: object, *, finite: bool = False) -> np.ndarray:
    """A list (tuple, 1-D tensor or array) of real numbers, possibly empty; every one finite
    when asked (steps are; a loss that diverged may be NaN)."""
    count = given.numel() if isinstance(given, torch.Tensor) else getattr(given, "size", 0)
    if isinstance(count, int) and count > MAX_VALUES:  # an expanded view: 10**10 values to copy out
        raise ValueError(f"{name} must hold at most {MAX_VALUES:,} values to draw, got {count:,}")
    array = as_numbers(given)
    if array is None or array.ndim != 1:
        raise ValueError(f"{name} must be a list of numbers, got {given!r:.60}")
    if finite and not np.isfinite(array).all():
        raise ValueError(f"{name} must hold finite numbers, got {array[~np.isfinite(array)][0]:g}")
    return array


def value_range(name: str, given: object) -> list[float] | None:
    """None, or (low, high): two finite numbers, low < high."""
    if given is None:
        return None
    if isinstance(given, str | bytes) or not isinstance(given, Sequence) or len(given) != 2:
        raise ValueError(f"{name} must be None or a pair (low, high) of numbers, got {given!r:.60}")
    low = _validate.finite_number(f"{name}[0]", given[0])
    high = _validate.finite_number(f"{name}[1]", given[1])
    if not low < high:
        raise ValueError(f"{name} must be a pair (low, high) with low < high, got {tuple(given)!r}")
    return [low, high]


def colours(name: str, given: object, n: int) -> list[str] | None:
    """None, or ``n`` CSS colours, one per bar."""
    if given is None:
        return None
    given = _validate.strings(name, given, "CSS colours such as 'red'")
    if len(given) != n:
        raise ValueError(f"{name} must have {n} entries (one colour per bar), got {len(given)}")
    return given


# A d3 number format, as plotly reads one in a text or hover template: [[fill]align][sign]
# [symbol][0][width][,][.precision][~][type], e.g. ".2f", "+.2f", ".0%", ",d".
_D3_FORMAT = re.compile(r"(?:.?[<>=^])?[-+( ]?[$#]?0?\d*,?(?:\.\d+)?~?[efgrs%pbodxXcn]?")


def number_format(name: str, spec: object) -> str:
    """A d3 format for a number, such as ".2f" (an unknown type, ".2q", plotly would draw as
    something else)."""
    if not isinstance(spec, str) or not _D3_FORMAT.fullmatch(spec):
        raise ValueError(f"{name} must be a number format such as '.2f', '+.2f' or '.0%', got {spec!r}")
    return spec


def word_marks(name: str, given: object, n: int) -> dict[int, str]:
    """None or a dict {head: word} with heads in [0, n) and words as str."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ValueError(f'{name} must be a dict head → word, e.g. {{2: "A"}}, got {given!r:.60}')
    for head, word in given.items():
        if not (isinstance(head, Integral) and not isinstance(head, bool) and 0 <= head < n):
            raise ValueError(f"{name} must map heads in [0, {n}) to words, got head {head!r}")
        _validate.text(f"{name}[{head!r}]", word)
    return {int(head): word for head, word in given.items()}


def is_number(value: object) -> bool:
    """A real number that is not a bool (NaN included)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
