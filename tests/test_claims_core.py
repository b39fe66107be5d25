"""The core pieces behind the chapters' claims: the shift matrix of sinusoids, the worked
examples of chapters 03–04, gradients against distance (RNN vs attention), the
three-question task whose heads divide the work, the reverse model's alignment, the
learning-rate schedule, and the encoder's emergent "it" → predicate attention."""

import math

import pytest
import torch
from transformer_course import alignment, examples, neighbours, positional, recurrence, training
from transformer_course.attention import MultiHeadAttention
from transformer_course.data import pronoun_task, sequence_task
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.pointer import PronounPointer, pointer_loss, predicate_share


def one_layer_config(vocab_size: int, d_model: int) -> TransformerConfig:
    """One encoder and one decoder layer, two heads, no dropout: small enough to train in a test."""
    return TransformerConfig(vocab_size=vocab_size, d_model=d_model, num_heads=2, num_encoder_layers=1,
                             num_decoder_layers=1, d_ff=2 * d_model, dropout=0.0, max_len=16)  # fmt: skip


# --- positional.shift_matrix ---


@pytest.mark.parametrize("k", [1, 3, 17, -4, 0])
def test_shift_matrix_moves_every_position_by_k(k):
    pe = positional.sinusoidal_encoding(80, 32, dtype=torch.float64)
    m = positional.shift_matrix(k, 32, dtype=torch.float64)
    lo, hi = max(0, -k), 80 - max(0, k)
    torch.testing.assert_close(pe[lo:hi] @ m.T, pe[lo + k : hi + k], atol=1e-12, rtol=0)
    torch.testing.assert_close(m @ m.T, torch.eye(32, dtype=torch.float64), atol=1e-12, rtol=0)


def test_shift_matrix_is_block_diagonal_rotations_and_composes():
    m = positional.shift_matrix(2, 8)
    off_blocks = m.clone()
    for i in range(0, 8, 2):
        off_blocks[i : i + 2, i : i + 2] = 0
        c, s = m[i, i], m[i, i + 1]
        assert torch.allclose(m[i : i + 2, i : i + 2], torch.tensor([[c, s], [-s, c]]))
    assert off_blocks.abs().max() == 0
    a, b = (
        positional.shift_matrix(3, 8, dtype=torch.float64),
        positional.shift_matrix(5, 8, dtype=torch.float64),
    )
    torch.testing.assert_close(a @ b, positional.shift_matrix(8, 8, dtype=torch.float64))
    assert math.isclose(float(positional.shift_matrix(1, 8)[0, 1]), math.sin(1.0), rel_tol=1e-6)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: positional.shift_matrix(1, 7), "d_model"),
        (lambda: positional.shift_matrix(1.5, 8), "k"),
        (lambda: positional.shift_matrix(1, 0), "d_model"),
        (lambda: positional.shift_matrix(1, 8, base=1.0), "base"),
    ],
)
def test_shift_matrix_bad_input(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


# --- examples ---


def test_cat_example_finds_cat_although_nothing_is_shared():
    ex = examples.cat_example()
    assert ex.x.shape == (5, 4) and ex.w_q.shape == ex.w_k.shape == (4, 2) and ex.w_v.shape == (4, 4)
    assert float(ex.x[0] @ ex.x[4]) == 0  # "i'm" and "cat" share no feature
    scores = (ex.x @ ex.w_q) @ (ex.x @ ex.w_k).T
    assert ex.tokens[int(scores[0].argmax())] == "cat" and ex.tokens[int(scores[1].argmax())] == "i'm"
    torch.testing.assert_close(ex.x @ ex.w_v, ex.x)  # the values hand over the features


def test_video_search_ranks_the_reviews_first():
    s = examples.video_search()
    scores = s.keys @ s.query
    assert scores.tolist() == [2.0, 1.0, 1.0, 0.0] and len(s.titles) == s.values.shape[0] == 4
    assert s.values.shape[1] == len(s.contents) and s.keys.shape[1] == len(s.features)


# --- recurrence ---


def test_rnn_gradients_are_those_of_the_rnn_by_hand():
    length, d = 12, 6
    rnn = recurrence.tiny_rnn(d, scale=0.8, seed=3)
    x = torch.randn(length, d, dtype=torch.float64, requires_grad=True)
    w, u = rnn.weight_hh_l0.detach(), rnn.weight_ih_l0.detach()
    h = torch.zeros(d, dtype=torch.float64)
    for t in range(length):
        h = torch.tanh(w @ h + u @ x[t])
    states, _ = rnn(x)
    torch.testing.assert_close(states[-1], h)
    # scale × a rotation: every singular value of W is the scale
    torch.testing.assert_close(torch.linalg.svdvals(w), torch.full((d,), 0.8, dtype=torch.float64))


def test_rnn_gradient_vanishes_or_explodes_with_the_scale_and_attention_does_not_decay():
    small, big = recurrence.rnn_gradients(40, scale=0.5), recurrence.rnn_gradients(40, scale=3.0)
    assert small.shape == (40,) and small.dtype == torch.float64
    assert small[-1] < 1e-12 * small[1] and big[-1] > 100 * big[1]
    att = recurrence.attention_gradients(40)
    assert att[1:].max() < 10 * att[1:].min()
    assert torch.equal(
        recurrence.attention_gradients(5, d_model=8), recurrence.attention_gradients(5, d_model=8)
    )


def test_attention_gradients_are_those_of_the_layer_by_hand():
    torch.manual_seed(0)
    layer = MultiHeadAttention(8, 2).double()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 8, generator=g, dtype=torch.float64).requires_grad_()
    readout = torch.randn(8, generator=g, dtype=torch.float64)
    out, _ = layer((x + positional.sinusoidal_encoding(6, 8, dtype=torch.float64)).unsqueeze(0))
    (readout @ out[0, -1]).backward()
    torch.testing.assert_close(recurrence.attention_gradients(6, d_model=8), x.grad.norm(dim=1).flip(0))


def test_attention_gradients_leave_the_global_random_stream_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    recurrence.attention_gradients(6)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: recurrence.rnn_gradients(0), "length"),
        (lambda: recurrence.rnn_gradients(5, scale=0), "scale"),
        (lambda: recurrence.attention_gradients(5, d_model=7, num_heads=2), "d_model"),
        (lambda: recurrence.tiny_rnn(4, seed=1.5), "seed"),
    ],
)
def test_recurrence_bad_input(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


# --- neighbours ---


def test_neighbour_targets():
    ids = torch.tensor([[3, 0, 5, 1]])
    t = neighbours.neighbour_targets(ids)
    no = neighbours.NO_ANSWER
    assert t[0, 0].tolist() == [no, 3, 0, 5]  # previous
    assert t[0, 1].tolist() == [0, 5, 1, no]  # next
    assert t[0, 2].tolist() == [3, 3, 3, 3]  # first


def test_head_jobs_reads_exact_patterns():
    length = 7
    prev = torch.diag(torch.ones(length - 1), -1)
    prev[0, 0] = 1
    nxt = torch.diag(torch.ones(length - 1), 1)
    nxt[-1, -1] = 1
    first = torch.zeros(length, length)
    first[:, 0] = 1
    weights = torch.stack([nxt, first, prev]).unsqueeze(0)  # (1, 3, L, L)
    jobs = neighbours.head_jobs(weights)
    torch.testing.assert_close(jobs, torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))


def test_a_trained_reader_divides_the_work_between_its_heads():
    torch.manual_seed(0)
    reader = neighbours.NeighbourReader()
    rows = neighbours.neighbour_rows(2000, seed=0)
    h = training.train(
        reader,
        neighbours.neighbour_loss,
        lambda i: rows[i],
        len(rows),
        steps=150,
        batch_size=64,
        lr=3e-2,
        progress=False,
    )
    assert h.last_loss < 0.1 * h.losses[0]
    held_out = neighbours.neighbour_rows(200, seed=1)
    assert (neighbours.neighbour_accuracy(reader, held_out) > 0.95).all()
    with torch.no_grad():
        logits = reader(held_out, need_weights=True)
    assert logits.shape == (200, 3, 8, 6) and reader.weights.shape == (200, 3, 8, 8)
    jobs = neighbours.head_jobs(reader.weights)
    assert sorted(jobs.argmax(dim=1).tolist()) == [0, 1, 2] and (jobs.max(dim=1).values > 0.5).all()


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: neighbours.neighbour_rows(4, length=2), "length"),
        (lambda: neighbours.neighbour_rows(0), "num_rows"),
        (lambda: neighbours.NeighbourReader()(torch.tensor([[0, 9, 1]])), "ids"),
        (lambda: neighbours.NeighbourReader(max_len=4)(torch.zeros(1, 6, dtype=torch.long)), "max_len"),
        (lambda: neighbours.head_jobs(torch.rand(1, 2, 4, 4)), "weights"),
    ],
)
def test_neighbours_bad_input(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


# --- alignment ---


def test_share_on_source_counts_the_copied_symbol():
    w = torch.zeros(2, 3, 6, 5)
    lengths = torch.tensor([5, 3])
    for b, n in enumerate(lengths.tolist()):
        for i in range(n):
            w[b, 0, i, n - 1 - i] = 1  # a perfect reverser
            w[b, 1, i, i] = 1  # a perfect copier
        w[b, 2, :, :n] = 1 / n  # an even spread
    torch.testing.assert_close(
        alignment.share_on_source(w, lengths, "reverse"), torch.tensor([1.0, 0.25, 0.25])
    )
    torch.testing.assert_close(alignment.share_on_source(w, lengths, "copy"), torch.tensor([0.25, 1.0, 0.25]))


def test_aligned_share_runs_the_model_teacher_forced():
    task = sequence_task("reverse", num_symbols=5, min_len=2, max_len=4, num_train=50, num_test=20)

    torch.manual_seed(0)
    model = Transformer(one_layer_config(len(task.vocab), d_model=16))
    cross = alignment.cross_attention(model, task.test)
    n = int(task.test.lengths.max())
    assert cross.shape == (20, 2, n + 1, n)
    torch.testing.assert_close(cross.sum(-1), torch.ones(20, 2, n + 1))
    share = alignment.aligned_share(model, task.test)
    torch.testing.assert_close(share, alignment.share_on_source(cross, task.test.lengths))
    with pytest.raises(ValueError, match="kind"):
        alignment.aligned_share(model, task.test, "sort")
    with pytest.raises(ValueError, match="layer"):
        alignment.cross_attention(model, task.test, layer=1)
    with pytest.raises(ValueError, match="lengths"):
        alignment.share_on_source(cross, torch.tensor([9] * 20))


# --- training: the learning-rate schedule ---


def test_learning_rates_warm_up_then_decay_and_are_what_train_uses():
    rates = training.learning_rates(0.01, 100, warmup=10, decay=True)
    assert math.isclose(rates[0], 0.001) and math.isclose(rates[9], 0.01) and math.isclose(max(rates), 0.01)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:])) and math.isclose(rates[-1], 0.001, rel_tol=0.01)
    assert training.learning_rates(0.01, 5) == [0.01] * 5
    model = torch.nn.Linear(2, 1)
    data = torch.randn(8, 2)
    h = training.train(
        model,
        lambda m, x: m(x).pow(2).mean(),
        lambda i: data[i],
        8,
        steps=12,
        batch_size=4,
        lr=0.01,
        warmup=3,
        decay=True,
        progress=False,
    )
    assert len(h.learning_rates) == 12
    assert all(
        math.isclose(a, b)
        for a, b in zip(h.learning_rates, training.learning_rates(0.01, 12, warmup=3, decay=True))
    )
    with pytest.raises(ValueError, match="warmup"):
        training.learning_rates(0.01, 5, warmup=-1)


# --- pointer: what the encoder learns on its own ---


def test_predicate_share_measures_the_row_of_it_per_head():
    pt = pronoun_task(num_train=800, num_test=100, seed=0)
    torch.manual_seed(0)
    model = PronounPointer(one_layer_config(len(pt.vocab), d_model=32))
    before = predicate_share(model, pt.test)
    assert before.shape == (2,) and ((before > 0) & (before < 1)).all()
    # by hand for one sentence and one head
    one = pt.test[:1]
    with torch.no_grad():
        model(one.ids, one.it_pos, need_weights=True)
    row = model.encoder_attention()[0][0, 1, int(one.it_pos[0])]
    n = int((one.ids[0] != 0).sum())
    assert math.isclose(
        float(predicate_share(model, one)[1]), float(row[int(one.it_pos[0]) + 1 : n].sum()), rel_tol=1e-5
    )
    training.train(
        model,
        pointer_loss,
        lambda i: pt.train[i],
        len(pt.train),
        steps=60,
        batch_size=128,
        lr=1e-2,
        progress=False,
    )
    after = predicate_share(model, pt.test)
    assert after.max() > 0.5 and after.max() > 2 * before.max()
    with pytest.raises(ValueError, match="layer"):
        predicate_share(model, pt.test, layer=3)
