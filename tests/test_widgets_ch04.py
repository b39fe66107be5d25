"""Chapter 04's ScalingExplorer: temperature, scaling and d_k change the heatmap and the entropies."""

import math

import pytest
import torch
from transformer_course.embeddings import TokenEmbedding
from transformer_course.softmax import entropy
from transformer_course.tokenizer import course_vocab
from transformer_course.widgets import ScalingExplorer
from widget_state import changed, snapshot


@pytest.fixture
def explorer():
    vocab = course_vocab()
    return ScalingExplorer(vocab, TokenEmbedding(len(vocab), 32, scale=False))


def test_starts_with_rows_that_sum_to_one(explorer):
    assert "⚠" not in explorer.message.value and "std" in explorer.message.value
    assert torch.allclose(explorer.weights.sum(-1), torch.ones(11), atol=1e-6)
    assert torch.allclose(explorer.entropies, entropy(explorer.weights))
    assert len(explorer.figures["weights"].data[0].z) == 11


@pytest.mark.parametrize("control, value", [("temperature", 3.0), ("scaled", False), ("d_k", 256)])
def test_each_control_changes_both_views(explorer, control, value):
    before = snapshot(explorer)
    explorer.controls[control].value = value
    assert changed(before, snapshot(explorer)) == {"weights", "entropy"}


def test_hotter_is_flatter_and_colder_is_sharper(explorer):
    explorer.controls["temperature"].value = 10.0
    hot = explorer.entropies.mean()
    explorer.controls["temperature"].value = 0.1
    cold = explorer.entropies.mean()
    assert hot > 0.9 * math.log(11) and cold < hot


def test_without_scaling_large_d_k_saturates(explorer):
    explorer.controls["d_k"].value = 512
    scaled = explorer.entropies.mean()
    explorer.controls["scaled"].value = False
    assert explorer.weights.amax(-1).mean() > 0.8
    assert explorer.entropies.mean() < scaled / 2
    assert "not scaled" in explorer.message.value


def test_projections_are_deterministic(explorer):
    first = explorer.weights.clone()
    explorer.controls["d_k"].value = 8
    explorer.controls["d_k"].value = 64
    assert torch.equal(first, explorer.weights)


@pytest.mark.parametrize("text, words", [("", "empty"), ("it " * 40, "at most")])
def test_bad_text_is_a_message(explorer, text, words):
    before = snapshot(explorer)
    explorer.controls["text"].value = text
    assert words in explorer.message.value and "⚠" in explorer.message.value
    assert snapshot(explorer) == before
    explorer.controls["temperature"].value = 2.0  # other controls still fail politely
    assert "⚠" in explorer.message.value and snapshot(explorer) == before
    explorer.controls["text"].value = "the oven was hot"
    assert "⚠" not in explorer.message.value


def test_one_token_has_a_spread_of_zero_not_nan(explorer, recwarn):
    explorer.controls["text"].value = "pizza"
    assert "std 0.0" in explorer.message.value and "nan" not in explorer.message.value
    assert not [w for w in recwarn if "degrees of freedom" in str(w.message)]
    assert explorer.weights.shape == (1, 1) and float(explorer.weights) == 1.0


def test_bad_d_k_argument_is_named():
    vocab = course_vocab()
    with pytest.raises(ValueError, match="d_k must be one of"):
        ScalingExplorer(vocab, TokenEmbedding(len(vocab), 8, scale=False), d_k=3)
