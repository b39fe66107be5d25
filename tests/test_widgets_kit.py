"""The explorer kit: notes, the sentence base, and where the ids go (the model's device).

Without a GPU the device is checked with a spy embedding whose table lives on the ``meta``
device: it records where the ids arrive and answers with CPU vectors, so the rest of the
explorer runs as usual. On a machine with CUDA, every sentence explorer also runs for real.
"""

import ipywidgets as w
import pytest
import torch
from torch import nn
from transformer_course import widgets
from transformer_course.attention import MultiHeadAttention, SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.model import Transformer, TransformerConfig, shape_trace
from transformer_course.tokenizer import course_vocab, tokenize
from transformer_course.widgets import Explorer, ModelExplorer, SentenceExplorer

META = torch.device("meta")


@pytest.fixture(scope="module")
def vocab():
    return course_vocab()


class MetaSpyEmbedding(nn.Module):
    """A token embedding whose table is on the meta device; ``seen`` lists where the ids came from."""

    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, d_model, device=META))
        self.d_model = d_model
        self.seen: list[torch.device] = []

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        self.seen.append(ids.device)
        g = torch.Generator().manual_seed(ids.shape[-1])  # meta ids hold no values: vectors by shape
        return torch.randn(*ids.shape, self.d_model, generator=g)


# Each sentence explorer that embeds ids itself, built around embedding(d_model); its
# attention module goes to ``device``.
SENTENCE_EXPLORERS = {
    "EmbeddingExplorer": lambda vocab, embedding, device: widgets.EmbeddingExplorer(vocab, embedding(8)),
    "WordOrderExplorer": lambda vocab, embedding, device: widgets.WordOrderExplorer(
        vocab, embedding(16), MultiHeadAttention(16, 2).to(device)
    ),
    "QKVExplorer": lambda vocab, embedding, device: widgets.QKVExplorer(
        vocab, embedding(8), SingleHeadAttention(8, 4).to(device)
    ),
    "ScalingExplorer": lambda vocab, embedding, device: widgets.ScalingExplorer(vocab, embedding(32)),
    "HeadGridExplorer": lambda vocab, embedding, device: widgets.HeadGridExplorer(
        vocab, embedding(32), MultiHeadAttention(32, 8).to(device)
    ),
    "MaskExplorer": lambda vocab, embedding, device: widgets.MaskExplorer(
        vocab, embedding(16), SingleHeadAttention(16).to(device)
    ),
}
TEXT_BOX = {"WordOrderExplorer": "text_b", "MaskExplorer": "sentences"}
NEW_TEXT = {"WordOrderExplorer": "eats Squatch pizza", "MaskExplorer": "the dog ran\nhello there"}


def small_transformer(vocab) -> Transformer:
    config = TransformerConfig(
        vocab_size=len(vocab), d_model=32, num_heads=4, num_encoder_layers=2, num_decoder_layers=2, d_ff=64
    )
    return Transformer(config)


def assert_cpu_state(explorer) -> None:
    """Every tensor the explorer keeps for tests, like every tensor its figures drew, is on the CPU."""
    for name, value in vars(explorer).items():
        if isinstance(value, torch.Tensor):
            assert value.device.type == "cpu", f"{name} is on {value.device}"


@pytest.mark.parametrize("name", SENTENCE_EXPLORERS)
def test_sentence_explorers_embed_the_ids_on_the_models_device(vocab, name):
    spies = []

    def embedding(d_model):
        spies.append(MetaSpyEmbedding(len(vocab), d_model))
        return spies[-1]

    explorer = SENTENCE_EXPLORERS[name](vocab, embedding, "cpu")
    (spy,) = spies
    assert isinstance(explorer, SentenceExplorer) and explorer.device == META
    assert "⚠" not in explorer.message.value, explorer.message.value
    assert spy.seen and set(spy.seen) == {META}
    assert all(fig is not None for fig in explorer.figures.values())
    assert_cpu_state(explorer)
    box = TEXT_BOX.get(name, "text")
    spy.seen.clear()
    explorer.controls[box].value = NEW_TEXT.get(name, "the dog saw the cat")
    assert "⚠" not in explorer.message.value, explorer.message.value
    assert spy.seen and set(spy.seen) == {META}


def test_model_explorer_sends_source_and_target_to_the_models_device(vocab, monkeypatch):
    model = small_transformer(vocab)
    explorer = ModelExplorer(model, vocab)
    assert explorer.device == next(model.parameters()).device
    seen = []

    def spy_trace(model, src, trg_in):
        seen.append((src.device, trg_in.device, tuple(src.shape), tuple(trg_in.shape)))
        # Meta tensors hold no values: trace the real ids of the sentences typed.
        real_src = torch.tensor([vocab.ids(tokenize(explorer.value("source")))])
        real_trg = torch.tensor([[vocab.bos_id, *vocab.ids(tokenize(explorer.value("target")))]])
        return shape_trace(model, real_src, real_trg)

    monkeypatch.setattr(widgets.model, "shape_trace", spy_trace)
    monkeypatch.setattr(ModelExplorer, "device", property(lambda self: META))
    explorer.controls["target"].value = "it was good"
    assert "⚠" not in explorer.message.value, explorer.message.value
    assert seen == [(META, META, (1, 7), (1, 4))]
    assert explorer.weights.shape == (4, 7)
    assert_cpu_state(explorer)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", [*SENTENCE_EXPLORERS, "ModelExplorer"])
def test_sentence_explorers_run_on_cuda(vocab, name):
    cuda = torch.device("cuda")
    if name == "ModelExplorer":
        explorer = ModelExplorer(small_transformer(vocab).to(cuda), vocab)
        box, text = "source", "the cat sat on the mat"
    else:
        explorer = SENTENCE_EXPLORERS[name](
            vocab, lambda d: TokenEmbedding(len(vocab), d, scale=False).to(cuda), cuda
        )
        box, text = TEXT_BOX.get(name, "text"), NEW_TEXT.get(name, "the dog saw the cat")
    assert explorer.device.type == "cuda" and "⚠" not in explorer.message.value, explorer.message.value
    explorer.controls[box].value = text
    assert "⚠" not in explorer.message.value, explorer.message.value
    assert_cpu_state(explorer)


class Notes(Explorer):
    def __init__(self):
        super().__init__(controls={"n": w.IntSlider(value=1, min=0, max=3)}, views={})

    def render(self):
        self.note("first.")
        for i in range(self.value("n")):
            self.note(f"count {i + 1}.", key="count")
        self.note("last.")
        return {}


def test_a_keyed_note_replaces_the_earlier_one_in_place():
    explorer = Notes()
    assert "first. count 1. last." in explorer.message.value
    explorer.controls["n"].value = 3
    assert "first. count 3. last." in explorer.message.value
    explorer.controls["n"].value = 0
    assert "first. last." in explorer.message.value


def test_unknown_words_of_every_box_share_one_note(vocab):
    explorer = ModelExplorer(small_transformer(vocab), vocab)
    explorer.controls["source"].value = "the quokka came out of the oven"
    explorer.controls["target"].value = "it tasted wombat"
    message = explorer.message.value
    assert message.count("Not in the vocabulary") == 1 and "quokka" in message and "wombat" in message
    explorer.controls["source"].value = "the pizza came out of the oven"
    assert "quokka" not in explorer.message.value and "wombat" in explorer.message.value


def test_every_explorer_is_exported_and_built_on_the_kit():
    exported = {name for name in widgets.__all__ if name.endswith(("Explorer", "Curve"))}
    for name in exported - {"Explorer", "SentenceExplorer"}:
        cls = getattr(widgets, name)
        assert issubclass(cls, Explorer) and cls.render is not Explorer.render, name
    assert set(SENTENCE_EXPLORERS) | {"ModelExplorer"} == {
        name for name in exported if issubclass(getattr(widgets, name), SentenceExplorer)
    } - {"SentenceExplorer"}


def test_one_of_a_thing_is_counted_in_the_singular():
    assert widgets.kit.counted(1, "token") == "1 token" and widgets.kit.counted(0, "step") == "0 steps"
    product = widgets.RepeatedProductExplorer(factor=0.9, steps=1)
    assert "multiplied 1 time =" in product.message.value
    path = widgets.PathLengthExplorer(length=2, scale=1.0)
    assert "1 step back" in path.message.value and "1 steps" not in path.message.value
    path.controls["length"].value = 3
    assert "2 steps back" in path.message.value


class _Shrinking(Explorer):
    """A render that moves its own control: the step slider's max follows "n"."""

    def __init__(self):
        self.renders = 0
        super().__init__(
            {"n": w.IntSlider(value=10, min=1, max=10), "step": w.IntSlider(value=10, min=1, max=10)},
            {},
        )

    def render(self):
        self.renders += 1
        self.controls["step"].max = self.value("n")  # clamps "step" when n falls below it
        self.note(f"step {self.value('step')} of {self.value('n')}")
        return {}


def test_a_render_that_clamps_its_own_slider_renders_once():
    explorer = _Shrinking()
    explorer.renders = 0
    explorer.controls["n"].value = 3
    assert explorer.renders == 1 and explorer.controls["step"].value == 3
    assert explorer.message.value.count("step 3 of 3") == 1
    explorer.controls["step"].value = 2  # a learner's own move still renders
    assert explorer.renders == 2 and "step 2 of 3" in explorer.message.value


def test_the_unknown_word_note_agrees_with_its_count():
    from transformer_course.widgets.kit import unknown_note

    assert unknown_note(["quokkas"]) == "Not in the vocabulary, so it gets the <unk> vector: 'quokkas'."
    two = unknown_note(["quokkas", "wombats", "quokkas"])
    assert "so they share the <unk> vector: 'quokkas', 'wombats'" in two


def test_explorers_leave_the_callers_random_stream_alone():
    """A render that builds a layer only to overwrite its weights must not draw from torch's
    global generator: a later cell seeded once would get other numbers after a slider moved."""
    from transformer_course.recurrence import rnn_gradients
    from transformer_course.widgets import PositionalExplorer

    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    rnn_gradients(12, scale=1.5)
    explorer = PositionalExplorer()
    explorer.controls["kind"].value = "learned (untrained)"
    assert torch.equal(torch.random.get_rng_state(), state)
