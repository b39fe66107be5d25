"""Argument checks shared by every module: one clear ValueError naming the argument.

Learners call these functions with tensors they built by hand, so a wrong shape must
say which argument was wrong and what was expected, not fail deep inside a matmul.
Each check raises ``ValueError("<name> must be …, got …")`` and otherwise returns the
value, so a constructor can check and store in one line.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
from collections.abc import Callable, Iterable

import torch

try:
    import resource  # Unix only: the address-space limit (ulimit -v)
except ImportError:  # Windows
    resource = None


def tensor(
    name: str, x: object, *, ndim: int | tuple[int, ...] | None = None, floating: bool | None = None
) -> torch.Tensor:
    """Check that ``x`` is a tensor with ``ndim`` dimensions (one of, if a tuple)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    dense(name, x)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if x.dim() not in allowed:
            want = " or ".join(f"{n}-D" for n in allowed)
            raise ValueError(f"{name} must be {want}, got shape {tuple(x.shape)}")
    if floating is True and not x.is_floating_point():
        raise ValueError(f"{name} must hold floating-point numbers, got dtype {x.dtype}")
    if floating is False and (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool):
        raise ValueError(f"{name} must hold integer ids, got dtype {x.dtype}")
    return x


def dense(name: str, x: torch.Tensor) -> torch.Tensor:
    """A tensor of the ordinary layout: a sparse one (COO, CSR …) fails deep inside torch at the
    first reshape, mask or min ("reshape is not implemented for sparse tensors")."""
    if x.layout != torch.strided:
        raise ValueError(
            f"{name} must be a dense tensor (layout torch.strided), got {x.layout}: call {name}.to_dense()"
        )
    return x


def real_values(name: str, x: torch.Tensor) -> torch.Tensor:
    """A non-empty tensor of real numbers to draw: a bool one (a mask?) or a complex one is
    refused by name, an integer one comes back as float (a figure's colour scale needs it)."""
    if x.dtype == torch.bool or x.is_complex():
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} must hold at least one value, got shape {tuple(x.shape)}")
    return x if x.is_floating_point() else x.float()


def size(name: str, x: torch.Tensor, dim: int, expected: int, what: str) -> None:
    """Check one dimension of ``x``; ``what`` says where the expected size comes from."""
    if x.shape[dim] != expected:
        raise ValueError(
            f"{name} must have size {expected} in dimension {dim} ({what}), got shape {tuple(x.shape)}"
        )


def positive_int(name: str, value: object) -> int:
    """An int > 0 (numpy's ints too, as ``integer`` takes them; never a bool or a float)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {shown(value)}")
    return int(value)


def shown(value: object) -> str:
    """``value`` as a message quotes it: an int of thousands of digits by its size (repr refuses
    one of over 4,300 digits), a long repr cut short."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an int of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 200 else f"{text[:60]}… ({len(text)} characters)"


def integer(name: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """An int (numpy ints too, never a bool or a float) in [low, high) when the bounds are given."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and ((low is not None and value < low) or (high is not None and value >= high)):
        ok = False
    if not ok:
        where = {
            (False, False): "",
            (True, False): f" >= {low}",
            (False, True): f" < {high}",
            (True, True): f" in [{low}, {high})",
        }[low is not None, high is not None]
        raise ValueError(f"{name} must be an int{where}, got {shown(value)}")
    return int(value)


def seed(name: str, value: object) -> int:
    """A random seed: an int that torch's generators take, in [-2**63, 2**64) (a bigger one
    fails inside ``manual_seed`` with "Overflow when unpacking long long")."""
    return integer(name, value, low=-(2**63), high=2**64)


def index_dtype(name: str, ids: torch.Tensor) -> None:
    """Ids an embedding table can look up: int64 or int32 (nn.Embedding refuses uint8, int16 …)."""
    if ids.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"{name} must hold int64 (or int32) ids to look up, got dtype {ids.dtype}: "
            f"convert with {name}.long()"
        )


def device(name: str, value: object) -> None:
    """None, a torch.device, or a string torch reads as one ("cpu", "cuda", "cuda:0", "mps"),
    of a device this machine has: "cuda" on a machine without a GPU fails here, by name, not
    inside torch with "Torch not compiled with CUDA enabled"."""
    if value is None:
        return
    try:
        where = value if isinstance(value, torch.device) else torch.device(value)
    except (RuntimeError, TypeError, ValueError):  # ValueError: an index beyond int64 ("Overflow")
        raise ValueError(
            f'{name} must be None, a torch.device or a string such as "cpu" or "cuda", got {value!r}'
        ) from None
    if where.type in ("cpu", "meta"):
        return
    backend = {"mps": getattr(torch.backends, "mps", None)}.get(where.type, getattr(torch, where.type, None))
    available = getattr(backend, "is_available", None)
    count = getattr(backend, "device_count", None)
    if available is None or not available():
        raise ValueError(
            f"{name} must be a device this machine has: {where.type} is not available here, got {value!r}"
        )
    if where.index is not None and count is not None and where.index >= count():
        raise ValueError(
            f"{name} must be a device this machine has: {count()} {where.type} device(s) here, got {value!r}"
        )


def position(name: str, value: object, n: int) -> int:
    """An index into something of length ``n``: an int (or a one-element integer tensor) in [0, n)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value < n
    if not ok:
        raise ValueError(f"{name} must be a position in [0, {n}), got {shown(value)}")
    return int(value)


def finite_tensor(name: str, x: torch.Tensor, *, at_least: float | None = None) -> torch.Tensor:
    """Every value finite (and >= ``at_least`` when given); the message gives the first bad one."""
    values = x.detach()
    if values.is_complex():
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    values = values.double()
    bad = ~torch.isfinite(values)
    if at_least is not None:
        bad |= values < at_least
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0])
        want = "finite" + (f" and >= {at_least:g}" if at_least is not None else "")
        raise ValueError(f"{name} must be {want} everywhere, got {float(values[where]):g} at {where}")
    return x


def items(name: str, value: object, want: str) -> list:
    """``value`` as a list of its items (a list, a tuple, a 1-D tensor or array …). A str, something
    not iterable, or a 0-d tensor or array (they say they are iterable, then refuse to iterate) is
    refused as "``name`` must be ``want``"."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be {want}, got {type(value).__name__}")
    try:
        return list(value)
    except TypeError:
        raise ValueError(f"{name} must be {want}, got a 0-d {type(value).__name__}") from None


def finite_number(
    name: str,
    value: object,
    *,
    at_least: float | None = None,
    above: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
    note: str = "",
) -> float:
    """A real number, not NaN or ±inf (NaN fails no ``<`` test, so it must be caught here).

    ``finite_number("dropout", p, at_least=0, below=1)`` accepts [0, 1); ``note`` is added
    to the message, e.g. " (0 = greedy)".
    """
    real = isinstance(value, int | float) or isinstance(value, numbers.Real)  # the first test is fast
    try:
        ok = real and not isinstance(value, bool) and math.isfinite(value)
        if ok:
            ok = (at_least is None or value >= at_least) and (above is None or value > above)
            ok = ok and (at_most is None or value <= at_most) and (below is None or value < below)
            number = float(value)
    except OverflowError:  # an int beyond a float's range (10**400): math.isfinite cannot take it
        ok = False
    if not ok:
        where = _interval(at_least, above, below, at_most)
        raise ValueError(f"{name} must be a finite number{where}{note}, got {shown(value)}")
    return number


def _interval(at_least, above, below, at_most) -> str:
    """The bounds in words: " in [0, 1)", " > 0", " <= 2", or "" without bounds."""
    low = f"[{at_least:g}" if at_least is not None else f"({above:g}" if above is not None else None
    high = f"{at_most:g}]" if at_most is not None else f"{below:g})" if below is not None else None
    if low and high:
        return f" in {low}, {high}"
    if low:
        return f" >= {at_least:g}" if at_least is not None else f" > {above:g}"
    if high:
        return f" <= {at_most:g}" if at_most is not None else f" < {below:g}"
    return ""


def strings(name: str, values: object, what: str = "strings") -> list[str]:
    """A list (or any iterable) of str, but not one str: "abc" would silently become "a", "b", "c"."""
    if isinstance(values, str):
        raise ValueError(
            f"{name} must be a list of {what}, got one str (wrap it in a list: [{values[:20]!r}])"
        )
    if isinstance(values, torch.Tensor):  # numbers, and a 0-d one fails to iterate, naming nothing
        raise ValueError(f"{name} must be a list of {what}, got a tensor of shape {tuple(values.shape)}")
    if not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a list of {what}, got {type(values).__name__}")
    try:
        values = list(values)
    except TypeError:  # a 0-d numpy array says it is Iterable, then refuses to iterate
        raise ValueError(f"{name} must be a list of {what}, got {type(values).__name__}") from None
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise ValueError(f"{name}[{i}] must be a str, got {type(v).__name__} {v!r}")
    return values


def ids_in_range(name: str, ids: torch.Tensor, vocab_size: int) -> None:
    """Every id in [0, vocab_size): read from the tensor, so a meta one (no values) is refused.
    Ids that torch.func maps (``vmap``) cannot be read: they pass unchecked, as PyTorch's layers
    take them (``int(ids.min())`` failed inside torch, so per-example gradients could not be had)."""
    stored(name, ids)
    if torch.compiler.is_compiling():
        # The values cannot be read while tracing: the graph checks them when it runs (an
        # id out of range would otherwise fail inside the embedding, naming nothing).
        in_range = ((ids >= 0) & (ids < vocab_size)).all()
        torch._assert_async(in_range, f"{name} must hold ids in [0, {vocab_size})")
        return
    if mapped(ids):
        return
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(
            f"{name} must hold ids in [0, {vocab_size}), got values from {int(ids.min())} to {int(ids.max())}"
        )


# A private hook of torch.func, read defensively: a PyTorch without it has no such wrappers.
_WRAPPED = getattr(getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor", None)


def mapped(x: torch.Tensor) -> bool:
    """Whether torch.func maps or differentiates ``x`` (vmap, grad, jacrev …), or torch.compile
    traces it: its values cannot be read ("vmap: It looks like you're … calling .item()"; under
    ``torch.compile(fullgraph=True)`` reading one breaks the graph, and dynamo cannot call the
    functorch hook at all). About 0.1 µs."""
    if torch.compiler.is_compiling():
        return True
    return _WRAPPED is not None and _WRAPPED(x)


def _float_mask_hint(name: str, mask: torch.Tensor) -> str:
    """How a float mask converts, read from its values: an additive one (0 and -inf, PyTorch's
    attn_mask) with ``== 0``; one of 1 and 0 (torch.tril(torch.ones(L, L))) with ``.bool()``,
    where ``== 0`` would turn it inside out. Both where its values cannot be read or tell."""
    additive = f"a float mask of 0 and -inf, as PyTorch's attn_mask, converts with {name} == 0"
    ones = (
        f"a float mask of 1 (may attend) and 0, as torch.tril(torch.ones(L, L)), converts with {name}.bool()"
    )
    if mask.is_meta or mapped(mask) or mask.numel() == 0:
        return f"{additive}; {ones}"
    with torch.no_grad():
        zero_one = bool(((mask == 0) | (mask == 1)).all()) and bool((mask == 1).any())
        below_zero = bool((mask < 0).any())
    return ones if zero_one else additive if below_zero else f"{additive}; {ones}"


def bool_mask(name: str, mask: object) -> torch.Tensor:
    """A bool tensor, True = may attend (the course's one mask convention)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        # PyTorch's layers also take an additive float mask: say how to bring one over.
        hint = ""
        if isinstance(mask, torch.Tensor) and mask.is_floating_point():
            hint = f" ({_float_mask_hint(name, mask)})"
        raise ValueError(f"{name} must be a bool tensor (True = may attend), got {got}{hint}")
    return dense(name, mask)


def dim_index(name: str, dim: object, ndim: int) -> int:
    """A dimension of a tensor with ``ndim`` dimensions: an int in [-ndim, ndim)."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -ndim <= dim < ndim:
        raise ValueError(f"{name} must be an int in [{-ndim}, {ndim}) for a {ndim}-D tensor, got {dim!r}")
    return int(dim)


def broadcastable(name: str, shape: tuple[int, ...], other: str, other_shape: tuple[int, ...]) -> None:
    """Shapes that broadcast together (each dimension equal, or 1 in one of them)."""
    if not broadcasts(shape, other_shape):
        raise ValueError(
            f"{name} of shape {tuple(shape)} and {other} of shape {tuple(other_shape)} do not "
            "broadcast together: each dimension must be equal, or 1 in one of them"
        )


def broadcasts(shape: tuple[int, ...], other_shape: tuple[int, ...]) -> bool:
    """Whether two shapes broadcast, compared from the last dimension (as torch does).

    Written out because ``torch.broadcast_shapes`` costs ~30 µs a call, as much as a
    small attention layer's matmuls."""
    return all(a == b or a == 1 or b == 1 for a, b in zip(reversed(shape), reversed(other_shape)))


def same_device(name: str, x: torch.Tensor, device: torch.device, what: str) -> None:
    """``x`` lives where ``what`` lives (torch cannot mix CPU and GPU tensors in one operation)."""
    if x.device != device:
        raise ValueError(f"{name} is on {x.device}, {what} on {device}: {_device_fix(name, x, device, what)}")


def _device_fix(name: str, x: torch.Tensor, device: torch.device, what: str) -> str:
    """The remedy for ``same_device``: a move, unless one side is on the meta device (shapes, no
    values), where a move is a dead end: a meta tensor cannot be copied out ("Cannot copy out
    of meta tensor"), and a tensor moved to meta has no values left to compute with."""
    if x.is_meta:
        return f"a meta tensor holds no values to move; make {name} on {device} instead"
    if device.type == "meta":
        return (
            f"the meta device holds shapes only, no values to compute with; give {what} values on a "
            "real device first (a module: .to_empty(device='cpu'), then load_state_dict)"
        )
    return f"move it there with {name}.to({str(device)!r})"


def like(name: str, x: torch.Tensor, reference: torch.Tensor, what: str, *, fix: str = "") -> None:
    """``x`` has the device and dtype of ``reference`` (``what`` names it; ``fix`` adds a remedy)."""
    same_device(name, x, reference.device, what)
    if x.dtype != reference.dtype:
        raise ValueError(
            f"{name} must have dtype {reference.dtype}, the dtype of {what}; got {x.dtype} "
            f"(convert it with {name}.to({reference.dtype}){fix})"
        )


def like_weights(name: str, x: torch.Tensor, weight: torch.Tensor, *, norm: bool = False) -> None:
    """An input on the device and in the dtype of the layer's ``weight`` (float64 into a float32
    layer fails inside the matmul with an error that names neither). Under autocast on x's
    device, what autocast casts is taken as PyTorch's layers take it: a bfloat16 x into a float32
    layer is autocast's usual case (a layer's output fed on). ``norm``: the layer has a LayerNorm,
    which the CPU's autocast does not cast (see ``_autocast_casts``)."""
    if x.dtype != weight.dtype and _autocast_casts(x, weight, norm=norm):
        same_device(name, x, weight.device, "this layer's weights")
        return
    like(name, x, weight, "this layer's weights", fix=f", or the layer with .to({x.dtype})")


def _autocast_casts(x: torch.Tensor, weight: torch.Tensor, *, norm: bool = False) -> bool:
    """Whether autocast, on for x's device, runs the layer on x although their dtypes differ.
    Matmuls only (attention, nn.MultiheadAttention): autocast casts x and the weights to its
    dtype, whichever of float32, bfloat16 and float16 each is; never float64, which it leaves as
    it is (the matmul then fails inside torch: "expected m1 and m2 to have the same dtype").
    With a LayerNorm (``norm``): only a float32 layer on a half-precision x, as a LayerNorm takes
    a bfloat16 or float16 x with float32 weights; not a half-precision layer given another dtype
    (the CPU's autocast leaves layer_norm alone: "mixed dtype (CPU): expect parameter to have
    scalar type of Float"). A half-precision layer given its own dtype under the other half's
    autocast passes here: a LayerNorm alone takes it; ``norm_after_autocast`` refuses the layers
    whose attention adds autocast's dtype to it."""
    if not autocast_on(x) or torch.float64 in (x.dtype, weight.dtype):
        return False
    return not norm or (weight.dtype == torch.float32 and x.dtype in _HALVES)


_HALVES = (torch.bfloat16, torch.float16)


def norm_after_autocast(x: torch.Tensor, weight: torch.Tensor, what: str = "this layer's weights") -> None:
    """A layer whose sublayers' matmuls feed its LayerNorms (``weight``: one of them), under the
    CPU's autocast in the other half precision: refused by name, as PyTorch's layer fails there
    inside torch. x + the attention's output (float16 + bfloat16) is float32, and the CPU's
    autocast leaves layer_norm alone: "mixed dtype (CPU): expect parameter to have scalar type of
    Float". The same dtype for both, or float32 weights, run. CUDA's autocast runs layer_norm in
    float32, so only the CPU is refused. One dtype test on float32 weights, the usual path."""
    if weight.dtype not in _HALVES or x.device.type != "cpu" or not autocast_on(x):
        return
    runs = torch.get_autocast_dtype("cpu")
    if runs in _HALVES and runs != weight.dtype:
        raise ValueError(
            f"{what} are {weight.dtype} but autocast runs in {runs}: on the CPU a LayerNorm cannot "
            f"take the float32 that adding the two makes (x + the attention's output); use "
            f'torch.autocast("cpu", dtype={weight.dtype}), or convert the layer (or the model) '
            f"with .to({runs}) or .float()"
        )


def autocast_on(x: torch.Tensor) -> bool:
    """Whether autocast is on for x's device (False on one it does not know, such as meta)."""
    try:
        return torch.is_autocast_enabled(x.device.type)
    except RuntimeError:  # "unknown device type for autocast"
        return False


def function(name: str, fn: object, what: str) -> None:
    """A callable; ``what`` says what it is called with and returns."""
    if not callable(fn):
        raise ValueError(f"{name} must be a function {what}, got {type(fn).__name__}")


def float_dtype(name: str, dtype: object) -> torch.dtype:
    """A floating-point torch dtype (float16, bfloat16, float32, float64)."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point torch dtype such as torch.float32, got {dtype!r}")
    return dtype


def dropout(p: object, name: str = "dropout") -> float:
    """A dropout probability: in [0, 1) (1 would zero everything and divide by 0)."""
    return finite_number(name, p, at_least=0, below=1)


def boolean(name: str, value: object) -> bool:
    """True or False (a string such as "no" is truthy and would silently mean True)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {shown(value)}")
    return value


def module_device(name: str, model: object) -> torch.device:
    """The device of a module's weights (it must have some)."""
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"{name} must be an nn.Module, got {type(model).__name__}")
    weight = next(model.parameters(), None)
    if weight is None:
        raise ValueError(f"{name} must have parameters (weights), got {type(model).__name__}, which has none")
    return weight.device


def weights_device(name: str, model: object) -> torch.device:
    """The device of a module's weights, which must hold values: a model made on the meta device
    (shapes only) fails later inside torch, on the inputs moved there ("must hold data") or at
    its first ``.item()`` ("Cannot copy out of meta tensor")."""
    device = module_device(name, model)
    if device.type == "meta":
        got = type(model).__name__
        raise ValueError(f"{name} must hold weights to compute with, got a {got} on the meta device")
    return device


def nonfinite_weight(model: torch.nn.Module) -> str | None:
    """The name of the first floating weight of ``model`` holding NaN or infinity; None if none
    does (a meta weight holds no values to check). One sum per tensor, then an exact look only at
    a tensor whose sum is not finite: 0.5 ms for an 800k-weight model, an isfinite per tensor 7 ms."""
    params = [(n, p) for n, p in model.named_parameters() if p.is_floating_point() and not p.is_meta]
    if not params:
        return None
    sums = torch.stack([p.detach().sum(dtype=torch.float32).cpu() for _, p in params])
    suspects = (~torch.isfinite(sums)).nonzero().flatten().tolist()  # a sum may overflow from finite ones
    return next(
        (params[i][0] for i in suspects if not bool(torch.isfinite(params[i][1].detach()).all())), None
    )


def largest_weight(model: torch.nn.Module) -> tuple[str, float] | None:
    """(name, its largest |value|) of the floating weight of ``model`` that holds the largest
    number; None for a model without values."""
    params = [(n, p) for n, p in model.named_parameters() if p.is_floating_point() and not p.is_meta]
    if not params:
        return None
    tops = [float(p.detach().abs().max()) if p.numel() else 0.0 for _, p in params]
    i = max(range(len(tops)), key=tops.__getitem__)
    return params[i][0], tops[i]


def finite_weights(name: str, model: object) -> None:
    """A ValueError naming ``name`` (the caller's model) where a weight holds NaN or infinity: every
    number it computes is NaN, which a check further in would blame on an argument the caller never
    passed (``logits``), or a result would hold as if it were real."""
    if not isinstance(model, torch.nn.Module):
        return
    bad = nonfinite_weight(model)
    if bad is not None:
        raise ValueError(
            f"{name}'s weights hold NaN or inf: the first is {name}.{bad}, so everything it computes is "
            "NaN. Did its training diverge? Train a fresh one with a smaller learning rate, or load "
            "weights saved before it diverged."
        )


def overflow_message(name: str, model: torch.nn.Module) -> str:
    """What to say where ``model``'s outputs came out NaN or infinite: its weights hold NaN, or
    they are finite but so large that its products overflow."""
    bad = nonfinite_weight(model)
    if bad is not None:
        return (
            f"{name}'s weights hold NaN or inf: the first is {name}.{bad}, so everything it computes is "
            "NaN. Did its training diverge? Train a fresh one with a smaller learning rate."
        )
    top = largest_weight(model)
    where = f" (the largest: {name}.{top[0]}, {top[1]:.3g})" if top else ""
    return (
        f"{name}'s outputs are not finite: its weights are too large{where}, so its products overflow "
        "to inf and NaN. Did its training diverge? Train a fresh one with a smaller learning rate."
    )


def int_between(name: str, value: object, low: int, high: int, *, step: int = 1) -> int:
    """An int (numpy's too, never a bool or a float) in [low, high], both ends included, on the
    steps of a slider from ``low``: where an explorer's slider starts (ipywidgets would clamp
    1000 to the end, or round 7 on a step-2 slider, without a word)."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or not low <= value <= high or (value - low) % step:
        kind = "an even int" if step == 2 and low % 2 == 0 else "an int"
        steps = f" in steps of {step} from {low}" if step > 1 and kind == "an int" else ""
        raise ValueError(f"{name} must be {kind} in [{low}, {high}]{steps}, got {shown(value)}")
    return int(value)


def text(name: str, value: object) -> str:
    """A str (an int or None in a text box fails inside ipywidgets with a TraitError on 'value')."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a str, got {type(value).__name__}")
    return value


def instance(name: str, value: object, kind: type, what: str = "") -> object:
    """An instance of ``kind``; ``what`` names what it is for, e.g. " (one head, with w_q)"."""
    if not isinstance(value, kind):
        raise ValueError(f"{name} must be a {kind.__name__}{what}, got {type(value).__name__}")
    return value


def stored(name: str, x: torch.Tensor) -> torch.Tensor:
    """A tensor whose values can be read: a meta tensor (a shape without data) would fail
    inside torch at the first ``.item()`` with "cannot be called on meta tensors"."""
    dense(name, x)
    if x.is_meta:
        raise ValueError(f"{name} must hold data, got a meta tensor of shape {tuple(x.shape)}")
    return x


def _read_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


# Read once: a machine's memory does not change, and torch.compile(fullgraph=True) cannot trace
# os.sysconf (a mask's check of its size broke the graph of every model).
_MEMORY_BYTES = _read_memory_bytes()

# Where Linux says what is left (names, so that tests can point them at files of their own).
_MEMINFO = "/proc/meminfo"
_SELF_CGROUP = "/proc/self/cgroup"
_SELF_STATUS = "/proc/self/status"
_CGROUP_ROOT = "/sys/fs/cgroup"
# A size under this is taken without reading anything: a layer checks its sizes at every call,
# and a quarter GiB is far below what any machine has left: reading costs ~0.1 ms, filling it ~50.
_READ_FROM = 2**28
# cgroup v2 and v1's memory controller: the limit, the usage, the page cache the kernel can drop.
_V2_FILES = ("memory.max", "memory.current", "inactive_file")
_V1_FILES = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")


def memory_bytes() -> int:
    """This machine's memory in bytes (0 where the system does not say)."""
    return _MEMORY_BYTES


def fits_in_memory(sizes: str, numel: int, *, bytes_each: int = 4) -> None:
    """Refuse, before torch tries, a tensor of ``numel`` values that this process cannot get:
    torch's own error names no argument ("DefaultCPUAllocator: can't allocate memory"), or a
    size under the machine's total but over what is left fills the machine, which swaps until it
    stops answering (AddNorm(2**31): 16 GiB of a shared 23.5 GiB). ``sizes`` names the arguments
    that set the size, e.g. "vocab_size × d_model"."""
    need = numel * bytes_each
    if need < _READ_FROM:
        return
    total = memory_bytes() or None
    # A file read cannot be traced: while compiling, the total alone decides (as it always did).
    free = total if torch.compiler.is_compiling() else _available_bytes(total)
    if free is not None and need > free:
        # Beyond a float's range, "{:,}" of thousands of digits fails: said as a power of two.
        count = (
            f"{numel:,} values ({need / 2**30:,.1f} GiB)"
            if need < 2**1000
            else f"over 2**{numel.bit_length() - 1} values"
        )
        have = f"{free / 2**30:.1f} GiB"
        if free != total:
            have += " available now" + (f", of {total / 2**30:.1f} GiB" if total else "")
        raise ValueError(f"{sizes} must be smaller: {count} do not fit in this machine's memory ({have})")


def _available_bytes(total: int | None) -> int | None:
    """What this process can allocate now: the least of the machine's ``total``, MemAvailable,
    the room each of its cgroups leaves and its address-space limit (RLIMIT_AS). A reading
    that fails is left out (macOS has none of them: the total decides); None if none is known."""
    readings = [total, _meminfo_available(), *_cgroup_rooms(total), _address_space_left()]
    known = [r for r in readings if r is not None]
    return min(known) if known else None


def _meminfo_available() -> int | None:
    """MemAvailable in /proc/meminfo: what can be allocated without swapping, page cache included."""
    return _field_bytes(_MEMINFO, "MemAvailable:", 1024)


def _field_bytes(path: str, key: str, unit: int) -> int | None:
    """The number after ``key`` on its line of the file at ``path``, times ``unit``; None if unread."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * unit
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_rooms(total: int | None) -> list[int]:
    """The room each cgroup of this process leaves, its own and each parent's (a parent's limit
    holds for all its children): the limit less the usage, the inactive page cache given back
    (the kernel drops it before it refuses memory; the kubelet counts a working set so). A
    limit of at least the machine's ``total`` limits nothing: its usage is not read."""
    rooms = []
    for directory, (limit_file, usage_file, cache_key) in _cgroup_dirs():
        try:
            with open(os.path.join(directory, limit_file)) as f:
                limit = f.read().strip()
            if limit == "max" or (total and int(limit) >= total):  # v1 says "none" with 2**63 - 4096
                continue
            with open(os.path.join(directory, usage_file)) as f:
                usage = int(f.read())
        except (OSError, ValueError):
            continue  # not there (a host path inside a container) or unreadable
        cache = _field_bytes(os.path.join(directory, "memory.stat"), cache_key + " ", 1) or 0
        rooms.append(max(0, int(limit) - max(0, usage - cache)))
    return rooms


def _cgroup_dirs() -> list[tuple[str, tuple[str, str, str]]]:
    """(directory, its files) of this process's memory cgroups from /proc/self/cgroup: v2's line
    "0::/path", v1's "N:memory:/path" (under memory/), each followed by its parents up to the root."""
    try:
        with open(_SELF_CGROUP) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "" and line.startswith("0:"):
            base, files = _CGROUP_ROOT, _V2_FILES
        elif "memory" in controllers.split(","):
            base, files = os.path.join(_CGROUP_ROOT, "memory"), _V1_FILES
        else:
            continue
        parts = [p for p in path.split("/") if p]
        found += [(os.path.join(base, *parts[:depth]), files) for depth in range(len(parts), -1, -1)]
    return found


def _address_space_left() -> int | None:
    """RLIMIT_AS (ulimit -v) less the address space this process already maps; None unlimited."""
    if resource is None:
        return None
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        return None
    mapped = _field_bytes(_SELF_STATUS, "VmSize:", 1024)
    return None if mapped is None else max(0, limit - mapped)


def takes(name: str, model: object, args: int, what: str) -> None:
    """A callable (a model) that can be called with ``args`` positional arguments, as ``what``
    says, e.g. "(src, trg_in), an encoder-decoder Transformer": a decoder-only model given to
    a function that feeds a source and a target fails inside torch's ``_call_impl``."""
    function(name, model, what)
    forward = model.forward if isinstance(model, torch.nn.Module) else model
    try:
        inspect.signature(forward).bind(*range(args))
    except TypeError:
        raise ValueError(f"{name} must take {what}, got {type(model).__name__}") from None
    except ValueError:  # a builtin without a signature: let the call decide
        return


def model_call(name: str, model: Callable, *args: object, what: str) -> object:
    """``model(*args)``, where an error from inside torch (a module built for other inputs, an
    nn.Linear given ids: "mat1 and mat2 must have the same dtype") is refused naming ``name``
    and saying it must be ``what``. Out-of-memory and NotImplementedError pass as they are."""
    try:
        return model(*args)
    except RuntimeError as error:
        if isinstance(error, torch.OutOfMemoryError | NotImplementedError):
            raise
        shapes = ", ".join(str(tuple(a.shape)) for a in args if isinstance(a, torch.Tensor))
        raise ValueError(f"{name} must be {what}; called on ({shapes}) it failed: {error}") from error


def version_counter(p: torch.Tensor) -> int:
    """``p``'s version counter, which every in-place write bumps (an optimiser's step); 0 for a
    tensor made under ``torch.inference_mode()``, which keeps none (reading it raised "Inference
    tensors do not track version counter") and which nothing can write in place."""
    return 0 if p.is_inference() else p._version
