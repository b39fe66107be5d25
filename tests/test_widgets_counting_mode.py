"""Explorers count layers as the learner indexes them, and leave the learner's objects as they were.

Counting: layers from 0, like heads and like ``model.encoder.layers[0]``, in every control, title
and the chapter prose that names them. Side effects: an explorer runs the learner's model in
evaluation mode without gradients, then hands it back in the mode it came in (a learner who
opens an explorer and trains on would otherwise train with dropout silently off), draws
nothing from torch's global random generator, and leaves the thread count, the parameters and
their device alone.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from transformer_course.attention import MultiHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.tokenizer import course_vocab
from transformer_course.widgets import (
    AttentionHistoryExplorer,
    HeadGridExplorer,
    ModelExplorer,
    WordOrderExplorer,
)
from transformer_course.widgets.kit import evaluating

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import course  # noqa: E402  (builds every explorer at its chapter's settings)

EXPLORERS = course.explorer_classes()


@pytest.fixture(scope="module")
def vocab():
    return course_vocab()


def chapter_model(vocab, *, encoder_layers=2, decoder_layers=3):
    """Chapter 07's explorer model (dropout 0.1), fresh: in training mode, as a learner builds it."""
    config = TransformerConfig(
        vocab_size=len(vocab),
        d_model=32,
        num_heads=4,
        num_encoder_layers=encoder_layers,
        num_decoder_layers=decoder_layers,
        d_ff=64,
        dropout=0.1,
        max_len=64,
    )
    return Transformer(config)


def title(explorer, view="attention") -> str:
    return explorer.figures[view].layout.title.text


# --- counting: layers from 0 --------------------------------------------------------------


def test_model_explorer_counts_layers_from_0_like_their_index(vocab):
    model = chapter_model(vocab)
    explorer = ModelExplorer(model, vocab, kind="encoder_self")
    layer = explorer.controls["layer"]
    assert (layer.min, layer.value, layer.max) == (0, 0, 1)  # 2 encoder layers: 0 and 1
    assert title(explorer).endswith("layer 0, head 0")
    src = vocab.encode("the pizza came out of the oven").unsqueeze(0)
    trg_in = vocab.encode("it tasted good", add_bos=True).unsqueeze(0)
    model.eval()
    for index in (0, 1):  # the slider's number is the index into model.encoder.layers
        layer.value = index
        with torch.no_grad():
            model(src, trg_in, need_weights=True)
        expected = model.encoder.layers[index].self_attn_weights[0, 0]
        torch.testing.assert_close(explorer.weights, expected)
        assert title(explorer).endswith(f"layer {index}, head 0")


def test_the_layer_slider_follows_the_stack_and_clamps_hostile_values(vocab):
    explorer = ModelExplorer(chapter_model(vocab), vocab)  # cross: 3 decoder layers
    layer = explorer.controls["layer"]
    assert layer.max == 2
    layer.value = 2
    explorer.controls["kind"].value = "encoder_self"  # 2 layers: the slider ends at 1
    assert (layer.max, layer.value) == (1, 1) and explorer.message.value == ""
    assert title(explorer).endswith("layer 1, head 0")
    for hostile, clamped in ((-5, 0), (10**9, 1)):
        layer.value = hostile
        assert layer.value == clamped and explorer.message.value == ""
        assert title(explorer).endswith(f"layer {clamped}, head 0")


def test_a_one_layer_model_has_only_layer_0(vocab):
    explorer = ModelExplorer(chapter_model(vocab, encoder_layers=1, decoder_layers=1), vocab)
    layer = explorer.controls["layer"]
    assert (layer.min, layer.value, layer.max) == (0, 0, 0)
    assert title(explorer).endswith("layer 0, head 0") and explorer.message.value == ""


def history_explorer() -> AttentionHistoryExplorer:
    """Two hand-made snapshots of a one-layer, two-head encoder on one 4-token sentence."""
    uniform = torch.full((1, 4), 0.25)
    snaps = {
        step: {
            "pointer": uniform,
            "encoder": torch.full((1, 2, 4, 4), 0.25),
            "wins": 0.5,
            "predicate": torch.tensor([0.3, 0.4]),
        }
        for step in (0, 10)
    }
    return AttentionHistoryExplorer(snaps, [["pizza", "and", "it", "tasted"]], [2], [0], [1])


def test_the_history_explorer_names_the_encoder_layer_by_its_index():
    explorer = history_explorer()
    assert title(explorer, "encoder").startswith("Encoder layer 0, head by head")


def chapter(prefix: str) -> str:
    (path,) = (ROOT / "chapters").glob(f"{prefix}_*.py")
    return path.read_text(encoding="utf-8")


def test_chapter_08_names_the_history_views_as_the_explorer_titles_them():
    explore = re.search(r"## Explore: watch the attention form(.*?)# %%", chapter("08"), re.S).group(1)
    named = re.findall(r"\*\*(Encoder layer \d+)\*\*", explore)
    assert named and all(title(history_explorer(), "encoder").startswith(n) for n in named)
    assert not re.search(r"encoder layer 1\b", chapter("08"), re.I)  # the pointer has layer 0 only


def test_chapter_07_tells_the_explorer_counts_layers_from_0():
    explore = re.search(r"## Explore: inside the model(.*?)# %% slideshow", chapter("07"), re.S).group(1)
    assert "layers[0]" in explore and "from 0" in explore


# --- side effects: the learner's objects come back as they were ----------------------------


def held_modules(explorer) -> list[torch.nn.Module]:
    """The learner's modules an explorer holds (its model, embedding, attention)."""
    return [m for m in vars(explorer).values() if isinstance(m, torch.nn.Module)]


def learner_state(modules) -> dict:
    """Everything an update must leave alone: each submodule's mode, every parameter's value and
    device, torch's global random state and its thread count."""
    return {
        "modes": [m.training for module in modules for m in module.modules()],
        "params": [p.detach().clone() for module in modules for p in module.parameters()],
        "devices": [p.device for module in modules for p in module.parameters()],
        "rng": torch.random.get_rng_state(),
        "threads": torch.get_num_threads(),
    }


def assert_same_state(before: dict, after: dict, what: str) -> None:
    assert after["modes"] == before["modes"], f"{what}: a module's train/eval mode changed"
    assert after["devices"] == before["devices"], f"{what}: a parameter moved"
    assert all(torch.equal(a, b) for a, b in zip(before["params"], after["params"])), f"{what}: weights"
    assert torch.equal(after["rng"], before["rng"]), f"{what}: drew from torch's global generator"
    assert after["threads"] == before["threads"], f"{what}: torch's thread count changed"


@pytest.fixture
def two_threads():
    """Torch on 2 threads, as a learner's kernel runs (the tests run on 1, where an explorer's
    switch to one thread would go unseen)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("cls", EXPLORERS, ids=[c.__name__ for c in EXPLORERS])
def test_every_explorer_leaves_the_learners_objects_as_they_were(cls, two_threads):
    explorer = course.build_explorer(cls)
    modules = held_modules(explorer)
    for module in modules:
        module.train()  # as a learner who trains on after opening the explorer has it
    before = learner_state(modules)
    explorer.refresh()
    assert_same_state(before, learner_state(modules), "refresh")
    for name, control in explorer.controls.items():
        value = course.other_value(control)
        if value is None:
            continue
        control.value = value
        assert_same_state(before, learner_state(modules), f"after moving {name}")


def test_the_model_explorer_hands_the_model_back_in_training_mode(vocab):
    model = chapter_model(vocab).train()
    explorer = ModelExplorer(model, vocab)
    assert model.training
    explorer.controls["layer"].value = 1
    assert model.training and all(m.training for m in model.modules())
    first = model(vocab.encode("the cat").unsqueeze(0), vocab.encode("it", add_bos=True).unsqueeze(0))
    again = model(vocab.encode("the cat").unsqueeze(0), vocab.encode("it", add_bos=True).unsqueeze(0))
    assert not torch.equal(first, again)  # dropout is on again for the learner's training


def test_a_part_the_learner_froze_in_eval_mode_stays_in_eval_mode(vocab):
    model = chapter_model(vocab).train()
    model.encoder.eval()  # the learner fine-tunes only the decoder
    ModelExplorer(model, vocab).controls["kind"].value = "decoder_self"
    assert model.training and model.decoder.training
    assert not any(m.training for m in model.encoder.modules())


def dropout_heads(d_model: int) -> MultiHeadAttention:
    torch.manual_seed(1)
    return MultiHeadAttention(d_model, 4, dropout=0.5).train()


def test_heads_with_dropout_show_their_own_weights_and_draw_nothing(vocab):
    attention = dropout_heads(16)
    explorer = HeadGridExplorer(vocab, TokenEmbedding(len(vocab), 16), attention)
    state = torch.random.get_rng_state()  # the embedding's initialisation drew; the explorer must not
    explorer.controls["text"].value = "the cat sat on the mat"
    assert torch.equal(torch.random.get_rng_state(), state)
    # Dropout would zero weights and scale the rest by 2: every row of every head sums to 1.
    torch.testing.assert_close(explorer.weights.sum(-1), torch.ones(4, 6))
    assert attention.training


def test_word_order_without_positions_moves_nothing_even_with_dropout(vocab):
    explorer = WordOrderExplorer(vocab, TokenEmbedding(len(vocab), 16, scale=False), dropout_heads(16))
    assert explorer.message.value == ""
    # Without positions every word gets the same output in A and B: a change of 0, not dropout's noise.
    assert float(explorer.changes.max()) < 1e-5
    assert explorer.attention.training


def test_evaluating_restores_each_flag_and_gradients_even_after_an_error():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)).train()
    model[0].eval()
    with pytest.raises(RuntimeError, match="inside"):
        with evaluating(model):
            assert not any(m.training for m in model.modules())
            assert not torch.is_grad_enabled()
            raise RuntimeError("inside")
    assert [m.training for m in model.modules()] == [True, False, True]
    assert torch.is_grad_enabled()
