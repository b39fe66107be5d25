"""Explorers built from code with bad arguments (audit of 2026-12, /tmp/audit_badinputs).

Before, each row failed with a TraitError about the trait 'value', an AttributeError from
inside ``render`` shown as "Could not update the figures (…)", or was silently clamped or
accepted (a slider's start past its end, temperature -1, an odd d_model, a str as a bool).
Now the constructor raises a ValueError that names the argument and says what was expected.
"""

from functools import cache

import numpy as np
import pytest
import torch
from refusals import assert_refused, each_case
from torch import nn
from transformer_course import data, pointer, widgets
from transformer_course.attention import MultiHeadAttention, SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
from transformer_course.stories import story_vocab
from transformer_course.tokenizer import course_vocab

V = course_vocab()
E = TokenEmbedding(len(V), 8, scale=False)  # d_model 8
SHA = SingleHeadAttention(8)
MHA = MultiHeadAttention(8, 2)
NAN = float("nan")


def _config(vocab_size: int, **kwargs) -> TransformerConfig:
    base = dict(num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=16, dropout=0.0, max_len=16)
    return TransformerConfig(vocab_size=vocab_size, d_model=8, **(base | kwargs))


@cache
def _task():
    return data.sequence_task(num_train=8, num_test=8)


@cache
def _reverser():
    return Transformer(_config(len(_task().vocab)))


@cache
def _story_model():
    return DecoderOnlyTransformer(_config(len(story_vocab()), max_len=64, positional="learned"))


@cache
def _history():
    """(snapshots {0: pointer.snapshot(...)}, sentences, it_pos, referent_pos, distractor_pos) of 2."""
    task = data.pronoun_task(num_train=8, num_test=8)
    shown = task.train[:2]
    with torch.no_grad():
        snaps = {0: pointer.snapshot(pointer.PronounPointer(_config(len(task.vocab))), shown, task.test)}
    sentences = [task.tokens(shown, i) for i in range(2)]
    return snaps, sentences, shown.it_pos.tolist(), shown.referent_pos.tolist(), shown.distractor_pos.tolist()


def qkv(**kw):
    modules = [kw.pop(k, d) for k, d in (("vocab", V), ("embedding", E), ("attention", SHA))]
    return widgets.QKVExplorer(*modules, **kw)


def scaling(**kw):
    return widgets.ScalingExplorer(kw.pop("vocab", V), kw.pop("embedding", E), **kw)


def grid(**kw):
    return widgets.HeadGridExplorer(
        kw.pop("vocab", V), kw.pop("embedding", E), kw.pop("attention", MHA), **kw
    )


def masks(**kw):
    return widgets.MaskExplorer(kw.pop("vocab", V), kw.pop("embedding", E), kw.pop("attention", SHA), **kw)


def order(**kw):
    return widgets.WordOrderExplorer(
        kw.pop("vocab", V), kw.pop("embedding", E), kw.pop("attention", MHA), **kw
    )


def model_explorer(**kw):
    return widgets.ModelExplorer(kw.pop("model", Transformer(_config(len(V)))), kw.pop("vocab", V), **kw)


def history(**kw):
    names = ("snapshots", "sentences", "it_pos", "referent_pos", "distractor_pos")
    return widgets.AttentionHistoryExplorer(*(kw.get(n, d) for n, d in zip(names, _history())))


def generation(**kw):
    return widgets.GenerationExplorer(kw.pop("model", _reverser()), kw.pop("task", _task()), **kw)


def story(**kw):
    return widgets.StoryExplorer(_story_model(), story_vocab(), **kw)


class _Empty(widgets.Explorer):
    def render(self):
        return {}


SLIDERS = [
    (
        "positional length 0",
        lambda: widgets.PositionalExplorer(length=0),
        "length",
        r"int in \[2, 128\], got 0",
    ),
    ("positional length 1000", lambda: widgets.PositionalExplorer(length=1000), "length", r"\[2, 128\]"),
    ("positional length a str", lambda: widgets.PositionalExplorer(length="a"), "length", "int"),
    ("positional length 1.5", lambda: widgets.PositionalExplorer(length=1.5), "length", "int"),
    (
        "positional d_model odd",
        lambda: widgets.PositionalExplorer(d_model=7),
        "d_model",
        r"even int in \[4, 256\]",
    ),
    ("positional d_model 2", lambda: widgets.PositionalExplorer(d_model=2), "d_model", r"\[4, 256\]"),
    ("positional d_model 1000", lambda: widgets.PositionalExplorer(d_model=1000), "d_model", r"\[4, 256\]"),
    ("positional d_model None", lambda: widgets.PositionalExplorer(d_model=None), "d_model", "even int"),
    ("positional seed a str", lambda: widgets.PositionalExplorer(seed="a"), "seed", "int"),
    ("product factor a str", lambda: widgets.RepeatedProductExplorer(factor="a"), "factor", r"\[0.5, 1.5\]"),
    ("product factor None", lambda: widgets.RepeatedProductExplorer(factor=None), "factor", "number"),
    ("product factor -1", lambda: widgets.RepeatedProductExplorer(factor=-1.0), "factor", r"\[0.5, 1.5\]"),
    ("product factor NaN", lambda: widgets.RepeatedProductExplorer(factor=NAN), "factor", "finite"),
    ("product steps 0", lambda: widgets.RepeatedProductExplorer(steps=0), "steps", r"\[1, 100\]"),
    ("product steps 1000", lambda: widgets.RepeatedProductExplorer(steps=1000), "steps", r"\[1, 100\]"),
    ("product steps 2.5", lambda: widgets.RepeatedProductExplorer(steps=2.5), "steps", "int"),
    ("product steps a str", lambda: widgets.RepeatedProductExplorer(steps="a"), "steps", "int"),
    ("path length 0", lambda: widgets.PathLengthExplorer(length=0), "length", r"\[2, 100\]"),
    ("path length a million", lambda: widgets.PathLengthExplorer(length=10**6), "length", r"\[2, 100\]"),
    ("path length a str", lambda: widgets.PathLengthExplorer(length="a"), "length", "int"),
    ("path scale 0", lambda: widgets.PathLengthExplorer(scale=0.0), "scale", r"\[0.5, 3\]"),
    ("path scale a str", lambda: widgets.PathLengthExplorer(scale="a"), "scale", "number"),
    ("path scale NaN", lambda: widgets.PathLengthExplorer(scale=NAN), "scale", "finite"),
    ("path seed 1.5", lambda: widgets.PathLengthExplorer(seed=1.5), "seed", "int"),
    ("path seed a str", lambda: widgets.PathLengthExplorer(seed="a"), "seed", "int"),
    ("path seed 2**64", lambda: widgets.PathLengthExplorer(seed=2**64), "seed", "int in"),
    ("scaling temperature 0", lambda: scaling(temperature=0.0), "temperature", r"\[0.1, 10\]"),
    ("scaling temperature -1", lambda: scaling(temperature=-1.0), "temperature", r"\[0.1, 10\]"),
    ("scaling temperature 1000", lambda: scaling(temperature=1000.0), "temperature", r"\[0.1, 10\]"),
    ("scaling temperature a str", lambda: scaling(temperature="a"), "temperature", "number"),
    ("scaling scaled a str", lambda: scaling(scaled="no"), "scaled", "True or False"),
    ("scaling seed 1.5", lambda: scaling(seed=1.5), "seed", "int"),
    ("scaling seed a str", lambda: scaling(seed="a"), "seed", "int"),
    ("scaling seed 2**64", lambda: scaling(seed=2**64), "seed", "int in"),
    ("scaling d_k True", lambda: scaling(d_k=True), "d_k", "one of"),
    ("scaling d_k 64.0", lambda: scaling(d_k=64.0), "d_k", "one of"),
    ("loss curve total_steps a str", lambda: widgets.LiveLossCurve("a"), "total_steps", "positive int"),
    ("loss curve total_steps -5", lambda: widgets.LiveLossCurve(-5), "total_steps", "positive int"),
    ("loss curve smoothing 0", lambda: widgets.LiveLossCurve(smoothing=0), "smoothing", r"\[1, 100\]"),
    ("loss curve smoothing a str", lambda: widgets.LiveLossCurve(smoothing="a"), "smoothing", "int"),
    ("loss curve floor NaN", lambda: widgets.LiveLossCurve(floor=NAN), "floor", "finite"),
    ("loss curve floor a str", lambda: widgets.LiveLossCurve(floor="a"), "floor", "number"),
    ("loss curve floor below 0", lambda: widgets.LiveLossCurve(floor=-1.0), "floor", ">= 0"),
    ("loss curve title None", lambda: widgets.LiveLossCurve(title=None), "title", "str"),
    ("loss curve floor_label an int", lambda: widgets.LiveLossCurve(floor_label=3), "floor_label", "str"),
    ("loss curve validation an int", lambda: widgets.LiveLossCurve(validation=5), "validation", "str"),
]

TEXT_AND_FLAGS = [
    ("qkv text an int", lambda: qkv(text=5), "text", "str, got int"),
    ("qkv text None", lambda: qkv(text=None), "text", "str, got NoneType"),
    ("qkv query past the sentence", lambda: qkv(query=99), "query", r"\[0, 5\), got 99"),
    ("qkv query -1", lambda: qkv(query=-1), "query", r"\[0, 5\)"),
    ("qkv query 1.5", lambda: qkv(query=1.5), "query", "position"),
    ("qkv query a str", lambda: qkv(query="a"), "query", "position"),
    ("qkv query True", lambda: qkv(query=True), "query", "position"),
    ("grid positions a str", lambda: grid(positions="no"), "positions", "True or False"),
    ("grid columns 0", lambda: grid(columns=0), "columns", "positive int"),
    ("grid columns a str", lambda: grid(columns="2"), "columns", "positive int"),
    ("grid columns 1.5", lambda: grid(columns=1.5), "columns", "positive int"),
    ("grid text None", lambda: grid(text=None), "text", "str"),
    ("embedding explorer text None", lambda: widgets.EmbeddingExplorer(V, E, None), "text", "str"),
    ("embedding explorer text an int", lambda: widgets.EmbeddingExplorer(V, E, 5), "text", "str"),
    ("mask sentences None", lambda: masks(sentences=None), "sentences", "list of sentences"),
    ("mask no sentences", lambda: masks(sentences=()), "sentences", "1 to 6 sentences, got 0"),
    ("mask seven sentences", lambda: masks(sentences=("the cat",) * 7), "sentences", "1 to 6"),
    ("mask sentences of ints", lambda: masks(sentences=(1, 2)), r"sentences\[0\]", "str"),
    ("mask causal a str", lambda: masks(causal="no"), "causal", "True or False"),
    ("mask padding None", lambda: masks(padding=None), "padding", "True or False"),
    ("model source None", lambda: model_explorer(source=None), "source", "str"),
    ("model target an int", lambda: model_explorer(target=5), "target", "str"),
    ("word order text_a None", lambda: order(text_a=None), "text_a", "str"),
    ("word order text_b an int", lambda: order(text_b=5), "text_b", "str"),
    ("generation text None", lambda: generation(text=None), "text", "str"),
    ("generation text an int", lambda: generation(text=5), "text", "str"),
    ("story prompt an int", lambda: story(prompt=5), "prompt", "str"),
    ("story prompt None", lambda: story(prompt=None), "prompt", "str"),
]

MODULES = [
    ("qkv vocab None", lambda: qkv(vocab=None), "vocab", "Vocab, got NoneType"),
    ("qkv vocab a list", lambda: qkv(vocab=["a"]), "vocab", "Vocab, got list"),
    ("qkv embedding None", lambda: qkv(embedding=None), "embedding", "weight table"),
    (
        "qkv embedding of another vocabulary",
        lambda: qkv(embedding=TokenEmbedding(10, 8)),
        "embedding",
        rf"one row per vocab token \({len(V)}\), got 10 rows",
    ),
    ("qkv attention None", lambda: qkv(attention=None), "attention", "SingleHeadAttention, got NoneType"),
    (
        "qkv attention of many heads",
        lambda: qkv(attention=MHA),
        "attention",
        "SingleHeadAttention, got Multi",
    ),
    (
        "qkv attention of another width",
        lambda: qkv(attention=SingleHeadAttention(16)),
        "attention",
        r"width 8 \(the embedding's d_model\), got 16",
    ),
    ("scaling embedding None", lambda: scaling(embedding=None), "embedding", "weight table"),
    ("scaling vocab None", lambda: scaling(vocab=None), "vocab", "Vocab"),
    (
        "grid attention of one head",
        lambda: grid(attention=SHA),
        "attention",
        "MultiHeadAttention, got Single",
    ),
    ("grid attention None", lambda: grid(attention=None), "attention", "MultiHeadAttention"),
    (
        "grid attention of another width",
        lambda: grid(attention=MultiHeadAttention(16, 2)),
        "attention",
        "width 8",
    ),
    ("embedding explorer vocab None", lambda: widgets.EmbeddingExplorer(None, E), "vocab", "Vocab"),
    ("embedding explorer embedding None", lambda: widgets.EmbeddingExplorer(V, None), "embedding", "weight"),
    (
        "embedding explorer, a small table",
        lambda: widgets.EmbeddingExplorer(V, TokenEmbedding(10, 8)),
        "embedding",
        "one row per vocab token",
    ),
    ("mask attention None", lambda: masks(attention=None), "attention", "SingleHeadAttention"),
    ("mask attention of many heads", lambda: masks(attention=MHA), "attention", "SingleHeadAttention"),
    (
        "mask attention of another width",
        lambda: masks(attention=SingleHeadAttention(16)),
        "attention",
        "width 8",
    ),
    ("mask embedding too small", lambda: masks(embedding=TokenEmbedding(10, 8)), "embedding", "one row per"),
    ("model vocab None", lambda: model_explorer(vocab=None), "vocab", "Vocab"),
    ("model vocab a list", lambda: model_explorer(vocab=list(V.itos)), "vocab", "Vocab, got list"),
    ("word order attention None", lambda: order(attention=None), "attention", "MultiHeadAttention"),
    ("word order attention of one head", lambda: order(attention=SHA), "attention", "MultiHeadAttention"),
    (
        "word order attention of another width",
        lambda: order(attention=MultiHeadAttention(16, 2)),
        "attention",
        "width 8",
    ),
    ("generation model None", lambda: generation(model=None), "model", "Transformer"),
    (
        "generation decoder-only model",
        lambda: generation(model=DecoderOnlyTransformer(_reverser().config)),
        "model",
        "encoder-decoder",
    ),
    (
        "generation model of another vocabulary",
        lambda: generation(model=Transformer(_config(5))),
        "model",
        "task's vocabulary",
    ),
    ("generation task None", lambda: generation(task=None), "task", "SequenceTask"),
    (
        "generation a pronoun task",
        lambda: generation(task=data.pronoun_task(num_train=8, num_test=8)),
        "task",
        "SequenceTask.*got PronounTask",
    ),
]

HISTORY_AND_TABLES = [
    ("history snapshots a list", lambda: history(snapshots=[1]), "snapshots", "dict step"),
    (
        "history snapshot without pointer",
        lambda: history(snapshots={0: {"predicate": 1}}),
        "snapshots",
        "'pointer'",
    ),
    ("history sentences None", lambda: history(sentences=None), "sentences", "list of token lists"),
    (
        "history sentences as strings",
        lambda: history(sentences=[" ".join(s) for s in _history()[1]]),
        r"sentences\[0\]",
        "list of tokens",
    ),
    (
        "history more sentences than the snapshots hold",
        lambda: history(
            sentences=_history()[1] * 2,
            **{k: v * 2 for k, v in zip(("it_pos", "referent_pos", "distractor_pos"), _history()[2:])},
        ),
        "sentences",
        "at most the 2 sentences",
    ),
    ("history it_pos None", lambda: history(it_pos=None), "it_pos", "list of positions"),
    ("history it_pos past the sentence", lambda: history(it_pos=[99, 99]), r"it_pos\[0\]", "position in"),
    (
        "history referent past the sentence",
        lambda: history(referent_pos=[99, 99]),
        r"referent_pos\[0\]",
        "position",
    ),
    ("history distractor -1", lambda: history(distractor_pos=[0, -1]), r"distractor_pos\[1\]", "position"),
    ("shapes table of None", lambda: widgets.shapes_table(None), "rows", r"\(stage, shape, meaning\)"),
    ("shapes table of a str", lambda: widgets.shapes_table("abc"), "rows", "got str"),
    ("shapes table, a row of two", lambda: widgets.shapes_table([("a", (1,))]), r"rows\[0\]", "stage str"),
    ("token table of None", lambda: widgets.token_table(None, [1]), "tokens", "list of tokens"),
    (
        "token table, ids short",
        lambda: widgets.token_table(["a", "b"], [1]),
        "ids",
        r"one id per token \(2\)",
    ),
    ("batch table, picked past the rows", lambda: widgets.batch_table([["a"]], 3), "picked", r"\[0, 1\)"),
    ("batch table of None", lambda: widgets.batch_table(None, 0), "rows", "list of token lists"),
    ("read_sentence without a vocab", lambda: widgets.read_sentence("hi", None), "vocab", "Vocab"),
    ("match_words of None", lambda: widgets.match_words(None, ["a"]), "tokens_a", "list of strings"),
    ("match_words of a str", lambda: widgets.match_words(["a"], "a"), "tokens_b", "one str"),
    ("explorer view of another kind", lambda: _Empty({}, {"plot": "chart"}), "views", '"figure" or "html"'),
    ("explorer control not a widget", lambda: _Empty({"x": 5}, {}), "controls", "ipywidgets control"),
]

CASES = SLIDERS + TEXT_AND_FLAGS + MODULES + HISTORY_AND_TABLES


@each_case(CASES)
def test_bad_argument_names_the_argument_and_what_was_expected(call, argument, expected):
    assert_refused(call, argument, expected)


def _ok(explorer):
    assert "⚠" not in explorer.message.value, explorer.message.value
    return explorer


ACCEPTED = {
    "positional, numpy ints at the low ends": lambda: widgets.PositionalExplorer(
        length=np.int64(2), d_model=np.int32(4), seed=np.int64(3)
    ),
    "positional at the high ends": lambda: widgets.PositionalExplorer(length=128, d_model=256),
    "product, an int factor and numpy steps": lambda: widgets.RepeatedProductExplorer(
        factor=1, steps=np.int64(100)
    ),
    "product at the low ends": lambda: widgets.RepeatedProductExplorer(factor=0.5, steps=1),
    "path, ints at the ends": lambda: widgets.PathLengthExplorer(length=100, scale=3, seed=np.int64(1)),
    "path at the low ends": lambda: widgets.PathLengthExplorer(length=np.int64(2), scale=0.5),
    "scaling, temperature an int at the top": lambda: scaling(
        temperature=10, d_k=np.int64(64), seed=np.int64(5)
    ),
    "scaling, temperature at the bottom, unscaled": lambda: scaling(temperature=0.1, scaled=False, seed=-1),
    "qkv, a numpy query on the last token": lambda: qkv(query=np.int64(4)),
    "qkv, an nn.Embedding table": lambda: qkv(embedding=nn.Embedding(len(V), 8)),
    "grid, numpy columns": lambda: grid(columns=np.int64(2), positions=False),
    "mask, six sentences in a list": lambda: masks(
        sentences=["the cat sat"] * 6, causal=False, padding=False
    ),
    "loss curve, numpy steps, floor 0": lambda: widgets.LiveLossCurve(np.int64(10), smoothing=100, floor=0),
    "loss curve without total_steps or floor": lambda: widgets.LiveLossCurve(None, smoothing=1),
    "story, numpy seed at the top": lambda: story(seed=np.int64(99), max_new_tokens=np.int64(3)),
    "history, positions as tensors": lambda: history(it_pos=torch.tensor(_history()[2])),
    "generation, text of one symbol": lambda: generation(text="3"),
}


@pytest.mark.parametrize("make", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_good_but_unusual_arguments_are_accepted(make):
    _ok(make())
