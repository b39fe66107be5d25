"""Chapter 06's MaskExplorer: toggles and the sentence picker change the views; bad input is a message."""

import html

import pytest
import torch
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.tokenizer import course_vocab
from transformer_course.widgets import MaskExplorer
from widget_state import changed


def snapshot(explorer):
    shown = {name: fig.to_json() for name, fig in explorer.figures.items()}
    shown["batch"] = explorer.views["batch"].value
    return shown


@pytest.fixture
def explorer():
    vocab = course_vocab()
    return MaskExplorer(vocab, TokenEmbedding(len(vocab), 16, scale=False), SingleHeadAttention(16))


def z(explorer, view):
    return torch.tensor(explorer.figures[view].data[0].z, dtype=torch.float)


def test_starts_causal_and_padded(explorer):
    # "I love deep learning" padded to 6: lower triangle over the 4 real keys.
    want = torch.ones(6, 6).tril()
    want[:, 4:] = 0
    assert torch.equal(z(explorer, "mask"), want)
    weights = z(explorer, "weights")
    assert torch.allclose(weights.sum(-1), torch.ones(6), atol=1e-5)
    assert weights[:, 4:].abs().max() == 0 and weights.triu(1).abs().max() == 0
    assert "&lt;pad&gt;" in explorer.views["batch"].value and "Sentence 0" in explorer.message.value


def test_causal_toggle(explorer):
    before = snapshot(explorer)
    explorer.controls["causal"].value = False
    assert changed(before, snapshot(explorer)) == {"mask", "scores", "weights"}
    assert z(explorer, "mask")[0, :4].tolist() == [1, 1, 1, 1]  # the first word sees the future


def test_padding_toggle(explorer):
    before = snapshot(explorer)
    explorer.controls["padding"].value = False
    assert changed(before, snapshot(explorer)) == {"mask", "scores", "weights"}
    assert z(explorer, "mask")[5].tolist() == [1] * 6  # the last pad sees every key


def test_both_off_is_no_mask(explorer):
    explorer.controls["causal"].value = False
    explorer.controls["padding"].value = False
    assert explorer.mask is None and z(explorer, "mask").min() == 1
    assert explorer.figures["mask"].layout.title.text == "Mask: no mask"


def test_sentence_picker(explorer):
    before = snapshot(explorer)
    explorer.controls["sentence"].value = 1
    assert changed(before, snapshot(explorer)) == {"batch", "mask", "scores", "weights"}
    assert list(explorer.figures["mask"].layout.xaxis.ticktext) == ["the", "cat", "sat"] + ["<pad>"] * 3


def test_sentences_change_every_view_and_the_picker_follows(explorer):
    explorer.controls["sentence"].value = 2
    before = snapshot(explorer)
    explorer.controls["sentences"].value = "the dog ran home\nhello"
    assert changed(before, snapshot(explorer)) == {"batch", "mask", "scores", "weights"}
    assert explorer.controls["sentence"].max == 1 and explorer.controls["sentence"].value == 1
    assert explorer.weights.shape == (2, 4, 4)
    assert "hello" in explorer.message.value and "unk" in explorer.message.value


def test_masked_scores_are_blank_where_blocked(explorer):
    scores, mask = z(explorer, "scores"), z(explorer, "mask")
    assert torch.isnan(scores[mask == 0]).all() and not torch.isnan(scores[mask == 1]).any()


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("\n  \n", "empty"),
        ("\n".join(["the cat"] * 7), "at most 6"),
        ("the cat\n" + "pizza " * 20, "sentence on line 2 has 20 tokens"),
    ],
)
def test_bad_batch_is_a_message(explorer, text, words):
    before = snapshot(explorer)
    explorer.controls["sentences"].value = text
    assert words in explorer.message.value and "⚠" in explorer.message.value
    assert snapshot(explorer) == before
    explorer.controls["sentences"].value = "the cat sat"
    assert "⚠" not in explorer.message.value


def test_a_typed_pad_is_masked_and_the_explorer_says_why(explorer):
    """<pad> typed as a word has the padding's id: the padding mask hides it (as it would in
    a model), and a note says so instead of leaving the learner to wonder."""
    explorer.controls["sentences"].value = "the <pad> cat\nI love deep learning"
    message = html.unescape(explorer.message.value)
    assert "You typed <pad> in sentence 0" in message and "⚠" not in message
    assert not bool(explorer.mask[0, :, 1].any())  # nobody may attend to the typed <pad>…
    assert float(explorer.weights[0, :, 1].abs().max()) == 0.0  # …so it gets no weight
    explorer.controls["padding"].value = False  # without the padding mask it is a token again
    assert float(explorer.weights[0, 2, 1]) > 0.0
    assert "the padding mask (off now) would hide it" in html.unescape(explorer.message.value)
    explorer.controls["sentences"].value = "<pad> cat\nthe <pad>\nI love deep learning"
    assert "You typed <pad> in sentences 0 and 1" in html.unescape(explorer.message.value)
    explorer.controls["sentences"].value = "the cat sat"
    assert "You typed" not in explorer.message.value


def test_a_query_that_may_see_nothing_gets_zero_weights_and_a_note(explorer):
    explorer.controls["sentences"].value = "<pad> <pad>\nthe cat"
    assert "2 queries ('<pad>', '<pad>') may see no key" in html.unescape(explorer.message.value)
    assert torch.equal(explorer.weights[0], torch.zeros(2, 2))  # not NaN
    explorer.controls["padding"].value = False
    assert "may see no key" not in explorer.message.value
