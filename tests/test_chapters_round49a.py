"""Chapters 00, 03, 04, 05 and 06 read by learners, round 49: what their prose says, checked.

00: the RNN and the attention layer were said to read "the same 50 tokens" but draw theirs
from different seeds (the RNN's W takes the seed's stream); W, a reflection, was called "a
rotation". 03: "`head_dim` in the table"
pointed at a table without it. 04: "a standard deviation near 1" where the explorer prints
0.53 to 0.94. 05: "the first two" heads, where head numbers depend on the seed. 06: "Left to
right: the mask, …" left out the first of four panels; the recap gave `(src != pad_idx)` the
shape it has only after two unsqueezes.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
from pathlib import Path

import pytest
import torch
from transformer_course import recurrence, widgets
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.neighbours import JOBS
from transformer_course.tokenizer import course_vocab

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))
NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5}


def chapter(prefix: str) -> str:
    (path,) = CHAPTERS.glob(f"{prefix}_*.py")
    return path.read_text(encoding="utf-8")


def cells(text: str) -> list[str]:
    return re.split(r"^# %%", text, flags=re.M)[1:]


def prose(cell: str) -> str:
    """A markdown cell's text: each line's "# " dropped, line breaks read as spaces."""
    return re.sub(r"\s*\n#\s*", " ", cell.split("\n", 1)[1]).strip()


def markdown_with(text: str, words: str) -> str:
    (found,) = [prose(c) for c in cells(text) if c.startswith(" [markdown]") and words in prose(c)]
    return found


def run_code_cells(text: str, until: str) -> dict:
    """Every code cell of the chapter, top to bottom, up to and with the one holding ``until``."""
    names: dict = {}
    for cell in cells(text):
        if cell.startswith(" [markdown]"):
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(cell.split("\n", 1)[1], "chapter", "exec"), names)  # noqa: S102 (the course's cells)
        if until in cell:
            return names
    raise AssertionError(f"no code cell holds {until!r}")


# --- 00: the RNN and attention measured on the same tokens ---


def _tokens_read(monkeypatch, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The tokens rnn_gradients and attention_gradients measure, as chapter 00 calls them."""
    seen = []
    measure = recurrence._by_distance
    monkeypatch.setattr(recurrence, "_by_distance", lambda x: seen.append(x.detach().clone()) or measure(x))
    recurrence.rnn_gradients(length, scale=1.0)
    recurrence.attention_gradients(length)
    return seen[0], seen[1]


def test_chapter_00_says_the_same_tokens_only_if_both_measures_read_them(monkeypatch):
    text = markdown_with(chapter("00"), "### A real RNN, measured")
    (length,) = set(re.findall(r"reads (\d+) random token vectors", text))
    rnn_tokens, attention_tokens = _tokens_read(monkeypatch, int(length))
    same = torch.equal(rnn_tokens, attention_tokens)
    assert same == (f"the same {length} tokens" in text), f"the tokens are {'' if same else 'not '}the same"
    if not same:  # then the prose says they are other ones
        assert re.search(rf"reads {length} other random token vectors", text)


def test_chapter_00_quotes_the_power_of_ten_its_rnn_prints():
    text = chapter("00")
    names = run_code_cells(text, "rnn_gradients(50, scale=1.0)")
    power = round(math.log10(float(names["rnn"][49] / names["rnn"][1])))
    said = re.findall(r"10⁻(\S+?) times the one from the", re.sub(r"\s*\n#\s*", " ", text))
    superscripts = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
    assert len(said) == 2 and {-int(s.translate(superscripts)) for s in said} == {power}  # cell and recap


def test_chapter_00_calls_w_orthogonal_since_it_can_be_a_reflection():
    dets = [float(torch.linalg.det(recurrence.tiny_rnn(16, seed=s).weight_hh_l0.detach())) for s in (0, 1)]
    assert all(d == pytest.approx(-1.0) for d in dets)  # QR's Q: det −1 here, a reflection
    sentence = markdown_with(chapter("00"), "W here stretches nothing")
    (why,) = re.findall(r"W here stretches nothing \(([^)]*)\)", sentence)
    assert "orthogonal" in why and "reflection" in why


# --- 03: the table that names head_dim ---


def test_chapter_03_points_at_the_table_that_names_head_dim():
    text = chapter("03")
    (row,) = [line for line in text.splitlines() if line.startswith("# | **d** |")]
    assert "shapes table below: `head_dim`" in row
    letters = text.index(row)
    shapes = text.index("## Shapes along the way")
    assert shapes > letters and "head_dim" in text[shapes:].split("# %%", 2)[0]
    assert text[: text.index(row)].count("head_dim") == 0  # named nowhere before the row


# --- 04: the spread the explorer prints ---


@pytest.fixture(scope="module")
def chapter_04_explorer():
    """The chapter's own explorer cell, after the cells before it: the embedding it uses."""
    names = run_code_cells(chapter("04"), "widgets.ScalingExplorer(")
    text = "the pizza came out of the oven and it tasted good"
    return widgets.ScalingExplorer(names["vocab"], names["unit_embed"], text, d_k=64, scaled=True)


def _stds(explorer, scaled: bool) -> dict[int, tuple[float, float]]:
    """d_k → (raw std, std after the division), as the line under the controls prints them."""
    explorer.controls["scaled"].value = scaled
    out = {}
    for d_k in explorer.D_KS:
        explorer.controls["d_k"].value = d_k
        raw, shown = re.search(r"std (\d+\.\d+) .*→ std (\d+\.\d+)", explorer.message.value).groups()
        out[d_k] = float(raw), float(shown)
    return out


def test_chapter_04_explorer_prose_gives_the_range_of_spreads_the_line_prints(chapter_04_explorer):
    said = markdown_with(chapter("04"), "Tick it again")
    low, high = map(float, re.search(r"between about ([\d.]+) and ([\d.]+) for this sentence", said).groups())
    scaled = [shown for _, shown in _stds(chapter_04_explorer, scaled=True).values()]
    assert low - 0.05 <= min(scaled) and max(scaled) <= high  # "about": 0.53 against 0.5
    unscaled = _stds(chapter_04_explorer, scaled=False)
    (grown,) = re.findall(r"unscaled it grows to (\d+) at d<sub>k</sub> = (\d+)", said)
    assert round(unscaled[int(grown[1])][1]) == int(grown[0])
    raw, predicted, d_k = re.search(r"([\d.]+) rather than (\d+) at d<sub>k</sub> = (\d+)", said).groups()
    assert f"{unscaled[int(d_k)][0]:.1f}" == raw and math.sqrt(int(d_k)) == int(predicted)


# --- 05: heads named by their job ---


def test_chapter_05_names_the_heads_on_the_diagonal_by_their_job():
    said = markdown_with(chapter("05"), "on** the diagonal")
    assert "first two" not in said.lower()  # head numbers follow the seed, not the prose's order
    (who,) = re.findall(r"The ([\w\- ]+?) heads also keep a share", said)
    assert JOBS[0] in who and JOBS[1] in who and JOBS[2] not in who


# --- 06: the explorer's panels and the padding mask's shape ---


def test_chapter_06_explorer_prose_names_every_panel_in_order():
    said = markdown_with(chapter("06"), "## Explore: masks on a batch")
    count, order = re.search(r"The (\w+) panels, in reading order: (.*?)\. ", said).groups()
    vocab = course_vocab()
    explorer = widgets.MaskExplorer(vocab, TokenEmbedding(len(vocab), 8), SingleHeadAttention(8))
    assert NUMBERS[count] == len(explorer.views)
    parts = re.sub(r"\s*\([^)]*\)", "", order).split(", ")  # "the padded batch", "its mask", …
    assert len(parts) == len(explorer.views) and all(v in p for v, p in zip(explorer.views, parts)), parts


def test_chapter_06_recap_gives_the_padding_mask_its_shape_before_and_after_the_unsqueezes():
    said = markdown_with(chapter("06"), "## Recap")
    src = torch.tensor([[5, 6, 0], [7, 0, 0]])
    assert (src != 0).dim() == 2 and (src != 0).unsqueeze(1).unsqueeze(2).dim() == 4
    assert "`(src != pad_idx)` is (batch, src_len)" in said
    assert re.search(r"`\.unsqueeze\(1\)\.unsqueeze\(2\)` it has shape \(batch, 1, 1, src_len\)", said)
