"""A thirteenth audit, of chapter 03 (queries, keys and values): two checkers and its prose.

The checkers: a positional encoding whose angles were converted to degrees (or to radians), and
attention scores computed as (q * k).sum(-1), one dot product per position, used to get a bare
"differs from the reference"; each now gets its own hint. Right answers must still pass.

The prose: what a learner's read of chapter 03 found said wrongly or left unsaid, each checked
against the chapter's own code (and, for the re-run, against the code run twice).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
import torch
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise
from transformer_course.tokenizer import tokenize

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))


def _mistake(exercise_name, mistake_name):
    found = [m for m in exercise(exercise_name).mistakes if m.name == mistake_name]
    assert found, f"{exercise_name} has no mistake {mistake_name!r}"
    return found[0]


def names(result, exercise_name, mistake_name):
    """Rejected with exactly that mistake's hint (first, as the harness puts it)."""
    hint = _mistake(exercise_name, mistake_name).hint
    assert result.status == WRONG, result
    assert result.message.startswith(hint), result.message


# --- Exercise 02: angles in degrees ---


def _encoding(length, d_model, *, convert=lambda a: a, loop=False):
    if loop:  # one entry at a time, with math
        pe = torch.zeros(length, d_model)
        for pos in range(length):
            for i in range(0, d_model, 2):
                angle = convert(pos / 10000 ** (i / d_model))
                pe[pos, i], pe[pos, i + 1] = math.sin(angle), math.cos(angle)
        return pe
    pos = torch.arange(length).float()[:, None]
    angle = convert(pos / 10000 ** (torch.arange(0, d_model, 2).float() / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


@pytest.mark.parametrize(
    ("convert", "loop", "mistake_name"),
    [
        (torch.rad2deg, False, "angles in degrees"),
        (lambda a: a * 180 / math.pi, False, "angles in degrees"),
        (math.degrees, True, "angles in degrees"),
        (torch.deg2rad, False, "angles turned into radians"),
        (math.radians, True, "angles turned into radians"),
    ],
    ids=["torch.rad2deg", "× 180/π", "math.degrees", "torch.deg2rad", "math.radians"],
)
def test_angles_converted_between_degrees_and_radians_are_named(convert, loop, mistake_name):
    result = checks.check_sinusoidal_encoding(lambda n, d: _encoding(n, d, convert=convert, loop=loop))
    names(result, "sinusoidal_encoding", mistake_name)
    assert "already in radians" in result.message


@pytest.mark.parametrize("loop", [False, True], ids=["tensors", "math, one entry at a time"])
def test_angles_in_radians_pass(loop):
    assert checks.check_sinusoidal_encoding(lambda n, d: _encoding(n, d, loop=loop)).status == PASSED


# --- Exercise 03: each query against its own position's key only ---


@pytest.mark.parametrize(
    "scores",
    [
        lambda q, k: (q * k).sum(-1),
        lambda q, k: (q * k).sum(dim=-1),
        lambda q, k: torch.diagonal(q @ k.T),
        lambda q, k: torch.einsum("id,id->i", q, k),
    ],
    ids=["(q * k).sum(-1)", "(q * k).sum(dim=-1)", "diagonal of q @ k.T", "einsum id,id->i"],
)
def test_one_dot_product_per_position_is_named(scores):
    result = checks.check_attention_scores(scores)
    names(result, "attention_scores", "each query against its own position's key")
    assert "q @ k.transpose(-2, -1)" in result.message and "expected shape" not in result.message


def test_every_pair_by_broadcasting_still_passes():
    fn = lambda q, k: (q.unsqueeze(-2) * k.unsqueeze(-3)).sum(-1)  # noqa: E731
    assert checks.check_attention_scores(fn).status == PASSED


# --- Chapter 03's prose against its code ---


def _chapter() -> str:
    (path,) = CHAPTERS.glob("03_*.py")
    return path.read_text(encoding="utf-8")


def _cells(text: str) -> list[str]:
    return re.split(r"^# %%", text, flags=re.M)[1:]


def _code_cells(text: str) -> list[str]:
    return [c.split("\n", 1)[1] for c in _cells(text) if not c.startswith(" [markdown]")]


def _markdown(text: str) -> str:
    """The chapter's prose cells, joined, each line's "# " dropped and line breaks read as spaces."""
    prose = "\n".join(c for c in _cells(text) if c.startswith(" [markdown]"))
    return re.sub(r"\s*\n#\s?", " ", prose)


def _cell(cells: list[str], line: str) -> int:
    (index,) = [i for i, c in enumerate(cells) if line in c]
    return index


def test_chapter_03_rerunning_the_projection_cell_keeps_the_scores_the_text_quotes():
    # Re-running the cell that draws W_Q, W_K, W_V (then the scores) used to draw new numbers:
    # the "as the text says" assert failed bare, and the quoted 0.93 and −36.93 went wrong.
    cells = _code_cells(_chapter())
    first, last = _cell(cells, "vocab = course_vocab()"), _cell(cells, "as the text says")
    names = {}
    for cell in cells[: last + 1]:
        exec(compile(cell, "chapter 03", "exec"), names)  # noqa: S102 (the course's own cells)
    quoted = names["scores"].clone()
    for cell in cells[first : last + 1]:  # a learner re-runs them, in order
        exec(compile(cell, "chapter 03 re-run", "exec"), names)  # noqa: S102
    assert torch.equal(names["scores"], quoted)


def test_chapter_03_names_only_functions_its_notebook_imports():
    text = _chapter()
    prose = _markdown(text)
    assert "`examples." not in prose  # `examples` itself is never imported
    (imported,) = re.findall(r"^from transformer_course\.examples import (.+)$", text, re.M)
    named = re.findall(r"`(\w+)\(\)`, from `transformer_course\.examples`", prose)
    assert sorted(named) == sorted(imported.split(", ")), named


def test_chapter_03_einsums_use_only_the_letters_its_table_explains():
    text = _chapter()
    prose = _markdown(text)
    explained = set(re.findall(r"\| \*\*(\w)\*\* \|", prose))
    assert explained == set("nqkhd"), explained
    equations = re.findall(r'"([a-z.,]+->[a-z.]+)"', text)
    table = re.findall(r"^# \|.*\(N,.*\| (\w+) \|$", text, re.M)  # the shapes table's letters
    assert len(equations) >= 3 and len(table) >= 6, (equations, table)
    used = set("".join(equations + table)) - set(".,->")
    assert used <= explained, sorted(used - explained)


def test_chapter_03_ties_its_three_names_for_a_heads_width_together():
    prose = _markdown(_chapter())
    (row,) = re.findall(r"\| \*\*d\*\* \|[^|]+\|", prose)
    assert "d<sub>k</sub>" in row and "`d_head`" in row and "`head_dim`" in row, row
    assert "√head_dim" not in prose and "√d<sub>k</sub> (`d_head` in the code)" in prose


def test_chapter_03_einsum_example_tells_queries_from_keys_by_their_lengths():
    # With 5 queries and 5 keys, (2, 3, 5, 5) cannot show which axis is which.
    text = _chapter()
    (q_len, k_len) = map(int, re.findall(r"^q_len, k_len = (\d+), (\d+)", text, re.M)[0])
    assert q_len != k_len
    assert "assert energy.shape == (n_batch, heads, q_len, k_len)" in text
    assert "values = torch.randn(n_batch, k_len, heads, d_head)" in text  # one value per key


def test_chapter_03_quotes_the_query_dimensions_as_its_code_names_them():
    text = _chapter()
    prose = _markdown(text)
    wanted = re.findall(r'^W_Q_cat\[\d, \d\] = 1\.0\s+# \w+ → "([^"]+)"', text, re.M)
    assert len(wanted) == 2, wanted
    assert all(f'*"{w}"*' in prose for w in wanted), wanted


def test_chapter_03_points_at_the_asymmetric_pair_by_the_index_its_assert_uses():
    text = _chapter()
    (row, col) = map(int, re.findall(r'"me" asking about "pizza" \(scores\[(\d), (\d)\]\)', text)[0])
    assert f"scores[{row}, {col}], scores[{col}, {row}]" in text
    assert "(row 1, column 3)" not in text
    tokens = tokenize(re.findall(r'^tokens = tokenize\("([^"]+)"\)', text, re.M)[0])
    assert (tokens[row], tokens[col]) == ("me", "pizza")
