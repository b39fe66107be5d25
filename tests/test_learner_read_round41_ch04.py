"""Chapter 04 (softmax and scaling) read as a learner, round 41: its softmax checker and its prose.

The checker: wrong answers a learner types that got a bare "differs from the reference", or the
hint of a mistake they did not make (a temperature of 2 was called "scaled by √Lk", since the
first input's rows are 4 long). Each now gets its own hint; right answers in other styles pass.

The prose: re-running a cell after a later one used to print other numbers (the temperature
cell read the weights of "it" as its `row`; the gradient cell divided by chapter's later d_k = 8);
the Jacobian and "saturated" were used unexplained; the one-head exercise did not say where d_k
comes from, though the notebook's own d_k (8) is one no head of the checker has.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))


def _hint(mistake_name: str) -> str:
    found = [m.hint for m in exercise("softmax").mistakes if m.name == mistake_name]
    assert found, f"softmax has no mistake {mistake_name!r}"
    return found[0]


def names(result, mistake_name: str) -> None:
    """Rejected with exactly that mistake's hint, and no other mistake's."""
    hint = _hint(mistake_name)
    assert result.status == WRONG, result
    assert result.message.startswith(hint), result.message
    others = {m.hint for m in exercise("softmax").mistakes} - {hint}
    assert not [h for h in others if h in result.message], result.message


def _normalised(e: torch.Tensor) -> torch.Tensor:
    return e / e.sum(dim=-1, keepdim=True)


def _shifted(x: torch.Tensor) -> torch.Tensor:
    return x - x.max(dim=-1, keepdim=True).values


# --- Exercise 04a: wrong answers, each named ---


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: _normalised(_shifted(x / 2).exp()),
        lambda x: torch.softmax(x / 4.0, dim=-1),  # the notebook's T after the temperature cell
        lambda x: _normalised(_shifted(x * 3).exp()),
        lambda x: _normalised(_shifted(x / math.sqrt(8)).exp()),  # the notebook's later d_k = 8
    ],
    ids=["÷ 2", "÷ T = 4", "× 3", "÷ √8"],
)
def test_scores_divided_by_a_constant_are_named_so(fn):
    names(checks.check_softmax(fn), "scores divided by a constant")


def test_a_temperature_of_two_is_not_called_a_division_by_the_rows_length():
    # The first input's rows are 4 long: ÷ 2 equals ÷ √4 there, and used to get that hint.
    result = checks.check_softmax(lambda x: torch.softmax(x / 2, dim=-1))
    assert "√(row length)" not in result.message, result.message


def test_dividing_by_the_root_of_the_rows_length_is_still_named():
    names(checks.check_softmax(lambda x: torch.softmax(x / x.shape[-1] ** 0.5, -1)), "scaled by √Lk")


def test_powers_of_two_are_named_as_another_base_not_a_temperature():
    # 2 ** x is a softmax at temperature 1/ln 2, but no T is in such code: named by its base
    result = checks.check_softmax(lambda x: _normalised(2 ** _shifted(x)))
    names(result, "powers of 2 or 10")
    assert "temperature T" not in result.message, result.message


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: _normalised((x.max(dim=-1, keepdim=True).values - x).exp()),
        lambda x: torch.softmax(-x, dim=-1),
        lambda x: _normalised(torch.exp(-_shifted(x))),
    ],
    ids=["exp(max - x)", "softmax(-x)", "exp(-(x - max))"],
)
def test_a_shift_the_wrong_way_round_is_named(fn):
    names(checks.check_softmax(fn), "exp(max - x)")


def _nan_to_zero(x):
    w = x.exp() / x.exp().sum(dim=-1, keepdim=True)
    w[torch.isnan(w)] = 0.0
    return w


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: torch.nan_to_num(x.exp() / x.exp().sum(dim=-1, keepdim=True)),
        lambda x: (lambda w: torch.where(torch.isnan(w), torch.zeros_like(w), w))(_normalised(x.exp())),
        _nan_to_zero,
    ],
    ids=["nan_to_num", "torch.where(isnan)", "w[isnan(w)] = 0"],
)
def test_nan_patched_to_zero_is_named(fn):
    names(checks.check_softmax(fn), "NaN replaced by 0")


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: _normalised(x.clamp(-50, 50).exp()),
        lambda x: _normalised(x.clamp(max=80).exp()),
        lambda x: _normalised(torch.clip(x, -30, 30).exp()),
    ],
    ids=["clamp(-50, 50)", "clamp(max=80)", "clip(-30, 30)"],
)
def test_large_scores_clamped_are_named(fn):
    names(checks.check_softmax(fn), "large scores clamped")


def _with_math_exp(x):
    rows = []
    for row in x.reshape(-1, x.shape[-1]).tolist():
        exps = [math.exp(s) for s in row]
        rows.append([e / sum(exps) for e in exps])
    return torch.tensor(rows).reshape(x.shape)


def test_math_exp_overflowing_is_named():
    result = checks.check_softmax(_with_math_exp)
    names(result, "math.exp overflows")
    assert "OverflowError" in result.message


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: _normalised(x.double().exp()).float(),
        lambda x: _normalised(x.to(torch.float64).exp()),
    ],
    ids=["float64, back to float32", "float64 returned"],
)
def test_float64_without_the_shift_is_named(fn):
    result = checks.check_softmax(fn)
    names(result, "no max subtraction, in float64")
    assert "exp(710)" in result.message


def test_scores_returned_unchanged_are_named():
    names(checks.check_softmax(lambda x: x.clone()), "scores returned unchanged")


BIG = torch.tensor([1000.0, 999.0, 990.0])  # as the chapter's `big`
ROW = torch.tensor([2.0, 1.0, 0.1, -1.0])  # as the chapter's `row`


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: torch.softmax(BIG, dim=-1),
        lambda x: _normalised(_shifted(ROW).exp()),
        lambda x: torch.full((4, 4), 0.25),
    ],
    ids=["softmax(big)", "softmax(row), by hand", "a constant"],
)
def test_a_function_that_ignores_its_scores_is_named(fn):
    names(checks.check_softmax(fn), "argument ignored")


def test_the_named_hints_are_not_given_to_a_wrong_answer_they_do_not_describe():
    # Entries off by one everywhere: no hint of this round fits it.
    result = checks.check_softmax(lambda x: torch.softmax(x, -1) + 1)
    assert result.status == WRONG and "differs from the reference" in result.message, result.message


# --- Exercise 04a: right answers in other styles still pass ---


def _loop(x):
    flat = x.reshape(-1, x.shape[-1])
    out = torch.empty_like(flat)
    for i, row in enumerate(flat):
        m = max(row.tolist())
        e = [math.exp(s - m) for s in row.tolist()]
        out[i] = torch.tensor([v / sum(e) for v in e])
    return out.reshape(x.shape)


def _numpy(x):
    a = x.numpy()
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return torch.from_numpy(e / e.sum(axis=-1, keepdims=True))


def _in_place(x):
    x -= x.amax(dim=-1, keepdim=True)
    x.exp_()
    x /= x.sum(dim=-1, keepdim=True)
    return x


@pytest.mark.parametrize(
    "fn",
    [
        _loop,
        _numpy,
        _in_place,
        lambda x: _normalised(_shifted(x.double()).exp()),
        lambda x: (x - torch.logsumexp(x, dim=-1, keepdim=True)).exp(),
        lambda x: _normalised(2 ** (_shifted(x) / math.log(2))),  # base 2, the exponent rescaled
        lambda x: torch.softmax(x / 1.0, dim=-1),  # a temperature of 1
        lambda x: (lambda e: e / e.sum(-1)[..., None])((x - x.max(-1).values[..., None]).exp()),
    ],
    ids=["math, row by row", "numpy", "in place", "float64", "logsumexp", "base 2", "T = 1", "[..., None]"],
)
def test_right_answers_in_other_styles_pass(fn):
    result = checks.check_softmax(fn)
    assert result.status == PASSED, result.message


# --- Chapter 04's prose against its code ---


def _chapter() -> str:
    (path,) = CHAPTERS.glob("04_*.py")
    return path.read_text(encoding="utf-8")


def _cells(text: str) -> list[str]:
    return re.split(r"^# %%", text, flags=re.M)[1:]


def _code_cells(text: str) -> list[str]:
    return [c.split("\n", 1)[1] for c in _cells(text) if not c.startswith(" [markdown]")]


def _markdown(text: str) -> str:
    """The chapter's prose cells, joined, each line's "# " dropped and line breaks read as spaces."""
    prose = "\n".join(c for c in _cells(text) if c.startswith(" [markdown]"))
    return re.sub(r"\s*\n#\s?", " ", prose)


def _run(cell: str, names: dict) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(cell, "chapter 04", "exec"), names)  # noqa: S102 (the course's own cells)
    return out.getvalue()


@pytest.fixture(scope="module")
def chapter_run():
    """Every code cell run once, top to bottom: the names left, and what each cell printed."""
    cells = _code_cells(_chapter())
    names: dict = {}
    printed = [_run(cell, names) for cell in cells]
    return cells, names, printed


def _index(cells: list[str], line: str) -> int:
    (index,) = [i for i, c in enumerate(cells) if line in c]
    return index


@pytest.mark.parametrize(
    "line",
    ["for T in (0.25, 1.0, 4.0):", "unscaled_grad = softmax_gradient_size(raw)"],
    ids=["temperature", "softmax gradient"],
)
def test_chapter_04_rerunning_a_cell_after_the_chapter_prints_the_same(chapter_run, line):
    # The temperature cell read `row`, which the untrained head's cell overwrote with the weights
    # of "it"; the gradient cell divided by d_k, which the weighted-sum cell set to 8.
    cells, names, printed = chapter_run
    index = _index(cells, line)
    again = _run(cells[index], dict(names))
    assert again == printed[index]


def test_chapter_04_gradient_curve_is_as_the_prose_describes_it(chapter_run):
    _, names, _ = chapter_run
    sat = names["sat"]
    prose = _markdown(_chapter())
    assert "after a small rise up to d<sub>k</sub> = 4, shrinks to a fifth of that peak" in prose
    assert sat.d_k[int(sat.grad_norm.argmax())] == 4
    assert 0.15 < float(sat.grad_norm[-1] / sat.grad_norm.max()) < 0.25


def test_chapter_04_explains_the_jacobian_before_its_code_uses_it():
    text = _chapter()
    explained = text.find("**Jacobian**")
    assert explained != -1, "the prose must say what the Jacobian is"
    assert explained < text.find("torch.autograd.functional.jacobian")


def test_chapter_04_says_what_saturated_means():
    assert re.search(r"\*\*saturated\*\*, one weight near 1 and the rest near 0", _markdown(_chapter()))


def test_chapter_04_head_exercise_says_where_d_k_comes_from(chapter_run):
    # The notebook's own d_k when the exercise runs is none of the checker's heads' d_k.
    _, names, _ = chapter_run
    prose = _markdown(_chapter())
    start = prose.index("### Your turn: one head of attention")
    assert "`q.shape[-1]`" in prose[start : start + 1200]
    assert "notebook's own `d_k`" in prose[start : start + 1200]
    assert names["d_k"] not in {case[1].shape[1] for case in checks.head._cases()}
