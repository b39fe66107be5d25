"""Round 50, review C: inputs that type-check but whose values are wrong (/work/notes/s50/c).

1. ``keep_top_p`` given rows that do not sum to 1 (logits, exp(logits), counts) kept the wrong
   nucleus without a word; 2. a model left in train mode decoded at random through the logits
   functions; 3. a model with NaN weights was blamed on ``logits`` (an argument the caller never
   passed) or gave nan / fake heads; 4. a ``pad_id`` outside the vocabulary was scored as a label;
   5. explorers on a model whose finite weights overflow said "Could not update the figures" or
   drew NaN cells; 6. ``LiveLossCurve`` drew bad hand-made histories without a word; 7. the
   message of ``acceptance`` named the first element, not the bad one; 8. the KV-cache mismatch
   named five fields for two values; 9. ``encode(length=10**9)`` ran for minutes, and
   ``first_mistake`` took time growing with the square of the story's length.
"""

import html
import math
import re
import time
import warnings

import numpy as np
import pytest
import torch
from transformer_course import lm_training, pronoun_heads, stories, widgets
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.generation import (
    cached_logits_fn,
    decoder_logits_fn,
    generate,
    greedy_decode,
    keep_top_p,
    seq2seq_logits_fn,
)
from transformer_course.kv_cache import KVCache
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
from transformer_course.stories import StoryGenerator, encode, story_vocab
from transformer_course.tokenizer import course_vocab
from transformer_course.training import History

V_STORY = len(story_vocab())


def _config(vocab_size: int, **kwargs) -> TransformerConfig:
    base = dict(num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=16, dropout=0.0, max_len=64)
    return TransformerConfig(vocab_size=vocab_size, d_model=8, **(base | kwargs))


def _story_model(seed: int = 0, **kwargs) -> DecoderOnlyTransformer:
    torch.manual_seed(seed)
    return DecoderOnlyTransformer(_config(V_STORY, **kwargs)).eval()


def _stories(n: int = 4) -> list:
    return StoryGenerator().sample(n, seed=1)


def _nan_weights(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        model.embed.token.lookup.weight.fill_(float("nan"))
    return model


def _scaled(model: torch.nn.Module, factor: float) -> torch.nn.Module:
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(factor)
    return model


# --- 1. keep_top_p: each row must sum to 1 ---


@pytest.mark.parametrize(
    "probs",
    [torch.tensor([5.0, 3.0, 1.0]), torch.tensor([2.0, 1.0, 0.5]).exp(), torch.tensor([0.2, 0.1, 0.05])],
    ids=["logits", "exp(logits)", "counts"],
)
def test_keep_top_p_refuses_rows_that_do_not_sum_to_1(probs):
    with pytest.raises(ValueError, match=r"^probs must be .*each row must sum to 1.*softmax\(logits\)"):
        keep_top_p(probs, 0.9)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_keep_top_p_takes_what_softmax_makes_in_any_float(dtype):
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(8, 50_000, generator=g).mul(3).to(dtype), dim=-1)  # (8, V)
    kept = keep_top_p(probs, 0.9)
    assert kept.shape == probs.shape and torch.allclose(
        kept.double().sum(-1), torch.ones(8, dtype=torch.double), atol=1e-2
    )


# --- 2. a model in train mode decodes as in eval mode, and stays in train mode ---


def _greedy(make_fn, model, prompt):
    return generate(make_fn(model), prompt, max_new_tokens=12).ids


@pytest.mark.parametrize("make_fn", [decoder_logits_fn, cached_logits_fn], ids=["decoder", "cached"])
def test_a_model_in_train_mode_decodes_as_in_eval_mode(make_fn):
    model = _story_model(dropout=0.5)
    prompt = torch.tensor([story_vocab().bos_id])
    want = _greedy(make_fn, model, prompt)  # eval mode
    model.train()
    model.blocks.eval()  # a part in eval mode on purpose keeps its own flag
    got = [_greedy(make_fn, model, prompt) for _ in range(3)]
    assert all(torch.equal(g, want) for g in got)
    batch = greedy_decode(make_fn(model), prompt.view(1, 1).expand(2, 1), max_new_tokens=12)
    assert torch.equal(batch[0], want) and torch.equal(batch[1], want)
    assert model.training and model.embed.training and not model.blocks.training


def test_a_seq2seq_model_in_train_mode_decodes_as_in_eval_mode():
    torch.manual_seed(0)
    model = Transformer(_config(12, dropout=0.5)).eval()
    src, prompt = torch.tensor([[3, 4, 5, 6]]), torch.tensor([[1]])
    want = greedy_decode(seq2seq_logits_fn(model, src), prompt, max_new_tokens=8)
    model.train()
    for _ in range(3):
        assert torch.equal(greedy_decode(seq2seq_logits_fn(model, src), prompt, max_new_tokens=8), want)
    assert model.training


# --- 3. NaN weights: the model is named ---

NAN_WEIGHTS = r"^model's weights hold NaN or inf: the first is model\.embed\.token\.lookup\.weight"


@pytest.mark.parametrize(
    "call",
    [
        lambda m: lm_training.sample_stories(m, 2),
        lambda m: generate(cached_logits_fn(m), torch.tensor([story_vocab().bos_id]), max_new_tokens=2),
        lambda m: generate(decoder_logits_fn(m), torch.tensor([story_vocab().bos_id]), max_new_tokens=2),
        lambda m: pronoun_heads.find_pronoun_heads(m, _stories(8)),
        lambda m: lm_training.validation_loss(m, encode(_stories())),
        lambda m: lm_training.next_token_loss(m, encode(_stories())),
    ],
    ids=[
        "sample_stories",
        "generate cached",
        "generate decoder",
        "find_pronoun_heads",
        "validation_loss",
        "next_token_loss",
    ],
)
def test_nan_weights_are_named_as_the_models(call):
    with pytest.raises(ValueError, match=NAN_WEIGHTS):
        call(_nan_weights(_story_model()))


def test_finite_weights_whose_outputs_overflow_are_named_too():
    model = _scaled(_story_model(), 1e30)
    prompt = torch.tensor([story_vocab().bos_id])
    with pytest.raises(ValueError, match=r"^model's outputs are not finite: its weights are too large"):
        generate(cached_logits_fn(model), prompt, max_new_tokens=2)
    with pytest.raises(ValueError, match=r"^model's outputs are not finite"):
        lm_training.validation_loss(model, encode(_stories()))
    # In a training step the loss goes back to train(), which stops there ("diverged"): its weights
    # are finite, the step before's.
    assert not math.isfinite(float(lm_training.next_token_loss(model, encode(_stories())).detach()))


def test_the_weights_are_not_looked_at_in_a_training_step(monkeypatch):
    looked = []
    monkeypatch.setattr(lm_training._validate, "nonfinite_weight", lambda m: looked.append(m))
    loss = lm_training.next_token_loss(_story_model(), encode(_stories()))
    assert math.isfinite(loss.item()) and looked == []


# --- 4. pad_id outside the vocabulary ---


@pytest.mark.parametrize(
    "call",
    [
        lambda ids: lm_training.next_token_loss(_story_model(), ids, pad_id=999),
        lambda ids: lm_training.validation_loss(_story_model(), ids, pad_id=999),
        lambda ids: lm_training.story_batch_fn(ids, pad_id=999),
    ],
    ids=["next_token_loss", "validation_loss", "story_batch_fn"],
)
def test_a_pad_id_outside_the_vocabulary_is_refused(call):
    with pytest.raises(
        ValueError, match=rf"^pad_id must be an id of .*vocabulary.*\[0, {V_STORY}\), got 999"
    ):
        call(encode(_stories()))


def test_a_pad_id_outside_the_model_vocabulary_is_refused_for_any_model():
    class Plain(torch.nn.Module):  # no config: the vocabulary is what it returns
        def forward(self, ids):
            return torch.zeros(*ids.shape, 10)

    with pytest.raises(
        ValueError, match=r"^pad_id must be an id of the model's vocabulary, in \[0, 10\), got 12"
    ):
        lm_training.next_token_loss(Plain(), torch.tensor([[1, 2, 3]]), pad_id=12)


# --- 5. explorers on a model whose outputs overflow ---


def _message(explorer) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", explorer.message.value))


@pytest.mark.parametrize("fill", [1e20, 3e38])
def test_an_explorer_on_weights_that_overflow_says_so(fill):
    vocab = course_vocab()
    torch.manual_seed(0)
    embedding, attention = TokenEmbedding(len(vocab), 8, scale=False), SingleHeadAttention(8)
    explorer = widgets.QKVExplorer(vocab, embedding, attention)
    with torch.no_grad():
        for p in attention.parameters():
            p.fill_(fill)
    explorer.refresh()
    text = _message(explorer)
    assert "The attention's outputs are not finite: its weights are too large" in text, text
    assert "Could not update" not in text and "(nan)" not in text


def test_an_explorer_whose_own_computation_overflows_names_the_weights():
    vocab = course_vocab()
    embedding = TokenEmbedding(len(vocab), 8, scale=False)
    explorer = widgets.ScalingExplorer(vocab, embedding)
    with torch.no_grad():
        embedding.lookup.weight.fill_(1e20)  # its lookups stay finite; the dot products do not
    explorer.refresh()
    text = _message(explorer)
    assert "The embedding's outputs are not finite" in text and "Could not update" not in text, text


# --- 6. LiveLossCurve and bad hand-made histories ---


def _history(steps, losses, evals=None) -> History:
    h = History()
    h.steps, h.losses = list(steps), list(losses)
    if evals is not None:
        h.evals = evals
    return h


def _curve(history, total_steps=None) -> str:
    curve = widgets.LiveLossCurve(total_steps)
    curve.update(history)
    return _message(curve)


def test_a_nan_loss_mid_run_is_called_a_divergence():
    text = _curve(_history([1, 2, 3], [1.0, float("nan"), 2.0]))
    assert "Training diverged at step 2" in text, text


def test_nan_held_out_losses_are_said_to_be_left_out():
    text = _curve(_history([1, 2], [1.0, 2.0], {"held-out": [(1, float("nan")), (2, float("inf"))]}))
    assert "2 held-out losses of NaN or inf" in text and "left out" in text, text


@pytest.mark.parametrize(
    ("steps", "total", "says"),
    [
        ([3, 1, 2], None, r"history\.steps must go up"),
        ([1, 1, 2], None, r"history\.steps must go up"),
        ([-5, -4, -3], None, r"history\.steps must hold whole steps, 0 or more, got -5"),
        ([0.5, 1.5, 2.5], None, r"history\.steps must hold whole steps"),
    ],
)
def test_steps_a_training_run_cannot_record_are_refused(steps, total, says):
    text = _curve(_history(steps, [1.0, 2.0, 3.0]), total)
    assert "⚠" in text and re.search(says, text), text


def test_a_held_out_loss_after_the_last_step_is_refused():
    text = _curve(_history([1, 2], [1.0, 2.0], {"held-out": [(10**9, 2.0)]}), 200)
    assert re.search(r"history\.evals\['held-out'\] has a loss at step 1000000000, after the last", text), (
        text
    )


def test_steps_past_total_steps_are_a_continued_run_and_drawn():
    text = _curve(_history([1000, 2000, 3000], [1.0, 2.0, 3.0], {"held-out": [(2000, 1.5)]}), 200)
    assert "⚠" not in text, text


def test_huge_step_numbers_one_apart_still_go_up():
    text = _curve(_history([10**18, 10**18 + 1], [1.0, 2.0]))
    assert "⚠" not in text, text


def test_a_float16_loss_writes_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = _curve(_history([1, 2], [np.float16(60000), np.float16(60000)]))
    assert "60000" in text


# --- 7. acceptance names the bad element ---


def test_acceptance_names_the_element_that_is_not_a_token():
    with pytest.raises(ValueError, match=r"got a list holding int \(stories\[0\]\[1\] = 3\)"):
        lm_training.acceptance(StoryGenerator(), [["lily", 3]])


def test_floor_on_names_the_element_that_is_not_a_story():
    with pytest.raises(ValueError, match=r"got a list holding str \(stories\[1\] = 'x'\)"):
        lm_training.floor_on([_stories(1)[0], "x"])


def test_find_pronoun_heads_says_what_it_got():
    with pytest.raises(ValueError, match=r"^selection must .*got a list holding int \(selection\[1\] = 5\)"):
        pronoun_heads.find_pronoun_heads(_story_model(), [_stories(1)[0], 5])


# --- 8. the KV-cache mismatch names the fields it shows ---


def test_an_empty_cache_of_another_shape_names_two_fields_for_two_values():
    model = _story_model()  # 1 layer, max_len 64
    with pytest.raises(ValueError, match=r"it has \(layers, max_len\) = \(2, 64\), the model \(1, 64\)$"):
        model.step(encode(_stories(2))[:, :3], KVCache(2, 64))


# --- 9. runs that took minutes ---


def test_encode_refuses_a_length_no_model_reads_at_once():
    began = time.perf_counter()
    with pytest.raises(ValueError, match=r"^length must be at most 65,536 positions .*got 10,000,000"):
        encode(_stories(2), length=10**7)  # 10**9 too, where it fits in memory (else: "memory")
    assert time.perf_counter() - began < 5


def test_encode_still_pads_to_a_long_length():
    ids = encode(_stories(2), length=2000)
    assert ids.shape == (2, 2000)


def test_first_mistake_reads_each_sentence_once(monkeypatch):
    generator = StoryGenerator(max_events=200)
    story = next(s for s in generator.sample(40, seed=3) if len(s.tokens) > 400)
    calls = []
    table_for = stories._table_for
    monkeypatch.setattr(stories, "_table_for", lambda chosen: calls.append(1) or table_for(chosen))
    assert generator.first_mistake(story.tokens) is None
    assert len(calls) < 3 * len(story.tokens)  # a parse per token: about tokens² / 16 calls
    wrong = [*story.tokens[:300], "lily", *story.tokens[300:]]
    calls.clear()
    mistake = generator.first_mistake(wrong)
    assert mistake == StoryGenerator(max_events=200).first_mistake(wrong)
    assert mistake is not None and mistake.position <= 301
