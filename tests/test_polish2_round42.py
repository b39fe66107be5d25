"""Round 42's second polish, on the Python side (tests/browser/test_polish2_round42.py looks).

- An explorer's views asked for columns of 420 px at least (kit.Explorer's grid), wider than a
  phone's window: course.css had to override it on a page. The grid now asks for
  ``min(420px, 100%)``, as the offline export's snapshots do (export/snapshot.py).
- Chapter 08's GenerationExplorer kept its "source" box's label in a 130 px column, right-aligned,
  in a 260 px box: the label now takes the room its word needs, as the sliders' labels do.
"""

from __future__ import annotations

import pytest
import torch
from transformer_course.data import sequence_task
from transformer_course.export import snapshot
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.widgets import GenerationExplorer


@pytest.fixture(scope="module")
def explorer():
    task = sequence_task("reverse", num_symbols=8, min_len=3, max_len=6, num_train=40, num_test=5, seed=0)
    config = TransformerConfig(
        vocab_size=len(task.vocab),
        d_model=16,
        num_heads=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        d_ff=32,
        dropout=0.0,
        max_len=16,
    )
    torch.manual_seed(0)
    return GenerationExplorer(Transformer(config), task, text="3 1 4 1 5")


def views_grid(explorer):
    return next(child for child in explorer.children if child.layout.grid_template_columns)


def test_the_views_columns_are_never_wider_than_the_explorer(explorer):
    columns = views_grid(explorer).layout.grid_template_columns
    assert "minmax(min(420px, 100%), 1fr)" in columns, columns
    # The export's snapshots lay the views out by the same rule.
    assert columns.replace(" ", "") in snapshot._VIEWS_GRID, (columns, snapshot._VIEWS_GRID)


def test_the_source_box_label_takes_the_room_of_its_word(explorer):
    box = explorer.controls["text"]
    assert box.description == "source"
    assert box.style.description_width == "initial", box.style.description_width
    assert box.layout.width == "260px"  # the box keeps its width: the row at 1280 px is unchanged
