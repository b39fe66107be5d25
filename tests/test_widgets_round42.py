"""Round 42 of hostile input for the explorers: a learner's module on the meta device.

A module on the meta device keeps its weights' shapes and no values (``torch.device("meta")``,
as a model built to be loaded later is). Before, an explorer drew it as any other: a CPU tensor
times a meta weight gives CPU numbers read from uninitialised memory, so QKV, the head grid, word
order and the masks drew made-up scores with no word ("'i'm' scores highest against 'with'
(32768.60)"); a meta embedding or model failed deep inside as "Could not update the figures
(ValueError: ids must hold data, got a meta tensor …)", blaming the ids. Now one line names the
module, its first weight and what to do; the last good figures stay, and once the module has
real weights again the next change draws as before.

The kit's own test (tests/test_widgets_kit.py) keeps a spy embedding on the meta device that
answers with CPU vectors: it still draws, since nothing fails there.

A table of shapes (``shapes_table``: chapter 07) keeps each shape on one line: its cell said
nowrap, but JupyterLab's rendered HTML sets code to pre-wrap, which won, and in a phone's window
"(1, 4, 7, 7)" broke after its commas (tests/browser/test_export_round42.py sees it drawn).
"""

import re

import pytest
import torch
from test_widgets_fuzz import is_error, shown, text_of
from test_widgets_fuzz_fourth import restore, tracebacks
from test_widgets_fuzz_round41 import WITH_MODULES, _modules, _move_a_control, build
from transformer_course.widgets import kit, shapes_table

# Each explorer that runs a learner's module, with each module it holds, one at a time.
CASES = [(name, attr) for name in WITH_MODULES for attr in _modules(build(name))]


@pytest.mark.parametrize(("name", "attr"), CASES)
def test_a_module_moved_to_the_meta_device_is_named_and_the_last_figures_stay(name, attr):
    explorer = build(name)
    before, good = shown(explorer), {n: c.value for n, c in explorer.controls.items()}
    module = getattr(explorer, attr)
    saved = {k: v.clone() for k, v in module.state_dict().items()}
    module.to("meta")
    _move_a_control(explorer)
    message = text_of(explorer)
    assert is_error(explorer), f"{name}: drew a meta {attr} with no word: {message!r}"
    assert "meta device" in message and f"{attr}." in message, message
    assert "Could not update" not in message, message
    assert shown(explorer) == before and not tracebacks(explorer)
    module.to_empty(device="cpu")  # real weights again: the same values draw as before
    module.load_state_dict(saved)
    restore(explorer, good)
    assert not is_error(explorer), text_of(explorer)
    assert shown(explorer) == before


@pytest.mark.parametrize(("name", "attr"), CASES)
def test_an_explorer_built_around_a_meta_module_says_so(name, attr):
    """Built with the module already on the meta device: a message, no made-up figure."""
    explorer = build(name)
    module = getattr(explorer, attr)
    module.to("meta")
    explorer.refresh()  # as a constructor does: the first draw
    message = text_of(explorer)
    assert is_error(explorer) and "meta device" in message and attr in message, message


def test_meta_problem_names_the_first_meta_weight_only():
    layer = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    assert kit.meta_problem("model", layer) is None and kit.meta_problem("model", "not a module") is None
    layer[1].to("meta")
    problem = kit.meta_problem("model", layer)
    assert "model.1.weight" in problem and "to_empty" in problem, problem


def test_every_shape_in_a_table_of_shapes_is_kept_on_one_line():
    rows = [("src ids", (1, 7), "source tokens"), ("cross-attention weights", (1, 4, 5, 7), "per layer")]
    table = shapes_table(rows, highlight="cross")
    codes = re.findall(r"<code([^>]*)>([^<]*)</code>", table)
    assert [text for _, text in codes] == ["(1, 7)", "(1, 4, 5, 7)"], codes
    assert all("white-space:nowrap" in attrs for attrs, _ in codes), codes
