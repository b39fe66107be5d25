"""Measuring a learner's model hands it back as it came: in training mode if it was, with a
part the learner froze in eval mode still frozen, also when the measurement stops with an
error halfway (``transformer_course.modes.evaluating``)."""

import pytest
import torch
from torch import nn
from transformer_course import lm_training, pronoun_heads
from transformer_course.alignment import cross_attention
from transformer_course.data import pronoun_task, sequence_task
from transformer_course.generation import seq2seq_accuracy
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
from transformer_course.modes import evaluating
from transformer_course.neighbours import NeighbourReader, neighbour_accuracy
from transformer_course.pointer import PronounPointer, predicate_share, referent_wins, resolve
from transformer_course.stories import StoryGenerator, encode, story_vocab


def modes(model: nn.Module) -> dict[str, bool]:
    return {name: m.training for name, m in model.named_modules()}


def story_model(max_len: int = 64) -> DecoderOnlyTransformer:
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(story_vocab()), d_model=8, num_heads=2, num_decoder_layers=1, d_ff=16,
        dropout=0.1, max_len=max_len, norm_first=True, positional="learned",
    )  # fmt: skip
    return DecoderOnlyTransformer(config).train()


def test_evaluating_runs_in_eval_mode_without_gradients_then_restores_each_flag():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.Dropout(0.5)))
    model.train()
    model[2].eval()  # a part the learner froze
    before = modes(model)
    with evaluating(model):
        assert not any(modes(model).values())
        assert not torch.is_grad_enabled()
    assert modes(model) == before and torch.is_grad_enabled()


def test_evaluating_restores_the_modes_after_an_error():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train()
    with pytest.raises(RuntimeError), evaluating(model):
        raise RuntimeError("refused halfway")
    assert all(modes(model).values())


def test_a_refused_validation_loss_leaves_the_model_training():
    model = story_model()
    ids = encode(StoryGenerator().sample(4, seed=0))
    ids[1, 3] = 10_000  # a label no vocabulary has: refused inside the loop over batches
    with pytest.raises(ValueError, match="ids"):
        lm_training.validation_loss(model, ids, batch_size=1)
    assert all(modes(model).values())


def test_pronoun_readings_of_stories_too_long_for_the_model_leave_it_training():
    model = story_model(max_len=8)  # every story is longer: refused inside the loop
    with pytest.raises(ValueError):
        pronoun_heads.pronoun_readings(model, StoryGenerator().sample(4, seed=0))
    assert all(modes(model).values())


@pytest.mark.parametrize("measure", [referent_wins, predicate_share])
def test_a_frozen_encoder_stays_frozen_after_a_pointer_measurement(measure):
    pt = pronoun_task(num_train=10, num_test=5, seed=0)
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(pt.vocab), d_model=8, num_heads=2, num_encoder_layers=1, num_decoder_layers=1,
        d_ff=16, dropout=0.1, max_len=16,
    )  # fmt: skip
    model = PronounPointer(config).train()
    model.encoder.eval()  # frozen by the learner; model.train(was) used to switch it back on
    before = modes(model)
    measure(model, pt.test)
    assert modes(model) == before


def seq2seq():
    task = sequence_task("copy", num_train=8, num_test=4, max_len=4)
    config = TransformerConfig(
        vocab_size=len(task.vocab), d_model=8, num_heads=2, num_encoder_layers=1,
        num_decoder_layers=1, d_ff=16, dropout=0.1, max_len=16,
    )  # fmt: skip
    model = Transformer(config).train()
    model.encoder.eval()  # frozen
    v = task.vocab
    return model, lambda: [
        seq2seq_accuracy(model, task.test, bos_id=v.bos_id, eos_id=v.eos_id, pad_id=v.pad_id),
        cross_attention(model, task.test),
    ]


def story():
    config = TransformerConfig(
        vocab_size=len(story_vocab()), d_model=8, num_heads=2, num_decoder_layers=2, d_ff=16,
        dropout=0.1, max_len=64, norm_first=True, positional="learned",
    )  # fmt: skip
    model = DecoderOnlyTransformer(config).train()
    next(iter(model.children())).eval()  # a part frozen
    stories = StoryGenerator().sample(4, seed=0)
    return model, lambda: [
        lm_training.validation_loss(model, encode(stories)),
        lm_training.sample_stories(model, 2, seed=0),
        pronoun_heads.pronoun_readings(model, stories),
    ]


def reader():
    model = NeighbourReader().train()
    next(iter(model.children())).eval()
    ids = torch.randint(1, 6, (4, 8), generator=torch.Generator().manual_seed(0))
    return model, lambda: [neighbour_accuracy(model, ids)]


@pytest.mark.parametrize("build", [seq2seq, story, reader])
def test_each_measure_hands_every_submodule_back_in_its_own_mode(build):
    torch.manual_seed(0)
    model, measure = build()
    before = modes(model)
    assert any(before.values()) and not all(before.values())  # a mix, so that model.train(was) would show
    measure()
    assert modes(model) == before


def test_evaluating_names_what_is_not_a_module():
    with pytest.raises(ValueError, match="modules must be torch.nn.Module"), evaluating("model"):
        pass


def test_resolve_gives_one_sentence_the_same_weights_twice_on_a_training_model():
    pt = pronoun_task(num_train=10, num_test=5, seed=0)
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(pt.vocab), d_model=8, num_heads=2, num_encoder_layers=1, num_decoder_layers=1,
        d_ff=16, dropout=0.5, max_len=16,
    )  # fmt: skip
    model = PronounPointer(config).train()
    ids, it = pt.test.ids[0], int(pt.test.it_pos[0])
    assert torch.equal(resolve(model, ids, it), resolve(model, ids, it)) and model.training
