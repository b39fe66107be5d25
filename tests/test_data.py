"""Toy tasks: deterministic with a seed, correct targets, disjoint splits, clear errors."""

import pytest
import torch
from transformer_course.data import (
    NOUNS,
    PREDICATES,
    batches,
    pronoun_sentences,
    pronoun_task,
    sequence_task,
)


@pytest.mark.parametrize("kind", ["copy", "reverse", "sort"])
def test_sequence_task_targets(kind):
    task = sequence_task(kind, num_train=200, num_test=50, seed=3)
    v = task.vocab
    for split in (task.train, task.test):
        for src, tgt, n in zip(split.src, split.tgt, split.lengths):
            row = src[:n].tolist()
            want = {"copy": row, "reverse": row[::-1], "sort": sorted(row)}[kind]
            assert tgt[0] == v.bos_id and tgt[n + 1] == v.eos_id
            assert tgt[1 : n + 1].tolist() == want
            assert (src[n:] == v.pad_id).all() and (tgt[n + 2 :] == v.pad_id).all()
            assert (src[:n] >= 4).all()  # symbols never collide with specials


def test_sequence_task_is_deterministic_and_splits_are_disjoint():
    a = sequence_task("reverse", num_train=300, num_test=100, seed=1)
    b = sequence_task("reverse", num_train=300, num_test=100, seed=1)
    c = sequence_task("reverse", num_train=300, num_test=100, seed=2)
    assert torch.equal(a.train.src, b.train.src) and torch.equal(a.test.tgt, b.test.tgt)
    assert not torch.equal(a.train.src, c.train.src)
    rows = lambda s: {tuple(r[:n].tolist()) for r, n in zip(s.src, s.lengths)}
    assert len(rows(a.train)) == 300 and len(rows(a.test)) == 100
    assert not rows(a.train) & rows(a.test)


def test_sequence_task_encode_answer_decode():
    task = sequence_task("reverse", num_train=50, num_test=10)
    assert task.answer("1 2 3") == ["3", "2", "1"]
    ids = torch.tensor([task.vocab.bos_id, *task.vocab.ids(["3", "2"]), task.vocab.eos_id, 0])
    assert task.decode(ids) == ["3", "2"]
    with pytest.raises(ValueError, match="symbols"):
        task.encode("1 x 3")
    with pytest.raises(ValueError, match="symbols"):
        task.encode("1 <eos>")


def test_sequence_task_knows_the_lengths_it_holds():
    task = sequence_task("copy", min_len=3, max_len=5, num_train=200, num_test=50)
    assert (task.min_len, task.max_len) == (3, 5)
    lengths = torch.cat([task.train.lengths, task.test.lengths])
    assert int(lengths.min()) == 3 and int(lengths.max()) == 5


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(kind="shuffle"), "kind"),
        (dict(num_symbols=0), "num_symbols"),
        (dict(min_len=5, max_len=3), "max_len"),
        (dict(num_train=-1), "num_train"),
        (dict(num_symbols=2, min_len=1, max_len=2, num_train=10), "num_train"),
        (dict(num_symbols=30), "num_symbols"),
    ],
)
def test_sequence_task_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        sequence_task(**kwargs)


def test_pronoun_sentences_label_the_referent_by_the_predicate():
    rows = pronoun_sentences()
    assert len(rows) == len({r[0] for r in rows})  # every sentence is distinct
    group_of = {w: g for g, words in NOUNS.items() for w in words}
    for text, it, ref, other in rows[::37]:
        words = text.split()
        assert words[it] == "it" and ref != other and ref < it and other < it
        predicate = " ".join(words[it + 1 :])
        assert predicate in PREDICATES[group_of[words[ref]]]
        assert predicate not in PREDICATES[group_of[words[other]]]
    assert ("the pizza came out of the oven and it tasted good", 8, 1, 6) in rows


def test_pronoun_task_is_deterministic_disjoint_and_balanced():
    a = pronoun_task(num_train=500, num_test=100, seed=0)
    b = pronoun_task(num_train=500, num_test=100, seed=0)
    assert a.train.sentences == b.train.sentences and torch.equal(a.test.ids, b.test.ids)
    assert not set(a.train.sentences) & set(a.test.sentences)
    # The referent comes first about half the time: position alone cannot solve the task.
    first = (a.train.referent_pos < a.train.distractor_pos).float().mean()
    assert 0.4 < first < 0.6
    i = 7
    tokens = a.tokens(a.test, i)
    assert " ".join(tokens) == a.test.sentences[i] and tokens[int(a.test.it_pos[i])] == "it"
    part = a.test[2:5]
    assert len(part) == 3 and part.sentences == a.test.sentences[2:5]


def test_pronoun_task_bad_arguments():
    with pytest.raises(ValueError, match="num_train"):
        pronoun_task(num_train=10**6)
    with pytest.raises(ValueError, match="num_test"):
        pronoun_task(num_test=0)


def test_batches_are_seeded_epochs():
    a, b = batches(10, 4, seed=5), batches(10, 4, seed=5)
    first = [next(a) for _ in range(4)]
    assert all(torch.equal(x, next(b)) for x in first)
    assert sorted(torch.cat(first[:2]).tolist()) != list(range(10))  # two batches of 4 < an epoch
    assert len(set(torch.cat(first[:2]).tolist())) == 8  # no repeats within an epoch
    with pytest.raises(ValueError, match="batch_size"):
        next(batches(10, 0))
