"""The training loop: deterministic, lowers the loss, snapshots, history; the pronoun pointer."""

import math
import sys

import pytest
import torch
from torch import nn
from transformer_course import training
from transformer_course.data import pronoun_task, sequence_task
from transformer_course.generation import seq2seq_accuracy
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.pointer import PronounPointer, pointer_loss, referent_wins, resolve, snapshot
from transformer_course.training import (
    History,
    seq2seq_loss,
    split_batch_fn,
    train,
)


@pytest.fixture(scope="module")
def task():
    return sequence_task("copy", num_symbols=6, min_len=2, max_len=4, num_train=400, num_test=100, seed=0)


def small_model(vocab_size, seed=0, dropout=0.0, d_model=16):
    torch.manual_seed(seed)
    return Transformer(
        TransformerConfig(
            vocab_size=vocab_size,
            d_model=d_model,
            num_heads=2,
            num_encoder_layers=1,
            num_decoder_layers=1,
            d_ff=2 * d_model,
            dropout=dropout,
            max_len=16,
        )
    )


def run(task, steps=40, dropout=0.0, **kwargs):
    model = small_model(len(task.vocab), dropout=dropout)
    history = train(
        model,
        seq2seq_loss,
        split_batch_fn(task.train),
        len(task.train),
        steps=steps,
        batch_size=32,
        lr=1e-2,
        progress=False,
        **kwargs,
    )
    return model, history


def test_a_short_run_lowers_the_loss(task):
    _, h = run(task, steps=60)
    assert len(h) == 60 and h.steps[0] == 1 and h.steps[-1] == 60
    assert sum(h.losses[-10:]) / 10 < 0.6 * sum(h.losses[:10]) / 10
    assert h.seconds > 0


def test_training_hands_what_it_freed_back_to_the_system(task, monkeypatch):
    calls = []
    monkeypatch.setattr(training, "release_freed_memory", lambda: calls.append("after") or True)
    run(task, steps=3, callback=lambda h: calls.append(h.steps[-1]), callback_every=1)
    assert calls == [1, 2, 3, "after"]  # once, when the run is over
    monkeypatch.undo()
    assert training.release_freed_memory() is sys.platform.startswith("linux")  # glibc's malloc_trim


def test_training_is_deterministic(task):
    (m1, h1), (m2, h2) = run(task, steps=15, dropout=0.1), run(task, steps=15, dropout=0.1)
    assert h1.losses == h2.losses  # dropout included
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    _, h3 = run(task, steps=15, dropout=0.1, seed=1)
    assert h3.losses != h1.losses


def test_snapshots_callback_and_warmup(task):
    calls = []
    _, h = run(
        task,
        steps=20,
        snapshot_fn=lambda m: m.output.weight[0, 0].item(),
        snapshot_steps=[0, 5, 20],
        callback=lambda hist: calls.append(len(hist)),
        callback_every=8,
        warmup=5,
        decay=True,
    )
    assert sorted(h.snapshots) == [0, 5, 20]
    assert h.snapshots[0] != h.snapshots[20]
    assert calls == [8, 16, 20]


def test_training_can_continue_a_history(task):
    model, h = run(task, steps=5)
    train(
        model,
        seq2seq_loss,
        split_batch_fn(task.train),
        len(task.train),
        steps=5,
        batch_size=32,
        progress=False,
        history=h,
    )
    assert h.steps == list(range(1, 11))


def test_history_smoothing():
    h = History(steps=[1, 2, 3, 4], losses=[4.0, 2.0, 0.0, 2.0])
    assert h.smoothed(2) == [4.0, 3.0, 1.0, 1.0]
    assert h.smoothed(1) == h.losses and h.last_loss == 2.0
    with pytest.raises(ValueError, match="window"):
        h.smoothed(0)
    with pytest.raises(ValueError, match="no steps"):
        _ = History().last_loss
    h.add_eval("acc", 4, 0.5)
    assert h.evals == {"acc": [(4, 0.5)]}


def test_progress_bar_runs(task, capsys):
    model = small_model(len(task.vocab))
    train(
        model,
        seq2seq_loss,
        split_batch_fn(task.train),
        len(task.train),
        steps=3,
        batch_size=8,
        progress=True,
        description="unit test",
    )
    assert "unit test" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(steps=0), "steps"),
        (dict(lr=0), "lr"),
        (dict(batch_size=0), "batch_size"),
        (dict(warmup=-1), "warmup"),
        (dict(snapshot_steps=[99]), "snapshot_steps"),
        (dict(snapshot_steps=[1]), "snapshot_fn"),
        (dict(callback_every=0), "callback_every"),
    ],
)
def test_bad_arguments_name_the_argument(task, kwargs, name):
    args = dict(steps=5, batch_size=8, progress=False) | kwargs
    with pytest.raises(ValueError, match=name):
        train(small_model(len(task.vocab)), seq2seq_loss, split_batch_fn(task.train), len(task.train), **args)
    with pytest.raises(ValueError, match="model"):
        train("model", seq2seq_loss, split_batch_fn(task.train), 10, steps=1)


def test_copy_is_learned_and_accuracy_is_exact_match(task):
    model = small_model(len(task.vocab), d_model=32)
    before = seq2seq_accuracy(model, task.test, bos_id=2, eos_id=3)
    train(
        model,
        seq2seq_loss,
        split_batch_fn(task.train),
        len(task.train),
        steps=150,
        batch_size=128,
        lr=2e-2,
        warmup=20,
        decay=True,
        progress=False,
    )
    after = seq2seq_accuracy(model, task.test, bos_id=2, eos_id=3, batch_size=30)
    assert before < 0.1 and after > 0.8


def pointer_model(vocab_size):
    torch.manual_seed(0)
    return PronounPointer(
        TransformerConfig(
            vocab_size=vocab_size,
            d_model=32,
            num_heads=2,
            num_encoder_layers=1,
            num_decoder_layers=1,
            d_ff=64,
            dropout=0.0,
            max_len=16,
        )
    )


def test_pointer_learns_the_referent():
    pt = pronoun_task(num_train=1000, num_test=200, seed=0)
    model = pointer_model(len(pt.vocab))
    shown = pt.test[:3]
    h = train(
        model,
        pointer_loss,
        lambda idx: pt.train[idx],
        len(pt.train),
        steps=80,
        batch_size=128,
        lr=1e-2,
        progress=False,
        snapshot_fn=lambda m: snapshot(m, shown, pt.test),
        snapshot_steps=[0, 80],
    )
    assert h.snapshots[0]["wins"] < 0.75 and h.snapshots[80]["wins"] >= 0.9
    assert h.snapshots[80]["pointer"].shape == (3, pt.test.ids.shape[1])
    assert h.snapshots[80]["encoder"].shape == (3, 2, pt.test.ids.shape[1], pt.test.ids.shape[1])
    assert referent_wins(model, pt.test).float().mean() >= 0.9
    ids = torch.tensor(pt.vocab.ids("the pizza came out of the oven and it tasted good".split()))
    weights = resolve(model, ids, 8)
    assert torch.allclose(weights.sum(), torch.tensor(1.0))
    assert weights[8] == 0  # "it" never points at itself
    assert weights[1] > weights[6]  # pizza, not oven


def test_pointer_ignores_padding_and_checks_inputs():
    pt = pronoun_task(num_train=100, num_test=20, seed=0)
    model = pointer_model(len(pt.vocab)).eval()
    with torch.no_grad():
        w = model(pt.test.ids, pt.test.it_pos)
    assert torch.allclose(w.sum(-1), torch.ones(len(pt.test)), atol=1e-5)
    assert (w[pt.test.ids == 0] == 0).all()
    with pytest.raises(ValueError, match="it_pos"):
        model(pt.test.ids, pt.test.it_pos[:3])
    with pytest.raises(ValueError, match="it_pos"):
        model(pt.test.ids, pt.test.it_pos + 50)
    with pytest.raises(ValueError, match="config"):
        PronounPointer("small")


def test_a_diverged_loss_stops_training_before_it_spoils_the_weights():
    model = nn.Linear(3, 1)
    data = torch.randn(8, 3)
    calls, seen = [], {}

    def loss_fn(m, batch):
        calls.append(1)
        loss = m(batch).pow(2).mean()
        if len(calls) == 3:  # the third step's loss is NaN: keep the weights it would have spoiled
            seen["weights"] = [p.detach().clone() for p in m.parameters()]
            return loss * float("nan")
        return loss

    shown = []
    with pytest.warns(RuntimeWarning, match=r"stopped at step 3: the loss is nan .*smaller learning rate"):
        history = train(
            model, loss_fn, lambda idx: data[idx], 8, steps=10, batch_size=4, lr=0.1, progress=False,
            callback=lambda h: shown.append(h.last_loss), callback_every=100,
        )  # fmt: skip
    assert history.steps == [1, 2, 3] and math.isnan(history.losses[-1]) and len(history.learning_rates) == 3
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), seen["weights"]))
    assert math.isnan(shown[-1])  # the live curve is told, and says the run diverged
