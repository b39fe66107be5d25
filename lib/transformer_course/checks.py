"""Exercise checkers: run a learner's function against the reference and name the mistake.

Contract for every "your turn" cell:
- the starter code raises ``NotImplementedError``; the checker then reports
  "not attempted yet" and does not raise, so an untouched notebook still runs top to bottom;
- a wrong answer gets a precise hint when the output matches a known mistake
  (``Mistake``), otherwise the first input where it differs and by how much;
- the checker returns a ``Result`` (shown as a coloured box); the worked solution's cell
  asserts ``result.passed``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

PASSED, NOT_ATTEMPTED, WRONG, ERROR = "passed", "not attempted", "wrong", "error"


@dataclass(frozen=True)
class Result:
    status: str  # one of PASSED, NOT_ATTEMPTED, WRONG, ERROR
    message: str

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        return f"[{self.status}] {self.message}"

    def _repr_html_(self) -> str:
        colour = {PASSED: "#15803d", NOT_ATTEMPTED: "#6b7280"}.get(self.status, "#b91c1c")
        icon = {PASSED: "✔", NOT_ATTEMPTED: "…"}.get(self.status, "✘")
        return (
            f'<div class="tc-check" style="border-left:4px solid {colour};padding:6px 10px;'
            f'color:{colour}"><b>{icon} {self.status}</b>: {html.escape(self.message)}</div>'
        )


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``compute`` does what the mistaken code would do."""

    hint: str
    compute: Callable[..., object]


def check_function(
    learner_fn: Callable,
    reference_fn: Callable,
    cases: Sequence[tuple],
    *,
    name: str,
    mistakes: Sequence[Mistake] = (),
    atol: float = 1e-5,
) -> Result:
    """Call ``learner_fn(*case)`` for every case and compare with ``reference_fn(*case)``.

    Inputs are cloned for each call, so a function that changes its arguments in place
    cannot spoil the comparison.
    """
    if not callable(learner_fn):
        raise ValueError(f"learner_fn must be a function, got {type(learner_fn).__name__}")
    for number, case in enumerate(cases, start=1):
        try:
            got = learner_fn(*_clone(case))
        except NotImplementedError:
            return Result(
                NOT_ATTEMPTED,
                f"{name} is not attempted yet: replace "
                "`raise NotImplementedError` with your code and run the cell again.",
            )
        except Exception as err:
            return Result(ERROR, f"{name} raised {type(err).__name__} on input #{number}: {err}")
        want = reference_fn(*_clone(case))
        if same(got, want, atol):
            continue
        for mistake in mistakes:
            try:
                if same(got, mistake.compute(*_clone(case)), atol):
                    return Result(WRONG, mistake.hint)
            except Exception:  # a mistake that cannot even run on this input does not apply
                continue
        return Result(
            WRONG, f"{name} differs from the reference on input #{number}: {describe_difference(got, want)}"
        )
    return Result(PASSED, f"{name} matches the reference on all {len(cases)} inputs.")


def same(got: object, want: object, atol: float = 1e-5) -> bool:
    """Equal shape and values within ``atol`` (NaN equals NaN, so overflow can be recognised)."""
    if isinstance(want, torch.Tensor):
        return (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and torch.allclose(got.double(), want.double(), atol=atol, rtol=1e-4, equal_nan=True)
        )
    if isinstance(want, tuple | list):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(want)
            and all(same(g, w, atol) for g, w in zip(got, want))
        )
    return got == want


def describe_difference(got: object, want: object) -> str:
    if not isinstance(got, torch.Tensor):
        return f"expected a tensor, got {type(got).__name__}"
    if got.shape != want.shape:
        return f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
    if not torch.isfinite(got).all() and torch.isfinite(want).all():
        return "your result contains inf or NaN where the reference is finite"
    diff = (got.double() - want.double()).abs()
    where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    return (
        f"largest difference {float(diff.max()):.3g} at index {where} "
        f"(expected {float(want[where]):.4f}, got {float(got[where]):.4f})"
    )


def _clone(case: tuple) -> tuple:
    return tuple(x.clone() if isinstance(x, torch.Tensor) else x for x in case)


# --- Chapter 01: embeddings ---


def _cosine_cases() -> list[tuple[torch.Tensor]]:
    # T ≠ d and rows of very different lengths, so each mistake gives a different answer.
    g = torch.Generator().manual_seed(1)
    lengths = torch.tensor([[0.5], [1.0], [3.0], [7.0]])
    return [
        (torch.randn(4, 3, generator=g) * lengths,),
        (torch.randn(5, 8, generator=g) * 2.0,),
        (torch.randn(2, 6, generator=g),),
    ]


def check_cosine_similarity(learner_fn: Callable) -> Result:
    """Exercise 01: ``fn(vectors (T, d)) → (T, T)``, the cosine similarity of every pair of rows."""

    def reference(v):
        unit = v / v.norm(dim=1, keepdim=True)
        return unit @ unit.T

    def rows_normalised_by_columns(v):
        unit = v / v.norm(dim=0, keepdim=True)
        return unit @ unit.T

    mistakes = [
        Mistake(
            "That is the raw dot product v @ v.T: it still grows with the vectors' lengths. "
            "Divide each row by its length first (v.norm(dim=1, keepdim=True)).",
            lambda v: v @ v.T,
        ),
        Mistake(
            "You normalised along the wrong dimension: v.norm(dim=0) is the length of each "
            "column (one feature across tokens). Each token is a row: use dim=1 (or -1).",
            rows_normalised_by_columns,
        ),
        Mistake(
            "You divided only once: the dot product of a and b must be divided by |a| AND |b|. "
            "Normalise every row, then multiply the unit rows.",
            lambda v: (v @ v.T) / v.norm(dim=1, keepdim=True),
        ),
        Mistake(
            "You divided by the squared lengths: cosine divides by |a|·|b|, not |a|²·|b|².",
            lambda v: (v @ v.T) / (v.norm(dim=1, keepdim=True) ** 2 * v.norm(dim=1) ** 2),
        ),
        Mistake(
            "Your matrix is (d, d): v.T @ v compares features, not tokens. The result should "
            "be (T, T): multiply the unit rows by their transpose, unit @ unit.T.",
            lambda v: reference(v.T.contiguous()),
        ),
    ]
    return check_function(learner_fn, reference, _cosine_cases(), name="cosine_similarity", mistakes=mistakes)


# --- Chapter 02: positional encoding ---


def _sinusoid(
    length: int, d_model: int, *, exponent=None, swap: bool = False, start: int = 0, halves: bool = False
) -> torch.Tensor:
    """The paper's table and its usual wrong variants, in float64 (L, d)."""
    pos = torch.arange(start, start + length, dtype=torch.float64)[:, None]
    i = torch.arange(d_model // 2, dtype=torch.float64)
    power = (2 * i / d_model) if exponent is None else exponent(i, d_model)
    angle = pos / 10000.0**power
    first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
    if halves:
        return torch.cat([first(angle), second(angle)], dim=1)
    pe = torch.empty(length, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = first(angle), second(angle)
    return pe


def check_sinusoidal_encoding(learner_fn: Callable) -> Result:
    """Exercise 02: ``fn(length, d_model) → (length, d_model)``, the paper's encoding (d_model even)."""

    def reference(length, d_model):
        return _sinusoid(length, d_model).float()

    def column_index(length, d_model):
        # The cos column 2i+1 used its own index 2i+1 instead of the pair's 2i.
        pe = torch.empty(length, d_model, dtype=torch.float64)
        pos = torch.arange(length, dtype=torch.float64)[:, None]
        j = torch.arange(d_model, dtype=torch.float64)
        angle = pos / 10000.0 ** (j / d_model)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(angle[:, 0::2]), torch.cos(angle[:, 1::2])
        return pe

    mistakes = [
        Mistake(
            "sin and cos are swapped: even dimensions (0, 2, 4, …) take sin, odd ones take cos.",
            lambda n, d: _sinusoid(n, d, swap=True),
        ),
        Mistake(
            "The exponent should be 2i/d_model, where i counts the sin/cos PAIRS. You used i/d_model, "
            "so the waves slow down only half as fast across the dimensions.",
            lambda n, d: _sinusoid(n, d, exponent=lambda i, dm: i / dm),
        ),
        Mistake(
            "The exponent is missing the division by d_model: 10000^(2i) is astronomically large, "
            "so every pair after the first is a flat line. Use 10000^(2i/d_model).",
            lambda n, d: _sinusoid(n, d, exponent=lambda i, dm: 2 * i),
        ),
        Mistake(
            "Both members of a pair share one frequency: column 2i+1 (cos) uses the same "
            "2i/d_model as column 2i (sin), not (2i+1)/d_model.",
            column_index,
        ),
        Mistake(
            "Positions start at 0: the first row should be sin(0) = 0, cos(0) = 1.",
            lambda n, d: _sinusoid(n, d, start=1),
        ),
        Mistake(
            "The sines and cosines should be interleaved (sin in columns 0, 2, 4, …, cos in 1, 3, "
            "5, …), not all sines in the first half and all cosines in the second.",
            lambda n, d: _sinusoid(n, d, halves=True),
        ),
    ]
    cases = [(6, 8), (12, 16), (50, 4)]
    return check_function(
        learner_fn, reference, cases, name="sinusoidal_encoding", mistakes=mistakes, atol=1e-4
    )


# --- Chapters 03-04: queries, keys and values; softmax and scaling ---
# (this section's code goes right below this line; keep the sections apart)
# Imported here, not at the top: the file's top belongs to every chapter.
import math  # noqa: E402

from .attention import scaled_dot_product_attention  # noqa: E402
from .softmax import naive_softmax, stable_softmax  # noqa: E402


def _randn(*shape: int, gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=gen) * scale


def check_attention_scores(learner_fn: Callable) -> Result:
    """Exercise 03: ``fn(q (..., Lq, d_k), k (..., Lk, d_k)) → (..., Lq, Lk)``, raw scores q·kᵀ."""
    g = torch.Generator().manual_seed(3)
    # Square first, so the usual mistakes run (and can be named) instead of failing on shapes.
    single = [(_randn(4, 4, gen=g), _randn(4, 4, gen=g)), (_randn(3, 5, gen=g), _randn(6, 5, gen=g))]
    batched = [(_randn(2, 3, 4, gen=g), _randn(2, 5, 4, gen=g))]
    reference = lambda q, k: q @ k.transpose(-2, -1)
    mistakes = [
        Mistake(
            "k is not transposed: q @ k multiplies each query with the COLUMNS of k. Each key is a "
            "row of k, so turn the rows into columns first: q @ k.transpose(-2, -1).",
            lambda q, k: q @ k,
        ),
        Mistake(
            "Queries and keys are swapped: k @ q.T gives row i = key i. The scores' rows must be the "
            "queries (who is asking) and the columns the keys: q @ k.transpose(-2, -1).",
            lambda q, k: k @ q.transpose(-2, -1),
        ),
        Mistake(
            "q.T @ k compares the feature columns with each other, a (d_k, d_k) matrix. We want one "
            "number per pair of TOKENS: q @ k.transpose(-2, -1), shaped (Lq, Lk).",
            lambda q, k: q.transpose(-2, -1) @ k,
        ),
        Mistake(
            "You divided by √d_k: good instinct, but that is chapter 04's step. Here we want the raw "
            "scores q @ k.transpose(-2, -1).",
            lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]),
        ),
    ]
    return _check_then_batch(
        learner_fn,
        reference,
        single,
        batched,
        name="attention_scores",
        mistakes=mistakes,
        batch_hint="Right for one sentence, but not for a batch (B, L, d_k): k.T reverses ALL "
        "dimensions of a 3-D tensor. Swap only the last two: k.transpose(-2, -1).",
        passed=f"attention_scores matches the reference on all {len(single) + len(batched)} inputs, "
        "batched ones included.",
    )


def _check_then_batch(
    learner_fn: Callable,
    reference: Callable,
    single: Sequence[tuple],
    batched: Sequence[tuple],
    *,
    name: str,
    mistakes: Sequence[Mistake],
    batch_hint: str,
    passed: str,
) -> Result:
    """``check_function`` on the unbatched cases, then on the batched ones. A failure only
    on a batch that matches no known mistake gets ``batch_hint`` (the usual cause: an idiom
    that is right in 2-D only); a pass on everything says ``passed``."""
    result = check_function(learner_fn, reference, single, name=name, mistakes=mistakes)
    if not result.passed:
        return result
    batch = check_function(learner_fn, reference, batched, name=name, mistakes=mistakes)
    if batch.status in (WRONG, ERROR) and not any(m.hint == batch.message for m in mistakes):
        return Result(WRONG, f"{batch_hint} ({batch.message})")
    return batch if not batch.passed else Result(PASSED, passed)


def _softmax_cases() -> list[tuple[torch.Tensor]]:
    g = torch.Generator().manual_seed(4)
    huge = torch.tensor([[1000.0, 999.0, 990.0, 998.0], [1.0, 2.0, 3.0, -1.0], [-5.0, 0.0, 5.0, 2.0]])
    return [
        (_randn(4, 4, gen=g, scale=2.0),),
        (_randn(3, 6, gen=g, scale=3.0),),
        (huge,),
        (_randn(2, 3, 5, gen=g, scale=2.0),),
    ]


def check_softmax(learner_fn: Callable) -> Result:
    """Exercise 04a: ``fn(scores (..., Lk)) → weights``, a softmax over the last dimension that
    does not overflow for large scores."""

    def global_max(x):
        e = (x - x.max()).exp()
        return e / e.sum(dim=-1, keepdim=True)

    def no_keepdim(x):
        e = (x - x.max(dim=-1).values).exp()  # (..., L) broadcasts against the COLUMNS
        return e / e.sum(dim=-1, keepdim=True)

    axis = (
        "Wrong axis: each ROW (one query) must sum to 1, so normalise over the last dimension, "
        "dim=-1. Yours sums down the columns."
    )
    mistakes = [
        Mistake(axis, lambda x: torch.softmax(x, dim=-2)),
        Mistake(axis, lambda x: torch.softmax(x, dim=0)),
        Mistake(
            "No max subtraction: exp of a score near 1000 overflows to inf, and inf/inf = NaN. "
            "Subtract each row's maximum before exp (it does not change the result).",
            naive_softmax,
        ),
        Mistake(
            "You subtracted the maximum of the WHOLE matrix: a row whose scores are all far below it "
            "underflows to 0/0 = NaN. Subtract each row's own max: x.max(dim=-1, keepdim=True).",
            global_max,
        ),
        Mistake(
            "x.max(dim=-1).values has shape (..., L) and broadcasts across the columns, so each "
            "column got a different shift. Keep the dimension: x.max(dim=-1, keepdim=True).values.",
            no_keepdim,
        ),
        Mistake(
            "Not normalised: after exp, divide each row by its sum so that it adds up to 1.",
            lambda x: (x - x.amax(dim=-1, keepdim=True)).exp(),
        ),
    ]
    whole = (
        "You normalised the whole matrix at once: its entries sum to 1, but each ROW must. "
        "Sum over dim=-1 with keepdim=True."
    )
    for shift in (lambda x: x.max(), lambda x: x.amax(dim=-1, keepdim=True)):
        e = lambda x, shift=shift: (x - shift(x)).exp()
        mistakes.append(Mistake(whole, lambda x, e=e: e(x) / e(x).sum()))
    cases = _softmax_cases()
    return _check_then_batch(
        learner_fn,
        stable_softmax,
        cases[:-1],
        cases[-1:],
        name="softmax",
        mistakes=mistakes,
        batch_hint="Right for a matrix, but not for a batch of them (B, Lq, Lk): dim=1 is the "
        "last dimension only in 2-D. Use dim=-1 for the max and for the sum.",
        passed=f"softmax matches the reference on all {len(cases)} inputs, large scores and a batch "
        "included.",
    )


def _attention_cases() -> list[tuple[torch.Tensor, ...]]:
    # x (L, d_model), w_q (d_model, d_k), w_k, w_v (d_model, d_v); case 1 has d_k = L so that
    # "k not transposed" runs; d_model ≠ d_k everywhere so √d_model is recognisable.
    g = torch.Generator().manual_seed(5)
    cases = []
    for length, d_model, d_k, d_v, scale in ((4, 8, 4, 3, 1.5), (5, 6, 2, 4, 1.0), (3, 16, 9, 8, 1.0)):
        cases.append(
            (
                _randn(length, d_model, gen=g, scale=scale),
                _randn(d_model, d_k, gen=g),
                _randn(d_model, d_k, gen=g),
                _randn(d_model, d_v, gen=g),
            )
        )
    return cases


def check_attention(learner_fn: Callable) -> Result:
    """Exercise 04b: ``fn(x (L, d_model), w_q (d_model, d_k), w_k, w_v (d_model, d_v))`` →
    ``(output (L, d_v), weights (L, L))``: one head of scaled dot-product attention."""

    def reference(x, w_q, w_k, w_v):
        return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)

    def variant(x, w_q, w_k, w_v, *, divide=None, dim=-1, transpose=True):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        scores = q @ (k.transpose(-2, -1) if transpose else k)
        scores = scores / (math.sqrt(q.shape[-1]) if divide is None else divide(x, q))
        weights = torch.softmax(scores, dim=dim)
        return weights @ v, weights

    mistakes = [
        Mistake(
            "No scaling: divide the scores by √d_k before softmax. Without it, large d_k makes "
            "softmax put almost all weight on one key.",
            lambda *a: variant(*a, divide=lambda x, q: 1.0),
        ),
        Mistake(
            "You divided by √d_model (the width of x); the paper divides by √d_k, the width of the "
            "queries and keys: q.shape[-1].",
            lambda *a: variant(*a, divide=lambda x, q: math.sqrt(x.shape[-1])),
        ),
        Mistake(
            "You divided by d_k; the scale is its square root, √d_k (math.sqrt(d_k)).",
            lambda *a: variant(*a, divide=lambda x, q: q.shape[-1]),
        ),
        Mistake(
            "Softmax over the wrong axis: each query's ROW of weights must sum to 1, so use dim=-1.",
            lambda *a: variant(*a, dim=-2),
        ),
        Mistake(
            "k is not transposed: the scores are q @ k.transpose(-2, -1), one dot product per "
            "(query, key) pair.",
            lambda *a: variant(*a, transpose=False),
        ),
    ]
    cases = _attention_cases()
    try:
        got = learner_fn(*_clone(cases[0]))
    except Exception:
        got = None  # check_function reports it (not attempted, or which error)
    else:
        if not (
            isinstance(got, tuple | list) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)
        ):
            return Result(
                WRONG,
                f"attention should return a pair (output, weights) of tensors, got {type(got).__name__}.",
            )
    return check_function(learner_fn, reference, cases, name="attention", mistakes=mistakes, atol=1e-4)


# --- Chapters 05-06: multi-head attention; masking ---
# (this section's code goes right below this line; keep the sections apart)


def _multi_head(
    x,
    w_q,
    w_k,
    w_v,
    w_o,
    num_heads,
    *,
    split_view=False,
    merge_view=False,
    shared=False,
    project=True,
    scale_by_model=False,
):
    """Multi-head attention in the math convention (x @ W), with one switch per known mistake.

    x (B, L, D); w_* (D, D), columns i·d … (i+1)·d belong to head i; returns (B, L, D).
    """
    b, length, d_model = x.shape
    d_head = d_model // num_heads

    def split(t):  # (B, L, D) → (B, h, L, d)
        if split_view:  # no transpose: rows of tokens cut across heads
            return t.reshape(b, num_heads, length, d_head)
        return t.reshape(b, length, num_heads, d_head).transpose(1, 2)

    def project_in(w):
        if shared:  # every head reuses head 0's columns
            return (x @ w[:, :d_head]).unsqueeze(1).expand(b, num_heads, length, d_head)
        return split(x @ w)

    q, k, v = project_in(w_q), project_in(w_k), project_in(w_v)
    scale = (d_model if scale_by_model else d_head) ** 0.5
    weights = torch.softmax(q @ k.transpose(-2, -1) / scale, dim=-1)  # (B, h, L, L)
    heads = weights @ v  # (B, h, L, d)
    if merge_view:
        merged = heads.reshape(b, length, d_model)
    else:
        merged = heads.transpose(1, 2).reshape(b, length, d_model)
    return merged @ w_o if project else merged


def _multi_head_cases() -> list[tuple]:
    # L differs from h and from d_head, so a reshape without transpose cannot pass by luck.
    g = torch.Generator().manual_seed(5)
    cases = []
    for b, length, d_model, h in ((2, 5, 12, 3), (1, 7, 16, 4), (3, 3, 8, 2)):
        x = torch.randn(b, length, d_model, generator=g)
        ws = [torch.randn(d_model, d_model, generator=g) / d_model**0.5 for _ in range(4)]
        cases.append((x, *ws, h))
    return cases


def check_multi_head_attention(learner_fn: Callable) -> Result:
    """Exercise 05: ``fn(x (B, L, D), w_q, w_k, w_v, w_o (D, D), num_heads) → (B, L, D)``.

    Split the projections into heads, attend in each head, concatenate, project with W_O.
    """
    mistakes = [
        Mistake(
            "Your split mixes tokens across heads: q.view(B, h, L, d_head) cuts the (L, D) "
            "block row by row, so a 'head' gets pieces of several tokens. Reshape to "
            "(B, L, h, d_head) first, then .transpose(1, 2).",
            lambda *a: _multi_head(*a, split_view=True),
        ),
        Mistake(
            "Your merge mixes tokens across heads: out.reshape(B, L, D) on a (B, h, L, d_head) "
            "tensor glues rows of different tokens together. Move the heads back next to "
            "the features first: out.transpose(1, 2).reshape(B, L, D).",
            lambda *a: _multi_head(*a, merge_view=True),
        ),
        Mistake(
            "Both your split and your merge reshape without transposing: each is the other's "
            "inverse, but in between every 'head' attends over pieces of several tokens. "
            "Split with .view(B, L, h, d_head).transpose(1, 2), merge with "
            ".transpose(1, 2).reshape(B, L, D).",
            lambda *a: _multi_head(*a, split_view=True, merge_view=True),
        ),
        Mistake(
            "All your heads use the same projection (head 0's columns of W_Q, W_K, W_V), so "
            "they all compute the same attention. Head i must use its own columns "
            "i·d_head … (i+1)·d_head: project with the full matrix, then split.",
            lambda *a: _multi_head(*a, shared=True),
        ),
        Mistake(
            "The heads are concatenated correctly, but the output projection W_O is missing: "
            "multiply the merged (B, L, D) tensor by w_o, so the heads' results get mixed.",
            lambda *a: _multi_head(*a, project=False),
        ),
        Mistake(
            "Each head's scores must be divided by √d_head (the size of one head), not by "
            "√d_model: the dot products are over d_head numbers.",
            lambda *a: _multi_head(*a, scale_by_model=True),
        ),
    ]
    return check_function(
        learner_fn,
        _multi_head,
        _multi_head_cases(),
        name="multi_head_attention",
        mistakes=mistakes,
        atol=1e-4,
    )


def _masked_weights(scores, ids, pad_id, *, allowed=None, after_softmax=False, inverted=False):
    """softmax of scores (B, L, L) with ``allowed(ids, pad_id)`` (B, L, L) bool: True = may attend."""
    length = ids.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    keep = (allowed or (lambda i, p: causal & (i != p)[:, None, :]))(ids, pad_id)
    if after_softmax:
        return torch.softmax(scores, dim=-1).masked_fill(~keep, 0.0)
    return torch.softmax(scores.masked_fill(keep if inverted else ~keep, float("-inf")), dim=-1)


def _masked_weights_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(6)
    ids_a = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0], [5, 6, 0, 0, 0]])
    ids_b = torch.tensor([[4, 4, 4, 4, 0, 0], [7, 8, 9, 10, 11, 12]])
    return [
        (torch.randn(3, 5, 5, generator=g) * 2, ids_a, 0),
        (torch.randn(2, 6, 6, generator=g) * 2, ids_b, 0),
    ]


def check_causal_masked_weights(learner_fn: Callable) -> Result:
    """Exercise 06: ``fn(scores (B, L, L), ids (B, L), pad_id) → weights (B, L, L)``.

    Each query may see itself and earlier tokens (causal), and never a padding key.
    """

    def tril(n, k=0):
        return torch.ones(n, n, dtype=torch.bool).tril(k)

    def real(i, p):
        return (i != p)[:, None, :]  # (B, 1, L): keys that are real tokens

    def using(allowed):  # the right softmax, with a wrong mask
        return lambda s, i, p: _masked_weights(s, i, p, allowed=allowed)

    mistakes = [
        Mistake(
            "You masked after the softmax: the blocked weights are 0, but each row no longer "
            "sums to 1 (the weight on the future was thrown away). Fill the blocked scores "
            "with -inf BEFORE the softmax, so the remaining weights share the whole 1.",
            lambda s, i, p: _masked_weights(s, i, p, after_softmax=True),
        ),
        Mistake(
            "The diagonal is masked too: a token must be allowed to see itself. With "
            "tril(diagonal=-1) the first token sees nothing, and its row becomes NaN. "
            "Use torch.ones(L, L).tril() (diagonal=0) as the allowed positions.",
            using(lambda i, p: tril(i.shape[1], -1) & real(i, p)),
        ),
        Mistake(
            "Your causal mask points the wrong way: each token sees the FUTURE and not the "
            "past (triu instead of tril). Query i may see keys 0 … i: the lower triangle.",
            using(lambda i, p: tril(i.shape[1]).T & real(i, p)),
        ),
        Mistake(
            "Your padding mask blocks the padded QUERIES (rows) instead of the padded KEYS "
            "(columns). It must have shape (B, 1, L): the same keys hidden for every query.",
            using(lambda i, p: tril(i.shape[1]) & (i != p)[:, :, None]),
        ),
        Mistake(
            "You combined the masks with OR: a key is then visible if EITHER mask allows it, "
            "so the future of real tokens leaks through. Combine with AND (&).",
            using(lambda i, p: tril(i.shape[1]) | real(i, p)),
        ),
        Mistake(
            "Only the causal mask is applied: padding positions can still be attended. "
            "Also block the keys where ids == pad_id.",
            using(lambda i, p: tril(i.shape[1]).expand(i.shape[0], -1, -1)),
        ),
        Mistake(
            "Only the padding mask is applied: every token still sees the future. Combine it "
            "with the causal (lower-triangular) mask.",
            using(lambda i, p: real(i, p).expand(-1, i.shape[1], -1)),
        ),
        Mistake(
            "Your mask convention is inverted: in this course True means MAY attend, so fill "
            "with -inf where the mask is False (scores.masked_fill(~allowed, -inf)).",
            lambda s, i, p: _masked_weights(s, i, p, inverted=True),
        ),
    ]
    return check_function(
        learner_fn, _masked_weights, _masked_weights_cases(), name="causal_masked_weights", mistakes=mistakes
    )


# --- Chapter 07: the full Transformer ---
# (this section's code goes right below this line; keep the sections apart)


def _decoder_layer_variant(
    layer, x, memory, *, residual=(True, True, True), norm="post", causal=True, cross="right"
):
    """A post-norm decoder layer's forward built from ``layer``'s parts, or one of its usual mistakes.

    norm: "post" (norm(x + f(x))), "pre" (x + f(norm(x))) or "inside" (x + norm(f(x))).
    cross: "right" (queries from x, keys/values from memory), "swapped" (queries from memory,
    keys/values from x) or "self" (keys/values from x: the encoder is never consulted).
    """
    from .masks import causal_mask  # imported here: the file's top belongs to every chapter

    mask = causal_mask(x.shape[1], device=x.device) if causal else None

    def self_block(h):
        return layer.self_attn(h, mask=mask, need_weights=False)[0]

    def cross_block(h):
        q, kv = {"right": (h, memory), "swapped": (memory, h), "self": (h, h)}[cross]
        return layer.cross_attn(q, kv, kv, need_weights=False)[0]

    blocks = (self_block, cross_block, layer.feed_forward)
    for block, ln, keep in zip(blocks, (layer.norm1, layer.norm2, layer.norm3), residual):
        if norm == "pre":
            x = x + block(ln(x))
        elif norm == "inside":
            x = x + ln(block(x))
        else:
            x = ln(x + block(x)) if keep else ln(block(x))
    return x


def _decoder_layer_cases() -> list[tuple]:
    from .layers import DecoderLayer  # imported here: the file's top belongs to every chapter

    with torch.random.fork_rng(devices=[]), torch.no_grad():  # leaves the caller's seed alone
        torch.manual_seed(7)
        layer = DecoderLayer(16, 4, 32, dropout=0.0).eval()
        for ln in (layer.norm1, layer.norm2, layer.norm3):  # so that a misplaced norm shows
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.5, 0.5)
    g = torch.Generator().manual_seed(7)
    # The first case has as many source as target tokens, so swapped queries and keys still run.
    return [
        (layer, torch.randn(2, 5, 16, generator=g), torch.randn(2, 5, 16, generator=g)),
        (layer, torch.randn(1, 4, 16, generator=g), torch.randn(1, 7, 16, generator=g)),
        (layer, torch.randn(3, 6, 16, generator=g), torch.randn(3, 3, 16, generator=g)),
    ]


def check_decoder_layer(learner_fn: Callable) -> Result:
    """Exercise 07: ``fn(layer, x (B, Lt, d), memory (B, Ls, d)) → (B, Lt, d)``, a post-norm decoder
    layer's forward using ``layer.self_attn``, ``layer.cross_attn``, ``layer.feed_forward`` and
    ``layer.norm1``/``norm2``/``norm3`` (eval mode, no padding)."""

    def reference(layer, x, memory):
        return _decoder_layer_variant(layer, x, memory)

    names = ("masked self-attention", "cross-attention", "feed-forward network")
    no_residual = [
        Mistake(
            f"Missing residual connection around the {names[i]}: Add & Norm adds the sublayer's "
            f"input back before normalising, norm(x + sublayer(x)), not norm(sublayer(x)).",
            lambda layer, x, m, i=i: _decoder_layer_variant(
                layer, x, m, residual=tuple(j != i for j in range(3))
            ),
        )
        for i in range(3)
    ]
    mistakes = [
        Mistake(
            "Missing residual connections: every sublayer's output must be added to its input "
            "before the norm, x = norm(x + sublayer(x)). Without the `x +` nothing of the input "
            "survives the layer unchanged.",
            lambda layer, x, m: _decoder_layer_variant(layer, x, m, residual=(False,) * 3),
        ),
        *no_residual,
        Mistake(
            "Wrong norm order: you normalised the input of each sublayer, x + sublayer(norm(x)) "
            "(pre-norm, as in GPT-2). This layer is post-norm, as in the paper: "
            "x = norm(x + sublayer(x)).",
            lambda layer, x, m: _decoder_layer_variant(layer, x, m, norm="pre"),
        ),
        Mistake(
            "Wrong norm order: you normalised the sublayer's output and then added the input, "
            "x + norm(sublayer(x)). Add first, then normalise the sum: norm(x + sublayer(x)).",
            lambda layer, x, m: _decoder_layer_variant(layer, x, m, norm="inside"),
        ),
        Mistake(
            "No causal mask in the self-attention: each target token can see the tokens after "
            "it, the very words it must learn to predict. Pass mask=causal_mask(x.shape[1]) "
            "to layer.self_attn.",
            lambda layer, x, m: _decoder_layer_variant(layer, x, m, causal=False),
        ),
        Mistake(
            "Cross-attention has its queries and keys swapped: the queries come from the "
            "decoder (x) and the keys and values from the encoder's output (memory): "
            "layer.cross_attn(x, memory, memory).",
            lambda layer, x, m: _decoder_layer_variant(layer, x, m, cross="swapped"),
        ),
        Mistake(
            "Your cross-attention never looks at the encoder: its keys and values must be "
            "memory, not x: layer.cross_attn(x, memory, memory).",
            lambda layer, x, m: _decoder_layer_variant(layer, x, m, cross="self"),
        ),
    ]
    with torch.no_grad():
        return check_function(
            learner_fn, reference, _decoder_layer_cases(), name="decoder_layer", mistakes=mistakes, atol=1e-5
        )


# --- Chapter 08: training and generation ---
# (this section's code goes right below this line; keep the sections apart)


class _CountingModel:
    """A fake language model for the greedy-decoding exercise (no training needed).

    prefix (1, t) → logits (1, t, V). Row i favours one next token that depends on the
    whole prefix up to i (a weighted sum of the ids, so order and history matter), and
    it writes <eos> (id 1) once the prefix is ``stop_at`` tokens long.
    """

    vocab_size = 9
    eos_id = 1

    def __init__(self, stop_at: int):
        self.stop_at = stop_at

    def next_id(self, ids: list[int]) -> int:
        if len(ids) >= self.stop_at:
            return self.eos_id
        return 2 + (sum((k + 1) * i for k, i in enumerate(ids)) + len(ids)) % (self.vocab_size - 2)

    def __call__(self, prefix: torch.Tensor) -> torch.Tensor:
        if not isinstance(prefix, torch.Tensor) or prefix.dim() != 2 or prefix.shape[0] != 1:
            got = tuple(prefix.shape) if isinstance(prefix, torch.Tensor) else type(prefix).__name__
            raise ValueError(f"logits_fn expects the prefix as a (1, t) tensor of ids, got {got}")
        ids = prefix[0].tolist()
        t = len(ids)
        # A fixed, uneven background so no two entries tie, plus a clear winner per row.
        background = torch.arange(t * self.vocab_size, dtype=torch.float32).reshape(t, self.vocab_size)
        logits = torch.sin(background * 1.7) * 0.5
        for i in range(t):
            logits[i, self.next_id(ids[: i + 1])] += 4.0 + 0.3 * i
        return logits.unsqueeze(0)


def _greedy_reference(
    logits_fn,
    prompt,
    max_new_tokens,
    eos_id,
    *,
    history=True,
    append=True,
    stop=True,
    pick=lambda logits: logits[0, -1].argmax(),
):
    ids = prompt.clone()
    fed = prompt.clone()
    for _ in range(max_new_tokens):
        logits = logits_fn((fed if history else fed[-1:]).unsqueeze(0))
        token = int(pick(logits))
        ids = torch.cat([ids, torch.tensor([token])])
        if append:
            fed = ids
        if stop and token == eos_id:
            break
    return ids


def _greedy_cases():
    return [
        (_CountingModel(stop_at=6), torch.tensor([3, 5]), 8, 1),
        (_CountingModel(stop_at=20), torch.tensor([2]), 5, 1),
        (_CountingModel(stop_at=5), torch.tensor([4, 2, 7]), 6, 1),
    ]


def check_greedy_decode(learner_fn: Callable) -> Result:
    """Exercise 08: ``fn(logits_fn, prompt (t0,), max_new_tokens, eos_id) → ids (t0 + n,)``.

    ``logits_fn(prefix (1, t)) → logits (1, t, V)``. Greedy: feed the whole sequence so
    far, take the argmax over the vocabulary at the last position, append it, stop after
    ``eos_id`` or ``max_new_tokens`` new tokens; return the prompt followed by the new ids.
    """
    mistakes = [
        Mistake(
            "Your loop never adds the chosen token to what it feeds the model, so the model sees "
            "the same prompt every time and repeats itself. After choosing, append the token "
            "(ids = torch.cat([ids, token])) and feed the grown sequence next step.",
            lambda f, p, n, e: _greedy_reference(f, p, n, e, append=False),
        ),
        Mistake(
            "You fed the model only the last token, without the history: each step must see the "
            "whole sequence so far (prompt + everything generated), not just ids[-1:].",
            lambda f, p, n, e: _greedy_reference(f, p, n, e, history=False),
        ),
        Mistake(
            "Your output goes on after <eos>: stop the loop as soon as the chosen token is eos_id "
            "(keep the eos itself in the output).",
            lambda f, p, n, e: _greedy_reference(f, p, n, e, stop=False),
        ),
        Mistake(
            "You stopped before appending <eos>: the output should end with the eos token when "
            "the model writes it.",
            lambda f, p, n, e: _strip_eos(_greedy_reference(f, p, n, e), e),
        ),
        Mistake(
            "argmax over the wrong axis: logits are (1, t, V), and the next token is the argmax "
            "over the vocabulary (the last axis, dim=-1) at the last position, logits[0, -1].",
            lambda f, p, n, e: _greedy_reference(f, p, n, e, pick=lambda lg: lg[0].argmax(dim=0)[-1]),
        ),
        Mistake(
            "argmax without a dim flattens the (1, t, V) logits, so you get a position × vocabulary "
            "index, not a token id. Take logits[0, -1].argmax() (the last position's row).",
            lambda f, p, n, e: _greedy_reference(f, p, n, e, pick=lambda lg: lg.argmax()),
        ),
        Mistake(
            "You read the scores of the first position (logits[0, 0]); the next token is predicted "
            "at the LAST position: logits[0, -1].",
            lambda f, p, n, e: _greedy_reference(f, p, n, e, pick=lambda lg: lg[0, 0].argmax()),
        ),
        Mistake(
            "Return the prompt followed by the new tokens, not only the new tokens.",
            lambda f, p, n, e: _greedy_reference(f, p, n, e)[p.shape[0] :],
        ),
    ]
    return check_function(
        learner_fn,
        lambda f, p, n, e: _greedy_reference(f, p, n, e),
        _greedy_cases(),
        name="greedy_decode",
        mistakes=mistakes,
    )


def _strip_eos(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    return ids[:-1] if ids.numel() and int(ids[-1]) == eos_id else ids
