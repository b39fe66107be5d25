"""Round 51's library inputs: stories without <bos> (or with no tokens) for encode and floor_on,
the advice given for a 16-bit model whose training went to NaN, and the bad inputs of the data
and training modules' public functions."""

import warnings

import pytest
import torch
from transformer_course import generation, lm_training, training
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.stories import StoryGenerator, story_vocab
from transformer_course.story_ids import encode
from transformer_course.story_record import Story

GEN = StoryGenerator()
STORIES = GEN.sample(40, seed=0)
V = len(story_vocab())


def gpt(dtype: torch.dtype = torch.float32) -> DecoderOnlyTransformer:
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=V, d_model=16, num_heads=2, num_decoder_layers=1, d_ff=32, max_len=64, dropout=0.0
    )
    return DecoderOnlyTransformer(config).to(dtype).eval()


# --- 1. a story without <bos>, or with no tokens ---

NO_BOS = Story(STORIES[0].tokens[1:], STORIES[0].log_prob, ())
EMPTY = Story((), 0.0, ())


def test_encode_refuses_a_story_without_bos_by_name():
    with pytest.raises(
        ValueError, match=r"^stories\[1\]\.tokens\[0\] is 'one': a story's tokens start with <bos>"
    ):
        encode([STORIES[1], NO_BOS])


def test_encode_refuses_a_story_of_no_tokens_by_name():
    with pytest.raises(ValueError, match=r"^stories\[0\] has no tokens"):
        encode([EMPTY])
    with pytest.raises(ValueError, match=r"^stories\[2\] has no tokens"):
        encode([*STORIES[:2], EMPTY])


def test_floor_on_refuses_a_story_without_bos_rather_than_miscount():
    with pytest.raises(
        ValueError, match=r"^stories\[0\]\.tokens\[0\] is 'one': a story's tokens start with <bos>"
    ):
        lm_training.floor_on([NO_BOS])


def test_generated_stories_still_encode_and_the_recogniser_still_takes_bare_words():
    ids = encode(STORIES[:3])
    assert bool((ids[:, 0] == story_vocab().bos_id).all())
    # the recogniser reads words: <bos> is optional for tokens and text, as documented
    assert GEN.is_story(list(STORIES[0].tokens[1:])) and GEN.is_story(STORIES[0].text)
    assert lm_training.acceptance(GEN, [STORIES[0].tokens, STORIES[0].text, ["lily"]]) == 2 / 3


# --- 2. a float16 model trained with the learner's own optimiser ---

IDS = encode(STORIES)


def _train_fp16_with_own_adam():
    model = gpt(torch.float16).train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        training.train(
            model,
            lm_training.story_loss_fn(),
            lm_training.story_batch_fn(IDS),
            len(IDS),
            steps=3,
            batch_size=8,
            optimiser=lambda m, lr: torch.optim.Adam(m.parameters(), lr=lr),
            progress=False,
        )


def test_a_float16_model_with_its_own_adam_is_told_about_float16_not_the_learning_rate():
    with pytest.raises(ValueError, match=r"Its parameters are float16") as info:
        _train_fp16_with_own_adam()
    assert "smaller learning rate" not in str(info.value)
    assert "model.float()" in str(info.value)


def test_validation_loss_and_generation_name_float16_for_a_nan_16_bit_model():
    model = gpt(torch.float16)
    with torch.no_grad():
        model.embed.token.lookup.weight[5, 0] = float("nan")
    with pytest.raises(ValueError, match=r"Its parameters are float16") as info:
        lm_training.validation_loss(model, IDS[:4])
    assert "smaller learning rate" not in str(info.value)
    with pytest.raises(ValueError, match=r"Its parameters are float16"):
        lm_training.sample_stories(model, 2)
    with pytest.raises(ValueError, match=r"Its parameters are float16"):
        generation.generate(generation.decoder_logits_fn(model), IDS[0, :3], max_new_tokens=2)


def test_a_float32_model_with_nan_weights_still_gets_the_learning_rate_advice():
    model = gpt()
    with torch.no_grad():
        model.embed.token.lookup.weight[5, 0] = float("nan")
    with pytest.raises(ValueError, match=r"smaller learning rate"):
        lm_training.validation_loss(model, IDS[:4])


# --- 3. the bad-input review: numpy counts, negative ids, a weight decay that flips weights ---


def test_story_generator_keeps_numpy_counts_as_python_ints():
    import numpy as np

    generator = StoryGenerator(1, np.int64(3))
    assert type(generator.max_events) is int and generator == StoryGenerator(1, 3)
    probs = generator.next_token_probs("tom and lily were in the park . tom made a cake . he jumped .")
    assert all(type(p) is float for p in probs.values())


@pytest.mark.parametrize("eos_id", [-1, -3])
def test_strip_and_sequence_accuracy_refuse_a_negative_eos_id(eos_id):
    ids = torch.tensor([[5, 3, 1]])
    with pytest.raises(ValueError, match=rf"^eos_id must be an int >= 0, got {eos_id}"):
        generation.strip(ids, eos_id=eos_id)
    with pytest.raises(ValueError, match=rf"^eos_id must be an int >= 0, got {eos_id}"):
        generation.sequence_accuracy(ids, ids, eos_id=eos_id)
    assert generation.strip(ids, eos_id=3) == [[5]]


def test_gpt_optimiser_refuses_a_weight_decay_that_zeroes_or_flips_the_weights():
    make = lm_training.gpt_optimiser(weight_decay=1e12)
    with pytest.raises(ValueError, match=r"^weight_decay must be below 1 / lr \(1000\): .*got 1e\+12"):
        make(gpt(), 1e-3)
    with pytest.raises(ValueError, match=r"^weight_decay must be below 1 / lr"):
        lm_training.gpt_optimiser(weight_decay=1000)(gpt(), 1e-3)  # 1 - lr·wd = 0: every matrix zeroed
    assert isinstance(lm_training.gpt_optimiser(weight_decay=999)(gpt(), 1e-3), torch.optim.AdamW)
    assert isinstance(lm_training.gpt_optimiser()(gpt(), 3e-3), torch.optim.AdamW)


def _seq2seq():
    from transformer_course.model import Transformer

    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=10, d_model=8, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=8, max_len=16
    )
    return Transformer(config).eval()


def test_split_batch_fn_keeps_a_hand_made_target_longer_than_its_source():
    from transformer_course.data import SequenceSplit

    src = torch.tensor([[5, 6, 0, 0], [7, 0, 0, 0]])
    tgt = torch.tensor([[2, 5, 5, 6, 6, 3, 0], [2, 7, 7, 3, 0, 0, 0]])  # each symbol twice
    batch = training.split_batch_fn(SequenceSplit(src, tgt, torch.tensor([2, 1])))(torch.tensor([0, 1]))
    assert batch[0].tolist() == [[5, 6], [7, 0]]
    assert batch[1].tolist() == [[2, 5, 5, 6, 6, 3], [2, 7, 7, 3, 0, 0]]  # <eos> kept (was cut after 4)


def test_split_batch_fn_cuts_the_built_in_tasks_as_before():
    from transformer_course.data import sequence_task

    split = sequence_task("reverse").train
    idx = torch.tensor([0, 3, 7])
    src, tgt = training.split_batch_fn(split)(idx)
    n = int(split.lengths[idx].max())
    assert torch.equal(src, split.src[idx, :n]) and torch.equal(tgt, split.tgt[idx, : n + 2])


def test_split_batch_fn_refuses_one_row_of_a_split_by_name():
    from transformer_course.data import sequence_task

    with pytest.raises(ValueError, match=r"^split must be a split of rows \(N, S\), not one row"):
        training.split_batch_fn(sequence_task("copy").train[0])


def test_seq2seq_loss_refuses_a_pad_id_beyond_the_vocabulary():
    src = torch.tensor([[5, 6, 0]])
    tgt = torch.tensor([[2, 5, 6, 3, 0, 0]])
    model = _seq2seq()
    with pytest.raises(
        ValueError, match=r"^pad_id must be an id of the model's vocabulary, in \[0, 10\), got 50"
    ):
        training.seq2seq_loss(model, (src, tgt), pad_id=50)
    assert torch.isfinite(training.seq2seq_loss(model, (src, tgt), pad_id=0))


def _train(model, **kwargs):
    return training.train(
        model,
        lm_training.story_loss_fn(),
        lm_training.story_batch_fn(IDS),
        len(IDS),
        steps=2,
        batch_size=8,
        progress=False,
        **kwargs,
    )


def test_train_refuses_an_optimiser_of_another_models_parameters_before_any_step():
    model, other = gpt().train(), gpt()
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"^optimiser must return an optimiser of the parameters the loss"):
        _train(model, optimiser=lambda m, lr: torch.optim.SGD(other.parameters(), lr=lr))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_train_takes_an_optimiser_of_a_tensor_outside_the_model_that_the_loss_uses():
    model, shift = gpt(), torch.zeros((), requires_grad=True)
    loss_fn = lambda m, ids: lm_training.next_token_loss(m, ids) + shift**2 - 2 * shift  # noqa: E731
    history = training.train(
        model,
        loss_fn,
        lm_training.story_batch_fn(IDS),
        len(IDS),
        steps=2,
        batch_size=8,
        progress=False,
        optimiser=lambda m, lr: torch.optim.SGD([shift], lr=lr),
    )
    assert len(history.losses) == 2 and float(shift.detach()) > 0


def test_train_refuses_an_optimiser_of_one_argument_by_name():
    with pytest.raises(ValueError, match=r"^optimiser must take two arguments, \(model, lr\)"):
        _train(gpt(), optimiser=lambda m: torch.optim.SGD(m.parameters(), lr=0.1))


def test_train_refuses_a_complex_loss_by_name():
    with pytest.raises(ValueError, match=r"^loss_fn must return a real loss, got dtype torch.complex64"):
        training.train(
            gpt(),
            lambda m, ids: lm_training.next_token_loss(m, ids) * (1 + 0j),
            lm_training.story_batch_fn(IDS),
            len(IDS),
            steps=1,
            progress=False,
        )


def test_pronoun_readings_of_a_float16_model_with_nan_weights_blame_its_dtype_not_the_learning_rate():
    from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
    from transformer_course.pronoun_heads import pronoun_readings
    from transformer_course.stories import StoryGenerator, story_vocab

    config = TransformerConfig(
        vocab_size=len(story_vocab()),
        d_model=16,
        num_heads=2,
        num_decoder_layers=1,
        d_ff=32,
        dropout=0.0,
        max_len=64,
        norm_first=True,
        positional="learned",
    )
    model = DecoderOnlyTransformer(config).half()
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="float16") as info:
        pronoun_readings(model, StoryGenerator().sample(4, seed=0))
    assert "smaller learning rate" not in str(info.value)
