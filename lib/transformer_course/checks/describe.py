"""Comparing a learner's answer with the reference, and saying in one sentence how it differs.

- ``same``: equal kind, shape and values within a tolerance (NaN equals NaN, so an overflow
  can be recognised as a known mistake);
- ``describe_difference``: what differs, in the learner's terms: the kind (a tuple where one
  tensor was expected, and which of its items is right), the shape, inf/NaN, or the entry
  that differs most. For a result made of parts, e.g. (output, weights), it names the part
  that differs and the parts that are right.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

RTOL = 1e-4  # relative tolerance of every comparison; the absolute one (atol) is per exercise


def same(got: object, want: object, atol: float = 1e-5) -> bool:
    """Equal shape and values within ``atol`` (NaN equals NaN, so overflow can be recognised)."""
    if isinstance(want, torch.Tensor):
        return (
            isinstance(got, torch.Tensor)
            and _ordinary(got, want)
            and got.shape == want.shape
            and _same_kind(got, want)
            and torch.allclose(_as_double(got), _as_double(want), atol=atol, rtol=RTOL, equal_nan=True)
        )
    if isinstance(want, tuple | list):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(want)
            and all(same(g, w, atol) for g, w in zip(got, want))
        )
    if isinstance(want, float):
        if not _is_number(got):
            return False
        # NaN equals NaN here too: a function that returns float("nan") twice has not drawn.
        value = _float(got)
        both_nan = math.isnan(value) and math.isnan(want)
        return both_nan or math.isclose(value, want, rel_tol=RTOL, abs_tol=atol)
    return not isinstance(got, torch.Tensor) and got == want


def _ordinary(got: torch.Tensor, want: torch.Tensor) -> bool:
    """A dense tensor that holds numbers (not sparse, not on the "meta" device, which has
    none), and real where the answer is: the comparisons below only read such tensors."""
    return (
        got.layout == torch.strided
        and not got.is_nested  # rows of different lengths: it has no shape to compare
        and not got.is_meta
        and (want.is_complex() or not got.is_complex())
    )


def _same_kind(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Where the answer is ids or counts (an integer tensor) or a mask (bool), the learner's
    must be too: 7.0 is not an id nn.Embedding takes, and a mask of 1.0/0.0 is not a mask
    masked_fill or PyTorch's attention reads as one. Any floating dtype may answer a float."""
    if want.dtype == torch.bool:
        return got.dtype == torch.bool
    if not (want.is_floating_point() or want.is_complex()):
        return not (got.is_floating_point() or got.is_complex() or got.dtype == torch.bool)
    return True


def describe_difference(
    got: object, want: object, atol: float = 1e-5, parts: Sequence[str] | None = None
) -> str:
    """One sentence saying how ``got`` differs from ``want``: kind, shape, inf/NaN, or where.

    parts: names of the items when ``want`` is a tuple, e.g. ("output", "weights").
    """
    if got is None and want is not None:
        return "your function returned None: is its `return` line missing?"
    return _describe(got, want, atol, parts)


def _describe(got: object, want: object, atol: float, parts: Sequence[str] | None = None) -> str:
    if isinstance(want, tuple | list):
        return _describe_sequence(got, want, atol, parts)
    if isinstance(want, float):
        if not _is_number(got):
            return f"expected a number, got {_kind(got)}"
        return f"expected {want:.6g}, got {_float(got):.6g}"
    if not isinstance(want, torch.Tensor):
        return f"expected {want!r}, got {got!r}"
    if isinstance(got, tuple | list):
        return _sequence_for_tensor(got, want, atol)
    if type(got).__name__ == "ndarray":
        return "expected a tensor, got a NumPy array: stay in torch (torch.from_numpy(…) turns it back)"
    if not isinstance(got, torch.Tensor):
        return f"expected a tensor, got {type(got).__name__}"
    if not _ordinary(got, want):
        return _unordinary(got)
    if got.shape != want.shape:
        return (
            f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
            f"{_axis_of_one(got.shape, want.shape)}{_last_two_swapped(got.shape, want.shape)}"
        )
    if want.is_floating_point() and got.dtype == torch.bool:
        return "your result holds True/False (torch.bool), not numbers: is it a mask rather than the answer?"
    if want.is_floating_point() and not (got.is_floating_point() or got.is_complex()):
        return (
            f"your result holds whole numbers ({got.dtype}), so every fraction is lost: keep it "
            "in floating point (torch.zeros(…) is float by default; .long() or .int() rounds)"
        )
    if not _same_kind(got, want):
        return _wrong_kind(got, want)
    low = _low_precision(got, want, atol)
    if low:
        return low
    got, want = _as_double(got), _as_double(want)
    if not torch.isfinite(got).all() and torch.isfinite(want).all():
        return "your result contains inf or NaN where the reference is finite"
    # Entries that ``same`` accepts (NaN against NaN included) count as no difference.
    close = torch.isclose(got, want, atol=atol, rtol=RTOL, equal_nan=True)
    diff = (got - want).abs().nan_to_num(nan=float("inf")).masked_fill(close, 0.0)
    if not got.dim():  # one number: an index () would say nothing
        return f"expected {float(want):.4f}, got {float(got):.4f} (a difference of {float(diff):.3g})"
    where = _unravel(int(diff.argmax()), diff.shape)
    return (
        f"largest difference {float(diff.max()):.3g} at index {where} "
        f"(expected {float(want[where]):.4f}, got {float(got[where]):.4f})"
    )


def _axis_of_one(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    """Advice when the shapes differ by one axis of size 1 only: a batch axis kept from the
    model's (1, t) input or an unsqueeze(0) copied from a module, or a squeeze too many."""
    got, want = tuple(got), tuple(want)
    for longer, shorter, extra in ((got, want, True), (want, got, False)):
        if len(longer) != len(shorter) + 1:
            continue
        for i, size in enumerate(longer):
            if size == 1 and longer[:i] + longer[i + 1 :] == shorter:
                if extra:
                    index = " (or [0])" if i == 0 else ""
                    return f": an extra axis of size 1 at dim={i}; drop it, .squeeze({i}){index}"
                return (
                    f": the axis of size 1 at dim={i} is missing (squeezed, or indexed away); "
                    f".unsqueeze({i}) puts it back"
                )
    return ""


def _last_two_swapped(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    """Advice when the shapes differ only by their last two axes swapped: a transposed result,
    or parameters taken in the other order (sinusoidal_encoding(d_model, length))."""
    got, want = tuple(got), tuple(want)
    if len(got) < 2 or got == want or got[:-2] + got[-2:][::-1] != want:
        return ""
    return (
        ": the last two axes are the other way round. Is it transposed (.T, or a product taken "
        "in the other order), or are the parameters in another order than the starter's?"
    )


def _low_precision(got: torch.Tensor, want: torch.Tensor, atol: float) -> str | None:
    """The right numbers, rounded to half precision: float16 or bfloat16 keep only 3 or 2
    significant digits, so the answer misses the tolerance of a float32 one."""
    if got.dtype not in (torch.float16, torch.bfloat16) or want.dtype in (torch.float16, torch.bfloat16):
        return None
    close = torch.allclose(_as_double(got), _as_double(want), atol=max(atol, 1e-2), rtol=1e-2, equal_nan=True)
    if not close:
        return None
    return (
        f"your result is in {got.dtype}, which keeps only 2 or 3 significant digits: the values "
        "are right to that precision, but compute in float32 (the inputs' dtype), without .half() "
        "or .bfloat16()"
    )


def _unordinary(got: torch.Tensor) -> str:
    if got.is_meta:
        return (
            "your result is on the 'meta' device, which holds shapes but no numbers: compute it "
            "on the inputs' device"
        )
    if got.is_nested:
        return (
            "expected an ordinary tensor, got a nested one (torch.nested): join the rows, torch.stack(rows)"
        )
    if got.layout != torch.strided:
        return f"expected an ordinary (dense) tensor, got a {got.layout} one: .to_dense() turns it back"
    return f"your result is complex ({got.dtype}): the answer is real, so keep it real"


def _wrong_kind(got: torch.Tensor, want: torch.Tensor) -> str:
    """An integer or bool answer given as another dtype, e.g. ids as floats."""
    values = _as_double(got)
    mask = want.dtype == torch.bool
    exact = bool(((values == 0) | (values == 1)).all()) if mask else bool((values == values.round()).all())
    right = exact and bool(torch.equal(values, _as_double(want)))
    if mask:
        return (
            f"expected a mask of True/False (torch.bool), got {got.dtype} "
            f"({'1/0 in the right places' if right else 'and not the right values either'}): build "
            "it with dtype=torch.bool, or compare, e.g. ids != pad_id"
        )
    return (
        f"expected whole numbers in an integer tensor ({want.dtype}), got {got.dtype} "
        f"({'the right values' if right else 'and not the right values either'}): ids and counts are "
        "integers; keep the input's dtype, or .long()"
    )


def _sequence_for_tensor(got: tuple | list, want: torch.Tensor, atol: float) -> str:
    """One tensor was expected and the learner returned several (usually an unpacked pair)."""
    kind = f"a {type(got).__name__} of {len(got)}"
    if not any(isinstance(item, torch.Tensor) for item in got):
        return (
            f"expected a tensor of shape {tuple(want.shape)}, got {kind}: turn it into one, torch.tensor(…)"
        )
    for i, item in enumerate(got):
        if same(item, want, atol):
            return f"expected one tensor, got {kind}; its item {i} is the right answer: return only that"
    shapes = ", ".join(_kind(item) for item in got)
    joined = _joined(got, want)
    if joined:
        return f"expected one tensor of shape {tuple(want.shape)}, got {kind} ({shapes}): {joined}"
    return (
        f"expected one tensor of shape {tuple(want.shape)}, got {kind} ({shapes}). A call that "
        "returns a pair, such as attention's (output, weights), must be unpacked: out, _ = …"
    )


def _joined(got: tuple | list, want: torch.Tensor) -> str | None:
    """How pieces of the same shape join into the answer's shape (rows to stack, heads to
    concatenate), or None."""
    if len(got) < 2 or not all(isinstance(t, torch.Tensor) and t.shape == got[0].shape for t in got):
        return None
    piece, n = tuple(got[0].shape), len(got)
    if (n, *piece) == tuple(want.shape):
        return "join the pieces into one, torch.stack(pieces)"
    if piece and (*piece[:-1], n * piece[-1]) == tuple(want.shape):
        return "join the pieces side by side, torch.cat(pieces, dim=-1)"
    return None


def _describe_sequence(got: object, want: tuple | list, atol: float, parts: Sequence[str] | None) -> str:
    kind = type(want).__name__
    names = f" ({', '.join(parts)})" if parts else ""

    def label(i: int) -> str:
        return f"the {parts[i]} (item {i})" if parts else f"item {i} of the {kind}"

    if isinstance(got, torch.Tensor):
        for i, w in enumerate(want):
            if same(got, w, atol):
                return (
                    f"expected a {kind} of {len(want)}{names}; you returned one tensor, which is "
                    f"{label(i)}: return all {len(want)}"
                )
    if not isinstance(got, tuple | list) or len(got) != len(want):
        size = f" of {len(got)}" if isinstance(got, tuple | list) else ""
        extra = ""
        if isinstance(got, tuple | list) and len(got) > len(want) and same(got[: len(want)], want, atol):
            extra = f": its first {len(want)} items are the right answer; return only those"
        return f"expected a {kind} of {len(want)}{names}, got {_a(type(got).__name__)}{size}{extra}"
    if len(want) == 2 and same(got[0], want[1], atol) and same(got[1], want[0], atol):
        order = f"({', '.join(parts)})" if parts else "the other way round"
        return f"your two items are in the wrong order: return {order}"
    wrong = [i for i in range(len(want)) if not same(got[i], want[i], atol)]
    right = [i for i in range(len(want)) if i not in wrong]
    first = wrong[0]
    sentence = f"{label(first)} differs: {_describe(got[first], want[first], atol)}"

    def labels(items: list[int]) -> str:  # "items 1 and 2 of the list", not each item's label in turn
        if parts or len(items) == 1:
            return " and ".join(label(i) for i in items)
        numbers = ", ".join(str(i) for i in items[:-1])
        return f"items {numbers} and {items[-1]} of the {kind}"

    if right:
        verb = "is" if len(right) == 1 else "are"
        return f"{sentence}; {labels(right)} {verb} right"
    others = wrong[1:]
    return f"{sentence}; {labels(others)} differ{'s' if len(others) == 1 else ''} too" if others else sentence


def _float(x: int | float) -> float:
    """A number as a float; an int too large for one (10**400) as ±inf, not an OverflowError."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def _a(noun: str) -> str:
    """The noun with its article: "a tuple", "an int"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _kind(x: object) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__


def _is_number(x: object) -> bool:
    """A real number: Python's, or NumPy's (np.float32(loss) is a number too); not a bool."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and type(x).__name__ != "bool_"


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index of entry ``flat`` of a row-major tensor of ``shape``. (torch.unravel_index
    would do, but its first call imports for about two seconds in the learner's notebook.)"""
    index = []
    for size in reversed(shape):
        flat, i = divmod(flat, size)
        index.append(i)
    return tuple(reversed(index))


def _as_double(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu().double()
