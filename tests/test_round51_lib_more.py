"""Round 51: small input gaps in lib's training loop, its schedule and the KV cache.

A warm-up longer than the run (the learning rate never reached ``lr``), a KV cache whose layers
were appended by hand to different numbers of positions, and a hand-made ``History`` continued
by ``train`` whose lists disagree in length or whose steps go backwards: each was accepted
without a word, and is now refused by name.
"""

from __future__ import annotations

import pytest
import torch
from refusals import assert_refused
from torch import nn
from transformer_course.history import History
from transformer_course.kv_cache import KVCache
from transformer_course.lr_schedule import learning_rates
from transformer_course.training import train


def _train(**options):
    """train() a one-weight model for a few steps, with options changed."""
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    args = dict(steps=3, batch_size=2, progress=False) | options
    return train(model, lambda m, b: m(b).pow(2).mean(), lambda idx: torch.ones(len(idx), 2), 4, **args)


# --- 1. warm-up longer than the run ---


def test_a_warmup_longer_than_the_run_is_refused_naming_warmup_and_steps():
    assert_refused(lambda: _train(steps=5, warmup=10), "warmup", r"steps \(5\)")
    assert_refused(lambda: _train(steps=5, warmup=10), "steps", "never reach")
    assert_refused(lambda: learning_rates(0.01, 5, warmup=6), "warmup", r"steps \(5\)")


def test_a_warmup_as_long_as_the_run_reaches_lr_at_its_last_step():
    assert learning_rates(0.01, 4, warmup=4)[-1] == pytest.approx(0.01)
    history = _train(steps=4, warmup=4, lr=0.01)
    assert history.learning_rates[-1] == pytest.approx(0.01)
    assert learning_rates(0.01, 10, warmup=3, decay=True)[3] == pytest.approx(0.01)


# --- 2. KVCache layers appended by hand to different lengths ---


def _kv(t: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(1, 2, t, 4), torch.randn(1, 2, t, 4)  # (B, h, T, d_head)


def test_a_layer_appended_to_another_length_than_the_others_is_refused():
    cache = KVCache(2, max_len=8)
    cache.append(0, *_kv(3))
    with pytest.raises(ValueError, match=r"layer 1 .*2 positions.*layer 0 .*3") as info:
        cache.append(1, *_kv(2))
    assert "3" in str(info.value)
    assert cache.keys[1] is None  # refused: the cache is as it was
    with pytest.raises(ValueError, match=r"layer 1 .*4 positions.*layer 0 .*3"):
        cache.append(1, *_kv(4))


def test_a_layer_that_goes_on_while_another_is_behind_is_refused():
    cache = KVCache(3, max_len=8)
    for layer in range(3):
        cache.append(layer, *_kv(2))
    cache.append(0, *_kv(1))
    cache.append(1, *_kv(1))  # layer 2 still at 2 positions, layers 0 and 1 at 3
    with pytest.raises(ValueError, match=r"layer 0 .*3 positions.*layer 2 .*2"):
        cache.append(0, *_kv(1))
    assert [k.shape[2] for k in cache.keys] == [3, 3, 2]
    cache.append(2, *_kv(1))  # catches up: every layer at 3, and on they go
    cache.append(0, *_kv(2))
    assert [k.shape[2] for k in cache.keys] == [5, 3, 3]


def test_appending_layer_by_layer_as_the_model_does_still_works():
    cache = KVCache(2, max_len=8)
    for step in (3, 1, 1):  # the prompt, then one token at a time
        for layer in range(2):
            keys, _ = cache.append(layer, *_kv(step))
    assert [k.shape[2] for k in cache.keys] == [5, 5] and keys.shape == (1, 2, 5, 4)
    alone = KVCache(2, max_len=8)  # one layer filled alone, the other never: as before
    alone.append(1, *_kv(3))
    assert alone.append(1, *_kv(1))[0].shape[2] == 4


# --- 3. a hand-made History continued by train ---


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        (History(steps=[1, 2, 3], losses=[1.0, 0.5], learning_rates=[0.1] * 3), "3 steps but 2 losses"),
        (History(steps=[1, 2], losses=[1.0, 0.5], learning_rates=[0.1]), "2 steps but 1 learning rate"),
        (History(steps=[1, 2], losses=[1.0, 0.5]), "2 steps but 0 learning rates"),
    ],
    ids=["losses short", "learning_rates short", "no learning_rates"],
)
def test_a_history_whose_lists_disagree_is_refused_by_name(history, expected):
    assert_refused(lambda: _train(history=history), "history", expected)
    assert len(history.steps) <= 3 and history.seconds == 0.0  # refused before any step


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([1, 3, 2], r"history\.steps\[2\] \(2\).*after .*3"),
        ([2, 2], r"history\.steps\[1\] \(2\).*after .*2"),
        ([1, 2.5], r"history\.steps\[1\].*an int.*2\.5"),
    ],
    ids=["backwards", "repeated", "a float"],
)
def test_a_history_whose_steps_go_backwards_is_refused_by_name(steps, expected):
    history = History(steps=steps, losses=[1.0] * len(steps), learning_rates=[0.1] * len(steps))
    assert_refused(lambda: _train(history=history), r"history\.steps", expected)
    assert history.steps == steps  # nothing appended


def test_a_history_from_train_or_an_empty_one_still_continues():
    history = _train(steps=2)
    _train(steps=2, history=history)
    assert history.steps == [1, 2, 3, 4] and len(history.losses) == len(history.learning_rates) == 4
    fresh = History()
    _train(steps=1, history=fresh)
    assert fresh.steps == [1]
