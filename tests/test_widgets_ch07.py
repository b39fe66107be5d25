"""Chapter 07's ModelExplorer and depth figure: each control changes what it drives, bad
sentences become messages, the heatmap shows the model's real attention weights."""

import html

import pytest
import torch
from transformer_course.figures import depth_figure
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.tokenizer import course_vocab
from transformer_course.widgets import ModelExplorer, shapes_table


@pytest.fixture(scope="module")
def vocab():
    return course_vocab()


@pytest.fixture
def explorer(vocab):
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(vocab),
        d_model=32,
        num_heads=4,
        num_encoder_layers=2,
        num_decoder_layers=3,
        d_ff=64,
        dropout=0.1,
        max_len=64,
    )
    return ModelExplorer(Transformer(config), vocab)


def fig_json(explorer):
    return explorer.figures["attention"].to_json()


def test_starts_on_cross_attention_with_the_real_weights(explorer):
    assert explorer.message.value == ""
    # "it tasted good" behind <bos> → 4 queries; "the pizza came out of the oven" → 7 keys.
    assert explorer.weights.shape == (4, 7)
    v = explorer.vocab
    src = v.encode("the pizza came out of the oven").unsqueeze(0)
    trg_in = v.encode("it tasted good", add_bos=True).unsqueeze(0)
    explorer.model.eval()  # the explorer hands the model back in training mode: no dropout here
    explorer.model(src, trg_in, need_weights=True)
    cross = explorer.model.attention_weights()["cross"][0][0, 0]  # layer 0, sentence 0, head 0
    assert torch.allclose(explorer.weights, cross, atol=1e-6)
    fig = explorer.figures["attention"]
    assert torch.allclose(torch.tensor(fig.data[0].z, dtype=torch.float32), explorer.weights, atol=1e-6)
    assert "Cross" in fig.layout.title.text
    assert "font-weight:600" in explorer.views["shapes"].value  # the cross-attention row is highlighted


def test_heads_are_numbered_from_0_as_their_index_and_the_other_chapters_count(explorer):
    # Chapters 05 and 08 say "head 0" for weights[:, 0]; this explorer said "head 1" for it.
    labels = [label for label, _ in explorer.controls["head"].options]
    assert labels == ["mean of heads", "0", "1", "2", "3"]
    assert explorer.figures["attention"].layout.title.text.endswith("layer 0, head 0")
    explorer.controls["head"].value = 3
    assert explorer.figures["attention"].layout.title.text.endswith("head 3")


@pytest.mark.parametrize(
    "control,value",
    [
        ("kind", "encoder_self"),
        ("kind", "decoder_self"),
        ("layer", 2),
        ("head", 3),
        ("head", -1),
        ("source", "the cat sat on the table"),
        ("target", "it was good"),
    ],
)
def test_each_control_changes_the_heatmap(explorer, control, value):
    before = fig_json(explorer)
    explorer.controls[control].value = value
    assert explorer.message.value == ""
    assert fig_json(explorer) != before


def test_kinds_have_their_own_shapes_and_layer_range(explorer):
    explorer.controls["kind"].value = "encoder_self"
    assert explorer.weights.shape == (7, 7) and explorer.controls["layer"].max == 1
    explorer.controls["kind"].value = "decoder_self"
    assert explorer.weights.shape == (4, 4) and explorer.controls["layer"].max == 2
    assert explorer.weights.triu(1).abs().sum() == 0  # causal: no look at later tokens
    explorer.controls["layer"].value = 2
    explorer.controls["kind"].value = "encoder_self"  # layer 2 does not exist there
    assert explorer.controls["layer"].value == 1 and explorer.message.value == ""


def test_mean_of_heads_is_the_mean(explorer):
    explorer.controls["head"].value = -1
    mean = explorer.weights.clone()
    heads = []
    for h in range(4):
        explorer.controls["head"].value = h
        heads.append(explorer.weights.clone())
    assert torch.allclose(torch.stack(heads).mean(0), mean, atol=1e-6)


def test_shapes_table_follows_the_sentences(explorer):
    shapes = {stage: shape for stage, shape, _ in explorer.shapes}
    assert shapes["logits = output projection"] == (1, 4, len(explorer.vocab))
    explorer.controls["source"].value = "the dog saw the cat"
    shapes = {stage: shape for stage, shape, _ in explorer.shapes}
    assert shapes["cross-attention weights"] == (1, 4, 4, 5)
    assert "(1, 4, 4, 5)" in explorer.views["shapes"].value


@pytest.mark.parametrize(
    "box,text,words",
    [("source", "", "empty"), ("target", "  ", "empty"), ("source", "pizza " * 40, "at most")],
)
def test_bad_text_is_a_message(explorer, box, text, words):
    before = fig_json(explorer)
    explorer.controls[box].value = text
    assert words in explorer.message.value and "⚠" in explorer.message.value
    assert fig_json(explorer) == before


def test_unknown_words_are_named(explorer):
    explorer.controls["target"].value = "it was scrumptious"
    assert "scrumptious" in explorer.message.value


def test_bad_construction_raises(vocab):
    small = Transformer(
        TransformerConfig(
            vocab_size=10, d_model=8, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=16
        )
    )
    with pytest.raises(ValueError, match="vocab"):
        ModelExplorer(small, vocab)
    with pytest.raises(ValueError, match="model"):
        ModelExplorer(torch.nn.Linear(2, 2), vocab)


def test_shapes_table_and_depth_figure():
    html = shapes_table([("a <b>", (1, 2), "x & y")], highlight="a")
    assert "&lt;b&gt;" in html and "&amp;" in html and "font-weight:600" in html
    fig = depth_figure({"plain": torch.tensor([1e-6, 1e-3, 1.0]), "residual": torch.ones(3)}, title="t")
    assert [t.name for t in fig.data] == ["plain", "residual"] and fig.layout.yaxis.type == "log"
    with pytest.raises(ValueError, match="values"):
        depth_figure({})
    with pytest.raises(ValueError, match="plain"):
        depth_figure({"plain": torch.ones(2, 2)})


def test_a_typed_pad_is_explained(explorer):
    explorer.controls["source"].value = "the cat <pad> sat"
    explorer.controls["kind"].value = "encoder_self"
    assert float(explorer.weights[:, 2].abs().sum()) == 0.0  # no query attends to it
    message = html.unescape(explorer.message.value)
    assert "You typed <pad> in the source" in message and "its column is 0" in message
    explorer.controls["source"].value = "the cat sat"
    assert "<pad>" not in html.unescape(explorer.message.value)


def test_one_layer_stacks_are_counted_in_the_singular(vocab):
    config = TransformerConfig(
        vocab_size=len(vocab), d_model=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=1,
        d_ff=32, dropout=0.0, max_len=32,
    )  # fmt: skip
    ex = ModelExplorer(Transformer(config), vocab)
    table = ex.views["shapes"].value
    assert "(1 layer)" in table and "(1 layers)" not in table
