"""Generation: greedy = argmax step by step, temperature → 0 = greedy, top-k, seeds, errors."""

import pytest
import torch
from transformer_course import generation as gen
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig

V = 11


@pytest.fixture
def lm():
    torch.manual_seed(0)
    cfg = TransformerConfig(
        vocab_size=V,
        d_model=16,
        num_heads=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        d_ff=32,
        dropout=0.0,
        max_len=32,
    )
    model = DecoderOnlyTransformer(cfg).eval()
    with torch.no_grad():
        model.output.weight.mul_(4)  # a peakier distribution than at initialisation
    return gen.decoder_logits_fn(model)


def test_greedy_is_argmax_step_by_step(lm):
    prompt = torch.tensor([2, 5])
    out = gen.generate(lm, prompt, max_new_tokens=6)
    ids = prompt.clone()
    for step in out.steps:
        assert torch.equal(step.prefix, ids)
        with torch.no_grad():
            want = lm(ids.unsqueeze(0))[0, -1].argmax()
        assert step.chosen == int(want) == int(step.probs.argmax())
        assert torch.allclose(step.probs.sum(), torch.tensor(1.0)) and step.probs.max() < 1
        ids = torch.cat([ids, want.reshape(1)])
    assert torch.equal(out.ids, ids) and torch.equal(out.new_ids, ids[2:])
    assert out.probs().shape == (6, V)


def test_batched_greedy_matches_one_at_a_time(lm):
    prompts = torch.tensor([[2, 5], [3, 3], [7, 1]])
    batch = gen.greedy_decode(lm, prompts, max_new_tokens=5)
    for row, prompt in zip(batch, prompts):
        assert torch.equal(row, gen.generate(lm, prompt, max_new_tokens=5).ids)


def test_greedy_stops_at_eos_and_pads_finished_rows(lm):
    first = gen.generate(lm, torch.tensor([2, 5]), max_new_tokens=6)
    eos = first.steps[2].chosen  # pretend the 3rd token is <eos>
    out = gen.generate(lm, torch.tensor([2, 5]), max_new_tokens=6, eos_id=eos)
    assert out.ids[-1] == eos and len(out.steps) <= 3
    batch = gen.greedy_decode(lm, torch.tensor([[2, 5], [9, 9]]), max_new_tokens=6, eos_id=eos, pad_id=0)
    row = batch[0].tolist()
    k = row.index(eos, 2)
    assert all(t == 0 for t in row[k + 1 :])


def test_causal_mask_keeps_earlier_logits(lm):
    ids = torch.tensor([[2, 5, 7, 1]])
    with torch.no_grad():
        assert torch.allclose(lm(ids)[:, :3], lm(ids[:, :3]), atol=1e-5)


def test_tiny_temperature_equals_greedy(lm):
    greedy = gen.generate(lm, torch.tensor([4]), max_new_tokens=8)
    for t in (1e-4, 0.0):
        cold = gen.generate(lm, torch.tensor([4]), max_new_tokens=8, strategy="sample", temperature=t, seed=1)
        assert torch.equal(cold.ids, greedy.ids)


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    p1 = gen.next_token_probs(logits, temperature=1.0)
    assert torch.allclose(p1, torch.softmax(logits, -1))
    cold, hot = gen.next_token_probs(logits, temperature=0.5), gen.next_token_probs(logits, temperature=3.0)
    assert cold[0, 0] > p1[0, 0] > hot[0, 0]
    assert torch.allclose(hot.sum(-1), torch.ones(1))


def test_top_k_never_picks_outside_the_top_k(lm):
    with torch.no_grad():
        logits = lm(torch.tensor([[3, 4]]))[:, -1]  # (1, V)
    top3 = set(logits[0].topk(3).indices.tolist())
    probs = gen.next_token_probs(logits, temperature=5.0, top_k=3)
    assert set(probs[0].nonzero().flatten().tolist()) == top3
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        token, _ = gen.choose(logits, strategy="sample", temperature=5.0, top_k=3, generator=g)
        assert int(token) in top3
    out = gen.generate(
        lm, torch.tensor([3]), max_new_tokens=10, strategy="sample", temperature=3.0, top_k=2, seed=4
    )
    for step in out.steps:
        assert (step.probs > 0).sum() == 2 and step.probs[step.chosen] > 0


def test_sampling_is_reproducible_with_a_seed(lm):
    run = lambda seed: (
        gen.generate(
            lm, torch.tensor([1]), max_new_tokens=12, strategy="sample", temperature=2.0, seed=seed
        ).ids
    )
    assert torch.equal(run(7), run(7))
    assert any(not torch.equal(run(7), run(s)) for s in range(8, 14))
    state = torch.get_rng_state()
    run(3)
    assert torch.equal(state, torch.get_rng_state())  # the global generator is untouched


def test_seq2seq_wrapper_runs_the_encoder_decoder():
    torch.manual_seed(0)
    cfg = TransformerConfig(
        vocab_size=V,
        d_model=16,
        num_heads=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        d_ff=32,
        dropout=0.0,
        max_len=32,
    )
    model = Transformer(cfg).eval()
    src = torch.tensor([[4, 5, 6], [7, 8, 0]])
    fn = gen.seq2seq_logits_fn(model, src)
    prefix = torch.tensor([[2, 4], [2, 7]])
    with torch.no_grad():
        assert torch.allclose(fn(prefix), model(src, prefix))
    out = gen.greedy_decode(fn, torch.tensor([[2], [2]]), max_new_tokens=4)
    assert out.shape == (2, 5)


def test_sequence_accuracy():
    pred = torch.tensor([[2, 5, 6, 3, 0], [2, 5, 5, 3, 0], [2, 6, 5, 9, 9]])
    want = torch.tensor([[2, 5, 6, 3], [2, 5, 6, 3], [2, 6, 5, 3]])
    assert gen.sequence_accuracy(pred, want, eos_id=3, skip=(2,)) == pytest.approx(1 / 3)
    assert gen.strip(pred, eos_id=3, skip=(2,)) == [[5, 6], [5, 5], [6, 5, 9, 9]]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(temperature=-1.0), "temperature"),
        (dict(temperature="hot"), "temperature"),
        (dict(top_k=0), "top_k"),
        (dict(top_k=2.5), "top_k"),
        (dict(strategy="beam"), "strategy"),
        (dict(max_new_tokens=0), "max_new_tokens"),
    ],
)
def test_bad_generation_arguments(lm, kwargs, name):
    args = dict(max_new_tokens=3, strategy="sample") | kwargs
    with pytest.raises(ValueError, match=name):
        gen.generate(lm, torch.tensor([1]), **args)


def test_bad_inputs_name_the_argument(lm):
    with pytest.raises(ValueError, match="prompt"):
        gen.generate(lm, torch.tensor([[1]]), max_new_tokens=2)
    with pytest.raises(ValueError, match="prompt"):
        gen.generate(lm, torch.tensor([], dtype=torch.long), max_new_tokens=2)
    with pytest.raises(ValueError, match="prompt"):
        gen.greedy_decode(lm, torch.tensor([1, 2]), max_new_tokens=2)
    with pytest.raises(ValueError, match="top_k"):
        gen.next_token_probs(torch.zeros(1, 4), top_k=5)
    with pytest.raises(ValueError, match="logits_fn"):
        gen.generate(lambda p: torch.zeros(4), torch.tensor([1]), max_new_tokens=2)
    with pytest.raises(ValueError, match="predicted"):
        gen.sequence_accuracy(
            torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 3, dtype=torch.long), eos_id=3
        )


def test_seq2seq_accuracy_checks_batch_size():
    from transformer_course.data import sequence_task

    task = sequence_task("copy", num_train=20, num_test=10)
    model = Transformer(
        TransformerConfig(
            vocab_size=len(task.vocab),
            d_model=8,
            num_heads=2,
            num_encoder_layers=1,
            num_decoder_layers=1,
            d_ff=16,
            max_len=16,
        )
    )
    assert 0.0 <= gen.seq2seq_accuracy(model, task.test, bos_id=2, eos_id=3, batch_size=4) <= 1.0
    with pytest.raises(ValueError, match="batch_size"):
        gen.seq2seq_accuracy(model, task.test, bos_id=2, eos_id=3, batch_size=0)


# top-p (nucleus): the smallest set of most likely tokens whose probabilities reach p, renormalised.

PROBS = torch.tensor([0.5, 0.3, 0.15, 0.05])


@pytest.mark.parametrize(
    "top_p, want",
    [
        (0.4, [1.0, 0.0, 0.0, 0.0]),  # the most likely token alone already holds 0.5 ≥ 0.4
        (0.75, [0.625, 0.375, 0.0, 0.0]),  # 0.5 < 0.75, 0.5 + 0.3 ≥ 0.75: two tokens, / 0.8
        (0.9, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0.0]),  # 0.8 < 0.9 ≤ 0.95: three
        (0.99, [0.5, 0.3, 0.15, 0.05]),  # 0.95 < 0.99: all four
        (1.0, [0.5, 0.3, 0.15, 0.05]),
    ],
)
def test_top_p_keeps_the_nucleus_worked_by_hand(top_p, want):
    got = gen.next_token_probs(PROBS.log(), top_p=top_p)
    assert torch.allclose(got, torch.tensor(want), atol=1e-6)


def test_top_p_does_not_depend_on_the_order_of_the_vocabulary_and_works_per_row():
    order = torch.tensor([2, 0, 3, 1])
    shuffled = gen.next_token_probs(PROBS[order].log(), top_p=0.75)
    assert torch.allclose(shuffled, torch.tensor([0.0, 0.625, 0.0, 0.375]), atol=1e-6)
    rows = torch.stack([PROBS, PROBS.flip(0)]).log()  # (2, V): each row its own nucleus
    both = gen.next_token_probs(rows, top_p=0.75)
    assert torch.allclose(both[1], torch.tensor([0.0, 0.0, 0.375, 0.625]), atol=1e-6)
    assert torch.allclose(gen.keep_top_p(torch.softmax(rows, -1), 0.75), both)


def test_top_p_comes_after_temperature_and_top_k():
    probs = torch.tensor([0.4, 0.3, 0.2, 0.1])
    # top-p alone at 0.75: 0.4, 0.7 < 0.75 → three tokens, / 0.9
    alone = gen.next_token_probs(probs.log(), top_p=0.75)
    assert torch.allclose(alone, torch.tensor([4 / 9, 3 / 9, 2 / 9, 0.0]), atol=1e-6)
    # top-3 first renormalises to 4/9, 3/9, 2/9; then 4/9 < 0.75 ≤ 7/9 → two tokens, / (7/9)
    both = gen.next_token_probs(probs.log(), top_k=3, top_p=0.75)
    assert torch.allclose(both, torch.tensor([4 / 7, 3 / 7, 0.0, 0.0]), atol=1e-6)
    # temperature 0.5 squares the probabilities first: 0.25, 0.09, 0.0225, 0.0025 (/ 0.365), so
    # the top token holds 0.685 < 0.75 and two tokens are kept: 0.25 / 0.34, 0.09 / 0.34.
    cold = gen.next_token_probs(PROBS.log(), temperature=0.5, top_p=0.75)
    assert torch.allclose(cold, torch.tensor([0.25 / 0.34, 0.09 / 0.34, 0.0, 0.0]), atol=1e-6)


def test_sampling_with_top_p_never_leaves_the_nucleus(lm):
    logits = torch.linspace(2.0, -2.0, V)[torch.randperm(V, generator=torch.Generator().manual_seed(1))][None]
    probs = torch.softmax(logits[0] / 3.0, -1)  # at temperature 3
    ranked = probs.sort(descending=True)
    nucleus = set(ranked.indices[: int((ranked.values.cumsum(0) < 0.6).sum()) + 1].tolist())
    assert 1 < len(nucleus) < V
    g = torch.Generator().manual_seed(0)
    draws = [
        gen.choose(logits, strategy="sample", temperature=3.0, top_p=0.6, generator=g) for _ in range(300)
    ]
    seen = {int(token) for token, _ in draws}
    assert seen == nucleus  # every nucleus token drawn, nothing else
    out = gen.generate(
        lm, torch.tensor([3]), max_new_tokens=10, strategy="sample", temperature=20.0, top_p=0.5, seed=2
    )
    assert max(int((step.probs > 0).sum()) for step in out.steps) > 1
    for step in out.steps:  # each step's distribution: the model's at temperature 20, cut to its nucleus
        with torch.no_grad():
            full = torch.softmax(lm(step.prefix[None])[0, -1] / 20.0, -1)
        kept = step.probs > 0
        ranked = full.sort(descending=True).values
        n = int(kept.sum())
        if n < V:
            assert full[kept].min() >= full[~kept].max()  # the most likely tokens
        assert ranked[: n - 1].sum() < 0.5 <= ranked[:n].sum() + 1e-6  # the fewest that reach 0.5
        assert torch.allclose(step.probs, full * kept / full[kept].sum(), atol=1e-6)
    greedy = gen.generate(lm, torch.tensor([3]), max_new_tokens=5)
    assert torch.equal(gen.generate(lm, torch.tensor([3]), max_new_tokens=5, top_p=0.3).ids, greedy.ids)


@pytest.mark.parametrize("top_p", [0, 0.0, -0.1, 1.5, float("nan"), float("inf"), "0.9", True])
def test_bad_top_p_is_refused_by_name(lm, top_p):
    with pytest.raises(ValueError, match="top_p must be a finite number in \\(0, 1\\]"):
        gen.next_token_probs(PROBS.log(), top_p=top_p)
    with pytest.raises(ValueError, match="top_p"):
        gen.generate(lm, torch.tensor([1]), max_new_tokens=2, strategy="sample", top_p=top_p)


def _counting(logits_fn):
    """logits_fn, counting its calls; keeps the max_len it carries."""

    def counted(prefix):
        counted.calls += 1
        return logits_fn(prefix)

    counted.calls, counted.max_len = 0, getattr(logits_fn, "max_len", None)
    return counted


def _small_seq2seq():
    cfg = TransformerConfig(vocab_size=V, d_model=8, num_heads=2, num_encoder_layers=1, num_decoder_layers=1,
                            d_ff=16, dropout=0.0, max_len=6)  # fmt: skip
    return Transformer(cfg).eval()


@pytest.mark.parametrize("kind", ["plain", "cached", "seq2seq"])
def test_more_positions_than_max_len_are_refused_up_front_by_name(kind):
    """A prompt plus max_new_tokens past the model's max_len is refused before the model
    runs once, naming max_new_tokens and the most it may be (not the model's own "ids")."""
    if kind == "seq2seq":
        model = _small_seq2seq()
        logits_fn, limit = gen.seq2seq_logits_fn(model, torch.tensor([[1, 2, 3]])), 6
    else:
        model = DecoderOnlyTransformer(TransformerConfig(vocab_size=V, d_model=8, num_heads=2, d_ff=16,
                                                         dropout=0.0, max_len=6)).eval()  # fmt: skip
        make = gen.cached_logits_fn if kind == "cached" else gen.decoder_logits_fn
        logits_fn, limit = make(model), 6
    counted = _counting(logits_fn)
    prompt = torch.tensor([1, 2])
    most = rf"max_new_tokens must be at most {limit - 2}"
    with pytest.raises(ValueError, match=rf"{most}, got {limit}.*max_len"):
        gen.generate(counted, prompt, max_new_tokens=limit)
    with pytest.raises(ValueError, match=most):
        gen.greedy_decode(counted, prompt.unsqueeze(0), max_new_tokens=limit - 1)
    with pytest.raises(ValueError, match=r"prompt has 7 tokens.*max_len = 6"):
        gen.generate(counted, torch.ones(7, dtype=torch.long), max_new_tokens=1)
    assert counted.calls == 0
    # Exactly filling max_len is allowed, and runs the model once per new token.
    assert gen.generate(counted, prompt, max_new_tokens=limit - 2).ids.shape == (limit,)
    assert gen.greedy_decode(counted, prompt.unsqueeze(0), max_new_tokens=limit - 2).shape == (1, limit)
    assert counted.calls == 2 * (limit - 2)


def test_a_logits_function_of_ones_own_is_not_limited():
    """Only a model of the course says how many positions it has: a function without
    max_len is run as far as asked."""
    out = gen.generate(lambda p: torch.zeros(*p.shape, 3), torch.tensor([0]), max_new_tokens=40)
    assert out.ids.shape == (41,)
    assert gen.max_positions(torch.nn.Linear(2, 2)) is None
