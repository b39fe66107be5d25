"""A twelfth audit, of chapter 05 (multi-head attention): its checker and its prose.

The checker: a function that reads the notebook's own ``h`` (2) instead of its ``num_heads``
argument, or scales by the notebook's √d_head (√4) on every input, or computes the scores as
k @ qᵀ, used to get "differs from the reference"; each now gets its own hint. Scaling q by hand
before ``F.scaled_dot_product_attention`` (which scales again) is told it scaled twice. The hints
that name a head's columns end the range at (i+1)·d_head − 1, as chapter 05 does. Right answers
written another way must still pass.

The prose: what a learner's read of chapter 05 found said wrongly or left unsaid, each checked
against the chapter's own code.
"""

from __future__ import annotations

import ast
import math
import os
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformer_course import checks
from transformer_course.checks import PASSED, WRONG, exercise
from transformer_course.checks.multi_head_learners import NOTEBOOK_D_HEAD, NOTEBOOK_H

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))

# chapter 05's own cells, as a learner's function finds them in the notebook
h, d_model, d_head = 2, 12, 6

NEW = ["the notebook's h", "the notebook's d_head in the scale", "keys times queries"]


def _mistake(mistake_name):
    found = [m for m in exercise("multi_head_attention").mistakes if m.name == mistake_name]
    assert found, f"multi_head_attention has no mistake {mistake_name!r}"
    return found[0]


def names(result, mistake_name):
    """Rejected with exactly that mistake's hint (first, as the harness puts it), and no other's."""
    hint = _mistake(mistake_name).hint
    assert result.status == WRONG, result
    assert result.message.startswith(hint), result.message
    others = {m.hint for m in exercise("multi_head_attention").mistakes} - {hint}
    assert not [o for o in others if o in result.message], result.message


@pytest.mark.parametrize("mistake_name", NEW)
def test_each_new_mistake_gets_its_own_hint(mistake_name):
    names(checks.check_multi_head_attention(_mistake(mistake_name).example), mistake_name)


# --- The same mistakes, written the way the learner's read wrote them ---


def _mha(x, w_q, w_k, w_v, w_o, num_heads, *, scale=None, keys_first=False):
    b, length, width = x.shape
    size = width // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, size).transpose(1, 2) for w in (w_q, w_k, w_v))
    scores = k @ q.transpose(-2, -1) if keys_first else q @ k.transpose(-2, -1)
    weights = torch.softmax(scores / (math.sqrt(size) if scale is None else scale), dim=-1)
    return (weights @ v).transpose(1, 2).reshape(b, length, width) @ w_o


def test_the_notebooks_h_instead_of_num_heads_is_named():
    result = checks.check_multi_head_attention(
        lambda x, w_q, w_k, w_v, w_o, num_heads: _mha(x, w_q, w_k, w_v, w_o, h)
    )
    names(result, "the notebook's h")
    assert "num_heads argument" in result.message


def test_the_notebooks_d_head_in_the_scale_only_is_named():
    fn = lambda x, w_q, w_k, w_v, w_o, num_heads: _mha(
        x, w_q, w_k, w_v, w_o, num_heads, scale=math.sqrt(d_head)
    )  # noqa: E731
    result = checks.check_multi_head_attention(fn)
    names(result, "the notebook's d_head in the scale")
    assert "√6 on every input" in result.message


def test_keys_times_queries_is_named():
    fn = lambda *args: _mha(*args, keys_first=True)  # noqa: E731
    names(checks.check_multi_head_attention(fn), "keys times queries")


def test_scaling_before_the_fused_kernel_is_told_it_scaled_twice():
    def scales_twice(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, width = x.shape
        q, k, v = ((x @ w).view(b, length, num_heads, -1).transpose(1, 2) for w in (w_q, w_k, w_v))
        out = F.scaled_dot_product_attention(q / math.sqrt(width // num_heads), k, v)  # and again inside
        return out.transpose(1, 2).reshape(b, length, width) @ w_o

    result = checks.check_multi_head_attention(scales_twice)
    names(result, "÷ d_head")
    assert "scaled twice" in result.message and "F.scaled_dot_product_attention" in result.message


@pytest.mark.parametrize(
    "scale",
    [None, "float", "q.shape"],
    ids=["math.sqrt(d_model // num_heads)", "math.sqrt(d_model / num_heads)", "q.shape[-1] ** 0.5"],
)
def test_right_answers_that_compute_their_own_scale_pass(scale):
    def answer(x, w_q, w_k, w_v, w_o, num_heads):
        root = {None: None, "float": math.sqrt(x.shape[-1] / num_heads)}.get(scale)
        if scale == "q.shape":
            root = (x.shape[-1] // num_heads) ** 0.5
        return _mha(x, w_q, w_k, w_v, w_o, num_heads, scale=root)

    assert checks.check_multi_head_attention(answer).status == PASSED


def test_the_fused_kernel_unscaled_passes():
    def fused(x, w_q, w_k, w_v, w_o, num_heads):
        b, length, width = x.shape
        q, k, v = ((x @ w).view(b, length, num_heads, -1).transpose(1, 2) for w in (w_q, w_k, w_v))
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, length, width) @ w_o

    assert checks.check_multi_head_attention(fused).status == PASSED


def test_hints_end_a_heads_columns_at_one_before_the_next_heads():
    # "columns i·d_head … (i+1)·d_head" read inclusively is one column too many; chapter 05
    # writes "0 … d_head−1" for head 0.
    hints = [m.hint for m in exercise("multi_head_attention").mistakes]
    ranges = [r for hint in hints for r in re.findall(r"i·d_head … \(i\+1\)·d_head( − 1)?", hint)]
    assert ranges, "no hint names a head's columns any more"
    assert all(ranges), hints


# --- Chapter 05's prose against its code ---


def _chapter() -> str:
    (path,) = CHAPTERS.glob("05_*.py")
    return path.read_text(encoding="utf-8")


def _markdown(text: str) -> str:
    """The chapter's prose cells, joined, each line's "# " dropped and line breaks read as spaces."""
    cells = re.split(r"^# %%", text, flags=re.M)
    prose = "\n".join(c for c in cells if c.startswith(" [markdown]"))
    return re.sub(r"\s*\n#\s?", " ", prose)


def test_chapter_05_numbers_heads_from_zero_like_its_code():
    prose = _markdown(_chapter())
    assert r"\text{head}_1" not in prose and r"\text{head}_h)" not in prose
    assert r"\text{Concat}(\text{head}_0, …, \text{head}_{h-1})" in prose
    assert "numbered 0 … h−1" in prose


def test_chapter_05_says_each_heads_d_k_is_d_head():
    assert "each head's d<sub>k</sub> is d<sub>head</sub>" in _markdown(_chapter())


def test_chapter_05_exercise_ends_head_is_columns_one_before_the_next_heads():
    prose = _markdown(_chapter())
    assert "(i+1)·d<sub>head</sub>−1" in prose and "`w_q[:, i*d_head:(i+1)*d_head]`" in prose
    assert not re.search(r"\(i\+1\)·d<sub>head</sub> of", prose)


def test_chapter_05_says_the_untrained_grid_has_its_w_q_scaled_by_the_factor_the_code_uses():
    text = _chapter()
    (factor,) = re.findall(r"grid_mha\.q_proj\.weight\.mul_\((\d+)\)", text)
    assert f"W<sub>Q</sub> multiplied by {factor}" in _markdown(text)


def test_chapter_05_says_the_neighbour_model_adds_positions_and_skips_missing_answers():
    prose = _markdown(_chapter())
    assert "sinusoidal positions" in prose and "nothing around it" not in prose
    assert "not scored" in prose


def test_chapter_05_counts_the_biases_in_the_recap_and_the_code_checks_them():
    text = _chapter()
    assert "4 · d<sub>model</sub> biases" in _markdown(text)
    assert "assert set(biased.values()) == {4 * d * d + 4 * d}" in text


def test_chapter_05_calls_the_tutorials_divisor_an_extra_factor():
    prose = _markdown(_chapter())
    assert "more than the paper intends" not in prose and "extra factor √heads" in prose


def test_chapter_05_accounts_for_the_weight_a_neighbour_head_keeps_on_itself():
    text = _chapter()
    assert "keep a share **on** the diagonal" in _markdown(text)
    assert "itself: {itself[h_i]:.2f}" in text and "elsewhere:" in text  # printed for every head
    assert "assert (itself[neighbour_heads] > 0.05).all()" in text
    assert "the position itself" in text  # a bar in the chart too
    assert "Where each trained head looks" not in text


_EARLY_NAMES = {"x", "h", "d_model", "d_head", "out", "B", "L", "w_q", "w_k", "w_v", "w_o", "q", "k", "v"}


def test_chapter_05_cells_after_the_exercise_keep_the_names_the_earlier_cells_use():
    # Re-running the solution cell (or any cell up to it) after the later ones used to fail:
    # the lib's check and the pizza grid overwrote x, h and d_model with their own.
    text = _chapter()
    later = text[text.index("## The lib's `MultiHeadAttention`") :]
    assigned = {
        t.id
        for node in ast.walk(ast.parse(later))
        if isinstance(node, ast.Assign)
        for target in node.targets
        for t in ast.walk(target)
        if isinstance(t, ast.Name)
    }
    assert not assigned & _EARLY_NAMES, sorted(assigned & _EARLY_NAMES)


def test_chapter_05_prints_the_last_doubling_it_compares_with_l_squared():
    text = _chapter()
    assert "even faster than L²" in _markdown(text)
    assert "(as L² grows: × {(long / short) ** 2:.0f})" in text  # the learner's own numbers


def test_the_checkers_notebook_sizes_are_chapter_05s():
    # The hints quote them ("the notebook's h = 2", "√6 on every input"), and the mistakes
    # compute with them: they must be the sizes the chapter's cells define.
    (line,) = re.findall(r"^B, L, d_model, h = 1, len\(tokens\), (\d+), (\d+)", _chapter(), re.M)
    width, heads = map(int, line)
    assert (NOTEBOOK_H, NOTEBOOK_D_HEAD) == (heads, width // heads) == (h, d_head)
