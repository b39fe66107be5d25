"""Round 41: a learner's read of chapters 00 and 01, and chapter 01's cosine checker fed the wrong
answers a learner types.

The checker: double loops that leave entries of a torch.zeros(T, T) at 0 (stopping one short,
starting at 1, half the matrix, the diagonal), |a| + |b|, L1 lengths, distances in place of
cosines, normalising the dot products after the product, ``dots / lengths * lengths.T``,
torch.dot on the whole matrix and a function that reads a notebook variable instead of its
argument used to get a bare "differs at index (i, j)" (or PyTorch's own error); each now gets its
own hint. A right answer that normalises its argument in place still passes, now with a warning.
Right answers in other styles must still pass.

The chapter: ``d_model = 64`` in the scaling cell overwrote the ``d_model = 3`` of the table, so
running the table cell again broke it; the word d_model was used before the prose said what it is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformer_course import checks, widgets
from transformer_course.checks import PASSED, WRONG, exercise

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))


def _hint(mistake_name: str) -> str:
    found = [m.hint for m in exercise("cosine_similarity").mistakes if m.name == mistake_name]
    assert found, f"cosine_similarity has no mistake {mistake_name!r}"
    return found[0]


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.dot(a, b) / (a.norm() * b.norm())


def _looped(pairs):
    """A learner's double loop into torch.zeros(T, T), over the (i, j) that ``pairs(T)`` yields."""

    def fn(vectors):
        t = len(vectors)
        out = torch.zeros(t, t)
        for i, j in pairs(t):
            out[i, j] = _cos(vectors[i], vectors[j])
        return out

    return fn


def _reads_the_notebooks_unit(vectors):
    return NOTEBOOK_UNIT @ NOTEBOOK_UNIT.T  # `unit`, a later cell's variable, not the argument


NOTEBOOK_UNIT = F.normalize(torch.arange(12.0).reshape(4, 3) - 5, dim=1)


def _mirrored_without_diagonal(vectors):
    t = len(vectors)
    out = torch.zeros(t, t)
    for i in range(t):
        for j in range(i):
            out[i, j] = out[j, i] = _cos(vectors[i], vectors[j])
    return out


def _lengths(v):
    return torch.sqrt((v**2).sum(dim=-1, keepdim=True))


WRONG_ANSWERS = [
    ("loops stop one short", _looped(lambda t: [(i, j) for i in range(t - 1) for j in range(t - 1)])),
    ("loops start at 1", _looped(lambda t: [(i, j) for i in range(1, t) for j in range(1, t)])),
    ("upper half only", _looped(lambda t: [(i, j) for i in range(t) for j in range(t) if j >= i])),
    ("lower half only", _looped(lambda t: [(i, j) for i in range(t) for j in range(t) if j <= i])),
    ("upper half only", _looped(lambda t: [(i, j) for i in range(t) for j in range(t) if j > i])),
    ("diagonal left at 0", _mirrored_without_diagonal),
    ("sum of the lengths", lambda v: v @ v.T / (_lengths(v) + _lengths(v).T)),
    ("L1 lengths", lambda v: F.normalize(v, p=1, dim=1) @ F.normalize(v, p=1, dim=1).T),
    ("Euclidean distances", lambda v: torch.stack([(v - row).norm(dim=1) for row in v])),
    ("squared distances", lambda v: torch.cdist(v, v) ** 2),
    (
        "distances of the unit rows",
        lambda v: (F.normalize(v, dim=1)[:, None] - F.normalize(v, dim=1)).norm(dim=-1),
    ),
    ("dot products normalised by rows", lambda v: F.normalize(v @ v.T, dim=-1)),
    ("dot products normalised by columns", lambda v: (v @ v.T) / (v @ v.T).norm(dim=0)),
    ("a / b * c", lambda v: (v @ v.T) / _lengths(v) * _lengths(v).T),
    ("torch.dot on the matrix", lambda v: torch.dot(v, v) / v.norm() ** 2),
    ("a notebook variable, not the argument", _reads_the_notebooks_unit),
    ("norm of the whole matrix", lambda v: v @ v.T / (v.norm(dim=1) @ v.norm(dim=1))),
]


@pytest.mark.parametrize(("mistake_name", "fn"), WRONG_ANSWERS, ids=[n for n, _ in WRONG_ANSWERS])
def test_a_learners_wrong_cosine_gets_its_own_hint(mistake_name, fn):
    result = checks.check_cosine_similarity(fn)
    assert result.status == WRONG, result
    assert result.message.startswith(_hint(mistake_name)), result.message


def test_the_whole_matrix_hint_names_lengths_at_lengths_t():
    result = checks.check_cosine_similarity(lambda v: v @ v.T / (_lengths(v).T @ _lengths(v)))
    assert "lengths @ lengths.T" in result.message and "lengths * lengths.T" in result.message


def _unit(v):
    return v / v.norm(dim=1, keepdim=True)


def _both_halves_of_a_loop(vectors):
    t = len(vectors)
    out = torch.zeros(t, t)
    for i in range(t):
        for j in range(i, t):
            out[i, j] = out[j, i] = _cos(vectors[i], vectors[j])
    return out


RIGHT_ANSWERS = {
    "every pair, looped": _looped(lambda t: [(i, j) for i in range(t) for j in range(t)]),
    "half a loop, mirrored": _both_halves_of_a_loop,
    "einsum": lambda v: torch.einsum("id,jd->ij", _unit(v), _unit(v)),
    "outer product of the lengths": lambda v: v @ v.T / torch.outer(v.norm(dim=1), v.norm(dim=1)),
    "float64": lambda v: _unit(v.double()) @ _unit(v.double()).T,
    "the Gram matrix over its diagonal": lambda v: (
        (v @ v.T) / (v @ v.T).diagonal().sqrt().outer((v @ v.T).diagonal().sqrt())
    ),
    "in place, on a clone": lambda v: (lambda w: w.div_(w.norm(dim=1, keepdim=True)) @ w.T)(v.clone()),
    "a list of rows made a tensor": lambda v: torch.tensor([[float(_cos(a, b)) for b in v] for a in v]),
}


@pytest.mark.parametrize("fn", RIGHT_ANSWERS.values(), ids=list(RIGHT_ANSWERS))
def test_a_right_cosine_in_another_style_passes_without_a_warning(fn):
    result = checks.check_cosine_similarity(fn)
    assert result.status == PASSED, result.message
    assert "beware" not in result.message


def test_a_right_answer_that_normalises_its_argument_in_place_passes_with_a_warning():
    def in_place(vectors):
        vectors /= vectors.norm(dim=1, keepdim=True)  # the caller's tensor, changed
        return vectors @ vectors.T

    result = checks.check_cosine_similarity(in_place)
    assert result.status == PASSED, result.message
    assert "changed the vectors it was given" in result.message and "in place" in result.message


def test_a_function_that_draws_is_not_said_to_read_a_notebook_variable():
    result = checks.check_cosine_similarity(lambda v: torch.rand(len(v), len(v)))
    assert result.status == WRONG
    assert _hint("a notebook variable, not the argument") not in result.message, result.message


# --- The chapter ---


def _chapter() -> str:
    (path,) = CHAPTERS.glob("01_*.py")
    return path.read_text(encoding="utf-8")


def _cells(text: str) -> list[str]:
    return re.split(r"^# %%", text, flags=re.M)[1:]


def _code_cells(text: str) -> list[str]:
    return [c.split("\n", 1)[1] for c in _cells(text) if not c.startswith(" [markdown]")]


def _cell(cells: list[str], line: str) -> int:
    (index,) = [i for i, c in enumerate(cells) if line in c]
    return index


def test_chapter_01_running_the_table_cell_again_after_the_scaling_cell_keeps_its_numbers():
    # The scaling cell used to set d_model = 64: the table cell, run again, drew a (332, 64) table
    # and its `vectors.shape == (4, 3)` assert failed; it also drew new numbers.
    cells = _code_cells(_chapter())
    table, scaling = _cell(cells, "table = torch.randn("), _cell(cells, "position_length = ")
    names: dict = {}
    for cell in cells[: scaling + 1]:
        exec(compile(cell, "chapter 01", "exec"), names)  # noqa: S102 (the course's own cells)
    first = names["vectors"].clone()
    for cell in cells[table : scaling + 1]:  # a learner re-runs them, in order
        exec(compile(cell, "chapter 01 re-run", "exec"), names)  # noqa: S102
    assert torch.equal(names["vectors"], first)
    assert names["d_model"] == 3


def test_chapter_01_says_what_d_model_is_before_its_code_uses_it():
    cells = _cells(_chapter())
    first_use = next(i for i, c in enumerate(cells) if not c.startswith(" [markdown]") and "d_model" in c)
    prose_before = " ".join(c for c in cells[:first_use] if c.startswith(" [markdown]"))
    assert re.search(r"\*\*d<sub>model</sub>\*\*, the model's width", prose_before)


def test_chapter_01_scaling_prose_quotes_the_width_its_cell_uses():
    text = _chapter()
    start = text.index("## Scaling by")
    prose, code = text[start:].split("# %% slideshow", 1)
    (quoted,) = re.findall(r"d<sub>model</sub> = (\d+)", prose.replace("\n# ", " "))
    (used,) = re.findall(r"^d_scaled = (\d+)", code, re.M)
    assert quoted == used


# --- Chapter 00 ---


def test_chapter_00_checks_what_it_says_the_path_length_sliders_show():
    # The prose said "below 1 the gradient vanishes faster; well above 1 it explodes instead
    # (try 3)" and "the attention line stays flat" with no number behind either.
    (path,) = CHAPTERS.glob("00_*.py")
    text = path.read_text(encoding="utf-8")
    (tried,) = re.findall(r"\(try (\d+)\)", text)
    cell = _code_cells(text)[_cell(_code_cells(text), "rnn_gradients(50, scale=1.0)")]
    names: dict = {}
    exec(compile(cell, "chapter 00", "exec"), names)  # noqa: S102 (the course's own cells)
    assert f"scale={float(tried)}" in cell
    assert names["large"][49] > names["large"][1]  # far tokens get more gradient: it explodes
    assert names["small"][49] < names["rnn"][49]

    explorer = widgets.PathLengthExplorer(length=50, scale=1.0)
    (tokens,) = [c for c in explorer.children[0].children if c.description == "tokens"]
    assert len(names["longest"]) == tokens.max  # the flat line checked at the slider's far end
