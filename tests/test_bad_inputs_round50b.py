"""Round 50's smaller silent acceptances (review C, findings 1 and 10): values of the right type
that a figure drew off its axis or without a word, a one-token vocabulary, and a float16 model's
divergence blamed on the learning rate."""

import math

import pytest
import torch
from torch import nn
from transformer_course import figures
from transformer_course.config import TransformerConfig
from transformer_course.lm_training import story_batch_fn, story_loss_fn
from transformer_course.model import DecoderOnlyTransformer
from transformer_course.stories import StoryGenerator, encode, story_vocab
from transformer_course.training import train

WORDS = list("abcde")
PROBS = torch.softmax(torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0]), dim=0)  # (5,)


# --- likeliest_tokens_figure: its bars stand on a fixed 0–1.15 axis ---


@pytest.mark.parametrize(
    ("kwargs", "name", "got"),
    [
        (dict(probs=torch.tensor([5.0, 3.0, 1.0, 0.0, 0.0])), "probs", "5 at 0"),  # counts
        (dict(probs=torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0]).exp()), "probs", "7.38906 at 0"),  # exp(logits)
        (dict(true_probs=torch.tensor([0.0, 2.0, 0.0, 0.0, 0.0])), "true_probs", "2 at 1"),
    ],
    ids=["counts", "exp of logits", "true_probs of 2"],
)
def test_likeliest_tokens_refuses_values_above_one_by_name(kwargs, name, got):
    args = dict(probs=PROBS) | kwargs
    with pytest.raises(ValueError, match=rf"^{name} must be probabilities in \[0, 1\] .*got {got}$"):
        figures.likeliest_tokens_figure(args.pop("probs"), WORDS, **args)


def test_likeliest_tokens_still_draws_probabilities():
    half = torch.softmax(torch.tensor([30.0, 0.0, 0.0, 0.0, 0.0]), dim=0).half()  # (5,): a 1.0 in float16
    one_hot = torch.tensor([0, 1, 0, 0, 0])  # an int tensor of probabilities
    fig = figures.likeliest_tokens_figure(half, WORDS, true_probs=one_hot, top=3)
    assert max(fig.data[0].y) == pytest.approx(1.0) and max(fig.data[1].y) == 1.0
    assert list(figures.likeliest_tokens_figure(PROBS, WORDS, top=2).data[0].customdata) == ["a", "b"]


# --- pointer_figure: one bar cannot be the referent and the distractor ---


@pytest.mark.parametrize(
    ("referent", "distractor", "both"),
    [(1, 1, 1), ([0, 3], [2, 3], 3), ((1, 2), torch.tensor([2]), 2)],
    ids=["the same position", "overlapping mentions", "a tensor of mentions"],
)
def test_pointer_refuses_a_position_that_is_referent_and_distractor(referent, distractor, both):
    with pytest.raises(
        ValueError, match=rf"^distractor must name positions other than the referent's, got {both}"
    ):
        figures.pointer_figure(PROBS, WORDS, referent=referent, distractor=distractor)


def test_pointer_still_draws_separate_mentions():
    fig = figures.pointer_figure(PROBS, WORDS, referent=[0, 3], distractor=[2])
    colours = list(fig.data[0].marker.color)
    assert colours[0] == colours[3] != colours[2] != colours[1]


# --- progress_curves_figure (and progress_curve_figure, which shares its checks) ---

STEPS = [0, 10, 20]
A = {"a": [0.1, 0.2, 0.3]}
FRACTIONS = r"^series\['a'\] must hold fractions in \[0, 1\] "
WITHIN = r"^current must be a step within steps "


@pytest.mark.parametrize(
    ("steps", "series", "kwargs", "match"),
    [
        (STEPS, {"a": [0.1, math.nan, 0.3]}, {}, FRACTIONS + r".*got nan at \[1\]"),
        (STEPS, {"a": [0.1, 2.0, 0.3]}, {}, FRACTIONS + r".*got 2 at \[1\]"),
        (STEPS, {"a": [0.1, -0.5, 0.3]}, {}, FRACTIONS + r".*got -0.5 at \[1\]"),
        (STEPS, {"a": [0.1, math.inf, 0.3]}, dict(percent=False), r"^series\['a'\] must hold finite numbers"),
        ([0, 20, 10], {"a": [0.1, 0.2, 0.3]}, {}, r"^steps must rise, .*got 10 at \[2\] after 20$"),
        ([0, 10, 10], {"a": [0.1, 0.2, 0.3]}, {}, r"^steps must rise, .*got 10 at \[2\] after 10$"),
        ([-5, 10, 20], {"a": [0.1, 0.2, 0.3]}, {}, r"^steps must be 0 or more .*got -5$"),
        ([], {"a": []}, {}, r"^steps must hold at least one step"),
        (STEPS, {"": [0.1, 0.2, 0.3]}, {}, r"^series must be named by words .*got the name ''$"),
        (STEPS, {1: [0.1, 0.2, 0.3]}, {}, r"^series must be named by words .*got the name 1$"),
        (STEPS, A, dict(current=-1), WITHIN + r"\(0 to 20\), got -1$"),
        (STEPS, A, dict(current=30), WITHIN + r".*got 30$"),
    ],
    ids=[
        "NaN", "2.0 as a percentage", "a negative percentage", "inf", "unsorted steps", "a repeated step",
        "a negative step", "no steps", "an empty name", "a number as name",
        "current before the steps", "current after the steps",
    ],
)  # fmt: skip
def test_progress_curves_refuse_values_they_would_draw_wrong(steps, series, kwargs, match):
    with pytest.raises(ValueError, match=match):
        figures.progress_curves_figure(steps, series, **kwargs)


def test_progress_curve_shares_the_checks():
    with pytest.raises(ValueError, match=r"^values must hold fractions in \[0, 1\] .*got 1.5 at \[0\]"):
        figures.progress_curve_figure([1, 2], [1.5, 0.5])
    with pytest.raises(ValueError, match=r"^steps must rise"):
        figures.progress_curve_figure([2, 1], [0.5, 0.5])


def test_progress_curves_still_draw_what_the_course_draws():
    # a whole row's share in float32 may sum to a hair over 1; a learning rate is no fraction
    shares = torch.softmax(torch.randn(3, 7), dim=1).sum(dim=1).tolist()
    # current: a step between two measurements (the run goes on between checkpoints)
    fig = figures.progress_curves_figure(STEPS, {"head 0": shares, "head 1": [0.0, 0.5, 1.0]}, current=15)
    assert list(fig.data[1].y) == [0.0, 50.0, 100.0]
    lr = figures.progress_curves_figure([1, 30, 200], {"lr": [0.00067, 0.02, 0.002]}, percent=False)
    assert list(lr.data[0].y) == [0.00067, 0.02, 0.002]
    assert figures.progress_curve_figure([0], [0.5], current=0).layout.shapes


# --- TransformerConfig: a vocabulary of <pad> alone ---


@pytest.mark.parametrize("name", ["vocab_size", "trg_vocab_size"])
def test_a_vocabulary_of_one_token_is_refused_by_name(name):
    with pytest.raises(
        ValueError, match=rf"^{name} must be at least 2 \(<pad> and a token to predict\), got 1$"
    ):
        TransformerConfig(**{name: 1})


def test_a_vocabulary_of_two_tokens_is_taken():
    assert TransformerConfig(vocab_size=2, trg_vocab_size=2).target_vocab_size == 2


# --- train: a 16-bit model is told its precision, not its learning rate ---

SGD = dict(optimiser=lambda m, lr: torch.optim.SGD(m.parameters(), lr=lr))


def test_train_refuses_a_float16_model_for_adam_before_its_first_step():
    # Review C's case: train(model.half()) stopped on NaN weights, "train with a smaller learning
    # rate". Adam's eps (1e-8) is 0 in float16: an unseen token's row became 0/0 at step 1.
    torch.manual_seed(0)
    vocab = story_vocab()
    config = TransformerConfig(
        vocab_size=len(vocab), d_model=16, num_heads=2, num_decoder_layers=1, d_ff=32, max_len=64
    )
    model = DecoderOnlyTransformer(config).half()
    before = [p.detach().clone() for p in model.parameters()]
    ids = encode(StoryGenerator().sample(16, seed=0))
    loss_fn, batch_fn = story_loss_fn(vocab.pad_id), story_batch_fn(ids, pad_id=vocab.pad_id)
    want = r"^model must have float32 \(or bfloat16\) parameters for Adam, got float16: .*whatever the"
    with pytest.raises(ValueError, match=want + r" learning rate\. Train it in float32 \(model\.float\(\)\)"):
        train(model, loss_fn, batch_fn, len(ids), steps=3, batch_size=4, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


def test_a_float16_model_trains_with_an_optimiser_of_its_own():
    model = nn.Linear(3, 1).half()
    data = torch.randn(8, 3).half()  # (8, 3)
    loss_fn = lambda m, b: m(b).float().pow(2).mean()  # noqa: E731
    history = train(model, loss_fn, lambda idx: data[idx], 8, steps=3, batch_size=4, progress=False, **SGD)
    assert len(history.steps) == 3


def _diverge(dtype: torch.dtype, **kwargs) -> str:
    """Train a (3 → 1) linear layer in ``dtype`` whose squared output, 900² (times 1e72 outside
    float16, whose largest value is 65504), overflows to inf at step 1; the warning's text."""
    model = nn.Linear(3, 1).to(dtype)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.zero_()
    data = torch.full((8, 3), 300.0, dtype=dtype)  # (8, 3): each output 900
    big = 1.0 if dtype == torch.float16 else 1e36  # bfloat16 and float32 reach 3e38

    def loss_fn(m, batch):
        return (m(batch) * big).pow(2).mean()

    with pytest.warns(RuntimeWarning, match=r"training stopped at step \d+: the loss is inf") as caught:
        train(
            model, loss_fn, lambda idx: data[idx], 8, steps=5, batch_size=4, lr=1e-3, progress=False, **kwargs
        )
    return next(str(w.message) for w in caught if "training stopped" in str(w.message))


@pytest.mark.parametrize(
    ("dtype", "kwargs"), [(torch.float16, SGD), (torch.bfloat16, {})], ids=["float16, SGD", "bfloat16, Adam"]
)
def test_a_16_bit_model_that_diverges_is_told_its_precision_not_its_learning_rate(dtype, kwargs):
    message = _diverge(dtype, **kwargs)
    name = str(dtype).removeprefix("torch.")
    assert (
        f"its parameters are {name}, too coarse for small steps: train it in float32 (model.float())"
        in message
    )
    assert "smaller learning rate" not in message


def test_a_float32_model_that_diverges_is_still_told_its_learning_rate():
    message = _diverge(torch.float32)
    assert "train again with a smaller learning rate (lr)." in message and "float16" not in message


# --- matrix_heatmap: ±inf drew as a blank, taken for a NaN gap ---


@pytest.mark.parametrize("inf", [math.inf, -math.inf], ids=["+inf", "-inf"])
def test_matrix_heatmap_refuses_infinite_cells_by_name_and_place(inf):
    values = torch.tensor([[0.1, 0.2], [inf, 0.4]])
    with pytest.raises(
        ValueError,
        match=rf"^values must be finite or NaN \(a gap\), got {inf:g} at \(1, 0\): .*scores_heatmap$",
    ):
        figures.matrix_heatmap(values)


def test_matrix_heatmap_keeps_nan_gaps_and_scores_keep_their_masked_cells():
    gap = figures.matrix_heatmap(torch.tensor([[0.1, math.nan], [0.3, 0.4]]))
    assert math.isnan(gap.data[0].z[0][1])
    scores = figures.scores_heatmap(torch.tensor([[1.0, -math.inf], [3.0, 4.0]]), ["a", "b"])
    assert any("−∞" in str(t.text) for t in scores.data)  # chapter 06's masked scores, in grey
